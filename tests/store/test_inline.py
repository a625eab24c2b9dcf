"""Small objects kept inline in their manifest (StoreConfig.inline_max)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import xxhash

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store, StoreConfig, StoreCorruption, open_store
from aisfs.store.inline_cache import cache_for
from aisfs.store.layout import manifest_path
from aisfs.store.manifest import decode_manifest
from aisfs.store.types import WriteResult
from tests.support.manifest_copies import ManifestCopy, copies

from .conftest import CHUNK, body_of, chunk_files, make_config, rand, read_all

INLINE = 4096


@pytest.fixture
def config(tmp_path: Path) -> StoreConfig:
    return make_config(tmp_path, inline_max=INLINE)


@pytest.fixture
async def store(config: StoreConfig) -> AsyncIterator[Store]:
    async with open_store(config) as s:
        yield s
        report = await s.fsck(rebuild=False)
        assert report.clean, report


def manifests(store: Store, bucket: str, key: str) -> list[ManifestCopy]:
    return copies([mp.root for mp in store.mps.all], bucket, key)


def chunk_rows(store: Store) -> int:
    return int(store.index.row("SELECT count(*) FROM chunks")[0])


@pytest.mark.parametrize("size", [0, 1, INLINE, INLINE + 1])
async def test_round_trip(store: Store, config: StoreConfig, size: int) -> None:
    await store.create_bucket("b")
    data = rand(size)
    seen: list[WriteResult] = []
    h = hashlib.sha1()
    info = await store.put_object(
        "b", "k", body_of(data, 1000), ObjectMeta(user={"a": "1"}), expected_size=size,
        content_md5=hashlib.md5(data).digest(), hashers={"sha1": h},
        before_commit=seen.append,
    )
    assert info.etag == hashlib.md5(data).hexdigest()
    assert info.checksum_type == "xxhash"
    assert info.checksum_value == xxhash.xxh3_64_hexdigest(data)
    assert h.hexdigest() == hashlib.sha1(data).hexdigest()
    [res] = seen
    assert res.size == size and res.md5 == hashlib.md5(data).digest()
    inline = size <= INLINE
    assert (info.inline is not None) == inline
    assert (res.chunks == []) == (inline or size == 0)
    assert (len(chunk_files(config)) == 0) == (inline or size == 0)
    [m] = manifests(store, "b", "k")
    raw = m.read_bytes()
    head_json, sep, tail = raw.partition(b"\n")
    d = json.loads(head_json)
    # an inline object's bytes follow its JSON raw (no base64), once
    assert ("inline_xxh3" in d) == inline and (d["chunks"] == []) == inline
    assert "inline" not in d and (sep == b"\n") == inline and tail == (data if inline else b"")
    row = store.index.row("SELECT manifest FROM objects WHERE key = 'k'")[0]
    assert row.encode() == head_json  # the index keeps the JSON, not the bytes
    for with_data in (False, True):
        head = await store.head_object("b", "k", with_data=with_data)
        assert head.etag == info.etag and head.meta.user == {"a": "1"}
        assert await read_all(store, head) == data
    for start, end in [(0, 0), (1, 100), (size // 2, None), (size - 1, size + 5), (3, 2)]:
        if size == 0:
            break
        want = data[start : (size if end is None else end + 1)]
        assert await read_all(store, head, start, end) == want, (start, end)


async def test_checks_behave_as_before(store: Store, config: StoreConfig) -> None:
    await store.create_bucket("b")
    with pytest.raises(S3Error) as e:
        await store.put_object("b", "k", body_of(b"abc"), ObjectMeta(), content_md5=b"x" * 16)
    assert e.value.code == "BadDigest"
    with pytest.raises(S3Error) as e:
        await store.put_object("b", "k", body_of(b"abc"), ObjectMeta(), expected_size=4)
    assert e.value.code == "IncompleteBody"

    def refuse(_r: WriteResult) -> None:
        raise S3Error("XAmzContentSHA256Mismatch", "no")

    with pytest.raises(S3Error):
        await store.put_object("b", "k", body_of(b"abc"), ObjectMeta(), before_commit=refuse)
    with pytest.raises(S3Error):
        await store.head_object("b", "k")
    assert manifests(store, "b", "k") == []
    await store.put_object("b", "k", body_of(b"abc"), ObjectMeta(), if_none_match="*")
    with pytest.raises(S3Error) as e:
        await store.put_object("b", "k", body_of(b"xyz"), ObjectMeta(), if_none_match="*")
    assert e.value.code == "PreconditionFailed"
    with pytest.raises(S3Error) as e:
        await store.put_object("b", "k", body_of(b"xyz"), ObjectMeta(), if_match='"nope"')
    assert e.value.code == "PreconditionFailed"
    etag = hashlib.md5(b"abc").hexdigest()
    await store.put_object("b", "k", body_of(b"xyz"), ObjectMeta(), if_match=f'"{etag}"')
    assert await read_all(store, await store.head_object("b", "k")) == b"xyz"
    await store.create_bucket("md5", {"checksum.type": "md5"})
    info = await store.put_object("md5", "k", body_of(b"abc"), ObjectMeta())
    assert info.checksum_value == etag and info.inline == b"abc"


async def test_overwrite_inline_chunked_inline(store: Store, config: StoreConfig) -> None:
    await store.create_bucket("b")
    small, big, small2 = rand(100), rand(3 * CHUNK + 5), rand(INLINE)
    await store.put_object("b", "k", body_of(small), ObjectMeta())
    assert chunk_files(config) == [] and chunk_rows(store) == 0
    await store.put_object("b", "k", body_of(big), ObjectMeta())
    assert len(chunk_files(config)) == 4 and chunk_rows(store) == 4
    assert await read_all(store, await store.head_object("b", "k")) == big
    await store.put_object("b", "k", body_of(small2), ObjectMeta())
    assert chunk_files(config) == [] and chunk_rows(store) == 0  # old chunks collected
    assert await read_all(store, await store.head_object("b", "k", with_data=True)) == small2
    await store.delete_object("b", "k")
    assert manifests(store, "b", "k") == []
    assert await store.gc() == 0


async def test_copy_rename_update_meta_stay_inline(store: Store, config: StoreConfig) -> None:
    await store.create_bucket("b")
    await store.create_bucket("c", {"mirror.copies": 2})
    data = rand(1000)
    src = await store.put_object("b", "a/1", body_of(data), ObjectMeta(user={"x": "1"}))
    cp = await store.copy_object("b", "a/1", "c", "copy")
    assert cp.inline == data and cp.etag == src.etag and cp.chunks == []
    assert len(manifests(store, "c", "copy")) == 2
    cp2 = await store.copy_object("b", "a/1", "b", "a/2", ObjectMeta(user={"y": "2"}))
    assert cp2.inline == data and cp2.meta.user == {"y": "2"}
    await store.rename_object("b", "a/1", "r/1")
    with pytest.raises(S3Error):
        await store.head_object("b", "a/1")
    assert await store.rename_prefix("b", "a/", "z/") == 1
    upd = await store.update_object_meta("b", "z/2", _set_user(z="3"))
    assert upd.inline == data
    for bucket, key in [("c", "copy"), ("b", "r/1"), ("b", "z/2")]:
        head = await store.head_object(bucket, key)
        assert head.inline_xxh3 and head.chunks == []
        assert await read_all(store, head, 10, 19) == data[10:20]
        for m in manifests(store, bucket, key):
            assert decode_manifest(m.read_bytes()).inline == data
    assert (await store.head_object("b", "z/2")).meta.user == {"z": "3"}
    assert chunk_files(config) == [] and chunk_rows(store) == 0


async def test_multipart_stays_chunked(store: Store, config: StoreConfig) -> None:
    await store.create_bucket("b")
    u = await store.create_upload("b", "mp", ObjectMeta())
    p = await store.put_part(u.upload_id, "b", "mp", 1, body_of(b"tiny part"))
    assert len(chunk_files(config)) == 1
    info = await store.complete_upload(u.upload_id, "b", "mp", [(1, p.etag)])
    assert info.inline is None and len(info.chunks) == 1
    assert await read_all(store, info) == b"tiny part"


async def test_fsck_rebuilds_inline_objects(config: StoreConfig) -> None:
    objs = {f"k{i}": rand(i * 500) for i in range(10)}  # 0..4500 bytes: inline and not
    async with open_store(config) as store:
        await store.create_bucket("b")
        for k, v in objs.items():
            await store.put_object("b", k, body_of(v), ObjectMeta(user={"k": k}))
        await store.rename_object("b", "k3", "k3r")
        objs["k3r"] = objs.pop("k3")
    shutil.rmtree(config.index_dir)  # the index is lost: the manifests alone rebuild it
    async with open_store(config) as store:
        for k, v in objs.items():
            head = await store.head_object("b", k)
            assert head.meta.user == {"k": k if k != "k3r" else "k3"}
            assert bool(head.inline_xxh3) == (len(v) <= INLINE)
            assert await read_all(store, head) == v
        report = await store.fsck(rebuild=False)
        assert report.clean and report.objects == len(objs)
        assert report.chunks_referenced == 1  # k9 (4500 bytes) only


async def test_mirror_copies_survive_losing_a_mountpath(config: StoreConfig) -> None:
    objs = {f"k{i}": rand(10 + i * 300) for i in range(12)}
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2})
        for k, v in objs.items():
            await store.put_object("b", k, body_of(v), ObjectMeta())
            assert len(manifests(store, "b", k)) == 2
        assert chunk_files(config) == []
    shutil.rmtree(config.mountpaths[0])
    config.mountpaths[0].mkdir()  # an empty (new) disk in its place
    shutil.rmtree(config.index_dir)
    async with open_store(config) as store:
        for k, v in objs.items():
            assert await read_all(store, await store.head_object("b", k)) == v
        assert (await store.fsck(rebuild=False)).objects == len(objs)


async def test_resilver_restores_inline_copies(store: Store) -> None:
    await store.create_bucket("b", {"mirror.copies": 2})
    objs = {f"k{i}": rand(200 + i) for i in range(8)}
    for k, v in objs.items():
        await store.put_object("b", k, body_of(v), ObjectMeta())
    victim = store.mps.all[0]
    await trio.to_thread.run_sync(store.admin.disable, victim.root)
    assert await trio.to_thread.run_sync(store.admin.wait_idle, 60)
    live = [mp for mp in store.mps.all if mp is not victim]
    for k, v in objs.items():
        held = copies([mp.root for mp in live], "b", k)
        assert len(held) == 2, k
        assert await read_all(store, await store.head_object("b", k)) == v
    await trio.to_thread.run_sync(store.admin.enable, victim.root)
    assert await trio.to_thread.run_sync(store.admin.wait_idle, 60)


async def test_scrub_repairs_a_corrupt_manifest_copy(store: Store) -> None:
    await store.create_bucket("b", {"mirror.copies": 2})
    data = rand(3000)
    await store.put_object("b", "k", body_of(data), ObjectMeta())
    await store.put_object("b", "other", body_of(b"fine"), ObjectMeta())
    m1, m2 = manifests(store, "b", "k")
    good = m1.read_bytes()
    bad = bytearray(good)
    bad[-7] ^= 0x01  # one bit of the raw bytes after the JSON
    m2.write_bytes(bytes(bad))
    # a read takes a copy that verifies, whichever mountpath comes first
    assert await read_all(store, await store.head_object("b", "k")) == data
    assert await read_all(store, await store.head_object("b", "k", with_data=True)) == data
    prog = await trio.to_thread.run_sync(store.admin.scrub)
    assert await trio.to_thread.run_sync(store.admin.wait_idle, 60)
    assert prog.state == "done" and prog.manifests_fixed == 1 and prog.unrepairable == []
    assert m1.read_bytes() == m2.read_bytes() == good
    # every copy damaged: an error, never wrong bytes; scrub lists it and overwrites nothing
    for m in (m1, m2):
        m.write_bytes(bytes(bad))
    # the bytes a read verified are kept in memory (inline_cache.py) and served from there
    assert await read_all(store, await store.head_object("b", "k", with_data=True)) == data
    cache_for(store.index).forget("b", "k")  # as after a restart: the disks alone
    with pytest.raises(StoreCorruption):
        await read_all(store, await store.head_object("b", "k", with_data=True))
    with pytest.raises(StoreCorruption):
        await read_all(store, await store.head_object("b", "k"))
    prog = await trio.to_thread.run_sync(store.admin.scrub)
    assert await trio.to_thread.run_sync(store.admin.wait_idle, 60)
    assert prog.unrepairable == ["b/k"]
    assert m1.read_bytes() == bytes(bad)
    await store.delete_object("b", "k")  # clean for the fixture's fsck


CHILD = textwrap.dedent(
    """
    import hashlib, os, sys, trio
    from pathlib import Path
    from aisfs.store import ObjectMeta, StoreConfig, open_store

    root = Path(sys.argv[1])
    config = StoreConfig(
        mountpaths=[root / f"mp{i}" for i in range(3)], index_dir=root / "index",
        chunk_size=64 * 1024, fsync=True, inline_max=4096,
    )

    async def one(data):
        yield data

    async def main():
        async with open_store(config) as store:
            await store.create_bucket("b", {"mirror.copies": 2})
            print("READY", flush=True)

            async def writer(w):
                for i in range(100000):
                    data = os.urandom((w * 977 + i * 131) % 5000)
                    key = f"w{w}/{i % 50}"
                    await store.put_object("b", key, one(data), ObjectMeta())
                    print("ACK", key, hashlib.md5(data).hexdigest(), flush=True)

            async with trio.open_nursery() as n:
                for w in range(8):
                    n.start_soon(writer, w)

    trio.run(main)
    """
)


async def test_kill_9_during_small_puts(tmp_path: Path) -> None:
    """Eight writers overwrite small keys (inline and not) until kill -9: every key's
    last acknowledged version (or a newer one that was being written) is there."""
    config = make_config(tmp_path, fsync=True, inline_max=INLINE)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = await trio.to_thread.run_sync(
        lambda: subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True,
            env=env,
        )
    )
    assert proc.stdout is not None
    acked: dict[str, list[str]] = {}
    n = 0
    while n < 600:
        line = await trio.to_thread.run_sync(proc.stdout.readline)
        assert line, "child died early"
        words = line.split()
        if words[0] == "ACK":
            acked.setdefault(words[1], []).append(words[2])
            n += 1
    os.kill(proc.pid, signal.SIGKILL)
    await trio.to_thread.run_sync(proc.wait)
    proc.stdout.close()
    async with open_store(config) as store:
        assert store.recovered
        for key, md5s in acked.items():
            head = await store.head_object("b", key)
            data = await read_all(store, head)
            got = hashlib.md5(data).hexdigest()
            assert got == head.etag
            # the last acknowledged one, or one written after it (its ACK not read yet)
            assert got not in md5s[:-1] or md5s.count(got) > 1, key
        await store.gc()
        assert (await store.fsck(rebuild=False)).clean


def _set_user(**user: str):  # type: ignore[no-untyped-def]
    def update(meta: ObjectMeta) -> None:
        meta.user = dict(user)

    return update


async def test_new_manifest_unnamed_then_linked_and_race_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PUT of a new key writes its manifest as an unnamed file linked into place
    (no temp file left behind); one that finds a manifest appeared meanwhile replaces
    it, fsync then rename, as a PUT over an existing object does."""
    from aisfs.store import publish

    config = make_config(tmp_path, inline_max=INLINE, fsync=True, shelf_max=0)  # files
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2})
        await store.put_object("b", "new", body_of(b"fresh"), ObjectMeta())
        paths = [p for p in (manifest_path(str(mp), "b", "new") for mp in config.mountpaths)
                 if os.path.exists(p)]
        assert len(paths) == 2
        assert all(decode_manifest(Path(p).read_bytes()).key == "new" for p in paths)
        assert not any(os.listdir(mp / "tmp") for mp in config.mountpaths)
        # a stale, torn manifest where the PUT does not look (as after a power loss)
        for mp in config.mountpaths:
            p = Path(manifest_path(str(mp), "b", "racy"))
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"")
        monkeypatch.setattr(publish.os.path, "exists", lambda path: False)
        await store.put_object("b", "racy", body_of(b"second"), ObjectMeta())
        monkeypatch.undo()
        info = await store.head_object("b", "racy")
        assert await read_all(store, info) == b"second"
        assert not any(os.listdir(mp / "tmp") for mp in config.mountpaths)
    async with open_store(config) as store:  # rebuilt from the manifests alone
        report = await store.fsck(rebuild=True)
        assert report.clean, report
        info = await store.head_object("b", "racy")
        assert await read_all(store, info) == b"second"


async def test_older_copy_elsewhere_removed_only_after_the_new_is_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest left on another mountpath (placed before the mountpaths changed) is the
    acknowledged previous version: a PUT that links its new manifest unnamed-then-named
    fsyncs it before removing that copy."""
    from aisfs.store import manifests, publish

    config = make_config(tmp_path, n=2, inline_max=INLINE, fsync=True, shelf_max=0)
    async with open_store(config) as store:
        await store.create_bucket("b")
        await store.put_object("b", "k", body_of(b"old"), ObjectMeta())
        here, there = (Path(manifest_path(str(mp), "b", "k")) for mp in config.mountpaths)
        if not here.exists():
            here, there = there, here
        there.parent.mkdir(parents=True, exist_ok=True)
        os.replace(here, there)  # as if placed on the other mountpath
        events: list[str] = []
        real_sync, real_unlink = publish.Publisher.sync_linked, manifests.unlink_durably

        def sync_linked(self, staged):  # type: ignore[no-untyped-def]
            if any(st.fd >= 0 and st.linked for st in staged):
                events.append("fsync new")
            return real_sync(self, staged)

        def unlink(path: str, fsync: bool) -> bool:
            events.append("unlink other" if path == str(there) else "unlink ?")
            return real_unlink(path, fsync)

        monkeypatch.setattr(publish.Publisher, "sync_linked", sync_linked)
        monkeypatch.setattr(manifests, "unlink_durably", unlink)  # (remove_current)
        await store.put_object("b", "k", body_of(b"new"), ObjectMeta())
        monkeypatch.undo()
        assert events[:2] == ["fsync new", "unlink other"], events
        assert here.exists() and not there.exists()
        assert await read_all(store, await store.head_object("b", "k")) == b"new"
