"""Requests through one pooled keep-alive httpx client on trio, under deadlines.

Every request runs under a deadline: connection failures are retried with backoff inside
a short window (a node restarting), and whatever is still failing at the deadline becomes
`Unreachable` - never a hang. An S3 error answer raises `S3Error` (a 500, 502 or 503 is
retried within the same window first).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from xml.etree.ElementTree import Element

import httpx
import trio

from aisfs_mount.backend import Unreachable
from aisfs_mount.remote import s3xml
from aisfs_mount.remote.signer import Signer

# a request body: bytes, or a function giving a fresh stream for each attempt
Body = bytes | Callable[[], AsyncIterator[bytes]] | None


@dataclass(slots=True)
class Timeouts:
    connect: float = 3.0
    # a metadata request as a whole; a transfer gets this per socket read/write (a stall
    # fails at once) and as a whole this plus its size at 256 KiB/s
    request: float = 20.0
    retry_window: float = 4.0  # how long connection failures are retried

    def transfer(self, nbytes: int) -> float:
        """The deadline of a request that moves `nbytes` of body."""
        return self.request + nbytes / (256 << 10)


def _backoff(attempt: int) -> float:
    return min(0.05 * (1 << attempt), 1.0) * (0.5 + random.random())


class Transport:
    def __init__(self, endpoint: str, signer: Signer, timeouts: Timeouts,
                 max_connections: int) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.signer = signer
        self.timeouts = t = timeouts
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(t.request, connect=t.connect, pool=t.request),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def url(self, bucket: str = "", key: str = "", query: str = "") -> str:
        """Path-style URL of a bucket or an object."""
        path = self.endpoint + "/"
        if bucket:
            path += quote(bucket, safe="")
            if key:
                path += "/" + quote(key, safe="/~")
        return path + ("?" + query if query else "")

    async def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: Body = None,
        *,
        stream: bool = False,
        resource: str = "",
        deadline: float | None = None,
    ) -> httpx.Response:
        """Send with retries on transport failures; S3 error answers raise S3Error."""
        hdrs = dict(headers or {})
        deadline_at = trio.current_time() + (deadline or self.timeouts.request)
        retry_until = trio.current_time() + self.timeouts.retry_window
        attempt = 0
        while True:
            attempt += 1
            content: Any = body() if callable(body) else body
            signed = self.signer.sign(method, url, hdrs)
            try:
                with trio.fail_after(max(0.1, deadline_at - trio.current_time())):
                    req = self.client.build_request(method, url, headers=signed, content=content)
                    resp = await self.client.send(req, stream=stream)
            except (httpx.TransportError, trio.TooSlowError) as e:
                now = trio.current_time()
                retryable = isinstance(e, httpx.TransportError) and not isinstance(
                    e, httpx.TimeoutException
                )
                # a pooled connection the server closed fails once at once: always retry that
                stale = isinstance(e, httpx.RemoteProtocolError | httpx.ReadError) and attempt == 1
                if (retryable and now < min(retry_until, deadline_at)) or stale:
                    await trio.sleep(_backoff(attempt))
                    continue
                raise Unreachable(f"{method} {resource or url}: {type(e).__name__}: {e}") from e
            if resp.status_code >= 300 and resp.status_code != 304:
                data = await resp.aread() if stream else resp.content
                if stream:
                    await resp.aclose()
                err = s3xml.error_from(resp.status_code, data, resource)
                if resp.status_code in (500, 502, 503) and trio.current_time() < retry_until:
                    await trio.sleep(_backoff(attempt))
                    continue
                raise err
            return resp

    async def xml(self, method: str, url: str, resource: str, *,
                  headers: dict[str, str] | None = None, body: Body = None,
                  deadline: float | None = None) -> Element | None:
        """The answer's XML document (None for an empty body); an error inside a 200
        raises S3Error."""
        resp = await self.send(method, url, headers, body, resource=resource, deadline=deadline)
        if not resp.content:
            return None
        root = s3xml.parse(resp.content)
        err = s3xml.error_in(root, resource)
        if err is not None:
            raise err
        return root
