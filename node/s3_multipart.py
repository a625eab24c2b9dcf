"""Multipart uploads, CopyObject/UploadPartCopy and DeleteObjects.

Completion and copies reuse chunks: the store builds the new manifest from the parts'
(or the source's) chunk lists, so no object data is copied.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aisfs.errors import S3Error
from aisfs.numbers import INT32_MAX, NumberError, argument, invalid, parse_uint
from aisfs.s3 import xml as s3xml
from aisfs.s3.conditions import check_copy_source_preconditions
from aisfs.s3.request import parse_copy_source, parse_max, parse_part_number
from aisfs.store.types import ObjectInfo
from node.http import Response
from node.s3_body import UploadBody, checksum_headers

if TYPE_CHECKING:
    from node.s3_api import Context, S3Api



def _xml(body: bytes, status: int = 200) -> Response:
    return Response(status, [("content-type", "application/xml")], body)


class MultipartOps:
    """Mixed into S3Api."""

    async def op_CreateMultipartUpload(self: S3Api, ctx: Context) -> Response:
        meta = self._meta_from_headers(ctx)
        alg = ctx.header("x-amz-checksum-algorithm")
        if alg:
            meta.extra["checksum_algorithm"] = alg.lower()
        upload = await self.store.create_upload(ctx.bucket, ctx.key, meta)
        headers = [("content-type", "application/xml")]
        if alg:
            headers.append(("x-amz-checksum-algorithm", alg.upper()))
        body = s3xml.initiate_multipart_upload_result(ctx.bucket, ctx.key, upload.upload_id)
        return Response(200, headers, body)

    async def op_UploadPart(self: S3Api, ctx: Context) -> Response:
        number = parse_part_number(ctx.s3.query.get("partNumber"))
        upload_id = ctx.s3.query["uploadId"]
        body = UploadBody(ctx.http, self.authenticate(ctx))
        part = await self.store.put_part(
            upload_id,
            ctx.bucket,
            ctx.key,
            number,
            body.stream(),
            content_md5=body.content_md5_bytes(),
            expected_size=body.expected_size,
            hashers=body.store_hashers(),
            before_commit=lambda _result: body.before_commit(),
        )
        headers = [("etag", s3xml.quote_etag(part.etag)), *checksum_headers(body.stored)]
        return Response(200, headers)

    async def op_UploadPartCopy(self: S3Api, ctx: Context) -> Response:
        self.authenticate(ctx)
        number = parse_part_number(ctx.s3.query.get("partNumber"))
        upload_id = ctx.s3.query["uploadId"]
        await self.store.get_upload(upload_id, ctx.bucket, ctx.key)
        source = await self._copy_source(ctx)
        start, end = 0, source.size - 1
        span = ctx.header("x-amz-copy-source-range")
        if span:
            start, end = _parse_copy_range(span, source.size)
        stream = _slice(self, source, start, end)
        part = await self.store.put_part(
            upload_id, ctx.bucket, ctx.key, number, stream, expected_size=end - start + 1
        )
        return _xml(s3xml.copy_part_result(part.etag, part.mtime_ns))

    async def op_CompleteMultipartUpload(self: S3Api, ctx: Context) -> Response:
        self.authenticate(ctx)
        upload_id = ctx.s3.query["uploadId"]
        body = await self.read_small_body(ctx)
        parts = s3xml.parse_complete_multipart_upload(body)
        if not parts:
            raise S3Error(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our "
                "published schema",
            )
        info = await self.store.complete_upload(
            upload_id,
            ctx.bucket,
            ctx.key,
            parts,
            if_match=ctx.header("if-match"),
            if_none_match=ctx.header("if-none-match"),
        )
        location = f"/{ctx.bucket}/{ctx.key}"
        return _xml(
            s3xml.complete_multipart_upload_result(location, ctx.bucket, ctx.key, info.etag)
        )

    async def op_AbortMultipartUpload(self: S3Api, ctx: Context) -> Response:
        self.authenticate(ctx)
        await self.store.abort_upload(ctx.s3.query["uploadId"], ctx.bucket, ctx.key)
        return Response(204)

    async def op_ListParts(self: S3Api, ctx: Context) -> Response:
        self.authenticate(ctx)
        q = ctx.s3.query
        upload_id = q["uploadId"]
        max_parts = parse_max(q.get("max-parts"), "max-parts")
        marker = argument(
            q.get("part-number-marker") or "0", "part-number-marker", hi=INT32_MAX,
            message="Provided part-number-marker not an integer or within integer range",
        )
        parts = [p for p in await self.store.list_parts(upload_id, ctx.bucket, ctx.key)
                 if p.part_number > marker]
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        next_marker = parts[-1].part_number if truncated and parts else None
        return _xml(
            s3xml.list_parts_result(
                ctx.bucket, ctx.key, upload_id, parts, marker, next_marker, max_parts, truncated
            )
        )

    async def op_ListMultipartUploads(self: S3Api, ctx: Context) -> Response:
        self.authenticate(ctx)
        q = ctx.s3.query
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter") or None
        key_marker = q.get("key-marker", "")
        id_marker = q.get("upload-id-marker", "")
        max_uploads = parse_max(q.get("max-uploads"), "max-uploads")
        uploads = [u for u in await self.store.list_uploads(ctx.bucket)
                   if u.key.startswith(prefix)]
        if key_marker:
            uploads = [
                u for u in uploads
                if u.key > key_marker or (id_marker and u.key == key_marker
                                          and u.upload_id > id_marker)
            ]
        listed: list[object] = []
        prefixes: list[str] = []
        for u in uploads:
            if delimiter:
                cut = u.key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = u.key[: cut + len(delimiter)]
                    if not prefixes or prefixes[-1] != common:
                        prefixes.append(common)
                        listed.append(common)
                    continue
            listed.append(u)
        truncated = len(listed) > max_uploads
        listed = listed[:max_uploads]
        page_uploads = [u for u in listed if not isinstance(u, str)]
        page_prefixes = [p for p in listed if isinstance(p, str)]
        next_key = next_id = None
        if truncated and listed:
            last = listed[-1]
            next_key = last if isinstance(last, str) else last.key  # type: ignore[attr-defined]
            next_id = "" if isinstance(last, str) else last.upload_id  # type: ignore[attr-defined]
        return _xml(
            s3xml.list_multipart_uploads_result(
                ctx.bucket, page_uploads, page_prefixes, prefix, delimiter, key_marker,
                id_marker, next_key, next_id, max_uploads, truncated, q.get("encoding-type"),
            )
        )

    # ---- copy -----------------------------------------------------------------------

    async def _copy_source(self: S3Api, ctx: Context) -> ObjectInfo:
        value = ctx.header("x-amz-copy-source") or ""
        bucket, key, version = parse_copy_source(value)
        if version not in (None, "null"):
            raise S3Error("InvalidArgument", "Invalid version id specified")
        source = await self.store.head_object(bucket, key)
        check_copy_source_preconditions(ctx.http.headers.items(), source.etag, source.mtime_ns)
        return source

    async def op_CopyObject(self: S3Api, ctx: Context) -> Response:
        self.authenticate(ctx)
        source = await self._copy_source(ctx)
        directive = (ctx.header("x-amz-metadata-directive") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise S3Error("InvalidArgument", "Unknown metadata directive.")
        tag_directive = (ctx.header("x-amz-tagging-directive") or "COPY").upper()
        meta = None
        if directive == "REPLACE":
            meta = self._meta_from_headers(ctx)
            if tag_directive == "COPY":
                meta.tags = dict(source.meta.tags)
            meta.extra = dict(source.meta.extra)
        elif tag_directive == "REPLACE":
            meta = source.meta
            meta.tags = self._meta_from_headers(ctx).tags
        elif source.bucket == ctx.bucket and source.key == ctx.key:
            raise S3Error(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes.",
            )
        if meta is not None:
            meta.checksums = dict(source.meta.checksums)
        info = await self.store.copy_object(
            source.bucket, source.key, ctx.bucket, ctx.key, meta
        )
        return _xml(s3xml.copy_object_result(info.etag, info.mtime_ns))

    # ---- multi-object delete --------------------------------------------------------

    async def op_DeleteObjects(self: S3Api, ctx: Context) -> Response:
        self.authenticate(ctx)
        await self.store.get_bucket(ctx.bucket)
        body = await self.read_small_body(ctx)
        objects, quiet = s3xml.parse_delete(body)
        deleted = []
        errors: list[tuple[s3xml.ObjectIdentifier, S3Error]] = []
        for obj in objects:
            try:
                await self.store.delete_object(ctx.bucket, obj.key)
            except S3Error as err:
                if err.code != "NoSuchKey":  # S3: deleting a missing key counts as deleted
                    errors.append((obj, err))
                    continue
            deleted.append(obj)
        return _xml(s3xml.delete_result(deleted, errors, quiet))


def _parse_copy_range(value: str, size: int) -> tuple[int, int]:
    text = value.strip(" \t")
    if text.startswith("bytes="):
        first, _, last = text[6:].partition("-")
        try:
            start, end = parse_uint(first), parse_uint(last)
        except NumberError:
            pass
        else:
            if start <= end < size:
                return start, end
    raise invalid(
        "x-amz-copy-source-range",
        value,
        "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
        "and last are the zero-based offsets of the first and last bytes to copy",
    )


async def _slice(api: S3Api, source: ObjectInfo, start: int, end: int) -> AsyncIterator[bytes]:
    async for piece in api.store.read_object(source, start, end):
        yield piece
