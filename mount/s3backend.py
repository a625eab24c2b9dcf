"""The plain-S3 backend: path-style requests over one pooled keep-alive httpx client on trio.

Requests are SigV4-signed with botocore's signer when botocore is installed and AWS
credentials are found (environment, ~/.aws); otherwise they go unsigned, which a node with
open auth accepts. Every request runs under a deadline: connection failures are retried
with backoff inside a short window (a node restarting), and whatever is still failing at
the deadline becomes `Unreachable` - never a hang.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import defusedxml.ElementTree as ET
import httpx
import trio

from aisfs.errors import S3Error
from mount.backend import Capacity, DirPage, ObjectInfo, Unreachable, copy_then_delete_prefix
from mount.fastget import FastGet

log = logging.getLogger(__name__)

META = "x-amz-meta-"
MULTIPART_THRESHOLD = 64 << 20
PART_SIZE = 16 << 20
IO_CHUNK = 1 << 20
SMALL_BODY = 1 << 20  # uploads up to this size are read whole and sent as one buffer
TRANSIENT = (httpx.TransportError,)


@dataclass(slots=True)
class Timeouts:
    connect: float = 3.0
    # a metadata request as a whole; a transfer gets this per socket read/write (a stall
    # fails at once) and as a whole this plus its size at 256 KiB/s
    request: float = 20.0
    retry_window: float = 4.0  # how long connection failures are retried


def _strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(el: Any, name: str, default: str = "") -> str:
    for c in el:
        if _strip_ns(c.tag) == name:
            return c.text or ""
    return default


def _iso_to_ns(text: str) -> int:
    text = text.strip()
    if not text:
        return 0
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def _http_date_to_ns(text: str | None) -> int:
    if not text:
        return 0
    try:
        dt = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return 0
    return int(dt.timestamp() * 1e9)


def _error_from(resp: httpx.Response | _Status, body: bytes, resource: str) -> S3Error:
    code, message = "", ""
    if body:
        try:
            root = ET.fromstring(body)
            code = _child_text(root, "Code")
            message = _child_text(root, "Message")
        except Exception:  # a non-XML error body (proxy, HTML)
            pass
    if not code:
        code = {
            404: "NoSuchKey", 403: "AccessDenied", 409: "OperationAborted",
            416: "InvalidRange", 501: "NotImplemented", 503: "ServiceUnavailable",
            507: "InsufficientStorage",
        }.get(resp.status_code, "InternalError" if resp.status_code >= 500 else "InvalidRequest")
    return S3Error(code, message or f"HTTP {resp.status_code}", resource, status=resp.status_code)


@dataclass(slots=True)
class _Status:
    status_code: int


class _Signer:
    """SigV4 through botocore when it and credentials are available; else a no-op."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._creds: Any = None
        self._auth_cls: Any = None
        self._request_cls: Any = None
        self._config: Any = None
        try:
            import botocore.session
            from botocore.auth import S3SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.config import Config
        except ImportError:
            return
        try:
            creds = botocore.session.get_session().get_credentials()
        except Exception as e:  # a broken ~/.aws file: say so, go unsigned
            log.warning("AWS credentials unreadable (%s); sending unsigned requests", e)
            return
        if creds is None:
            return
        self._creds = creds
        self._auth_cls = S3SigV4Auth
        self._request_cls = AWSRequest
        self._config = Config(s3={"payload_signing_enabled": False})

    @property
    def enabled(self) -> bool:
        return self._creds is not None

    def sign(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        if self._creds is None:
            return headers
        req = self._request_cls(method=method, url=url, headers=headers, data=b"")
        req.context["client_config"] = self._config
        self._auth_cls(self._creds.get_frozen_credentials(), "s3", self.region).add_auth(req)
        return dict(req.headers.items())


class S3Backend:
    """`mount.backend.Backend` over plain S3 (path-style addressing)."""

    rich_listing = False
    # mount/writebehind.py: parts sent while a file is written, its final metadata set by
    # a CopyObject onto itself at close - metadata only on aisfs, a full copy elsewhere
    write_behind = False

    def __init__(
        self,
        endpoint: str,
        *,
        region: str | None = None,
        timeouts: Timeouts | None = None,
        max_connections: int = 32,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.signer = _Signer(region or "us-east-1")
        t = self.timeouts
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(t.request, connect=t.connect, pool=t.request),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
        )
        self.fast = FastGet(self.endpoint, max_connections)

    async def aclose(self) -> None:
        self.fast.close()
        await self.client.aclose()

    # -- the request edge ------------------------------------------------------------

    def url(self, bucket: str = "", key: str = "", query: str = "") -> str:
        path = self.endpoint + "/"
        if bucket:
            path += quote(bucket, safe="")
            if key:
                path += "/" + quote(key, safe="/~")
        return path + ("?" + query if query else "")

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: Any = None,
        *,
        stream: bool = False,
        resource: str = "",
        deadline: float | None = None,
    ) -> httpx.Response:
        """Send with retries on transport failures; S3 error answers raise S3Error."""
        hdrs = dict(headers or {})
        deadline_at = trio.current_time() + (deadline or self.timeouts.request)
        retry_until = trio.current_time() + self.timeouts.retry_window
        attempt = 0
        while True:
            attempt += 1
            content = body() if callable(body) else body
            signed = self.signer.sign(method, url, hdrs)
            try:
                with trio.fail_after(max(0.1, deadline_at - trio.current_time())):
                    req = self.client.build_request(method, url, headers=signed, content=content)
                    resp = await self.client.send(req, stream=stream)
            except (httpx.TransportError, trio.TooSlowError) as e:
                now = trio.current_time()
                retryable = isinstance(e, httpx.TransportError) and not isinstance(
                    e, httpx.TimeoutException
                )
                # a pooled connection the server closed fails once at once: always retry that
                stale = isinstance(e, httpx.RemoteProtocolError | httpx.ReadError) and attempt == 1
                if (retryable and now < min(retry_until, deadline_at)) or stale:
                    await trio.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
                    continue
                raise Unreachable(f"{method} {resource or url}: {type(e).__name__}: {e}") from e
            if resp.status_code >= 300 and resp.status_code != 304:
                data = await resp.aread() if stream else resp.content
                if stream:
                    await resp.aclose()
                err = _error_from(resp, data, resource)
                if resp.status_code in (500, 502, 503) and trio.current_time() < retry_until:
                    await trio.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
                    continue
                raise err
            return resp

    async def _xml(self, method: str, url: str, resource: str, **kw: Any) -> Any:
        resp = await self._send(method, url, resource=resource, **kw)
        if not resp.content:
            return None
        root = ET.fromstring(resp.content)
        if _strip_ns(root.tag) == "Error":  # CopyObject/Complete can fail inside a 200
            raise S3Error(_child_text(root, "Code") or "InternalError",
                          _child_text(root, "Message"), resource, status=500)
        return root

    # -- buckets ---------------------------------------------------------------------

    async def list_buckets(self) -> list[tuple[str, int]]:
        root = await self._xml("GET", self.url(), "/")
        out: list[tuple[str, int]] = []
        for el in root.iter():
            if _strip_ns(el.tag) == "Bucket":
                out.append((_child_text(el, "Name"), _iso_to_ns(_child_text(el, "CreationDate"))))
        return out

    async def create_bucket(self, bucket: str) -> None:
        await self._send("PUT", self.url(bucket), resource=bucket)

    async def delete_bucket(self, bucket: str) -> None:
        await self._send("DELETE", self.url(bucket), resource=bucket)

    async def check_bucket(self, bucket: str) -> None:
        try:
            await self._send("HEAD", self.url(bucket), resource=bucket)
        except S3Error as e:
            if e.status == 404:
                raise S3Error("NoSuchBucket", f"no bucket {bucket!r}", bucket) from None
            raise

    # -- listing ---------------------------------------------------------------------

    async def _list_pages(
        self, bucket: str, prefix: str, delimiter: str, max_keys: int
    ) -> AsyncIterator[DirPage]:
        token = ""
        while True:
            q = f"list-type=2&max-keys={max_keys}&prefix={quote(prefix, safe='')}"
            if delimiter:
                q += f"&delimiter={quote(delimiter, safe='')}"
            if token:
                q += f"&continuation-token={quote(token, safe='')}"
            root = await self._xml("GET", self.url(bucket, query=q), f"{bucket}/{prefix}")
            page = DirPage()
            truncated = False
            token = ""
            for el in root:
                tag = _strip_ns(el.tag)
                if tag == "Contents":
                    page.objects.append(
                        ObjectInfo(
                            key=_child_text(el, "Key"),
                            size=int(_child_text(el, "Size", "0")),
                            mtime_ns=_iso_to_ns(_child_text(el, "LastModified")),
                            etag=_child_text(el, "ETag").strip('"'),
                        )
                    )
                elif tag == "CommonPrefixes":
                    page.prefixes.append(_child_text(el, "Prefix"))
                elif tag == "IsTruncated":
                    truncated = (el.text or "").strip().lower() == "true"
                elif tag == "NextContinuationToken":
                    token = el.text or ""
            yield page
            if not truncated or not token:
                return

    async def list_dir(
        self, bucket: str, prefix: str, max_keys: int = 1000
    ) -> AsyncIterator[DirPage]:
        async for page in self._list_pages(bucket, prefix, "/", max_keys):
            yield page

    async def list_all(self, bucket: str, prefix: str) -> AsyncIterator[list[ObjectInfo]]:
        async for page in self._list_pages(bucket, prefix, "", 1000):
            yield page.objects

    async def first_key(self, bucket: str, prefix: str, max_keys: int = 2) -> list[str]:
        q = f"list-type=2&max-keys={max_keys}&prefix={quote(prefix, safe='')}"
        root = await self._xml("GET", self.url(bucket, query=q), f"{bucket}/{prefix}")
        return [_child_text(el, "Key") for el in root if _strip_ns(el.tag) == "Contents"]

    # -- objects ---------------------------------------------------------------------

    @staticmethod
    def _info(key: str, resp: httpx.Response) -> ObjectInfo:
        meta = {
            k[len(META):].lower(): v for k, v in resp.headers.items() if k.lower().startswith(META)
        }
        return ObjectInfo(
            key=key,
            size=int(resp.headers.get("content-length", "0")),
            mtime_ns=_http_date_to_ns(resp.headers.get("last-modified")),
            etag=resp.headers.get("etag", "").strip('"'),
            meta=meta,
            content_type=resp.headers.get("content-type", ""),
        )

    async def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            resp = await self._send("HEAD", self.url(bucket, key), resource=f"{bucket}/{key}")
        except S3Error as e:
            if e.status == 404:
                if e.code == "NoSuchBucket":
                    raise
                return None
            raise
        return self._info(key, resp)

    async def get_range(
        self, bucket: str, key: str, start: int, length: int, into: bytearray | None = None
    ) -> bytes:
        """`length` bytes from `start`; with `into`, possibly as a view of that buffer."""
        if length <= 0:
            return b""
        headers = {"Range": f"bytes={start}-{start + length - 1}"}
        if self.fast.enabled:
            data = await self._fast_range(bucket, key, start, length, headers, into)
            if data is not None:
                return data
        try:
            resp = await self._send(
                "GET", self.url(bucket, key), headers, resource=f"{bucket}/{key}",
                deadline=self.timeouts.request + length / (256 << 10),
            )
        except S3Error as e:
            if e.code == "InvalidRange":
                return b""
            raise
        if resp.status_code == 200:  # the server ignored Range
            return resp.content[start:start + length]
        return resp.content

    async def _fast_range(
        self, bucket: str, key: str, start: int, length: int, headers: dict[str, str],
        into: bytearray | None = None,
    ) -> bytes | None:
        """A ranged GET through `FastGet`; None to do it through httpx instead."""
        url = self.url(bucket, key)
        resource = f"{bucket}/{key}"
        u = urlsplit(url)
        try:
            with trio.fail_after(self.timeouts.request + length / (256 << 10)):
                ans = await self.fast.get(u.path, self.signer.sign("GET", url, headers), into)
        except trio.TooSlowError as e:
            raise Unreachable(f"GET {resource}: timed out") from e
        if ans is None:
            return None
        if ans.status >= 300:
            err = _error_from(_Status(ans.status), bytes(ans.body), resource)
            if err.code == "InvalidRange":
                return b""
            if ans.status in (500, 502, 503):
                return None  # httpx's path retries those
            raise err
        if ans.status == 200:  # the server ignored Range
            return bytes(ans.body[start:start + length])
        return ans.body  # type: ignore[return-value]  # a bytearray or a view: no copy

    async def _fast(
        self, method: str, url: str, resource: str, headers: dict[str, str],
        deadline: float | None = None, **kw: Any,
    ) -> Any:
        """A PUT/DELETE through `FastGet`'s raw sockets: the answer's headers, or None to
        do it through httpx instead (which retries). Error answers raise S3Error."""
        if not self.fast.enabled:
            return None
        u = urlsplit(url)
        path = u.path + ("?" + u.query if u.query else "")
        try:
            with trio.fail_after(deadline or self.timeouts.request):
                ans = await self.fast.request(method, path, self.signer.sign(method, url, headers),
                                              **kw)
        except trio.TooSlowError as e:
            raise Unreachable(f"{method} {resource}: timed out") from e
        if ans is None or ans.status in (500, 502, 503):
            return None
        if ans.status >= 300:
            raise _error_from(_Status(ans.status), bytes(ans.body), resource)
        return ans.headers

    async def get_to_fd(self, bucket: str, key: str, fd: int, length: int | None) -> int:
        """Stream the object (or its first `length` bytes) into `fd` from offset 0."""
        if length == 0:
            return 0
        headers = {"Range": f"bytes=0-{length - 1}"} if length is not None else {}
        try:
            resp = await self._send(
                "GET", self.url(bucket, key), headers, stream=True, resource=f"{bucket}/{key}"
            )
        except S3Error as e:
            if e.code == "InvalidRange":
                return 0
            raise
        written = 0
        try:
            it = resp.aiter_bytes(IO_CHUNK).__aiter__()
            while True:
                try:
                    with trio.fail_after(self.timeouts.request):
                        chunk = await it.__anext__()
                except StopAsyncIteration:
                    break
                if length is not None and written + len(chunk) > length:
                    chunk = chunk[: length - written]
                await trio.to_thread.run_sync(os.pwrite, fd, chunk, written)
                written += len(chunk)
                if length is not None and written >= length:
                    break
        except (httpx.TransportError, trio.TooSlowError) as e:
            raise Unreachable(f"GET {bucket}/{key}: {type(e).__name__}: {e}") from e
        finally:
            await resp.aclose()
        return written

    @staticmethod
    def _meta_headers(meta: dict[str, str], content_type: str) -> dict[str, str]:
        h = {META + k: v for k, v in meta.items()}
        if content_type:
            h["Content-Type"] = content_type
        return h

    async def put_bytes(
        self, bucket: str, key: str, data: bytes, meta: dict[str, str], content_type: str = ""
    ) -> ObjectInfo:
        headers = self._meta_headers(meta, content_type or "application/octet-stream")
        url, res = self.url(bucket, key), f"{bucket}/{key}"
        got = await self._fast("PUT", url, res, headers, body=bytes(data))
        if got is None:
            got = (await self._send("PUT", url, headers, data, resource=res)).headers
        return ObjectInfo(key, len(data), 0, got.get("etag", "").strip('"'), dict(meta))

    def _fd_body(self, fd: int, start: int, length: int) -> Any:
        async def gen() -> AsyncIterator[bytes]:
            pos, end = start, start + length
            while pos < end:
                n = min(IO_CHUNK, end - pos)
                chunk = await trio.to_thread.run_sync(os.pread, fd, n, pos)
                if not chunk:
                    raise OSError(f"staged file shrank during upload at {pos}")
                pos += len(chunk)
                yield chunk
        return gen

    async def put_fd(
        self, bucket: str, key: str, fd: int, size: int, meta: dict[str, str],
        content_type: str = "",
    ) -> ObjectInfo:
        ct = content_type or "application/octet-stream"
        if size >= MULTIPART_THRESHOLD:
            return await self._put_multipart(bucket, key, fd, size, meta, ct)
        headers = self._meta_headers(meta, ct)
        url, res = self.url(bucket, key), f"{bucket}/{key}"
        deadline = self.timeouts.request + size / (256 << 10)
        got = await self._fast_put_fd(url, res, headers, fd, 0, size, deadline)
        if got is not None:
            return ObjectInfo(key, size, 0, got.get("etag", "").strip('"'), dict(meta))
        headers["Content-Length"] = str(size)
        body: Any
        if size <= SMALL_BODY:
            # a small stage is read at once (it was just written: in the page cache) and
            # sent as one buffer: no thread hop, no streamed body
            data = os.pread(fd, size, 0)
            if len(data) != size:
                raise OSError(f"staged file shrank during upload ({len(data)} < {size})")
            body = data
        else:
            body = self._fd_body(fd, 0, size)
        resp = await self._send(
            "PUT", self.url(bucket, key), headers, body, resource=f"{bucket}/{key}",
            deadline=self.timeouts.request + size / (256 << 10),
        )
        return ObjectInfo(key, size, 0, resp.headers.get("etag", "").strip('"'), dict(meta))

    async def _fast_put_fd(
        self, url: str, res: str, headers: dict[str, str], fd: int, start: int, length: int,
        deadline: float,
    ) -> Any:
        """PUT `length` bytes of `fd` from `start` on a raw socket: a small body in the same
        send as the head, a big one with sendfile. None: do it through httpx."""
        if length <= SMALL_BODY:
            data = os.pread(fd, length, start)
            if len(data) != length:
                raise OSError(f"staged file shrank during upload ({len(data)} < {length})")
            return await self._fast("PUT", url, res, headers, deadline, body=data)
        return await self._fast("PUT", url, res, headers, deadline, fd=fd, offset=start,
                                length=length)

    async def _put_multipart(
        self, bucket: str, key: str, fd: int, size: int, meta: dict[str, str], ct: str
    ) -> ObjectInfo:
        upload_id = await self.initiate_upload(bucket, key, meta, ct)
        part_size = max(PART_SIZE, -(-size // 10000))
        nparts = -(-size // part_size)
        etags: dict[int, str] = {}
        limiter = trio.Semaphore(4)

        async def part(n: int) -> None:
            start = (n - 1) * part_size
            async with limiter:
                etags[n] = await self.upload_part(
                    bucket, key, upload_id, n, fd, start, min(part_size, size - start))

        try:
            async with trio.open_nursery() as nursery:
                for n in range(1, nparts + 1):
                    nursery.start_soon(part, n)
            etag = await self.complete_upload(bucket, key, upload_id, etags)
        except BaseException:
            await self.abort_upload(bucket, key, upload_id)
            raise
        return ObjectInfo(key, size, 0, etag, dict(meta))

    # -- multipart steps (also used by mount.writebehind) ------------------------------

    async def initiate_upload(
        self, bucket: str, key: str, meta: dict[str, str], ct: str
    ) -> str:
        root = await self._xml("POST", self.url(bucket, key, "uploads"), f"{bucket}/{key}",
                               headers=self._meta_headers(meta, ct))
        return _child_text(root, "UploadId")

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, n: int, fd: int, start: int, length: int
    ) -> str:
        """Part `n` = `length` bytes of `fd` from `start`; its ETag."""
        res = f"{bucket}/{key}"
        url = self.url(bucket, key, f"partNumber={n}&uploadId={quote(upload_id, safe='')}")
        deadline = self.timeouts.request + length / (256 << 10)
        got = await self._fast_put_fd(url, res, {}, fd, start, length, deadline)
        if got is None:
            got = (await self._send(
                "PUT", url, {"Content-Length": str(length)},
                self._fd_body(fd, start, length), resource=res, deadline=deadline,
            )).headers
        return str(got.get("etag", ""))

    async def complete_upload(
        self, bucket: str, key: str, upload_id: str, etags: dict[int, str]
    ) -> str:
        """Complete with parts 1..len(etags); the object's ETag."""
        body = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{etags[n]}</ETag></Part>"
            for n in range(1, len(etags) + 1)
        ) + "</CompleteMultipartUpload>"
        url = self.url(bucket, key, f"uploadId={quote(upload_id, safe='')}")
        root = await self._xml("POST", url, f"{bucket}/{key}", body=body.encode())
        return _child_text(root, "ETag").strip('"')

    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Best effort, shielded, bounded: the node reclaims what is left by age anyway."""
        url = self.url(bucket, key, f"uploadId={quote(upload_id, safe='')}")
        with trio.move_on_after(5) as scope:
            scope.shield = True
            with contextlib.suppress(Exception):
                await self._send("DELETE", url, resource=f"{bucket}/{key}")

    async def copy(
        self, bucket: str, src: str, dst: str, meta: dict[str, str] | None = None,
        content_type: str = "",
    ) -> None:
        headers = {"x-amz-copy-source": "/" + quote(bucket, safe="") + "/" + quote(src, safe="/~")}
        if meta is not None:
            headers["x-amz-metadata-directive"] = "REPLACE"
            headers.update(self._meta_headers(meta, content_type or "application/octet-stream"))
        await self._xml("PUT", self.url(bucket, dst), f"{bucket}/{dst}", headers=headers,
                        deadline=self.timeouts.request * 3)

    async def delete(self, bucket: str, key: str) -> None:
        url, res = self.url(bucket, key), f"{bucket}/{key}"
        try:
            if await self._fast("DELETE", url, res, {}) is None:
                await self._send("DELETE", url, resource=res)
        except S3Error as e:
            if e.code != "NoSuchKey":
                raise

    async def rename_object(self, bucket: str, src: str, dst: str) -> None:
        await self.copy(bucket, src, dst)
        await self.delete(bucket, src)

    async def rename_prefix(self, bucket: str, src: str, dst: str) -> int:
        return await copy_then_delete_prefix(self, bucket, src, dst)

    async def capacity(self) -> Capacity | None:
        return None
