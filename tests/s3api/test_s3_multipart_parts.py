"""UploadPart as a client drives it, against a real node with boto3, open auth and SigV4:
parts in flight at once (each spooled while others are: hashed and written by one task,
aisfs/store/spool.py), a part uploaded again and the same part number several times at
once (its record linked under the lock, or replaced: aisfs/store/multipart.py),
Content-MD5 and x-amz-checksum-* still checked, and acknowledged parts surviving a
kill -9 and an index rebuilt from the disks (their records complete on disk)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.clients import s3_client
from support.node import NodeProcess, new_node

SIGV4 = """
[auth]
mode = "sigv4"
access_keys = { AKIDPARTS = "parts-secret" }
"""
MiB = 1024 * 1024
PART = 5 * MiB  # the least a part but the last may be: one chunk, spooled


def client(node: NodeProcess, sig: bool) -> Any:
    import boto3
    from botocore.config import Config

    if not sig:
        return s3_client(node.s3_url)
    return boto3.client(
        "s3", endpoint_url=node.s3_url, region_name="us-east-1",
        aws_access_key_id="AKIDPARTS", aws_secret_access_key="parts-secret",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=8),
    )


@pytest.fixture(params=["open", "sigv4"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[NodeProcess, bool]]:
    sig = request.param == "sigv4"
    n = new_node(tmp_path, config=SIGV4 if sig else None).start()
    try:
        client(n, sig).create_bucket(Bucket="parts")
        yield n, sig
    finally:
        assert n.stop() == 0
        assert "Traceback" not in n.log()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def upload(s3: Any, up: str, n: int, data: bytes, **kw: Any) -> str:
    r = s3.upload_part(Bucket="parts", Key="k", UploadId=up, PartNumber=n, Body=data, **kw)
    return str(r["ETag"]).strip('"')


def complete(s3: Any, up: str, etags: dict[int, str]) -> dict[str, Any]:
    done: dict[str, Any] = s3.complete_multipart_upload(
        Bucket="parts", Key="k", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": n, "ETag": f'"{e}"'} for n, e in sorted(etags.items())]})
    return done


def multipart_etag(parts: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


def test_parts_in_flight_again_and_refused(node: tuple[NodeProcess, bool]) -> None:
    s3 = client(*node)
    up = s3.create_multipart_upload(Bucket="parts", Key="k")["UploadId"]
    data = {n: os.urandom(PART + n) for n in range(1, 5)}
    with ThreadPoolExecutor(4) as pool:  # four parts in flight, Content-MD5 on each
        etags = dict(zip(data, pool.map(
            lambda n: upload(s3, up, n, data[n], ContentMD5=md5_b64(data[n])), data),
            strict=True))
    assert etags == {n: hashlib.md5(d).hexdigest() for n, d in data.items()}
    data[2] = os.urandom(PART + 7)  # uploaded again: the new bytes replace the old
    etags[2] = upload(s3, up, 2, data[2])
    assert etags[2] == hashlib.md5(data[2]).hexdigest()
    other = os.urandom(PART)
    with pytest.raises(ClientError) as e:  # a wrong Content-MD5: refused, part 3 kept
        upload(s3, up, 3, other, ContentMD5=md5_b64(data[3]))
    assert e.value.response["Error"]["Code"] == "BadDigest"
    wrong_crc = base64.b64encode(zlib.crc32(data[3]).to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as e:  # a wrong x-amz-checksum-crc32: refused too
        upload(s3, up, 3, other, ChecksumCRC32=wrong_crc)
    assert e.value.response["Error"]["Code"] == "BadDigest"
    listed = s3.list_parts(Bucket="parts", Key="k", UploadId=up)["Parts"]
    assert {p["PartNumber"]: p["ETag"].strip('"') for p in listed} == etags
    assert [p["Size"] for p in listed] == [len(data[n]) for n in sorted(data)]
    done = complete(s3, up, etags)
    parts = [data[n] for n in sorted(data)]
    assert done["ETag"].strip('"') == multipart_etag(parts)
    assert s3.get_object(Bucket="parts", Key="k")["Body"].read() == b"".join(parts)


def test_same_part_number_at_once(node: tuple[NodeProcess, bool]) -> None:
    s3 = client(*node)
    up = s3.create_multipart_upload(Bucket="parts", Key="k")["UploadId"]
    bodies = [os.urandom(PART) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:  # each a first upload of part 1 when it began
        sent = list(pool.map(lambda b: upload(s3, up, 1, b), bodies))
    assert sent == [hashlib.md5(b).hexdigest() for b in bodies]
    listed = s3.list_parts(Bucket="parts", Key="k", UploadId=up)["Parts"]
    assert len(listed) == 1
    kept = listed[0]["ETag"].strip('"')
    body = bodies[sent.index(kept)]
    complete(s3, up, {1: kept})
    assert s3.get_object(Bucket="parts", Key="k")["Body"].read() == body


def test_acknowledged_parts_survive_kill_9_and_a_rebuild(
    node: tuple[NodeProcess, bool],
) -> None:
    n, sig = node
    s3 = client(n, sig)
    up = s3.create_multipart_upload(Bucket="parts", Key="k")["UploadId"]
    data = {i: os.urandom(PART + i) for i in range(1, 6)}
    with ThreadPoolExecutor(4) as pool:
        etags = dict(zip(data, pool.map(lambda i: upload(s3, up, i, data[i]), data),
                         strict=True))
    data[3] = os.urandom(PART)  # a record replaced, not linked
    etags[3] = upload(s3, up, 3, data[3])
    n.kill()  # SIGKILL: every acknowledged part is there after the restart
    n.start()
    s3 = client(n, sig)
    listed = s3.list_parts(Bucket="parts", Key="k", UploadId=up)["Parts"]
    assert {p["PartNumber"]: p["ETag"].strip('"') for p in listed} == etags
    assert n.stop() == 0
    shutil.rmtree(n.index_dir)  # the index rebuilt from the disks: the part records
    cmd = [sys.executable, "-m", "aisfs", "node", "fsck", "--index-dir", str(n.index_dir)]
    for mp in n.mountpaths:
        cmd += ["--mountpath", str(mp)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    n.start()
    s3 = client(n, sig)
    listed = s3.list_parts(Bucket="parts", Key="k", UploadId=up)["Parts"]
    assert {p["PartNumber"]: p["ETag"].strip('"') for p in listed} == etags
    complete(s3, up, etags)
    parts = [data[i] for i in sorted(data)]
    assert s3.get_object(Bucket="parts", Key="k")["Body"].read() == b"".join(parts)
