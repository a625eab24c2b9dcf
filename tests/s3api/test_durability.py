"""Crash safety, fsck from the disks alone, and mirror copies surviving a lost mountpath."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from support.clients import s3_client
from support.node import new_node

MiB = 1024 * 1024


def put_some(s3, bucket: str, count: int, size: int) -> dict[str, bytes]:
    objects = {}
    for i in range(count):
        key = f"obj/{i:03d}"
        body = os.urandom(size + i)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        objects[key] = hashlib.md5(body).digest()
    return objects


def check_all(s3, bucket: str, objects: dict[str, bytes]) -> None:
    for key, digest in objects.items():
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.md5(body).digest() == digest, key
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert listed == sorted(objects)


def test_kill_9_during_large_put(tmp_path: Path) -> None:
    node = new_node(tmp_path).start()
    try:
        s3 = s3_client(node.s3_url)
        s3.create_bucket(Bucket="crash")
        objects = put_some(s3, "crash", 5, 3 * MiB)
        url = urlparse(node.s3_url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        total = 256 * MiB
        conn.putrequest("PUT", f"{url.path}/crash/partial")
        conn.putheader("Content-Length", str(total))
        conn.endheaders()
        piece = os.urandom(MiB)
        for _ in range(100):
            conn.send(piece)
        time.sleep(0.3)  # real time: the node's process takes in the body sent so far
        node.kill()  # SIGKILL mid-body
        conn.close()
        node.start()
        s3 = s3_client(node.s3_url)
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket="crash", Key="partial")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        check_all(s3, "crash", objects)
    finally:
        assert node.stop() == 0, node.log()


def test_fsck_rebuilds_index_from_disks(tmp_path: Path) -> None:
    node = new_node(tmp_path).start()
    s3 = s3_client(node.s3_url)
    s3.create_bucket(Bucket="one")
    s3.create_bucket(Bucket="two")
    first = put_some(s3, "one", 20, 100_000)
    second = put_some(s3, "two", 3, 9 * MiB)
    s3.put_object(Bucket="two", Key="meta", Body=b"m", ContentType="text/x-m", Metadata={"a": "b"})
    second["meta"] = hashlib.md5(b"m").digest()
    assert node.stop() == 0
    shutil.rmtree(node.index_dir)
    cmd = [sys.executable, "-m", "aisfs", "node", "fsck"]
    for mp in node.mountpaths:
        cmd += ["--mountpath", str(mp)]
    cmd += ["--index-dir", str(node.index_dir)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    node.start()
    try:
        s3 = s3_client(node.s3_url)
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["one", "two"]
        check_all(s3, "one", first)
        check_all(s3, "two", second)
        head = s3.head_object(Bucket="two", Key="meta")
        assert head["ContentType"] == "text/x-m" and head["Metadata"] == {"a": "b"}
    finally:
        assert node.stop() == 0, node.log()


def test_mirror_copies_survive_losing_a_mountpath(tmp_path: Path) -> None:
    node = new_node(tmp_path, mountpaths=3, config="[store]\ndefault_copies = 2\n").start()
    s3 = s3_client(node.s3_url)
    s3.create_bucket(Bucket="mirror")
    objects = put_some(s3, "mirror", 12, 200_000)
    big = os.urandom(20 * MiB)
    s3.put_object(Bucket="mirror", Key="obj/zbig", Body=big)
    objects["obj/zbig"] = hashlib.md5(big).digest()
    # lose one disk while the node runs
    shutil.rmtree(node.mountpaths[0])
    try:
        check_all(s3, "mirror", objects)
    finally:
        assert node.stop() == 0, node.log()
    # and after a restart without it
    node.start()
    try:
        check_all(s3_client(node.s3_url), "mirror", objects)
    finally:
        assert node.stop() == 0, node.log()


def test_bad_config_one_line_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[store]\nchunk_sise = 5\n")
    result = subprocess.run(
        [sys.executable, "-m", "aisfs", "node", "--config", str(cfg)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "store.chunk_sise" in lines[0], result.stderr
    cfg.write_text("[net]\nlisten = 'nope'\n")
    result = subprocess.run(
        [sys.executable, "-m", "aisfs", "node", "--config", str(cfg)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "net.listen" in result.stderr
