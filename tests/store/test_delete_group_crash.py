"""kill -9 inside a grouped delete (many concurrent deletes committed together, one
journal record, one index transaction, their directories fsynced together), at each
point of the publish path: every acknowledged delete is done, every other object of
the batch is whole or gone (all of the batch gone once its manifests were), nothing
else is touched, fsck is clean."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from aisfs.store import open_store

from .test_crash_points import config_of, md5_of

FILL = 16
DELETED = 12  # k0..k11 deleted at once: the first to run alone, the other 11 together

CHILD = textwrap.dedent(
    """
    import hashlib, os, sys, trio
    from pathlib import Path
    from aisfs.store import ObjectMeta, StoreConfig, open_store

    root, fill, deleted = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    config = StoreConfig(
        mountpaths=[root / f"mp{i}" for i in range(3)], index_dir=root / "index",
        chunk_size=64 * 1024, fsync=True, min_part_size=64 * 1024, inline_max=8192,
    )

    async def one(data):
        yield data

    async def main():
        async with open_store(config) as store:
            await store.create_bucket("b", {"mirror.copies": 2})
            for i in range(fill):  # every third object chunked, the others inline
                data = os.urandom(100_000 if i % 3 == 0 else 4096)
                await store.put_object("b", f"k{i}", one(data), ObjectMeta())
                print("ACK", f"k{i}", hashlib.md5(data).hexdigest(), flush=True)

            async def delete(key):
                await store.delete_object("b", key)
                print("DEL", key, flush=True)

            async with trio.open_nursery() as nursery:
                for i in range(deleted):
                    nursery.start_soon(delete, f"k{i}")
            print("DONE", flush=True)

    trio.run(main)
    """
)


def run_child(root: Path, point: str) -> tuple[dict[str, str], set[str], bool]:
    """The objects put, the deletes acknowledged, whether it ran to the end."""
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        # the fill publishes FILL times, the first delete once: the batch is next
        "AISFS_STORE_CRASH_AT": f"{point}:{FILL + 2}",
    }
    for i in range(3):
        (root / f"mp{i}").mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(FILL), str(DELETED)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    acked: dict[str, str] = {}
    deleted: set[str] = set()
    for line in proc.stdout.splitlines():
        w = line.split()
        if w[0] == "ACK":
            acked[w[1]] = w[2]
        elif w[0] == "DEL":
            deleted.add(w[1])
    return acked, deleted, "DONE" in proc.stdout


@pytest.mark.parametrize("point", ["staged", "journaled", "installed", "committed"])
async def test_crash_inside_a_grouped_delete(tmp_path: Path, point: str) -> None:
    acked, deleted, done = await trio.to_thread.run_sync(run_child, tmp_path, point)
    assert len(acked) == FILL and not done
    assert len(deleted) <= 1  # the first batch's one: none of the crashed batch
    async with open_store(config_of(tmp_path)) as store:
        assert store.recovered
        if point != "staged":  # the batch's record: every key of it, in one
            assert store.reconciled.entries == DELETED - 1
        gone_all = point in ("installed", "committed")  # its manifests were gone
        for i in range(FILL):
            key = f"k{i}"
            got = await md5_of(store, key)
            if key in deleted:
                assert got is None, key
            elif i < DELETED:  # whole or gone; gone once the batch's manifests were
                assert got in (acked[key], None), key
                if gone_all:
                    assert got is None, key
            else:
                assert got == acked[key], key
        report = await store.fsck(rebuild=False)
        assert report.clean, report
        assert not store.index.journal.entries()
