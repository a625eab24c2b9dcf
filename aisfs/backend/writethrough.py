"""A write-through PUT: the client's body teed to the backend's upload and the store's
write at once (remote.py's ``RemoteObjects.put`` runs one per PUT).

The store makes the body durable meanwhile and commits only once the backend has
acknowledged the object (``RemoteCopy.ready``), so the local copy is published with the
backend's ETag and version, and a backend failure leaves nothing cached.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Mapping

import trio

from ..errors import S3Error, only
from ..store import ObjectInfo, ObjectMeta
from ..store.writer import RemoteCopy
from .cachemeta import meta_for
from .fill import nursery_error
from .provider import BucketRef
from .s3 import S3Backend
from .types import RemoteAttrs

TEE_PIECES = 4  # pieces a write-through PUT's store side may run ahead of the backend's
# a PUT of at most this many bytes (and no more than the store keeps inline) is read whole,
# then sent, then written: its local copy is an inline one, written only at the commit
# after the backend's acknowledgement anyway, so the tee's task, channel and nursery
# (~0.1 ms of the front's CPU per PUT) would buy no overlap
SMALL = 64 * 1024

WriteLocal = Callable[[AsyncIterable[bytes], RemoteCopy], Awaitable[ObjectInfo]]


class WriteThrough:
    """One PUT of ``key`` to ``backend``'s bucket ``remote``; ``run`` it once."""

    def __init__(
        self, backend: S3Backend, remote: BucketRef, key: str, body: AsyncIterable[bytes],
        meta: ObjectMeta, *, size: int | None, content_md5: bytes | None,
        forwarded: Mapping[str, str] | None = None,
    ) -> None:
        self.backend = backend
        self.remote = remote
        self.key = key
        self.body = body
        self.meta = meta
        self.size = size
        self.content_md5 = content_md5
        self.forwarded = forwarded  # ACL and tagging headers: the backend's (forwarded.py)
        self.acked: RemoteAttrs | None = None  # the backend's answer: it has the object
        # the upload began and did not end in a refusal (a 4xx): the backend may have the
        # new object (a timeout, a cut connection, a cancellation) - an older local copy
        # must not stay
        self.in_doubt = False
        self._body_error: Exception | None = None
        self._local_error: BaseException | None = None

    async def run(self, write_local: WriteLocal) -> ObjectInfo:
        """The upload beside ``write_local(teed body, how to commit)``; the local copy's
        info once both are durable. The error that matters: the client's body's, else the
        store's own, else the backend's."""
        self._send, self._recv = trio.open_memory_channel[bytes | None](TEE_PIECES)
        self._uploaded = trio.Event()
        copy = RemoteCopy(etag=self._etag, ready=self._backend_acked)
        async with contextlib.aclosing(self._tee()) as teed:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._backend_side)
                    try:
                        return await write_local(teed, copy)
                    except BaseException as e:
                        self._local_error = e
                        raise
            except BaseExceptionGroup as eg:
                raise self._cause(eg) from None

    async def run_small(self, write_local: WriteLocal) -> ObjectInfo:
        """``run`` for a small body (``SMALL``): the whole body read (its checksums
        checked at its end), one PutObject of it, then the local copy, committed with the
        backend's attributes. A body or backend failure: the store never saw the PUT."""
        parts: list[bytes] = []
        total = 0
        async for p in self.body:
            total += len(p)
            if self.size is not None and total > self.size:  # never held past its size
                raise S3Error("IncompleteBody", "The body is longer than the declared "
                              "Content-Length", self.key)
            parts.append(p)
        if self.size is not None and total != self.size:
            raise S3Error("IncompleteBody", "You did not provide the number of bytes "
                          "specified by the Content-Length", self.key)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        meta = self.meta
        self.in_doubt = True
        try:
            self.acked = await self.backend.put_small(
                self.remote.name, self.key, data, content_type=meta.content_type,
                user=meta.user, headers=meta.headers, content_md5=self.content_md5,
                forwarded=self.forwarded)
        except S3Error as e:
            self.in_doubt = e.status >= 500
            raise
        meta_for(self.acked, self.remote.uri, meta)
        return await write_local(_one(data), RemoteCopy(etag=self._etag, ready=_acked))

    def _cause(self, eg: BaseExceptionGroup[BaseException]) -> BaseException:
        if self._body_error is not None:  # the backend side then only saw the body end early
            return self._body_error
        # the store's own failure first (the backend side then only saw its end)
        if self._local_error is not None and not only(self._local_error, trio.Cancelled):
            return self._local_error
        return nursery_error(eg)

    # -- the client's body, to the store (yielded) and the backend (sent) ---------------

    async def _tee(self) -> AsyncGenerator[bytes, None]:
        total = 0
        async with self._send:
            try:
                async for p in self.body:
                    total += len(p)
                    await self._send.send(p)
                    yield p
            except Exception as e:  # the client's body failed: that is the error
                self._body_error = e
                raise
            if self.size is not None and total != self.size:
                raise S3Error("IncompleteBody", "You did not provide the number of bytes "
                              "specified by the Content-Length", self.key)
            await self._send.send(None)  # the end mark

    # -- the backend's side --------------------------------------------------------------

    async def _backend_side(self) -> None:
        self.in_doubt = True
        try:
            async with contextlib.aclosing(self._backend_pieces()) as pieces:
                self.acked = await self.backend.put_object(
                    self.remote.name, self.key, pieces, content_type=self.meta.content_type,
                    user=self.meta.user, headers=self.meta.headers,
                    content_md5=self.content_md5, size=self.size, forwarded=self.forwarded,
                )
        except S3Error as e:  # refused, or the body ended early: nothing was completed
            self.in_doubt = e.status >= 500
            raise
        self._uploaded.set()

    async def _backend_pieces(self) -> AsyncGenerator[bytes, None]:
        async with self._recv:
            async for p in self._recv:
                if p is None:
                    return
                yield p
        # closed without the end mark: the client's body failed, send nothing
        raise S3Error("IncompleteBody", "The request body ended early", self.key)

    def _etag(self) -> str:
        assert self.acked is not None
        return self.acked.etag

    async def _backend_acked(self) -> None:
        # the store made the body durable meanwhile; once the backend has it too, the local
        # copy is published with its attributes (the store builds the manifest from
        # ``meta`` only now)
        await self._uploaded.wait()
        assert self.acked is not None
        meta_for(self.acked, self.remote.uri, self.meta)


async def _one(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data


async def _acked() -> None:
    """A small write-through's ``RemoteCopy.ready``: acknowledged before the store began."""
