"""The lean client's plain-TCP connections (aisfs/backend/lean.py ``_connected``,
``_send_small``, ``_receive_some``): a request written on the stdlib socket itself and a
response head received from it, trio's layer only when the socket cannot take it all -
over real loopback connections, and a kept-alive connection the server closed replaced
by a fresh one."""

from __future__ import annotations

import socket

import pytest
import trio

from aisfs.backend import lean
from aisfs.backend.lean_put import LeanPutClient
from aisfs.backend.settings import S3Settings
from support.ceph import free_port


async def _pair() -> tuple[lean._Conn, trio.SocketStream, trio.SocketListener]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    raw, sock = await lean._connected("127.0.0.1", port)
    peer = await listeners[0].accept()
    return lean._Conn(trio.SocketStream(sock), raw=raw), peer, listeners[0]


async def test_a_large_write_goes_whole_and_in_order() -> None:
    conn, peer, listener = await _pair()
    data = bytes(range(256)) * (32 * 1024)  # 8 MiB: more than the socket takes at once
    got = bytearray()

    async def read() -> None:
        while len(got) < len(data):
            got.extend(await peer.receive_some(1 << 20))

    async with trio.open_nursery() as n:
        n.start_soon(read)
        await lean._send_small(conn, data)
    assert got == data
    await conn.stream.aclose()
    await peer.aclose()
    await listener.aclose()


async def test_receive_waits_then_reads_then_sees_the_close() -> None:
    conn, peer, listener = await _pair()

    async def answer() -> None:
        await trio.sleep(0.05)
        await peer.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        await trio.sleep(0.05)
        await peer.aclose()

    async with trio.open_nursery() as n:
        n.start_soon(answer)
        head = await lean._read_head(conn)
        assert head.status == 200 and head.keep and not conn.buf
        assert await lean._receive_some(conn) == b""  # the peer closed
    await conn.stream.aclose()
    await listener.aclose()


async def test_connect_to_a_closed_port_is_an_oserror() -> None:
    with pytest.raises(OSError):
        await lean._connected("127.0.0.1", free_port())


async def test_connect_by_name() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = lean.LeanClient(S3Settings(endpoint=f"http://localhost:{port}",
                                        access_key="AK", secret_key="SK"))
    conn, reused = await client._connection()  # ::1 first, maybe: refused, then 127.0.0.1
    assert not reused and conn.raw is not None
    assert conn.raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    await conn.stream.aclose()
    assert conn.raw.fileno() == -1  # trio's close closed the socket itself
    await listeners[0].aclose()


async def test_a_kept_alive_connection_the_server_closed_is_replaced() -> None:
    # a server that answers one PUT per connection, then closes it without saying so
    # (no "connection: close"): the client's next PUT finds it dead and opens a fresh one
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    served = []

    async def one(stream: trio.SocketStream) -> None:
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += await stream.receive_some(65536)
        head, _, body = buf.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += await stream.receive_some(65536)
        served.append(body)
        await stream.send_all(b'HTTP/1.1 200 OK\r\netag: "e"\r\ncontent-length: 0\r\n\r\n')
        await stream.aclose()

    client = LeanPutClient(S3Settings(endpoint=f"http://127.0.0.1:{port}", access_key="AK",
                                      secret_key="SK", read_timeout=10.0))
    async with trio.open_nursery() as n:
        n.start_soon(trio.serve_listeners, one, listeners)
        for i in range(3):
            fields = await client.put("b", f"k{i}", [b"x" * 1000 * (i + 1)])
            assert fields["etag"] == '"e"'
            await trio.sleep(0.05)  # the server's close arrives
        n.cancel_scope.cancel()
    assert [len(b) for b in served] == [1000, 2000, 3000]
    await client.aclose()
