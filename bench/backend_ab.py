"""Backend buckets A/B: this tree's front node beside another revision's, over one backend.

    .venv/bin/python -m bench.backend_ab --against REV [--only cold,hot,put,small,prefetch]
                                         [--rounds 5] [--tree DIR] [--ceph]

Both fronts front the same backend (an aisfs node of this tree; ``--ceph``: a Ceph RGW,
its gateway's and OSD's CPU shown as the backend's) and are measured in the
same alternating rounds with the direct figure beside them: a 256 MiB cold GET, a 256 MiB
write-through PUT, 4 KiB validated warm GETs by 16 clients, a prefetch job of 2,000 4 KiB
objects beside a sequential loop of 300 cold GETs (``prefetch``; each front fetches the
same keys, each into its own cache), ``hot``: 8 clients GET one cold 256 MiB object at
once (the MiB/s of all eight, and the median time to a client's first byte). Prints medians and, per
process, CPU seconds per GiB (per 1,000 GETs for the small ones) - on a shared machine
the CPU figures are the steadier ones. REV is exported with ``git archive`` into a
temporary directory (nothing in the checkout changes); ``--tree DIR`` takes the other
front's code from DIR instead (a copy with only some files reverted, say).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.backend import (
    CLIENTS,
    MiB,
    backend_config,
    cpu_s,
    get_timed,
    many,
    mkbucket,
    put_unique,
    set_props,
    start_ceph_backend,
)
from bench.client import Conn
from bench.servers import Server, start_node

HERE = Path(__file__).resolve().parent.parent
PREFETCHED = 2000  # objects of one round's prefetch job
SEQUENTIAL = 300  # cold GETs of one round's sequential loop


def start_tree(tree: Path, config: str | None) -> Server:
    """A node running ``tree``'s code (``python -m`` puts the cwd first on sys.path)."""
    old_cwd, old_path = os.getcwd(), os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(tree)
    os.chdir(tree)
    try:
        return start_node(config=config)
    finally:
        os.chdir(old_cwd)
        if old_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old_path


class Runs:
    """Rates and per-process CPU per unit of each named op."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.rows: dict[str, list[tuple[float, dict[str, float]]]] = {}

    def measure(self, name: str, units: float, fn: Callable[[], float]) -> None:
        c0 = {k: cpu_s(p) for k, p in self.pids.items()}
        dt = fn()
        time.sleep(0.5)  # what the op left behind (a fill's commit)
        c1 = {k: cpu_s(p) for k, p in self.pids.items()}
        self.rows.setdefault(name, []).append(
            (units / dt, {k: (c1[k] - c0[k]) / units for k in self.pids}))

    def show(self) -> None:
        for name, rows in self.rows.items():
            small = "small" in name or "prefetch" in name or "sequential" in name
            scale = 1.0 if small else 1024.0  # per 1,000 GETs, or per GiB
            rates = [r for r, _ in rows]
            cpu = {k: statistics.median([c[k] for _, c in rows]) * scale for k in self.pids}
            print(f"{name:26} {statistics.median(rates):8.2f} "
                  f"{'k GET/s' if small else 'MiB/s':7} rounds "
                  f"{' '.join(f'{r:.1f}' for r in rates):32} CPU "
                  f"{'s/1,000' if small else 's/GiB'}: "
                  + " ".join(f"{k} {v:.2f}" for k, v in cpu.items()))


HOT = 8  # clients of one round's "hot" op, all at one cold object
FIRST_BYTE: dict[str, list[float]] = {}  # per front: each hot round's median first byte


def hot_get(front: str, url: str, bucket: str, key: str, size: int) -> float:
    """``HOT`` clients GET ``key`` at once (a barrier, then each on its own connection):
    the seconds until the last has the whole body; the median time to each client's
    first byte is kept in ``FIRST_BYTE``."""
    start = threading.Barrier(HOT + 1)
    firsts: list[float] = []

    def one() -> None:
        c = Conn(url)
        start.wait()
        t = time.perf_counter()
        got = c.get_stream(bucket, key, first=lambda: firsts.append(time.perf_counter() - t))
        c.close()
        assert got == size, (key, got, size)

    threads = [threading.Thread(target=one) for _ in range(HOT)]
    for th in threads:
        th.start()
    start.wait()
    t = time.perf_counter()
    for th in threads:
        th.join()
    FIRST_BYTE.setdefault(front, []).append(statistics.median(firsts))
    return time.perf_counter() - t


def sequential(url: str, bucket: str, keys: list[str]) -> float:
    """GET every key one after the other on a new connection (a kept one may have been
    closed by the node while idle between rounds): seconds taken."""
    c = Conn(url)
    t = time.perf_counter()
    for k in keys:
        status, data = c.request("GET", c.path(bucket, k))
        assert status == 200, (k, status, data[:200])
    dt = time.perf_counter() - t
    c.close()
    return dt


def round_ops(r: int, fronts: dict[str, Server], backend: Server, only: set[str],
              size: int, keys: list[str]) -> list[tuple[str, float, Callable[[], float]]]:
    """Round ``r``'s ops: (name, units, fn), the direct one first."""
    mib = size / MiB
    ops: list[tuple[str, float, Callable[[], float]]] = []
    if "cold" in only:
        for i in range(len(fronts)):
            put_unique(backend.s3_url, "big", f"c{r}-{i}", size, 100 * r + i)
            get_timed(backend.s3_url, "big", f"c{r}-{i}", size)  # its page cache warm
        ops.append(("direct GET", mib, lambda: get_timed(
            backend.s3_url, "big", f"c{r}-0", size)))
        ops += [(f"cold GET {n}", mib, lambda i=i, f=f: get_timed(
            f.s3_url, "big", f"c{r}-{i}", size)) for i, (n, f) in enumerate(fronts.items())]
    if "hot" in only:  # HOT clients GET one cold object at once: one leads, the rest follow
        for i in range(len(fronts)):
            put_unique(backend.s3_url, "big", f"h{r}-{i}", size, 900 + 100 * r + i)
            get_timed(backend.s3_url, "big", f"h{r}-{i}", size)  # its page cache warm
        ops += [(f"hot GET {n}", HOT * mib, lambda i=i, n=n, f=f: hot_get(
            n, f.s3_url, "big", f"h{r}-{i}", size)) for i, (n, f) in enumerate(fronts.items())]
    if "put" in only:
        ops.append(("direct PUT", mib, lambda: put_unique(
            backend.s3_url, "big", f"d{r}", size, 7000 + r)))
        ops += [(f"through PUT {n}", mib, lambda i=i, f=f: put_unique(
            f.s3_url, "big", f"p{r}-{i}", size, 8000 + 10 * r + i))
            for i, (n, f) in enumerate(fronts.items())]
    if "prefetch" in only:
        from bench.prefetch import run_job

        def job(f: Server) -> float:
            dt, rec = run_job(f.s3_url, "prefetch-ab", f"r{r}-{{00000..{PREFETCHED - 1:05d}}}")
            assert rec["state"] == "finished" and rec["objects_done"] == PREFETCHED, rec
            return dt

        ops += [(f"prefetch job {n}", PREFETCHED / 1000, lambda f=f: job(f))
                for n, f in fronts.items()]
        seq = [f"q{r}-{i:05d}" for i in range(SEQUENTIAL)]
        ops += [(f"sequential cold {n}", SEQUENTIAL / 1000, lambda f=f: sequential(
            f.s3_url, "prefetch-ab", seq)) for n, f in fronts.items()]
    if "small" in only:
        ops.append(("direct small GET", len(keys) / 1000, lambda: many(
            backend.s3_url, "small", keys, "GET", CLIENTS)))
        ops += [(f"validated small {n}", len(keys) / 1000, lambda f=f: many(
            f.s3_url, "small", keys, "GET", CLIENTS)) for n, f in fronts.items()]
    return ops


def drop(url: str, bucket: str, keys: list[str]) -> None:
    """DELETE ``keys`` from the backend once measured."""
    c = Conn(url)
    for k in keys:
        status, body = c.request("DELETE", c.path(bucket, k))
        assert status == 204, (k, status, body[:200])
    c.close()


def run(fronts: dict[str, Server], backend: Server, only: set[str], rounds: int,
        size: int, backend_pids: dict[str, int]) -> Runs:
    pids = {**backend_pids, **{n: f.proc.pid for n, f in fronts.items()}}
    runs = Runs(pids)
    mkbucket(backend.s3_url, "big")
    keys = [f"s{i:06d}" for i in range(1000)]
    if "small" in only:
        mkbucket(backend.s3_url, "small")
        many(backend.s3_url, "small", keys, "PUT", CLIENTS, b"x" * 4096)
        for f in fronts.values():
            set_props(f.s3_url, "small", "aws", {"versioning": {"validate_warm_get": True}})
            many(f.s3_url, "small", keys, "GET", CLIENTS)  # cold: now cached
    if "prefetch" in only:
        mkbucket(backend.s3_url, "prefetch-ab")
        names = [f"r{r}-{i:05d}" for r in range(rounds) for i in range(PREFETCHED)]
        names += [f"q{r}-{i:05d}" for r in range(rounds) for i in range(SEQUENTIAL)]
        many(backend.s3_url, "prefetch-ab", names, "PUT", CLIENTS, b"z" * 4096)
    if backend.name == "ceph" and rounds > 3:  # a memstore OSD holds ~2 GiB, and RGW
        rounds = 3  # frees a deleted object's data hours later (its GC)
        print("Ceph: 3 rounds at most")
    for r in range(rounds):
        ops = round_ops(r, fronts, backend, only, size, keys)
        for name, units, fn in (ops if r % 2 == 0 else ops[::-1]):
            runs.measure(name, units, fn)
        print(f"round {r}: " + ", ".join(
            f"{n} {v[-1][0]:.1f}" for n, v in runs.rows.items()), flush=True)
        if "cold" in only:  # a memstore OSD (Ceph) holds every object in RAM
            drop(backend.s3_url, "big", [f"c{r}-{i}" for i in range(len(fronts))])
    return runs


def start_ceph() -> tuple[Any, Server, str, dict[str, int]]:
    """A Ceph RGW (tests/support/ceph.py) as the backend: the cluster, the backend as a
    ``Server``, the fronts' config, and its gateway's and OSD's pids. The bench's own
    client signs with the cluster's keys."""
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials

    import bench.client as bc

    cluster, backend = start_ceph_backend()
    bc._SIGNER = SigV4Auth(Credentials(cluster.access_key, cluster.secret_key), "s3",
                           "us-east-1")
    pids = {name.split(".")[0].replace("client", "rgw"): proc.pid
            for name, proc in cluster.procs.items()
            if name.startswith(("client.rgw", "osd"))}
    return cluster, backend, backend_config(backend, cluster.access_key,
                                            cluster.secret_key), pids


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench.backend_ab", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", default="HEAD~1", help="git revision (default HEAD~1)")
    ap.add_argument("--only", default="cold,put,small")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--tree", default="", help="the other front's code from this directory")
    ap.add_argument("--ceph", action="store_true", help="a Ceph RGW as the backend")
    args = ap.parse_args(argv)
    other = Path(tempfile.mkdtemp(prefix="aisfs-ab-"))
    if args.tree:
        shutil.rmtree(other)
        shutil.copytree(args.tree, other, ignore=shutil.ignore_patterns(".git", ".venv"))
    else:
        archive = subprocess.run(["git", "-C", str(HERE), "archive", args.against],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
    servers: list[Server] = []
    cluster: Any = None
    try:
        if args.ceph:
            cluster, backend, cfg, backend_pids = start_ceph()
        else:
            backend = start_tree(HERE, None)
            servers.append(backend)
            cfg = backend_config(backend, "FAKEKEY", "FAKESECRET")
            backend_pids = {"backend": backend.proc.pid}
        fronts = {"this": start_tree(HERE, cfg), args.against: start_tree(other, cfg)}
        servers += fronts.values()
        runs = run(fronts, backend, set(args.only.split(",")), args.rounds,
                   args.mib * MiB, backend_pids)
    finally:
        for s in servers:
            s.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(other, ignore_errors=True)
    print()
    runs.show()
    for name, firsts in FIRST_BYTE.items():
        print(f"hot GET {name}: median first byte {statistics.median(firsts) * 1000:.0f} ms "
              f"(rounds {' '.join(f'{x * 1000:.0f}' for x in firsts)})")


if __name__ == "__main__":
    main()
