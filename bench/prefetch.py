"""Prefetch jobs (issue 13's target): a ``prefetch-listrange`` job of N 4 KiB objects
beside a sequential client loop of cold GETs through the same front node.

    .venv/bin/python -m bench.prefetch            # 10,000 objects, an aisfs node as backend
    .venv/bin/python -m bench.prefetch --quick    # 2,000
    .venv/bin/python -m bench.prefetch --moto     # moto's server as the backend

| figure | beside | target |
|---|---|---|
| prefetch of 10,000 4 KiB objects (one job) | a sequential loop of cold GETs | >= 3x |

``prefetch_row`` gives ``bench backend`` the same figure.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
from collections.abc import Callable

from bench.backend import many
from bench.client import thread_conn
from bench.servers import Server, start_moto, start_node

CLIENTS = 16
Row = tuple[str, str, float, float, str, Callable[[float], bool], list[str]]


def _native(front_s3_url: str, method: str, path: str, body: dict[str, object]) -> bytes:
    base = front_s3_url.rsplit("/s3", 1)[0]
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        data: bytes = resp.read()
        return data


def run_job(front_s3_url: str, bucket: str, template: str) -> tuple[float, dict[str, object]]:
    """Start a prefetch job of ``template`` and poll it to its end: (seconds, record)."""
    t = time.perf_counter()
    job_id = _native(front_s3_url, "POST", f"/v1/buckets/{bucket}?provider=aws",
                     {"action": "prefetch-listrange", "value": {"template": template}}).decode()
    while True:
        rec = json.loads(_native(front_s3_url, "GET", "/v1/cluster?what=jobs",
                                 {"ID": job_id}))["jobs"][0]
        if not rec["running"]:
            return time.perf_counter() - t, rec
        time.sleep(0.05)


def prefetch_row(backend_s3_url: str, front_s3_url: str, small: int,
                 bucket: str = "prefetch-job") -> Row:
    """The job of ``small`` objects beside a sequential loop of cold GETs (at most 1,000
    of other objects of the bucket, rates compared)."""
    c = thread_conn(backend_s3_url)
    status, data = c.request("PUT", c.path(bucket))
    assert status == 200, (status, data[:200])
    seq_n = min(small, 1000)
    job_keys = [f"p{i:06d}" for i in range(small)]
    seq_keys = [f"s{i:06d}" for i in range(seq_n)]
    many(backend_s3_url, bucket, job_keys + seq_keys, "PUT", CLIENTS, b"z" * 4096)
    t_seq = many(front_s3_url, bucket, seq_keys, "GET", 1)
    t_job, rec = run_job(front_s3_url, bucket, f"p{{000000..{small - 1:06d}}}")
    assert rec["state"] == "finished" and rec["objects_done"] == small, rec
    return (f"prefetch job: {small} 4 KiB objects", "/s", small / t_job, seq_n / t_seq,
            ">= 3x", lambda x: x >= 3,
            [f"job {t_job:.1f} s for {small} ({rec['bytes_done']} bytes); sequential "
             f"cold GETs {t_seq:.1f} s for {seq_n}"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench.prefetch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2,000 objects")
    p.add_argument("--small", type=int, default=0, help="objects prefetched")
    p.add_argument("--moto", action="store_true", help="moto's server as the backend")
    args = p.parse_args(argv)
    small = args.small or (2000 if args.quick else 10_000)
    backend: Server = start_moto() if args.moto else start_node()
    access, secret = "FAKEKEY", "FAKESECRET"
    front = start_node(config=f"""[backend.s3]
endpoint = "{backend.s3_url}"
access_key = "{access}"
secret_key = "{secret}"
read_timeout = 120
""")
    try:
        name, unit, got, beside, target, ok, notes = prefetch_row(
            backend.s3_url, front.s3_url, small)
        ratio = got / beside
        print(f"{name}: {got:.0f}{unit} vs sequential {beside:.0f}{unit} = {ratio:.2f}x "
              f"(target {target}: {'met' if ok(ratio) else 'NOT met'})")
        for n in notes:
            print("  " + n)
    finally:
        front.stop()
        backend.stop()


if __name__ == "__main__":
    main()
