"""The ACL documents: ``AccessControlPolicy`` (GetBucketAcl/GetObjectAcl's answer,
PutBucketAcl/PutObjectAcl's body), ``PublicAccessBlockConfiguration`` and
``OwnershipControls``.

Parsed with defusedxml. An ACL document that does not parse or does not follow the
schema (no Owner/ID, a Grantee with no or an unknown ``xsi:type``, a grant with no
Permission or an unknown one, more than 100 grants) is ``MalformedACLError``, as AWS;
an unknown user id or group URI is ``InvalidArgument``; an ``AmazonCustomerByEmail``
grantee ``UnresolvableGrantByEmailAddress`` (``aisfs.auth.acl``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import defusedxml.ElementTree as DET

from aisfs.auth import acl as acls
from aisfs.errors import S3Error

from .build import XSI_NS, add_owner, element, serialize, sub
from .records import Owner

_XSI_TYPE = f"{{{XSI_NS}}}type"
_SCHEMA_MSG = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)
OWNERSHIPS = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                       "RestrictPublicBuckets")


def _malformed_acl(detail: str = "") -> S3Error:
    return S3Error("MalformedACLError", f"{_SCHEMA_MSG}: {detail}" if detail else _SCHEMA_MSG)


def _malformed_xml(detail: str = "") -> S3Error:
    return S3Error("MalformedXML", f"{_SCHEMA_MSG}: {detail}" if detail else _SCHEMA_MSG)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _root(body: bytes, tag: str) -> ET.Element | None:
    """The document's root element, None when it does not parse or is not ``tag``."""
    if not body or not body.strip():
        return None
    try:
        root = DET.fromstring(body, forbid_dtd=True)
    except Exception:  # ParseError, DefusedXmlException, ValueError, ...
        return None
    return root if _local(root.tag) == tag else None


def _child(el: ET.Element, tag: str) -> ET.Element | None:
    for c in el:
        if _local(c.tag) == tag:
            return c
    return None


def _text(el: ET.Element | None, tag: str) -> str | None:
    if el is None:
        return None
    c = _child(el, tag)
    return None if c is None else (c.text or "").strip()


# ---- AccessControlPolicy ---------------------------------------------------------------


def access_control_policy_document(acl: acls.AccessControlPolicy, owner: Owner) -> bytes:
    """GetBucketAcl/GetObjectAcl's answer (grantee display names already filled in)."""
    root = element("AccessControlPolicy")
    root.set("xmlns:xsi", XSI_NS)
    add_owner(root, owner)
    listed = sub(root, "AccessControlList")
    for g in acl.grants:
        grant = sub(listed, "Grant")
        grantee = sub(grant, "Grantee")
        grantee.set("xsi:type", g.grantee.kind)
        if g.grantee.uri:
            sub(grantee, "URI", g.grantee.uri)
        else:
            sub(grantee, "ID", g.grantee.id)
            sub(grantee, "DisplayName", g.grantee.display_name or g.grantee.id)
        sub(grant, "Permission", g.permission)
    return serialize(root)


def parse_access_control_policy(
    body: bytes, owner: str, name_of: acls.NameOf
) -> acls.AccessControlPolicy:
    """A PutBucketAcl/PutObjectAcl body. The resource keeps ``owner`` (the document's
    Owner must be present; it does not transfer ownership)."""
    root = _root(body, "AccessControlPolicy")
    if root is None:
        raise _malformed_acl()
    if not _text(_child(root, "Owner"), "ID"):
        raise _malformed_acl("no Owner/ID")
    lists = [c for c in root if _local(c.tag) == "AccessControlList"]
    if len(lists) > 1:
        raise _malformed_acl("more than one AccessControlList")
    listed = lists[0] if lists else None
    grants: list[acls.Grant] = []
    for el in ([] if listed is None else list(listed)):
        if not _local(el.tag):
            continue
        if _local(el.tag) != "Grant":
            raise _malformed_acl(f"unexpected <{_local(el.tag)}>")
        grants.append(_grant(el, name_of))
        if len(grants) > acls.MAX_GRANTS:
            raise _malformed_acl("more than 100 grants")
    return acls.AccessControlPolicy(owner, tuple(grants))


def _grant(el: ET.Element, name_of: acls.NameOf) -> acls.Grant:
    grantee_el = _child(el, "Grantee")
    permission = _text(el, "Permission")
    if grantee_el is None or permission not in acls.PERMISSIONS:
        raise _malformed_acl("a Grant needs a Grantee and a Permission")
    kind = grantee_el.get(_XSI_TYPE) or grantee_el.get("type")
    kind = kind.rsplit(":", 1)[-1] if kind else None
    if kind == "CanonicalUser":
        uid = _text(grantee_el, "ID")
        if not uid:
            raise _malformed_acl("a CanonicalUser grantee needs an ID")
        grantee = acls.user(uid, name_of)
    elif kind == "Group":
        uri = _text(grantee_el, "URI")
        if not uri:
            raise _malformed_acl("a Group grantee needs a URI")
        grantee = acls.group(uri)
    elif kind == "AmazonCustomerByEmail":
        raise acls.unresolvable_email(_text(grantee_el, "EmailAddress") or "")
    else:
        raise _malformed_acl("a Grantee needs xsi:type CanonicalUser, Group or "
                             "AmazonCustomerByEmail")
    perm: acls.Permission = permission
    return acls.Grant(grantee, perm)


def forwarded_policy(body: bytes) -> dict[str, Any]:
    """A PutObjectAcl document for a backend's object (aisfs/backend/forwarded.py), as
    botocore's ``AccessControlPolicy``: checked as ``parse_access_control_policy`` checks
    it, any canonical id taken (the backend's to judge)."""
    acl = parse_access_control_policy(body, "", lambda uid: uid)
    root = _root(body, "AccessControlPolicy")
    assert root is not None  # parsed above
    return {
        "Owner": {"ID": _text(_child(root, "Owner"), "ID") or ""},
        "Grants": [{"Grantee": {"Type": "Group", "URI": g.grantee.uri} if g.grantee.uri
                    else {"Type": "CanonicalUser", "ID": g.grantee.id},
                    "Permission": g.permission} for g in acl.grants],
    }


def backend_policy_document(answer: Mapping[str, Any]) -> bytes:
    """GetObjectAcl's answer for a backend's object from the backend's (botocore's
    parsed ``Owner`` and ``Grants``). A grantee by e-mail, which this document's
    schema does not carry here, is left out."""
    owner = answer.get("Owner") or {}
    grants: list[acls.Grant] = []
    for g in answer.get("Grants") or []:
        who, permission = g.get("Grantee") or {}, g.get("Permission")
        if permission not in acls.PERMISSIONS:
            continue
        if who.get("Type") == "Group" and who.get("URI"):
            grantee = acls.Grantee(uri=who["URI"])
        elif who.get("ID"):
            grantee = acls.Grantee(id=who["ID"], display_name=who.get("DisplayName") or "")
        else:
            continue
        grants.append(acls.Grant(grantee, permission))
    uid = str(owner.get("ID") or "")
    return access_control_policy_document(
        acls.AccessControlPolicy(uid, tuple(grants)),
        Owner(uid, str(owner.get("DisplayName") or uid)))


# ---- PublicAccessBlockConfiguration ---------------------------------------------------------


def public_access_block_configuration(flags: dict[str, bool]) -> bytes:
    root = element("PublicAccessBlockConfiguration")
    for name in PUBLIC_ACCESS_FLAGS:
        sub(root, name, bool(flags.get(name, False)))
    return serialize(root)


def parse_public_access_block(body: bytes) -> dict[str, bool]:
    """The four flags (an absent one: false); anything else is MalformedXML."""
    root = _root(body, "PublicAccessBlockConfiguration")
    if root is None:
        raise _malformed_xml()
    flags = dict.fromkeys(PUBLIC_ACCESS_FLAGS, False)
    for el in root:
        name = _local(el.tag)
        if not name:
            continue
        value = (el.text or "").strip().lower()
        if name not in flags or value not in ("true", "false"):
            raise _malformed_xml(f"<{name}>")
        flags[name] = value == "true"
    return flags


# ---- OwnershipControls -----------------------------------------------------------------------


def ownership_controls(ownership: str) -> bytes:
    root = element("OwnershipControls")
    sub(sub(root, "Rule"), "ObjectOwnership", ownership)
    return serialize(root)


def parse_ownership_controls(body: bytes) -> str:
    """The one rule's ObjectOwnership (MalformedXML otherwise, as AWS)."""
    root = _root(body, "OwnershipControls")
    if root is None:
        raise _malformed_xml()
    rules = [c for c in root if _local(c.tag) == "Rule"]
    if len(rules) != 1:
        raise _malformed_xml("exactly one Rule")
    value = _text(rules[0], "ObjectOwnership")
    if value not in OWNERSHIPS:
        raise _malformed_xml("ObjectOwnership")
    return value
