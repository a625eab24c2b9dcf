"""aisfs_node.h1server's ``aisfs.http.response.threadsend`` (aisfs_node/threadsend.py): a
worker thread writes body pieces to the socket itself. The framing stays exact (length
and chunked), a job that writes too few or too many bytes cuts the response, a client
that leaves mid-body ends the job with an error and the server serves the next
connection, and a stop wakes a job blocked on a client that does not read.

The server listens on loopback in this process; the clients are plain sockets driven
from worker threads (the job itself runs in one: real time, no timed assertions).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio

from aisfs_node.h1server import H1Server
from aisfs_node.threadsend import THREADSEND, Writer

PIECE = 300_000


def pattern(offset: int, count: int) -> bytes:
    return bytes((offset + i) * 7 % 251 for i in range(count))


@dataclass
class Served:
    host: str
    port: int
    stop: trio.Event
    outcomes: list[str] = field(default_factory=list)  # how each job / app call ended
    jobs_running: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    job_started: trio.Event = field(default_factory=trio.Event)
    app_ended: trio.Event = field(default_factory=trio.Event)
    token: trio.lowlevel.TrioToken = field(default_factory=trio.lowlevel.current_trio_token)
    server: Any = None


def job(served: Served, offset: int, count: int, step: int = 65536, extra: int = 0,
        fail: bool = False) -> Any:
    def write(writer: Writer) -> None:
        with served.lock:
            served.jobs_running += 1
        served.token.run_sync_soon(served.job_started.set)
        try:
            for pos in range(0, count, step):
                writer.send(pattern(offset + pos, min(step, count - pos)))
                if fail:  # the job's own I/O error (a chunk file's), not the client's
                    raise OSError(5, "Input/output error")
            if extra:
                writer.send(b"x" * extra)
        except BaseException as e:
            served.outcomes.append(f"job {type(e).__name__}")
            raise
        finally:
            with served.lock:
                served.jobs_running -= 1
    return write


def make_app(holder: list[Served]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        s = holder[0]
        assert THREADSEND in scope["extensions"]
        await receive()
        path, total = scope["path"], int(scope["query_string"] or b"0")
        length = [] if path == "/chunked" else [(b"content-length", b"%d" % total)]
        await send({"type": "http.response.start", "status": 200, "headers": length})
        pieces = [(off, min(PIECE, total - off)) for off in range(0, total, PIECE)]
        try:
            for n, (off, count) in enumerate(pieces):
                if path == "/short" and n == 1:
                    write = job(s, off, count // 2)
                elif path == "/fails" and n == 1:
                    write = job(s, off, count, fail=True)
                elif path == "/long" and n == 1:
                    write = job(s, off, count, extra=10)
                else:
                    write = job(s, off, count)
                await send({"type": THREADSEND, "count": count, "write": write,
                            "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except BaseException as e:
            s.outcomes.append(f"app {type(e).__name__}")
            raise
        else:
            s.outcomes.append("app done")
        finally:
            s.app_ended.set()

    return app


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    holder: list[Served] = []
    server = H1Server(make_app(holder), keep_alive_timeout=5.0, graceful_timeout=0.2,
                      header_timeout=10.0, read_timeout=3.0)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(server.serve, [("127.0.0.1", 0, False)], stop.wait)
        host, port = urls[0].removeprefix("http://").rsplit(":", 1)
        holder.append(s := Served(host, int(port), stop, server=server))
        yield s
        stop.set()


def exchange(s: Served, request: bytes, read: int | None = None) -> bytes:
    """(A thread.) Send ``request``, read until the server closes (or ``read`` bytes)."""
    with socket.create_connection((s.host, s.port)) as sock:
        sock.sendall(request)
        out = bytearray()
        while read is None or len(out) < read:
            try:
                piece = sock.recv(1 << 20)
            except ConnectionResetError:
                break
            if not piece:
                break
            out += piece
        return bytes(out)


def get(path: str, close: bool = True) -> bytes:
    conn = b"Connection: close\r\n" if close else b""
    return b"GET %b HTTP/1.1\r\nHost: h\r\n%b\r\n" % (path.encode(), conn)


def body_of(answer: bytes) -> tuple[bytes, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize("total", [0, 1, PIECE, 3 * PIECE + 12345])
async def test_exact_bytes_with_a_length(served: Served, total: int) -> None:
    answer = await trio.to_thread.run_sync(exchange, served, get(f"/exact?{total}"))
    head, body = body_of(answer)
    assert head.startswith(b"HTTP/1.1 200 ") and b"content-length: %d" % total in head.lower()
    assert body == pattern(0, total)
    assert served.outcomes == ["app done"]


async def test_chunked_framing_is_exact(served: Served) -> None:
    total = 2 * PIECE + 77
    answer = await trio.to_thread.run_sync(exchange, served, get(f"/chunked?{total}"))
    head, body = body_of(answer)
    assert b"transfer-encoding: chunked" in head.lower()
    expect = b"".join(b"%x\r\n%b\r\n" % (count, pattern(off, count))
                      for off, count in [(0, PIECE), (PIECE, PIECE), (2 * PIECE, 77)])
    assert body == expect + b"0\r\n\r\n"


@pytest.mark.parametrize("path", ["/short", "/long", "/fails"])
async def test_a_job_off_its_count_cuts_the_response(served: Served, path: str) -> None:
    total = 3 * PIECE
    answer = await trio.to_thread.run_sync(exchange, served, get(f"{path}?{total}", False))
    _, body = body_of(answer)
    # the first piece whole, then at most the job's own bytes, never a byte of the next
    assert PIECE <= len(body) < total and body == pattern(0, len(body))
    if path == "/long":
        assert len(body) == 2 * PIECE and served.outcomes[0] == "job TooLong"
    assert served.outcomes[-1] == {"/short": "app ShortFile", "/long": "app TooLong",
                                   "/fails": "app OSError"}[path]
    # the server goes on serving
    again = await trio.to_thread.run_sync(exchange, served, get(f"/exact?{PIECE}"))
    assert body_of(again)[1] == pattern(0, PIECE)


async def test_a_client_that_leaves_mid_body_ends_the_job(served: Served) -> None:
    total = 200 * PIECE  # far more than the socket buffers hold

    def leave() -> None:
        with socket.create_connection((served.host, served.port)) as sock:
            sock.sendall(get(f"/exact?{total}"))
            got = 0
            while got < 2 * PIECE:
                got += len(sock.recv(1 << 20))
            # closed with a reset: the server's next write fails at once
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    await trio.to_thread.run_sync(leave)
    await served.app_ended.wait()
    assert served.outcomes[-1] == "app ClientGone"
    assert served.jobs_running == 0
    assert any(o.startswith("job ") for o in served.outcomes)  # its write failed: it ended
    again = await trio.to_thread.run_sync(exchange, served, get(f"/exact?{PIECE}"))
    assert body_of(again)[1] == pattern(0, PIECE)


async def test_stop_wakes_a_job_blocked_on_a_client_that_does_not_read(
        served: Served) -> None:
    total = 200 * PIECE
    sock = await trio.to_thread.run_sync(socket.create_connection, (served.host, served.port))
    try:
        await trio.to_thread.run_sync(sock.sendall, get(f"/exact?{total}"))
        await trio.to_thread.run_sync(sock.recv, 1000)
        await served.job_started.wait()  # the job runs; the socket fills; it waits
        await trio.sleep(0.2)
        served.stop.set()  # graceful_timeout 0.2 s, then the request is cancelled
        await served.app_ended.wait()
        assert served.outcomes[-1] == "app Cancelled"
        assert served.jobs_running == 0 and "job Stopped" in served.outcomes
    finally:
        sock.close()


async def test_clients_that_do_not_read_hold_no_slot(served: Served) -> None:
    """One slot for every job: three clients that stop reading park their jobs (each gives
    the slot back while its socket is full) and a fourth GET is served whole."""
    served.server.writers = threading.Semaphore(1)
    total = 200 * PIECE
    socks = []
    try:
        for _ in range(3):
            sock = await trio.to_thread.run_sync(
                socket.create_connection, (served.host, served.port))
            socks.append(sock)
            await trio.to_thread.run_sync(sock.sendall, get(f"/exact?{total}"))
            await trio.to_thread.run_sync(sock.recv, 1000)
        with trio.fail_after(120):  # a deadlock guard, not a timing: a held slot hangs here
            answer = await trio.to_thread.run_sync(
                exchange, served, get(f"/exact?{PIECE}"), abandon_on_cancel=True)
        assert body_of(answer)[1] == pattern(0, PIECE)
        assert served.jobs_running >= 3  # the three parked jobs are still there
    finally:
        for sock in socks:
            sock.close()
