"""The backend's HTTP end of presigned-request offload: a request sent exactly as the
client signed it (httpx, raw path and query, the client's headers), and its answer relayed.

botocore (``aisfs.backend.s3``) signs every request with the node's own credentials; an
offloaded request must carry the client's signature untouched, so it goes out here. One
``httpx.AsyncClient`` per backend (``S3Settings``: its TLS verification, timeouts,
concurrency), closed when the node stops.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterable, AsyncIterator

import httpx
import trio

from aisfs.backend.presigned import Target
from aisfs.backend.settings import S3Settings
from aisfs.errors import S3Error
from aisfs.store.types import STORED_HEADERS
from aisfs_node.http import Response

log = logging.getLogger("aisfs.s3")
# httpx logs each request's URL at INFO: a presigned URL's signature is a credential
logging.getLogger("httpx").setLevel(logging.WARNING)

PIECE = 1024 * 1024
MAX_ERROR_BODY = 64 * 1024  # of a backend's error document, relayed
# a backend's response headers a client is given (with x-amz-meta-* and x-amz-checksum-*)
RELAYED = frozenset((
    "content-type", "content-length", "content-range", "etag", "last-modified",
    "accept-ranges", "x-amz-version-id", "x-amz-delete-marker", "x-amz-mp-parts-count",
    "x-amz-tagging-count", "x-amz-storage-class", *STORED_HEADERS,
))
# and of a multipart upload's answers (relayed, not stored)
MULTIPART_RELAYED = frozenset((
    "x-amz-abort-date", "x-amz-abort-rule-id", "x-amz-expiration", "x-amz-request-charged",
    "x-amz-copy-source-version-id", "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key-md5",
))


class HttpxBody:
    """An httpx response's body as a backend stream's source (``aisfs.backend.s3``'s
    ``BodySource``): ``read(n)`` gives ``n`` bytes (fewer only at the end), from the
    pieces httpx reads as they come; a network failure is the 503 ``unreachable`` says."""

    def __init__(self, resp: httpx.Response, settings: S3Settings) -> None:
        self._resp = resp
        self._settings = settings
        self._it = resp.aiter_raw()
        self._rest = b""

    async def read(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        if self._rest:
            parts.append(self._rest[:n])
            self._rest = self._rest[n:]
            got = len(parts[0])
        while got < n:
            try:
                chunk = await anext(self._it)
            except StopAsyncIteration:
                break
            except httpx.HTTPError as e:
                raise unreachable(self._settings, e) from e
            if got + len(chunk) > n:
                self._rest = chunk[n - got:]
                chunk = chunk[:n - got]
            parts.append(chunk)
            got += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            await self._resp.aclose()


def relayed_headers(
    headers: httpx.Headers, more: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    out = []
    for name, value in headers.multi_items():
        low = name.lower()
        if low in RELAYED or low in more or low.startswith(("x-amz-meta-", "x-amz-checksum-")):
            out.append((low, value))
    return out


class BackendHttp:
    """The node's HTTP clients to its backends, for requests signed by someone else."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._clients: dict[S3Settings, httpx.AsyncClient] = {}

    def client(self, settings: S3Settings) -> httpx.AsyncClient:
        c = self._clients.get(settings)
        if c is None:
            c = httpx.AsyncClient(
                verify=_tls(settings),
                timeout=httpx.Timeout(settings.read_timeout,
                                      connect=settings.connect_timeout),
                limits=httpx.Limits(max_connections=settings.max_concurrency),
                follow_redirects=False,
            )
            if not self._clients:
                self._nursery.start_soon(self._close_at_stop)
            self._clients[settings] = c
        return c

    async def _close_at_stop(self) -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                for c in list(self._clients.values()):
                    await c.aclose()
                self._clients.clear()

    async def send(
        self, settings: S3Settings, method: str, target: Target,
        headers: list[tuple[str, str]], content: AsyncIterable[bytes] | None = None,
    ) -> httpx.Response:
        """The request as signed; its response with the body not yet read (the caller
        ``aclose``s it). A backend that cannot be reached: 503 naming it."""
        url = httpx.URL(scheme=target.scheme, host=_host(target.netloc),
                        port=_port(target.netloc), raw_path=target.raw_path.encode("latin-1"))
        client = self.client(settings)
        request = client.build_request(method, url, headers=headers, content=content)
        try:
            return await client.send(request, stream=True)
        except httpx.HTTPError as e:
            raise unreachable(settings, e) from e


def _tls(settings: S3Settings) -> ssl.SSLContext | bool:
    if not settings.ca_file:
        return settings.verify_tls
    try:
        return ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as e:
        raise S3Error("ServiceUnavailable", f"The {settings.label}'s ca_file cannot be "
                      f"used: {e}", status=503) from e


def unreachable(settings: S3Settings, exc: BaseException) -> S3Error:
    return S3Error("ServiceUnavailable", f"The {settings.label} is unreachable or too slow: "
                   f"{type(exc).__name__}: {exc}", status=503)


def _host(netloc: str) -> str:
    if netloc.startswith("["):
        return netloc[1:netloc.index("]")]
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


def _port(netloc: str) -> int | None:
    tail = netloc.rsplit("]", 1)[-1]
    if ":" in tail:
        port = tail.rsplit(":", 1)[1]
        return int(port) if port.isdigit() else None
    return None


async def read_bounded(resp: httpx.Response, limit: int = MAX_ERROR_BODY) -> bytes:
    """Up to ``limit`` bytes of a (small) response body; the response is closed."""
    parts: list[bytes] = []
    total = 0
    try:
        async for piece in resp.aiter_raw():
            parts.append(piece[: limit - total])
            total += len(parts[-1])
            if total >= limit:
                break
    except httpx.HTTPError:
        pass  # what came is what is relayed
    finally:
        await resp.aclose()
    return b"".join(parts)


async def relay_error(resp: httpx.Response, head: bool) -> Response:
    """The backend's refusal as it gave it: its status and S3 error document."""
    if head:
        await resp.aclose()
        return Response(resp.status_code, relayed_headers(resp.headers), b"", head=True)
    body = await read_bounded(resp)
    ctype = resp.headers.get("content-type") or "application/xml"
    return Response(resp.status_code, [("content-type", ctype)], body)


class RelayedBody:
    """A backend response's body passed through as it comes (not stored)."""

    def __init__(self, resp: httpx.Response, settings: S3Settings) -> None:
        self._resp = resp
        self._settings = settings
        self._it: AsyncIterator[bytes] = resp.aiter_raw(PIECE)

    def __aiter__(self) -> RelayedBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await anext(self._it)
        except StopAsyncIteration:
            await self.aclose()
            raise
        except httpx.HTTPError as e:
            await self.aclose()
            raise unreachable(self._settings, e) from e

    async def aclose(self) -> None:
        await self._resp.aclose()


def relay(resp: httpx.Response, settings: S3Settings, extra: list[tuple[str, str]]) -> Response:
    """A successful answer passed through uncached (a range, a version, overrides)."""
    return Response(resp.status_code, relayed_headers(resp.headers) + extra,
                    RelayedBody(resp, settings))
