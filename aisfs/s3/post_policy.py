"""S3 POST Object's policy document and signature (sans-IO).

A browser form carries ``policy`` (base64 of a JSON document: ``expiration`` and
``conditions``) and a signature of that base64 text: SigV4 (``x-amz-algorithm``,
``x-amz-credential``, ``x-amz-date``, ``x-amz-signature``: HMAC-SHA256 under the
derived signing key) or SigV2 (``AWSAccessKeyId``, ``signature``: base64 HMAC-SHA1
under the secret). The conditions (exact match ``{"k": "v"}`` / ``["eq", "$k", "v"]``,
``["starts-with", "$k", "prefix"]``, ``["content-length-range", min, max]``) must all
hold, and every form field but the exempt ones must be named by one (AWS: "Extra input
fields"). Field names are compared without case, as AWS does.

Errors are AWS's: InvalidPolicyDocument (400) for a document that does not parse,
AccessDenied "Invalid according to Policy: ..." (403) for an expired policy, a failed
condition or an uncovered field, SignatureDoesNotMatch (403) for a wrong signature,
InvalidArgument (400) for a missing or malformed credential field.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aisfs.errors import S3Error
from aisfs.s3.signing_keys import SecretLookup, SigningKeyCache, lookup_secret, sign

# form fields no condition needs to name (AWS: the signature, the file, the policy,
# x-ignore-*; the SigV2 credentials likewise)
EXEMPT = frozenset({"x-amz-signature", "file", "policy", "signature", "awsaccesskeyid"})
MAX_CONDITIONS = 256


@dataclass(slots=True)
class Policy:
    expiration: datetime.datetime
    exact: list[tuple[str, str, Any]] = field(default_factory=list)  # (op, $name, value)
    length_range: tuple[int, int] | None = None
    named: set[str] = field(default_factory=set)  # the field names conditions cover


def invalid_policy(detail: str) -> S3Error:
    return S3Error("InvalidPolicyDocument", f"Invalid Policy: {detail}")


def policy_denied(detail: str) -> S3Error:
    return S3Error("AccessDenied", f"Invalid according to Policy: {detail}")


def missing_field(name: str) -> S3Error:
    return S3Error(
        "InvalidArgument",
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please "
        "check the order of the fields.",
        extra={"ArgumentName": name, "ArgumentValue": ""},
    )


# ---- the document ---------------------------------------------------------------------


def parse_policy(policy_b64: str) -> Policy:
    """The policy of a form's ``policy`` field (InvalidPolicyDocument if it is not one)."""
    try:
        raw = base64.b64decode(policy_b64.encode("ascii"), validate=True)
        doc = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeError):
        raise invalid_policy("Invalid JSON.") from None
    if not isinstance(doc, dict):
        raise invalid_policy("Invalid JSON.")
    expiration = doc.get("expiration")
    if not isinstance(expiration, str):
        raise invalid_policy("Policy missing expiration.")
    conditions = doc.get("conditions")
    if not isinstance(conditions, list):
        raise invalid_policy("Policy missing conditions.")
    if len(conditions) > MAX_CONDITIONS:
        raise invalid_policy("Too many conditions.")
    policy = Policy(_parse_time(expiration))
    for cond in conditions:
        _add_condition(policy, cond)
    return policy


def _parse_time(value: str) -> datetime.datetime:
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_policy(f"Invalid 'expiration' value: '{value}'") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when


def _add_condition(policy: Policy, cond: Any) -> None:
    shown = json.dumps(cond)
    if isinstance(cond, dict):
        if len(cond) != 1:
            raise invalid_policy(f"Invalid Simple-Condition: Simple-Conditions must have "
                                 f"exactly one property specified. {shown}")
        (name, value), = cond.items()
        if not isinstance(value, str):
            raise invalid_policy(f"Invalid Simple-Condition: value must be a string. {shown}")
        _add_match(policy, "eq", "$" + name, value, shown)
        return
    if not isinstance(cond, list) or not cond or not isinstance(cond[0], str):
        raise invalid_policy(f"Invalid Condition: {shown}")
    op = cond[0].lower()
    if op == "content-length-range":
        if len(cond) != 3 or not all(_is_length(v) for v in cond[1:]):
            raise invalid_policy(f"Invalid content-length-range: {shown}")
        policy.length_range = (int(cond[1]), int(cond[2]))
        return
    if op not in ("eq", "starts-with"):
        raise invalid_policy(f"Invalid Condition: unknown operation '{cond[0]}'. {shown}")
    if len(cond) != 3 or not all(isinstance(v, str) for v in cond[1:]):
        raise invalid_policy(f"Invalid Condition: wrong number of arguments. {shown}")
    _add_match(policy, op, cond[1], cond[2], shown)


def _is_length(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value.isdigit()
    return isinstance(value, int) and value >= 0


def _add_match(policy: Policy, op: str, name: str, value: str, shown: str) -> None:
    if not name.startswith("$") or len(name) < 2:
        raise invalid_policy(f"Invalid Condition: the field must start with '$'. {shown}")
    policy.exact.append((op, name[1:].lower(), (value, shown)))
    policy.named.add(name[1:].lower())


# ---- the checks -----------------------------------------------------------------------


def check_expiration(policy: Policy, now: float) -> None:
    if policy.expiration.timestamp() <= now:
        raise policy_denied("Policy expired.")


def check_conditions(policy: Policy, fields: Mapping[str, str], bucket: str) -> None:
    """Every condition holds for ``fields`` (names lower-cased, ``key`` already
    substituted) and ``bucket``, and every field but the exempt ones is named by one."""
    values = dict(fields)
    values["bucket"] = bucket
    for op, name, (want, shown) in policy.exact:
        have = values.get(name)
        if have is None or not _holds(op, name, have, want):
            raise policy_denied(f"Policy Condition failed: {_aws_form(shown)}")
    extra = [n for n in fields if n not in EXEMPT and not n.startswith("x-ignore-")
             and n not in policy.named]
    if extra:
        raise policy_denied(f"Extra input fields: {', '.join(extra)}")


def _holds(op: str, name: str, have: str, want: str) -> bool:
    if op == "eq":
        return have == want
    if name == "content-type":  # a list of types: each must match (AWS)
        return all(v.strip().startswith(want) for v in have.split(","))
    return have.startswith(want)


def _aws_form(shown: str) -> str:
    """A condition as AWS prints it in the message: ``["eq", "$key", "x"]``."""
    try:
        cond = json.loads(shown)
    except ValueError:
        return shown
    if isinstance(cond, dict):
        (name, value), = cond.items()
        cond = ["eq", "$" + name, value]
    return json.dumps(cond)


def check_length(policy: Policy | None, size: int) -> None:
    """The file's size within the policy's content-length-range (the final count)."""
    if policy is None or policy.length_range is None:
        return
    low, high = policy.length_range
    if size < low:
        raise S3Error("EntityTooSmall",
                      "Your proposed upload is smaller than the minimum allowed size",
                      extra={"ProposedSize": str(size), "MinSizeAllowed": str(low)})
    if size > high:
        raise too_large(size, high)


def too_large(size: int, high: int) -> S3Error:
    return S3Error("EntityTooLarge",
                   "Your proposed upload exceeds the maximum allowed size",
                   extra={"ProposedSize": str(size), "MaxSizeAllowed": str(high)})


# ---- the signature --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signed:
    access_key: str
    version: str  # "sigv4" | "sigv2"


def signature_version(fields: Mapping[str, str]) -> str | None:
    """"sigv4", "sigv2", or None: the form carries no signature (anonymous)."""
    if "x-amz-signature" in fields or "x-amz-credential" in fields \
            or "x-amz-algorithm" in fields:
        return "sigv4"
    if "signature" in fields or "awsaccesskeyid" in fields:
        return "sigv2"
    return None


def verify_signature(fields: Mapping[str, str], secrets: SecretLookup,
                     cache: SigningKeyCache | None = None) -> Signed:
    """The form's signature of its ``policy`` field, checked; the access key that made it."""
    version = signature_version(fields)
    policy = fields.get("policy")
    if version is None:
        raise S3Error("AccessDenied", "Access Denied")
    if policy is None:
        raise missing_field("policy")
    if version == "sigv2":
        return _verify_v2(fields, policy, secrets)
    return _verify_v4(fields, policy, secrets, cache)


def _verify_v2(fields: Mapping[str, str], policy: str, secrets: SecretLookup) -> Signed:
    akid = fields.get("awsaccesskeyid")
    if akid is None:
        raise missing_field("AWSAccessKeyId")
    given = fields.get("signature")
    if given is None:
        raise missing_field("Signature")
    secret = lookup_secret(secrets, akid)
    want = base64.b64encode(hmac.new(secret.encode(), policy.encode(), hashlib.sha1)
                            .digest()).decode()
    _compare(want, given, policy)
    return Signed(akid, "sigv2")


def _verify_v4(fields: Mapping[str, str], policy: str, secrets: SecretLookup,
               cache: SigningKeyCache | None) -> Signed:
    for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
        if name not in fields:
            raise missing_field(name)
    if fields["x-amz-algorithm"] != "AWS4-HMAC-SHA256":
        raise S3Error("InvalidArgument", "Only AWS4-HMAC-SHA256 is supported",
                      extra={"ArgumentName": "x-amz-algorithm",
                             "ArgumentValue": fields["x-amz-algorithm"]})
    credential = fields["x-amz-credential"]
    parts = credential.split("/")
    if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request" \
            or len(parts[1]) != 8 or not parts[1].isdigit():
        raise S3Error("InvalidArgument", "Invalid credential",
                      extra={"ArgumentName": "x-amz-credential", "ArgumentValue": credential})
    akid, date, region = parts[0], parts[1], parts[2]
    if not fields["x-amz-date"].startswith(date):
        raise S3Error("InvalidArgument", "The credential's date is not x-amz-date's",
                      extra={"ArgumentName": "x-amz-date",
                             "ArgumentValue": fields["x-amz-date"]})
    secret = lookup_secret(secrets, akid)
    key = (cache or SigningKeyCache(4)).get(secret, date, region, "s3", akid)
    _compare(sign(key, policy), fields["x-amz-signature"], policy)
    return Signed(akid, "sigv4")


def _compare(want: str, given: str, policy: str) -> None:
    if not hmac.compare_digest(want.encode(), given.strip().encode()):
        raise S3Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you "
            "provided. Check your key and signing method.",
            extra={"StringToSign": policy},
        )
