"""S3 Object Lock, sans-IO: a bucket's lock configuration, one version's lock, and the
decisions AWS documents for them (issue 15; docs/object-lock.md).

- ``BucketLockConfig``  ``ObjectLockEnabled`` and the optional default retention (a mode
  and Days or Years); kept in the bucket's props (``to_props``/``from_props``).
- ``VersionLock``       a version's retention (mode, retain-until) and legal hold; kept by
  the store as JSON ``{"mode", "until_ns", "legal_hold"}`` (``to_json``/``from_json``).
- ``lock_from_headers`` the ``x-amz-object-lock-*`` headers of a PUT, copy or
  CreateMultipartUpload, validated as AWS does; ``new_version_lock`` what a new version
  gets from them and the bucket's default retention.
- ``may_remove``        whether a version may be removed for good (a DELETE with
  ``versionId``, an overwrite of a ``null`` version, GC, lifecycle, the native API):
  never under legal hold, never before COMPLIANCE's date, GOVERNANCE only with
  ``x-amz-bypass-governance-retention: true`` and a caller allowed to bypass.
- ``may_change_retention`` PutObjectRetention's rule: lengthen always; COMPLIANCE never
  shortened, removed or turned into GOVERNANCE before its date; GOVERNANCE shortened,
  removed or changed only with the bypass.

A retention whose date has passed protects nothing (AWS); a legal hold has no date.
Times are integer nanoseconds since the epoch, UTC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aisfs.errors import S3Error
from aisfs.s3._headers import Headers, get_header, header_items

GOVERNANCE = "GOVERNANCE"
COMPLIANCE = "COMPLIANCE"
MODES = (GOVERNANCE, COMPLIANCE)
NS = 1_000_000_000
DAY_NS = 86_400 * NS
YEAR_DAYS = 365  # a retention year is 365 days (as Ceph RGW counts it)
MAX_DAYS = 36_500  # AWS: a default retention of at most 100 years
MAX_YEARS = 100

LOCK_MODE = "x-amz-object-lock-mode"
LOCK_UNTIL = "x-amz-object-lock-retain-until-date"
LOCK_HOLD = "x-amz-object-lock-legal-hold"
BUCKET_LOCK = "x-amz-bucket-object-lock-enabled"
BYPASS = "x-amz-bypass-governance-retention"

PROP_ENABLED = "object_lock.enabled"  # bucket props: "Enabled" when lock is on
PROP_DEFAULT = "object_lock.default"  # {"mode", "days"|"years"}, absent: no default


def access_denied(why: str = "") -> S3Error:
    """AWS's answer to removing or weakening a protected version: 403 AccessDenied."""
    return S3Error("AccessDenied", "Access Denied" + (f" because {why}." if why else ""))


def invalid_argument(message: str, name: str, value: str | None = None) -> S3Error:
    extra = {"ArgumentName": name}
    if value is not None:
        extra["ArgumentValue"] = value
    return S3Error("InvalidArgument", message, extra=extra)


def missing_config() -> S3Error:
    """A lock operation on a bucket whose object lock is not enabled (AWS: 400)."""
    return S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class DefaultRetention:
    mode: str
    days: int | None = None
    years: int | None = None

    def until_ns(self, now_ns: int) -> int:
        """The retain-until date a version written at ``now_ns`` gets."""
        days = self.days if self.days is not None else (self.years or 0) * YEAR_DAYS
        return now_ns + days * DAY_NS


@dataclass(frozen=True, slots=True)
class BucketLockConfig:
    enabled: bool = False
    default: DefaultRetention | None = None

    def to_props(self) -> dict[str, Any]:
        """The bucket-props patch that records this configuration (None removes a key)."""
        d = self.default
        default: dict[str, Any] | None = None
        if d is not None:
            default = {"mode": d.mode}
            default["days" if d.days is not None else "years"] = (
                d.days if d.days is not None else d.years)
        return {PROP_ENABLED: "Enabled" if self.enabled else None, PROP_DEFAULT: default}

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> BucketLockConfig:
        if props.get(PROP_ENABLED) != "Enabled":
            return cls()
        raw = props.get(PROP_DEFAULT)
        default = None
        if isinstance(raw, dict) and raw.get("mode") in MODES:
            days, years = raw.get("days"), raw.get("years")
            default = DefaultRetention(
                raw["mode"], days if isinstance(days, int) else None,
                years if isinstance(years, int) else None)
        return cls(True, default)


@dataclass(frozen=True, slots=True)
class VersionLock:
    mode: str | None = None
    until_ns: int | None = None
    legal_hold: bool | None = None  # None: never set (GetObjectLegalHold answers 404)

    @property
    def empty(self) -> bool:
        return self.mode is None and self.legal_hold is None

    @property
    def held(self) -> bool:
        return self.legal_hold is True

    def retained(self, now_ns: int) -> bool:
        """Whether a retention is in force at ``now_ns``."""
        return self.mode is not None and self.until_ns is not None and self.until_ns > now_ns

    def protects(self, now_ns: int) -> bool:
        return self.held or self.retained(now_ns)

    def with_retention(self, mode: str | None, until_ns: int | None) -> VersionLock:
        return VersionLock(mode, until_ns if mode is not None else None, self.legal_hold)

    def with_legal_hold(self, on: bool) -> VersionLock:
        return VersionLock(self.mode, self.until_ns, on)

    def to_dict(self) -> dict[str, Any] | None:
        """The store's record of this lock (a manifest's ``lock``); None: nothing to keep."""
        if self.empty:
            return None
        return {"mode": self.mode, "until_ns": self.until_ns, "legal_hold": self.legal_hold}

    def to_json(self) -> str | None:
        d = self.to_dict()
        return None if d is None else json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> VersionLock | None:
        """A lock from the store's JSON (None for none); see ``from_dict``."""
        if raw is None or raw == "":
            return None
        try:
            d = json.loads(raw)
        except ValueError:
            return cls(None, None, True)
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: object) -> VersionLock | None:
        """A lock from the store's record (None for none). A record we cannot read protects
        the version: it is read as a legal hold (never as no lock)."""
        if d is None:
            return None
        try:
            if not isinstance(d, dict):
                raise TypeError(d)
            mode = d.get("mode")
            until = d.get("until_ns")
            hold = d.get("legal_hold")
            if mode not in (*MODES, None) or not isinstance(hold, bool | None) or (
                    mode is not None and not isinstance(until, int)):
                raise ValueError(d)
        except (ValueError, TypeError):
            return cls(None, None, True)
        lock = cls(mode, until if mode is not None else None, hold)
        return None if lock.empty else lock


# --------------------------------------------------------------------------- dates


def parse_date(text: str) -> int | None:
    """An ISO 8601 date-time (``2030-02-01T00:00:00Z``, fractions and offsets allowed; no
    zone is UTC) as nanoseconds; None when it is not one."""
    text = text.strip()
    if not text or len(text) > 64 or not text.isascii() or not text[:4].isdigit():
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    seconds = int(dt.timestamp())
    return seconds * NS + dt.microsecond * 1000


def format_date(ns: int) -> str:
    """A retain-until date as AWS writes it: ``2030-02-01T00:00:00.000Z``."""
    dt = datetime.fromtimestamp(ns // NS, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{(ns // 1_000_000) % 1000:03d}Z"


# --------------------------------------------------------------------------- headers


def lock_from_headers(headers: Headers, now_ns: int) -> VersionLock | None:
    """The lock a write's ``x-amz-object-lock-*`` headers ask for (None: none asked).

    Mode and date go together; the mode is GOVERNANCE or COMPLIANCE; the date is ISO 8601
    and in the future; the legal hold is ON or OFF - otherwise AWS's 400 InvalidArgument.
    """
    mode = get_header(headers, LOCK_MODE)
    until = get_header(headers, LOCK_UNTIL)
    hold = get_header(headers, LOCK_HOLD)
    if mode is None and until is None and hold is None:
        return None
    if mode is not None and mode.strip() not in MODES:
        raise invalid_argument("Unknown wormMode directive.", LOCK_MODE, mode)
    if (mode is None) != (until is None):
        raise invalid_argument(f"{LOCK_UNTIL} and {LOCK_MODE} must both be supplied",
                               LOCK_MODE if mode is None else LOCK_UNTIL)
    if hold is not None and hold.strip() not in ("ON", "OFF"):
        raise invalid_argument("Legal Hold must be either of 'ON' or 'OFF'", LOCK_HOLD, hold)
    until_ns = None
    if until is not None:
        until_ns = parse_date(until)
        if until_ns is None:
            raise invalid_argument("The retain until date must be provided in ISO 8601 format",
                                   LOCK_UNTIL, until)
        if until_ns <= now_ns:
            raise invalid_argument("The retain until date must be in the future!", LOCK_UNTIL,
                                   until)
    return VersionLock(mode.strip() if mode is not None else None, until_ns,
                       None if hold is None else hold.strip() == "ON")


def has_integrity_header(headers: Headers) -> bool:
    """Whether a PUT carries what AWS requires beside lock parameters: Content-MD5 or a
    flexible checksum (a value, or the algorithm of a trailing one)."""
    if get_header(headers, "content-md5") is not None:
        return True
    if get_header(headers, "x-amz-sdk-checksum-algorithm") is not None:
        return True
    trailer = get_header(headers, "x-amz-trailer") or ""
    if "x-amz-checksum-" in trailer.lower():
        return True
    return any(n.startswith("x-amz-checksum-") and n != "x-amz-checksum-type"
               for n, _ in header_items(headers))


def new_version_lock(
    asked: VersionLock | None, config: BucketLockConfig, now_ns: int,
) -> VersionLock | None:
    """The lock a new version gets: what its headers asked (only on a lock-enabled bucket:
    400 InvalidRequest elsewhere), the bucket's default retention when they named no mode."""
    if asked is not None and not config.enabled:
        raise S3Error("InvalidRequest", "Bucket is missing ObjectLockConfiguration")
    if not config.enabled:
        return None
    lock = asked or VersionLock()
    if lock.mode is None and config.default is not None:
        lock = lock.with_retention(config.default.mode, config.default.until_ns(now_ns))
    return None if lock.empty else lock


def needs_integrity(asked: VersionLock | None, config: BucketLockConfig) -> bool:
    """Whether a PutObject must carry Content-MD5 or a checksum: one with lock parameters
    (AWS). AWS asks it of a PUT into a bucket with a default retention too; aisfs does
    not, so that the mount (which sends neither) can write there (docs/object-lock.md)."""
    return asked is not None


def default_lock_json(props: Mapping[str, Any], now_ns: int) -> str | None:
    """The lock JSON the bucket's default retention gives a version written now by a
    request that named none (the native API's PUT); None: no default."""
    lock = new_version_lock(None, BucketLockConfig.from_props(props), now_ns)
    return None if lock is None else lock.to_json()


def check_integrity(headers: Headers, asked: VersionLock | None,
                    config: BucketLockConfig) -> None:
    if needs_integrity(asked, config) and not has_integrity_header(headers):
        raise S3Error("InvalidRequest",
                      "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object "
                      "requests with Object Lock parameters")


def bypass_asked(headers: Headers) -> bool:
    """``x-amz-bypass-governance-retention: true`` (any case); anything else is no."""
    value = get_header(headers, BYPASS)
    return value is not None and value.strip().lower() == "true"


def bucket_lock_asked(headers: Headers) -> bool:
    """CreateBucket's ``x-amz-bucket-object-lock-enabled``: true, false (or absent), or
    400 InvalidArgument."""
    value = get_header(headers, BUCKET_LOCK)
    if value is None or value.strip().lower() == "false":
        return False
    if value.strip().lower() == "true":
        return True
    raise invalid_argument("Invalid value for x-amz-bucket-object-lock-enabled", BUCKET_LOCK,
                           value)


# --------------------------------------------------------------------------- decisions


def may_remove(lock: VersionLock | None, now_ns: int, bypass: bool,
               caller_may_bypass: bool) -> None:
    """Refuse (403 AccessDenied) the permanent removal of a version ``lock`` protects."""
    if lock is None:
        return
    if lock.held:
        raise access_denied("object protected by object lock")
    if not lock.retained(now_ns):
        return
    if lock.mode == GOVERNANCE and bypass and caller_may_bypass:
        return
    raise access_denied("object protected by object lock")


def may_change_retention(old: VersionLock | None, mode: str | None, until_ns: int | None,
                         now_ns: int, bypass: bool, caller_may_bypass: bool) -> None:
    """Refuse (403 AccessDenied) a PutObjectRetention that weakens a retention in force.

    ``mode``/``until_ns`` None: the retention is removed. Lengthening (same mode, a date
    no earlier) and GOVERNANCE -> COMPLIANCE with a date no earlier are always allowed.
    """
    if old is None or not old.retained(now_ns):
        return
    assert old.until_ns is not None
    stronger = mode is not None and until_ns is not None and until_ns >= old.until_ns and (
        mode == old.mode or mode == COMPLIANCE)
    if stronger:
        return
    if old.mode == GOVERNANCE and bypass and caller_may_bypass:
        return
    raise access_denied()


def check_new_retention(mode: str | None, until_ns: int | None, now_ns: int) -> None:
    """A retention PutObjectRetention sets: its date in the future (400 InvalidArgument)."""
    if mode is not None and until_ns is not None and until_ns <= now_ns:
        raise invalid_argument("The retain until date must be in the future!",
                               "RetainUntilDate", format_date(until_ns))


def lock_headers(lock: VersionLock | None) -> list[tuple[str, str]]:
    """The response headers GET and HEAD send for a version's lock."""
    if lock is None:
        return []
    out: list[tuple[str, str]] = []
    if lock.mode is not None and lock.until_ns is not None:
        out.append((LOCK_MODE, lock.mode))
        out.append((LOCK_UNTIL, format_date(lock.until_ns)))
    if lock.legal_hold is not None:
        out.append((LOCK_HOLD, "ON" if lock.legal_hold else "OFF"))
    return out
