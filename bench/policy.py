"""``./run bench policy``: what a bucket policy adds to a 4 KiB GET (issue 16's target:
< 10 % with a 20-statement policy).

One node in sigv4 mode with one (non-admin) user who owns two buckets holding the same
4 KiB objects: ``plain`` (no policy) and ``policed`` (a 20-statement policy: explicit
denies and allows for other users, prefixes and addresses, conditions on each, and the
statement that lets the owner's GETs through - every statement is evaluated on every
GET). 16 client threads on keep-alive connections GET from one bucket, then the other,
``--rounds`` times, alternating which goes first. Both measures, side by side: the
wall time per GET (1 / rate) and the node's CPU time per GET (user + system, all its
threads: steadier than a rate on a loaded machine); for each, the medians with and
without the policy, their ratio, and the median of the rounds' paired ratios (each
policed round against the plain round next to it). Also the cost of ``evaluate``
alone, in this process (microseconds per call, the best of five runs).

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
    """Seconds of CPU the node's threads have run: the sum of their ``schedstat``
    (nanoseconds; psutil's user + system tick at 10 ms, 12 us per GET in a round of
    800), psutil's where there is no /proc."""
    tasks = f"/proc/{pid}/task"
    if os.path.isdir(tasks):
        total = 0
        for tid in os.listdir(tasks):
            try:
                with open(f"{tasks}/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that ended meanwhile
        return total / 1e9
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
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(calls // 5):
            evaluate(policy, request)
        best = min(best, (time.perf_counter() - t) / (calls // 5) * 1e6)
    return best


def verdict_cost(calls: int = 20000) -> float:
    """Microseconds per node-side verdict of the owner's GET (``PolicyGate.verdict`` and
    its lazy condition keys: what a policed GET pays that a plain one does not)."""
    from aisfs.auth.caller import Caller
    from aisfs.auth.users import User
    from aisfs_node.s3_access import context_of
    from aisfs_node.s3_policy import PolicyGate

    text = json.dumps(twenty_statements("policed"))
    gate = PolicyGate()
    caller = Caller(User("bench", "0" * 64, "bench"), "sigv4")
    assert gate.verdict(text, "policed", "GetObject", "obj-0001", caller,
                        context_of(caller, None, None))[0] == "Allow"
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(calls // 5):
            gate.verdict(text, "policed", "GetObject", "obj-0001", caller,
                         context_of(caller, None, None))
        best = min(best, (time.perf_counter() - t) / (calls // 5) * 1e6)
    return best


def report(us: dict[str, list[float]], cpu: dict[str, list[float]]) -> None:
    """Both measures side by side: medians, their ratio, the median paired ratio."""
    print(f"{'':22}{'no policy':>12}{'policy':>12}{'ratio':>8}{'paired':>8}")
    for name, values in (("time per GET (us)", us), ("node CPU per GET (us)", cpu)):
        p, q = statistics.median(values["plain"]), statistics.median(values["policed"])
        paired = statistics.median(b / a for a, b in zip(values["plain"], values["policed"],
                                                         strict=True))
        print(f"{name:22}{p:12.0f}{q:12.0f}{q / p:8.3f}{paired:8.3f}")
    print("target: policy / no policy < 1.10 for both")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench policy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--count", type=int, default=0, help="GETs per round and bucket")
    parser.add_argument("--rounds", type=int, default=0)
    args = parser.parse_args(argv)
    count = args.count or (800 if args.quick else 1500)
    rounds = args.rounds or (6 if args.quick else 16)
    print(f"evaluate(), 20 statements: {evaluate_cost():.1f} us per call; the node's "
          f"verdict of the owner's GET: {verdict_cost():.1f} us per call")
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
        us: dict[str, list[float]] = {"plain": [], "policed": []}
        cpu: dict[str, list[float]] = {"plain": [], "policed": []}
        pid = node.proc.pid
        for n in range(rounds):
            for bucket in ("plain", "policed") if n % 2 == 0 else ("policed", "plain"):
                before = node_cpu(pid)
                us[bucket].append(1e6 / gets(url, bucket, count))
                cpu[bucket].append((node_cpu(pid) - before) / count * 1e6)
        print(f"4 KiB GET, c={CLIENTS}, {rounds} interleaved rounds of {count} GETs:")
        report(us, cpu)
        for bucket in ("plain", "policed"):
            print(f"  rounds, {bucket}: " + ", ".join(
                f"{t:.0f}/{c:.0f}" for t, c in zip(us[bucket], cpu[bucket], strict=True))
                + " (us per GET: time/CPU)")
    finally:
        node.stop()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
