"""A thin request/response layer over raw ASGI.

The S3 data path runs on raw ASGI rather than through Quart: Quart's request body
(quart/asgi.py ``handle_messages``) appends every received piece to an unbounded
buffer, so a fast client PUTting 5 GiB onto slower disks would be held in memory.
Here the body is pulled from ``receive()`` only as fast as the store takes it, and
Hypercorn's bounded app queue turns that into TCP backpressure.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import trio

from aisfs.errors import S3Error, only, unwrap
from aisfs.store.reader import FileSegment
from aisfs_node.threadsend import ThreadSend

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Piece = TypeVar("Piece", bytes, bytes | memoryview, bytes | FileSegment,
                bytes | memoryview | ThreadSend)

SEND_PIECE = 1024 * 1024
# the ASGI extension (uvicorn's and hypercorn's name) by which a server sends a file's
# bytes itself: the node's own server offers it on plain TCP (aisfs_node/h1server.py)
ZEROCOPY = "http.response.zerocopysend"

log = logging.getLogger("aisfs.http")


class ClientGone(Exception):
    """The client closed the connection while its response was being sent (a reader
    that stopped early, a mount that cancelled a read-ahead): nothing to log loudly."""


class HeaderPairs(list[tuple[str, str]]):
    """What ``Headers.items()`` gives: the (lower-case name, value) pairs, a list, which
    also answers ``get(name)`` with one look-up. The S3 helpers that take pairs
    (``aisfs.s3._headers.get_header``, SigV4's canonical headers) ask ``get`` of what says
    ``case_insensitive`` instead of scanning every pair for every header they want.
    Read-only by contract: an edited copy is a plain list (``list(pairs)``, ``pairs + x``)."""

    __slots__ = ("_map",)
    case_insensitive = True

    def __init__(self, items: dict[str, str]) -> None:
        super().__init__(items.items())
        self._map = items

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._map.get(name)
        return value if value is not None else self._map.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return self


class Headers:
    """Case-insensitive request headers; repeated names are joined with ', '."""

    __slots__ = ("_items", "_pairs")
    case_insensitive = True  # aisfs.s3._headers.get_header asks .get() directly

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        items: dict[str, str] = {}
        for name, value in raw:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            items[key] = f"{items[key]}, {text}" if key in items else text
        self._items = items
        self._pairs: HeaderPairs | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        # the names callers ask for are lower case already: one look-up, then the fold
        value = self._items.get(name)
        return value if value is not None else self._items.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def items(self) -> list[tuple[str, str]]:
        if self._pairs is None:
            self._pairs = HeaderPairs(self._items)
        return self._pairs

    def as_dict(self) -> dict[str, str]:
        return dict(self._items)


class Request:
    """One HTTP request: what the routes read, and the body as a stream."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        self.method: str = scope["method"].upper()
        raw_path = scope.get("raw_path") or scope["path"].encode()
        self.raw_path: str = raw_path.decode("latin-1")
        self.query_string: str = scope.get("query_string", b"").decode("latin-1")
        self.query: list[tuple[str, str]] = (
            parse_qsl(self.query_string, keep_blank_values=True) if self.query_string else []
        )
        self.headers = Headers(scope.get("headers", []))
        self.scheme: str = scope.get("scheme", "http")
        self.client = scope.get("client")
        self.host: str = self.headers.get("host") or ""
        self.body_consumed = False
        self.disconnected = False
        self.bytes_received = 0

    def query_dict(self) -> dict[str, str]:
        return dict(self.query)

    async def body(self) -> AsyncIterator[bytes]:
        """The request body as it arrives, one ASGI message at a time."""
        if self.body_consumed:
            return
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                self.body_consumed = True
                raise S3Error("IncompleteBody", "The client closed the connection mid-body")
            data = message.get("body", b"")
            if data:
                self.bytes_received += len(data)
                yield data
            if not message.get("more_body", False):
                self.body_consumed = True
                return

    async def read_body(self, limit: int) -> bytes:
        """Read a small body (XML documents) whole; past ``limit`` it's refused."""
        parts: list[bytes] = []
        total = 0
        async for data in self.body():
            total += len(data)
            if total > limit:
                raise S3Error(
                    "MaxMessageLengthExceeded", "Your request was too big.", status=400
                )
            parts.append(data)
        return b"".join(parts)


@dataclass(slots=True)
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    # pieces of a stream: bytes, or where the server takes ZEROCOPY - the response's maker
    # asks (``zero_copy``) - a FileSegment (aisfs/store/reader.py), or where it takes
    # THREADSEND a ThreadSend (aisfs_node/threadsend.py: an encrypted GET's chunk)
    body: (bytes | AsyncIterable[bytes] | AsyncIterable[bytes | FileSegment]
           | AsyncIterable[bytes | memoryview]
           | AsyncIterable[bytes | memoryview | ThreadSend]) = b""
    # HEAD answers carry Content-Length of the entity without sending it
    head: bool = False

    def header(self, name: str, value: str) -> Response:
        self.headers.append((name, value))
        return self


async def send_response(send: Send, response: Response) -> int:
    """Send ``response``; returns the number of body bytes sent."""
    headers = []
    has_length = False
    for k, v in response.headers:  # one pass: encode, and look for a Content-Length
        if not has_length and len(k) == 14 and k.lower() == "content-length":
            has_length = True
        headers.append((k.encode("latin-1"), v.encode("latin-1")))
    body = response.body
    if isinstance(body, bytes | bytearray) and not response.head and not has_length:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if response.head or response.status in (204, 304):
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        if not isinstance(body, bytes | bytearray):
            closer = getattr(body, "aclose", None)
            if closer is not None:
                await closer()
        return 0
    if isinstance(body, bytes | bytearray):
        await send({"type": "http.response.body", "body": bytes(body), "more_body": False})
        return len(body)
    sent = 0
    try:
        async for piece in body:
            if type(piece) is FileSegment:
                sent += piece.count
                await send({"type": ZEROCOPY, "file": piece.fd, "offset": piece.offset,
                            "count": piece.count, "more_body": True})
            elif type(piece) is ThreadSend:  # written by a worker thread (threadsend.py)
                sent += piece.count
                await send(piece.message())
            elif piece:
                sent += len(piece)
                await send({"type": "http.response.body", "body": piece, "more_body": True})
    finally:
        closer = getattr(body, "aclose", None)  # e.g. the client left: stop reading now
        if closer is not None:
            await closer()
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return sent


def offers(scope: Scope, extension: str) -> bool:
    """Whether the server of ``scope`` offers the ASGI ``extension``."""
    extensions = scope.get("extensions")
    return extensions is not None and extension in extensions


def zero_copy(scope: Scope) -> bool:
    """Whether the server of ``scope`` sends a file's bytes itself (``ZEROCOPY``)."""
    return offers(scope, ZEROCOPY)


async def first_piece_read(pieces: AsyncIterator[Piece]) -> AsyncIterator[Piece]:
    """``pieces`` with its first piece already read: an error reading it (a corrupt
    object with no good copy) raises here, before any header is sent, instead of cutting
    a response that has started."""
    first: Piece | None
    try:
        first = await pieces.__anext__()
    except StopAsyncIteration:
        first = None
    except BaseException:
        await pieces.aclose()  # type: ignore[attr-defined]
        raise

    async def stream() -> AsyncIterator[Piece]:
        try:
            if first is not None and len(first):
                yield first
            async for piece in pieces:
                yield piece
        finally:
            await pieces.aclose()  # type: ignore[attr-defined]

    return stream()


async def send_or_cut(
    send: Send, response: Response, what: str, request_id: str | None = None
) -> tuple[int, bool]:
    """Send ``response``: (body bytes sent, whether an error cut it short once the
    headers were out - logged, naming ``what``). A client that left is not an error; a
    cancellation (the stop deadline) propagates."""
    try:
        return await send_response(send, response), False
    except (trio.Cancelled, KeyboardInterrupt):
        raise
    except ClientGone as exc:
        log.debug("%s: the client left mid-response: %s", what, exc)
        return 0, False
    except BaseException as exc:
        if only(exc, trio.Cancelled):
            raise
        # the headers are out (e.g. a chunk with no good copy left, found while
        # streaming): all that is left is to cut the response short
        log.error("%s: response aborted: %s", what, unwrap(exc),
                  extra={"request_id": request_id} if request_id else None)
        return 0, True
