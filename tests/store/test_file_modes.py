"""The node's data files are 0600 and its directories 0700 whatever the umask (issue 12,
item 10): a node started with umask 022 writes inline, chunked and multipart objects, and
nothing in its mountpaths or index directory is readable by another user."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from support.clients import s3_client
from support.node import new_node


def loose(top: Path) -> list[str]:
    """Every file or directory under ``top`` that group or others may use."""
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            mode = p.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            if mode & 0o077:
                out.append(f"{oct(stat.S_IMODE(mode))} {p.relative_to(top)}")
    return out


def test_data_files_are_private_under_umask_022(tmp_path: Path) -> None:
    node = new_node(tmp_path, mountpaths=2, config="[store]\nchunk_size = 1048576\n")
    old = os.umask(0o022)  # inherited by the node process
    try:
        node.start()
    finally:
        os.umask(old)
    try:
        s3 = s3_client(node.s3_url)
        s3.create_bucket(Bucket="modes")
        s3.put_object(Bucket="modes", Key="inline", Body=b"small")
        s3.put_object(Bucket="modes", Key="chunked", Body=os.urandom(3 * 1024 * 1024 + 7))
        big = os.urandom(11 * 1024 * 1024)
        import io

        s3.upload_fileobj(io.BytesIO(big), "modes", "multipart", Config=TransferConfig(
            multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
        open_upload = s3.create_multipart_upload(Bucket="modes", Key="pending")["UploadId"]
        s3.upload_part(Bucket="modes", Key="pending", UploadId=open_upload, PartNumber=1,
                       Body=b"part")
        assert s3.get_object(Bucket="modes", Key="multipart")["Body"].read() == big
        assert any(any(mp.rglob("part.*.json")) for mp in node.mountpaths)  # the open upload
        for mp in node.mountpaths:
            assert loose(mp) == [], loose(mp)
        assert loose(node.index_dir) == [], loose(node.index_dir)
    finally:
        assert node.stop() == 0, node.log()
    assert "Traceback" not in node.log()
    # after a clean stop (WAL checkpointed, files rewritten) still private
    for top in [*node.mountpaths, node.index_dir]:
        assert loose(top) == [], loose(top)


def test_an_older_store_is_tightened(tmp_path: Path) -> None:
    """A store made by an older node (0755 directories, 0644 index) is made private."""
    node = new_node(tmp_path, mountpaths=1)
    node.start()
    s3_client(node.s3_url).create_bucket(Bucket="old")
    assert node.stop() == 0
    for top in [*node.mountpaths, node.index_dir]:
        for dirpath, dirnames, filenames in os.walk(top):
            for d in dirnames:
                os.chmod(Path(dirpath) / d, 0o755)
            for f in filenames:
                os.chmod(Path(dirpath) / f, 0o644)
    os.chmod(node.index_dir, 0o755)
    node.start()
    try:
        s3_client(node.s3_url).put_object(Bucket="old", Key="k", Body=b"x")
        for d in ("chunks", "manifests", "buckets", "uploads", "tmp"):
            assert stat.S_IMODE((node.mountpaths[0] / d).stat().st_mode) == 0o700
        assert stat.S_IMODE(node.index_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE((node.index_dir / "index.db").stat().st_mode) == 0o600
    finally:
        assert node.stop() == 0, node.log()
