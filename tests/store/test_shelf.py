"""The shelf (aisfs/store/shelf.py): small current manifests as rows of a per-mountpath
SQLite file, big ones as files - one home at a time, the newer generation winning where a
move between the two was cut short; durable before a PUT returns; rebuilt from the disks
alone; kill -9 at every point of a move between homes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from aisfs.store import ObjectMeta, StoreConfig, layout, open_store
from aisfs.store import files as store_files
from aisfs.store.manifest import decode_manifest
from aisfs.store.shelf import shelf_of
from tests.support.manifest_copies import copies, every_copy

from .conftest import body_of, make_config, read_all

SMALL = os.urandom(4096)  # its manifest ~4.5 KB: a row
BIG = os.urandom(20_000)  # inline too, its manifest ~20 KB: a file


def config_of(tmp_path: Path, **kw: object) -> StoreConfig:
    return make_config(tmp_path, inline_max=64 * 1024, **kw)


def homes(config: StoreConfig, key: str) -> list[str]:
    return sorted("row" if c.in_shelf else "file"
                  for c in copies(config.mountpaths, "b", key))


async def test_small_manifests_are_rows_big_ones_files_one_home_at_a_time(
    tmp_path: Path,
) -> None:
    config = config_of(tmp_path)
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2})
        await store.put_object("b", "k", body_of(SMALL), ObjectMeta())
        assert homes(config, "k") == ["row", "row"]
        for data, where in [(BIG, "file"), (SMALL, "row"), (BIG, "file"), (b"", "row")]:
            await store.put_object("b", "k", body_of(data), ObjectMeta())
            assert homes(config, "k") == [where, where]
            assert await read_all(store, await store.head_object("b", "k")) == data
        await store.put_object("b", "big", body_of(BIG), ObjectMeta())
        await store.copy_object("b", "big", "b", "small-copy")  # a copy keeps the size
        assert homes(config, "small-copy") == ["file", "file"]
        await store.delete_object("b", "k")
        assert homes(config, "k") == []
        assert (await store.fsck(rebuild=False)).clean
    shutil.rmtree(config.index_dir)  # the disks alone give every object back
    async with open_store(config) as store:
        assert await read_all(store, await store.head_object("b", "big")) == BIG
        assert await read_all(store, await store.head_object("b", "small-copy")) == BIG
        report = await store.fsck(rebuild=False)
        assert report.clean and report.objects == 2, report


@pytest.mark.parametrize("newer", ["row", "file"])
async def test_both_homes_after_a_cut_move_the_newer_generation_wins(
    tmp_path: Path, newer: str
) -> None:
    """As a crash between the two steps of a move leaves it: the row and the file of one
    name, of two generations. A rebuild (and a read of the inline bytes) takes the newer."""
    config = config_of(tmp_path, n=1)
    root = str(config.mountpaths[0])
    async with open_store(config) as store:
        await store.create_bucket("b")
        await store.put_object("b", "k", body_of(SMALL), ObjectMeta())
        [row] = copies([root], "b", "k")
        older = row.read_bytes()
        await store.put_object("b", "k", body_of(BIG), ObjectMeta())  # now a file
        [file] = copies([root], "b", "k")
        newest = file.read_bytes()
    if newer == "row":  # the older one in the file, the newer in the row
        shelf_of(root).put(layout.manifest_name("b", "k"), newest)
        Path(layout.manifest_path(root, "b", "k")).write_bytes(older)
        want = BIG
    else:
        shelf_of(root).put(layout.manifest_name("b", "k"), older)
        want = BIG
    assert homes(config, "k") == ["file", "row"]
    shutil.rmtree(config.index_dir)
    async with open_store(config) as store:
        assert await read_all(store, await store.head_object("b", "k", with_data=True)) == want
        assert (await store.fsck(rebuild=False)).clean
        # the next PUT leaves one home again
        await store.put_object("b", "k", body_of(SMALL), ObjectMeta())
        assert homes(config, "k") == ["row"]


async def test_a_small_put_makes_its_row_durable_before_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row is committed without a sync; the PUT fsyncs the shelf's WAL (with the
    directories of the change) before it returns - every time, lone or grouped."""
    config = config_of(tmp_path, n=1, fsync=True)
    synced: list[str] = []
    real = store_files.fsync_dir

    def fsync_dir(path: str) -> None:
        synced.append(path)
        real(path)

    monkeypatch.setattr(store_files, "fsync_dir", fsync_dir)
    import aisfs.store.groups as groups
    import aisfs.store.publish as publish

    monkeypatch.setattr(groups, "fsync_dir", fsync_dir)
    monkeypatch.setattr(publish, "fsync_dir", fsync_dir)
    wal = shelf_of(str(config.mountpaths[0])).wal
    async with open_store(config) as store:
        await store.create_bucket("b")
        for i in range(3):
            synced.clear()
            await store.put_object("b", f"k{i}", body_of(SMALL), ObjectMeta())
            assert wal in synced, synced

        async def put(i: int) -> None:
            await store.put_object("b", f"g{i}", body_of(SMALL), ObjectMeta())

        synced.clear()
        async with trio.open_nursery() as nursery:
            for i in range(16):
                nursery.start_soon(put, i)
        assert wal in synced
        synced.clear()
        await store.delete_object("b", "k0")
        assert wal in synced, synced


async def test_versioning_enabled_over_a_null_current_in_a_row(tmp_path: Path) -> None:
    """A null version written before versioning (a row) is kept as a version file when
    versioning is on and the key is overwritten; removing the newer version for good
    makes it current again."""
    config = config_of(tmp_path, fsync=True)
    async with open_store(config) as store:
        await store.create_bucket("b")
        await store.put_object("b", "k", body_of(SMALL), ObjectMeta())
        assert homes(config, "k") == ["row"]
        await store.update_bucket_props("b", {"versioning.status": "Enabled"})
        info = await store.put_object("b", "k", body_of(BIG[:5000]), ObjectMeta())
        assert homes(config, "k") == ["file"]  # a versioned current stays a file
        old = await store.head_version("b", "k", "null")
        assert await read_all(store, old) == SMALL
        assert info.version_id
        await store.delete_object("b", "k", version_id=info.version_id)
        assert await read_all(store, await store.head_object("b", "k")) == SMALL
        assert (await store.fsck(rebuild=False)).clean
    shutil.rmtree(config.index_dir)
    async with open_store(config) as store:
        assert await read_all(store, await store.head_object("b", "k")) == SMALL
        assert (await store.fsck(rebuild=False)).clean


async def test_a_damaged_row_is_never_served_and_scrub_mends_it(tmp_path: Path) -> None:
    config = config_of(tmp_path)
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2})
        await store.put_object("b", "k", body_of(SMALL), ObjectMeta())
        r1, r2 = copies(config.mountpaths, "b", "k")
        good = r1.read_bytes()
        bad = bytearray(good)
        bad[-1] ^= 1
        r2.write_bytes(bytes(bad))
        from aisfs.store.inline_cache import cache_for

        cache_for(store.index).forget("b", "k")
        assert await read_all(store, await store.head_object("b", "k", with_data=True)) == SMALL
        prog = await trio.to_thread.run_sync(store.admin.scrub)
        assert await trio.to_thread.run_sync(store.admin.wait_idle, 60)
        assert prog.manifests_fixed == 1, prog
        assert r1.read_bytes() == r2.read_bytes() == good


async def test_every_copy_walks_rows_and_files(tmp_path: Path) -> None:
    config = config_of(tmp_path, n=1)
    async with open_store(config) as store:
        await store.create_bucket("b")
        for i in range(300):  # more than one walk page
            await store.put_object("b", f"s{i}", body_of(SMALL[: 100 + i]), ObjectMeta())
        await store.put_object("b", "big", body_of(BIG), ObjectMeta())
    found = every_copy(config.mountpaths[0])
    assert sorted(c.key for c in found) == sorted([f"s{i}" for i in range(300)] + ["big"])
    assert [c.key for c in found if not c.in_shelf] == ["big"]


CHILD = textwrap.dedent(
    """
    import hashlib, sys, trio
    from pathlib import Path
    from aisfs.store import ObjectMeta, StoreConfig, open_store

    root, op = Path(sys.argv[1]), sys.argv[2]
    config = StoreConfig(
        mountpaths=[root / f"mp{i}" for i in range(2)], index_dir=root / "index",
        chunk_size=64 * 1024, fsync=True, min_part_size=64 * 1024, inline_max=64 * 1024,
    )
    SMALL, BIG = b"s" * 4096, b"b" * 20_000

    async def one(data):
        yield data

    async def main():
        async with open_store(config) as store:
            await store.create_bucket("b", {"mirror.copies": 2})
            for key, data in [("row", SMALL), ("file", BIG), ("other", SMALL)]:
                await store.put_object("b", key, one(data), ObjectMeta())
                print("ACK", key, hashlib.md5(data).hexdigest(), flush=True)
            print("OP", op, flush=True)
            if op == "to_file":
                await store.put_object("b", "row", one(BIG), ObjectMeta())
            elif op == "to_row":
                await store.put_object("b", "file", one(SMALL), ObjectMeta())
            print("DONE", flush=True)

    trio.run(main)
    """
)


def run_child(root: Path, op: str, point: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "AISFS_STORE_CRASH_AT": f"{point}:4"}  # three PUTs first
    for i in range(2):
        (root / f"mp{i}").mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root), op], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert "DONE" not in proc.stdout
    return {w[1]: w[2] for w in map(str.split, proc.stdout.splitlines()) if w[0] == "ACK"}


@pytest.mark.parametrize("point", ["staged", "journaled", "installed", "committed"])
@pytest.mark.parametrize("op", ["to_file", "to_row"])
async def test_kill_9_during_a_move_between_homes(tmp_path: Path, op: str, point: str) -> None:
    acked = await trio.to_thread.run_sync(run_child, tmp_path, op, point)
    assert len(acked) == 3
    key = "row" if op == "to_file" else "file"
    new = hashlib.md5(b"b" * 20_000 if op == "to_file" else b"s" * 4096).hexdigest()
    config = StoreConfig(
        mountpaths=[tmp_path / f"mp{i}" for i in range(2)], index_dir=tmp_path / "index",
        chunk_size=64 * 1024, fsync=True, min_part_size=64 * 1024, inline_max=64 * 1024,
    )
    async with open_store(config) as store:
        assert store.recovered
        info = await store.head_object("b", "other")
        assert info.etag == acked["other"]
        info = await store.head_object("b", key, with_data=True)
        assert info.etag in (acked[key], new)
        if point == "committed":
            assert info.etag == new
        data = await read_all(store, info)
        assert hashlib.md5(data).hexdigest() == info.etag
        assert len(homes(config, key)) == 2 and len(set(homes(config, key))) == 1
        for c in copies(config.mountpaths, "b", key):
            assert decode_manifest(c.read_bytes()).etag == info.etag
        assert (await store.fsck(rebuild=False)).clean


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a size-limited tmpfs needs root")
def test_has_on_a_full_disk_where_the_shelf_could_not_open(tmp_path: Path) -> None:
    """A mountpath that filled before its shelf was ever written: opening the shelf's
    writer (WAL mode, its schema) fails for lack of room and leaves an empty file. A
    publish's check for an older copy there (``has``) raised ENOSPC - a PUT whose manifest
    had landed on another mountpath answered 507 (test_spool's full-mountpath case, one CI
    run in a few). It is a read: the empty shelf holds no row."""
    from .test_full_mountpath import tmpfs

    root = tmp_path / "mp"
    with tmpfs(root, "256k"):
        fd = os.open(root / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"x" * 4096):
                pass
        except OSError:
            pass  # full
        finally:
            os.close(fd)
        shelf = shelf_of(str(root))
        name = layout.manifest_name("b", "k")
        with pytest.raises(OSError):
            shelf.put(name, b"a manifest")
        assert shelf.has(name) is False
        shelf.close()
