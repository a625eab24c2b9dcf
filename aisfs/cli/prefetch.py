"""`aisfs prefetch` and `aisfs evict`: AIS's jobs over a remote bucket's cached copies.

    aisfs prefetch s3://B [--list a,b | --template 'shard-{000..999}.tar' | --prefix P]
                          [--latest] [--continue-on-error] [--wait]
    aisfs evict s3://B [--list ... | --template ... | --prefix ...] [--wait]
    aisfs evict s3://B            (every cached object: evict-remote-bck; --drop-md also
                                   resets an s3:// bucket's props)

Each prints the job's id (stdout); ``--wait`` follows it (`aisfs job wait`) and exits 1 if
it failed or was stopped. ``ais://B`` works for a bucket with ``backend_bck``.
"""

from __future__ import annotations

import argparse
from typing import Any

from aisfs.cli.args import Subparsers, UsageError, add_command, client, parse_uri
from aisfs.cli.jobs import follow_job


def _selection(ns: argparse.Namespace, *, required: bool) -> dict[str, Any] | None:
    given = [x for x in (ns.list, ns.template, ns.prefix) if x is not None]
    if len(given) > 1:
        raise UsageError("give one of --list, --template, --prefix")
    if ns.list is not None:
        names = [n for n in ns.list.split(",") if n]
        if not names:
            raise UsageError("--list: no object names")
        return {"objnames": names}
    if ns.template is not None:
        return {"template": ns.template}
    if ns.prefix is not None:
        if "{" in ns.prefix or "@" in ns.prefix:
            raise UsageError("--prefix: a prefix has no range (use --template)")
        return {"template": ns.prefix}
    if required:
        return {"template": ""}  # the whole bucket (AIS: an empty template matches all)
    return None


def _bucket(ns: argparse.Namespace) -> str:
    bucket, key = parse_uri(ns.bucket)
    if key:
        raise UsageError(f"{ns.bucket}: a bucket (give objects with --list, --template or "
                         "--prefix)")
    return bucket


def _started(ns: argparse.Namespace, c: Any, job_id: str) -> int:
    print(job_id)
    return follow_job(c, job_id) if ns.wait else 0


def cmd_prefetch(ns: argparse.Namespace) -> int:
    bucket = _bucket(ns)
    sel = _selection(ns, required=True)
    assert sel is not None
    with client(ns) as c:
        job_id = c.prefetch(bucket, sel, latest=ns.latest,
                            continue_on_error=ns.continue_on_error)
        return _started(ns, c, job_id)


def cmd_evict(ns: argparse.Namespace) -> int:
    bucket = _bucket(ns)
    sel = _selection(ns, required=False)
    with client(ns) as c:
        if sel is None:
            job_id = c.evict_bucket(bucket, keep_md=not ns.drop_md)
        else:
            job_id = c.evict(bucket, sel)
        return _started(ns, c, job_id)


def _selection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET", help="s3://B (or ais://B with backend_bck)")
    g = p.add_argument_group("which objects (one; none: every object)")
    g.add_argument("--list", metavar="A,B,...", help="object names, comma-separated")
    g.add_argument("--template", metavar="T",
                   help="a range: 'shard-{000..999}.tar', '{0..10..2}', several ranges")
    g.add_argument("--prefix", metavar="P", help="every object whose name starts with P")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")


def register(sub: Subparsers, conn: argparse.ArgumentParser) -> None:
    p = add_command(sub, "prefetch", cmd_prefetch,
                    "fetch a remote bucket's objects into the cache (a job)", [conn])
    _selection_options(p)
    p.add_argument("--latest", action="store_true",
                   help="check cached objects with the backend; fetch changed ones again")
    p.add_argument("--continue-on-error", action="store_true",
                   help="count a failed object and go on (default: the job fails)")
    p = add_command(sub, "evict", cmd_evict,
                    "drop cached copies of a remote bucket's objects (a job)", [conn])
    _selection_options(p)
    p.add_argument("--keep-md", action="store_true",
                   help="keep the bucket's props (the default; AIS's flag)")
    p.add_argument("--drop-md", action="store_true",
                   help="evicting a whole s3:// bucket: reset its props too")
