"""Issue 5 §5: the endpoint down or restarting, failed uploads, a killed mount process."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mountkit import ROOT, Moto, MountFactory, free_port, mount_cmd, s3_client

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(120)]


def test_endpoint_down_fails_fast_keeps_data_and_recovers(mount_factory: MountFactory) -> None:
    moto = Moto(free_port()).start()
    try:
        s3 = s3_client(moto.url)
        s3.create_bucket(Bucket="flaky")
        s3.put_object(Bucket="flaky", Key="there", Body=b"t")
        m = mount_factory("flaky", "timeout=2,retry_window=1,attr_timeout=0", url=moto.url)
        assert (m.path / "there").read_bytes() == b"t"
        f = open(m.path / "pending", "wb")  # noqa: SIM115 - closed while the endpoint is down
        f.write(b"precious data")
        moto.stop()

        t = time.monotonic()
        with pytest.raises(OSError) as ei:
            os.stat(m.path / "there")
        assert ei.value.errno == errno.EIO
        with pytest.raises(OSError) as ei:
            os.listdir(m.path)
        assert ei.value.errno == errno.EIO
        with pytest.raises(OSError) as ei:
            f.close()  # the upload fails: close() says so
        assert ei.value.errno == errno.EIO
        assert time.monotonic() - t < 20, "a down endpoint must not hang the shell"
        # the last release (asynchronous after close) retries once, then keeps the data
        kept = m.cache_dir / "lost+found" / "flaky" / "pending"
        deadline = time.monotonic() + 15
        while not kept.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert kept.read_bytes() == b"precious data"

        moto.start()  # back (moto forgets everything on restart)
        s3.create_bucket(Bucket="flaky")
        (m.path / "again").write_bytes(b"works")
        assert s3.get_object(Bucket="flaky", Key="again")["Body"].read() == b"works"
        assert os.listdir(m.path) == ["again"]
        m.unmount()
        assert "failed at last close" in m.log_text()
    finally:
        moto.stop()


def test_killed_mount_is_cleaned_by_umount(mount_factory: MountFactory, bucket: str) -> None:
    m = mount_factory(bucket)
    assert m.proc is not None
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait(10)
    with pytest.raises(OSError) as ei:
        os.listdir(m.path)
    assert ei.value.errno == errno.ENOTCONN
    res = subprocess.run(mount_cmd("umount", str(m.path)), cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert os.listdir(m.path) == []
    res = subprocess.run(mount_cmd("umount", str(m.path)), cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 1 and "not mounted" in res.stderr


def test_sigterm_unmounts_cleanly(mount_factory: MountFactory, bucket: str,
                                  tmp_path: Path) -> None:
    m = mount_factory(bucket)
    (m.path / "f").write_bytes(b"x")
    assert m.proc is not None
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(20) == 0
    assert os.listdir(m.path) == []


def test_hung_endpoint_times_out_then_recovers(mount_factory: MountFactory) -> None:
    moto = Moto(free_port()).start()
    try:
        s3 = s3_client(moto.url)
        s3.create_bucket(Bucket="hung")
        s3.put_object(Bucket="hung", Key="f", Body=b"f")
        m = mount_factory("hung", "timeout=2,retry_window=1,attr_timeout=0", url=moto.url)
        assert (m.path / "f").read_bytes() == b"f"
        assert moto.proc is not None
        moto.proc.send_signal(signal.SIGSTOP)  # accepts connections, never answers
        try:
            t = time.monotonic()
            with pytest.raises(OSError) as ei:
                (m.path / "f").read_bytes()
            assert ei.value.errno == errno.EIO
            assert time.monotonic() - t < 15
        finally:
            moto.proc.send_signal(signal.SIGCONT)
        assert (m.path / "f").read_bytes() == b"f"
    finally:
        moto.stop()
