"""PutObject and UploadPart on the event loop: the write-through PUT's hot path without
botocore, over the kept-alive connections lean.py's HEAD and GET use.

Through botocore every PUT to the backend cost the front two worker-thread hand-offs and
~1-2 ms of CPU (its request pipeline), as much as the rest of a small write-through PUT,
and a part of a multipart upload was first joined into one buffer (a copy of every byte).
Here a request is one signature (UNSIGNED-PAYLOAD, as botocore is told to send: the body
is guarded by TCP and, when the client sent one, Content-MD5), its head and its body's
pieces written as they are (a small body in one write with the head), one response head
read.

``put`` sends bodies held in memory (a whole PUT under ``STREAM_MIN`` or of unknown
size, one part), so a request is repeated as it was; ``put_stream`` sends a single PUT
of known size as its pieces come (s3.py, from ``STREAM_MIN`` up to
``multipart_threshold``), once, never holding the body. An error answer is raised as the
``ClientError`` botocore would have raised (``retry.py`` repeats a 5xx or a throttle,
``errors.backend_error`` maps it), a network failure or a timeout as an ``OSError``.
CreateMultipartUpload, CompleteMultipartUpload and AbortMultipartUpload - once per large
object - stay with botocore (s3.py), as does a header value that is not printable ASCII
(``Fallback``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import trio
from botocore.exceptions import ClientError

from ..errors import S3Error
from ..s3.sigv4 import UNSIGNED_PAYLOAD
from .lean import (
    _NETWORK,
    ERROR_LIMIT,
    Fallback,
    LeanBody,
    LeanClient,
    _Broken,
    _close,
    _Conn,
    _element,
    _Head,
    _read_head,
    _send_small,
)

Body = Sequence[bytes | memoryview]
ONE_WRITE = 64 * 1024  # a body up to this size is sent in one write with the head


def _printable(value: str) -> bool:
    return value.isascii() and value.isprintable()


class LeanPutClient(LeanClient):
    """``LeanClient`` (HEAD, GET) with PutObject and UploadPart."""

    async def put(
        self, bucket: str, key: str, body: Body, *, query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """PUT ``body`` (its pieces, in order) to ``key``: the response's header fields
        (lower-case names: ``etag``, ``x-amz-version-id``). ``ClientError`` for an error
        answer, ``OSError`` for a network failure or a timeout, ``Fallback`` for a header
        botocore should send."""
        size = len(body[0]) if len(body) == 1 else sum(len(p) for p in body)
        extra = [("content-length", str(size))]
        if headers:
            for name, value in headers.items():
                if not (value.isascii() and value.isprintable()):
                    raise Fallback(f"header {name} is not printable ASCII")
                extra.append((name.lower(), value))
        head = self._put_head(bucket, key, query or {}, extra)
        conn, answer = await self._send(head, body, size)
        if answer.status >= 300:
            raise await self._failed(conn, answer, key)
        await self._finish(conn, answer, key)
        return answer.fields

    async def put_stream(
        self, bucket: str, key: str, size: int, pieces: AsyncIterator[bytes],
        *, headers: Mapping[str, str] | None = None,
        at_end: Callable[[], Awaitable[None]] | None = None,
    ) -> dict[str, str]:
        """PUT the ``size`` bytes of ``pieces`` as they come (a write-through PUT's whole
        body, never held in memory): ``put``'s answer and errors, once - a body read once
        cannot be sent again. Over a new connection (a kept-alive one the backend closed
        meanwhile would fail after pieces were taken). Each piece goes once the next one
        came, the last once ``pieces`` ended with exactly ``size`` bytes and ``at_end``
        passed (the client's checksums): a body that fails, runs short or long, or does
        not match leaves the backend a request cut short, which it discards - never an
        object."""
        extra = [("content-length", str(size))]
        for name, value in (headers or {}).items():
            if not _printable(value):
                raise Fallback(f"header {name} is not printable ASCII")
            extra.append((name.lower(), value))
        head = self._put_head(bucket, key, {}, extra)
        conn, _ = await self._connection_or_oserror(fresh=True)
        answer: _Head | None = None
        try:
            await self._send_all(conn, head)
            held: bytes | None = None
            total = 0
            async for piece in pieces:
                total += len(piece)
                if total > size:
                    raise _too_long(key)
                if held is not None:
                    await self._send_all(conn, held)
                held = piece
            if total != size:
                raise _too_long(key) if total > size else _short(key)
            if at_end is not None:
                await at_end()
            if held is not None:
                await self._send_all(conn, held)
            answer = await self._stream_answer(conn)
        finally:
            if answer is None:  # failed or cancelled: the backend sees a cut request
                await _close(conn)
        if answer.status >= 300:
            raise await self._failed(conn, answer, key)
        await self._finish(conn, answer, key)
        return answer.fields

    async def _send_all(self, conn: _Conn, data: bytes | bytearray | memoryview) -> None:
        timeout = self.settings.read_timeout
        try:
            with trio.fail_after(timeout):
                await conn.stream.send_all(data)
        except trio.TooSlowError as e:
            raise TimeoutError(f"the backend took over {timeout} s") from e
        except _NETWORK as e:
            raise ConnectionError(f"{type(e).__name__} {e}") from e

    async def _stream_answer(self, conn: _Conn) -> _Head:
        timeout = self.settings.read_timeout
        try:
            with trio.fail_after(timeout):
                return await _read_head(conn)
        except trio.TooSlowError as e:
            raise TimeoutError(f"the backend took over {timeout} s") from e
        except (*_NETWORK, _Broken) as e:
            raise ConnectionError(f"{type(e).__name__} {e}") from e

    def _put_head(self, bucket: str, key: str, query: Mapping[str, str],
                  extra: list[tuple[str, str]]) -> bytes:
        qs = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                      for k, v in sorted(query.items()))
        return self._request("PUT", bucket, key, extra, qs, UNSIGNED_PAYLOAD)

    async def _send(self, head: bytes, body: Body, size: int) -> tuple[_Conn, _Head]:
        """The request written, the response's head read; a kept-alive connection the
        backend closed meanwhile is replaced once by a fresh one."""
        timeout = self.settings.read_timeout
        while True:
            conn, reused = await self._connection_or_oserror()
            answer: _Head | None = None
            try:
                # one scope (a fail_after per step cost ~20 us, as much as the send): a
                # small request and its answer within ``timeout``; a larger one's every
                # send and the answer each get ``timeout``
                with trio.CancelScope(deadline=trio.current_time() + timeout) as scope:
                    if size <= ONE_WRITE:
                        await _send_small(conn, b"".join([head, *body]))
                    else:
                        await conn.stream.send_all(head)
                        for piece in body:
                            scope.deadline = trio.current_time() + timeout
                            await conn.stream.send_all(piece)
                        scope.deadline = trio.current_time() + timeout
                    answer = await _read_head(conn)
                if answer is None:  # the deadline passed (``scope.cancelled_caught``)
                    raise trio.TooSlowError
            except (*_NETWORK, _Broken) as e:
                if reused and not isinstance(e, trio.TooSlowError | _Broken):
                    continue  # the backend closed a kept-alive connection: a fresh one
                if isinstance(e, trio.TooSlowError):
                    raise TimeoutError(f"the backend took over {timeout} s") from e
                raise ConnectionError(f"{type(e).__name__} {e}") from e
            finally:
                if answer is None:  # failed or cancelled
                    await _close(conn)
            return conn, answer

    async def _connection_or_oserror(self, fresh: bool = False) -> tuple[_Conn, bool]:
        try:
            return await self._connection(fresh)
        except Exception as e:  # lean's _Retryable: unreachable
            raise ConnectionError(str(e)) from e

    async def _finish(self, conn: _Conn, answer: _Head, key: str) -> None:
        """A success's body (usually empty) read past; the connection kept or closed."""
        length = answer.fields.get("content-length", "")
        if length == "0" and "transfer-encoding" not in answer.fields:
            await self._release(conn, answer.keep)  # the usual answer: no body
            return
        if not length.isdigit() or "transfer-encoding" in answer.fields:
            await _close(conn)  # unframed: nothing needed from it
            return
        body = LeanBody(self, conn, int(length), answer.keep, key)
        try:
            while await body.read(ERROR_LIMIT):
                pass
        finally:
            await body.aclose()

    async def _failed(self, conn: _Conn, answer: _Head, key: str) -> ClientError:
        """An error answer as botocore raises it: the S3 error document's Code and
        Message (when framed and short), the status."""
        length = answer.fields.get("content-length", "")
        document = b""
        if length.isdigit() and "transfer-encoding" not in answer.fields \
                and int(length) <= ERROR_LIMIT:
            body = LeanBody(self, conn, int(length), answer.keep, key)
            try:
                document = await body.read(int(length)) if int(length) else b""
            finally:
                await body.aclose()
        else:
            await _close(conn)
        text = document.decode("utf-8", "replace")
        error: dict[str, Any] = {"Error": {"Code": _element(text, "Code") or str(answer.status),
                                           "Message": _element(text, "Message")},
                                 "ResponseMetadata": {"HTTPStatusCode": answer.status}}
        return ClientError(error, "PutObject")  # type: ignore[arg-type]


def _short(key: str) -> S3Error:
    return S3Error("IncompleteBody", "You did not provide the number of bytes specified "
                   "by the Content-Length", key)


def _too_long(key: str) -> S3Error:
    return S3Error("InvalidRequest", "The body is longer than its Content-Length", key)
