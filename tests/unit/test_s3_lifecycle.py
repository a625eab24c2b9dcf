"""Lifecycle rules, sans-IO: the XML document (parse, validate, build back), filter
matching, and expiry dates rounded up to the next midnight UTC as AWS does."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.s3 import lifecycle as lc
from aisfs.s3 import xml as s3xml

NS = 1_000_000_000


def ns(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp()) * NS


def doc(*rules: str) -> bytes:
    return ("<LifecycleConfiguration>" + "".join(rules) + "</LifecycleConfiguration>").encode()


def rule(body: str, rid: str = "r", status: str = "Enabled") -> str:
    return f"<Rule><ID>{rid}</ID><Status>{status}</Status>{body}</Rule>"


EXPIRE = "<Expiration><Days>3</Days></Expiration>"


def parsed(*rules: str) -> list[lc.LifecycleRule]:
    out = lc.named(s3xml.parse_lifecycle_configuration(doc(*rules)))
    lc.validate_rules(out)
    return out


def refused(*rules: str) -> tuple[str, str]:
    with pytest.raises(S3Error) as e:
        parsed(*rules)
    return e.value.code, e.value.message


# --------------------------------------------------------------------------- expiry dates


def test_expiry_rounds_up_to_next_midnight_as_aws_example() -> None:
    # AWS's example: created 2014-01-15 10:30 UTC, Days=3 -> 2014-01-19 00:00 UTC
    assert lc.expiry_ns(ns(2014, 1, 15, 10, 30), 3) == ns(2014, 1, 19)


def test_expiry_of_an_object_written_at_midnight_is_the_next_midnight() -> None:
    assert lc.expiry_ns(ns(2014, 1, 15), 1) == ns(2014, 1, 17)


@given(st.integers(0, 4_000_000_000) , st.integers(1, 10_000))
def test_expiry_is_a_midnight_after_start_plus_days(start_s: int, days: int) -> None:
    start = start_s * NS
    when = lc.expiry_ns(start, days)
    assert when % lc.DAY_NS == 0  # a midnight UTC
    assert start + days * lc.DAY_NS < when <= start + (days + 1) * lc.DAY_NS


@given(st.integers(0, 10**12), st.integers(1, 100), st.integers(1, 10**10))
def test_expiry_with_any_day_length(start: int, days: int, day: int) -> None:
    when = lc.expiry_ns(start, days, day)
    assert when % day == 0 and start + days * day < when <= start + (days + 1) * day


def test_expiration_header_format() -> None:
    value = lc.expiration_header(ns(2012, 12, 23), "picture-deletion-rule")
    assert value == 'expiry-date="Sun, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule"'


# --------------------------------------------------------------------------- matching


def test_filter_matching() -> None:
    f = lc.LifecycleFilter(prefix="logs/", tags=(("t", "1"),), size_greater_than=10,
                           size_less_than=100, form="and")
    assert lc.filter_matches(f, "logs/a", 50, {"t": "1", "x": "y"})
    assert not lc.filter_matches(f, "data/a", 50, {"t": "1"})
    assert not lc.filter_matches(f, "logs/a", 10, {"t": "1"})  # strictly greater
    assert not lc.filter_matches(f, "logs/a", 100, {"t": "1"})  # strictly less
    assert not lc.filter_matches(f, "logs/a", 50, {"t": "2"})
    assert not lc.filter_matches(f, "logs/a", 50, {})


@given(st.text(max_size=8), st.text(max_size=8), st.integers(0, 1000),
       st.dictionaries(st.sampled_from("abc"), st.sampled_from("xy"), max_size=3))
def test_empty_filter_matches_everything(prefix: str, key: str, size: int,
                                         tags: dict[str, str]) -> None:
    assert lc.filter_matches(lc.LifecycleFilter(), key, size, tags)
    assert lc.filter_matches(lc.LifecycleFilter(prefix=prefix), prefix + key, size, tags)


def test_earliest_enabled_rule_names_the_expiry() -> None:
    rules = parsed(
        rule("<Filter/><Expiration><Days>5</Days></Expiration>", "late"),
        rule("<Filter><Prefix>a</Prefix></Filter><Expiration><Days>2</Days></Expiration>",
             "early"),
        rule("<Filter/><Expiration><Days>1</Days></Expiration>", "off", "Disabled"),
    )
    t = ns(2020, 5, 1, 12)
    assert lc.expiration_of(rules, "abc", 1, {}, t) == (ns(2020, 5, 4), "early")
    assert lc.expiration_of(rules, "zzz", 1, {}, t) == (ns(2020, 5, 7), "late")
    assert lc.expiration_of(rules[2:], "zzz", 1, {}, t) is None


def test_upload_abort_due() -> None:
    (r,) = parsed(rule("<Filter><Prefix>tmp/</Prefix></Filter>"
                       "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1"
                       "</DaysAfterInitiation></AbortIncompleteMultipartUpload>"))
    start = ns(2020, 1, 1, 6)
    assert not lc.upload_abort_due(r, "tmp/x", start, ns(2020, 1, 2, 23))
    assert lc.upload_abort_due(r, "tmp/x", start, ns(2020, 1, 3))
    assert not lc.upload_abort_due(r, "keep/x", start, ns(2020, 2, 1))


# --------------------------------------------------------------------------- documents


ROUND_TRIP = [
    rule("<Prefix>legacy/</Prefix>" + EXPIRE, "legacy"),
    rule("<Filter/>" + EXPIRE, "empty"),
    rule("<Filter><Prefix>p/</Prefix></Filter>" + EXPIRE, "prefix"),
    rule("<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>" + EXPIRE, "tag"),
    rule("<Filter><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></Filter>" + EXPIRE, "gt"),
    rule("<Filter><ObjectSizeLessThan>9</ObjectSizeLessThan></Filter>" + EXPIRE, "lt"),
    rule("<Filter><And><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>"
         "<Tag><Key>k2</Key><Value></Value></Tag><ObjectSizeGreaterThan>1"
         "</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>"
         "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>", "and"),
    rule("<Filter/><NoncurrentVersionExpiration><NoncurrentDays>4</NoncurrentDays>"
         "<NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
         "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
         "versions", "Disabled"),
    rule("<Filter><Prefix>up/</Prefix></Filter><AbortIncompleteMultipartUpload>"
         "<DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>", "mpu"),
]


def test_round_trip_through_document_and_props() -> None:
    rules = parsed(*ROUND_TRIP)
    again = s3xml.parse_lifecycle_configuration(s3xml.lifecycle_configuration(rules))
    assert again == rules
    assert lc.rules_from_json(lc.rules_to_json(rules)) == rules
    assert rules[6].expiration_date_s == ns(2030, 1, 1) // NS


def test_a_rule_without_id_gets_one() -> None:
    (r,) = parsed("<Rule><Status>Enabled</Status><Filter/>" + EXPIRE + "</Rule>")
    assert 0 < len(r.id) <= 255


@pytest.mark.parametrize(
    ("rules", "code", "message"),
    [
        ((), "MalformedXML", ""),
        ((rule(EXPIRE, status="On"),), "MalformedXML", ""),
        ((rule(EXPIRE),), "MalformedXML", "<Filter>"),
        ((rule("<Prefix/><Filter/>" + EXPIRE),), "MalformedXML", "not both"),
        ((rule("<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
               + EXPIRE),), "MalformedXML", "<And>"),
        ((rule("<Filter/><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date>"
               "</Expiration>"),), "MalformedXML", ""),
        ((rule("<Filter/><Expiration><Days>x</Days></Expiration>"),), "MalformedXML", ""),
        ((rule("<Filter/><Expiration><Days>0</Days></Expiration>"),), "InvalidArgument",
         "'Days' for Expiration action must be a positive integer"),
        ((rule("<Filter/><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>"),),
         "InvalidArgument", "'Date' must be at midnight GMT"),
        ((rule("<Filter/>" + EXPIRE, rid="x" * 256),), "InvalidArgument",
         "ID length should not exceed allowed limit of 255"),
        ((rule("<Filter/>" + EXPIRE), rule("<Filter/>" + EXPIRE)), "InvalidArgument",
         "Rule ID must be unique. Found same ID for more than one rule"),
        ((rule("<Filter/>"),), "InvalidRequest",
         "At least one action needs to be specified in a rule"),
        ((rule("<Filter/><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays>"
               "</NoncurrentVersionExpiration>"),), "InvalidArgument",
         "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"),
        ((rule("<Filter/><AbortIncompleteMultipartUpload><DaysAfterInitiation>-1"
               "</DaysAfterInitiation></AbortIncompleteMultipartUpload>"),), "InvalidArgument",
         "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive"),
        ((rule("<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
               "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
               "</AbortIncompleteMultipartUpload>"),), "InvalidRequest", "Tags"),
        ((rule("<Filter><And><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>k</Key>"
               "<Value>w</Value></Tag></And></Filter>" + EXPIRE),), "InvalidRequest",
         "Duplicate Tag Keys"),
        ((rule("<Filter><And><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan>"
               "<ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>" + EXPIRE),),
         "InvalidRequest", "ObjectSizeGreaterThan must be less than ObjectSizeLessThan"),
        ((rule("<Filter/><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true"
               "</ExpiredObjectDeleteMarker></Expiration>"),), "MalformedXML",
         "ExpiredObjectDeleteMarker cannot be specified with Days or Date"),
        ((rule("<Filter/><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass>"
               "</Transition>"),), "NotImplemented", "Transition"),
    ],
)
def test_refusals(rules: tuple[str, ...], code: str, message: str) -> None:
    got_code, got_message = refused(*rules)
    assert got_code == code
    assert message in got_message


def test_more_than_1000_rules_is_malformed() -> None:
    many = [rule("<Filter/>" + EXPIRE, rid=f"r{i}") for i in range(1001)]
    assert refused(*many)[0] == "MalformedXML"
    assert len(parsed(*many[:1000])) == 1000


@given(st.binary(max_size=300))
def test_any_bytes_are_parsed_or_refused_with_an_s3_error(body: bytes) -> None:
    try:
        lc.validate_rules(s3xml.parse_lifecycle_configuration(body))
    except S3Error:
        pass


def test_hostile_documents_are_malformed() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
            b"<LifecycleConfiguration>&a;</LifecycleConfiguration>")
    with pytest.raises(S3Error) as e:
        s3xml.parse_lifecycle_configuration(bomb)
    assert e.value.code == "MalformedXML"


# --------------------------------------------------------------------------- generated


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)


def _tag_xml(k: str, v: str) -> str:
    return f"<Tag><Key>{escape(k)}</Key><Value>{escape(v)}</Value></Tag>"


@st.composite
def _filters(draw: st.DrawFn) -> str:
    form = draw(st.sampled_from(["legacy", "empty", "prefix", "tag", "and", "gt", "lt"]))
    prefix = escape(draw(_TEXT))
    key = draw(_TEXT.filter(lambda s: len(s) >= 1))
    if form == "legacy":
        return f"<Prefix>{prefix}</Prefix>"
    if form == "empty":
        return "<Filter></Filter>"
    if form == "prefix":
        return f"<Filter><Prefix>{prefix}</Prefix></Filter>"
    if form == "tag":
        return f"<Filter>{_tag_xml(key, draw(_TEXT))}</Filter>"
    if form == "gt":
        return f"<Filter><ObjectSizeGreaterThan>{draw(st.integers(0, 2**40))}" \
               "</ObjectSizeGreaterThan></Filter>"
    if form == "lt":
        return f"<Filter><ObjectSizeLessThan>{draw(st.integers(0, 2**40))}" \
               "</ObjectSizeLessThan></Filter>"
    lo = draw(st.integers(0, 100))
    return (f"<Filter><And><Prefix>{prefix}</Prefix>{_tag_xml(key, draw(_TEXT))}"
            f"<ObjectSizeGreaterThan>{lo}</ObjectSizeGreaterThan>"
            f"<ObjectSizeLessThan>{lo + draw(st.integers(1, 100))}</ObjectSizeLessThan>"
            "</And></Filter>")


@st.composite
def _rules(draw: st.DrawFn) -> list[str]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        status = draw(st.sampled_from(["Enabled", "Disabled"]))
        if draw(st.booleans()):
            action = f"<Expiration><Days>{draw(st.integers(1, 10**6))}</Days></Expiration>"
        else:
            day = draw(st.dates(min_value=datetime(1971, 1, 1).date()))
            action = f"<Expiration><Date>{day.isoformat()}T00:00:00Z</Date></Expiration>"
        out.append(f"<Rule><ID>r{i}{escape(draw(_TEXT))}</ID><Status>{status}</Status>"
                   f"{draw(_filters())}{action}</Rule>")
    return out


@given(_rules())
def test_generated_documents_round_trip(rules: list[str]) -> None:
    got = parsed(*rules)
    assert s3xml.parse_lifecycle_configuration(s3xml.lifecycle_configuration(got)) == got
    assert lc.rules_from_json(lc.rules_to_json(got)) == got
