"""The cost of aisfs_node/metrics.py: one request's counting and one /metrics scrape, this
tree's module beside another revision's (the hand-written renderer before
prometheus_client, by default) and beside prometheus_client's own instruments.

    .venv/bin/python -m bench.metrics                 # against the hand-written renderer
    .venv/bin/python -m bench.metrics --against REV   # any git revision

A scrape is rendered over a node that has served SERIES (api, operation, status)
series - about what a busy node shows - with store stats of 4 mountpaths. Rounds are
interleaved (the machine is shared) and medians printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent.parent
OPS = ("GetObject", "PutObject", "HeadObject", "DeleteObject", "ListObjectsV2",
       "CreateBucket", "UploadPart", "CompleteMultipartUpload", "ListBuckets", "HeadBucket")
STATUSES = (200, 204, 206, 404, 500)
STATS: dict[str, Any] = {
    "objects": 10_000_000, "chunks": 9_000_000, "uploads": 3, "logical_bytes": 1 << 44,
    "stored_bytes": 1 << 43, "dedup_savings_bytes": 1 << 43,
    "mountpaths": [{"path": f"/mnt/d{i}", "enabled": True, "total": 1 << 42,
                    "used": 1 << 41, "free": 1 << 41, "io_errors": 0} for i in range(4)],
}


def load(rev: str) -> ModuleType:
    src = subprocess.run(["git", "-C", str(HERE), "show", f"{rev}:aisfs_node/metrics.py"],
                         check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "metrics_then.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("metrics_then", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def filled(mod: ModuleType) -> Any:
    m = mod.Metrics("node1", "0.1.0")
    for api in ("s3", "native"):
        for op in OPS:
            for st in STATUSES:
                m.observe_request(api, op, st, 0.003, 4096, 4096)
    return m


def instruments() -> Any:
    """What the counting would cost on prometheus_client's Counter/Histogram."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    from aisfs_node.metrics import LATENCY_BUCKETS
    r = CollectorRegistry(auto_describe=False)
    req = Counter("r", "", ["api", "operation", "status"], registry=r)
    hist = Histogram("d", "", ["api", "operation"], buckets=LATENCY_BUCKETS, registry=r)
    out = Counter("o", "", ["api", "operation"], registry=r)
    ais = [Counter(n, "", ["node_id"], registry=r) for n in ("c", "n", "b")]

    def observe() -> None:
        req.labels("s3", "GetObject", "200").inc()
        hist.labels("s3", "GetObject").observe(0.003)
        out.labels("s3", "GetObject").inc(4096)
        ais[0].labels("node1").inc()
        ais[1].labels("node1").inc(3_000_000)
        ais[2].labels("node1").inc(4096)
    return observe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 74fe791~: the last revision with the hand-written renderer
    ap.add_argument("--against", default="74fe791~", help="git revision of the other module")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import aisfs_node.metrics as now
    then = load(args.against)
    mods = {"this tree": now, args.against: then}
    filled_ = {k: filled(m) for k, m in mods.items()}
    series = len(filled_["this tree"].counters()[0])
    obs: dict[str, list[float]] = {k: [] for k in [*mods, "pc instruments"]}
    scrape: dict[str, list[float]] = {k: [] for k in mods}
    n_obs, n_scrape = 100_000, 200
    pc = instruments()
    for _ in range(args.rounds):
        for k, m in filled_.items():
            t = timeit.timeit(lambda m=m: m.observe_request("s3", "GetObject", 200, 0.003, 0,
                                                             4096), number=n_obs)
            obs[k].append(t / n_obs * 1e6)
            t = timeit.timeit(lambda m=m: m.render(STATS), number=n_scrape)
            scrape[k].append(t / n_scrape * 1e3)
        obs["pc instruments"].append(timeit.timeit(pc, number=n_obs) / n_obs * 1e6)
    print(f"{series} request series, {len(filled_['this tree'].render(STATS))} B exposition")
    print("observe_request, us per request (median; rounds)")
    for k, v in obs.items():
        print(f"  {k:>16}: {statistics.median(v):6.2f}  {[round(x, 2) for x in v]}")
    print("/metrics render, ms per scrape (median; rounds)")
    for k, v in scrape.items():
        print(f"  {k:>16}: {statistics.median(v):6.2f}  {[round(x, 2) for x in v]}")


if __name__ == "__main__":
    main()
