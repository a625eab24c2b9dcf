"""The index keeps what listing and lookup need: no inline bytes (they are in the manifest
files, raw, once). An older index is slimmed in place on open."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import trio

from aisfs.store import ObjectMeta, open_store
from aisfs.store.index import READER_CACHE_KIB
from tests.support.manifest_copies import copies, every_copy

from .conftest import body_of, make_config, read_all


async def test_index_under_1_kib_per_4_kib_object(tmp_path: Path) -> None:
    config = make_config(tmp_path, inline_max=64 * 1024)
    n = 2000
    async with open_store(config) as store:
        await store.create_bucket("b")
        for i in range(n):
            meta = ObjectMeta(content_type="application/octet-stream", user={"i": str(i)})
            await store.put_object("b", f"dir{i % 20}/obj-{i:06d}", body_of(os.urandom(4096)),
                                   meta)
    db = config.index_dir / "index.db"
    per_object = db.stat().st_size / n
    assert per_object < 1024, per_object
    found = [c for mp in config.mountpaths for c in every_copy(mp)]
    assert len(found) == n and all(c.in_shelf for c in found)
    # the manifest: JSON then the raw bytes (~4.5 KB, not 5.9 as base64)
    assert all(4096 < len(c.read_bytes()) < 4096 + 600 for c in found)
    # all in: the blocks of every file - index, shelves, anything else (the directories
    # made with a mountpath, and each shelf's 256 KiB reserve for deletes on a full disk,
    # are fixed costs, not counted: 262 B per object at 2,000 of them, nothing at scale)
    used = sum(p.lstat().st_blocks * 512 for top in [config.index_dir, *config.mountpaths]
               for p in top.rglob("*") if p.is_file() and not p.name.endswith("-reserve"))
    assert used / n < 6000, used / n


async def test_older_index_slimmed_and_older_manifests_read(tmp_path: Path) -> None:
    config = make_config(tmp_path, inline_max=64 * 1024)
    data = os.urandom(3000)
    async with open_store(config) as store:
        await store.create_bucket("b")
        await store.put_object("b", "k", body_of(data), ObjectMeta())
        # as an index and manifests of before: the bytes in base64, in the row and file
        with store.index.wlock:
            (text,) = store.index.w.execute("SELECT manifest FROM objects").fetchone()
            d = json.loads(text)
            d["inline"] = base64.b64encode(data).decode()
            old = json.dumps(d)
            store.index.w.execute("UPDATE objects SET manifest = ?", (old,))
            store.index.w.execute("DELETE FROM meta WHERE name = 'index_version'")
        for c in copies(config.mountpaths, "b", "k"):
            c.write_bytes(old.encode())
    async with open_store(config) as store:
        (text,) = store.index.row("SELECT manifest FROM objects")
        assert "inline" not in json.loads(text) and json.loads(text)["inline_xxh3"]
        assert store.index.row("SELECT value FROM meta WHERE name = 'index_version'") == ("2",)
        head = await store.head_object("b", "k", with_data=True)
        assert await read_all(store, head) == data
        assert await read_all(store, await store.head_object("b", "k")) == data
        assert (await store.fsck(rebuild=False)).clean


async def test_fsck_prints_progress(tmp_path: Path, monkeypatch, capfd) -> None:  # type: ignore[no-untyped-def]
    from aisfs.store import fsck

    class EveryManifest(fsck.ScanProgress):
        def __init__(self) -> None:
            super().__init__(every=0.0)

    monkeypatch.setattr(fsck, "ScanProgress", EveryManifest)
    config = make_config(tmp_path, inline_max=64 * 1024)
    async with open_store(config) as store:
        await store.create_bucket("b")
        for i in range(5):
            await store.put_object("b", f"k{i}", body_of(b"x" * 100), ObjectMeta())
        assert (await store.fsck(rebuild=False)).clean
    err = capfd.readouterr().err
    assert "fsck: 5 manifests read (5 objects)" in err, err


async def test_worker_readers_page_cache_bounded(tmp_path: Path) -> None:
    """A worker thread's reader connection keeps READER_CACHE_KIB of pages (40 of them at
    SQLite's default 2 MiB each held ~82 MiB after a scan); the loop's keeps the default."""
    config = make_config(tmp_path)
    async with open_store(config) as store:
        on_loop = store.index.r.execute("PRAGMA cache_size").fetchone()[0]
        in_worker = await trio.to_thread.run_sync(
            lambda: store.index.r.execute("PRAGMA cache_size").fetchone()[0]
        )
    assert in_worker == -READER_CACHE_KIB
    assert on_loop == -2000  # SQLite's default
