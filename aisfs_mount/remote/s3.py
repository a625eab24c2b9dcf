"""`aisfs_mount.backend.Backend` over plain S3, path-style, against any endpoint.

Metadata requests and anything the raw path does not take go through `Transport` (httpx,
retries); ranged GETs, PUTs and DELETEs over plain HTTP take `FastPath` first. A file of
`MULTIPART_THRESHOLD` or more goes up as a multipart upload, 4 parts at a time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from urllib.parse import quote
from xml.etree.ElementTree import Element

import httpx
import trio

from aisfs.errors import S3Error
from aisfs_mount.backend import (
    Buffer,
    Capacity,
    DirPage,
    ObjectInfo,
    Unreachable,
    copy_then_delete_prefix,
)
from aisfs_mount.remote import s3xml
from aisfs_mount.remote.fastpath import SMALL_BODY, FastPath, read_stage
from aisfs_mount.remote.headers import etag_of, info_from, meta_headers
from aisfs_mount.remote.signer import Signer
from aisfs_mount.remote.transport import Timeouts, Transport

MULTIPART_THRESHOLD = 128 << 20
PART_SIZE = 16 << 20
IO_CHUNK = 1 << 20


def _doc(root: Element | None, resource: str) -> Element:
    if root is None:
        raise S3Error("InternalError", "an empty answer where XML was expected", resource)
    return root


def _fd_body(fd: int, start: int, length: int) -> Callable[[], AsyncIterator[bytes]]:
    """A body streamed from a staged file, read in worker threads; fresh per attempt."""
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


class S3Backend:
    rich_listing = False
    # aisfs_mount/writebehind.py: parts sent while a file is written, its final metadata set by
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
        self.signer = Signer(region or "us-east-1")
        self.http = Transport(self.endpoint, self.signer, self.timeouts, max_connections)
        self.fast = FastPath(self.endpoint, self.signer, self.timeouts, max_connections)
        self.url = self.http.url

    async def aclose(self) -> None:
        self.fast.close()
        await self.http.aclose()

    # -- buckets ---------------------------------------------------------------------

    async def list_buckets(self) -> list[tuple[str, int]]:
        return s3xml.buckets_of(_doc(await self.http.xml("GET", self.url(), "/"), "/"))

    async def create_bucket(self, bucket: str) -> None:
        await self.http.send("PUT", self.url(bucket), resource=bucket)

    async def delete_bucket(self, bucket: str) -> None:
        await self.http.send("DELETE", self.url(bucket), resource=bucket)

    async def check_bucket(self, bucket: str) -> None:
        try:
            await self.http.send("HEAD", self.url(bucket), resource=bucket)
        except S3Error as e:
            if e.status == 404:
                raise S3Error("NoSuchBucket", f"no bucket {bucket!r}", bucket) from None
            raise

    # -- listing ---------------------------------------------------------------------

    async def _list_pages(
        self, bucket: str, prefix: str, delimiter: str, max_keys: int, start_after: str = ""
    ) -> AsyncIterator[DirPage]:
        token = ""
        res = f"{bucket}/{prefix}"
        while True:
            q = f"list-type=2&max-keys={max_keys}&prefix={quote(prefix, safe='')}"
            if delimiter:
                q += f"&delimiter={quote(delimiter, safe='')}"
            if token:
                q += f"&continuation-token={quote(token, safe='')}"
            elif start_after:
                q += f"&start-after={quote(start_after, safe='')}"
            root = _doc(await self.http.xml("GET", self.url(bucket, query=q), res), res)
            page, token = s3xml.list_page_of(root)
            yield page
            if not token:
                return

    async def list_dir(
        self, bucket: str, prefix: str, max_keys: int = 1000
    ) -> AsyncGenerator[DirPage, None]:
        async for page in self._list_pages(bucket, prefix, "/", max_keys):
            yield page

    async def list_all(
        self, bucket: str, prefix: str, max_keys: int = 1000, start_after: str = ""
    ) -> AsyncIterator[list[ObjectInfo]]:
        async for page in self._list_pages(bucket, prefix, "", max_keys, start_after):
            yield page.objects

    async def first_key(self, bucket: str, prefix: str, max_keys: int = 2) -> list[str]:
        q = f"list-type=2&max-keys={max_keys}&prefix={quote(prefix, safe='')}"
        res = f"{bucket}/{prefix}"
        return s3xml.keys_of(_doc(await self.http.xml("GET", self.url(bucket, query=q), res),
                                  res))

    # -- objects ---------------------------------------------------------------------

    async def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            resp = await self.http.send("HEAD", self.url(bucket, key),
                                        resource=f"{bucket}/{key}")
        except S3Error as e:
            if e.status == 404:
                if e.code == "NoSuchBucket":
                    raise
                return None
            raise
        return info_from(key, resp.headers)

    async def get_range(
        self, bucket: str, key: str, start: int, length: int, into: bytearray | None = None
    ) -> Buffer:
        """`length` bytes from `start`; with `into`, possibly as a view of that buffer."""
        if length <= 0:
            return b""
        headers = {"Range": f"bytes={start}-{start + length - 1}"}
        url, res = self.url(bucket, key), f"{bucket}/{key}"
        if self.fast.enabled:
            data = await self.fast.get_range(url, res, start, length, headers, into)
            if data is not None:
                return data
        try:
            resp = await self.http.send("GET", url, headers, resource=res,
                                        deadline=self.timeouts.transfer(length))
        except S3Error as e:
            if e.code == "InvalidRange":
                return b""
            raise
        if resp.status_code == 200:  # the server ignored Range
            return resp.content[start:start + length]
        return resp.content

    async def get_to_fd(self, bucket: str, key: str, fd: int, length: int | None) -> int:
        """Stream the object (or its first `length` bytes) into `fd` from offset 0."""
        if length == 0:
            return 0
        headers = {"Range": f"bytes=0-{length - 1}"} if length is not None else {}
        try:
            resp = await self.http.send("GET", self.url(bucket, key), headers, stream=True,
                                        resource=f"{bucket}/{key}")
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

    async def put_bytes(
        self, bucket: str, key: str, data: bytes, meta: dict[str, str], content_type: str = ""
    ) -> ObjectInfo:
        headers = meta_headers(meta, content_type or "application/octet-stream")
        url, res = self.url(bucket, key), f"{bucket}/{key}"
        got = await self.fast.request("PUT", url, res, headers, body=bytes(data))
        if got is None:
            got = (await self.http.send("PUT", url, headers, data, resource=res)).headers
        return ObjectInfo(key, len(data), 0, etag_of(got), dict(meta))

    async def put_fd(
        self, bucket: str, key: str, fd: int, size: int, meta: dict[str, str],
        content_type: str = "",
    ) -> ObjectInfo:
        ct = content_type or "application/octet-stream"
        if size >= MULTIPART_THRESHOLD:
            return await self._put_multipart(bucket, key, fd, size, meta, ct)
        headers = meta_headers(meta, ct)
        url, res = self.url(bucket, key), f"{bucket}/{key}"
        deadline = self.timeouts.transfer(size)
        got = await self.fast.put_fd(url, res, headers, fd, 0, size, deadline)
        if got is None:
            headers["Content-Length"] = str(size)
            # a small stage is read at once (it was just written: in the page cache) and
            # sent as one buffer: no thread hop, no streamed body
            body = read_stage(fd, 0, size) if size <= SMALL_BODY else _fd_body(fd, 0, size)
            got = (await self.http.send("PUT", url, headers, body, resource=res,
                                        deadline=deadline)).headers
        return ObjectInfo(key, size, 0, etag_of(got), dict(meta))

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
        res = f"{bucket}/{key}"
        root = await self.http.xml("POST", self.url(bucket, key, "uploads"), res,
                                   headers=meta_headers(meta, ct))
        return s3xml.child_text(_doc(root, res), "UploadId")

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, n: int, fd: int, start: int, length: int
    ) -> str:
        """Part `n` = `length` bytes of `fd` from `start`; its ETag."""
        res = f"{bucket}/{key}"
        url = self.url(bucket, key, f"partNumber={n}&uploadId={quote(upload_id, safe='')}")
        deadline = self.timeouts.transfer(length)
        got: Mapping[str, str] | None = await self.fast.put_fd(url, res, {}, fd, start,
                                                               length, deadline)
        if got is None:
            got = (await self.http.send(
                "PUT", url, {"Content-Length": str(length)},
                _fd_body(fd, start, length), resource=res, deadline=deadline,
            )).headers
        return str(got.get("etag", ""))

    async def complete_upload(
        self, bucket: str, key: str, upload_id: str, etags: dict[int, str]
    ) -> str:
        """Complete with parts 1..len(etags); the object's ETag."""
        res = f"{bucket}/{key}"
        url = self.url(bucket, key, f"uploadId={quote(upload_id, safe='')}")
        root = await self.http.xml("POST", url, res, body=s3xml.complete_body(etags))
        return s3xml.child_text(_doc(root, res), "ETag").strip('"')

    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Best effort, shielded, bounded: the node reclaims what is left by age anyway."""
        url = self.url(bucket, key, f"uploadId={quote(upload_id, safe='')}")
        with trio.move_on_after(5) as scope:
            scope.shield = True
            with contextlib.suppress(Exception):
                await self.http.send("DELETE", url, resource=f"{bucket}/{key}")

    async def copy(
        self, bucket: str, src: str, dst: str, meta: dict[str, str] | None = None,
        content_type: str = "",
    ) -> None:
        headers = {"x-amz-copy-source": "/" + quote(bucket, safe="") + "/" + quote(src, safe="/~")}
        if meta is not None:
            headers["x-amz-metadata-directive"] = "REPLACE"
            headers.update(meta_headers(meta, content_type or "application/octet-stream"))
        await self.http.xml("PUT", self.url(bucket, dst), f"{bucket}/{dst}", headers=headers,
                            deadline=self.timeouts.request * 3)

    async def delete(self, bucket: str, key: str) -> None:
        url, res = self.url(bucket, key), f"{bucket}/{key}"
        try:
            if await self.fast.request("DELETE", url, res, {}) is None:
                await self.http.send("DELETE", url, resource=res)
        except S3Error as e:
            if e.code != "NoSuchKey":
                raise

    async def delete_many(self, bucket: str, keys: list[str]) -> dict[str, str]:
        """One DeleteObjects (Quiet) of up to 1,000 `keys`: those not deleted, with why."""
        body = s3xml.delete_body(keys)
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        root = await self.http.xml("POST", self.url(bucket, "", "delete"), bucket,
                                   headers={"Content-MD5": md5,
                                            "Content-Type": "application/xml"}, body=body)
        return {} if root is None else s3xml.delete_errors(root)

    async def rename_object(self, bucket: str, src: str, dst: str) -> None:
        await self.copy(bucket, src, dst)
        await self.delete(bucket, src)

    async def rename_prefix(self, bucket: str, src: str, dst: str) -> int:
        return await copy_then_delete_prefix(self, bucket, src, dst)

    async def capacity(self) -> Capacity | None:
        return None
