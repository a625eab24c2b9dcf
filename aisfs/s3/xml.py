"""S3 XML: response documents built as bytes, request bodies parsed with defusedxml.

Builders take plain values or any record with the named attributes (the store's
``ListEntry``, ``PartInfo``, ``UploadInfo``, ``BucketInfo`` fit). ETags arrive
unquoted and are emitted quoted, as AWS does. Parsers accept documents with or
without the S3 namespace and turn anything malformed or hostile (DTDs, entities)
into ``MalformedXML``; they never raise another exception type.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

import defusedxml.ElementTree as DET

from aisfs.errors import S3Error
from aisfs.numbers import INT32_MAX, NumberError, invalid, parse_int

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_DELETE_OBJECTS = 1000
MAX_CORS_RULES = 100
_XML_SPACE = " \t\r\n"  # XML's whitespace (str.strip() would also take U+3000 etc.)
CORS_METHODS = frozenset({"GET", "PUT", "HEAD", "POST", "DELETE"})


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Owner:
    id: str = "aisfs"
    display_name: str = "aisfs"


DEFAULT_OWNER = Owner()


class ObjectRecord(Protocol):
    """What a listing needs of an object (the store's ``ListEntry``)."""

    @property
    def key(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def etag(self) -> str: ...
    @property
    def mtime_ns(self) -> int: ...


class BucketRecord(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def created_ns(self) -> int: ...


class PartRecord(Protocol):
    @property
    def part_number(self) -> int: ...
    @property
    def etag(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...


class UploadRecord(Protocol):
    @property
    def upload_id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def initiated_ns(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ObjectIdentifier:
    """One ``<Object>`` of a DeleteObjects request."""

    key: str
    version_id: str | None = None


@dataclass(frozen=True, slots=True)
class CORSRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ListParams:
    """The echoed request parameters of a listing (values as the client sent them)."""

    prefix: str = ""
    delimiter: str | None = None
    max_keys: int = 1000
    encoding_type: str | None = None  # "url" or None
    marker: str = ""  # v1
    start_after: str | None = None  # v2
    continuation_token: str | None = None  # v2
    fetch_owner: bool = False  # v2
    extra: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def format_timestamp(ns: int) -> str:
    """ISO 8601 with milliseconds, as S3 XML has it: ``2006-01-02T15:04:05.000Z``."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    ms = (ns // 1_000_000) % 1000
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"


def quote_etag(etag: str) -> str:
    if len(etag) >= 2 and etag.startswith('"') and etag.endswith('"'):
        return etag
    return f'"{etag}"'


def unquote_etag(etag: str) -> str:
    etag = etag.strip()
    if len(etag) >= 2 and etag.startswith('"') and etag.endswith('"'):
        return etag[1:-1]
    # some clients send &quot; entities which the parser has already decoded
    return etag


def url_encode(value: str) -> str:
    """``encoding-type=url``: percent-encode everything but unreserved chars and ``/``."""
    return quote(value, safe="/")


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


def _root(tag: str, ns: bool = True) -> ET.Element:
    el = ET.Element(tag)
    if ns:
        el.set("xmlns", S3_NS)
    return el


def _sub(parent: ET.Element, tag: str, text: str | int | bool | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        if isinstance(text, bool):
            el.text = "true" if text else "false"
        else:
            el.text = str(text)
    return el


def _bytes(root: ET.Element) -> bytes:
    return _DECL + ET.tostring(root, encoding="unicode").encode("utf-8")


def _owner(parent: ET.Element, owner: Owner, tag: str = "Owner") -> None:
    el = _sub(parent, tag)
    _sub(el, "ID", owner.id)
    _sub(el, "DisplayName", owner.display_name)


def _enc(value: str, encoding_type: str | None) -> str:
    return url_encode(value) if encoding_type == "url" else value


# --------------------------------------------------------------------------- documents


def error_document(
    error: S3Error,
    request_id: str = "",
    resource: str | None = None,
    host_id: str | None = None,
) -> bytes:
    """``<Error>`` with Code, Message, the error's extra elements, Resource, RequestId."""
    root = _root("Error", ns=False)
    _sub(root, "Code", error.code)
    _sub(root, "Message", error.message)
    for name, value in error.extra.items():
        _sub(root, name, value)
    _sub(root, "Resource", resource if resource is not None else error.resource)
    _sub(root, "RequestId", request_id)
    if host_id is not None:
        _sub(root, "HostId", host_id)
    return _bytes(root)


def list_buckets_result(
    buckets: Iterable[BucketRecord],
    owner: Owner = DEFAULT_OWNER,
    region: str | None = None,
    continuation_token: str | None = None,
    prefix: str | None = None,
) -> bytes:
    root = _root("ListAllMyBucketsResult")
    _owner(root, owner)
    el = _sub(root, "Buckets")
    for b in buckets:
        be = _sub(el, "Bucket")
        _sub(be, "Name", b.name)
        _sub(be, "CreationDate", format_timestamp(b.created_ns))
        if region:
            _sub(be, "BucketRegion", region)
    if continuation_token:
        _sub(root, "ContinuationToken", continuation_token)
    if prefix is not None:
        _sub(root, "Prefix", prefix)
    return _bytes(root)


def _contents(
    parent: ET.Element,
    entries: Iterable[ObjectRecord],
    encoding_type: str | None,
    owner: Owner | None,
    tag: str = "Contents",
) -> None:
    for e in entries:
        c = _sub(parent, tag)
        _sub(c, "Key", _enc(e.key, encoding_type))
        _sub(c, "LastModified", format_timestamp(e.mtime_ns))
        _sub(c, "ETag", quote_etag(e.etag))
        _sub(c, "Size", e.size)
        if owner is not None:
            _owner(c, owner)
        _sub(c, "StorageClass", "STANDARD")


def _prefixes(parent: ET.Element, prefixes: Iterable[str], encoding_type: str | None) -> None:
    for p in prefixes:
        cp = _sub(parent, "CommonPrefixes")
        _sub(cp, "Prefix", _enc(p, encoding_type))


def list_objects_v1_result(
    bucket: str,
    entries: Sequence[ObjectRecord],
    common_prefixes: Sequence[str],
    params: ListParams,
    is_truncated: bool,
    next_marker: str | None = None,
    owner: Owner | None = DEFAULT_OWNER,
) -> bytes:
    """``ListBucketResult`` of ListObjects (v1); NextMarker only with a delimiter."""
    et = params.encoding_type
    root = _root("ListBucketResult")
    _sub(root, "Name", bucket)
    _sub(root, "Prefix", _enc(params.prefix, et))
    _sub(root, "Marker", _enc(params.marker, et))
    _sub(root, "MaxKeys", params.max_keys)
    if params.delimiter:
        _sub(root, "Delimiter", _enc(params.delimiter, et))
    _sub(root, "IsTruncated", is_truncated)
    if is_truncated and params.delimiter and next_marker is not None:
        _sub(root, "NextMarker", _enc(next_marker, et))
    if et:
        _sub(root, "EncodingType", et)
    _contents(root, entries, et, owner)
    _prefixes(root, common_prefixes, et)
    return _bytes(root)


def list_objects_v2_result(
    bucket: str,
    entries: Sequence[ObjectRecord],
    common_prefixes: Sequence[str],
    params: ListParams,
    is_truncated: bool,
    next_continuation_token: str | None = None,
    owner: Owner = DEFAULT_OWNER,
) -> bytes:
    """``ListBucketResult`` of ListObjectsV2; Owner only with ``fetch-owner=true``."""
    et = params.encoding_type
    root = _root("ListBucketResult")
    _sub(root, "Name", bucket)
    _sub(root, "Prefix", _enc(params.prefix, et))
    _sub(root, "MaxKeys", params.max_keys)
    _sub(root, "KeyCount", len(entries) + len(common_prefixes))
    if params.delimiter:
        _sub(root, "Delimiter", _enc(params.delimiter, et))
    _sub(root, "IsTruncated", is_truncated)
    if params.continuation_token is not None:
        _sub(root, "ContinuationToken", params.continuation_token)
    if is_truncated and next_continuation_token is not None:
        _sub(root, "NextContinuationToken", next_continuation_token)
    if params.start_after is not None:
        _sub(root, "StartAfter", _enc(params.start_after, et))
    if et:
        _sub(root, "EncodingType", et)
    _contents(root, entries, et, owner if params.fetch_owner else None)
    _prefixes(root, common_prefixes, et)
    return _bytes(root)


def list_versions_result(
    bucket: str,
    entries: Sequence[ObjectRecord],
    common_prefixes: Sequence[str],
    params: ListParams,
    is_truncated: bool,
    key_marker: str = "",
    version_id_marker: str = "",
    next_key_marker: str | None = None,
    owner: Owner = DEFAULT_OWNER,
) -> bytes:
    """``ListVersionsResult`` of an unversioned bucket: every object is the null version."""
    et = params.encoding_type
    root = _root("ListVersionsResult")
    _sub(root, "Name", bucket)
    _sub(root, "Prefix", _enc(params.prefix, et))
    _sub(root, "KeyMarker", _enc(key_marker, et))
    _sub(root, "VersionIdMarker", version_id_marker)
    if is_truncated and next_key_marker is not None:
        _sub(root, "NextKeyMarker", _enc(next_key_marker, et))
        _sub(root, "NextVersionIdMarker", "null")
    _sub(root, "MaxKeys", params.max_keys)
    if params.delimiter:
        _sub(root, "Delimiter", _enc(params.delimiter, et))
    _sub(root, "IsTruncated", is_truncated)
    if et:
        _sub(root, "EncodingType", et)
    for e in entries:
        v = _sub(root, "Version")
        _sub(v, "Key", _enc(e.key, et))
        _sub(v, "VersionId", "null")
        _sub(v, "IsLatest", True)
        _sub(v, "LastModified", format_timestamp(e.mtime_ns))
        _sub(v, "ETag", quote_etag(e.etag))
        _sub(v, "Size", e.size)
        _owner(v, owner)
        _sub(v, "StorageClass", "STANDARD")
    _prefixes(root, common_prefixes, et)
    return _bytes(root)


def location_constraint(region: str | None) -> bytes:
    """``LocationConstraint``: empty for us-east-1 (and for no region), as AWS answers."""
    root = _root("LocationConstraint")
    if region and region != "us-east-1":
        root.text = region
    return _bytes(root)


def versioning_configuration(status: str | None) -> bytes:
    """``VersioningConfiguration``; no Status element when versioning was never set."""
    root = _root("VersioningConfiguration")
    if status:
        _sub(root, "Status", status)
    return _bytes(root)


def _copy_result(tag: str, etag: str, mtime_ns: int, checksums: Mapping[str, str] | None) -> bytes:
    root = _root(tag)
    _sub(root, "ETag", quote_etag(etag))
    _sub(root, "LastModified", format_timestamp(mtime_ns))
    for alg, value in (checksums or {}).items():
        _sub(root, _checksum_tag(alg), value)
    return _bytes(root)


def copy_object_result(
    etag: str, mtime_ns: int, checksums: Mapping[str, str] | None = None
) -> bytes:
    return _copy_result("CopyObjectResult", etag, mtime_ns, checksums)


def copy_part_result(etag: str, mtime_ns: int, checksums: Mapping[str, str] | None = None) -> bytes:
    return _copy_result("CopyPartResult", etag, mtime_ns, checksums)


def initiate_multipart_upload_result(bucket: str, key: str, upload_id: str) -> bytes:
    root = _root("InitiateMultipartUploadResult")
    _sub(root, "Bucket", bucket)
    _sub(root, "Key", key)
    _sub(root, "UploadId", upload_id)
    return _bytes(root)


def complete_multipart_upload_result(
    location: str,
    bucket: str,
    key: str,
    etag: str,
    checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None,
) -> bytes:
    root = _root("CompleteMultipartUploadResult")
    _sub(root, "Location", location)
    _sub(root, "Bucket", bucket)
    _sub(root, "Key", key)
    _sub(root, "ETag", quote_etag(etag))
    for alg, value in (checksums or {}).items():
        _sub(root, _checksum_tag(alg), value)
    if checksums and checksum_type:
        _sub(root, "ChecksumType", checksum_type)
    return _bytes(root)


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
    root = _root("ListPartsResult")
    _sub(root, "Bucket", bucket)
    _sub(root, "Key", key)
    _sub(root, "UploadId", upload_id)
    _sub(root, "PartNumberMarker", part_number_marker)
    if next_part_number_marker is None:
        next_part_number_marker = parts[-1].part_number if parts else 0
    _sub(root, "NextPartNumberMarker", next_part_number_marker)
    _sub(root, "MaxParts", max_parts)
    _sub(root, "IsTruncated", is_truncated)
    for p in parts:
        pe = _sub(root, "Part")
        _sub(pe, "PartNumber", p.part_number)
        _sub(pe, "LastModified", format_timestamp(p.mtime_ns))
        _sub(pe, "ETag", quote_etag(p.etag))
        _sub(pe, "Size", p.size)
        for alg, value in (part_checksums or {}).get(p.part_number, {}).items():
            _sub(pe, _checksum_tag(alg), value)
    _owner(root, owner, "Initiator")
    _owner(root, owner)
    _sub(root, "StorageClass", "STANDARD")
    if checksum is not None:
        _sub(root, "ChecksumAlgorithm", checksum[0].upper())
        _sub(root, "ChecksumType", checksum[1])
    return _bytes(root)


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
    root = _root("ListMultipartUploadsResult")
    _sub(root, "Bucket", bucket)
    _sub(root, "KeyMarker", _enc(key_marker, et))
    _sub(root, "UploadIdMarker", upload_id_marker)
    _sub(root, "NextKeyMarker", _enc(next_key_marker or "", et))
    _sub(root, "NextUploadIdMarker", next_upload_id_marker or "")
    if delimiter:
        _sub(root, "Delimiter", _enc(delimiter, et))
    _sub(root, "Prefix", _enc(prefix, et))
    _sub(root, "MaxUploads", max_uploads)
    _sub(root, "IsTruncated", is_truncated)
    if et:
        _sub(root, "EncodingType", et)
    for u in uploads:
        ue = _sub(root, "Upload")
        _sub(ue, "Key", _enc(u.key, et))
        _sub(ue, "UploadId", u.upload_id)
        _owner(ue, owner, "Initiator")
        _owner(ue, owner)
        _sub(ue, "StorageClass", "STANDARD")
        _sub(ue, "Initiated", format_timestamp(u.initiated_ns))
        chosen = (checksums or {}).get(u.upload_id)
        if chosen is not None:
            _sub(ue, "ChecksumAlgorithm", chosen[0].upper())
            _sub(ue, "ChecksumType", chosen[1])
    _prefixes(root, common_prefixes, et)
    return _bytes(root)


def delete_result(
    deleted: Iterable[ObjectIdentifier],
    errors: Iterable[tuple[ObjectIdentifier, S3Error]] = (),
    quiet: bool = False,
) -> bytes:
    """``DeleteResult``; in quiet mode only the errors are listed."""
    root = _root("DeleteResult")
    if not quiet:
        for d in deleted:
            de = _sub(root, "Deleted")
            _sub(de, "Key", d.key)
            if d.version_id:
                _sub(de, "VersionId", d.version_id)
    for obj, err in errors:
        ee = _sub(root, "Error")
        _sub(ee, "Key", obj.key)
        if obj.version_id:
            _sub(ee, "VersionId", obj.version_id)
        _sub(ee, "Code", err.code)
        _sub(ee, "Message", err.message)
    return _bytes(root)


def tagging(tags: Mapping[str, str]) -> bytes:
    """A ``Tagging`` document; the tags sorted by key, as AWS returns them."""
    root = _root("Tagging")
    ts = _sub(root, "TagSet")
    for k, v in sorted(tags.items()):
        t = _sub(ts, "Tag")
        _sub(t, "Key", k)
        _sub(t, "Value", v)
    return _bytes(root)


def cors_configuration(rules: Iterable[CORSRule]) -> bytes:
    root = _root("CORSConfiguration")
    for r in rules:
        re_ = _sub(root, "CORSRule")
        if r.id:
            _sub(re_, "ID", r.id)
        for h in r.allowed_headers:
            _sub(re_, "AllowedHeader", h)
        for m in r.allowed_methods:
            _sub(re_, "AllowedMethod", m)
        for o in r.allowed_origins:
            _sub(re_, "AllowedOrigin", o)
        for h in r.expose_headers:
            _sub(re_, "ExposeHeader", h)
        if r.max_age_seconds is not None:
            _sub(re_, "MaxAgeSeconds", r.max_age_seconds)
    return _bytes(root)


def access_control_policy(owner: Owner = DEFAULT_OWNER) -> bytes:
    """The one ACL we have: the owner with FULL_CONTROL."""
    root = _root("AccessControlPolicy")
    _owner(root, owner)
    acl = _sub(root, "AccessControlList")
    grant = _sub(acl, "Grant")
    grantee = _sub(grant, "Grantee")
    grantee.set("xmlns:xsi", XSI_NS)
    grantee.set("xsi:type", "CanonicalUser")
    _sub(grantee, "ID", owner.id)
    _sub(grantee, "DisplayName", owner.display_name)
    _sub(grant, "Permission", "FULL_CONTROL")
    return _bytes(root)


@dataclass(frozen=True, slots=True)
class ObjectPart:
    """One part of a multipart object, as GetObjectAttributes' ObjectParts lists it."""

    part_number: int
    size: int
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartsPage:
    """The ObjectParts of GetObjectAttributes: one page of the parts of a multipart object."""

    total: int
    parts: Sequence[ObjectPart] = ()
    marker: int = 0
    max_parts: int = 1000
    is_truncated: bool = False


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
    root = _root("GetObjectAttributesResponse")
    if "etag" in want:
        _sub(root, "ETag", unquote_etag(etag))
    if "checksum" in want and checksums:
        ce = _sub(root, "Checksum")
        for alg, value in checksums.items():
            _sub(ce, _checksum_tag(alg), value)
        if checksum_type:
            _sub(ce, "ChecksumType", checksum_type)
    if "objectparts" in want and parts is not None and parts.total:
        pe = _sub(root, "ObjectParts")
        _sub(pe, "PartNumberMarker", parts.marker)
        if parts.parts:
            _sub(pe, "NextPartNumberMarker", parts.parts[-1].part_number)
        _sub(pe, "MaxParts", parts.max_parts)
        _sub(pe, "IsTruncated", parts.is_truncated)
        _sub(pe, "PartsCount", parts.total)
        for p in parts.parts:
            e = _sub(pe, "Part")
            _sub(e, "PartNumber", p.part_number)
            _sub(e, "Size", p.size)
            for alg, value in p.checksums.items():
                _sub(e, _checksum_tag(alg), value)
    elif "objectparts" in want and parts_count:
        pe = _sub(root, "ObjectParts")
        _sub(pe, "PartsCount", parts_count)
    if "storageclass" in want:
        _sub(root, "StorageClass", "STANDARD")
    if "objectsize" in want:
        _sub(root, "ObjectSize", size)
    return _bytes(root)


_CHECKSUM_TAGS = {
    "crc32": "ChecksumCRC32",
    "crc32c": "ChecksumCRC32C",
    "crc64nvme": "ChecksumCRC64NVME",
    "sha1": "ChecksumSHA1",
    "sha256": "ChecksumSHA256",
}


def _checksum_tag(alg: str) -> str:
    return _CHECKSUM_TAGS.get(alg.lower(), "Checksum" + alg.upper())


# --------------------------------------------------------------------------- parsers


def _malformed(detail: str = "") -> S3Error:
    msg = (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
    return S3Error("MalformedXML", f"{msg}: {detail}" if detail else msg)


def _local(tag: object) -> str:
    if not isinstance(tag, str):  # comments, processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def _parse(body: bytes, root_tag: str) -> ET.Element:
    if not body or not body.strip():
        raise _malformed("empty document")
    try:
        root = DET.fromstring(body, forbid_dtd=True)
    except Exception as e:  # ParseError, DefusedXmlException, ValueError, ...
        raise _malformed(type(e).__name__) from None
    if _local(root.tag) != root_tag:
        raise _malformed(f"expected <{root_tag}>, got <{_local(root.tag)}>")
    return root


def _children(el: ET.Element, tag: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == tag]


def _child(el: ET.Element, tag: str) -> ET.Element | None:
    found = _children(el, tag)
    return found[0] if found else None


def _text(el: ET.Element, tag: str) -> str | None:
    c = _child(el, tag)
    if c is None:
        return None
    return c.text or ""


def parse_create_bucket_configuration(body: bytes) -> str | None:
    """The LocationConstraint of a CreateBucket body; None for an empty body or none given."""
    if not body or not body.strip():
        return None
    root = _parse(body, "CreateBucketConfiguration")
    lc = _text(root, "LocationConstraint")
    return lc.strip() if lc else None


def parse_delete(body: bytes) -> tuple[list[ObjectIdentifier], bool]:
    """The objects and Quiet flag of a DeleteObjects body (1 to 1000 objects)."""
    root = _parse(body, "Delete")
    objects = _children(root, "Object")
    if not objects:
        raise _malformed("no <Object> in <Delete>")
    if len(objects) > MAX_DELETE_OBJECTS:
        raise _malformed(f"more than {MAX_DELETE_OBJECTS} objects")
    out: list[ObjectIdentifier] = []
    for o in objects:
        key = _text(o, "Key")
        if key is None:
            raise _malformed("<Object> without <Key>")
        vid = _text(o, "VersionId")
        out.append(ObjectIdentifier(key=key, version_id=vid or None))
    quiet_text = (_text(root, "Quiet") or "false").strip().lower()
    if quiet_text not in ("true", "false"):
        raise _malformed("<Quiet> must be true or false")
    return out, quiet_text == "true"


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One ``<Part>`` of a CompleteMultipartUpload body."""

    number: int
    etag: str  # unquoted
    checksums: Mapping[str, str] = field(default_factory=dict)  # {algorithm: base64}


def parse_complete_multipart_upload(body: bytes) -> list[tuple[int, str]]:
    """(part number, unquoted ETag) of each part, which S3 wants in ascending order."""
    return [(p.number, p.etag) for p in parse_completed_parts(body)]


def parse_completed_parts(body: bytes) -> list[CompletedPart]:
    """Each ``<Part>``: number, unquoted ETag and the ``Checksum*`` it names (as given;
    compared, never decoded, so any text is a mismatch rather than an error)."""
    root = _parse(body, "CompleteMultipartUpload")
    parts: list[CompletedPart] = []
    for p in _children(root, "Part"):
        num = (_text(p, "PartNumber") or "").strip(_XML_SPACE)
        etag = _text(p, "ETag")
        if etag is None:
            raise _malformed("<Part> needs <PartNumber> and <ETag>")
        try:  # not an xs:int (Unicode digits, 5,000 digits, a sign...): the schema fails
            n = parse_int(num, lo=-INT32_MAX - 1, hi=INT32_MAX)
        except NumberError:
            raise _malformed("<Part> needs <PartNumber> and <ETag>") from None
        if not 1 <= n <= 10000:
            raise invalid(
                "PartNumber", num, "Part number must be an integer between 1 and 10000, inclusive"
            )
        sums: dict[str, str] = {}
        for alg, tag in _CHECKSUM_TAGS.items():
            value = _text(p, tag)
            if value is not None:
                sums[alg] = value.strip(_XML_SPACE)
        parts.append(CompletedPart(n, unquote_etag(etag), sums))
    if not parts:
        raise _malformed("no <Part> in <CompleteMultipartUpload>")
    for a, b in zip(parts, parts[1:], strict=False):
        if b.number <= a.number:
            raise S3Error(
                "InvalidPartOrder",
                "The list of parts was not in ascending order. "
                "The parts list must be specified in order by part number.",
            )
    return parts


def parse_tagging(
    body: bytes,
    max_tags: int = 10,
    max_key_chars: int = 128,
    max_value_chars: int = 256,
) -> dict[str, str]:
    """A ``Tagging`` body's TagSet (object tags: at most 10; bucket tags: pass 50)."""
    root = _parse(body, "Tagging")
    tagset = _child(root, "TagSet")
    if tagset is None:
        raise _malformed("no <TagSet>")
    tags: dict[str, str] = {}
    for t in _children(tagset, "Tag"):
        k = _text(t, "Key")
        v = _text(t, "Value")
        if k is None or v is None:
            raise _malformed("<Tag> needs <Key> and <Value>")
        if not 1 <= len(k) <= max_key_chars:
            raise S3Error("InvalidTag", f"The TagKey you have provided is invalid: {k[:32]!r}")
        if len(v) > max_value_chars:
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid")
        if k.startswith("aws:"):
            raise S3Error("InvalidTag", "Your TagKey cannot be prefixed with aws:")
        if k in tags:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
        tags[k] = v
    if len(tags) > max_tags:
        raise S3Error("InvalidTag", f"Object tags cannot be greater than {max_tags}")
    return tags


def parse_cors_configuration(body: bytes) -> list[CORSRule]:
    root = _parse(body, "CORSConfiguration")
    rules_el = _children(root, "CORSRule")
    if not rules_el:
        raise _malformed("no <CORSRule>")
    if len(rules_el) > MAX_CORS_RULES:
        raise _malformed(f"more than {MAX_CORS_RULES} CORS rules")
    rules: list[CORSRule] = []
    for r in rules_el:

        def texts(tag: str, r: ET.Element = r) -> tuple[str, ...]:
            return tuple((c.text or "").strip() for c in _children(r, tag))

        origins = texts("AllowedOrigin")
        methods = texts("AllowedMethod")
        if not origins or not methods:
            raise _malformed("<CORSRule> needs <AllowedOrigin> and <AllowedMethod>")
        for m in methods:
            if m not in CORS_METHODS:
                raise S3Error(
                    "InvalidRequest",
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {m}",
                )
        max_age: int | None = None
        age_text = _text(r, "MaxAgeSeconds")
        if age_text is not None:
            try:  # an xs:int
                max_age = parse_int(age_text.strip(_XML_SPACE), lo=-INT32_MAX - 1, hi=INT32_MAX)
            except NumberError:
                raise _malformed("<MaxAgeSeconds> must be an integer") from None
        rid = _text(r, "ID")
        rules.append(
            CORSRule(
                allowed_origins=origins,
                allowed_methods=methods,
                allowed_headers=texts("AllowedHeader"),
                expose_headers=texts("ExposeHeader"),
                max_age_seconds=max_age,
                id=rid or None,
            )
        )
    return rules


def parse_versioning_configuration(body: bytes) -> str | None:
    """``Enabled`` or ``Suspended`` (None when the body gives no Status)."""
    root = _parse(body, "VersioningConfiguration")
    status = _text(root, "Status")
    if status is None:
        return None
    status = status.strip()
    if status not in ("Enabled", "Suspended"):
        raise _malformed("<Status> must be Enabled or Suspended")
    return status
