"""HEAD and GET Object on the event loop: SigV4-signed with aisfs.s3's own signing
functions, sent over kept-alive HTTP/1.1 connections, no worker thread, no botocore.

A bucket with ``versioning.validate_warm_get`` asks the backend one HEAD per warm GET, and
every cold GET (a client's, a prefetch's) is a backend GET. Through botocore each cost the
front ~1 ms of CPU (its request pipeline: events, endpoint rules, the parse of the response
into a model) and two worker-thread hand-offs, and a GET's body one more hand-off per
piece - several times what a small object's fill costs otherwise. Here a request is a
signature (three HMACs and a SHA-256 of a short text; the signing key cached per day), one
request written, one response head parsed; a body is read from the socket as it comes.

The HTTP is the small part S3 needs, written here: a response head up to ``HEAD_LIMIT``
bytes, a body framed by its Content-Length. A GET's error answer is read (its S3 error
document, up to ``ERROR_LIMIT``) and mapped by ``errors.backend_error`` as botocore's
ClientError would be; a HEAD's statuses map here the same way. Anything else - a body
without a Content-Length (chunked), an error answer with neither a code nor a status we
know - is ``Fallback``: the caller makes the request again through botocore.

Used for backends with static keys and an endpoint (``LeanClient.usable``); others (the
AWS credential chain, a profile, AWS itself) keep botocore's path. Network failures, a
timeout or a 5xx are retried as ``retry.py`` does.
"""

from __future__ import annotations

import dataclasses
import email.utils
import functools
import hashlib
import html
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import trio
from botocore.exceptions import ClientError

from ..errors import S3Error
from ..s3.signing_keys import SigningKeyCache, sign
from ..s3.sigv4 import ALGORITHM, string_to_sign
from ..store.types import STORED_HEADERS
from .direct_io import AlignedPool
from .errors import backend_error
from .retry import backoff
from .settings import S3Settings
from .types import RemoteAttrs

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
HEAD_LIMIT = 64 * 1024  # bytes of a response's head, at most
ERROR_LIMIT = 64 * 1024  # bytes of a GET's error document read here (more: botocore)
RECEIVE = 4 * 1024 * 1024  # bytes asked of the socket per receive of a body
LOWAT = 4 * 1024 * 1024  # a body's socket wakes the loop once this much came (SO_RCVLOWAT)
LOWAT_WAIT = 0.05  # seconds a receive waits for LOWAT bytes before it takes what came
WHERE_KEPT = 4096  # request targets kept (``LeanClient._where``)
_STATUS_CODES = {304: "NotModified", 404: "NoSuchKey", 412: "PreconditionFailed"}
_META = "x-amz-meta-"
_NETWORK = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError)


class _Retryable(Exception):
    """A network failure, a timeout or a 5xx: the request may be made again."""


class _Broken(Exception):
    """What the backend sent is not HTTP we read (a head too long or malformed)."""


class Fallback(Exception):
    """An answer the lean path leaves to botocore: make the request through it."""


@dataclass(slots=True)
class _Conn:
    stream: trio.abc.Stream
    buf: bytearray = field(default_factory=bytearray)  # received, not yet taken
    lowat: int = 1  # the socket's SO_RCVLOWAT (``LeanBody._receive``)
    # plain TCP: the stdlib socket under ``stream`` (trio's wraps this very object), for
    # a request's small write and a response head's receive without trio's socket layer
    # (``_send_small``, ``_receive_some``: ~25 us of the loop's CPU per exchange)
    raw: socket.socket | None = None


@dataclass(frozen=True, slots=True)
class _Head:
    status: int
    fields: dict[str, str]  # lower-case names
    keep: bool  # the connection may carry another exchange


@dataclass(frozen=True, slots=True)
class LeanOpened:
    """A GET whose head is in: the object's attributes and its body, to be read."""

    attrs: RemoteAttrs
    length: int
    content_range: str
    body: LeanBody


class LeanClient:
    """HEAD and GET requests to one backend (an ``S3Settings`` with static keys)."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        url = urlsplit(settings.endpoint)
        self._tls = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port or (443 if self._tls else 80)
        default = self._port == (443 if self._tls else 80)
        self._netloc = self._host if default else f"{self._host}:{self._port}"
        self._base = url.path.rstrip("/")
        self._keys = SigningKeyCache(4)
        self._idle: list[_Conn] = []
        self.buffers = Buffers()
        self._targets: dict[tuple[str, str], tuple[str, str]] = {}
        self._date, self._date_at = "", -1
        self._ssl: ssl.SSLContext | None = None
        if self._tls:
            self._ssl = ssl.create_default_context(cafile=settings.ca_file or None)
            if not settings.verify_tls:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE

    @staticmethod
    def usable(settings: S3Settings) -> bool:
        url = urlsplit(settings.endpoint)
        return (bool(settings.access_key and settings.secret_key and not settings.profile)
                and url.scheme in ("http", "https") and bool(url.hostname))

    async def head(
        self, bucket: str, key: str, *, if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> RemoteAttrs:
        """The object's attributes; S3Error as ``backend_error`` would give."""
        request = self._request("HEAD", bucket, key, _conditions(if_match, if_none_match))
        conn, head = await self._retried(request, key)
        await self._release(conn, head.keep)
        return self._answer(head, key)

    async def open(
        self, bucket: str, key: str, *, range_header: str | None = None,
        if_match: str | None = None, if_none_match: str | None = None,
    ) -> LeanOpened:
        """Start a GET: its head read, its body left to read (``LeanBody``). ``Fallback``
        for an answer other than a 200/206 framed by a Content-Length."""
        extra = _conditions(if_match, if_none_match)
        if range_header:
            extra.append(("range", range_header))
        if any("\r" in v or "\n" in v for _, v in extra):
            raise Fallback("a header value botocore should refuse")
        conn, head = await self._retried(self._request("GET", bucket, key, extra), key)
        fields = head.fields
        length = fields.get("content-length", "")
        framed = length.isdigit() and "transfer-encoding" not in fields
        if head.status >= 300 and framed and int(length) <= ERROR_LIMIT:
            body = LeanBody(self, conn, int(length), head.keep, key)
            try:
                document = await body.read(int(length)) if int(length) else b""
            finally:
                await body.aclose()
            raise self._refusal(head.status, document, key)
        if head.status not in (200, 206) or not framed:
            await _close(conn)
            raise Fallback(f"HTTP {head.status}")
        crange = fields.get("content-range", "")
        attrs = _attrs(fields)
        total = crange.rpartition("/")[2]
        if total.isdigit():
            attrs = dataclasses.replace(attrs, size=int(total))
        size = int(length)
        body = LeanBody(self, conn, size, head.keep, key)
        return LeanOpened(attrs, size, crange, body)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close(conn)

    def _refusal(self, status: int, document: bytes, key: str) -> Exception:
        """A GET's error answer as botocore's would be mapped (``backend_error`` of its
        ClientError): the S3 error document's Code, else the status; ``Fallback`` (ask
        botocore) when there is neither a code nor a status it maps by itself."""
        text = document.decode("utf-8", "replace")
        code = _element(text, "Code")
        if not code and status not in (304, 403, 404, 412, 416):
            return Fallback(f"HTTP {status} without an error code")
        answer: Any = {"Error": {"Code": code or str(status),
                                 "Message": _element(text, "Message")},
                       "ResponseMetadata": {"HTTPStatusCode": status}}
        return backend_error(ClientError(answer, "GetObject"), self.settings.label, key)

    # -- one exchange ---------------------------------------------------------------

    async def _retried(self, request: bytes, key: str) -> tuple[_Conn, _Head]:
        attempt = 0
        while True:
            try:
                return await self._exchange(request)
            except _Retryable as e:
                if attempt >= self.settings.retries:
                    raise S3Error(
                        "ServiceUnavailable", f"The {self.settings.label}: {e}", key,
                        status=503,
                    ) from None
                attempt += 1
                await trio.sleep(backoff(attempt))

    async def _exchange(self, request: bytes) -> tuple[_Conn, _Head]:
        """``request`` sent, the response's head read: the connection (now the caller's,
        to ``_release`` or close) and the head. A 5xx is retryable (its connection closed)."""
        while True:
            conn, reused = await self._connection()
            head: _Head | None = None
            try:
                with trio.CancelScope(deadline=trio.current_time()
                                      + self.settings.read_timeout):
                    await _send_small(conn, request)
                    head = await _read_head(conn)
                if head is None:  # the deadline passed
                    raise trio.TooSlowError
            except (*_NETWORK, _Broken) as e:
                if reused and not isinstance(e, trio.TooSlowError | _Broken):
                    continue  # the backend closed a kept-alive connection: a fresh one
                raise _Retryable(f"unreachable or too slow: {type(e).__name__} {e}") from e
            finally:
                if head is None:  # failed or cancelled
                    await _close(conn)
            if head.status >= 500:
                await _close(conn)
                raise _Retryable(f"HTTP {head.status}")
            return conn, head

    def _request(self, method: str, bucket: str, key: str, extra: list[tuple[str, str]],
                 query: str = "", payload: str = EMPTY_SHA256) -> bytes:
        """A signed request's head: ``query`` canonical already, ``payload`` the body's
        hash as signed (the empty body's by default; a PUT's ``UNSIGNED-PAYLOAD``)."""
        host, target = self._where(bucket, key)
        headers = [("host", host), ("x-amz-content-sha256", payload),
                   ("x-amz-date", self._amz_date())]
        if self.settings.session_token:
            headers.append(("x-amz-security-token", self.settings.session_token))
        headers += extra
        headers.append(("authorization",
                        self._authorization(method, target, headers, query, payload)))
        line = f"{method} {target}?{query} HTTP/1.1" if query else f"{method} {target} HTTP/1.1"
        return "\r\n".join([line, *(f"{n}: {v}" for n, v in headers), "", ""]).encode()

    def _amz_date(self) -> str:
        """X-Amz-Date, made once a second."""
        now = int(time.time())
        if now != self._date_at:
            self._date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
            self._date_at = now
        return self._date

    def _where(self, bucket: str, key: str) -> tuple[str, str]:
        """(Host, request target) as botocore's path or virtual addressing has them (the
        last ``WHERE_KEPT`` kept: a validated key is asked for again and again)."""
        found = self._targets.get((bucket, key))
        if found is not None:
            return found
        path = quote(key, safe="/-_.~")
        if self.settings.addressing == "virtual":
            found = f"{bucket}.{self._netloc}", f"{self._base}/{path}"
        else:
            found = self._netloc, f"{self._base}/{quote(bucket, safe='')}/{path}"
        if len(self._targets) >= WHERE_KEPT:
            self._targets.clear()
        self._targets[(bucket, key)] = found
        return found

    def _authorization(self, method: str, target: str, headers: list[tuple[str, str]],
                       query: str = "", payload: str = EMPTY_SHA256) -> str:
        """SigV4 of our own requests: ``query`` canonical already, the payload's hash
        (by default the empty one's), header names lower-case and each once (the text
        ``sigv4.canonical_request`` makes of them); ``headers[2]`` is X-Amz-Date."""
        s = self.settings
        amz_date = headers[2][1]
        day = amz_date[:8]
        scope = f"{day}/{s.region}/s3/aws4_request"
        ordered = sorted(headers)
        signed = ";".join(n for n, _ in ordered)
        canonical = "".join(f"{n}:{' '.join(v.split())}\n" for n, v in ordered)
        creq = f"{method}\n{target}\n{query}\n{canonical}\n{signed}\n{payload}"
        signature = sign(self._keys.get(s.secret_key, day, s.region, "s3", s.access_key),
                         string_to_sign(amz_date, scope, creq))
        return (f"{ALGORITHM} Credential={s.access_key}/{scope}, "
                f"SignedHeaders={signed}, Signature={signature}")

    def _answer(self, head: _Head, key: str) -> RemoteAttrs:
        status = head.status
        if status == 200:
            return _attrs(head.fields)
        label = self.settings.label
        if status == 404:
            raise S3Error("NoSuchKey", "The specified key does not exist.", key)
        if status in _STATUS_CODES:
            raise S3Error(_STATUS_CODES[status], _STATUS_CODES[status], key)
        if status == 403:
            raise S3Error("AccessDenied", f"Access denied by the {label}: 403", key)
        raise S3Error("InvalidRequest", f"The {label}: HTTP {status}", key,
                      status=status if 400 <= status < 500 else 400)

    # -- connections ----------------------------------------------------------------

    async def _connection(self, fresh: bool = False) -> tuple[_Conn, bool]:
        """A kept-alive connection (True) or a new one; ``fresh``: always a new one."""
        if self._idle and not fresh:
            return self._idle.pop(), True
        try:
            with trio.fail_after(self.settings.connect_timeout):
                if self._ssl is not None:
                    stream: trio.abc.Stream = await trio.open_ssl_over_tcp_stream(
                        self._host, self._port, ssl_context=self._ssl)
                    return _Conn(stream), False
                raw, sock = await _connected(self._host, self._port)
        except (OSError, trio.TooSlowError) as e:
            raise _Retryable(f"unreachable: {type(e).__name__} {e}") from e
        return _Conn(trio.SocketStream(sock), raw=raw), False

    async def _release(self, conn: _Conn, keep: bool) -> None:
        """An exchange done: its connection back to the idle ones (``keep``, nothing
        left unread) or closed."""
        if keep and not conn.buf:
            self._idle.append(conn)
        else:
            await _close(conn)


class Buffers(AlignedPool):
    """GET bodies' piece buffers, reused (``AlignedPool``): a piece of ``POOLED`` bytes is
    received into a kept buffer nobody holds any more, else into a new one (kept while
    fewer than ``KEPT`` are). A new 8 MiB buffer cost the kernel a page fault and a clear
    per page, and a memset: ~0.2 CPU s/GiB of a cold GET.

    ``KEPT`` covers one cold GET's pieces in flight: the store side may lag 64 MiB
    (fill.py's ``FILL_LAG``: 8 pieces), the caller's relay 16 MiB (2), one being sent
    and one being received. With 4 kept, a 256 MiB cold GET still made a new buffer for
    most pieces (py-spy: ``take`` 12 % of the event loop's samples; front CPU 1.08 ->
    0.92 s/GiB with 12). Up to 96 MiB stay held once cold GETs ran - within what the
    node lets fills hold in flight anyway (remote.py's ``FILL_MEMORY``, 256 MiB)."""

    POOLED = 8 * 1024 * 1024
    KEPT = 12

    def pooled(self, n: int) -> bool:
        return n == self.POOLED


PartSink = Callable[[memoryview], Awaitable[None]]
"""Where a body's stretches go as they come (``LeanBody.read``)."""


class LeanBody:
    """A lean GET's body: ``read(n)`` gives ``n`` bytes (fewer only at the end, b"" past
    it; a body that stops short is a 503, as botocore's read raises). Its connection goes
    back to the client once the body is read to its end, and is closed by an ``aclose``
    before that."""

    def __init__(self, client: LeanClient, conn: _Conn, length: int, keep: bool,
                 resource: str) -> None:
        self._client = client
        self._conn: _Conn | None = conn
        self._left = length
        self._keep = keep
        self._resource = resource

    async def read(self, n: int, part: PartSink | None = None) -> bytes:
        """The next ``n`` bytes of the body. On plain TCP they are received into one
        buffer (``recv_into``: no per-receive allocation, no join) handed on as it is -
        a ``bytearray`` nobody writes to again, which the store's chunker and the HTTP
        server take as they take ``bytes``. ``part``: given each stretch of the buffer
        as it came (a ``memoryview`` of it, ~``LOWAT`` bytes on plain TCP; the whole
        piece at its end over TLS), awaited between receives - a cold GET's caller
        sends it on while it is still in the CPU's cache (fill.py)."""
        conn = self._conn
        if conn is None or self._left <= 0:
            return b""
        n = min(n, self._left)
        out = self._client.buffers.take(n)
        view = memoryview(out)
        got = 0
        if conn.buf:
            got = min(n, len(conn.buf))
            view[:got] = conn.buf[:got]
            del conn.buf[:got]
        try:
            got = await self._receive(conn, view, got, n, part)
        except _NETWORK as e:
            await self.aclose()
            raise S3Error("ServiceUnavailable", f"The {self._client.settings.label} is "
                          f"unreachable or too slow: {type(e).__name__} {e}",
                          self._resource, status=503) from e
        finally:
            view.release()
        self._left -= got
        if self._left <= 0:
            await self.aclose()
        return out  # type: ignore[return-value]  # read-only from here on, as bytes

    async def _receive(self, conn: _Conn, view: memoryview, got: int, n: int,
                       part: PartSink | None) -> int:
        """``view[got:n]`` filled from the connection; ``n``. ``part`` gets what came,
        as it came (on plain TCP; else all of it at the end)."""
        timeout = self._client.settings.read_timeout
        sock = conn.stream.socket if isinstance(conn.stream, trio.SocketStream) else None
        passed = 0
        while got < n:
            with trio.fail_after(timeout):
                if sock is not None:
                    k = await _receive_soon(conn, sock, view[got:n], self._left - got)
                else:
                    data = await conn.stream.receive_some(min(n - got, RECEIVE))
                    view[got:got + len(data)] = data
                    k = len(data)
            if not k:
                raise trio.BrokenResourceError(
                    f"the backend closed the connection {self._left - got} bytes short")
            got += k
            if part is not None and sock is not None:
                await part(view[passed:got])
                passed = got
        if part is not None and passed < got:
            await part(view[passed:got])
        return got

    async def aclose(self) -> None:
        """The connection back for reuse when the body was read to its end, else closed
        (an unread rest is never drained)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._left <= 0:
            await self._client._release(conn, self._keep)
        else:
            await _close(conn)


def _wake_at(conn: _Conn, sock: trio.socket.SocketType, left: int) -> None:
    """The socket wakes the loop once ``LOWAT`` bytes came while that much of the body is
    left, then at every byte (as for a response head). A receive wakes the loop every
    ~0.1-0.6 MiB on loopback otherwise: each wake-up is a trip through trio's scheduler
    (the front's Python share of a cold GET). The kernel raises the receive buffer to
    hold ``LOWAT`` (capping it at half of ``tcp_rmem``'s max); it also wakes the loop
    when its window closes, so no wait stalls. 4 MiB, not 1: a cold GET relays each
    receive to its client as it came (fill.py), so this is also the size of its sends -
    front CPU per cold GiB 0.86 -> 0.74, the wall ~12 % faster (docs/backends.md)."""
    want = LOWAT if left >= LOWAT else 1
    if want != conn.lowat:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, want)
        conn.lowat = want


async def _receive_soon(conn: _Conn, sock: trio.socket.SocketType, into: memoryview,
                        left: int) -> int:
    """``sock.recv_into(into)`` woken at ``LOWAT`` bytes (``_wake_at``), but never kept
    waiting for them past ``LOWAT_WAIT``: then what came is taken (the wake-up set back
    to every byte). A slow backend's body - or one that pauses - streams on to the
    caller instead of waiting for 4 MiB, which at under ~140 KB/s would have taken
    longer than the read timeout: a backend making progress was cut as too slow."""
    _wake_at(conn, sock, left)
    if conn.lowat > 1:
        with trio.move_on_after(LOWAT_WAIT):
            return await sock.recv_into(into)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
        conn.lowat = 1
    return await sock.recv_into(into)


async def _connected(
    host: str, port: int,
) -> tuple[socket.socket, trio.socket.SocketType]:
    """A TCP connection to ``host:port`` (its addresses tried in turn): the stdlib socket
    and trio's wrapper of that same object."""
    error: OSError | None = None
    for family, kind, proto, _, addr in await trio.socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM):
        raw = socket.socket(family, kind, proto)
        sock = trio.socket.from_stdlib_socket(raw)  # non-blocking from here
        try:
            await sock.connect(addr)
        except OSError as e:
            sock.close()
            error = e
            continue
        except BaseException:
            sock.close()
            raise
        return raw, sock
    raise error or OSError(f"no address for {host}")


async def _send_small(conn: _Conn, data: bytes) -> None:
    """``data`` written: at once on the socket itself when it takes it all (a request's
    head, a small body), the rest through trio."""
    sent = 0
    if conn.raw is not None:
        try:
            sent = conn.raw.send(data)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
    await conn.stream.send_all(memoryview(data)[sent:] if sent else data)


async def _receive_some(conn: _Conn) -> bytes | bytearray:
    """What the connection has (b"": the backend closed it), once it has something."""
    raw = conn.raw
    if raw is None:
        return await conn.stream.receive_some(65536)
    while True:
        try:
            return raw.recv(65536)
        except BlockingIOError:
            await trio.lowlevel.wait_readable(raw)


async def _read_head(conn: _Conn) -> _Head:
    """The next response head on ``conn`` (1xx heads passed over); what follows it stays
    in ``conn.buf``."""
    while True:
        end = conn.buf.find(b"\r\n\r\n")
        while end < 0:
            if len(conn.buf) > HEAD_LIMIT:
                raise _Broken("a response head over 64 KiB")
            data = await _receive_some(conn)
            if not data:
                raise trio.BrokenResourceError("the backend closed the connection")
            conn.buf += data
            end = conn.buf.find(b"\r\n\r\n", max(0, len(conn.buf) - len(data) - 3))
        text = conn.buf[:end].decode("latin-1")
        del conn.buf[:end + 4]
        head = _parse_head(text)
        if not 100 <= head.status < 200:
            return head


def _parse_head(text: str) -> _Head:
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise _Broken(f"not an HTTP/1 status line: {lines[0][:80]!r}")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise _Broken(f"a header line without a colon: {line[:80]!r}")
        name = name.strip().lower()
        value = value.strip()
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    keep = parts[0] == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
    return _Head(int(parts[1]), fields, keep)


def _element(text: str, name: str) -> str:
    """The text of the first ``<name>`` of an S3 error document ("" when none)."""
    m = re.search(f"<{name}>([^<]*)</{name}>", text)
    return html.unescape(m.group(1)).strip() if m else ""


def _conditions(if_match: str | None, if_none_match: str | None) -> list[tuple[str, str]]:
    out = []
    if if_match:
        out.append(("if-match", if_match))
    if if_none_match:
        out.append(("if-none-match", if_none_match))
    return out


async def _close(conn: _Conn) -> None:
    with trio.CancelScope(shield=True):
        try:
            await conn.stream.aclose()
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass


@functools.lru_cache(maxsize=1024)
def _modified_ns(modified: str) -> int:
    """A Last-Modified date in ns since the epoch (0: not a date); the same few dates
    come again and again (one a second, at most)."""
    try:
        return int(email.utils.parsedate_to_datetime(modified).timestamp() * 1_000_000_000)
    except (TypeError, ValueError):
        return 0


def _attrs(fields: dict[str, str]) -> RemoteAttrs:
    version = fields.get("x-amz-version-id", "")
    modified = fields.get("last-modified")
    return RemoteAttrs(
        size=int(fields.get("content-length") or 0),
        etag=fields.get("etag", "").strip('"'),
        version="" if version == "null" else version,
        last_modified_ns=_modified_ns(modified) if modified else 0,
        content_type=fields.get("content-type"),
        user={n[len(_META):]: v for n, v in fields.items() if n.startswith(_META)},
        headers={h: fields[h] for h in STORED_HEADERS if h in fields},
    )
