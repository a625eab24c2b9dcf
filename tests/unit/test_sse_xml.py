"""The ServerSideEncryptionConfiguration document (aisfs.s3.xml.encryption)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.s3.xml.encryption import (
    EncryptionRule,
    encryption_configuration,
    parse_encryption_configuration,
)

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def doc(rule: str, rules: int = 1) -> bytes:
    return (f"<ServerSideEncryptionConfiguration {NS}>" + f"<Rule>{rule}</Rule>" * rules
            + "</ServerSideEncryptionConfiguration>").encode()


AES = "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>" \
      "</ApplyServerSideEncryptionByDefault>"


def test_round_trip() -> None:
    rule = parse_encryption_configuration(doc(AES + "<BucketKeyEnabled>true</BucketKeyEnabled>"))
    assert rule == EncryptionRule("AES256", True)
    assert parse_encryption_configuration(encryption_configuration(rule)) == rule
    assert parse_encryption_configuration(doc(AES)) == EncryptionRule("AES256", False)


@pytest.mark.parametrize(("body", "code"), [
    (doc(AES, rules=2), "MalformedXML"),
    (doc(""), "MalformedXML"),
    (doc(AES.replace("AES256", "ROT13")), "MalformedXML"),
    (doc(AES.replace("AES256", "aws:kms")), "NotImplemented"),
    (doc(AES.replace("</SSEAlgorithm>", "</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID>")),
     "InvalidArgument"),
    (doc(AES + "<BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType>"
               "</BlockedEncryptionTypes>"), "NotImplemented"),
    (doc(AES + "<BucketKeyEnabled>maybe</BucketKeyEnabled>"), "MalformedXML"),
    (b"<Other/>", "MalformedXML"),
    (b"", "MalformedXML"),
    (b'<!DOCTYPE x [<!ENTITY a "b">]><ServerSideEncryptionConfiguration/>', "MalformedXML"),
])
def test_refusals(body: bytes, code: str) -> None:
    with pytest.raises(S3Error) as e:
        parse_encryption_configuration(body)
    assert e.value.code == code


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_an_s3_error_or_a_rule(body: bytes) -> None:
    try:
        parse_encryption_configuration(body)
    except S3Error as e:
        assert e.status in (400, 501)
