"""Cheap policy evaluation (issue 16's < 10 % target): the statements that can apply
kept per (action, caller) with the compiled policy give the answers a fresh policy
gives; a caller's principal names are one frozenset per user; a request's condition
keys are worked out only when a statement asks for them; the bucket owner's shortcut
(``denies_owner``) is ``decide``'s answer for what the owner owns."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.auth import access
from aisfs.auth.caller import Caller
from aisfs.auth.policy import (
    PolicyRequest,
    evaluate,
    parse_policy,
    principal_names,
    resource_for,
)
from aisfs.auth.users import User
from aisfs.s3.request import S3Request
from aisfs_node.http import Request
from aisfs_node.s3_access import RequestContext, context_of
from aisfs_node.s3_policy import PolicyGate

ALICE = User("alice", "a" * 64, "Alice")
NAMES = {"alice": principal_names("a" * 64, "alice"), "bob": principal_names("b" * 64, "bob"),
         "anonymous": frozenset()}
STATEMENTS = st.fixed_dictionaries({
    "Effect": st.sampled_from(["Allow", "Deny"]),
    "Principal": st.sampled_from(["*", {"AWS": "arn:aws:iam:::user/alice"},
                                  {"AWS": ["arn:aws:iam:::user/bob"]},
                                  {"CanonicalUser": "a" * 64}]),
    "Action": st.sampled_from(["s3:GetObject", "s3:PutObject", "s3:Get*", "s3:*", "*",
                               "s3:List*"]),
    "Resource": st.sampled_from(["arn:aws:s3:::b/*", "arn:aws:s3:::b/a*", "*",
                                 ["arn:aws:s3:::b", "arn:aws:s3:::b/a*"]]),
}, optional={"Condition": st.sampled_from([
    {"StringEquals": {"aws:username": "alice"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"Null": {"s3:x-amz-acl": "true"}}])})
REQUESTS = st.tuples(
    st.sampled_from(["s3:GetObject", "s3:PutObject", "s3:getobject", "s3:ListBucket"]),
    st.sampled_from(["k", "a/b", "ab"]),
    st.sampled_from(sorted(NAMES)),
    st.fixed_dictionaries({}, optional={"aws:username": st.sampled_from(["alice", "bob"]),
                                        "aws:sourceip": st.sampled_from(["10.0.0.1", "::1"]),
                                        "s3:x-amz-acl": st.just("private")}),
)


def parsed(sts: list[dict[str, Any]]) -> Any:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": sts}).encode(),
                        "b")


def ask(p: Any, req: tuple[str, str, str, dict[str, str]]) -> str:
    action, key, who, context = req
    resource = resource_for("b", None if action == "s3:ListBucket" else key)
    return evaluate(p, PolicyRequest(action, resource, NAMES[who], context))


@settings(max_examples=150, deadline=None)
@given(st.lists(STATEMENTS, min_size=1, max_size=8), st.lists(REQUESTS, min_size=1,
                                                               max_size=12))
def test_a_warm_memo_answers_as_a_fresh_policy(sts: list[dict[str, Any]],
                                               reqs: list[Any]) -> None:
    warm = parsed(sts)
    for req in reqs + reqs:  # each asked twice of the same policy: the memo answers
        assert ask(warm, req) == ask(parsed(sts), req)
    assert len(warm.memo) <= len(reqs)


def test_actions_are_matched_case_insensitively_through_the_memo() -> None:
    p = parsed([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::b/*"}])
    who: frozenset[str] = frozenset()
    for action in ("s3:GetObject", "s3:getobject", "S3:GETOBJECT", "s3:GetObject"):
        assert evaluate(p, PolicyRequest(action, resource_for("b", "k"), who, {})) == "Allow"
    assert evaluate(p, PolicyRequest("s3:PutObject", resource_for("b", "k"), who,
                                     {})) == "NoMatch"


def test_principal_names_are_one_frozenset_per_user() -> None:
    gate = PolicyGate()
    caller = Caller(ALICE, "sigv4")
    first = gate.principals(caller)
    assert gate.principals(Caller(ALICE, "sigv4")) is first
    assert "arn:aws:iam:::user/alice" in first and "a" * 64 in first
    renamed = gate.principals(Caller(User("alicia", "a" * 64, "Alice"), "sigv4"))
    assert "arn:aws:iam:::user/alicia" in renamed and renamed is not first
    assert gate.principals(Caller(None, "anonymous")) == frozenset()


def http_request(headers: dict[str, str], scheme: str = "http") -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/b/k", "query_string": b"",
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
             "scheme": scheme, "client": ("10.1.2.3", 5555)}
    return Request(scope, receive)


def test_request_context_works_out_each_key_when_asked() -> None:
    http = http_request({"X-Amz-Acl": "public-read", "User-Agent": "ua/1",
                         "Referer": "https://example.com/"}, "https")
    s3 = S3Request("ListObjectsV2", "b", None, {"Prefix": "p/", "max-keys": "5"})
    ctx = context_of(Caller(ALICE, "sigv4"), s3, http)
    assert isinstance(ctx, RequestContext) and not ctx._known
    assert ctx.get("aws:sourceip") == ["10.1.2.3"]
    assert ctx.get("aws:securetransport") == ["true"]
    assert ctx.get("s3:x-amz-acl") == ["public-read"]
    assert ctx.get("s3:prefix") == ["p/"] and ctx.get("s3:max-keys") == ["5"]
    assert ctx.get("s3:delimiter") is None and ctx.get("s3:versionid") is None
    assert ctx.get("aws:username") == ["alice"] and ctx.get("aws:userid") == ["a" * 64]
    assert ctx.get("aws:useragent") == ["ua/1"]
    assert ctx.get("aws:referer") == ["https://example.com/"]
    assert ctx.get("aws:principaltype") == ["User"]
    assert ctx.get("aws:currenttime", [""])[0].endswith("Z")
    assert ctx.get("aws:nosuchkey") is None and ctx.get("other:key") is None
    assert "aws:sourceip" in ctx and "s3:delimiter" not in ctx
    assert dict(ctx)["s3:x-amz-acl"] == ["public-read"]
    anon = context_of(Caller(None, "anonymous"), None, None)
    assert anon.get("aws:principaltype") == ["Anonymous"]
    assert anon.get("aws:username") is None and anon.get("aws:sourceip") is None


def test_a_verdict_works_out_only_the_keys_its_statements_ask_for() -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam:::user/bob"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::b/*",
         "Condition": {"StringEquals": {"aws:username": "alice"}}}]})
    gate = PolicyGate()
    ctx = context_of(Caller(ALICE, "sigv4"), S3Request("GetObject", "b", "k"),
                     http_request({}))
    assert gate.verdict(text, "b", "GetObject", "k", Caller(ALICE, "sigv4"),
                        ctx) == ("Allow", True)
    # bob's statement was never tested: its key was never worked out
    assert set(ctx._known) == {"s3:versionid", "aws:username"}


def test_the_owner_shortcut_is_decides_answer() -> None:
    owner = "o" * 64
    for verdict in (None, "Allow", "Deny", "NoMatch"):
        for operation in (*access.NEEDS, *access.POLICY_OPS, *access.OBJECT_OWNER_OPS,
                          "PutBucketVersioning"):
            decision = access.decide(access.AccessRequest(operation, owner, owner,
                                                          policy=verdict))
            assert bool(decision) == (not access.denies_owner(verdict, operation)), (
                verdict, operation)
