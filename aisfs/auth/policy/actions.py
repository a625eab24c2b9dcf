"""S3's action names: which exist (a policy naming another is refused), which apply to a
bucket and which to an object (``Action does not apply to any resource(s) in
statement``), and the action(s) AWS checks for each operation the router names.

Names are matched case-insensitively, as AWS does (``s3:getobject`` is ``s3:GetObject``).
"""

from __future__ import annotations

from aisfs.auth.policy.patterns import wildcard_match

# Actions on an object ARN (arn:aws:s3:::bucket/key).
OBJECT_ACTIONS = frozenset({
    "AbortMultipartUpload", "BypassGovernanceRetention", "DeleteObject",
    "DeleteObjectTagging", "DeleteObjectVersion", "DeleteObjectVersionTagging",
    "GetObject", "GetObjectAcl", "GetObjectAttributes", "GetObjectLegalHold",
    "GetObjectRetention", "GetObjectTagging", "GetObjectTorrent", "GetObjectVersion",
    "GetObjectVersionAcl", "GetObjectVersionAttributes", "GetObjectVersionForReplication",
    "GetObjectVersionTagging", "GetObjectVersionTorrent", "InitiateReplication",
    "ListMultipartUploadParts", "ObjectOwnerOverrideToBucketOwner", "PutObject",
    "PutObjectAcl", "PutObjectLegalHold", "PutObjectRetention", "PutObjectTagging",
    "PutObjectVersionAcl", "PutObjectVersionTagging", "ReplicateDelete",
    "ReplicateObject", "ReplicateTags", "RestoreObject",
})

# Actions on a bucket ARN (arn:aws:s3:::bucket).
BUCKET_ACTIONS = frozenset({
    "CreateBucket", "DeleteBucket", "DeleteBucketOwnershipControls", "DeleteBucketPolicy",
    "DeleteBucketWebsite", "GetAccelerateConfiguration", "GetAnalyticsConfiguration",
    "GetBucketAcl", "GetBucketCORS", "GetBucketLocation", "GetBucketLogging",
    "GetBucketNotification", "GetBucketObjectLockConfiguration",
    "GetBucketOwnershipControls", "GetBucketPolicy", "GetBucketPolicyStatus",
    "GetBucketPublicAccessBlock", "GetBucketRequestPayment", "GetBucketTagging",
    "GetBucketVersioning", "GetBucketWebsite", "GetEncryptionConfiguration",
    "GetIntelligentTieringConfiguration", "GetInventoryConfiguration",
    "GetLifecycleConfiguration", "GetMetricsConfiguration", "GetReplicationConfiguration",
    "ListBucket", "ListBucketMultipartUploads", "ListBucketVersions",
    "PutAccelerateConfiguration", "PutAnalyticsConfiguration", "PutBucketAcl",
    "PutBucketCORS", "PutBucketLogging", "PutBucketNotification",
    "PutBucketObjectLockConfiguration", "PutBucketOwnershipControls", "PutBucketPolicy",
    "PutBucketPublicAccessBlock", "PutBucketRequestPayment", "PutBucketTagging",
    "PutBucketVersioning", "PutBucketWebsite", "PutEncryptionConfiguration",
    "PutIntelligentTieringConfiguration", "PutInventoryConfiguration",
    "PutLifecycleConfiguration", "PutMetricsConfiguration", "PutReplicationConfiguration",
})

# Actions on neither (the account's): valid names, but no bucket policy resource fits.
ACCOUNT_ACTIONS = frozenset({
    "ListAllMyBuckets", "GetAccountPublicAccessBlock", "PutAccountPublicAccessBlock",
    "ListAccessPoints", "ListJobs", "CreateJob",
})

ALL_ACTIONS: tuple[str, ...] = tuple(
    sorted("s3:" + a for a in OBJECT_ACTIONS | BUCKET_ACTIONS | ACCOUNT_ACTIONS)
)
_LOWER = {a.lower(): a for a in ALL_ACTIONS}


def known(pattern: str) -> tuple[str, ...]:
    """The actions ``pattern`` (an ``Action`` value, wildcards allowed) names: none for
    an invalid one (``Policy has invalid action``)."""
    if pattern == "*":
        return ALL_ACTIONS
    low = pattern.lower()
    if not low.startswith("s3:"):
        return ()
    if "*" not in low and "?" not in low:
        found = _LOWER.get(low)
        return (found,) if found else ()
    return tuple(a for a in ALL_ACTIONS if wildcard_match(low, a.lower()))


def kind(action: str) -> str:
    """``object``, ``bucket`` or ``account``: what resource ``action`` applies to."""
    name = action[3:]
    if name in OBJECT_ACTIONS:
        return "object"
    return "bucket" if name in BUCKET_ACTIONS else "account"


# operation (as node.s3 routes it) -> actions AWS checks, every one needed.
_BY_OPERATION: dict[str, tuple[str, ...]] = {
    "ListBuckets": ("s3:ListAllMyBuckets",),
    "ListObjects": ("s3:ListBucket",),
    "ListObjectsV2": ("s3:ListBucket",),
    "HeadBucket": ("s3:ListBucket",),
    "CreateBucket": ("s3:CreateBucket",),
    "DeleteBucket": ("s3:DeleteBucket",),
    "GetBucketLocation": ("s3:GetBucketLocation",),
    "GetBucketVersioning": ("s3:GetBucketVersioning",),
    "PutBucketVersioning": ("s3:PutBucketVersioning",),
    "ListObjectVersions": ("s3:ListBucketVersions",),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads",),
    "DeleteObjects": ("s3:DeleteObject",),
    "GetBucketCors": ("s3:GetBucketCORS",),
    "PutBucketCors": ("s3:PutBucketCORS",),
    "DeleteBucketCors": ("s3:PutBucketCORS",),
    "GetBucketTagging": ("s3:GetBucketTagging",),
    "PutBucketTagging": ("s3:PutBucketTagging",),
    "DeleteBucketTagging": ("s3:PutBucketTagging",),
    "GetBucketAcl": ("s3:GetBucketAcl",),
    "PutBucketAcl": ("s3:PutBucketAcl",),
    "GetBucketPolicy": ("s3:GetBucketPolicy",),
    "PutBucketPolicy": ("s3:PutBucketPolicy",),
    "DeleteBucketPolicy": ("s3:DeleteBucketPolicy",),
    "GetBucketPolicyStatus": ("s3:GetBucketPolicyStatus",),
    "GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock",),
    "PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "DeletePublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "GetBucketOwnershipControls": ("s3:GetBucketOwnershipControls",),
    "PutBucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "DeleteBucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "GetBucketEncryption": ("s3:GetEncryptionConfiguration",),
    "PutBucketEncryption": ("s3:PutEncryptionConfiguration",),
    "DeleteBucketEncryption": ("s3:PutEncryptionConfiguration",),
    "GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration",),
    "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
    "DeleteBucketLifecycle": ("s3:PutLifecycleConfiguration",),
    "GetObjectLockConfiguration": ("s3:GetBucketObjectLockConfiguration",),
    "PutObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration",),
    "GetObject": ("s3:GetObject",),
    "HeadObject": ("s3:GetObject",),
    "PutObject": ("s3:PutObject",),
    "PostObject": ("s3:PutObject",),
    "CopyObject": ("s3:PutObject",),
    "DeleteObject": ("s3:DeleteObject",),
    "CreateMultipartUpload": ("s3:PutObject",),
    "UploadPart": ("s3:PutObject",),
    "UploadPartCopy": ("s3:PutObject",),
    "CompleteMultipartUpload": ("s3:PutObject",),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload",),
    "ListParts": ("s3:ListMultipartUploadParts",),
    "GetObjectTagging": ("s3:GetObjectTagging",),
    "PutObjectTagging": ("s3:PutObjectTagging",),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging",),
    "GetObjectAcl": ("s3:GetObjectAcl",),
    "PutObjectAcl": ("s3:PutObjectAcl",),
    "GetObjectRetention": ("s3:GetObjectRetention",),
    "PutObjectRetention": ("s3:PutObjectRetention",),
    "GetObjectLegalHold": ("s3:GetObjectLegalHold",),
    "PutObjectLegalHold": ("s3:PutObjectLegalHold",),
    # not an S3 operation: a request's x-amz-bypass-governance-retention (object lock)
    "BypassGovernanceRetention": ("s3:BypassGovernanceRetention",),
    "GetObjectAttributes": ("s3:GetObject", "s3:GetObjectAttributes"),
}

# With ?versionId= AWS checks the version's action instead.
_VERSIONED = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
    "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
}

# What a copy (CopyObject, UploadPartCopy) needs on its source object, besides
# s3:PutObject on the destination.
COPY_SOURCE_ACTION = "s3:GetObject"


def actions_for(operation: str, version_id: bool = False) -> tuple[str, ...]:
    """The actions AWS checks for ``operation`` (every one must be allowed); ``()`` for
    one no policy governs (a CORS preflight, or a name we do not know). ``version_id``:
    the request names a version (``s3:GetObjectVersion`` for GetObject, ...). A copy's
    source needs :data:`COPY_SOURCE_ACTION` too, on the source's resource; DeleteObjects
    needs ``s3:DeleteObject`` on each key it names."""
    actions = _BY_OPERATION.get(operation, ())
    if version_id:
        return tuple(_VERSIONED.get(a, a) for a in actions)
    return actions
