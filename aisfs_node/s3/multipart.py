"""Multipart uploads, CopyObject/UploadPartCopy and DeleteObjects.

Completion and copies reuse chunks: the store builds the new manifest from the parts'
(or the source's) chunk lists, so no object data is copied.
"""

from __future__ import annotations

from typing import Any

import trio

from aisfs.errors import S3Error
from aisfs.numbers import INT32_MAX, NumberError, argument, invalid, parse_uint
from aisfs.s3 import checksums
from aisfs.s3 import xml as s3xml
from aisfs.s3.conditions import check_copy_source_preconditions
from aisfs.s3.request import parse_copy_source, parse_max, parse_part_number
from aisfs.store.types import ObjectInfo, ObjectMeta, UploadInfo
from aisfs.store.versions import valid_version_id
from aisfs_node.http import Response
from aisfs_node.s3.body import UploadBody, checksum_headers
from aisfs_node.s3.context import (
    Context,
    Services,
    copy_source_version,
    meta_from_headers,
    read_small_body,
    version_headers,
)
from aisfs_node.s3.object_lock_ops import (
    lift_bypassed_retention,
    lock_for_new_version,
    lock_for_upload,
    lock_new_version,
    record_lock,
)
from aisfs_node.s3.objects import no_such_key_for_if_match
from aisfs_node.s3.sse import Sse
from aisfs_node.s3_access import access_denied, denied_deletes


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(status, [("content-type", "application/xml")], body)


def upload_checksum(meta: ObjectMeta) -> tuple[str, str] | None:
    """The (algorithm, type) an upload was created with; None: none."""
    alg = meta.extra.get("checksum_algorithm")
    if not alg:
        return None
    kind = meta.extra.get("checksum_type")
    return str(alg), str(kind or ("FULL_OBJECT" if alg == "crc64nvme" else "COMPOSITE"))


def _invalid_part(upload_id: str, number: int, etag: str) -> S3Error:
    return S3Error(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag.",
        upload_id,
        extra={"UploadId": upload_id, "PartNumber": str(number), "ETag": etag},
    )


DELETE_OBJECTS_AT_ONCE = 64  # keys of one DeleteObjects deleted at once (group-committed)


class MultipartOps:
    def __init__(self, services: Services) -> None:
        self.store = services.store
        self.sse = Sse(services)  # server-side encryption (aisfs_node.s3.sse)

    async def op_CreateMultipartUpload(self, ctx: Context) -> Response:
        meta = meta_from_headers(ctx)
        chosen = checksums.multipart_checksum(
            ctx.header("x-amz-checksum-algorithm"), ctx.header("x-amz-checksum-type")
        )
        if chosen is not None:
            meta.extra["checksum_algorithm"], meta.extra["checksum_type"] = chosen
        sse_headers = await self.sse.begin_upload(ctx, meta)  # the upload's encryption
        await lock_for_upload(self.store, ctx, meta)  # the lock it asks (object_lock_ops)
        upload = await self.store.create_upload(ctx.bucket, ctx.key, meta)
        headers = [("content-type", "application/xml"), *sse_headers]
        if chosen is not None:
            headers.append(("x-amz-checksum-algorithm", chosen[0].upper()))
            headers.append(("x-amz-checksum-type", chosen[1]))
        body = s3xml.initiate_multipart_upload_result(ctx.bucket, ctx.key, upload.upload_id)
        return Response(200, headers, body)

    async def op_UploadPart(self, ctx: Context) -> Response:
        number = parse_part_number(ctx.s3.query.get("partNumber"))
        upload_id = ctx.s3.query["uploadId"]
        body = UploadBody(ctx.http, ctx.auth)
        upload = await self.store.get_upload(upload_id, ctx.bucket, ctx.key)
        chosen = upload_checksum(upload.meta)
        if chosen is not None:
            # a part of a checksum upload: the upload's algorithm only, computed if not sent
            alg = chosen[0]
            for declared in {*body.expected, *([body.trailer_alg] if body.trailer_alg else [])}:
                if declared != alg:
                    raise checksums.type_mismatch(alg, declared)
            body.hashers.setdefault(alg, checksums.new_hasher(alg))
        part = await self.sse.put_part(ctx, upload, number)(  # encrypting, if the upload is
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
        sums = dict(body.stored)
        if chosen is not None:
            sums = {chosen[0]: body.hashers[chosen[0]].digest_b64()}
        headers = [("etag", s3xml.quote_etag(part.etag)), *checksum_headers(sums)]
        headers += self.sse.part_headers(ctx, upload)
        return Response(200, headers)

    async def op_UploadPartCopy(self, ctx: Context) -> Response:
        number = parse_part_number(ctx.s3.query.get("partNumber"))
        upload_id = ctx.s3.query["uploadId"]
        upload = await self.store.get_upload(upload_id, ctx.bucket, ctx.key)
        source = await self._copy_source(ctx)
        start, end = 0, source.size - 1
        span = ctx.header("x-amz-copy-source-range")
        if span:
            start, end = _parse_copy_range(span, source.size)
        stream = self.sse.source_slice(ctx, source, start, end)  # plaintext
        chosen = upload_checksum(upload.meta)
        hashers: dict[str, Any] = {}
        if chosen is not None:
            hashers[chosen[0]] = checksums.new_hasher(chosen[0])
        part = await self.sse.put_part(ctx, upload, number)(
            upload_id, ctx.bucket, ctx.key, number, stream, expected_size=end - start + 1,
            hashers=hashers or None,
        )
        sums = {a: h.digest_b64() for a, h in hashers.items()}
        response = _xml(s3xml.copy_part_result(part.etag, part.mtime_ns, sums))
        response.headers += self.sse.part_headers(ctx, upload)
        response.headers += await self._source_version_headers(ctx, source)
        return response

    async def op_CompleteMultipartUpload(self, ctx: Context) -> Response:
        upload_id = ctx.s3.query["uploadId"]
        body = await read_small_body(ctx)
        completed = s3xml.parse_completed_parts(body)
        parts = [(p.number, p.etag) for p in completed]
        location = f"/{ctx.bucket}/{ctx.key}"
        try:
            upload = await self.store.get_upload(upload_id, ctx.bucket, ctx.key)
        except S3Error as err:
            if err.code != "NoSuchUpload":
                raise
            # a retry of a completion that succeeded (the client timed out): the same answer
            done = await self.store.multipart.completed(upload_id, ctx.bucket, ctx.key)
            asked = [[n, e.strip().strip('"').lower()] for n, e in parts]
            if done is None or done["parts"] != asked:
                raise
            response = _xml(s3xml.complete_multipart_upload_result(
                location, ctx.bucket, ctx.key, done["etag"], done.get("checksums"),
                done.get("checksum_type"),
            ))
            response.headers += await version_headers(self.store, ctx.bucket,
                                                       done.get("version_id"))
            return response
        chosen = upload_checksum(upload.meta)
        object_sums, extra = await self._completed_checksums(ctx, upload_id, completed, chosen)
        extra = self.sse.completed_extra(upload, parts, extra)  # the envelope names its parts
        try:
            info = await self.store.multipart.complete_upload(
                upload_id,
                ctx.bucket,
                ctx.key,
                parts,
                if_match=ctx.header("if-match"),
                if_none_match=ctx.header("if-none-match"),
                checksums=object_sums,
                extra=extra,
            )
        except S3Error as err:
            await no_such_key_for_if_match(self.store, ctx, err)
            raise
        await lock_new_version(self.store, info)  # the upload's lock, or the bucket's default
        response = _xml(s3xml.complete_multipart_upload_result(
            location, ctx.bucket, ctx.key, info.etag, object_sums,
            chosen[1] if chosen is not None else None,
        ))
        response.headers += self.sse.part_headers(ctx, upload)
        response.headers += await version_headers(self.store, ctx.bucket, info.version_id)
        return response

    async def _completed_checksums(
        self,
        ctx: Context,
        upload_id: str,
        completed: list[s3xml.CompletedPart],
        chosen: tuple[str, str] | None,
    ) -> tuple[dict[str, str] | None, dict[str, Any] | None]:
        """Check the parts' checksums a completion names against those the parts were
        uploaded with, and the object's checksum if it declares one; the object's
        {algorithm: value} and the ``meta.extra`` that keeps its parts' (None, None for an
        upload without an algorithm).

        Long on purpose: AWS's completion rules, each with its own error document, in the
        order AWS applies them."""
        stored = await self.store.multipart.part_checksums(upload_id, ctx.bucket, ctx.key)
        if chosen is None:
            for p in completed:  # nothing to compute; a named checksum still has to match
                for a, v in p.checksums.items():
                    have = stored.get(p.number, {}).get(a)
                    if have is not None and have != v:
                        raise _invalid_part(upload_id, p.number, p.etag)
            return None, None
        alg, kind = chosen
        mode = ctx.header("x-amz-checksum-type")
        if mode is not None and mode.strip().upper() != kind:
            raise S3Error(
                "BadDigest",
                f"The upload was created using the {kind} checksum mode. The complete request "
                "must use the same checksum mode.",
            )
        declared = checksums.completion_checksum(ctx.http.headers)  # type: ignore[arg-type]
        for a in declared:
            if a != alg:
                raise checksums.type_mismatch(alg, a)
        values = []
        for p in completed:
            given = p.checksums.get(alg)
            have = stored.get(p.number, {}).get(alg)
            if any(a != alg for a in p.checksums) or (given is not None and given != have):
                raise _invalid_part(upload_id, p.number, p.etag)
            if given is None and kind == "COMPOSITE":
                raise S3Error(
                    "InvalidRequest",
                    f"The upload was created using a {alg} checksum. The complete request "
                    f"must include the checksum for each part. It was missing for part "
                    f"{p.number} in the request.",
                )
            if have is None:
                raise _invalid_part(upload_id, p.number, p.etag)
            values.append(have)
        if kind == "COMPOSITE":
            value = checksums.composite_checksum(alg, values)
        else:
            sizes = {
                part.part_number: part.size
                for part in await self.store.list_parts(upload_id, ctx.bucket, ctx.key)
            }
            value = checksums.full_object_checksum(
                alg, [(v, sizes.get(p.number, 0)) for v, p in zip(values, completed, strict=True)]
            )
        want = declared.get(alg)
        if want is not None and want.strip() != value:
            raise S3Error(
                "BadDigest",
                f"The {alg.upper()} you specified did not match the calculated checksum.",
                extra={"Algorithm": alg.upper()},
            )
        return {alg: value}, {"checksum_type": kind, "part_checksums": values}

    async def op_AbortMultipartUpload(self, ctx: Context) -> Response:
        await self.store.abort_upload(ctx.s3.query["uploadId"], ctx.bucket, ctx.key)
        return Response(204)

    async def op_ListParts(self, ctx: Context) -> Response:
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
        upload = await self.store.get_upload(upload_id, ctx.bucket, ctx.key)
        chosen = upload_checksum(upload.meta)
        part_sums: dict[int, dict[str, str]] = {}
        if chosen is not None:
            stored = await self.store.multipart.part_checksums(upload_id, ctx.bucket, ctx.key)
            part_sums = {
                n: {chosen[0]: v[chosen[0]]} for n, v in stored.items() if chosen[0] in v
            }
        return _xml(
            s3xml.list_parts_result(
                ctx.bucket, ctx.key, upload_id, parts, marker, next_marker, max_parts, truncated,
                checksum=chosen, part_checksums=part_sums,
            )
        )

    async def op_ListMultipartUploads(self, ctx: Context) -> Response:
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
        listed: list[UploadInfo | str] = []
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
        on_page = {id(u) for u in page_uploads}
        next_key = next_id = None
        if truncated and listed:
            last = listed[-1]
            next_key = last if isinstance(last, str) else last.key
            next_id = "" if isinstance(last, str) else last.upload_id
        return _xml(
            s3xml.list_multipart_uploads_result(
                ctx.bucket, page_uploads, page_prefixes, prefix, delimiter, key_marker,
                id_marker, next_key, next_id, max_uploads, truncated, q.get("encoding-type"),
                checksums={
                    u.upload_id: c for u in uploads
                    if id(u) in on_page and (c := upload_checksum(u.meta)) is not None
                },
            )
        )

    # ---- copy -----------------------------------------------------------------------

    async def _copy_source(self, ctx: Context) -> ObjectInfo:
        """The copy's source: the current object, or the version ``?versionId=`` names
        (a delete marker: NoSuchKey when current, InvalidRequest when named, as S3)."""
        value = ctx.header("x-amz-copy-source") or ""
        bucket, key, _ = parse_copy_source(value)
        version = copy_source_version(ctx)
        if version is None:
            source = await self.store.head_object(bucket, key)
        else:
            source = await self.store.head_version(bucket, key, version)
            if source.delete_marker:
                raise S3Error("InvalidRequest", "The source of a copy request may not "
                              "specifically refer to a delete marker by version id.")
        check_copy_source_preconditions(ctx.http.headers.items(), source.etag, source.mtime_ns)
        return source

    async def _source_version_headers(
        self, ctx: Context, source: ObjectInfo
    ) -> list[tuple[str, str]]:
        return [("x-amz-copy-source-version-id", v) for _, v in
                await version_headers(self.store, source.bucket, source.version_id)]

    async def op_CopyObject(self, ctx: Context) -> Response:
        lock = await lock_for_new_version(self.store, ctx, body=False)  # object_lock_ops
        source = await self._copy_source(ctx)
        directive = (ctx.header("x-amz-metadata-directive") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise S3Error("InvalidArgument", "Unknown metadata directive.")
        tag_directive = (ctx.header("x-amz-tagging-directive") or "COPY").upper()
        meta = None
        if directive == "REPLACE":
            meta = meta_from_headers(ctx)
            if tag_directive == "COPY":
                meta.tags = dict(source.meta.tags)
            meta.extra = dict(source.meta.extra)
        elif tag_directive == "REPLACE":
            meta = source.meta
            meta.tags = meta_from_headers(ctx).tags
        elif (source.bucket == ctx.bucket and source.key == ctx.key
              and copy_source_version(ctx) is None  # a version onto its key: a restore
              and not self.sse.changes_encryption(ctx)):
            raise S3Error(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes.",
            )
        if meta is not None:
            meta.checksums = dict(source.meta.checksums)
        # the store's chunk-sharing copy, or a re-encrypting one (aisfs_node.s3.sse)
        info, sse_headers = await self.sse.copy_object(ctx, source, meta)
        await record_lock(self.store, ctx.bucket, ctx.key, info.version_id, lock)
        response = _xml(s3xml.copy_object_result(info.etag, info.mtime_ns))
        response.headers += sse_headers
        response.headers += await version_headers(self.store, ctx.bucket, info.version_id)
        response.headers += await self._source_version_headers(ctx, source)
        return response

    # ---- multi-object delete --------------------------------------------------------

    async def op_DeleteObjects(self, ctx: Context) -> Response:
        """The keys are deleted concurrently (DELETE_OBJECTS_AT_ONCE at a time), so they
        commit together (the store's group commit: one transaction, one round of fsyncs)
        instead of one commit per key; the answer keeps the request's order."""
        await self.store.get_bucket(ctx.bucket)
        body = await read_small_body(ctx)
        objects, quiet = s3xml.parse_delete(body)
        refused = denied_deletes(ctx.http)  # by the access check (aisfs_node/s3_access.py)
        results: list[s3xml.ObjectIdentifier | S3Error] = [access_denied()] * len(objects)
        limiter = trio.CapacityLimiter(DELETE_OBJECTS_AT_ONCE)

        async def one(i: int, obj: s3xml.ObjectIdentifier) -> None:
            async with limiter:
                try:
                    await lift_bypassed_retention(self.store, ctx, obj.key, obj.version_id)
                    results[i] = await self._delete_one(ctx.bucket, obj)
                except S3Error as err:  # S3: deleting a missing key counts as deleted
                    results[i] = obj if err.code == "NoSuchKey" else err

        async with trio.open_nursery() as nursery:
            for i, obj in enumerate(objects):
                if obj.key not in refused:
                    nursery.start_soon(one, i, obj)
        deleted = [r for r in results if not isinstance(r, S3Error)]
        errors = [(o, r) for o, r in zip(objects, results, strict=True) if isinstance(r, S3Error)]
        return _xml(s3xml.delete_result(deleted, errors, quiet))

    async def _delete_one(
        self, bucket: str, obj: s3xml.ObjectIdentifier
    ) -> s3xml.ObjectIdentifier:
        """One object of a DeleteObjects, answered as S3's ``<Deleted>``: a delete marker
        made (``DeleteMarker``, ``DeleteMarkerVersionId``), or the version removed (its
        ``VersionId``; a marker's also ``DeleteMarker``)."""
        vid = obj.version_id
        if vid is not None and not valid_version_id(vid):
            raise S3Error("NoSuchVersion", "The specified version does not exist.")
        out = await self.store.delete_object(bucket, obj.key, vid)
        if out is None or not out.delete_marker:
            return obj
        return s3xml.ObjectIdentifier(obj.key, vid, True, out.version_id or "")


def _parse_copy_range(value: str, size: int) -> tuple[int, int]:
    """``bytes=first-last`` inside an object of ``size`` bytes. As AWS: not of that form is
    InvalidArgument with the form's message; first > last or last past the end is
    InvalidArgument naming the source's size."""
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
                f"Range specified is not valid for source object of size: {size}",
            )
    raise invalid(
        "x-amz-copy-source-range",
        value,
        "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
        "and last are the zero-based offsets of the first and last bytes to copy",
    )
