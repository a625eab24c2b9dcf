"""Listing documents: ListBuckets, ListObjects (v1 and v2), ListObjectVersions, and the
continuation token v2 pages by."""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence

from aisfs.errors import S3Error

from .build import add_common_prefixes, add_owner, element, encoded, serialize, sub
from .records import DEFAULT_OWNER, BucketRecord, ListParams, ObjectRecord, Owner
from .values import format_timestamp, quote_etag


def encode_continuation_token(marker: str) -> str:
    """An opaque ``NextContinuationToken`` for the last key or prefix listed."""
    return base64.urlsafe_b64encode(marker.encode("utf-8")).decode("ascii")


def decode_continuation_token(token: str) -> str:
    """The marker inside a token from :func:`encode_continuation_token`.

    Raises:
        S3Error: ``InvalidArgument`` for a token this node did not issue.
    """
    try:
        marker = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
        if not marker:
            raise ValueError("empty token")
        return marker.decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise S3Error(
            "InvalidArgument",
            "The continuation token provided is incorrect",
            extra={"ArgumentName": "continuation-token"},
        ) from None


def list_buckets_result(
    buckets: Iterable[BucketRecord],
    owner: Owner = DEFAULT_OWNER,
    region: str | None = None,
    continuation_token: str | None = None,
    prefix: str | None = None,
) -> bytes:
    root = element("ListAllMyBucketsResult")
    add_owner(root, owner)
    el = sub(root, "Buckets")
    for b in buckets:
        be = sub(el, "Bucket")
        sub(be, "Name", b.name)
        sub(be, "CreationDate", format_timestamp(b.created_ns))
        if region:
            sub(be, "BucketRegion", region)
    if continuation_token:
        sub(root, "ContinuationToken", continuation_token)
    if prefix is not None:
        sub(root, "Prefix", prefix)
    return serialize(root)


def _contents(
    parent: ET.Element,
    entries: Iterable[ObjectRecord],
    encoding_type: str | None,
    owner: Owner | None,
    tag: str = "Contents",
    owners: Mapping[str, Owner] | None = None,
) -> None:
    """Each entry's ``Contents``; its ``Owner`` (when shown) is ``owners``' for its key,
    else ``owner``."""
    for e in entries:
        c = sub(parent, tag)
        sub(c, "Key", encoded(e.key, encoding_type))
        sub(c, "LastModified", format_timestamp(e.mtime_ns))
        sub(c, "ETag", quote_etag(e.etag))
        sub(c, "Size", e.size)
        if owner is not None:
            add_owner(c, owners.get(e.key, owner) if owners else owner)
        sub(c, "StorageClass", "STANDARD")


def list_objects_v1_result(
    bucket: str,
    entries: Sequence[ObjectRecord],
    common_prefixes: Sequence[str],
    params: ListParams,
    is_truncated: bool,
    next_marker: str | None = None,
    owner: Owner | None = DEFAULT_OWNER,
    owners: Mapping[str, Owner] | None = None,
) -> bytes:
    """``ListBucketResult`` of ListObjects (v1); NextMarker only with a delimiter; the
    ``Owner`` of an object in ``owners`` is its own, of the others ``owner``."""
    et = params.encoding_type
    root = element("ListBucketResult")
    sub(root, "Name", bucket)
    sub(root, "Prefix", encoded(params.prefix, et))
    sub(root, "Marker", encoded(params.marker, et))
    sub(root, "MaxKeys", params.max_keys)
    if params.delimiter:
        sub(root, "Delimiter", encoded(params.delimiter, et))
    sub(root, "IsTruncated", is_truncated)
    if is_truncated and params.delimiter and next_marker is not None:
        sub(root, "NextMarker", encoded(next_marker, et))
    if et:
        sub(root, "EncodingType", et)
    _contents(root, entries, et, owner, owners=owners)
    add_common_prefixes(root, common_prefixes, et)
    return serialize(root)


def list_objects_v2_result(
    bucket: str,
    entries: Sequence[ObjectRecord],
    common_prefixes: Sequence[str],
    params: ListParams,
    is_truncated: bool,
    next_continuation_token: str | None = None,
    owner: Owner = DEFAULT_OWNER,
    owners: Mapping[str, Owner] | None = None,
) -> bytes:
    """``ListBucketResult`` of ListObjectsV2; Owner only with ``fetch-owner=true`` (as
    V1's: ``owners``' for its key, else ``owner``)."""
    et = params.encoding_type
    root = element("ListBucketResult")
    sub(root, "Name", bucket)
    sub(root, "Prefix", encoded(params.prefix, et))
    sub(root, "MaxKeys", params.max_keys)
    sub(root, "KeyCount", len(entries) + len(common_prefixes))
    if params.delimiter:
        sub(root, "Delimiter", encoded(params.delimiter, et))
    sub(root, "IsTruncated", is_truncated)
    if params.continuation_token is not None:
        sub(root, "ContinuationToken", params.continuation_token)
    if is_truncated and next_continuation_token is not None:
        sub(root, "NextContinuationToken", next_continuation_token)
    if params.start_after is not None:
        sub(root, "StartAfter", encoded(params.start_after, et))
    if et:
        sub(root, "EncodingType", et)
    _contents(root, entries, et, owner if params.fetch_owner else None, owners=owners)
    add_common_prefixes(root, common_prefixes, et)
    return serialize(root)
