"""`aisfs nbi create|show|ls|rm` (AIS's ``ais nbi``): native bucket inventories, snapshots
of a remote bucket's listing kept on the node (docs/backends.md, "Inventory").

- ``aisfs nbi create s3://B [--inv-name N] [--prefix P] [--force] [--wait]``: starts the
  ``create-inventory`` job (its id printed; ``--wait``: until it ends, then the result);
- ``aisfs nbi show [s3://B] [--inv-name N]`` (``ls``, and ``aisfs show nbi`` as AIS's
  ``ais show nbi``): the inventories (all when no bucket is given);
- ``aisfs nbi rm s3://B [--inv-name N]``: one, or all of the bucket's;
- ``aisfs ls s3://B --inventory [--inv-name N]`` lists from one (aisfs/cli/listing.py).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from aisfs.cli.args import (
    Subparsers,
    UsageError,
    add_command,
    add_subcommands,
    client,
    json_flag,
    subparsers_of,
)
from aisfs.cli.output import StatusLine, human_size, print_json, print_table
from aisfs.cli.remote import provider_of
from aisfs.client.native import NativeClient

ACT_CREATE, ACT_DESTROY, ACT_SHOW = "create-inventory", "destroy-inventory", "show-inventory"
POLL_SECONDS = 0.3


def _bucket(ns: argparse.Namespace) -> tuple[str, dict[str, str]]:
    """The bucket argument's name and its provider query."""
    uri: str = ns.bucket
    if "://" not in uri:
        raise UsageError(f"{uri}: expected s3://BUCKET (or ais://BUCKET with backend_bck)")
    name = uri.partition("://")[2].strip("/")
    if not name or "/" in name:
        raise UsageError(f"{uri}: expected a bucket, not an object")
    return name, {"provider": provider_of(ns)}


def _path(name: str) -> str:
    return NativeClient._bck_path(name)


def cmd_create(ns: argparse.Namespace) -> int:
    name, params = _bucket(ns)
    value = {"name": ns.inv_name or "", "prefix": ns.prefix or "", "force": ns.force}
    with client(ns) as c:
        job_id = c.request("POST", _path(name), action=ACT_CREATE, value=value,
                           params=params).text.strip()
        inv = ns.inv_name or job_id  # as AIS: the default name is the job's id
        if not ns.wait:
            print(f"Creating inventory {inv} of {ns.bucket}: job {job_id} "
                  f"(aisfs nbi show {ns.bucket} --inv-name {inv})")
            return 0
        status = wait_job(c, job_id)
        if status.get("err"):
            print(f"inventory {inv} of {ns.bucket}: job {job_id} failed: {status['err']}")
            return 1
        shown = c.request("GET", _path(name), action=ACT_SHOW, name=inv, params=params).json()
    _print_inventories(ns, list(shown.values()))
    return 0


def wait_job(c: NativeClient, job_id: str) -> dict[str, Any]:
    """Poll the job's AIS status (``/v1/cluster?what=status``) until it ends, a line on
    stderr with the names listed so far; its last status."""
    line = StatusLine()
    args = json.dumps({"id": job_id}).encode()  # AIS's JobArgs
    while True:
        st: dict[str, Any] = c.request(
            "GET", "/v1/cluster", params={"what": "status"}, content=args,
            headers={"content-type": "application/json"}).json()
        snap = c.request("GET", "/v1/cluster", params={"what": "jobs"}, content=args,
                         headers={"content-type": "application/json"}).json()
        mine = [j for j in snap.get("jobs") or [] if j.get("id") == job_id]
        if mine:
            line.show(f"{ACT_CREATE} {job_id}: {mine[0].get('objects_done', 0)} names")
        if st.get("end_time"):
            line.close()
            return st
        time.sleep(POLL_SECONDS)


def cmd_show(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        if ns.bucket:
            name, params = _bucket(ns)
            shown = c.request("GET", _path(name), action=ACT_SHOW, name=ns.inv_name or "",
                              params=params).json()
        else:  # every bucket's
            shown = c.request("GET", "/v1/buckets", action=ACT_SHOW).json()
    _print_inventories(ns, sorted(shown.values(), key=lambda i: (i["bucket"], i["name"])))
    return 0


def cmd_rm(ns: argparse.Namespace) -> int:
    name, params = _bucket(ns)
    with client(ns) as c:
        c.request("DELETE", _path(name), action=ACT_DESTROY, name=ns.inv_name or "",
                  params=params)
    what = f" {ns.inv_name}" if ns.inv_name else "s"
    print(f"Removed inventory{what} of {ns.bucket}")
    return 0


def _time(ns: int) -> str:
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _print_inventories(ns: argparse.Namespace, infos: list[dict[str, Any]]) -> None:
    if getattr(ns, "json", False):
        print_json(infos)
        return
    print_table(["BUCKET", "NAME", "SIZE", "OBJECTS", "STARTED", "FINISHED", "PREFIX"],
                [[i["bucket"], i["name"], human_size(int(i.get("size") or 0)),
                  str(i.get("ntotal", 0)), _time(int(i.get("started") or 0)),
                  _time(int(i.get("finished") or 0)), i.get("prefix") or "-"] for i in infos])


def register(sub: Subparsers, conn: argparse.ArgumentParser) -> None:
    nbi = add_subcommands(add_command(
        sub, "nbi", None, "native bucket inventory (AIS's ais nbi): snapshots of a remote "
        "bucket's listing for fast listing (create, show, rm)"))
    p = json_flag(add_command(nbi, "create", cmd_create, "create an inventory of a remote "
                              "bucket (a create-inventory job)", [conn]))
    p.add_argument("bucket", metavar="s3://BUCKET")
    _name_option(p)
    p.add_argument("--prefix", default="", help="only the objects under this prefix")
    p.add_argument("--force", action="store_true", help="replace an inventory of that name")
    p.add_argument("--wait", action="store_true", help="wait until it is created")
    for verb in ("show", "ls"):
        _show_parser(nbi, verb, conn)
    p = add_command(nbi, "rm", cmd_rm, "remove an inventory (all of the bucket's when no "
                    "name is given)", [conn])
    p.add_argument("bucket", metavar="s3://BUCKET")
    _name_option(p)


def register_show(sub: Subparsers, conn: argparse.ArgumentParser) -> None:
    """``aisfs show nbi`` (AIS's ``ais show nbi``): ``aisfs nbi show`` under the ``show``
    command (``aisfs.cli.cluster`` makes it; nothing is added without it)."""
    show = sub.choices.get("show")
    what = subparsers_of(show) if show is not None else None
    if what is not None and "nbi" not in what.choices:
        _show_parser(what, "nbi", conn)


def _show_parser(sub: Subparsers, verb: str, conn: argparse.ArgumentParser) -> None:
    p = json_flag(add_command(sub, verb, cmd_show, "show inventories (all buckets' when "
                              "none is given)", [conn]))
    p.add_argument("bucket", nargs="?", metavar="s3://BUCKET")
    _name_option(p)


def _name_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inv-name", "--name", dest="inv_name", default="",
                   help="the inventory's name (create: default inv-<id>, as AIS)")
