"""One directory level through the listings: S3 ListObjectsV2 delimiter=/ and the native
/v1 listing with the mount's flags, over a bucket of DIRS subdirectories of PER_DIR objects.

    ./run bench listing                       # this tree's node
    ./run bench listing --against /work/base  # and another checkout's, side by side

The nodes run at the same time and are measured in interleaved rounds (the machine is
shared); medians are printed, every round beside them. A listing's cost should follow
the entries it returns, not the objects under them: ``--per-dir`` changes the second,
not the first.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse
from xml.etree import ElementTree

from bench.client import Conn, thread_conn
from bench.servers import Server

HERE = Path(__file__).resolve().parent.parent
# the mount's native listing (mount/nodebackend.py: LS_NO_RECURSION, LIST_PROPS)
MOUNT_FLAGS = str(1 << 11)
MOUNT_PROPS = "name,size,etag,last-modified,custom"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def start_node_in(tree: Path, name: str) -> Server:
    """A node running the code of checkout ``tree`` (its directory first on sys.path)."""
    work = Path(tempfile.mkdtemp(prefix="aisfs-bench-listing-"))
    ready = work / "ready.json"
    cmd = [sys.executable, "-m", "aisfs", "node", "run", "--listen", "127.0.0.1:0",
           "--index-dir", str(work / "index"), "--ready-file", str(ready),
           "--log-level", "warning", "--mountpath", str(work / "mp1"),
           "--mountpath", str(work / "mp2")]
    env = dict(os.environ, PYTHONPATH=str(tree))
    log = open(work / "node.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tree, env=env)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((work / "node.log").read_text())
        time.sleep(0.05)
    url = json.loads(ready.read_text())["urls"][0]
    return Server(name, proc, f"{url}/s3", work)


def fill(server: Server, bucket: str, dirs: int, per_dir: int) -> None:
    c = Conn(server.s3_url)
    status, body = c.request("PUT", c.path(bucket))
    assert status == 200, body
    c.close()
    keys = [f"dir{d:05d}/obj{i}" for d in range(dirs) for i in range(per_dir)]
    keys += ["top-a", "top-b"]

    def put(key: str) -> None:
        conn = thread_conn(server.s3_url)
        status, body = conn.request("PUT", conn.path(bucket, key), key.encode() * 4,
                                    {"x-amz-meta-mode": "33188"})
        assert status == 200, body

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, keys))


def s3_level(c: Conn, bucket: str, want: int) -> float:
    t = time.perf_counter()
    status, body = c.request("GET", c.path(bucket, query="delimiter=%2F&list-type=2"))
    dt = time.perf_counter() - t
    assert status == 200, body
    root = ElementTree.fromstring(body)
    got = len(root.findall(f"{NS}CommonPrefixes")) + len(root.findall(f"{NS}Contents"))
    assert got == want, (got, want)
    return dt


def native_level(server: Server, bucket: str, want: int) -> float:
    u = urlparse(server.s3_url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=300)
    value = {"prefix": "", "flags": MOUNT_FLAGS, "props": MOUNT_PROPS, "pagesize": 1000}
    body = json.dumps({"action": "list", "value": value}).encode()
    try:
        t = time.perf_counter()
        conn.request("GET", f"/v1/buckets/{bucket}", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        dt = time.perf_counter() - t
    finally:
        conn.close()
    assert resp.status == 200, data
    got = len(json.loads(data)["entries"])
    assert got == want, (got, want)
    return dt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench listing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, help="another checkout, measured beside")
    parser.add_argument("--dirs", type=int, default=1000)
    parser.add_argument("--per-dir", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    trees = [("this", HERE)]
    if args.against is not None:
        trees.append(("against", args.against.resolve()))
    want = min(args.dirs + 2, 1000)  # the subdirectories, two top-level objects: one page
    servers: list[Server] = []
    try:
        for name, tree in trees:
            servers.append(start_node_in(tree, name))
        for s in servers:
            t = time.perf_counter()
            fill(s, "lst", args.dirs, args.per_dir)
            print(f"{s.name}: {args.dirs * args.per_dir + 2} objects in "
                  f"{time.perf_counter() - t:.1f} s", flush=True)
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for s in servers:
                c = Conn(s.s3_url)
                c.request("GET", c.path("lst", query="list-type=2&max-keys=1"))  # warm
                times.setdefault((s.name, "s3"), []).append(s3_level(c, "lst", want))
                c.close()
                times.setdefault((s.name, "native"), []).append(native_level(s, "lst", want))
        print(f"\none level of {args.dirs} subdirectories ({args.per_dir} objects each) "
              f"+ 2 objects, median of {args.rounds} interleaved rounds:")
        for kind, label in (("s3", "S3 ListObjectsV2 delimiter=/"),
                            ("native", "native /v1 list, the mount's flags")):
            row = []
            for s in servers:
                runs = times[(s.name, kind)]
                med = statistics.median(runs)
                row.append(med)
                each = " ".join(f"{x * 1000:.1f}" for x in runs)
                print(f"  {label:36s} {s.name:8s} {med * 1000:8.1f} ms   [{each}]")
            if len(row) == 2 and row[0] > 0:
                print(f"  {'':36s} {'ratio':8s} {row[1] / row[0]:8.1f}x faster here")
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
