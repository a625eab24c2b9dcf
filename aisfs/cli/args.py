"""What every `aisfs` verb shares to build its parser and read its arguments.

Each verb module (bucket, listing, object, cluster, node, auth) registers its sub-parsers
through `add_command` and reads its arguments with the helpers here; none imports another
verb module back for this.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aisfs.client.native import NativeClient

PROG = "aisfs"

Handler = Callable[[argparse.Namespace], int]
# the object argparse's add_subparsers() returns (a private class, hence Any)
Subparsers = Any


class UsageError(Exception):
    """Bad arguments: one line on stderr, exit code 2."""


def parse_uri(uri: str, need_bucket: bool = True) -> tuple[str, str]:
    """``ais://b/obj`` -> ``("b", "obj")``; ``ais://b`` -> ``("b", "")``; ``b/obj`` too."""
    text = uri
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme not in ("ais", "", "s3", "aws"):  # s3://, aws://: aisfs/cli/remote.py
            raise UsageError(f"{uri}: expected ais://, s3:// or aws://")
    bucket, _, key = text.partition("/")
    if need_bucket and not bucket:
        raise UsageError(f"{uri}: expected ais://BUCKET[/OBJECT]")
    return bucket, key


def parse_object_uri(uri: str) -> tuple[str, str]:
    bucket, key = parse_uri(uri)
    if not key:
        raise UsageError(f"{uri}: expected ais://BUCKET/OBJECT")
    return bucket, key


def client(ns: argparse.Namespace) -> NativeClient:
    """A client of the node the connection options name."""
    from aisfs.cli.remote import client_for  # s3:// buckets: provider=aws

    return client_for(ns)


def connection_options() -> argparse.ArgumentParser:
    """The parent parser of every verb that talks to a node."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("connection")
    g.add_argument("--endpoint", default=None,
                   help="node URL (default: $AIS_ENDPOINT or http://localhost:8080)")
    g.add_argument("--token", default=None,
                   help="bearer token (default: $AIS_AUTHN_TOKEN or $AISFS_TOKEN)")
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    return p


def add_command(
    sub: Subparsers,
    name: str,
    func: Handler | None,
    help_text: str,
    parents: Sequence[argparse.ArgumentParser] = (),
    **kw: Any,
) -> argparse.ArgumentParser:
    """A sub-command whose handler is ``func`` (None: a group of sub-commands); its
    ``--help`` shows ``description`` if given, else ``help_text``."""
    kw.setdefault("description", help_text)
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, parents=list(parents), **kw
    )
    if func is not None:
        p.set_defaults(func=func)
    return p


def add_subcommands(parser: argparse.ArgumentParser, dest: str = "sub") -> Subparsers:
    return parser.add_subparsers(dest=dest, metavar="SUBCOMMAND")


def json_flag(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def complete_with(
    action: argparse.Action,
    words: Sequence[str],
    then: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Words the shell completion offers for a positional argument without ``choices``;
    ``then`` maps one of them to the words that may follow it (``features FLAG...``)."""
    action.completion_words = tuple(words)  # type: ignore[attr-defined]
    action.completion_then = dict(then or {})  # type: ignore[attr-defined]


def subparsers_of(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def leaf_parser(
    parser: argparse.ArgumentParser, args: Sequence[str]
) -> tuple[argparse.ArgumentParser, int]:
    """The deepest (sub)command parser named by the leading words of ``args``, and how
    many words named it."""
    current = parser
    depth = 0
    for word in args:
        sub = subparsers_of(current)
        if sub is None or word not in sub.choices:
            break
        current = sub.choices[word]
        depth += 1
    return current, depth


def parse(parser: argparse.ArgumentParser, args: Sequence[str]) -> argparse.Namespace:
    """Parse ``args``; a leaf command also takes options after its positionals
    (`aisfs get ais://b/o --offset 1 -`). Raises SystemExit as argparse does."""
    leaf, depth = leaf_parser(parser, args)
    if leaf is parser or subparsers_of(leaf) is not None:
        return parser.parse_args(list(args))
    ns = leaf.parse_intermixed_args(list(args[depth:]))
    current = parser
    for word in args[:depth]:  # the words that named the leaf, as parse_args records them
        sub = subparsers_of(current)
        assert sub is not None
        if sub.dest != argparse.SUPPRESS:
            setattr(ns, sub.dest, word)
        current = sub.choices[word]
    return ns
