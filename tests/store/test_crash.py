"""kill -9 a process in the middle of a PUT; reopen; acknowledged objects are all there."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import trio

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, open_store

from .conftest import CHUNK, chunk_files, make_config, read_all

CHILD = textwrap.dedent(
    """
    import hashlib, os, sys, trio
    from pathlib import Path
    from aisfs.store import ObjectMeta, StoreConfig, open_store

    root = Path(sys.argv[1])
    config = StoreConfig(
        mountpaths=[root / f"mp{i}" for i in range(3)], index_dir=root / "index",
        chunk_size=64 * 1024, fsync=True, min_part_size=64 * 1024, inline_max=0,
    )

    async def body(data):
        for i in range(0, len(data), 10_000):
            yield data[i : i + 10_000]

    async def slow():
        for i in range(1000):
            yield os.urandom(32 * 1024)
            if i == 20:
                print("MID", flush=True)
            await trio.sleep(0.01)

    async def main():
        async with open_store(config) as store:
            await store.create_bucket("b", {"mirror.copies": 2})
            for i in range(10):
                data = os.urandom(i * 50_000)
                await store.put_object("b", f"k{i}", body(data), ObjectMeta())
                print("ACK", f"k{i}", hashlib.md5(data).hexdigest(), flush=True)
            u = await store.create_upload("b", "mp", ObjectMeta())
            p = await store.put_part(u.upload_id, "b", "mp", 1, body(b"part"))
            print("UPLOAD", u.upload_id, p.etag, flush=True)
            await store.put_object("b", "k0", slow(), ObjectMeta())
            print("UNREACHABLE", flush=True)

    trio.run(main)
    """
)


async def test_kill_9_during_put(tmp_path: Path) -> None:
    config = make_config(tmp_path, fsync=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = await trio.to_thread.run_sync(
        lambda: subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True,
            env=env,
        )
    )
    acked: dict[str, str] = {}
    upload = None
    assert proc.stdout is not None
    while True:
        line = await trio.to_thread.run_sync(proc.stdout.readline)
        assert line, "child died early"
        words = line.split()
        if words[0] == "ACK":
            acked[words[1]] = words[2]
        elif words[0] == "UPLOAD":
            upload = (words[1], words[2])
        elif words[0] == "MID":
            break
    os.kill(proc.pid, signal.SIGKILL)
    await trio.to_thread.run_sync(proc.wait)
    proc.stdout.close()
    assert (config.index_dir / "dirty").exists()
    assert len(acked) == 10 and upload is not None

    async with open_store(config) as store:
        assert store.recovered
        for key, md5 in acked.items():
            head = await store.head_object("b", key)
            data = await read_all(store, head)
            assert hashlib.md5(data).hexdigest() == md5 == head.etag
        page = await store.list_objects("b")
        assert [e.key for e in page.entries] == sorted(acked)
        # the multipart upload survived too
        [part] = await store.list_parts(upload[0], "b", "mp")
        assert part.etag == upload[1]
        # the interrupted put's chunks are orphans; gc takes them, nothing else
        before = len(chunk_files(config))
        removed = await store.gc()
        # two copies of each orphan chunk, unless the kill came between its two writes
        freed = before - len(chunk_files(config))
        assert removed > 0 and removed <= freed <= 2 * removed
        for key in acked:
            await read_all(store, await store.head_object("b", key))
        assert (await store.fsck(rebuild=False)).clean
        info = await store.complete_upload(upload[0], "b", "mp", [(1, upload[1])])
        assert await read_all(store, info) == b"part"
        try:
            await store.head_object("b", "nothing")
        except S3Error as e:
            assert e.code == "NoSuchKey"
        await store.put_object("b", "new", _one(b"x" * CHUNK), ObjectMeta())


async def _one(data: bytes):
    yield data


async def test_unclean_stop_without_index_commit(tmp_path: Path) -> None:
    """A manifest written whose index commit was lost (power loss with synchronous=NORMAL):
    the reconcile at the next open publishes it; nothing half-written appears."""
    config = make_config(tmp_path)
    async with open_store(config) as store:
        await store.create_bucket("b")
        info = await store.put_object("b", "k", _one(b"abc"), ObjectMeta())
        with store.index.wlock:  # forget the commit, as a lost WAL frame would
            store.index.w.execute("DELETE FROM objects")
            store.index.w.execute("DELETE FROM chunks")
    (config.index_dir / "dirty").write_text("1")
    async with open_store(config) as store:
        head = await store.head_object("b", "k")
        assert head.generation == info.generation
        assert await read_all(store, head) == b"abc"
        assert await store.gc() == 0
