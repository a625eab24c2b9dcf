"""A lean keep-alive S3 client for load generation, SigV4-signed with UNSIGNED-PAYLOAD.

boto3 costs a millisecond or more of client CPU per request, which on a 2-core machine
would measure the client, not the server; http.client on persistent connections does not.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from urllib.parse import quote, urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_SIGNER = SigV4Auth(Credentials("FAKEKEY", "FAKESECRET"), "s3", "us-east-1")


def sign(method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
    headers = dict(headers)
    headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    request = AWSRequest(method=method, url=url, headers=headers)
    _SIGNER.add_auth(request)
    return dict(request.headers.items())

PIECE = 1024 * 1024


def stamp_piece(buf: bytearray, offset: int) -> None:
    """Make the piece sent at `offset` unlike every other one (its first 8 bytes): a
    body of one repeated piece would be a few chunks to the content-addressed store,
    deduplicated, cached, and its figures flattered."""
    buf[:8] = offset.to_bytes(8, "little")


class Conn:
    def __init__(self, s3_url: str) -> None:
        u = urlparse(s3_url)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or 80
        self.base = u.path.rstrip("/")
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)

    def path(self, bucket: str, key: str = "", query: str = "") -> str:
        p = f"{self.base}/{bucket}"
        if key:
            p += "/" + quote(key)
        return p + (f"?{query}" if query else "")

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        url = f"http://{self.host}:{self.port}{path}"
        self.conn.request(method, path, body=body, headers=sign(method, url, headers or {}))
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, data

    def put_stream(self, bucket: str, key: str, size: int, piece: bytes) -> int:
        path = self.path(bucket, key)
        self.conn.putrequest("PUT", path, skip_accept_encoding=True)
        url = f"http://{self.host}:{self.port}{path}"
        for name, value in sign("PUT", url, {"Content-Length": str(size)}).items():
            self.conn.putheader(name, value)
        self.conn.endheaders()
        buf = bytearray(piece)
        view = memoryview(buf)
        left = size
        while left > 0:
            n = min(left, len(view))
            stamp_piece(buf, size - left)
            self.conn.send(view[:n])
            left -= n
        resp = self.conn.getresponse()
        resp.read()
        return resp.status

    def get_stream(self, bucket: str, key: str,
                   first: Callable[[], None] | None = None) -> int:
        """GET ``key``, its body read and dropped: its length (``first`` called when
        the first bytes came)."""
        path = self.path(bucket, key)
        self.conn.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in sign("GET", f"http://{self.host}:{self.port}{path}", {}).items():
            self.conn.putheader(name, value)
        self.conn.endheaders()
        resp = self.conn.getresponse()
        total = 0
        buf = bytearray(PIECE)
        while True:
            n = resp.readinto(buf)
            if not n:
                break
            if not total and first is not None:
                first()
            total += n
        return total

    def close(self) -> None:
        self.conn.close()


_local = threading.local()


def thread_conn(s3_url: str) -> Conn:
    conns: dict[str, Conn] | None = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    if s3_url not in conns:
        conns[s3_url] = Conn(s3_url)
    return conns[s3_url]
