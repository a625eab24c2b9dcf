"""`aisfs ls|put|get|rm` and `aisfs object show|rm|put|get|rename`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aisfs.cli import transfer
from aisfs.cli.args import (
    Subparsers,
    UsageError,
    add_command,
    add_subcommands,
    client,
    json_flag,
    parse_object_uri,
    parse_uri,
)
from aisfs.cli.listing import ALL_PROPS, add_ls_options, cmd_ls
from aisfs.cli.output import fmt_ns, human_size, print_json, print_table
from aisfs.cli.remote import client_for, client_uri, scheme_provider, uri_of
from aisfs.client.native import NativeClient, NativeError
from aisfs.native import CUSTOM_MD_HEADER, decode_custom_md


def cmd_put(ns: argparse.Namespace) -> int:
    bucket, key = parse_uri(ns.dst)
    with client(ns) as c:
        return transfer.put(c, ns.src, bucket, key, ns)


def cmd_get(ns: argparse.Namespace) -> int:
    bucket, key = parse_uri(ns.src)
    with client(ns) as c:
        return transfer.get(c, bucket, key, ns.dst, ns)


def object_props(name: str, h: dict[str, str]) -> dict[str, Any]:
    """An object's properties from the headers of a native HEAD (``name``: its URI as the
    user named it, ``s3://`` for a backend bucket - ``client_uri``)."""
    return {
        "name": name,
        "size": int(h.get("content-length", 0) or 0),
        "checksum": {"type": h.get("ais-checksum-type", ""),
                     "value": h.get("ais-checksum-value", "")},
        "atime": h.get("ais-atime", ""),
        "version": h.get("ais-version", ""),
        "copies": int(h.get("ais-mirror-copies", 1) or 1),
        "custom": decode_custom_md(h.get(CUSTOM_MD_HEADER)),
        "location": h.get("ais-location", ""),
        "etag": h.get("etag", "").strip('"'),
        "last-modified": h.get("last-modified", ""),
    }


def cmd_show(ns: argparse.Namespace) -> int:
    bucket, key = parse_object_uri(ns.object)
    with client(ns) as c:
        props = object_props(client_uri(c, bucket, key),
                             c.head_object(bucket, key, ALL_PROPS))
    if ns.json:
        print_json(props)
        return 0
    cksum = props["checksum"]
    custom = ", ".join(f"{k}={v}" for k, v in props["custom"].items())
    print_table(["PROPERTY", "VALUE"], [
        ["name", props["name"]],
        ["size", human_size(props["size"])],
        ["checksum", f"{cksum['type']}[{cksum['value']}]" if cksum["value"] else cksum["type"]],
        ["atime", fmt_ns(props["atime"])],
        ["version", props["version"]],
        ["copies", str(props["copies"])],
        ["custom", custom or "-"],
        ["location", props["location"]],
        ["etag", props["etag"]],
        ["last-modified", props["last-modified"]],
    ])
    return 0


def cmd_rm(ns: argparse.Namespace) -> int:
    """Each object through a client of its own URI's provider (``aisfs rm ais://a/x
    s3://b/y`` deletes both)."""
    failed = 0
    targets = []
    for uri in ns.objects:
        bucket, key = parse_uri(uri)
        if not key:
            raise UsageError(f"{uri}: no object name (to destroy a bucket: aisfs bucket rm)")
        targets.append((scheme_provider(uri), bucket, key))
    clients: dict[str, NativeClient] = {}
    try:
        for provider, bucket, key in targets:
            c = clients.get(provider)
            if c is None:
                c = clients[provider] = client_for(ns, provider)
            try:
                c.delete_object(bucket, key)
            except NativeError as e:
                if len(targets) == 1:
                    raise
                print(f"aisfs: {e.message}", file=sys.stderr)
                failed += 1
                continue
            print(f'deleted "{key}" from {uri_of(provider, bucket)}')
    finally:
        for c in clients.values():
            c.close()
    return 1 if failed else 0


def cmd_rename(ns: argparse.Namespace) -> int:
    bucket, key = parse_object_uri(ns.object)
    with client(ns) as c:
        c.rename_object(bucket, key, ns.new_name)
        print(f'renamed "{client_uri(c, bucket, key)}" => "{ns.new_name}"')
    return 0


def _progress_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show a progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar")


def _put_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", metavar="FILE|DIR|-", help="a file, a directory (recursive) or - (stdin)")
    p.add_argument("dst", metavar="[ais|s3]://BUCKET[/OBJECT]",
                   help="destination; a trailing '/' or a directory source makes it a prefix")
    p.add_argument("-r", "--recursive", action="store_true",
                   help="directories are always walked recursively (accepted for ais compat)")
    p.add_argument("--conc", type=int, default=8, help="parallel uploads (default 8)")
    _progress_options(p)
    p.add_argument("--custom", action="append", default=[], metavar="K=V[,K=V]",
                   help="custom metadata; repeatable. A value may hold a comma when what "
                        "follows it has no '=' (date=Wed, 25 Nov 2026); %%2C, %%3D and %%25 "
                        "stand for , = and %%")
    p.add_argument("--dry-run", action="store_true", help="show what would be uploaded")
    json_flag(p)


def _get_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", metavar="[ais|s3]://BUCKET/OBJECT",
                   help="object (or, with -r, a bucket or prefix)")
    p.add_argument("dst", nargs="?", default=None, metavar="FILE|DIR|-",
                   help="where to write (default: the object's base name); - for stdout")
    p.add_argument("-r", "--recursive", action="store_true",
                   help="download every object under the prefix into DIR")
    p.add_argument("--offset", type=int, default=None, help="read from this byte")
    p.add_argument("--length", type=int, default=None, help="read this many bytes")
    p.add_argument("--conc", type=int, default=8, help="parallel downloads with -r")
    _progress_options(p)
    json_flag(p)


def register(sub: Subparsers, conn: argparse.ArgumentParser) -> None:
    p = add_command(sub, "ls", cmd_ls, "list buckets, or objects of [ais|s3]://BUCKET[/PREFIX]",
                    [conn])
    add_ls_options(p, "[ais|s3]://BUCKET[/PREFIX]")
    _put_options(add_command(sub, "put", cmd_put, "upload a file, a directory or stdin", [conn]))
    _get_options(add_command(sub, "get", cmd_get, "download an object (or a prefix with -r)",
                             [conn]))
    p = add_command(sub, "rm", cmd_rm, "delete objects", [conn])
    p.add_argument("objects", nargs="+", metavar="[ais|s3]://BUCKET/OBJECT")

    osub = add_subcommands(add_command(sub, "object", None,
                                       "object commands: show, rm, put, get, rename (mv)"))
    p = json_flag(add_command(osub, "show", cmd_show, "show object properties", [conn]))
    p.add_argument("object", metavar="[ais|s3]://BUCKET/OBJECT")
    p = add_command(osub, "rm", cmd_rm, "delete objects", [conn])
    p.add_argument("objects", nargs="+", metavar="[ais|s3]://BUCKET/OBJECT")
    _put_options(add_command(osub, "put", cmd_put, "upload (same as aisfs put)", [conn]))
    _get_options(add_command(osub, "get", cmd_get, "download (same as aisfs get)", [conn]))
    p = add_command(osub, "rename", cmd_rename, "rename an object within its bucket",
                    [conn], aliases=["mv"])  # AIS's name for it
    p.add_argument("object", metavar="[ais|s3]://BUCKET/OBJECT")
    p.add_argument("new_name", metavar="NEW_NAME")
