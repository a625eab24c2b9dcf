"""Multipart upload documents: Initiate, Complete, ListParts, ListMultipartUploads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .build import add_common_prefixes, add_owner, element, encoded, serialize, sub
from .records import DEFAULT_OWNER, Owner, PartRecord, UploadRecord
from .values import checksum_tag, format_timestamp, quote_etag


def initiate_multipart_upload_result(bucket: str, key: str, upload_id: str) -> bytes:
    root = element("InitiateMultipartUploadResult")
    sub(root, "Bucket", bucket)
    sub(root, "Key", key)
    sub(root, "UploadId", upload_id)
    return serialize(root)


def complete_multipart_upload_result(
    location: str,
    bucket: str,
    key: str,
    etag: str,
    checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None,
) -> bytes:
    root = element("CompleteMultipartUploadResult")
    sub(root, "Location", location)
    sub(root, "Bucket", bucket)
    sub(root, "Key", key)
    sub(root, "ETag", quote_etag(etag))
    for alg, value in (checksums or {}).items():
        sub(root, checksum_tag(alg), value)
    if checksums and checksum_type:
        sub(root, "ChecksumType", checksum_type)
    return serialize(root)


def list_parts_result(
    bucket: str,
    key: str,
    upload_id: str,
    parts: Sequence[PartRecord],
    part_number_marker: int = 0,
    next_part_number_marker: int | None = None,
    max_parts: int = 1000,
    is_truncated: bool = False,
    owner: Owner = DEFAULT_OWNER,
    checksum: tuple[str, str] | None = None,
    part_checksums: Mapping[int, Mapping[str, str]] | None = None,
) -> bytes:
    """``checksum``: the upload's (algorithm, type); ``part_checksums``: each part's
    {algorithm: base64} by part number."""
    root = element("ListPartsResult")
    sub(root, "Bucket", bucket)
    sub(root, "Key", key)
    sub(root, "UploadId", upload_id)
    sub(root, "PartNumberMarker", part_number_marker)
    if next_part_number_marker is None:
        next_part_number_marker = parts[-1].part_number if parts else 0
    sub(root, "NextPartNumberMarker", next_part_number_marker)
    sub(root, "MaxParts", max_parts)
    sub(root, "IsTruncated", is_truncated)
    for p in parts:
        pe = sub(root, "Part")
        sub(pe, "PartNumber", p.part_number)
        sub(pe, "LastModified", format_timestamp(p.mtime_ns))
        sub(pe, "ETag", quote_etag(p.etag))
        sub(pe, "Size", p.size)
        for alg, value in (part_checksums or {}).get(p.part_number, {}).items():
            sub(pe, checksum_tag(alg), value)
    add_owner(root, owner, "Initiator")
    add_owner(root, owner)
    sub(root, "StorageClass", "STANDARD")
    if checksum is not None:
        sub(root, "ChecksumAlgorithm", checksum[0].upper())
        sub(root, "ChecksumType", checksum[1])
    return serialize(root)


def list_multipart_uploads_result(
    bucket: str,
    uploads: Sequence[UploadRecord],
    common_prefixes: Sequence[str] = (),
    prefix: str = "",
    delimiter: str | None = None,
    key_marker: str = "",
    upload_id_marker: str = "",
    next_key_marker: str | None = None,
    next_upload_id_marker: str | None = None,
    max_uploads: int = 1000,
    is_truncated: bool = False,
    encoding_type: str | None = None,
    owner: Owner = DEFAULT_OWNER,
    checksums: Mapping[str, tuple[str, str]] | None = None,
) -> bytes:
    """``checksums``: the (algorithm, type) of the uploads that have one, by upload id."""
    et = encoding_type
    root = element("ListMultipartUploadsResult")
    sub(root, "Bucket", bucket)
    sub(root, "KeyMarker", encoded(key_marker, et))
    sub(root, "UploadIdMarker", upload_id_marker)
    sub(root, "NextKeyMarker", encoded(next_key_marker or "", et))
    sub(root, "NextUploadIdMarker", next_upload_id_marker or "")
    if delimiter:
        sub(root, "Delimiter", encoded(delimiter, et))
    sub(root, "Prefix", encoded(prefix, et))
    sub(root, "MaxUploads", max_uploads)
    sub(root, "IsTruncated", is_truncated)
    if et:
        sub(root, "EncodingType", et)
    for u in uploads:
        ue = sub(root, "Upload")
        sub(ue, "Key", encoded(u.key, et))
        sub(ue, "UploadId", u.upload_id)
        add_owner(ue, owner, "Initiator")
        add_owner(ue, owner)
        sub(ue, "StorageClass", "STANDARD")
        sub(ue, "Initiated", format_timestamp(u.initiated_ns))
        chosen = (checksums or {}).get(u.upload_id)
        if chosen is not None:
            sub(ue, "ChecksumAlgorithm", chosen[0].upper())
            sub(ue, "ChecksumType", chosen[1])
    add_common_prefixes(root, common_prefixes, et)
    return serialize(root)
