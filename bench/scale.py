"""The same at scale: one bucket filled with N small objects through a node (S3 PUT, 16
clients), and at 10 %, 50 % and 100 % of N: the PUT rate of the last stretch, a full
listing's rate (ListObjectsV2, 1,000 a page), the node's RSS, the index size, the disk
per object, the node's start after a clean stop, and the store's open (in a process of its
own) after a clean stop and after a SIGKILL during writes, with that process's peak RSS.
Each should be flat in N. Then, on a node of its own: its RSS idle and its peak under
64 MiB PUTs and GETs (2 in flight) and multipart uploads (4 parts of 8 MiB, 4 in flight).

    ./run bench scale                         # 100,000 objects (minutes here)
    ./run bench scale --full                  # 1,000,000
    ./run bench scale --objects 10000000      # 10 M, a long run
    ./run bench scale --against /work/base    # and another checkout's node, after it
    ./run bench scale --rss-only              # the RSS under big loads alone

The node's start is from exec to its ready file: the Python start (on an empty store,
printed first) and the store's open; the store's open is timed alone too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree

from bench.client import PIECE, Conn, sign, thread_conn

HERE = Path(__file__).resolve().parent.parent
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
BUCKET = "scale"


class Node:
    """A node of checkout ``tree`` over ``work`` (kept across restarts)."""

    def __init__(self, tree: Path, work: Path) -> None:
        self.tree, self.work = tree, work
        self.proc: subprocess.Popen[bytes] | None = None
        self.s3_url = ""

    def start(self) -> float:
        ready = self.work / "ready.json"
        ready.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "aisfs", "node", "run", "--listen", "127.0.0.1:0",
               "--index-dir", str(self.work / "index"), "--ready-file", str(ready),
               "--log-level", "warning", "--mountpath", str(self.work / "mp1"),
               "--mountpath", str(self.work / "mp2")]
        for mp in ("mp1", "mp2"):
            (self.work / mp).mkdir(exist_ok=True)
        env = dict(os.environ, PYTHONPATH=str(self.tree))
        log = open(self.work / "node.log", "ab")  # noqa: SIM115 - handed to the child
        t = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.tree, env=env)
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError((self.work / "node.log").read_text()[-4000:])
            time.sleep(0.01)
        dt = time.perf_counter() - t
        self.s3_url = json.loads(ready.read_text())["urls"][0] + "/s3"
        return dt

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(600)

    def rss(self) -> tuple[float, float]:
        """(current, peak) resident memory in MiB."""
        assert self.proc is not None
        vals = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    vals[line.split(":")[0]] = int(line.split()[1]) / 1024
        return vals["VmRSS"], vals["VmHWM"]


OPEN_CHILD = """
import json, os, sys, time
from pathlib import Path
import trio
from aisfs.store import StoreConfig
from aisfs.store.store import Store

work, crash = Path(sys.argv[1]), sys.argv[2] == "crash"
config = StoreConfig(mountpaths=[work / "mp1", work / "mp2"], index_dir=work / "index")
def hwm():  # VmHWM, this process's own (ru_maxrss keeps the parent's across exec)
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:")) / 1024
base = hwm()
t = time.perf_counter()
store = Store.open_sync(config)
dt = time.perf_counter() - t
peak = hwm()
print(json.dumps({"open_s": dt, "peak_mib": peak, "before_mib": base}), flush=True)
if crash:
    os._exit(0)  # left as a crash leaves it (the node's start after this opens it again)
store.close_sync()
"""


def store_open(tree: Path, work: Path, crash: bool) -> dict[str, float]:
    """The store's open alone, in a process of its own (the node stopped): seconds, and
    peak RSS in MiB (with the interpreter and imports: ``before_mib``)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", OPEN_CHILD, str(work),
                          "crash" if crash else "clean"], capture_output=True, text=True,
                         cwd=tree, env=env, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-4000:])
    result: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return result


def du(path: Path) -> tuple[int, int]:
    """Bytes under ``path``: (allocated in blocks, as ``du``; apparent, as
    ``du --apparent-size``), files and directories."""
    blocks = apparent = 0
    for root, _dirs, files in os.walk(path):
        for name in [*files, *_dirs]:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            blocks += st.st_blocks * 512
            apparent += st.st_size
    return blocks, apparent


def put_range(node: Node, start: int, end: int, size: int, clients: int) -> float:
    body = os.urandom(size)

    def put(i: int) -> None:
        c = thread_conn(node.s3_url)
        key = f"d{i % 1000:03d}/obj-{i:09d}"
        status, text = c.request("PUT", c.path(BUCKET, key), body[:-8] + i.to_bytes(8, "big"))
        assert status == 200, text

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for _ in pool.map(put, range(start, end), chunksize=64):
            pass
    return (end - start) / (time.perf_counter() - t)


def list_all(node: Node) -> tuple[float, int]:
    """A full listing: (entries per second, entries)."""
    c = Conn(node.s3_url)
    token, got = "", 0
    t = time.perf_counter()
    while True:
        q = "list-type=2&max-keys=1000" + (f"&continuation-token={token}" if token else "")
        status, body = c.request("GET", c.path(BUCKET, query=q))
        assert status == 200, body
        root = ElementTree.fromstring(body)
        got += len(root.findall(f"{NS}Contents"))
        nxt = root.find(f"{NS}NextContinuationToken")
        if nxt is None or not nxt.text:
            break
        token = quote(nxt.text, safe="")
    dt = time.perf_counter() - t
    c.close()
    return got / dt, got


def crash_restart(node: Node, next_key: int, size: int) -> tuple[float, float, int]:
    """SIGKILL during writes (4 clients on new keys), then start: (seconds, peak RSS MiB,
    keys written meanwhile - maybe some unacknowledged)."""
    stop = threading.Event()
    counter = [next_key]
    lock = threading.Lock()

    def writer() -> None:
        c = Conn(node.s3_url)
        while not stop.is_set():
            with lock:
                i = counter[0]
                counter[0] += 1
            try:
                c.request("PUT", c.path(BUCKET, f"crash/obj-{i:09d}"), os.urandom(size))
            except OSError:
                return

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    node.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    opened = store_open(node.tree, node.work, crash=True)
    node.start()
    return opened["open_s"], opened["peak_mib"], counter[0] - next_key


def multipart(c: Conn, key: str, parts: int, part_size: int) -> None:
    status, body = c.request("POST", c.path("big", key, "uploads"))
    assert status == 200, body
    uid = ElementTree.fromstring(body).findtext(f"{NS}UploadId") or ""
    q = quote(uid, safe="")
    etags = []
    for n in range(1, parts + 1):
        path = c.path("big", key, f"partNumber={n}&uploadId={q}")
        url = f"http://{c.host}:{c.port}{path}"
        c.conn.request("PUT", path, body=os.urandom(1024) * (part_size // 1024),
                       headers=sign("PUT", url, {}))
        resp = c.conn.getresponse()
        resp.read()
        assert resp.status == 200
        etags.append(resp.getheader("ETag"))
    xml = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
                  for n, e in enumerate(etags, 1))
    status, body = c.request("POST", c.path("big", key, f"uploadId={q}"),
                             f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>".encode())
    assert status == 200, body


def big_rss(tree: Path) -> dict[str, float]:
    """A fresh node's RSS (MiB) idle, then its peak (VmHWM) and what it keeps after each
    load, in turn: 64 MiB PUTs 2 in flight (x3), their GETs, multipart uploads of 4 parts
    of 8 MiB, 4 in flight."""
    work = Path(tempfile.mkdtemp(prefix="aisfs-bench-scale-big-"))
    node = Node(tree, work)
    out: dict[str, float] = {}
    try:
        node.start()
        c = Conn(node.s3_url)
        assert c.request("PUT", c.path("big"))[0] == 200
        c.close()
        out["idle"] = node.rss()[0]

        def put(i: int) -> None:
            cc = Conn(node.s3_url)
            assert cc.put_stream("big", f"o{i % 2}", 64 * PIECE, bytes(PIECE)) == 200
            cc.close()

        def get(i: int) -> None:
            cc = Conn(node.s3_url)
            cc.get_stream("big", f"o{i % 2}")
            cc.close()

        def mpu(i: int) -> None:
            cc = Conn(node.s3_url)
            multipart(cc, f"m{i}", 4, 8 * PIECE)
            cc.close()

        for name, fn, conc in (("put64", put, 2), ("get64", get, 2), ("multipart", mpu, 4)):
            with ThreadPoolExecutor(conc) as pool:
                list(pool.map(fn, range(3 * conc)))
            out[f"{name}_after"], out[f"{name}_peak"] = node.rss()
    finally:
        if node.proc is not None and node.proc.poll() is None:
            node.stop(signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    return out


def run(tree: Path, total: int, size: int, clients: int) -> list[dict[str, float]]:
    work = Path(tempfile.mkdtemp(prefix="aisfs-bench-scale-"))
    rows: list[dict[str, float]] = []
    node = Node(tree, work)
    try:
        empty = node.start()
        print(f"  {tree}: node start on an empty store {empty:.2f} s", flush=True)
        c = Conn(node.s3_url)
        assert c.request("PUT", c.path(BUCKET))[0] == 200
        c.close()
        done = 0
        for frac in (0.1, 0.5, 1.0):
            upto = int(total * frac)
            rate = put_range(node, done, upto, size, clients)
            done = upto
            listed, count = list_all(node)  # the fill's and the crash runs' objects
            assert count >= done, (count, done)
            rss, peak = node.rss()
            index = sum(p.stat().st_size for p in (work / "index").glob("index.db*"))
            sizes = [du(work / d) for d in ("index", "mp1", "mp2")]
            disk, apparent = sum(b for b, _ in sizes), sum(a for _, a in sizes)
            node.stop()
            clean = store_open(tree, work, crash=False)["open_s"]
            node_start = node.start()
            crash, crash_peak, _ = crash_restart(node, 10**8 + done, size)
            row = {"objects": done, "put_per_s": rate, "list_per_s": listed,
                   "rss_mib": rss, "peak_rss_mib": peak,
                   "index_b_per_obj": index / max(done, 1),
                   "disk_b_per_obj": disk / max(count, 1),
                   "apparent_b_per_obj": apparent / max(count, 1),
                   "node_start_s": node_start,
                   "clean_restart_s": clean, "crash_restart_s": crash,
                   "crash_peak_rss_mib": crash_peak}
            rows.append(row)
            print("  " + "  ".join(f"{k}={v:,.2f}" if isinstance(v, float) else f"{k}={v:,}"
                                   for k, v in row.items()), flush=True)
    finally:
        if node.proc is not None and node.proc.poll() is None:
            node.stop(signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    return rows


def table(name: str, rows: list[dict[str, float]]) -> None:
    cols = [("objects", "objects", "{:,.0f}"), ("put_per_s", "PUT/s", "{:,.0f}"),
            ("list_per_s", "list/s", "{:,.0f}"), ("rss_mib", "RSS MiB", "{:.0f}"),
            ("index_b_per_obj", "index B/obj", "{:,.0f}"),
            ("disk_b_per_obj", "disk B/obj (blocks)", "{:,.0f}"),
            ("apparent_b_per_obj", "disk B/obj (apparent)", "{:,.0f}"),
            ("node_start_s", "node start (clean) s", "{:.2f}"),
            ("clean_restart_s", "store open, clean s", "{:.3f}"),
            ("crash_restart_s", "store open after kill -9 s", "{:.3f}"),
            ("crash_peak_rss_mib", "its peak RSS MiB", "{:.0f}")]
    print(f"\n{name}")
    print("| " + " | ".join(h for _, h, _ in cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f.format(r[k]) for k, _, f in cols) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 objects")
    parser.add_argument("--size", type=int, default=4096, help="bytes per object")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--against", type=Path, action="append", default=[],
                        help="another checkout, measured after this one")
    parser.add_argument("--rss-only", action="store_true",
                        help="only the node's RSS under big PUTs, GETs, multipart uploads")
    args = parser.parse_args(argv)
    total = 1_000_000 if args.full else args.objects
    results = []
    for tree in [HERE, *args.against]:
        if not args.rss_only:
            print(f"{tree}: {total:,} objects of {args.size:,} B", flush=True)
            results.append((str(tree), run(tree, total, args.size, args.clients)))
        # after the fill: its ~500 MiB written and removed, still being flushed, slowed the
        # fsync'd small PUTs that followed it (x0.7 in 4 runs here)
        big = big_rss(tree)
        print(f"{tree}: node RSS MiB under big loads (peak is the process's VmHWM so far): "
              + ", ".join(f"{k} {v:.0f}" for k, v in big.items()), flush=True)
    for name, rows in results:
        table(name, rows)


if __name__ == "__main__":
    main()
