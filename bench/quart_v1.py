"""Throwaway: one /v1 control route, GET /v1/buckets, as the node serves it (raw ASGI,
aisfs_node/native/api.py's NativeApi over a stub store) beside a minimal Quart-Trio app doing
the same work (the store's list_buckets, the same JSON, S3Error -> AIS error JSON, the
request counted in Metrics). Both on Hypercorn's trio worker, each in its own process,
measured in interleaved rounds by the same keep-alive clients; the server's CPU time
per request from /proc. The figures are in docs/design-notes.md ("Quart-Trio for the
/v1 control routes").

    PYTHONPATH=/tmp/qtlib .venv/bin/python -m bench.quart_v1     # quart-trio in /tmp/qtlib

Quart-Trio is not a dependency of aisfs: install it aside (pip install --target
/tmp/qtlib --no-deps quart quart-trio aiofiles; Flask, Werkzeug and Hypercorn come with
the test extras).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

BUCKETS = 20
CLIENTS = 4
PER_CLIENT = 1500


class _Bucket:
    def __init__(self, name: str) -> None:
        self.name = name


class StubStore:
    """The store's list_buckets with nothing behind it: the route's own cost only."""

    def __init__(self) -> None:
        self.buckets = [_Bucket(f"bucket-{i:03d}") for i in range(BUCKETS)]

    async def list_buckets(self) -> list[_Bucket]:
        return self.buckets


def raw_app() -> Any:
    from aisfs.config import NodeConfig
    from aisfs_node.metrics import Metrics
    from aisfs_node.native.api import NativeApi
    from aisfs_node.native.wire import Node

    node = Node(NodeConfig(), StubStore(), None, Metrics(), None,  # type: ignore[arg-type]
                lambda: True, time.time_ns())
    api = NativeApi(node)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # NodeApp answers it in the node
            while True:
                msg = await receive()
                kind = msg["type"].rsplit(".", 1)[1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        await api(scope, receive, send)
    return app


def quart_app() -> Any:
    from quart import Response as QResponse
    from quart import request
    from quart_trio import QuartTrio

    from aisfs.errors import S3Error
    from aisfs_node.metrics import Metrics

    app = QuartTrio("v1")
    store = StubStore()
    metrics = Metrics()

    @app.before_request
    async def started() -> None:
        request.started = time.perf_counter()  # type: ignore[attr-defined]

    @app.get("/v1/buckets")
    async def list_buckets() -> QResponse:
        await request.get_data()
        buckets = await store.list_buckets()
        body = json.dumps([{"name": b.name, "provider": "ais",
                            "namespace": {"uuid": "", "name": ""}} for b in buckets])
        return QResponse(body, content_type="application/json")

    @app.errorhandler(S3Error)
    async def ais_error(err: S3Error) -> QResponse:
        body = json.dumps({"message": err.message, "method": request.method,
                           "url_path": request.path, "status": err.status})
        return QResponse(body, status=err.status, content_type="application/json")

    @app.after_request
    async def count(response: QResponse) -> QResponse:
        response.headers["server"] = "aisfs"
        metrics.observe_request("native", "ListBuckets", response.status_code,
                                time.perf_counter() - request.started,  # type: ignore[attr-defined]
                                0, len(await response.get_data()))
        return response

    return app


def serve(kind: str, port: int) -> None:
    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve as hserve

    app = raw_app() if kind == "raw" else quart_app()
    cfg = Config()
    cfg.bind = [f"127.0.0.1:{port}"]
    cfg.accesslog = None
    cfg.errorlog = None
    trio.run(hserve, app, cfg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(port: int, pid: int) -> tuple[float, float, float]:
    """(requests/s, p50 latency ms, server CPU us per request) for CLIENTS x PER_CLIENT."""
    lat: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        c = http.client.HTTPConnection("127.0.0.1", port)
        mine = []
        for _ in range(PER_CLIENT):
            t = time.perf_counter()
            c.request("GET", "/v1/buckets")
            r = c.getresponse()
            body = r.read()
            mine.append(time.perf_counter() - t)
            assert r.status == 200 and len(json.loads(body)) == BUCKETS, (r.status, body)
        c.close()
        with lock:
            lat.extend(mine)

    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    n = CLIENTS * PER_CLIENT
    return n / wall, statistics.median(lat) * 1e3, (cpu_seconds(pid) - cpu0) / n * 1e6


def wait_up(port: int) -> None:
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/v1/buckets")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on {port} did not come up")


async def _drive(app: Any, n: int) -> float:
    """Microseconds per request of ``app`` called directly (no server, no socket)."""
    import trio

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/v1/buckets",
             "raw_path": b"/v1/buckets", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80), "extensions": {}}

    async def send(msg: Any) -> None:
        pass

    t = time.perf_counter()
    for _ in range(n):
        given = [False]

        async def receive(given: list[bool] = given) -> Any:
            if not given[0]:
                given[0] = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await trio.sleep_forever()  # a server's receive waits for the disconnect

        await app(scope, receive, send)
    return (time.perf_counter() - t) / n * 1e6


def in_process(rounds: int) -> None:
    import trio

    async def run() -> None:
        raw, quart = raw_app(), quart_app()
        async with trio.open_nursery() as nursery:
            quart.nursery = nursery
            await quart.startup()
            res: dict[str, list[float]] = {"raw": [], "quart": []}
            for _ in range(rounds):
                res["raw"].append(await _drive(raw, 2000))
                res["quart"].append(await _drive(quart, 2000))
            await quart.shutdown()
        print("in process (the app called directly, 2,000 requests a round)")
        for kind, v in res.items():
            print(f"  {kind:>5}: {statistics.median(v):5.0f} us/req   rounds "
                  f"{[round(x) for x in v]}")

    trio.run(run)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", choices=("raw", "quart"))
    ap.add_argument("--port", type=int)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    in_process(args.rounds)
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for kind in ("raw", "quart"):
            port = free_port()
            p = subprocess.Popen([sys.executable, "-m", "bench.quart_v1", "--serve", kind,
                                  "--port", str(port)])
            procs[kind] = (p, port)
        for _p, port in procs.values():
            wait_up(port)
        results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in procs}
        for p, port in procs.values():  # warm-up
            one_round(port, p.pid)
        for _ in range(args.rounds):
            for kind, (p, port) in procs.items():
                results[kind].append(one_round(port, p.pid))
        print(f"GET /v1/buckets ({BUCKETS} buckets), {CLIENTS} keep-alive clients x "
              f"{PER_CLIENT}, Hypercorn trio worker, {args.rounds} interleaved rounds")
        for kind, rows in results.items():
            rps = statistics.median(r[0] for r in rows)
            p50 = statistics.median(r[1] for r in rows)
            cpu = statistics.median(r[2] for r in rows)
            print(f"  {kind:>5}: {rps:7.0f} req/s  p50 {p50:5.2f} ms  server CPU {cpu:5.0f} us/req"
                  f"   rounds req/s {[round(r[0]) for r in rows]}")
    finally:
        for p, _ in procs.values():
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
