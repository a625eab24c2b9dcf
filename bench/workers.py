"""``[net] workers``: 4 KiB GET, HEAD and PUT with 1 worker and with 2, side by side.

    .venv/bin/python -m bench.workers [--rounds 6] [--seconds 3] [--sigv4]
                                      [--node-cpus 0 --client-cpus 1]

Two nodes of this tree (``--workers 1`` and ``--workers 2``), each holding bucket
``bench`` with a 4 KiB object; rounds alternate the nodes. Per round and node: wrk GETs
(16 connections), HEADs and PUTs from 4 Python threads on keep-alive connections (their
own connection each, so the kernel spreads them over the processes). Printed: medians
of req/s and of the node's CPU per request (every process of the node: the primary, its
threads and its read workers, from /proc), and the ratio 2 workers / 1 paired by round.
``--node-cpus``/``--client-cpus`` pin the node (its workers inherit it) and the clients
with taskset. A PUT through a read worker is forwarded to the primary: the PUT figures
show what that hop costs. ``--per-process``: each process's CPU per request on a
connection the worker serves and on one the primary serves (sequential requests).
``--decision``: what a worker adds to a request it serves, timed in-process.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.servers import start_node
from bench.small_requests import SIGV4_CONFIG, TICK, Node

BODY = os.urandom(4096)


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its living children (a node's read workers)."""
    total = 0.0
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            kids = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            pids += [int(k) for k in kids]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def start(workers: int, sigv4: bool, cpus: str | None) -> Node:
    wrapper = ["taskset", "-c", cpus] if cpus else None
    server = start_node(["--workers", str(workers)], config=SIGV4_CONFIG if sigv4 else None,
                        wrapper=wrapper)
    node = Node(server.proc, server.s3_url + "/bench/obj", server.workdir, sigv4)
    for path, body in (("/bench", b""), ("/bench/obj", BODY)):
        headers = Node(server.proc, server.s3_url + path, server.workdir, sigv4).headers("PUT")
        req = urllib.request.Request(server.s3_url + path, data=body, method="PUT",
                                     headers=headers)
        urllib.request.urlopen(req, timeout=120).read()
    return node


def threads(node: Node, method: str, seconds: int, clients: int = 4) -> int:
    """``method`` requests answered in ``seconds`` to ``clients`` threads, each on its
    keep-alive connection; a non-2xx answer fails."""
    host, port = node.url.split("/")[2].rsplit(":", 1)
    path = "/" + node.url.split("/", 3)[3]
    deadline = time.monotonic() + seconds
    counts = [0] * clients

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            n = 0
            while time.monotonic() < deadline:
                target = path if method != "PUT" else f"{path}-{i}-{n % 100}"
                headers = {} if not node.sigv4 else Node(
                    node.proc, f"http://{host}:{port}{target}", node.work, True,
                ).headers(method)
                conn.request(method, target, body=BODY if method == "PUT" else None,
                             headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 300:
                    raise RuntimeError(f"{method}: {response.status}")
                counts[i] += 1
                n += 1
        finally:
            conn.close()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return sum(counts)


def wrk(node: Node, seconds: int, cpus: str | None) -> int:
    from bench.small_requests import wrk as run_wrk

    if not cpus:
        return run_wrk(node.url, seconds, node.headers())
    cmd = ["taskset", "-c", cpus, "wrk", "-t2", "-c16", f"-d{seconds}s",
           *[a for k, v in node.headers().items() for a in ("-H", f"{k}: {v}")], node.url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(out)
    return int(out.split(" requests in")[0].split()[-1])


def measure(node: Node, kind: str, seconds: int, cpus: str | None,
            out: dict[str, list[tuple[float, float]]]) -> None:
    before, t = tree_cpu(node.proc.pid), time.perf_counter()
    if kind == "GET":
        n = wrk(node, seconds, cpus)
    else:
        if cpus:
            os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
        try:
            n = threads(node, kind, seconds)
        finally:
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
    rate = n / (time.perf_counter() - t)
    out.setdefault(kind, []).append((rate, (tree_cpu(node.proc.pid) - before) / n * 1e6))


def pid_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def per_process(rounds: int, sigv4: bool) -> None:
    """``--per-process``: one node with 2 workers; a keep-alive connection the worker
    serves and one the primary serves (found by whose CPU moves under 300 HEADs), then
    sequential GETs and PUTs on each, alternating: each process's CPU per request - what
    a worker's GET costs beside the primary's, and what the hop adds to a PUT."""
    node = start(2, sigv4, None)
    try:
        pid = node.proc.pid
        worker = next(int(k) for t in os.listdir(f"/proc/{pid}/task")
                      for k in Path(f"/proc/{pid}/task/{t}/children").read_text().split())
        host, port = node.url.split("/")[2].rsplit(":", 1)
        conns: dict[str, http.client.HTTPConnection] = {}
        while len(conns) < 2:
            conn = http.client.HTTPConnection(host, int(port), timeout=120)
            before = pid_cpu(worker)
            for _ in range(300):
                conn.request("HEAD", "/s3/bench/obj", headers=node.headers("HEAD"))
                conn.getresponse().read()
            conns.setdefault("worker" if pid_cpu(worker) - before > 0.02 else "primary", conn)
        rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(rounds):
            for method, n in (("GET", 2000), ("PUT", 300)):
                for name, conn in conns.items():
                    p0, w0 = pid_cpu(pid), pid_cpu(worker)
                    for i in range(n):
                        url = node.url if method == "GET" else f"{node.url}-{i % 50}"
                        path = "/" + url.split("/", 3)[3]
                        headers = Node(node.proc, url, node.work, sigv4).headers(method)
                        conn.request(method, path, body=BODY if method == "PUT" else None,
                                     headers=headers)
                        response = conn.getresponse()
                        response.read()
                        assert response.status == 200, response.status
                    rows.setdefault((method, name), []).append(
                        ((pid_cpu(pid) - p0) / n * 1e6, (pid_cpu(worker) - w0) / n * 1e6))
    finally:
        node.stop()
    print(f"4 KiB, {'SigV4' if sigv4 else 'open'}, one connection at a time, median of "
          f"{rounds} rounds, CPU per request:")
    for (method, name), got in rows.items():
        print(f"  {method} on a connection the {name:7} serves: primary "
              f"{statistics.median(p for p, _ in got):5.0f} us + worker "
              f"{statistics.median(w for _, w in got):5.0f} us")


def decision(sigv4: bool) -> None:
    """``--decision``: what a worker adds to a request it serves, timed in this process on
    a running node's index (opened read only, as a worker opens it): the whole decision,
    and its parts."""
    import timeit

    import trio

    from aisfs.config import NodeConfig
    from aisfs.s3.request import route
    from aisfs.store.store import StoreConfig, open_store
    from aisfs_node.forward import Forwarder
    from aisfs_node.http import Request
    from aisfs_node.workers import WorkerApp

    node = start(1, sigv4, None)
    cfg = NodeConfig()
    cfg.store.mountpaths = [str(node.work / "mp1"), str(node.work / "mp2")]
    cfg.store.index_dir = str(node.work / "index")
    cfg = cfg.resolve()
    host = node.url.split("/")[2]
    scope = {"type": "http", "method": "GET", "raw_path": b"/s3/bench/obj",
             "path": "/s3/bench/obj", "query_string": b"", "client": ("127.0.0.1", 1),
             "headers": [(b"host", host.encode()), *[(k.lower().encode(), v.encode())
                                                     for k, v in node.headers().items()]]}

    async def run() -> None:
        async with open_store(StoreConfig.from_settings(cfg.store), read_only=True) as store:
            app = WorkerApp(cfg, store, Forwarder("/nonexistent"))
            req = Request(scope, None)  # type: ignore[arg-type]
            assert app._serves(req)
            parts = [("the whole decision (_serves)", lambda: app._serves(req)),
                     ("route() (the S3 code routes again)", lambda: route(
                         "GET", req.raw_path, req.query, req.host, base_path="/s3",
                         headers=req.headers)),  # type: ignore[arg-type]
                     ("PRAGMA data_version", lambda: store.index.r.execute(
                         "PRAGMA data_version").fetchone()),
                     ("the users file (absent)", lambda: os.access(app.users_file, os.F_OK))]
            for name, fn in parts:
                best = min(timeit.repeat(fn, number=20_000, repeat=5)) / 20_000
                print(f"  {name:38} {best * 1e6:5.2f} us (best of 5 x 20,000)")

    try:
        trio.run(run)
    finally:
        node.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench workers", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--sigv4", action="store_true")
    ap.add_argument("--node-cpus", help="taskset list for the node, e.g. 0")
    ap.add_argument("--client-cpus", help="taskset list for the clients, e.g. 1")
    ap.add_argument("--kinds", default="GET,HEAD,PUT")
    ap.add_argument("--per-process", action="store_true",
                    help="each process's CPU per GET and PUT, one connection at a time")
    ap.add_argument("--decision", action="store_true",
                    help="time what a worker adds to a request it serves, in-process")
    args = ap.parse_args(argv)
    kinds = args.kinds.split(",")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    if args.decision:
        decision(args.sigv4)
        return
    if args.per_process:
        per_process(args.rounds, args.sigv4)
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        return
    nodes = {w: start(w, args.sigv4, args.node_cpus) for w in (1, 2)}
    results: dict[int, dict[str, list[tuple[float, float]]]] = {1: {}, 2: {}}
    try:
        for node in nodes.values():
            wrk(node, 1, args.client_cpus)  # warm
        for r in range(args.rounds):
            order = [1, 2] if r % 2 == 0 else [2, 1]
            for kind in kinds:
                for w in order:
                    measure(nodes[w], kind, args.seconds, args.client_cpus, results[w])
    finally:
        for w, node in nodes.items():
            log = (node.work / "node.log").read_text(errors="replace").splitlines()
            for line in [ln for ln in log if " WARNING " in ln or " ERROR " in ln][:20]:
                print(f"workers={w} node log: {line}")
            node.stop()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    pin = (f", node on CPUs {args.node_cpus}, clients on {args.client_cpus}"
           if args.node_cpus or args.client_cpus else ", unpinned")
    print(f"4 KiB, {'SigV4' if args.sigv4 else 'open'}, median of {args.rounds} "
          f"rounds of {args.seconds} s{pin}:")
    for kind in kinds:
        one, two = results[1][kind], results[2][kind]
        for w, rows in ((1, one), (2, two)):
            print(f"  {kind:4} workers={w}: {statistics.median(r for r, _ in rows):6.0f} "
                  f"req/s, {statistics.median(c for _, c in rows):5.0f} us node CPU/request")
        rate = statistics.median(b[0] / a[0] for a, b in zip(one, two, strict=True))
        cpu = statistics.median(b[1] / a[1] for a, b in zip(one, two, strict=True))
        print(f"  {kind:4} 2 workers / 1, paired by round: rate x{rate:.2f}, "
              f"CPU per request x{cpu:.2f}")


if __name__ == "__main__":
    main()
