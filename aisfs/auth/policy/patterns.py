"""Wildcards and policy variables, compiled once when a policy is parsed.

A policy's ``Action``, ``Resource`` and ``...Like`` condition values may hold ``*`` (any
run of characters, ``/`` included) and ``?`` (any one character). A pattern is compiled to
the cheapest test that decides it: always true (``*``), equality, a prefix, or an
anchored regular expression. Version ``2012-10-17`` also allows policy variables
(``${aws:username}``, ``${s3:prefix}``, the escapes ``${*}``, ``${?}``, ``${$}`` and a
default, ``${aws:username, 'nobody'}``); a pattern holding one is filled in from the
request's context on each use, its value taken literally (a ``*`` in a user name is not a
wildcard). A variable with no value and no default matches nothing, as AWS documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

ContextValue = str | Sequence[str]
Context = Mapping[str, ContextValue]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_DEFAULT = re.compile(r"\s*([^,\s]+)\s*,\s*'([^']*)'\s*")


def _wildcard_regex(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


@lru_cache(maxsize=4096)
def _compiled(regex: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _regex_test(regex: re.Pattern[str]) -> Callable[[str], bool]:
    fullmatch = regex.fullmatch
    return lambda s: fullmatch(s) is not None


def _tester(text: str, wildcards: bool, ignore_case: bool) -> Callable[[str], bool]:
    """The cheapest test of ``text`` (a pattern without variables)."""
    if ignore_case:
        folded = text.casefold()
        if not wildcards or ("*" not in text and "?" not in text):
            return lambda s: s.casefold() == folded
        return _regex_test(_compiled(_wildcard_regex(text), True))
    if not wildcards or ("*" not in text and "?" not in text):
        return text.__eq__
    if text == "*":
        return lambda s: True
    head = text[:-1]
    if text.endswith("*") and "*" not in head and "?" not in head:
        return lambda s: s.startswith(head)
    return _regex_test(_compiled(_wildcard_regex(text), False))


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches ``pattern`` (``*`` and ``?``; no variables)."""
    return _tester(pattern, True, ignore_case)(value)


class Pattern:
    """One compiled value of a policy: ``matches(value, context)``."""

    __slots__ = ("text", "_test", "_parts", "_wildcards", "_ignore_case")

    def __init__(
        self, text: str, *, wildcards: bool = True, ignore_case: bool = False,
        variables: bool = False,
    ) -> None:
        self.text = text
        self._wildcards = wildcards
        self._ignore_case = ignore_case
        self._parts: tuple[tuple[bool, str, str | None], ...] | None = None
        if variables and "${" in text:
            self._parts = _split_variables(text)
            self._test: Callable[[str], bool] | None = None
        else:
            self._test = _tester(text, wildcards, ignore_case)

    @property
    def has_variables(self) -> bool:
        return self._parts is not None

    def matches(self, value: str, context: Context) -> bool:
        if self._test is not None:
            return self._test(value)
        regex = self._fill(context)
        if regex is None:
            return False
        return _compiled(regex, self._ignore_case).fullmatch(value) is not None

    def _fill(self, context: Context) -> str | None:
        """The regex of this pattern with its variables' values, None if one has none."""
        assert self._parts is not None
        out = []
        for is_var, text, default in self._parts:
            if not is_var:
                out.append(_wildcard_regex(text) if self._wildcards else re.escape(text))
                continue
            found = context.get(text)
            if not isinstance(found, str) and found is not None and len(found) == 1:
                found = found[0]  # a key given as a list of one value
            if isinstance(found, str):
                out.append(re.escape(found))
            elif default is not None:
                out.append(re.escape(default))
            else:  # absent, or a multivalued key (no single value to put in)
                return None
        return "".join(out)

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def _split_variables(text: str) -> tuple[tuple[bool, str, str | None], ...]:
    """``text`` as (is a variable, literal text or lower-cased key, default) parts."""
    parts: list[tuple[bool, str, str | None]] = []
    at = 0
    for m in _VARIABLE.finditer(text):
        literal = text[at:m.start()]
        inner = m.group(1)
        at = m.end()
        if inner in _ESCAPES:
            # an escaped wildcard is literal: keep it out of the wildcard conversion
            if literal:
                parts.append((False, literal, None))
            parts.append((True, "\0literal", _ESCAPES[inner]))
            continue
        if literal:
            parts.append((False, literal, None))
        default = _DEFAULT.fullmatch(inner)
        if default:
            parts.append((True, default.group(1).lower(), default.group(2)))
        else:
            parts.append((True, inner.strip().lower(), None))
    if at < len(text):
        parts.append((False, text[at:], None))
    return tuple(parts)
