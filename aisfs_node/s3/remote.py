"""The S3 facade over backend buckets: ``/s3/B/...`` where B is remote.

A bucket named in an S3 request is, as AIS resolves a name (``meta.InitByNameOnly``):

1. an ``ais://B`` of the store: local, unless its props have ``backend_bck=s3://X``
   (then its objects are X's, cached in B);
2. else ``s3://B`` already known to the node (the store bucket ``@aws:B`` holds its
   cached copies);
3. else, when ``[backend.s3]`` is configured, the backend's bucket B if the backend has it
   (discovered on first use: ``@aws:B`` is made, as AIS adds a remote bucket to its BMD);
4. else the local handlers answer (NoSuchBucket).

An ``ais://B`` and an ``s3://B`` of one name: the ``ais://`` bucket wins (AIS answers
such a name with 422 AmbiguousBucketName).

On a remote bucket, GET/HEAD are ``RemoteObjects``' cold/warm/validated reads (ranges
too), PUT writes through, DELETE (and DeleteObjects) is forwarded (a missing key is
204, as the backend answers), CopyObject within one backend is the backend's
server-side copy (across backends or to/from an ``ais://`` bucket it is streamed through
the node), ListObjects(V2) is one backend page per request, and multipart uploads are
forwarded to the backend (``aisfs_node.s3.remote_multipart``). Bucket configuration
(tagging, CORS, policy...) stays the node's own, as AIS keeps props in its BMD.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

import trio

from aisfs.backend import (
    BucketRef,
    Provider,
    RemoteObjects,
    RemoteRead,
    Resolved,
    client_etag,
)
from aisfs.backend.forwarded import forwarded_headers
from aisfs.backend.provider import (
    LOCAL_PREFIX,
    backend_bck,
    bucket_of_local,
    local_bucket_name,
)
from aisfs.backend.s3 import RemoteDeleted
from aisfs.backend.types import RemoteAttrs
from aisfs.errors import S3Error
from aisfs.s3 import xml as s3xml
from aisfs.s3.conditions import (
    check_copy_source_preconditions,
    check_preconditions,
    format_http_date,
)
from aisfs.s3.ranges import content_range
from aisfs.s3.refusals import refuse_lock, refuse_sse, with_overrides
from aisfs.s3.request import listing_encoding, parse_copy_source, parse_max
from aisfs.store.chunks import StoreCorruption
from aisfs.store.types import BucketInfo, ObjectMeta
from aisfs_node import inventory
from aisfs_node.http import Response, first_piece_read, zero_copy
from aisfs_node.s3.body import UploadBody, checksum_headers
from aisfs_node.s3.context import (
    Context,
    Services,
    meta_from_headers,
    read_small_body,
    stored_object_headers,
)
from aisfs_node.s3.remote_into_local import copy_into_local, part_copy_into_local
from aisfs_node.s3.remote_multipart import (
    RemoteMultipart,
    local_copy_source,
    pieces_of,
    read_copy_source,
)
from aisfs_node.s3.remote_object_config import RemoteObjectConfig
from aisfs_node.s3.remote_version_listing import list_versions_page
from aisfs_node.s3.remote_versions import (
    cause_parts,
    delete_version,
    evict_version,
    head_source_version,
    read_selected,
    refuse_empty_version,
    selector_of,
    source_version_refused,
)
from aisfs_node.s3_access import access_denied, denied_deletes

log = logging.getLogger("aisfs.s3")

XML = "application/xml"
DELETES_AT_ONCE = 16  # DeleteObjects by a DELETE per key: keys in flight to the backend
# a backend's refusal of a whole DeleteObjects that says it does not take it (GCS's S3
# interoperability has no multi-object delete; a checksum or MD5 it does not accept)
BATCH_UNSUPPORTED = frozenset(("NotImplemented", "MethodNotAllowed", "InvalidRequest",
                               "InvalidArgument", "MissingContentMD5", "InvalidDigest",
                               "BadDigest", "XAmzContentSHA256Mismatch"))
EVICTS_AT_ONCE = 64  # cached copies dropped at once after a DeleteObjects (group-committed)
AWS_PREFIX = LOCAL_PREFIX[Provider.AWS]
# operations that never address a remote bucket's objects
_LOCAL_ONLY = {"CreateBucket", "ListBuckets", "PreflightRequest"}


@dataclass(frozen=True, slots=True)
class _Listed:
    """A backend listing entry as s3xml's ObjectRecord."""

    key: str
    size: int
    etag: str
    mtime_ns: int


def object_headers(attrs: RemoteAttrs) -> list[tuple[str, str]]:
    """What a GET/HEAD of a remote object answers with (the backend's attributes)."""
    headers = [
        ("last-modified", format_http_date(attrs.last_modified_ns or time.time_ns())),
        ("etag", s3xml.quote_etag(attrs.etag)),
        ("accept-ranges", "bytes"),
        ("content-type", attrs.content_type or "binary/octet-stream"),
    ]
    headers += stored_object_headers(attrs.headers, attrs.user)
    if attrs.version:
        headers.append(("x-amz-version-id", attrs.version))
    return headers


class RemoteS3:
    """Hooked into the router (``aisfs_node.s3.api``): answers the operations on remote buckets,
    hands everything else to the local handler."""

    def __init__(self, services: Services, remote: RemoteObjects, *, discover: bool) -> None:
        self.services = services
        self.remote = remote
        self.discover = discover
        self.multipart = RemoteMultipart(services, remote, self.resolve)
        self.object_config = RemoteObjectConfig(remote)  # ACL, tags: the backend's
        # backends that refused a DeleteObjects whole: sent a DELETE per key instead
        self._no_batch_delete: set[object] = set()

    # == which bucket ====================================================================

    async def resolve(self, name: str) -> Resolved | None:
        """The remote bucket ``name`` stands for, or None (a local one, or none at all)."""
        store = self.services.store
        backends = self.remote.backends
        try:
            info = await store.get_bucket(name)
        except S3Error as e:
            if e.code != "NoSuchBucket":
                raise
        else:
            if backend_bck(info.props) is None:  # the store's own, no backend: no view built
                return None
            rb = backends.resolve(BucketRef(Provider.AIS, name), info.props)
            return rb if rb.is_remote else None
        ref = BucketRef(Provider.AWS, name)
        try:
            info = await store.get_bucket(local_bucket_name(ref))
        except S3Error as e:
            if e.code != "NoSuchBucket":
                raise
        else:
            return backends.resolve(ref, info.props)
        if not self.discover:
            return None
        rb = backends.resolve(ref, {})
        try:
            await self.remote.backend(rb).head_bucket(name)
        except S3Error as e:
            if e.code in ("NoSuchBucket", "AccessDenied"):
                return None
            raise
        await self.remote.ensure_local_bucket(rb)
        return rb

    async def handle(
        self, ctx: Context, handler: Callable[[Context], Awaitable[Response]]
    ) -> Response:
        op = ctx.s3.operation
        if op == "ListBuckets":
            return await self.list_buckets()
        bucket = ctx.s3.bucket
        if bucket is None or op in _LOCAL_ONLY:
            return await handler(ctx)
        if bucket.startswith(AWS_PREFIX):  # the cache's own name is not an S3 name
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", bucket)
        rb = await self.resolve(bucket)
        if rb is None:
            if op in ("CopyObject", "UploadPartCopy"):
                copied = await self._copy_from_remote(ctx, bucket)
                if copied is not None:
                    return copied
            return await handler(ctx)
        refuse_sse(op, ctx.http.headers)  # type: ignore[arg-type]  # nothing encrypted here: 501
        refuse_lock(op, ctx.http.headers)  # type: ignore[arg-type]  # nothing locked here: 501
        own: Callable[[Context, Resolved], Awaitable[Response]] | None = getattr(
            self, f"op_{op}", None
        ) or getattr(self.multipart, f"op_{op}", None) or getattr(
            self.object_config, f"op_{op}", None)
        if own is not None:
            return await own(ctx, rb)
        if rb.bucket.provider is not Provider.AIS:
            # bucket configuration of an s3:// bucket: kept on its store bucket
            ctx = type(ctx)(ctx.http, replace(ctx.s3, bucket=rb.local), ctx.request_id,
                            ctx.auth)
        return await handler(ctx)

    async def _copy_from_remote(self, ctx: Context, bucket: str) -> Response | None:
        """A copy into an ``ais://`` bucket of the node from a backend's object or version
        (``aisfs_node.s3.remote_into_local``); None when the source is not remote (the
        local handler's copy)."""
        value = ctx.header("x-amz-copy-source")
        if not value:
            return None
        try:
            src_bucket, src_key, version = parse_copy_source(value)
            refuse_empty_version(version, "x-amz-copy-source")
            await self.services.store.get_bucket(bucket)
        except S3Error:
            return None  # the local handler's answer (a bad source, no such destination)
        if src_bucket.startswith(AWS_PREFIX):
            return None
        src = await self.resolve(src_bucket)
        if src is None:
            return None
        if ctx.s3.operation == "CopyObject":
            return await copy_into_local(self.services, self.remote, ctx, src, src_key,
                                         version)
        return await part_copy_into_local(self.services, self.remote, ctx, src, src_key,
                                          version)

    # == buckets =========================================================================

    async def list_buckets(self) -> Response:
        """The store's buckets; a known ``s3://B`` by its own name (unless an ``ais://B``
        exists: that one is what ``/s3/B`` addresses)."""
        buckets = await self.services.store.list_buckets()
        names = {b.name for b in buckets}
        shown: list[BucketInfo] = []
        for b in buckets:
            ref = bucket_of_local(b.name)
            if ref.provider is Provider.AIS:
                shown.append(b)
            elif ref.name not in names:
                shown.append(BucketInfo(ref.name, b.created_ns, b.props))
        shown.sort(key=lambda b: b.name)
        return Response(200, [("content-type", XML)], s3xml.list_buckets_result(shown))

    async def op_HeadBucket(self, ctx: Context, rb: Resolved) -> Response:
        assert rb.remote is not None
        if rb.bucket.provider is not Provider.AIS:
            await self.remote.backend(rb).head_bucket(rb.remote.name)
        region = rb.settings.region if rb.settings else self.services.cfg.auth.region
        return Response(200, [("x-amz-bucket-region", region)], head=True)

    async def op_DeleteBucket(self, ctx: Context, rb: Resolved) -> Response:
        if rb.bucket.provider is Provider.AIS:
            await self.services.store.delete_bucket(ctx.bucket)
            await inventory.drop_bucket(self.services.store, rb.bucket)  # they go with it
            return Response(204)
        raise S3Error("NotImplemented", f"{rb.bucket} is a backend bucket: the node does not "
                      "delete backend buckets", ctx.bucket, status=501)

    async def _list(self, ctx: Context, rb: Resolved, v2: bool) -> Response:
        if inventory.s3_wants_inventory(ctx):  # Ais-Bucket-Inventory: from an NBI
            return await inventory.s3_list(ctx, self.services.store, rb, v2)
        q = ctx.s3.query
        max_keys = parse_max(q.get("max-keys"), "max-keys")
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter", "")
        encoding = listing_encoding(q)
        token = q.get("continuation-token") if v2 else None
        start_after = q.get("start-after", "") if v2 else q.get("marker", "")
        entries: list[_Listed] = []
        prefixes: list[str] = []
        next_token = ""
        if max_keys > 0:
            page = await self.remote.list_page(
                rb, prefix=prefix, delimiter=delimiter, token=token or "",
                start_after="" if token else start_after, page_size=max_keys,
            )
            entries = [_Listed(e.key, e.size, e.etag, e.last_modified_ns)
                       for e in page.entries]
            prefixes = page.common_prefixes
            next_token = page.next_token
        else:
            await self.remote.backend(rb).head_bucket(self._remote_name(rb))
        truncated = bool(next_token)
        params = s3xml.ListParams(
            prefix=prefix, delimiter=delimiter or None, max_keys=max_keys,
            encoding_type=encoding, marker="" if v2 else start_after,
            start_after=q.get("start-after") if v2 else None, continuation_token=token,
            fetch_owner=q.get("fetch-owner", "").lower() == "true",
        )
        if v2:
            body = s3xml.list_objects_v2_result(
                ctx.bucket, entries, prefixes, params, truncated, next_token or None)
        else:
            last = max([e.key for e in entries[-1:]] + prefixes[-1:], default="")
            body = s3xml.list_objects_v1_result(
                ctx.bucket, entries, prefixes, params, truncated,
                last if truncated and last else None)
        return Response(200, [("content-type", XML)], body)

    async def op_ListObjects(self, ctx: Context, rb: Resolved) -> Response:
        return await self._list(ctx, rb, v2=False)

    async def op_ListObjectsV2(self, ctx: Context, rb: Resolved) -> Response:
        return await self._list(ctx, rb, v2=True)

    async def op_ListObjectVersions(self, ctx: Context, rb: Resolved) -> Response:
        body = await list_versions_page(self.remote, rb, ctx.bucket, ctx.s3.query)
        return Response(200, [("content-type", XML)], body)  # the backend's versions

    @staticmethod
    def _remote_name(rb: Resolved) -> str:
        assert rb.remote is not None
        return rb.remote.name

    # == objects =========================================================================

    async def _get_or_head(self, ctx: Context, rb: Resolved, head: bool) -> Response:
        range_header = ctx.header("range")
        selector = selector_of(ctx.s3.query, range_header)  # versionId, partNumber
        selected_headers: list[tuple[str, str]] = []
        if selector is not None:
            sel = await read_selected(self.remote, rb, ctx.key, selector, head=head)
            attrs, start, end, ranged, body = sel.attrs, sel.start, sel.end, sel.ranged, sel.body
            cached, selected_headers = sel.cached, sel.headers
        elif head:
            h = await self.remote.head(rb, ctx.key)
            attrs, start, end, ranged, body = h.attrs, 0, h.attrs.size - 1, False, None
            cached = h.cached
        else:
            read, pieces = await read_started(self.remote, rb, ctx.key, range_header,
                                              segments=zero_copy(ctx.http.scope))
            attrs, start, end, ranged = read.attrs, read.start, read.end, read.ranged
            body, cached = pieces, read.cached
        headers = object_headers(attrs) + selected_headers
        headers.append(("ais-cached", "true" if cached else "false"))
        try:
            check_preconditions(ctx.http.headers.items(), attrs.etag, attrs.last_modified_ns)
        except S3Error as err:
            if body is not None:
                await body.aclose()  # type: ignore[attr-defined]
            if err.status == 304:
                keep = {"etag", "last-modified"}
                return Response(304, [h for h in headers if h[0] in keep], head=True)
            raise
        if not head:
            headers = with_overrides(ctx.s3.query, headers)
        status = 206 if ranged else 200
        if ranged:
            headers.append(("content-range", content_range(start, end, attrs.size)))
        length = max(0, end - start + 1)
        headers.append(("content-length", str(length)))
        if body is None or length == 0:
            if body is not None:
                await body.aclose()  # type: ignore[attr-defined]
            return Response(status, headers, b"", head=True)
        return Response(status, headers, body)

    async def op_GetObject(self, ctx: Context, rb: Resolved) -> Response:
        return await self._get_or_head(ctx, rb, head=False)

    async def op_HeadObject(self, ctx: Context, rb: Resolved) -> Response:
        return await self._get_or_head(ctx, rb, head=True)

    async def op_PutObject(self, ctx: Context, rb: Resolved) -> Response:
        if ctx.header("if-match") or ctx.header("if-none-match"):
            raise S3Error("NotImplemented", "A conditional PUT to a backend bucket is not "
                          "supported", status=501)
        meta = meta_from_headers(ctx)
        body = UploadBody(ctx.http, ctx.auth)
        info = await self.remote.put(
            rb, ctx.key, checked_body(body, meta), meta, size=body.expected_size,
            content_md5=body.content_md5_bytes(),
            forwarded=forwarded_headers(ctx.http.headers),
        )
        headers = [("etag", s3xml.quote_etag(client_etag(info)))]
        version = str((info.meta.extra.get("remote") or {}).get("version") or "")
        if version:
            headers.append(("x-amz-version-id", version))
        headers += checksum_headers(body.stored)
        return Response(200, headers)

    async def op_DeleteObject(self, ctx: Context, rb: Resolved) -> Response:
        version = ctx.s3.query.get("versionId")
        if version is not None:  # that version only (aisfs_node/s3/remote_versions.py)
            return Response(204, await delete_version(self.remote, rb, ctx.key, version))
        # a missing key: S3's 204 (an AIS backend: 404)
        deleted = await self._delete(rb, ctx.key)
        headers: list[tuple[str, str]] = []  # a versioned backend's delete marker, passed on
        if deleted.version:
            headers.append(("x-amz-version-id", deleted.version))
        if deleted.delete_marker:
            headers.append(("x-amz-delete-marker", "true"))
        return Response(204, headers)

    async def _delete(self, rb: Resolved, key: str) -> RemoteDeleted:
        try:
            return await self.remote.delete(rb, key)
        except S3Error as e:
            if e.code == "NoSuchKey":  # gone from the backend: no cached copy either
                await self.remote.evict(rb, key)
            raise

    async def op_DeleteObjects(self, ctx: Context, rb: Resolved) -> Response:
        """Forwarded as one DeleteObjects to the backend (``_delete_batch``); refused
        whole, a DELETE per key (``_delete_each``) - from then on for that backend when
        the refusal says it does not take DeleteObjects (``BATCH_UNSUPPORTED``, 405,
        501). The answer keeps the request's order, each ``<Deleted>`` what the backend
        answered (a marker made, a version removed), a missing key counted as deleted; a
        key the node's access check refused (a bucket policy's) is AccessDenied and never
        sent. A backend that fails (5xx) fails the request: 503, as a DELETE."""
        everything, quiet = s3xml.parse_delete(await read_small_body(ctx))
        refused = denied_deletes(ctx.http)  # by the access check (aisfs_node/s3_access.py)
        objects = [o for o in everything if o.key not in refused]
        results = None
        if not objects:
            results = []
        elif rb.settings not in self._no_batch_delete:
            try:
                results = await self._delete_batch(rb, objects)
            except S3Error as e:
                # refused whole: key by key (from now on when it is not supported there)
                code, status, _ = cause_parts(e)
                if status in (405, 501) or code in BATCH_UNSUPPORTED:
                    log.info("%s: DeleteObjects refused (%s): a DELETE per key from now on",
                             rb.settings.label if rb.settings else rb.bucket, code)
                    self._no_batch_delete.add(rb.settings)
                elif e.status >= 500 or e.code == "NoSuchBucket":
                    raise
        if results is None:
            results = await self._delete_each(rb, objects)
        answered = iter(results)
        ordered = [access_denied() if o.key in refused else next(answered) for o in everything]
        deleted = [r for r in ordered if isinstance(r, s3xml.ObjectIdentifier)]
        errors = [(o, r) for o, r in zip(everything, ordered, strict=True)
                  if isinstance(r, S3Error)]
        return Response(200, [("content-type", XML)], s3xml.delete_result(deleted, errors, quiet))

    async def _delete_batch(
        self, rb: Resolved, objects: list[s3xml.ObjectIdentifier]
    ) -> list[s3xml.ObjectIdentifier | S3Error]:
        """One backend DeleteObjects (not quiet: its answer is each key's), then the
        cached copies dropped: a key's after it was deleted (or found missing), a
        version's when the cached copy is that version."""
        entries = []
        for obj in objects:
            entry = {"Key": obj.key}
            if obj.version_id:
                entry["VersionId"] = obj.version_id
            entries.append(entry)
        resp = await self.remote.backend(rb).call(
            "delete_objects", "", Bucket=self._remote_name(rb),
            Delete={"Objects": entries, "Quiet": False})
        answers: dict[tuple[str, str], s3xml.ObjectIdentifier | S3Error] = {}
        for d in resp.get("Deleted") or []:
            key, version = str(d.get("Key") or ""), str(d.get("VersionId") or "")
            made = s3xml.ObjectIdentifier(key, version or None, bool(d.get("DeleteMarker")),
                                          str(d.get("DeleteMarkerVersionId") or ""))
            answers[(key, version)] = made
            if version and made.delete_marker:  # a plain key's marker, named by its id
                answers.setdefault((key, ""), replace(made, version_id=None))
        for e in resp.get("Errors") or []:
            key, version = str(e.get("Key") or ""), str(e.get("VersionId") or "")
            code = str(e.get("Code") or "InternalError")
            answers[(key, version)] = S3Error(code, str(e.get("Message") or code),
                                              status=400 if code != "InternalError" else 500)
        results: list[s3xml.ObjectIdentifier | S3Error] = []
        for obj in objects:
            answer = answers.get((obj.key, obj.version_id or ""))
            if answer is None or (isinstance(answer, S3Error) and answer.code == "NoSuchKey"):
                answer = obj  # not named (a backend's quiet answer), or missing: deleted
            elif isinstance(answer, s3xml.ObjectIdentifier) and not answer.version_id \
                    and obj.version_id:
                answer = replace(answer, version_id=obj.version_id)
            results.append(answer)
        limiter = trio.CapacityLimiter(EVICTS_AT_ONCE)

        async def evict(obj: s3xml.ObjectIdentifier) -> None:
            async with limiter:
                if obj.version_id:
                    await evict_version(self.remote, rb, obj.key, obj.version_id)
                else:
                    await self.remote.evict(rb, obj.key)

        async with trio.open_nursery() as nursery:
            for obj, result in zip(objects, results, strict=True):
                if not isinstance(result, S3Error):
                    nursery.start_soon(evict, obj)
        return results

    async def _delete_each(
        self, rb: Resolved, objects: list[s3xml.ObjectIdentifier]
    ) -> list[s3xml.ObjectIdentifier | S3Error]:
        """A DELETE per key, ``DELETES_AT_ONCE`` at a time, in the request's order."""
        results: list[s3xml.ObjectIdentifier | S3Error] = list(objects)
        failed: list[S3Error] = []
        limiter = trio.CapacityLimiter(DELETES_AT_ONCE)

        async def one(i: int, obj: s3xml.ObjectIdentifier) -> None:
            async with limiter:
                if failed:
                    return
                try:
                    results[i] = await self._delete_entry(rb, obj)
                except S3Error as err:
                    if err.status >= 500:
                        failed.append(err)
                    elif err.code != "NoSuchKey":  # S3: a missing key counts as deleted
                        results[i] = err

        async with trio.open_nursery() as nursery:
            for i, obj in enumerate(objects):
                nursery.start_soon(one, i, obj)
        if failed:
            raise failed[0]
        return results

    async def _delete_entry(
        self, rb: Resolved, obj: s3xml.ObjectIdentifier
    ) -> s3xml.ObjectIdentifier:
        """One key of a DeleteObjects, answered as S3's ``<Deleted>``."""
        if obj.version_id:
            answer = await delete_version(self.remote, rb, obj.key, obj.version_id)
            if ("x-amz-delete-marker", "true") in answer:  # a marker removed
                return replace(obj, delete_marker=True, delete_marker_version_id=obj.version_id)
            return obj
        made = await self._delete(rb, obj.key)
        if made.delete_marker:
            return replace(obj, delete_marker=True, delete_marker_version_id=made.version)
        return obj

    async def op_CopyObject(self, ctx: Context, rb: Resolved) -> Response:
        """The backend's server-side copy when the source is in the same backend (a
        ``?versionId=`` of the source passed on as ``CopySource``'s VersionId); else the
        source - an ``ais://`` bucket's object or version, another backend's object or
        version - is read through the node and written through."""
        src_bucket, src_key, version = parse_copy_source(ctx.header("x-amz-copy-source") or "")
        refuse_empty_version(version, "x-amz-copy-source")
        directive = (ctx.header("x-amz-metadata-directive") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise S3Error("InvalidArgument", "Unknown metadata directive.")
        if (directive == "COPY" and src_bucket == ctx.bucket and src_key == ctx.key
                and version is None):
            raise S3Error(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes.",
            )
        meta = meta_from_headers(ctx) if directive == "REPLACE" else None
        src = await self.resolve(src_bucket)
        if src is not None and src.settings == rb.settings:
            return await self._server_side_copy(ctx, src, src_key, rb, meta, version)
        # across backends, or from an ais:// bucket: streamed through the node
        source_version = version
        if src is None:
            info = await local_copy_source(self.services.store, ctx, src_bucket, src_key)
            pieces = self.services.store.read_object(info, 0, info.size - 1)
            size = info.size
            new_meta = meta or _copy_meta(info.meta)
            source_version = info.version_id if version is not None else None
        else:
            read = await read_copy_source(self.remote, ctx, src, src_key, version=version)
            pieces, size = pieces_of(read.body), read.attrs.size
            new_meta = meta or ObjectMeta(content_type=read.attrs.content_type,
                                          user=dict(read.attrs.user),
                                          headers=dict(read.attrs.headers))
        out = await self.remote.put(rb, ctx.key, pieces, new_meta, size=size,
                                    forwarded=forwarded_headers(ctx.http.headers))
        headers = [("content-type", XML)]
        made = str((out.meta.extra.get("remote") or {}).get("version") or "")
        if made:
            headers.append(("x-amz-version-id", made))
        if source_version is not None:
            headers.append(("x-amz-copy-source-version-id", source_version or "null"))
        return Response(200, headers,
                        s3xml.copy_object_result(client_etag(out), out.mtime_ns))

    async def _server_side_copy(
        self, ctx: Context, src: Resolved, src_key: str, dst: Resolved, meta: ObjectMeta | None,
        version: str | None = None,
    ) -> Response:
        size: int | None = None
        condition = ""  # the ETag the copy is made on the condition of (the cached one's)
        if any(h.startswith("x-amz-copy-source-if-") for h, _ in ctx.http.headers.items()):
            if version is None:
                pre = (await self.remote.head(src, src_key)).attrs
            else:
                pre = await head_source_version(self.remote, src, src_key, version)
            check_copy_source_preconditions(ctx.http.headers.items(), pre.etag,
                                            pre.last_modified_ns)
            size = pre.size
        elif meta is not None and version is None and (src.local, src_key) == (dst.local,
                                                                                ctx.key):
            # new metadata for a cached object (a chmod through the mount): when the
            # backend's object is the cached copy, copied on that condition and kept
            pre, same = await self.remote.recopy_source(dst, ctx.key)
            size, condition = pre.size, pre.etag if same else ""
        copy = functools.partial(
            self.remote.backend(dst).copy_object,
            self._remote_name(src), src_key, self._remote_name(dst), ctx.key,
            content_type=meta.content_type if meta else None,
            user=meta.user if meta else None,
            headers=meta.headers if meta else None, src_version=version,
            forwarded=forwarded_headers(ctx.http.headers, copy=True),
        )
        try:
            try:
                attrs = await copy(size=size, src_if_match=condition)
            except S3Error as e:
                if not condition or e.code != "PreconditionFailed":
                    raise
                condition = ""  # changed in the backend since the HEAD
                attrs = await copy()
        except S3Error as e:
            if version is None:
                raise
            raise await source_version_refused(self.remote, src, src_key, version,
                                               e) from None
        await self.remote.copied(src, src_key, dst, ctx.key, attrs, meta,
                                 source_etag=condition)
        headers = [("content-type", XML)]
        if attrs.version:
            headers.append(("x-amz-version-id", attrs.version))
        if version is not None:
            headers.append(("x-amz-copy-source-version-id", version))
        return Response(200, headers, s3xml.copy_object_result(
            attrs.etag, attrs.last_modified_ns or time.time_ns()))


def _copy_meta(meta: ObjectMeta) -> ObjectMeta:
    return ObjectMeta(content_type=meta.content_type, user=dict(meta.user),
                      headers=dict(meta.headers))


async def read_started(
    remote: RemoteObjects, rb: Resolved, key: str, range_header: str | None, *,
    segments: bool = False,
) -> tuple[RemoteRead, AsyncIterator[bytes]]:
    """GET ``key`` with its first piece read (an error then is a clean answer, not a cut
    body); ``segments``: a warm copy may come as file segments (``RemoteObjects.get``).
    A cached copy that went between its record and its bytes (evicted or replaced
    meanwhile: NoSuchKey, or no good inline copy; or a chunk copy changed since it was
    verified, hashed again and found bad) is looked up again; one still unreadable after
    that is dropped and fetched from the backend - the backend has the object."""
    for attempt in range(3):
        read = await remote.get(rb, key, range_header=range_header, segments=segments)
        try:
            return read, await first_piece_read(pieces_of(read.body))
        except (StoreCorruption, S3Error) as e:
            gone = isinstance(e, StoreCorruption) or e.code == "NoSuchKey"
            if not read.cached or not gone or attempt == 2:
                raise
            if attempt == 1:
                log.warning("%s/%s: the cached copy cannot be read (%s): fetched again",
                            rb.bucket, key, e)
                await remote.evict(rb, key)
    raise AssertionError("unreachable")


async def checked_body(body: UploadBody, meta: ObjectMeta) -> AsyncIterator[bytes]:
    """The client's decoded body, hashed on the way; the declared checksums (headers,
    trailer, the signed payload hash) are checked before its end is passed on, so a
    mismatch never reaches the backend as a complete object."""
    hashers = list(body.hashers.values())
    declared_md5 = body.content_md5_bytes()
    md5 = hashlib.md5() if declared_md5 is not None else None
    if md5 is not None:  # not every backend checks Content-MD5 (moto does not)
        hashers.append(md5)
    async for piece in body.stream():
        for h in hashers:
            h.update(piece)
        yield piece
    if md5 is not None and md5.digest() != declared_md5:
        raise S3Error("BadDigest", "The Content-MD5 you specified did not match what was "
                      "received.")
    body.before_commit(meta)
