"""Sub-resource documents: location, versioning, tagging (buckets' and objects'), CORS,
the one ACL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .build import XSI_NS, add_owner, element, serialize, sub
from .records import DEFAULT_OWNER, CORSRule, Owner


def location_constraint(region: str | None) -> bytes:
    """``LocationConstraint``: empty for us-east-1 (and for no region), as AWS answers."""
    root = element("LocationConstraint")
    if region and region != "us-east-1":
        root.text = region
    return serialize(root)


def versioning_configuration(status: str | None) -> bytes:
    """``VersioningConfiguration``; no Status element when versioning was never set."""
    root = element("VersioningConfiguration")
    if status:
        sub(root, "Status", status)
    return serialize(root)


def tagging(tags: Mapping[str, str]) -> bytes:
    """A ``Tagging`` document; the tags sorted by key, as AWS returns them."""
    root = element("Tagging")
    ts = sub(root, "TagSet")
    for k, v in sorted(tags.items()):
        t = sub(ts, "Tag")
        sub(t, "Key", k)
        sub(t, "Value", v)
    return serialize(root)


def cors_configuration(rules: Iterable[CORSRule]) -> bytes:
    root = element("CORSConfiguration")
    for r in rules:
        re_ = sub(root, "CORSRule")
        if r.id:
            sub(re_, "ID", r.id)
        for h in r.allowed_headers:
            sub(re_, "AllowedHeader", h)
        for m in r.allowed_methods:
            sub(re_, "AllowedMethod", m)
        for o in r.allowed_origins:
            sub(re_, "AllowedOrigin", o)
        for h in r.expose_headers:
            sub(re_, "ExposeHeader", h)
        if r.max_age_seconds is not None:
            sub(re_, "MaxAgeSeconds", r.max_age_seconds)
    return serialize(root)


def access_control_policy(owner: Owner = DEFAULT_OWNER) -> bytes:
    """The one ACL we have: the owner with FULL_CONTROL."""
    root = element("AccessControlPolicy")
    add_owner(root, owner)
    acl = sub(root, "AccessControlList")
    grant = sub(acl, "Grant")
    grantee = sub(grant, "Grantee")
    grantee.set("xmlns:xsi", XSI_NS)
    grantee.set("xsi:type", "CanonicalUser")
    sub(grantee, "ID", owner.id)
    sub(grantee, "DisplayName", owner.display_name)
    sub(grant, "Permission", "FULL_CONTROL")
    return serialize(root)
