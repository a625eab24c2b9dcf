"""A slow cold-GET leader beside a follower: this tree's front beside another revision's.

    .venv/bin/python -m bench.slow_leader --against REV [--mib 48] [--rate 1] [--rounds 2]

Per round and front: a cold object of ``--mib`` MiB in the backend (an aisfs node of this
tree); a client GETs it on a raw socket and reads ``--rate`` MiB/s (a WAN client), then a
second client GETs it (it follows the first one's fill) at full speed. Printed: the
seconds until the second client had the whole body, how far the slow one had read by
then, and that the slow one then got every byte (it reads the rest at full speed); the
fronts' CPU per GiB moved. Before the handover (fill.py ``Fill._let_go``) the fill, so the
second client, went at the slow client's pace.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.backend import MiB, backend_config, cpu_s, get_timed, mkbucket, put_unique
from bench.backend_ab import HERE, start_tree
from bench.client import Conn
from bench.servers import Server


class Slow:
    """A GET of ``bucket/key`` on a raw socket whose body is read ``rate`` bytes a second
    (``hurry``: as fast as it comes); the bytes and their SHA-256 kept."""

    def __init__(self, url: str, bucket: str, key: str, rate: float) -> None:
        c = Conn(url)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.sock.connect((c.host, c.port))
        self.sock.sendall(f"GET {c.path(bucket, key)} HTTP/1.1\r\nHost: {c.host}\r\n\r\n"
                          .encode())
        c.close()
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        head, _, early = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        self.length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")))
        self.got = len(early)
        self.digest = hashlib.sha256(early)
        self.rate = rate
        self.hurry = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        step = 16 * 1024
        t0 = time.perf_counter()
        with self.sock:
            while self.got < self.length:
                data = self.sock.recv(step if not self.hurry.is_set() else MiB)
                if not data:
                    return
                self.digest.update(data)
                self.got += len(data)
                if not self.hurry.is_set():
                    self.hurry.wait(max(0.0, t0 + self.got / self.rate - time.perf_counter()))


def one(front: Server, backend: Server, key: str, size: int, rate: float,
        ) -> tuple[float, int, bool]:
    """The follower's seconds, the slow leader's bytes by then, and whether the slow one
    then got the whole body right."""
    salt = abs(hash(key)) % 10_000
    put_unique(backend.s3_url, "big", key, size, salt)
    c = Conn(backend.s3_url)
    status, data = c.request("GET", c.path("big", key))
    c.close()
    assert status == 200 and len(data) == size, status
    want = hashlib.sha256(data).digest()
    slow = Slow(front.s3_url, "big", key, rate)
    t = time.perf_counter()
    get_timed(front.s3_url, "big", key, size)
    dt = time.perf_counter() - t
    behind = slow.got
    slow.hurry.set()
    slow.thread.join(600)
    right = slow.got == size and slow.digest.digest() == want
    return dt, behind, right


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench.slow_leader", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", default="main")
    ap.add_argument("--mib", type=int, default=48)
    ap.add_argument("--rate", type=float, default=1.0, help="the slow client's MiB/s")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    other = Path(tempfile.mkdtemp(prefix="aisfs-ab-"))
    archive = subprocess.run(["git", "-C", str(HERE), "archive", args.against],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
    servers: list[Server] = []
    rows: dict[str, list[tuple[float, int, bool, float]]] = {}
    try:
        backend = start_tree(HERE, None)
        servers.append(backend)
        cfg = backend_config(backend, "FAKEKEY", "FAKESECRET")
        fronts = {"this": start_tree(HERE, cfg), args.against: start_tree(other, cfg)}
        servers += fronts.values()
        mkbucket(backend.s3_url, "big")
        size = args.mib * MiB
        for r in range(args.rounds):
            order = list(fronts.items()) if r % 2 == 0 else list(fronts.items())[::-1]
            for name, front in order:
                c0 = cpu_s(front.proc.pid)
                dt, behind, right = one(front, backend, f"s{r}-{name}", size,
                                        args.rate * MiB)
                cpu = (cpu_s(front.proc.pid) - c0) / (2 * size / 1024**3)
                rows.setdefault(name, []).append((dt, behind, right, cpu))
                print(f"round {r} {name}: follower {dt:.2f} s, the slow one had "
                      f"{behind / MiB:.1f} MiB, then all right: {right}, "
                      f"front {cpu:.2f} CPU s/GiB", flush=True)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(other, ignore_errors=True)
    print()
    for name, rs in rows.items():
        print(f"{name}: follower median {statistics.median(x[0] for x in rs):.2f} s, "
              f"slow leader had {statistics.median(x[1] for x in rs) / MiB:.1f} MiB, "
              f"all right {all(x[2] for x in rs)}, "
              f"front CPU {statistics.median(x[3] for x in rs):.2f} s/GiB")


if __name__ == "__main__":
    main()
