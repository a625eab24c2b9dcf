"""`aisfs ls` and `aisfs bucket ls`: the buckets, or the objects of ais://BUCKET[/PREFIX]."""

from __future__ import annotations

import argparse
from typing import Any

from aisfs.cli.args import client, json_flag, parse_uri
from aisfs.cli.output import fmt, human_size, print_json, print_table
from aisfs.cli.remote import provider_of, uri_of
from aisfs.native import (
    ENTRY_IS_CACHED,
    ENTRY_IS_DIR,
    LS_CACHED,
    LS_NO_DIRS,
    LS_NO_RECURSION,
    LS_NOT_CACHED,
    LS_VERSIONS,
    decode_custom_md,
)

ALL_PROPS = "name,size,checksum,atime,version,copies,custom,location"
LS_NBI = 1 << 15  # AIS's apc.LsNBI: from the bucket's inventory (aisfs.inventory)
# listed entry field of each --props column
_FIELD = {"custom": "custom-md", "etag": "custom-md", "last-modified": "custom-md"}


def add_ls_options(p: argparse.ArgumentParser, metavar: str) -> None:
    p.add_argument("uri", nargs="?", metavar=metavar)
    p.add_argument("--props", default="", help=f"comma-separated, or 'all' ({ALL_PROPS})")
    p.add_argument("--page-size", type=int, default=0, help="names per request (max 10000)")
    p.add_argument("--limit", type=int, default=0, help="stop after this many names")
    p.add_argument("--nr", "--no-recursion", dest="no_recursion", action="store_true",
                   help="don't descend: show virtual directories")
    p.add_argument("--no-dirs", action="store_true", help="with --nr: omit directories")
    p.add_argument("--summary", action="store_true", help="print a count and total size")
    p.add_argument("--versions", action="store_true",
                   help="ais://: every version and delete marker, newest first per name")
    cached = p.add_mutually_exclusive_group()  # s3:// buckets (docs/backends.md)
    cached.add_argument("--cached", action="store_true", help="s3://: only what the node has")
    cached.add_argument("--not-cached", action="store_true", help="s3://: only what it has not")
    p.add_argument("--inventory", action="store_true",
                   help="s3://: list from the bucket's inventory (aisfs nbi create)")
    p.add_argument("--inv-name", default="", help="with --inventory: which one")
    json_flag(p)


def cmd_ls(ns: argparse.Namespace) -> int:
    bucket, prefix = parse_uri(ns.uri, need_bucket=False) if ns.uri else ("", "")
    if not bucket:
        return _list_buckets(ns)
    return _list_objects(ns, bucket, prefix)


def _list_buckets(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        buckets = c.list_buckets()
    if ns.json:
        print_json(buckets)
        return 0
    print_table(["NAME", "PROVIDER"],
                [[uri_of(b["provider"], b["name"]), b["provider"]] for b in buckets])
    return 0


def _list_objects(ns: argparse.Namespace, bucket: str, prefix: str) -> int:
    remote = provider_of(ns) != "ais"
    props = ALL_PROPS if ns.props == "all" else (ns.props or "name,size")
    if getattr(ns, "versions", False):
        props = ns.props or "name,size,version,atime,custom"
    if remote and "cached" not in props.split(","):
        props += ",cached"
    flags = (LS_NO_RECURSION if ns.no_recursion else 0) | (LS_NO_DIRS if ns.no_dirs else 0)
    flags |= (LS_CACHED if ns.cached else 0) | (LS_NOT_CACHED if ns.not_cached else 0)
    flags |= LS_VERSIONS if getattr(ns, "versions", False) else 0
    headers = {}
    if ns.inventory or ns.inv_name:  # native bucket inventory (aisfs/cli/nbi.py)
        flags |= LS_NBI
        if ns.inv_name:
            headers["ais-inv-name"] = ns.inv_name
    entries: list[dict[str, Any]] = []
    with client(ns) as c:
        for ent in c.iter_objects(bucket, prefix, ns.page_size, props, flags, headers):
            entries.append(ent)
            if ns.limit and len(entries) >= ns.limit:
                break
    if ns.json:
        print_json(entries)
        return 0
    cols = [p.strip() for p in props.split(",") if p.strip()]
    if "name" not in cols:
        cols.insert(0, "name")
    print_table([c.upper() for c in cols], [_row(ent, cols) for ent in entries])
    if ns.summary:
        total = sum(int(ent.get("size", 0) or 0) for ent in entries)
        print(f"Listed {len(entries)} names, {human_size(total)} total")
    return 0


def _row(ent: dict[str, Any], cols: list[str]) -> list[str]:
    is_dir = bool(int(ent.get("flags", 0)) & ENTRY_IS_DIR)
    row = []
    for col in cols:
        value = ent.get(_FIELD.get(col, col), "")
        if col == "size":
            value = "" if is_dir else human_size(int(value or 0))
        elif col == "cached":
            flags = int(ent.get("flags", 0))
            value = "" if is_dir else ("yes" if flags & ENTRY_IS_CACHED else "no")
        elif _FIELD.get(col) == "custom-md" and value:
            value = ", ".join(f"{k}={v}" for k, v in decode_custom_md(str(value)).items())
        row.append(fmt(value))
    return row
