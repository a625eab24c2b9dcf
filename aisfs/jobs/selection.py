"""Which objects a multi-object job works on: AIS's list-range message, parsed.

``{"objnames": ["a", "b"]}`` names them; ``{"template": "shard-{000..999}.tar"}`` gives a
range (aisfs.jobs.template); a template with no range - ``"logs/"``, or ``""``/``"*"``
for the whole bucket (AIS's ``MatchAll``) - is a prefix, listed from the bucket page by
page. The prefetch message adds ``"coer"`` (continue on error) and ``"latest-ver"``
(re-fetch a cached object the backend has changed) and ``"num-workers"`` (objects in
flight: 0 the default, -1 one at a time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .template import Template, TemplateError, parse_template

MAX_NAMES = 100_000  # names in one message (AIS's list messages are as bounded)


class SelectionError(ValueError):
    """Not a list-range message (the message says why)."""


@dataclass(frozen=True, slots=True)
class Selection:
    names: tuple[str, ...] | None = None  # a list
    template: Template | None = None  # a range (or, with no range, a prefix)
    continue_on_error: bool = False
    latest: bool = False
    workers: int = 0  # AIS's num-workers: 0 the job's default, -1 one at a time


    @property
    def prefix(self) -> str | None:
        """The prefix to list, when the selection is one (``""``: the whole bucket)."""
        if self.template is not None and self.template.is_prefix:
            return self.template.prefix
        return None

    def count(self) -> int | None:
        """How many names, when known before listing."""
        if self.names is not None:
            return len(self.names)
        if self.template is not None and not self.template.is_prefix:
            return self.template.count()
        return None

    def named(self) -> Iterator[str]:
        """The names of a list or a range (a prefix names none: list it)."""
        if self.names is not None:
            yield from self.names
        elif self.template is not None:
            yield from self.template

    def describe(self) -> dict[str, Any]:
        if self.names is not None:
            return {"objnames": len(self.names)}
        assert self.template is not None
        if self.template.is_prefix:
            return {"prefix": self.template.prefix}
        return {"template": _text(self.template)}


def _text(t: Template) -> str:
    return t.prefix + "".join(f"{{{r.start:0{r.digits}d}..{r.end:0{r.digits}d}..{r.step}}}"
                              f"{r.gap}" for r in t.ranges)


def flag_of(value: Mapping[str, Any], *names: str,
            error: type[ValueError] = SelectionError) -> bool:
    """The first of ``names`` present in an AIS message's value, a JSON bool (``error``
    when it is anything else); False when none is there."""
    for name in names:
        v = value.get(name)
        if v is None:
            continue
        if not isinstance(v, bool):
            raise error(f"{name}: expected true or false")
        return v
    return False


def parse_selection(value: Any) -> Selection:
    """The ``value`` of a ``prefetch-listrange``/``evict-listrange`` message."""
    if not isinstance(value, Mapping):
        raise SelectionError('expected {"objnames": [...]} or {"template": "..."}')
    names = value.get("objnames")
    template = value.get("template")
    coer = flag_of(value, "coer", "continue-on-err")
    latest = flag_of(value, "latest-ver", "latest")
    workers = value.get("num-workers") or 0
    if not isinstance(workers, int) or isinstance(workers, bool) or not -1 <= workers <= 1024:
        raise SelectionError("num-workers: expected a number from -1 to 1024")
    if names is not None and template not in (None, ""):
        raise SelectionError("give objnames or template, not both")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise SelectionError("objnames: expected a list of object names")
        if len(names) > MAX_NAMES:
            raise SelectionError(f"objnames: at most {MAX_NAMES} names in one request")
        return Selection(names=tuple(names), continue_on_error=coer, latest=latest,
                         workers=workers)
    if template is None:
        template = ""
    if not isinstance(template, str):
        raise SelectionError("template: expected a string")
    if template in ("", "*"):
        return Selection(template=Template(""), continue_on_error=coer, latest=latest,
                         workers=workers)
    try:
        parsed = parse_template(template)
    except TemplateError as e:
        raise SelectionError(str(e)) from None
    return Selection(template=parsed, continue_on_error=coer, latest=latest,
                     workers=workers)
