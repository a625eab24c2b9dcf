"""The shipped unit files verify, and the node unit says what the daemon relies on."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "systemd").glob("*.service"))


def aisfs_executable() -> str:
    found = shutil.which("aisfs") or str(Path(sys.executable).parent / "aisfs")
    return found


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    # `verify` checks that ExecStart= exists: point /usr/local/bin/aisfs (the documented
    # install location) at this checkout's aisfs when it is not installed there.
    text = unit.read_text()
    if not Path("/usr/local/bin/aisfs").exists():
        text = text.replace("/usr/local/bin/aisfs", aisfs_executable())
    copy = tmp_path / unit.name
    copy.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    ours = [line for line in result.stderr.splitlines() if unit.name in line]
    assert result.returncode == 0 and not ours, result.stderr


def test_node_unit_contract() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((ROOT / "systemd" / "aisfs-node.service").read_text())
    svc = parser["Service"]
    assert svc["Type"] == "notify"
    assert svc["NotifyAccess"] == "main"
    assert svc["ExecStart"] == "/usr/local/bin/aisfs node run --config /etc/aisfs/node.toml"
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert svc["WatchdogSec"] == "30"
    assert svc["Restart"] == "on-failure"
    assert svc["User"] == svc["Group"] == "aisfs"
    assert svc["StateDirectory"] == "aisfs" and svc["ConfigurationDirectory"] == "aisfs"
    assert svc["ProtectSystem"] == "strict"
    assert "/var/lib/aisfs" in svc["ReadWritePaths"].split()
    assert svc["NoNewPrivileges"] == svc["PrivateTmp"] == svc["ProtectHome"] == "yes"
    assert int(svc["LimitNOFILE"]) >= 65536
    # the stop timeout leaves room for the node's 30 s grace period
    assert float(svc["TimeoutStopSec"]) > 30
