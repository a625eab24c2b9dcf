"""The one access decision of an S3 request (sans-IO): bucket owner, bucket policy, ACLs,
public access block and object ownership, as AWS documents their evaluation.

``decide(AccessRequest) -> Decision``, in this order:

1. an **admin** may do anything (root of every bucket);
2. an explicit **Deny** of the bucket policy refuses, the bucket owner included - but
   the owner may always read, replace and delete the policy (AWS's lock-out rule);
3. the **owner**: the bucket owner may do anything on the bucket and on the objects it
   owns; an object written by another user under ``ObjectWriter`` or
   ``BucketOwnerPreferred`` is that user's (its ACL decides what the bucket owner may do
   with it, but for deleting or overwriting it, which is the bucket's WRITE);
4. an **Allow** of the policy allows - not for another user or anonymous when the
   policy is public and the bucket has ``RestrictPublicBuckets``;
5. an **ACL grant** allows (the bucket's for bucket-level operations and writes, the
   object's for reads of it and of its ACL): ignored altogether under
   ``BucketOwnerEnforced``; grants to AllUsers/AuthenticatedUsers ignored under
   ``IgnorePublicAcls``;
6. anything else is refused (AccessDenied).

Which ACL permission an operation needs is ``NEEDS`` (AWS's ACL permission table); an
operation not in it is its owner's alone (bucket configuration, tagging...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from aisfs.auth.acl import AccessControlPolicy, Permission, permits, private

Scope = Literal["bucket", "object"]
PolicyVerdict = Literal["Allow", "Deny", "NoMatch"]

OWNERSHIP_PROP = "ownership"  # bucket props: one of OWNERSHIPS
OWNERSHIPS = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
PUBLIC_ACCESS_BLOCK_PROP = "public_access_block"  # the four flags (JSON object)
ACL_PROP = "acl"  # the bucket's ACL (aisfs.auth.acl.to_json)
OBJECT_ACLS_PROP = "object_acls"  # true once an object of the bucket has an ACL of its own
POLICY_PROP = "policy"
# what a bucket without ownership controls behaves as (AWS makes new buckets
# BucketOwnerEnforced; aisfs keeps ACLs working, as before ownership controls - docs/auth.md)
DEFAULT_OWNERSHIP = "ObjectWriter"
ENFORCED = "BucketOwnerEnforced"

# operation -> (whose ACL, which permission)
NEEDS: dict[str, tuple[Scope, Permission]] = {
    **dict.fromkeys(("ListObjects", "ListObjectsV2", "ListObjectVersions",
                     "ListMultipartUploads", "HeadBucket"), ("bucket", "READ")),
    **dict.fromkeys(("PutObject", "PostObject", "DeleteObject", "DeleteObjects", "CopyObject",
                     "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
                     "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts"),
                    ("bucket", "WRITE")),
    "GetBucketAcl": ("bucket", "READ_ACP"),
    "PutBucketAcl": ("bucket", "WRITE_ACP"),
    **dict.fromkeys(("GetObject", "HeadObject", "GetObjectAttributes"), ("object", "READ")),
    "GetObjectAcl": ("object", "READ_ACP"),
    "PutObjectAcl": ("object", "WRITE_ACP"),
}
# operations on one object that its owner may do with no ACL grant (besides NEEDS' object ones)
OBJECT_OWNER_OPS = frozenset((
    "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging", "GetObjectRetention",
    "PutObjectRetention", "GetObjectLegalHold", "PutObjectLegalHold",
))
POLICY_OPS = frozenset(("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"))


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    @classmethod
    def from_json(cls, doc: object) -> PublicAccessBlock:
        if not isinstance(doc, dict):
            return NO_BLOCK
        return cls(doc.get("BlockPublicAcls") is True, doc.get("IgnorePublicAcls") is True,
                   doc.get("BlockPublicPolicy") is True,
                   doc.get("RestrictPublicBuckets") is True)


NO_BLOCK = PublicAccessBlock()


@dataclass(frozen=True, slots=True)
class AccessRequest:
    operation: str
    caller_id: str | None  # None: anonymous
    bucket_owner: str
    admin: bool = False
    bucket_acl: AccessControlPolicy | None = None  # None: private to the bucket owner
    object_acl: AccessControlPolicy | None = None  # None: the bucket owner's, private
    policy: PolicyVerdict | None = None  # None: the bucket has no policy
    policy_public: bool = False
    block: PublicAccessBlock = field(default=NO_BLOCK)
    ownership: str = DEFAULT_OWNERSHIP


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    why: str  # admin | explicit-deny | owner | policy | acl | implicit-deny

    def __bool__(self) -> bool:
        return self.allowed


def scope_of(operation: str) -> Scope:
    need = NEEDS.get(operation)
    if need is not None:
        return need[0]
    return "object" if operation in OBJECT_OWNER_OPS else "bucket"


def object_owner(req: AccessRequest) -> str:
    """Whose the object is: its ACL's owner, the bucket owner's under BucketOwnerEnforced
    or when it has no ACL of its own."""
    if req.ownership == ENFORCED or req.object_acl is None:
        return req.bucket_owner
    return req.object_acl.owner


def denies_owner(policy: PolicyVerdict | None, operation: str) -> bool:
    """Rule 2 for the bucket owner: the policy's explicit Deny refuses it, but for
    reading, replacing and deleting the policy. (The owner's request on what it owns
    is otherwise allowed - rule 3 - whatever else: ``aisfs_node.s3_access`` decides
    that common case with this alone.)"""
    return policy == "Deny" and operation not in POLICY_OPS


def decide(req: AccessRequest) -> Decision:
    if req.admin:
        return Decision(True, "admin")
    caller = req.caller_id
    is_bucket_owner = caller is not None and caller == req.bucket_owner
    if req.policy == "Deny" and (not is_bucket_owner or denies_owner(req.policy,
                                                                    req.operation)):
        return Decision(False, "explicit-deny")
    if caller is not None and _owns(req, caller):
        return Decision(True, "owner")
    if req.policy == "Allow" and (
            is_bucket_owner or not (req.policy_public and req.block.restrict_public_buckets)):
        return Decision(True, "policy")
    if _acl_allows(req):
        return Decision(True, "acl")
    return Decision(False, "implicit-deny")


def _owns(req: AccessRequest, caller: str) -> bool:
    if scope_of(req.operation) == "bucket":
        return caller == req.bucket_owner
    return caller == object_owner(req)


def _acl_allows(req: AccessRequest) -> bool:
    need = NEEDS.get(req.operation)
    if need is None or req.ownership == ENFORCED:
        return False
    scope, permission = need
    if scope == "bucket":
        acl = req.bucket_acl or private(req.bucket_owner)
    else:
        acl = req.object_acl or private(req.bucket_owner)
    return permits(acl, req.caller_id, permission,
                   ignore_public=req.block.ignore_public_acls)
