"""The one `aisfs` console script.

`aisfs node ...`, `aisfs mount ...` and `aisfs umount ...` live in the `node` and `mount`
packages; they register themselves under the `aisfs.commands` entry-point group and are
looked up here at run time, so `aisfs` never imports them (design.md's dependency rule).
Other verbs (bucket, put, get, ...) are the native-API client commands in this package.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import entry_points

from aisfs import __version__

USAGE = """usage: aisfs COMMAND [ARGS]

commands:
  node        run or manage the storage node (aisfs node --help)
  mount       mount a bucket (or every bucket) through FUSE
  umount      unmount an aisfs mount
  bucket      create|ls|rm|props show|props set|mirror
  ls          list buckets or objects: aisfs ls ais://bucket[/prefix]
  put, get    upload / download objects (files, directories, stdin/stdout)
  object      show|rm|put|get|rename
  rm          remove objects
  config      cluster KEY=VALUE | cluster features FLAG...
  show        cluster | node
  auth        token --user U --ttl 1h
  completion  bash | zsh

Each command takes --help; the endpoint is --endpoint, $AIS_ENDPOINT or http://localhost:8080.
"""


def _plugin_commands() -> dict[str, Callable[[list[str]], int]]:
    found: dict[str, Callable[[list[str]], int]] = {}
    for ep in entry_points(group="aisfs.commands"):
        found[ep.name] = ep.load
    return found


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if args else 2
    if args[0] == "--version":
        print(f"aisfs {__version__}")
        return 0
    command, rest = args[0], args[1:]
    plugins = _plugin_commands()
    if command in plugins:
        func = plugins[command]()  # type: ignore[call-arg]
        return int(func(rest) or 0)
    try:
        from aisfs.cli import commands
    except ImportError:
        commands = None  # type: ignore[assignment]
    if commands is not None and hasattr(commands, "run"):
        code = commands.run(args)
        if code is not None:
            return int(code)
    print(f"aisfs: unknown command {command!r}\n{USAGE}", file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
