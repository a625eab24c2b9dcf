"""Access control lists, as S3 has them (sans-IO): grants, canned ACLs, grant headers.

An ``AccessControlPolicy`` is an owner (a canonical id) and up to 100 grants; a grant
gives one ``Permission`` to a grantee - a user (``CanonicalUser``, by canonical id) or a
group (``AllUsers``: anyone, anonymous included; ``AuthenticatedUsers``: any caller with
credentials; ``LogDelivery``: kept and shown, grants nothing here). What a permission
allows is AWS's table (docs/auth.md): on a bucket READ lists it, WRITE creates and
deletes its objects, READ_ACP/WRITE_ACP read and replace its ACL; on an object READ
reads it (data and metadata), READ_ACP/WRITE_ACP its ACL; FULL_CONTROL is all four.
The owner of a resource always keeps READ_ACP and WRITE_ACP.

Grants arrive as a canned ACL (``x-amz-acl``), as ``x-amz-grant-*`` headers
(``id="..."``, ``uri="..."``, ``emailAddress="..."``: AWS's
UnresolvableGrantByEmailAddress, no user here has an address) or as an
``AccessControlPolicy`` document (``aisfs.s3.xml.acl``). They are stored as JSON
(``to_json``/``from_json``: bucket props ``acl``, ``aisfs.store.acls`` for objects).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aisfs.errors import S3Error

Permission = Literal["READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"]
PERMISSIONS: tuple[Permission, ...] = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")

GROUPS = "http://acs.amazonaws.com/groups/"
ALL_USERS = GROUPS + "global/AllUsers"
AUTHENTICATED_USERS = GROUPS + "global/AuthenticatedUsers"
LOG_DELIVERY = GROUPS + "s3/LogDelivery"
KNOWN_GROUPS = frozenset((ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY))
PUBLIC_GROUPS = frozenset((ALL_USERS, AUTHENTICATED_USERS))  # what AWS calls public

MAX_GRANTS = 100

CANNED = (
    "private", "public-read", "public-read-write", "authenticated-read",
    "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write",
    "aws-exec-read",
)
GRANT_HEADERS: dict[str, Permission] = {
    "x-amz-grant-read": "READ",
    "x-amz-grant-write": "WRITE",
    "x-amz-grant-read-acp": "READ_ACP",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-full-control": "FULL_CONTROL",
}

# a display name for an id, None when no user has it
NameOf = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Grantee:
    """A user (``id``) or a group (``uri``)."""

    id: str = ""
    uri: str = ""
    display_name: str = ""

    @property
    def kind(self) -> str:
        return "Group" if self.uri else "CanonicalUser"


@dataclass(frozen=True, slots=True)
class Grant:
    grantee: Grantee
    permission: Permission


@dataclass(frozen=True, slots=True)
class AccessControlPolicy:
    owner: str  # the owner's canonical id
    grants: tuple[Grant, ...]

    @property
    def public(self) -> bool:
        """Whether it grants anything to AllUsers or AuthenticatedUsers (AWS's "public")."""
        return any(g.grantee.uri in PUBLIC_GROUPS for g in self.grants)


def private(owner: str) -> AccessControlPolicy:
    """The default ACL: the owner with FULL_CONTROL."""
    return AccessControlPolicy(owner, (Grant(Grantee(id=owner), "FULL_CONTROL"),))


def invalid_argument(message: str, name: str = "", value: str = "") -> S3Error:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else None
    return S3Error("InvalidArgument", message, extra=extra)


def canned(name: str, owner: str, bucket_owner: str | None = None) -> AccessControlPolicy:
    """The ACL a canned name stands for (``bucket_owner``: an object's, for the
    ``bucket-owner-*`` ones; on a bucket they are ``private``)."""
    if name not in CANNED:
        raise invalid_argument("Invalid canned ACL", "x-amz-acl", name)
    grants = [Grant(Grantee(id=owner), "FULL_CONTROL")]
    if name == "public-read":
        grants.append(Grant(Grantee(uri=ALL_USERS), "READ"))
    elif name == "public-read-write":
        grants += [Grant(Grantee(uri=ALL_USERS), "READ"), Grant(Grantee(uri=ALL_USERS), "WRITE")]
    elif name == "authenticated-read":
        grants.append(Grant(Grantee(uri=AUTHENTICATED_USERS), "READ"))
    elif name == "log-delivery-write":
        grants += [Grant(Grantee(uri=LOG_DELIVERY), "WRITE"),
                   Grant(Grantee(uri=LOG_DELIVERY), "READ_ACP")]
    elif name.startswith("bucket-owner-") and bucket_owner not in (None, owner):
        assert bucket_owner is not None
        perm: Permission = "READ" if name == "bucket-owner-read" else "FULL_CONTROL"
        grants.append(Grant(Grantee(id=bucket_owner), perm))
    return AccessControlPolicy(owner, tuple(grants))


_GRANTEE = re.compile(r'\s*(id|uri|emailaddress)\s*=\s*"([^"]*)"\s*(?:,|$)', re.IGNORECASE)


def parse_grantees(value: str, header: str, name_of: NameOf) -> list[Grantee]:
    """The grantees of one ``x-amz-grant-*`` header: ``id="..."``, ``uri="..."``,
    comma-separated (an email address: UnresolvableGrantByEmailAddress)."""
    out: list[Grantee] = []
    pos = 0
    text = value.strip()
    while pos < len(text):
        m = _GRANTEE.match(text, pos)
        if m is None or m.end() == pos:
            raise invalid_argument("Invalid grant header value", header, value)
        kind, who = m.group(1).lower(), m.group(2).strip()
        pos = m.end()
        out.append(_grantee(kind, who, header, name_of))
    if not out:
        raise invalid_argument("Invalid grant header value", header, value)
    return out


def _grantee(kind: str, who: str, header: str, name_of: NameOf) -> Grantee:
    if kind == "emailaddress":
        raise unresolvable_email(who)
    if kind == "uri":
        return group(who)
    return user(who, name_of)


def unresolvable_email(address: str) -> S3Error:
    return S3Error("UnresolvableGrantByEmailAddress",
                   "The e-mail address you provided does not match any account on record.",
                   extra={"EmailAddress": address})


def group(uri: str) -> Grantee:
    if uri not in KNOWN_GROUPS:
        raise invalid_argument("Invalid group uri", "uri", uri)
    return Grantee(uri=uri)


def user(uid: str, name_of: NameOf) -> Grantee:
    name = name_of(uid)
    if name is None:
        raise invalid_argument("Invalid id", "CanonicalUser/ID", uid)
    return Grantee(id=uid, display_name=name)


def from_headers(
    headers: Mapping[str, str], owner: str, name_of: NameOf,
    bucket_owner: str | None = None,
) -> AccessControlPolicy | None:
    """The ACL a request's headers set (None: they set none): ``x-amz-acl`` or the
    ``x-amz-grant-*`` headers, never both (InvalidRequest, as AWS)."""
    canned_name = headers.get("x-amz-acl")
    if canned_name is not None and not canned_name.strip():
        canned_name = None  # an empty x-amz-acl is no ACL (AWS: the default)
    grants: list[Grant] = []
    for header, perm in GRANT_HEADERS.items():
        value = headers.get(header)
        if value is not None:
            grants += [Grant(g, perm) for g in parse_grantees(value, header, name_of)]
    if canned_name is not None and grants:
        raise S3Error("InvalidRequest",
                      "Specifying both Canned ACLs and Header Grants is not allowed")
    if canned_name is not None:
        return canned(canned_name.strip(), owner, bucket_owner)
    if not grants:
        return None
    if len(grants) > MAX_GRANTS:
        raise S3Error("MalformedACLError", "The number of grants exceeds the maximum (100)")
    return AccessControlPolicy(owner, tuple(grants))


def has_acl_headers(headers: Mapping[str, str]) -> bool:
    return bool((headers.get("x-amz-acl") or "").strip()) or any(
        headers.get(h) is not None for h in GRANT_HEADERS)


def permits(
    acl: AccessControlPolicy, caller_id: str | None, permission: Permission,
    *, authenticated: bool | None = None, ignore_public: bool = False,
) -> bool:
    """Whether ``acl`` gives ``permission`` to the caller (``caller_id`` None: anonymous;
    ``authenticated`` defaults to having an id). ``ignore_public``: grants to AllUsers
    and AuthenticatedUsers count for nothing (IgnorePublicAcls)."""
    if authenticated is None:
        authenticated = caller_id is not None
    if caller_id is not None and caller_id == acl.owner and permission in (
            "READ_ACP", "WRITE_ACP"):
        return True
    for g in acl.grants:
        if g.permission != permission and g.permission != "FULL_CONTROL":
            continue
        who = g.grantee
        if who.uri:
            if ignore_public:
                continue
            if who.uri == ALL_USERS or (who.uri == AUTHENTICATED_USERS and authenticated):
                return True
        elif caller_id is not None and who.id == caller_id:
            return True
    return False


# ---- storage -------------------------------------------------------------------------


def to_json(acl: AccessControlPolicy) -> dict[str, Any]:
    return {
        "owner": acl.owner,
        "grants": [
            {"uri": g.grantee.uri, "perm": g.permission} if g.grantee.uri
            else {"id": g.grantee.id, "perm": g.permission}
            for g in acl.grants
        ],
    }


def from_json(doc: object) -> AccessControlPolicy | None:
    """A stored ACL (None: none or not one - the resource's default applies)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("owner"), str):
        return None
    grants: list[Grant] = []
    for g in doc.get("grants") or ():
        if not isinstance(g, dict) or g.get("perm") not in PERMISSIONS:
            continue
        perm: Permission = g["perm"]
        if isinstance(g.get("uri"), str) and g["uri"]:
            grants.append(Grant(Grantee(uri=g["uri"]), perm))
        elif isinstance(g.get("id"), str) and g["id"]:
            grants.append(Grant(Grantee(id=g["id"]), perm))
    return AccessControlPolicy(doc["owner"], tuple(grants))


def named(acl: AccessControlPolicy, name_of: NameOf) -> AccessControlPolicy:
    """``acl`` with each user grantee's display name filled in (as answers show it)."""
    grants = tuple(
        g if g.grantee.uri else Grant(
            Grantee(id=g.grantee.id, display_name=name_of(g.grantee.id) or g.grantee.id),
            g.permission)
        for g in acl.grants)
    return AccessControlPolicy(acl.owner, grants)


def only_owner_full_control(acl: AccessControlPolicy, bucket_owner: str) -> bool:
    """What BucketOwnerEnforced still accepts: an ACL that gives the bucket owner full
    control and nothing to anyone else (``private``, ``bucket-owner-full-control``)."""
    ids = {g.grantee.id for g in acl.grants if not g.grantee.uri}
    groups = [g for g in acl.grants if g.grantee.uri]
    return not groups and ids <= {bucket_owner, acl.owner} and any(
        g.grantee.id == bucket_owner and g.permission == "FULL_CONTROL" for g in acl.grants)

