"""ACLs, sans-IO (aisfs/auth/acl.py, aisfs/s3/xml/acl.py): canned ACLs, grant headers,
permits, the stored form and the AccessControlPolicy / PublicAccessBlockConfiguration /
OwnershipControls documents; unit and hypothesis property tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aisfs.auth import acl
from aisfs.errors import S3Error
from aisfs.s3 import xml as s3xml

OWNER = "a" * 64
OTHER = "b" * 64
USERS = {OWNER: "owner", OTHER: "other"}


def name_of(uid: str) -> str | None:
    return USERS.get(uid)


def test_canned_acls() -> None:
    assert acl.canned("private", OWNER).grants == acl.private(OWNER).grants
    pr = acl.canned("public-read", OWNER)
    assert pr.public and acl.permits(pr, None, "READ") and not acl.permits(pr, None, "WRITE")
    prw = acl.canned("public-read-write", OWNER)
    assert acl.permits(prw, None, "WRITE") and acl.permits(prw, OTHER, "WRITE")
    ar = acl.canned("authenticated-read", OWNER)
    assert ar.public and acl.permits(ar, OTHER, "READ") and not acl.permits(ar, None, "READ")
    bor = acl.canned("bucket-owner-read", OTHER, OWNER)
    assert acl.permits(bor, OWNER, "READ") and not acl.permits(bor, OWNER, "WRITE_ACP")
    bofc = acl.canned("bucket-owner-full-control", OTHER, OWNER)
    assert acl.permits(bofc, OWNER, "WRITE_ACP")
    assert acl.canned("bucket-owner-full-control", OWNER, OWNER).grants == \
        acl.private(OWNER).grants
    ldw = acl.canned("log-delivery-write", OWNER)
    assert not ldw.public and not acl.permits(ldw, None, "WRITE")
    with pytest.raises(S3Error) as e:
        acl.canned("nope", OWNER)
    assert e.value.code == "InvalidArgument"


def test_owner_keeps_acp() -> None:
    a = acl.AccessControlPolicy(OWNER, ())
    assert acl.permits(a, OWNER, "READ_ACP") and acl.permits(a, OWNER, "WRITE_ACP")
    assert not acl.permits(a, OWNER, "READ")


def test_grant_headers() -> None:
    h = {"x-amz-grant-read": f'id="{OTHER}", uri="{acl.ALL_USERS}"',
         "x-amz-grant-full-control": f'ID="{OWNER}"'}
    a = acl.from_headers(h, OWNER, name_of)
    assert a is not None
    assert {(g.grantee.id or g.grantee.uri, g.permission) for g in a.grants} == {
        (OTHER, "READ"), (acl.ALL_USERS, "READ"), (OWNER, "FULL_CONTROL")}
    assert acl.from_headers({}, OWNER, name_of) is None
    assert acl.from_headers({"x-amz-acl": ""}, OWNER, name_of) is None  # AWS: the default
    assert not acl.has_acl_headers({"x-amz-acl": " "})
    cases = [
        ({"x-amz-grant-read": 'emailAddress="x@y.z"'}, "UnresolvableGrantByEmailAddress"),
        ({"x-amz-grant-read": f'id="{"c" * 64}"'}, "InvalidArgument"),
        ({"x-amz-grant-read": 'uri="http://example.com/g"'}, "InvalidArgument"),
        ({"x-amz-grant-read": "garbage"}, "InvalidArgument"),
        ({"x-amz-grant-read": ""}, "InvalidArgument"),
        ({"x-amz-acl": "private", "x-amz-grant-read": f'id="{OTHER}"'}, "InvalidRequest"),
    ]
    for headers, code in cases:
        with pytest.raises(S3Error) as e:
            acl.from_headers(headers, OWNER, name_of)
        assert e.value.code == code, headers


def test_ignore_public() -> None:
    pr = acl.canned("public-read", OWNER)
    assert not acl.permits(pr, None, "READ", ignore_public=True)
    assert acl.permits(pr, OWNER, "READ", ignore_public=True)


def test_only_owner_full_control() -> None:
    assert acl.only_owner_full_control(acl.private(OWNER), OWNER)
    assert acl.only_owner_full_control(
        acl.canned("bucket-owner-full-control", OTHER, OWNER), OWNER)
    assert not acl.only_owner_full_control(acl.private(OTHER), OWNER)
    assert not acl.only_owner_full_control(acl.canned("public-read", OWNER), OWNER)


grantees = st.one_of(st.sampled_from([OWNER, OTHER]).map(lambda i: acl.Grantee(id=i)),
                     st.sampled_from(sorted(acl.KNOWN_GROUPS)).map(lambda u: acl.Grantee(uri=u)))
policies = st.builds(
    acl.AccessControlPolicy, st.sampled_from([OWNER, OTHER]),
    st.lists(st.builds(acl.Grant, grantees, st.sampled_from(acl.PERMISSIONS)),
             max_size=8).map(tuple))


@given(policies)
def test_json_round_trip(a: acl.AccessControlPolicy) -> None:
    assert acl.from_json(acl.to_json(a)) == a


@given(policies)
def test_document_round_trip(a: acl.AccessControlPolicy) -> None:
    named = acl.named(a, name_of)
    doc = s3xml.access_control_policy_document(named, s3xml.Owner(a.owner, "o"))
    back = s3xml.parse_access_control_policy(doc, a.owner, name_of)
    assert back == named


@given(policies, st.sampled_from([OWNER, OTHER, None]), st.sampled_from(acl.PERMISSIONS))
def test_full_control_implies_every_permission(
        a: acl.AccessControlPolicy, who: str | None, perm: acl.Permission) -> None:
    if acl.permits(a, who, "FULL_CONTROL"):
        assert acl.permits(a, who, perm)
    # ignoring public grants never gives more
    if acl.permits(a, who, perm, ignore_public=True):
        assert acl.permits(a, who, perm)
    # anonymous is never allowed more than an authenticated user
    if acl.permits(a, None, perm) and who is not None:
        assert acl.permits(a, who, perm)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_refuse_as_aws(body: bytes) -> None:
    for parse in (lambda: s3xml.parse_access_control_policy(body, OWNER, name_of),
                  lambda: s3xml.parse_public_access_block(body),
                  lambda: s3xml.parse_ownership_controls(body)):
        try:
            parse()
        except S3Error as e:
            assert e.code in ("MalformedACLError", "MalformedXML", "InvalidArgument",
                              "UnresolvableGrantByEmailAddress")


def test_malformed_documents() -> None:
    ns = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    bad = [
        b"<AccessControlPolicy/>",  # no owner
        b"<Other><Owner><ID>x</ID></Owner></Other>",
        b"<AccessControlPolicy><Owner><ID>x</ID></Owner><AccessControlList/>"
        b"<AccessControlList/></AccessControlPolicy>",
        f"<AccessControlPolicy {ns}><Owner><ID>x</ID></Owner><AccessControlList><Grant>"
        f"<Grantee xsi:type='Martian'><ID>{OWNER}</ID></Grantee><Permission>READ</Permission>"
        "</Grant></AccessControlList></AccessControlPolicy>".encode(),
        f"<AccessControlPolicy {ns}><Owner><ID>x</ID></Owner><AccessControlList><Grant>"
        f"<Grantee xsi:type='CanonicalUser'><ID>{OWNER}</ID></Grantee>"
        "<Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>".encode(),
    ]
    for body in bad:
        with pytest.raises(S3Error) as e:
            s3xml.parse_access_control_policy(body, OWNER, name_of)
        assert e.value.code == "MalformedACLError", body
    email = (f"<AccessControlPolicy {ns}><Owner><ID>x</ID></Owner><AccessControlList><Grant>"
             "<Grantee xsi:type='AmazonCustomerByEmail'><EmailAddress>a@b</EmailAddress>"
             "</Grantee><Permission>READ</Permission></Grant></AccessControlList>"
             "</AccessControlPolicy>").encode()
    with pytest.raises(S3Error) as e:
        s3xml.parse_access_control_policy(email, OWNER, name_of)
    assert e.value.code == "UnresolvableGrantByEmailAddress"


def test_public_access_block_and_ownership_documents() -> None:
    flags = {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": False}
    assert s3xml.parse_public_access_block(s3xml.public_access_block_configuration(flags)) \
        == flags
    assert s3xml.parse_public_access_block(
        b"<PublicAccessBlockConfiguration><IgnorePublicAcls>true</IgnorePublicAcls>"
        b"</PublicAccessBlockConfiguration>")["IgnorePublicAcls"] is True
    for o in s3xml.OWNERSHIPS:
        assert s3xml.parse_ownership_controls(s3xml.ownership_controls(o)) == o
    for body in (b"<OwnershipControls/>", b"<OwnershipControls><Rule><ObjectOwnership>X"
                 b"</ObjectOwnership></Rule></OwnershipControls>",
                 b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls>"
                 b"</PublicAccessBlockConfiguration>"):
        with pytest.raises(S3Error) as e:
            (s3xml.parse_ownership_controls if b"Owner" in body
             else s3xml.parse_public_access_block)(body)
        assert e.value.code == "MalformedXML"


@given(st.text(max_size=120), st.sampled_from(sorted(acl.GRANT_HEADERS)))
def test_any_grant_header_parses_or_refuses_as_aws(value: str, header: str) -> None:
    try:
        got = acl.from_headers({header: value}, OWNER, name_of)
    except S3Error as e:
        assert e.code in ("InvalidArgument", "UnresolvableGrantByEmailAddress",
                          "MalformedACLError")
        return
    assert got is not None and got.grants
    assert all(g.grantee.id in USERS or g.grantee.uri in acl.KNOWN_GROUPS for g in got.grants)


@given(st.lists(st.sampled_from([f'id="{OTHER}"', f'uri="{acl.ALL_USERS}"',
                                 f'uri="{acl.AUTHENTICATED_USERS}"', f'ID = "{OWNER}"']),
                min_size=1, max_size=6))
def test_grant_header_lists(items: list[str]) -> None:
    got = acl.from_headers({"x-amz-grant-write": ", ".join(items)}, OWNER, name_of)
    assert got is not None and len(got.grants) == len(items)
    assert {g.permission for g in got.grants} == {"WRITE"}
