"""A policy's decision on one request, and whether a policy is public.

AWS's evaluation of a resource policy: a statement applies when its principal, action,
resource and condition all match the request; an applying ``Deny`` decides (explicit
deny wins over every allow); else an applying ``Allow`` allows; else the policy says
nothing (``NoMatch``: the owner's rights and ACLs decide).

Which statements can apply to an action and a caller (their ``Action`` and
``Principal`` match) is worked out once per (action, caller) and kept with the policy
(``Policy.memo``, ``applicable``): a request then tests only those statements'
resources and conditions - for a 20-statement policy most often one or two, or none.
The caller's names are best one frozenset per user (``principal_names`` cached by the
caller of ``evaluate``: the memo's key is then found by identity).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from aisfs.auth.policy.actions import ALL_ACTIONS
from aisfs.auth.policy.conditions import holds
from aisfs.auth.policy.document import ARN_PREFIX, Applicable, Policy, Statement

Decision = Literal["Allow", "Deny", "NoMatch"]
_CANONICAL_ACTION = {a.lower(): a for a in ALL_ACTIONS}
_KNOWN_ACTIONS = frozenset(ALL_ACTIONS)
MEMO_LIMIT = 4096  # (action, caller) entries kept per policy; past it, started afresh


@dataclass(frozen=True, slots=True)
class PolicyRequest:
    action: str  # "s3:GetObject"
    resource: str  # "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key"
    principals: frozenset[str]  # every name the caller is known by; empty = anonymous
    context: Mapping[str, str | Sequence[str]]  # condition keys, lower-cased names


def resource_for(bucket: str, key: str | None) -> str:
    """The ARN a request on ``bucket`` (and ``key``) is checked against."""
    return ARN_PREFIX + bucket if key is None else f"{ARN_PREFIX}{bucket}/{key}"


def canonical_action(action: str) -> str:
    if action in _KNOWN_ACTIONS:
        return action
    return _CANONICAL_ACTION.get(action.lower(), action)


def applicable(policy: Policy, action: str, principals: frozenset[str]) -> Applicable:
    """The statements of ``policy`` whose Principal and Action match (denies, allows)."""
    key = (action, principals)
    found = policy.memo.get(key)
    if found is not None:
        return found
    action = canonical_action(action)
    denies: list[Statement] = []
    allows: list[Statement] = []
    for st in policy.statements:
        who = st.principals
        if (who.everyone or not who.names.isdisjoint(principals)) == st.not_principal:
            continue
        if (action in st.actions) == st.not_action:
            continue
        (allows if st.allow else denies).append(st)
    found = (tuple(denies), tuple(allows))
    if len(policy.memo) >= MEMO_LIMIT:
        policy.memo.clear()
    policy.memo[key] = found
    return found


def _applies(st: Statement, resource: str, context: Mapping[str, str | Sequence[str]]
             ) -> bool:
    """Whether ``st`` (its principal and action match) applies: resource, conditions."""
    for pattern in st.resources:
        if pattern.matches(resource, context):
            hit = True
            break
    else:
        hit = False
    if hit == st.not_resource:
        return False
    return not st.conditions or holds(st.conditions, context)


def evaluate(policy: Policy, request: PolicyRequest) -> Decision:
    """``Deny`` if an applying statement denies, else ``Allow`` if one allows, else
    ``NoMatch``."""
    return decide(policy, request.action, request.resource, request.principals,
                  request.context)


def decide(policy: Policy, action: str, resource: str, principals: frozenset[str],
           context: Mapping[str, str | Sequence[str]]) -> Decision:
    """``evaluate`` without a ``PolicyRequest`` (the node's hot path)."""
    denies, allows = applicable(policy, action, principals)
    for st in denies:
        if _applies(st, resource, context):
            return "Deny"
    for st in allows:
        if _applies(st, resource, context):
            return "Allow"
    return "NoMatch"


def is_public(policy: Policy) -> bool:
    """Whether ``policy`` is public in AWS's sense (GetBucketPolicyStatus' IsPublic,
    refused by BlockPublicPolicy): decided once, when it was parsed (``public.py``)."""
    return policy.public
