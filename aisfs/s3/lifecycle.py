"""S3 bucket lifecycle rules, as AWS applies them (sans-IO).

Theory of operation. A bucket's lifecycle configuration is a list of rules
(``LifecycleRule``), parsed from XML by ``aisfs.s3.xml.lifecycle`` and checked here
(``validate_rules``: what AWS refuses beyond the schema, with AWS's messages). Each rule
has an ID, a Status (only ``Enabled`` rules act), a filter (``LifecycleFilter``: a key
prefix, tags that must all be on the object, and strict size bounds) and actions:

- Expiration: ``Days`` after the object's last write, or on a ``Date`` (midnight UTC);
- AbortIncompleteMultipartUpload: ``DaysAfterInitiation`` after an upload started;
- NoncurrentVersionExpiration: ``NoncurrentDays`` after a version became noncurrent (its
  successor's creation), keeping the ``NewerNoncurrentVersions`` newest noncurrent ones;
- ExpiredObjectDeleteMarker: a delete marker that is a key's only version is removed.

Versioned buckets (``version_action``). The worker walks a bucket's version listing (by
key, newest first) and ``VersionTracker`` tells each entry's place in its key (current or
not, since when noncurrent, how many noncurrent versions are newer, whether a current
delete marker is the key's only version). As AWS documents: an Expiration applies to the
current version only (the worker then adds a delete marker: ``EXPIRE``), does nothing to a
current delete marker with older versions, and removes an expired object delete marker
that is old enough by its Days/Date (``REMOVE``); NoncurrentVersionExpiration removes
noncurrent versions and noncurrent delete markers (``REMOVE``). Filters apply to every
version (a delete marker has size 0 and no tags).

When. AWS adds the days to the object's time and rounds the result *up to the next
midnight UTC* (an object written 2014-01-15 10:30 with ``Days=3`` expires 2014-01-19
00:00). ``expiry_ns`` does this with any length of a "day" (``day_ns``): with a real
day the boundaries are midnights UTC; a test may make a day one second long (the node's
``AISFS_LC_DAY_SECONDS``, like RGW's ``rgw_lc_debug_interval``). Of several matching
Expiration rules the earliest expiry wins (the ``x-amz-expiration`` header names it).

Rules are kept in bucket props as JSON-able dicts (``rules_to_json``/``rules_from_json``).
"""

from __future__ import annotations

import email.utils
import functools
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aisfs.errors import S3Error

MAX_RULES = 1000
MAX_ID_CHARS = 255
DAY_NS = 86_400 * 1_000_000_000
ENABLED = "Enabled"
DISABLED = "Disabled"
# how a rule's filter was written, so that GET answers the document that was put
FILTER_FORMS = ("legacy", "empty", "prefix", "tag", "and", "gt", "lt")


@dataclass(frozen=True, slots=True)
class LifecycleFilter:
    """Which objects a rule covers: all of ``prefix``, ``tags`` and the size bounds."""

    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None  # strictly greater
    size_less_than: int | None = None  # strictly less
    form: str = "empty"  # one of FILTER_FORMS

    @property
    def needs_tags(self) -> bool:
        return bool(self.tags)


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    id: str
    status: str
    filter: LifecycleFilter
    expiration_days: int | None = None
    expiration_date_s: int | None = None  # seconds since the epoch, a midnight UTC
    expired_object_delete_marker: bool | None = None
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_days: int | None = None

    @property
    def enabled(self) -> bool:
        return self.status == ENABLED

    @property
    def expires(self) -> bool:
        return self.expiration_days is not None or self.expiration_date_s is not None


# --------------------------------------------------------------------------- validation


def _invalid(message: str, name: str, value: str) -> S3Error:
    return S3Error(
        "InvalidArgument", message, extra={"ArgumentName": name, "ArgumentValue": value[:256]}
    )


def _has_action(rule: LifecycleRule) -> bool:
    return (
        rule.expires
        or rule.expired_object_delete_marker is not None
        or rule.noncurrent_days is not None
        or rule.abort_days is not None
    )


def _validate_rule(rule: LifecycleRule) -> None:
    if len(rule.id) > MAX_ID_CHARS:
        raise _invalid("ID length should not exceed allowed limit of 255", "ID", rule.id)
    if any(ord(c) < 0x20 or c == "\x7f" for c in rule.id):
        # the ID is sent back in the x-amz-expiration header: never a CR, LF or NUL
        raise _invalid("The ID contains illegal characters.", "ID", rule.id)
    if not _has_action(rule):
        raise S3Error("InvalidRequest", "At least one action needs to be specified in a rule")
    f = rule.filter
    if rule.abort_days is not None and (f.tags or f.size_greater_than is not None
                                        or f.size_less_than is not None):
        raise S3Error(
            "InvalidRequest",
            "AbortIncompleteMultipartUpload cannot be specified with Tags or object size "
            "filters",
        )
    if rule.expired_object_delete_marker and f.tags:
        raise S3Error(
            "InvalidRequest", "ExpiredObjectDeleteMarker cannot be specified with Tags"
        )
    gt, lt = f.size_greater_than, f.size_less_than
    if gt is not None and lt is not None and gt >= lt:
        raise S3Error(
            "InvalidRequest", "ObjectSizeGreaterThan must be less than ObjectSizeLessThan"
        )


def validate_rules(rules: Sequence[LifecycleRule]) -> None:
    """What PutBucketLifecycleConfiguration refuses beyond the XML schema.

    Raises:
        S3Error: InvalidArgument (ID too long, IDs not unique), InvalidRequest (a rule
            without an action, AbortIncompleteMultipartUpload with tags or sizes,
            ObjectSizeGreaterThan not below ObjectSizeLessThan).
    """
    seen: set[str] = set()
    for rule in rules:
        _validate_rule(rule)
        if rule.id in seen:
            raise _invalid(
                "Rule ID must be unique. Found same ID for more than one rule", "ID", rule.id
            )
        seen.add(rule.id)


def named(rules: Iterable[LifecycleRule]) -> list[LifecycleRule]:
    """Rules sent without an ID get one, as S3 names them (random, unique)."""
    rules = list(rules)
    taken = {r.id for r in rules}
    out = []
    for r in rules:
        if not r.id:
            new = secrets.token_urlsafe(36)[:48]
            while new in taken:
                new = secrets.token_urlsafe(36)[:48]
            taken.add(new)
            r = replace(r, id=new)
        out.append(r)
    return out


# --------------------------------------------------------------------------- matching


def filter_matches(
    f: LifecycleFilter, key: str, size: int, tags: Mapping[str, str] | None
) -> bool:
    """Whether an object (key, size, tags) is covered by ``f``. ``tags`` may be None
    only when ``f.needs_tags`` is false (a listing entry carries no tags)."""
    if not key.startswith(f.prefix):
        return False
    if f.size_greater_than is not None and not size > f.size_greater_than:
        return False
    if f.size_less_than is not None and not size < f.size_less_than:
        return False
    if f.tags:
        have = tags or {}
        return all(have.get(k) == v for k, v in f.tags)
    return True


def expiry_ns(start_ns: int, days: int, day_ns: int = DAY_NS) -> int:
    """``start + days``, rounded up to the next day boundary (midnight UTC for a real
    day), as S3 computes an Expiration's or an abort's time. A time exactly on a
    boundary goes on to the next one, as AWS and MinIO do."""
    return (start_ns + (days + 1) * day_ns) // day_ns * day_ns


def rule_expiry_ns(rule: LifecycleRule, mtime_ns: int, day_ns: int = DAY_NS) -> int | None:
    """When ``rule``'s Expiration removes an object last written at ``mtime_ns``."""
    if rule.expiration_days is not None:
        return expiry_ns(mtime_ns, rule.expiration_days, day_ns)
    if rule.expiration_date_s is not None:
        return rule.expiration_date_s * 1_000_000_000
    return None


def expiration_of(
    rules: Iterable[LifecycleRule],
    key: str,
    size: int,
    tags: Mapping[str, str] | None,
    mtime_ns: int,
    day_ns: int = DAY_NS,
) -> tuple[int, str] | None:
    """(when, rule id) of the earliest expiry an enabled rule gives the object."""
    best: tuple[int, str] | None = None
    for rule in rules:
        if not rule.enabled or not rule.expires:
            continue
        if not filter_matches(rule.filter, key, size, tags):
            continue
        when = rule_expiry_ns(rule, mtime_ns, day_ns)
        if when is not None and (best is None or when < best[0]):
            best = (when, rule.id)
    return best


def upload_abort_due(
    rule: LifecycleRule, key: str, initiated_ns: int, now_ns: int, day_ns: int = DAY_NS
) -> bool:
    """Whether an enabled AbortIncompleteMultipartUpload rule ends this upload now."""
    if not rule.enabled or rule.abort_days is None:
        return False
    if not key.startswith(rule.filter.prefix):
        return False
    return now_ns >= expiry_ns(initiated_ns, rule.abort_days, day_ns)


# --------------------------------------------------------------------------- versions

EXPIRE = "expire"  # the current version: a delete marker added (removed when unversioned)
REMOVE = "remove"  # this version or delete marker removed for good


@dataclass(frozen=True, slots=True)
class VersionView:
    """One entry of a version listing and its place among its key's versions."""

    key: str
    size: int
    mtime_ns: int  # the version's creation
    is_marker: bool
    is_latest: bool
    noncurrent_since_ns: int | None = None  # the successor's creation (noncurrent only)
    newer_noncurrent: int = 0  # noncurrent versions of the key newer than this one
    only_version: bool = False  # a current delete marker with no other version


class VersionTracker:
    """Follows a version listing (by key, each key's newest first, across pages) and gives
    each entry its ``VersionView``; ``next_key`` is the key of the entry after it (None at
    the end), which tells whether a current delete marker is alone."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._successor_ns = 0
        self._noncurrent = 0

    def view(self, key: str, size: int, mtime_ns: int, is_marker: bool,
             next_key: str | None) -> VersionView:
        if key != self._key:
            self._key, self._successor_ns, self._noncurrent = key, mtime_ns, 0
            return VersionView(key, size, mtime_ns, is_marker, True,
                               only_version=is_marker and next_key != key)
        out = VersionView(key, size, mtime_ns, is_marker, False,
                          noncurrent_since_ns=self._successor_ns,
                          newer_noncurrent=self._noncurrent)
        self._successor_ns = mtime_ns
        self._noncurrent += 1
        return out


def rule_acts_on_versions(rule: LifecycleRule) -> bool:
    """An enabled rule with an action on a versioned bucket's versions."""
    return rule.enabled and (rule.expires or bool(rule.expired_object_delete_marker)
                             or rule.noncurrent_days is not None)


def _noncurrent_due(rule: LifecycleRule, v: VersionView, now_ns: int, day_ns: int) -> bool:
    if rule.noncurrent_days is None or v.noncurrent_since_ns is None:
        return False
    if rule.newer_noncurrent_versions is not None and \
            v.newer_noncurrent < rule.newer_noncurrent_versions:
        return False
    return now_ns >= expiry_ns(v.noncurrent_since_ns, rule.noncurrent_days, day_ns)


def _current_due(rule: LifecycleRule, v: VersionView, now_ns: int, day_ns: int) -> str | None:
    if v.is_marker:
        if not v.only_version:
            return None  # a delete marker with older versions: nothing, as AWS
        if rule.expired_object_delete_marker:
            return REMOVE
    when = rule_expiry_ns(rule, v.mtime_ns, day_ns)
    if when is None or now_ns < when:
        return None
    return REMOVE if v.is_marker else EXPIRE


def version_action(rules: Iterable[LifecycleRule], v: VersionView,
                   tags: Mapping[str, str] | None, now_ns: int,
                   day_ns: int = DAY_NS) -> str | None:
    """What the enabled ``rules`` do to one version now: ``EXPIRE`` (a current data
    version), ``REMOVE`` (a noncurrent version, or an expired object delete marker) or
    None. ``tags`` may be None only when no rule covering the key has tags."""
    for rule in rules:
        if not rule_acts_on_versions(rule):
            continue
        if not filter_matches(rule.filter, v.key, v.size, None if v.is_marker else tags):
            continue
        if v.is_latest:
            action = _current_due(rule, v, now_ns, day_ns)
        else:
            action = REMOVE if _noncurrent_due(rule, v, now_ns, day_ns) else None
        if action is not None:
            return action
    return None


def needs_tags(rules: Iterable[LifecycleRule], key: str) -> bool:
    """Whether judging a version of ``key`` needs its tags (a tag rule covers the key)."""
    return any(rule_acts_on_versions(r) and r.filter.needs_tags and key.startswith(r.filter.prefix)
               for r in rules)


@functools.lru_cache(maxsize=1024)
def expiration_header(when_ns: int, rule_id: str) -> str:
    """The ``x-amz-expiration`` value: ``expiry-date="<RFC 1123>", rule-id="<id>"``
    (cached: expiry times are day boundaries, the same for many objects)."""
    date = email.utils.formatdate(when_ns // 1_000_000_000, usegmt=True)
    return f'expiry-date="{date}", rule-id="{rule_id}"'


# --------------------------------------------------------------------------- storage


def _filter_to_json(f: LifecycleFilter) -> dict[str, Any]:
    d: dict[str, Any] = {"form": f.form, "prefix": f.prefix, "tags": [list(t) for t in f.tags]}
    if f.size_greater_than is not None:
        d["gt"] = f.size_greater_than
    if f.size_less_than is not None:
        d["lt"] = f.size_less_than
    return d


_ACTION_FIELDS = (
    "expiration_days", "expiration_date_s", "expired_object_delete_marker",
    "noncurrent_days", "newer_noncurrent_versions", "abort_days",
)


def rules_to_json(rules: Iterable[LifecycleRule]) -> list[dict[str, Any]]:
    out = []
    for r in rules:
        d: dict[str, Any] = {"id": r.id, "status": r.status, "filter": _filter_to_json(r.filter)}
        for name in _ACTION_FIELDS:
            value = getattr(r, name)
            if value is not None:
                d[name] = value
        out.append(d)
    return out


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _filter_from_json(d: Any) -> LifecycleFilter:
    if not isinstance(d, dict):
        raise TypeError("filter")
    form = str(d.get("form", "empty"))
    if form not in FILTER_FORMS:
        raise ValueError(form)
    return LifecycleFilter(
        prefix=str(d.get("prefix", "")),
        tags=tuple((str(k), str(v)) for k, v in d.get("tags") or ()),
        size_greater_than=_int_or_none(d.get("gt")),
        size_less_than=_int_or_none(d.get("lt")),
        form=form,
    )


def rules_from_json(data: Any) -> list[LifecycleRule]:
    """Rules as kept in bucket props; anything malformed is skipped, never raised."""
    if not isinstance(data, list):
        return []
    rules: list[LifecycleRule] = []
    for d in data:
        if not isinstance(d, dict):
            continue
        try:
            marker = d.get("expired_object_delete_marker")
            rules.append(
                LifecycleRule(
                    id=str(d["id"]),
                    status=ENABLED if d.get("status") == ENABLED else DISABLED,
                    filter=_filter_from_json(d.get("filter")),
                    expiration_days=_int_or_none(d.get("expiration_days")),
                    expiration_date_s=_int_or_none(d.get("expiration_date_s")),
                    expired_object_delete_marker=None if marker is None else bool(marker),
                    noncurrent_days=_int_or_none(d.get("noncurrent_days")),
                    newer_noncurrent_versions=_int_or_none(d.get("newer_noncurrent_versions")),
                    abort_days=_int_or_none(d.get("abort_days")),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return rules
