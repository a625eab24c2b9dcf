"""``bench sse``: what server-side encryption costs a large object, side by side.

    ./run bench sse [--mib 256] [--rounds 5] [--gets 2] [--against REV]

One node (fsync off: the figures are of the CPU path, not the disk's). Each round PUTs
a ``--mib`` object three ways - plaintext, SSE-S3 (``AES256``), SSE-C - in an order that
rotates round by round, then GETs each ``--gets`` times: the first GET a little over a
second after its PUT (so every chunk copy is old enough to be remembered as verified,
``aisfs/store/verified.py``: that GET reads and hashes them), the later ones served
from copies verified lately (sendfile for plaintext). One keep-alive connection, the
body streamed in 1 MiB pieces and read into a reused buffer. Prints medians of MiB/s,
of the node's CPU ms per MiB (its threads included, from /proc; in parentheses its
event loop's thread alone, the bound where spare cores take the rest) and of this
client's, and the ratios to plaintext (issue 16's target: an SSE-S3 GET of 256 MiB at
>= 70 % of a plaintext one).

``--against REV``: a node of another revision (a temporary git worktree) beside this
tree's, the same rounds on both, alternating.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from bench.client import stamp_piece
from bench.revisions import HERE, checkout
from bench.servers import start_node

MiB = 1024 * 1024
KEY = os.urandom(32)
MODES: dict[str, dict[str, str]] = {
    "plain": {},
    "sse-s3": {"x-amz-server-side-encryption": "AES256"},
    "sse-c": {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
        "x-amz-server-side-encryption-customer-key-md5":
            base64.b64encode(hashlib.md5(KEY).digest()).decode(),
    },
}
READ_HEADERS = {"plain": {}, "sse-s3": {}, "sse-c": MODES["sse-c"]}


def put(conn: http.client.HTTPConnection, path: str, size: int, headers: dict[str, str]
        ) -> float:
    buf = bytearray(os.urandom(MiB))
    piece = memoryview(buf)
    t = time.perf_counter()
    conn.putrequest("PUT", path, skip_accept_encoding=True)
    for name, value in {"Content-Length": str(size), **headers}.items():
        conn.putheader(name, value)
    conn.endheaders()
    left = size
    while left > 0:
        n = min(left, MiB)
        stamp_piece(buf, size - left)  # every MiB its own: plaintext chunks do not dedup
        conn.send(piece[:n])
        left -= n
    resp = conn.getresponse()
    resp.read()
    elapsed = time.perf_counter() - t
    assert resp.status == 200, resp.status
    return size / MiB / elapsed


def get(conn: http.client.HTTPConnection, path: str, size: int, headers: dict[str, str]
        ) -> float:
    buf = bytearray(MiB)
    t = time.perf_counter()
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    total = 0
    while True:
        n = resp.readinto(buf)
        if not n:
            break
        total += n
    elapsed = time.perf_counter() - t
    assert resp.status == 200 and total == size, (resp.status, total)
    return size / MiB / elapsed


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """The node's user + system CPU time (its threads included; of one thread: ``thread``),
    from /proc."""
    with open(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CONFIG = "[store]\nfsync = false\n[s3]\nsse_c_over_http = true\n"
KINDS = ("PUT", "GET first", "GET again")


@dataclass
class Node:
    name: str
    proc: subprocess.Popen[bytes]
    work: Path
    conn: http.client.HTTPConnection
    prefix: str
    rates: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    cpu: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    # the event loop's thread alone: the bound of a GET on an otherwise idle machine
    loop_cpu: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    client_cpu: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def timed(self, kind: str, mode: str, mib: int, call: object) -> None:
        pid = self.proc.pid
        c0, l0, b0 = cpu_seconds(pid), cpu_seconds(pid, pid), time.process_time()
        rate = call()  # type: ignore[operator]
        self.client_cpu.setdefault((kind, mode), []).append(
            (time.process_time() - b0) * 1000 / mib)
        self.rates.setdefault((kind, mode), []).append(rate)
        self.cpu.setdefault((kind, mode), []).append((cpu_seconds(pid) - c0) * 1000 / mib)
        self.loop_cpu.setdefault((kind, mode), []).append(
            (cpu_seconds(pid, pid) - l0) * 1000 / mib)

    def stop(self) -> None:
        self.conn.close()
        self.proc.terminate()
        self.proc.wait()
        log = (self.work / "node.log").read_text(errors="replace")
        if "Traceback" in log:
            print(log[-2000:], file=sys.stderr)
        shutil.rmtree(self.work, ignore_errors=True)


def start(name: str, tree: Path) -> Node:
    """A node of ``tree`` (fsync off, SSE-C allowed over HTTP) with bucket ``ssebench``."""
    server = start_node(config=CONFIG, tree=tree)
    u = urlparse(server.s3_url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=600)
    conn.request("PUT", f"{u.path}/ssebench")
    conn.getresponse().read()
    return Node(name, server.proc, server.workdir, conn, f"{u.path}/ssebench")


def one_round(nodes: list[Node], order: list[str], r: int, args: argparse.Namespace) -> None:
    size = args.mib * MiB
    for node in nodes:
        for mode in order:
            path = f"{node.prefix}/{mode}-{r}"
            node.timed("PUT", mode, args.mib,
                       lambda: put(node.conn, path, size, MODES[mode]))  # noqa: B023
    time.sleep(1.2)  # every chunk older than verified.py's racy window
    for g in range(args.gets):
        for node in nodes:
            for mode in order:
                path = f"{node.prefix}/{mode}-{r}"
                node.timed("GET first" if g == 0 else "GET again", mode, args.mib,
                           lambda: get(node.conn, path, size, READ_HEADERS[mode]))  # noqa: B023
        nodes = nodes[::-1]
    for node in nodes:  # the disks hold one round's objects at most
        for mode in order:
            node.conn.request("DELETE", f"{node.prefix}/{mode}-{r}")
            node.conn.getresponse().read()


def report(nodes: list[Node], args: argparse.Namespace) -> None:
    med = statistics.median
    print(f"\n{args.mib} MiB objects, {args.rounds} rounds, medians: MiB/s (of plaintext's),"
          " node CPU ms/MiB (of which its event loop's thread); the client's CPU ms/MiB")
    for node in nodes:
        print(f"{node.name}:")
        for kind in KINDS:
            if (kind, "plain") not in node.rates:
                continue
            base = med(node.rates[(kind, "plain")])
            print(f"  {kind:9s}" + "  ".join(
                f"{mode} {med(node.rates[(kind, mode)]):5.0f} "
                f"({med(node.rates[(kind, mode)]) / base:4.0%}) "
                f"{med(node.cpu[(kind, mode)]):4.2f} ({med(node.loop_cpu[(kind, mode)]):4.2f}) "
                f"{med(node.client_cpu[(kind, mode)]):4.2f} ms" for mode in MODES))


def run(trees: dict[str, Path], args: argparse.Namespace) -> None:
    nodes = [start(name, tree) for name, tree in trees.items()]
    try:
        order = list(MODES)
        for r in range(args.rounds):
            one_round(nodes, order, r, args)
            print(f"round {r + 1}: " + "  ".join(
                f"{n.name} {m} GET {n.rates[('GET first', m)][-1]:.0f}"
                + (f"/{n.rates[('GET again', m)][-1]:.0f}" if args.gets > 1 else "")
                for n in nodes for m in order) + " MiB/s", flush=True)
            order = order[1:] + order[:1]
            nodes = nodes[::-1]
    finally:
        for node in nodes:
            node.stop()
    report(sorted(nodes, key=lambda n: n.name != "this tree"), args)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="bench sse")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--gets", type=int, default=2, help="GETs of each object (>= 1)")
    ap.add_argument("--against", help="also a node of this git revision, side by side")
    args = ap.parse_args(argv)
    args.gets = max(1, args.gets)
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
    if not args.against:
        run({"this tree": HERE}, args)
    else:
        with checkout(args.against) as other:
            run({"this tree": HERE, args.against: other}, args)
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
