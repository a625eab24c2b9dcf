"""Multipart uploads through the S3 facade on a backend bucket: forwarded to the backend.

The upload is the backend's own: CreateMultipartUpload returns the backend's UploadId,
each UploadPart is sent on as the client cut it (so the part ETags and the final
``<md5>-N`` ETag are what the client computes), Complete/Abort/ListParts are the
backend's. A flexible checksum the client declares is checked by the node for each part
and not forwarded (the backend may not know them). Nothing is cached on the way: Complete
drops an older cached copy and the next GET fetches the new object (cold).

A part's body is decoded (aws-chunked), checked against what the client declared
(Content-MD5, flexible checksums, the signed payload hash) and spooled before it is sent:
a retry sends it again (botocore sends it as ``UNSIGNED-PAYLOAD``, aisfs/backend/s3.py:
no SHA-256 pass over it). The spool is memory up to
``SPOOL_IN_MEMORY``, then a temporary file (the system's temp directory).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import IO, Any

import trio

from aisfs.backend import RemoteObjects, RemoteRead, Resolved
from aisfs.backend.errors import backend_error
from aisfs.backend.forwarded import forwarded_headers, forwarded_params
from aisfs.backend.remote import Body
from aisfs.backend.retry import with_retries
from aisfs.backend.s3 import S3Backend, meta_params
from aisfs.crypto.envelope import refuse_encrypted
from aisfs.errors import S3Error
from aisfs.numbers import INT32_MAX, argument
from aisfs.s3 import xml as s3xml
from aisfs.s3.conditions import check_copy_source_preconditions
from aisfs.s3.request import parse_copy_source, parse_max, parse_part_number
from aisfs.store import Store
from aisfs.store.types import ObjectInfo, ObjectMeta
from aisfs_node.http import Response
from aisfs_node.s3.body import UploadBody, checksum_headers
from aisfs_node.s3.context import (
    Context,
    Services,
    copy_source_version,
    meta_from_headers,
    read_small_body,
)
from aisfs_node.s3.remote_versions import (
    MARKER_AS_SOURCE,
    head_source_version,
    read_source_version,
    refuse_empty_version,
    source_version_refused,
)

SPOOL_IN_MEMORY = 8 * 1024 * 1024
WRITE_BATCH = 1024 * 1024
XML = "application/xml"


class _Part:
    __slots__ = ("part_number", "etag", "size", "mtime_ns")

    def __init__(self, number: int, etag: str, size: int, mtime_ns: int) -> None:
        self.part_number = number
        self.etag = etag
        self.size = size
        self.mtime_ns = mtime_ns


class _Upload:
    __slots__ = ("upload_id", "key", "initiated_ns")

    def __init__(self, upload_id: str, key: str, initiated_ns: int) -> None:
        self.upload_id = upload_id
        self.key = key
        self.initiated_ns = initiated_ns


def _create_params(bucket: str, key: str, meta: ObjectMeta,
                   forwarded: Mapping[str, str]) -> dict[str, Any]:
    """CreateMultipartUpload's parameters: the object's metadata and the client's ACL
    and tagging headers (the backend's to keep: aisfs/backend/forwarded.py)."""
    return {"Bucket": bucket, "Key": key, **forwarded_params(forwarded),
            **meta_params(meta.content_type, meta.user, meta.headers)}


class RemoteMultipart:
    def __init__(self, services: Services, remote: RemoteObjects,
                 resolve: Callable[[str], Awaitable[Resolved | None]]) -> None:
        self.services = services
        self.remote = remote
        self.resolve = resolve  # RemoteS3.resolve: a bucket name as the S3 API names it

    def _where(self, rb: Resolved) -> tuple[S3Backend, str]:
        assert rb.remote is not None
        return self.remote.backend(rb), rb.remote.name

    async def op_CreateMultipartUpload(self, ctx: Context, rb: Resolved) -> Response:
        backend, bucket = self._where(rb)
        meta = meta_from_headers(ctx)
        resp = await backend.call("create_multipart_upload", ctx.key,
                                  **_create_params(bucket, ctx.key, meta,
                                                   forwarded_headers(ctx.http.headers)))
        body = s3xml.initiate_multipart_upload_result(ctx.bucket, ctx.key, resp["UploadId"])
        headers = [("content-type", XML)]
        # a flexible checksum (boto3 asks for CRC32 by default) is checked here, part by
        # part, and not asked of the backend (older S3 clusters do not know them)
        alg = ctx.header("x-amz-checksum-algorithm")
        if alg:
            headers.append(("x-amz-checksum-algorithm", alg.upper()))
        return Response(200, headers, body)

    async def op_UploadPart(self, ctx: Context, rb: Resolved) -> Response:
        number = parse_part_number(ctx.s3.query.get("partNumber"))
        upload_id = ctx.s3.query["uploadId"]
        backend, bucket = self._where(rb)
        body = UploadBody(ctx.http, ctx.auth)
        md5 = hashlib.md5()
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            size = await _spool(body, spool, md5)
            if body.expected_size is not None and size != body.expected_size:
                raise S3Error("IncompleteBody", "You did not provide the number of bytes "
                              "specified by the Content-Length", ctx.key)
            declared = body.content_md5_bytes()
            if declared is not None and declared != md5.digest():
                raise S3Error("BadDigest", "The Content-MD5 you specified did not match what "
                              "was received.", ctx.key)
            body.before_commit()
            params = {"Bucket": bucket, "Key": ctx.key, "UploadId": upload_id,
                      "PartNumber": number, "ContentLength": size,
                      "ContentMD5": base64.b64encode(md5.digest()).decode()}
            resp = await _call_with_file(backend, "upload_part", ctx.key, spool, params)
        headers = [("etag", str(resp["ETag"])), *checksum_headers(body.stored)]
        return Response(200, headers)

    async def op_CompleteMultipartUpload(self, ctx: Context, rb: Resolved) -> Response:
        backend, bucket = self._where(rb)
        parts = s3xml.parse_complete_multipart_upload(await read_small_body(ctx))
        if not parts:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                          "validate against our published schema")
        try:
            done = await backend.call(
                "complete_multipart_upload", ctx.key, Bucket=bucket, Key=ctx.key,
                UploadId=ctx.s3.query["uploadId"], MultipartUpload={"Parts": [
                    {"PartNumber": n, "ETag": s3xml.quote_etag(e)} for n, e in parts]},
            )
        finally:
            with trio.CancelScope(shield=True):
                await self.remote.evict(rb, ctx.key)  # never serve the older copy as current
        etag = str(done.get("ETag") or "").strip('"')
        version = str(done.get("VersionId") or "")
        if not etag:  # Ceph Pacific: an empty ETag in the answer
            attrs = await backend.head_object(bucket, ctx.key)
            etag, version = attrs.etag, version or attrs.version
        headers = [("content-type", XML)]
        if version and version != "null":
            headers.append(("x-amz-version-id", version))
        location = f"/{ctx.bucket}/{ctx.key}"
        return Response(200, headers, s3xml.complete_multipart_upload_result(
            location, ctx.bucket, ctx.key, etag))

    async def op_AbortMultipartUpload(self, ctx: Context, rb: Resolved) -> Response:
        backend, bucket = self._where(rb)
        await backend.call("abort_multipart_upload", ctx.key, Bucket=bucket, Key=ctx.key,
                           UploadId=ctx.s3.query["uploadId"])
        return Response(204)

    async def op_ListParts(self, ctx: Context, rb: Resolved) -> Response:
        backend, bucket = self._where(rb)
        q = ctx.s3.query
        max_parts = parse_max(q.get("max-parts"), "max-parts")
        marker = argument(
            q.get("part-number-marker") or "0", "part-number-marker", hi=INT32_MAX,
            message="Provided part-number-marker not an integer or within integer range",
        )
        resp = await backend.call("list_parts", ctx.key, Bucket=bucket, Key=ctx.key,
                                  UploadId=q["uploadId"], MaxParts=max(1, max_parts),
                                  PartNumberMarker=marker)
        parts = [
            _Part(int(p["PartNumber"]), str(p.get("ETag") or "").strip('"'),
                  int(p.get("Size") or 0),
                  int(p["LastModified"].timestamp() * 1e9) if p.get("LastModified") else 0)
            for p in resp.get("Parts") or []
        ][:max_parts]
        truncated = bool(resp.get("IsTruncated")) and max_parts > 0
        next_marker = parts[-1].part_number if truncated and parts else None
        return Response(200, [("content-type", XML)], s3xml.list_parts_result(
            ctx.bucket, ctx.key, q["uploadId"], parts, marker, next_marker, max_parts,
            truncated))

    # long: two paths of one operation (the backend copies, or the node reads the range and
    # uploads it) after the shared parsing of the copy source and its range
    async def op_UploadPartCopy(self, ctx: Context, rb: Resolved) -> Response:
        """The backend's UploadPartCopy when the source is in the same backend (what
        boto3's and the aws CLI's copies of large objects do); else the source's range
        is read through the node (an ais:// bucket's, another backend's) and uploaded as
        the part."""
        number = parse_part_number(ctx.s3.query.get("partNumber"))
        upload_id = ctx.s3.query["uploadId"]
        src_bucket, src_key, version = parse_copy_source(ctx.header("x-amz-copy-source") or "")
        refuse_empty_version(version, "x-amz-copy-source")
        rng = ctx.header("x-amz-copy-source-range")
        backend, bucket = self._where(rb)
        src = await self.resolve(src_bucket)
        conditional = any(h.startswith("x-amz-copy-source-if-")
                          for h, _ in ctx.http.headers.items())
        if src is not None and src.settings == rb.settings:
            assert src.remote is not None
            if conditional:
                if version is None:
                    attrs = (await self.remote.head(src, src_key)).attrs
                else:
                    attrs = await head_source_version(self.remote, src, src_key, version)
                check_copy_source_preconditions(ctx.http.headers.items(), attrs.etag,
                                                attrs.last_modified_ns)
            source = {"Bucket": src.remote.name, "Key": src_key}
            if version is not None:
                source["VersionId"] = version
            params: dict[str, Any] = {
                "Bucket": bucket, "Key": ctx.key, "UploadId": upload_id, "PartNumber": number,
                "CopySource": source,
            }
            if rng:
                params["CopySourceRange"] = rng
            try:
                resp = await backend.call("upload_part_copy", ctx.key, **params)
            except S3Error as e:
                if version is None:
                    raise
                raise await source_version_refused(self.remote, src, src_key, version,
                                                   e) from None
            res = resp.get("CopyPartResult") or {}
            etag = str(res.get("ETag") or "").strip('"')
            modified = res.get("LastModified")
            mtime = int(modified.timestamp() * 1e9) if modified else time.time_ns()
            return Response(200, [("content-type", XML)], s3xml.copy_part_result(etag, mtime))
        if src is None:  # an ais:// bucket of the node
            info = await local_copy_source(self.services.store, ctx, src_bucket, src_key)
            start, end = copy_range(rng, info.size)
            pieces: AsyncIterator[bytes] = self.services.store.read_object(info, start, end)
        else:
            read = await read_copy_source(self.remote, ctx, src, src_key, rng, version=version)

            pieces = pieces_of(read.body)
        md5 = hashlib.md5()
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            try:
                size = await _spool_pieces(pieces, spool, [md5])
            finally:
                closer = getattr(pieces, "aclose", None)
                if closer is not None:
                    await closer()
            resp = await _call_with_file(backend, "upload_part", ctx.key, spool, {
                "Bucket": bucket, "Key": ctx.key, "UploadId": upload_id, "PartNumber": number,
                "ContentLength": size, "ContentMD5": base64.b64encode(md5.digest()).decode()})
        return Response(200, [("content-type", XML)], s3xml.copy_part_result(
            str(resp["ETag"]).strip('"'), time.time_ns()))

    async def op_ListMultipartUploads(self, ctx: Context, rb: Resolved) -> Response:
        """The backend's uploads of the bucket, one backend page."""
        backend, bucket = self._where(rb)
        q = ctx.s3.query
        max_uploads = parse_max(q.get("max-uploads"), "max-uploads")
        params: dict[str, Any] = {"Bucket": bucket, "MaxUploads": max(1, max_uploads)}
        for arg, param in (("prefix", "Prefix"), ("delimiter", "Delimiter"),
                           ("key-marker", "KeyMarker"), ("upload-id-marker", "UploadIdMarker")):
            if q.get(arg):
                params[param] = q[arg]
        resp = await backend.call("list_multipart_uploads", bucket, **params)
        uploads = [
            _Upload(str(u["UploadId"]), str(u["Key"]),
                    int(u["Initiated"].timestamp() * 1e9) if u.get("Initiated") else 0)
            for u in resp.get("Uploads") or []
        ][:max_uploads]
        prefixes = [str(p["Prefix"]) for p in resp.get("CommonPrefixes") or []]
        truncated = bool(resp.get("IsTruncated")) and max_uploads > 0
        return Response(200, [("content-type", XML)], s3xml.list_multipart_uploads_result(
            ctx.bucket, uploads, prefixes, prefix=q.get("prefix", ""),
            delimiter=q.get("delimiter") or None, key_marker=q.get("key-marker", ""),
            upload_id_marker=q.get("upload-id-marker", ""),
            next_key_marker=str(resp.get("NextKeyMarker") or "") if truncated else None,
            next_upload_id_marker=str(resp.get("NextUploadIdMarker") or "")
            if truncated else None,
            max_uploads=max_uploads, is_truncated=truncated,
            encoding_type=q.get("encoding-type"),
        ))


async def _spool(body: UploadBody, spool: IO[bytes], md5: Any) -> int:
    """The decoded body into ``spool`` (hashed on the way); its size."""
    return await _spool_pieces(body.stream(), spool, [md5, *body.hashers.values()])


def copy_range(value: str | None, size: int) -> tuple[int, int]:
    """``x-amz-copy-source-range: bytes=A-B`` (inclusive) within ``size``."""
    if not value:
        return 0, size - 1
    spec = value.strip().removeprefix("bytes=")
    first, sep, last = spec.partition("-")
    if not sep or not first.isdigit() or not last.isdigit() or int(first) > int(last) \
            or int(last) >= size:
        raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the "
                      "form bytes=first-last where first and last are the zero-based offsets "
                      "of the first and last bytes to copy")
    return int(first), int(last)


async def _spool_pieces(pieces: AsyncIterator[bytes], spool: IO[bytes],
                        hashers: list[Any]) -> int:
    size = 0
    batch = bytearray()

    def write(data: bytes) -> None:
        for h in hashers:
            h.update(data)
        spool.write(data)

    async for piece in pieces:
        batch += piece
        size += len(piece)
        if len(batch) >= WRITE_BATCH:
            data, batch = bytes(batch), bytearray()
            await trio.to_thread.run_sync(write, data)
    if batch:
        await trio.to_thread.run_sync(write, bytes(batch))
    return size


async def _call_with_file(
    backend: S3Backend, op: str, resource: str, spool: IO[bytes], params: dict[str, Any]
) -> Any:
    """``op`` with ``spool`` as its Body, rewound before each attempt."""

    def invoke() -> Any:
        spool.seek(0)
        return getattr(backend.client(), op)(Body=spool, **params)

    async def once() -> Any:
        async with backend.slots:
            return await trio.to_thread.run_sync(functools.partial(invoke),
                                                 limiter=backend.threads)

    try:
        return await with_retries(once, backend.settings.retries,
                                  f"{backend.settings.label} {op}")
    except Exception as e:
        raise backend_error(e, backend.settings.label, resource) from e


class _Pieces:
    """A ``Body`` as an async iterator with ``aclose`` (what first_piece_read wants)."""

    def __init__(self, body: object) -> None:
        self._body = body

    def __aiter__(self) -> _Pieces:
        return self

    async def __anext__(self) -> bytes:
        return await anext(self._body)  # type: ignore[call-overload,no-any-return]

    async def aclose(self) -> None:
        await self._body.aclose()  # type: ignore[attr-defined]


async def read_copy_source(remote: RemoteObjects, ctx: Context, src: Resolved, key: str,
                           range_header: str | None = None, *,
                           version: str | None = None) -> RemoteRead:
    """A GET of a copy's remote source (``version``: that version of it, as a GET
    ``?versionId=`` reads it: never cached), its ``x-amz-copy-source-if-*`` checked
    against what came (the body closed when they refuse it)."""
    if version is None:
        read = await remote.get(src, key, range_header=range_header)
    else:
        sel = await read_source_version(remote, src, key, version, range_header)
        body: Body = sel.body if sel.body is not None else _nothing()  # type: ignore[assignment]
        read = RemoteRead(sel.attrs, sel.start, sel.end, sel.ranged, sel.cached, body)
    try:
        check_copy_source_preconditions(ctx.http.headers.items(), read.attrs.etag,
                                        read.attrs.last_modified_ns)
    except S3Error:
        await read.body.aclose()
        raise
    return read


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator with nothing in it


async def local_copy_source(store: Store, ctx: Context, bucket: str, key: str) -> ObjectInfo:
    """A copy's source in an ``ais://`` bucket of the node: the current object, or the
    version ``x-amz-copy-source``'s ``?versionId=`` names (a delete marker: NoSuchKey when
    current, InvalidRequest when named, as S3); its preconditions checked, SSE refused."""
    version = copy_source_version(ctx)
    if version is None:
        info = await store.head_object(bucket, key, with_data=True)
    else:
        info = await store.head_version(bucket, key, version)
        if info.delete_marker:
            raise S3Error("InvalidRequest", MARKER_AS_SOURCE)
    refuse_encrypted(info.meta.extra)  # SSE: ciphertext never goes out as data
    check_copy_source_preconditions(ctx.http.headers.items(), info.etag, info.mtime_ns)
    return info


def pieces_of(body: object) -> AsyncIterator[bytes]:
    return _Pieces(body)
