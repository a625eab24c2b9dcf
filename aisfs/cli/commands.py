"""The `aisfs` verbs that speak a node's native API: AIStore's `ais` commands, renamed.

    aisfs bucket create|ls|rm|props show|props set|props reset|mirror
    aisfs ls [ais://BUCKET[/PREFIX]]
    aisfs put FILE|DIR|- ais://BUCKET[/OBJECT]
    aisfs get ais://BUCKET/OBJECT [FILE|DIR|-]
    aisfs object show|rm|put|get|rename
    aisfs rm ais://BUCKET/OBJECT...
    aisfs config cluster [KEY=VALUE...] | features [FLAG...]
    aisfs node show|status     (also: aisfs show node|cluster, aisfs cluster show)
    aisfs auth token --user U --ttl 1h
    aisfs completion bash

The endpoint comes from --endpoint, then AIS_ENDPOINT, then http://localhost:8080; a
token from --token, AIS_AUTHN_TOKEN or AISFS_TOKEN. Failures print one line on stderr
and exit non-zero (1 for a failed request, 2 for bad usage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from aisfs.cli import transfer
from aisfs.cli.auth import AuthError
from aisfs.cli.format import human_size, print_table
from aisfs.client.native import NativeClient, NativeError
from aisfs.client.props import (
    AIS_BUCKET_FEATURES,
    BUCKET_PROPS,
    PropError,
    bitmask_to_features,
    flatten,
    parse_assignments,
)
from aisfs.config import FEATURE_FLAGS

PROG = "aisfs"
VERBS = (
    "bucket", "ls", "put", "get", "object", "rm", "config", "node", "show", "cluster", "auth",
    "completion",
)


class UsageError(Exception):
    """Bad arguments: exit code 2."""


# ---- URIs ---------------------------------------------------------------------------

def parse_uri(uri: str, need_bucket: bool = True) -> tuple[str, str]:
    """``ais://b/obj`` -> ``("b", "obj")``; ``ais://b`` -> ``("b", "")``; ``b/obj`` too."""
    text = uri
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme not in ("ais", ""):
            raise UsageError(f"{uri}: aisfs serves ais:// buckets only")
    bucket, _, key = text.partition("/")
    if need_bucket and not bucket:
        raise UsageError(f"{uri}: expected ais://BUCKET[/OBJECT]")
    return bucket, key


def _client(ns: argparse.Namespace) -> NativeClient:
    return NativeClient(ns.endpoint, token=ns.token, timeout=ns.timeout)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


# ---- bucket -------------------------------------------------------------------------

def cmd_bucket_create(ns: argparse.Namespace) -> int:
    props = parse_assignments(ns.props.replace(",", " ").split()) if ns.props else {}
    with _client(ns) as c:
        for uri in ns.buckets:
            bucket, key = parse_uri(uri)
            if key:
                raise UsageError(f"{uri}: a bucket name has no '/'")
            try:
                c.create_bucket(bucket, props)
            except NativeError as e:
                if ns.ignore_error and e.status == 409:
                    print(f'"ais://{bucket}" already exists')
                    continue
                raise
            print(f'"ais://{bucket}" created')
    return 0


def cmd_bucket_ls(ns: argparse.Namespace) -> int:
    if ns.bucket:
        bucket, prefix = parse_uri(ns.bucket, need_bucket=False)
        if bucket:
            ns.uri = ns.bucket
            return cmd_ls(ns)
    with _client(ns) as c:
        buckets = c.list_buckets()
    if ns.json:
        _print_json(buckets)
        return 0
    print_table(["NAME", "PROVIDER"], [[f"ais://{b['name']}", b["provider"]] for b in buckets])
    return 0


def cmd_bucket_rm(ns: argparse.Namespace) -> int:
    with _client(ns) as c:
        for uri in ns.buckets:
            bucket, key = parse_uri(uri)
            if key:
                raise UsageError(f"{uri}: to remove objects use `aisfs rm`")
            try:
                c.destroy_bucket(bucket)
            except NativeError as e:
                if ns.ignore_error and e.status == 404:
                    continue
                raise
            print(f'"ais://{bucket}" destroyed')
    return 0


def _shown_props(props: dict[str, Any]) -> dict[str, Any]:
    flat = flatten({k: v for k, v in props.items() if k not in ("feature_names", "name")})
    names = props.get("feature_names")
    if names is None:
        names = bitmask_to_features(str(flat.get("features", "0")))
    flat["features"] = ",".join(names) if names else "none"
    return flat


def cmd_bucket_props_show(ns: argparse.Namespace) -> int:
    bucket, _ = parse_uri(ns.bucket)
    with _client(ns) as c:
        props = c.bucket_props(bucket)
    flat = _shown_props(props)
    if ns.section:
        flat = {k: v for k, v in flat.items() if k == ns.section or k.startswith(ns.section + ".")}
        if not flat:
            raise UsageError(f"no bucket property {ns.section!r}")
    if ns.json:
        _print_json(flat if ns.section else props)
        return 0
    print_table(["PROPERTY", "VALUE"], [[k, _fmt(v)] for k, v in sorted(flat.items())])
    return 0


def cmd_bucket_props_set(ns: argparse.Namespace) -> int:
    bucket, _ = parse_uri(ns.bucket)
    items = list(ns.assignments)
    if len(items) == 1 and items[0].lstrip().startswith("{"):
        try:
            flat = flatten(json.loads(items[0]))
        except ValueError as e:
            raise UsageError(f"invalid JSON props: {e}") from None
    else:
        # `features A B` as AIS writes it
        if items and items[0] == "features":
            items = [f"features={','.join(items[1:]) or 'none'}"]
        flat = parse_assignments(items)
    for key in flat:
        if key not in BUCKET_PROPS:
            raise UsageError(
                f"unknown bucket property {key!r}; settable: {', '.join(BUCKET_PROPS)}"
            )
    with _client(ns) as c:
        props = c.set_bucket_props(bucket, flat)
    shown = _shown_props(props)
    if ns.json:
        _print_json(props)
        return 0
    print(f'"ais://{bucket}": bucket props updated')
    rows = []
    for key in flat:
        show_key = "mirror.copies" if key == "mirror.enabled" else key
        rows.append([show_key, _fmt(shown.get(show_key, flat[key]))])
    print_table(["PROPERTY", "VALUE"], rows)
    return 0


def cmd_bucket_props_reset(ns: argparse.Namespace) -> int:
    bucket, _ = parse_uri(ns.bucket)
    with _client(ns) as c:
        c.reset_bucket_props(bucket)
    print(f'"ais://{bucket}": bucket props reset to the cluster defaults')
    return 0


def cmd_bucket_mirror(ns: argparse.Namespace) -> int:
    bucket, _ = parse_uri(ns.bucket)
    with _client(ns) as c:
        c.make_n_copies(bucket, ns.copies)
    print(
        f'"ais://{bucket}": mirror.copies={ns.copies} for new writes '
        "(existing objects keep their copies until a resilver)"
    )
    return 0


# ---- objects ------------------------------------------------------------------------

LS_NO_RECURSION = 1 << 11
LS_NO_DIRS = 1 << 13
ALL_PROPS = "name,size,checksum,atime,version,copies,custom,location"


def cmd_ls(ns: argparse.Namespace) -> int:
    uri = getattr(ns, "uri", None)
    bucket, prefix = parse_uri(uri, need_bucket=False) if uri else ("", "")
    if not bucket:
        ns.bucket = None
        return cmd_bucket_ls(ns)
    props = ALL_PROPS if ns.props == "all" else (ns.props or "name,size")
    flags = (LS_NO_RECURSION if ns.no_recursion else 0) | (LS_NO_DIRS if ns.no_dirs else 0)
    with _client(ns) as c:
        entries = []
        for ent in c.iter_objects(bucket, prefix, ns.page_size, props, flags):
            entries.append(ent)
            if ns.limit and len(entries) >= ns.limit:
                break
    if ns.json:
        _print_json(entries)
        return 0
    cols = [p.strip() for p in props.split(",") if p.strip()]
    if "name" not in cols:
        cols.insert(0, "name")
    keymap = {"name": "name", "size": "size", "checksum": "checksum", "atime": "atime",
              "version": "version", "copies": "copies", "custom": "custom-md",
              "location": "location", "etag": "custom-md", "last-modified": "custom-md"}
    rows = []
    total = 0
    for ent in entries:
        is_dir = bool(int(ent.get("flags", 0)) & (1 << 8))
        row = []
        for col in cols:
            value = ent.get(keymap.get(col, col), "")
            if col == "size":
                value = "" if is_dir else human_size(int(value or 0))
            row.append(_fmt(value))
        total += int(ent.get("size", 0) or 0)
        rows.append(row)
    print_table([c.upper() for c in cols], rows)
    if ns.summary:
        print(f"Listed {len(entries)} names, {human_size(total)} total")
    return 0


def cmd_put(ns: argparse.Namespace) -> int:
    bucket, key = parse_uri(ns.dst)
    with _client(ns) as c:
        return transfer.put(c, ns.src, bucket, key, ns)


def cmd_get(ns: argparse.Namespace) -> int:
    bucket, key = parse_uri(ns.src)
    with _client(ns) as c:
        return transfer.get(c, bucket, key, ns.dst, ns)


def cmd_object_show(ns: argparse.Namespace) -> int:
    bucket, key = parse_uri(ns.object)
    if not key:
        raise UsageError(f"{ns.object}: expected ais://BUCKET/OBJECT")
    with _client(ns) as c:
        h = c.head_object(bucket, key, "name,size,checksum,atime,version,copies,custom,location")
    atime = h.get("ais-atime", "")
    props = {
        "name": f"ais://{bucket}/{key}",
        "size": int(h.get("content-length", 0) or 0),
        "checksum": {"type": h.get("ais-checksum-type", ""),
                     "value": h.get("ais-checksum-value", "")},
        "atime": atime,
        "version": h.get("ais-version", ""),
        "copies": int(h.get("ais-mirror-copies", 1) or 1),
        "custom": h.get("ais-custom-md", ""),
        "location": h.get("ais-location", ""),
        "etag": h.get("etag", "").strip('"'),
        "last-modified": h.get("last-modified", ""),
    }
    if ns.json:
        _print_json(props)
        return 0
    rows = [
        ["name", props["name"]],
        ["size", human_size(props["size"])],
        ["checksum", f"{props['checksum']['type']}[{props['checksum']['value']}]"
         if props["checksum"]["value"] else props["checksum"]["type"]],
        ["atime", _fmt_ns(atime)],
        ["version", props["version"]],
        ["copies", str(props["copies"])],
        ["custom", props["custom"] or "-"],
        ["location", props["location"]],
        ["etag", props["etag"]],
        ["last-modified", props["last-modified"]],
    ]
    print_table(["PROPERTY", "VALUE"], rows)
    return 0


def cmd_rm(ns: argparse.Namespace) -> int:
    failed = 0
    with _client(ns) as c:
        for uri in ns.objects:
            bucket, key = parse_uri(uri)
            if not key:
                raise UsageError(f"{uri}: no object name (to destroy a bucket: aisfs bucket rm)")
            try:
                c.delete_object(bucket, key)
            except NativeError as e:
                if len(ns.objects) == 1:
                    raise
                print(f"aisfs: {e.message}", file=sys.stderr)
                failed += 1
                continue
            print(f'deleted "{key}" from ais://{bucket}')
    return 1 if failed else 0


def cmd_object_rename(ns: argparse.Namespace) -> int:
    bucket, key = parse_uri(ns.object)
    if not key:
        raise UsageError(f"{ns.object}: expected ais://BUCKET/OBJECT")
    with _client(ns) as c:
        c.rename_object(bucket, key, ns.new_name)
    print(f'renamed "ais://{bucket}/{key}" => "{ns.new_name}"')
    return 0


# ---- config -------------------------------------------------------------------------

def _config_flat(conf: dict[str, Any]) -> dict[str, Any]:
    flat = flatten({k: v for k, v in conf.items() if k != "feature_names"})
    names = conf.get("feature_names") or bitmask_to_features(str(conf.get("features", "0")))
    flat["features"] = ",".join(names) if names else "none"
    return flat


def cmd_config_cluster(ns: argparse.Namespace) -> int:
    args = list(ns.args)
    with _client(ns) as c:
        if args and args[0] == "features" and (len(args) > 1):
            conf = c.set_cluster_config({"features": ",".join(args[1:])})
            names = conf.get("feature_names") or []
            if ns.json:
                _print_json(conf)
            else:
                print("cluster features: " + (", ".join(names) if names else "none"))
            return 0
        sets = [a for a in args if "=" in a]
        if sets:
            if len(sets) != len(args):
                raise UsageError("expected KEY=VALUE pairs, or one section name to show")
            items = parse_assignments(sets)
            conf = c.set_cluster_config(items)
            if ns.json:
                _print_json(conf)
                return 0
            flat = _config_flat(conf)
            print("cluster config updated")
            rows = [[k, _fmt(flat.get(k, v))] for k, v in items.items()]
            print_table(["PROPERTY", "VALUE"], rows)
            return 0
        conf = c.cluster_config()
    flat = _config_flat(conf)
    if args:
        section = args[0]
        flat = {k: v for k, v in flat.items() if k == section or k.startswith(section + ".")}
        if not flat:
            raise UsageError(f"no cluster config section {section!r}")
    if ns.json:
        _print_json(flat if args else conf)
        return 0
    print_table(["PROPERTY", "VALUE"], [[k, _fmt(v)] for k, v in sorted(flat.items())])
    if args and args[0] == "features":
        print(f"\nvalid cluster features: {', '.join(FEATURE_FLAGS)}")
        print(f"bucket-scope features: {', '.join(AIS_BUCKET_FEATURES)}")
    return 0


# ---- node ---------------------------------------------------------------------------

def cmd_node_show(ns: argparse.Namespace) -> int:
    with _client(ns) as c:
        smap = c.smap()
        stats = c.node_stats()
    if ns.json:
        _print_json({"smap": smap, "node": stats})
        return 0
    store = stats.get("store") or {}
    cap = stats.get("capacity") or {}
    snode = stats.get("snode") or {}
    rows = [[
        snode.get("daemon_id", ""),
        "proxy+target",
        (snode.get("public_net") or {}).get("direct_url", ""),
        stats.get("status", ""),
        stats.get("version", ""),
        _fmt_uptime(stats.get("uptime", "0")),
        f"{human_size(int(cap.get('used', 0)))}/{human_size(int(cap.get('total', 0)))}",
        str(store.get("objects", "")),
        str(len(store.get("mountpaths") or [])),
    ]]
    print_table(
        ["NODE", "TYPE", "URL", "STATUS", "VERSION", "UPTIME", "CAPACITY", "OBJECTS",
         "MOUNTPATHS"],
        rows,
    )
    print(f"\ncluster {smap.get('uuid', '')}: 1 proxy, 1 target (single node)")
    return 0


def cmd_node_status(ns: argparse.Namespace) -> int:
    with _client(ns) as c:
        healthy = c.health()
        stats = c.node_stats()
    store = stats.get("store") or {}
    if ns.json:
        _print_json({"healthy": healthy, **stats})
        return 0 if healthy else 1
    print(f"status: {stats.get('status', '')}{'' if healthy else ' (not ready)'}")
    print(
        f"objects: {store.get('objects', 0)}, chunks: {store.get('chunks', 0)}, "
        f"logical {human_size(int(store.get('logical_bytes', 0)))}, "
        f"stored {human_size(int(store.get('stored_bytes', 0)))}, "
        f"dedup savings {human_size(int(store.get('dedup_savings_bytes', 0)))}"
    )
    rows = []
    for mp in store.get("mountpaths") or []:
        total = int(mp.get("total", 0) or 0)
        used = int(mp.get("used", 0) or 0)
        rows.append([
            mp.get("path", ""),
            "enabled" if mp.get("enabled", True) else "disabled",
            human_size(used),
            human_size(total),
            f"{100 * used / total:.0f}%" if total else "-",
        ])
    print_table(["MOUNTPATH", "STATE", "USED", "TOTAL", "USED%"], rows)
    return 0 if healthy else 1


# ---- auth ---------------------------------------------------------------------------

def cmd_auth_token(ns: argparse.Namespace) -> int:
    from aisfs.cli.auth import make_token, parse_ttl, resolve_secret

    secret = resolve_secret(ns.secret, ns.config)
    ttl = parse_ttl(ns.ttl)
    print(make_token(secret, ns.user, ttl, admin=not ns.no_admin))
    return 0


def cmd_completion(ns: argparse.Namespace) -> int:
    from aisfs.cli.completion import script

    print(script(ns.shell))
    return 0


# ---- helpers ------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "":
        return "-"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _fmt_ns(value: str) -> str:
    import time

    try:
        ns = int(value)
    except (TypeError, ValueError):
        return value or "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ns / 1e9))


def _fmt_uptime(value: Any) -> str:
    try:
        secs = int(int(value) / 1e9)
    except (TypeError, ValueError):
        return "-"
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


# ---- parser -------------------------------------------------------------------------

def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("connection")
    g.add_argument("--endpoint", default=None,
                   help="node URL (default: $AIS_ENDPOINT or http://localhost:8080)")
    g.add_argument("--token", default=None,
                   help="bearer token (default: $AIS_AUTHN_TOKEN or $AISFS_TOKEN)")
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    return p


def _json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def _add(
    sub: Any, name: str, func: Callable[[argparse.Namespace], int], help_text: str,
    common: argparse.ArgumentParser, **kw: Any,
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text, parents=[common], **kw)
    p.set_defaults(func=func)
    return p


def _put_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", metavar="FILE|DIR|-", help="a file, a directory (recursive) or - (stdin)")
    p.add_argument("dst", metavar="ais://BUCKET[/OBJECT]",
                   help="destination; a trailing '/' or a directory source makes it a prefix")
    p.add_argument("-r", "--recursive", action="store_true",
                   help="directories are always walked recursively (accepted for ais compat)")
    p.add_argument("--conc", type=int, default=8, help="parallel uploads (default 8)")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show a progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--custom", default="", metavar="K=V[,K=V]", help="custom metadata")
    p.add_argument("--dry-run", action="store_true", help="show what would be uploaded")
    _json_flag(p)


def _get_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", metavar="ais://BUCKET/OBJECT",
                   help="object (or, with -r, a bucket or prefix)")
    p.add_argument("dst", nargs="?", default=None, metavar="FILE|DIR|-",
                   help="where to write (default: the object's base name); - for stdout")
    p.add_argument("-r", "--recursive", action="store_true",
                   help="download every object under the prefix into DIR")
    p.add_argument("--offset", type=int, default=None, help="read from this byte")
    p.add_argument("--length", type=int, default=None, help="read this many bytes")
    p.add_argument("--conc", type=int, default=8, help="parallel downloads with -r")
    p.add_argument("--progress", dest="progress", action="store_true", default=None)
    p.add_argument("--no-progress", dest="progress", action="store_false")
    _json_flag(p)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="aisfs native-API commands (AIStore's `ais` verbs).",
    )
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")

    # bucket
    bucket = sub.add_parser("bucket", help="create, list, destroy buckets; bucket props",
                            description="create, list, destroy buckets; bucket props")
    bsub = bucket.add_subparsers(dest="sub", metavar="SUBCOMMAND")
    p = _add(bsub, "create", cmd_bucket_create, "create buckets", common)
    p.add_argument("buckets", nargs="+", metavar="ais://BUCKET")
    p.add_argument("--props", default="", metavar="'K=V K=V'",
                   help="initial bucket props, e.g. 'checksum.type=md5 mirror.copies=2'")
    p.add_argument("--ignore-error", action="store_true", help="an existing bucket is fine")
    p = _add(bsub, "ls", cmd_bucket_ls, "list buckets (or objects of one)", common)
    p.add_argument("bucket", nargs="?", metavar="ais://[BUCKET]")
    _ls_options(p, with_uri=False)
    p = _add(bsub, "rm", cmd_bucket_rm, "destroy buckets with everything in them", common)
    p.add_argument("buckets", nargs="+", metavar="ais://BUCKET")
    p.add_argument("-y", "--yes", action="store_true", help="don't ask (never asks anyway)")
    p.add_argument("--ignore-error", action="store_true", help="a missing bucket is fine")
    props = bsub.add_parser("props", help="show or set bucket props",
                            description="show or set bucket props")
    psub = props.add_subparsers(dest="props_sub", metavar="SUBCOMMAND")
    p = _add(psub, "show", cmd_bucket_props_show, "show bucket props", common)
    p.add_argument("bucket", metavar="ais://BUCKET")
    p.add_argument("section", nargs="?", help="one prop or section, e.g. checksum")
    _json_flag(p)
    p = _add(
        psub, "set", cmd_bucket_props_set, "set bucket props (KEY=VALUE...)", common,
        epilog="settable props:\n" + "\n".join(f"  {k:28} {v}" for k, v in BUCKET_PROPS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("bucket", metavar="ais://BUCKET")
    p.add_argument("assignments", nargs="+", metavar="KEY=VALUE",
                   help="e.g. checksum.type=md5 mirror.copies=2, or a JSON object")
    _json_flag(p)
    p = _add(psub, "reset", cmd_bucket_props_reset, "reset props to the cluster defaults",
             common)
    p.add_argument("bucket", metavar="ais://BUCKET")
    p = _add(bsub, "mirror", cmd_bucket_mirror, "set the number of copies (mirror.copies)",
             common)
    p.add_argument("bucket", metavar="ais://BUCKET")
    p.add_argument("--copies", type=int, required=True)

    # ls
    p = _add(sub, "ls", cmd_ls, "list buckets, or objects of ais://BUCKET[/PREFIX]", common)
    _ls_options(p, with_uri=True)

    # put / get
    _put_options(_add(sub, "put", cmd_put, "upload a file, a directory or stdin", common))
    _get_options(_add(sub, "get", cmd_get, "download an object (or a prefix with -r)", common))

    # object
    obj = sub.add_parser("object", help="object commands: show, rm, put, get, rename",
                         description="object commands: show, rm, put, get, rename")
    osub = obj.add_subparsers(dest="sub", metavar="SUBCOMMAND")
    p = _add(osub, "show", cmd_object_show, "show object properties", common)
    p.add_argument("object", metavar="ais://BUCKET/OBJECT")
    _json_flag(p)
    p = _add(osub, "rm", cmd_rm, "delete objects", common)
    p.add_argument("objects", nargs="+", metavar="ais://BUCKET/OBJECT")
    _put_options(_add(osub, "put", cmd_put, "upload (same as aisfs put)", common))
    _get_options(_add(osub, "get", cmd_get, "download (same as aisfs get)", common))
    p = _add(osub, "rename", cmd_object_rename, "rename an object within its bucket", common)
    p.add_argument("object", metavar="ais://BUCKET/OBJECT")
    p.add_argument("new_name", metavar="NEW_NAME")

    # rm
    p = _add(sub, "rm", cmd_rm, "delete objects", common)
    p.add_argument("objects", nargs="+", metavar="ais://BUCKET/OBJECT")

    # config
    config = sub.add_parser("config", help="show or set the cluster config",
                            description="show or set the cluster config")
    csub = config.add_subparsers(dest="sub", metavar="SUBCOMMAND")
    p = _add(
        csub, "cluster", cmd_config_cluster,
        "show the cluster config (or one section), set KEY=VALUE, or "
        "`features FLAG...` (replaces the set; `features none` clears it)",
        common,
    )
    p.add_argument("args", nargs="*", metavar="KEY=VALUE|SECTION|features FLAG")
    _json_flag(p)

    # node (reached as `aisfs node show|status` once node.cli hands these over)
    node = sub.add_parser("node", help="show the node", description="show the node")
    nsub = node.add_subparsers(dest="sub", metavar="SUBCOMMAND")
    _json_flag(_add(nsub, "show", cmd_node_show, "node and cluster map summary", common))
    _json_flag(_add(nsub, "status", cmd_node_status,
                    "health, store counters, mountpaths (exit 1 if not ready)", common))
    from aisfs.cli.node_admin import register  # node mountpath|scrub|resilver, mirror --wait

    register(nsub, bsub, common)
    show = sub.add_parser("show", help="show node or cluster (ais show cluster)",
                          description="show node or cluster")
    ssub = show.add_subparsers(dest="sub", metavar="WHAT")
    _json_flag(_add(ssub, "cluster", cmd_node_show, "the cluster (one node)", common))
    _json_flag(_add(ssub, "node", cmd_node_show, "the node", common))
    cluster = sub.add_parser("cluster", help="cluster commands (show)",
                             description="cluster commands")
    clsub = cluster.add_subparsers(dest="sub", metavar="SUBCOMMAND")
    _json_flag(_add(clsub, "show", cmd_node_show, "the cluster (one node)", common))

    # auth
    auth = sub.add_parser("auth", help="JWT tokens", description="JWT tokens")
    asub = auth.add_subparsers(dest="sub", metavar="SUBCOMMAND")
    p = asub.add_parser("token", help="print a signed HS256 token",
                        description="print a signed HS256 token for Authorization: Bearer")
    p.set_defaults(func=cmd_auth_token)
    p.add_argument("--user", required=True)
    p.add_argument("--ttl", default="24h", help="lifetime: 90s, 30m, 1h, 7d (default 24h)")
    p.add_argument("--secret", default=None,
                   help="HS256 secret (default: $AISFS_JWT_SECRET, else auth.jwt_secret of "
                        "--config or /etc/aisfs/node.toml)")
    p.add_argument("--config", type=Path, default=None, help="node config to read the secret")
    p.add_argument("--no-admin", action="store_true", help="a non-admin token")

    p = sub.add_parser("completion", help="print a shell completion script",
                       description="print a shell completion script: "
                                   "eval \"$(aisfs completion bash)\"")
    p.set_defaults(func=cmd_completion)
    p.add_argument("shell", choices=["bash", "zsh"], nargs="?", default="bash")
    return parser


def _ls_options(p: argparse.ArgumentParser, with_uri: bool) -> None:
    if with_uri:
        p.add_argument("uri", nargs="?", metavar="ais://BUCKET[/PREFIX]")
    p.add_argument("--props", default="", help=f"comma-separated, or 'all' ({ALL_PROPS})")
    p.add_argument("--page-size", type=int, default=0, help="names per request (max 10000)")
    p.add_argument("--limit", type=int, default=0, help="stop after this many names")
    p.add_argument("--nr", "--no-recursion", dest="no_recursion", action="store_true",
                   help="don't descend: show virtual directories")
    p.add_argument("--no-dirs", action="store_true", help="with --nr: omit directories")
    p.add_argument("--summary", action="store_true", help="print a count and total size")
    _json_flag(p)


def _has_subparsers(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


def _leaf_parser(
    parser: argparse.ArgumentParser, args: list[str]
) -> tuple[argparse.ArgumentParser, int]:
    """The deepest (sub)command parser named by the leading words of ``args``."""
    current = parser
    depth = 0
    for word in args:
        actions = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or word not in actions[0].choices:
            break
        current = actions[0].choices[word]
        depth += 1
    return current, depth


def run(args: list[str]) -> int | None:
    """Run one native-API verb; None when ``args[0]`` is not one of ours."""
    if not args or args[0] not in VERBS:
        return None
    parser = build_parser()
    leaf, depth = _leaf_parser(parser, args)
    try:
        if leaf is parser or _has_subparsers(leaf):
            ns = parser.parse_args(args)
        else:
            # options may come after the positionals (`get ais://b/o --offset 1 -`)
            ns = leaf.parse_intermixed_args(args[depth:])
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else (0 if e.code is None else 2)
    func = getattr(ns, "func", None)
    if func is None:
        leaf.print_help()
        return 2
    try:
        return int(func(ns) or 0)
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except (NativeError, PropError, AuthError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except httpx.HTTPError as e:
        print(f"{PROG}: transfer failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            try:
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            except OSError:
                pass
            return 1
        print(f"{PROG}: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
