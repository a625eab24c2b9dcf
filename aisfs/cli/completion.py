"""Shell completion, generated from the parsers: ``eval "$(aisfs completion bash)"``.

The words come from walking the argparse tree of `aisfs` (with the parsers `node` and
`mount` offer through their entry points), so a verb added to a parser is completed
without a second word list. A positional argument can offer words of its own with
`aisfs.cli.args.complete_with` (settable keys, feature flags from aisfs/config.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from aisfs.cli.args import Subparsers, add_command, subparsers_of

ROOT = "aisfs"

_BASH = r"""# aisfs bash completion, generated from the parser (aisfs completion bash)
declare -gA _aisfs_words=(
%(words)s
)
declare -gA _aisfs_opts=(
%(opts)s
)
_aisfs_complete() {
    local cur="${COMP_WORDS[COMP_CWORD]}" path="aisfs" i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        [[ "$w" == -* ]] && continue
        [[ -n "${_aisfs_opts["$path $w"]+set}" ]] && path="$path $w"
    done
    if [[ "$cur" == -* ]]; then
        COMPREPLY=( $(compgen -W "${_aisfs_opts["$path"]}" -- "$cur") )
    else
        COMPREPLY=( $(compgen -W "${_aisfs_words["$path"]}" -- "$cur") )
    fi
}
complete -o default -F _aisfs_complete aisfs
"""


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions for s in a.option_strings if s.startswith("--")]


def walk(parser: argparse.ArgumentParser, path: str = ROOT) -> Iterator[tuple[str, list[str],
                                                                              list[str]]]:
    """``(path, words, options)`` of every command: ``("aisfs node", ["run", ...], [...])``."""
    words: list[str] = []
    then: dict[str, list[str]] = {}
    sub = subparsers_of(parser)
    if sub is not None:
        words.extend(sub.choices)
    for action in parser._positionals._group_actions:
        if action is sub:
            continue
        if action.choices is not None:
            words.extend(str(c) for c in action.choices)
        words.extend(getattr(action, "completion_words", ()))
        then.update(getattr(action, "completion_then", {}))
    options = _options(parser)
    yield path, words, options
    for word, follow in then.items():
        yield f"{path} {word}", list(follow), options
    if sub is not None:
        for name, child in sub.choices.items():
            yield from walk(child, f"{path} {name}")


def _entries(pairs: list[tuple[str, list[str]]]) -> str:
    return "\n".join(f'    ["{key}"]="{" ".join(words)}"' for key, words in pairs)


def script(parser: argparse.ArgumentParser, shell: str = "bash") -> str:
    tree = list(walk(parser))
    body = _BASH % {
        "words": _entries([(path, words) for path, words, _ in tree]),
        "opts": _entries([(path, opts) for path, _, opts in tree]),
    }
    if shell == "zsh":
        return "autoload -U +X bashcompinit && bashcompinit\n" + body
    return body


def register(sub: Subparsers) -> argparse.ArgumentParser:
    """`aisfs completion`; its handler (which needs the whole tree) is set by the caller."""
    p = add_command(sub, "completion", None,
                    'print a shell completion script: eval "$(aisfs completion bash)"')
    p.add_argument("shell", choices=["bash", "zsh"], nargs="?", default="bash")
    return p
