"""Presigned-request offload (feature ``S3-Presigned-Request``, AIS ``ais/s3/presigned.go``):
a GET, HEAD or PUT of an object of a backend bucket, or a step of a multipart upload of
one, signed for the backend, is sent to
the backend exactly as signed and the backend decides; the node never checks that
signature and needs no credentials of the backend's for it.

Which requests (``offload_signature``, asked by the router before its own
authentication): the flag is on, the operation is one of ``OFFLOADED``
(``aisfs.backend.presigned``: GetObject, HeadObject, PutObject and the multipart upload's),
the request carries a SigV4 or SigV2 signature (presigned query or Authorization header)
naming an access key that is **not** one of the node's users', and the bucket is a
backend bucket (``s3://B``, or ``ais://B`` with ``backend_bck``). Everything else -
the node's own keys, bearer tokens, unsigned requests, local buckets, other operations -
goes through the node's own authentication as before.

- **GET**: no cached copy - the backend's answer is streamed to the client and into the
  store in the same pass (a background fill in the node's backend nursery; a fill is
  published only whole). A cached copy is served only once the backend accepted this
  very request: it is sent with ``Range: bytes=0-0`` added (one byte comes back, unless
  the client signed a Range) and the cached copy is served if the backend's ETag/version
  is the one it was made from; else the object is fetched again. A Range, a versionId,
  a partNumber or ``response-*`` overrides: relayed, not stored.
- **HEAD**: relayed (``ais-cached`` says whether the node holds that version).
- **PUT**: the body goes to the backend and the store at once; the local copy is
  published only when the backend answered 200 (with its ETag/version).
- **the multipart upload's** (CreateMultipartUpload, UploadPart, UploadPartCopy,
  CompleteMultipartUpload, AbortMultipartUpload, ListParts): relayed as the backend
  answers - status, headers, body streamed both ways -, nothing stored; the upload is the
  backend's. A completion drops the node's copy of the key (the backend now has another
  object) before its answer's last byte goes out, unless the backend refused it (4xx, or
  a 200 whose document is ``<Error>``).
- A refusal (403 SignatureDoesNotMatch, an expired URL, 404...) is relayed as the
  backend's own status and S3 error document; nothing is stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import trio

from aisfs.auth.users import Directory
from aisfs.backend import BucketRef, Provider, RemoteObjects, Resolved
from aisfs.backend.cachemeta import meta_for, remote_attrs, remote_of
from aisfs.backend.presigned import (
    OFFLOADED,
    RELAYED_OPS,
    STYLE_HEADER,
    ClientSignature,
    RootElement,
    Target,
    attrs_from_headers,
    backend_target,
    cacheable_get,
    client_signature,
    forwarded_headers,
    forwarded_length,
    may_probe,
    raw_key_of,
    whole_size,
)
from aisfs.backend.provider import local_bucket_name
from aisfs.backend.s3 import RemoteStream
from aisfs.backend.settings import S3Settings
from aisfs.errors import S3Error
from aisfs.s3.refusals import refuse_sse
from aisfs.store.store import Store
from aisfs.store.types import ObjectInfo, ObjectMeta
from aisfs_node.http import Request, Response
from aisfs_node.jobs import first_error
from aisfs_node.s3.context import Context, Services, meta_from_headers
from aisfs_node.s3.presigned_http import (
    MULTIPART_RELAYED,
    PIECE,
    BackendHttp,
    HttpxBody,
    RelayedBody,
    read_bounded,
    relay,
    relay_error,
    relayed_headers,
    unreachable,
)
from aisfs_node.s3.remote import RemoteS3, object_headers

log = logging.getLogger("aisfs.s3")

FEATURE = "S3-Presigned-Request"
TEE_PIECES = 4


def offload_signature(
    http: Request, operation: str, users: Directory
) -> ClientSignature | None:
    """The backend's signature this request carries, or None (the node's own rules apply).
    The flag and the bucket are the caller's to check."""
    if operation not in OFFLOADED:
        return None
    sig = client_signature(http.query, http.headers.get("authorization"))
    if sig is None or (sig.access_key and users.user_of_key(sig.access_key) is not None):
        return None
    return sig


async def bucket_flag(store: Store, name: str) -> bool:
    """Is the flag on for the bucket ``/s3/name`` names (AIS's bucket-scope ``features``
    prop: of ``ais://name``, else of a known ``s3://name``)? The store's records only:
    nothing is discovered at the backend for a request nobody authenticated yet."""
    for local in (name, local_bucket_name(BucketRef(Provider.AWS, name))):
        try:
            info = await store.get_bucket(local)
        except S3Error as e:
            if e.code != "NoSuchBucket":
                raise
            continue
        features = info.props.get("features") or []
        return isinstance(features, list) and FEATURE in features
    return False


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class PresignedOffload:
    """GET/HEAD/PUT of a backend bucket's object, and the steps of a multipart upload of
    one, forwarded as the client signed them."""

    def __init__(self, services: Services, remote: RemoteObjects, nursery: trio.Nursery) -> None:
        self.services = services
        self.remote = remote
        self.nursery = nursery
        self.http = BackendHttp(nursery)

    @classmethod
    def for_remote(cls, services: Services, remote: RemoteS3) -> PresignedOffload:
        """The offload of the node's backend buckets: its fills run where the cold GETs'
        do (the node's backend nursery, cancelled - publishing nothing - at stop)."""
        objects = remote.remote
        return cls(services, objects, objects.background)

    async def handle(
        self, ctx: Context, rb: Resolved, sig: ClientSignature, base_path: str
    ) -> Response:
        assert rb.remote is not None and rb.settings is not None
        refuse_sse(ctx.s3.operation, ctx.http.headers)  # type: ignore[arg-type]  # as remote.py
        raw_key = raw_key_of(ctx.http.raw_path, base_path, ctx.bucket, ctx.key,
                             virtual_host=ctx.s3.virtual_host)
        target = backend_target(rb.settings.endpoint, rb.settings.region,
                                ctx.header(STYLE_HEADER), rb.remote.name, raw_key,
                                ctx.http.query_string)
        op = ctx.s3.operation
        log.debug("%s: %s offloaded (%s, key %s) to %s", ctx.request_id, op, sig.kind,
                  sig.access_key, target.host)
        if op in RELAYED_OPS:
            return await self._relayed(ctx, rb, target)
        if op == "HeadObject":
            return await self._head(ctx, rb, target)
        if op == "PutObject":
            return await self._put(ctx, rb, target)
        return await self._get(ctx, rb, target, sig)

    async def send(
        self, rb: Resolved, method: str, target: Target, ctx: Context,
        extra: list[tuple[str, str]] | None = None, content: AsyncIterator[bytes] | None = None,
    ) -> httpx.Response:
        assert rb.settings is not None
        headers = forwarded_headers(ctx.http.headers.items(), target.host) + (extra or [])
        return await self.http.send(rb.settings, method, target, headers, content)

    # == GET =============================================================================

    async def _get(
        self, ctx: Context, rb: Resolved, target: Target, sig: ClientSignature
    ) -> Response:
        assert rb.settings is not None
        headers = ctx.http.headers
        cacheable = cacheable_get(ctx.http.query, headers.as_dict())
        stale = await self.remote.local(rb, ctx.key) if cacheable else None
        if stale is not None and may_probe(sig, headers.as_dict()):
            probe = await self.send(rb, "GET", target, ctx, [("range", "bytes=0-0")])
            if probe.status_code not in (200, 206, 416):
                return await relay_error(probe, head=False)
            await probe.aclose()  # the one byte (or the whole object: a closed connection)
            # a 416: an empty object (no byte 0) - served if its ETag says it is this one
            if _same_copy(rb, stale, probe.headers):
                return self._serve_local(stale)
        resp = await self.send(rb, "GET", target, ctx)
        if resp.status_code >= 300:
            return await relay_error(resp, head=False)
        if not cacheable or resp.status_code != 200 or whole_size(resp.headers) < 0:
            return relay(resp, rb.settings, [("ais-cached", "false")])
        return await self._cold(ctx, rb, resp, stale)

    def _serve_local(self, info: ObjectInfo) -> Response:
        headers = object_headers(remote_attrs(info))
        headers += [("ais-cached", "true"), ("content-length", str(info.size))]
        if info.size == 0:
            return Response(200, headers, b"", head=True)
        return Response(200, headers, self.services.store.read_object(info, 0, info.size - 1))

    async def _cold(
        self, ctx: Context, rb: Resolved, resp: httpx.Response, stale: ObjectInfo | None
    ) -> Response:
        """The backend's answer streamed to the client and into the store in one pass:
        the normal cold GET's fill (aisfs/backend/fill.py), reading the response httpx
        holds, under one of the backend's slots."""
        assert rb.settings is not None
        attrs = attrs_from_headers(resp.headers)
        backend = self.remote.backend(rb)
        token = object()
        try:
            await self.remote.ensure_local_bucket(rb)
            await backend.slots.acquire_on_behalf_of(token)
        except BaseException:
            await resp.aclose()
            raise
        stream = RemoteStream(backend, attrs, attrs.size, "", HttpxBody(resp, rb.settings),
                              token, ctx.key)
        body = self.remote.start_fill(rb, ctx.key, stream, stale)
        headers = object_headers(attrs) + [("ais-cached", "false"),
                                           ("content-length", str(attrs.size))]
        return Response(200, headers, body)

    # == HEAD ============================================================================

    async def _head(self, ctx: Context, rb: Resolved, target: Target) -> Response:
        resp = await self.send(rb, "HEAD", target, ctx)
        await resp.aclose()
        headers = relayed_headers(resp.headers)
        if resp.status_code < 300:
            local = await self.remote.local(rb, ctx.key)
            cached = local is not None and _same_copy(rb, local, resp.headers)
            headers.append(("ais-cached", "true" if cached else "false"))
        return Response(resp.status_code, headers, b"", head=True)

    # == PUT =============================================================================

    async def _put(self, ctx: Context, rb: Resolved, target: Target) -> Response:
        assert rb.remote is not None
        size = forwarded_length("PutObject", ctx.http.headers.as_dict())
        assert size is not None
        length = str(size)
        meta = meta_from_headers(ctx)
        await self.remote.ensure_local_bucket(rb)
        tee = _PutTee(self, ctx, rb, target, int(length))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(tee.backend_side)
                await self.services.store.put_object(
                    rb.local, ctx.key, tee.client_side(meta), meta,
                    expected_size=int(length),
                )
        except Exception as e:  # a cancellation is never answered
            if tee.refusal is not None:
                return tee.refusal
            if tee.client_error is not None:
                raise tee.client_error from None
            if isinstance(e, BaseExceptionGroup):
                raise first_error(e) from None
            raise
        assert tee.answer is not None
        return Response(200, relayed_headers(tee.answer.headers))


    # == the multipart upload's: relayed ================================================

    async def _relayed(self, ctx: Context, rb: Resolved, target: Target) -> Response:
        """Sent on with the client's body (if any) streamed as it comes; the backend's
        answer streamed back. A completion drops the cached copy of the key."""
        assert rb.settings is not None
        op = ctx.s3.operation
        length = forwarded_length(op, ctx.http.headers.as_dict())
        extra = [] if length is None else [("content-length", str(length))]
        body = _ClientBody(ctx) if length else None
        completes = op == "CompleteMultipartUpload"
        try:
            resp = await self.send(rb, ctx.http.method, target, ctx, extra,
                                   body.pieces() if body is not None else None)
        except Exception as e:
            if body is not None and body.error is not None and body.error is not e:
                raise body.error from None
            if completes and not (isinstance(e, S3Error) and e.code == "IncompleteBody"):
                await self._drop(rb, ctx.key)  # the backend may have completed it
            raise
        if resp.status_code >= 300:
            if completes and resp.status_code >= 500:
                await self._drop(rb, ctx.key)  # ditto
            return await relay_error(resp, head=False)
        headers = relayed_headers(resp.headers, MULTIPART_RELAYED)
        if completes:
            return Response(resp.status_code, headers, _CompletionBody(
                resp, rb.settings, lambda: self._drop(rb, ctx.key)))
        return Response(resp.status_code, headers, RelayedBody(resp, rb.settings))

    async def _drop(self, rb: Resolved, key: str) -> None:
        with trio.CancelScope(shield=True):
            await self.remote.evict(rb, key)


class _ClientBody:
    """The client's body as it comes, to the backend; a client's failure is kept (the
    client's 4xx, not the backend's 503)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.error: S3Error | None = None

    async def pieces(self) -> AsyncIterator[bytes]:
        try:
            async for piece in self.ctx.http.body():
                yield piece
        except S3Error as e:
            self.error = e
            raise


class _CompletionBody:
    """A CompleteMultipartUpload's 200, relayed as it comes, its last piece held back
    until the cached copy of the key is dropped (``drop``): a client that has the whole
    answer never reads the older object through the node. Not dropped when the document
    is S3's ``<Error>`` (a completion that failed after its 200); dropped when the answer
    breaks off or the client leaves before it is known."""

    def __init__(self, resp: httpx.Response, settings: S3Settings,
                 drop: Callable[[], Awaitable[None]]) -> None:
        self._resp = resp
        self._settings = settings
        self._drop = drop
        self._it: AsyncIterator[bytes] = resp.aiter_raw(PIECE)
        self._root = RootElement()
        self._held = b""
        self._ended = False
        self._settled = False

    def __aiter__(self) -> _CompletionBody:
        return self

    async def __anext__(self) -> bytes:
        while not self._ended:
            try:
                piece = await anext(self._it)
            except StopAsyncIteration:
                self._ended = True
                await self._settle()
                await self._resp.aclose()
                break
            except httpx.HTTPError as e:
                await self.aclose()
                raise unreachable(self._settings, e) from e
            if not piece:
                continue
            self._root.feed(piece)
            out, self._held = self._held, piece
            if out:
                return out
        if self._held:
            out, self._held = self._held, b""
            return out
        raise StopAsyncIteration

    async def _settle(self) -> None:
        if self._settled:
            return
        self._settled = True
        if not self._root.is_error:
            await self._drop()

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            try:
                await self._settle()
            except Exception:  # the answer is cut already; logged, never raised here
                log.exception("the cached copy could not be dropped after a completion")
            await self._resp.aclose()


class _PutTee:
    """A presigned PUT's body, to the backend and to the store at once."""

    def __init__(self, offload: PresignedOffload, ctx: Context, rb: Resolved, target: Target,
                 length: int) -> None:
        self.offload, self.ctx, self.rb, self.target = offload, ctx, rb, target
        self.length = length
        self.send, self.recv = trio.open_memory_channel[bytes](TEE_PIECES)
        self.answered = trio.Event()
        self.answer: httpx.Response | None = None
        self.refusal: Response | None = None
        self.client_error: BaseException | None = None
        self.backend_error: BaseException | None = None

    async def _upstream(self) -> AsyncIterator[bytes]:
        async with self.recv:
            async for piece in self.recv:
                yield piece

    async def backend_side(self) -> None:
        try:
            resp = await self.offload.send(
                self.rb, "PUT", self.target, self.ctx,
                [("content-length", str(self.length))], self._upstream(),
            )
            if resp.status_code != 200:
                self.refusal = await relay_error(resp, head=False)
            else:
                await read_bounded(resp)
                self.answer = resp
        except Exception as e:
            self.backend_error = e
        finally:
            self.recv.close()
            self.answered.set()

    async def client_side(self, meta: ObjectMeta) -> AsyncIterator[bytes]:
        async with self.send:
            try:
                async for piece in self.ctx.http.body():
                    try:
                        await self.send.send(piece)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        break  # the backend answered before the body's end
                    yield piece
            except S3Error as e:
                self.client_error = e
                raise
        await self.answered.wait()
        if self.refusal is not None:
            raise _Refused(self.refusal)
        if self.backend_error is not None:
            raise self.backend_error
        assert self.answer is not None and self.rb.remote is not None
        # the backend has it: the local copy is published with its attributes (the store
        # builds the manifest from ``meta`` once the body ended)
        meta_for(attrs_from_headers(self.answer.headers), self.rb.remote.uri, meta)


def _same_copy(rb: Resolved, info: ObjectInfo, headers: httpx.Headers) -> bool:
    """Is the cached ``info`` the object the backend's answer describes?"""
    assert rb.remote is not None
    rec = remote_of(info)
    if rec is not None and rec.get("source") != rb.remote.uri:
        return False
    attrs = attrs_from_headers(headers)
    etag = str(rec.get("etag") or "") if rec else info.etag
    return bool(attrs.etag) and attrs.same_version(etag, str((rec or {}).get("version") or ""))


