"""A versioned bucket through the mount (issue 15): the file is the current version, an
overwrite keeps the old one as a version, an unlink makes a delete marker (every version
stays, S3 and ``aisfs ls --versions`` show them), and a version object lock protects is
never removed by what the mount does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mountkit import Endpoint, MountFactory

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(180)]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _versions(endpoint: Endpoint, bucket: str) -> list[tuple[str, bool, bool]]:
    """(key, is latest, is a delete marker) by key, newest first."""
    out = endpoint.s3.list_object_versions(Bucket=bucket)
    rows = [(v["Key"], v["IsLatest"], False, v["LastModified"]) for v in out.get("Versions", [])]
    rows += [(m["Key"], m["IsLatest"], True, m["LastModified"])
             for m in out.get("DeleteMarkers", [])]
    rows.sort(key=lambda r: (r[0], not r[1], -r[3].timestamp()))
    return [r[:3] for r in rows]


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    _fsync(path)
    _fsync(path.parent)


@pytest.mark.skipif(os.environ.get("AISFS_MOUNT_ENDPOINT", "node") != "node",
                    reason="versioning is the node's")
def test_the_file_is_the_current_version(mount_factory: MountFactory, endpoint: Endpoint,
                                         bucket: str) -> None:
    endpoint.s3.put_bucket_versioning(Bucket=bucket,
                                      VersioningConfiguration={"Status": "Enabled"})
    m = mount_factory(bucket)
    f = m.path / "f"
    _write(f, b"one")
    _write(f, b"two")
    assert f.read_bytes() == b"two"
    assert os.listdir(m.path) == ["f"]
    assert _versions(endpoint, bucket) == [("f", True, False), ("f", False, False)]
    old = [v for v in endpoint.s3.list_object_versions(Bucket=bucket)["Versions"]
           if not v["IsLatest"]][0]["VersionId"]
    assert endpoint.s3.get_object(Bucket=bucket, Key="f",
                                  VersionId=old)["Body"].read() == b"one"
    os.unlink(f)
    _fsync(m.path)
    assert os.listdir(m.path) == []
    assert _versions(endpoint, bucket) == [("f", True, True), ("f", False, False),
                                           ("f", False, False)]


@pytest.mark.skipif(os.environ.get("AISFS_MOUNT_ENDPOINT", "node") != "node",
                    reason="object lock is the node's")
def test_the_mount_removes_no_locked_version(mount_factory: MountFactory,
                                            endpoint: Endpoint) -> None:
    bucket = "mnt-locked-versions"
    endpoint.s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    held = endpoint.s3.put_object(Bucket=bucket, Key="d/held", Body=b"held",
                                  ObjectLockLegalHoldStatus="ON")["VersionId"]
    m = mount_factory(bucket)
    f = m.path / "d" / "held"
    assert f.read_bytes() == b"held"
    _write(f, b"over")  # an overwrite: the held version is kept
    os.unlink(f)
    _fsync(m.path / "d")
    got = endpoint.s3.get_object(Bucket=bucket, Key="d/held", VersionId=held)
    assert got["Body"].read() == b"held"
    kinds = [(k, marker) for k, _latest, marker in _versions(endpoint, bucket)]
    assert kinds == [("d/held", True), ("d/held", False), ("d/held", False)]
    endpoint.s3.put_object_legal_hold(Bucket=bucket, Key="d/held", VersionId=held,
                                      LegalHold={"Status": "OFF"})
