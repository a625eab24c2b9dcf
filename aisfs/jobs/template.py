"""AIS's object-name templates (``cmn/cos/template.go``), parsed and expanded lazily.

- bash style: ``shard-{000..999}.tar``, with a step ``{0..10..2}``, several ranges
  ``a-{0..9}-b-{00..99..2}`` (the last range varies fastest);
- at style: ``shard-@999.tar`` (0 to 999, as many digits as written).

A range's numbers are zero-padded to the shorter of its two bounds' widths (AIS's rule:
``{001..100}`` gives ``001``..``100``, ``{1..100}`` gives ``1``..``100``). A template with
no range is a *prefix* (AIS's fallback: ``ParsedTemplate{Prefix: template}``). AIS's fmt
style (``%06d``, unbounded) is refused. Expansion is capped at ``MAX_EXPANSION`` names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_EXPANSION = 10_000_000  # AIS's maxTemplateExpansion


class TemplateError(ValueError):
    """The template is not one AIS accepts (the message says why)."""


@dataclass(frozen=True, slots=True)
class Range:
    start: int
    end: int  # inclusive
    step: int
    digits: int  # zero-padded to this width
    gap: str  # the text after the range (to the next one, or the end)

    @property
    def count(self) -> int:
        return (self.end - self.start) // self.step + 1

    def values(self) -> Iterator[str]:
        for n in range(self.start, self.end + 1, self.step):
            yield f"{n:0{self.digits}d}{self.gap}"


@dataclass(frozen=True, slots=True)
class Template:
    prefix: str
    ranges: tuple[Range, ...] = ()

    @property
    def is_prefix(self) -> bool:
        """No range: the template names every object under ``prefix``."""
        return not self.ranges

    def count(self) -> int:
        return math.prod(r.count for r in self.ranges) if self.ranges else 0

    def __iter__(self) -> Iterator[str]:
        """The names in AIS's order (the last range fastest); none for a prefix."""
        if not self.ranges:
            return
        yield from _expand(self.prefix, self.ranges)


def _expand(head: str, ranges: tuple[Range, ...]) -> Iterator[str]:
    """Depth-first: one range at a time, nothing materialized (a 10M range stays lazy)."""
    first, rest = ranges[0], ranges[1:]
    for part in first.values():
        if rest:
            yield from _expand(head + part, rest)
        else:
            yield head + part


_BRACE = re.compile(r"\{([^{}]*)\}")
_AT = re.compile(r"@(\d+)")


def parse_template(text: str) -> Template:
    """The template ``text`` (bash or at style; no range: a prefix)."""
    if not text:
        raise TemplateError("empty range template")
    if "%" in text and re.search(r"%0?\d*d", text):
        raise TemplateError(f"{text!r}: fmt-style templates (%06d) are unbounded: "
                            "give a range, e.g. shard-{000..999}.tar")
    if "{" in text or "}" in text:
        tpl = _parse_bash(text)
    elif _AT.search(text):
        tpl = _parse_at(text)
    else:
        return Template(text)
    if tpl.count() > MAX_EXPANSION:
        raise TemplateError(f"{text!r} names {tpl.count()} objects (at most {MAX_EXPANSION})")
    return tpl


def _bounds(text: str, start: int, end: int, step: int) -> None:
    if start > end:
        raise TemplateError(f"{text!r}: 'start' cannot be greater than 'end'")
    if step <= 0:
        raise TemplateError(f"{text!r}: 'step' is non-positive")


def _number(text: str, word: str) -> int:
    if not word.isascii() or not word.isdigit():
        raise TemplateError(f"{text!r}: {word!r} is not a non-negative number "
                            "(expected prefix-{0001..0010..1}-suffix)")
    return int(word)


def _parse_bash(text: str) -> Template:
    matches = list(_BRACE.finditer(text))
    rest = _BRACE.sub("", text)
    if not matches or "{" in rest or "}" in rest:
        raise TemplateError(f"{text!r}: unbalanced braces "
                            "(expected prefix-{0001..0010..1}-suffix)")
    ranges = []
    for i, m in enumerate(matches):
        words = m.group(1).split("..")
        if len(words) not in (2, 3):
            raise TemplateError(f"{text!r}: expected {{start..end}} or {{start..end..step}}")
        start, end = _number(text, words[0]), _number(text, words[1])
        step = _number(text, words[2]) if len(words) == 3 else 1
        _bounds(text, start, end, step)
        gap_end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        ranges.append(Range(start, end, step, min(len(words[0]), len(words[1])),
                            text[m.end():gap_end]))
    return Template(text[: matches[0].start()], tuple(ranges))


def _parse_at(text: str) -> Template:
    matches = list(_AT.finditer(text))
    ranges = []
    for i, m in enumerate(matches):
        gap_end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        ranges.append(Range(0, int(m.group(1)), 1, len(m.group(1)), text[m.end():gap_end]))
    return Template(text[: matches[0].start()], tuple(ranges))
