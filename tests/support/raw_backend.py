"""A raw socket server standing in for a misbehaving S3 backend (tests/backend): each
connection is handed to the subclass's ``handle`` in a thread of its own."""

from __future__ import annotations

import socket
import threading

from aisfs.backend import Backends
from aisfs.config import BackendConfig, BackendS3Config


class RawBackend:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()

    def backends(self) -> Backends:
        """The node's backends with this one as ``[backend.s3]`` (no retries, short
        timeouts)."""
        return Backends(BackendConfig(s3=BackendS3Config(
            endpoint=f"http://127.0.0.1:{self.port}", access_key="a", secret_key="b",
            retries=0, connect_timeout=2.0, read_timeout=5.0)))


def read_head(conn: socket.socket) -> bytes | None:
    """A request's head; None if the client closed first."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = conn.recv(65536)
        if not data:
            return None
        head += data
    return head


def object_head(length: int) -> bytes:
    """A 200 answer's head for an object of ``length`` bytes."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b'ETag: "0123456789abcdef0123456789abcdef"\r\n'
            b"Last-Modified: Sat, 05 Dec 2026 10:00:00 GMT\r\n"
            + f"Content-Length: {length}\r\n\r\n".encode())
