"""Case-insensitive header look-up over whatever mapping the caller holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def header_items(headers: Headers) -> list[tuple[str, str]]:
    """All (lower-case name, value) pairs; repeated names stay repeated."""
    pairs: Iterable[tuple[str, str]]
    if getattr(headers, "case_insensitive", False):  # lower-case str names already
        return list(headers.items())  # type: ignore[union-attr]
    if isinstance(headers, Mapping):
        items = getattr(headers, "items", None)
        pairs = items() if items is not None else ()
        # werkzeug/quart Headers.items() yields every pair, including repeats
    else:
        pairs = headers
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        out.append((name.lower(), value))
    return out


def get_header(headers: Headers, name: str) -> str | None:
    """The first value of header *name* (any case), or None."""
    if getattr(headers, "case_insensitive", False):  # e.g. node.http.Headers: one look-up
        return headers.get(name)  # type: ignore[union-attr]
    lname = name.lower()
    for key, value in header_items(headers):
        if key == lname:
            return value
    return None


def stored_content_encoding(value: str | None) -> str | None:
    """``Content-Encoding`` as an object keeps it: ``aws-chunked`` removed (it names the
    request's framing, not the object's encoding - AWS strips it too); None if nothing
    else was named. ``gzip,aws-chunked`` -> ``gzip``."""
    if value is None or "aws-chunked" not in value.lower():
        return value
    kept = [p.strip() for p in value.split(",") if p.strip()]
    kept = [p for p in kept if p.lower() != "aws-chunked"]
    return ",".join(kept) or None
