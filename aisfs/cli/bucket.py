"""`aisfs bucket create|ls|rm|props show|props set|props reset|mirror|cp`."""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import quote

from aisfs.cli.args import (
    Subparsers,
    UsageError,
    add_command,
    add_subcommands,
    client,
    complete_with,
    json_flag,
    parse_uri,
)
from aisfs.cli.jobs import follow_job, job_failed, job_line, last_job_id, wait_job
from aisfs.cli.listing import add_ls_options, cmd_ls
from aisfs.cli.output import fmt, print_json, print_table
from aisfs.cli.remote import scheme_provider, uri_of
from aisfs.client.native import NativeClient, NativeError
from aisfs.client.props import (
    AIS_BUCKET_FEATURES,
    BUCKET_PROPS,
    bitmask_to_features,
    flatten,
    parse_assignments,
)


def _bucket_only(uri: str, hint: str) -> str:
    bucket, key = parse_uri(uri)
    if key:
        raise UsageError(f"{uri}: {hint}")
    return bucket


def cmd_create(ns: argparse.Namespace) -> int:
    props = parse_assignments(ns.props.replace(",", " ").split()) if ns.props else {}
    with client(ns) as c:
        for uri in ns.buckets:
            bucket = _bucket_only(uri, "a bucket name has no '/'")
            try:
                c.create_bucket(bucket, props)
            except NativeError as e:
                if ns.ignore_error and e.status == 409:
                    print(f'"ais://{bucket}" already exists')
                    continue
                raise
            print(f'"ais://{bucket}" created')
    return 0


def cmd_rm(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        for uri in ns.buckets:
            bucket = _bucket_only(uri, "to remove objects use `aisfs rm`")
            try:
                c.destroy_bucket(bucket)
            except NativeError as e:
                if ns.ignore_error and e.status == 404:
                    continue
                raise
            print(f'"ais://{bucket}" destroyed')
    return 0


def shown_props(props: dict[str, Any]) -> dict[str, Any]:
    """Flat ``section.key`` props, feature flags by name (``none`` for no flag)."""
    flat = flatten({k: v for k, v in props.items() if k not in ("feature_names", "name")})
    names = props.get("feature_names")
    if names is None:
        names = bitmask_to_features(str(flat.get("features", "0")))
    flat["features"] = ",".join(names) if names else "none"
    return flat


def cmd_props_show(ns: argparse.Namespace) -> int:
    bucket, _ = parse_uri(ns.bucket)
    with client(ns) as c:
        props = c.bucket_props(bucket)
    flat = shown_props(props)
    if ns.section:
        flat = {k: v for k, v in flat.items() if k == ns.section or k.startswith(ns.section + ".")}
        if not flat:
            raise UsageError(f"no bucket property {ns.section!r}")
    if ns.json:
        print_json(flat if ns.section else props)
        return 0
    print_table(["PROPERTY", "VALUE"], [[k, fmt(v)] for k, v in sorted(flat.items())])
    return 0


def _assignments(items: list[str]) -> dict[str, Any]:
    """KEY=VALUE words, `features A B` as AIS writes it, or one JSON object."""
    if len(items) == 1 and items[0].lstrip().startswith("{"):
        try:
            flat = flatten(json.loads(items[0]))
        except ValueError as e:
            raise UsageError(f"invalid JSON props: {e}") from None
    else:
        if items and items[0] == "features":
            items = [f"features={','.join(items[1:]) or 'none'}"]
        flat = parse_assignments(items)
    for key in flat:
        if key not in BUCKET_PROPS:
            raise UsageError(
                f"unknown bucket property {key!r}; settable: {', '.join(BUCKET_PROPS)}"
            )
    return flat


def cmd_props_set(ns: argparse.Namespace) -> int:
    bucket, _ = parse_uri(ns.bucket)
    flat = _assignments(list(ns.assignments))
    with client(ns) as c:
        props = c.set_bucket_props(bucket, flat)
    if ns.json:
        print_json(props)
        return 0
    shown = shown_props(props)
    print(f'"{uri_of(scheme_provider(ns.bucket), bucket)}": bucket props updated')
    rows = []
    for key in flat:
        show_key = "mirror.copies" if key == "mirror.enabled" else key
        rows.append([show_key, fmt(shown.get(show_key, flat[key]))])
    print_table(["PROPERTY", "VALUE"], rows)
    return 0


def cmd_props_reset(ns: argparse.Namespace) -> int:
    bucket, _ = parse_uri(ns.bucket)
    with client(ns) as c:
        c.reset_bucket_props(bucket)
    print(f'"ais://{bucket}": bucket props reset to the cluster defaults')
    return 0


def cmd_mirror(ns: argparse.Namespace) -> int:
    bucket, _ = parse_uri(ns.bucket)
    with client(ns) as c:
        before = last_job_id(c, "resilver")
        c.make_n_copies(bucket, ns.copies)
        print(f'"ais://{bucket}": mirror.copies={ns.copies}; existing objects are being '
              "brought to it (aisfs node resilver)")
        if ns.wait and job_failed(wait_job(c, "resilver", before)):
            return 1
    return 0


# == bucket cp (copy-bck, copy-listrange) ==============================================

def _bucket_ref(uri: str) -> tuple[str, str]:
    """``s3://b`` -> ("aws", "b"); ``ais://b`` or ``b`` -> ("ais", "b")."""
    return scheme_provider(uri), _bucket_only(uri, "give a bucket: ais://BUCKET, s3://BUCKET")


def start_copy(c: NativeClient, ns: argparse.Namespace) -> str:
    """POST the copy as the aistore SDK does; the job id."""
    sp, src = _bucket_ref(ns.src)
    dp, dst = _bucket_ref(ns.dst)
    value: dict[str, Any] = {"prefix": ns.prefix or "", "prepend": ns.prepend or "",
                             "dry_run": bool(ns.dry_run), "force": bool(ns.force),
                             "latest-ver": bool(ns.latest), "synchronize": bool(ns.sync)}
    if ns.num_workers:
        value["num-workers"] = ns.num_workers
    action = "copy-bck"
    if ns.template or ns.list:
        if ns.prefix:
            raise UsageError("--prefix with --template/--list: put the prefix in the template")
        action = "copy-listrange"
        if ns.template:
            value["template"] = ns.template
        else:
            value["objnames"] = [n for n in ns.list.split(",") if n]
        value["tobck"] = {"name": dst, "provider": dp,
                          "namespace": {"uuid": "", "name": ""}}
        value["coer"] = bool(ns.cont_on_err)
    elif ns.cont_on_err:
        value["coer"] = True
    resp = c.request("POST", f"/v1/buckets/{quote(src, safe='')}", action=action,
                     value=value, params={"provider": sp, "bck_to": f"{dp}/@#/{dst}/"})
    return resp.text.strip()


def cmd_cp(ns: argparse.Namespace) -> int:
    what = " (dry run)" if ns.dry_run else ""
    with client(ns) as c:
        job_id = start_copy(c, ns)
        if not ns.wait:
            print(f"copying {ns.src} => {ns.dst}{what}; job {job_id} "
                  f"(aisfs job wait {job_id})")
            return 0
        code = follow_job(c, job_id)  # the progress of `aisfs job wait`
        job = next((j for j in c.jobs(job_id=job_id) if j.get("id") == job_id), {})
    if ns.json:
        print_json(job)
    else:
        print(f"{ns.src} => {ns.dst}{what}: {job_line(job)}")
    return code


def _register_cp(bsub: Subparsers, conn: argparse.ArgumentParser) -> None:
    p = json_flag(add_command(
        bsub, "cp", cmd_cp, "copy a bucket's objects to another bucket through the node "
        "(ais:// and s3://, either way; AIS's copy-bck)", [conn]))
    p.add_argument("src", metavar="SRC_BUCKET")
    p.add_argument("dst", metavar="DST_BUCKET")
    p.add_argument("--prefix", default="", help="only the objects under this prefix")
    p.add_argument("--template", default="",
                   help="only the objects of a range, e.g. 'shard-{000..999}.tar'")
    p.add_argument("--list", default="", help="only these objects (comma-separated)")
    p.add_argument("--prepend", default="", help="put this before each destination name")
    p.add_argument("--dry-run", action="store_true",
                   help="count what would be copied, copy nothing")
    p.add_argument("--force", action="store_true",
                   help="copy also the objects the destination has already (same size "
                   "and ETag)")
    p.add_argument("--latest", action="store_true",
                   help="check a remote source's cached copies with the backend first")
    p.add_argument("--sync", action="store_true",
                   help="also delete what the destination has under the copied names that "
                   "the source has not (after a copy with no failed object)")
    p.add_argument("--cont-on-err", action="store_true",
                   help="go on past an object that fails (counted)")
    p.add_argument("--num-workers", type=int, default=0,
                   help="objects in flight at once (0: the node's default, -1: one)")
    p.add_argument("--wait", action="store_true",
                   help="wait for the copy to end (progress on stderr)")


def register(sub: Subparsers, conn: argparse.ArgumentParser) -> None:
    bucket = add_command(sub, "bucket", None,
                         "create, list, destroy, copy buckets; bucket props")
    bsub = add_subcommands(bucket)
    p = add_command(bsub, "create", cmd_create, "create buckets", [conn])
    p.add_argument("buckets", nargs="+", metavar="ais://BUCKET")
    p.add_argument("--props", default="", metavar="'K=V K=V'",
                   help="initial bucket props, e.g. 'checksum.type=md5 mirror.copies=2'")
    p.add_argument("--ignore-error", action="store_true", help="an existing bucket is fine")
    p = add_command(bsub, "ls", cmd_ls, "list buckets (or objects of one)", [conn])
    add_ls_options(p, "[ais|s3]://[BUCKET]")
    p = add_command(bsub, "rm", cmd_rm, "destroy buckets with everything in them", [conn])
    p.add_argument("buckets", nargs="+", metavar="ais://BUCKET")
    p.add_argument("-y", "--yes", action="store_true", help="don't ask (never asks anyway)")
    p.add_argument("--ignore-error", action="store_true", help="a missing bucket is fine")
    _register_props(add_subcommands(add_command(bsub, "props", None, "show or set bucket props"),
                                    "props_sub"), conn)
    p = add_command(bsub, "mirror", cmd_mirror,
                    "set the number of copies (mirror.copies); a resilver brings existing "
                    "objects to it", [conn])
    p.add_argument("bucket", metavar="ais://BUCKET")
    p.add_argument("--copies", type=int, required=True)
    p.add_argument("--wait", action="store_true",
                   help="wait until existing objects have their copies (progress on stderr)")
    _register_cp(bsub, conn)


def _register_props(psub: Subparsers, conn: argparse.ArgumentParser) -> None:
    p = json_flag(add_command(psub, "show", cmd_props_show, "show bucket props", [conn]))
    p.add_argument("bucket", metavar="[ais|s3]://BUCKET")
    p.add_argument("section", nargs="?", help="one prop or section, e.g. checksum")
    p = json_flag(add_command(
        psub, "set", cmd_props_set, "set bucket props (KEY=VALUE...)", [conn],
        epilog="settable props:\n" + "\n".join(f"  {k:28} {v}" for k, v in BUCKET_PROPS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ))
    p.add_argument("bucket", metavar="[ais|s3]://BUCKET")
    action = p.add_argument("assignments", nargs="+", metavar="KEY=VALUE",
                            help="e.g. checksum.type=md5 mirror.copies=2, or a JSON object")
    complete_with(action, [f"{k}=" for k in BUCKET_PROPS] + ["features"],
                  {"features": AIS_BUCKET_FEATURES})
    p = add_command(psub, "reset", cmd_props_reset, "reset props to the cluster defaults",
                    [conn])
    p.add_argument("bucket", metavar="ais://BUCKET")
