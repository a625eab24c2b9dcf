"""``./run bench versioned``: what keeping versions adds to an overwrite (issue 15's target:
a versioned overwrite costs <= 1.1x an unversioned one).

Two buckets, ``plain`` (never versioned) and ``versioned`` (Enabled), each holding the
same keys; every PUT overwrites one of them, so in ``versioned`` each keeps the current as
a version (a hard link of its manifest, a ``versions`` row, its chunks kept referenced)
where ``plain`` replaces it. Measured two ways, rounds alternating which bucket goes
first, medians compared:

* the store in this process (fsync on, 16 concurrent writers on one trio loop): 4 KiB
  (inline) and 256 KiB (chunked) overwrites per second;
* through a node (HTTP, 16 client threads on keep-alive connections): 4 KiB overwrites
  per second and the node's CPU time per PUT (user + system: steadier than a rate on a
  loaded machine).

    ./run bench versioned [--quick] [--count N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import trio

from bench.client import thread_conn
from bench.servers import start_node

KEYS = 64
CLIENTS = 16
ENABLE = (b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
          b"<Status>Enabled</Status></VersioningConfiguration>")
CONFIG = """
[store]
fsync = true
"""


async def _one(data: bytes):  # type: ignore[no-untyped-def]
    yield data


async def _store_round(store, bucket: str, size: int, count: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Overwrites per second, and this process's CPU time per overwrite (us, all threads:
    steadier than the rate on a shared machine)."""
    from aisfs.store.types import ObjectMeta

    body = os.urandom(size)
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            await store.put_object(bucket, f"k{i % KEYS}", _one(body), ObjectMeta())

    t, cpu = time.perf_counter(), time.process_time()
    async with trio.open_nursery() as nursery:
        for _ in range(CLIENTS):
            nursery.start_soon(worker)
    return count / (time.perf_counter() - t), (time.process_time() - cpu) / count * 1e6


async def _store_bench(size: int, count: int, rounds: int) -> tuple[float, ...]:
    from aisfs.store import StoreConfig, open_store

    with tempfile.TemporaryDirectory(prefix="aisfs-bench-versioned-") as tmp:
        root = Path(tmp)
        mps = [root / "mp0", root / "mp1"]
        for mp in mps:
            mp.mkdir()
        config = StoreConfig(mountpaths=mps, index_dir=root / "index", fsync=True)
        async with open_store(config) as store:
            await store.create_bucket("plain")
            await store.create_bucket("versioned")
            await store.update_bucket_props("versioned", {"versioning.status": "Enabled"})
            for bucket in ("plain", "versioned"):  # warm: every key exists
                await _store_round(store, bucket, size, KEYS)
            rates: dict[str, list[float]] = {"plain": [], "versioned": []}
            cpus: dict[str, list[float]] = {"plain": [], "versioned": []}
            for n in range(rounds):
                order = ("plain", "versioned") if n % 2 == 0 else ("versioned", "plain")
                for bucket in order:
                    rate, cpu = await _store_round(store, bucket, size, count)
                    rates[bucket].append(rate)
                    cpus[bucket].append(cpu)
            return (statistics.median(rates["plain"]), statistics.median(rates["versioned"]),
                    statistics.median(cpus["plain"]), statistics.median(cpus["versioned"]))


def _node_cpu(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def _puts(url: str, bucket: str, count: int, body: bytes) -> float:
    def put(i: int) -> None:
        c = thread_conn(url)
        status, data = c.request("PUT", c.path(bucket, f"k{i % KEYS}"), body=body)
        if status != 200:
            raise RuntimeError(f"PUT {bucket}: {status} {data[:200]!r}")

    with ThreadPoolExecutor(CLIENTS) as pool:
        t = time.perf_counter()
        list(pool.map(put, range(count)))
        return count / (time.perf_counter() - t)


def _node_bench(count: int, rounds: int) -> tuple[float, float, float, float]:
    node = start_node(config=CONFIG)
    try:
        url = node.s3_url
        c = thread_conn(url)
        for bucket in ("plain", "versioned"):
            status, data = c.request("PUT", c.path(bucket))
            assert status == 200, (status, data)
        status, data = c.request("PUT", c.path("versioned", query="versioning"), body=ENABLE)
        assert status == 200, (status, data)
        body = os.urandom(4096)
        for bucket in ("plain", "versioned"):
            _puts(url, bucket, KEYS * 2, body)
        rates: dict[str, list[float]] = {"plain": [], "versioned": []}
        cpu: dict[str, list[float]] = {"plain": [], "versioned": []}
        assert node.proc is not None
        pid = node.proc.pid
        for n in range(rounds):
            for bucket in ("plain", "versioned") if n % 2 == 0 else ("versioned", "plain"):
                before = _node_cpu(pid)
                rates[bucket].append(_puts(url, bucket, count, body))
                cpu[bucket].append((_node_cpu(pid) - before) / count * 1e6)
        return (statistics.median(rates["plain"]), statistics.median(rates["versioned"]),
                statistics.median(cpu["plain"]), statistics.median(cpu["versioned"]))
    finally:
        node.stop()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench versioned", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--count", type=int, default=0, help="overwrites per round")
    parser.add_argument("--rounds", type=int, default=0)
    args = parser.parse_args(argv)
    count = args.count or (500 if args.quick else 2000)
    rounds = args.rounds or (2 if args.quick else 5)
    print(f"overwrites of {KEYS} keys, c={CLIENTS}, fsync on, {rounds} rounds of {count} "
          "(medians; ratio = unversioned rate / versioned rate, target <= 1.10):")
    for size, label in ((4096, "4 KiB (inline)"), (256 * 1024, "256 KiB (chunked)")):
        p, v, cp, cv = trio.run(_store_bench, size, count, rounds)
        print(f"  store, {label:18}: unversioned {p:,.0f}/s, versioned {v:,.0f}/s, "
              f"ratio {p / v:.3f}; CPU per overwrite {cp:.0f} us vs {cv:.0f} us "
              f"(x{cv / cp:.3f})")
    p, v, cp, cv = _node_bench(count, rounds)
    print(f"  node, 4 KiB PUT      : unversioned {p:,.0f}/s, versioned {v:,.0f}/s, "
          f"ratio {p / v:.3f}; node CPU per PUT {cp:.0f} us vs {cv:.0f} us "
          f"(x{cv / cp:.3f})")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
