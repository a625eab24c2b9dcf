"""The mount's pure parts, without a kernel: options, metadata, errnos, read-ahead."""

from __future__ import annotations

import errno
import os
import random
import stat

import pyfuse3
import pytest
import trio

from aisfs.errors import S3Error
from aisfs.native import decode_custom_md as parse_custom
from aisfs_mount.backend import ObjectInfo, Unreachable
from aisfs_mount.errnos import errno_of, fuse_errors
from aisfs_mount.inodes import (
    FILE,
    LINK,
    Attrs,
    Defaults,
    Inode,
    attrs_from,
    kind_of,
    may_access,
    meta_of,
)
from aisfs_mount.options import MountOptions, OptionError, parse_size
from aisfs_mount.readahead import Reader
from aisfs_mount.remote.node import native_base


def test_options() -> None:
    o = MountOptions()
    o.apply("ro,allow_other,uid=7,gid=8,umask=077,attr_timeout=0.5,_netdev,defaults,"
            "cache_limit=1G,x-systemd.automount,backend=s3")
    assert (o.read_only, o.allow_other, o.uid, o.gid, o.umask) == (True, True, 7, 8, 0o077)
    assert o.attr_timeout == 0.5 and o.cache_limit == 1 << 30 and o.backend == "s3"
    assert "ro" in o.fuse_options() and "allow_other" in o.fuse_options()
    with pytest.raises(OptionError, match="unknown option 'bogus'"):
        o.apply("bogus")
    with pytest.raises(OptionError):
        o.apply("uid=x")
    with pytest.raises(OptionError):
        o.apply("ro=1")
    o.set_source("b/some/prefix/")
    assert (o.bucket, o.prefix) == ("b", "some/prefix/")
    assert parse_size("64M") == 64 << 20 and parse_size("1.5k") == 1536


def test_may_access() -> None:
    f, d = stat.S_IFREG, stat.S_IFDIR
    assert may_access(f | 0o000, 5, 5, 0, 0, 6)  # root reads and writes anything
    assert not may_access(f | 0o644, 5, 5, 0, 0, 1)  # but runs only what has an x bit
    assert may_access(f | 0o001, 5, 5, 0, 0, 1) and may_access(d | 0o000, 5, 5, 0, 0, 1)
    assert may_access(f | 0o640, 5, 6, 5, 9, 6) and not may_access(f | 0o640, 5, 6, 7, 9, 4)
    assert may_access(f | 0o640, 5, 6, 7, 6, 4) and not may_access(f | 0o640, 5, 6, 7, 6, 2)
    assert not may_access(f | 0o077, 5, 6, 5, 6, 4)  # the owner's bits, not the group's


def test_metadata_round_trip() -> None:
    d = Defaults(uid=1, gid=2, umask=0o022, mount_time_ns=5)
    a = Attrs(size=3, mtime_ns=1_500_000_000_123_456_789, atime_ns=-1_000_000_001, perm=0o4751,
              uid=10, gid=20, target="../x y,z", user_meta={"other": "kept"})
    meta = meta_of(Inode(9, LINK, "l", a))
    assert int(meta["mode"]) == stat.S_IFLNK | 0o4751 and meta["other"] == "kept"
    info = ObjectInfo("l", 3, 7_000_000_000, "e", meta)
    assert kind_of(info) == LINK
    b = attrs_from(info, LINK, d, 0.0)
    assert (b.perm, b.uid, b.gid, b.target) == (0o4751, 10, 20, "../x y,z")
    assert (b.mtime_ns, b.atime_ns, b.ctime_ns) == (a.mtime_ns, a.atime_ns, 7_000_000_000)
    assert b.user_meta == {"other": "kept"}
    plain = attrs_from(ObjectInfo("p", 1, 9, "e", {}), FILE, d, 0.0)
    assert (plain.perm, plain.uid, plain.mtime_ns) == (0o644, 1, 9)
    s3fs_style = attrs_from(ObjectInfo("p", 1, 9, "e", {"mtime": "1700000000"}), FILE, d, 0.0)
    assert s3fs_style.mtime_ns == 1_700_000_000 * 10**9


def test_node_listing_metadata() -> None:
    got = parse_custom("ETag=abc,LastModified=Wed, 25 Nov 2026 07:35:16 GMT,mode=33188,"
                       "symlink=a%252Cb")  # the node escapes % , = (aisfs/native.py)
    assert got == {"ETag": "abc", "LastModified": "Wed, 25 Nov 2026 07:35:16 GMT",
                   "mode": "33188", "symlink": "a%2Cb"}
    assert native_base("http://h:8080/s3/") == "http://h:8080"
    assert native_base("http://h:9000") is None


def test_errnos() -> None:
    assert errno_of(S3Error("NoSuchKey")) == errno.ENOENT
    assert errno_of(S3Error("AccessDenied")) == errno.EACCES
    assert errno_of(S3Error("InsufficientStorage")) == errno.ENOSPC
    assert errno_of(S3Error("Whatever")) == errno.EIO
    assert errno_of(Unreachable("down")) == errno.EIO
    with pytest.raises(pyfuse3.FUSEError) as ei, fuse_errors("op"):
        raise ExceptionGroup("two", [S3Error("BucketNotEmpty"), Unreachable("x")])
    assert ei.value.errno == errno.ENOTEMPTY
    with pytest.raises(pyfuse3.FUSEError) as ei, fuse_errors("op"):
        raise KeyError("a bug")
    assert ei.value.errno == errno.EIO


class FakeStore:
    def __init__(self, data: bytes, fail_at: int | None = None) -> None:
        self.data = data
        self.calls: list[tuple[int, int]] = []
        self.fail_at = fail_at

    async def get_range(self, bucket: str, key: str, start: int, length: int) -> bytes:
        self.calls.append((start, length))
        await trio.sleep(0.001 * random.random())
        if self.fail_at is not None and start <= self.fail_at < start + length:
            raise Unreachable("gone")
        return self.data[start:start + length]


async def test_readahead_sequential_random_and_out_of_order() -> None:
    data = random.randbytes(10 * 1000 * 1000 + 7)
    store = FakeStore(data)
    async with trio.open_nursery() as nursery:
        r = Reader(store, "b", "k", len(data), nursery, trio.CapacityLimiter(4),  # type: ignore[arg-type]
                   block_size=1 << 20, max_blocks=4)
        out = bytearray()
        off = 0
        while off < len(data):
            chunk = await r.read(off, 128 << 10)
            out += chunk
            off += len(chunk)
        assert bytes(out) == data
        assert len(store.calls) == 10  # whole blocks, each fetched once
        # the kernel's read-ahead: several reads at once, arriving out of order
        r2 = Reader(store, "b", "k", len(data), nursery, trio.CapacityLimiter(4),  # type: ignore[arg-type]
                    block_size=1 << 20, max_blocks=4)
        got: dict[int, bytes] = {}

        async def read_at(o: int) -> None:
            got[o] = await r2.read(o, 64 << 10)

        async with trio.open_nursery() as inner:
            for o in [0, 128 << 10, 64 << 10, 256 << 10, 192 << 10]:
                inner.start_soon(read_at, o)
        assert all(got[o] == data[o:o + (64 << 10)] for o in got)
        for _ in range(50):
            o = random.randrange(len(data))
            assert await r2.read(o, 5000) == data[o:o + 5000]
        assert await r2.read(len(data), 10) == b""
        r.close()
        r2.close()


async def test_readahead_error_is_raised_then_retried() -> None:
    data = bytes(3 << 20)
    store = FakeStore(data, fail_at=(1 << 20) + 5)
    async with trio.open_nursery() as nursery:
        r = Reader(store, "b", "k", len(data), nursery, trio.CapacityLimiter(4),  # type: ignore[arg-type]
                   block_size=1 << 20)
        assert await r.read(0, 1 << 20) == data[: 1 << 20]
        with pytest.raises(Unreachable):
            await r.read(1 << 20, 4096)
        store.fail_at = None
        assert await r.read(1 << 20, 4096) == data[1 << 20:(1 << 20) + 4096]
        r.close()


class IntoStore(FakeStore):
    """A backend that receives into the reader's reused buffers, as S3Backend does."""

    async def get_range(  # type: ignore[override]
        self, bucket: str, key: str, start: int, length: int, into: bytearray | None = None
    ) -> bytes:
        data = await super().get_range(bucket, key, start, length)
        if into is None or len(into) < len(data):
            return data
        into[:len(data)] = data
        return memoryview(into)[:len(data)]  # type: ignore[return-value]


async def test_readahead_reused_buffers_never_change_bytes_in_use() -> None:
    """Many concurrent reads with a small window: blocks are evicted and their buffers
    reused while other reads wait on them or still hold views of them."""
    data = random.randbytes(6 * (1 << 20) + 123)
    store = IntoStore(data)
    async with trio.open_nursery() as nursery:
        r = Reader(store, "b", "k", len(data), nursery, trio.CapacityLimiter(4),  # type: ignore[arg-type]
                   block_size=256 << 10, max_blocks=2, in_flight=2)
        assert r.into
        held: list[tuple[int, object]] = []

        async def read_at(o: int) -> None:
            got = await r.read(o, 96 << 10)
            assert bytes(got) == data[o:o + (96 << 10)]
            if random.random() < 0.2:
                held.append((o, got))

        for span in (1 << 20, len(data)):  # near the stream, then all over the file
            for base in range(0, len(data), span):
                async with trio.open_nursery() as inner:
                    offs = list(range(base, min(base + span, len(data)), 64 << 10))
                    random.shuffle(offs)
                    for o in offs:
                        inner.start_soon(read_at, o)
        # views handed out earlier still show their bytes: their buffers were not reused
        assert all(bytes(v) == data[o:o + (96 << 10)] for o, v in held)  # type: ignore[call-overload]
        # a buffer nobody holds goes back to the free list (the loop above may end on a
        # far read, which clears the blocks while views of them are held: then none do)
        held.clear()
        got = await r._read_blocks(0, 96 << 10)
        assert bytes(got) == data[:96 << 10]
        del got
        r._clear()
        assert r.free
        r.close()


def test_write_cache_reuses_small_stages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from aisfs_mount.writecache import POOL_MAX, WriteCache

    cache = WriteCache(tmp_path / "c")
    a = cache.create()
    os.pwrite(a.fd, b"hello", 0)
    cache.resize(a, 5)
    path = a.path
    cache.drop(a)
    cache.drop(a)  # twice: nothing more happens
    b = cache.create()
    assert b.path == path and os.fstat(b.fd).st_size == 0 and cache.used == 0
    cache.resize(b, POOL_MAX + 1)  # a big stage is never kept
    cache.drop(b)
    assert not path.exists()
    c = cache.create()
    cache.drop(c)
    # a mount killed with only emptied stages left: nothing for lost+found
    os.rename(cache.dir, tmp_path / "c" / "mount-999999-dead")
    cache.dir.mkdir()
    WriteCache(tmp_path / "c")
    assert not (tmp_path / "c" / "lost+found").exists()
    assert not (tmp_path / "c" / "mount-999999-dead").exists()
    cache.close()


async def test_reader_lock_hands_over_in_order() -> None:
    """aisfs_mount/fuseloop.py: a free lock is taken without yielding; a taken one parks
    its waiters, and a holder that yields after its release hands it to the first."""
    import trio.testing

    from aisfs_mount.fuseloop import ReaderLock

    lock = ReaderLock()
    order: list[str] = []
    with trio.CancelScope() as scope:
        scope.cancel()
        async with lock:  # (a checkpoint here would raise Cancelled)
            order.append("free")
    assert order == ["free"]

    async def take(name: str) -> None:
        async with lock:
            order.append(name)
            await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        for name in ("a", "b", "c"):
            nursery.start_soon(take, name)
            await trio.testing.wait_all_tasks_blocked()  # (it holds the lock, or waits)
    assert order == ["free", "a", "b", "c"]
    async with lock:  # free again
        order.append("end")
    assert order[-1] == "end"


async def test_reader_lock_kept_by_a_holder_back_before_yielding() -> None:
    """aisfs_mount/fuseloop.py: a holder that releases the lock and takes it again
    without yielding (a FUSE request answered from memory) keeps it, its waiter parked;
    once it yields after a release, the waiter gets the lock - also when it ends."""
    import trio.testing

    from aisfs_mount.fuseloop import ReaderLock

    lock = ReaderLock()
    got: list[str] = []
    holder_go = trio.Event()
    waiter_done = trio.Event()

    async def waiter() -> None:
        async with lock:
            got.append("waiter")
        waiter_done.set()

    async def holder() -> None:
        await lock.__aenter__()
        await holder_go.wait()
        for _ in range(3):  # release and take again, no checkpoint between
            await lock.__aexit__()
            got.append("holder")
            await lock.__aenter__()
        await lock.__aexit__()
        with trio.fail_after(10):
            await waiter_done.wait()  # yields after a release: the waiter's turn
        got.append("holder yielded")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(holder)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()  # (parked)
        holder_go.set()
    assert got == ["holder", "holder", "holder", "waiter", "holder yielded"]

    got.clear()

    async def ends_holding_it() -> None:
        await lock.__aenter__()
        await holder_go.wait()
        await lock.__aexit__()  # and the task ends: that is a yield too

    holder_go = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ends_holding_it)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        holder_go.set()
    assert got == ["waiter"]
    async with lock:
        pass


def test_parse_time_ns_fast_path_matches_decimal() -> None:
    """aisfs_mount/inodes.py: the digits-only form parsed without Decimal gives what
    Decimal gives (truncated to the nanosecond), and the bounds hold."""
    from decimal import Decimal

    from aisfs_mount.inodes import MAX_TIME_S, parse_time_ns

    def slow(text: str) -> int | None:  # what it was: Decimal for every form
        try:
            d = Decimal(text.strip())
        except ArithmeticError:
            return None
        if not d.is_finite() or d.copy_abs() > MAX_TIME_S:
            return None
        return int(d * 1_000_000_000)

    rng = random.Random(7)
    samples = ["0", "1", "1.5", "0.000000001", "1796550601.123456789", "12.1234567891",
               " 42.10 ", "007.5", str(MAX_TIME_S), f"{MAX_TIME_S}.0", f"{MAX_TIME_S}.1",
               str(MAX_TIME_S + 1), "-1.5", "1e3", "1_000", "9" * 30, "x", "1.2.3",
               "NaN", "Infinity", "\uff11\uff12", "1.", ".5", ".5x", "1.\uff15"]
    samples += [f"{rng.randrange(10**11)}.{rng.randrange(10**12):0{rng.randrange(1, 13)}d}"
                for _ in range(300)]
    for text in samples:
        assert parse_time_ns(text) == slow(text), text
    assert parse_time_ns("") is None and parse_time_ns(None) is None


@pytest.mark.timeout(60)
async def test_device_wait_leaves_nothing_waiting() -> None:
    """aisfs_mount/fuseloop.py: `DeviceWait` sleeps in poll(2) only while nothing else
    is to be done - another task woken in the same pass of the scheduler, a sleeper's
    deadline, a socket, a thread's result all still run while it waits - and returns
    without the scheduler when the descriptor is readable and nothing else is."""
    import trio.testing

    from aisfs_mount.fuseloop import DeviceWait

    wait = DeviceWait()
    r, w = os.pipe()
    try:
        done: list[str] = []

        async def reader() -> None:
            await wait(r)
            assert os.read(r, 1) == b"x"
            done.append("read")

        # a task woken in the same pass as the reader (no queue holds it then): it runs
        # (the scheduler runs a pass's tasks in either order: tried a few times; were
        # it left waiting, the reader's poll would wait for ever: the test's timeout)
        for _ in range(12):
            done.clear()
            ev = trio.Event()

            async def peer(ev: trio.Event = ev) -> None:
                await ev.wait()
                done.append("peer")
                os.write(w, b"x")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(peer)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(reader)
                ev.set()
            assert sorted(done) == ["peer", "read"]

        # a sleeper's deadline and a thread's result, while the reader waits
        done.clear()

        async def sleeper() -> None:
            await trio.sleep(0.05)
            done.append("slept")
            done.append(await trio.to_thread.run_sync(lambda: "thread"))
            a, b = trio.socket.socketpair()
            with a, b:
                await a.send(b"y")
                assert await b.recv(1) == b"y"
            done.append("socket")
            os.write(w, b"x")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            nursery.start_soon(sleeper)
        assert done == ["slept", "thread", "socket", "read"]

        # readable and nothing else to run: no pass of the scheduler
        os.write(w, b"x")
        task = trio.lowlevel.current_task()
        before = (task._schedule_points, wait.fast)  # (trio's count of passes)
        await wait(r)
        await wait(r)  # (still readable)
        assert (task._schedule_points, wait.fast) == (before[0], before[1] + 2)
        assert os.read(r, 1) == b"x"
    finally:
        os.close(r)
        os.close(w)
