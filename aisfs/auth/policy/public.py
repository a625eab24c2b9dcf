"""Whether a policy is "public", as AWS defines it (GetBucketPolicyStatus' IsPublic;
PutBucketPolicy refused by BlockPublicPolicy).

AWS: a bucket policy is public unless each of its Allow statements grants only to fixed
principals, or is limited by a condition to fixed values (no wildcard, no variable) of
aws:SourceArn, aws:SourceVpc(e), aws:SourceOwner, aws:SourceAccount, aws:userid,
s3:x-amz-server-side-encryption-aws-kms-key-id (and the principal-org/account keys), or
to a set of CIDRs with aws:SourceIp (``/0`` is everyone: public). A ``NotPrincipal``
Allow grants to everyone but a few: public. Deny statements never make a policy public.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aisfs.auth.policy.document import Statement


_FIXING_KEYS = frozenset({
    "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner",
    "aws:sourceaccount", "aws:userid", "aws:principalorgid", "aws:principalaccount",
    "aws:principalarn", "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:dataaccesspointarn", "s3:dataaccesspointaccount",
})
_FIXING_OPERATORS = frozenset({
    "StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike",
})


def _fixed(values: object) -> bool:
    items = values if isinstance(values, list) else [values]
    return bool(items) and all(
        isinstance(v, str) and not any(c in v for c in "*?") and "${" not in v for v in items
    )


def _limited_by_condition(block: object) -> bool:
    if not isinstance(block, Mapping):
        return False
    for operator, keys in block.items():
        if not isinstance(keys, Mapping):
            continue
        for key, values in keys.items():
            low = str(key).lower()
            if operator == "IpAddress" and low == "aws:sourceip":
                items = values if isinstance(values, list) else [values]
                if all(isinstance(v, str) and not v.strip().endswith("/0") for v in items):
                    return True
            elif operator in _FIXING_OPERATORS and low in _FIXING_KEYS and _fixed(values):
                return True
    return False


def _statement_public(st: Statement) -> bool:
    if not st.allow:
        return False
    if st.not_principal:
        return True
    if not st.principals.everyone:
        return False
    return not _limited_by_condition(st.raw.get("Condition"))


def any_public(statements: tuple[Statement, ...]) -> bool:
    return any(_statement_public(st) for st in statements)
