"""A policy's decision on one request, and whether a policy is public.

AWS's evaluation of a resource policy: a statement applies when its principal, action,
resource and condition all match the request; an applying ``Deny`` decides (explicit
deny wins over every allow); else an applying ``Allow`` allows; else the policy says
nothing (``NoMatch``: the owner's rights and ACLs decide).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from aisfs.auth.policy.actions import ALL_ACTIONS
from aisfs.auth.policy.conditions import holds
from aisfs.auth.policy.document import ARN_PREFIX, Policy

Decision = Literal["Allow", "Deny", "NoMatch"]
_CANONICAL_ACTION = {a.lower(): a for a in ALL_ACTIONS}
_KNOWN_ACTIONS = frozenset(ALL_ACTIONS)


@dataclass(frozen=True)
class PolicyRequest:
    action: str  # "s3:GetObject"
    resource: str  # "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key"
    principals: frozenset[str]  # every name the caller is known by; empty = anonymous
    context: Mapping[str, str | Sequence[str]]  # condition keys, lower-cased names


def resource_for(bucket: str, key: str | None) -> str:
    """The ARN a request on ``bucket`` (and ``key``) is checked against."""
    return ARN_PREFIX + bucket if key is None else f"{ARN_PREFIX}{bucket}/{key}"


def evaluate(policy: Policy, request: PolicyRequest) -> Decision:
    """``Deny`` if an applying statement denies, else ``Allow`` if one allows, else
    ``NoMatch``. One loop, cheapest test first (the principal, then the action: most
    statements of a policy are about someone or something else)."""
    action = request.action
    if action not in _KNOWN_ACTIONS:
        action = _CANONICAL_ACTION.get(action.lower(), action)
    principals = request.principals
    resource = request.resource
    context = request.context
    allowed = False
    for st in policy.statements:
        if st.allow and allowed:
            continue  # an allow is known: only a deny can still change the answer
        who = st.principals
        if (who.everyone or not who.names.isdisjoint(principals)) == st.not_principal:
            continue
        if (action in st.actions) == st.not_action:
            continue
        for pattern in st.resources:
            if pattern.matches(resource, context):
                hit = True
                break
        else:
            hit = False
        if hit == st.not_resource:
            continue
        if st.conditions and not holds(st.conditions, context):
            continue
        if not st.allow:
            return "Deny"
        allowed = True
    return "Allow" if allowed else "NoMatch"


def is_public(policy: Policy) -> bool:
    """Whether ``policy`` is public in AWS's sense (GetBucketPolicyStatus' IsPublic,
    refused by BlockPublicPolicy): decided once, when it was parsed (``public.py``)."""
    return policy.public
