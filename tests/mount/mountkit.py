"""Helpers for the mount tests: an S3 endpoint (node or moto), mounts as subprocesses.

The endpoint is our node (tests/support/node.py; moto's server only when
AISFS_MOUNT_ENDPOINT=moto asks for it, see conftest.py). Every mount is unmounted in a
finalizer (fusermount3 -uz), even when the test fails, and the mount's log must hold no
traceback.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HAVE_FUSE = os.path.exists("/dev/fuse") and shutil.which("fusermount3") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Moto:
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Moto:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("moto server exited") from None
                time.sleep(0.1)
        raise RuntimeError("moto server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="FAKEKEY",
        aws_secret_access_key="FAKESECRET",
        config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30),
    )


@dataclass
class Endpoint:
    url: str
    kind: str
    s3: Any
    stop: Callable[[], None]


def _mounted(path: Path) -> bool:
    p = str(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == p for line in f)


@dataclass
class Mount:
    path: Path
    endpoint: str
    source: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    cache_dir: Path = Path()
    extra: list[str] = field(default_factory=list)

    def unmount(self) -> None:
        if _mounted(self.path):
            subprocess.run(
                ["fusermount3", "-u", "-z", str(self.path)], capture_output=True, timeout=30
            )
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def mount_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "aisfs_mount.cli", *args]


MountFactory = Callable[..., Mount]
