"""The one `aisfs` console script: the parser tree and the dispatch.

`aisfs node ...`, `aisfs mount ...` and `aisfs umount ...` live in the `node` and `mount`
packages; they register themselves under the `aisfs.commands` entry-point group and are
looked up here at run time, so `aisfs` never imports them (design.md's dependency rule).
A command's module may offer ``build_parser()``: help and shell completion then show its
verbs. Every other verb speaks a node's native API and lives in this package, one module
per concern (bucket, listing, object, cluster, node, auth); errors.py maps their failures
to one line and an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

from aisfs import __version__
from aisfs.cli import auth, bucket, cluster, completion, jobs, lru, nbi, objects, prefetch
from aisfs.cli.args import PROG, add_command, connection_options, leaf_parser, parse
from aisfs.cli.errors import run_handler

Command = Callable[[list[str]], int]

DESCRIPTION = (
    "aisfs: a storage node with AIStore's native API, S3 and a FUSE mount. Each command "
    "takes --help; the endpoint is --endpoint, $AIS_ENDPOINT or http://localhost:8080."
)


def plugin_commands() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group="aisfs.commands")}


def _plugin_parser(ep: EntryPoint) -> tuple[str, argparse.ArgumentParser | None]:
    """The help line and, if its module offers one, the parser of an entry-point command.
    Without a parser the help line is the command's usage in its module's docstring."""
    module = importlib.import_module(ep.module)
    build = getattr(module, "build_parser", None)
    parser: argparse.ArgumentParser | None = build() if callable(build) else None
    if parser is not None and parser.description:
        return parser.description.strip().splitlines()[0], parser
    lines = [line.strip() for line in (module.__doc__ or "").splitlines()]
    usage = next((line for line in lines if line.startswith(f"{PROG} {ep.name} ")), "")
    return usage[len(PROG) + 1:] if usage else ep.name, parser


def build_parser(with_plugins: bool = True) -> argparse.ArgumentParser:
    """The whole `aisfs` tree; ``with_plugins`` imports node/mount for their verbs (help
    and completion), else they are bare names (dispatch never parses them here)."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for name, ep in plugin_commands().items():
        if not with_plugins:
            sub.add_parser(name, add_help=False)
            continue
        text, plugin = _plugin_parser(ep)
        parents = [plugin] if plugin is not None else []
        add_command(sub, name, None, text, parents, add_help=False,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    conn = connection_options()
    bucket.register(sub, conn)
    objects.register(sub, conn)
    cluster.register(sub, conn)
    lru.register(sub, conn)  # aisfs start lru
    nbi.register(sub, conn)  # aisfs nbi create|show|rm
    nbi.register_show(sub, conn)  # aisfs show nbi (after cluster's "show")
    prefetch.register(sub, conn)  # aisfs prefetch|evict
    jobs.register(sub, conn)  # aisfs job show|wait|stop
    auth.register(sub)
    completion.register(sub).set_defaults(func=cmd_completion)
    return parser


def cmd_completion(ns: argparse.Namespace) -> int:
    print(completion.script(build_parser(), ns.shell))
    return 0


def run(args: list[str]) -> int:
    """Run one of this package's verbs (``args`` without the program name)."""
    parser = build_parser(with_plugins=False)
    try:
        ns = parse(parser, args)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    func = getattr(ns, "func", None)
    if func is None:
        leaf_parser(parser, args)[0].print_help(sys.stderr)
        return 2
    return run_handler(func, ns)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        build_parser().print_help()
        return 0 if args else 2
    plugins = plugin_commands()
    if args[0] in plugins:
        command: Command = plugins[args[0]].load()
        return int(command(args[1:]) or 0)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
