"""``bench sse``: what server-side encryption costs a large object, side by side.

    ./run bench sse [--mib 256] [--rounds 5]

One node (fsync off: the figures are of the CPU path, not the disk's). Each round PUTs
and then GETs a ``--mib`` object three ways - plaintext, SSE-S3 (``AES256``), SSE-C -
in an order that rotates round by round, one keep-alive connection, the body streamed
in 1 MiB pieces and read into a reused buffer. Prints the median MiB/s of each and the
ratios to plaintext (issue 16's target: an SSE-S3 GET of 256 MiB at >= 70 % of a
plaintext one).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import os
import statistics
import time
from urllib.parse import urlparse

from bench.client import stamp_piece
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


def cpu_seconds(pid: int) -> float:
    """The node's user + system CPU time (its threads included), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="bench sse")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    size = args.mib * MiB
    server = start_node(config="[store]\nfsync = false\n[s3]\nsse_c_over_http = true\n")
    try:
        u = urlparse(server.s3_url)
        conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=600)
        conn.request("PUT", f"{u.path}/ssebench")
        conn.getresponse().read()
        puts: dict[str, list[float]] = {m: [] for m in MODES}
        gets: dict[str, list[float]] = {m: [] for m in MODES}
        # node CPU ms per MiB: steadier than MiB/s on a machine shared with other work
        put_cpu: dict[str, list[float]] = {m: [] for m in MODES}
        get_cpu: dict[str, list[float]] = {m: [] for m in MODES}
        pid = server.proc.pid
        order = list(MODES)
        for r in range(args.rounds):
            for mode in order:
                path = f"{u.path}/ssebench/{mode}-{r}"
                c0 = cpu_seconds(pid)
                puts[mode].append(put(conn, path, size, MODES[mode]))
                c1 = cpu_seconds(pid)
                gets[mode].append(get(conn, path, size, READ_HEADERS[mode]))
                c2 = cpu_seconds(pid)
                put_cpu[mode].append((c1 - c0) * 1000 / args.mib)
                get_cpu[mode].append((c2 - c1) * 1000 / args.mib)
            print(f"round {r + 1}: " + "  ".join(
                f"{m} PUT {puts[m][-1]:.0f} GET {gets[m][-1]:.0f} MiB/s" for m in order),
                flush=True)
            order = order[1:] + order[:1]
        conn.close()
    finally:
        server.stop()
    print(f"\n{args.mib} MiB objects, {args.rounds} rounds, medians: MiB/s (of plaintext's),"
          " node CPU ms/MiB")
    med = statistics.median
    base_put, base_get = med(puts["plain"]), med(gets["plain"])
    for mode in MODES:
        p, g = med(puts[mode]), med(gets[mode])
        print(f"  {mode:7s} PUT {p:6.0f} ({p / base_put:4.0%}) {med(put_cpu[mode]):5.2f} ms"
              f"   GET {g:6.0f} ({g / base_get:4.0%}) {med(get_cpu[mode]):5.2f} ms")
