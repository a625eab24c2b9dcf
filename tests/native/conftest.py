"""Fixtures of the native-API tests: one node per module, the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.node import NodeProcess, new_node

ROOT = Path(__file__).resolve().parents[2]
FAST_CONFIG = """
[store]
fsync = false
chunk_size = 1048576
"""


def start(tmp: Path, config: str = FAST_CONFIG, mountpaths: int = 2) -> NodeProcess:
    return new_node(tmp, mountpaths=mountpaths, config=config).start()


def stop_and_check(proc: NodeProcess) -> None:
    code = proc.stop()
    log = proc.log()
    assert code == 0, f"node exited with {code}:\n{log}"
    assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A node shared by a module's tests (each test uses its own bucket names)."""
    proc = start(tmp_path_factory.mktemp("native"))
    try:
        yield proc
    finally:
        stop_and_check(proc)


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(
    url: str,
    *args: str,
    input: bytes | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    binary: bool = False,
) -> Result:
    full_env = dict(os.environ)
    full_env["AIS_ENDPOINT"] = url
    full_env.pop("AIS_AUTHN_TOKEN", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "aisfs", *args],
        input=input,
        capture_output=True,
        cwd=cwd or ROOT,
        env=full_env,
        timeout=60,
    )
    out = proc.stdout if binary else proc.stdout.decode(errors="replace")
    return Result(proc.returncode, out, proc.stderr.decode(errors="replace"))  # type: ignore[arg-type]


class InProcessCli:
    """`aisfs` verbs run in this process (fast); output captured with capsys."""

    def __init__(self, capsys: pytest.CaptureFixture[str], url: str) -> None:
        self.capsys = capsys
        self.url = url

    def __call__(self, *args: str, endpoint: bool = True) -> Result:
        from aisfs.cli.main import main as run

        self.capsys.readouterr()
        argv = [*args, "--endpoint", self.url] if endpoint else list(args)
        code = run(argv)
        captured = self.capsys.readouterr()
        assert code is not None, argv
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], shared_node: NodeProcess) -> InProcessCli:
    return InProcessCli(capsys, shared_node.url)
