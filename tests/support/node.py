"""Start a real node process on a free port, wait for it, stop it, read its log.

No test passes on a node's traceback: every node started here is registered, and its
log is checked for ``Traceback`` and ERROR/CRITICAL lines when it stops and after each
test (the autouse fixture in tests/conftest.py). A test that expects such a line is
marked ``@pytest.mark.allow_node_errors``, or clears one it checked with
``NodeProcess.forget_errors()``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# set by tests/conftest.py while a test marked allow_node_errors runs: what any node logs
# meanwhile may hold errors (a node shared by several tests is checked by each of them)
ALLOW_ERRORS = False
STARTED: list[NodeProcess] = []
_BAD_LINE = re.compile(
    r'Traceback \(most recent call last\)| (ERROR|CRITICAL) |"level": "(error|critical)"'
)


class NodeLogError(AssertionError):
    pass


@dataclass
class NodeProcess:
    data_dir: Path
    mountpaths: list[Path]
    index_dir: Path
    config_file: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    https_url: str = ""
    urls: list[str] = field(default_factory=list)
    log_path: Path | None = None
    checked: int = 0  # the offset of the log up to which check_log has read

    @property
    def s3_url(self) -> str:
        return f"{self.url}/s3"

    def command(self, ready_file: Path) -> list[str]:
        cmd = [sys.executable, "-m", "aisfs", "node", "run", "--listen", "127.0.0.1:0"]
        for mp in self.mountpaths:
            cmd += ["--mountpath", str(mp)]
        cmd += ["--index-dir", str(self.index_dir), "--ready-file", str(ready_file)]
        if self.config_file is not None:
            cmd += ["--config", str(self.config_file)]
        return cmd + self.extra_args

    def start(self, timeout: float = 30.0) -> NodeProcess:
        ready = self.data_dir / "ready.json"
        ready.unlink(missing_ok=True)
        self.log_path = self.data_dir / "node.log"
        self.checked = self.log_path.stat().st_size if self.log_path.exists() else 0
        if self not in STARTED:
            STARTED.append(self)
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(ready), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready.exists():
                self.urls = json.loads(ready.read_text())["urls"]
                self.url = next((u for u in self.urls if u.startswith("http://")), "")
                self.https_url = next((u for u in self.urls if u.startswith("https://")), "")
                return self
            if self.proc.poll() is not None:
                self.forget_errors()  # the error below carries the log
                raise RuntimeError(f"node exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        self.kill()
        self.forget_errors()
        raise RuntimeError(f"node did not become ready in {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.check_log()
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> NodeProcess:
        self.stop()
        return self.start()

    def check_log(self, allow: bool = False) -> None:
        """Fail on a Traceback or an ERROR/CRITICAL line logged since the last check."""
        if self.log_path is None or not self.log_path.exists():
            return
        with open(self.log_path, "rb") as f:
            f.seek(self.checked)
            text = f.read().decode(errors="replace")
        self.checked += len(text.encode(errors="replace"))
        if allow or ALLOW_ERRORS:  # the test running now expects errors
            return
        bad = [ln for ln in text.splitlines() if _BAD_LINE.search(ln)]
        if bad:
            raise NodeLogError(
                f"the node logged {len(bad)} error line(s) ({self.log_path}); mark the test "
                "@pytest.mark.allow_node_errors if it expects them:\n"
                + "\n".join(bad[:20]) + "\n--- log since the last check ---\n" + text[-6000:]
            )

    def forget_errors(self) -> None:
        """The errors logged so far were expected: the next check starts after them."""
        self.check_log(allow=True)

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")


def new_node(
    tmp_path: Path,
    mountpaths: int = 2,
    config: str | None = None,
    extra_args: list[str] | None = None,
) -> NodeProcess:
    data = tmp_path / "node"
    data.mkdir(parents=True, exist_ok=True)
    mps = [data / f"mp{i + 1}" for i in range(mountpaths)]
    for mp in mps:
        mp.mkdir(exist_ok=True)
    config_file = None
    if config is not None:
        config_file = data / "node.toml"
        config_file.write_text(config)
    return NodeProcess(data, mps, data / "index", config_file, list(extra_args or []))


def start_node(tmp_path: Path, **kwargs: object) -> NodeProcess:
    return new_node(tmp_path, **kwargs).start()  # type: ignore[arg-type]
