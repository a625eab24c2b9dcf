"""A read worker hands a request to the node's primary process over its Unix socket.

``Forwarder`` is the worker's side (aisfs_node/workers.py): the request goes out as it
came (method, target, headers: Host, path and query unchanged, so SigV4 verifies at the
primary), the body streamed from the client as the primary reads it, the answer streamed
back piece by piece (never a whole body in memory). ``Expect: 100-continue`` is passed
on: the client's body is read (and its ``100 Continue`` sent) only once the primary asked
for it, and a primary that answers at once (403, 400) gets no body. The client's address
and scheme go in ``x-aisfs-worker-client``; the connections to the primary are kept alive and
reused, one request at a time each.

``TrustedClient`` is the primary's side: on the Unix socket only (0600, in a 0700
directory: the node's own processes) it takes the client address from that header.
``StripClient`` removes the header from every TCP request, where it is an attacker's.
"""

from __future__ import annotations

import contextlib
import logging
import select
from typing import Any

import h11
import trio

from aisfs.errors import S3Error
from aisfs_node.errors import s3_error
from aisfs_node.http import ClientGone, send_response

log = logging.getLogger("aisfs.workers")

CLIENT_HEADER = b"x-aisfs-worker-client"
RECV = 256 * 1024
IDLE_MAX = 64  # kept-alive connections to the primary per worker
_NET_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
# not passed on: the hop's own framing and connection management (h11 frames each hop)
_HOP = frozenset((b"connection", b"keep-alive", b"transfer-encoding", b"content-length",
                  b"te", b"upgrade", b"proxy-connection", CLIENT_HEADER))

Scope = dict[str, Any]


class _Upstream:
    """One kept-alive HTTP/1.1 connection to the primary."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)
        self.reused = False  # taken from the idle ones: the primary may have closed it
        self.pending = b""

    def closed_by_peer(self) -> bool:
        """An idle connection the primary closed (keep-alive timeout, a stop)."""
        try:  # an idle connection has nothing to read but its end
            return bool(select.select([self.stream.socket.fileno()], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    async def next_event(self) -> Any:
        try:
            while True:
                event = self.conn.next_event()
                if event is not h11.NEED_DATA:
                    return event
                data = await self.stream.receive_some(RECV)
                self.conn.receive_data(data)
        except (*_NET_ERRORS, h11.RemoteProtocolError) as e:
            raise UpstreamGone(str(e) or type(e).__name__) from None

    async def send(self, event: Any, flush: bool = True) -> None:
        """Frame ``event``; written with what is pending when ``flush`` (a request's
        head goes out with its first body piece: one write, one wake-up of the primary)."""
        data = self.conn.send(event)
        if data:
            self.pending += data
        if flush and self.pending:
            out, self.pending = self.pending, b""
            try:
                await self.stream.send_all(out)
            except _NET_ERRORS as e:
                raise UpstreamGone(str(e) or type(e).__name__) from None


class UpstreamGone(Exception):
    """The connection to the primary broke (it closed an idle one, it is stopping)."""


class _Progress:
    """How far a forwarded request got on the client's side: retried on a new
    connection only while nothing was taken from the client or sent to it."""

    __slots__ = ("body_taken", "started")

    def __init__(self) -> None:
        self.body_taken = False
        self.started = False


class Forwarder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.idle: list[_Upstream] = []

    async def _connect(self) -> _Upstream:
        while self.idle:
            up = self.idle.pop()
            if not up.closed_by_peer():
                up.reused = True
                return up
            await up.stream.aclose()
        return _Upstream(await trio.open_unix_socket(self.path))

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        for attempt in (1, 2):
            try:
                up = await self._connect()
            except OSError as e:
                log.warning("the primary is not answering on %s: %s", self.path, e)
                await _unavailable(send, scope)
                return
            progress = _Progress()
            reusable = False
            try:
                reusable = await self._exchange(up, scope, receive, send, progress)
                return
            except UpstreamGone as e:
                if progress.started:  # the answer is cut: only closing tells the client
                    raise ClientGone(f"the primary's connection broke: {e}") from None
                if attempt == 1 and up.reused and not progress.body_taken:
                    # an idle connection the primary closed as it was taken: the request
                    # never reached it
                    log.info("the primary's connection broke (%s): again on a new one", e)
                    continue
                log.warning("the primary's connection broke: %s", e)
                await _unavailable(send, scope)
                return
            finally:
                if reusable and len(self.idle) < IDLE_MAX:
                    up.conn.start_next_cycle()
                    self.idle.append(up)
                else:
                    with trio.CancelScope(shield=True):
                        await trio.aclose_forcefully(up.stream)

    async def _exchange(self, up: _Upstream, scope: Scope, receive: Any, send: Any,
                        progress: _Progress) -> bool:
        """One request through ``up``; True when it can carry another."""
        try:
            request, has_body, expect = request_of(scope)
            await up.send(request, flush=expect)
        except h11.LocalProtocolError as e:  # a header the primary would not take either
            log.info("request not forwarded: %s", e)
            await _plain(send, 400, b"bad request\n")
            return False
        event: Any = None
        if has_body:
            if expect:  # the primary asks for the body (100) or answers without it
                event = await up.next_event()
                while type(event) is h11.InformationalResponse and event.status_code != 100:
                    event = await up.next_event()
                if type(event) is h11.InformationalResponse:
                    event = None
            progress.body_taken = event is None
            if event is None and not await self._pump(up, receive):
                # the client's body was cut (it left, or its framing is bad): the
                # primary's connection is closed, so it stores nothing; the answer is
                # the one the primary gives a cut body
                err = S3Error("IncompleteBody", "The client closed the connection mid-body")
                path = scope["raw_path"].decode("latin-1")
                await send_response(send, s3_error(err, path, "", False))
                return False
        else:
            await up.send(h11.EndOfMessage())
        if event is None:
            event = await up.next_event()
        while type(event) is h11.InformationalResponse:
            event = await up.next_event()
        if type(event) is not h11.Response:
            raise UpstreamGone(f"the primary answered {type(event).__name__}")
        out = [(k, v) for k, v in event.headers
               if k not in (b"connection", b"keep-alive", b"transfer-encoding")]
        progress.started = True
        await send({"type": "http.response.start", "status": event.status_code,
                    "headers": out})
        while True:
            event = await up.next_event()
            if type(event) is h11.Data:
                await send({"type": "http.response.body", "body": bytes(event.data),
                            "more_body": True})
            elif type(event) is h11.EndOfMessage:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                break
            else:  # the primary closed mid-answer: the client's answer is cut too
                raise UpstreamGone("the primary closed the connection mid-answer")
        return up.conn.our_state is h11.DONE and up.conn.their_state is h11.DONE

    async def _pump(self, up: _Upstream, receive: Any) -> bool:
        """The client's body to the primary; False when the client went away (the
        primary sees the body cut: nothing is stored)."""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return False
            body = message.get("body", b"")
            more = message.get("more_body", False)
            try:
                if body:
                    await up.send(h11.Data(data=body), flush=more)
                if not more:
                    await up.send(h11.EndOfMessage())
                    return True
            except UpstreamGone:
                # the primary answered early and closed (it may have refused the
                # request): its answer is read next, when there is one
                with contextlib.suppress(h11.LocalProtocolError):
                    up.conn.send_failed()
                return True


def request_of(scope: Scope) -> tuple[h11.Request, bool, bool]:
    """The request to send the primary; whether it has a body; whether the client
    expects ``100 Continue``. Raises h11.LocalProtocolError for what h11 will not send."""
    head: list[tuple[bytes, bytes]] = scope["headers"]
    headers = [(k, v) for k, v in head if k not in _HOP]
    has_body = False
    expect = False
    for k, v in head:
        if k == b"content-length":
            has_body = v.strip() not in (b"0", b"")
            headers.append((k, v))
        elif k == b"transfer-encoding":
            has_body = True
        elif k == b"expect":
            expect = v.strip().lower() == b"100-continue"
    if has_body and not any(k == b"content-length" for k, _ in headers):
        headers.append((b"transfer-encoding", b"chunked"))
    client = scope.get("client") or ("", 0)
    headers.append((CLIENT_HEADER,
                    f"{scope.get('scheme', 'http')} {client[0]} {client[1]}".encode()))
    target = scope["raw_path"] + (b"?" + scope["query_string"]
                                  if scope.get("query_string") else b"")
    request = h11.Request(method=scope["method"].encode(), target=target, headers=headers,
                          http_version="1.1")
    return request, has_body, expect


async def _unavailable(send: Any, scope: Scope) -> None:
    err = S3Error("ServiceUnavailable", "Please reduce your request rate.", status=503)
    response = s3_error(err, scope["raw_path"].decode("latin-1"), "", scope["method"] == "HEAD")
    response.headers.append(("retry-after", "1"))
    await send_response(send, response)


async def _plain(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def client_of(value: bytes) -> tuple[str, tuple[str, int] | None]:
    """The scheme and the client address of ``x-aisfs-worker-client: SCHEME HOST PORT``
    (None: unknown)."""
    scheme, _, rest = value.decode("latin-1").partition(" ")
    host, _, port = rest.rpartition(" ")
    scheme = "https" if scheme == "https" else "http"
    if not host or not port.isdigit():
        return scheme, None
    return scheme, (host, int(port))


class TrustedClient:
    """The primary's app behind its Unix socket: the worker's client address is the
    request's (for aws:SourceIp and the log); the header itself is removed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scheme, client = "http", None
            kept = []
            for k, v in scope["headers"]:
                if k == CLIENT_HEADER:
                    scheme, client = client_of(v)
                else:
                    kept.append((k, v))
            scope["headers"] = kept
            scope["client"] = client
            scope["scheme"] = scheme
            scope["server"] = None
        await self.app(scope, receive, send)


class StripClient:
    """The primary's app on TCP when it has workers: ``x-aisfs-worker-client`` from a
    client is dropped (only a worker, over the Unix socket, may say who the client is)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and any(k == CLIENT_HEADER for k, _ in scope["headers"]):
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != CLIENT_HEADER]
        await self.app(scope, receive, send)
