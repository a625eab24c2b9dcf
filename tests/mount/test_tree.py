"""Issue 14 §4/§5: a real tree through the mount - copied in, compared, archived, walked.

A few hundred files of the installed botocore (its modules and the service models whose
names start with "a": ~300 files in ~90 directories) are copied in with `cp -r`; then
`diff -r` against the source is clean, `tar c` exits 0 right after, `du` says what it
says of the local copy (apparent sizes of the files), `ls -la` shows `.` and `..`, and
against our node a cold walk of the tree costs a few listings, not a request per
directory or per file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from mountkit import Endpoint, Mount, MountFactory

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(240)]


def _source(tmp_path: Path) -> Path:
    import botocore

    src = Path(botocore.__file__).parent
    data = src / "data"

    def ignore(d: str, names: list[str]) -> list[str]:
        if Path(d) == data:
            return [n for n in names if (data / n).is_dir() and not n.startswith("a")]
        return []

    local = tmp_path / "src"
    shutil.copytree(src, local, ignore=ignore, symlinks=True)
    return local


def _requests(endpoint: Endpoint) -> Counter[str]:
    """The node's requests so far by operation, without the metrics' own and the change
    feed's long polls (aisfs_mount/notify.py: `_all_requests` has them)."""
    out = _all_requests(endpoint)
    out.pop("Metrics", None)
    out.pop("ListChanges", None)
    return out


def _all_requests(endpoint: Endpoint) -> Counter[str]:
    base = endpoint.url[: -len("/s3")]
    text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    out: Counter[str] = Counter()
    for m in re.finditer(r"^aisfs_requests_total\{([^}]*)\} (\S+)", text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        out[labels.get("operation", "")] += int(float(m.group(2)))
    return out


def s3_keys(endpoint: Endpoint, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in endpoint.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def _file_sizes(root: Path) -> dict[str, int]:
    """`du -ab` of the regular files under root, by relative path."""
    out = subprocess.run(["du", "-ab", str(root)], check=True, capture_output=True,
                         text=True).stdout
    sizes = {}
    for line in out.splitlines():
        size, path = line.split("\t", 1)
        p = Path(path)
        if p.is_file() and not p.is_symlink():
            sizes[str(p.relative_to(root))] = int(size)
    return sizes


def test_real_tree_copied_compared_archived(mount_factory: MountFactory, endpoint: Endpoint,
                                            bucket: str, tmp_path: Path) -> None:
    local = _source(tmp_path)
    nfiles = sum(len(fs) for _, _, fs in os.walk(local))
    assert nfiles > 200
    mnt = mount_factory(bucket)
    tree = mnt.path / "tree"
    subprocess.run(["cp", "-r", str(local), str(tree)], check=True, timeout=180)
    diff = subprocess.run(["diff", "-r", str(local), str(tree)], capture_output=True,
                          text=True, timeout=120)
    assert diff.returncode == 0, diff.stdout[-2000:] + diff.stderr[-2000:]
    tar = subprocess.run(["tar", "cf", "/dev/null", "-C", str(mnt.path), "tree"],
                         capture_output=True, text=True, timeout=120)
    assert tar.returncode == 0, tar.stderr[-2000:]
    assert _file_sizes(tree) == _file_sizes(local)
    la = subprocess.run(["ls", "-la", str(tree / "data")], check=True, capture_output=True,
                        text=True).stdout.splitlines()
    assert [line.split()[-1] for line in la[1:3]] == [".", ".."], la[:4]
    assert os.stat(tree / "data" / ".").st_ino == os.stat(tree / "data").st_ino

    # the markers of the directories cp made are on the server once it is fsync'ed
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    keys = set(s3_keys(endpoint, bucket))
    dirs = [str(Path(d).relative_to(local)) for d, _, _ in os.walk(local)]
    missing = [d for d in dirs if ("tree/" + d + "/" if d != "." else "tree/") not in keys]
    assert not missing, missing[:5]

    # a cold walk of the tree: a listing per few thousand keys, no HEAD per entry
    mnt.unmount()
    again = mount_factory(bucket)
    before = _requests(endpoint) if endpoint.kind == "node" else None
    ls = subprocess.run(["ls", "-lR", str(again.path / "tree")], check=True,
                        capture_output=True, text=True, timeout=120).stdout
    assert "endpoints.json" in ls
    du = subprocess.run(["du", "-s", str(again.path / "tree")], check=True,
                        capture_output=True, text=True, timeout=120)
    assert int(du.stdout.split()[0]) > 0
    if before is not None:
        spent = _requests(endpoint) - before
        assert spent["HeadObject"] == 0, spent
        assert sum(spent.values()) <= 8, spent
    diff = subprocess.run(["diff", "-r", str(local), str(again.path / "tree")],
                          capture_output=True, text=True, timeout=120)
    assert diff.returncode == 0, diff.stdout[-2000:]


def test_tar_x_then_tar_c_right_after(mount_factory: MountFactory, bucket: str,
                                      tmp_path: Path) -> None:
    """`tar x` of a real tree into the mount, then at once `tar c` of it exits 0 (no
    "file changed as we read it": the directories' ctimes stay exact), `diff -r` against
    the source is clean, `du` agrees, and so after `rm -rf` and `tar x` again."""
    local = _source(tmp_path)
    archive = tmp_path / "tree.tar"
    subprocess.run(["tar", "cf", str(archive), "-C", str(local), "."], check=True)
    mnt = mount_factory(bucket)
    for round_ in range(2):
        out = mnt.path / "x"
        out.mkdir()
        subprocess.run(["tar", "xf", str(archive), "-C", str(out)], check=True, timeout=180)
        tar = subprocess.run(["tar", "cf", "/dev/null", "-C", str(mnt.path), "x"],
                             capture_output=True, text=True, timeout=120)
        assert tar.returncode == 0, (round_, tar.stderr[-2000:])
        diff = subprocess.run(["diff", "-r", str(local), str(out)], capture_output=True,
                              text=True, timeout=120)
        assert diff.returncode == 0, diff.stdout[-2000:] + diff.stderr[-2000:]
        assert _file_sizes(out) == _file_sizes(local)
        la = subprocess.run(["ls", "-la", str(out)], check=True, capture_output=True,
                            text=True).stdout.splitlines()
        assert [line.split()[-1] for line in la[1:3]] == [".", ".."], la[:4]
        shutil.rmtree(out)
        assert not out.exists()


def test_mkdir_then_rmdir_leaves_no_marker(mnt: Mount, endpoint: Endpoint,
                                           bucket: str) -> None:
    """mkdir's marker goes up in the background: an rmdir right after waits for it, so
    the marker does not come back after the delete."""
    for i in range(20):
        (mnt.path / f"d{i}").mkdir()
        (mnt.path / f"d{i}").rmdir()
    (mnt.path / "kept").mkdir()
    (mnt.path / "kept" / "sub").mkdir()
    os.rename(mnt.path / "kept", mnt.path / "moved")
    fd = os.open(mnt.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    assert sorted(s3_keys(endpoint, bucket)) == ["moved/", "moved/sub/"]
    assert sorted(os.listdir(mnt.path)) == ["moved"]
    assert os.listdir(mnt.path / "moved") == ["sub"]


def test_markers_reach_the_server_by_fsync_and_unmount(mount_factory: MountFactory,
                                                       endpoint: Endpoint,
                                                       bucket: str) -> None:
    """Markers go in the background (aisfs_mount/markers.py): fsync of a directory waits
    for those made anywhere below it, and the unmount for those still on their way."""
    mnt = mount_factory(bucket)
    deep = mnt.path / "top" / "a" / "b" / "c"
    deep.mkdir(parents=True)
    for i in range(40):
        (mnt.path / "top" / "a" / f"s{i:02d}").mkdir()
    fd = os.open(mnt.path / "top", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    want = {"top/", "top/a/", "top/a/b/", "top/a/b/c/",
            *(f"top/a/s{i:02d}/" for i in range(40))}
    assert set(s3_keys(endpoint, bucket)) == want
    (mnt.path / "late" / "x").mkdir(parents=True)
    mnt.unmount()
    assert set(s3_keys(endpoint, bucket)) == want | {"late/", "late/x/"}
