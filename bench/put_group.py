"""4 KiB PUTs (new keys, fsync on) from 16 client threads, this tree beside another
revision's, with the disk's durable write+fsync+rename limit measured in the same rounds.

    .venv/bin/python -m bench.put_group --against REV [--rounds 4] [--keys 3000] [--sigv4]
        [--instructions N]

A round, the trees alternating round by round: first the disk alone, on the file
system of the nodes' mountpaths: ``--keys`` / 2 files written one at a time by one
thread (4 KiB, fsync, rename into a directory: the "durable write+fsync+rename limit"
of issue 14) and the same plus the directory's fsync; then, per tree, ``--keys`` new
4 KiB objects PUT by 16 threads on keep-alive connections (PUT/s and the node's CPU
per PUT; with ``--sigv4`` every PUT signed before the timed phase, UNSIGNED-PAYLOAD, or
with ``--payload-sha256`` the body's SHA-256, as an SDK over plain HTTP).
Medians, and the paired per-round ratios. ``--instructions N`` (``--rounds 0`` for it
alone): each tree's node under callgrind, N PUTs from 16 clients, user-space
instructions per PUT (all node threads; the steadiest figure on a shared machine).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .revisions import HERE, checkout
from .small_deletes import BODY, _parallel
from .small_requests import Node, callgrind_total, cpu_seconds, start


def _put(signed: dict[str, dict[str, str]]) -> Any:
    def put(conn: http.client.HTTPConnection, key: str) -> None:
        path = f"/s3/bench/{key}"
        conn.request("PUT", path, body=BODY, headers=signed.get(key, {}))
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"PUT {path}: {response.status}")

    return put


def _signed(node: Node, keys: list[str], sigv4: bool,
            payload: bool = False) -> dict[str, dict[str, str]]:
    """Each key's PUT signed before the timed phase (a signature is good for 15 minutes):
    the client's botocore signing (~0.2 ms of CPU a request, on the cores the node
    shares) is not measured beside the node. ``payload``: the body's SHA-256 signed
    (x-amz-content-sha256, as an SDK sends over plain HTTP), which the node must check."""
    if not sigv4:
        return {}
    base = node.url.rsplit("/s3/", 1)[0]
    if not payload:
        from bench.client import sign

        return {key: sign("PUT", f"{base}/s3/bench/{key}", {}) for key in keys}
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials("FAKEKEY", "FAKESECRET"), "s3", "us-east-1")
    digest = hashlib.sha256(BODY).hexdigest()
    out = {}
    for key in keys:
        request = AWSRequest(method="PUT", url=f"{base}/s3/bench/{key}", data=BODY,
                             headers={"x-amz-content-sha256": digest})
        signer.add_auth(request)
        out[key] = dict(request.headers.items())
    return out


def disk_limit(where: Path, n: int, dir_fsync: bool) -> float:
    """Files/s written one at a time: 4 KiB, fsync, rename (and the directory's fsync)."""
    d = where / "limit"
    d.mkdir(exist_ok=True)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    t = time.perf_counter()
    try:
        for i in range(n):
            tmp = d / f".t{i}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, BODY)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, d / f"f{i}")
            if dir_fsync:
                os.fsync(dfd)
    finally:
        os.close(dfd)
    secs = time.perf_counter() - t
    shutil.rmtree(d, ignore_errors=True)
    return n / secs


class Rates:
    def __init__(self) -> None:
        self.put: list[float] = []
        self.cpu: list[float] = []  # node CPU us per PUT


def one_round(node: Node, rates: Rates, n: int, tag: str, sigv4: bool,
              payload: bool = False) -> None:
    keys = [f"{tag}-{i}" for i in range(n)]
    put = _put(_signed(node, keys, sigv4, payload))
    before = cpu_seconds(node.proc.pid)
    secs = _parallel(node, keys, put)
    rates.put.append(n / secs)
    rates.cpu.append((cpu_seconds(node.proc.pid) - before) / n * 1e6)


def rounds(trees: dict[str, Path], args: argparse.Namespace) -> None:
    nodes: dict[str, Node] = {}
    rates = {name: Rates() for name in trees}
    limit: list[float] = []
    limit_dir: list[float] = []
    try:
        for name, tree in trees.items():
            nodes[name] = start(tree, sigv4=args.sigv4)
            one_round(nodes[name], Rates(), 200, "warm", args.sigv4)
        work = Path(tempfile.mkdtemp(prefix="aisfs-limit-"))
        for r in range(args.rounds):
            time.sleep(2)  # the last round's writeback settles: the disk measured alone
            limit.append(disk_limit(work, args.keys // 2, dir_fsync=False))
            limit_dir.append(disk_limit(work, args.keys // 2, dir_fsync=True))
            names = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for name in names:
                one_round(nodes[name], rates[name], args.keys, f"r{r}", args.sigv4,
                          args.payload_sha256)
    finally:
        for node in nodes.values():
            node.stop()
    med = statistics.median
    auth = ("SigV4, payload SHA-256" if args.payload_sha256 else "SigV4") if args.sigv4 \
        else "open auth"
    for name, rt in rates.items():
        ratios = [p / lim for p, lim in zip(rt.put, limit, strict=True)]
        print(f"{name:>12}: 4 KiB PUT {med(rt.put):6.0f}/s ({auth}, 16 clients), "
              f"{med(rt.cpu):5.0f} us node CPU per PUT; PUT / limit x{med(ratios):.2f} "
              f"(median of {args.rounds}; rounds: "
              + " ".join(f"{p:.0f}" for p in rt.put) + ")")
    print(f"disk limit (one thread, measured alone at the start of each round): "
          f"write+fsync+rename {med(limit):5.0f}/s, +dir fsync {med(limit_dir):5.0f}/s")
    this, other = rates["this tree"], rates[args.against]
    ratio = med(a / b for a, b in zip(this.put, other.put, strict=True))
    cpu = med(a / b for a, b in zip(this.cpu, other.cpu, strict=True))
    print(f"this tree / {args.against}, paired by round: PUT/s x{ratio:.3f}, CPU per PUT "
          f"x{cpu:.3f}")


def instructions(name: str, tree: Path, n: int, sigv4: bool, payload: bool) -> None:
    """User-space instructions per PUT, every node thread's, under callgrind
    (instrumented only while ``n`` PUTs from 16 clients run): load-independent to a few
    per cent (the batches' sizes follow valgrind's thread scheduling)."""
    out = Path(tempfile.mkdtemp()) / "callgrind.out"
    node = start(tree, ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                        f"--callgrind-out-file={out}"], sigv4)
    try:
        one_round(node, Rates(), 100, "warm", sigv4)
        keys = [f"i-{i}" for i in range(n)]
        put = _put(_signed(node, keys, sigv4, payload))
        subprocess.run(["callgrind_control", "-i", "on", str(node.proc.pid)],
                       check=True, capture_output=True)
        _parallel(node, keys, put)
        subprocess.run(["callgrind_control", "-i", "off", str(node.proc.pid)],
                       check=True, capture_output=True)
    finally:
        node.stop()
    total = callgrind_total(out.parent)
    print(f"{name:>12}: {total / n / 1e6:.3f} M instructions per PUT ({n} PUTs, 16 clients"
          f"{', SigV4' if sigv4 else ''})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench put_group", description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default="HEAD~1", help="git revision (default HEAD~1)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--keys", type=int, default=3000, help="PUTs per round")
    ap.add_argument("--sigv4", action="store_true", help="the node in sigv4 mode, signed")
    ap.add_argument("--payload-sha256", action="store_true",
                    help="with --sigv4: each body's SHA-256 signed (else UNSIGNED-PAYLOAD)")
    ap.add_argument("--instructions", type=int, default=0, metavar="N",
                    help="also N PUTs per tree under callgrind: instructions per PUT")
    args = ap.parse_args(argv)
    with checkout(args.against) as other:
        trees = {"this tree": HERE, args.against: other}
        if args.rounds > 0:
            rounds(trees, args)
        for name, tree in trees.items() if args.instructions else ():
            instructions(name, tree, args.instructions, args.sigv4, args.payload_sha256)


if __name__ == "__main__":
    main()
