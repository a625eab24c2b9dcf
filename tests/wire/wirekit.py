"""Raw-socket helpers for the wire tests: send bytes, read every response until the
server closes (or a count is reached), parse each with its own framing."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlparse


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    raw_head: bytes = b""


@dataclass
class Exchange:
    responses: list[Response] = field(default_factory=list)
    closed: bool = False  # the server closed the connection after the last response
    rest: bytes = b""  # bytes after the last whole response


def connect(url: str, timeout: float = 5.0) -> socket.socket:
    u = urlparse(url)
    assert u.hostname and u.port
    return socket.create_connection((u.hostname, u.port), timeout=timeout)


def _parse_one(buf: bytearray, eof: bool) -> Response | None:
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    raw_head = bytes(buf[:end])
    lines = raw_head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    pos = end + 4
    if status < 200 or status in (204, 304):
        del buf[:pos]
        return Response(status, headers, b"", raw_head)
    if headers.get("transfer-encoding") == "chunked":
        body = bytearray()
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                return None
            size = int(bytes(buf[pos:nl]).split(b";")[0], 16)
            if len(buf) < nl + 2 + size + 2:
                return None
            body += buf[nl + 2:nl + 2 + size]
            pos = nl + 2 + size + 2
            if size == 0:
                del buf[:pos]
                return Response(status, headers, bytes(body), raw_head)
    if "content-length" in headers:
        n = int(headers["content-length"])
        if len(buf) < pos + n:
            return None
        body = bytes(buf[pos:pos + n])
        del buf[:pos + n]
        return Response(status, headers, body, raw_head)
    if not eof:
        return None
    body = bytes(buf[pos:])
    del buf[:]
    return Response(status, headers, body, raw_head)


def exchange(url: str, data: bytes, *, count: int | None = None,
             timeout: float = 5.0) -> Exchange:
    """Send ``data``; read responses until the server closes, ``count`` arrived (then
    wait 0.3 s to see whether it closes) or nothing came for ``timeout`` seconds."""
    sock = connect(url, timeout)
    out = Exchange()
    buf = bytearray()
    try:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused early: the answer may still be readable
        eof = False
        while True:
            while (one := _parse_one(buf, eof)) is not None:
                out.responses.append(one)
            if eof:
                out.closed = True
                break
            if count is not None and len(out.responses) >= count:
                sock.settimeout(0.3)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break  # quiet: the connection stays open (closed=False)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                eof = True
            buf += chunk
        out.rest = bytes(buf)
        return out
    finally:
        sock.close()
