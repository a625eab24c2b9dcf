"""CopyObject and UploadPartCopy into an ``ais://`` bucket of the node whose source is a
backend's object (``s3://B``, or an ``ais://`` bucket with ``backend_bck``), the current
object or a version ``?versionId=`` names.

The source is read through the node as a GET reads it (``read_copy_source``: the current
object cold, warm or validated; a version from the cached copy when it is that version,
else streamed from the backend and never cached), and written as the local PutObject (or
UploadPart) writes: the destination bucket's versioning, its default object lock and
encryption apply. Metadata: COPY takes the backend object's Content-Type, user metadata
and stored headers, REPLACE the request's; tags: the backend object's (GetObjectTagging;
none from a backend without tags), or with ``x-amz-tagging-directive: REPLACE`` the
request's ``x-amz-tagging``.
"""

from __future__ import annotations

from typing import Any

from aisfs.backend import RemoteObjects, Resolved
from aisfs.errors import S3Error
from aisfs.s3 import checksums
from aisfs.s3 import xml as s3xml
from aisfs.s3.request import parse_part_number
from aisfs.store.types import ObjectMeta
from aisfs_node.http import Response
from aisfs_node.s3.context import Context, Services, meta_from_headers, version_headers
from aisfs_node.s3.multipart import upload_checksum
from aisfs_node.s3.object_lock_ops import lock_for_new_version, record_lock
from aisfs_node.s3.remote_multipart import copy_range, pieces_of, read_copy_source
from aisfs_node.s3.remote_versions import cause_parts, head_source_version
from aisfs_node.s3.sse import Sse

XML = "application/xml"


def _source_version_header(version: str | None, attrs_version: str) -> list[tuple[str, str]]:
    """``x-amz-copy-source-version-id``: the version copied (asked, or the backend's
    current one)."""
    shown = version if version is not None else attrs_version
    return [("x-amz-copy-source-version-id", shown)] if shown else []


async def copy_into_local(
    services: Services, remote: RemoteObjects, ctx: Context, src: Resolved, src_key: str,
    version: str | None,
) -> Response:
    store = services.store
    directive = (ctx.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.")
    tag_directive = (ctx.header("x-amz-tagging-directive") or "COPY").upper()
    if tag_directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown tagging directive.")
    await store.get_bucket(ctx.bucket)
    lock = await lock_for_new_version(store, ctx, body=False)  # object_lock_ops
    read = await read_copy_source(remote, ctx, src, src_key, version=version)
    pieces = pieces_of(read.body)
    try:
        asked = meta_from_headers(ctx)
        if directive == "REPLACE":
            meta = asked
        else:
            meta = ObjectMeta(content_type=read.attrs.content_type, user=dict(read.attrs.user),
                              headers=dict(read.attrs.headers))
        if tag_directive == "REPLACE":
            meta.tags = dict(asked.tags)
        else:
            meta.tags = await _source_tags(remote, src, src_key, version)
        sse = Sse(services)
        put = await sse.put_object(ctx, meta)  # the destination's encryption, if any
        info = await put(ctx.bucket, ctx.key, pieces, meta, expected_size=read.attrs.size)
    finally:
        await pieces.aclose()  # type: ignore[attr-defined]
    await record_lock(store, ctx.bucket, ctx.key, info.version_id, lock)
    headers = [("content-type", XML), *sse.put_headers(meta, ctx)]
    headers += await version_headers(store, ctx.bucket, info.version_id)
    headers += _source_version_header(version, read.attrs.version)
    return Response(200, headers, s3xml.copy_object_result(info.etag, info.mtime_ns))


async def _source_tags(
    remote: RemoteObjects, src: Resolved, key: str, version: str | None
) -> dict[str, str]:
    """The backend object's tags (GetObjectTagging); none from a backend that does not
    keep tags (501, 405)."""
    assert src.remote is not None
    params: dict[str, Any] = {"Bucket": src.remote.name, "Key": key}
    if version is not None:
        params["VersionId"] = version
    try:
        resp = await remote.backend(src).call("get_object_tagging", key, **params)
    except S3Error as e:
        code, status, _ = cause_parts(e)
        if status in (405, 501) or code in ("NotImplemented", "MethodNotAllowed"):
            return {}
        raise
    return {str(t.get("Key")): str(t.get("Value") or "") for t in resp.get("TagSet") or []}


async def part_copy_into_local(
    services: Services, remote: RemoteObjects, ctx: Context, src: Resolved, src_key: str,
    version: str | None,
) -> Response:
    store = services.store
    number = parse_part_number(ctx.s3.query.get("partNumber"))
    upload_id = ctx.s3.query["uploadId"]
    upload = await store.get_upload(upload_id, ctx.bucket, ctx.key)
    rng = ctx.header("x-amz-copy-source-range")
    if rng:  # checked as the local UploadPartCopy checks it: against the source's size
        if version is None:
            size = (await remote.head(src, src_key)).attrs.size
        else:
            size = (await head_source_version(remote, src, src_key, version)).size
        start, end = copy_range(rng, size)
        rng = f"bytes={start}-{end}"
    read = await read_copy_source(remote, ctx, src, src_key, rng, version=version)
    pieces = pieces_of(read.body)
    chosen = upload_checksum(upload.meta)
    hashers = {chosen[0]: checksums.new_hasher(chosen[0])} if chosen else {}
    sse = Sse(services)
    try:
        part = await sse.put_part(ctx, upload, number)(
            upload_id, ctx.bucket, ctx.key, number, pieces,
            expected_size=read.end - read.start + 1, hashers=hashers or None,
        )
    finally:
        await pieces.aclose()  # type: ignore[attr-defined]
    sums = {a: h.digest_b64() for a, h in hashers.items()}
    headers = [("content-type", XML), *sse.part_headers(ctx, upload)]
    headers += _source_version_header(version, read.attrs.version)
    return Response(200, headers, s3xml.copy_part_result(part.etag, part.mtime_ns, sums))
