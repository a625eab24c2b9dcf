"""The access decision, sans-IO (aisfs/auth/access.py): every path of the order AWS
documents - admin, explicit Deny, owner, policy Allow (RestrictPublicBuckets), ACL grants
(IgnorePublicAcls, BucketOwnerEnforced), implicit deny; and properties over all inputs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aisfs.auth import acl
from aisfs.auth.access import (
    NEEDS,
    OWNERSHIPS,
    AccessRequest,
    PublicAccessBlock,
    decide,
    scope_of,
)

OWNER, OTHER, THIRD = "a" * 64, "b" * 64, "c" * 64
PUBLIC_READ = acl.canned("public-read", OWNER)


def why(**kw: object) -> str:
    return decide(AccessRequest(**kw)).why  # type: ignore[arg-type]


def test_paths() -> None:
    base = {"operation": "GetObject", "bucket_owner": OWNER}
    assert why(**base, caller_id=None, admin=True, policy="Deny") == "admin"
    assert why(**base, caller_id=OWNER) == "owner"
    assert why(**base, caller_id=OWNER, policy="Deny") == "explicit-deny"
    assert why(operation="PutBucketPolicy", bucket_owner=OWNER, caller_id=OWNER,
               policy="Deny") == "owner"  # never locked out of the policy
    assert why(operation="PutBucketPolicy", bucket_owner=OWNER, caller_id=OTHER,
               policy="Deny") == "explicit-deny"
    assert why(**base, caller_id=OTHER) == "implicit-deny"
    assert why(**base, caller_id=OTHER, policy="Allow") == "policy"
    assert why(**base, caller_id=None, policy="Allow", policy_public=True) == "policy"
    restrict = PublicAccessBlock(restrict_public_buckets=True)
    assert why(**base, caller_id=None, policy="Allow", policy_public=True,
               block=restrict) == "implicit-deny"
    assert why(**base, caller_id=OTHER, policy="Allow", policy_public=False,
               block=restrict) == "policy"
    assert why(**base, caller_id=None, object_acl=PUBLIC_READ) == "acl"
    assert why(**base, caller_id=None, object_acl=PUBLIC_READ,
               block=PublicAccessBlock(ignore_public_acls=True)) == "implicit-deny"
    assert why(**base, caller_id=None, object_acl=PUBLIC_READ,
               ownership="BucketOwnerEnforced") == "implicit-deny"
    assert why(**base, caller_id=None, object_acl=PUBLIC_READ, policy="Deny") == \
        "explicit-deny"
    # the bucket's ACL governs listing and writing, the object's reading
    assert why(operation="ListObjectsV2", bucket_owner=OWNER, caller_id=None,
               bucket_acl=PUBLIC_READ) == "acl"
    assert why(operation="GetObject", bucket_owner=OWNER, caller_id=None,
               bucket_acl=PUBLIC_READ) == "implicit-deny"
    assert why(operation="PutObject", bucket_owner=OWNER, caller_id=None,
               bucket_acl=acl.canned("public-read-write", OWNER)) == "acl"
    # bucket configuration is the owner's alone, whatever the ACL
    assert why(operation="PutBucketCors", bucket_owner=OWNER, caller_id=OTHER,
               bucket_acl=acl.AccessControlPolicy(OWNER, (acl.Grant(
                   acl.Grantee(id=OTHER), "FULL_CONTROL"),))) == "implicit-deny"


def test_object_written_by_another_user() -> None:
    theirs = acl.private(OTHER)
    assert why(operation="GetObject", bucket_owner=OWNER, caller_id=OTHER,
               object_acl=theirs) == "owner"
    assert why(operation="GetObject", bucket_owner=OWNER, caller_id=OWNER,
               object_acl=theirs) == "implicit-deny"
    assert why(operation="DeleteObject", bucket_owner=OWNER, caller_id=OWNER,
               object_acl=theirs) == "owner"
    assert why(operation="GetObject", bucket_owner=OWNER, caller_id=OWNER,
               object_acl=theirs, ownership="BucketOwnerEnforced") == "owner"
    assert why(operation="PutObjectTagging", bucket_owner=OWNER, caller_id=OTHER,
               object_acl=theirs) == "owner"


def test_scopes() -> None:
    assert scope_of("GetObject") == "object" and scope_of("PutObject") == "bucket"
    assert scope_of("GetObjectTagging") == "object" and scope_of("PutBucketCors") == "bucket"


acls_ = st.one_of(st.none(), st.sampled_from([
    acl.private(OWNER), acl.private(OTHER), PUBLIC_READ, acl.canned("public-read-write", OWNER),
    acl.canned("authenticated-read", OTHER), acl.canned("bucket-owner-full-control", OTHER,
                                                        OWNER)]))
requests = st.builds(
    AccessRequest,
    operation=st.sampled_from([*NEEDS, "PutBucketCors", "GetObjectTagging", "PutBucketPolicy"]),
    caller_id=st.sampled_from([None, OWNER, OTHER, THIRD]),
    bucket_owner=st.just(OWNER),
    admin=st.booleans(),
    bucket_acl=acls_, object_acl=acls_,
    policy=st.sampled_from([None, "Allow", "Deny", "NoMatch"]),
    policy_public=st.booleans(),
    block=st.builds(PublicAccessBlock, st.booleans(), st.booleans(), st.booleans(),
                    st.booleans()),
    ownership=st.sampled_from(OWNERSHIPS),
)


@given(requests)
def test_properties(req: AccessRequest) -> None:
    d = decide(req)
    if req.admin:
        assert d.allowed
    elif req.policy == "Deny" and req.caller_id != req.bucket_owner:
        assert not d.allowed  # explicit deny wins over every allow
    if req.caller_id is None and not req.admin and d.allowed:
        assert d.why in ("policy", "acl")  # anonymous only where a grant says so
    if req.ownership == "BucketOwnerEnforced":
        assert d.why != "acl"
    if d.why == "acl" and req.block.ignore_public_acls:
        assert req.caller_id is not None
    if req.caller_id is None and req.block.restrict_public_buckets and req.policy_public:
        assert d.why != "policy"
