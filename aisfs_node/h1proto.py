"""HTTP/1.1 server-side framing, sans-IO: request framing by llhttp, response heads.

This is the protocol half of ``aisfs_node.h1server`` (the trio half owns sockets and the ASGI
calls). Requests are framed by llhttp, Node.js's parser, through httptools: request
line, headers, Content-Length and chunked bodies, trailers, pipelining. llhttp runs
with every leniency off (its strict mode), so what it refuses - bare LF anywhere,
obs-fold, a space before a header's colon or in a chunk size, duplicate or malformed
Content-Length, Transfer-Encoding beside Content-Length, chunk-size overflow, raw
bytes above 0x7f in the target - is refused here, and what it frames is framed exactly
as it frames it. One shortcut: the bytes of a Content-Length body that come after the
feed that held its head are not fed to llhttp (its on_body copied each one, ~0.1 s of CPU
per GiB uploaded) but passed on as received and counted against the length llhttp
framed and checked; a new llhttp takes what follows the body. On top of it this module
adds the policy llhttp leaves to its user: head size and header count limits (431),
Host on HTTP/1.1, only ``chunked`` as a transfer coding (501), no protocol upgrade
(501), HTTP/1.0 with Transfer-Encoding answered then closed (RFC 9112 section 6.1).

Response heads are still written here, and every name and value is checked on the way
out (token characters; no CR, LF or NUL in a value): a header the app got wrong never
reaches the wire.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate

import httptools

MAX_HEAD = 64 * 1024  # request line + headers
MAX_HEADERS = 128

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")

REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    206: "Partial Content", 301: "Moved Permanently", 304: "Not Modified",
    307: "Temporary Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
    411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
    416: "Range Not Satisfiable", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
    505: "HTTP Version Not Supported", 507: "Insufficient Storage",
}


class ProtocolError(Exception):
    """The client broke HTTP/1.1: answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class BadResponseHead(ValueError):
    """The app asked for a response header that may not go on the wire."""


@dataclass(slots=True)
class RequestHead:
    method: str
    target: bytes
    http_version: str  # "1.1" or "1.0"
    headers: list[tuple[bytes, bytes]]  # names lower-cased, values stripped
    content_length: int | None = None
    chunked: bool = False
    keep_alive: bool = True
    expect_continue: bool = False

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


class EndOfMessage:
    """The request body (if any) is complete."""

    __slots__ = ()


END = EndOfMessage()

Event = RequestHead | bytes | EndOfMessage | ProtocolError


class RequestParser:
    """Feed it the bytes of a connection; take events out in order with ``next_event``.

    Events: a ``RequestHead`` per request and, when it ``has_body``, its body pieces
    (``bytes``) and ``END``; pipelined requests one after the other; a ``ProtocolError``
    where the bytes stop being HTTP (nothing is framed after it: answer its status and
    close). The events
    of a request are produced only from bytes fed, so a caller that feeds only when it
    wants more keeps backpressure on the client; what one feed holds of later requests
    waits here, bounded by the feed's size.
    """

    __slots__ = (
        "_p", "_events", "_url", "_headers", "_head_size", "_in_head", "_in_body",
        "_fed_in_head", "_error", "_cl", "_te", "_host", "_conn", "_expect", "_bodyless",
        "dead", "_left",
    )

    def __init__(self) -> None:
        self._p = self._llhttp()
        self._left: int | None = None  # bytes to come of a body passed on as received
        self._events: deque[Event] = deque()
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._in_head = False  # a request began and its head isn't complete
        self._in_body = False
        self._fed_in_head = 0
        self._error: ProtocolError | None = None
        self._cl: int | None = None
        self._te: list[bytes] = []
        self._host = False
        self._conn = b""
        self._expect = b""
        self._bodyless = False
        self.dead = False  # a ProtocolError was produced: nothing more is parsed

    def _llhttp(self) -> httptools.HttpRequestParser:
        p = httptools.HttpRequestParser(self)
        # llhttp's strict mode: every leniency off (they are off by default; say so)
        p.set_dangerous_leniencies(
            lenient_headers=False, lenient_chunked_length=False, lenient_keep_alive=False,
            lenient_transfer_encoding=False, lenient_version=False,
            lenient_data_after_close=False, lenient_optional_lf_after_cr=False,
            lenient_optional_cr_before_lf=False, lenient_optional_crlf_after_chunk=False,
            lenient_spaces_after_chunk_size=False,
        )
        return p

    @property
    def idle(self) -> bool:
        """No byte of a next request is waiting (the keep-alive state)."""
        return not self._events and not self._in_head and not self._in_body

    def feed(self, data: bytes | bytearray) -> None:
        if self.dead or not data:
            return
        left = self._left
        if left is not None:
            # the rest of a Content-Length body: passed on as received (no copy of a
            # bytes); llhttp framed its head and checked its length, it takes no more of
            # it - a new llhttp takes what follows
            if type(data) is not bytes:
                data = bytes(data)
            if len(data) < left:
                self._left = left - len(data)
                self._events.append(data)
                return
            self._events.append(data if len(data) == left else data[:left])
            self._end_message()
            self._p = self._llhttp()
            data = data[left:]
            if not data:
                return
        was_in_head = self._in_head
        try:
            self._p.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError(501, "protocol upgrade is not supported"))
            return
        except httptools.HttpParserError as e:  # the URL, callback and plain errors
            self._fail(self._error or ProtocolError(400, f"malformed request: {e}"))
            return
        if self._in_head:
            # a header llhttp is still reading is not shown to us until it ends: bound it
            # by the bytes fed meanwhile (a feed in which the request began isn't counted)
            if was_in_head:
                self._fed_in_head += len(data)
            if self._fed_in_head > MAX_HEAD:
                self._fail(ProtocolError(431, "request head too large"))

    def next_event(self) -> Event | None:
        """The next event, None when more bytes are needed."""
        return self._events.popleft() if self._events else None

    def body_pieces(self) -> tuple[bytes, bool]:
        """Every body piece waiting, joined, and whether the body's end came after them
        (a caller that has the request's head and wants its body)."""
        events = self._events
        pieces: list[bytes] = []
        while events and type(events[0]) is bytes:
            pieces.append(events.popleft())  # type: ignore[arg-type]
        end = bool(events) and events[0] is END
        if end:
            events.popleft()
        return (pieces[0] if len(pieces) == 1 else b"".join(pieces)), end

    def peek_error(self) -> ProtocolError | None:
        if self._events and isinstance(self._events[0], ProtocolError):
            return self._events[0]
        return None

    def _fail(self, err: ProtocolError) -> None:
        events = self._events
        if events and type(events[-1]) is RequestHead and events[-1].has_body:
            # llhttp refused the request right after its head (a Transfer-Encoding it
            # checks then, a bad first chunk): the app never sees it, the client gets
            # the refusal
            events.pop()
        self.dead = True
        self._in_head = self._in_body = False
        self._events.append(err)

    def _raise(self, err: ProtocolError) -> None:
        self._error = err
        raise err

    # ---- llhttp callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_head = True
        self._fed_in_head = 0
        self._url = b""
        self._headers = []
        self._head_size = 0
        self._cl = None
        self._te = []
        self._host = False
        self._conn = self._expect = b""

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_size += len(url)
        if self._head_size > MAX_HEAD:
            self._raise(ProtocolError(431, "request head too large"))

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._in_body:
            return  # a trailer field (llhttp checked its syntax): dropped
        self._head_size += len(name) + len(value) + 4
        if self._head_size > MAX_HEAD:
            self._raise(ProtocolError(431, "request head too large"))
        if len(self._headers) >= MAX_HEADERS:
            self._raise(ProtocolError(431, "too many header fields"))
        name = name.lower()
        value = value.rstrip(b" \t")  # llhttp drops the leading whitespace only
        self._headers.append((name, value))
        if name == b"content-length":
            self._cl = int(value)  # llhttp checked: digits only, once, no overflow
        elif name == b"transfer-encoding":
            self._te += [v.strip(b" \t").lower() for v in value.split(b",")]
        elif name == b"host":
            self._host = True
        elif name == b"connection":
            self._conn += b"," + value.lower()
        elif name == b"expect":
            self._expect = value.lower()

    def on_headers_complete(self) -> None:
        p = self._p
        version = p.get_http_version()
        if version != "1.1" and version != "1.0":
            self._raise(ProtocolError(505, "unsupported HTTP version"))
        if p.should_upgrade():
            self._raise(ProtocolError(501, "protocol upgrade is not supported"))
        if version == "1.1" and not self._host:
            self._raise(ProtocolError(400, "missing Host header"))
        head = RequestHead(p.get_method().decode("ascii"), self._url, version, self._headers)
        keep_alive = bool(p.should_keep_alive())
        if self._te:
            if self._te != [b"chunked"]:
                self._raise(ProtocolError(501, "unsupported Transfer-Encoding"))
            head.chunked = True
            if version == "1.0":
                keep_alive = False  # RFC 9112 6.1: the framing is faulty; close after
        else:
            head.content_length = self._cl
        head.keep_alive = keep_alive
        head.expect_continue = version == "1.1" and self._expect == b"100-continue"
        self._bodyless = not head.has_body
        # a body whose length is declared: what comes of it after this feed is not fed
        # to llhttp (on_body's copy of each byte, ~0.1 s per GiB), only counted - on a
        # connection that stays open: after the last message llhttp refuses any byte
        # (strict ``data_after_close``), which a new llhttp would parse as a request
        self._left = (head.content_length if keep_alive and not head.chunked
                      and head.content_length else None)
        self._in_head = False
        self._in_body = True
        self._events.append(head)

    def on_body(self, body: bytes) -> None:
        if self._left is not None:
            self._left -= len(body)
        self._events.append(body)

    def on_message_complete(self) -> None:
        self._end_message()

    def _end_message(self) -> None:
        self._left = None
        self._in_body = False
        if not self._bodyless:
            self._events.append(END)


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """(raw path, query string) of a request target; absolute-form loses its authority."""
    if target.startswith((b"http://", b"https://")):
        rest = target.split(b"//", 1)[1]
        slash = rest.find(b"/")
        q = rest.find(b"?")
        if slash < 0 or 0 <= q < slash:
            target = b"/" + rest[q:] if q >= 0 else b"/"
        else:
            target = rest[slash:]
    path, _, query = target.partition(b"?")
    return path, query


@dataclass(slots=True)
class _DateCache:
    second: int = -1
    value: bytes = b""

    def now(self) -> bytes:
        sec = int(time.time())
        if sec != self.second:
            self.second = sec
            self.value = formatdate(sec, usegmt=True).encode("ascii")
        return self.value


_date = _DateCache()
_good_names: set[bytes] = set()


def check_header_name(name: bytes) -> None:
    if name in _good_names:
        return
    if not _TOKEN.match(name):
        raise BadResponseHead(f"invalid response header name {name!r}")
    if len(_good_names) < 4096:
        _good_names.add(name)


def response_head(
    status: int, headers: list[tuple[bytes, bytes]], *, chunked: bool, close: bool,
    http_version: str = "1.1",
) -> bytes:
    """The status line and headers; adds Date, and the framing/connection headers asked.

    Raises BadResponseHead when a header name is not a token or a value holds CR, LF
    or NUL (what splits a response or cuts it short), or the status is not 3 digits.
    """
    if not 100 <= status <= 999:
        raise BadResponseHead(f"invalid response status {status!r}")
    reason = REASONS.get(status, "")
    lines = [f"HTTP/1.1 {status} {reason}".encode("ascii")]
    has_date = False
    good = _good_names
    for name, value in headers:
        if name == b"date":
            has_date = True
        if name not in good:
            check_header_name(name)
        lines.append(name + b": " + value)
    if not has_date:
        lines.append(b"date: " + _date.now())
    if chunked:
        lines.append(b"transfer-encoding: chunked")
    if close:
        lines.append(b"connection: close")
    elif http_version == "1.0":
        lines.append(b"connection: keep-alive")
    lines.append(b"\r\n")
    head = b"\r\n".join(lines)
    # the joins put exactly len(lines) CRLF pairs in; one more CR or LF is a value's
    # (three C scans, ~0.5 us for a usual head; a regex over the head cost 2.5 us)
    n = len(lines)
    if head.count(b"\n") != n or head.count(b"\r") != n or b"\0" in head:
        bad = [n for n, v in headers if b"\r" in v or b"\n" in v or b"\0" in v]
        raise BadResponseHead(f"invalid value in response header(s) {bad!r}")
    return head


def body_allowed(method: str, status: int) -> bool:
    return method != "HEAD" and status >= 200 and status not in (204, 304)
