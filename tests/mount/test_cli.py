"""Issue 5 §1 and §6: the command in the background, its errors, the mount helper, the unit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mountkit import ROOT, Endpoint, _mounted, mount_cmd

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(120)]


def _cleanup(mp: Path) -> None:
    if _mounted(mp):
        subprocess.run(["fusermount3", "-u", "-z", str(mp)], capture_output=True, timeout=30)


def test_background_mount_waits_for_readiness(endpoint: Endpoint, bucket: str,
                                              tmp_path: Path) -> None:
    mp = tmp_path / "bg"
    mp.mkdir()
    endpoint.s3.put_object(Bucket=bucket, Key="f", Body=b"bg")
    try:
        res = subprocess.run(
            mount_cmd("--endpoint", endpoint.url, "-o", f"cache_dir={tmp_path / 'c'}",
                      bucket, str(mp)),
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
        assert res.returncode == 0, res.stderr
        assert _mounted(mp)  # live when the command returned, no polling
        assert (mp / "f").read_bytes() == b"bg"
        res = subprocess.run(mount_cmd("umount", str(mp)), cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert not _mounted(mp)
    finally:
        _cleanup(mp)


def test_mount_errors_are_one_line_and_fast(endpoint: Endpoint, tmp_path: Path) -> None:
    mp = tmp_path / "err"
    mp.mkdir()
    t = time.monotonic()
    try:
        res = subprocess.run(mount_cmd("--endpoint", endpoint.url, "no-such-bucket-x", str(mp)),
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 1
        assert "NoSuchBucket" in res.stderr and "Traceback" not in res.stderr
        res = subprocess.run(
            mount_cmd("--endpoint", "http://127.0.0.1:9", "-o", "timeout=2,retry_window=1",
                      "b", str(mp)),
            cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 1 and "cannot reach" in res.stderr
        res = subprocess.run(mount_cmd("-o", "nonsense", "b", str(mp)), cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 2 and "unknown option 'nonsense'" in res.stderr
        res = subprocess.run(mount_cmd("--endpoint", endpoint.url, "b", str(tmp_path / "nodir")),
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 1 and "not a directory" in res.stderr
        assert not _mounted(mp)
        assert time.monotonic() - t < 40
    finally:
        _cleanup(mp)


def _aisfs_bin() -> str | None:
    venv_bin = Path(sys.executable).parent / "aisfs"
    return str(venv_bin) if venv_bin.exists() else shutil.which("aisfs")


@pytest.mark.skipif(_aisfs_bin() is None, reason="the aisfs console script is not installed")
def test_fstab_helper(endpoint: Endpoint, bucket: str, tmp_path: Path) -> None:
    mp = tmp_path / "fstab"
    mp.mkdir()
    endpoint.s3.put_object(Bucket=bucket, Key="h", Body=b"helper")
    helper = ROOT / "mount" / "mount.fuse.aisfs"
    env = dict(os.environ, AISFS=str(_aisfs_bin()))
    try:
        # what mount(8) runs for: BUCKET DIR fuse.aisfs _netdev,allow_other,endpoint=... 0 0
        res = subprocess.run(
            ["sh", str(helper), bucket, str(mp), "-o",
             f"rw,_netdev,allow_other,endpoint={endpoint.url},cache_dir={tmp_path / 'c'}"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert res.returncode == 0, res.stderr
        assert (mp / "h").read_bytes() == b"helper"
        info = Path("/proc/self/mountinfo").read_text().splitlines()
        line = next(ln for ln in info if f" {mp} " in ln)
        assert "fuse.aisfs" in line and "allow_other" in line
        res = subprocess.run([str(_aisfs_bin()), "umount", str(mp)], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
    finally:
        _cleanup(mp)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = tmp_path / "aisfs-mount@mnt-photos.service"
    shutil.copy(ROOT / "systemd" / "aisfs-mount@.service", unit)
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                         text=True, timeout=60)
    bad = [ln for ln in (res.stdout + res.stderr).splitlines()
           if "aisfs-mount@" in ln and "Failed to" not in ln.split(":", 1)[0]]
    assert not [ln for ln in bad if "Unknown" in ln or "Invalid" in ln or "bad" in ln], bad
