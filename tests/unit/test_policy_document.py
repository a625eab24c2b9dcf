"""Bucket policy documents: what parses, what is refused and with which of AWS's
messages (aisfs/auth/policy/document.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.auth.policy import MAX_POLICY_BYTES, parse_policy
from aisfs.errors import S3Error

GET = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
       "Resource": "arn:aws:s3:::b/*"}


def doc(*statements: dict[str, Any], **top: Any) -> bytes:
    body: dict[str, Any] = {"Version": "2012-10-17", "Statement": list(statements)}
    body.update(top)
    return json.dumps(body).encode()


def refused(text: bytes, bucket: str = "b") -> str:
    with pytest.raises(S3Error) as caught:
        parse_policy(text, bucket)
    assert caught.value.code == "MalformedPolicy"
    assert caught.value.status == 400
    return caught.value.message


def test_a_plain_policy_parses() -> None:
    policy = parse_policy(doc(GET), "b")
    assert len(policy.statements) == 1
    assert policy.statements[0].allow
    assert policy.version == "2012-10-17"


def test_statement_may_be_one_object_and_version_defaults_to_2008() -> None:
    policy = parse_policy(json.dumps({"Statement": GET}).encode(), "b")
    assert policy.version == "2008-10-17"


@pytest.mark.parametrize(("text", "message"), [
    (b"", "Policies must be valid JSON and the first byte must be '{'"),
    (b" {}", "Policies must be valid JSON and the first byte must be '{'"),
    (b"[{}]", "Policies must be valid JSON and the first byte must be '{'"),
    (b"{nope", "This policy contains invalid Json"),
    (b"{\"Statement\": [\xff]}", "This policy contains invalid Json"),
    (b"{}", "Missing required field Statement"),
    (b'{"Statement": []}', "Could not parse the policy: Statement is empty!"),
    (b'{"Version": "2020-01-01", "Statement": []}',
     "The policy must contain a valid version string"),
    (b'{"Foo": 1, "Statement": []}', "Unknown field Foo"),
])
def test_document_refusals(text: bytes, message: str) -> None:
    assert refused(text) == message


def without(name: str, **extra: Any) -> dict[str, Any]:
    st = {k: v for k, v in GET.items() if k != name}
    st.update(extra)
    return st


@pytest.mark.parametrize(("statement", "message"), [
    (without("Effect"), "Missing required field Effect"),
    (without("Effect", Effect="allow"), "Invalid effect: allow"),
    (without("Principal"), "Missing required field Principal"),
    (without("Action"), "Missing required field Action"),
    (without("Resource"), "Missing required field Resource"),
    (without("Action", Action="s3:Nope"), "Policy has invalid action"),
    (without("Action", Action="iam:CreateUser"), "Policy has invalid action"),
    (without("Action", Action="s3:Nope*"), "Policy has invalid action"),
    (without("Action", Action=[]), "Policy has invalid action"),
    (without("Resource", Resource="arn:aws:s3:::other/*"), "Policy has invalid resource"),
    (without("Resource", Resource="arn:aws:s3:::bb/*"), "Policy has invalid resource"),
    (without("Resource", Resource="b/*"), "Policy has invalid resource"),
    (without("Resource", Resource="arn:aws:s3:::b"),
     "Action does not apply to any resource(s) in statement"),
    (without("Action", Action="s3:ListBucket"),
     "Action does not apply to any resource(s) in statement"),
    (without("Principal", Principal={"AWS": "arn:aws:iam::123456789012:root"}),
     "Invalid principal in policy"),
    (without("Principal", Principal={"AWS": "arn:aws:iam:::user/*"}),
     "Invalid principal in policy"),
    (without("Principal", Principal={"CanonicalUser": "abc"}), "Invalid principal in policy"),
    (without("Principal", Principal={"Federated": "x"}), "Invalid principal in policy"),
    (without("Principal", Principal="alice"), "Invalid principal in policy"),
    (without("Principal", NotPrincipal="*", Principal="*"),
     "Statement/policy already has instance of Principal"),
    (without("Sid", Bank="x"), "Unknown field Bank"),
    (without("Sid", Condition={"StringEqualz": {"aws:username": "a"}}),
     "Invalid Condition type : StringEqualz"),
    (without("Sid", Condition={"NullIfExists": {"aws:username": "true"}}),
     "Invalid Condition type : NullIfExists"),
    (without("Sid", Condition={"StringEquals": {"s3:nope": "a"}}),
     "Policy has an invalid condition key"),
    (without("Sid", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}}),
     "Invalid IP address in Conditions"),
])
def test_statement_refusals(statement: dict[str, Any], message: str) -> None:
    assert refused(doc(statement)) == message


def test_sids_must_be_unique() -> None:
    text = doc(dict(GET, Sid="a"), dict(GET, Sid="a"))
    assert refused(text) == "Statement IDs (SID) in a single policy must be unique."


def test_size_limit() -> None:
    big = dict(GET, Sid="x" * MAX_POLICY_BYTES)
    assert refused(doc(big)) == "Policy exceeds the maximum allowed document size."


@pytest.mark.parametrize("resource", [
    "*", "arn:aws:s3:::*", "arn:aws:s3:::b*", "arn:aws:s3:::b/*", "arn:aws:s3:::?/x",
    "arn:aws:s3:::b/${aws:username}/*", ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
])
def test_resources_in_the_bucket(resource: object) -> None:
    parse_policy(doc(dict(GET, Action="s3:*", Resource=resource)), "b")


@pytest.mark.parametrize("principal", [
    "*", {"AWS": "*"}, {"AWS": ["arn:aws:iam:::user/alice", "arn:aws:iam:::user/bob"]},
    {"CanonicalUser": "a" * 64}, {"Service": "logging.s3.amazonaws.com"},
])
def test_principal_forms(principal: object) -> None:
    parse_policy(doc(dict(GET, Principal=principal)), "b")


def test_actions_are_case_insensitive_and_wildcards_expand() -> None:
    st = parse_policy(doc(dict(GET, Action=["S3:getobject", "s3:List*"],
                               Resource=["arn:aws:s3:::b", "arn:aws:s3:::b/*"])), "b")
    actions = st.statements[0].actions
    assert "s3:GetObject" in actions
    assert {"s3:ListBucket", "s3:ListBucketVersions"} <= actions
    assert "s3:PutObject" not in actions


def test_every_condition_operator_parses() -> None:
    ops = ["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
           "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike", "NumericEquals",
           "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan",
           "NumericGreaterThanEquals", "Bool", "BinaryEquals", "ArnEquals", "ArnLike",
           "ArnNotEquals", "ArnNotLike"]
    cond: dict[str, Any] = {op: {"aws:username": "1"} for op in ops}
    cond.update({op + "IfExists": {"aws:userid": "1"} for op in ops})
    cond["ForAnyValue:StringLike"] = {"s3:prefix": ["a*", "b"]}
    cond["ForAllValues:StringEquals"] = {"s3:requestobjecttagkeys": ["a"]}
    cond["DateGreaterThan"] = {"aws:CurrentTime": "2020-01-01T00:00:00Z"}
    cond["DateLessThanIfExists"] = {"aws:EpochTime": 1700000000}
    cond["IpAddress"] = {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}
    cond["NotIpAddress"] = {"aws:SourceIp": "192.0.2.1"}
    cond["Null"] = {"s3:x-amz-acl": True}
    cond["Bool"] = {"aws:SecureTransport": False}
    policy = parse_policy(doc(dict(GET, Condition=cond)), "b")
    assert len(policy.statements[0].conditions) >= len(ops) * 2


@pytest.mark.parametrize("value", [{"a": 1}, [], [["x"]], None])
def test_bad_condition_values(value: object) -> None:
    refused(doc(dict(GET, Condition={"StringEquals": {"aws:username": value}})))


def test_numeric_and_date_values_must_parse() -> None:
    assert "NumericLessThan" in refused(
        doc(dict(GET, Condition={"NumericLessThan": {"s3:max-keys": "ten"}})))
    assert "DateLessThan" in refused(
        doc(dict(GET, Condition={"DateLessThan": {"aws:CurrentTime": "someday"}})))


# ---- any document: parsed, or MalformedPolicy - never another exception ---------------


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.sampled_from(["*", "Allow", "Deny", "s3:GetObject", "s3:Get*", "arn:aws:s3:::b/*",
                     "arn:aws:s3:::b", "arn:aws:iam:::user/alice", "10.0.0.0/8", "true",
                     "${aws:username}", "2012-10-17", "aws:SourceIp", "s3:prefix", "x"]),
    st.text(max_size=6),
)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["AWS", "CanonicalUser", "Service", "StringEquals",
                                     "IpAddress", "ForAnyValue:StringLike", "Null",
                                     "aws:SourceIp", "s3:prefix", "x"]), inner, max_size=3)),
    max_leaves=8)
FIELDS = ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
          "NotResource", "Condition"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=7), max_size=3),
       st.one_of(st.none(), JSON))
def test_any_structure_parses_or_is_malformed(statements: list[Any], version: Any) -> None:
    body: dict[str, Any] = {"Statement": statements}
    if version is not None:
        body["Version"] = version
    try:
        parse_policy(json.dumps(body).encode(), "b")
    except S3Error as e:
        assert e.code == "MalformedPolicy" and e.status == 400


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(FIELDS), JSON, st.sampled_from(FIELDS), JSON)
def test_a_valid_statement_with_fields_replaced(f1: str, v1: Any, f2: str, v2: Any) -> None:
    statement = dict(GET, Condition={"StringEquals": {"aws:username": "a"}})
    statement[f1] = v1
    statement[f2] = v2
    try:
        parse_policy(doc(statement), "b")
    except S3Error as e:
        assert e.code == "MalformedPolicy" and e.status == 400
