"""Object documents: CopyObject's and UploadPartCopy's results, DeleteObjects' result,
GetObjectAttributes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aisfs.errors import S3Error

from .build import element, serialize, sub
from .records import ObjectIdentifier, PartsPage
from .values import checksum_tag, format_timestamp, quote_etag, unquote_etag


def _copy_result(tag: str, etag: str, mtime_ns: int, checksums: Mapping[str, str] | None) -> bytes:
    root = element(tag)
    sub(root, "ETag", quote_etag(etag))
    sub(root, "LastModified", format_timestamp(mtime_ns))
    for alg, value in (checksums or {}).items():
        sub(root, checksum_tag(alg), value)
    return serialize(root)


def copy_object_result(
    etag: str, mtime_ns: int, checksums: Mapping[str, str] | None = None
) -> bytes:
    return _copy_result("CopyObjectResult", etag, mtime_ns, checksums)


def copy_part_result(etag: str, mtime_ns: int, checksums: Mapping[str, str] | None = None) -> bytes:
    return _copy_result("CopyPartResult", etag, mtime_ns, checksums)


def delete_result(
    deleted: Iterable[ObjectIdentifier],
    errors: Iterable[tuple[ObjectIdentifier, S3Error]] = (),
    quiet: bool = False,
) -> bytes:
    """``DeleteResult``; in quiet mode only the errors are listed."""
    root = element("DeleteResult")
    if not quiet:
        for d in deleted:
            de = sub(root, "Deleted")
            sub(de, "Key", d.key)
            if d.version_id:
                sub(de, "VersionId", d.version_id)
            if d.delete_marker:
                sub(de, "DeleteMarker", "true")
                if d.delete_marker_version_id:
                    sub(de, "DeleteMarkerVersionId", d.delete_marker_version_id)
    for obj, err in errors:
        ee = sub(root, "Error")
        sub(ee, "Key", obj.key)
        if obj.version_id:
            sub(ee, "VersionId", obj.version_id)
        sub(ee, "Code", err.code)
        sub(ee, "Message", err.message)
    return serialize(root)


def object_attributes(
    attributes: Iterable[str],
    etag: str,
    size: int,
    checksums: Mapping[str, str] | None = None,
    parts_count: int | None = None,
    checksum_type: str | None = None,
    parts: PartsPage | None = None,
) -> bytes:
    """``GetObjectAttributesResponse`` for the attributes asked in ``x-amz-object-attributes``.

    As AWS does, the ETag here is unquoted. ``parts`` (a multipart object's page of parts)
    stands for ``parts_count`` when given.
    """
    want = {a.strip().lower() for a in attributes}
    root = element("GetObjectAttributesResponse")
    if "etag" in want:
        sub(root, "ETag", unquote_etag(etag))
    if "checksum" in want and checksums:
        ce = sub(root, "Checksum")
        for alg, value in checksums.items():
            sub(ce, checksum_tag(alg), value)
        if checksum_type:
            sub(ce, "ChecksumType", checksum_type)
    if "objectparts" in want and parts is not None and parts.total:
        pe = sub(root, "ObjectParts")
        sub(pe, "PartNumberMarker", parts.marker)
        if parts.parts:
            sub(pe, "NextPartNumberMarker", parts.parts[-1].part_number)
        sub(pe, "MaxParts", parts.max_parts)
        sub(pe, "IsTruncated", parts.is_truncated)
        sub(pe, "PartsCount", parts.total)
        for p in parts.parts:
            e = sub(pe, "Part")
            sub(e, "PartNumber", p.part_number)
            sub(e, "Size", p.size)
            for alg, value in p.checksums.items():
                sub(e, checksum_tag(alg), value)
    elif "objectparts" in want and parts_count:
        pe = sub(root, "ObjectParts")
        sub(pe, "PartsCount", parts_count)
    if "storageclass" in want:
        sub(root, "StorageClass", "STANDARD")
    if "objectsize" in want:
        sub(root, "ObjectSize", size)
    return serialize(root)
