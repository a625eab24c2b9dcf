"""GET, PUT and DELETE on `FastGet`'s raw sockets, as an S3 client sees them.

Signs each request, bounds it by a deadline, and reads the answer: an error answer is
`S3Error`, a deadline passed `Unreachable`. None means "do it through `Transport`
instead": whatever the raw path does not handle, and a 500, 502 or 503, which the
transport retries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import trio

from aisfs_mount.backend import Buffer, Unreachable
from aisfs_mount.remote import s3xml
from aisfs_mount.remote.fastget import FastGet
from aisfs_mount.remote.signer import Signer
from aisfs_mount.remote.transport import Timeouts

SMALL_BODY = 1 << 20  # uploads up to this size are read whole and sent as one buffer
RETRIED = (500, 502, 503)


def read_stage(fd: int, start: int, length: int) -> bytes:
    """`length` bytes of a staged file from `start`; OSError if it shrank."""
    data = os.pread(fd, length, start)
    if len(data) != length:
        raise OSError(f"staged file shrank during upload ({len(data)} < {length})")
    return data


class FastPath:
    def __init__(self, endpoint: str, signer: Signer, timeouts: Timeouts,
                 max_connections: int) -> None:
        self.fast = FastGet(endpoint, max_connections)
        self.signer = signer
        self.timeouts = timeouts

    @property
    def enabled(self) -> bool:
        return self.fast.enabled

    def close(self) -> None:
        self.fast.close()

    async def get_range(
        self, url: str, resource: str, start: int, length: int, headers: dict[str, str],
        into: bytearray | None = None,
    ) -> Buffer | None:
        """A ranged GET; with `into`, the body may be a view of that buffer (no copy)."""
        path = urlsplit(url).path
        try:
            with trio.fail_after(self.timeouts.transfer(length)):
                ans = await self.fast.get(path, self.signer.sign("GET", url, headers), into)
        except trio.TooSlowError as e:
            raise Unreachable(f"GET {resource}: timed out") from e
        if ans is None:
            return None
        if ans.status >= 300:
            err = s3xml.error_from(ans.status, bytes(ans.body), resource)
            if err.code == "InvalidRange":
                return b""
            if ans.status in RETRIED:
                return None
            raise err
        if ans.status == 200:  # the server ignored Range
            return bytes(ans.body[start:start + length])
        return ans.body

    async def request(
        self, method: str, url: str, resource: str, headers: dict[str, str],
        deadline: float | None = None, *, body: bytes = b"",
        fd: int = -1, offset: int = 0, length: int = 0,
    ) -> Mapping[str, str] | None:
        """A PUT or DELETE: the answer's headers. Error answers raise S3Error."""
        if not self.fast.enabled:
            return None
        u = urlsplit(url)
        path = u.path + ("?" + u.query if u.query else "")
        try:
            with trio.fail_after(deadline or self.timeouts.request):
                ans = await self.fast.request(
                    method, path, self.signer.sign(method, url, headers),
                    body=body, fd=fd, offset=offset, length=length)
        except trio.TooSlowError as e:
            raise Unreachable(f"{method} {resource}: timed out") from e
        if ans is None or ans.status in RETRIED:
            return None
        if ans.status >= 300:
            raise s3xml.error_from(ans.status, bytes(ans.body), resource)
        return ans.headers

    async def put_fd(
        self, url: str, resource: str, headers: dict[str, str], fd: int, start: int,
        length: int, deadline: float,
    ) -> Mapping[str, str] | None:
        """PUT `length` bytes of `fd` from `start`: a small body in the same send as the
        head, a big one with sendfile."""
        if length <= SMALL_BODY:
            data = read_stage(fd, start, length)
            return await self.request("PUT", url, resource, headers, deadline, body=data)
        return await self.request("PUT", url, resource, headers, deadline, fd=fd,
                                  offset=start, length=length)
