"""LRU eviction in a real node in front of moto, its mountpaths on a small file system of
their own (a 64 MiB tmpfs, both mountpaths on it: one file system, counted once).

Cached copies of an ``s3://`` bucket fill it past ``space.highwm``; the node's LRU
(started by the crossing, or by ``aisfs start lru``) evicts the least recently used
until usage is under ``space.lowwm``: the ``ais://`` bucket's data is untouched, the
objects read most recently stay cached, and an evicted object is fetched again (cold) on
its next GET, with the same bytes. Root only (mount -t tmpfs): skipped otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.node import NodeProcess, new_node

from .conftest import Target, client_of, front_config

MiB = 1024 * 1024
FS_SIZE = 64 * MiB
LOWWM, HIGHWM = 40, 70
OBJ = 3 * MiB
# 4 MiB of ais:// data + 14 cached objects of 3 MiB: 46 MiB (72 %) once all are cached,
# 43 MiB (67 %) one before: the last fill crosses highwm (44.8 MiB)
COLD_OBJECTS = 14
HOT = ("obj-00", "obj-01")  # read again after every other GET: the most recently used


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs for the mountpaths")
    mnt = tmp_path / "small-fs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def used_percent(mnt: Path) -> float:
    st = os.statvfs(mnt)
    return 100.0 * (st.f_blocks - st.f_bfree) / st.f_blocks


def lru_status(node: NodeProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{node.url}/v1/daemon/lru") as r:
        status: dict[str, Any] = json.load(r)
    return status


def metric(node: NodeProcess, name: str) -> float:
    with urllib.request.urlopen(f"{node.url}/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def cached(s3: Any, bucket: str, key: str) -> bool:
    head = s3.head_object(Bucket=bucket, Key=key)
    return bool(head["ResponseMetadata"]["HTTPHeaders"].get("ais-cached") == "true")


def wait_cached(s3: Any, bucket: str, key: str) -> None:
    deadline = time.monotonic() + 30  # a fill commits just after its last piece is sent
    while not cached(s3, bucket, key):
        assert time.monotonic() < deadline, f"{key} never cached"
        time.sleep(0.05)


def lru_node(tmp_path: Path, mnt: Path, target: Target) -> NodeProcess:
    config = front_config(target) + (
        f"[space]\ncleanupwm = {LOWWM}\nlowwm = {LOWWM}\nhighwm = {HIGHWM}\n"
        "[lru]\ndont_evict_time = 0.0\ncapacity_upd_time = 3600.0\n")
    node = new_node(tmp_path / "front", config=config)
    node.mountpaths = [mnt / "mp1", mnt / "mp2"]
    for mp in node.mountpaths:
        mp.mkdir()
    return node.start()


def test_lru_evicts_cold_cached_objects_down_to_lowwm(
    tmp_path: Path, small_fs: Path, moto_server: Any,
) -> None:
    t = Target("moto", moto_server.endpoint, moto_server.access_key, moto_server.secret_key)
    bucket = t.new_bucket()
    direct = t.client()
    data = {f"obj-{i:02d}": os.urandom(OBJ) for i in range(COLD_OBJECTS)}
    for key, body in data.items():
        direct.put_object(Bucket=bucket, Key=key, Body=body)
    node = lru_node(tmp_path, small_fs, t)
    try:
        s3 = client_of(node)
        plain = f"plain-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=plain)
        local = {f"local-{i}": os.urandom(2 * MiB) for i in range(2)}
        for key, body in local.items():
            s3.put_object(Bucket=plain, Key=key, Body=body)

        for key in data:  # cold GETs fill the cache; the hot pair is read after each
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data[key]
            wait_cached(s3, bucket, key)
            for hot in HOT:
                assert s3.get_object(Bucket=bucket, Key=hot)["Body"].read() == data[hot]

        # the crossing started a run, or this one does; --wait sees it to the end
        out = subprocess.run(
            [sys.executable, "-m", "aisfs", "start", "lru", "--wait", "--json",
             "--endpoint", node.url], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["progress"]["state"] == "finished"
        deadline = time.monotonic() + 60
        while lru_status(node)["running"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)

        assert used_percent(small_fs) < LOWWM
        evicted = metric(node, "ais_target_lru_evict_count")
        # the run is a job of kind lru in the node's registry (AIS: an xaction)
        with urllib.request.urlopen(f"{node.url}/v1/cluster?what=jobs&kind=lru") as r:
            [job] = [j for j in json.load(r)["jobs"] if j["objects_done"]]
        assert job["kind"] == "lru" and job["state"] == "finished"
        assert job["objects_done"] == evicted and job["detail"]["reached_lowwm"]
        assert evicted >= 1
        assert metric(node, "ais_target_lru_evict_bytes") == evicted * OBJ

        # the ais:// data is all there, and the hot pair was kept
        for key, body in local.items():
            assert s3.get_object(Bucket=plain, Key=key)["Body"].read() == body
        state = {key: cached(s3, bucket, key) for key in data}
        assert all(state[hot] for hot in HOT)
        gone = [k for k, c in state.items() if not c]
        assert len(gone) == evicted
        # least recently used first: the evicted are the oldest fills of the others
        others = [k for k in data if k not in HOT]
        assert gone == others[: len(gone)]
        # an evicted object is cold again, and served right
        got = s3.get_object(Bucket=bucket, Key=gone[0])
        assert got["ResponseMetadata"]["HTTPHeaders"].get("ais-cached") != "true"
        assert got["Body"].read() == data[gone[0]]
        wait_cached(s3, bucket, gone[0])

        # fetched back past highwm again: this time the node's own look at usage (every
        # few seconds) starts the run, nobody asks
        for key in gone[1:]:
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data[key]
            wait_cached(s3, bucket, key)
            for hot in HOT:
                assert s3.get_object(Bucket=bucket, Key=hot)["Body"].read() == data[hot]
        deadline = time.monotonic() + 60
        while metric(node, "ais_target_lru_evict_count") == evicted or lru_status(node)["running"]:
            assert time.monotonic() < deadline, "no run started past highwm"
            time.sleep(0.2)
        assert "(above the high watermark) finished" in node.log()
        assert used_percent(small_fs) < LOWWM
        assert all(cached(s3, bucket, hot) for hot in HOT)
    finally:
        node.stop()
