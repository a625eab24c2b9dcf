"""Helpers for the daemon tests: a test-owned NOTIFY_SOCKET and raw HTTP streams."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's notify socket.

    A thread collects every datagram as (monotonic time, {key: value}) so a test can ask
    what arrived and when; ``on_message`` runs in that thread as each one arrives.
    """

    def __init__(self, on_message: Callable[[dict[str, str]], None] | None = None) -> None:
        # sun_path is limited to 108 bytes: pytest's tmp_path can be longer
        self.dir = tempfile.mkdtemp(prefix="aisfs-sd-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self.on_message = on_message
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(
                line.split("=", 1) for line in data.decode().splitlines() if "=" in line
            )
            self.messages.append((time.monotonic(), fields))
            if self.on_message is not None:
                try:
                    self.on_message(fields)
                except BaseException as e:  # reported by the test
                    self.errors.append(e)

    def lines(self) -> list[str]:
        """Every KEY=VALUE line received so far, in order (WATCHDOG pings left out)."""
        return [
            f"{k}={v}" for _, m in self.messages for k, v in m.items() if k != "WATCHDOG"
        ]

    def wait_for(self, key: str, value: str = "1", timeout: float = 15.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, m in list(self.messages):
                if m.get(key) == value:
                    return t
            time.sleep(0.02)
        raise AssertionError(f"no {key}={value} within {timeout}s; got {self.lines()}")

    def count(self, key: str, since: float = 0.0) -> int:
        return sum(1 for t, m in list(self.messages) if key in m and t >= since)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def host_port(url: str) -> tuple[str, int]:
    hostport = url.split("://", 1)[1]
    host, _, port = hostport.rpartition(":")
    return host, int(port)


def put_random(url: str, bucket: str, key: str, size: int) -> str:
    """PUT ``size`` random bytes streamed in 8 MiB pieces; returns their MD5 hex."""
    host, port = host_port(url)
    conn = http.client.HTTPConnection(host, port, timeout=120)
    md5 = hashlib.md5()
    conn.putrequest("PUT", f"/s3/{bucket}/{key}")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    left = size
    while left:
        piece = os.urandom(min(left, 8 << 20))
        md5.update(piece)
        conn.send(piece)
        left -= len(piece)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200, resp.status
    return md5.hexdigest()


class SlowGet:
    """A GET whose body the test reads at its own pace (the server's socket buffers fill)."""

    def __init__(self, url: str, path: str) -> None:
        host, port = host_port(url)
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        # a small receive buffer so the server really waits on this reader
        self.conn.connect()
        self.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.conn.request("GET", path)
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        self.length = int(self.resp.getheader("Content-Length"))
        self.md5 = hashlib.md5()
        self.received = 0

    def read(self, n: int) -> int:
        data = self.resp.read(n)
        self.md5.update(data)
        self.received += len(data)
        return len(data)

    def read_rest(self, seconds: float, piece: int = 1 << 20) -> None:
        """Read what is left spread over about ``seconds``."""
        left = self.length - self.received
        pieces = max(1, left // piece)
        pause = seconds / pieces
        while self.received < self.length:
            if self.read(min(piece, self.length - self.received)) == 0:
                break
            time.sleep(pause)

    def close(self) -> None:
        self.conn.close()


