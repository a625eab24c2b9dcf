"""Server-side encryption applied to S3 requests (issue 16, item 6; docs/encryption.md).

Encryption sits above the store, as a transform of the body streams: a PUT's (or a
part's) plaintext is hashed (Content-MD5, the flexible checksums, the payload SHA-256:
all of the plaintext, as AWS computes them) and encrypted with AES-256-CTR
(``aisfs.crypto.ctr``) on its way into ``Store.put_object``/``put_part``; a GET's
ciphertext is decrypted at the range's offset on its way out. The store sees bytes of
the plaintext's length, so sizes, ranges, listings and its chunking are unchanged. What
an encrypted object keeps to be read again is its envelope (``aisfs.crypto.envelope``)
in ``ObjectMeta.extra["sse"]``.

The object operations call in at one place each: ``put_object``/``put_part`` give the
store call to make, ``object_headers``/``inline_data``/``read_object`` the GET/HEAD's
headers and plaintext, ``copy_object``/``source_slice`` a copy's, ``begin_upload``/
``completed_extra`` a multipart upload's.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aisfs.crypto import keys
from aisfs.crypto.ctr import CtrStream, single
from aisfs.crypto.envelope import EXTRA_KEY, SSE_C, SSE_S3, BadEnvelope, Envelope, of_extra
from aisfs.crypto.headers import (
    COPY_SSEC,
    SSE,
    SSEC,
    SSEC_ALG,
    SSEC_MD5,
    CustomerKey,
    customer_key,
    requested,
)
from aisfs.errors import S3Error
from aisfs.s3._headers import Headers
from aisfs.store.types import ObjectInfo, ObjectMeta, UploadInfo
from aisfs.store.writer import RemoteCopy
from aisfs_node.http import offers
from aisfs_node.s3.context import Context, Services, copy_source_version
from aisfs_node.s3.sse_read import thread_sent
from aisfs_node.threadsend import THREADSEND, ThreadSend

log = logging.getLogger("aisfs.s3")

_MASTERS: dict[str, keys.MasterKey] = {}  # state dir -> its master key, loaded once


def not_applicable() -> S3Error:
    return S3Error("InvalidRequest", "The encryption parameters are not applicable to this object.")


def key_required() -> S3Error:
    return S3Error("InvalidRequest", "The object was stored using a form of Server Side "
                   "Encryption. The correct parameters must be provided to retrieve the object.")


def wrong_key() -> S3Error:
    return S3Error("AccessDenied", "Access Denied", status=403)


def insecure() -> S3Error:
    return S3Error("InvalidRequest", "Requests specifying Server Side Encryption with Customer "
                   "provided keys must be made over a secure connection.")


def damaged(info: ObjectInfo | UploadInfo, err: Exception) -> S3Error:
    log.error("%s/%s: its encryption record is unusable: %s", info.bucket, info.key, err)
    return S3Error("InternalError", "We encountered an internal error. Please try again.",
                   status=500)


@dataclass(slots=True)
class Keyed:
    """An envelope with its data key in hand (and the request's SSE-C key, if any)."""

    envelope: Envelope
    data_key: bytes
    customer: CustomerKey | None = None

    def headers(self) -> list[tuple[str, str]]:
        """The response headers AWS returns for an object encrypted so."""
        if self.customer is not None:
            return [(SSEC_ALG, "AES256"), (SSEC_MD5, self.customer.md5_b64)]
        return [(SSE, SSE_S3)]

    def stream(self, info: ObjectInfo, offset: int) -> CtrStream:
        segments = self.envelope.segments(info.part_sizes, info.size)
        return CtrStream(self.data_key, self.envelope.nonce, segments, offset)


class _Fed:
    """A hasher the encrypting stream feeds with the plaintext: the store's own
    ``update`` calls (with the ciphertext) are ignored, its ``digest`` is the plaintext's."""

    __slots__ = ("_h",)

    def __init__(self, h: Any) -> None:
        self._h = h

    def update(self, _data: Any) -> None:
        pass

    def digest(self) -> bytes:
        return bytes(self._h.digest())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._h, name)


class Sse:
    def __init__(self, services: Services) -> None:
        self.cfg = services.cfg
        self.store = services.store

    # ---- keys -----------------------------------------------------------------------

    def master(self) -> keys.MasterKey:
        """The node's master key (``<state_dir>/sse/master.key``, made on first use)."""
        directory = Path(self.cfg.state_dir or self.cfg.store.index_dir) / "sse"
        found = _MASTERS.get(str(directory))
        if found is None:
            try:
                keys.check_outside(directory / keys.MASTER_FILE, self.cfg.store.mountpaths)
                found = _MASTERS[str(directory)] = keys.load_or_create(directory)
            except (keys.KeyUnusable, OSError) as err:
                log.error("SSE-S3: no usable master key: %s", err)
                raise S3Error("InternalError", "We encountered an internal error. Please try "
                              "again.", status=500) from None
        return found

    def _secure(self, headers_secure: bool) -> None:
        if not headers_secure and not self.cfg.s3.sse_c_over_http:
            raise insecure()

    async def _default(self, bucket: str) -> str | None:
        info = await self.store.get_bucket(bucket)
        rule = info.props.get(EXTRA_KEY)
        return str(rule["alg"]) if isinstance(rule, dict) and rule.get("alg") else None

    async def plan(self, bucket: str, headers: Headers, secure: bool) -> Keyed | None:
        """The encryption of a new object: what the headers ask, else the bucket's
        default; None: plaintext."""
        kind = requested(headers)
        if kind is None:
            kind = await self._default(bucket)
        if kind is None:
            return None
        if kind == "SSE-C":
            ck = customer_key(headers)
            assert ck is not None
            self._secure(secure)
            salt = keys.new_salt()
            env = Envelope(SSE_C, Envelope.new_nonce(), salt=salt,
                           check=keys.customer_key_check(ck.key, salt))
            return Keyed(env, keys.customer_data_key(ck.key, salt), ck)
        master = self.master()
        data_key = keys.new_data_key()
        env = Envelope(SSE_S3, Envelope.new_nonce(), wrapped_key=master.wrap(data_key),
                       key_id=master.key_id)
        return Keyed(env, data_key)

    def open(
        self, info: ObjectInfo | UploadInfo, headers: Headers, secure: bool,
        names: tuple[str, str, str] = SSEC,
    ) -> Keyed | None:
        """The data key of an object (or upload) to read, checked against the request's
        SSE-C key (``names``: a copy's source's); None: it is plaintext."""
        try:
            env = of_extra(info.meta.extra)
        except BadEnvelope as err:
            raise damaged(info, err) from None
        ck = customer_key(headers, names)
        if env is None:
            if ck is not None:
                raise not_applicable()
            return None
        if env.alg == SSE_C:
            if ck is None:
                raise key_required()
            self._secure(secure)
            if not keys.customer_key_matches(ck.key, env.salt, env.check):
                raise wrong_key()
            return Keyed(env, keys.customer_data_key(ck.key, env.salt), ck)
        if ck is not None:
            raise not_applicable()
        try:
            return Keyed(env, self.master().unwrap(env.wrapped_key))
        except keys.KeyUnusable as err:
            raise damaged(info, err) from None

    # ---- GET / HEAD -----------------------------------------------------------------

    def object_headers(self, ctx: Context, info: ObjectInfo) -> list[tuple[str, str]]:
        """The SSE response headers of a GET/HEAD - after the request's key is checked
        (400 InvalidRequest without one, 403 AccessDenied for another)."""
        keyed = self.open(info, ctx.http.headers, _secure(ctx))  # type: ignore[arg-type]
        return [] if keyed is None else keyed.headers()

    def inline_data(self, ctx: Context, info: ObjectInfo) -> bytes | None:
        """A small object's bytes read with its record, as plaintext."""
        data = info.data
        if data is None or EXTRA_KEY not in info.meta.extra:
            return data
        keyed = self.open(info, ctx.http.headers, _secure(ctx))  # type: ignore[arg-type]
        assert keyed is not None
        return keyed.stream(info, 0).update(data)

    def read_object(
        self, ctx: Context, info: ObjectInfo, start: int, end: int
    ) -> AsyncIterator[bytes | memoryview | ThreadSend]:
        """Bytes ``start..end`` of the object, as plaintext: on the node's own server on
        plain TCP read, decrypted and sent by a worker thread chunk by chunk
        (``sse_read.thread_sent``), elsewhere (TLS, Hypercorn) decrypted on the loop as
        the store's pieces come."""
        if EXTRA_KEY not in info.meta.extra:
            return self.store.read_object(info, start, end)
        keyed = self.open(info, ctx.http.headers, _secure(ctx))  # type: ignore[arg-type]
        assert keyed is not None
        if offers(ctx.http.scope, THREADSEND):
            segments = self.store.reader.read_segments(info, start, end, defer_check=True)
            return thread_sent(segments, functools.partial(keyed.stream, info), start,
                               end - start + 1)
        return transformed(self.store.read_object(info, start, end), keyed.stream(info, start))

    # ---- PUT ------------------------------------------------------------------------

    async def put_object(self, ctx: Context, meta: ObjectMeta) -> Callable[..., Awaitable[Any]]:
        """The call that stores a PutObject's body: ``Store.put_object`` itself, or one
        that encrypts on the way (its envelope set in ``meta``)."""
        secure = _secure(ctx)
        return await self.put_object_for(ctx.bucket, ctx.http.headers, secure, meta)  # type: ignore[arg-type]

    async def put_object_for(
        self, bucket: str, headers: Headers, secure: bool, meta: ObjectMeta
    ) -> Callable[..., Awaitable[Any]]:
        """``put_object`` for a request of ``headers`` (a browser form's fields too)."""
        keyed = await self.plan(bucket, headers, secure)
        meta.extra.pop(EXTRA_KEY, None)
        if keyed is None:
            return self.store.put_object
        meta.extra[EXTRA_KEY] = keyed.envelope.to_json()
        store_put = self.store.put_object

        async def put(bucket: str, key: str, body: AsyncIterable[bytes], meta: ObjectMeta,
                      **kw: Any) -> ObjectInfo:
            sse_s3 = keyed.customer is None
            md5 = hashlib.md5() if sse_s3 or kw.get("content_md5") is not None else None
            body, kw = _encrypting(
                body, kw, lambda: single(keyed.data_key, keyed.envelope.nonce), md5)
            # the ETag, known to the writer (no MD5 of the ciphertext): SSE-S3's is the
            # plaintext's MD5, as AWS's; SSE-C's is opaque, as AWS's (not the data's MD5)
            etag = md5.hexdigest if md5 is not None and sse_s3 else _opaque_etag()
            # through the page cache, as a plaintext PUT's chunks: its first GET reads them
            kw["remote"] = RemoteCopy(etag=etag, direct=False)
            return await store_put(bucket, key, body, meta, **kw)

        return put

    def put_headers(self, meta: ObjectMeta, ctx: Context) -> list[tuple[str, str]]:
        """The SSE headers of a PutObject's (or copy's) answer."""
        return _headers_of(meta.extra, ctx.http.headers)  # type: ignore[arg-type]

    # ---- copies ---------------------------------------------------------------------

    def changes_encryption(self, ctx: Context) -> bool:
        """A copy onto itself that names an encryption (AWS allows it: it re-encrypts)."""
        return requested(ctx.http.headers) is not None  # type: ignore[arg-type]

    async def copy_object(
        self, ctx: Context, source: ObjectInfo, meta: ObjectMeta | None
    ) -> tuple[ObjectInfo, list[tuple[str, str]]]:
        """CopyObject's new object and its SSE headers: the store's chunk-sharing copy
        when the bytes stay as they are (plaintext to plaintext, SSE-S3 to SSE-S3), else
        the source read as plaintext and written again with the target's encryption."""
        headers: Headers = ctx.http.headers  # type: ignore[assignment]
        secure = _secure(ctx)
        src = self.open(source, headers, secure, COPY_SSEC)
        kind = requested(headers) or await self._default(ctx.bucket)
        src_kind = None if src is None else src.envelope.alg
        if src_kind == kind and kind in (None, SSE_S3):
            if meta is not None:  # the same bytes: the same envelope (or none)
                meta.extra.pop(EXTRA_KEY, None)
                if src is not None:
                    meta.extra[EXTRA_KEY] = source.meta.extra[EXTRA_KEY]
            info = await self.store.copy_object(source.bucket, source.key, ctx.bucket,
                                                ctx.key, meta, copy_source_version(ctx))
            return info, [] if kind is None else [(SSE, SSE_S3)]
        target = meta if meta is not None else ObjectMeta.from_json(source.meta.to_json())
        target.extra = {k: v for k, v in target.extra.items() if k != EXTRA_KEY}
        plaintext = (self.store.read_object(source, 0, source.size - 1) if source.size
                     else _empty())
        if src is not None:
            plaintext = transformed(plaintext, src.stream(source, 0))
        put = await self.put_object_for(ctx.bucket, headers, secure, target)
        info = await put(ctx.bucket, ctx.key, plaintext, target, expected_size=source.size)
        return info, _headers_of(target.extra, headers)

    def source_slice(
        self, ctx: Context, source: ObjectInfo, start: int, end: int
    ) -> AsyncIterator[bytes]:
        """UploadPartCopy's bytes of its source, as plaintext (the copy-source SSE-C key
        checked)."""
        body = self.store.read_object(source, start, end)
        src = self.open(source, ctx.http.headers, _secure(ctx), COPY_SSEC)  # type: ignore[arg-type]
        return body if src is None else transformed(body, src.stream(source, start))

    # ---- multipart ------------------------------------------------------------------

    async def begin_upload(self, ctx: Context, meta: ObjectMeta) -> list[tuple[str, str]]:
        """CreateMultipartUpload: the upload's envelope into ``meta`` (its parts are
        encrypted with it); the answer's SSE headers."""
        keyed = await self.plan(ctx.bucket, ctx.http.headers, _secure(ctx))  # type: ignore[arg-type]
        meta.extra.pop(EXTRA_KEY, None)
        if keyed is None:
            return []
        meta.extra[EXTRA_KEY] = keyed.envelope.to_json()
        return keyed.headers()

    def _part_key(self, ctx: Context, upload: UploadInfo) -> Keyed | None:
        headers: Headers = ctx.http.headers  # type: ignore[assignment]
        try:
            env = of_extra(upload.meta.extra)
        except BadEnvelope as err:
            raise damaged(upload, err) from None
        if env is None or env.alg != SSE_C:
            return self.open(upload, headers, _secure(ctx))
        ck = customer_key(headers)
        if ck is None:
            raise S3Error("InvalidRequest", "The multipart upload initiate requested "
                          "encryption. Subsequent part requests must include the appropriate "
                          "encryption parameters.")
        self._secure(_secure(ctx))
        if not keys.customer_key_matches(ck.key, env.salt, env.check):
            raise S3Error("InvalidRequest", "The provided encryption parameters did not "
                          "match the ones used originally.")
        return Keyed(env, keys.customer_data_key(ck.key, env.salt), ck)

    def put_part(
        self, ctx: Context, upload: UploadInfo, number: int
    ) -> Callable[..., Awaitable[Any]]:
        """The call that stores part ``number``: ``Store.put_part``, or one that encrypts
        it as CTR segment ``number`` of the upload's key."""
        keyed = self._part_key(ctx, upload)
        store_put = self.store.put_part
        if keyed is None:
            return store_put

        async def put(upload_id: str, bucket: str, key: str, part_number: int,
                      body: AsyncIterable[bytes], **kw: Any) -> Any:
            def stream() -> CtrStream:
                return CtrStream(keyed.data_key, keyed.envelope.nonce, [(part_number, 1 << 62)])

            md5 = hashlib.md5() if kw.get("content_md5") is not None else None
            body, kw = _encrypting(body, kw, stream, md5)
            return await store_put(upload_id, bucket, key, part_number, body, **kw)

        return put

    def part_headers(self, ctx: Context, upload: UploadInfo) -> list[tuple[str, str]]:
        """The SSE headers of an UploadPart(Copy)'s or a completion's answer."""
        return _headers_of(upload.meta.extra, ctx.http.headers)  # type: ignore[arg-type]

    def completed_extra(
        self, upload: UploadInfo, parts: list[tuple[int, str]], extra: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """The completed object's ``meta.extra`` additions: the envelope names its parts
        (each its own CTR segment) in object order."""
        data = upload.meta.extra.get(EXTRA_KEY)
        if data is None:
            return extra
        return {**(extra or {}), EXTRA_KEY: {**data, "parts": [n for n, _ in parts]}}


def _secure(ctx: Context) -> bool:
    return ctx.http.scheme == "https"


def _headers_of(extra: dict[str, Any], headers: Headers) -> list[tuple[str, str]]:
    try:
        env = of_extra(extra)
    except BadEnvelope:
        return []
    if env is None:
        return []
    if env.alg == SSE_S3:
        return [(SSE, SSE_S3)]
    ck = customer_key(headers)
    return [] if ck is None else [(SSEC_ALG, "AES256"), (SSEC_MD5, ck.md5_b64)]


def _encrypting(
    body: AsyncIterable[bytes], kw: dict[str, Any], stream: Callable[[], CtrStream],
    md5: Any | None,
) -> tuple[AsyncIterator[bytes], dict[str, Any]]:
    """A store call's body and keywords made for the ciphertext (``stream()``: a fresh
    transform of the object's keystream). The body is encrypted on the event loop (AES-CTR
    runs at GiB/s); the caller's hashers and ``md5`` see the plaintext in the store's own
    hashing stage, pipelined with the writes: ``_Plain`` decrypts what the store hashes,
    the hashers themselves are handed over as ``_Fed`` (the store's feeding of them with
    ciphertext ignored, their digests the plaintext's). Content-MD5 is compared with the
    plaintext's before the commit."""
    kw = dict(kw)
    hashers: dict[str, Any] = dict(kw.pop("hashers", None) or {})
    content_md5: bytes | None = kw.pop("content_md5", None)
    before = kw.pop("before_commit", None)

    def before_commit(result: Any) -> None:
        if content_md5 is not None and md5 is not None and md5.digest() != content_md5:
            raise S3Error("BadDigest",
                          "The Content-MD5 you specified did not match what was received.")
        if before is not None:
            before(result)

    store_hashers: dict[str, Any] = {a: _Fed(h) for a, h in hashers.items()}
    feed = [*hashers.values(), *([md5] if md5 is not None else [])]
    if feed:
        store_hashers[_PLAIN] = _Plain(stream(), feed)
    kw["hashers"] = store_hashers or None
    kw["before_commit"] = before_commit
    return _encrypt(body, stream()), kw


_PLAIN = "x-sse-plaintext"  # not a checksum name: the store records no value for it


class _Plain:
    """The store's view of the plaintext hashers: it gets the ciphertext in order (the
    bytes the store hashes) and feeds their decryption to ``feed``."""

    __slots__ = ("_stream", "_feed", "_buf")

    def __init__(self, stream: CtrStream, feed: list[Any]) -> None:
        self._stream = stream
        self._feed = feed
        self._buf = bytearray()  # reused: the hashers are done with a piece on return

    def update(self, data: Any) -> None:
        plain = self._stream.update_into(data, self._buf)
        for h in self._feed:
            h.update(plain)

    def digest(self) -> bytes:
        return b""


def _opaque_etag() -> Callable[[], str]:
    value = secrets.token_hex(16)
    return lambda: value


async def _encrypt(body: AsyncIterable[bytes], stream: CtrStream) -> AsyncIterator[bytes]:
    async for piece in body:
        yield stream.update(piece)


async def transformed(body: AsyncIterator[bytes], stream: CtrStream) -> AsyncIterator[bytes]:
    """``body`` through ``stream`` (a GET's decryption) on the event loop: the store's
    pieces are at most 1 MiB, ~0.2 ms of AES-CTR each - less than a worker thread's
    hand-off costs here (docs/encryption.md, "Cost")."""
    try:
        async for piece in body:
            yield stream.update(piece)
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""
