"""Backend buckets (issue 13's targets), side by side in one run, the backend on this machine.

A second aisfs node is the backend by default (the fastest one here); ``--ceph`` fronts a
Ceph RGW (tests/support/ceph.py), ``--moto`` moto's server. The front node has
``[backend.s3]`` pointing at it; every figure is beside the one it is held to, measured in
the same run in alternating rounds (the machine is shared: medians, every round printed).

    ./run bench backend            # 256 MiB objects, 10,000 small ones, 200,000 keys listed
    ./run bench backend --quick    # ~2 minutes: fewer rounds, objects and keys
    ./run bench backend --ceph     # Ceph RGW as the backend

| figure | beside | target |
|---|---|---|
| cold GET of a 256 MiB object through the front | a GET of it from the backend | >= 90 % |
| warm GET of it | a GET from an ais:// bucket of the front | >= 95 % |
| 4 KiB warm GETs, validate_warm_get (16 clients) | 4 KiB GETs from the backend | >= 50 % |
| prefetch of 10,000 4 KiB objects | a sequential client loop of cold GETs | >= 3x |
| write-through PUT of 256 MiB | a PUT to the backend | >= 90 % |
| front RSS while listing 200,000 remote keys | - | < 200 MiB |

The prefetch figure is a ``prefetch-listrange`` job (bench/prefetch.py), printed beside
the earlier stand-in (a concurrent cold-GET fill: 16 clients GETting through the front).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from bench.client import PIECE, Conn, sign, thread_conn
from bench.servers import Server, start_moto, start_node

HERE = Path(__file__).resolve().parent.parent
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
MiB = 1024 * 1024
CLIENTS = 16


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MiB."""
    vals = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                vals[line.split(":")[0]] = int(line.split()[1]) / 1024
    return vals["VmRSS"], vals["VmHWM"]


def cpu_s(pid: int, thread: bool = False) -> float:
    """CPU seconds (user + system) ``pid`` has used (``thread``: its main thread only - a
    node's event loop)."""
    with open(f"/proc/{pid}/task/{pid}/stat" if thread else f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Cpu:
    """CPU seconds per GiB moved (``timed``) or per 1,000 requests (``timed_requests``),
    per process, over the ops measured."""

    def __init__(self, pids: dict[str, int], loop: str = "front") -> None:
        self.pids = pids
        self.loop = loop  # whose event loop (main thread) is measured too, as "<name> loop"
        self.rows: dict[str, list[dict[str, float]]] = {}

    def _now(self) -> dict[str, float]:
        now = {k: cpu_s(p) for k, p in self.pids.items()}
        if self.loop in self.pids:
            now[f"{self.loop} loop"] = cpu_s(self.pids[self.loop], thread=True)
        return now

    def timed(self, name: str, nbytes: int, fn: Callable[[], float]) -> float:
        return self._timed(name, 1024 * MiB / nbytes, fn)

    def timed_requests(self, name: str, requests: int, fn: Callable[[], float]) -> float:
        return self._timed(name, 1000 / requests, fn)

    def _timed(self, name: str, scale: float, fn: Callable[[], float]) -> float:
        c0 = self._now()
        dt = fn()
        time.sleep(0.3)  # what the op left behind (a fill's commit)
        c1 = self._now()
        self.rows.setdefault(name, []).append({k: (c1[k] - c0[k]) * scale for k in c0})
        return dt

    def median(self, name: str, who: str) -> float:
        return med([r[who] for r in self.rows.get(name, [])])

    def line(self, name: str) -> str:
        rows = self.rows.get(name, [])
        return f"{name}: " + ", ".join(
            f"{k} {med([r[k] for r in rows]):.2f}" for k in (rows[0] if rows else self.pids))

    def bound(self, name: str, beside: float) -> str:
        """What this machine's cores allow ``name`` (a per-GiB op) at the CPU its
        processes took: all of them together on every core, the front's event loop on
        one - MiB/s, and as a ratio to ``beside`` (MiB/s)."""
        cores = os.cpu_count() or 1
        total = sum(self.median(name, k) for k in self.pids)
        loop = self.median(name, f"{self.loop} loop")
        most = min(cores / total, 1 / loop) * 1024 if total and loop else float("nan")
        return (f"at most, at that CPU: {cores} cores / {total:.2f} s per GiB, the loop's "
                f"{loop:.2f} on one core: {most:.0f} MiB/s = {most / beside:.2f} of the "
                "figure beside it, were the machine idle")


def put_unique(url: str, bucket: str, key: str, size: int, salt: int) -> float:
    """PUT ``size`` bytes no other object shares (each MiB stamped with salt and offset:
    a content-addressed store dedups nothing). Seconds taken."""
    c = Conn(url)
    path = c.path(bucket, key)
    t = time.perf_counter()
    c.conn.putrequest("PUT", path, skip_accept_encoding=True)
    for name, value in sign("PUT", f"http://{c.host}:{c.port}{path}",
                            {"Content-Length": str(size)}).items():
        c.conn.putheader(name, value)
    c.conn.endheaders()
    buf = bytearray(b"\xa5" * PIECE)
    view = memoryview(buf)
    left = size
    while left > 0:
        n = min(left, PIECE)
        buf[:16] = salt.to_bytes(8, "little") + (size - left).to_bytes(8, "little")
        c.conn.send(view[:n])
        left -= n
    resp = c.conn.getresponse()
    body = resp.read()
    dt = time.perf_counter() - t
    c.close()
    assert resp.status == 200, (resp.status, body[:300])
    return dt


def get_timed(url: str, bucket: str, key: str, size: int) -> float:
    c = Conn(url)
    t = time.perf_counter()
    got = c.get_stream(bucket, key)
    dt = time.perf_counter() - t
    c.close()
    assert got == size, (bucket, key, got, size)
    return dt


def mkbucket(url: str, bucket: str) -> None:
    c = Conn(url)
    status, body = c.request("PUT", c.path(bucket))
    c.close()
    assert status in (200, 409), body


def set_props(node_url: str, bucket: str, provider: str, value: dict[str, object]) -> None:
    """What ``ais bucket props set`` sends."""
    host, port = node_url.split("//")[1].split("/")[0].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    q = f"?provider={provider}" if provider else ""
    c.request("PATCH", f"/v1/buckets/{bucket}{q}",
              body=json.dumps({"action": "set-bprops", "value": value}),
              headers={"content-type": "application/json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, (r.status, body[:300])


def many(url: str, bucket: str, keys: list[str], op: str, clients: int,
         body: bytes = b"") -> float:
    """``op`` (GET or PUT) of every key with ``clients`` threads: seconds taken."""

    def one(key: str) -> None:
        c = thread_conn(url)
        status, data = c.request(op, c.path(bucket, key), body if op == "PUT" else None)
        assert status == 200, (op, key, status, data[:200])

    t = time.perf_counter()
    if clients == 1:  # a new connection: the thread's kept one may have idled out
        c = Conn(url)
        for k in keys:
            status, data = c.request(op, c.path(bucket, k), body if op == "PUT" else None)
            assert status == 200, (op, k, status, data[:200])
        c.close()
    else:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, keys))
    return time.perf_counter() - t


def list_all(url: str, bucket: str) -> tuple[float, int]:
    c = Conn(url)
    token = ""
    n = 0
    t = time.perf_counter()
    while True:
        q = "list-type=2&max-keys=1000"
        if token:
            from urllib.parse import quote
            q += "&continuation-token=" + quote(token, safe="")
        status, body = c.request("GET", c.path(bucket, query=q))
        assert status == 200, body[:300]
        root = ElementTree.fromstring(body)
        n += len(root.findall(f"{NS}Contents"))
        nxt = root.find(f"{NS}NextContinuationToken")
        if nxt is None or not nxt.text:
            break
        token = nxt.text
    dt = time.perf_counter() - t
    c.close()
    return dt, n


def backend_config(backend: Server, access: str, secret: str) -> str:
    return f"""[backend.s3]
endpoint = "{backend.s3_url}"
access_key = "{access}"
secret_key = "{secret}"
read_timeout = 120
"""


class Sampler:
    """The peak VmRSS of ``pid``, sampled every 20 ms while running."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid)[0])
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def show(rows: list[tuple[str, str, float, float, str, Callable[[float], bool], list[str]]]
         ) -> None:
    print()
    print(f"{'figure':48} {'front':>11} {'beside':>11} {'ratio':>7}  target")
    for name, unit, a, b, target, ok, rounds in rows:
        ratio = a / b if b else float("nan")
        mark = "ok" if ok(ratio) else "BELOW"
        print(f"{name:48} {a:8.1f} {unit:>2} {b:8.1f} {unit:>2} {ratio:7.2f}  {target} {mark}")
        for r in rounds:
            print(f"    {r}")


def alternate(r: int, pair: list[tuple[str, Callable[[], float]]],
              into: dict[str, list[float]], mib: float) -> None:
    """Both of ``pair`` once, in turn (A B in even rounds, B A in odd): MiB/s each."""
    for name, fn in (pair if r % 2 == 0 else pair[::-1]):
        into.setdefault(name, []).append(mib / fn())


def cold_and_warm(backend: Server, front: Server, cpu: Cpu, rounds: int, mib_size: int
                  ) -> list[tuple[str, str, float, float, str, Callable[[float], bool],
                                  list[str]]]:
    """Cold GET vs a GET from the backend; warm GET vs a GET from an ``ais://`` bucket:
    the first read of each copy (the warm one was written by the fill with O_DIRECT: read
    from the device, hashed), then repeated reads (chunk copies verified lately: sendfile,
    both sides)."""
    size = mib_size * MiB
    mib = float(mib_size)
    got: dict[str, list[float]] = {}
    for r in range(rounds):
        key = f"obj-{r}"
        put_unique(backend.s3_url, "big", key, size, 1000 + r)
        put_unique(front.s3_url, "local", key, size, 5000 + r)  # not deduped
        get_timed(backend.s3_url, "big", key, size)  # the backend's page cache warm

        def timed(name: str, url: str, bucket: str, key: str = key
                  ) -> tuple[str, Callable[[], float]]:
            return name, lambda: cpu.timed(
                f"{name} GET", size, lambda: get_timed(url, bucket, key, size))

        alternate(r, [timed("direct", backend.s3_url, "big"),
                      timed("cold", front.s3_url, "big")], got, mib)
        # the fill commits just after its last piece is sent; a chunk file verified in
        # the second it was written is not remembered (store/verified.py: racy stamps)
        time.sleep(2.0)
        alternate(r, [timed("ais first", front.s3_url, "local"),
                      timed("warm first", front.s3_url, "big")], got, mib)
        for _ in range(2):
            alternate(r, [timed("ais", front.s3_url, "local"),
                          timed("warm", front.s3_url, "big")], got, mib)
        print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in got.items())
              + " MiB/s", flush=True)

    def figures(name: str) -> str:
        return f"{name} {' '.join(f'{x:.0f}' for x in got[name])}"

    return [
        (f"cold GET {mib_size} MiB vs direct", "MB", med(got["cold"]), med(got["direct"]),
         ">= 0.90", lambda x: x >= 0.9,
         [figures("cold") + " / " + figures("direct"), "CPU s/GiB, " + cpu.line("cold GET"),
          "CPU s/GiB, " + cpu.line("direct GET"), cpu.bound("cold GET", med(got["direct"]))]),
        (f"warm GET {mib_size} MiB vs ais://", "MB", med(got["warm"]), med(got["ais"]),
         ">= 0.95", lambda x: x >= 0.95,
         [figures("warm") + " / " + figures("ais"), "CPU s/GiB, " + cpu.line("warm GET"),
          "CPU s/GiB, " + cpu.line("ais GET")]),
        ("  its first read after the fill", "MB", med(got["warm first"]),
         med(got["ais first"]), "(info)", lambda x: True,
         [figures("warm first") + " / " + figures("ais first"),
          "CPU s/GiB, " + cpu.line("warm first GET"),
          "CPU s/GiB, " + cpu.line("ais first GET")]),
    ]


def start_ceph_backend() -> tuple[Any, Server]:
    """A Ceph RGW (tests/support/ceph.py) started as the backend: the cluster, and the
    backend as a ``Server`` (exits when Ceph cannot run here)."""
    sys.path.insert(0, str(HERE / "tests"))
    from support.ceph import CephCluster  # type: ignore[import-not-found]

    why = CephCluster.unavailable()
    if why:
        sys.exit(f"no Ceph here: {why}")
    cluster = CephCluster.start_new()
    return cluster, Server("ceph", None, cluster.endpoint,  # type: ignore[arg-type]
                           Path("/nonexistent"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench backend", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="~2 minutes: fewer of everything")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--ceph", action="store_true", help="a Ceph RGW as the backend")
    g.add_argument("--moto", action="store_true", help="moto server as the backend")
    p.add_argument("--rounds", type=int, default=0)
    p.add_argument("--mib", type=int, default=256, help="the large object's size")
    p.add_argument("--small", type=int, default=0, help="4 KiB objects prefetched")
    p.add_argument("--keys", type=int, default=0, help="keys in the listed bucket")
    p.add_argument("--only", default="", help="comma list: cold,warm,small,prefetch,put,list")
    p.add_argument("--multipart-mib", type=int, default=0,
                   help="the front's multipart_threshold (default: config's, 16 MiB)")
    args = p.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    small = args.small or (2000 if args.quick else 10_000)
    nkeys = args.keys or (20_000 if args.quick else 200_000)
    only = set(args.only.split(",")) if args.only else {
        "cold", "warm", "small", "prefetch", "put", "list"}
    size = args.mib * MiB

    cluster = None
    access, secret = "FAKEKEY", "FAKESECRET"
    if args.ceph:
        cluster, backend = start_ceph_backend()
        access, secret = cluster.access_key, cluster.secret_key
    elif args.moto:
        backend = start_moto()
    else:
        backend = start_node()
    config = backend_config(backend, access, secret)
    if args.multipart_mib:  # a write-through up to this size: one PutObject, streamed
        config += f"multipart_threshold = {args.multipart_mib * MiB}\n"
    front = start_node(config=config)
    if backend.name in ("moto", "ceph"):
        # the bench's own client signs with FAKEKEY: give the backend's keys to it
        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials

        import bench.client as bc

        bc._SIGNER = SigV4Auth(Credentials(access, secret), "s3", "us-east-1")
    print(f"backend: {backend.name} {backend.s3_url}; front: {front.s3_url}")
    pids = {"front": front.proc.pid}
    if backend.proc is not None:
        pids["backend"] = backend.proc.pid
    if cluster is not None:  # Ceph's daemons: the gateway and the OSD do the work
        for name, proc in cluster.procs.items():
            if name.startswith(("client.rgw", "osd")):
                pids[name.split(".")[0].replace("client", "rgw")] = proc.pid
    pids["client"] = os.getpid()  # this process: the bench's client
    cpu = Cpu(pids)
    rows: list[tuple[str, str, float, float, str, Callable[[float], bool], list[str]]] = []
    try:
        mkbucket(backend.s3_url, "big")
        mkbucket(front.s3_url, "local")
        # the front's first request on a backend bucket discovers it and builds botocore's
        # client (~0.5 CPU s, a scan of its data files): once per node, not per GET
        warmup = Conn(front.s3_url)
        assert warmup.request("HEAD", warmup.path("big"))[0] == 200
        warmup.close()
        mib = size / MiB
        if {"cold", "warm"} & only:
            rows += cold_and_warm(backend, front, cpu, rounds, args.mib)
        if "put" in only:
            wt, dp = [], []
            for r in range(rounds):
                key = f"put-{r}"
                pair = [("direct", lambda key=key, r=r: put_unique(
                            backend.s3_url, "big", key + "-d", size, 2000 + r)),
                        ("through", lambda key=key, r=r: put_unique(
                            front.s3_url, "big", key, size, 3000 + r))]
                for name, fn in (pair if r % 2 == 0 else pair[::-1]):
                    (wt if name == "through" else dp).append(
                        mib / cpu.timed(f"{name} PUT", size, fn))
                print(f"round {r}: write-through {wt[-1]:.0f}, direct PUT {dp[-1]:.0f} MiB/s",
                      flush=True)
            rows.append((f"write-through PUT {args.mib} MiB vs direct", "MB", med(wt),
                         med(dp), ">= 0.90", lambda x: x >= 0.9,
                         [f"through {' '.join(f'{x:.0f}' for x in wt)} / direct "
                          f"{' '.join(f'{x:.0f}' for x in dp)}",
                          "CPU s/GiB, " + cpu.line("through PUT"),
                          "CPU s/GiB, " + cpu.line("direct PUT"),
                          cpu.bound("through PUT", med(dp))]))
        if "small" in only:
            mkbucket(backend.s3_url, "small")
            set_props(front.s3_url, "small", "aws", {"versioning": {"validate_warm_get": True}})
            n = 1000 if args.quick else 4000
            keys = [f"s{i:06d}" for i in range(n)]
            many(backend.s3_url, "small", keys, "PUT", CLIENTS, b"x" * 4096)
            many(front.s3_url, "small", keys, "GET", CLIENTS)  # cold: now cached
            val, direct = [], []
            for r in range(rounds):
                pair = [("direct", lambda: many(backend.s3_url, "small", keys, "GET", CLIENTS)),
                        ("val", lambda: many(front.s3_url, "small", keys, "GET", CLIENTS))]
                for name, fn in (pair if r % 2 == 0 else pair[::-1]):
                    (val if name == "val" else direct).append(
                        n / cpu.timed_requests(f"{name} small GET", n, fn))
                print(f"round {r}: validated warm {val[-1]:.0f}, direct {direct[-1]:.0f} "
                      "GET/s", flush=True)
            rows.append(("4 KiB warm GET, validate_warm_get vs backend", "/s", med(val),
                         med(direct), ">= 0.50", lambda x: x >= 0.5,
                         [f"validated {' '.join(f'{x:.0f}' for x in val)} / direct "
                          f"{' '.join(f'{x:.0f}' for x in direct)}",
                          "CPU s/1,000 GETs, " + cpu.line("val small GET"),
                          "CPU s/1,000 GETs, " + cpu.line("direct small GET")]))
        if "prefetch" in only:
            mkbucket(backend.s3_url, "prefetch")
            seq_n = min(small, 1000)
            fill_keys = [f"f{i:06d}" for i in range(small)]
            seq_keys = [f"q{i:06d}" for i in range(seq_n)]
            many(backend.s3_url, "prefetch", fill_keys + seq_keys, "PUT", CLIENTS, b"y" * 4096)
            t_seq = many(front.s3_url, "prefetch", seq_keys, "GET", 1)
            t_fill = many(front.s3_url, "prefetch", fill_keys, "GET", CLIENTS)
            rows.append((f"prefetch stand-in: {small} 4 KiB cold, {CLIENTS} clients", "/s",
                         small / t_fill, seq_n / t_seq, ">= 3x", lambda x: x >= 3,
                         [f"concurrent fill {t_fill:.1f} s for {small}; sequential loop "
                          f"{t_seq:.1f} s for {seq_n}"]))
            from bench.prefetch import prefetch_row  # the job itself

            rows.append(prefetch_row(backend.s3_url, front.s3_url, small))
        if "list" in only:
            mkbucket(backend.s3_url, "many")
            t = time.perf_counter()
            batch = 20_000
            for lo in range(0, nkeys, batch):
                keys = [f"k/{i:08d}" for i in range(lo, min(nkeys, lo + batch))]
                many(backend.s3_url, "many", keys, "PUT", CLIENTS, b"")
            print(f"{nkeys} keys put in the backend in {time.perf_counter() - t:.0f} s",
                  flush=True)
            lister = start_node(config=backend_config(backend, access, secret))
            try:
                base = rss_mib(lister.proc.pid)[0]
                with Sampler(lister.proc.pid) as s:
                    dt, n = list_all(lister.s3_url, "many")
                assert n == nkeys, (n, nkeys)
                ddt, _ = list_all(backend.s3_url, "many")
                hwm = rss_mib(lister.proc.pid)[1]
            finally:
                lister.stop()
            rows.append((f"front RSS listing {nkeys} remote keys", "MB", s.peak, 200.0,
                         "< 200 MiB", lambda x: x < 1.0,
                         [f"started at {base:.0f} MiB, peak sampled {s.peak:.0f}, VmHWM "
                          f"{hwm:.0f}; listed in {dt:.1f} s ({n / dt:.0f} keys/s) through "
                          f"the front, {ddt:.1f} s direct"]))
    finally:
        front.stop()
        if cluster is not None:
            cluster.stop()
        else:
            backend.stop()
    show(rows)


if __name__ == "__main__":
    main()
