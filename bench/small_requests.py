"""A 4 KiB GET (or HEAD) of this tree beside another revision's: what one small request
costs the node, measured three ways, the steadiest last.

    .venv/bin/python -m bench.small_requests --against REV      # wrk, alternating rounds
    ./run bench small --against REV --head --syscalls --instructions

- wrk, 16 connections on one object (open auth, the node's own HTTP server): req/s and
  the node's CPU seconds per 10,000 requests (/proc/PID/stat, threads included), the
  trees alternating round by round; medians and the paired ratios (each round's this /
  other). On a shared machine the wall rate moves +-30 % from run to run; CPU per
  request less, and the paired ratios less again.
- ``--syscalls``: strace -c of every node thread under wrk: system calls per request
  (futex counts the GIL handed between the event loop and the store's worker threads).
- ``--instructions``: the node under valgrind's callgrind, 300 sequential GETs (HEADs
  with ``--head``) on one connection (no wrk): user-space instructions per request -
  load-independent to ~1 %. wrk takes only GETs (a HEAD answer's Content-Length leaves
  it waiting for a body), so with ``--head`` the rounds are 4 Python client threads on
  keep-alive connections (the client's CPU is not the node's: CPU per request holds,
  the rate is the client's), and ``--syscalls`` is refused.
- ``--sigv4``: the node in sigv4 mode and every request signed (header SigV4,
  UNSIGNED-PAYLOAD, one user): wrk repeats one signature made at the start of each
  round (valid for the 15 minutes of allowed skew; the node caches nothing per
  signature, only the derived signing key per day), so each GET is verified in full.
- ``--delete``: DELETEs of 4 KiB objects instead, each key once (bench/small_deletes.py:
  16 client threads; a round fills ``--keys`` objects, unmeasured, then deletes them,
  then runs PUT-then-DELETE pairs); ``--syscalls`` and ``--instructions`` count the
  DELETEs alone.

The other revision is checked out in a temporary git worktree (removed at the end) and
run with the same venv (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.revisions import HERE, checkout
from bench.servers import start_node

TICK = os.sysconf("SC_CLK_TCK")
SEQUENTIAL = 300  # requests of the --instructions run
SIGV4_CONFIG = """
[auth]
mode = "sigv4"
[auth.users.bench]
access_keys = { FAKEKEY = "FAKESECRET" }
"""


@dataclass
class Node:
    proc: subprocess.Popen[bytes]
    url: str  # the object's
    work: Path
    sigv4: bool = False
    rates: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # CPU s per 10,000 requests

    def headers(self, method: str = "GET") -> dict[str, str]:
        """The headers that sign ``method`` of the object now (none in open mode)."""
        if not self.sigv4:
            return {}
        from bench.client import sign

        return sign(method, self.url, {})

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        log = (self.work / "node.log").read_text(errors="replace")
        if "Traceback" in log:
            print(log[-2000:], file=sys.stderr)
        shutil.rmtree(self.work, ignore_errors=True)


def start(tree: Path, wrapper: list[str] | None = None, sigv4: bool = False) -> Node:
    """A node from ``tree`` holding bucket ``bench`` with one 4 KiB object ``obj``."""
    server = start_node(config=SIGV4_CONFIG if sigv4 else None, tree=tree, wrapper=wrapper)
    proc, s3, work = server.proc, server.s3_url, server.workdir
    node = Node(proc, s3 + "/bench/obj", work, sigv4)
    for path, body in (("/bench", b""), ("/bench/obj", os.urandom(4096))):
        headers = Node(proc, s3 + path, work, sigv4).headers("PUT")
        req = urllib.request.Request(s3 + path, data=body, method="PUT", headers=headers)
        urllib.request.urlopen(req, timeout=120).read()
    return node


def callgrind_total(folder: Path) -> int:
    """The instructions counted in every callgrind dump in ``folder`` (callgrind.out and
    callgrind.out.N, one per dump), the folder then removed."""
    total = 0
    for dump in folder.iterdir():
        found = re.search(r"^totals: (\d+)", dump.read_text(errors="replace"), re.M)
        total += int(found.group(1)) if found else 0
    shutil.rmtree(folder, ignore_errors=True)
    return total


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> int:
    """GETs served in ``seconds`` by 16 connections (a non-2xx answer fails)."""
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s",
           *[a for k, v in (headers or {}).items() for a in ("-H", f"{k}: {v}")], url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(out)
    found = re.search(r"(\d+) requests in", out)
    assert found, out
    return int(found.group(1))


def heads(node: Node, seconds: int, clients: int = 4) -> int:
    """HEADs answered in ``seconds`` to ``clients`` Python threads on keep-alive
    connections (wrk cannot send HEADs); a non-200 answer fails."""
    host, port = node.url.split("/")[2].rsplit(":", 1)
    path = "/" + node.url.split("/", 3)[3]
    headers = node.headers("HEAD")
    deadline = time.monotonic() + seconds
    counts = [0] * clients

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            while time.monotonic() < deadline:
                conn.request("HEAD", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"HEAD: {response.status}")
                counts[i] += 1
        finally:
            conn.close()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return sum(counts)


def measure(node: Node, seconds: int, head: bool = False) -> None:
    headers = node.headers()
    before, t = cpu_seconds(node.proc.pid), time.perf_counter()
    n = heads(node, seconds) if head else wrk(node.url, seconds, headers)
    node.rates.append(n / (time.perf_counter() - t))
    node.cpu.append((cpu_seconds(node.proc.pid) - before) / n * 10_000)


def rounds(trees: dict[str, Path], args: argparse.Namespace) -> None:
    nodes: dict[str, Node] = {}
    try:
        for name, tree in trees.items():
            nodes[name] = start(tree, sigv4=args.sigv4)
            wrk(nodes[name].url, 1, nodes[name].headers())  # warm
        for r in range(args.rounds):
            order = list(nodes.values()) if r % 2 == 0 else list(nodes.values())[::-1]
            for node in order:
                measure(node, args.seconds, args.head)
    finally:
        for node in nodes.values():
            node.stop()
    for name, node in nodes.items():
        print(f"{name:>12}: 4 KiB {'HEAD' if args.head else 'GET'} "
              f"{statistics.median(node.rates):6.0f} req/s, "
              f"{statistics.median(node.cpu) * 100:.1f} us node CPU per request "
              f"(median of {args.rounds}{', SigV4' if args.sigv4 else ''})")
    this, other = nodes["this tree"], nodes[args.against]
    rate = statistics.median(a / b for a, b in zip(this.rates, other.rates, strict=True))
    cpu = statistics.median(a / b for a, b in zip(this.cpu, other.cpu, strict=True))
    print(f"this tree / {args.against}, paired by round: rate x{rate:.3f}, CPU per request "
          f"x{cpu:.3f}")


def syscalls(name: str, tree: Path, sigv4: bool) -> None:
    node = start(tree, sigv4=sigv4)
    out = node.work / "strace.txt"
    try:
        wrk(node.url, 1, node.headers())
        tids = os.listdir(f"/proc/{node.proc.pid}/task")
        tracer = subprocess.Popen(["strace", "-f", "-c", "-o", str(out),
                                   *[a for t in tids for a in ("-p", t)]],
                                  stderr=subprocess.DEVNULL)
        time.sleep(1)
        n = wrk(node.url, 5, node.headers())
        tracer.send_signal(2)
        tracer.wait()
        counts = {f[-1]: int(f[3]) for f in (ln.split() for ln in out.read_text().splitlines())
                  if len(f) >= 5 and f[3].isdigit()}
    finally:
        node.stop()
    top = sorted(((c / n, s) for s, c in counts.items() if s != "total"), reverse=True)[:6]
    print(f"{name:>12}: {counts.get('total', 0) / n:.1f} system calls per request ("
          + ", ".join(f"{s} {per:.1f}" for per, s in top) + ")")


def instructions(name: str, tree: Path, head: bool, sigv4: bool) -> None:
    """User-space instructions per request under callgrind (instrumented only while
    the requests run)."""
    out = Path(tempfile.mkdtemp()) / "callgrind.out"
    node = start(tree, ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                        f"--callgrind-out-file={out}"], sigv4)
    host, port = node.url.split("/")[2].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    method = "HEAD" if head else "GET"
    headers = node.headers(method)
    try:
        subprocess.run(["callgrind_control", "-i", "on", str(node.proc.pid)],
                       check=True, capture_output=True)
        for _ in range(SEQUENTIAL):
            conn.request(method, "/s3/bench/obj", headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        subprocess.run(["callgrind_control", "-i", "off", str(node.proc.pid)],
                       check=True, capture_output=True)
    finally:
        conn.close()
        node.stop()
    total = callgrind_total(out.parent)
    print(f"{name:>12}: {total / SEQUENTIAL / 1e6:.3f} M instructions per "
          f"request ({SEQUENTIAL} sequential {method}s)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench small", description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default="HEAD~1", help="git revision (default HEAD~1)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--head", action="store_true",
                    help="HEAD instead of GET (4 Python client threads: wrk cannot)")
    ap.add_argument("--delete", action="store_true",
                    help="DELETEs of 4 KiB objects (each key once) instead of GETs")
    ap.add_argument("--keys", type=int, default=4000, help="objects per --delete round")
    ap.add_argument("--sigv4", action="store_true",
                    help="the node in sigv4 mode, every request signed")
    ap.add_argument("--syscalls", action="store_true", help="also strace -c (strace)")
    ap.add_argument("--instructions", action="store_true", help="also callgrind (valgrind)")
    args = ap.parse_args(argv)
    if args.head and args.syscalls:
        ap.error("--head does not go with --syscalls (wrk answers HEADs badly)")
    for tool in (*([] if args.delete else ["wrk"]), *(["strace"] if args.syscalls else []),
                 *(["valgrind"] if args.instructions else [])):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench small needs {tool}")
    with checkout(args.against) as other:
        trees = {"this tree": HERE, args.against: other}
        if args.delete:
            from .small_deletes import run_deletes

            run_deletes(trees, args, start)
            return
        rounds(trees, args)
        for name, tree in trees.items():
            if args.syscalls:
                syscalls(name, tree, args.sigv4)
            if args.instructions:
                instructions(name, tree, args.head, args.sigv4)


if __name__ == "__main__":
    main()
