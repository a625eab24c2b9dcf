"""The ``Range`` header -> one inclusive byte span, as S3 serves it."""

from __future__ import annotations

import re

from aisfs.errors import S3Error
from aisfs.numbers import parse_uint

# ASCII digits and blanks only: without re.ASCII, \d and \s take Unicode digits and spaces
_RANGE_RE = re.compile(
    r"bytes[ \t]*=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)", re.IGNORECASE | re.ASCII
)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The span ``(start, end)`` (both inclusive) a ``Range`` header asks for.

    Returns None when there is no header or it is not a single syntactically valid
    byte range (multi-range, ``bytes=5-2``, another unit): S3 then ignores it and
    serves the whole object with 200. An end past the object is clipped.

    Numbers of any length are read without ``int()`` on the whole text
    (``aisfs.numbers``): a start of 5,000 digits is past any object (416), an end
    or suffix length of 5,000 digits means "to the end".

    Raises:
        S3Error: ``InvalidRange`` (416) when the range is valid but unsatisfiable:
            start at or past the end, ``bytes=-0``, or any range of an empty object.
            The caller adds ``Content-Range: bytes */<size>``.
    """
    if header is None:
        return None
    m = _RANGE_RE.fullmatch(header.strip(" \t"))
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        n = parse_uint(last, saturate=True)
        if n == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - n), size - 1
    if last and _less(last, first):  # compared as digit strings: exact at any length
        return None
    start = parse_uint(first, saturate=True)
    end = parse_uint(last, saturate=True) if last else size - 1
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size - 1)


def _less(a: str, b: str) -> bool:
    """``int(a) < int(b)`` for ASCII digit strings of any length, without ``int()``."""
    a, b = a.lstrip("0"), b.lstrip("0")
    return (len(a), a) < (len(b), b)


def content_range(start: int, end: int, size: int) -> str:
    """The ``Content-Range`` value of a 206 response."""
    return f"bytes {start}-{end}/{size}"


def _unsatisfiable(size: int) -> S3Error:
    return S3Error(
        "InvalidRange",
        "The requested range is not satisfiable",
        extra={"ActualObjectSize": str(size)},
    )
