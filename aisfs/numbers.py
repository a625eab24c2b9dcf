"""The one parser of a client's numbers: headers, query parameters, XML values, JSON.

Python's own conversions are too lenient for bytes an attacker chooses:
``str.isdigit()`` is true for ``²`` and every Unicode digit, ``int()`` takes
``_``, spaces, ``+``/``-`` and Unicode digits, and raises ``ValueError`` on
more than 4,300 digits (``OverflowError`` on ``int(float("inf"))``). Here a
number is one or more ASCII digits, nothing else; a bound on the value is
checked on the digits *before* ``int()`` runs, so a 5,000-digit string costs a
scan and never reaches the interpreter's limit.

The parsers raise ``NumberError`` (a ``ValueError``) saying whether the text is
not a number (``syntax``) or a number out of bounds (``range``); each caller maps
it onto the S3 error code AWS gives at that spot (``InvalidArgument``,
``MalformedXML``, ``InvalidRange``...). ``argument`` does the common mapping.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from aisfs.errors import S3Error

INT32_MAX: Final = 2**31 - 1
INT64_MAX: Final = 2**63 - 1
MAX_TEXT: Final = 64  # characters of a number's text, leading zeros included

Reason = Literal["syntax", "range"]


class NumberError(ValueError):
    """A client's text that is not a number in bounds."""

    def __init__(self, text: str, reason: Reason, lo: int, hi: int) -> None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        what = "not a number" if reason == "syntax" else f"not within {lo}..{hi}"
        super().__init__(f"{shown!r} is {what}")
        self.text = text
        self.reason: Reason = reason
        self.lo = lo
        self.hi = hi


def _digits(text: str | bytes) -> str | None:
    """*text* as a str when it is one or more ASCII digits, else None."""
    if isinstance(text, bytes | bytearray):
        if not text.isdigit():  # bytes.isdigit is ASCII-only
            return None
        return bytes(text).decode("ascii")
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        return None  # on an ASCII str, isdigit() is exactly [0-9]+
    return text


def parse_uint(
    text: str | bytes,
    *,
    lo: int = 0,
    hi: int = INT64_MAX,
    max_text: int = MAX_TEXT,
    saturate: bool = False,
) -> int:
    """A non-negative decimal: ASCII digits only, no sign, space or ``_``.

    Args:
        lo, hi: the inclusive bounds (``0 <= lo <= hi``).
        max_text: the longest text accepted (leading zeros count); longer is ``syntax``.
            With ``saturate`` there is no length limit (the caller bounds its input).
        saturate: a value above *hi* gives *hi* instead of an error (a Range end,
            a suffix length: any value past the object means "to its end").

    Raises:
        NumberError: ``syntax`` (not digits, or too long) or ``range`` (below *lo*,
            or above *hi* without ``saturate``).
    """
    digits = _digits(text)
    shown = text if isinstance(text, str) else bytes(text).decode("latin-1")
    if digits is None or (not saturate and len(digits) > max_text):
        raise NumberError(shown, "syntax", lo, hi)
    significant = digits.lstrip("0")
    # never int() a string longer than the bound's own digits
    value = hi + 1 if len(significant) > len(str(hi)) else int(significant or "0")
    if value > hi:
        if saturate:
            return hi
        raise NumberError(shown, "range", lo, hi)
    if value < lo:
        raise NumberError(shown, "range", lo, hi)
    return value


def parse_int(
    text: str | bytes, *, lo: int = -INT64_MAX, hi: int = INT64_MAX, max_text: int = MAX_TEXT
) -> int:
    """A decimal with at most one leading ASCII ``-``, otherwise as ``parse_uint``."""
    s = text if isinstance(text, str) else bytes(text).decode("latin-1")
    negative = s.startswith("-")
    try:
        magnitude = parse_uint(s[1:] if negative else s, hi=max(abs(lo), abs(hi)),
                               max_text=max_text)
    except NumberError as exc:
        raise NumberError(s, exc.reason, lo, hi) from None
    value = -magnitude if negative else magnitude
    if not lo <= value <= hi:
        raise NumberError(s, "range", lo, hi)
    return value


def from_json(value: Any, *, lo: int = 0, hi: int = INT64_MAX) -> int:
    """A number from decoded JSON: an int (not a bool) or a string of ASCII digits.

    Floats (``1.5``, ``1e400``, ``Infinity``, ``NaN``) and every other type are
    ``syntax`` errors, as a Go ``json.Unmarshal`` into an integer refuses them.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise NumberError(repr(value)[:64], "syntax", lo, hi)
    if isinstance(value, str):
        return parse_int(value, lo=lo, hi=hi)
    if not lo <= value <= hi:
        raise NumberError(str(value) if value.bit_length() < 64 else "(huge)", "range", lo, hi)
    return value


def argument(
    text: str,
    name: str,
    *,
    lo: int = 0,
    hi: int = INT64_MAX,
    message: str | None = None,
    code: str = "InvalidArgument",
) -> int:
    """``parse_uint`` for a query parameter or header, failing as S3 does: *code*
    (``InvalidArgument`` by default) naming the argument and echoing its value."""
    try:
        return parse_uint(text, lo=lo, hi=hi)
    except NumberError as exc:
        raise invalid(name, text, message or str(exc), code) from None


def invalid(name: str, text: str, message: str, code: str = "InvalidArgument") -> S3Error:
    """The S3 error for a bad number *text* given as *name*."""
    shown = text if len(text) <= 256 else text[:256] + "..."
    return S3Error(code, message, extra={"ArgumentName": name, "ArgumentValue": shown})
