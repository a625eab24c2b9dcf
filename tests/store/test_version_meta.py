"""A version's record changed in place (S3's tags of a version: ``update_version_meta``)
and the object ACL rows beside it (aisfs/store/acls.py): a non-current version's tags
change alone, its lock and ACL rows stay; a tag change of the current null version keeps
its ACL once an overwrite makes it non-current; an index made before ``version_acls``
(object ACL rows only) gives each object's ACL to its version at open, whether the
overwrite came before or after; kill -9 at each step of a version's rewrite leaves the
old or the new tags, the file and the row agreeing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from aisfs.errors import S3Error
from aisfs.store import Store, StoreConfig, acls, open_store
from aisfs.store.types import ObjectMeta

from .conftest import make_config
from .test_versions import enabled, put, read

ACL = {"owner": "alice", "grants": [["group:AllUsers", "READ"]]}


def tagger(tags: dict[str, str]) -> Callable[[ObjectMeta], None]:
    def update(meta: ObjectMeta) -> None:
        meta.tags = tags
    return update


async def tags_of(store: Store, key: str, vid: str | None = None) -> dict[str, str]:
    info = (await store.head_object("b", key) if vid is None
            else await store.head_version("b", key, vid))
    return info.meta.tags


async def test_tags_of_a_noncurrent_version(store: Store) -> None:
    await enabled(store)
    v1 = await put(store, "b", "k", b"one" * 1000)
    v2 = await put(store, "b", "k", b"two")
    assert v1 is not None and v2 is not None
    lock = json.dumps({"legal_hold": True})
    await store.set_version_lock("b", "k", v1, lock)
    rows = acls.of(store.index)
    before = (await store.head_version("b", "k", v1)).generation
    await rows.set_version("b", "k", v1, before, ACL)
    out = await store.update_version_meta("b", "k", v1, tagger({"t": "1"}))
    assert out.version_id == v1 and out.generation == before
    assert await tags_of(store, "k", v1) == {"t": "1"}
    assert await tags_of(store, "k") == {}
    assert await read(store, "b", "k", v1) == b"one" * 1000
    assert await store.get_version_lock("b", "k", v1) == json.dumps({"legal_hold": True},
                                                                     separators=(",", ":"))
    assert await rows.version("b", "k", v1, before) == ACL
    await store.update_version_meta("b", "k", None, tagger({"c": "2"}))
    assert await tags_of(store, "k") == {"c": "2"} and await tags_of(store, "k", v1) == {
        "t": "1"}
    marker = (await store.delete_object("b", "k")).version_id
    with pytest.raises(S3Error) as e:
        await store.update_version_meta("b", "k", marker, tagger({}))
    assert (e.value.code, e.value.status) == ("MethodNotAllowed", 405)
    with pytest.raises(S3Error) as e:
        await store.update_version_meta("b", "k", "0" * 32, tagger({}))
    assert e.value.code == "NoSuchVersion"
    with pytest.raises(S3Error) as e:
        await store.update_version_meta("b", "k", None, tagger({}))
    assert e.value.code == "NoSuchKey"
    # a rebuild from the disks alone finds the tags (the version file holds them)
    await store.fsck(rebuild=True)
    assert await tags_of(store, "k", v1) == {"t": "1"}


async def test_a_tag_change_keeps_the_null_versions_acl(store: Store) -> None:
    """The current null version republished for its tags: its ACL rows follow its new
    generation, so the null version keeps its ACL once it is no longer current."""
    await store.create_bucket("b")
    await put(store, "b", "k", b"null")
    rows = acls.of(store.index)
    info = await store.head_object("b", "k")
    await rows.set("b", "k", info.generation, ACL, "null")
    await store.update_version_meta("b", "k", None, tagger({"t": "1"}))
    assert await rows.get("b", "k") == ACL
    await store.update_bucket_props("b", {"versioning.status": "Enabled"})
    await put(store, "b", "k", b"new")
    null = await store.head_version("b", "k", "null")
    assert null.meta.tags == {"t": "1"}
    assert await rows.version("b", "k", "null", null.generation) == ACL
    assert await rows.get("b", "k") is None


def _to_old_schema(config: StoreConfig) -> None:
    """The index as an aisfs from before per-version ACLs left it: no version_acls."""
    db = sqlite3.connect(config.index_dir / "index.db")
    db.execute("DROP TABLE version_acls")
    db.execute("DELETE FROM meta WHERE name = ?", (acls.BACKFILLED,))
    db.commit()
    db.close()


async def test_an_index_from_before_version_acls_is_backfilled(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with open_store(config) as store:
        await enabled(store)
        rows = acls.of(store.index)
        for key in ("before", "after"):
            await put(store, "b", key, key.encode())
            info = await store.head_object("b", key)
            await rows.set("b", key, info.generation, ACL)  # the object's row alone
        await store.create_bucket("n")
        await put(store, "n", "k", b"null")
        info = await store.head_object("n", "k")
        await rows.set("n", "k", info.generation, ACL)
    _to_old_schema(config)
    async with open_store(config) as store:
        # "before": overwritten before the ACL rows are first read (the open is lazy)
        v_old = (await store.head_object("b", "before")).version_id
        await put(store, "b", "before", b"new")
        rows = acls.of(store.index)
        assert rows.index.row("SELECT count(*) FROM version_acls", ())[0] == 3
        old = await store.head_version("b", "before", str(v_old))
        assert await rows.version("b", "before", str(v_old), old.generation) == ACL
        # "after": overwritten once the rows were backfilled
        v_after = (await store.head_object("b", "after")).version_id
        await put(store, "b", "after", b"new")
        old = await store.head_version("b", "after", str(v_after))
        assert await rows.version("b", "after", str(v_after), old.generation) == ACL
        assert await rows.get("b", "after") is None  # the new current: its own (none)
        # the null version, once versioning is on
        await store.update_bucket_props("n", {"versioning.status": "Enabled"})
        await put(store, "n", "k", b"new")
        null = await store.head_version("n", "k", "null")
        assert await rows.version("n", "k", "null", null.generation) == ACL
        assert (await store.fsck()).clean
    async with open_store(config) as store:  # once: the next open finds it done
        row = store.index.row("SELECT value FROM meta WHERE name = ?", (acls.BACKFILLED,))
        assert row is not None


CHILD = textwrap.dedent(
    """
    import os, sys, trio
    from pathlib import Path
    from aisfs.store import ObjectMeta, StoreConfig, journal, open_store

    root, point = Path(sys.argv[1]), sys.argv[2]
    config = StoreConfig(
        mountpaths=[root / f"mp{i}" for i in range(3)], index_dir=root / "index",
        chunk_size=64 * 1024, fsync=True, min_part_size=64 * 1024, inline_max=8192,
    )

    async def one(data):
        yield data

    def tag(meta):
        meta.tags = {"new": "1"}

    async def main():
        async with open_store(config) as store:
            await store.create_bucket("b", {"mirror.copies": 2})
            await store.update_bucket_props("b", {"versioning.status": "Enabled"})
            vids = []
            for data in (b"i" * 3000, b"c" * 100_000, b"x"):  # inline, chunked, current
                meta = ObjectMeta(tags={"old": "1"})
                vids.append((await store.put_object("b", "k", one(data), meta)).version_id)
            print("VIDS", *vids, flush=True)
            journal._crash_name, journal._crash_left[0] = point, 2  # the second rewrite
            await store.update_version_meta("b", "k", vids[0], tag)
            print("ACK", vids[0], flush=True)
            await store.update_version_meta("b", "k", vids[1], tag)
            print("DONE", flush=True)

    trio.run(main)
    """
)


def _run_child(root: Path, point: str) -> tuple[list[str], bool, bool]:
    for i in range(3):
        (root / f"mp{i}").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("AISFS_STORE_CRASH_AT", None)  # the child arms its crash point after its PUTs
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root), point], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    vids = next(line.split()[1:] for line in proc.stdout.splitlines()
                if line.startswith("VIDS"))
    return vids, "ACK" in proc.stdout, "DONE" in proc.stdout


@pytest.mark.parametrize("point", ["journaled", "installed", "committed"])
async def test_kill_during_a_versions_rewrite(tmp_path: Path, point: str) -> None:
    vids, acked, done = await trio.to_thread.run_sync(_run_child, tmp_path, point)
    assert acked and not done
    config = StoreConfig(
        mountpaths=[tmp_path / f"mp{i}" for i in range(3)], index_dir=tmp_path / "index",
        chunk_size=64 * 1024, fsync=True, min_part_size=64 * 1024, inline_max=8192)
    async with open_store(config) as store:
        assert await tags_of(store, "k", vids[0]) == {"new": "1"}  # acknowledged
        got = await tags_of(store, "k", vids[1])
        assert got in ({"old": "1"}, {"new": "1"})
        if point == "committed":
            assert got == {"new": "1"}
        assert await tags_of(store, "k") == {"old": "1"}
        assert await read(store, "b", "k", vids[0]) == b"i" * 3000
        assert await read(store, "b", "k", vids[1]) == b"c" * 100_000
        report = await store.fsck(rebuild=False)
        assert report.clean, report
    async with open_store(config) as store:  # the disks alone agree with the index
        await store.fsck(rebuild=True)
        assert await tags_of(store, "k", vids[1]) == got
