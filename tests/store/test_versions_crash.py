"""kill -9 during versioned changes (a test-only crash point, journal.crash_point, at each
step of a versioned overwrite, a delete marker, a version's removal with the next one
promoted, a marker's removal), then reopen: every acknowledged version is there with its
bytes, the change in flight is all or nothing, each key has one latest version, and fsck
is clean."""

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
from aisfs.store import Store, StoreConfig, open_store

from .conftest import read_all

CHILD = textwrap.dedent(
    """
    import hashlib, os, sys, trio
    from pathlib import Path
    from aisfs.store import ObjectMeta, StoreConfig, open_store

    root, op, fill = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    config = StoreConfig(
        mountpaths=[root / f"mp{i}" for i in range(3)], index_dir=root / "index",
        chunk_size=64 * 1024, fsync=True, min_part_size=64 * 1024, inline_max=8192,
    )

    async def one(data):
        yield data

    async def main():
        async with open_store(config) as store:
            await store.create_bucket("b", {"mirror.copies": 2})
            await store.update_bucket_props("b", {"versioning.status": "Enabled"})
            for i in range(fill):  # three keys, versions inline and chunked
                data = os.urandom(100_000 if i % 2 else 3000)
                info = await store.put_object("b", f"k{i % 3}", one(data), ObjectMeta())
                print("ACK", f"k{i % 3}", info.version_id, hashlib.md5(data).hexdigest(),
                      flush=True)
            if op == "unmark":
                out = await store.delete_object("b", "k1")
                print("MARK", out.version_id, flush=True)
            print("OP", op, flush=True)
            if op == "overwrite":
                await store.put_object("b", "k0", one(b"o" * 70_000), ObjectMeta())
            elif op == "marker":
                await store.delete_object("b", "k1")
            elif op == "remove":
                cur = await store.head_object("b", "k2")
                print("REMOVE", cur.version_id, flush=True)
                await store.delete_object("b", "k2", cur.version_id)
            elif op == "unmark":
                marker = (await store.list_versions("b", prefix="k1")).entries[0].version_id
                await store.delete_object("b", "k1", marker)
            print("DONE", flush=True)

    trio.run(main)
    """
)
FILL = 6


def run_child(root: Path, op: str, point: str) -> tuple[list[tuple[str, str, str]],
                                                       dict[str, str], bool]:
    before = FILL + (1 if op == "unmark" else 0)  # the changes that pass the point first
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "AISFS_STORE_CRASH_AT": f"{point}:{before + 1}",
    }
    for i in range(3):
        (root / f"mp{i}").mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), op, str(FILL)], capture_output=True,
        text=True, env=env, timeout=300,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    acked: list[tuple[str, str, str]] = []
    other: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        w = line.split()
        if w[0] == "ACK":
            acked.append((w[1], w[2], w[3]))
        elif w[0] in ("MARK", "REMOVE"):
            other[w[0]] = w[1]
    return acked, other, "DONE" in proc.stdout


async def md5_of(store: Store, key: str, vid: str | None = None) -> str | None:
    try:
        info = (await store.head_object("b", key) if vid is None
                else await store.head_version("b", key, vid))
    except S3Error as e:
        assert e.code in ("NoSuchKey", "NoSuchVersion")
        return None
    if info.delete_marker:
        return "marker"
    data = await read_all(store, info)
    assert len(data) == info.size
    return hashlib.md5(data).hexdigest()


def config_of(root: Path) -> StoreConfig:
    return StoreConfig(
        mountpaths=[root / f"mp{i}" for i in range(3)], index_dir=root / "index",
        chunk_size=64 * 1024, fsync=True, min_part_size=64 * 1024, inline_max=8192,
    )


# long: one crash per case, then the same checks for every case - the acknowledged versions,
# the change all or nothing per operation, one latest per key, fsck - read as one story
@pytest.mark.parametrize("point", ["staged", "journaled", "installed", "committed"])
@pytest.mark.parametrize("op", ["overwrite", "marker", "remove", "unmark"])
async def test_versioned_crash_point(tmp_path: Path, op: str, point: str) -> None:
    if point == "staged" and op != "overwrite":
        pytest.skip("a delete stages no manifest before its journal record")
    acked, other, done = await trio.to_thread.run_sync(run_child, tmp_path, op, point)
    assert len(acked) == FILL and not done
    committed = point == "committed"
    async with open_store(config_of(tmp_path)) as store:
        assert store.recovered
        latest = {k: v for k, v, _ in acked}  # each key's last acknowledged version
        for key, vid, md5 in acked:
            if op == "remove" and vid == other.get("REMOVE"):
                continue
            assert await md5_of(store, key, vid) == md5, (key, vid)
        page = await store.list_versions("b")
        per_key: dict[str, list[bool]] = {}
        for e in page.entries:
            per_key.setdefault(e.key, []).append(e.is_latest)
        assert all(flags[0] and not any(flags[1:]) for flags in per_key.values())
        listed = {(e.key, e.version_id) for e in page.entries}
        if op == "overwrite":
            got = await md5_of(store, "k0")
            new = hashlib.md5(b"o" * 70_000).hexdigest()
            assert got in (dict((k, m) for k, _, m in acked)["k0"], new)
            if committed:
                assert got == new
            assert len([k for k, _ in listed if k == "k0"]) == 2 + (got == new)
        elif op == "marker":
            got = await md5_of(store, "k1")
            assert got in (None, [m for k, _, m in acked if k == "k1"][-1])
            if committed or point == "installed":
                assert got is None
            marker = await store.latest_delete_marker("b", "k1")
            assert (marker is None) == (got is not None)
        elif op == "remove":
            gone = other["REMOVE"]
            got = await md5_of(store, "k2")
            previous = [m for k, _, m in acked if k == "k2"]
            assert got in previous[-2:]
            assert ((got == previous[-2]) == (("k2", gone) not in listed))
            if committed:
                assert got == previous[-2]
        elif op == "unmark":
            got = await md5_of(store, "k1")
            assert got in (None, [m for k, _, m in acked if k == "k1"][-1])
            assert (("k1", other["MARK"]) in listed) == (got is None)
            if committed:
                assert got is not None
        assert latest  # every key kept its acknowledged history above
        report = await store.fsck(rebuild=False)
        assert report.clean, report
        assert not store.index.journal.entries()
    # and a rebuild from the disks alone agrees
    async with open_store(config_of(tmp_path)) as store:
        before = [(e.key, e.version_id, e.is_latest) for e in page.entries]
        await store.fsck(rebuild=True)
        after = await store.list_versions("b")
        assert [(e.key, e.version_id, e.is_latest) for e in after.entries] == before
