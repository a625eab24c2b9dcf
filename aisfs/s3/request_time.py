"""When a signed request was made and until when it holds: ``x-amz-date`` (ISO 8601
basic), HTTP dates, the allowed clock skew, ``Expires``. Shared by SigV4 and SigV2."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

from aisfs.errors import S3Error

MAX_SKEW_SECONDS = 15 * 60
MAX_EXPIRES_DIGITS = 12
AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_EPOCH_DAY = date(1970, 1, 1).toordinal()


def bad_date() -> S3Error:
    return S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date")


# the last date parsed (valid): the requests of one second share it
_last_amz: tuple[str, int] = ("19700101T000000Z", 0)


def amz_time(amz_date: str) -> int:
    """Seconds since the epoch of an ISO 8601 basic date, ``20130524T000000Z`` (UTC).

    An exact parser (strptime took ~6 % of a small GET): ASCII digits only, a real
    calendar date, hours < 24, minutes < 60, seconds <= 60 (a leap second, as strptime).

    Raises:
        S3Error: AccessDenied, for anything else.
    """
    global _last_amz
    last = _last_amz
    if amz_date == last[0]:
        return last[1]
    if not AMZ_DATE.fullmatch(amz_date):
        raise bad_date()
    try:
        day = date(int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8])).toordinal()
    except ValueError:
        raise bad_date() from None
    hour, minute, second = int(amz_date[9:11]), int(amz_date[11:13]), int(amz_date[13:15])
    if hour > 23 or minute > 59 or second > 60:
        raise bad_date()
    seconds = (day - _EPOCH_DAY) * 86400 + hour * 3600 + minute * 60 + second
    _last_amz = (amz_date, seconds)
    return seconds


def http_date_seconds(value: str) -> int:
    """Seconds since the epoch of an HTTP date (RFC 1123, 850, asctime) or ISO 8601 basic.

    Raises:
        S3Error: AccessDenied, when it is neither.
    """
    value = value.strip()
    if AMZ_DATE.fullmatch(value):
        return amz_time(value)
    try:
        dt = parsedate_to_datetime(value)
        if dt.tzinfo is None:  # "-0000": UTC, by RFC 5322
            dt = dt.replace(tzinfo=UTC)
        return int(dt.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        raise bad_date() from None


def http_date_to_amz(value: str) -> str:
    """The ISO 8601 basic form (UTC) of a ``Date`` header, for a request without x-amz-date."""
    seconds = http_date_seconds(value)
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%dT%H%M%SZ")
    except (ValueError, OverflowError, OSError):
        raise bad_date() from None


def skew_error(request_time: str, now: float) -> S3Error:
    """RequestTimeTooSkewed, as S3 words it."""
    return S3Error(
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
        extra={
            "RequestTime": request_time,
            "ServerTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "MaxAllowedSkewMilliseconds": str(MAX_SKEW_SECONDS * 1000),
        },
    )


def parse_expires(value: str, bad: Callable[[str], S3Error], what: str) -> int:
    """A non-negative count of ASCII digits (not ``²``, not 5,000 digits)."""
    if not value or len(value) > MAX_EXPIRES_DIGITS or not value.isascii() or not value.isdigit():
        raise bad(f"{what} should be a number")
    return int(value)
