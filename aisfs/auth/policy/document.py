"""A bucket policy document: parsed, validated and compiled (``parse_policy``).

Refusals are ``MalformedPolicy`` (400) with the messages AWS gives (as S3-compatible
servers tested against AWS reproduce them: versitygw, Scality, Ceph RGW). A document is
at most 20 KB (AWS's limit for a bucket policy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aisfs.auth.policy import actions as action_names
from aisfs.auth.policy.conditions import ConditionError, KeyTest, compile_block
from aisfs.auth.policy.patterns import Pattern, wildcard_match
from aisfs.auth.policy.principals import PrincipalError, Principals, compile_principal
from aisfs.auth.policy.public import any_public
from aisfs.errors import S3Error

MAX_POLICY_BYTES = 20 * 1024
VERSIONS = ("2012-10-17", "2008-10-17")
ARN_PREFIX = "arn:aws:s3:::"
_POLICY_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset({
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
    "NotResource", "Condition",
})


def malformed(message: str) -> S3Error:
    return S3Error("MalformedPolicy", message, status=400)


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str
    allow: bool
    principals: Principals
    not_principal: bool
    actions: frozenset[str]  # the actions named, wildcards expanded (canonical names)
    not_action: bool
    resources: tuple[Pattern, ...]
    not_resource: bool
    conditions: tuple[KeyTest, ...]
    raw: Mapping[str, Any]  # the statement as written (for is_public)


# the statements of a policy that apply to one action and caller: (denies, allows)
Applicable = tuple[tuple[Statement, ...], tuple[Statement, ...]]


@dataclass(frozen=True, slots=True)
class Policy:
    text: str
    version: str
    statements: tuple[Statement, ...]
    public: bool = False  # AWS's "public" (public.py), decided at parse time
    # (action, caller's names) -> the statements whose Action and Principal match it,
    # (denies, allows): filled by ``evaluate.applicable`` as requests come
    memo: dict[tuple[str, frozenset[str]], Applicable] = field(
        default_factory=dict, compare=False, repr=False)


def _load(text: bytes) -> dict[str, Any]:
    if len(text) > MAX_POLICY_BYTES:
        raise malformed("Policy exceeds the maximum allowed document size.")
    if not text.startswith(b"{"):
        raise malformed("Policies must be valid JSON and the first byte must be '{'")
    try:
        doc = json.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise malformed("This policy contains invalid Json") from None
    if not isinstance(doc, dict):
        raise malformed("This policy contains invalid Json")
    return doc


def _strings(value: object, missing: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise malformed(missing)
    return [str(i) for i in items]


def _one_of(st: Mapping[str, Any], name: str) -> tuple[Any, bool]:
    """The value of ``name`` or ``Not<name>`` and whether it was the ``Not`` form."""
    if name in st and "Not" + name in st:
        raise malformed(f"Statement/policy already has instance of {name}")
    if name in st:
        return st[name], False
    if "Not" + name in st:
        return st["Not" + name], True
    raise malformed(f"Missing required field {name}")


def _resource_fits(pattern: str, bucket: str) -> bool:
    """Whether ``pattern`` (an ARN, wildcards allowed) can name this bucket or an object
    in it - a Resource outside the bucket is refused, as AWS does."""
    if pattern == "*":
        return True
    if not pattern.startswith(ARN_PREFIX):
        return False
    rest = pattern[len(ARN_PREFIX):]
    if wildcard_match(rest, bucket):
        return True
    head = rest.split("/", 1)[0]
    if "/" in rest and wildcard_match(head, bucket):
        return True
    # a wildcard in the bucket part that may run on past the '/'
    cut = min((rest.index(c) for c in "*?" if c in head), default=-1)
    return cut >= 0 and "*" in head and (bucket + "/").startswith(rest[:cut])


def _resource_kinds(patterns: list[str], bucket: str) -> set[str]:
    """Which kinds of resource (bucket, object) the patterns can name."""
    kinds = set()
    for p in patterns:
        if p == "*" or wildcard_match(p, ARN_PREFIX + bucket):
            kinds.add("bucket")
        if p == "*" or "/" in p or "*" in p[len(ARN_PREFIX):]:
            kinds.add("object")
    return kinds


def _compile_actions(value: object) -> frozenset[str]:
    named: set[str] = set()
    for pattern in _strings(value, "Policy has invalid action"):
        found = action_names.known(pattern)
        if not found:
            raise malformed("Policy has invalid action")
        named.update(found)
    return frozenset(named)


def _check_applies(actions: frozenset[str], not_action: bool, kinds: set[str]) -> None:
    """``Action does not apply to any resource(s) in statement``: an action named
    outright whose kind (bucket, object) no Resource can be."""
    if not_action:
        return
    if not any(action_names.kind(a) in kinds for a in actions):
        raise malformed("Action does not apply to any resource(s) in statement")


def _statement(st: object, bucket: str, version: str) -> Statement:
    if not isinstance(st, dict):
        raise malformed("This policy contains invalid Json")
    for name in st:
        if name not in _STATEMENT_FIELDS:
            raise malformed(f"Unknown field {name}")
    effect = st.get("Effect")
    if effect is None:
        raise malformed("Missing required field Effect")
    if effect not in ("Allow", "Deny"):
        shown = effect if isinstance(effect, str) else json.dumps(effect)
        raise malformed(f"Invalid effect: {shown}")
    sid = st.get("Sid", "")
    if not isinstance(sid, str):
        raise malformed("This policy contains invalid Json")
    principal, not_principal = _one_of(st, "Principal")
    action, not_action = _one_of(st, "Action")
    resource, not_resource = _one_of(st, "Resource")
    try:
        principals = compile_principal(principal)
    except PrincipalError as e:
        raise malformed(str(e)) from None
    actions = _compile_actions(action)
    patterns = _strings(resource, "Policy has invalid resource")
    for p in patterns:
        if not _resource_fits(p, bucket):
            raise malformed("Policy has invalid resource")
    if not not_resource:
        _check_applies(actions, not_action, _resource_kinds(patterns, bucket))
    try:
        conditions = compile_block(st["Condition"]) if "Condition" in st else ()
    except ConditionError as e:
        raise malformed(str(e)) from None
    variables = version == "2012-10-17"
    return Statement(
        sid=sid,
        allow=effect == "Allow",
        principals=principals,
        not_principal=not_principal,
        actions=actions,
        not_action=not_action,
        resources=tuple(Pattern(p, variables=variables) for p in patterns),
        not_resource=not_resource,
        conditions=conditions,
        raw=st,
    )


def parse_policy(text: bytes, bucket: str) -> Policy:
    """The policy ``text`` (PutBucketPolicy's body) for ``bucket``, validated and
    compiled; raises ``S3Error("MalformedPolicy", <AWS's message>)``."""
    doc = _load(text)
    for name in doc:
        if name not in _POLICY_FIELDS:
            raise malformed(f"Unknown field {name}")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise malformed("The policy must contain a valid version string")
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise malformed("This policy contains invalid Json")
    if "Statement" not in doc:
        raise malformed("Missing required field Statement")
    raw = doc["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise malformed("Could not parse the policy: Statement is empty!")
    statements = tuple(_statement(st, bucket, version) for st in items)
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise malformed("Statement IDs (SID) in a single policy must be unique.")
    return Policy(text.decode("utf-8"), version, statements, any_public(statements))
