"""HEAD Object on the event loop: SigV4-signed with aisfs.s3's own signing functions, sent
over kept-alive HTTP/1.1 connections (h11), no worker thread.

A bucket with ``versioning.validate_warm_get`` asks the backend one HEAD per warm GET.
Through botocore that HEAD cost the front ~1 ms of CPU (its request pipeline: events,
endpoint rules, the parse of the response into a model) and two thread hand-offs -
several times the GET it validates. Here it is a signature (three HMACs and a SHA-256 of
a short text; the signing key cached per day), one request written, one response head
parsed.

Used for backends with static keys and an endpoint (``LeanHead.usable``); others (the AWS
credential chain, a profile, AWS itself) keep botocore's path. Errors map as
``errors.backend_error`` maps botocore's, and failures are retried as ``retry.py`` does.
"""

from __future__ import annotations

import email.utils
import hashlib
import ssl
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import h11
import trio

from ..errors import S3Error
from ..s3.signing_keys import SigningKeyCache, sign
from ..s3.sigv4 import ALGORITHM, canonical_request, string_to_sign
from ..store.types import STORED_HEADERS
from .retry import backoff
from .settings import S3Settings
from .types import RemoteAttrs

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_STATUS_CODES = {304: "NotModified", 404: "NoSuchKey", 412: "PreconditionFailed"}
_META = "x-amz-meta-"


class _Retryable(Exception):
    """A network failure, a timeout or a 5xx: the HEAD may be made again."""


@dataclass(slots=True)
class _Conn:
    stream: trio.abc.Stream
    http: h11.Connection


class LeanHead:
    """HEAD requests to one backend (an ``S3Settings`` with static keys)."""

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
        attempt = 0
        while True:
            try:
                return await self._head_once(bucket, key, if_match, if_none_match)
            except _Retryable as e:
                if attempt >= self.settings.retries:
                    raise S3Error(
                        "ServiceUnavailable", f"The {self.settings.label}: {e}", key,
                        status=503,
                    ) from None
                attempt += 1
                await trio.sleep(backoff(attempt))

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close(conn)

    # -- one exchange ---------------------------------------------------------------

    async def _head_once(
        self, bucket: str, key: str, if_match: str | None, if_none_match: str | None
    ) -> RemoteAttrs:
        host, target = self._where(bucket, key)
        headers = [("host", host), ("x-amz-content-sha256", EMPTY_SHA256),
                   ("x-amz-date", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))]
        if self.settings.session_token:
            headers.append(("x-amz-security-token", self.settings.session_token))
        if if_match:
            headers.append(("if-match", if_match))
        if if_none_match:
            headers.append(("if-none-match", if_none_match))
        headers.append(("authorization", self._authorization(target, headers)))
        request = h11.Request(method="HEAD", target=target, headers=headers)
        while True:
            conn, reused = await self._connection()
            response: h11.Response | None = None
            try:
                with trio.fail_after(self.settings.read_timeout):
                    response = await _exchange(conn, request)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError,
                    h11.ProtocolError, trio.TooSlowError) as e:
                if reused and not isinstance(e, trio.TooSlowError):
                    continue  # the backend closed a kept-alive connection: a fresh one
                raise _Retryable(f"unreachable or too slow: {type(e).__name__} {e}") from e
            finally:
                if response is None or not self._keep(conn):  # failed, cancelled, closing
                    await _close(conn)
            return self._answer(response, key)

    def _where(self, bucket: str, key: str) -> tuple[str, str]:
        """(Host, request target) as botocore's path or virtual addressing has them."""
        path = quote(key, safe="/-_.~")
        if self.settings.addressing == "virtual":
            return f"{bucket}.{self._netloc}", f"{self._base}/{path}"
        return self._netloc, f"{self._base}/{quote(bucket, safe='')}/{path}"

    def _authorization(self, target: str, headers: list[tuple[str, str]]) -> str:
        s = self.settings
        amz_date = next(v for n, v in headers if n == "x-amz-date")
        day = amz_date[:8]
        scope = f"{day}/{s.region}/s3/aws4_request"
        signed = sorted(n for n, _ in headers)
        creq = canonical_request("HEAD", target, "", headers, signed, EMPTY_SHA256)
        signature = sign(self._keys.get(s.secret_key, day, s.region, "s3", s.access_key),
                         string_to_sign(amz_date, scope, creq))
        return (f"{ALGORITHM} Credential={s.access_key}/{scope}, "
                f"SignedHeaders={';'.join(signed)}, Signature={signature}")

    def _answer(self, response: h11.Response, key: str) -> RemoteAttrs:
        status = response.status_code
        fields = {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in response.headers}
        if status == 200:
            return _attrs(fields)
        label = self.settings.label
        if status >= 500:
            raise _Retryable(f"HTTP {status}")
        if status == 404:
            raise S3Error("NoSuchKey", "The specified key does not exist.", key)
        if status in _STATUS_CODES:
            raise S3Error(_STATUS_CODES[status], _STATUS_CODES[status], key)
        if status == 403:
            raise S3Error("AccessDenied", f"Access denied by the {label}: 403", key)
        raise S3Error("InvalidRequest", f"The {label}: HTTP {status}", key,
                      status=status if 400 <= status < 500 else 400)

    # -- connections ----------------------------------------------------------------

    async def _connection(self) -> tuple[_Conn, bool]:
        if self._idle:
            return self._idle.pop(), True
        try:
            with trio.fail_after(self.settings.connect_timeout):
                if self._ssl is not None:
                    stream: trio.abc.Stream = await trio.open_ssl_over_tcp_stream(
                        self._host, self._port, ssl_context=self._ssl)
                else:
                    stream = await trio.open_tcp_stream(self._host, self._port)
        except (OSError, trio.TooSlowError) as e:
            raise _Retryable(f"unreachable: {type(e).__name__} {e}") from e
        return _Conn(stream, h11.Connection(our_role=h11.CLIENT)), False

    def _keep(self, conn: _Conn) -> bool:
        """Back to the idle ones, if the backend keeps it open (False: close it)."""
        http = conn.http
        if http.our_state is h11.DONE and http.their_state is h11.DONE:
            http.start_next_cycle()
            self._idle.append(conn)
            return True
        return False


async def _exchange(conn: _Conn, request: h11.Request) -> h11.Response:
    http = conn.http
    await conn.stream.send_all(http.send(request) + (http.send(h11.EndOfMessage()) or b""))
    response: h11.Response | None = None
    while True:
        event = http.next_event()
        if event is h11.NEED_DATA:
            data = await conn.stream.receive_some(65536)
            http.receive_data(data if isinstance(data, bytes) else bytes(data))
            continue
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            return response
        elif isinstance(event, h11.ConnectionClosed):
            raise h11.RemoteProtocolError("the backend closed the connection")


async def _close(conn: _Conn) -> None:
    with trio.CancelScope(shield=True):
        try:
            await conn.stream.aclose()
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass


def _attrs(fields: dict[str, str]) -> RemoteAttrs:
    version = fields.get("x-amz-version-id", "")
    modified = fields.get("last-modified")
    ns = 0
    if modified:
        try:
            ns = int(email.utils.parsedate_to_datetime(modified).timestamp() * 1_000_000_000)
        except (TypeError, ValueError):
            ns = 0
    return RemoteAttrs(
        size=int(fields.get("content-length") or 0),
        etag=fields.get("etag", "").strip('"'),
        version="" if version == "null" else version,
        last_modified_ns=ns,
        content_type=fields.get("content-type"),
        user={n[len(_META):]: v for n, v in fields.items() if n.startswith(_META)},
        headers={h: fields[h] for h in STORED_HEADERS if h in fields},
    )
