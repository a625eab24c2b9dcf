"""``python -m bench put_memory``: the node's RSS under the large loads - two 64 MiB
PUTs at once, two 64 MiB GETs at once, a 256 MiB multipart upload (8 MiB parts, 4 in
flight) - with the throughput of each, this tree's node beside another checkout's
(``--tree DIR``, e.g. a ``git worktree`` of main) in the same rounds.

While a load runs, a thread samples the node's ``VmRSS`` (/proc/PID/status) every
5 ms: the peak of the samples is the load's peak RSS, and its rise over the RSS just
before the load (what the load itself took: the peak also holds what glibc kept of the
loads before); ``VmHWM`` (the process's high-water mark since it started) is printed at
the end. Each round runs every load on
every node, the order alternating round by round (SigV4 on, 2 mountpaths). Printed:
per node and load the median peak RSS and MiB/s, and the ratios this / ``--tree``
paired by round. Every PUT body is fresh random bytes: nothing deduplicates.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.client import PIECE, Conn, thread_conn
from bench.multipart import _start, multipart_rate
from bench.servers import Server

MiB = 1024 * 1024
SIZE = 64 * MiB


def status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Sampler:
    """The peak ``VmRSS`` of ``pid`` while in the ``with`` block (sampled every 5 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = status_kib(pid, "VmRSS")
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))
            self._stop.wait(0.005)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))


def _put_one(url: str, key: str) -> None:
    piece = os.urandom(PIECE)  # fresh bytes: no dedup across PUTs or rounds
    status = thread_conn(url).put_stream("mem", key, SIZE, piece)
    assert status == 200, status


def _get_one(url: str, key: str) -> None:
    c = thread_conn(url)
    got = c.get_stream("mem", key)
    assert got == SIZE, got


def two_puts(server: Server) -> float:
    with ThreadPoolExecutor(2) as pool:
        t = time.perf_counter()
        list(pool.map(lambda k: _put_one(server.s3_url, k), ["put-a", "put-b"]))
        return 2 * SIZE / MiB / (time.perf_counter() - t)


def two_gets(server: Server) -> float:
    with ThreadPoolExecutor(2) as pool:
        t = time.perf_counter()
        list(pool.map(lambda k: _get_one(server.s3_url, k), ["put-a", "put-b"] * 2))
        return 4 * SIZE / MiB / (time.perf_counter() - t)


LOADS: dict[str, Callable[[Server], float]] = {
    "PUT 64 MiB x2": two_puts,
    "GET 64 MiB x2": two_gets,
    "multipart 256 MiB, 8 MiB x4": lambda s: multipart_rate(s, 256 * MiB, 8 * MiB, 4),
}


def _report(servers: dict[str, Server], peaks: dict[tuple[str, str], list[int]],
            rises: dict[tuple[str, str], list[int]],
            rates: dict[tuple[str, str], list[float]]) -> None:
    med = statistics.median
    for name, srv in servers.items():
        print(f"{name}: idle-after VmRSS {status_kib(srv.proc.pid, 'VmRSS') / 1024:.0f} MiB,"
              f" VmHWM {status_kib(srv.proc.pid, 'VmHWM') / 1024:.0f} MiB")
        for load in LOADS:
            p, r, u = peaks[name, load], rates[name, load], rises[name, load]
            print(f"  {load:>30}: peak RSS {med(p) / 1024:5.0f} MiB "
                  f"({', '.join(f'{v / 1024:.0f}' for v in p)}), rise "
                  f"{med(u) / 1024:4.0f} MiB ({', '.join(f'{v / 1024:.0f}' for v in u)}), "
                  f"{med(r):5.0f} MiB/s ({', '.join(f'{v:.0f}' for v in r)})")
    if "tree" in servers:
        for load in LOADS:
            pr = med(a / b for a, b in zip(peaks["this", load], peaks["tree", load],
                                           strict=True))
            rr = med(a / b for a, b in zip(rates["this", load], rates["tree", load],
                                           strict=True))
            print(f"this/tree {load:>30}: peak RSS x{pr:.2f}, MiB/s x{rr:.2f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench put_memory",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tree", help="another checkout: its node measured beside")
    args = ap.parse_args(argv)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    servers = {"this": _start(None)}
    if args.tree:
        servers["tree"] = _start(args.tree)
    peaks: dict[tuple[str, str], list[int]] = {}
    rises: dict[tuple[str, str], list[int]] = {}
    rates: dict[tuple[str, str], list[float]] = {}
    try:
        for srv in servers.values():
            c = Conn(srv.s3_url)
            c.request("PUT", c.path("mem"))
            c.request("PUT", c.path("mpu"))
            c.close()
            two_puts(srv)  # warm: threads, connections; the objects the GETs read
        for name, srv in servers.items():
            print(f"{name}: idle VmRSS {status_kib(srv.proc.pid, 'VmRSS') / 1024:.0f} MiB")
        runs = [(n, load) for load in LOADS for n in servers]
        for r in range(args.rounds):
            k = r % len(runs)
            for name, load in runs[k:] + runs[:k]:
                srv = servers[name]
                with Sampler(srv.proc.pid) as s:
                    rate = LOADS[load](srv)
                peaks.setdefault((name, load), []).append(s.peak)
                rises.setdefault((name, load), []).append(s.peak - s.before)
                rates.setdefault((name, load), []).append(rate)
        _report(servers, peaks, rises, rates)
    finally:
        for srv in servers.values():
            srv.stop()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
