"""Write-behind (aisfs_mount/writebehind.py): parts of a big file written in order go up while
it is still open; close completes them; anything not sequential falls back to the
whole-file upload at close. Real mounts against our node, checked through S3."""

from __future__ import annotations

import os
import stat
import time

import pytest
from mountkit import Endpoint, Mount, MountFactory

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(180)]

MiB = 1 << 20


@pytest.fixture(autouse=True)
def _node_only(endpoint: Endpoint) -> None:
    if endpoint.kind != "node":
        pytest.skip("write-behind is used against aisfs only")


def uploads(endpoint: Endpoint, bucket: str) -> list[dict]:  # type: ignore[type-arg]
    return endpoint.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def parts_of(endpoint: Endpoint, bucket: str, key: str) -> int:
    ups = [u for u in uploads(endpoint, bucket) if u["Key"] == key]
    if not ups:
        return 0
    res = endpoint.s3.list_parts(Bucket=bucket, Key=key, UploadId=ups[0]["UploadId"])
    return len(res.get("Parts", []))


def wait_for(cond, what: str, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_parts_go_up_while_writing(mnt: Mount, endpoint: Endpoint, bucket: str) -> None:
    data = os.urandom(MiB) * 100 + os.urandom(12345)  # 100 MiB and a bit
    path = mnt.path / "big.bin"
    with open(path, "wb") as f:
        f.write(data[:96 * MiB])
        f.flush()
        # still open: parts are on the node already (16 MiB each)
        wait_for(lambda: parts_of(endpoint, bucket, "big.bin") >= 2, "no parts while open")
        assert "big.bin" not in [o["Key"] for o in
                                 endpoint.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        f.write(data[96 * MiB:])
        os.fchmod(f.fileno(), 0o640)
        mtime = os.fstat(f.fileno()).st_mtime_ns
    # closed: complete, whole, with the file's final metadata; no upload left behind
    got = endpoint.s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["Body"].read() == data
    assert "-" in got["ETag"]
    meta = got["Metadata"]
    assert int(meta["mode"]) == stat.S_IFREG | 0o640
    assert abs(float(meta["mtime"]) * 1e9 - mtime) < 1e9  # the last write's, not the first
    assert uploads(endpoint, bucket) == []
    assert path.read_bytes()[-12345:] == data[-12345:]


def test_a_write_behind_the_sent_parts_falls_back(mnt: Mount, endpoint: Endpoint,
                                                   bucket: str) -> None:
    data = bytearray(os.urandom(MiB) * 80)
    path = mnt.path / "rewrite.bin"
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        wait_for(lambda: parts_of(endpoint, bucket, "rewrite.bin") >= 1, "no parts")
        f.seek(5)  # into a part already sent: the upload is abandoned
        f.write(b"PATCHED")
    data[5:12] = b"PATCHED"
    assert endpoint.s3.get_object(Bucket=bucket, Key="rewrite.bin")["Body"].read() == data
    wait_for(lambda: uploads(endpoint, bucket) == [], "the abandoned upload is aborted")


def test_truncate_and_unlink_while_writing(mnt: Mount, endpoint: Endpoint,
                                           bucket: str) -> None:
    block = os.urandom(MiB)
    with open(mnt.path / "t.bin", "wb") as f:
        for _ in range(80):
            f.write(block)
        f.flush()
        wait_for(lambda: parts_of(endpoint, bucket, "t.bin") >= 1, "no parts")
        f.truncate(3 * MiB)
    assert endpoint.s3.head_object(Bucket=bucket, Key="t.bin")["ContentLength"] == 3 * MiB
    with open(mnt.path / "u.bin", "wb") as f:
        for _ in range(80):
            f.write(block)
        f.flush()
        wait_for(lambda: parts_of(endpoint, bucket, "u.bin") >= 1, "no parts")
        os.unlink(mnt.path / "u.bin")
        f.write(block)
    keys = [o["Key"] for o in endpoint.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["t.bin"]
    wait_for(lambda: uploads(endpoint, bucket) == [], "abandoned uploads are aborted")


def test_rename_while_writing(mnt: Mount, endpoint: Endpoint, bucket: str,
                              mount_factory: MountFactory) -> None:
    data = os.urandom(MiB) * 70
    with open(mnt.path / "a.bin", "wb") as f:
        f.write(data)
        f.flush()
        wait_for(lambda: parts_of(endpoint, bucket, "a.bin") >= 1, "no parts")
        os.rename(mnt.path / "a.bin", mnt.path / "b.bin")
    keys = [o["Key"] for o in endpoint.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["b.bin"]
    assert endpoint.s3.get_object(Bucket=bucket, Key="b.bin")["Body"].read() == data
    wait_for(lambda: uploads(endpoint, bucket) == [], "abandoned uploads are aborted")
