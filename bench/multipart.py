"""``python -m bench multipart``: a 256 MiB multipart upload (8 MiB parts, 4 in flight)
beside a single 256 MiB PUT, a 64 MiB PUT and the disk's own write+fsync rate, measured
in one run on one node (SigV4 on, 2 mountpaths).

A round runs the four in turn (the order rotating round by round); each object is
deleted after it is measured. The disk's rate: the same bytes written to one file beside
the node's mountpaths in 8 MiB writes, then fsynced. Printed: the median MiB/s of each,
and the median of each round's ratios (multipart / disk, PUT / disk, multipart / PUT), and
the node's CPU seconds per GiB (/proc: on a busy shared machine the steadier figure).
``--tree DIR``: a second node run from another checkout, its PUT and multipart measured in
the same rounds (paired ratios this / that).
Every part and every 1 MiB piece is stamped unlike the others: nothing deduplicates.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree

from bench.client import PIECE, Conn, sign, stamp_piece, thread_conn
from bench.servers import Server, start_node
from bench.small_requests import cpu_seconds

MiB = 1024 * 1024
SIGV4 = '[auth]\nmode = "sigv4"\naccess_keys = { FAKEKEY = "FAKESECRET" }\n'
NS = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def disk_rate(server: Server, total: int) -> float:
    """MiB/s of ``total`` bytes written to one file (8 MiB writes) and fsynced."""
    path = server.workdir / "disk-probe"
    buf = bytearray(os.urandom(8 * MiB))
    t = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for off in range(0, total, len(buf)):
            stamp_piece(buf, off)
            os.write(fd, buf)
        os.fsync(fd)
    finally:
        os.close(fd)
    secs = time.perf_counter() - t
    os.unlink(path)
    return total / MiB / secs


def put_rate(server: Server, total: int) -> float:
    c = Conn(server.s3_url)
    try:
        t = time.perf_counter()
        status = c.put_stream("mpu", "single", total, bytes(PIECE))
        secs = time.perf_counter() - t
        assert status == 200, status
        c.request("DELETE", c.path("mpu", "single"))
    finally:
        c.close()
    return total / MiB / secs


def _put_part(url: str, upload_id: str, n: int, piece: bytes) -> str:
    cc = thread_conn(url)
    path = cc.path("mpu", "big", f"partNumber={n}&uploadId={upload_id}")
    cc.conn.putrequest("PUT", path, skip_accept_encoding=True)
    for k, v in sign("PUT", f"http://{cc.host}:{cc.port}{path}",
                     {"Content-Length": str(len(piece))}).items():
        cc.conn.putheader(k, v)
    cc.conn.endheaders()
    body = bytearray(piece)
    for off in range(0, len(body), PIECE):  # every MiB of every part its own bytes
        body[off:off + 8] = (n << 40 | off).to_bytes(8, "little")
    cc.conn.send(body)
    resp = cc.conn.getresponse()
    resp.read()
    assert resp.status == 200, resp.status
    return str(resp.getheader("ETag"))


def multipart_rate(server: Server, total: int, part: int, inflight: int,
                   completes: list[float] | None = None) -> float:
    """MiB/s from CreateMultipartUpload to the answer of CompleteMultipartUpload (the
    seconds of that CompleteMultipartUpload appended to ``completes``)."""
    c = Conn(server.s3_url)
    piece = bytes(part)
    try:
        t = time.perf_counter()
        status, data = c.request("POST", c.path("mpu", "big", "uploads"))
        assert status == 200, data[:300]
        upload_id = ElementTree.fromstring(data.decode().replace(NS, "")).findtext("UploadId")
        assert upload_id
        numbers = list(range(1, total // part + 1))
        with ThreadPoolExecutor(inflight) as pool:
            etags = list(pool.map(
                lambda n: _put_part(server.s3_url, upload_id, n, piece), numbers))
        body = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
            for n, e in zip(numbers, etags, strict=True)
        ) + "</CompleteMultipartUpload>"
        tc = time.perf_counter()
        status, data = c.request("POST", c.path("mpu", "big", f"uploadId={upload_id}"),
                                 body=body.encode())
        secs = time.perf_counter() - t
        if completes is not None:
            completes.append(time.perf_counter() - tc)
        assert status == 200 and b"<ETag>" in data, data[:300]
        c.request("DELETE", c.path("mpu", "big"))
    finally:
        c.close()
    return total / MiB / secs


def _start(tree: str | None) -> Server:
    """A node (SigV4) from this tree, or from the checkout ``tree``: run in it, on its
    PYTHONPATH (``python -m aisfs`` puts its working directory first on sys.path: with
    PYTHONPATH alone, a bench run from this checkout ran this checkout's node twice)."""
    return start_node(config=SIGV4, tree=Path(tree) if tree is not None else None)


def _measure(server: Server, name: str, fn: Callable[[], float], size: int,
             rates: dict[str, list[float]], cpu: dict[str, list[float]]) -> None:
    before = cpu_seconds(server.proc.pid)
    rates.setdefault(name, []).append(fn())
    cpu.setdefault(name, []).append((cpu_seconds(server.proc.pid) - before) / size * 1024 * MiB)


def _report(rates: dict[str, list[float]], cpu: dict[str, list[float]],
            labels: dict[str, str]) -> None:
    med = statistics.median
    for name, label in labels.items():
        if name in rates:
            print(f"{label:>48}: {med(rates[name]):6.0f} MiB/s  "
                  f"({', '.join(f'{v:.0f}' for v in rates[name])})"
                  + (f", node CPU {med(cpu[name]):.2f} s/GiB" if name in cpu else ""))

    def ratio(a: str, b: str) -> str:
        if a not in rates or b not in rates:
            return "-"
        return f"x{med(x / y for x, y in zip(rates[a], rates[b], strict=True)):.2f}"

    print(f"paired by round (medians): multipart/disk {ratio('multipart', 'disk')}, "
          f"PUT/disk {ratio('put', 'disk')}, PUT 64/disk {ratio('put64', 'disk')}, "
          f"multipart/PUT {ratio('multipart', 'put')}; beside --tree: multipart "
          f"{ratio('multipart', 'tree multipart')}, PUT {ratio('put', 'tree put')}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench multipart", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=256, help="object size (MiB)")
    ap.add_argument("--part-mib", type=int, default=8)
    ap.add_argument("--inflight", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tree", help="another checkout: its node's PUT and multipart beside")
    args = ap.parse_args(argv)
    total, part = args.mib * MiB, args.part_mib * MiB
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    servers = {"": _start(None)}
    if args.tree:
        servers["tree "] = _start(args.tree)
    runs: list[tuple[str, Server, Callable[[], float], int]] = []
    completes: dict[str, list[float]] = {}
    for prefix, srv in servers.items():
        runs += [
            (prefix + "put", srv, functools.partial(put_rate, srv, total), total),
            (prefix + "multipart", srv,
             functools.partial(multipart_rate, srv, total, part, args.inflight,
                               completes.setdefault(prefix, [])), total),
        ]
    here = servers[""]
    runs += [("disk", here, functools.partial(disk_rate, here, total), total),
             ("put64", here, functools.partial(put_rate, here, 64 * MiB), 64 * MiB)]
    rates: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    try:
        for srv in servers.values():
            c = Conn(srv.s3_url)
            c.request("PUT", c.path("mpu"))
            c.close()
            multipart_rate(srv, 64 * MiB, part, args.inflight)  # warm: threads, connections
        for r in range(args.rounds):
            k = r % len(runs)
            for name, srv, fn, size in runs[k:] + runs[:k]:
                _measure(srv, name, fn, size, rates, cpu)
    finally:
        for srv in servers.values():
            srv.stop()
    cpu.pop("disk", None)
    parts = f"{args.part_mib} MiB parts x{args.inflight}"
    _report(rates, cpu, {
        "disk": f"disk write+fsync {args.mib} MiB", "put": f"PUT {args.mib} MiB",
        "put64": "PUT 64 MiB", "multipart": f"multipart {args.mib} MiB, {parts}",
        "tree put": f"--tree: PUT {args.mib} MiB",
        "tree multipart": f"--tree: multipart {args.mib} MiB, {parts}",
    })
    print("CompleteMultipartUpload, median ms: " + ", ".join(
        f"{p or 'this '}{statistics.median(v) * 1000:.1f}" for p, v in completes.items()))
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
