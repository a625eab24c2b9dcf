"""A cold GET's relay step alone: backend socket -> client socket + chunk files + hashes.

    .venv/bin/python -m bench.relay_splice [--mib 256] [--rounds 5] [--variants a,b,c]

No node, no event loop: a sender process serves a page-cached file over loopback TCP with
``sendfile`` (as an aisfs backend does), a receiver process drains it into one buffer (a
client), and this process relays the bytes between them the ways a front could, with
blocking sockets, each byte also written into 8 MiB chunk files (fdatasynced) and hashed
twice (xxh3-128, the chunk id; xxh3-64, the bucket's checksum, in one sliced pass). What
each way costs the relay, CPU seconds per GiB (``getrusage``: user + system, every
thread), is the floor of what the front's fill can cost - the event loop, the store's
pipeline and the HTTP server come on top. Variants (alternating rounds, medians):

- ``recv``: today's path - ``recv_into`` an aligned 8 MiB buffer (``SO_RCVLOWAT`` 1 MiB),
  ``sendall`` it to the client, O_DIRECT write of the chunk, both hashes over the buffer.
- ``recvbig``: the same with 4 MiB socket buffers (``SO_RCVBUF``/``SO_SNDBUF``) and
  ``SO_RCVLOWAT`` 4 MiB: fewer, larger receives and sends.
- ``recv-SKIP``: ``recv`` without the steps SKIP names (``hash``, ``write``, ``send``,
  joined by ``+``): what each step costs; ``fine``: each receive sent and hashed at once
  (``fineh``: hashed only, ``finex``: sent only), the chunk written once whole;
  ``lowat256k``, ``lowat512k``, ``lowat2m``: another ``SO_RCVLOWAT``.
- ``tee``: ``splice`` socket -> pipe, ``tee`` pipe -> pipe, ``splice`` one to the client and
  the other into the chunk file (the page cache), hashes over the file's pages (``mmap``)
  once the chunk is whole, then ``fdatasync``.
- ``sendfile``: ``splice`` socket -> pipe -> chunk file, ``sendfile`` the chunk's range to
  the client, hashes over its pages (``mmap``), ``fdatasync``.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import mmap
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import xxhash

MiB = 1024 * 1024
CHUNK = 8 * MiB
SLICE = 256 * 1024
PIPE = 1 * MiB
F_SETPIPE_SZ = 1031
SPLICE_F_MOVE = 1
_libc = ctypes.CDLL(None, use_errno=True)
_libc.tee.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
_libc.tee.restype = ctypes.c_ssize_t


def tee(fd_in: int, fd_out: int, n: int) -> int:
    k = int(_libc.tee(fd_in, fd_out, n, 0))
    if k < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return k


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def hash_view(view: memoryview | bytes | mmap.mmap) -> tuple[str, int]:
    h128, h64 = xxhash.xxh3_128(), xxhash.xxh3_64()
    mv = memoryview(view)
    for i in range(0, len(mv), SLICE):
        s = mv[i:i + SLICE]
        h128.update(s)
        h64.update(s)
    mv.release()
    return h128.hexdigest(), h64.intdigest()


def aligned(n: int) -> memoryview:
    raw = mmap.mmap(-1, n)
    return memoryview(raw)


def sender_main(path: str, port: int) -> None:
    srv = socket.create_server(("127.0.0.1", port))
    while True:
        c, _ = srv.accept()
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            off = 0
            while off < size:
                off += os.sendfile(c.fileno(), f.fileno(), off, size - off)
        c.close()


def receiver_main(port: int) -> None:
    srv = socket.create_server(("127.0.0.1", port))
    buf = bytearray(4 * MiB)
    while True:
        c, _ = srv.accept()
        total = 0
        while True:
            k = c.recv_into(buf)
            if not k:
                break
            total += k
        c.sendall(str(total).encode())
        c.close()


def relay_recv(src: socket.socket, dst: socket.socket, size: int, work: Path,
               big: bool, skip: str = "") -> list[str]:
    if big:
        for s, opt in ((src, socket.SO_RCVBUF), (dst, socket.SO_SNDBUF)):
            s.setsockopt(socket.SOL_SOCKET, opt, 4 * MiB)
    lowat = (4 if big else 1) * MiB
    for w in ("256k", "512k", "2m"):  # "lowatN": another SO_RCVLOWAT
        if "lowat" + w in skip:
            lowat = int(w[:-1]) * (MiB if w.endswith("m") else 1024)
    src.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, lowat)
    bufs = [aligned(CHUNK) for _ in range(2)]
    ids = []
    left, i = size, 0
    while left:
        n = min(CHUNK, left)
        view = bufs[i % 2][:n]
        got = 0
        fine = "fine" in skip  # "fineh": the hash only, "finex": the send only
        fine_send = fine and "fineh" not in skip
        fine_hash = fine and "finex" not in skip
        h128, h64 = xxhash.xxh3_128(), xxhash.xxh3_64()
        while got < n:
            if n - got < MiB:
                src.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
            k = src.recv_into(view[got:])
            if not k:
                raise EOFError
            if fine:  # sent and hashed while it is in the CPU's cache
                part = view[got:got + k]
                if fine_send:
                    dst.sendall(part)
                if fine_hash:
                    h128.update(part)
                    h64.update(part)
            got += k
        if not fine_send and "send" not in skip:
            dst.sendall(view)
        cid = h128.hexdigest() if fine_hash else "" if "hash" in skip else hash_view(view)[0]
        if "write" in skip:
            ids.append(cid)
            left -= n
            i += 1
            continue
        fd = os.open(work / f"c{i}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
        try:
            os.write(fd, view)  # n is a multiple of 4 KiB here
            os.fdatasync(fd)
        finally:
            os.close(fd)
        if "sf" in skip:  # the client's bytes from the chunk file, once written
            fd = os.open(work / f"c{i}", os.O_RDONLY)
            try:
                off = 0
                while off < n:
                    off += os.sendfile(dst.fileno(), fd, off, n - off)
            finally:
                os.close(fd)
        ids.append(cid)
        left -= n
        i += 1
    return ids


def _pipe() -> tuple[int, int]:
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, PIPE)
    return r, w


def _splice_all(src: int, dst: int, n: int, off_dst: int | None = None) -> None:
    while n:
        k = os.splice(src, dst, n, offset_dst=off_dst, flags=SPLICE_F_MOVE)
        if not k:
            raise EOFError
        n -= k
        if off_dst is not None:
            off_dst += k


def relay_splice(src: socket.socket, dst: socket.socket, size: int, work: Path,
                 mode: str) -> list[str]:
    (r1, w1), (r2, w2) = _pipe(), _pipe()
    buf = aligned(CHUNK)
    ids = []
    left, i = size, 0
    try:
        while left:
            n = min(CHUNK, left)
            fd = os.open(work / f"c{i}", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                got = 0
                while got < n:
                    k = os.splice(src.fileno(), w1, min(PIPE, n - got), flags=SPLICE_F_MOVE)
                    if not k:
                        raise EOFError
                    if mode == "splice":  # the client's bytes only: no store
                        _splice_all(r1, dst.fileno(), k)
                    elif mode == "teeread":  # the store's copy read into a buffer
                        t = 0
                        while t < k:
                            t += tee(r1, w2, k - t)
                        _splice_all(r1, dst.fileno(), k)
                        view = buf[got:got + k]
                        r = 0
                        while r < k:
                            r += os.readv(r2, [view[r:]])
                    elif mode == "tee":
                        t = 0
                        while t < k:
                            t += tee(r1, w2, k - t)
                        _splice_all(r1, dst.fileno(), k)
                        _splice_all(r2, fd, k, got)
                    else:
                        _splice_all(r1, fd, k, got)
                    got += k
                if mode == "splice":
                    cid = ""
                elif mode == "teeread":
                    cid = hash_view(buf[:n])[0]
                    os.close(fd)
                    fd = os.open(work / f"c{i}", os.O_WRONLY | os.O_TRUNC | os.O_DIRECT)
                    os.write(fd, buf[:n])
                    os.fdatasync(fd)
                if mode in ("splice", "teeread"):
                    pass
                elif mode == "sendfile":
                    off = 0
                    while off < n:
                        off += os.sendfile(dst.fileno(), fd, off, n - off)
                if mode in ("tee", "sendfile"):
                    with mmap.mmap(fd, n, prot=mmap.PROT_READ,
                                   flags=mmap.MAP_SHARED | mmap.MAP_POPULATE) as m:
                        cid, _ = hash_view(m)
                    os.fdatasync(fd)
            finally:
                os.close(fd)
            ids.append(cid)
            left -= n
            i += 1
    finally:
        for f in (r1, w1, r2, w2):
            os.close(f)
    return ids


def one(variant: str, sport: int, rport: int, size: int, work: Path) -> tuple[float, float]:
    src = socket.create_connection(("127.0.0.1", sport))
    dst = socket.create_connection(("127.0.0.1", rport))
    c0, t0 = cpu(), time.perf_counter()
    if variant.startswith("recv"):
        base, _, skip = variant.partition("-")
        relay_recv(src, dst, size, work, base == "recvbig", skip)
    else:
        relay_splice(src, dst, size, work, variant)
    dst.shutdown(socket.SHUT_WR)
    total = int(dst.recv(64))
    dt, c = time.perf_counter() - t0, cpu() - c0
    assert total == (0 if "send" in variant.partition("-")[2]
                     and "sf" not in variant else size), (total, size)
    src.close()
    dst.close()
    for p in work.iterdir():
        p.unlink()
    return size / MiB / dt, c / (size / (1024 * MiB))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench.relay_splice", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--variants", default="recv,recvbig,tee,sendfile")
    ap.add_argument("--dir", default="", help="chunk files here (default: a temp dir in /tmp)")
    ap.add_argument("--role", default="", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--path", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.role == "sender":
        return sender_main(args.path, args.port)
    if args.role == "receiver":
        return receiver_main(args.port)
    size = args.mib * MiB
    work = Path(tempfile.mkdtemp(prefix="relay-", dir=args.dir or None))
    src_file = work.parent / f"{work.name}.src"
    with open(src_file, "wb") as f:
        f.write(os.urandom(size))
    ports = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        ports.append(s.getsockname()[1])
        s.close()
    procs = [subprocess.Popen([sys.executable, "-m", "bench.relay_splice", "--role", "sender",
                               "--port", str(ports[0]), "--path", str(src_file)]),
             subprocess.Popen([sys.executable, "-m", "bench.relay_splice", "--role",
                               "receiver", "--port", str(ports[1])])]
    variants = args.variants.split(",")
    rows: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    try:
        time.sleep(1.0)
        print(os.popen("uptime").read().strip())
        for r in range(args.rounds):
            for v in (variants if r % 2 == 0 else variants[::-1]):
                rows[v].append(one(v, ports[0], ports[1], size, work))
            print(f"round {r}: " + ", ".join(
                f"{v} {rows[v][-1][0]:.0f} MiB/s {rows[v][-1][1]:.2f} s/GiB"
                for v in variants), flush=True)
        print(os.popen("uptime").read().strip())
    finally:
        for p in procs:
            p.kill()
            p.wait()
        src_file.unlink()
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    print(f"\n{'variant':<10} {'MiB/s':>8} {'relay CPU s/GiB':>16}")
    for v in variants:
        print(f"{v:<10} {statistics.median(x[0] for x in rows[v]):>8.0f} "
              f"{statistics.median(x[1] for x in rows[v]):>16.2f}")


if __name__ == "__main__":
    main()
