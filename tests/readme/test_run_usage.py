"""Issue 17 §5: `./run` alone and `./run foo` print the usage (not the script) and exit 2;
`./run help` prints it on stdout and exits 0. None of them installs anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[2] / "run"


@pytest.mark.parametrize("args", [[], ["foo"], ["--frobnicate"]])
def test_no_or_unknown_command_prints_usage_and_exits_2(args: list[str]) -> None:
    res = subprocess.run([str(RUN), *args], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2
    assert res.stdout == ""
    err = res.stderr.splitlines()
    assert "usage: ./run COMMAND [ARGS...]" in err
    assert any(ln.startswith("./run node ") for ln in err)
    assert any(ln.startswith("./run test ") for ln in err)
    assert "set -euo pipefail" not in res.stderr and "[aisfs] " not in res.stderr
    if args:
        assert err[0] == f"./run: unknown command {args[0]}"


def test_help_prints_usage_on_stdout() -> None:
    res = subprocess.run([str(RUN), "help"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and res.stderr == ""
    assert res.stdout.startswith("usage: ./run COMMAND [ARGS...]\n./run node ")
