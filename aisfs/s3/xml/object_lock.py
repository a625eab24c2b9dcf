"""Object lock documents: ``ObjectLockConfiguration``, ``Retention`` and ``LegalHold``,
parsed with defusedxml into ``aisfs.s3.object_lock`` values and built back as AWS answers
GetObjectLockConfiguration, GetObjectRetention and GetObjectLegalHold.

What the schema refuses is ``MalformedXML`` (``ObjectLockEnabled`` other than
``Enabled``, a ``Rule`` without ``DefaultRetention``, a mode other than GOVERNANCE or
COMPLIANCE, both ``Days`` and ``Years`` or neither, a number or date that is not one, a
legal-hold status other than ON or OFF); a period that is not positive, or longer than
100 years, is AWS's ``InvalidArgument``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aisfs.errors import S3Error
from aisfs.numbers import INT32_MAX, NumberError, parse_int
from aisfs.s3.object_lock import (
    MAX_DAYS,
    MAX_YEARS,
    MODES,
    BucketLockConfig,
    DefaultRetention,
    format_date,
    parse_date,
)

from .build import element, serialize, sub
from .reading import XML_SPACE as _XML_SPACE
from .reading import malformed as _malformed
from .reading import one as _one
from .reading import parse_root as _root


def _text(el: ET.Element, tag: str) -> str | None:
    c = _one(el, tag)
    return None if c is None else (c.text or "").strip(_XML_SPACE)



def _mode(el: ET.Element) -> str | None:
    mode = _text(el, "Mode")
    if mode is not None and mode not in MODES:
        raise _malformed("<Mode> must be GOVERNANCE or COMPLIANCE")
    return mode


def _period(el: ET.Element, tag: str, most: int) -> int | None:
    text = _text(el, tag)
    if text is None:
        return None
    try:
        n = parse_int(text, lo=-INT32_MAX - 1, hi=INT32_MAX)
    except NumberError:
        raise _malformed(f"<{tag}> must be an integer") from None
    if n <= 0:
        raise S3Error("InvalidArgument", "Default retention period must be a positive integer "
                      "value", extra={"ArgumentName": tag, "ArgumentValue": str(n)})
    if n > most:
        raise S3Error("InvalidArgument", "Default retention period is too large.",
                      extra={"ArgumentName": tag, "ArgumentValue": str(n)})
    return n


# --------------------------------------------------------------------------- configuration


def parse_object_lock_configuration(body: bytes) -> BucketLockConfig:
    """PutObjectLockConfiguration's body."""
    root = _root(body, "ObjectLockConfiguration")
    if _text(root, "ObjectLockEnabled") != "Enabled":
        raise _malformed("<ObjectLockEnabled> must be Enabled")
    rule = _one(root, "Rule")
    if rule is None:
        return BucketLockConfig(True, None)
    dr = _one(rule, "DefaultRetention")
    if dr is None:
        raise _malformed("<Rule> needs <DefaultRetention>")
    mode = _mode(dr)
    if mode is None:
        raise _malformed("<DefaultRetention> needs <Mode>")
    has_days, has_years = _one(dr, "Days") is not None, _one(dr, "Years") is not None
    if has_days == has_years:
        raise _malformed("<DefaultRetention> needs one of <Days> and <Years>")
    days, years = _period(dr, "Days", MAX_DAYS), _period(dr, "Years", MAX_YEARS)
    return BucketLockConfig(True, DefaultRetention(mode, days, years))


def object_lock_configuration(config: BucketLockConfig) -> bytes:
    """GetObjectLockConfiguration's answer."""
    top = element("ObjectLockConfiguration")
    sub(top, "ObjectLockEnabled", "Enabled")
    d = config.default
    if d is not None:
        dr = sub(sub(top, "Rule"), "DefaultRetention")
        sub(dr, "Mode", d.mode)
        if d.days is not None:
            sub(dr, "Days", d.days)
        else:
            sub(dr, "Years", d.years)
    return serialize(top)


# --------------------------------------------------------------------------- retention


def parse_object_retention(body: bytes) -> tuple[str | None, int | None]:
    """PutObjectRetention's body: (mode, retain-until ns); (None, None) removes it."""
    root = _root(body, "Retention")
    mode = _mode(root)
    date = _text(root, "RetainUntilDate")
    if (mode is None) != (date is None):
        raise _malformed("<Retention> needs both <Mode> and <RetainUntilDate>, or neither")
    if date is None:
        return None, None
    until = parse_date(date)
    if until is None:
        raise _malformed("<RetainUntilDate> is not an ISO 8601 date")
    return mode, until


def object_retention(mode: str, until_ns: int) -> bytes:
    """GetObjectRetention's answer."""
    top = element("Retention")
    sub(top, "Mode", mode)
    sub(top, "RetainUntilDate", format_date(until_ns))
    return serialize(top)


# --------------------------------------------------------------------------- legal hold


def parse_object_legal_hold(body: bytes) -> bool:
    """PutObjectLegalHold's body: whether the hold is ON."""
    root = _root(body, "LegalHold")
    status = _text(root, "Status")
    if status not in ("ON", "OFF"):
        raise _malformed("<Status> must be ON or OFF")
    return status == "ON"


def object_legal_hold(on: bool) -> bytes:
    """GetObjectLegalHold's answer."""
    top = element("LegalHold")
    sub(top, "Status", "ON" if on else "OFF")
    return serialize(top)
