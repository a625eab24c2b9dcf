"""Ranged GETs, PUTs and DELETEs over plain keep-alive sockets.

GET bodies are received straight into one buffer; PUT bodies go from the staged file with
sendfile (no copy through Python), a small one in the same send as the request head.

httpx receives a body 64 KiB at a time through h11 events and joins the pieces at the
end: for the read-ahead's 4 MiB blocks that is most of the mount's CPU on a sequential
read. A ranged GET needs little of HTTP: this sends the (signed) request on a pooled
socket and `recv_into`s the body - whose length the answer states - into a bytearray
allocated once.

It is only a fast path. Anything it does not handle (https, an answer without
Content-Length or chunked, a connection that fails) makes `get` return None and the
caller does the request through httpx, with its retries and error mapping. An error
answer (status >= 300) is returned as such for the caller to turn into S3Error.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import trio

MAX_HEADER = 64 << 10


@dataclass(slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytearray | memoryview


class FastGet:
    def __init__(self, endpoint: str, max_idle: int = 16) -> None:
        u = urlsplit(endpoint)
        self.enabled = u.scheme == "http" and bool(u.hostname)
        self.host = u.hostname or ""
        self.port = u.port or 80
        self.netloc = u.netloc
        # plain non-blocking sockets, waited on with trio.lowlevel: trio's SocketStream
        # costs ~10-20 us per send or receive in checks and checkpoints (a small file's
        # PUT and DELETE are 4 of them)
        self.idle: list[socket.socket] = []
        self.max_idle = max_idle

    def close(self) -> None:
        for s in self.idle:
            _close(s)
        self.idle.clear()

    async def _connect(self) -> socket.socket:
        stream = await trio.open_tcp_stream(self.host, self.port)  # TCP_NODELAY set
        sock = socket.socket(fileno=stream.socket.detach())
        sock.setblocking(False)
        return sock

    async def get(
        self, path: str, headers: dict[str, str], into: bytearray | None = None
    ) -> Answer | None:
        """GET `path` (already quoted, with its query) on a pooled connection; None when
        this path can't serve it (the caller falls back to httpx). With `into`, a body that
        fits is received into that buffer (the answer's body is a view of it)."""
        return await self.request("GET", path, headers, into=into)

    async def request(
        self, method: str, path: str, headers: dict[str, str], *,
        into: bytearray | None = None, body: bytes = b"",
        fd: int = -1, offset: int = 0, length: int = 0,
    ) -> Answer | None:
        """One request; its body is `body`, or `length` bytes of `fd` from `offset` (sent
        with sendfile). Only for idempotent requests: a failed one is retried once."""
        if not self.enabled:
            return None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.netloc}"]
        lines += [f"{k}: {v}" for k, v in headers.items()
                  if k.lower() not in ("host", "content-length")]
        if method != "GET" or body or fd >= 0:
            lines.append(f"Content-Length: {len(body) + (length if fd >= 0 else 0)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for _attempt in range(2):
            reused = bool(self.idle)
            sock = self.idle.pop() if reused else None
            try:
                if sock is None:
                    sock = await self._connect()
                if fd >= 0 and length:
                    await _send_all(sock, request)
                    await _sendfile(sock, fd, offset, length)
                    request_sent = b""
                else:
                    request_sent = request
                answer, keep = await self._exchange(sock, request_sent, into,
                                                    head_only=method == "HEAD")
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, _Unhandled):
                if sock is not None:
                    _close(sock)
                if reused:
                    continue  # the server closed an idle connection: once more, fresh
                return None
            except BaseException:  # cancelled or timed out midway: the socket is unusable
                if sock is not None:
                    _close(sock)
                raise
            if keep and len(self.idle) < self.max_idle:
                self.idle.append(sock)
            else:
                _close(sock)
            return answer
        return None

    async def _exchange(
        self, sock: socket.socket, request: bytes, into: bytearray | None,
        head_only: bool = False,
    ) -> tuple[Answer, bool]:
        if request:
            await _send_all(sock, request)
        head = bytearray()
        while True:
            end = head.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(head) > MAX_HEADER:
                raise _Unhandled("header too long")
            chunk = await _recv(sock, 65536)
            if not chunk:
                raise _Unhandled("connection closed")
            head += chunk
        status_line, *hlines = head[:end].decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise _Unhandled("not HTTP/1.x")
        status = int(parts[1])
        hdrs: dict[str, str] = {}
        for line in hlines:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        length = hdrs.get("content-length", "")
        if status in (204, 304) or head_only:
            n = 0
        elif (
            not (length.isascii() and length.isdigit()) or len(length) > 19
            or "chunked" in hdrs.get("transfer-encoding", "").lower()
        ):
            raise _Unhandled("no content-length")
        else:
            n = int(length)
        # a reused buffer: no 4 MiB allocation (and its page faults) per block
        body: bytearray | memoryview
        body = memoryview(into)[:n] if into is not None and len(into) >= n else bytearray(n)
        got = min(n, len(head) - end - 4)
        body[:got] = head[end + 4:end + 4 + got]
        view = memoryview(body)
        while got < n:
            r = await _recv_into(sock, view[got:], n - got)
            if r == 0:
                raise _Unhandled("connection closed in the body")
            got += r
        keep = hdrs.get("connection", "").lower() != "close" and len(head) - end - 4 <= n
        return Answer(status, hdrs, body), keep


class _Unhandled(Exception):
    pass


async def _sendfile(sock: socket.socket, fd: int, offset: int, length: int) -> None:
    """`length` bytes of `fd` from `offset` to the (non-blocking) socket, kernel to kernel."""
    end = offset + length
    while offset < end:
        try:
            sent = os.sendfile(sock.fileno(), fd, offset, end - offset)
        except BlockingIOError:
            await trio.lowlevel.wait_writable(sock)
            continue
        if sent == 0:
            raise _Unhandled("the staged file ended early")
        offset += sent
    await trio.lowlevel.checkpoint()


async def _send_all(sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view):]
        except BlockingIOError:
            await trio.lowlevel.wait_writable(sock)


async def _recv(sock: socket.socket, limit: int) -> bytes:
    while True:
        try:
            return sock.recv(limit)
        except BlockingIOError:
            await trio.lowlevel.wait_readable(sock)


async def _recv_into(sock: socket.socket, view: memoryview, limit: int) -> int:
    while True:
        try:
            return sock.recv_into(view, limit)
        except BlockingIOError:
            await trio.lowlevel.wait_readable(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(Exception):
        trio.lowlevel.notify_closing(sock)
    with contextlib.suppress(Exception):
        sock.close()
