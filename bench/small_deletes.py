"""``bench small --delete``: DELETEs of 4 KiB (inline) objects through S3, each key once,
16 client threads on keep-alive connections, this tree beside another revision's.

A round, per tree (the trees alternating round by round): ``--keys`` objects PUT
(unmeasured), then DELETEd (rate, node CPU per DELETE), then PUT-then-DELETE pairs of
new keys (pairs/s). ``--syscalls``: strace -c of every node thread during the DELETEs
(system calls per DELETE); ``--instructions``: the node under callgrind, 300 sequential
DELETEs on one connection (user-space instructions per DELETE).
"""

from __future__ import annotations

import argparse
import functools
import http.client
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CLIENTS = 16
BODY = os.urandom(4096)
SEQUENTIAL = 300


class _Conn(http.client.HTTPConnection):
    """A keep-alive connection that signs each request (SigV4) when its node asks it."""

    def __init__(self, host: str, port: int, sigv4: bool) -> None:
        super().__init__(host, port, timeout=120)
        self.sigv4 = sigv4


def _conn(node: Any) -> _Conn:
    host, port = node.url.split("/")[2].rsplit(":", 1)
    return _Conn(host, int(port), bool(getattr(node, "sigv4", False)))


# signatures made before a timed phase (a signature is good for 15 minutes): the
# client's botocore signing (~0.2 ms of CPU per request) is not measured beside the node
_SIGNED: dict[tuple[str, str], dict[str, str]] = {}


def _presign(node: Any, method: str, paths: list[str]) -> None:
    if getattr(node, "sigv4", False):
        from bench.client import sign

        base = "/".join(node.url.split("/")[:3])
        for path in paths:
            _SIGNED[(method, path)] = sign(method, base + path, {})


def _send(conn: _Conn, method: str, path: str, want: int) -> None:
    headers = _SIGNED.pop((method, path), {})
    if conn.sigv4 and not headers:
        from bench.client import sign

        headers = sign(method, f"http://{conn.host}:{conn.port}{path}", {})
    conn.request(method, path, body=BODY if method == "PUT" else None, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != want:
        raise RuntimeError(f"{method} {path}: {response.status}")


def _parallel(node: Any, keys: list[str], step: Callable[..., None]) -> float:
    """``step(conn, key)`` for every key from CLIENTS threads; the seconds taken."""
    lock = threading.Lock()
    it: Iterator[str] = iter(keys)
    errors: list[BaseException] = []

    def work() -> None:
        conn = _conn(node)
        try:
            while True:
                with lock:
                    key = next(it, None)
                if key is None:
                    return
                step(conn, key)
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t


def _put(conn: _Conn, key: str) -> None:
    _send(conn, "PUT", f"/s3/bench/{key}", 200)


def _delete(conn: _Conn, key: str) -> None:
    _send(conn, "DELETE", f"/s3/bench/{key}", 204)


def _pair(conn: _Conn, key: str) -> None:
    _put(conn, key)
    _delete(conn, key)


class Rates:
    def __init__(self) -> None:
        self.delete: list[float] = []
        self.cpu: list[float] = []  # node CPU s per 10,000 DELETEs
        self.pairs: list[float] = []


def one_round(node: Any, rates: Rates, n: int, tag: str) -> None:
    from .small_requests import cpu_seconds

    keys = [f"{tag}-{i}" for i in range(n)]
    _parallel(node, keys, _put)
    _presign(node, "DELETE", [f"/s3/bench/{key}" for key in keys])
    before = cpu_seconds(node.proc.pid)
    secs = _parallel(node, keys, _delete)
    rates.delete.append(n / secs)
    rates.cpu.append((cpu_seconds(node.proc.pid) - before) / n * 10_000)
    pairs = [f"{tag}-p{i}" for i in range(n // 4)]
    rates.pairs.append(len(pairs) / _parallel(node, pairs, _pair))


def rounds(trees: dict[str, Path], args: argparse.Namespace, start: Callable[..., Any]) -> None:
    nodes: dict[str, Any] = {}
    rates = {name: Rates() for name in trees}
    try:
        for name, tree in trees.items():
            nodes[name] = start(tree)
            one_round(nodes[name], Rates(), 200, "warm")
        for r in range(args.rounds):
            names = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for name in names:
                one_round(nodes[name], rates[name], args.keys, f"r{r}")
    finally:
        for node in nodes.values():
            node.stop()
    med = statistics.median
    for name, rt in rates.items():
        print(f"{name:>12}: 4 KiB DELETE {med(rt.delete):6.0f}/s, {med(rt.cpu):.2f} CPU s "
              f"per 10,000; PUT+DELETE pairs {med(rt.pairs):5.0f}/s (median of {args.rounds})")
    if args.against not in rates:
        return
    this, other = rates["this tree"], rates[args.against]
    ratio = med(a / b for a, b in zip(this.delete, other.delete, strict=True))
    pairs = med(a / b for a, b in zip(this.pairs, other.pairs, strict=True))
    print(f"this tree / {args.against}, paired by round: DELETE x{ratio:.3f}, pairs "
          f"x{pairs:.3f}")


def syscalls(name: str, tree: Path, args: argparse.Namespace, start: Callable[..., Any]) -> None:
    node = start(tree)
    out = node.work / "strace.txt"
    try:
        keys = [f"s-{i}" for i in range(args.keys)]
        _parallel(node, keys, _put)
        tids = os.listdir(f"/proc/{node.proc.pid}/task")
        tracer = subprocess.Popen(["strace", "-f", "-c", "-o", str(out),
                                   *[a for t in tids for a in ("-p", t)]],
                                  stderr=subprocess.DEVNULL)
        time.sleep(1)
        _parallel(node, keys, _delete)
        tracer.send_signal(2)
        tracer.wait()
        counts = {f[-1]: int(f[3]) for f in (ln.split() for ln in out.read_text().splitlines())
                  if len(f) >= 5 and f[3].isdigit()}
    finally:
        node.stop()
    n = len(keys)
    top = sorted(((c / n, s) for s, c in counts.items() if s != "total"), reverse=True)[:8]
    print(f"{name:>12}: {counts.get('total', 0) / n:.1f} system calls per DELETE ("
          + ", ".join(f"{s} {per:.2f}" for per, s in top) + ")")


def instructions(name: str, tree: Path, start: Callable[..., Any]) -> None:
    out = Path(tempfile.mkdtemp()) / "callgrind.out"
    node = start(tree, ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                        f"--callgrind-out-file={out}"])
    conn = _conn(node)
    try:
        keys = [f"i-{i}" for i in range(SEQUENTIAL)]
        for key in keys:
            _put(conn, key)
        subprocess.run(["callgrind_control", "-i", "on", str(node.proc.pid)],
                       check=True, capture_output=True)
        for key in keys:
            _delete(conn, key)
        subprocess.run(["callgrind_control", "-i", "off", str(node.proc.pid)],
                       check=True, capture_output=True)
    finally:
        conn.close()
        node.stop()
    total = 0
    for dump in out.parent.iterdir():
        found = re.search(r"^totals: (\d+)", dump.read_text(errors="replace"), re.M)
        total += int(found.group(1)) if found else 0
    shutil.rmtree(out.parent, ignore_errors=True)
    print(f"{name:>12}: {total / SEQUENTIAL / 1e6:.3f} M instructions per DELETE "
          f"({SEQUENTIAL} sequential)")


def run_deletes(trees: dict[str, Path], args: argparse.Namespace,
                start: Callable[..., Any]) -> None:
    if args.sigv4:
        start = functools.partial(start, sigv4=True)
    rounds(trees, args, start)
    for name, tree in trees.items():
        if args.syscalls:
            syscalls(name, tree, args, start)
        if args.instructions:
            instructions(name, tree, start)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench small_deletes [--tree DIR]``: this tree alone, or beside the
    checkout in DIR (no git worktree made); SigV4 on unless ``--open``."""
    from .revisions import HERE
    from .small_requests import start

    ap = argparse.ArgumentParser(prog="bench small_deletes", description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, help="another checkout to run beside this tree")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keys", type=int, default=3000, help="objects per round")
    ap.add_argument("--open", action="store_true", help="open auth (default: SigV4)")
    ap.add_argument("--syscalls", action="store_true", help="also strace -c (strace)")
    args = ap.parse_args(argv)
    args.sigv4, args.instructions = not args.open, False
    args.against = str(args.tree) if args.tree else ""
    trees = {"this tree": HERE, **({args.against: args.tree} if args.tree else {})}
    run_deletes(trees, args, start)
