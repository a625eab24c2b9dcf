"""A full mountpath (issue 12, item 9), on real small file systems (tmpfs with size=).

One full mountpath beside a roomy one: every write lands on the roomy one. All full: 507
InsufficientStorage from both APIs, nothing half-written listed, reads still served, no
traceback in the node's log.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from aisfs.store.mountpaths import Mountpath
from aisfs.store.space import FullMarks
from support.clients import s3_client
from support.node import NodeProcess, new_node

MiB = 1024 * 1024
CONFIG = "[store]\nchunk_size = 262144\ninline_max = 4096\n"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a size-limited tmpfs needs root"
)


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                    str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def code(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def clean_log(node: NodeProcess) -> None:
    log = node.log()
    assert "Traceback" not in log and " ERROR " not in log, log


def fill(s3: Any, bucket: str, size: int, limit: int) -> dict[str, bytes]:
    """PUT objects of ``size`` bytes until one is refused 507 (at most ``limit``)."""
    stored: dict[str, bytes] = {}
    for i in range(limit):
        body = os.urandom(size)
        try:
            s3.put_object(Bucket=bucket, Key=f"fill/{i:04d}", Body=body)
        except ClientError as e:
            err = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
            assert err == ("InsufficientStorage", 507), e.response
            return stored
        stored[f"fill/{i:04d}"] = body
    raise AssertionError(f"{limit} PUTs of {size} bytes and never full")


def test_full_mountpath_beside_a_roomy_one(tmp_path: Path) -> None:
    node = new_node(tmp_path, mountpaths=2, config=CONFIG)
    # both small enough to weigh the same in placement (free space under 1 GiB)
    with tmpfs(node.mountpaths[0], "1m"), tmpfs(node.mountpaths[1], "64m"):
        node.start()
        try:
            s3 = s3_client(node.s3_url)
            s3.create_bucket(Bucket="half")
            stored = {}
            for i in range(24):  # 6 MiB of chunks: half of them would go to the 1 MiB one
                body = os.urandom(MiB // 4 + 1000 * i)
                s3.put_object(Bucket="half", Key=f"big/{i}", Body=body)
                stored[f"big/{i}"] = body
            for i in range(50):  # inline objects: manifests only
                s3.put_object(Bucket="half", Key=f"small/{i}", Body=b"s%d" % i)
            for key, body in stored.items():
                assert s3.get_object(Bucket="half", Key=key)["Body"].read() == body
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket="half")["Contents"]]
            assert len(keys) == 74
        finally:
            assert node.stop() == 0, node.log()
        log = node.log()
        assert "is full" in log, log  # the small one did fill up and was passed over
        clean_log(node)


def test_all_mountpaths_full(tmp_path: Path) -> None:
    node = new_node(tmp_path, mountpaths=2, config=CONFIG)
    with tmpfs(node.mountpaths[0], "1m"), tmpfs(node.mountpaths[1], "1m"):
        node.start()
        try:
            s3 = s3_client(node.s3_url)
            s3.create_bucket(Bucket="full")
            s3.put_object(Bucket="full", Key="before", Body=b"kept")
            # made before the disks fill: its part is what must be refused (a record made
            # on a full disk may or may not find the last block - a shelf's WAL takes it)
            up = s3.create_multipart_upload(Bucket="full", Key="mp")
            stored = fill(s3, "full", 200_000, 40)
            assert stored  # some fit before the disks filled
            # a big PUT, a multipart part, a native PUT: all 507, none visible
            with pytest.raises(ClientError) as e:
                s3.put_object(Bucket="full", Key="too-big", Body=os.urandom(3 * MiB))
            assert code(e) == ("InsufficientStorage", 507)
            with pytest.raises(ClientError) as e:
                s3.upload_part(Bucket="full", Key="mp", UploadId=up["UploadId"],
                               PartNumber=1, Body=os.urandom(2 * MiB))
            assert code(e) == ("InsufficientStorage", 507)
            r = httpx.put(f"{node.url}/v1/objects/full/native", content=os.urandom(2 * MiB),
                          timeout=30)
            assert r.status_code == 507, r.text
            raw = httpx.put(f"{node.s3_url}/full/raw", content=os.urandom(2 * MiB), timeout=30)
            assert raw.status_code == 507 and "<Code>InsufficientStorage</Code>" in raw.text
            # reads and listings go on; nothing half-written is listed
            assert s3.get_object(Bucket="full", Key="before")["Body"].read() == b"kept"
            for key, body in stored.items():
                assert s3.get_object(Bucket="full", Key=key)["Body"].read() == body
            listed = {o["Key"] for o in s3.list_objects_v2(Bucket="full")["Contents"]}
            assert listed == {"before", *stored}
            assert httpx.get(f"{node.url}/v1/objects/full/native", timeout=10).status_code == 404
            # a delete still works on a full disk
            s3.delete_object(Bucket="full", Key="before")
            s3.abort_multipart_upload(Bucket="full", Key="mp", UploadId=up["UploadId"])
        finally:
            assert node.stop() == 0, node.log()
        clean_log(node)
        tmp_left = [p for mp in node.mountpaths for p in (mp / "tmp").iterdir()]
        assert not [p for p in tmp_left if not p.name.startswith("deleted.")], tmp_left


def test_full_marks_recheck_free_space(tmp_path: Path) -> None:
    """A mountpath marked full is skipped until its free space is looked at again."""
    with tmpfs(tmp_path / "fs", "1m") as root:
        mp = Mountpath(path=root, uuid="u1")
        marks = FullMarks(recheck_seconds=0.0)
        assert not marks.is_full(mp)
        filler = root / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 65536)
        except OSError:
            pass  # ENOSPC: the file system is full
        finally:
            os.close(fd)
        marks.mark(mp)
        assert marks.is_full(mp)  # re-checked at once: still under MIN_FREE
        filler.unlink()
        assert not marks.is_full(mp)  # room again
        assert marks.full() == []
