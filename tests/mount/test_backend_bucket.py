"""The mount over an ``s3://`` bucket through a node that fronts a backend (moto here).

The mount talks to the front node (``/s3/B``); B exists only in the backend and is
discovered by the node on first use. What the mount writes is written through: it is in
the backend (checked with boto3 against moto directly); what it deletes is gone there.
The semantics tests run again on such a bucket (test_foreign_s3's way), all but those of a
mount's options and of the node's own calls - a chmod among them: the node keeps its cached
copy through the metadata copy, so a second mount's listing shows the new mode. The tree
and the metadata of objects the front keeps no copy of run with the front checking
signatures too.
"""

from __future__ import annotations

import inspect
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_semantics as sem
from mountkit import Endpoint, Moto, MountFactory, free_port, s3_client

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def fronted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Endpoint, Endpoint]]:
    """(the front node, the backend): a node whose [backend.s3] is a moto server."""
    from support.node import new_node  # type: ignore[import-not-found]

    moto = Moto(free_port()).start()
    config = (f'[backend.s3]\nendpoint = "{moto.url}"\naccess_key = "FAKEKEY"\n'
              'secret_key = "FAKESECRET"\nretries = 1\n')
    node = new_node(tmp_path_factory.mktemp("front"), config=config).start()
    try:
        yield (Endpoint(node.s3_url, "node", s3_client(node.s3_url), node.stop),
               Endpoint(moto.url, "moto", s3_client(moto.url), moto.stop))
    finally:
        node.stop()
        moto.stop()


SIGNED = ("AKIDMOUNTFRONT", "mount-front-secret")


@pytest.fixture(scope="module")
def fronted_signed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Endpoint, Endpoint]]:
    """As ``fronted``, the front checking SigV4 signatures (the mount signs with
    ``SIGNED``, from the environment)."""
    from support.node import new_node  # type: ignore[import-not-found]

    moto = Moto(free_port()).start()
    config = (f'[auth]\nmode = "sigv4"\naccess_keys = {{ {SIGNED[0]} = "{SIGNED[1]}" }}\n'
              f'[backend.s3]\nendpoint = "{moto.url}"\naccess_key = "FAKEKEY"\n'
              'secret_key = "FAKESECRET"\nretries = 1\n')
    node = new_node(tmp_path_factory.mktemp("front-signed"), config=config).start()
    import boto3

    signed = boto3.client("s3", endpoint_url=node.s3_url, region_name="us-east-1",
                          aws_access_key_id=SIGNED[0], aws_secret_access_key=SIGNED[1])
    try:
        yield (Endpoint(node.s3_url, "node", signed, node.stop),
               Endpoint(moto.url, "moto", s3_client(moto.url), moto.stop))
    finally:
        node.stop()
        moto.stop()


def front_of(request: pytest.FixtureRequest, signed: bool,
             monkeypatch: pytest.MonkeyPatch) -> tuple[Endpoint, Endpoint, str]:
    """(the front, the backend, a new bucket only in the backend), the front checking
    signatures when ``signed`` (the mount then signs: its keys in the environment)."""
    front, backend = request.getfixturevalue("fronted_signed" if signed else "fronted")
    if signed:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", SIGNED[0])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SIGNED[1])
    bucket = f"s3mnt-{uuid.uuid4().hex[:12]}"
    backend.s3.create_bucket(Bucket=bucket)  # in the backend only
    return front, backend, bucket


@pytest.fixture
def remote_bucket(fronted: tuple[Endpoint, Endpoint]) -> str:
    name = f"s3mnt-{uuid.uuid4().hex[:12]}"
    fronted[1].s3.create_bucket(Bucket=name)  # in the backend only
    return name


@pytest.mark.parametrize("signed", [False, True], ids=["open", "signed"])
def test_tree_through_the_mount_lands_in_the_backend(
    signed: bool, request: pytest.FixtureRequest, mount_factory: MountFactory,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    front, backend, remote_bucket = front_of(request, signed, monkeypatch)
    backend.s3.put_object(Bucket=remote_bucket, Key="pre/existing.txt", Body=b"was there\n")
    m = mount_factory(f"s3://{remote_bucket}", url=front.url)  # AIS's name for it
    assert (m.path / "pre" / "existing.txt").read_bytes() == b"was there\n"
    src = tmp_path / "tree"
    (src / "a" / "b").mkdir(parents=True)
    files = {"top.txt": b"top\n", "a/one.bin": os.urandom(70_000),
             "a/b/two.bin": os.urandom(6 * 1024 * 1024 + 3)}
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    shutil.copytree(src, m.path / "tree")
    for rel, data in files.items():
        assert (m.path / "tree" / rel).read_bytes() == data
        got = backend.s3.get_object(Bucket=remote_bucket, Key=f"tree/{rel}")["Body"].read()
        assert got == data, rel
    assert sorted(p.name for p in (m.path / "tree").iterdir()) == ["a", "top.txt"]
    (m.path / "tree" / "top.txt").unlink()
    listed = backend.s3.list_objects_v2(Bucket=remote_bucket, Prefix="tree/")
    assert "tree/top.txt" not in [c["Key"] for c in listed.get("Contents", [])]
    shutil.rmtree(m.path / "tree")
    fd = os.open(m.path, os.O_RDONLY | os.O_DIRECTORY)  # rm -rf is durable at the
    try:  # parent's fsync, as on a local disk (docs/mount.md, Unlink)
        os.fsync(fd)
    finally:
        os.close(fd)
    listed = backend.s3.list_objects_v2(Bucket=remote_bucket, Prefix="tree/")
    assert not [c["Key"] for c in listed.get("Contents", []) if not c["Key"].endswith("/")]


@pytest.mark.parametrize("case", [
    "create_write_read_visible_through_s3", "read_sequential_and_random",
    "overwrite_random_write_append_truncate", "mmap_write", "fsync_uploads_before_close",
    "unlink_open_file_keeps_fd_data_and_object_stays_gone",
    "rename_file_and_onto_existing", "rename_directory_moves_every_key",
    "mkdir_rmdir_markers_and_implied_dirs", "stat_chmod_chown_utime_kept_in_metadata",
    "symlinks", "s3_writes_show_within_attr_timeout", "names_with_odd_characters",
])  # not large_file_multipart: the node writes a 66 MiB file through as one PutObject
def test_semantics_on_an_s3_bucket(
    fronted: tuple[Endpoint, Endpoint], remote_bucket: str, mount_factory: MountFactory,
    case: str,
) -> None:
    """``case`` of test_semantics on an ``s3://`` bucket; a case that makes a second
    mount makes it through the same front node."""
    front = fronted[0]
    m = mount_factory(remote_bucket, url=front.url)
    fn = getattr(sem, f"test_{case}")
    if "mount_factory" in inspect.signature(fn).parameters:
        fn(m, front, remote_bucket, lambda bucket, *a, **kw: mount_factory(
            bucket, *a, url=front.url, **kw))
    else:
        fn(m, front, remote_bucket)



@pytest.mark.parametrize("signed", [False, True], ids=["open", "signed"])
def test_metadata_the_front_set_shows_in_listings_of_objects_it_did_not_keep(
    signed: bool, request: pytest.FixtureRequest, mount_factory: MountFactory,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A listing of a remote bucket has no user metadata (ListObjectsV2 carries none):
    the mode and times of an object the front holds no copy of came out as the mount's
    defaults and the backend's Last-Modified. Two such objects, listed by a fresh mount:
    a file past write-behind's size copied with `cp -p` (a multipart upload forwarded to
    the backend, then the mount's metadata copy onto itself), and a chmod of an object
    that only the backend had. The front remembers what it set (aisfs/backend/metamemo.py)."""
    import subprocess

    front, backend, remote_bucket = front_of(request, signed, monkeypatch)
    m = mount_factory(remote_bucket, url=front.url)
    src = tmp_path / "big"
    block = os.urandom(1 << 20)
    with open(src, "wb") as f:
        for _ in range(66):  # past the mount's write-behind START_AT (64 MiB)
            f.write(block)
    os.chmod(src, 0o640)
    os.utime(src, ns=(1_600_000_000_111_111_111, 1_500_000_000_123_456_789))
    subprocess.run(["cp", "-p", str(src), str(m.path / "big")], check=True, timeout=120)
    backend.s3.put_object(Bucket=remote_bucket, Key="plain", Body=b"only in the backend")
    os.chmod(m.path / "plain", 0o600)

    m2 = mount_factory(remote_bucket, url=front.url)
    assert sorted(os.listdir(m2.path)) == ["big", "plain"]
    st = (m2.path / "big").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o640, 1_500_000_000_123_456_789)
    assert stat.S_IMODE((m2.path / "plain").stat().st_mode) == 0o600
