"""aisfs_node.h1server's timeouts on trio's virtual clock (autojump_clock): a head trickled past
header_timeout, an idle keep-alive connection, a stalled body (read_timeout) and the
graceful stop - each asserted to the virtual second, none of them waited for in real time.

The server listens on loopback in this process and the clients are trio tasks beside it:
loopback delivers in the send call, so the clock only jumps when every task waits on a
timeout. tests/s3api/test_http_wire.py checks the same limits end to end on a real node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio

from aisfs_node.h1server import H1Server


@dataclass
class Served:
    server: H1Server
    host: str
    port: int
    stop: trio.Event
    disconnects: list[float] = field(default_factory=list)  # when the app saw one
    bodies: list[bytes] = field(default_factory=list)
    streams: list[trio.SocketStream] = field(default_factory=list)  # closed after the test

    async def connect(self) -> trio.SocketStream:
        stream = await trio.open_tcp_stream(self.host, self.port)
        self.streams.append(stream)
        return stream


async def read_until_eof(stream: trio.SocketStream) -> bytes:
    out = bytearray()
    while True:
        try:
            piece = await stream.receive_some(65536)
        except trio.BrokenResourceError:  # a reset counts as closed
            break
        if not piece:
            break
        out += piece
    return bytes(out)


async def read_response(stream: trio.SocketStream) -> bytes:
    """One response of the test app (its bodies have a Content-Length of 2)."""
    out = bytearray()
    while b"\r\n\r\n" not in out or len(out.partition(b"\r\n\r\n")[2]) < 2:
        piece = await stream.receive_some(65536)
        assert piece, bytes(out)
        out += piece
    return bytes(out)


def make_app(served: list[Served]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        s = served[0]
        if scope["path"] == "/slow":
            await trio.sleep(1000)
        body = bytearray()
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                s.disconnects.append(trio.current_time())
                return
            body += msg["body"]
            if not msg["more_body"]:
                break
        s.bodies.append(bytes(body))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


# pytest-trio takes the clock from the test's own arguments: each test names autojump_clock
@pytest.fixture
async def served() -> AsyncIterator[Served]:
    holder: list[Served] = []
    server = H1Server(make_app(holder), keep_alive_timeout=5.0, graceful_timeout=20.0,
                      header_timeout=10.0, read_timeout=3.0)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(server.serve, [("127.0.0.1", 0, False)], stop.wait)
        host, port = urls[0].removeprefix("http://").rsplit(":", 1)
        s = Served(server, host, int(port), stop)
        holder.append(s)

        yield s
        for stream in s.streams:
            await stream.aclose()
        stop.set()


async def test_trickled_head_gets_408_at_header_timeout(
    served: Served, autojump_clock: trio.testing.MockClock
) -> None:
    stream = await served.connect()
    start = trio.current_time()
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ")
    answer = bytearray()

    async def trickle() -> None:
        # a byte a second: each wait is far below keep_alive_timeout, the head never ends
        while True:
            await trio.sleep(1.0)
            try:
                await stream.send_all(b"a")
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trickle)
        answer += await read_until_eof(stream)
        nursery.cancel_scope.cancel()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"not received in time" in answer
    assert trio.current_time() - start == pytest.approx(10.0)


async def test_silence_inside_a_head_closes_at_keep_alive_timeout(
    served: Served, autojump_clock: trio.testing.MockClock
) -> None:
    """Silence in the middle of a head lasts at most keep_alive_timeout (5 s < 10 s)."""
    stream = await served.connect()
    start = trio.current_time()
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: h\r\n")
    answer = await read_until_eof(stream)
    assert answer == b""
    assert trio.current_time() - start == pytest.approx(5.0)


async def test_idle_keep_alive_connection_closes_at_keep_alive_timeout(
    served: Served, autojump_clock: trio.testing.MockClock
) -> None:
    stream = await served.connect()
    for _ in range(2):  # the idle wait restarts after each request
        await trio.sleep(4.0)
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert (await read_response(stream)).startswith(b"HTTP/1.1 200 ")
    served_at = trio.current_time()
    assert await read_until_eof(stream) == b""
    assert trio.current_time() - served_at == pytest.approx(5.0)


async def test_stalled_body_is_a_disconnect_after_read_timeout(
    served: Served, autojump_clock: trio.testing.MockClock
) -> None:
    stream = await served.connect()
    await stream.send_all(b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    sent_at = trio.current_time()
    await read_until_eof(stream)
    assert served.disconnects and served.disconnects[0] - sent_at == pytest.approx(3.0)
    assert served.bodies == []


async def test_slow_body_within_read_timeout_is_served(
    served: Served, autojump_clock: trio.testing.MockClock
) -> None:
    """read_timeout bounds each wait for body bytes, not the whole body."""
    stream = await served.connect()
    start = trio.current_time()
    await stream.send_all(b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n")
    for _ in range(10):
        await trio.sleep(2.5)
        await stream.send_all(b"y" * 10)
    assert (await read_response(stream)).startswith(b"HTTP/1.1 200 ")
    assert served.bodies == [b"y" * 100] and served.disconnects == []
    assert trio.current_time() - start == pytest.approx(25.0)


async def test_graceful_stop_closes_idle_at_once_and_cancels_after_graceful_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    holder: list[Served] = []
    server = H1Server(make_app(holder), keep_alive_timeout=50.0, graceful_timeout=20.0,
                      header_timeout=10.0, read_timeout=3.0)
    stop = trio.Event()
    done: list[float] = []

    async def serve(task_status: trio.TaskStatus[list[str]]) -> None:
        await server.serve([("127.0.0.1", 0, False)], stop.wait, task_status=task_status)
        done.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve)
        host, port = urls[0].removeprefix("http://").rsplit(":", 1)
        holder.append(s := Served(server, host, int(port), stop))
        idle = await s.connect()
        busy = await s.connect()
        await busy.send_all(b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        await trio.sleep(1.0)
        stopped = trio.current_time()
        stop.set()
        assert await read_until_eof(idle) == b""
        assert trio.current_time() == pytest.approx(stopped)
        with pytest.raises(OSError):
            await trio.open_tcp_stream(host, int(port))
        assert await read_until_eof(busy) == b""
        for stream in s.streams:
            await stream.aclose()
    assert done and done[0] - stopped == pytest.approx(20.0)
