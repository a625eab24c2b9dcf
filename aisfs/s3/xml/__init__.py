"""S3 XML: response documents built as bytes, request bodies parsed with defusedxml.

One module per concern, every public name re-exported here (``from aisfs.s3 import xml
as s3xml``; ``s3xml.list_objects_v2_result(...)``):

- ``records``        the values documents are built from and parsed into (``ListParams``,
                     ``CORSRule``, ``ObjectIdentifier``, the record protocols, ``Owner``)
- ``values``         single values: timestamps, ETags (arrive unquoted, emitted quoted, as
                     AWS does), ``encoding-type=url``, the ``Checksum*`` element names
- ``build``          the element plumbing every builder uses (namespace, declaration)
- ``errors``         ``<Error>``
- ``listing``        ListBuckets, ListObjects v1/v2, ListObjectVersions, continuation tokens
- ``versions``       ListObjectVersions of a local bucket (versions and delete markers)
- ``objects``        copy results, DeleteResult, GetObjectAttributes
- ``multipart``      Initiate, Complete, ListParts, ListMultipartUploads
- ``bucket_config``  location, versioning, tagging, CORS, ACL
- ``lifecycle``      LifecycleConfiguration: parsed into ``aisfs.s3.lifecycle`` rules, built
- ``encryption``     ServerSideEncryptionConfiguration (bucket default encryption)
- ``object_lock``    ObjectLockConfiguration, Retention, LegalHold (``aisfs.s3.object_lock``)
- ``acl``            AccessControlPolicy (parsed into ``aisfs.auth.acl``, built),
                     PublicAccessBlockConfiguration, OwnershipControls
- ``parse``          every request document (defusedxml; anything malformed or hostile is
                     ``MalformedXML``, never another exception type)

The submodules import ``records``, ``values`` and ``build``, never each other.
"""

from __future__ import annotations

from .acl import (
    OWNERSHIPS,
    PUBLIC_ACCESS_FLAGS,
    access_control_policy_document,
    backend_policy_document,
    forwarded_policy,
    ownership_controls,
    parse_access_control_policy,
    parse_ownership_controls,
    parse_public_access_block,
    public_access_block_configuration,
)
from .bucket_config import (
    access_control_policy,
    cors_configuration,
    location_constraint,
    tagging,
    versioning_configuration,
)
from .build import S3_NS, XSI_NS
from .encryption import (
    EncryptionRule,
    encryption_configuration,
    parse_encryption_configuration,
)
from .errors import error_document
from .lifecycle import lifecycle_configuration, parse_lifecycle_configuration
from .listing import (
    decode_continuation_token,
    encode_continuation_token,
    list_buckets_result,
    list_objects_v1_result,
    list_objects_v2_result,
)
from .multipart import (
    complete_multipart_upload_result,
    initiate_multipart_upload_result,
    list_multipart_uploads_result,
    list_parts_result,
)
from .object_lock import (
    object_legal_hold,
    object_lock_configuration,
    object_retention,
    parse_object_legal_hold,
    parse_object_lock_configuration,
    parse_object_retention,
)
from .objects import copy_object_result, copy_part_result, delete_result, object_attributes
from .parse import (
    MAX_CORS_RULES,
    MAX_DELETE_OBJECTS,
    parse_complete_multipart_upload,
    parse_completed_parts,
    parse_cors_configuration,
    parse_create_bucket_configuration,
    parse_delete,
    parse_tagging,
    parse_versioning_configuration,
    parse_versioning_mfa_delete,
)
from .records import (
    CORS_METHODS,
    DEFAULT_OWNER,
    BucketRecord,
    CompletedPart,
    CORSRule,
    ListParams,
    ObjectIdentifier,
    ObjectPart,
    ObjectRecord,
    Owner,
    PartRecord,
    PartsPage,
    UploadRecord,
)
from .values import format_timestamp, quote_etag, unquote_etag, url_encode
from .versions import VersionRecord, object_versions_result

__all__ = [
    "EncryptionRule",
    "encryption_configuration",
    "parse_encryption_configuration",
    "VersionRecord",
    "object_versions_result",
    "CORS_METHODS",
    "DEFAULT_OWNER",
    "MAX_CORS_RULES",
    "MAX_DELETE_OBJECTS",
    "OWNERSHIPS",
    "PUBLIC_ACCESS_FLAGS",
    "S3_NS",
    "XSI_NS",
    "BucketRecord",
    "CORSRule",
    "CompletedPart",
    "ListParams",
    "ObjectIdentifier",
    "ObjectPart",
    "ObjectRecord",
    "Owner",
    "PartRecord",
    "PartsPage",
    "UploadRecord",
    "access_control_policy",
    "access_control_policy_document",
    "backend_policy_document",
    "forwarded_policy",
    "complete_multipart_upload_result",
    "copy_object_result",
    "copy_part_result",
    "cors_configuration",
    "decode_continuation_token",
    "delete_result",
    "encode_continuation_token",
    "error_document",
    "format_timestamp",
    "initiate_multipart_upload_result",
    "lifecycle_configuration",
    "list_buckets_result",
    "list_multipart_uploads_result",
    "list_objects_v1_result",
    "list_objects_v2_result",
    "list_parts_result",
    "location_constraint",
    "object_attributes",
    "ownership_controls",
    "parse_access_control_policy",
    "object_legal_hold",
    "object_lock_configuration",
    "object_retention",
    "parse_complete_multipart_upload",
    "parse_completed_parts",
    "parse_cors_configuration",
    "parse_create_bucket_configuration",
    "parse_delete",
    "parse_lifecycle_configuration",
    "parse_ownership_controls",
    "parse_public_access_block",
    "parse_object_legal_hold",
    "parse_object_lock_configuration",
    "parse_object_retention",
    "parse_tagging",
    "parse_versioning_configuration",
    "parse_versioning_mfa_delete",
    "public_access_block_configuration",
    "quote_etag",
    "tagging",
    "unquote_etag",
    "url_encode",
    "versioning_configuration",
]
