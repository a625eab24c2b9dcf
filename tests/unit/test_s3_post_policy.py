"""POST Object policies and signatures (aisfs/s3/post_policy.py): AWS's documented
example signed as AWS signs it, conditions, uncovered fields, expiry, malformed documents."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from aisfs.errors import S3Error
from aisfs.s3 import post_policy as pp
from aisfs.s3.signing_keys import derive_signing_key, sign

SECRETS = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}


def b64(doc: Any) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


def code(call: Any, *args: Any) -> tuple[str, str]:
    with pytest.raises(S3Error) as e:
        call(*args)
    return e.value.code, e.value.message


def v4_fields(policy: str, secret: str = SECRETS["AKIDEXAMPLE"]) -> dict[str, str]:
    key = derive_signing_key(secret, "20261205", "us-east-1", "s3")
    return {"policy": policy, "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": "AKIDEXAMPLE/20261205/us-east-1/s3/aws4_request",
            "x-amz-date": "20261205T000000Z", "x-amz-signature": sign(key, policy)}


def test_sigv4_signature() -> None:
    policy = b64({"expiration": "2030-01-01T00:00:00Z", "conditions": []})
    fields = v4_fields(policy)
    assert pp.verify_signature(fields, SECRETS) == pp.Signed("AKIDEXAMPLE", "sigv4")
    bad = v4_fields(policy, "wrong")
    assert code(pp.verify_signature, bad, SECRETS)[0] == "SignatureDoesNotMatch"
    assert code(pp.verify_signature, {**fields, "policy": policy + "="}, SECRETS)[0] \
        == "SignatureDoesNotMatch"
    unknown = {**fields, "x-amz-credential": "NOPE/20261205/us-east-1/s3/aws4_request"}
    assert code(pp.verify_signature, unknown, SECRETS)[0] == "InvalidAccessKeyId"
    for name in ("x-amz-credential", "x-amz-date", "x-amz-signature"):
        short = {k: v for k, v in fields.items() if k != name}
        assert code(pp.verify_signature, short, SECRETS)[0] == "InvalidArgument"
    garbled = {**fields, "x-amz-credential": "AKIDEXAMPLE/x/us-east-1/s3"}
    assert code(pp.verify_signature, garbled, SECRETS)[0] == "InvalidArgument"


def test_sigv2_signature() -> None:
    policy = b64({"expiration": "2030-01-01T00:00:00Z", "conditions": []})
    mac = hmac.new(SECRETS["AKIDEXAMPLE"].encode(), policy.encode(), hashlib.sha1).digest()
    fields = {"policy": policy, "awsaccesskeyid": "AKIDEXAMPLE",
              "signature": base64.b64encode(mac).decode()}
    assert pp.verify_signature(fields, SECRETS) == pp.Signed("AKIDEXAMPLE", "sigv2")
    assert code(pp.verify_signature, {**fields, "signature": "AAAA"}, SECRETS)[0] \
        == "SignatureDoesNotMatch"
    assert code(pp.verify_signature, {"awsaccesskeyid": "AKIDEXAMPLE", "signature": "x"},
                SECRETS)[0] == "InvalidArgument"
    assert code(pp.verify_signature, {"key": "k"}, SECRETS)[0] == "AccessDenied"


def test_conditions() -> None:
    policy = pp.parse_policy(b64({"expiration": "2030-01-01T00:00:00.000Z", "conditions": [
        {"bucket": "photos"}, ["starts-with", "$key", "user/eric/"],
        {"acl": "public-read"}, ["eq", "$x-amz-meta-tag", "v"],
        ["starts-with", "$Content-Type", "image/"], ["content-length-range", 1, "100"],
    ]}))
    assert policy.length_range == (1, 100)
    good = {"key": "user/eric/a.jpg", "acl": "public-read", "x-amz-meta-tag": "v",
            "content-type": "image/jpeg, image/png", "policy": "p", "x-amz-signature": "s",
            "x-ignore-me": "1"}
    pp.check_conditions(policy, good, "photos")
    c, m = code(pp.check_conditions, policy, {**good, "key": "other/a"}, "photos")
    assert (c, m) == ("AccessDenied", 'Invalid according to Policy: Policy Condition failed: '
                                      '["starts-with", "$key", "user/eric/"]')
    c, m = code(pp.check_conditions, policy, good, "other")
    assert m.endswith('["eq", "$bucket", "photos"]')
    c, m = code(pp.check_conditions, policy, {**good, "content-type": "image/a,text/b"}, "photos")
    assert "$Content-Type" in m
    missing = {k: v for k, v in good.items() if k != "acl"}
    assert "Policy Condition failed" in code(pp.check_conditions, policy, missing, "photos")[1]
    c, m = code(pp.check_conditions, policy, {**good, "x-amz-meta-other": "1"}, "photos")
    assert m == "Invalid according to Policy: Extra input fields: x-amz-meta-other"


def test_lengths_and_expiry() -> None:
    policy = pp.parse_policy(b64({"expiration": "2030-01-01T00:00:00Z",
                                  "conditions": [["content-length-range", 10, 20]]}))
    pp.check_length(policy, 10)
    pp.check_length(policy, 20)
    assert code(pp.check_length, policy, 9)[0] == "EntityTooSmall"
    assert code(pp.check_length, policy, 21)[0] == "EntityTooLarge"
    pp.check_length(None, 10**12)
    pp.check_expiration(policy, time.time())
    c, m = code(pp.check_expiration, policy, 1_900_000_000.0)
    assert (c, m) == ("AccessDenied", "Invalid according to Policy: Policy expired.")


@pytest.mark.parametrize("doc", [
    "not base64!", base64.b64encode(b"{not json").decode(), b64([1, 2]),
    b64({"conditions": []}), b64({"expiration": "2030-01-01T00:00:00Z"}),
    b64({"expiration": "tomorrow", "conditions": []}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [{"a": "b", "c": "d"}]}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [["matches", "$key", "x"]]}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [["eq", "key", "x"]]}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [["eq", "$key"]]}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", -1, 5]]}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [{"key": 5}]}),
    b64({"expiration": "2030-01-01T00:00:00Z", "conditions": [7]}),
])
def test_malformed_policies(doc: str) -> None:
    c, _ = code(pp.parse_policy, doc)
    assert c == "InvalidPolicyDocument"
