"""A real moto S3 server process on a free 127.0.0.1 port."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from support.ceph import free_port


@dataclass
class MotoServer:
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    access_key: str = "motokey"
    secret_key: str = "motosecret"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start_new(cls, timeout: float = 30.0) -> MotoServer:
        for _ in range(3):  # the free port may be taken before moto binds it
            server = cls(free_port())
            server.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(server.port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
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
            server.stop()
        raise RuntimeError("moto server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
