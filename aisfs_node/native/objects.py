"""``/v1/objects/B/K``: GET (ranges; a whole object's checksum validated while it
streams), HEAD, PUT (streamed into the store with bounded memory; the bucket's checksum
type and the client's own checked before the commit), DELETE, ``rename-obj``. GET, HEAD
and DELETE take ``?versionId=`` (a versioned bucket's version, as the S3 API's; PUT and
``rename-obj`` with one: 501)."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import trio

from aisfs.client.props import CHECKSUM_TYPES, DEFAULT_CHECKSUM
from aisfs.crypto.envelope import refuse_encrypted
from aisfs.errors import S3Error, no_good_copy
from aisfs.native import decode_custom_md, encode_custom_md
from aisfs.s3.conditions import format_http_date
from aisfs.s3.names import validate_key
from aisfs.s3.object_lock import default_lock_json
from aisfs.s3.ranges import content_range, parse_range
from aisfs.s3.sigv4 import check_payload_sha256
from aisfs.store.chunks import StoreCorruption
from aisfs.store.reader import FileSegment
from aisfs.store.types import ObjectInfo, ObjectMeta, WriteResult
from aisfs.store.versions import valid_version_id
from aisfs_node.http import Response, first_piece_read, zero_copy
from aisfs_node.native.cksum import (
    EXTRA_KEY,
    FAST,
    STORE_COMPUTED,
    Cksum,
    new_cksum,
    object_checksum,
)
from aisfs_node.native.whole_checked import content_key
from aisfs_node.native.wire import Ctx, Node, cname, signed_payload_hash, uint_or_none
from aisfs_node.s3.context import deleted_headers, invalid_version

log = logging.getLogger("aisfs.native")

HEAD_PROPS = frozenset(
    ("name", "size", "version", "checksum", "atime", "copies", "ec", "custom", "location",
     "chunked", "last-modified", "etag", "present", "cached", "status", "node")
)


class ChecksumMismatch(Exception):
    """The data read back does not match the stored checksum (the response is cut)."""


def object_headers(info: ObjectInfo, copies: int, node_id: str) -> list[tuple[str, str]]:
    kind, value = object_checksum(info)
    headers = [
        ("ais-checksum-type", kind),
        ("ais-checksum-value", value),
        ("ais-atime", str(info.mtime_ns)),
        ("ais-version", str(info.generation)),
        ("ais-present", "true"),
        ("ais-location", f"t[{node_id}]"),
        ("ais-mirror-copies", str(copies)),
        ("last-modified", format_http_date(info.mtime_ns)),
        ("etag", f'"{info.etag}"'),
        ("accept-ranges", "bytes"),
    ]
    if info.meta.user:
        headers.append(("ais-custom-md", encode_custom_md(sorted(info.meta.user.items()))))
    if len(info.chunks) > 1:
        headers.append(("ais-chunks-count", str(len(info.chunks))))
        headers.append(("ais-chunks-max-chunk-size", str(max(c.size for c in info.chunks))))
    return headers


def version_asked(ctx: Ctx) -> str | None:
    """``?versionId=`` of a native object request (None: the current object): an id this
    store makes, or ``null``; anything else is 400 InvalidArgument, as the S3 API's."""
    version = ctx.http.query_dict().get("versionId")
    if version is not None and not valid_version_id(version):
        raise invalid_version(version)
    return version


async def _record(node: Node, ctx: Ctx, *, with_data: bool) -> ObjectInfo:
    """The current object, or the version ``?versionId=`` names (a delete marker: S3's
    405 MethodNotAllowed; one the store does not have: 404 NoSuchVersion)."""
    assert ctx.key is not None
    version = version_asked(ctx)
    if version is None:
        return await node.store.head_object(ctx.bucket, ctx.key, with_data=with_data)
    info = await node.store.head_version(ctx.bucket, ctx.key, version, with_data=with_data)
    if info.delete_marker:
        raise S3Error("MethodNotAllowed",
                      "The specified method is not allowed against this resource.",
                      status=405, extra={"Method": ctx.http.method,
                                         "ResourceType": "DeleteMarker"})
    return info


def _version_header(info: ObjectInfo, ctx: Ctx) -> list[tuple[str, str]]:
    if ctx.http.query_dict().get("versionId") is None:
        return []
    return [("x-amz-version-id", info.version_id or "null")]


async def head_object(node: Node, ctx: Ctx) -> Response:
    assert ctx.key is not None
    props_q = ctx.http.query_dict().get("props")
    if props_q:
        unknown = {p.strip() for p in props_q.split(",") if p.strip()} - HEAD_PROPS
        if unknown:
            raise S3Error("InvalidArgument", f"HEAD: unknown props {', '.join(sorted(unknown))}")
    info = await _record(node, ctx, with_data=False)
    binfo = await node.store.get_bucket(ctx.bucket)
    copies = int(binfo.props.get("mirror.copies", 1) or 1)
    headers = object_headers(info, copies, node.node_id) + _version_header(info, ctx)
    headers += [
        ("ais-name", ctx.key or ""),
        ("ais-bucket-name", ctx.bucket),
        ("ais-bucket-provider", "ais"),
        ("content-length", str(info.size)),
        ("content-type", "application/octet-stream"),
    ]
    return Response(200, headers, head=True)


async def get_object(node: Node, ctx: Ctx) -> Response:
    assert ctx.key is not None
    info = await _record(node, ctx, with_data=True)
    refuse_encrypted(info.meta.extra)  # SSE objects: the S3 API's (aisfs_node.s3.sse)
    binfo = await node.store.get_bucket(ctx.bucket)
    copies = int(binfo.props.get("mirror.copies", 1) or 1)
    headers = object_headers(info, copies, node.node_id) + _version_header(info, ctx)
    range_header = ctx.http.headers.get("range")
    if range_header is not None and "," in range_header:
        raise S3Error(
            "InvalidRange", "multi-range requests are not supported",
            extra={"ActualObjectSize": str(info.size)},
        )
    span = parse_range(range_header, info.size)
    headers.append(("content-type", "application/octet-stream"))
    if span is None:
        start, end, status = 0, info.size - 1, 200
    else:
        start, end = span
        status = 206
        headers.append(("content-range", content_range(start, end, info.size)))
    length = max(0, end - start + 1)
    headers.append(("content-length", str(length)))
    if length == 0:
        return Response(status, headers, b"")
    validate = span is None and bool(
        binfo.props.get(
            "checksum.validate_warm_get",
            node.cfg.bucket_defaults.get("checksum.validate_warm_get", True),
        )
    )
    try:
        # a corrupt object with no good copy: a clean 500 rather than a cut body
        body = await first_piece_read(_body(node, ctx, info, start, end, validate))
    except StoreCorruption as exc:
        log.error("GET %s: no good copy of %s", cname(ctx.bucket, ctx.key), exc)
        raise no_good_copy() from None
    return Response(status, headers, body)


def _body(
    node: Node, ctx: Ctx, info: ObjectInfo, start: int, end: int, validate: bool
) -> AsyncIterator[bytes] | AsyncIterator[bytes | FileSegment]:
    """The object's bytes from ``start`` to ``end``. Where the server sends files itself
    (``zero_copy``: plain HTTP on the node's own server) a chunked object's copies
    verified lately go as file segments (sendfile: ``Reader.read_segments``), as the S3
    GET's do - unless its whole checksum is to be validated and was not yet for this
    content (``whole_checked.py``): then it streams through the hash, and is remembered
    when it matches."""
    kind, expected = object_checksum(info)
    hasher = new_cksum(kind) if validate and expected else None
    whole = hasher is not None
    chunked = bool(info.chunks) and not info.is_inline and info.data is None
    content = content_key(info, kind, expected) if whole and chunked else None
    if zero_copy(ctx.http.scope) and chunked and (
            not whole or (content is not None and content in node.whole_checked)):
        return node.store.reader.read_segments(info, start, end)
    if hasher is None:
        return node.store.read_object(info, start, end)
    return _validated(node, ctx, info, hasher, (kind, expected), content)


async def _validated(
    node: Node, ctx: Ctx, info: ObjectInfo, hasher: Cksum, stored: tuple[str, str],
    content: bytes | None,
) -> AsyncIterator[bytes]:
    """Stream the whole object, hashing as it goes; a mismatch cuts the response, a
    match is remembered by ``content`` (``whole_checked.py``) when there is one."""
    kind, expected = stored
    fast = kind in FAST
    # read_segments: a chunk read here is remembered as verified (the next GET can send
    # it from its file); one trusted already is read from its file to be hashed
    pieces = node.store.reader.read_segments(info, 0, info.size - 1)
    # the last piece is held back until the checksum is known: on a mismatch the
    # client gets less than Content-Length and sees a failed transfer
    held: bytes | None = None
    try:
        async for segment in pieces:
            piece = segment if type(segment) is bytes else await _bytes_of(segment)
            if fast:
                hasher.update(piece)
            else:
                await trio.to_thread.run_sync(hasher.update, piece)
            if held is not None:
                yield held
            held = piece
    finally:
        closer = getattr(pieces, "aclose", None)  # a generator's; any async iterator goes
        if closer is not None:
            await closer()
    actual = hasher.hexdigest()
    if actual != expected:
        node.metrics.checksum_error()
        log.error(
            "checksum mismatch on GET %s: %s stored %s, read %s",
            cname(ctx.bucket, ctx.key), kind, expected, actual,
        )
        raise ChecksumMismatch(f"{cname(ctx.bucket, ctx.key)}: {kind} mismatch")
    if content is not None:
        node.whole_checked.remember(content)
    if held is not None:
        yield held


async def _bytes_of(piece: bytes | FileSegment) -> bytes:
    if isinstance(piece, FileSegment):
        return await trio.to_thread.run_sync(os.pread, piece.fd, piece.count, piece.offset)
    return piece


class _PutChecks:
    """The hashers a native PUT hands the store and what is checked before its commit:
    the bucket's checksum type (when the store does not compute it), the client's own
    (``Ais-Checksum-Type/-Value``, end to end), a signed payload hash."""

    def __init__(self, ctx: Ctx, kind: str) -> None:
        h = ctx.http.headers
        self.ctx = ctx
        self.kind = kind
        self.hashers: dict[str, Any] = {}
        self.own = new_cksum(kind) if kind not in STORE_COMPUTED else None
        if self.own is not None:
            self.hashers["ais:" + kind] = self.own
        self.client_type = (h.get("ais-checksum-type") or "").strip().lower()
        self.client_value = (h.get("ais-checksum-value") or "").strip().lower()
        self.client: Cksum | None = None
        if self.client_type and self.client_value and self.client_type != "none":
            if self.client_type not in CHECKSUM_TYPES:
                raise S3Error("InvalidArgument", f"invalid checksum type {self.client_type!r}")
            self.client = new_cksum(self.client_type)
            if self.client is not None:
                self.hashers["client:" + self.client_type] = self.client
        self.declared = signed_payload_hash(ctx)
        self.body_sha256 = hashlib.sha256() if self.declared else None
        if self.body_sha256 is not None:
            self.hashers["sigv4:sha256"] = self.body_sha256

    def before_commit(self, meta: ObjectMeta) -> None:
        if self.body_sha256 is not None:
            check_payload_sha256(self.declared, self.body_sha256.digest())
        if self.client is not None and self.client.hexdigest() != self.client_value:
            raise S3Error(
                "BadDigest",
                f"{cname(self.ctx.bucket, self.ctx.key)}: {self.client_type} checksum "
                f"mismatch: expected {self.client_value}, got {self.client.hexdigest()}",
            )
        if self.own is not None:
            meta.extra[EXTRA_KEY] = {"type": self.kind, "value": self.own.hexdigest()}


def _no_version(ctx: Ctx, what: str) -> None:
    if ctx.http.query_dict().get("versionId") is not None:
        raise S3Error("NotImplemented", f"{what} of a version is not supported", status=501)


async def put_object(node: Node, ctx: Ctx) -> Response:
    assert ctx.key is not None
    _no_version(ctx, "PUT")
    validate_key(ctx.key)
    h = ctx.http.headers
    binfo = await node.store.get_bucket(ctx.bucket)
    refuse_encrypted(binfo.props)  # a bucket with default encryption: the S3 API's
    kind = str(
        binfo.props.get(
            "checksum.type", node.cfg.bucket_defaults.get("checksum.type", DEFAULT_CHECKSUM)
        )
    )
    checks = _PutChecks(ctx, kind)
    custom = decode_custom_md(h.get("ais-custom-md"))
    meta = ObjectMeta(user={k.lower(): v for k, v in custom.items()})

    def before_commit(_result: WriteResult) -> None:
        checks.before_commit(meta)

    info = await node.store.put_object(
        ctx.bucket,
        ctx.key,
        ctx.http.body(),
        meta,
        expected_size=uint_or_none(h.get("content-length")),
        hashers=checks.hashers or None,
        before_commit=before_commit,
    )
    lock = default_lock_json(binfo.props, time.time_ns())  # object lock: the default retention
    if lock is not None:
        await node.store.set_version_lock(ctx.bucket, ctx.key, info.version_id or "null", lock)
    copies = int(binfo.props.get("mirror.copies", 1) or 1)
    return Response(200, object_headers(info, copies, node.node_id))


async def delete_object(node: Node, ctx: Ctx) -> Response:
    """The object (in a versioned bucket: a delete marker made), or with ``?versionId=``
    that version for good (none there: nothing to do; a locked one stays: the store's
    removal guard)."""
    assert ctx.key is not None
    version = version_asked(ctx)
    out = await node.store.delete_object(ctx.bucket, ctx.key, version)
    return Response(200, deleted_headers(out))


async def rename_object(node: Node, ctx: Ctx, msg: dict[str, Any]) -> Response:
    _no_version(ctx, "rename-obj")
    new_name = str(msg.get("name") or "")
    if not new_name:
        raise S3Error("InvalidArgument", "rename-obj: missing the new name")
    validate_key(new_name)
    assert ctx.key is not None
    await node.store.rename_object(ctx.bucket, ctx.key, new_name)
    return Response(200)
