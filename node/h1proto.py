"""HTTP/1.1 server-side framing, sans-IO: request heads, bodies, response heads.

This is the protocol half of ``node.h1server`` (the trio half owns sockets and the ASGI
calls), kept free of I/O in h11's manner so it is tested byte by byte. It covers what an
origin server for S3 clients needs: request line and headers with their limits,
Content-Length and chunked bodies, Expect: 100-continue, keep-alive rules of 1.0 and
1.1, and response heads with Content-Length or chunked framing. It refuses ambiguous
framing (both Transfer-Encoding and Content-Length, differing lengths) instead of
guessing, since a guess there is how request smuggling starts.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import formatdate

MAX_HEAD = 64 * 1024  # request line + headers
MAX_CHUNK_LINE = 4096

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_HEX = re.compile(rb"[0-9A-Fa-f]+\Z")
_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f]")

REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    206: "Partial Content", 301: "Moved Permanently", 304: "Not Modified",
    307: "Temporary Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
    411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
    416: "Range Not Satisfiable", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
}


class ProtocolError(Exception):
    """The client broke HTTP/1.1: answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class RequestHead:
    method: str
    target: bytes
    http_version: str  # "1.1" or "1.0"
    headers: list[tuple[bytes, bytes]]  # names lower-cased, values stripped
    content_length: int | None = None
    chunked: bool = False
    keep_alive: bool = True
    expect_continue: bool = False

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


def find_head_end(buf: bytes | bytearray) -> int:
    """Offset just past the blank line ending a head, -1 if it hasn't arrived yet."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > MAX_HEAD:
            raise ProtocolError(431, "request head too large")
        return -1
    if end > MAX_HEAD:
        raise ProtocolError(431, "request head too large")
    return end + 4


def parse_head(raw: bytes) -> RequestHead:
    """Parse one request head (without its final blank line)."""
    lines = raw.split(b"\r\n")
    request_line = lines[0]
    parts = request_line.split(b" ")
    if len(parts) != 3:
        raise ProtocolError(400, "malformed request line")
    method, target, version = parts
    if not _TOKEN.match(method):
        raise ProtocolError(400, "malformed method")
    if version == b"HTTP/1.1":
        http_version = "1.1"
    elif version == b"HTTP/1.0":
        http_version = "1.0"
    elif version.startswith(b"HTTP/"):
        raise ProtocolError(505 if version[5:6] != b"1" else 400, "unsupported HTTP version")
    else:
        raise ProtocolError(400, "malformed request line")
    if not target or _BAD_TARGET.search(target):
        raise ProtocolError(400, "malformed request target")
    headers: list[tuple[bytes, bytes]] = []
    lengths: set[bytes] = set()
    transfer: list[bytes] = []
    connection: list[bytes] = []
    expect = b""
    has_host = False
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.match(name):
            # also a space before the colon or an obs-fold continuation line
            raise ProtocolError(400, "malformed header line")
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value):
            raise ProtocolError(400, "malformed header value")
        name = name.lower()
        headers.append((name, value))
        if name == b"content-length":
            lengths.update(v.strip() for v in value.split(b","))
        elif name == b"transfer-encoding":
            transfer += [v.strip().lower() for v in value.split(b",") if v.strip()]
        elif name == b"connection":
            connection += [v.strip().lower() for v in value.split(b",")]
        elif name == b"expect":
            expect = value.lower()
        elif name == b"host":
            has_host = True
    if http_version == "1.1" and not has_host:
        raise ProtocolError(400, "missing Host header")
    head = RequestHead(method.decode("ascii"), target, http_version, headers)
    if transfer:
        if lengths:
            raise ProtocolError(400, "both Transfer-Encoding and Content-Length")
        if transfer != [b"chunked"]:
            raise ProtocolError(501, "unsupported Transfer-Encoding")
        head.chunked = True
    elif lengths:
        if len(lengths) != 1:
            raise ProtocolError(400, "conflicting Content-Length values")
        (length,) = lengths
        if not length.isdigit() or len(length) > 19:
            raise ProtocolError(400, "malformed Content-Length")
        head.content_length = int(length)
    if http_version == "1.1":
        head.keep_alive = b"close" not in connection
        head.expect_continue = expect == b"100-continue"
    else:
        head.keep_alive = b"keep-alive" in connection
    return head


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """(raw path, query string) of a request target; absolute-form loses its authority."""
    if target.startswith((b"http://", b"https://")):
        rest = target.split(b"//", 1)[1]
        slash = rest.find(b"/")
        target = rest[slash:] if slash >= 0 else b"/"
    path, _, query = target.partition(b"?")
    return path, query


class ChunkedReader:
    """Decodes a chunked request body fed in pieces; trailers are read and dropped."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._left = 0  # bytes of the current chunk still to come
        self._state = "size"  # size | data | data-crlf | trailer | done
        self.done = False

    def feed(self, data: bytes) -> list[bytes]:
        """Body bytes decoded from ``data`` (kept in order); sets ``done`` at the end."""
        out: list[bytes] = []
        buf = self._buf
        if data:
            if self._state == "data" and not buf:
                # the common case: straight through without copying into the buffer
                take = data[: self._left]
                if take:
                    out.append(take)
                    self._left -= len(take)
                    data = data[len(take):]
                    if self._left == 0:
                        self._state = "data-crlf"
            buf += data
        while True:
            if self._state == "data":
                if not buf:
                    return out
                take = bytes(buf[: self._left])
                del buf[: len(take)]
                self._left -= len(take)
                out.append(take)
                if self._left:
                    return out
                self._state = "data-crlf"
            elif self._state == "data-crlf":
                if len(buf) < 2:
                    return out
                if buf[:2] != b"\r\n":
                    raise ProtocolError(400, "malformed chunk end")
                del buf[:2]
                self._state = "size"
            elif self._state in ("size", "trailer"):
                nl = buf.find(b"\r\n")
                if nl < 0:
                    if len(buf) > MAX_CHUNK_LINE:
                        raise ProtocolError(400, "chunk line too long")
                    return out
                line = bytes(buf[:nl])
                del buf[: nl + 2]
                if self._state == "trailer":
                    if not line:
                        self._state = "done"
                        self.done = True
                        return out  # what follows is the next request: leftover()
                    continue
                size_text = line.split(b";", 1)[0].strip()
                try:
                    if not _HEX.match(size_text) or len(size_text) > 16:
                        raise ValueError
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(400, "malformed chunk size") from None
                if size == 0:
                    self._state = "trailer"
                else:
                    self._left = size
                    self._state = "data"
            else:
                return out

    def leftover(self) -> bytes:
        """Bytes past the end of the body (the next pipelined request), once done."""
        rest = bytes(self._buf)
        self._buf.clear()
        return rest


@dataclass(slots=True)
class _DateCache:
    second: int = -1
    value: bytes = b""

    def now(self) -> bytes:
        sec = int(time.time())
        if sec != self.second:
            self.second = sec
            self.value = formatdate(sec, usegmt=True).encode("ascii")
        return self.value


_date = _DateCache()


def response_head(
    status: int, headers: list[tuple[bytes, bytes]], *, chunked: bool, close: bool,
    http_version: str = "1.1",
) -> bytes:
    """The status line and headers; adds Date, and the framing/connection headers asked."""
    reason = REASONS.get(status, "")
    lines = [f"HTTP/1.1 {status} {reason}".encode("ascii")]
    has_date = False
    for name, value in headers:
        if name == b"date":
            has_date = True
        lines.append(name + b": " + value)
    if not has_date:
        lines.append(b"date: " + _date.now())
    if chunked:
        lines.append(b"transfer-encoding: chunked")
    if close:
        lines.append(b"connection: close")
    elif http_version == "1.0":
        lines.append(b"connection: keep-alive")
    lines.append(b"\r\n")
    return b"\r\n".join(lines)


def body_allowed(method: str, status: int) -> bool:
    return method != "HEAD" and status >= 200 and status not in (204, 304)
