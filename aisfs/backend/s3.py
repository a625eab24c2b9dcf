"""An S3 backend client: botocore, run in worker threads, bounded, retried, streamed.

botocore is synchronous; every call runs in a worker thread (``trio.to_thread``). A
``CapacityLimiter`` of ``max_concurrency`` slots bounds the backend requests in flight, an
open GET stream holding its slot until it is closed. Bodies move in bounded pieces: a GET
is read ``PIECE`` bytes at a time, a PUT is sent whole only up to ``multipart_threshold``
and else as a multipart upload of ``part_size`` parts (at most ``PARTS_IN_FLIGHT`` held at
once) - never a whole large object in memory.

Idempotent calls (HEAD, GET before its body, LIST, DELETE, a whole single PUT, a part,
copy, complete) are retried with backoff (retry.py); botocore's own retries are off so the
bound is ours. Every failure leaves here as an ``S3Error`` (errors.py).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import hashlib
import logging
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
)
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import botocore.session
import trio
from botocore.config import Config
from botocore.exceptions import ClientError

from ..errors import S3Error, first_error, only
from ..numbers import NumberError, parse_uint
from ..store.types import STORED_HEADERS
from .errors import backend_error
from .forwarded import forwarded_params
from .lean import Fallback, LeanBody, LeanClient, PartSink
from .lean_put import LeanPutClient
from .retry import with_retries
from .settings import S3Settings
from .types import RemoteAttrs, RemoteBucketInfo, RemoteEntry, RemotePage

log = logging.getLogger(__name__)

PIECE = 1024 * 1024  # bytes per read of a GET body (one thread hand-off each)
PARTS_IN_FLIGHT = 2  # multipart parts being sent at once (memory: this many part_size)
MAX_PARTS = 10_000  # S3's most parts of one upload
# a single PUT of a body whose size is known is streamed from this size on (up to
# multipart_threshold): never held whole in memory, but not repeated on a failure
STREAM_MIN = 8 * 1024 * 1024


class _Pieces:
    """A PUT body's pieces held for the next part: taken out with one copy (none when a
    piece is the whole part), never re-copied as a growing buffer is."""

    def __init__(self) -> None:
        self._q: collections.deque[bytes | memoryview] = collections.deque()
        self.size = 0

    def add(self, piece: bytes) -> None:
        if piece:
            self._q.append(piece)
            self.size += len(piece)

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes (all there are, if fewer), in one buffer."""
        out = self.take_pieces(n)
        if len(out) == 1 and isinstance(out[0], bytes):
            return out[0]
        return b"".join(out)

    def take_pieces(self, n: int) -> list[bytes | memoryview]:
        """The next ``n`` bytes (all there are, if fewer), as the pieces they came in
        (the last one a view of its first part when it was longer)."""
        out: list[bytes | memoryview] = []
        want = min(n, self.size)
        got = 0
        while got < want:
            p = self._q.popleft()
            if len(p) > want - got:
                view = memoryview(p)
                self._q.appendleft(view[want - got:])
                p = view[: want - got]
            out.append(p)
            got += len(p)
        self.size -= got
        return out

def _update_all(md5: Any, pieces: list[bytes | memoryview]) -> None:
    for p in pieces:
        md5.update(p)


def _bad_digest(key: str) -> S3Error:
    return S3Error("BadDigest", "The Content-MD5 you specified did not match what was "
                   "received.", key)


def _lean_headers(common: Mapping[str, Any]) -> dict[str, str]:
    """The request headers of botocore's PutObject ``common`` parameters (lean_put.py).
    User metadata must be ASCII (botocore refuses it otherwise: S3's REST rule)."""
    out = {f"x-amz-meta-{k}": str(v) for k, v in common["Metadata"].items()}
    for name, value in out.items():
        if not (name + value).isascii():
            raise S3Error("InvalidArgument", "S3 metadata can only contain ASCII "
                          f"characters: {name}", common["Key"])
    if "ContentType" in common:
        out["content-type"] = common["ContentType"]
    for h, param in _HEADER_PARAMS.items():
        if param in common:
            out[h] = common[param]
    return out


def _put_params(
    bucket: str, key: str, content_type: str | None, user: Mapping[str, str] | None,
    headers: Mapping[str, str] | None, forwarded: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """PutObject's botocore parameters and the lean request's headers of them
    (``forwarded``: the client's ACL and tagging headers: backend/forwarded.py)."""
    common = {"Bucket": bucket, "Key": key, **meta_params(content_type, user, headers)}
    lean = _lean_headers(common)  # checked before any byte is sent
    common.update(forwarded_params(forwarded))
    lean.update(forwarded or {})
    return common, lean


def meta_params(content_type: str | None, user: Mapping[str, str] | None,
                headers: Mapping[str, str] | None) -> dict[str, Any]:
    """An object's metadata as botocore's parameters (PutObject's, CreateMultipartUpload's,
    a REPLACE CopyObject's): user metadata, Content-Type, the stored headers."""
    params: dict[str, Any] = {"Metadata": dict(user or {})}
    if content_type:
        params["ContentType"] = content_type
    if headers:
        for h, param in _HEADER_PARAMS.items():
            if h in headers:
                params[param] = headers[h]
    return params


# PUT headers the backend keeps, by their botocore parameter
_HEADER_PARAMS = {
    "cache-control": "CacheControl",
    "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding",
    "content-language": "ContentLanguage",
}


def _ns(dt: Any) -> int:
    return int(dt.timestamp() * 1_000_000_000) if isinstance(dt, datetime) else 0


def _etag(value: Any) -> str:
    return str(value or "").strip('"')


def _version(value: Any) -> str:
    v = str(value or "")
    return "" if v == "null" else v


def attrs_from_response(resp: Mapping[str, Any]) -> RemoteAttrs:
    """RemoteAttrs of a HeadObject/GetObject response (the whole size, also for a range)."""
    raw = (resp.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
    size = int(resp.get("ContentLength") or 0)
    crange = str(resp.get("ContentRange") or "")
    if "/" in crange:
        try:
            size = parse_uint(crange.rsplit("/", 1)[1])
        except NumberError:
            pass  # "*" or garbage from the backend: keep the Content-Length
    return RemoteAttrs(
        size=size,
        etag=_etag(resp.get("ETag")),
        version=_version(resp.get("VersionId")),
        last_modified_ns=_ns(resp.get("LastModified")),
        content_type=resp.get("ContentType"),
        user={str(k).lower(): str(v) for k, v in (resp.get("Metadata") or {}).items()},
        headers={h: str(raw[h]) for h in STORED_HEADERS if h in raw},
    )


@dataclass(frozen=True, slots=True)
class RemoteDeleted:
    """A backend's answer to a DELETE: on a versioned bucket the delete marker it made
    (its version id; ``delete_marker``), else nothing."""

    version: str = ""
    delete_marker: bool = False


class BodySource(Protocol):
    """Where a GET's body comes from: ``read(n)`` up to ``n`` bytes (b"" at its end)."""

    async def read(self, n: int) -> bytes: ...

    async def aclose(self) -> None: ...


class _BotocoreBody:
    """A botocore StreamingBody, read in worker threads."""

    def __init__(self, body: Any, threads: trio.CapacityLimiter) -> None:
        self._body = body
        self._threads = threads

    async def read(self, n: int) -> bytes:
        data: bytes = await trio.to_thread.run_sync(self._body.read, n,
                                                    limiter=self._threads)
        return data

    async def aclose(self) -> None:
        self._body.close()  # drops the connection if unread: no draining a big body


class RemoteStream:
    """An open GET: its attributes, the span it serves, its body in pieces.

    Holds one of the backend's slots until ``aclose`` (which any task may call).
    """

    def __init__(
        self, backend: S3Backend, attrs: RemoteAttrs, length: int, content_range: str,
        body: BodySource, token: object, resource: str,
    ) -> None:
        self.attrs = attrs
        self.length = length
        crange = content_range
        if crange.startswith("bytes ") and "-" in crange:
            lo, _, hi = crange[6:].split("/", 1)[0].partition("-")
            self.start, self.end = int(lo), int(hi)
        else:
            self.start, self.end = 0, self.length - 1
        self._body = body
        self._backend = backend
        self._token = token
        self._resource = resource
        self._closed = False

    @classmethod
    def of_response(cls, backend: S3Backend, resp: dict[str, Any], token: object,
                    resource: str) -> RemoteStream:
        """The stream of botocore's GetObject response ``resp``."""
        return cls(backend, attrs_from_response(resp), int(resp.get("ContentLength") or 0),
                   str(resp.get("ContentRange") or ""),
                   _BotocoreBody(resp["Body"], backend.threads), token, resource)

    async def pieces(self, piece: int = PIECE,
                     part: PartSink | None = None) -> AsyncGenerator[bytes, None]:
        """The body, ``piece`` bytes at a time (the last shorter). ``part``: given each
        piece's bytes as they come, before the piece is yielded - in stretches as
        received from a lean GET's socket (``LeanBody.read``), else the piece whole."""
        got = 0
        body = self._body
        while got < self.length:
            try:
                n = min(piece, self.length - got)
                if part is not None and isinstance(body, LeanBody):
                    data = await body.read(n, part)
                else:
                    data = await body.read(n)
                    if part is not None and data:
                        await part(memoryview(data))
            except Exception as e:
                raise backend_error(e, self._backend.settings.label, self._resource) from e
            if not data:
                raise S3Error(
                    "ServiceUnavailable",
                    f"The {self._backend.settings.label} ended the body of {self._resource} "
                    f"after {got} of {self.length} bytes", self._resource, status=503,
                )
            got += len(data)
            yield data

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._body.aclose()
        finally:
            self._backend.slots.release_on_behalf_of(self._token)


class S3Backend:
    """One S3 endpoint with one set of credentials (an ``S3Settings``)."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.slots = trio.CapacityLimiter(settings.max_concurrency)
        self.threads = trio.CapacityLimiter(settings.max_concurrency)
        self._client: Any = None
        self._client_lock = threading.Lock()
        # HEAD and GET on the event loop where they can be signed without botocore
        # HEAD, GET and the PUTs of a write-through (lean_put.py) likewise
        self._lean = LeanPutClient(settings) if LeanClient.usable(settings) else None

    def __repr__(self) -> str:
        return f"S3Backend({self.settings.label})"

    # == the botocore client =============================================================

    def _make_client(self) -> Any:
        s = self.settings
        session = botocore.session.Session(profile=s.profile or None)
        config = Config(
            region_name=s.region,
            signature_version="s3v4",
            # UNSIGNED-PAYLOAD: no SHA-256 pass over every body sent (~0.6 CPU s/GiB of a
            # write-through PUT); botocore signs it over plain HTTP unless told. The body
            # is guarded by TCP and, when the client sent one, Content-MD5 (the backend
            # checks it); the headers stay signed. AWS, RGW, moto and aisfs accept it.
            s3={"addressing_style": s.addressing,  # type: ignore[arg-type]
                "payload_signing_enabled": False},
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},  # ours: retry.py
            max_pool_connections=s.max_concurrency,
            # no flexible checksums unless an operation needs one: Ceph Pacific and older
            # S3 clusters keep "aws-chunked" framing they do not understand
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            user_agent_extra="aisfs",
        )
        kwargs: dict[str, Any] = {}
        if s.access_key:
            kwargs.update(
                aws_access_key_id=s.access_key,
                aws_secret_access_key=s.secret_key,
                aws_session_token=s.session_token or None,
            )
        verify: bool | str = s.ca_file or s.verify_tls
        return session.create_client(
            "s3", endpoint_url=s.endpoint or None, verify=verify, config=config, **kwargs
        )

    def client(self) -> Any:
        """The botocore client (made on first use, in a worker thread: it takes ~50 ms)."""
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _invoke(self, op: str, params: dict[str, Any]) -> Any:
        return getattr(self.client(), op)(**params)

    async def _thread(self, fn: Callable[[], Any]) -> Any:
        return await trio.to_thread.run_sync(fn, limiter=self.threads)

    async def call(self, op: str, resource: str = "", *, retry: bool = True,
                   **params: Any) -> Any:
        """One botocore operation (``head_object``, ...) in a slot; S3Error on failure."""

        async def once() -> Any:
            async with self.slots:
                return await self._thread(functools.partial(self._invoke, op, params))

        try:
            if retry:
                return await with_retries(once, self.settings.retries,
                                          f"{self.settings.label} {op}")
            return await once()
        except Exception as e:
            raise backend_error(e, self.settings.label, resource) from e

    async def aclose(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
        if self._lean is not None:
            await self._lean.aclose()

    # == buckets =========================================================================

    async def list_buckets(self) -> list[RemoteBucketInfo]:
        resp = await self.call("list_buckets")
        return [
            RemoteBucketInfo(b["Name"], _ns(b.get("CreationDate")))
            for b in resp.get("Buckets") or []
        ]

    async def head_bucket(self, bucket: str) -> None:
        try:
            await self.call("head_bucket", bucket, Bucket=bucket)
        except S3Error as e:
            if e.code == "NoSuchKey":  # a HEAD's 404 has no code
                raise S3Error(
                    "NoSuchBucket", f"The bucket does not exist in the {self.settings.label}",
                    bucket,
                ) from None
            raise

    # == objects =========================================================================

    async def head_object(
        self, bucket: str, key: str, *, if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> RemoteAttrs:
        if self._lean is not None:
            async with self.slots:
                return await self._lean.head(bucket, key, if_match=if_match,
                                             if_none_match=if_none_match)
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if if_match:
            params["IfMatch"] = if_match
        if if_none_match:
            params["IfNoneMatch"] = if_none_match
        return attrs_from_response(await self.call("head_object", key, **params))

    async def open_object(
        self, bucket: str, key: str, *, range_header: str | None = None,
        if_match: str | None = None, if_none_match: str | None = None,
    ) -> RemoteStream:
        """Start a GET: the response's headers are in; the body is read by the caller
        (``RemoteStream.pieces``) who must ``aclose`` it."""
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if range_header:
            params["Range"] = range_header
        if if_match:
            params["IfMatch"] = if_match
        if if_none_match:
            params["IfNoneMatch"] = if_none_match
        token = object()
        await self.slots.acquire_on_behalf_of(token)
        try:
            if self._lean is not None:
                try:
                    got = await self._lean.open(bucket, key, range_header=range_header,
                                                if_match=if_match, if_none_match=if_none_match)
                except Fallback:
                    pass  # an error status, a chunked body: botocore's answer
                else:
                    return RemoteStream(self, got.attrs, got.length, got.content_range,
                                        got.body, token, key)
            resp = await with_retries(
                lambda: self._thread(functools.partial(self._invoke, "get_object", params)),
                self.settings.retries, f"{self.settings.label} get_object",
            )
        except BaseException as e:
            self.slots.release_on_behalf_of(token)
            if isinstance(e, Exception):
                raise backend_error(e, self.settings.label, key) from e
            raise
        return RemoteStream.of_response(self, resp, token, key)

    async def delete_object(self, bucket: str, key: str) -> RemoteDeleted:
        """DeleteObject; on a versioned bucket the answer names the delete marker made."""
        resp = await self.call("delete_object", key, Bucket=bucket, Key=key)
        return RemoteDeleted(version=str(resp.get("VersionId") or ""),  # "null" as said
                             delete_marker=bool(resp.get("DeleteMarker")))

    async def copy_object(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str,
        *, content_type: str | None = None, user: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None, size: int | None = None,
        src_version: str | None = None, src_if_match: str = "",
        forwarded: Mapping[str, str] | None = None,
    ) -> RemoteAttrs:
        """Server-side copy within this backend. New ``content_type``/``user`` (and
        stored ``headers``) replace the source's metadata; ``src_version``: that version
        of the source (``CopySource``'s ``VersionId``); ``src_if_match``: only if the
        source's ETag is this one (each part's condition too; PreconditionFailed else).
        One CopyObject up to ``copy_max`` (S3 refuses one past 5 GiB); a larger source is
        copied as a multipart upload of UploadPartCopy ranges, still within the backend
        (``_copy_multipart``). ``size``: the source's, when known (else a HEAD asks).
        ``forwarded``: the client's ACL and tagging headers (backend/forwarded.py)."""
        source = {"Bucket": src_bucket, "Key": src_key}
        if src_version is not None:
            source["VersionId"] = src_version
        params: dict[str, Any] = {"Bucket": dst_bucket, "Key": dst_key, "CopySource": source}
        if src_if_match:
            params["CopySourceIfMatch"] = f'"{src_if_match}"'
        params.update(forwarded_params(forwarded))
        replace = content_type is not None or user is not None
        if replace:
            params["MetadataDirective"] = "REPLACE"
            params.update(meta_params(content_type, user, headers))
        head = None
        if size is None:
            head = await self._head_source(source)
            size = head.size
        if size > self.settings.copy_max:
            if not replace:  # the new upload carries the source's metadata itself
                head = head or await self._head_source(source)
                params.update(meta_params(head.content_type, head.user, head.headers))
            return await self._copy_multipart(params, size)
        resp = await self.call("copy_object", dst_key, **params)
        res = resp.get("CopyObjectResult") or {}
        return RemoteAttrs(
            size=size, etag=_etag(res.get("ETag")), version=_version(resp.get("VersionId")),
            last_modified_ns=_ns(res.get("LastModified")),
        )

    async def _head_source(self, source: dict[str, str]) -> RemoteAttrs:
        """A copy source's attributes (``source``: CopySource's Bucket, Key, VersionId)."""
        if "VersionId" not in source:
            return await self.head_object(source["Bucket"], source["Key"])
        params: dict[str, Any] = dict(source)
        return attrs_from_response(await self.call("head_object", source["Key"], **params))

    async def object_call(self, op: str, bucket: str, key: str, version: str | None,
                          **params: Any) -> Any:
        """One of an object's sub-resource operations (``get_object_acl``,
        ``put_object_tagging``, ...) of ``key`` - of its version ``version`` when given -
        as botocore answers it."""
        if version is not None:
            params["VersionId"] = version
        return await self.call(op, key, Bucket=bucket, Key=key, **params)

    async def _copy_multipart(self, params: dict[str, Any], size: int) -> RemoteAttrs:
        """``params``' copy as a multipart upload (``_multipart``): its parts UploadPartCopy
        ranges of ``part_size`` (more when 10,000 would not hold it), PARTS_IN_FLIGHT at
        once. A ``CopySourceIfMatch`` goes with each part."""
        source = params["CopySource"]
        condition = {k: v for k, v in params.items() if k == "CopySourceIfMatch"}
        common = {k: v for k, v in params.items()
                  if k not in ("CopySource", "MetadataDirective", "CopySourceIfMatch")}
        part = max(self.settings.part_size, -(-size // MAX_PARTS))

        async def copy_parts(ids: dict[str, Any]) -> tuple[dict[int, str], int]:
            etags: dict[int, str] = {}
            room = trio.Semaphore(PARTS_IN_FLIGHT)

            async def copy_part(number: int, start: int) -> None:
                async with room:
                    end = min(start + part, size) - 1
                    r = await self.call("upload_part_copy", ids["Key"], CopySource=source,
                                        CopySourceRange=f"bytes={start}-{end}",
                                        PartNumber=number, **condition, **ids)
                    etags[number] = str((r.get("CopyPartResult") or {}).get("ETag") or "")

            async with trio.open_nursery() as nursery:
                for number, start in enumerate(range(0, size, part), start=1):
                    nursery.start_soon(copy_part, number, start)
            return etags, size

        return await self._multipart(common, copy_parts)

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: AsyncIterable[bytes],
        *,
        content_type: str | None = None,
        user: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content_md5: bytes | None = None,
        size: int | None = None,
        forwarded: Mapping[str, str] | None = None,
    ) -> RemoteAttrs:
        """Send ``body``: one PutObject up to ``multipart_threshold`` bytes, else a
        multipart upload of ``part_size`` parts (aborted on any failure). The object's
        size, ETag and version as the backend acknowledged them. ``size``: the body's,
        when known - a single PUT of at least ``STREAM_MIN`` bytes is then streamed
        (``LeanPutClient.put_stream``) instead of gathered first. ``forwarded``: the
        client's ACL and tagging headers (backend/forwarded.py)."""
        s = self.settings
        common, lean = _put_params(bucket, key, content_type, user, headers, forwarded)
        if size is not None and STREAM_MIN <= size <= s.multipart_threshold \
                and self._lean is not None:
            with contextlib.suppress(Fallback):  # raised before any piece is taken
                return await self._put_streamed(common, lean, body, size, content_md5)
        pieces = _Pieces()
        it = aiter(body)
        async for piece in it:
            pieces.add(piece)
            if pieces.size > s.multipart_threshold:
                return await self._put_multipart(common, pieces, it, content_md5)
        return await self._put_held(common, lean, pieces.take_pieces(pieces.size),
                                    content_md5)

    async def put_small(
        self, bucket: str, key: str, data: bytes, *, content_type: str | None = None,
        user: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
        content_md5: bytes | None = None, forwarded: Mapping[str, str] | None = None,
    ) -> RemoteAttrs:
        """``put_object`` of a body already in memory (a small write-through PUT's, read
        whole first): one PutObject, no pieces gathered."""
        common, lean = _put_params(bucket, key, content_type, user, headers, forwarded)
        return await self._put_held(common, lean, [data], content_md5)

    async def _put_held(
        self, common: dict[str, Any], lean: dict[str, str], data: list[bytes | memoryview],
        content_md5: bytes | None,
    ) -> RemoteAttrs:
        """One PutObject of ``data`` (held in memory, so repeated as it was on a retry)."""
        key = common["Key"]
        size = sum(len(p) for p in data)
        if content_md5 is not None:
            # checked here too: a backend that does not (moto) would keep a body the
            # client's Content-MD5 refuses, while the store refuses to cache it
            md5 = hashlib.md5()
            if size > 64 * 1024:
                await trio.to_thread.run_sync(_update_all, md5, data)
            else:
                _update_all(md5, data)
            if md5.digest() != content_md5:
                raise _bad_digest(key)
            common["ContentMD5"] = lean["content-md5"] = base64.b64encode(content_md5).decode()
        etag, version = await self._send_body("put_object", common, data, {}, lean)
        return RemoteAttrs(size=size, etag=etag, version=version)

    async def _put_streamed(
        self, common: dict[str, Any], lean: dict[str, str], body: AsyncIterable[bytes],
        size: int, content_md5: bytes | None,
    ) -> RemoteAttrs:
        """One PutObject of ``body`` sent as it comes; its Content-MD5 (passed on, and
        checked here before the last piece goes: not every backend checks it)."""
        assert self._lean is not None
        bucket, key = common["Bucket"], common["Key"]
        headers = dict(lean)
        md5 = hashlib.md5() if content_md5 is not None else None
        if content_md5 is not None:
            headers["content-md5"] = base64.b64encode(content_md5).decode()

        async def hashed() -> AsyncGenerator[bytes, None]:
            async for piece in body:
                if md5 is not None:
                    if len(piece) > 64 * 1024:
                        await trio.to_thread.run_sync(md5.update, piece)
                    else:
                        md5.update(piece)
                yield piece

        async def at_end() -> None:
            if md5 is not None and md5.digest() != content_md5:
                raise _bad_digest(key)

        try:
            async with contextlib.aclosing(hashed()) as pieces, self.slots:
                fields = await self._lean.put_stream(bucket, key, size, pieces,
                                                     headers=headers, at_end=at_end)
        except (ClientError, OSError) as e:
            raise backend_error(e, self.settings.label, key) from e
        return RemoteAttrs(size=size, etag=_etag(fields.get("etag")),
                           version=_version(fields.get("x-amz-version-id")))

    async def _send_body(
        self, op: str, params: dict[str, Any], body: list[bytes | memoryview],
        query: dict[str, str], headers: dict[str, str],
    ) -> tuple[str, str]:
        """One PutObject or UploadPart (``op``) of ``body``, retried: on the event loop
        (lean_put.py: ``query`` and ``headers`` are its request's) where it can go, else
        through botocore (``params``). The ETag and version id answered."""
        key = params["Key"]
        if self._lean is not None:
            lean = self._lean

            async def once() -> dict[str, str]:
                try:  # a free slot taken at once: no trip through the scheduler
                    self.slots.acquire_nowait()
                except trio.WouldBlock:
                    await self.slots.acquire()
                try:
                    return await lean.put(params["Bucket"], key, body, query=query,
                                          headers=headers)
                finally:
                    self.slots.release()

            try:
                fields = await with_retries(once, self.settings.retries,
                                            f"{self.settings.label} {op}")
            except Fallback:
                pass  # a header botocore sends
            except Exception as e:
                raise backend_error(e, self.settings.label, key) from e
            else:
                return _etag(fields.get("etag")), _version(fields.get("x-amz-version-id"))
        whole = body[0] if len(body) == 1 and isinstance(body[0], bytes) else b"".join(body)
        resp = await self.call(op, key, Body=whole, **params)
        return _etag(resp.get("ETag")), _version(resp.get("VersionId"))

    async def _put_multipart(
        self, common: dict[str, Any], buf: _Pieces, rest: AsyncIterator[bytes],
        content_md5: bytes | None,
    ) -> RemoteAttrs:
        """A multipart upload (``_multipart``) of ``buf`` then ``rest``."""
        return await self._multipart(
            common, lambda ids: self._upload_parts(ids, buf, rest, content_md5))

    async def _multipart(
        self, common: dict[str, Any],
        parts: Callable[[dict[str, Any]], Awaitable[tuple[dict[int, str], int]]],
    ) -> RemoteAttrs:
        """A multipart upload of ``common`` (Bucket, Key, the object's metadata) whose
        parts ``parts(ids)`` sends (their ETags by number, and the object's size):
        created, completed - or aborted on any failure (a cancellation too)."""
        bucket, key = common["Bucket"], common["Key"]
        resp = await self.call("create_multipart_upload", key, **common)
        ids = {"Bucket": bucket, "Key": key, "UploadId": resp["UploadId"]}
        try:
            etags, size = await parts(ids)
            done = await self.call(
                "complete_multipart_upload", key, MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
                }, **ids,
            )
        except BaseException as e:
            await self._abort_upload(ids)
            if isinstance(e, BaseExceptionGroup) and not only(e, trio.Cancelled):
                raise first_error(e, ignore=trio.Cancelled) from None  # a part's error
            raise
        etag, version = _etag(done.get("ETag")), _version(done.get("VersionId"))
        if not etag:  # Ceph Pacific answers CompleteMultipartUpload with an empty ETag
            head = await self.head_object(bucket, key)
            etag, version = head.etag, version or head.version
        return RemoteAttrs(size=size, etag=etag, version=version)

    async def _upload_parts(
        self, ids: dict[str, Any], buf: _Pieces, rest: AsyncIterator[bytes],
        content_md5: bytes | None,
    ) -> tuple[dict[int, str], int]:
        """The body cut into ``part_size`` parts, up to PARTS_IN_FLIGHT sent at once: each
        part's ETag by its number, and the body's size. BadDigest when ``content_md5``
        is not the body's."""
        part_size, key = self.settings.part_size, ids["Key"]
        etags: dict[int, str] = {}
        md5 = hashlib.md5() if content_md5 is not None else None
        room = trio.Semaphore(PARTS_IN_FLIGHT)
        total = number = 0

        async def send(number: int, data: list[bytes | memoryview]) -> None:
            try:
                query = {"partNumber": str(number), "uploadId": ids["UploadId"]}
                etag, _ = await self._send_body("upload_part", dict(ids, PartNumber=number),
                                                data, query, {})
                etags[number] = f'"{etag}"'
            finally:
                room.release()

        async with trio.open_nursery() as nursery:
            ended = False
            while not ended:
                while buf.size < part_size:
                    piece = await anext(rest, None)
                    if piece is None:
                        ended = True
                        break
                    buf.add(piece)
                while buf.size >= part_size or (ended and buf.size):
                    number += 1
                    data = buf.take_pieces(part_size)
                    total += sum(len(p) for p in data)
                    if md5 is not None:
                        await trio.to_thread.run_sync(_update_all, md5, data)
                    await room.acquire()
                    nursery.start_soon(send, number, data)
        if md5 is not None and md5.digest() != content_md5:
            raise _bad_digest(key)
        return etags, total

    async def _abort_upload(self, ids: dict[str, Any]) -> None:
        """Abort a multipart upload that will not be completed (shielded, 30 s at most;
        a failure is logged)."""
        with trio.CancelScope(shield=True), trio.move_on_after(30):
            try:
                await self.call("abort_multipart_upload", ids["Key"], **ids)
            except S3Error as e:
                log.warning("%s: abort of upload %s failed: %s", self.settings.label,
                            ids["UploadId"], e)

    # == listing =========================================================================

    async def list_page(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", token: str = "",
        start_after: str = "", page_size: int = 1000,
    ) -> RemotePage:
        """One ListObjectsV2 page (whose entries name no version: ``version`` stays
        empty - only ListObjectVersions has it, aisfs_node/s3/remote_version_listing.py)."""
        params: dict[str, Any] = {"Bucket": bucket, "MaxKeys": page_size}
        if prefix:
            params["Prefix"] = prefix
        if delimiter:
            params["Delimiter"] = delimiter
        if token:
            params["ContinuationToken"] = token
        if start_after:
            params["StartAfter"] = start_after
        resp = await self.call("list_objects_v2", bucket, **params)
        entries = [
            RemoteEntry(
                key=c["Key"], size=int(c.get("Size") or 0), etag=_etag(c.get("ETag")),
                last_modified_ns=_ns(c.get("LastModified")),
            )
            for c in resp.get("Contents") or []
        ]
        prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes") or []]
        nxt = str(resp.get("NextContinuationToken") or "") if resp.get("IsTruncated") else ""
        return RemotePage(entries, prefixes, nxt)

    async def iter_pages(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", page_size: int = 1000,
        start_after: str = "",
    ) -> AsyncGenerator[RemotePage, None]:
        """Every page of a listing, one at a time (memory: one page); ``aclose`` it when
        not read to the end."""
        token = ""
        while True:
            page = await self.list_page(
                bucket, prefix=prefix, delimiter=delimiter, token=token,
                start_after="" if token else start_after, page_size=page_size,
            )
            yield page
            if not page.next_token:
                return
            token = page.next_token
