"""Conditional requests: ``If-*`` headers -> proceed, 304 or 412.

The order is RFC 7232 §6, which is also what S3 documents: ``If-Match`` is
evaluated first and, when present, ``If-Unmodified-Since`` is ignored (so a
matching ETag with a failing date proceeds); then ``If-None-Match``, which, when
present, makes ``If-Modified-Since`` ignored (a matching ETag with a date that
says "modified" is still 304). Dates have one-second resolution; an unparsable
date is ignored, as RFC 7232 asks.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

from aisfs.errors import S3Error
from aisfs.s3._headers import Headers, get_header


def check_preconditions(
    headers: Headers,
    etag: str | None,
    last_modified_ns: int,
    method: str = "GET",
) -> None:
    """Evaluate ``If-Match``, ``If-Unmodified-Since``, ``If-None-Match``, ``If-Modified-Since``.

    Args:
        headers: the request headers (any case).
        etag: the object's ETag, quoted or not; None when the object does not exist
            (conditional PUT: ``If-None-Match: *`` then proceeds, ``If-Match`` fails).
        last_modified_ns: the object's modification time (ignored when etag is None).
        method: GET and HEAD answer 304 where other methods answer 412, and only
            they honour ``If-Modified-Since``.

    Raises:
        S3Error: ``PreconditionFailed`` (412) or ``NotModified`` (304).
    """
    safe = method.upper() in ("GET", "HEAD")
    if_match = get_header(headers, "if-match")
    if_unmodified = get_header(headers, "if-unmodified-since")
    if_none_match = get_header(headers, "if-none-match")
    if_modified = get_header(headers, "if-modified-since")
    mtime_s = last_modified_ns // 1_000_000_000

    if if_match is not None:
        if etag is None or not etag_matches(if_match, etag):
            raise _failed("If-Match")
    elif if_unmodified is not None and etag is not None:
        date = parse_http_date(if_unmodified)
        if date is not None and mtime_s > date:
            raise _failed("If-Unmodified-Since")

    if if_none_match is not None:
        if etag is not None and etag_matches(if_none_match, etag, weak=True):
            if safe:
                raise _not_modified()
            raise _failed("If-None-Match")
    elif if_modified is not None and safe and etag is not None:
        date = parse_http_date(if_modified)
        if date is not None and mtime_s <= date:
            raise _not_modified()


def check_copy_source_preconditions(headers: Headers, etag: str, mtime_ns: int) -> None:
    """Evaluate ``x-amz-copy-source-if-*`` against the source object; failure is 412.

    As S3 documents: a matching ``-if-match`` overrides a failing
    ``-if-unmodified-since``, and a failing ``-if-none-match`` wins over a passing
    ``-if-modified-since``.
    """
    mtime_s = mtime_ns // 1_000_000_000
    if_match = get_header(headers, "x-amz-copy-source-if-match")
    if_unmodified = get_header(headers, "x-amz-copy-source-if-unmodified-since")
    if_none_match = get_header(headers, "x-amz-copy-source-if-none-match")
    if_modified = get_header(headers, "x-amz-copy-source-if-modified-since")
    if if_match is not None:
        if not etag_matches(if_match, etag):
            raise _failed("x-amz-copy-source-If-Match")
    elif if_unmodified is not None:
        date = parse_http_date(if_unmodified)
        if date is not None and mtime_s > date:
            raise _failed("x-amz-copy-source-If-Unmodified-Since")
    if if_none_match is not None:
        if etag_matches(if_none_match, etag, weak=True):
            raise _failed("x-amz-copy-source-If-None-Match")
    elif if_modified is not None:
        date = parse_http_date(if_modified)
        if date is not None and mtime_s <= date:
            raise _failed("x-amz-copy-source-If-Modified-Since")


def etag_matches(header: str, etag: str, weak: bool = False) -> bool:
    """Whether an ``If-Match``-style list (``"a", "b"``, ``*``, quoted or not) names *etag*.

    ``W/`` tags never match strongly; with ``weak`` they compare by their value.
    """
    want = _bare(etag)
    for item in header.split(","):
        tag = item.strip()
        if not tag:
            continue
        if tag == "*":
            return True
        if tag[:2] in ("W/", "w/"):
            if not weak:
                continue
            tag = tag[2:]
        if _bare(tag) == want:
            return True
    return False


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch of an HTTP date (RFC 1123, RFC 850, asctime, or ISO 8601).

    Returns None for anything unparsable.
    """
    value = value.strip()
    if not value:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        dt = None
    if dt is None:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return int(dt.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


def format_http_date(mtime_ns: int) -> str:
    """``Last-Modified`` form: ``Wed, 21 Oct 2015 07:28:00 GMT``."""
    return email.utils.formatdate(mtime_ns // 1_000_000_000, usegmt=True)


def _bare(tag: str) -> str:
    tag = tag.strip()
    if len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"':
        tag = tag[1:-1]
    return tag


def _failed(condition: str) -> S3Error:
    return S3Error(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        extra={"Condition": condition},
    )


def _not_modified() -> S3Error:
    return S3Error("NotModified", "Not Modified", status=304)
