"""``bench remote-deletes --against REV``: DeleteObjects on an ``s3://`` bucket through a
front node of this tree beside one of REV, one backend (an aisfs node; ``--moto``: moto's
server), in alternating rounds (A B, then B A).

A round, per front: ``--keys`` 4 KiB objects PUT straight into the backend (unmeasured,
16 threads), then deleted through the front by DeleteObjects of 1,000 keys each (what
``aws s3 rm --recursive`` sends): keys/s, and each process's CPU per 1,000 keys.

    python -m bench remote-deletes --against main [--keys 2000] [--rounds 5] [--moto]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.backend import backend_config
from bench.servers import Server, start_moto, start_node

BODY = b"d" * 4096
BATCH = 1000


def _client(url: str) -> Any:
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="FAKEKEY", aws_secret_access_key="FAKESECRET",
                        config=Config(retries={"max_attempts": 1}, read_timeout=300,
                                      s3={"addressing_style": "path"},
                                      max_pool_connections=16))


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return f.read().strip()


def _load() -> str:
    return _loadavg().split()[0]


def _round(direct: Any, front: Any, bucket: str, prefix: str, n: int,
           pids: dict[str, int]) -> tuple[float, dict[str, float]]:
    keys = [f"{prefix}/{i:06d}" for i in range(n)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: direct.put_object(Bucket=bucket, Key=k, Body=BODY), keys))
    before = {k: _cpu(p) for k, p in pids.items()}
    t = time.perf_counter()
    for i in range(0, n, BATCH):
        done = front.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": k} for k in keys[i:i + BATCH]], "Quiet": True})
        assert not done.get("Errors"), done["Errors"][:3]
    secs = time.perf_counter() - t
    cpu = {k: (_cpu(p) - before[k]) * 1000 / n for k, p in pids.items()}
    assert "Contents" not in direct.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
    return n / secs, cpu


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench remote-deletes")
    p.add_argument("--against", required=True, help="the other revision (git rev)")
    p.add_argument("--keys", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--moto", action="store_true", help="moto's server as the backend")
    args = p.parse_args(argv)
    from bench.revisions import checkout

    backend = start_moto() if args.moto else start_node()
    config = backend_config(backend, "FAKEKEY", "FAKESECRET")
    print(f"uptime: {_loadavg()}", flush=True)
    with checkout(args.against) as tree:
        fronts: dict[str, Server] = {"this": start_node(config=config),
                                     args.against: start_node(config=config, tree=tree)}
        pids = {"backend": backend.proc.pid, **{k: f.proc.pid for k, f in fronts.items()}}
        rate: dict[str, list[float]] = {k: [] for k in fronts}
        cpu: dict[str, list[dict[str, float]]] = {k: [] for k in fronts}
        try:
            direct = _client(backend.s3_url)
            bucket = "rdel"
            direct.create_bucket(Bucket=bucket)
            clients = {k: _client(f.s3_url) for k, f in fronts.items()}
            for name, c in clients.items():  # warm: discovery, connections
                _round(direct, c, bucket, f"warm-{name}", 100, pids)
            names = list(fronts)
            for r in range(args.rounds):
                for name in names if r % 2 == 0 else names[::-1]:
                    keys_s, used = _round(direct, clients[name], bucket, f"r{r}-{name}",
                                          args.keys, pids)
                    rate[name].append(keys_s)
                    cpu[name].append(used)
                print(f"round {r}: " + ", ".join(
                    f"{k} {rate[k][-1]:.0f} keys/s (front {cpu[k][-1][k]:.2f}, backend "
                    f"{cpu[k][-1]['backend']:.2f} CPU s/1,000)" for k in fronts)
                    + f" (load {_load()})", flush=True)
        finally:
            for f in fronts.values():
                f.stop()
            backend.stop()
    a, b = "this", args.against
    ra, rb = statistics.median(rate[a]), statistics.median(rate[b])
    ca = statistics.median(c[a] for c in cpu[a])
    cb = statistics.median(c[b] for c in cpu[b])
    print(f"\nDeleteObjects of {args.keys} keys ({BATCH} per request) on an s3:// bucket: "
          f"this {ra:.0f} keys/s, {b} {rb:.0f} (ratio {ra / rb:.2f})")
    print(f"front CPU s per 1,000 keys: this {ca:.3f}, {b} {cb:.3f}")
    print(f"uptime: {_loadavg()}")
