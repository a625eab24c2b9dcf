"""``./run bench policy``: what a bucket policy adds to a 4 KiB GET (issue 16's target:
< 10 % with a 20-statement policy).

One node in sigv4 mode with one (non-admin) user who owns two buckets holding the same
4 KiB objects: ``plain`` (no policy) and ``policed`` (a 20-statement policy: explicit
denies and allows for other users, prefixes and addresses, conditions on each, and the
statement that lets the owner's GETs through - every statement is evaluated on every
GET). 16 client threads on keep-alive connections GET from one bucket, then the other,
``--rounds`` times, alternating which goes first; the medians of the rates and of the
node's CPU time per GET (user + system, all its threads: steadier than a rate on a
loaded machine) are compared. Also the cost of ``evaluate`` alone, in this process
(microseconds per call).

    ./run bench policy [--quick] [--count N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from bench.client import thread_conn
from bench.servers import start_node

CONFIG = """
[store]
fsync = false
[auth]
mode = "sigv4"
[auth.users.bench]
access_keys = { FAKEKEY = "FAKESECRET" }
"""
OBJECTS = 256
CLIENTS = 16


def twenty_statements(bucket: str) -> dict[str, object]:
    arn = f"arn:aws:s3:::{bucket}"
    sts: list[dict[str, object]] = []
    for i in range(9):
        sts.append({"Sid": f"DenyOther{i}", "Effect": "Deny",
                    "Principal": {"AWS": f"arn:aws:iam:::user/other{i}"},
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": f"{arn}/private{i}/*"})
        sts.append({"Sid": f"AllowPrefix{i}", "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam:::user/reader{i}"},
                    "Action": "s3:Get*", "Resource": f"{arn}/shared{i}/*",
                    "Condition": {"IpAddress": {"aws:SourceIp": f"10.{i}.0.0/16"},
                                  "Bool": {"aws:SecureTransport": "false"}}})
    sts.append({"Sid": "DenyOld", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}})
    sts.append({"Sid": "Owner", "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam:::user/bench"}, "Action": "s3:GetObject",
                "Resource": f"{arn}/obj-*",
                "Condition": {"StringEquals": {"aws:username": "bench"}}})
    return {"Version": "2012-10-17", "Statement": sts}


def node_cpu(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def gets(url: str, bucket: str, count: int) -> float:
    """GETs per second of ``count`` 4 KiB GETs from CLIENTS threads."""
    def get(i: int) -> None:
        c = thread_conn(url)
        status, data = c.request("GET", c.path(bucket, f"obj-{i % OBJECTS:04d}"))
        if status != 200 or len(data) != 4096:
            raise RuntimeError(f"GET {bucket}: {status} {data[:200]!r}")

    with ThreadPoolExecutor(CLIENTS) as pool:
        t = time.perf_counter()
        list(pool.map(get, range(count)))
        return count / (time.perf_counter() - t)


def evaluate_cost(calls: int = 20000) -> float:
    """Microseconds per ``evaluate`` of the 20-statement policy (the owner's GET)."""
    from aisfs.auth.policy import (
        PolicyRequest,
        evaluate,
        parse_policy,
        principal_names,
        resource_for,
    )

    policy = parse_policy(json.dumps(twenty_statements("policed")).encode(), "policed")
    request = PolicyRequest("s3:GetObject", resource_for("policed", "obj-0001"),
                            principal_names("0" * 64, "bench"),
                            {"aws:username": "bench", "aws:sourceip": "127.0.0.1",
                             "aws:securetransport": "false",
                             "aws:currenttime": "2026-12-06T00:00:00Z"})
    assert evaluate(policy, request) == "Allow"
    t = time.perf_counter()
    for _ in range(calls):
        evaluate(policy, request)
    return (time.perf_counter() - t) / calls * 1e6


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench policy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--count", type=int, default=0, help="GETs per round and bucket")
    parser.add_argument("--rounds", type=int, default=0)
    args = parser.parse_args(argv)
    count = args.count or (1000 if args.quick else 4000)
    rounds = args.rounds or (2 if args.quick else 5)
    print(f"evaluate(), 20 statements: {evaluate_cost():.1f} us per call")
    node = start_node(config=CONFIG)
    try:
        url = node.s3_url
        c = thread_conn(url)
        body = os.urandom(4096)
        for bucket in ("plain", "policed"):
            status, data = c.request("PUT", c.path(bucket))
            assert status == 200, (status, data)
            for i in range(OBJECTS):
                status, _ = c.request("PUT", c.path(bucket, f"obj-{i:04d}"), body=body)
                assert status == 200, status
        doc = json.dumps(twenty_statements("policed")).encode()
        status, data = c.request("PUT", c.path("policed", query="policy"), body=doc)
        assert status == 204, (status, data)
        gets(url, "plain", count // 4)  # warm both
        gets(url, "policed", count // 4)
        rates: dict[str, list[float]] = {"plain": [], "policed": []}
        cpu: dict[str, list[float]] = {"plain": [], "policed": []}
        pid = node.proc.pid
        for n in range(rounds):
            for bucket in ("plain", "policed") if n % 2 == 0 else ("policed", "plain"):
                before = node_cpu(pid)
                rates[bucket].append(gets(url, bucket, count))
                cpu[bucket].append((node_cpu(pid) - before) / count * 1e6)
        p, q = statistics.median(rates["plain"]), statistics.median(rates["policed"])
        cp, cq = statistics.median(cpu["plain"]), statistics.median(cpu["policed"])
        print(f"4 KiB GET, c={CLIENTS}, {rounds} rounds of {count} (medians):")
        print(f"  rate: no policy {p:,.0f}/s, 20-statement policy {q:,.0f}/s "
              f"({(p / q - 1) * 100:+.1f} % time per GET)")
        print(f"  node CPU per GET: no policy {cp:.0f} us, policy {cq:.0f} us "
              f"({(cq / cp - 1) * 100:+.1f} %; target < 10 %)")
        for bucket in ("plain", "policed"):
            print(f"  rounds, {bucket}: " + ", ".join(
                f"{r:,.0f}/s {c:.0f} us" for r, c in zip(rates[bucket], cpu[bucket],
                                                         strict=True)))
    finally:
        node.stop()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
