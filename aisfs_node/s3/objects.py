"""Objects: PutObject, GetObject, HeadObject, DeleteObject.

A GET reads its first piece before the headers go out: a corrupt object with no good
copy is then a clean 500, not a cut body. A small object's bytes come with its record
(``head_object(with_data=True)``, verified in the same worker call) and are the body as
they are: no read_object stream for them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator

from aisfs.crypto.envelope import EXTRA_KEY
from aisfs.errors import S3Error, no_good_copy
from aisfs.s3 import xml as s3xml
from aisfs.s3.conditions import check_preconditions, format_http_date
from aisfs.s3.ranges import content_range, parse_range
from aisfs.s3.refusals import with_overrides
from aisfs.s3.request import parse_part_number
from aisfs.store.chunks import StoreCorruption
from aisfs.store.reader import FileSegment
from aisfs.store.store import Store
from aisfs.store.types import ObjectInfo
from aisfs.store.versions import versioning
from aisfs_node.errors import s3_error
from aisfs_node.http import Response, first_piece_read, zero_copy
from aisfs_node.s3.body import UploadBody, checksum_headers
from aisfs_node.s3.context import (
    Context,
    Services,
    deleted_headers,
    meta_from_headers,
    stored_object_headers,
    version_headers,
    version_query,
)
from aisfs_node.s3.lifecycle import expiration_headers
from aisfs_node.s3.object_lock_ops import (
    lift_bypassed_retention,
    lock_for_new_version,
    object_lock_headers,
    record_lock,
)
from aisfs_node.s3.sse import Sse
from aisfs_node.threadsend import ThreadSend

log = logging.getLogger("aisfs.s3")



# Last-Modified of a record (email.utils.formatdate: ~3 us a call; a hot object's is
# the same string request after request)
_last_modified = functools.lru_cache(maxsize=4096)(format_http_date)


class ObjectOps:
    def __init__(self, services: Services) -> None:
        self.store = services.store
        self.sse = Sse(services)  # server-side encryption (aisfs_node.s3.sse)

    async def op_PutObject(self, ctx: Context) -> Response:
        meta = meta_from_headers(ctx)
        lock = await lock_for_new_version(self.store, ctx, body=True)  # object_lock_ops
        body = UploadBody(ctx.http, ctx.auth)
        try:
            info = await (await self.sse.put_object(ctx, meta))(  # encrypting, if asked
                ctx.bucket,
                ctx.key,
                body.stream(),
                meta,
                content_md5=body.content_md5_bytes(),
                expected_size=body.expected_size,
                hashers=body.store_hashers(),
                before_commit=lambda _result: body.before_commit(meta),
                if_match=ctx.header("if-match"),
                if_none_match=ctx.header("if-none-match"),
            )
        except S3Error as err:
            await no_such_key_for_if_match(self.store, ctx, err)
            raise
        await record_lock(self.store, ctx.bucket, ctx.key, info.version_id, lock)
        headers = [("etag", s3xml.quote_etag(info.etag))]
        headers += await version_headers(self.store, ctx.bucket, info.version_id)
        headers += self.sse.put_headers(meta, ctx)
        headers += checksum_headers(body.stored)
        headers += await expiration_headers(self.store, ctx.bucket, info)  # node.s3.lifecycle
        return Response(200, headers)

    def _object_headers(self, info: ObjectInfo) -> list[tuple[str, str]]:
        meta = info.meta
        headers = [
            ("last-modified", _last_modified(info.mtime_ns)),
            ("etag", s3xml.quote_etag(info.etag)),
            ("accept-ranges", "bytes"),
            ("content-type", meta.content_type or "binary/octet-stream"),
        ]
        headers += stored_object_headers(meta.headers, meta.user)
        if meta.tags:
            headers.append(("x-amz-tagging-count", str(len(meta.tags))))
        return headers

    async def _record(self, ctx: Context, head: bool) -> ObjectInfo | Response:
        """The object (or the version ``versionId`` names) a GET or HEAD reads; or, for a
        delete marker, S3's answer: 404 NoSuchKey when it is the key's newest version,
        405 MethodNotAllowed when a versionId names it, both with
        ``x-amz-delete-marker: true`` and its id."""
        version = version_query(ctx)
        if version is not None:
            info = await self.store.head_version(ctx.bucket, ctx.key, version,
                                                 with_data=not head)
            if not info.delete_marker:
                return info
            err = S3Error("MethodNotAllowed",
                          "The specified method is not allowed against this resource.",
                          status=405, extra={"Method": ctx.http.method,
                                             "ResourceType": "DeleteMarker"})
            marker = version
        else:
            try:
                return await self.store.head_object(ctx.bucket, ctx.key, with_data=not head)
            except S3Error as missing:
                if missing.code != "NoSuchKey" or versioning(
                        (await self.store.get_bucket(ctx.bucket)).props) is None:
                    raise  # never versioned: no marker to look for (no thread hop)
                latest = await self.store.latest_delete_marker(ctx.bucket, ctx.key)
                if latest is None:
                    raise
                marker, err = latest, missing
        response = s3_error(err, ctx.s3.resource, ctx.request_id, head)
        response.headers += [("x-amz-delete-marker", "true"), ("x-amz-version-id", marker)]
        if err.status == 405:
            response.headers.append(("allow", "DELETE"))
        return response

    async def _get_or_head(self, ctx: Context, head: bool) -> Response:
        found = await self._record(ctx, head)
        if isinstance(found, Response):
            return found
        info = found
        headers = self._object_headers(info)
        headers += await version_headers(self.store, ctx.bucket, info.version_id)
        headers += object_lock_headers(info.lock)  # object_lock_ops
        headers += self.sse.object_headers(ctx, info)  # 400/403 without the right SSE-C key
        headers += await expiration_headers(self.store, ctx.bucket, info)  # node.s3.lifecycle
        try:
            # the Headers themselves: one look-up per condition, no list of every header
            check_preconditions(ctx.http.headers, info.etag, info.mtime_ns)  # type: ignore[arg-type]
        except S3Error as err:
            if err.status == 304:
                keep = {"etag", "last-modified"}
                return Response(304, [h for h in headers if h[0] in keep], head=True)
            raise
        if not head and ctx.s3.query:
            headers = with_overrides(ctx.s3.query, headers)
        size = info.size
        start, end = 0, size - 1
        status = 200
        part_number = ctx.s3.query.get("partNumber")
        if part_number is not None:
            start, end = self._part_span(info, part_number)
            status = 206 if info.part_sizes else 200
            if info.part_sizes:
                headers.append(("x-amz-mp-parts-count", str(len(info.part_sizes))))
                headers.append(("content-range", content_range(start, end, size)))
        else:
            span = parse_range(ctx.header("range"), size)
            if span is not None:
                start, end = span
                status = 206
                headers.append(("content-range", content_range(start, end, size)))
        length = max(0, end - start + 1)
        headers.append(("content-length", str(length)))
        checksum_mode = (ctx.header("x-amz-checksum-mode") or "").upper() == "ENABLED"
        if checksum_mode and info.meta.checksums:
            headers += object_checksum_headers(info, part_number, status)
        if head or length == 0:
            return Response(status, headers, b"", head=True)
        data = self.sse.inline_data(ctx, info)  # a small object's bytes, read with its record
        if data is not None and len(data) == size:
            return Response(status, headers, data if length == size else data[start : end + 1])
        return Response(status, headers, await self._body_checked_first(ctx, info, start, end))

    async def _body_checked_first(
        self, ctx: Context, info: ObjectInfo, start: int, end: int
    ) -> AsyncIterator[bytes | memoryview | ThreadSend] | AsyncIterator[bytes | FileSegment]:
        """The object's bytes, with the first piece read (and verified) before the headers
        go out: a corrupt object with no good copy is then a clean 500, not a cut body.
        Where the server sends files itself (plain HTTP on the node's own server) and the
        object is stored as sent (no SSE), chunk copies verified lately go as file
        segments (sendfile: ``Reader.read_segments``)."""
        try:
            if zero_copy(ctx.http.scope) and EXTRA_KEY not in info.meta.extra:
                return await first_piece_read(
                    self.store.reader.read_segments(info, start, end))
            return await first_piece_read(self.sse.read_object(ctx, info, start, end))
        except StoreCorruption as exc:
            log.error("request %s: %s/%s has no good copy of %s", ctx.request_id,
                      info.bucket, info.key, exc, extra={"request_id": ctx.request_id})
            raise no_good_copy() from None

    def _part_span(self, info: ObjectInfo, value: str) -> tuple[int, int]:
        number = parse_part_number(value)
        sizes = info.part_sizes or [info.size]
        if number > len(sizes):
            raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable",
                          status=416)
        start = sum(sizes[: number - 1])
        return start, start + sizes[number - 1] - 1

    async def op_GetObject(self, ctx: Context) -> Response:
        return await self._get_or_head(ctx, head=False)

    async def op_HeadObject(self, ctx: Context) -> Response:
        return await self._get_or_head(ctx, head=True)

    async def op_DeleteObject(self, ctx: Context) -> Response:
        # As the seed says (AIStore): deleting a missing object of an unversioned bucket is
        # reported as not found. In a versioned bucket a delete marker is made (S3); with
        # versionId that version goes for good (none there: nothing to do, 204, as S3).
        version = version_query(ctx)
        await self.store.get_bucket(ctx.bucket)
        await lift_bypassed_retention(self.store, ctx, ctx.key, version)  # object_lock_ops
        out = await self.store.delete_object(ctx.bucket, ctx.key, version)
        return Response(204, deleted_headers(out))


async def no_such_key_for_if_match(store: Store, ctx: Context, err: S3Error) -> None:
    """If-Match on a key with no object: AWS answers 404 NoSuchKey, not 412 (the store's
    commit says only that the condition failed)."""
    if err.code != "PreconditionFailed" or ctx.header("if-match") is None:
        return
    try:
        await store.head_object(ctx.bucket, ctx.key)
    except S3Error as missing:
        if missing.code == "NoSuchKey":
            raise missing from None


def object_checksum_headers(
    info: ObjectInfo, part_number: str | None, status: int
) -> list[tuple[str, str]]:
    """``x-amz-checksum-<alg>`` and ``x-amz-checksum-type`` of a GET/HEAD asking for them:
    the whole object's (a multipart one's COMPOSITE ``xxxx-N`` or FULL_OBJECT value), one
    part's own (``partNumber``), none for a byte range (it has no checksum of its own)."""
    meta = info.meta
    kind = str(meta.extra.get("checksum_type") or "FULL_OBJECT")
    if part_number is not None and info.part_sizes:
        sums = meta.extra.get("part_checksums")
        index = int(part_number) - 1
        if not isinstance(sums, list) or not 0 <= index < len(sums) or not meta.checksums:
            return []
        alg = next(iter(meta.checksums))
        return [(f"x-amz-checksum-{alg}", str(sums[index])), ("x-amz-checksum-type", kind)]
    if status != 200 and part_number is None:
        return []
    if info.part_sizes and "checksum_type" not in meta.extra:
        return []  # parts uploaded without an algorithm: no checksum of the whole
    return [*checksum_headers(meta.checksums), ("x-amz-checksum-type", kind)]
