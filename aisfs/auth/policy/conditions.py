"""A statement's ``Condition`` block, compiled at parse time and tested per request.

``{"Operator": {"key": value-or-values}}``: every operator holds, every key under it
holds, and a key holds when its request value matches one of the policy's values (a
negated operator - ``StringNotEquals``, ``NotIpAddress``, ... - when it matches none).
As AWS documents (IAM, "Condition operators"):

- a key absent from the request: false, but true for a negated operator;
- ``...IfExists``: true when the key is absent, else the operator's test;
- ``Null``: ``true`` tests that the key is absent, ``false`` that it is present;
- ``ForAnyValue:`` some value of a multivalued key passes (absent: false);
  ``ForAllValues:`` every value passes (absent or empty: true).

Condition key names are case-insensitive (the request's context holds them lower-cased).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aisfs.auth.policy.patterns import Context, Pattern, wildcard_match

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConditionError(ValueError):
    """A condition a policy may not hold; the message is AWS's."""


_S3_KEYS = frozenset({
    "s3:prefix", "s3:delimiter", "s3:max-keys", "s3:x-amz-acl", "s3:versionid",
    "s3:x-amz-copy-source", "s3:x-amz-metadata-directive", "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm", "s3:x-amz-storage-class",
    "s3:x-amz-website-redirect-location", "s3:x-amz-content-sha256", "s3:x-amz-grant-read",
    "s3:x-amz-grant-write", "s3:x-amz-grant-read-acp", "s3:x-amz-grant-write-acp",
    "s3:x-amz-grant-full-control", "s3:x-amz-object-ownership", "s3:locationconstraint",
    "s3:requestobjecttagkeys", "s3:signatureversion", "s3:signatureage", "s3:authtype",
    "s3:tlsversion", "s3:resourceaccount", "s3:object-lock-mode",
    "s3:object-lock-retain-until-date", "s3:object-lock-remaining-retention-days",
    "s3:object-lock-legal-hold", "s3:objectcreationoperation", "s3:if-match",
    "s3:if-none-match", "s3:accesspointnetworkorigin", "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount", "s3:existingobjecttag", "s3:requestobjecttag",
    "s3:bucketobjectlockenabled", "s3:x-amz-checksum-algorithm",
})
_S3_TAG_KEYS = ("s3:existingobjecttag/", "s3:requestobjecttag/", "s3:resourcetag/")


def check_key(key: str) -> str:
    """``key`` lower-cased; a service key S3 does not know is refused (``aws:`` keys are
    accepted as AWS accepts them, and never present unless the request carries them)."""
    low = key.lower()
    if low.startswith("aws:"):
        return low
    if low in _S3_KEYS or (low.startswith(_S3_TAG_KEYS) and "/" in low):
        return low
    raise ConditionError("Policy has an invalid condition key")


# ---- the base tests: (request value, compiled policy values, context) -> matches one -----

def _parse_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@lru_cache(maxsize=1024)
def _parse_date(text: str) -> float | None:
    """Seconds since the epoch of an ISO 8601 date or an epoch number."""
    number = _parse_number(text)
    if number is not None:
        return number
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a == b,  # negated by the operator
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


@dataclass(frozen=True, slots=True)
class Operator:
    """One operator's family: how a policy value compiles, how a request value tests."""

    negated: bool
    compile: Callable[[str], Any]  # policy value -> compiled; raises ConditionError
    test: Callable[[str, Any, Context], bool]  # request value, compiled -> match


def _string_op(negated: bool, wildcards: bool, ignore_case: bool) -> Operator:
    def compile_(value: str) -> Pattern:
        return Pattern(value, wildcards=wildcards, ignore_case=ignore_case, variables=True)

    def test(value: str, pattern: Pattern, context: Context) -> bool:
        return pattern.matches(value, context)

    return Operator(negated, compile_, test)


def _numeric_op(name: str, parse: Callable[[str], float | None], family: str) -> Operator:
    compare = _COMPARE[name]

    def compile_(value: str) -> float:
        parsed = parse(value)
        if parsed is None:
            raise ConditionError(f"Invalid value in Conditions for operator {family}{name}")
        return parsed

    def test(value: str, bound: float, context: Context) -> bool:
        parsed = parse(value)
        return parsed is not None and compare(parsed, bound)

    return Operator(name == "NotEquals", compile_, test)


def _bool_compile(value: str) -> str:
    return value.lower()


def _ip_compile(value: str) -> IpNetwork:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ConditionError("Invalid IP address in Conditions") from None


def _ip_test(value: str, network: IpNetwork, context: Context) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None \
            and network.version == 4:
        address = address.ipv4_mapped
    return address.version == network.version and address in network


def _arn_compile(value: str) -> tuple[str, ...]:
    return tuple(value.split(":", 5))


def _arn_test(value: str, parts: tuple[str, ...], context: Context) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own."""
    got = value.split(":", 5)
    return len(got) == len(parts) and all(map(wildcard_match, parts, got))


def _binary_compile(value: str) -> str:
    return value


def _operators() -> dict[str, Operator]:
    ops: dict[str, Operator] = {
        "StringEquals": _string_op(False, False, False),
        "StringNotEquals": _string_op(True, False, False),
        "StringEqualsIgnoreCase": _string_op(False, False, True),
        "StringNotEqualsIgnoreCase": _string_op(True, False, True),
        "StringLike": _string_op(False, True, False),
        "StringNotLike": _string_op(True, True, False),
        "Bool": Operator(False, _bool_compile, lambda v, b, c: v.lower() == b),
        "BinaryEquals": Operator(False, _binary_compile, lambda v, b, c: v == b),
        "IpAddress": Operator(False, _ip_compile, _ip_test),
        "NotIpAddress": Operator(True, _ip_compile, _ip_test),
        "ArnEquals": Operator(False, _arn_compile, _arn_test),
        "ArnLike": Operator(False, _arn_compile, _arn_test),
        "ArnNotEquals": Operator(True, _arn_compile, _arn_test),
        "ArnNotLike": Operator(True, _arn_compile, _arn_test),
    }
    for name in _COMPARE:
        ops["Numeric" + name] = _numeric_op(name, _parse_number, "Numeric")
        ops["Date" + name] = _numeric_op(name, _parse_date, "Date")
    return ops


OPERATORS = _operators()


@dataclass(frozen=True, slots=True)
class KeyTest:
    """One key under one operator, compiled."""

    key: str
    op: Operator | None  # None: Null
    values: tuple[Any, ...]
    if_exists: bool
    qualifier: str  # "", "ForAnyValue:", "ForAllValues:"

    def holds(self, context: Context) -> bool:
        found = context.get(self.key)
        op = self.op
        if op is None:  # Null: "true" asks for absence
            absent = found is None or (not isinstance(found, str) and not found)
            return any((v == "true") == absent for v in self.values)
        if found is None:
            if self.qualifier == "ForAllValues:" or self.if_exists:
                return True
            return op.negated and not self.qualifier
        if isinstance(found, str):
            many: Sequence[str] = (found,)
        else:
            many = found
        if self.qualifier == "ForAllValues:":
            for v in many:  # noqa: SIM110 - loops, not any()/all(): the hot path
                if self._hits(v, context) == op.negated:
                    return False
            return True
        if self.qualifier == "ForAnyValue:":
            for v in many:  # noqa: SIM110
                if self._hits(v, context) != op.negated:
                    return True
            return False
        for v in many:
            if self._hits(v, context):
                return not op.negated
        return op.negated

    def _hits(self, value: str, context: Context) -> bool:
        """``value`` matches one of the policy's values."""
        assert self.op is not None
        test = self.op.test
        for compiled in self.values:  # noqa: SIM110
            if test(value, compiled, context):
                return True
        return False


def _values(raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            out.append(repr(item) if isinstance(item, float) else str(item))
        elif isinstance(item, str):
            out.append(item)
        else:
            raise ConditionError("Invalid Condition value")
    if not out:
        raise ConditionError("Invalid Condition value")
    return tuple(out)


_OPERATOR_NAME = re.compile(r"(ForAnyValue:|ForAllValues:)?([A-Za-z]+?)(IfExists)?")


def compile_block(block: object) -> tuple[KeyTest, ...]:
    """The tests of a ``Condition`` element; raises :class:`ConditionError`."""
    if not isinstance(block, Mapping):
        raise ConditionError("Invalid Condition block")
    tests: list[KeyTest] = []
    for name, keys in block.items():
        m = _OPERATOR_NAME.fullmatch(name) if isinstance(name, str) else None
        base = m.group(2) if m else ""
        if m is None or (base not in OPERATORS and base != "Null") \
                or (base == "Null" and (m.group(3) or m.group(1))):
            raise ConditionError(f"Invalid Condition type : {name}")
        if not isinstance(keys, Mapping) or not keys:
            raise ConditionError(f"Invalid Condition type : {name}")
        op = OPERATORS.get(base)
        for key, raw in keys.items():
            low = check_key(str(key))
            texts = _values(raw)
            if op is None:
                values: tuple[Any, ...] = tuple(t.lower() for t in texts)
            else:
                values = tuple(op.compile(t) for t in texts)
            tests.append(KeyTest(low, op, values, bool(m.group(3)), m.group(1) or ""))
    return tuple(tests)


def holds(tests: tuple[KeyTest, ...], context: Context) -> bool:
    for t in tests:  # noqa: SIM110 - a generator per call costs more than the tests
        if not t.holds(context):
            return False
    return True
