"""Who a statement's ``Principal`` (or ``NotPrincipal``) names, and the names a caller
is known by.

A user of this node is ``arn:aws:iam:::user/NAME`` (Ceph RGW's form: the account part is
empty - the node is one account) or, as ``{"CanonicalUser": ID}``, their canonical id.
``"*"`` and ``{"AWS": "*"}`` are everyone, anonymous callers included. An account
(``arn:aws:iam::123456789012:root``, ``"123456789012"``), a role or any other ARN is
refused with ``Invalid principal in policy``, as AWS refuses a principal it does not
know; ``{"Service": ...}`` is accepted and never matches a caller of ours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

USER_ARN = "arn:aws:iam:::user/"
_USER = re.compile(r"arn:aws:iam:::user/[A-Za-z0-9][A-Za-z0-9._@+=,-]{0,63}")
_CANONICAL = re.compile(r"[0-9a-fA-F]{64}")
_SERVICE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?")


class PrincipalError(ValueError):
    """``Invalid principal in policy``."""


def principal_names(user_id: str, user_name: str) -> frozenset[str]:
    """Every name a statement may give the user: ``arn:aws:iam:::user/NAME`` and the
    canonical id (``{"CanonicalUser": ID}``)."""
    return frozenset({USER_ARN + user_name, user_id.lower()})


@dataclass(frozen=True, slots=True)
class Principals:
    """A compiled ``Principal`` element: everyone, or a set of names."""

    everyone: bool
    names: frozenset[str]

    def matches(self, caller: frozenset[str]) -> bool:
        return self.everyone or not self.names.isdisjoint(caller)


def _strings(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) for i in items):
        raise PrincipalError("Invalid principal in policy")
    return [str(i) for i in items]


def compile_principal(value: object) -> Principals:
    if value == "*":
        return Principals(True, frozenset())
    if not isinstance(value, Mapping) or not value:
        raise PrincipalError("Invalid principal in policy")
    everyone = False
    names: set[str] = set()
    for kind, raw in value.items():
        items = _strings(raw)
        if kind == "AWS":
            for item in items:
                if item == "*":
                    everyone = True
                elif _USER.fullmatch(item):
                    names.add(item)
                else:
                    raise PrincipalError("Invalid principal in policy")
        elif kind == "CanonicalUser":
            for item in items:
                if not _CANONICAL.fullmatch(item):
                    raise PrincipalError("Invalid principal in policy")
                names.add(item.lower())
        elif kind == "Service":
            if not all(_SERVICE.fullmatch(i) for i in items):
                raise PrincipalError("Invalid principal in policy")
        else:
            raise PrincipalError("Invalid principal in policy")
    return Principals(everyone, frozenset(names))
