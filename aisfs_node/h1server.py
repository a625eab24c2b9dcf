"""The node's HTTP/1.1 server: trio sockets in, ASGI calls out.

One task per connection, and each request is served inside it: no task, memory channel
or h11 event per request, which is most of what a small PUT or GET cost under Hypercorn
(see docs/design-notes.md for the figures). Requests are framed by llhttp through
``aisfs_node.h1proto`` (sans-IO); this module owns the sockets, the keep-alive and
graceful-stop policy, and the ASGI ``receive``/``send`` pair:

- the body is read from the socket only when the app calls ``receive()`` (backpressure
  all the way to the client's TCP window), ``Expect: 100-continue`` is answered then;
  each wait for body bytes lasts at most ``read_timeout`` (``net.read_timeout``), then
  the request sees a disconnect and the connection is closed;
- a response whose request body was not read to its end closes the connection
  (after a bounded drain, so the client sees the answer rather than a reset);
- on stop the listeners close, idle connections close at once, requests in flight get
  ``graceful_timeout`` seconds, then they are cancelled;
- on plain TCP a request head is read from the socket's descriptor directly (one
  checkpoint when bytes are waiting, one scheduling when they must be waited for, where
  trio's ``receive_some`` costs two and a timeout scope) and an answer of up to 64 KiB
  that the socket takes whole is written without scheduling the task: each request still
  passes one checkpoint, so a pipelining client cannot hold the loop;
- on plain TCP the scope offers the ASGI extension ``http.response.zerocopysend``
  (uvicorn's name): the app hands a file descriptor, an offset and a count, and the
  bytes go from the page cache to the socket with ``os.sendfile``, never through Python
  (a large GET: aisfs/store/reader.py ``read_segments``). Not over TLS, where the bytes
  must be encrypted in user space: there the extension is not offered;
- on plain TCP the scope also offers ``aisfs.http.response.threadsend``
  (``aisfs_node/threadsend.py``): a worker thread writes a body piece to the socket
  itself, straight from the buffer it made it in (an encrypted GET's decryption), while
  the connection's task waits (``_Connection.send_from_thread``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import unquote

import outcome
import trio

from aisfs_node.h1proto import (
    BadResponseHead,
    ProtocolError,
    RequestHead,
    RequestParser,
    body_allowed,
    response_head,
    split_target,
)
from aisfs_node.http import ZEROCOPY, ClientGone
from aisfs_node.threadsend import (
    THREADSEND,
    Collector,
    PeerGone,
    SocketWriter,
    Stopped,
    Writer,
)

log = logging.getLogger("aisfs.http")

HEAD_RECV = 64 * 1024
BODY_RECV = 1024 * 1024
DIRECT_SEND = 64 * 1024  # a plain-TCP answer up to this size is written straight
DRAIN_LIMIT = 16 * 1024 * 1024
DRAIN_SECONDS = 2.0

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
_NET_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError)


def server_ssl_context(certfile: str, keyfile: str | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _url(scheme: str, sock: trio.socket.SocketType) -> str:
    host, port = sock.getsockname()[:2]
    if sock.family == socket.AF_INET6:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class H1Server:
    def __init__(
        self, app: App, *, keep_alive_timeout: float, graceful_timeout: float,
        ssl_context: ssl.SSLContext | None = None, header_timeout: float = 30.0,
        read_timeout: float | None = None,
    ) -> None:
        self.app = app
        self.keep_alive_timeout = keep_alive_timeout
        # a request head must be whole this long after its first byte: a client that
        # trickles it (slowloris) holds a connection no longer than that
        self.header_timeout = header_timeout
        # each wait for request body bytes: a client that stops mid-body is cut after it
        self.read_timeout = math.inf if read_timeout is None else read_timeout
        self.graceful_timeout = graceful_timeout
        self.ssl_context = ssl_context
        self.connections: set[_Connection] = set()
        # ``threadsend`` jobs working at once (threadsend.py: one parked on a full socket
        # gives its slot back)
        self.writers = threading.Semaphore(40)
        self.stopping = False
        self._all_closed = trio.Event()

    async def serve(
        self,
        binds: list[tuple[str, int, bool]],
        shutdown_trigger: Callable[[], Awaitable[None]],
        task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
        opened: list[tuple[trio.SocketListener, bool]] | None = None,
    ) -> None:
        """Listen on every (host, port, tls) bind; started() with their URLs; serve until
        ``shutdown_trigger`` returns, then stop gracefully. ``opened``: listeners the
        caller opened itself (SO_REUSEPORT, a Unix socket: aisfs_node/workers.py), served
        instead of ``binds``; URLs only for the TCP ones."""
        listeners: list[tuple[trio.SocketListener, bool]] = list(opened or [])
        urls = [_url("https" if tls else "http", listener.socket) for listener, tls
                in listeners if listener.socket.family != socket.AF_UNIX]
        for host, port, tls in binds if opened is None else []:
            for listener in await trio.open_tcp_listeners(port, host=host):
                listeners.append((listener, tls))
                urls.append(_url("https" if tls else "http", listener.socket))
        async with trio.open_nursery() as connections:
            async with trio.open_nursery() as accepting:
                for listener, tls in listeners:
                    accepting.start_soon(self._accept, listener, tls, connections)
                task_status.started(urls)
                await shutdown_trigger()
                accepting.cancel_scope.cancel()
            for listener, _ in listeners:
                await listener.aclose()
            self.stopping = True
            for conn in list(self.connections):
                conn.stop_if_idle()
            if self.connections:
                with trio.move_on_after(self.graceful_timeout):
                    await self._all_closed.wait()
            connections.cancel_scope.cancel()

    async def _accept(
        self, listener: trio.SocketListener, tls: bool, nursery: trio.Nursery
    ) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as e:  # EMFILE and friends: back off, keep serving the rest
                log.warning("accept failed: %s", e)
                await trio.sleep(0.1)
                continue
            nursery.start_soon(self._run_connection, stream, tls)

    async def _run_connection(self, stream: trio.SocketStream, tls: bool) -> None:
        conn = _Connection(self, stream, tls)
        self.connections.add(conn)
        try:
            await conn.run()
        except _NET_ERRORS:
            pass
        except Exception:
            log.exception("connection failed")
        finally:
            conn.close_wake()
            self.connections.discard(conn)
            with contextlib.suppress(*_NET_ERRORS):
                await trio.aclose_forcefully(conn.stream)
            if self.stopping and not self.connections:
                self._all_closed.set()


class ShortFile(Exception):
    """A file handed to ``http.response.zerocopysend`` ended before its segment did
    (changed under the app): the response is cut."""


class _Connection:
    def __init__(self, server: H1Server, sock_stream: trio.SocketStream, tls: bool) -> None:
        self.server = server
        self.sock = sock_stream.socket
        self.stream: trio.abc.Stream = sock_stream
        if tls:
            assert server.ssl_context is not None
            self.stream = trio.SSLStream(
                sock_stream, server.ssl_context, server_side=True, https_compatible=True
            )
        self.scheme = "https" if tls else "http"
        # plain TCP: the socket's descriptor, read and written directly (``_read_some``,
        # ``send_small``); -1 with TLS, where trio's SSLStream does both
        self.fd = -1 if tls else self.sock.fileno()
        self.wake = -1  # the eventfd that stops a thread writing the socket (made on use)
        self.parser = RequestParser()
        self.idle_scope: trio.CancelScope | None = None
        try:
            self.client: tuple[str, int] | None = tuple(self.sock.getpeername()[:2])
            self.local: tuple[str, int] | None = tuple(self.sock.getsockname()[:2])
        except OSError:
            self.client = self.local = None

    def stop_if_idle(self) -> None:
        if self.idle_scope is not None:
            self.idle_scope.cancel()

    async def run(self) -> None:
        while True:
            try:
                head = await self._read_head()
            except ProtocolError as e:
                await self._refuse(e)
                return
            if head is None:
                return
            if not await _Exchange(self, head).run() or self.server.stopping:
                return

    async def _read_head(self) -> RequestHead | None:
        """The next request's head; None when the client closed, went quiet past the
        keep-alive timeout, or the server is stopping while the connection idles."""
        parser = self.parser
        head_deadline = math.inf
        while True:
            event = parser.next_event()
            if type(event) is RequestHead:
                return event
            if isinstance(event, ProtocolError):
                raise event
            if event is not None:
                continue  # never: a body left unread closes the connection
            idle = parser.idle
            if idle and self.server.stopping:
                return None
            waiting = self._read_now()
            if waiting is not None:  # bytes were waiting: one checkpoint, no timeout scope
                await trio.lowlevel.checkpoint()
                if not waiting:
                    return None
                parser.feed(waiting)
                continue
            if not idle and head_deadline == math.inf:
                head_deadline = trio.current_time() + self.server.header_timeout
            if trio.current_time() >= head_deadline:
                raise ProtocolError(408, "request head not received in time")
            wait = min(self.server.keep_alive_timeout, head_deadline - trio.current_time())
            with trio.move_on_after(wait) as scope:
                if idle:
                    self.idle_scope = scope
                try:
                    data = await self._read_some()
                finally:
                    self.idle_scope = None
            if scope.cancelled_caught and not idle and trio.current_time() >= head_deadline:
                raise ProtocolError(408, "request head not received in time")
            if scope.cancelled_caught or not data:
                return None
            parser.feed(data)

    def _read_now(self) -> bytes | None:
        """What the socket holds now (b"" at its end), None when it holds nothing yet
        or the stream is TLS. A plain socket is read directly: trio's ``receive_some``
        would schedule the task twice (the wait, then a checkpoint after the read)."""
        if self.fd < 0:
            return None
        try:
            return os.read(self.fd, HEAD_RECV)
        except BlockingIOError:
            return None

    async def _read_some(self) -> bytes | bytearray:
        """The next bytes of a request head, waiting for them (the caller bounds the
        wait): one scheduling of the task on plain TCP."""
        if self.fd < 0:
            return await self.stream.receive_some(HEAD_RECV)
        while True:
            await trio.lowlevel.wait_readable(self.sock)
            data = self._read_now()
            if data is not None:
                return data

    async def send_small(self, data: bytes) -> None:
        """``stream.send_all(data)``; on plain TCP a small answer the socket takes whole is
        written at once, without scheduling the task (the request's read checkpointed)."""
        if self.fd >= 0 and len(data) <= DIRECT_SEND:
            try:
                sent = os.write(self.fd, data)
            except BlockingIOError:
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        await self.stream.send_all(data)

    async def send_file(self, fd: int, offset: int, count: int) -> None:
        """``count`` bytes of ``fd`` from ``offset`` to the socket with ``os.sendfile``
        (plain TCP only); after a partial send the task waits until the socket drains,
        which is also its checkpoint. A file shorter than asked: ShortFile."""
        waited = False
        while count > 0:
            try:
                n = os.sendfile(self.fd, fd, offset, count)
            except BlockingIOError:
                n = -1
            if n == 0:
                raise ShortFile(f"file ended {count} bytes before its segment")
            if n > 0:
                offset += n
                count -= n
            if count > 0:
                await trio.lowlevel.wait_writable(self.sock)
                waited = True
        if not waited:
            await trio.lowlevel.checkpoint()

    async def send_from_thread(self, write: Callable[[Writer], None], count: int) -> None:
        """``write(writer)`` in a worker thread, ``writer`` writing to this socket (plain
        TCP only) at most ``count`` bytes; fewer: ShortFile. The task waits for the thread
        even when cancelled: the cancellation stops the thread at its next write or wait
        (``Stopped``), then is raised here."""
        if self.wake < 0:
            self.wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        writer = SocketWriter(self.fd, self.wake, count, self.server.writers)
        token = trio.lowlevel.current_trio_token()
        task = trio.lowlevel.current_task()

        def deliver(result: outcome.Outcome[None]) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(trio.lowlevel.reschedule, task, result)

        def abort(_: Any) -> trio.lowlevel.Abort:
            writer.stopped = True
            os.eventfd_write(self.wake, 1)
            return trio.lowlevel.Abort.FAILED  # rescheduled when the thread has ended

        trio.lowlevel.start_thread_soon(lambda: writer.run(write), deliver)
        try:
            await trio.lowlevel.wait_task_rescheduled(abort)
        except Stopped:
            await trio.lowlevel.checkpoint_if_cancelled()
            raise
        finally:
            if writer.stopped:  # the thread has ended: the eventfd is quiet again
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(self.wake)
        if writer.left:
            raise ShortFile(f"the piece ended {writer.left} bytes short")
        await trio.lowlevel.checkpoint_if_cancelled()

    def close_wake(self) -> None:
        if self.wake >= 0:
            os.close(self.wake)
            self.wake = -1

    async def _refuse(self, err: ProtocolError) -> None:
        body = f"{err}\n".encode()
        head = response_head(
            err.status,
            [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
            chunked=False, close=True,
        )
        with contextlib.suppress(*_NET_ERRORS):
            await self.stream.send_all(head + body)


class _Exchange:
    """One request and its response on a connection."""

    def __init__(self, conn: _Connection, head: RequestHead) -> None:
        self.conn = conn
        self.head = head
        self.body_done = not head.has_body
        self.continue_sent = False
        self.end_delivered = False
        self.disconnected = False  # the body was cut: receive() says so from then on
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.started = False  # the response head is on the wire
        self.finished = False
        self.out_chunked = False
        self.close = False

    def scope(self) -> dict[str, Any]:
        head = self.head
        raw_path, query = split_target(head.target)
        text = raw_path.decode("latin-1")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": head.http_version,
            "method": head.method,
            "scheme": self.conn.scheme,
            "path": unquote(text) if "%" in text else text,
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": head.headers,
            "client": self.conn.client,
            "server": self.conn.local,
            "extensions": {ZEROCOPY: {}, THREADSEND: {}} if self.conn.fd >= 0 else {},
        }

    async def run(self) -> bool:
        """Serve the request; True when the connection can carry another one."""
        try:
            await self.conn.server.app(self.scope(), self.receive, self.send)
        except (ClientGone, *_NET_ERRORS):
            return False
        except Exception:
            log.exception("request %s %r failed", self.head.method, self.head.target)
            if not self.started:
                await self._send_error()
            return False
        if not self.finished:
            if not self.started:
                await self._send_error()
            return False  # a response cut short: only closing tells the client
        if self.close:
            if not self.body_done:
                await self._drain()
            return False
        return self.head.keep_alive

    async def _send_error(self) -> None:
        self.close = True
        with contextlib.suppress(*_NET_ERRORS):
            await self.send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"text/plain"), (b"content-length", b"22")]})
            await self.send({"type": "http.response.body", "body": b"internal server error\n"})

    # ---- ASGI receive -------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        if self.disconnected:
            return {"type": "http.disconnect"}
        if self.body_done:
            if not self.end_delivered:  # a request without a body: one empty message
                self.end_delivered = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await trio.sleep_forever()  # nothing more comes; the app never waits here
        if self.head.expect_continue and not self.continue_sent and not self.started:
            self.continue_sent = True
            await self.conn.stream.send_all(b"HTTP/1.1 100 Continue\r\n\r\n")
        parser = self.conn.parser
        while True:
            piece, end = parser.body_pieces()
            if piece or end:
                self.body_done = end
                self.end_delivered = end
                return {"type": "http.request", "body": piece, "more_body": not end}
            err = parser.peek_error()
            if err is not None:
                log.info("request body refused: %s", err)
                return self._disconnect()
            with trio.move_on_after(self.conn.server.read_timeout) as scope:
                data = await self.conn.stream.receive_some(BODY_RECV)
            if scope.cancelled_caught:
                log.info("request body idle for %ss: closing the connection",
                         self.conn.server.read_timeout)
                return self._disconnect()
            if not data:
                return self._disconnect()
            parser.feed(data)

    def _disconnect(self) -> dict[str, Any]:
        self.close = True
        self.body_done = True
        self.disconnected = True
        return {"type": "http.disconnect"}

    # ---- ASGI send ------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("response already started")
            self.status = int(message["status"])
            self.headers = [(k.lower() if type(k) is bytes else bytes(k).lower(),
                             v if type(v) is bytes else bytes(v))
                            for k, v in message.get("headers", ())]
            return
        if kind == ZEROCOPY and not self.finished:
            await self._send_file(message)
            return
        if kind == THREADSEND and not self.finished:
            await self._send_from_thread(message)
            return
        if kind != "http.response.body" or self.finished:
            return
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        out = b""
        if not self.started:
            started = await self._start(body, more)
            if started is None:
                return
            out = started
        if body and body_allowed(self.head.method, self.status):
            # a lone piece as it is (a fill's bytearray: b"" + it would copy it)
            out = (out + b"%x\r\n%b\r\n" % (len(body), body) if self.out_chunked
                   else out + body if out else body)
        await self._end(out, more)

    async def _end(self, out: bytes, more: bool) -> None:
        """Write ``out``, with the chunked terminator when this was the last message."""
        if not more:
            self.finished = True
            if self.out_chunked:
                out += b"0\r\n\r\n"
        if out:
            await self._write(out)

    async def _start(self, first: bytes, more: bool) -> bytes | None:
        """The response head (the first body message's ``first`` and ``more`` frame it);
        None when the app's head may not go on the wire (a plain 500 went instead)."""
        if not self.status:
            raise RuntimeError("body before http.response.start")
        self.started = True
        try:
            return self._head(first, more)
        except BadResponseHead as e:
            # a programming error above us: the header must not reach the wire
            log.error("response to %s %r refused: %s", self.head.method,
                      self.head.target[:200], e)
            await self._send_plain_500()
            return None

    async def _write(self, out: bytes) -> None:
        with self._client_gone():
            await self.conn.send_small(out)

    @contextlib.contextmanager
    def _client_gone(self) -> Iterator[None]:
        """A network error while answering: the connection closes, ClientGone raised."""
        try:
            yield
        except _NET_ERRORS as e:
            self.close = True
            raise ClientGone(str(e) or type(e).__name__) from None

    async def _send_file(self, message: dict[str, Any]) -> None:
        """``http.response.zerocopysend``: ``count`` bytes of ``file`` (a descriptor, or
        an object with ``fileno()``) from ``offset``, sent with ``os.sendfile``."""
        file = message["file"]
        fd = file if isinstance(file, int) else file.fileno()
        offset, count = int(message.get("offset") or 0), int(message["count"])
        more = bool(message.get("more_body", False))
        if self.conn.fd < 0:  # not offered over TLS; an app that sends it all the same
            data = await trio.to_thread.run_sync(os.pread, fd, count, offset)
            await self.send({"type": "http.response.body", "body": data, "more_body": more})
            return

        async def body() -> None:
            with self._client_gone():
                await self.conn.send_file(fd, offset, count)

        await self._send_framed(count, more, body)

    async def _send_from_thread(self, message: dict[str, Any]) -> None:
        """``aisfs.http.response.threadsend``: ``count`` bytes that ``write(writer)``
        writes to the socket from a worker thread (``aisfs_node/threadsend.py``)."""
        write: Callable[[Writer], None] = message["write"]
        count = int(message["count"])
        more = bool(message.get("more_body", False))
        if self.conn.fd < 0:  # not offered over TLS; an app that sends it all the same
            collector = Collector(count)
            await trio.to_thread.run_sync(write, collector)
            await self.send({"type": "http.response.body", "body": b"".join(collector.pieces),
                             "more_body": more})
            return

        async def body() -> None:
            try:
                await self.conn.send_from_thread(write, count)
            except PeerGone as e:  # only the socket's: the job's own errors go to the app
                self.close = True
                raise ClientGone(str(e)) from None

        await self._send_framed(count, more, body)

    async def _send_framed(
        self, count: int, more: bool, body: Callable[[], Awaitable[None]]
    ) -> None:
        """A body piece of ``count`` bytes that ``body()`` puts on the socket itself
        (sendfile, a thread's writes): the response head first if not sent yet, and a
        chunk's framing around it when the response is chunked."""
        out = b""
        if not self.started:
            started = await self._start(b"", True)
            if started is None:
                return
            out = started
        if count and body_allowed(self.head.method, self.status):
            if self.out_chunked:
                out += b"%x\r\n" % count
            if out:
                await self._write(out)
            await body()
            out = b"\r\n" if self.out_chunked else b""
        await self._end(out, more)

    def _head(self, first: bytes, more: bool) -> bytes:
        headers = self.headers
        allowed = body_allowed(self.head.method, self.status)
        has_length = any(k == b"content-length" for k, _ in headers)
        if self.head.method == "HEAD" or self.status in (204, 304) or self.status < 200:
            pass
        elif not has_length:
            if more:
                if self.head.http_version == "1.1":
                    self.out_chunked = allowed
                else:
                    self.close = True  # 1.0: the end of the body is the end of the stream
            else:
                headers = [*headers, (b"content-length", str(len(first)).encode())]
        if not self.body_done or not self.head.keep_alive or self.conn.server.stopping:
            self.close = True
        return response_head(self.status, headers, chunked=self.out_chunked,
                             close=self.close, http_version=self.head.http_version)

    async def _send_plain_500(self) -> None:
        self.finished = True
        self.close = True
        body = b"internal server error\n"
        out = response_head(500, [(b"content-type", b"text/plain"),
                                  (b"content-length", b"%d" % len(body))],
                            chunked=False, close=True)
        if body_allowed(self.head.method, 500):
            out += body
        with self._client_gone():
            await self.conn.stream.send_all(out)

    async def _drain(self) -> None:
        """Read and drop the rest of an unread body for a while, so closing doesn't
        reset the connection before the client has read the answer."""
        stream = self.conn.stream
        if isinstance(stream, trio.SocketStream):
            with contextlib.suppress(*_NET_ERRORS):
                await stream.send_eof()
        dropped = 0
        with trio.move_on_after(DRAIN_SECONDS), contextlib.suppress(*_NET_ERRORS):
            while dropped < DRAIN_LIMIT:
                data = await stream.receive_some(BODY_RECV)
                if not data:
                    break
                dropped += len(data)
