"""``copy-bck`` / ``copy-listrange`` through a front node: ais -> s3, s3 -> ais, s3 -> s3,
ais -> ais, by the ``aistore`` SDK (``Bucket.copy``, ``client.job(id).wait()``) and by
``aisfs bucket cp``; an object past the multipart threshold; skip and dry run; an abort
mid-copy leaves no half-written object anywhere."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from support.node import NodeProcess

from .conftest import Target

pytestmark = pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])

MiB = 1024 * 1024


def sdk(node: NodeProcess) -> Any:
    from aistore.sdk import Client  # type: ignore[import-untyped]

    return Client(node.url, max_pool_size=4)


def job_of(node: NodeProcess, job_id: str) -> dict[str, Any]:
    """The node's record of a job (``/v1/cluster?what=jobs``)."""
    import urllib.request

    with urllib.request.urlopen(f"{node.url}/v1/cluster?what=jobs", timeout=30) as r:
        jobs = json.loads(r.read())["jobs"]
    return next(j for j in jobs if j["id"] == job_id)


def wait_job(client: Any, job_id: str) -> None:
    result = client.job(job_id).wait(timeout=120, verbose=False)
    assert result.success, result


def ais_objects(client: Any, bucket: str) -> dict[str, bytes]:
    b = client.bucket(bucket)
    return {e.name: b.object(e.name).get_reader().read_all()
            for e in b.list_all_objects()}


def backend_objects(target: Target, bucket: str) -> dict[str, bytes]:
    direct = target.client()
    keys = [c["Key"] for c in direct.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {k: direct.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def aisfs(node: NodeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aisfs", *args, "--endpoint", node.url],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("target", ["moto", "ceph"], indirect=True)
def test_copy_ais_to_s3_and_back_via_sdk(front_node: NodeProcess, target: Target) -> None:
    client = sdk(front_node)
    tag = target.new_bucket()[-8:]
    src = client.bucket(f"src-{tag}")
    src.create()
    data = {"a/one": b"1" * 1000, "a/two": os.urandom(300_000),
            "a/big": os.urandom(7 * MiB + 5),  # past the front's multipart threshold
            "b/other": b"not under a/"}
    for k, v in data.items():
        src.object(k).get_writer().put_content(v)
    remote = target.new_bucket()
    s3b = client.bucket(remote, provider="aws")

    job_id = src.copy(s3b, prefix_filter="a/")
    wait_job(client, job_id)
    want = {k: v for k, v in data.items() if k.startswith("a/")}
    assert backend_objects(target, remote) == want
    rec = job_of(front_node, job_id)
    assert rec["state"] == "finished" and rec["objects_done"] == 3
    assert rec["bytes_done"] == sum(len(v) for v in want.values())
    assert rec["buckets"] == [f"ais://src-{tag}", f"s3://{remote}"]

    # again: the backend has them all (same size and ETag but the multipart one): skipped
    again = src.copy(s3b, prefix_filter="a/")
    wait_job(client, again)
    rec = job_of(front_node, again)
    assert rec["objects_skipped"] >= 2 and rec["objects_done"] + rec["objects_skipped"] == 3

    # s3 -> ais: a new ais:// bucket, created by the copy
    job_id = s3b.copy(client.bucket(f"back-{tag}"))
    wait_job(client, job_id)
    assert ais_objects(client, f"back-{tag}") == want


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_copy_s3_to_s3_ais_to_ais_dry_run(front_node: NodeProcess, target: Target) -> None:
    client = sdk(front_node)
    direct = target.client()
    one, two = target.new_bucket(), target.new_bucket()
    objs = {f"k{i}": os.urandom(1000 + i) for i in range(25)}
    for k, v in objs.items():
        direct.put_object(Bucket=one, Key=k, Body=v, Metadata={"n": k})
    # one of them cached at the source already: read locally, the rest from the backend
    client.bucket(one, provider="aws").object("k3").get_reader().read_all()

    dry = client.bucket(one, provider="aws").copy(client.bucket(two, provider="aws"),
                                                  dry_run=True)
    wait_job(client, dry)
    rec = job_of(front_node, dry)
    assert rec["objects_done"] == 25 and rec["detail"]["dry_run"] is True
    assert "Contents" not in direct.list_objects_v2(Bucket=two)

    job_id = client.bucket(one, provider="aws").copy(client.bucket(two, provider="aws"),
                                                     num_workers=3)
    wait_job(client, job_id)
    assert backend_objects(target, two) == objs
    assert direct.head_object(Bucket=two, Key="k7")["Metadata"] == {"n": "k7"}
    # sync to a remote destination: what the source lost is deleted there too
    direct.delete_object(Bucket=one, Key="k0")
    job_id = client.bucket(one, provider="aws").copy(client.bucket(two, provider="aws"),
                                                     sync=True)
    wait_job(client, job_id)
    assert sorted(backend_objects(target, two)) == sorted(k for k in objs if k != "k0")
    rec = job_of(front_node, job_id)
    assert rec["detail"]["deleted"] == 1 and rec["objects_skipped"] == 24

    tag = one[-8:]
    # a template of names (copy-listrange, ObjectGroup.copy): an idle-kind job to the SDK
    group = client.bucket(one, provider="aws").objects(obj_template="k{1..3}")
    [job_id] = group.copy(client.bucket(f"some-{tag}"))  # one id per target: ours
    wait_job(client, job_id)
    assert ais_objects(client, f"some-{tag}") == {f"k{i}": objs[f"k{i}"] for i in (1, 2, 3)}

    a = client.bucket(f"aa-{tag}")
    a.create()
    for k, v in list(objs.items())[:5]:
        a.object(k).get_writer().put_content(v)
    job_id = a.copy(client.bucket(f"bb-{tag}"), prepend="copied/")
    wait_job(client, job_id)
    assert ais_objects(client, f"bb-{tag}") == {f"copied/{k}": v
                                                 for k, v in list(objs.items())[:5]}
    # onto itself: refused
    from aistore.sdk.errors import AISError  # type: ignore[import-untyped]

    with pytest.raises(AISError) as e:
        a.copy(a)
    assert e.value.status_code == 400


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_copy_template_via_cli(front_node: NodeProcess, target: Target) -> None:
    direct = target.client()
    src = target.new_bucket()
    for i in range(6):
        direct.put_object(Bucket=src, Key=f"shard-{i}.tar", Body=f"shard {i}".encode())
    dst = f"cli-{src[-8:]}"
    done = aisfs(front_node, "bucket", "cp", f"s3://{src}", f"ais://{dst}",
                 "--template", "shard-{0..9}.tar", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    rec = json.loads(done.stdout)
    # 10 names in the range, 6 in the source: the others are skipped
    assert rec["objects_total"] == 10 and rec["objects_done"] == 6
    assert rec["objects_skipped"] == 4 and rec["state"] == "finished"
    assert "copy-listrange" in done.stderr and "10/10 objects" in done.stderr
    assert "4 skipped" in done.stderr
    client = sdk(front_node)
    assert ais_objects(client, dst) == {f"shard-{i}.tar": f"shard {i}".encode()
                                        for i in range(6)}
    done = aisfs(front_node, "bucket", "cp", f"ais://{dst}", f"s3://{src}",
                 "--prefix", "shard-1", "--prepend", "back/", "--wait")
    assert done.returncode == 0, done.stderr
    assert direct.get_object(Bucket=src, Key="back/shard-1.tar")["Body"].read() == b"shard 1"
    # --sync: what the destination has under the names that the source has not goes
    direct.delete_object(Bucket=src, Key="shard-2.tar")
    direct.put_object(Bucket=src, Key="shard-7.tar", Body=b"shard 7")
    done = aisfs(front_node, "bucket", "cp", f"s3://{src}", f"ais://{dst}",
                 "--prefix", "shard-", "--sync", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["detail"]["deleted"] == 1
    assert sorted(ais_objects(client, dst)) == [f"shard-{i}.tar" for i in (0, 1, 3, 4, 5, 7)]
    done = aisfs(front_node, "bucket", "cp", f"ais://{dst}", f"s3://{src}")
    assert done.returncode == 0 and "job " in done.stdout
    bad = aisfs(front_node, "bucket", "cp", f"ais://{dst}", "s3://no-such-bucket-xyz-1",
                "--wait")
    assert bad.returncode != 0 and "no-such-bucket-xyz-1" in bad.stderr


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_abort_mid_copy_leaves_no_half_object(front_node: NodeProcess,
                                              target: Target) -> None:
    client = sdk(front_node)
    direct = target.client()
    tag = target.new_bucket()[-8:]
    src = client.bucket(f"abort-{tag}")
    src.create()
    blobs = {f"obj-{i:02d}": os.urandom(7 * MiB + i) for i in range(12)}
    for k, v in blobs.items():
        src.object(k).get_writer().put_content(v)
    remote = target.new_bucket()
    job_id = src.copy(client.bucket(remote, provider="aws"), num_workers=2)
    for _ in range(3000):  # until it is under way (some bytes, not all the objects)
        rec = job_of(front_node, job_id)
        if rec["objects_done"] >= 1 or not rec["running"]:
            break
        time.sleep(0.01)
    client.job(job_id).abort()
    for _ in range(3000):
        rec = job_of(front_node, job_id)
        if not rec["running"]:
            break
        time.sleep(0.01)
    assert rec["state"] in ("aborted", "finished"), rec
    got = direct.list_objects_v2(Bucket=remote).get("Contents", [])
    for c in got:  # whatever is there is whole
        body = direct.get_object(Bucket=remote, Key=c["Key"])["Body"].read()
        assert hashlib.md5(body).digest() == hashlib.md5(blobs[c["Key"]]).digest()
    if rec["state"] == "aborted":
        assert len(got) < len(blobs)
    assert not direct.list_multipart_uploads(Bucket=remote).get("Uploads")


def io_bytes(node: NodeProcess) -> int:
    """What the node's process has read and written, sockets and files (``rchar`` +
    ``wchar`` of /proc/PID/io)."""
    assert node.proc is not None
    with open(f"/proc/{node.proc.pid}/io") as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["rchar"]) + int(fields["wchar"])


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_copy_within_one_backend_is_server_side(front_node: NodeProcess,
                                                target: Target) -> None:
    """s3:// -> s3:// on one backend: the backend's CopyObject - the node moves a fraction
    of the objects' bytes - the metadata kept, the destination not cached by the copy and
    a stale cached copy of it dropped."""
    from aistore.sdk.list_object_flag import ListObjectFlag  # type: ignore[import-untyped]

    client = sdk(front_node)
    direct = target.client()
    one, two = target.new_bucket(), target.new_bucket()
    objs = {"big": os.urandom(16 * MiB), "small": os.urandom(1000)}
    for k, v in objs.items():
        direct.put_object(Bucket=one, Key=k, Body=v, Metadata={"n": k},
                          ContentType="application/x-test")
    direct.put_object(Bucket=two, Key="small", Body=b"old")
    dst = client.bucket(two, provider="aws")
    assert dst.object("small").get_reader().read_all() == b"old"  # cached at the front

    before = io_bytes(front_node)
    job_id = client.bucket(one, provider="aws").copy(dst)
    wait_job(client, job_id)
    moved = io_bytes(front_node) - before
    assert moved < 2 * MiB, moved  # streamed, it would be twice the 16 MiB at least
    rec = job_of(front_node, job_id)
    assert rec["detail"]["server_side"] is True
    assert (rec["objects_done"], rec["bytes_done"]) == (2, 16 * MiB + 1000)

    assert backend_objects(target, two) == objs
    head = direct.head_object(Bucket=two, Key="big")
    assert (head["Metadata"], head["ContentType"]) == ({"n": "big"}, "application/x-test")
    assert [e.name for e in dst.list_all_objects(flags=[ListObjectFlag.CACHED])] == []
    assert dst.object("small").get_reader().read_all() == objs["small"]
    # again: the destination has them (same size and ETag): skipped
    job_id = client.bucket(one, provider="aws").copy(dst)
    wait_job(client, job_id)
    assert job_of(front_node, job_id)["objects_skipped"] == 2
