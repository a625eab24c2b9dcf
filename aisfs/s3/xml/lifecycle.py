"""The ``LifecycleConfiguration`` document: parsed with defusedxml into
``aisfs.s3.lifecycle`` rules, and built back as AWS answers GetBucketLifecycleConfiguration.

What the schema refuses is ``MalformedXML`` (no rule, more than 1,000, a Status other
than Enabled/Disabled, both ``Prefix`` and ``Filter`` or neither, a Filter with more
than one condition outside ``And``, Expiration with both Days and Date or neither, a
number that is not one); values AWS checks get its ``InvalidArgument`` messages;
``Transition``/``NoncurrentVersionTransition`` are 501 NotImplemented (no storage
classes here). Semantic checks across rules: ``aisfs.s3.lifecycle.validate_rules``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime

from aisfs.errors import S3Error
from aisfs.numbers import INT32_MAX, INT64_MAX, NumberError, parse_int
from aisfs.s3.lifecycle import MAX_RULES, LifecycleFilter, LifecycleRule

from .build import element, serialize, sub
from .reading import XML_SPACE as _XML_SPACE
from .reading import children as _children
from .reading import elements as _elements
from .reading import local as _local
from .reading import malformed as _malformed
from .reading import one as _one
from .reading import parse_root
from .values import format_timestamp

_FILTER_TAGS = {"Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan"}







def _text(el: ET.Element, tag: str) -> str | None:
    c = _one(el, tag)
    return None if c is None else (c.text or "")


def _number(el: ET.Element, tag: str, hi: int = INT32_MAX) -> int | None:
    text = _text(el, tag)
    if text is None:
        return None
    try:
        return parse_int(text.strip(_XML_SPACE), lo=-hi - 1, hi=hi)
    except NumberError:
        raise _malformed(f"<{tag}> must be an integer") from None


def _positive(el: ET.Element, tag: str, action: str) -> int | None:
    n = _number(el, tag)
    if n is not None and n <= 0:
        raise S3Error(
            "InvalidArgument",
            f"'{tag}' for {action} action must be a positive integer",
            extra={"ArgumentName": tag, "ArgumentValue": str(n)},
        )
    return n



# --------------------------------------------------------------------------- filter


def _tag(el: ET.Element) -> tuple[str, str]:
    key, value = _text(el, "Key"), _text(el, "Value")
    if key is None or value is None:
        raise _malformed("<Tag> needs <Key> and <Value>")
    if not 1 <= len(key) <= 128 or len(value) > 256:
        raise S3Error("InvalidTag", "The TagKey or TagValue you have provided is invalid")
    return key, value


def _sizes(el: ET.Element) -> tuple[int | None, int | None]:
    gt = _number(el, "ObjectSizeGreaterThan", INT64_MAX)
    lt = _number(el, "ObjectSizeLessThan", INT64_MAX)
    for name, n in (("ObjectSizeGreaterThan", gt), ("ObjectSizeLessThan", lt)):
        if n is not None and n < 0:
            raise S3Error(
                "InvalidArgument", f"'{name}' must be a non-negative integer",
                extra={"ArgumentName": name, "ArgumentValue": str(n)},
            )
    return gt, lt


def _and_filter(el: ET.Element) -> LifecycleFilter:
    tags = [_tag(t) for t in _children(el, "Tag")]
    if len({k for k, _ in tags}) != len(tags):
        raise S3Error("InvalidRequest", "Duplicate Tag Keys are not allowed.")
    gt, lt = _sizes(el)
    return LifecycleFilter(prefix=_text(el, "Prefix") or "", tags=tuple(tags),
                           size_greater_than=gt, size_less_than=lt, form="and")


def _filter(el: ET.Element) -> LifecycleFilter:
    conditions = [c for c in _elements(el)]
    unknown = [_local(c.tag) for c in conditions if _local(c.tag) not in _FILTER_TAGS]
    if unknown:
        raise _malformed(f"<{unknown[0]}> in <Filter>")
    if len(conditions) > 1:
        raise _malformed("a <Filter> holds one condition: combine them in <And>")
    if not conditions:
        return LifecycleFilter(form="empty")
    only = _local(conditions[0].tag)
    if only == "Prefix":
        return LifecycleFilter(prefix=conditions[0].text or "", form="prefix")
    if only == "Tag":
        return LifecycleFilter(tags=(_tag(conditions[0]),), form="tag")
    if only == "And":
        return _and_filter(conditions[0])
    gt, lt = _sizes(el)
    return LifecycleFilter(size_greater_than=gt, size_less_than=lt,
                           form="gt" if gt is not None else "lt")


def _rule_filter(rule: ET.Element) -> LifecycleFilter:
    legacy = _text(rule, "Prefix")
    filter_el = _one(rule, "Filter")
    if legacy is not None and filter_el is not None:
        raise _malformed("a <Rule> has either <Prefix> or <Filter>, not both")
    if legacy is not None:
        return LifecycleFilter(prefix=legacy, form="legacy")
    if filter_el is None:
        raise _malformed("a <Rule> needs <Filter> (or the older <Prefix>)")
    return _filter(filter_el)


# --------------------------------------------------------------------------- actions


def _date(text: str) -> int:
    try:
        when = datetime.fromisoformat(text.strip(_XML_SPACE))
    except ValueError:
        raise _malformed("<Date> must be an ISO 8601 date") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    if (when.hour, when.minute, when.second, when.microsecond) != (0, 0, 0, 0):
        raise S3Error(
            "InvalidArgument", "'Date' must be at midnight GMT",
            extra={"ArgumentName": "Date", "ArgumentValue": text[:64]},
        )
    return int(when.timestamp())


def _marker(el: ET.Element) -> bool | None:
    text = _text(el, "ExpiredObjectDeleteMarker")
    if text is None:
        return None
    value = text.strip(_XML_SPACE).lower()
    if value not in ("true", "false"):
        raise _malformed("<ExpiredObjectDeleteMarker> must be true or false")
    return value == "true"


def _expiration(rule: ET.Element) -> tuple[int | None, int | None, bool | None]:
    el = _one(rule, "Expiration")
    if el is None:
        return None, None, None
    days = _positive(el, "Days", "Expiration")
    date_text = _text(el, "Date")
    marker = _marker(el)
    if days is not None and date_text is not None:
        raise _malformed("<Expiration> has either <Days> or <Date>")
    if days is None and date_text is None and marker is None:
        raise _malformed("<Expiration> needs <Days>, <Date> or <ExpiredObjectDeleteMarker>")
    if marker is not None and (days is not None or date_text is not None):
        # AWS answers MalformedXML (aws-cli#8239): the schema's choice, not a value check
        raise _malformed(
            "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle "
            "Expiration Policy."
        )
    return days, None if date_text is None else _date(date_text), marker


def _noncurrent(rule: ET.Element) -> tuple[int | None, int | None]:
    el = _one(rule, "NoncurrentVersionExpiration")
    if el is None:
        return None, None
    action = "NoncurrentVersionExpiration"
    days = _positive(el, "NoncurrentDays", action)
    newer = _positive(el, "NewerNoncurrentVersions", action)
    if days is None:
        raise _malformed("<NoncurrentVersionExpiration> needs <NoncurrentDays>")
    if newer is not None and newer > 100:
        raise S3Error(
            "InvalidArgument", "'NewerNoncurrentVersions' must be at most 100",
            extra={"ArgumentName": "NewerNoncurrentVersions", "ArgumentValue": str(newer)},
        )
    return days, newer


def _abort_days(rule: ET.Element) -> int | None:
    el = _one(rule, "AbortIncompleteMultipartUpload")
    if el is None:
        return None
    days = _positive(el, "DaysAfterInitiation", "AbortIncompleteMultipartUpload")
    if days is None:
        raise _malformed("<AbortIncompleteMultipartUpload> needs <DaysAfterInitiation>")
    return days


def _rule(el: ET.Element) -> LifecycleRule:
    status = _text(el, "Status")
    if status is None or status.strip(_XML_SPACE) not in ("Enabled", "Disabled"):
        raise _malformed("<Status> must be Enabled or Disabled")
    if _children(el, "Transition") or _children(el, "NoncurrentVersionTransition"):
        raise S3Error(
            "NotImplemented",
            "aisfs has one storage class: lifecycle Transition actions are not implemented",
            status=501,
        )
    days, date_s, marker = _expiration(el)
    noncurrent, newer = _noncurrent(el)
    return LifecycleRule(
        id=_text(el, "ID") or "",
        status=status.strip(_XML_SPACE),
        filter=_rule_filter(el),
        expiration_days=days,
        expiration_date_s=date_s,
        expired_object_delete_marker=marker,
        noncurrent_days=noncurrent,
        newer_noncurrent_versions=newer,
        abort_days=_abort_days(el),
    )


def parse_lifecycle_configuration(body: bytes) -> list[LifecycleRule]:
    """The rules of a PutBucketLifecycleConfiguration body (1 to 1,000), in order."""
    root = parse_root(body, "LifecycleConfiguration")
    rules = _children(root, "Rule")
    if not rules:
        raise _malformed("no <Rule> in <LifecycleConfiguration>")
    if len(rules) > MAX_RULES:
        raise _malformed(f"more than {MAX_RULES} rules")
    return [_rule(r) for r in rules]


# --------------------------------------------------------------------------- building


def _add_tag(parent: ET.Element, key: str, value: str) -> None:
    t = sub(parent, "Tag")
    sub(t, "Key", key)
    sub(t, "Value", value)


def _add_filter(rule_el: ET.Element, f: LifecycleFilter) -> None:
    if f.form == "legacy":
        sub(rule_el, "Prefix", f.prefix)
        return
    el = sub(rule_el, "Filter")
    if f.form == "prefix":
        sub(el, "Prefix", f.prefix)
    elif f.form == "tag" and f.tags:
        _add_tag(el, *f.tags[0])
    elif f.form == "gt":
        sub(el, "ObjectSizeGreaterThan", f.size_greater_than)
    elif f.form == "lt":
        sub(el, "ObjectSizeLessThan", f.size_less_than)
    elif f.form == "and":
        both = sub(el, "And")
        if f.prefix:
            sub(both, "Prefix", f.prefix)
        for k, v in f.tags:
            _add_tag(both, k, v)
        if f.size_greater_than is not None:
            sub(both, "ObjectSizeGreaterThan", f.size_greater_than)
        if f.size_less_than is not None:
            sub(both, "ObjectSizeLessThan", f.size_less_than)


def _add_rule(root: ET.Element, r: LifecycleRule) -> None:
    el = sub(root, "Rule")
    if r.expires or r.expired_object_delete_marker is not None:
        exp = sub(el, "Expiration")
        if r.expiration_days is not None:
            sub(exp, "Days", r.expiration_days)
        if r.expiration_date_s is not None:
            sub(exp, "Date", format_timestamp(r.expiration_date_s * 1_000_000_000))
        if r.expired_object_delete_marker is not None:
            sub(exp, "ExpiredObjectDeleteMarker", r.expired_object_delete_marker)
    sub(el, "ID", r.id)
    _add_filter(el, r.filter)
    sub(el, "Status", r.status)
    if r.noncurrent_days is not None:
        nve = sub(el, "NoncurrentVersionExpiration")
        sub(nve, "NoncurrentDays", r.noncurrent_days)
        if r.newer_noncurrent_versions is not None:
            sub(nve, "NewerNoncurrentVersions", r.newer_noncurrent_versions)
    if r.abort_days is not None:
        abort = sub(el, "AbortIncompleteMultipartUpload")
        sub(abort, "DaysAfterInitiation", r.abort_days)


def lifecycle_configuration(rules: Iterable[LifecycleRule]) -> bytes:
    """GetBucketLifecycleConfiguration's document (AWS's element order)."""
    root = element("LifecycleConfiguration")
    for r in rules:
        _add_rule(root, r)
    return serialize(root)
