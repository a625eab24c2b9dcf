"""`aisfs node ...`: run the daemon, or check and repair its store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import trio

from aisfs.config import ConfigError, NodeConfig, load_config
from node.logs import setup_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aisfs node", description="The aisfs storage node.")
    sub = parser.add_subparsers(dest="command")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", type=Path, help="TOML config (default /etc/aisfs/node.toml)")
        p.add_argument("--mountpath", action="append", default=None, metavar="DIR",
                       help="a data directory (one per disk); repeat for more")
        p.add_argument("--index-dir", metavar="DIR", help="where the SQLite index lives")
        p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    run = sub.add_parser("run", help="run the node (the default)")
    common(run)
    run.add_argument("--listen", action="append", default=None, metavar="HOST:PORT",
                     help="HTTP listen address (default 127.0.0.1:8080); repeatable")
    run.add_argument("--ready-file", type=Path, help="write the bound URLs here when ready")
    run.add_argument("--feature", action="append", default=None, metavar="FLAG",
                     help="enable a feature flag (e.g. S3-API-via-Root)")
    fsck = sub.add_parser("fsck", help="check the store; --rebuild the index from the disks")
    common(fsck)
    fsck.add_argument("--rebuild", action="store_true", default=True)
    fsck.add_argument("--check-only", dest="rebuild", action="store_false")
    gc = sub.add_parser("gc", help="remove orphan chunks now")
    common(gc)
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
    for flag in getattr(args, "feature", None) or []:
        if flag not in cfg.features:
            cfg.features.append(flag)
    return cfg.resolve()


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("show", "status", "mountpath", "scrub", "resilver"):
        from aisfs.cli.commands import run

        return int(run(["node", *argv]) or 0)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["run", *argv]
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run"])
    try:
        cfg = resolve_config(args)
    except ConfigError as e:
        print(f"aisfs node: config error: {e}", file=sys.stderr)
        return 2
    setup_logging(cfg.log.level, cfg.log.json)
    if args.command == "run":
        from node.serve import run_node

        try:
            # SIGHUP reads the file again with the same command-line overrides on top
            return trio.run(run_node, cfg, args.ready_file, lambda: resolve_config(args))
        except KeyboardInterrupt:
            return 0
    from node.maintenance import run_fsck, run_gc

    if args.command == "fsck":
        report = trio.run(run_fsck, cfg, args.rebuild)
    else:
        report = trio.run(run_gc, cfg)
    print(json.dumps(report, indent=2, default=str))
    return 0
