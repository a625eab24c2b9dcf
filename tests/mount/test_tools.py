"""Issue 5 §7: a randomized exerciser against a local twin, tar x + diff -r, git in a mount."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from mountkit import Endpoint, Mount

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(240)]

MAX_SIZE = 160 << 10


def _open_pair(path: Path, twin: Path, flags: int) -> tuple[int, int]:
    return os.open(path, flags, 0o644), os.open(twin, flags, 0o644)


def _check(fd: int, tfd: int, step: int, what: str) -> None:
    size, tsize = os.fstat(fd).st_size, os.fstat(tfd).st_size
    assert size == tsize, f"step {step} ({what}): size {size} != twin {tsize}"
    got, want = os.pread(fd, size + 10, 0), os.pread(tfd, tsize + 10, 0)
    if got != want:
        at = next(i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b)
        raise AssertionError(f"step {step} ({what}): bytes differ from offset {at}")


@pytest.mark.parametrize("seed", [1, 2])
def test_random_exerciser_against_twin(mnt: Mount, endpoint: Endpoint, bucket: str,
                                       tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    path, twin = mnt.path / "ex.bin", tmp_path / "twin.bin"
    fd, tfd = _open_pair(path, twin, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    ops = ["write", "write", "write", "write_end", "truncate", "append", "reopen",
           "reopen_ro", "fsync", "read"]
    steps = 1500
    for step in range(steps):
        op = rnd.choice(ops)
        size = os.fstat(tfd).st_size
        if op in ("write", "write_end"):
            n = rnd.choice([1, 7, 512, 4096, 5000, 65536, 70001])
            off = rnd.randrange(0, size + 1) if op == "write" else max(0, size - rnd.randrange(64))
            off = min(off, MAX_SIZE - n) if off + n > MAX_SIZE else off
            data = rnd.randbytes(n)
            assert os.pwrite(fd, data, off) == n
            os.pwrite(tfd, data, off)
        elif op == "truncate":
            new = rnd.choice([0, rnd.randrange(0, MAX_SIZE), size // 2, size + rnd.randrange(9000)])
            os.ftruncate(fd, new)
            os.ftruncate(tfd, new)
        elif op == "append":
            data = rnd.randbytes(rnd.choice([1, 100, 3000]))
            if size + len(data) < MAX_SIZE:
                afd, atfd = _open_pair(path, twin, os.O_WRONLY | os.O_APPEND)
                os.write(afd, data)
                os.write(atfd, data)
                os.close(afd)
                os.close(atfd)
        elif op in ("reopen", "reopen_ro"):
            os.close(fd)
            os.close(tfd)
            if op == "reopen_ro":  # read back what the server has, through ranged GETs
                rfd, rtfd = _open_pair(path, twin, os.O_RDONLY)
                _check(rfd, rtfd, step, op)
                os.close(rfd)
                os.close(rtfd)
            fd, tfd = _open_pair(path, twin, os.O_RDWR)
        elif op == "fsync":
            os.fsync(fd)
        elif op == "read":
            off = rnd.randrange(0, size + 100)
            n = rnd.randrange(1, 20000)
            assert os.pread(fd, n, off) == os.pread(tfd, n, off), f"step {step}: read"
        _check(fd, tfd, step, op)
    os.close(fd)
    os.close(tfd)
    body = endpoint.s3.get_object(Bucket=bucket, Key="ex.bin")["Body"].read()
    assert body == twin.read_bytes()


def _make_tree(root: Path, files: int, seed: int = 3) -> None:
    rnd = random.Random(seed)
    dirs = [root]
    for i in range(files // 12):
        d = rnd.choice(dirs) / f"dir{i}"
        d.mkdir()
        dirs.append(d)
    (root / "empty-dir").mkdir()
    for i in range(files):
        d = rnd.choice(dirs)
        p = d / f"file{i}.{rnd.choice(['c', 'h', 'py', 'txt', 'md'])}"
        size = rnd.choice([0, 10, 200, 1000, 4000, 30000, 150000])
        p.write_bytes(rnd.randbytes(size))
        if i % 9 == 0:
            p.chmod(0o755)
    for i in range(5):
        os.symlink(f"file{i}.c", rnd.choice(dirs) / f"link{i}")


def test_tar_extract_and_diff(mnt: Mount, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _make_tree(src, 500)
    archive = tmp_path / "tree.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(src, arcname="tree")
    subprocess.run(["tar", "xf", str(archive), "-C", str(mnt.path)], check=True, timeout=180)
    res = subprocess.run(["diff", "-r", "--no-dereference", str(src), str(mnt.path / "tree")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    # tar restored modes and times through the mount
    for p in list(src.rglob("*"))[:60]:
        q = mnt.path / "tree" / p.relative_to(src)
        a, b = p.lstat(), q.lstat()
        assert (a.st_mode, int(a.st_mtime)) == (b.st_mode, int(b.st_mtime)), p


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_init_add_commit(mnt: Mount, tmp_path: Path) -> None:
    repo = mnt.path / "repo"
    repo.mkdir()
    _make_tree(repo, 120, seed=4)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com",
               GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp_path))

    def git(*args: str) -> str:
        res = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True,
                             text=True, timeout=180)
        assert res.returncode == 0, f"git {args}: {res.stdout}{res.stderr}"
        return res.stdout

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "first")
    assert git("status", "--porcelain") == ""
    tracked = git("ls-files").split()[0]
    (repo / tracked).write_text("changed\n")
    git("commit", "-q", "-am", "second")
    assert len(git("log", "--oneline").splitlines()) == 2
    git("fsck", "--no-progress")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], env=env, check=True,
                   timeout=120)
    assert (clone / tracked).read_text() == "changed\n"
