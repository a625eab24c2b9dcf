"""RemoteObjects: the node's store as a cache and write-through tier in front of a backend.

- **Cold GET** (no local copy): one backend GET; its body is streamed to the caller and
  into the store in the same pass (never read twice, never whole in memory). Concurrent
  cold GETs of one object fetch it once: the first leads the flight (flights.py), the
  others read the chunks its fill writes as it writes them (follow.py; an object of one
  chunk: they wait for it to land and read the local copy). A caller that goes away does not
  stop the fill; a fill that fails leaves nothing visible (the store publishes only whole
  objects) and the caller's body raises.
- **Warm GET** is local. With ``versioning.validate_warm_get`` the backend is asked
  first (HEAD) and a changed object (ETag, or version id when both have one) is fetched
  again; with ``versioning.synchronize`` an object gone from the backend is removed
  locally too (and the GET is a 404). A backend that cannot be reached does not stop a
  warm GET: the local copy is served and a warning logged (AIS's behaviour).
- **Ranged cold GET**: the range is fetched from the backend as asked and streamed; the
  whole object is filled into the cache in the background (``fill_on_range``).
- **PUT writes through**: the body goes to the backend and the store at once (a tee); the
  store commits only after the backend acknowledged the object, so the local copy is
  published with the backend's ETag/version and a backend failure leaves nothing cached.
  The call returns once both are durable.
- **DELETE** is forwarded, then the local copy dropped.

The cached copy keeps the backend's attributes in ``ObjectMeta.extra["remote"]``
(cachemeta.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol, cast

import trio

from ..crypto.envelope import EXTRA_KEY
from ..errors import S3Error
from ..s3.ranges import parse_range
from ..store import ObjectInfo, ObjectMeta, Store
from ..store.lru import touch
from ..store.writer import RemoteCopy
from . import direct_io
from .cachemeta import REMOTE, record, remote_attrs, remote_of
from .fill import Fill, FillMemory, Relay, RelayWindow
from .flights import Flight, Flights
from .follow import Follower, followable, opened
from .metamemo import MetaMemo
from .provider import Provider, Resolved
from .registry import Backends
from .s3 import RemoteDeleted, RemoteStream, S3Backend
from .types import RemoteAttrs, RemoteBucketInfo, RemotePage
from .writethrough import SMALL, WriteThrough

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# a cold GET's body is read from the backend a store chunk at a time (one thread hand-off
# per chunk, not per MiB; the store takes a whole chunk as it comes), at most FILL_PIECE
FILL_PIECE = 8 * MiB
# how far a cold GET's fill runs ahead of its caller: it relays stretches as received
# (mostly lean.py's LOWAT, at most a piece), so at most this plus one piece (fill.py's
# RelayWindow); a caller that stays this far behind is handed over to follow the fill
RELAY_BYTES = 16 * MiB
FILL_MEMORY = 256 * MiB  # how far all fills' store sides may lag at once, node-wide


class Body(Protocol):
    """An object's bytes in pieces; ``aclose`` it when not read to the end."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class RemoteRead:
    """A GET's answer: what to put in the headers, then ``body``."""

    attrs: RemoteAttrs  # the whole object's: size, backend ETag/version, metadata
    start: int
    end: int  # inclusive (end < start: nothing to send)
    ranged: bool  # a Range was asked for and is served (206)
    cached: bool  # served from the local copy
    body: Body
    info: ObjectInfo | None = None  # the local copy, when served from it

    @property
    def length(self) -> int:
        return max(0, self.end - self.start + 1)


@dataclass(slots=True)
class RemoteHead:
    attrs: RemoteAttrs
    cached: bool
    info: ObjectInfo | None = None


class RemoteObjects:
    """Cold/warm GET, write-through PUT and DELETE of remote buckets' objects.

    Open with ``open_remote_objects(store, backends)``: fills run in its nursery, so they
    outlive the request that started them.
    """

    def __init__(
        self, store: Store, backends: Backends, nursery: trio.Nursery, *,
        fill_on_range: bool = True,
    ) -> None:
        self.store = store
        self.backends = backends
        self.fill_on_range = fill_on_range
        self._nursery = nursery
        self._flights = Flights()
        self._local_buckets: set[str] = set()
        self._fill_memory = FillMemory(FILL_MEMORY)
        self.meta_memo = MetaMemo()  # what is known of objects not cached (listings)
        self.fill_piece = min(FILL_PIECE, max(MiB, int(getattr(
            getattr(store, "config", None), "chunk_size", FILL_PIECE))))
        direct_io.install(store.chunks)  # remote copies' chunks written with O_DIRECT

    @property
    def background(self) -> trio.Nursery:
        """The nursery fills run in (cancelled, publishing nothing, at close): other
        work that must outlive its request starts here too (``background.start_soon``)."""
        return self._nursery

    def backend(self, rb: Resolved) -> S3Backend:
        if rb.remote is None:
            raise S3Error("InvalidRequest", f"{rb.bucket} is not a remote bucket")
        return self.backends.for_bucket(rb)

    @staticmethod
    def _remote_name(rb: Resolved) -> str:
        assert rb.remote is not None
        return rb.remote.name

    # == local copies ====================================================================

    async def ensure_local_bucket(self, rb: Resolved) -> None:
        """The store bucket of an ``s3://`` bucket is made on first use."""
        if rb.local in self._local_buckets:
            return
        try:
            await self.store.get_bucket(rb.local)
        except S3Error as e:
            if e.code != "NoSuchBucket" or rb.bucket.provider is Provider.AIS:
                raise
            with contextlib.suppress(S3Error):  # made meanwhile by another request
                await self.store.create_bucket(rb.local, {"provider": rb.bucket.provider.value})
        self._local_buckets.add(rb.local)

    async def local(self, rb: Resolved, key: str) -> ObjectInfo | None:
        """The cached copy, or None."""
        try:
            return await self.store.head_object(rb.local, key, with_data=True)
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchBucket"):
                return None
            raise

    async def evict(self, rb: Resolved, key: str) -> bool:
        """Drop the cached copy (the remote object stays). False: there was none. A fill
        of the key in the air keeps relaying to its caller and caches nothing (a DELETE,
        an evict, a write-through racing a cold GET: the late fill would have cached what
        the backend no longer has)."""
        flight = self._flights.in_air((rb.local, key))
        if flight is not None:
            flight.drop_copy()
            await flight.stored.wait()  # its commit, if it had begun, lands: dropped below
        try:
            await self.store.delete_object(rb.local, key)
            return True
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchBucket"):
                return False
            raise

    async def evict_in_air(self, rb: Resolved, prefix: str = "") -> int:
        """``evict`` of every key under ``prefix`` whose fill is in the air now (a bucket's
        evict, after its cached copies: a cold GET that began before must not cache after
        it); how many had a copy to drop."""
        keys = [k[1] for k in self._flights.keys_in_air()
                if isinstance(k, tuple) and k[0] == rb.local and str(k[1]).startswith(prefix)]
        return sum([await self.evict(rb, str(key)) for key in keys])

    async def _validated(self, rb: Resolved, key: str, info: ObjectInfo) -> ObjectInfo | None:
        """``info`` if it may be served as it is; None when it must be fetched again.
        Raises NoSuchKey when ``synchronize`` finds it gone from the backend."""
        rec = remote_of(info)
        if rec is None:  # never came from a backend (written before backend_bck was set)
            return info
        assert rb.remote is not None
        if rec.get("source") != rb.remote.uri:  # backend_bck changed since it was cached
            return None
        if not rb.validate_warm_get:
            return info
        try:
            attrs = await self.backend(rb).head_object(rb.remote.name, key)
        except S3Error as e:
            if e.code == "NoSuchKey":
                if rb.synchronize:
                    log.info("%s/%s is gone from the backend: dropped locally", rb.bucket, key)
                    await self.evict(rb, key)
                    raise
                return info
            if e.status >= 500:
                log.warning("%s/%s: served the cached copy unvalidated: %s",
                            rb.bucket, key, e.message)
                return info
            raise
        if attrs.same_version(str(rec.get("etag") or ""), str(rec.get("version") or "")):
            return info
        return None

    def _serve_local(
        self, info: ObjectInfo, range_header: str | None, segments: bool = False
    ) -> RemoteRead:
        touch(self.store, info.bucket, info.key)  # its access time, for the LRU (memory)
        span = parse_range(range_header, info.size) if range_header else None
        start, end = span if span is not None else (0, info.size - 1)
        if segments and EXTRA_KEY not in info.meta.extra:  # stored as sent: no SSE
            body = cast(Body, self.store.reader.read_segments(info, start, end))
        else:
            body = cast(Body, self.store.read_object(info, start, end))
        return RemoteRead(remote_attrs(info), start, end, span is not None, True, body, info)

    # == GET / HEAD ======================================================================

    async def head(self, rb: Resolved, key: str) -> RemoteHead:
        """The object's attributes: the cached copy's (validated as the bucket says), else
        the backend's (nothing is fetched)."""
        info = await self.local(rb, key)
        if info is not None:
            info = await self._validated(rb, key, info)
            if info is not None:
                return RemoteHead(remote_attrs(info), True, info)
        attrs = await self.backend(rb).head_object(self._remote_name(rb), key)
        self.meta_memo.remember(rb.local, key, attrs.etag, attrs.user)
        return RemoteHead(attrs, False)

    async def get(
        self, rb: Resolved, key: str, *, range_header: str | None = None,
        segments: bool = False,
    ) -> RemoteRead:
        """GET ``key`` of the remote bucket ``rb``: warm, validated, or cold. ``segments``:
        the caller's server sends files itself (``http.response.zerocopysend``), so a warm
        copy's chunks verified lately come as ``FileSegment``s (``Reader.read_segments``)
        as an ``ais://`` GET's do."""
        info = await self.local(rb, key)
        if info is not None:
            fresh = await self._validated(rb, key, info)
            if fresh is not None:
                return self._serve_local(fresh, range_header, segments)
        if range_header:
            return await self._ranged_cold(rb, key, range_header, info)
        return await self._cold(rb, key, info)

    async def fetch(self, rb: Resolved, key: str, *, latest: bool = False) -> int:
        """``key`` into the cache with nobody to relay it to (a prefetch): the bytes
        fetched, or -1 when a copy was there (checked with the backend first when
        ``latest``) or another flight brought it. Returns once the copy is committed; a
        fill's error is raised. The fill runs in the caller's task: no relay, no second
        lookup to learn when it landed."""
        info = await self.local(rb, key)
        if info is not None:
            check = dataclasses.replace(rb, validate_warm_get=True) if latest else rb
            if await self._validated(check, key, info) is not None:
                return -1
        fk = (rb.local, key)
        flight, _landed = await self._take_off(rb, key)
        if flight is None:
            return -1
        error: Exception | None = None
        try:
            stream = await self._open_flight(rb, key, flight)
            error = await Fill(self.store, self._fill_memory, self.fill_piece, rb, key,
                               stream, None, info, flight=flight).run()
        except Exception as e:
            error = e
        finally:
            self._flights.land(fk, flight, error)
        if error is not None:
            raise error
        return stream.attrs.size

    async def _ranged_cold(
        self, rb: Resolved, key: str, range_header: str, stale: ObjectInfo | None
    ) -> RemoteRead:
        stream = await self.backend(rb).open_object(
            self._remote_name(rb), key, range_header=range_header
        )
        if self.fill_on_range and self._flights.in_air((rb.local, key)) is None:
            self._nursery.start_soon(self._background_fill, rb, key, stale)
        return RemoteRead(stream.attrs, stream.start, stream.end, True, False,
                          _StreamBody(stream))

    async def _background_fill(self, rb: Resolved, key: str, stale: ObjectInfo | None) -> None:
        try:
            read = await self._cold(rb, key, stale)
        except S3Error as e:
            log.info("background fill of %s/%s: %s", rb.bucket, key, e)
            return
        await read.body.aclose()  # the fill goes on without a caller

    async def _take_off(
        self, rb: Resolved, key: str
    ) -> tuple[Flight, None] | tuple[None, ObjectInfo]:
        """Lead the fill of ``key`` (its flight), or - when another flight brought the
        copy meanwhile - the local copy. A leader that was cancelled, or a copy that went
        again: we lead a flight of our own."""
        fk = (rb.local, key)
        while True:
            flight = self._flights.take_off(fk)
            if flight is not None:
                return flight, None
            other = self._flights.in_air(fk)
            if other is not None:
                await self._flights.wait(other)  # the leader's error is ours
            info = await self.local(rb, key)
            if info is not None:
                return None, info

    async def _cold(self, rb: Resolved, key: str, stale: ObjectInfo | None) -> RemoteRead:
        fk = (rb.local, key)
        other = self._flights.in_air(fk)
        if other is not None:  # another's fill of it is in the air: follow it as it goes
            await opened(other)
            if followable(other, self.store.config.chunk_size):
                assert other.attrs is not None
                return RemoteRead(other.attrs, 0, other.attrs.size - 1, False, False,
                                  Follower(self.store, other, key))
        flight, landed = await self._take_off(rb, key)
        if flight is None:
            assert landed is not None
            return self._serve_local(landed, None)
        try:
            stream = await self._open_flight(rb, key, flight)
        except BaseException as e:
            self._flights.land(fk, flight, e if isinstance(e, Exception) else None)
            raise
        size = stream.attrs.size
        return RemoteRead(stream.attrs, 0, size - 1, False, False,
                          self.start_fill(rb, key, stream, stale, flight))

    async def _open_flight(self, rb: Resolved, key: str, flight: Flight) -> RemoteStream:
        """The backend's GET of ``key`` for the fill ``flight`` leads (the local bucket
        made first); its attributes told to the flight (its followers are answered)."""
        await self.ensure_local_bucket(rb)
        stream = await self.backend(rb).open_object(self._remote_name(rb), key)
        flight.opened(stream.attrs)
        return stream

    def start_fill(self, rb: Resolved, key: str, stream: RemoteStream,
                   stale: ObjectInfo | None, flight: Flight | None = None) -> Relay:
        """``stream`` (a whole object's GET) filled into the store in the background
        (fill.py), its pieces relayed on the way: the caller's body - handed over to
        follow ``flight``'s chunks (follow.py) when it falls behind. ``flight`` lands
        when the fill ends. A presigned GET's fill starts here too (no flight: its caller
        is relayed to throughout)."""
        send, recv = trio.open_memory_channel[bytes | memoryview | BaseException](math.inf)
        window = RelayWindow(RELAY_BYTES)  # bounds the channel in bytes
        self._nursery.start_soon(self._fill, rb, key, flight, stream, send, stale, window)
        follow = None if flight is None else functools.partial(
            Follower, self.store, flight, key)  # a caller that falls behind (fill.py)
        return Relay(recv, stream.attrs.size, key, window, follow)

    async def _fill(
        self, rb: Resolved, key: str, flight: Flight | None, stream: RemoteStream,
        send: trio.MemorySendChannel[bytes | memoryview | BaseException],
        stale: ObjectInfo | None, window: RelayWindow,
    ) -> None:
        """The backend's body into the store, each piece passed to the caller on the way
        (fill.py); the flight lands with the fill's error, if any."""
        error: Exception | None = None
        try:
            error = await Fill(self.store, self._fill_memory, self.fill_piece, rb, key,
                               stream, send, stale, window, flight).run()
        finally:
            if flight is not None:
                self._flights.land((rb.local, key), flight, error)
        if error is not None:
            log.info("fill of %s/%s failed: %s", rb.bucket, key, error)

    # == PUT / DELETE / COPY =============================================================

    async def put(
        self, rb: Resolved, key: str, body: AsyncIterable[bytes], meta: ObjectMeta, *,
        size: int | None = None, content_md5: bytes | None = None,
        forwarded: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Write through: the backend and the local copy, both durable on return
        (``forwarded``: the client's ACL and tagging headers, the backend's to keep:
        backend/forwarded.py).

        The returned ObjectInfo's ``meta.extra["remote"]`` has the backend's ETag and
        version (``cachemeta.client_etag`` is what the client gets). On any failure the
        backend's upload is not completed where it can still be stopped, and no new local
        copy is published.
        """
        backend = self.backend(rb)
        assert rb.remote is not None
        await self.ensure_local_bucket(rb)
        put = WriteThrough(backend, rb.remote, key, body, meta, size=size,
                           content_md5=content_md5, forwarded=forwarded)

        async def write_local(teed: AsyncIterable[bytes], copy: RemoteCopy) -> ObjectInfo:
            return await self.store.put_object(
                rb.local, key, teed, meta, expected_size=size, content_md5=content_md5,
                remote=copy)

        small = size is not None and size <= min(SMALL, self.store.config.inline_max)
        try:
            return await (put.run_small if small else put.run)(write_local)
        except BaseException:
            if put.acked is not None or put.in_doubt:  # the backend has (or may have)
                # the new object: an older local copy must go
                with trio.CancelScope(shield=True), contextlib.suppress(S3Error):
                    await self.evict(rb, key)
            raise

    async def delete(self, rb: Resolved, key: str) -> RemoteDeleted:
        """Forwarded to the backend (S3 answers a missing key with success), then the
        local copy dropped; the backend's answer (a versioned bucket's delete marker)."""
        deleted = await self.backend(rb).delete_object(self._remote_name(rb), key)
        self.meta_memo.forget(rb.local, key)
        await self.evict(rb, key)
        return deleted

    async def copy(
        self, src: Resolved, src_key: str, dst: Resolved, dst_key: str, *,
        size: int | None = None,
    ) -> RemoteAttrs:
        """A server-side copy within one backend (``size``: the source's, when known);
        the destination's cached copy (if any) is dropped (the next GET fetches the new
        object)."""
        if src.settings != dst.settings:
            raise S3Error("NotImplemented", "A copy between two backends is not supported yet")
        attrs = await self.backend(dst).copy_object(
            self._remote_name(src), src_key, self._remote_name(dst), dst_key, size=size
        )
        await self.copied(src, src_key, dst, dst_key, attrs, None)
        return attrs

    async def recopy_source(self, rb: Resolved, key: str) -> tuple[RemoteAttrs, bool]:
        """For a copy of ``key`` onto itself with new metadata: the backend's object (a
        HEAD), and whether the cached copy is that object - then the copy is made on the
        condition that it still is (``CopySourceIfMatch``, which AWS and aisfs honour;
        Ceph Pacific and moto ignore it: a HEAD-to-copy window is left there) and
        ``copied`` keeps the cached bytes under whatever ETag the backend gives the copy
        (a multipart object's is a new one). Not for a copy with a fill in the air or an
        encrypted copy."""
        head = await self.backend(rb).head_object(self._remote_name(rb), key)
        if self._flights.in_air((rb.local, key)) is not None:
            return head, False
        info = await self.local(rb, key)
        rec = remote_of(info) if info is not None else None
        same = (info is not None and rec is not None and EXTRA_KEY not in info.meta.extra
                and bool(head.etag) and rec.get("etag") == head.etag
                and (not head.version or rec.get("version") in ("", None, head.version)))
        return head, same

    async def copied(
        self, src: Resolved, src_key: str, dst: Resolved, dst_key: str, attrs: RemoteAttrs,
        meta: ObjectMeta | None, *, source_etag: str = "",
    ) -> None:
        """After a server-side copy in the backend made ``attrs`` (the new object's): a
        copy onto itself with new metadata ``meta`` (a chmod through the mount) keeps the
        cached copy, given that metadata and the new version - when its ETag is the new
        object's or ``source_etag``, the one the copy was conditioned on (the same bytes);
        any other destination's cached copy is dropped (the next GET fetches the new
        object)."""
        if (meta is not None and (src.local, src_key) == (dst.local, dst_key) and attrs.etag
                and self._flights.in_air((dst.local, dst_key)) is None):
            with contextlib.suppress(S3Error, _NotTheCopied):
                await self.store.update_object_meta(
                    dst.local, dst_key, functools.partial(_recopied, attrs, meta, source_etag))
                return
        await self.evict(dst, dst_key)
        if meta is not None:  # a REPLACE: the new object's metadata is known
            self.meta_memo.remember(dst.local, dst_key, attrs.etag, meta.user)

    # == listing =========================================================================

    async def list_page(
        self, rb: Resolved, *, prefix: str = "", delimiter: str = "", token: str = "",
        start_after: str = "", page_size: int = 1000,
    ) -> RemotePage:
        """One page of the backend's listing (which keys are cached: not yet marked)."""
        return await self.backend(rb).list_page(
            self._remote_name(rb), prefix=prefix, delimiter=delimiter, token=token,
            start_after=start_after, page_size=page_size,
        )

    async def list_buckets(self, rb: Resolved | None = None) -> list[RemoteBucketInfo]:
        """The backend's buckets (``[backend.s3]``'s, or ``rb``'s backend's)."""
        backend = self.backend(rb) if rb is not None else self.backends.s3()
        return await backend.list_buckets()


class _NotTheCopied(Exception):
    """The cached copy is not the object a backend's copy onto itself copied."""


def _recopied(attrs: RemoteAttrs, meta: ObjectMeta, source_etag: str,
              cached: ObjectMeta) -> None:
    """``cached`` (a copy's metadata) made that of the backend's copy onto itself: its
    content type, user metadata and stored headers ``meta``'s, its remote record
    ``attrs``'s (the new ETag, version and Last-Modified). An encrypted copy, or one whose
    ETag is neither the new object's nor ``source_etag`` (the copy's condition: other
    bytes), is not changed: ``_NotTheCopied``."""
    rec = cached.extra.get(REMOTE)
    if (not isinstance(rec, dict) or rec.get("etag") not in (attrs.etag, source_etag or None)
            or EXTRA_KEY in cached.extra):
        raise _NotTheCopied
    cached.content_type = meta.content_type
    cached.user = dict(meta.user)
    cached.headers = dict(meta.headers)
    cached.extra[REMOTE] = record(attrs, str(rec.get("source") or ""))


@contextlib.asynccontextmanager
async def open_remote_objects(
    store: Store, backends: Backends, *, fill_on_range: bool = True
) -> AsyncIterator[RemoteObjects]:
    """The service, with the nursery its fills run in (cancelled on exit: a fill cut
    short publishes nothing)."""
    async with trio.open_nursery() as nursery:
        ro = RemoteObjects(store, backends, nursery, fill_on_range=fill_on_range)
        try:
            yield ro
        finally:
            nursery.cancel_scope.cancel()


class _StreamBody:
    """A backend stream passed through (a ranged cold GET)."""

    def __init__(self, stream: RemoteStream) -> None:
        self._stream = stream
        self._it = stream.pieces()

    def __aiter__(self) -> _StreamBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await anext(self._it)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        await self._it.aclose()
        await self._stream.aclose()
