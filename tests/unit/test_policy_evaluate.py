"""Bucket policy evaluation (aisfs/auth/policy): principals, actions, resources,
conditions, explicit Deny, "public"; and properties over generated policies."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.auth.policy import (
    PolicyRequest,
    actions_for,
    evaluate,
    is_public,
    parse_policy,
    principal_names,
    resource_for,
)
from aisfs.auth.policy.patterns import wildcard_match

ALICE = principal_names("a" * 64, "alice")
BOB = principal_names("b" * 64, "bob")
ANON: frozenset[str] = frozenset()
OBJ = "arn:aws:s3:::b/*"


def policy(*statements: dict[str, Any], version: str = "2012-10-17") -> Any:
    return parse_policy(json.dumps({"Version": version, "Statement": list(statements)})
                        .encode(), "b")


def stmt(effect: str = "Allow", principal: Any = "*", action: Any = "s3:GetObject",
         resource: Any = OBJ, **extra: Any) -> dict[str, Any]:
    out = {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource}
    out.update(extra)
    return out


def decide(p: Any, action: str = "s3:GetObject", key: str | None = "k",
           who: frozenset[str] = ALICE, ctx: dict[str, Any] | None = None) -> str:
    return evaluate(p, PolicyRequest(action, resource_for("b", key), who, ctx or {}))


def test_principal_names() -> None:
    assert {"arn:aws:iam:::user/alice", "a" * 64} == ALICE


def test_star_is_everyone_anonymous_included() -> None:
    for principal in ("*", {"AWS": "*"}):
        p = policy(stmt(principal=principal))
        assert decide(p, who=ANON) == "Allow"
        assert decide(p, who=BOB) == "Allow"


def test_user_and_canonical_principals() -> None:
    p = policy(stmt(principal={"AWS": "arn:aws:iam:::user/alice"}))
    assert decide(p, who=ALICE) == "Allow"
    assert decide(p, who=BOB) == "NoMatch"
    assert decide(p, who=ANON) == "NoMatch"
    p = policy(stmt(principal={"CanonicalUser": "B" * 64}))
    assert decide(p, who=BOB) == "Allow"
    assert decide(p, who=ALICE) == "NoMatch"


def test_not_principal_denies_everyone_else() -> None:
    deny = {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam:::user/alice"},
            "Action": "s3:*", "Resource": [OBJ, "arn:aws:s3:::b"]}
    p = policy(deny, stmt())
    assert decide(p, who=ALICE) == "Allow"
    assert decide(p, who=BOB) == "Deny"
    assert decide(p, who=ANON) == "Deny"


def test_explicit_deny_wins() -> None:
    p = policy(stmt(), stmt("Deny", resource="arn:aws:s3:::b/secret/*"))
    assert decide(p, key="public/x") == "Allow"
    assert decide(p, key="secret/x") == "Deny"


def test_actions_wildcards_and_not_action() -> None:
    p = policy(stmt(action="s3:Get*"))
    assert decide(p, "s3:GetObjectTagging") == "Allow"
    assert decide(p, "s3:PutObject") == "NoMatch"
    del_p = {k: v for k, v in stmt().items() if k != "Action"}
    p = policy(dict(del_p, NotAction="s3:DeleteObject"))
    assert decide(p, "s3:PutObject") == "Allow"
    assert decide(p, "s3:DeleteObject") == "NoMatch"


def test_resources_and_not_resource() -> None:
    p = policy(stmt(resource="arn:aws:s3:::b/docs/*.txt"))
    assert decide(p, key="docs/a/b.txt") == "Allow"
    assert decide(p, key="docs/a.pdf") == "NoMatch"
    p = policy(stmt(resource="arn:aws:s3:::b/?.txt"))
    assert decide(p, key="a.txt") == "Allow"
    assert decide(p, key="ab.txt") == "NoMatch"
    base = {k: v for k, v in stmt("Deny").items() if k != "Resource"}
    p = policy(stmt(), dict(base, NotResource="arn:aws:s3:::b/public/*"))
    assert decide(p, key="public/x") == "Allow"
    assert decide(p, key="private/x") == "Deny"


def test_bucket_actions_need_the_bucket_arn() -> None:
    p = policy(stmt(action="s3:ListBucket", resource="arn:aws:s3:::b"))
    assert decide(p, "s3:ListBucket", key=None) == "Allow"
    assert decide(p, "s3:GetObject", key="x") == "NoMatch"


def test_policy_variables_in_resource() -> None:
    p = policy(stmt(resource="arn:aws:s3:::b/home/${aws:username}/*"))
    assert decide(p, key="home/alice/x", ctx={"aws:username": "alice"}) == "Allow"
    assert decide(p, key="home/bob/x", ctx={"aws:username": "alice"}) == "NoMatch"
    assert decide(p, key="home/alice/x") == "NoMatch"  # no value: no match
    assert decide(p, key="home/alice/x", ctx={"aws:username": ["alice"]}) == "Allow"
    assert decide(p, key="home/alice/x", ctx={"aws:username": ["alice", "b"]}) == "NoMatch"
    # a value is literal, never a wildcard
    assert decide(p, key="home/alice/x", ctx={"aws:username": "*"}) == "NoMatch"
    # 2008-10-17 has no variables: the text is literal
    p = policy(stmt(resource="arn:aws:s3:::b/${aws:username}"), version="2008-10-17")
    assert decide(p, key="${aws:username}", ctx={"aws:username": "alice"}) == "Allow"


def test_variable_escapes_and_default() -> None:
    p = policy(stmt(resource="arn:aws:s3:::b/${*}/${aws:username, 'anon'}"))
    assert decide(p, key="*/anon") == "Allow"
    assert decide(p, key="x/anon") == "NoMatch"


def cond(block: dict[str, Any]) -> Any:
    return policy(stmt(Condition=block))


def test_string_conditions() -> None:
    p = cond({"StringEquals": {"s3:x-amz-acl": ["public-read", "private"]}})
    assert decide(p, ctx={"s3:x-amz-acl": "private"}) == "Allow"
    assert decide(p, ctx={"s3:x-amz-acl": "Private"}) == "NoMatch"
    assert decide(p) == "NoMatch"
    p = cond({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}})
    assert decide(p, ctx={"aws:username": "alice"}) == "Allow"
    p = cond({"StringNotEquals": {"aws:username": "alice"}})
    assert decide(p, ctx={"aws:username": "bob"}) == "Allow"
    assert decide(p, ctx={"aws:username": "alice"}) == "NoMatch"
    assert decide(p) == "Allow"  # a negated operator, key absent: true
    p = cond({"StringLike": {"s3:prefix": "home/*"}})
    assert decide(p, ctx={"s3:prefix": "home/a"}) == "Allow"
    assert decide(p, ctx={"s3:prefix": "other"}) == "NoMatch"
    p = cond({"StringNotLike": {"s3:prefix": "home/*"}})
    assert decide(p, ctx={"s3:prefix": "home/a"}) == "NoMatch"
    p = cond({"StringEquals": {"s3:prefix": "home/${aws:username}/"}})
    assert decide(p, ctx={"s3:prefix": "home/alice/", "aws:username": "alice"}) == "Allow"


def test_if_exists_and_null() -> None:
    p = cond({"StringEqualsIfExists": {"s3:x-amz-acl": "private"}})
    assert decide(p) == "Allow"
    assert decide(p, ctx={"s3:x-amz-acl": "private"}) == "Allow"
    assert decide(p, ctx={"s3:x-amz-acl": "public-read"}) == "NoMatch"
    p = cond({"Null": {"s3:x-amz-acl": "true"}})
    assert decide(p) == "Allow"
    assert decide(p, ctx={"s3:x-amz-acl": "private"}) == "NoMatch"
    p = cond({"Null": {"s3:x-amz-acl": False}})
    assert decide(p, ctx={"s3:x-amz-acl": "private"}) == "Allow"


def test_numeric_date_bool() -> None:
    p = cond({"NumericLessThanEquals": {"s3:max-keys": "10"}})
    assert decide(p, ctx={"s3:max-keys": "10"}) == "Allow"
    assert decide(p, ctx={"s3:max-keys": "11"}) == "NoMatch"
    assert decide(p, ctx={"s3:max-keys": "many"}) == "NoMatch"
    p = cond({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})
    assert decide(p, ctx={"aws:currenttime": "2026-12-06T01:00:00Z"}) == "Allow"
    assert decide(p, ctx={"aws:currenttime": "2031-01-01T00:00:00Z"}) == "NoMatch"
    p = cond({"DateGreaterThan": {"aws:EpochTime": "1700000000"}})
    assert decide(p, ctx={"aws:epochtime": "1800000000"}) == "Allow"
    p = cond({"Bool": {"aws:SecureTransport": "false"}})
    assert decide(p, ctx={"aws:securetransport": "false"}) == "Allow"
    assert decide(p, ctx={"aws:securetransport": "true"}) == "NoMatch"


def test_ip_conditions() -> None:
    p = cond({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}})
    assert decide(p, ctx={"aws:sourceip": "10.1.2.3"}) == "Allow"
    assert decide(p, ctx={"aws:sourceip": "::ffff:10.1.2.3"}) == "Allow"
    assert decide(p, ctx={"aws:sourceip": "2001:db8::1"}) == "Allow"
    assert decide(p, ctx={"aws:sourceip": "192.0.2.1"}) == "NoMatch"
    assert decide(p, ctx={"aws:sourceip": "junk"}) == "NoMatch"
    p = cond({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert decide(p, ctx={"aws:sourceip": "192.0.2.1"}) == "Allow"
    assert decide(p, ctx={"aws:sourceip": "10.0.0.1"}) == "NoMatch"


def test_arn_conditions() -> None:
    p = cond({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::b*"}})
    assert decide(p, ctx={"aws:sourcearn": "arn:aws:s3:::bx"}) == "Allow"
    assert decide(p, ctx={"aws:sourcearn": "arn:aws:iam:::bx"}) == "NoMatch"


def test_set_qualifiers() -> None:
    p = cond({"ForAnyValue:StringEquals": {"s3:requestobjecttagkeys": ["a", "b"]}})
    assert decide(p, ctx={"s3:requestobjecttagkeys": ["x", "a"]}) == "Allow"
    assert decide(p, ctx={"s3:requestobjecttagkeys": ["x"]}) == "NoMatch"
    assert decide(p) == "NoMatch"
    p = cond({"ForAllValues:StringEquals": {"s3:requestobjecttagkeys": ["a", "b"]}})
    assert decide(p, ctx={"s3:requestobjecttagkeys": ["a", "b"]}) == "Allow"
    assert decide(p, ctx={"s3:requestobjecttagkeys": ["a", "x"]}) == "NoMatch"
    assert decide(p) == "Allow"  # absent: true, as AWS documents
    p = cond({"ForAllValues:StringNotEquals": {"s3:requestobjecttagkeys": ["secret"]}})
    assert decide(p, ctx={"s3:requestobjecttagkeys": ["a", "b"]}) == "Allow"
    assert decide(p, ctx={"s3:requestobjecttagkeys": ["a", "secret"]}) == "NoMatch"


def test_condition_keys_are_case_insensitive() -> None:
    p = cond({"StringEquals": {"AWS:UserName": "alice"}})
    assert decide(p, ctx={"aws:username": "alice"}) == "Allow"


@pytest.mark.parametrize(("statement", "public"), [
    (stmt(), True),
    (stmt(principal={"AWS": "*"}), True),
    (stmt(principal={"AWS": "arn:aws:iam:::user/alice"}), False),
    (stmt("Deny"), False),
    (stmt(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), False),
    (stmt(Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}), True),
    (stmt(Condition={"StringEquals": {"aws:SourceAccount": "123456789012"}}), False),
    (stmt(Condition={"StringLike": {"aws:SourceArn": "arn:aws:*"}}), True),
    (stmt(Condition={"Bool": {"aws:SecureTransport": "true"}}), True),
    ({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam:::user/alice"},
      "Action": "s3:GetObject", "Resource": OBJ}, True),
])
def test_is_public(statement: dict[str, Any], public: bool) -> None:
    assert is_public(policy(statement)) is public


def test_actions_for() -> None:
    assert actions_for("GetObject") == ("s3:GetObject",)
    assert actions_for("HeadObject") == ("s3:GetObject",)
    assert actions_for("GetObject", version_id=True) == ("s3:GetObjectVersion",)
    assert actions_for("ListObjectsV2") == actions_for("ListObjects") == ("s3:ListBucket",)
    assert actions_for("CopyObject") == ("s3:PutObject",)
    assert actions_for("PutBucketPolicy") == ("s3:PutBucketPolicy",)
    assert actions_for("DeleteBucketCors") == ("s3:PutBucketCORS",)
    assert actions_for("PreflightRequest") == ()


def test_every_routed_operation_has_its_actions() -> None:
    from aisfs.s3 import request
    routed = set(request._OPS.values()) | {"ListObjectsV2", "CopyObject", "UploadPartCopy"}
    assert not {op for op in routed if not actions_for(op)}


# ---- properties ---------------------------------------------------------------------

KEYS = st.text(st.sampled_from("ab/.*?x"), max_size=6)
PATTERNS = st.text(st.sampled_from("ab/.*?x"), max_size=6)


def reference_match(pattern: str, value: str) -> bool:
    """fnmatch without its [] classes: * any run (``/`` too), ? any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


@settings(max_examples=300, deadline=None)
@given(PATTERNS, KEYS)
def test_wildcards_match_the_reference(pattern: str, value: str) -> None:
    assert wildcard_match(pattern, value) == reference_match(pattern, value)
    if "[" not in pattern:
        assert wildcard_match(pattern, value) == fnmatch.fnmatchcase(value, pattern)


ACTIONS = st.sampled_from(["s3:GetObject", "s3:PutObject", "s3:Get*", "s3:*", "*",
                           "s3:DeleteObject", "s3:List*"])
PRINCIPALS = st.sampled_from(["*", {"AWS": "arn:aws:iam:::user/alice"},
                              {"AWS": ["arn:aws:iam:::user/bob"]}, {"CanonicalUser": "a" * 64}])
RESOURCES = st.sampled_from([OBJ, "arn:aws:s3:::b/a*", "arn:aws:s3:::b/?", "*",
                             "arn:aws:s3:::b/a/b"])
CONDITIONS = st.sampled_from([None, {"StringEquals": {"aws:username": "alice"}},
                              {"StringNotEquals": {"aws:username": "alice"}},
                              {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                              {"Null": {"s3:x-amz-acl": "true"}}])


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    out = stmt(effect or draw(st.sampled_from(["Allow", "Deny"])), draw(PRINCIPALS),
               draw(ACTIONS), draw(RESOURCES))
    c = draw(CONDITIONS)
    if c is not None:
        out["Condition"] = c
    return out


REQUESTS = st.tuples(
    st.sampled_from(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectAcl"]),
    KEYS,
    st.sampled_from([ALICE, BOB, ANON]),
    st.fixed_dictionaries({}, optional={"aws:username": st.sampled_from(["alice", "bob"]),
                                        "aws:sourceip": st.sampled_from(["10.0.0.1", "::1"]),
                                        "s3:x-amz-acl": st.just("private")}),
)


def run(p: Any, req: tuple[str, str, frozenset[str], dict[str, str]]) -> str:
    action, key, who, context = req
    return evaluate(p, PolicyRequest(action, resource_for("b", key), who, context))


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=5), statements("Deny"), REQUESTS)
def test_a_matching_deny_always_wins(sts: list[dict[str, Any]], deny: dict[str, Any],
                                     req: Any) -> None:
    alone = run(policy(deny), req)
    together = run(policy(*sts, deny), req)
    if alone == "Deny":
        assert together == "Deny"
    assert run(policy(deny, *sts), req) == together  # order never matters


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=5), statements(), REQUESTS)
def test_a_statement_that_does_not_apply_changes_nothing(
        sts: list[dict[str, Any]], extra: dict[str, Any], req: Any) -> None:
    if run(policy(extra), req) != "NoMatch":
        return
    assert run(policy(*sts, extra), req) == run(policy(*sts), req)


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=5), REQUESTS)
def test_the_decision_is_the_statements_decisions_combined(
        sts: list[dict[str, Any]], req: Any) -> None:
    each = [run(policy(s), req) for s in sts]
    expected = "Deny" if "Deny" in each else "Allow" if "Allow" in each else "NoMatch"
    assert run(policy(*sts), req) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_parse_or_are_malformed(text: bytes) -> None:
    from aisfs.errors import S3Error
    try:
        parse_policy(b"{" + text, "b")
    except S3Error as e:
        assert e.code == "MalformedPolicy"
