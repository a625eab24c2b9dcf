"""A real moto S3 server process on a free 127.0.0.1 port."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO

from support.ceph import free_port


@dataclass
class MotoServer:
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    access_key: str = "motokey"
    secret_key: str = "motosecret"
    # its request log: a file, as a pipe nobody reads fills up and stalls the server
    log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start_new(cls, timeout: float = 30.0) -> MotoServer:
        for _ in range(3):  # the free port may be taken before moto binds it
            server = cls(free_port(), log=tempfile.TemporaryFile())  # noqa: SIM115 (stop())
            server.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(server.port)],
                stdout=subprocess.DEVNULL, stderr=server.log,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and server.proc.poll() is None:
                try:
                    with urllib.request.urlopen(server.endpoint + "/moto-api/", timeout=2):
                        return server
                except urllib.error.HTTPError:
                    return server
                except OSError:
                    time.sleep(0.1)
            text = server.log_text()
            server.stop()
        raise RuntimeError(f"moto server did not start:\n{text[-4000:]}")

    def log_text(self) -> str:
        if self.log is None or self.log.closed:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()
