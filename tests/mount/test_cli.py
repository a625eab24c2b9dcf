"""Issue 5 §1 and §6: the command in the background, its errors, the mount helper, the unit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
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
        assert res.returncode == 1, res.stderr
        assert res.stderr == (f"aisfs mount: mount point {tmp_path / 'nodir'} does not exist "
                              f"(mkdir -p {tmp_path / 'nodir'})\n")
        (tmp_path / "afile").write_text("x")
        res = subprocess.run(mount_cmd("--endpoint", endpoint.url, "b", str(tmp_path / "afile")),
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 1
        assert res.stderr == f"aisfs mount: mount point {tmp_path / 'afile'} is not a directory\n"
        assert not _mounted(mp)
        assert time.monotonic() - t < 40
    finally:
        _cleanup(mp)


def _mount_count(mp: Path) -> int:
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if line.split()[4] == str(mp))


def test_mount_on_a_mount_point_is_refused(endpoint: Endpoint, bucket: str,
                                           tmp_path: Path) -> None:
    mp = tmp_path / "twice"
    mp.mkdir()
    endpoint.s3.put_object(Bucket=bucket, Key="f", Body=b"first")
    cmd = mount_cmd("--endpoint", endpoint.url, "-o", f"cache_dir={tmp_path / 'c'}", bucket,
                    str(mp))
    try:
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        for again in (cmd, mount_cmd("-f", "--endpoint", endpoint.url, bucket, str(mp)),
                      mount_cmd("--endpoint", endpoint.url, "--all", str(mp) + "/")):
            res = subprocess.run(again, cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert res.returncode == 1
            assert res.stderr == (f"aisfs mount: {mp} is already a mount point (aisfs umount "
                                  f"{mp} first, or mount on another directory)\n")
            assert _mount_count(mp) == 1  # nothing stacked
        assert (mp / "f").read_bytes() == b"first"
    finally:
        _cleanup(mp)
    assert _mount_count(mp) == 0


@pytest.mark.skipif(os.path.exists("/dev/log"), reason="syslog (/dev/log) takes the log here")
def test_background_mount_logs_to_the_state_dir(endpoint: Endpoint, bucket: str,
                                                tmp_path: Path) -> None:
    mp = tmp_path / "logged"
    mp.mkdir()
    state = tmp_path / "state"
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    log = state / "aisfs" / f"mount-{str(mp).strip('/').replace('/', '-')}.log"
    try:
        res = subprocess.run(
            mount_cmd("--endpoint", endpoint.url, "-o", f"cache_dir={tmp_path / 'c'}", bucket,
                      str(mp)),
            cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
        assert res.returncode == 0, res.stderr
        assert res.stderr == f"aisfs mount: no /dev/log: the mount logs to {log}\n"
        assert "mounted" in log.read_text()
        res = subprocess.run(mount_cmd("umount", str(mp)), cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        deadline = time.monotonic() + 20
        while "unmounted" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = log.read_text()
        assert "unmounted" in text and "Traceback" not in text, text
        # without XDG_STATE_HOME: ~/.local/state/aisfs
        home = tmp_path / "home"
        env = {k: v for k, v in os.environ.items() if k != "XDG_STATE_HOME"}
        env["HOME"] = str(home)
        res = subprocess.run(
            mount_cmd("--endpoint", endpoint.url, "-o", f"cache_dir={tmp_path / 'c'}", bucket,
                      str(mp)),
            cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
        assert res.returncode == 0, res.stderr
        assert f"logs to {home}/.local/state/aisfs/mount-" in res.stderr
    finally:
        _cleanup(mp)


def test_without_pyfuse3_mount_says_what_to_install(tmp_path: Path) -> None:
    """A real interpreter on which `import pyfuse3` fails, as after `pip install aisfs`."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoPyfuse3:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pyfuse3' or name.startswith('pyfuse3.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'pyfuse3'\", name='pyfuse3')\n"
        "sys.meta_path.insert(0, _NoPyfuse3())\n")
    mp = tmp_path / "m"
    mp.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    probe = subprocess.run([sys.executable, "-c", "import pyfuse3"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 1 and "No module named 'pyfuse3'" in probe.stderr
    for args in (["b", str(mp)], ["-f", "b", str(mp)]):
        res = subprocess.run(mount_cmd(*args), cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 1
        assert res.stderr == ("aisfs mount: the FUSE mount needs pyfuse3: pip install "
                              "'aisfs[mount]' (building it needs apt install fuse3 "
                              "libfuse3-dev pkg-config gcc python3-dev)\n")
    # --help needs no pyfuse3
    res = subprocess.run(mount_cmd("--help"), cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and "BUCKET[/PREFIX]" in res.stdout


def _as_nobody(cmd: list[str], private_fuse: Path | None = None) -> list[str]:
    """`cmd` run as nobody; with `private_fuse`, in a mount namespace of its own where
    /dev/fuse is that root-only file (the real device is left alone)."""
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    if private_fuse is None:
        return drop + cmd
    inner = " ".join(
        ["mount", "--bind", str(private_fuse), "/dev/fuse", "&&", "exec"]
        + [f"'{c}'" for c in drop + cmd])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner]


@pytest.mark.skipif(shutil.which("setpriv") is None or shutil.which("unshare") is None,
                    reason="needs setpriv and unshare (util-linux)")
def test_non_root_without_dev_fuse_access_says_what_to_do() -> None:
    with tempfile.TemporaryDirectory(prefix="aisfs-nobody-") as tmp:  # pytest's is root's only
        _non_root_without_dev_fuse(Path(tmp))


def _non_root_without_dev_fuse(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    probe = subprocess.run(_as_nobody([sys.executable, "-c", "import aisfs_mount.cli"]), cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run this interpreter or read the tree: {probe.stderr}")
    fake = tmp_path / "fuse"
    fake.write_bytes(b"")
    fake.chmod(0o600)  # root's, as /dev/fuse is without the fuse3 package's udev rule
    mp = tmp_path / "m"
    mp.mkdir()
    mp.chmod(0o777)
    res = subprocess.run(_as_nobody(mount_cmd("b", str(mp)), fake), cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr == ("aisfs mount: /dev/fuse is not accessible to nobody: mount as root "
                          "(sudo aisfs mount ...), or let users open it (chmod 0666 /dev/fuse, "
                          "as the fuse3 package sets it)\n")
    assert Path("/dev/fuse").stat().st_mode & 0o777 != 0  # the real device untouched
    # a mount point nobody cannot reach is said so, not "does not exist"
    (tmp_path / "closed").mkdir(mode=0o700)
    res = subprocess.run(_as_nobody(mount_cmd("b", str(tmp_path / "closed" / "m")), fake),
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr == f"aisfs mount: mount point {tmp_path}/closed/m: Permission denied\n"


def _aisfs_bin() -> str | None:
    venv_bin = Path(sys.executable).parent / "aisfs"
    return str(venv_bin) if venv_bin.exists() else shutil.which("aisfs")


@pytest.mark.skipif(_aisfs_bin() is None, reason="the aisfs console script is not installed")
def test_fstab_helper(endpoint: Endpoint, bucket: str, tmp_path: Path) -> None:
    mp = tmp_path / "fstab"
    mp.mkdir()
    endpoint.s3.put_object(Bucket=bucket, Key="h", Body=b"helper")
    helper = ROOT / "aisfs_mount" / "mount.fuse.aisfs"
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
