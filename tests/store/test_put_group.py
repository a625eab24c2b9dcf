"""Small PUTs that arrive together are committed together (aisfs/store/put_group.py):
each caller gets its own outcome, only once its batch is durable; a member's own failure
leaves the others alone; kill -9 of a real node at random moments loses no acknowledged
PUT and leaves every PUT in flight whole or absent; versioned buckets keep every version."""

from __future__ import annotations

import functools
import hashlib
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store, open_store
from tests.support.node import ROOT, NodeProcess, start_node

from .conftest import body_of, make_config, rand, read_all


def _count_batches(store: Store) -> list[int]:
    """The size of each batch the store's PUT group commits, from now on."""
    sizes: list[int] = []
    group = store.writer.group
    inner = group.commit_sync

    def counted(jobs: list[Any]) -> Any:
        sizes.append(len(jobs))
        return inner(jobs)

    group.commit_sync = counted  # type: ignore[method-assign]
    return sizes


async def test_concurrent_small_puts_each_get_their_own_outcome(tmp_path: Path) -> None:
    config = make_config(tmp_path, fsync=True, inline_max=65536)
    async with open_store(config) as store:
        await store.create_bucket("b")
        await store.put_object("b", "exists", body_of(b"old"), ObjectMeta())
        sizes = _count_batches(store)
        out: dict[str, str] = {}
        bodies = {f"k{i}": rand(4096) for i in range(40)}

        async def put(bucket: str, key: str, data: bytes, **kw: Any) -> None:
            try:
                await store.put_object(bucket, key, body_of(data), ObjectMeta(), **kw)
                out[key] = "ok"
            except S3Error as e:
                out[key] = e.code

        async with trio.open_nursery() as nursery:
            for key, data in bodies.items():
                nursery.start_soon(put, "b", key, data)
            nursery.start_soon(functools.partial(put, "b", "exists", b"new",
                                                 if_none_match="*"))
            nursery.start_soon(functools.partial(put, "b", "bad-md5", b"x",
                                                 content_md5=b"0" * 16))
            nursery.start_soon(put, "nobucket", "nb", b"x")
        assert out.pop("exists") == "PreconditionFailed"
        assert out.pop("bad-md5") == "BadDigest"
        assert out.pop("nb") == "NoSuchBucket"
        assert set(out.values()) == {"ok"} and len(out) == 40
        assert max(sizes) > 1, sizes  # batches formed
        for key, data in bodies.items():
            info = await store.head_object("b", key, with_data=True)
            assert await read_all(store, info) == data
        info = await store.head_object("b", "exists", with_data=True)
        assert await read_all(store, info) == b"old"
        report = await store.fsck(rebuild=False)
        assert report.clean and report.objects == 41, report
    async with open_store(config) as store:  # from the disks alone
        report = await store.fsck(rebuild=True)
        assert report.clean and report.objects == 41, report
        for key, data in bodies.items():
            info = await store.head_object("b", key, with_data=True)
            assert await read_all(store, info) == data


async def test_a_failed_commit_fails_every_member(tmp_path: Path) -> None:
    config = make_config(tmp_path, fsync=True, inline_max=65536)
    async with open_store(config) as store:
        await store.create_bucket("b")
        publisher = store.writer.publisher
        real = publisher.publish_puts
        calls: list[int] = []

        def failing(entries: Any, dirs: set[str]) -> list[str]:
            calls.append(len(entries))
            if len(calls) == 1:
                raise OSError("disk gone")
            return real(entries, dirs)

        publisher.publish_puts = failing  # type: ignore[method-assign]
        codes: list[str] = []

        async def put(key: str) -> None:
            try:
                await store.put_object("b", key, body_of(b"x" * 100), ObjectMeta())
                codes.append("ok")
            except OSError:
                codes.append("error")

        await put("first")
        assert codes == ["error"]
        with pytest.raises(S3Error, match="NoSuchKey"):
            await store.head_object("b", "first")
        async with trio.open_nursery() as nursery:
            for i in range(8):
                nursery.start_soon(put, f"k{i}")
        assert codes.count("ok") == 8
        publisher.publish_puts = real  # type: ignore[method-assign]
        report = await store.fsck(rebuild=False)
        assert report.clean and report.objects == 8, report


async def test_the_same_key_together_commits_in_turn(tmp_path: Path) -> None:
    async with open_store(make_config(tmp_path, fsync=True, inline_max=65536)) as store:
        await store.create_bucket("plain")
        await store.create_bucket("v")
        await store.update_bucket_props("v", {"versioning.status": "Enabled"})
        sizes = _count_batches(store)
        datas = [rand(1000) for _ in range(6)]
        got: dict[str, list[str]] = {"plain": [], "v": []}

        async def put(bucket: str, data: bytes) -> None:
            info = await store.put_object(bucket, "k", body_of(data), ObjectMeta())
            got[bucket].append(info.version_id or "null")

        async with trio.open_nursery() as nursery:
            for data in datas:
                nursery.start_soon(put, "plain", data)
                nursery.start_soon(put, "v", data)
        assert max(sizes) > 1, sizes
        info = await store.head_object("plain", "k", with_data=True)
        assert await read_all(store, info) in datas
        page = await store.list_versions("v")
        ids = [e.version_id for e in page.entries]
        assert sorted(ids) == sorted(got["v"]) and len(set(ids)) == 6
        assert sum(e.is_latest for e in page.entries) == 1
        for e in page.entries:
            info = await store.head_version("v", "k", e.version_id, with_data=True)
            assert await read_all(store, info) in datas
        report = await store.fsck(rebuild=False)
        assert report.clean, report


# -- a real node, killed ---------------------------------------------------------------

CLIENTS = 16


def _client(url: str, n: int, acked: dict[str, tuple[str, str]],
            pending: dict[str, str], stop: threading.Event) -> None:
    """PUTs of 4 KiB on its own keys (overwrites too), into ``bucket`` ("ver" versioned,
    "pln" plain) until the node dies. ``acked``: each acknowledged version id (or key) ->
    (key, md5); ``pending``: the key in flight -> its md5."""
    rnd = random.Random(n)
    with httpx.Client(timeout=30) as c:
        while not stop.is_set():
            bucket = rnd.choice(["ver", "pln"])
            key = f"{bucket}/c{n}-{rnd.randrange(30)}"
            data = os.urandom(4096)
            md5 = hashlib.md5(data).hexdigest()
            pending[key] = md5
            try:
                r = c.put(f"{url}/s3/{key}", content=data)
            except httpx.TransportError:
                return  # the node died with this PUT in flight
            assert r.status_code == 200, r.text
            vid = r.headers.get("x-amz-version-id")
            acked[vid if bucket == "ver" else key] = (key, md5)
            del pending[key]


def _fsck(node: NodeProcess) -> None:
    args = [a for mp in node.mountpaths for a in ("--mountpath", str(mp))]
    res = subprocess.run(
        [sys.executable, "-m", "aisfs", "node", "fsck", *args, "--index-dir",
         str(node.index_dir)], capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def _check(url: str, acked: dict[str, tuple[str, str]], pending: dict[str, str],
           known: dict[str, str]) -> None:
    """Every acknowledged PUT there; ``known``: each key's content before the round,
    then after it (the PUTs in flight settled by the restart)."""
    with httpx.Client(timeout=30) as c:
        for ref, (key, md5) in acked.items():
            if key.startswith("ver/"):  # every acknowledged version is there
                r = c.get(f"{url}/s3/{key}", params={"versionId": ref})
                assert r.status_code == 200, (key, ref)
                assert hashlib.md5(r.content).hexdigest() == md5, (key, ref)
        last = dict(known)
        last.update((k, md5) for k, md5 in acked.values())  # a client's keys: in order
        for key, md5 in last.items():
            r = c.get(f"{url}/s3/{key}")
            assert r.status_code == 200, key
            got = hashlib.md5(r.content).hexdigest()
            # the last acknowledged, or the PUT in flight (whole)
            assert got == md5 or got == pending.get(key), key
        for key, md5 in pending.items():  # whole or absent, never torn
            r = c.get(f"{url}/s3/{key}")
            if r.status_code == 200:
                got = hashlib.md5(r.content).hexdigest()
                assert got in (md5, last.get(key)), key
                last[key] = got
            else:
                assert r.status_code == 404 and key not in last, key
    known.update(last)


def _buckets(url: str) -> None:
    """Bucket "pln" (plain) and bucket "ver" (versioning enabled)."""
    assert httpx.put(f"{url}/s3/ver", timeout=10).status_code == 200
    assert httpx.put(f"{url}/s3/pln", timeout=10).status_code == 200
    r = httpx.put(f"{url}/s3/ver", params={"versioning": ""}, timeout=10,
                  content=b"<VersioningConfiguration><Status>Enabled</Status>"
                          b"</VersioningConfiguration>")
    assert r.status_code == 200, r.text


def _round(node: NodeProcess, seconds: float, known: dict[str, str]) -> None:
    acked: dict[str, tuple[str, str]] = {}
    pending: dict[str, str] = {}
    stop = threading.Event()
    threads = [threading.Thread(target=_client, args=(node.url, n, acked, pending, stop))
               for n in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(seconds)  # real time: PUTs in flight in the node when it is killed
    deadline = time.monotonic() + 120  # and more than a batch acknowledged, however loaded
    while len(acked) <= CLIENTS and time.monotonic() < deadline:
        time.sleep(0.05)
    node.kill()  # SIGKILL
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > CLIENTS
    node.forget_errors()
    node.start()
    _check(node.url, acked, pending, known)


def test_kill_9_during_concurrent_small_puts(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        _buckets(node.url)
        rnd = random.Random()
        known: dict[str, str] = {}
        for _ in range(3):  # killed at random moments
            _round(node, rnd.uniform(1.0, 3.0), known)
        node.stop()
        _fsck(node)
    finally:
        node.kill()


@pytest.mark.parametrize("point", ["journaled", "installed", "committed"])
def test_kill_at_a_batch_crash_point(tmp_path: Path, point: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The node killed inside the commit of a batch (its 20th), every member's manifest
    installed or not: each PUT in flight whole or absent, every acknowledged one there."""
    monkeypatch.setenv("AISFS_STORE_CRASH_AT", f"{point}:20")
    node = start_node(tmp_path)
    try:
        _buckets(node.url)
        monkeypatch.delenv("AISFS_STORE_CRASH_AT")
        acked: dict[str, tuple[str, str]] = {}
        pending: dict[str, str] = {}
        stop = threading.Event()
        threads = [threading.Thread(target=_client, args=(node.url, n, acked, pending, stop))
                   for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert node.proc is not None and node.proc.wait(timeout=60) == -9
        node.forget_errors()
        node.start()
        _check(node.url, acked, pending, {})
        node.stop()
        _fsck(node)
    finally:
        node.kill()
