"""kill -9 at each point of the publish path (a test-only hook, journal.crash_point),
then reopen: every acknowledged object is there, the change in flight is all or nothing,
fsck is clean, and the open read only the manifests the journal names."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from aisfs.errors import S3Error
from aisfs.store import StoreConfig, open_store

from .conftest import read_all

CHILD = textwrap.dedent(
    """
    import hashlib, os, sys, trio
    from pathlib import Path
    from aisfs.store import ObjectMeta, StoreConfig, open_store

    root, op, fill = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    SPOOLED = 1_300_000
    config = StoreConfig(
        mountpaths=[root / f"mp{i}" for i in range(3)], index_dir=root / "index",
        chunk_size=64 * 1024, fsync=True, min_part_size=64 * 1024, inline_max=8192,
    )

    async def one(data):
        yield data

    def data_of(i):  # every third object chunked, the others inline
        return os.urandom(100_000 if i % 3 == 0 else 4096)

    async def main():
        async with open_store(config) as store:
            await store.create_bucket("b", {"mirror.copies": 2})
            for i in range(fill):
                data = data_of(i)
                await store.put_object("b", f"k{i}", one(data), ObjectMeta())
                print("ACK", f"k{i}", hashlib.md5(data).hexdigest(), flush=True)
            print("OP", op, flush=True)
            if op == "put":
                await store.put_object("b", "new", one(b"n" * 5000), ObjectMeta())
            elif op == "overwrite":
                await store.put_object("b", "k0", one(b"o" * 70_000), ObjectMeta())
            elif op == "put_spooled":  # declared length: written to chunk files as it comes
                await store.put_object("b", "new", one(b"s" * SPOOLED), ObjectMeta(),
                                       expected_size=SPOOLED)
            elif op == "delete":
                await store.delete_object("b", "k1")
            elif op == "rename":
                await store.rename_object("b", "k2", "k2r")
            elif op == "complete":
                u = await store.create_upload("b", "mp", ObjectMeta())
                p = await store.put_part(u.upload_id, "b", "mp", 1, one(b"p" * 70_000))
                await store.complete_upload(u.upload_id, "b", "mp", [(1, p.etag)])
            print("DONE", flush=True)

    trio.run(main)
    """
)


def run_child(root: Path, op: str, fill: int, point: str) -> tuple[dict[str, str], bool]:
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        # the fill publishes `fill` times first: the op under test is the next one
        "AISFS_STORE_CRASH_AT": point if ":" in point else f"{point}:{fill + 1}",
    }
    for i in range(3):
        (root / f"mp{i}").mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), op, str(fill)], capture_output=True,
        text=True, env=env, timeout=300,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    acked = {}
    for line in proc.stdout.splitlines():
        w = line.split()
        if w[0] == "ACK":
            acked[w[1]] = w[2]
    return acked, "DONE" in proc.stdout


def config_of(root: Path) -> StoreConfig:
    return StoreConfig(
        mountpaths=[root / f"mp{i}" for i in range(3)], index_dir=root / "index",
        chunk_size=64 * 1024, fsync=True, min_part_size=64 * 1024, inline_max=8192,
    )


async def md5_of(store, key: str) -> str | None:  # type: ignore[no-untyped-def]
    try:
        info = await store.head_object("b", key)
    except S3Error as e:
        assert e.code == "NoSuchKey"
        return None
    data = await read_all(store, info)
    assert len(data) == info.size
    if "-" not in info.etag:  # not a multipart ETag
        assert hashlib.md5(data).hexdigest() == info.etag
    return info.etag  # type: ignore[no-any-return]


@pytest.mark.parametrize("point", ["journaled", "installed", "prepared", "committed"])
async def test_crash_point_multipart_complete(tmp_path: Path, point: str) -> None:
    """A complete removes the upload's files before its commit: after a crash there the
    object is published and the upload's rows go (its records are not journaled: the
    uploads in progress are checked at a crash restart)."""
    # only a complete passes "prepared" (the others have no step before their commit)
    at = "prepared:1" if point == "prepared" else point
    acked, done = await trio.to_thread.run_sync(run_child, tmp_path, "complete", 3, at)
    assert len(acked) == 3 and not done
    async with open_store(config_of(tmp_path)) as store:
        got = await md5_of(store, "mp")
        assert got in (None, hashlib.md5(hashlib.md5(b"p" * 70_000).digest()).hexdigest()
                       + "-1")
        uploads = await store.list_uploads("b")
        assert got is not None or len(uploads) == 1  # never neither
        if point != "installed":  # there the upload's files were still whole: it stays,
            assert (got is None) == (len(uploads) == 1)  # for a retried complete or abort
        if point in ("prepared", "committed"):
            assert got is not None
        for key, md5 in acked.items():
            assert await md5_of(store, key) == md5
        report = await store.fsck(rebuild=False)
        assert report.clean, report


@pytest.mark.parametrize("point", ["staged", "journaled", "installed", "committed"])
@pytest.mark.parametrize("op", ["put", "put_spooled", "overwrite", "delete", "rename"])
async def test_crash_point(tmp_path: Path, op: str, point: str) -> None:
    acked, done = await trio.to_thread.run_sync(run_child, tmp_path, op, 6, point)
    assert len(acked) == 6 and not done
    async with open_store(config_of(tmp_path)) as store:
        assert store.recovered
        # the open read the manifests of the journaled names only (copies = 2)
        assert store.reconciled.manifests_read <= 2 * store.reconciled.entries
        untouched = {"put": [], "put_spooled": [], "overwrite": ["k0"], "delete": ["k1"],
                     "rename": ["k2"]}[op]
        for key, md5 in acked.items():
            if key not in untouched:
                assert await md5_of(store, key) == md5, key
        committed = point == "committed"  # the commit was done: the change is visible
        if op in ("put", "put_spooled"):
            body = b"n" * 5000 if op == "put" else b"s" * 1_300_000
            got = await md5_of(store, "new")
            assert got == (hashlib.md5(body).hexdigest() if committed else None) or (
                point == "installed" and got is not None  # complete, unacknowledged
            )
        elif op == "overwrite":
            got = await md5_of(store, "k0")
            new = hashlib.md5(b"o" * 70_000).hexdigest()
            assert got in (acked["k0"], new)
            if committed:
                assert got == new
        elif op == "delete":
            got = await md5_of(store, "k1")
            assert got in (acked["k1"], None)
            if committed or point == "installed":  # the manifests were gone: finished
                assert got is None
        elif op == "rename":
            old, new_ = await md5_of(store, "k2"), await md5_of(store, "k2r")
            assert (old is None) != (new_ is None)
            assert (old or new_) == acked["k2"]
            if committed or point == "installed":
                assert new_ is not None
        report = await store.fsck(rebuild=False)
        assert report.clean, report
        assert not store.index.journal.entries()  # the open emptied it


async def test_reconcile_bounded_by_journal_not_objects(tmp_path: Path) -> None:
    """With many more objects than the journal can name, a crash restart reads a bounded
    number of manifests (a count, not a timing)."""
    fill = 1000
    acked, _ = await trio.to_thread.run_sync(run_child, tmp_path, "overwrite", fill, "installed")
    assert len(acked) == fill
    async with open_store(config_of(tmp_path)) as store:
        # the journal named k0 alone (the change in flight): its two manifest copies
        assert store.reconciled.entries == 1
        assert store.reconciled.manifests_read == 2
        assert store.reconciled.objects_fixed == 1  # k0: installed, not committed
        page = await store.list_objects("b", max_keys=2000)
        assert len(page.entries) == fill
        for key in ("k1", "k3", f"k{fill - 1}"):
            assert await md5_of(store, key) == acked[key]
        assert (await store.fsck(rebuild=False)).clean


async def test_clean_restart_reads_no_manifest(tmp_path: Path) -> None:
    acked, _ = await trio.to_thread.run_sync(run_child, tmp_path, "delete", 20, "committed")
    async with open_store(config_of(tmp_path)):
        pass
    async with open_store(config_of(tmp_path)) as store:
        assert not store.recovered
        assert store.reconciled.manifests_read == 0
        assert len((await store.list_objects("b")).entries) == 19


def test_journal_names_the_change_in_flight_only(tmp_path: Path) -> None:
    from aisfs.store.journal import Journal

    j = Journal(tmp_path / "journal")
    with j.intent(objects=[("b", f"long-key-{i}") for i in range(50)]):
        pass
    with j.intent(objects=[("b", "k")], buckets=["b"]):
        pass  # a shorter record over a longer one: its stale tail is not read
    assert j.entries() == [("o", "b", "k"), ("b", "b")]
    with pytest.raises(RuntimeError), j.intent(objects=[("b", "failed")]):
        raise RuntimeError
    with j.intent(objects=[("b", "next")]):
        pass  # after a failed intent the records accumulate until the open reconciles
    assert j.entries() == [("o", "b", "failed"), ("o", "b", "next")]
    j.close(clean=True)  # a failed intent is kept across a clean stop too
    j = Journal(tmp_path / "journal")
    assert j.entries() == [("o", "b", "failed"), ("o", "b", "next")]
    j.clear()
    assert j.entries() == []
    j.close(clean=True)
