"""Issue 5 §2-3: each POSIX operation through a real mount, checked on the mount and via S3."""

from __future__ import annotations

import errno
import mmap
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
from mountkit import Endpoint, Mount, MountFactory, free_port

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(120)]


def s3_get(endpoint: Endpoint, bucket: str, key: str) -> bytes:
    return endpoint.s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def s3_keys(endpoint: Endpoint, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for page in endpoint.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                      Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)


def test_create_write_read_visible_through_s3(mnt: Mount, endpoint: Endpoint, bucket: str) -> None:
    p = mnt.path / "hello.txt"
    p.write_bytes(b"hello world")
    # close-to-open: the object is on the server as soon as close() returned
    assert s3_get(endpoint, bucket, "hello.txt") == b"hello world"
    assert p.read_bytes() == b"hello world"
    st = p.stat()
    assert st.st_size == 11 and stat.S_ISREG(st.st_mode)
    assert abs(st.st_mtime - time.time()) < 30


def test_read_sequential_and_random(mnt: Mount, endpoint: Endpoint, bucket: str) -> None:
    data = os.urandom(9 << 20) + b"tail"
    endpoint.s3.put_object(Bucket=bucket, Key="big.bin", Body=data)
    assert (mnt.path / "big.bin").read_bytes() == data
    import random
    rnd = random.Random(5)
    with open(mnt.path / "big.bin", "rb") as f:
        for _ in range(200):
            off = rnd.randrange(len(data))
            n = rnd.choice([1, 100, 4096, 70000, 300000])
            f.seek(off)
            assert f.read(n) == data[off:off + n]
        f.seek(len(data) + 10)
        assert f.read(10) == b""


def test_overwrite_random_write_append_truncate(mnt: Mount, endpoint: Endpoint,
                                               bucket: str) -> None:
    p = mnt.path / "f.bin"
    p.write_bytes(b"A" * 1000)
    with open(p, "r+b") as f:  # O_RDWR without O_TRUNC keeps the old bytes
        f.seek(500)
        f.write(b"BBB")
    assert s3_get(endpoint, bucket, "f.bin") == b"A" * 500 + b"BBB" + b"A" * 497
    with open(p, "ab") as f:
        f.write(b"tail")
    assert s3_get(endpoint, bucket, "f.bin").endswith(b"Atail")
    os.truncate(p, 10)  # truncate(2) by path: on the server when it returns
    assert s3_get(endpoint, bucket, "f.bin") == b"A" * 10
    os.truncate(p, 20)  # growing reads back zeros, really stored
    assert s3_get(endpoint, bucket, "f.bin") == b"A" * 10 + b"\0" * 10
    with open(p, "r+b") as f:
        f.truncate(3)
        f.seek(0, os.SEEK_END)
        f.write(b"xy")
    assert s3_get(endpoint, bucket, "f.bin") == b"AAAxy"
    p.write_bytes(b"new")  # O_TRUNC
    assert p.read_bytes() == b"new" and s3_get(endpoint, bucket, "f.bin") == b"new"
    # write past the end leaves a hole of zeros
    with open(p, "r+b") as f:
        f.seek(10)
        f.write(b"z")
    assert p.read_bytes() == b"new" + b"\0" * 7 + b"z"


def test_mmap_write(mnt: Mount, endpoint: Endpoint, bucket: str) -> None:
    p = mnt.path / "m.bin"
    p.write_bytes(b"\0" * 8192)
    with open(p, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 8192)
        mm[100:105] = b"hello"
        mm.flush()
        mm.close()
    assert s3_get(endpoint, bucket, "m.bin")[100:105] == b"hello"


def test_fsync_uploads_before_close(mnt: Mount, endpoint: Endpoint, bucket: str) -> None:
    with open(mnt.path / "s.txt", "wb") as f:
        f.write(b"durable")
        f.flush()
        os.fsync(f.fileno())
        assert s3_get(endpoint, bucket, "s.txt") == b"durable"
        f.write(b"!")
    assert s3_get(endpoint, bucket, "s.txt") == b"durable!"


def test_unlink_open_file_keeps_fd_data_and_object_stays_gone(
    mnt: Mount, endpoint: Endpoint, bucket: str
) -> None:
    p = mnt.path / "u.txt"
    p.write_bytes(b"0123456789")
    reader = open(p, "rb")  # noqa: SIM115 - two fds held across the unlink
    f = open(p, "r+b")  # noqa: SIM115
    f.write(b"abc")
    f.flush()
    p.unlink()
    assert not p.exists()
    assert "u.txt" not in s3_keys(endpoint, bucket)
    f.seek(0, os.SEEK_END)
    f.write(b"more")  # writes after unlink land in the fd's data, readable through it
    f.flush()
    f.seek(0)
    assert f.read() == b"abc3456789more"
    assert reader.read() == b"abc3456789more"
    f.close()
    reader.close()
    assert "u.txt" not in s3_keys(endpoint, bucket)  # the object did not come back
    assert not p.exists()


def test_rename_file_and_onto_existing(mnt: Mount, endpoint: Endpoint, bucket: str) -> None:
    (mnt.path / "a").write_bytes(b"aaa")
    (mnt.path / "b").write_bytes(b"bbb")
    os.chmod(mnt.path / "a", 0o640)
    os.rename(mnt.path / "a", mnt.path / "c")
    assert s3_keys(endpoint, bucket) == ["b", "c"]
    assert stat.S_IMODE((mnt.path / "c").stat().st_mode) == 0o640
    os.rename(mnt.path / "c", mnt.path / "b")  # replaces
    assert s3_keys(endpoint, bucket) == ["b"]
    assert (mnt.path / "b").read_bytes() == b"aaa"
    # rename of a file still open for writing and never uploaded
    with open(mnt.path / "n", "wb") as f:
        f.write(b"new")
        os.rename(mnt.path / "n", mnt.path / "m")
        f.write(b"er")
    assert s3_get(endpoint, bucket, "m") == b"newer"
    assert "n" not in s3_keys(endpoint, bucket)


def test_rename_directory_moves_every_key(mnt: Mount, endpoint: Endpoint, bucket: str) -> None:
    d = mnt.path / "d"
    (d / "sub" / "empty").mkdir(parents=True)
    for i in range(50):
        (d / "sub" / f"f{i}").write_bytes(b"%d" % i)
    (d / "top").write_bytes(b"top")
    (mnt.path / "e").mkdir()
    os.rename(d, mnt.path / "e")  # onto an empty directory: replaces it
    assert not d.exists()
    assert sorted(os.listdir(mnt.path / "e")) == ["sub", "top"]
    assert (mnt.path / "e" / "sub" / "f7").read_bytes() == b"7"
    assert (mnt.path / "e" / "sub" / "empty").is_dir()
    keys = s3_keys(endpoint, bucket)
    assert not [k for k in keys if k.startswith("d/")]
    assert "e/sub/f49" in keys and "e/sub/empty/" in keys
    (mnt.path / "x").mkdir()
    (mnt.path / "x" / "f").write_bytes(b"")
    with pytest.raises(OSError) as ei:
        os.rename(mnt.path / "e", mnt.path / "x")
    assert ei.value.errno in (errno.ENOTEMPTY, errno.EEXIST)


def test_mkdir_rmdir_markers_and_implied_dirs(mnt: Mount, endpoint: Endpoint,
                                              bucket: str) -> None:
    (mnt.path / "empty").mkdir()
    fd = os.open(mnt.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)  # mkdir's marker goes up in the background: fsync of the parent waits
    finally:
        os.close(fd)
    assert "empty/" in s3_keys(endpoint, bucket)
    endpoint.s3.put_object(Bucket=bucket, Key="implied/deep/file", Body=b"x")
    time.sleep(1.2)  # past the attribute timeout
    assert sorted(os.listdir(mnt.path)) == ["empty", "implied"]
    assert (mnt.path / "implied" / "deep").is_dir()
    with pytest.raises(OSError) as ei:
        (mnt.path / "implied").rmdir()
    assert ei.value.errno == errno.ENOTEMPTY
    with pytest.raises(FileExistsError):
        (mnt.path / "empty").mkdir()
    (mnt.path / "empty").rmdir()
    assert "empty/" not in s3_keys(endpoint, bucket)
    assert not (mnt.path / "empty").exists()
    with pytest.raises(NotADirectoryError):
        os.rmdir(mnt.path / "implied" / "deep" / "file")
    with pytest.raises(IsADirectoryError):
        os.unlink(mnt.path / "implied")


def test_readdir_10k_entries(mount_factory: MountFactory, tmp_path: Path) -> None:
    # 10,000 PUTs over HTTP take half a minute on this machine: fill an in-process moto
    # server straight through its backend instead, then list through the mount
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        backend.create_bucket("many", "us-east-1")
        names = [f"f{i:05d}" for i in range(10_050)]
        for n in names:
            backend.put_object("many", f"d/{n}", b"")
        backend.put_object("many", "d/sub/x", b"x")
        m = mount_factory("many", url=f"http://127.0.0.1:{port}")
        t = time.monotonic()
        listed = os.listdir(m.path / "d")
        took = time.monotonic() - t
        assert sorted(listed) == names + ["sub"]
        print(f"listdir of {len(listed)} entries: {took:.2f}s")
        t = time.monotonic()
        assert sum(1 for e in os.scandir(m.path / "d") if e.is_file()) == len(names)
        print(f"scandir+is_file of {len(listed)} entries: {time.monotonic() - t:.2f}s")
        m.unmount()
    finally:
        server.stop()


def test_stat_chmod_chown_utime_kept_in_metadata(
    mnt: Mount, endpoint: Endpoint, bucket: str, mount_factory: MountFactory
) -> None:
    p = mnt.path / "meta"
    p.write_bytes(b"x")
    os.chmod(p, 0o751)
    os.chown(p, 1234, 5678)
    os.utime(p, ns=(1_600_000_000_111_111_111, 1_500_000_000_123_456_789))
    d = mnt.path / "dir"
    d.mkdir()
    os.chmod(d, 0o700)
    os.utime(d, (1_400_000_000, 1_400_000_000))
    meta = endpoint.s3.head_object(Bucket=bucket, Key="meta")["Metadata"]
    assert int(meta["mode"]) == stat.S_IFREG | 0o751
    assert (meta["uid"], meta["gid"]) == ("1234", "5678")
    # a second mount sees it all
    m2 = mount_factory(bucket)
    st = (m2.path / "meta").stat()
    assert stat.S_IMODE(st.st_mode) == 0o751
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert st.st_mtime_ns == 1_500_000_000_123_456_789
    assert st.st_atime_ns == 1_600_000_000_111_111_111
    dst = (m2.path / "dir").stat()
    assert stat.S_IMODE(dst.st_mode) == 0o700 and dst.st_mtime == 1_400_000_000
    assert (m2.path / "meta").read_bytes() == b"x"  # data kept by the metadata copies


def test_symlinks(mnt: Mount, endpoint: Endpoint, bucket: str,
                  mount_factory: MountFactory) -> None:
    (mnt.path / "target").write_bytes(b"data")
    os.symlink("target", mnt.path / "ln")
    os.symlink("../nowhere/ü", mnt.path / "dangling")
    assert os.readlink(mnt.path / "ln") == "target"
    assert (mnt.path / "ln").read_bytes() == b"data"
    assert os.path.islink(mnt.path / "ln")
    meta = endpoint.s3.head_object(Bucket=bucket, Key="ln")["Metadata"]
    assert "symlink" in meta
    m2 = mount_factory(bucket)
    assert os.readlink(m2.path / "dangling") == "../nowhere/ü"
    assert sorted(os.listdir(m2.path)) == ["dangling", "ln", "target"]
    assert stat.S_ISLNK(os.lstat(m2.path / "ln").st_mode)
    os.unlink(m2.path / "ln")
    assert "ln" not in s3_keys(endpoint, bucket)


def test_unsupported_fail_at_once(mnt: Mount) -> None:
    (mnt.path / "f").write_bytes(b"x")
    t = time.monotonic()
    with pytest.raises(OSError) as ei:
        os.link(mnt.path / "f", mnt.path / "g")
    assert ei.value.errno == errno.EPERM
    with pytest.raises(OSError) as ei:
        os.mkfifo(mnt.path / "fifo")
    assert ei.value.errno == errno.EPERM
    with pytest.raises(OSError) as ei:
        os.setxattr(mnt.path / "f", "user.x", b"1")
    assert ei.value.errno in (errno.ENOTSUP, errno.EOPNOTSUPP)
    with pytest.raises(OSError) as ei:
        os.rename(mnt.path / "f", mnt.path / "\udcff")
    assert ei.value.errno == errno.EILSEQ
    assert time.monotonic() - t < 5
    assert sorted(os.listdir(mnt.path)) == ["f"]


def test_statfs(mnt: Mount) -> None:
    sv = os.statvfs(mnt.path)
    assert sv.f_blocks > 0 and sv.f_bavail > 0 and sv.f_namemax == 255


def test_s3_writes_show_within_attr_timeout(mnt: Mount, endpoint: Endpoint,
                                           bucket: str, mount_factory: MountFactory) -> None:
    (mnt.path / "k").write_bytes(b"one")
    assert (mnt.path / "k").read_bytes() == b"one"
    endpoint.s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    endpoint.s3.put_object(Bucket=bucket, Key="n", Body=b"new")
    time.sleep(1.3)
    assert (mnt.path / "k").read_bytes() == b"second"
    assert (mnt.path / "n").read_bytes() == b"new"
    endpoint.s3.delete_object(Bucket=bucket, Key="n")
    time.sleep(1.3)
    assert not (mnt.path / "n").exists()
    # attr_timeout=0: strict, seen at once
    strict = mount_factory(bucket, "attr_timeout=0")
    assert (strict.path / "k").read_bytes() == b"second"
    endpoint.s3.put_object(Bucket=bucket, Key="k", Body=b"third!")
    assert (strict.path / "k").read_bytes() == b"third!"
    endpoint.s3.put_object(Bucket=bucket, Key="z", Body=b"z")
    assert (strict.path / "z").exists()


def test_large_file_multipart(mnt: Mount, endpoint: Endpoint, bucket: str) -> None:
    block = os.urandom(1 << 20)
    with open(mnt.path / "large", "wb") as f:
        for _ in range(66):
            f.write(block)
    head = endpoint.s3.head_object(Bucket=bucket, Key="large")
    assert head["ContentLength"] == 66 << 20
    assert "-" in head["ETag"]  # a multipart upload
    with open(mnt.path / "large", "rb") as f:
        f.seek(65 << 20)
        assert f.read() == block


def test_names_with_odd_characters(mnt: Mount, endpoint: Endpoint, bucket: str) -> None:
    names = ["sp ace", "plus+sign", "pct%41", "ünï", "q?mark", "hash#", "amp&=", "tilde~"]
    for n in names:
        (mnt.path / n).write_bytes(n.encode())
    assert sorted(os.listdir(mnt.path)) == sorted(names)
    assert sorted(s3_keys(endpoint, bucket)) == sorted(names)
    for n in names:
        assert (mnt.path / n).read_bytes() == n.encode()


def test_prefix_mount(mount_factory: MountFactory, endpoint: Endpoint, bucket: str) -> None:
    endpoint.s3.put_object(Bucket=bucket, Key="pre/fix/a", Body=b"a")
    endpoint.s3.put_object(Bucket=bucket, Key="other", Body=b"o")
    m = mount_factory(f"{bucket}/pre/fix")
    assert os.listdir(m.path) == ["a"]
    (m.path / "b").write_bytes(b"b")
    assert s3_get(endpoint, bucket, "pre/fix/b") == b"b"


def test_read_only(mount_factory: MountFactory, endpoint: Endpoint, bucket: str) -> None:
    endpoint.s3.put_object(Bucket=bucket, Key="r", Body=b"r")
    m = mount_factory(bucket, "ro")
    assert (m.path / "r").read_bytes() == b"r"
    with pytest.raises(OSError) as ei:
        (m.path / "w").write_bytes(b"w")
    assert ei.value.errno == errno.EROFS


def test_all_buckets(mount_factory: MountFactory, endpoint: Endpoint, bucket: str) -> None:
    endpoint.s3.put_object(Bucket=bucket, Key="in/side", Body=b"s")
    m = mount_factory("--all")
    assert bucket in os.listdir(m.path)
    assert (m.path / bucket / "in" / "side").read_bytes() == b"s"
    newb = m.path / f"{bucket}-new"
    newb.mkdir()
    names = [b["Name"] for b in endpoint.s3.list_buckets()["Buckets"]]
    assert f"{bucket}-new" in names
    (newb / "f").write_bytes(b"f")
    with pytest.raises(OSError) as ei:
        newb.rmdir()
    assert ei.value.errno == errno.ENOTEMPTY
    (newb / "f").unlink()
    newb.rmdir()
    assert f"{bucket}-new" not in [b["Name"] for b in endpoint.s3.list_buckets()["Buckets"]]
    with pytest.raises(OSError) as ei:
        (m.path / "topfile").write_bytes(b"x")
    assert ei.value.errno == errno.EPERM


def test_uid_gid_umask_defaults(mount_factory: MountFactory, endpoint: Endpoint,
                                bucket: str) -> None:
    endpoint.s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    endpoint.s3.put_object(Bucket=bucket, Key="d/x", Body=b"p")
    m = mount_factory(bucket, "uid=1000,gid=1001,umask=027")
    st = (m.path / "plain").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o640)
    assert stat.S_IMODE((m.path / "d").stat().st_mode) == 0o750


def _as_nobody(dir_fd: int, fn: str, flags: int) -> int:
    """errno of opening `fn` under `dir_fd` as uid/gid 65534 (0 if it opened)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.close(os.open(fn, flags, 0o644, dir_fd=dir_fd))
        except OSError as e:
            code = e.errno or 1
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_permissions(mount_factory: MountFactory, endpoint: Endpoint, bucket: str) -> None:
    # only root can use a mount root made without allow_other: the kernel skips its
    # checks (and the GETATTRs they cost) and asks the mount about access(2)
    m = mount_factory(bucket)
    script = m.path / "run.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    os.chmod(script, 0o644)
    assert os.access(script, os.R_OK | os.W_OK) and not os.access(script, os.X_OK)
    with pytest.raises(PermissionError):
        subprocess.run([str(script)], check=True)
    os.chmod(script, 0o700)
    assert os.access(script, os.X_OK)
    assert subprocess.run([str(script)], capture_output=True, check=True).stdout == b"ran\n"
    # with allow_other the kernel checks mode and owner for everyone
    (m.path / "secret").write_bytes(b"s")
    os.chmod(m.path / "secret", 0o600)
    (m.path / "open").write_bytes(b"o")
    os.chmod(m.path / "open", 0o644)
    (m.path / "d").mkdir()
    os.chmod(m.path / "d", 0o755)
    shared = mount_factory(bucket, "allow_other,attr_timeout=0")
    fd = os.open(shared.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert _as_nobody(fd, "secret", os.O_RDONLY) == errno.EACCES
        assert _as_nobody(fd, "open", os.O_RDONLY) == 0
        assert _as_nobody(fd, "open", os.O_WRONLY) == errno.EACCES
        assert _as_nobody(fd, "d/new", os.O_WRONLY | os.O_CREAT) == errno.EACCES
        os.chmod(shared.path / "secret", 0o604)
        assert _as_nobody(fd, "secret", os.O_RDONLY) == 0
    finally:
        os.close(fd)
    assert not (shared.path / "d" / "new").exists()


def _touch_many(path: Path, n: int) -> float:
    t = time.monotonic()
    for i in range(n):
        f = path / f"s{i}"
        f.write_bytes(b"x")
        f.stat()
        f.unlink()
    return n / (time.monotonic() - t)


def test_small_file_rate_reported(mnt: Mount) -> None:
    rate = _touch_many(mnt.path, 200)
    print(f"create+stat+unlink: {rate:.0f}/s")
    assert rate > 10


def test_cache_limit_is_enospc_not_a_hang(mount_factory: MountFactory, endpoint: Endpoint,
                                          bucket: str) -> None:
    m = mount_factory(bucket, "cache_limit=1M")
    t = time.monotonic()
    with pytest.raises(OSError) as ei, open(m.path / "big", "wb") as f:
        for _ in range(4):
            f.write(b"x" * (512 << 10))
            f.flush()
    assert ei.value.errno == errno.ENOSPC
    assert time.monotonic() - t < 20
    (m.path / "small").write_bytes(b"fits")  # the space came back at close
    assert s3_get(endpoint, bucket, "small") == b"fits"


def test_node_extras(mnt: Mount, endpoint: Endpoint, bucket: str) -> None:
    if endpoint.kind != "node":
        pytest.skip("our node's own listing, rename and capacity")
    sv = os.statvfs(mnt.path)  # served once the mount process is up
    assert "backend: NodeBackend" in mnt.log_text()
    assert sv.f_blocks * sv.f_frsize != 1 << 50  # the node's mountpaths, not a made-up PiB
    (mnt.path / "d").mkdir()
    for i in range(20):
        (mnt.path / "d" / f"f{i}").write_bytes(b"%d" % i)
    os.chmod(mnt.path / "d" / "f3", 0o600)
    os.rename(mnt.path / "d", mnt.path / "e")
    assert stat.S_IMODE((mnt.path / "e" / "f3").stat().st_mode) == 0o600
    assert (mnt.path / "e" / "f19").read_bytes() == b"19"
    assert s3_keys(endpoint, bucket) == sorted(["e/"] + [f"e/f{i}" for i in range(20)])


def test_node_directory_rename_is_one_call(mount_factory: MountFactory, endpoint: Endpoint,
                                           bucket: str) -> None:
    """Against our node a directory of 1,000 files is renamed by one `rename-prefix`."""
    if endpoint.kind != "node":
        pytest.skip("our node's rename-prefix")
    from concurrent.futures import ThreadPoolExecutor

    def put(i: int) -> None:
        endpoint.s3.put_object(Bucket=bucket, Key=f"big/f{i:04d}", Body=b"%d" % i,
                               Metadata={"mode": str(0o100640)})

    endpoint.s3.put_object(Bucket=bucket, Key="big/", Body=b"")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(1000)))
    m = mount_factory(bucket)
    assert len(os.listdir(m.path / "big")) == 1000
    t = time.monotonic()
    os.rename(m.path / "big", m.path / "moved")
    took = time.monotonic() - t
    print(f"rename of a directory of 1,000 files: {took:.3f} s")
    assert took < 5  # the target is < 1 s; generous for a loaded machine
    assert s3_keys(endpoint, bucket) == sorted(["moved/"] + [f"moved/f{i:04d}"
                                                             for i in range(1000)])
    assert (m.path / "moved" / "f0999").read_bytes() == b"999"
    assert stat.S_IMODE((m.path / "moved" / "f0007").stat().st_mode) == 0o640
    assert not (m.path / "big").exists()


def test_kernel_read_ahead_raised(mnt: Mount) -> None:
    """The mount raises its BDI's read-ahead (4 MiB) so the kernel sends 1 MiB reads."""
    (mnt.path / "f").write_bytes(b"x" * (3 << 20))
    dev = os.stat(mnt.path).st_dev
    ra = Path(f"/sys/class/bdi/{os.major(dev)}:{os.minor(dev)}/read_ahead_kb").read_text()
    assert int(ra) == 4096
    data = os.urandom(9 << 20) + b"tail"
    (mnt.path / "g").write_bytes(data)
    with open(mnt.path / "g", "rb", buffering=0) as f:
        assert f.read() == data
        f.seek(5 << 20)
        assert f.read(100) == data[5 << 20:(5 << 20) + 100]
