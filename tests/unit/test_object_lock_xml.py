"""Object lock documents (aisfs.s3.xml.object_lock): what AWS accepts, what it refuses
and with which code, hostile XML, and the answers built back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.s3 import xml as s3xml
from aisfs.s3.object_lock import COMPLIANCE, GOVERNANCE, BucketLockConfig, DefaultRetention

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def cfg_doc(inner: str, enabled: str = "<ObjectLockEnabled>Enabled</ObjectLockEnabled>") -> bytes:
    top = f'<ObjectLockConfiguration xmlns="{NS}">'
    return f"{top}{enabled}{inner}</ObjectLockConfiguration>".encode()


def rule(inner: str) -> str:
    return f"<Rule><DefaultRetention>{inner}</DefaultRetention></Rule>"


def refused(fn: object, body: bytes) -> str:
    with pytest.raises(S3Error) as e:
        fn(body)  # type: ignore[operator]
    return e.value.code


def test_configuration_enabled_alone_and_with_a_rule() -> None:
    assert s3xml.parse_object_lock_configuration(cfg_doc("")) == BucketLockConfig(True)
    got = s3xml.parse_object_lock_configuration(
        cfg_doc(rule("<Mode>GOVERNANCE</Mode><Days> 7 </Days>")))
    assert got == BucketLockConfig(True, DefaultRetention(GOVERNANCE, days=7))
    got = s3xml.parse_object_lock_configuration(
        cfg_doc(rule("<Mode>COMPLIANCE</Mode><Years>1</Years>")))
    assert got == BucketLockConfig(True, DefaultRetention(COMPLIANCE, years=1))


@pytest.mark.parametrize(("body", "code"), [
    (cfg_doc("", "<ObjectLockEnabled>Disabled</ObjectLockEnabled>"), "MalformedXML"),
    (cfg_doc("", ""), "MalformedXML"),
    (cfg_doc("<Rule></Rule>"), "MalformedXML"),
    (cfg_doc(rule("<Days>1</Days>")), "MalformedXML"),
    (cfg_doc(rule("<Mode>invalid</Mode><Days>1</Days>")), "MalformedXML"),
    (cfg_doc(rule("<Mode>GOVERNANCE</Mode>")), "MalformedXML"),
    (cfg_doc(rule("<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>")), "MalformedXML"),
    (cfg_doc(rule("<Mode>GOVERNANCE</Mode><Days>one</Days>")), "MalformedXML"),
    (cfg_doc(rule("<Mode>GOVERNANCE</Mode><Days>99999999999999</Days>")), "MalformedXML"),
    (cfg_doc(rule("<Mode>GOVERNANCE</Mode><Days>0</Days>")), "InvalidArgument"),
    (cfg_doc(rule("<Mode>GOVERNANCE</Mode><Years>-1</Years>")), "InvalidArgument"),
    (cfg_doc(rule("<Mode>GOVERNANCE</Mode><Years>101</Years>")), "InvalidArgument"),
    (cfg_doc(rule("<Mode>GOVERNANCE</Mode><Days>36501</Days>")), "InvalidArgument"),
    (b"", "MalformedXML"),
    (b"<ObjectLockConfiguration>", "MalformedXML"),
    (b"<Retention/>", "MalformedXML"),
    (b'<!DOCTYPE x [<!ENTITY a "b">]><ObjectLockConfiguration/>', "MalformedXML"),
])
def test_configuration_refusals(body: bytes, code: str) -> None:
    assert refused(s3xml.parse_object_lock_configuration, body) == code


@pytest.mark.parametrize("cfg", [
    BucketLockConfig(True),
    BucketLockConfig(True, DefaultRetention(GOVERNANCE, days=30)),
    BucketLockConfig(True, DefaultRetention(COMPLIANCE, years=5)),
])
def test_configuration_round_trips(cfg: BucketLockConfig) -> None:
    built = s3xml.object_lock_configuration(cfg)
    assert built.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert s3xml.parse_object_lock_configuration(built) == cfg


def test_retention_set_and_removed() -> None:
    body = b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-02-01T00:00:00Z" \
           b"</RetainUntilDate></Retention>"
    mode, until = s3xml.parse_object_retention(body)
    assert mode == GOVERNANCE and until == 1_896_134_400 * 10**9
    assert s3xml.parse_object_retention(b"<Retention/>") == (None, None)
    assert s3xml.parse_object_retention(s3xml.object_retention(COMPLIANCE, until)) == (
        COMPLIANCE, until)


@pytest.mark.parametrize("body", [
    b"<Retention><Mode>invalid</Mode><RetainUntilDate>2030-02-01T00:00:00Z</RetainUntilDate>"
    b"</Retention>",
    b"<Retention><Mode>GOVERNANCE</Mode></Retention>",
    b"<Retention><RetainUntilDate>2030-02-01T00:00:00Z</RetainUntilDate></Retention>",
    b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>soon</RetainUntilDate></Retention>",
    b"<Retention><Mode>GOVERNANCE</Mode><Mode>GOVERNANCE</Mode></Retention>",
    b"<LegalHold><Status>ON</Status></LegalHold>",
])
def test_retention_refusals_are_malformed_xml(body: bytes) -> None:
    assert refused(s3xml.parse_object_retention, body) == "MalformedXML"


def test_legal_hold() -> None:
    assert s3xml.parse_object_legal_hold(b"<LegalHold><Status>ON</Status></LegalHold>")
    assert not s3xml.parse_object_legal_hold(s3xml.object_legal_hold(False))
    for bad in (b"<LegalHold><Status>abc</Status></LegalHold>", b"<LegalHold/>", b"ON"):
        assert refused(s3xml.parse_object_legal_hold, bad) == "MalformedXML"


@given(st.binary(max_size=200))
def test_any_bytes_are_parsed_or_refused_as_an_s3_error(body: bytes) -> None:
    for fn in (s3xml.parse_object_lock_configuration, s3xml.parse_object_retention,
               s3xml.parse_object_legal_hold):
        try:
            fn(body)
        except S3Error as e:
            assert e.status == 400
