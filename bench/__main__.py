"""Side-by-side S3 benchmark: an aisfs node and moto's server, measured in one run.

    ./run bench                  # every figure, both servers
    ./run bench --quick          # smaller counts (a smoke run)
    ./run bench --only aisfs     # skip moto
    ./run bench --big            # also: node RSS while a 2 GiB object is PUT and read back
    ./run bench mount [--quick]  # the FUSE mount beside direct S3 and the local disk
    ./run bench mount-peers      # the mount beside s3fs and rclone mount on one node
    ./run bench listing          # one delimiter level of 1,000 subdirectories (S3, native)
    ./run bench scale            # 100,000 objects in one bucket: rates, RSS, restarts (--full: 1 M)
    ./run bench tree [--base DIR] # a real tree (botocore) copied into the mount, du, ls -lR
    ./run bench backend [--quick] # backend buckets: cold/warm/validated GET, write-through,
                                 # prefetch, RSS listing a remote bucket (issue 13's targets)
    ./run bench inventory        # a listing from an inventory beside the backend's
    ./run bench prefetch         # prefetch of many small objects beside a client loop
    ./run bench copy-bck         # copy-bck ais -> s3, s3 -> ais beside a client loop
    ./run bench small --against REV # 4 KiB GET (--head) of this tree beside REV: req/s,
                                 # CPU/request, --syscalls, --instructions (callgrind)
    ./run bench policy [--quick] # 4 KiB GET with and without a 20-statement bucket policy
    ./run bench sse [--mib 256]  # 256 MiB PUT/GET plaintext, SSE-S3 and SSE-C side by side
    ./run bench versioned        # overwrites in a versioned bucket beside an unversioned one
    ./run bench version-listing [N]  # N versions listed: rates and the node's RSS
    ./run bench --hypercorn      # also: the node on Hypercorn (net.http_server) beside it
    ./run bench --s3-extras      # also: multipart 1 GiB (8 MiB parts, 8 in flight) and the
                                 # cost of SigV4 verification on 4 KiB GETs

Prints ops/s for 4 KiB PUT/GET at concurrency 16, MiB/s for 256 MiB PUT/GET,
objects/s for ListObjectsV2 over 10,000 objects, the node's peak RSS, and node/moto ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from xml.etree import ElementTree

from bench.client import Conn, stamp_piece, thread_conn
from bench.servers import Server, start_moto, start_node

MiB = 1024 * 1024


class RssSampler:
    """Peak resident set size of a process (and its children), sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except Exception:
                return
            time.sleep(0.05)

    def reset(self) -> None:
        self.peak = 0

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def parallel(count: int, concurrency: int, op: Callable[[int], None]) -> float:
    with ThreadPoolExecutor(concurrency) as pool:
        t = time.perf_counter()
        list(pool.map(op, range(count)))
        return time.perf_counter() - t


def small_objects(server: Server, count: int) -> tuple[float, float]:
    body = os.urandom(4096)
    url = server.s3_url

    def put(i: int) -> None:
        c = thread_conn(url)
        status, _ = c.request("PUT", c.path("small", f"obj-{i:06d}"), body=body)
        assert status == 200, status

    def get(i: int) -> None:
        c = thread_conn(url)
        status, data = c.request("GET", c.path("small", f"obj-{i:06d}"))
        assert status == 200 and len(data) == 4096, status

    put_s = parallel(count, 16, put)
    get_s = parallel(count, 16, get)
    return count / put_s, count / get_s


def large_objects(server: Server, size: int, rounds: int) -> tuple[float, float]:
    piece = os.urandom(MiB)
    c = Conn(server.s3_url)
    put_s = get_s = 0.0
    for r in range(rounds):
        put_s += timed(lambda r=r: c.put_stream("large", f"big-{r}", size, piece))
        got = 0

        def read(r: int = r) -> None:
            nonlocal got
            got = c.get_stream("large", f"big-{r}")

        get_s += timed(read)
        assert got == size, got
    c.close()
    total = size * rounds / MiB
    return total / put_s, total / get_s


def listing(server: Server, count: int) -> float:
    c = Conn(server.s3_url)

    def walk() -> int:
        seen = 0
        token = None
        while True:
            q = "list-type=2&max-keys=1000"
            if token:
                from urllib.parse import quote

                q += "&continuation-token=" + quote(token, safe="")
            status, data = c.request("GET", c.path("small", "", q))
            assert status == 200, data[:200]
            text = data.decode().replace(' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', "")
            root = ElementTree.fromstring(text)
            seen += len(root.findall("Contents"))
            if root.findtext("IsTruncated") != "true":
                return seen
            token = root.findtext("NextContinuationToken")

    walk()  # warm
    seen = 0
    t = time.perf_counter()
    seen = walk()
    elapsed = time.perf_counter() - t
    assert seen == count, (seen, count)
    c.close()
    return count / elapsed


def run_server(server: Server, args: argparse.Namespace, sampler: RssSampler | None) -> dict:
    c = Conn(server.s3_url)
    for b in ("small", "large"):
        c.request("PUT", c.path(b))
    c.close()
    results: dict[str, float] = {}
    print(f"[{server.name}] 4 KiB objects x{args.small} ...", flush=True)
    results["put_4k_ops"], results["get_4k_ops"] = small_objects(server, args.small)
    print(f"[{server.name}] {args.large_mib} MiB objects x{args.rounds} ...", flush=True)
    results["put_large_mibs"], results["get_large_mibs"] = large_objects(
        server, args.large_mib * MiB, args.rounds
    )
    if args.small < args.list_count:
        extra = args.list_count - args.small
        body = os.urandom(4096)
        url = server.s3_url

        def put(i: int) -> None:
            cc = thread_conn(url)
            cc.request("PUT", cc.path("small", f"obj-{args.small + i:06d}"), body=body)

        parallel(extra, 16, put)
    print(f"[{server.name}] ListObjectsV2 over {args.list_count} ...", flush=True)
    results["list_objs"] = listing(server, max(args.small, args.list_count))
    if sampler is not None:
        results["peak_rss_mib"] = sampler.peak / MiB
    return results


def multipart_upload(server: Server, total_mib: int, part_mib: int = 8, inflight: int = 8) -> float:
    """MiB/s of a multipart upload: CreateMultipartUpload, parts in parallel, Complete."""
    from xml.etree import ElementTree as ET

    c = Conn(server.s3_url)
    c.request("PUT", c.path("mpu"))
    t = time.perf_counter()
    status, data = c.request("POST", c.path("mpu", "big", "uploads"))
    assert status == 200, data[:300]
    text = data.decode().replace(' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', "")
    upload_id = ET.fromstring(text).findtext("UploadId")
    piece = os.urandom(part_mib * MiB)
    url = server.s3_url
    etags: dict[int, str] = {}

    def put(n: int) -> None:
        cc = thread_conn(url)
        path = cc.path("mpu", "big", f"partNumber={n + 1}&uploadId={upload_id}")
        cc.conn.putrequest("PUT", path, skip_accept_encoding=True)
        from bench.client import sign

        hdrs = sign("PUT", f"http://{cc.host}:{cc.port}{path}", {"Content-Length": str(len(piece))})
        for k, v in hdrs.items():
            cc.conn.putheader(k, v)
        cc.conn.endheaders()
        body = bytearray(piece)
        stamp_piece(body, n)  # every part its own bytes: nothing deduplicated
        cc.conn.send(body)
        resp = cc.conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
        etags[n + 1] = resp.getheader("ETag")

    parts = total_mib // part_mib
    with ThreadPoolExecutor(inflight) as pool:
        list(pool.map(put, range(parts)))
    body = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{etags[n]}</ETag></Part>"
        for n in sorted(etags)
    ) + "</CompleteMultipartUpload>"
    status, data = c.request("POST", c.path("mpu", "big", f"uploadId={upload_id}"),
                             body=body.encode())
    assert status == 200, data[:300]
    elapsed = time.perf_counter() - t
    c.close()
    return total_mib / elapsed


def sigv4_cost(args: argparse.Namespace) -> tuple[float, float]:
    """4 KiB GET ops/s of a node in open mode and of one verifying SigV4."""
    results = []
    for config in (None, '[auth]\nmode = "sigv4"\naccess_keys = { FAKEKEY = "FAKESECRET" }\n'):
        node = start_node(config=config)
        try:
            c = Conn(node.s3_url)
            c.request("PUT", c.path("small"))
            c.close()
            results.append(small_objects(node, args.small)[1])
        finally:
            node.stop()
    return results[0], results[1]


WRK_PUT = """wrk.method = "PUT"
wrk.body = string.rep("x", 4096)
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "{path}/wrk-" .. counter)
end
"""


def wrk_small(server: Server, seconds: int = 5) -> tuple[float, float]:
    """4 KiB PUT and GET ops/s with wrk (C, 2 threads, 16 connections), unsigned.

    The Python load client costs about as much CPU per request as the node does, and the
    two share this machine's 2 cores; wrk costs a fraction of that, so this figure is
    closer to what the node itself can do. Only for the node: moto refuses unsigned GETs.
    """
    import re
    import shutil
    import subprocess
    from urllib.parse import urlparse

    if shutil.which("wrk") is None:
        return float("nan"), float("nan")
    c = Conn(server.s3_url)
    c.request("PUT", c.path("wrk"))
    c.request("PUT", c.path("wrk", "one"), body=os.urandom(4096))
    c.close()
    base = urlparse(server.s3_url)
    script = server.workdir / "put.lua"
    script.write_text(WRK_PUT.format(path=base.path + "/wrk"))

    def rate(cmd: list[str]) -> float:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
        m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
        return float(m.group(1)) if m else float("nan")

    root = f"{base.scheme}://{base.netloc}"
    put = rate(["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(script), root])
    get = rate(["wrk", "-t2", "-c16", f"-d{seconds}s", f"{server.s3_url}/wrk/one"])
    return put, get


def big_rss(args: argparse.Namespace) -> float:
    node = start_node()
    sampler = RssSampler(node.proc.pid)
    try:
        c = Conn(node.s3_url)
        c.request("PUT", c.path("huge"))
        piece = os.urandom(MiB)
        sampler.reset()
        c.put_stream("huge", "two-gib", 2048 * MiB, piece)
        assert c.get_stream("huge", "two-gib") == 2048 * MiB
        return sampler.peak / MiB
    finally:
        sampler.stop()
        node.stop()


# ./run bench NAME [args]: the module that measures NAME (its main(argv)); any other NAME
# runs bench/<NAME with - as _>.py when it exists, so a new bench needs no line here
NAMED = {"mount": "bench.mount_io", "mount-peers": "bench.mount_peers",
         "small": "bench.small_requests"}


def named_bench(name: str) -> str | None:
    """The module of ``./run bench NAME``, or None (the side-by-side run below)."""
    if name in NAMED:
        return NAMED[name]
    module = name.replace("-", "_")
    if not name.startswith("-") and os.path.exists(os.path.join(os.path.dirname(__file__),
                                                                f"{module}.py")):
        return f"bench.{module}"
    return None


def main() -> None:
    module = named_bench(sys.argv[1]) if sys.argv[1:2] else None
    if module is not None:
        import importlib

        importlib.import_module(module).main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(prog="bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["aisfs", "moto"])
    parser.add_argument("--big", action="store_true")
    parser.add_argument("--s3-extras", action="store_true")
    parser.add_argument("--hypercorn", action="store_true",
                        help="also measure the node served by Hypercorn instead of node.h1server")
    args = parser.parse_args()
    args.small = 1000 if args.quick else 4000
    args.list_count = 2000 if args.quick else 10_000
    args.large_mib = 64 if args.quick else 256
    args.rounds = 1 if args.quick else 2

    table: dict[str, dict] = {}
    if args.only in (None, "aisfs"):
        node = start_node()
        sampler = RssSampler(node.proc.pid)
        try:
            table["aisfs"] = run_server(node, args, sampler)
            table["aisfs"]["wrk_put"], table["aisfs"]["wrk_get"] = wrk_small(node)
        finally:
            sampler.stop()
            node.stop()
    if args.hypercorn:
        node = start_node(config='[net]\nhttp_server = "hypercorn"\n')
        try:
            table["hypercorn"] = run_server(node, args, None)
            table["hypercorn"]["wrk_put"], table["hypercorn"]["wrk_get"] = wrk_small(node)
        finally:
            node.stop()
    if args.only in (None, "moto"):
        moto = start_moto()
        try:
            table["moto"] = run_server(moto, args, None)
        finally:
            moto.stop()
    rows = [
        ("put_4k_ops", "PUT 4 KiB, c=16 (ops/s)", 800),
        ("get_4k_ops", "GET 4 KiB, c=16 (ops/s)", 1500),
        ("put_large_mibs", f"PUT {args.large_mib} MiB (MiB/s)", 400),
        ("get_large_mibs", f"GET {args.large_mib} MiB (MiB/s)", 800),
        ("list_objs", f"ListObjectsV2 over {args.list_count} (objects/s)", 20000),
        ("wrk_put", "PUT 4 KiB, wrk c=16 (ops/s)", 800),
        ("wrk_get", "GET 4 KiB, wrk c=16 (ops/s)", 1500),
        ("peak_rss_mib", "node peak RSS (MiB)", None),
    ]
    print()
    hc = "hypercorn" in table
    print(f"{'measure':<42} {'aisfs':>10}" + (f" {'(hypercorn)':>11}" if hc else "")
          + f" {'moto':>10} {'ratio':>7} {'target':>8}")
    for key, label, target in rows:
        a = table.get("aisfs", {}).get(key)
        m = table.get("moto", {}).get(key)
        h = table.get("hypercorn", {}).get(key)
        ratio = f"{a / m:.2f}" if a and m else "-"
        fa = f"{a:.0f}" if a is not None else "-"
        fm = f"{m:.0f}" if m is not None else "-"
        fh = (f" {h:>11.0f}" if h is not None else f" {'-':>11}") if hc else ""
        print(f"{label:<42} {fa:>10}{fh} {fm:>10} {ratio:>7} {target or '-':>8}")
    if args.s3_extras:
        total = 256 if args.quick else 1024
        for name, starter in (("aisfs", start_node), ("moto", start_moto)):
            if args.only in (None, name):
                server = starter()
                try:
                    rate = multipart_upload(server, total)
                finally:
                    server.stop()
                print(f"multipart upload {total} MiB in 8 MiB parts, 8 in flight, {name}: "
                      f"{rate:.0f} MiB/s (target >= 400 for aisfs)")
        open_ops, signed_ops = sigv4_cost(args)
        print(f"4 KiB GET ops/s: open {open_ops:.0f}, SigV4-verified {signed_ops:.0f} "
              f"(cost {100 * (1 - signed_ops / open_ops):.1f}%, target < 15%)")
    if args.big:
        print(f"\nnode peak RSS during a 2 GiB PUT + GET: {big_rss(args):.0f} MiB (target < 150)")


if __name__ == "__main__":
    main()
