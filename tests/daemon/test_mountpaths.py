"""Mountpath lifecycle, mirror copies, auto-disable and scrub through a real node and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import xxhash
from botocore.exceptions import ClientError

from support.clients import s3_client
from support.node import ROOT, NodeProcess, new_node

CHUNK = 65536
# inline_max = 0: these tests look at chunk files
CONFIG = f"[store]\ndefault_copies = {{copies}}\nchunk_size = {CHUNK}\ninline_max = 0\n"


def cli(node: NodeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AIS_ENDPOINT=node.url)
    env.pop("AIS_AUTHN_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "aisfs", *args], capture_output=True, text=True, env=env,
        cwd=ROOT, timeout=90,
    )


def ok(node: NodeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    res = cli(node, *args)
    assert res.returncode == 0, f"{args}: {res.stdout}\n{res.stderr}"
    return res


def chunk_files(paths: list[Path]) -> list[Path]:
    return [p for mp in paths if (mp / "chunks").is_dir() for p in (mp / "chunks").glob("*/*")]


def put_objects(s3, bucket: str, n: int) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    objs = {}
    for i in range(n):
        data = os.urandom(CHUNK * (1 + i % 3) + 100 * i)
        s3.put_object(Bucket=bucket, Key=f"obj{i}", Body=data)
        objs[f"obj{i}"] = data
    return objs


def check_objects(s3, bucket: str, objs: dict[str, bytes]) -> None:  # type: ignore[no-untyped-def]
    for k, v in objs.items():
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == v, k


def stop_clean(node: NodeProcess) -> None:
    code = node.stop()
    log = node.log()
    assert code == 0, log
    assert "Traceback" not in log, log


@pytest.fixture
def node3(tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    copies = getattr(request, "param", 2)
    node = new_node(tmp_path, mountpaths=3, config=CONFIG.format(copies=copies)).start()
    try:
        yield node
    finally:
        stop_clean(node)


def test_add_disable_enable_detach_through_the_cli(node3: NodeProcess, tmp_path: Path) -> None:
    s3 = s3_client(node3.s3_url)
    s3.create_bucket(Bucket="mirrored")
    objs = put_objects(s3, "mirrored", 15)
    ids = {xxhash.xxh3_128_hexdigest(v[i : i + CHUNK])
           for v in objs.values() for i in range(0, len(v), CHUNK)}
    assert len(chunk_files(node3.mountpaths)) == 2 * len(ids)

    new = tmp_path / "mp-new"
    new.mkdir()
    res = ok(node3, "node", "mountpath", "add", str(new), "--wait")
    assert "enabled" in res.stdout and "resilver" in res.stderr and "done" in res.stderr
    all_mps = [*node3.mountpaths, new]
    assert len(chunk_files(all_mps)) == 2 * len(ids)
    assert chunk_files([new])  # some chunks moved onto it
    check_objects(s3, "mirrored", objs)

    mp1 = str(node3.mountpaths[0])
    ok(node3, "node", "mountpath", "disable", mp1, "--wait")
    show = ok(node3, "node", "show").stdout
    row = next(line for line in show.splitlines() if line.startswith(mp1 + " "))
    assert "disabled" in row
    check_objects(s3, "mirrored", objs)  # from the mirrors
    others = [p for p in all_mps if str(p) != mp1]
    assert len(chunk_files(others)) == 2 * len(ids)  # copies restored elsewhere
    ok(node3, "node", "mountpath", "enable", mp1, "--wait")

    mp2 = node3.mountpaths[1]
    ok(node3, "node", "mountpath", "detach", str(mp2), "--wait")
    listing = ok(node3, "node", "mountpath", "ls").stdout
    assert str(mp2) not in listing and str(new) in listing
    assert chunk_files([mp2]) == []
    check_objects(s3, "mirrored", objs)
    assert len(chunk_files(all_mps)) == 2 * len(ids)

    # errors are clear
    bad = cli(node3, "node", "mountpath", "add", str(tmp_path / "nope"))
    assert bad.returncode == 1 and "not a directory" in bad.stderr

    # the set survives a restart
    node3.restart()
    listing = ok(node3, "node", "mountpath", "ls", "--json").stdout
    assert str(mp2) not in listing and str(new) in listing
    check_objects(s3_client(node3.s3_url), "mirrored", objs)


@pytest.mark.parametrize("node3", [1], indirect=True)
def test_bucket_mirror_brings_existing_objects_to_n_copies(node3: NodeProcess) -> None:
    s3 = s3_client(node3.s3_url)
    s3.create_bucket(Bucket="full")
    objs = put_objects(s3, "full", 24)
    n = len(chunk_files(node3.mountpaths))
    res = ok(node3, "bucket", "mirror", "ais://full", "--copies", "2", "--wait")
    assert "24/24 objects" in res.stderr, res.stderr
    assert len(chunk_files(node3.mountpaths)) == 2 * n
    # every chunk on two distinct mountpaths
    names = [p.name for p in chunk_files(node3.mountpaths)]
    assert all(names.count(x) == 2 for x in names)
    check_objects(s3, "full", objs)
    status = ok(node3, "node", "resilver", "--json").stdout
    assert '"state": "done"' in status


@pytest.mark.allow_node_errors  # a failing disk and corrupt chunks are logged at ERROR
def test_failing_mountpath_is_disabled_and_reads_go_to_mirrors(node3: NodeProcess) -> None:
    s3 = s3_client(node3.s3_url)
    s3.create_bucket(Bucket="safe")
    objs = put_objects(s3, "safe", 15)
    victim = node3.mountpaths[0]
    hidden = victim.with_name(victim.name + ".hidden")
    os.rename(victim, hidden)
    victim.write_bytes(b"a file where the mountpath directory was\n")
    try:
        check_objects(s3, "safe", objs)
        s3.put_object(Bucket="safe", Key="after", Body=os.urandom(3 * CHUNK))
        show = ok(node3, "node", "show").stdout
        row = next(line for line in show.splitlines() if line.startswith(str(victim) + " "))
        cells = row.split()
        assert cells[1] == "faulted", show
        assert int(cells[5]) >= 1, show  # IO ERRORS
        assert "identity unreadable" in row, show  # REASON
        data = httpx.get(f"{node3.url}/v1/daemon/mountpaths").json()
        entry = next(m for m in data["mountpaths"] if m["path"] == str(victim))
        assert entry["state"] == "faulted" and entry["io_errors"] >= 1
        metrics = httpx.get(f"{node3.url}/metrics").text
        line = next(m for m in metrics.splitlines()
                    if m.startswith("aisfs_mountpath_io_errors_total") and str(victim) in m)
        assert float(line.rsplit(" ", 1)[1]) >= 1
        ok(node3, "node", "resilver", "--wait")
        check_objects(s3, "safe", objs)
    finally:
        victim.unlink()
        os.rename(hidden, victim)
    ok(node3, "node", "mountpath", "enable", str(victim), "--wait")
    check_objects(s3, "safe", objs)


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("node3", [1], indirect=True)
@pytest.mark.allow_node_errors  # a failing disk and corrupt chunks are logged at ERROR
def test_corrupt_chunk_error_mirror_and_scrub(node3: NodeProcess) -> None:
    s3 = s3_client(node3.s3_url)
    s3.create_bucket(Bucket="single")
    s3.create_bucket(Bucket="double")
    ok(node3, "bucket", "props", "set", "ais://double", "mirror.copies=2")
    data1, data2 = os.urandom(50_000), os.urandom(50_000)
    s3.put_object(Bucket="single", Key="obj", Body=data1)
    s3.put_object(Bucket="double", Key="obj", Body=data2)
    c1, c2 = xxhash.xxh3_128_hexdigest(data1), xxhash.xxh3_128_hexdigest(data2)
    files1 = [p for p in chunk_files(node3.mountpaths) if p.name == c1]
    files2 = [p for p in chunk_files(node3.mountpaths) if p.name == c2]
    assert len(files1) == 1 and len(files2) == 2
    _flip(files1[0])
    _flip(files2[0])
    # no mirror: an error, never the wrong bytes
    try:
        got = s3.get_object(Bucket="single", Key="obj")["Body"].read()
    except (ClientError, Exception) as e:  # a 5xx, or a response cut short
        assert not isinstance(e, AssertionError)
    else:
        raise AssertionError(f"GET of a corrupt object returned {len(got)} bytes")
    for path in ("/v1/objects/single/obj", "/s3/single/obj"):
        # both APIs read (and verify) the first piece before the headers: a clean 500
        r = httpx.get(node3.url + path)
        assert r.status_code == 500, (path, r.status_code, len(r.content))
        if path.startswith("/s3/"):
            assert b"<Code>InternalError</Code>" in r.content
        else:
            assert b"integrity check" in r.content
    # scrub: the mirrored one is repaired, the other is reported
    res = cli(node3, "node", "scrub", "--wait")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "unrepairable: ais://single/obj" in res.stdout
    assert "1 repaired" in res.stdout
    assert files2[0].read_bytes() == data2 == files2[1].read_bytes()
    check_objects(s3, "double", {"obj": data2})
    # a bad copy met by a GET is served from the mirror; the next scrub is clean
    s3.delete_object(Bucket="single", Key="obj")
    _flip(files2[1])
    check_objects(s3, "double", {"obj": data2})
    res = ok(node3, "node", "scrub", "--wait")
    assert files2[1].read_bytes() == data2


@pytest.mark.allow_node_errors  # a failing disk and corrupt chunks are logged at ERROR
def test_scheduled_scrub_repairs_without_being_asked(tmp_path: Path) -> None:
    """store.scrub_interval: the node scrubs on its own and repairs a bad mirror copy."""
    node = new_node(tmp_path, mountpaths=3,
                    config=CONFIG.format(copies=2) + "scrub_interval = 1.0\n").start()
    try:
        s3 = s3_client(node.s3_url)
        s3.create_bucket(Bucket="sched")
        data = os.urandom(50_000)
        s3.put_object(Bucket="sched", Key="obj", Body=data)
        digest = xxhash.xxh3_128_hexdigest(data)
        copies = [p for p in chunk_files(node.mountpaths) if p.name == digest]
        assert len(copies) == 2
        _flip(copies[0])
        deadline = time.monotonic() + 30
        while copies[0].read_bytes() != data:
            assert time.monotonic() < deadline, node.log()
            time.sleep(0.2)
        assert "scheduled scrub" in node.log()
    finally:
        stop_clean(node)
