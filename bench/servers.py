"""Start the servers a benchmark compares: an aisfs node and moto's S3 server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    s3_url: str
    workdir: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_node(
    extra: list[str] | None = None, mountpaths: int = 2, config: str | None = None,
    tree: Path | None = None, wrapper: list[str] | None = None,
) -> Server:
    """A node (of ``tree``, another checkout, when given: run from it, on its
    PYTHONPATH), its command after ``wrapper`` (valgrind...), waited for until ready."""
    work = Path(tempfile.mkdtemp(prefix="aisfs-bench-"))
    ready = work / "ready.json"
    if config is not None:
        (work / "node.toml").write_text(config)
        extra = [*(extra or []), "--config", str(work / "node.toml")]
    cmd = [*(wrapper or []), sys.executable, "-m", "aisfs", "node", "run",
           "--listen", "127.0.0.1:0", "--index-dir", str(work / "index"),
           "--ready-file", str(ready), "--log-level", "warning"]
    for i in range(mountpaths):
        cmd += ["--mountpath", str(work / f"mp{i + 1}")]
    env = None if tree is None else dict(os.environ, PYTHONPATH=str(tree))
    log = open(work / "node.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(cmd + (extra or []), cwd=tree, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300  # a node under valgrind, on a loaded machine
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError((work / "node.log").read_text())
        time.sleep(0.05)
    url = json.loads(ready.read_text())["urls"][0]
    return Server("aisfs", proc, f"{url}/s3", work)


def start_moto() -> Server:
    work = Path(tempfile.mkdtemp(prefix="moto-bench-"))
    port = free_port()
    log = open(work / "moto.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=1).read()
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((work / "moto.log").read_text()) from None
            time.sleep(0.1)
    return Server("moto", proc, url, work)
