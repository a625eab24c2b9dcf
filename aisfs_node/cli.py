"""`aisfs node ...`: every node verb, in one parser.

    aisfs node [run] [--config F] [--mountpath DIR]... [--listen HOST:PORT]...
    aisfs node fsck [--rebuild]     offline: check the index against the disks (or rebuild it)
    aisfs node gc                   offline: remove orphan chunks and stale temp files now
    aisfs node show|status|mountpath|scrub|resilver     a running node, over its native API

The first three open the store themselves; the others are client verbs that live with the
rest of the CLI (aisfs/cli/node.py) and are added to this parser, so `aisfs node --help`
lists them all and nothing is handed back and forth. A user's mistake (the node already
running on this store, a busy port) is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio

from aisfs.cli import node as node_verbs
from aisfs.cli.args import add_command, connection_options, parse
from aisfs.cli.errors import run_handler, say
from aisfs.config import ConfigError, NodeConfig, load_config
from aisfs.errors import leaves
from aisfs.store.store import DIRTY_MARKER, LOCK_FILE
from aisfs_node.logs import setup_logging

PROG = "aisfs node"
OFFLINE = ("fsck", "gc")
FSCK_HELP = (
    "Check the store offline (the node stopped): compare the index with the manifests on "
    "the mountpaths and look for every chunk they reference; print a JSON report and exit "
    "1 if anything disagrees. Opening the store after an unclean stop (or with no index) "
    "rebuilds the index first, as the node does when it starts. --rebuild rebuilds the "
    "index from the manifests (the disks are the truth)."
)


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML config (default /etc/aisfs/node.toml)")
    p.add_argument("--mountpath", action="append", default=None, metavar="DIR",
                   help="a data directory (one per disk); repeat for more")
    p.add_argument("--index-dir", metavar="DIR", help="where the SQLite index lives")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The aisfs storage node: run it, check or clean its store while it is "
                    "stopped, or look at and manage a running one.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = add_command(sub, "run", None, "run the node (the default command)")
    _store_options(p)
    p.add_argument("--listen", action="append", default=None, metavar="HOST:PORT",
                   help="HTTP listen address (default 127.0.0.1:8080); repeatable")
    p.add_argument("--workers", type=int, metavar="N",
                   help="processes serving the listeners (net.workers; default 1)")
    p.add_argument("--ready-file", type=Path, help="write the bound URLs here when ready")
    p.add_argument("--feature", action="append", default=None, metavar="FLAG",
                   help="enable a feature flag (e.g. S3-API-via-Root)")
    p = add_command(sub, "fsck", None,
                    "check the stopped node's store (index against disks); --rebuild the index",
                    description=FSCK_HELP)
    _store_options(p)
    p.add_argument("--rebuild", action="store_true",
                   help="rebuild the index from the manifests on the mountpaths")
    p.add_argument("--check-only", dest="rebuild", action="store_false",
                   help=argparse.SUPPRESS)  # the default now; accepted as before
    p = add_command(sub, "gc", None,
                    "remove orphan chunks (no object or upload refers to them) and stale "
                    "temp files now, offline (the node stopped)")
    _store_options(p)
    node_verbs.register(sub, connection_options())
    return parser


def resolve_config(args: argparse.Namespace) -> NodeConfig:
    cfg = load_config(args.config)
    if args.mountpath:
        cfg.store.mountpaths = list(args.mountpath)
    if args.index_dir:
        cfg.store.index_dir = args.index_dir
    if args.log_level:
        cfg.log.level = args.log_level
    if getattr(args, "listen", None):
        cfg.net.listen = list(args.listen)
    if getattr(args, "workers", None) is not None:
        cfg.net.workers = args.workers
    for flag in getattr(args, "feature", None) or []:
        if flag not in cfg.features:
            cfg.features.append(flag)
    return cfg.resolve()


def store_holder(index_dir: Path) -> int | None:
    """The pid of the process that has the store of ``index_dir`` open (0 if it cannot be
    told), or None when no one has: the store's lock is tried and let go at once."""
    try:
        fd = os.open(index_dir / LOCK_FILE, os.O_RDWR)
    except OSError:
        return None  # no store there yet
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            text = (index_dir / DIRTY_MARKER).read_text().strip()
        except OSError:
            return 0
        try:  # {"pid": N, "boot_id": ...}; an older marker was the pid alone
            record = json.loads(text) if text else 0
        except ValueError:
            return 0
        pid = record.get("pid", 0) if isinstance(record, dict) else record
        return pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else 0
    finally:
        os.close(fd)  # closing lets the lock go
    return None


def _busy_message(command: str, index_dir: Path, pid: int) -> str:
    who = f"a node (pid {pid})" if pid else "another process"
    stop = f"systemctl stop aisfs-node, or kill {pid}" if pid else "stop it"
    if command == "run":
        return (f"{who} is already running on the store of {index_dir}; stop it ({stop}), "
                "or give this one its own --mountpath and --index-dir")
    return (f"{who} is running on the store of {index_dir}; `aisfs node {command}` works on "
            f"a stopped node: stop it first ({stop}), or use `aisfs node scrub` on the "
            "running one")


_BIND_ERRNOS = frozenset((errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES))
# a directory of the config that cannot be made or used
_PATH_ERRNOS = frozenset((errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR,
                          errno.EROFS, errno.EEXIST))


def user_error(exc: BaseException, addresses: str) -> str | None:
    """One line for a failure the user can fix (a busy port, a data directory that
    cannot be made), or None for anything else (a bug keeps its traceback)."""
    failed = leaves(exc)
    if not failed or not all(isinstance(e, OSError) for e in failed):
        return None
    e = failed[0]
    assert isinstance(e, OSError)
    if e.filename is None and e.errno in _BIND_ERRNOS:
        reason = os.strerror(e.errno or 0).lower()
        return (f"cannot listen on {addresses}: {reason} (another node or program on that "
                "port? choose one with --listen HOST:PORT or net.listen)")
    if e.filename is not None and e.errno in _PATH_ERRNOS:
        return (f"cannot use {e.filename}: {(e.strerror or '').lower()} (check --mountpath, "
                "--index-dir and store.* of the config)")
    if e.errno is None and "mountpath" in str(e):
        return str(e)  # the store found no usable mountpath
    return None


def _run(args: argparse.Namespace, cfg: NodeConfig) -> int:
    from aisfs_node.memory import keep_malloc_heap, limit_malloc_arenas
    from aisfs_node.serve import run_node

    limit_malloc_arenas()  # before any worker thread (aisfs_node/memory.py)
    keep_malloc_heap()
    try:
        # SIGHUP reads the file again with the same command-line overrides on top
        return int(trio.run(run_node, cfg, args.ready_file, lambda: resolve_config(args)) or 0)
    except KeyboardInterrupt:
        return 0
    except (OSError, BaseExceptionGroup) as e:
        message = user_error(e, ", ".join([*cfg.net.listen, *cfg.net.https_listen]))
        if message is None:
            raise
        say(message, PROG)
        return 1


def _offline(command: str, cfg: NodeConfig, rebuild: bool) -> int:
    from aisfs_node.maintenance import run_fsck, run_gc

    try:
        report: dict[str, Any] = (
            trio.run(run_gc, cfg) if command == "gc" else trio.run(run_fsck, cfg, rebuild)
        )
    except (OSError, BaseExceptionGroup) as e:
        message = user_error(e, "")
        if message is None:
            raise
        say(message, PROG)
        return 1
    print(json.dumps(report, indent=2, default=str))
    if command == "fsck":
        problems = ("missing_chunks",) if rebuild else (
            "missing_chunks", "index_only_objects", "disk_only_objects", "stale_objects",
            "bucket_mismatches", "upload_mismatches", "version_mismatches")
        return 1 if any(report.get(k) for k in problems) else 0
    return 0


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if not args or args[0].startswith("-") and args[0] not in ("-h", "--help"):
        args = ["run", *args]
    parser = build_parser()
    try:
        ns = parse(parser, args)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    func = getattr(ns, "func", None)
    if func is not None:  # a client verb
        return run_handler(func, ns)
    if ns.command is None:
        ns = parse(parser, ["run"])
    try:
        cfg = resolve_config(ns)
    except ConfigError as e:
        say(f"config error: {e}", PROG)
        return 2
    index_dir = Path(cfg.store.index_dir)
    pid = store_holder(index_dir)
    if pid is not None:
        say(_busy_message(ns.command, index_dir, pid), PROG)
        return 1
    setup_logging(cfg.log.level, cfg.log.json)
    if ns.command == "run":
        return _run(ns, cfg)
    return _offline(ns.command, cfg, getattr(ns, "rebuild", False))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
