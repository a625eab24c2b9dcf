"""64 MiB GETs, 2 in flight: this tree's node beside another revision's, nginx and a
plain sendfile server, all serving the same bytes, measured in one run.

    ./run bench big_get --against REV [--rounds 3] [--gets 6] [--no-sigv4]

- the two nodes (this tree and ``--against``, checked out in a temporary git worktree)
  hold one 64 MiB object each, PUT once; every GET is SigV4-signed (the node in sigv4
  mode) unless ``--no-sigv4``;
- ``nginx`` (when installed: Debian's ``nginx-light``; one worker, ``sendfile on``) and
  ``sendfile``, a few lines of Python (one thread per connection, ``socket.sendfile``),
  serve a local 64 MiB file: the machine's limit for a GET from the page cache;
- the client is 2 Python threads on keep-alive connections, each reading every body
  into one 1 MiB buffer (``readinto``); each round takes ``--gets`` GETs per thread from
  every server, in an order that alternates round by round. Printed: MiB/s per server
  (median of the rounds), each node's CPU seconds per GiB served, and the ratios paired
  by round (this tree / nginx, / sendfile, / the other revision).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.client import Conn, sign
from bench.revisions import HERE, checkout
from bench.servers import free_port
from bench.small_requests import cpu_seconds, start

MiB = 1024 * 1024
SIZE = 64 * MiB
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


@dataclass
class Target:
    name: str
    host: str
    port: int
    path: str
    signed: bool
    pid: int | None = None  # whose CPU is counted (the nodes)
    stop: Callable[[], None] = lambda: None
    rates: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # CPU s per GiB

    def headers(self) -> dict[str, str]:
        if not self.signed:
            return {}
        return sign("GET", f"http://{self.host}:{self.port}{self.path}", {})


def get_all(target: Target, gets: int) -> int:
    """``gets`` GETs of the object on one keep-alive connection; the bytes read."""
    conn = http.client.HTTPConnection(target.host, target.port, timeout=300)
    buf = bytearray(MiB)
    total = 0
    try:
        for _ in range(gets):
            conn.request("GET", target.path, headers=target.headers())
            resp = conn.getresponse()
            if resp.status != 200:
                raise RuntimeError(f"{target.name}: GET {resp.status} {resp.read()[:300]!r}")
            got = 0
            while n := resp.readinto(buf):
                got += n
            if got != SIZE:
                raise RuntimeError(f"{target.name}: {got} bytes, not {SIZE}")
            total += got
    finally:
        conn.close()
    return total


def measure(target: Target, gets: int, inflight: int = 2) -> None:
    before = cpu_seconds(target.pid) if target.pid else 0.0
    t = time.perf_counter()
    with ThreadPoolExecutor(inflight) as pool:
        total = sum(pool.map(lambda _: get_all(target, gets), range(inflight)))
    target.rates.append(total / MiB / (time.perf_counter() - t))
    if target.pid:
        target.cpu.append((cpu_seconds(target.pid) - before) / (total / 1024 / MiB))


def node_target(name: str, tree: Path, sigv4: bool) -> Target:
    node = start(tree, sigv4=sigv4)
    s3 = node.url.rsplit("/bench/obj", 1)[0]
    c = Conn(s3)
    try:
        if c.put_stream("bench", "big", SIZE, os.urandom(MiB)) != 200:
            raise RuntimeError(f"{name}: PUT failed")
    finally:
        c.close()
    host, port = s3.split("/")[2].rsplit(":", 1)
    path = "/" + s3.split("/", 3)[3] + "/bench/big"
    return Target(name, host, int(port), path, sigv4, node.proc.pid, node.stop)


def sendfile_target(root: Path) -> Target:
    """A plain HTTP/1.1 server of one file: a thread per connection, ``socket.sendfile``."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    path = root / "big"
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
            b"content-length: %d\r\n\r\n" % SIZE)

    def serve(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as rf:
            while True:
                line = rf.readline()
                if not line:
                    return
                while rf.readline() not in (b"\r\n", b"\n", b""):
                    pass
                conn.sendall(head)
                with open(path, "rb") as f:
                    conn.sendfile(f)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return Target("sendfile", "127.0.0.1", port, "/big", False, None, listener.close)


def nginx_target(root: Path) -> Target | None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if nginx is None:
        return None
    work = Path(tempfile.mkdtemp(prefix="nginx-bench-"))
    port = free_port()
    (work / "nginx.conf").write_text(NGINX_CONF.format(work=work, port=port, root=root))
    proc = subprocess.Popen([nginx, "-p", str(work), "-c", str(work / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((work / "error.log").read_text()) from None
            time.sleep(0.05)

    def stop() -> None:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)

    return Target("nginx", "127.0.0.1", port, "/big", False, None, stop)  # CPU: its workers'


def report(targets: list[Target], args: argparse.Namespace) -> None:
    for t in targets:
        cpu = f", {statistics.median(t.cpu):.2f} CPU s per GiB" if t.cpu else ""
        print(f"{t.name:>12}: 64 MiB GET, 2 in flight: {statistics.median(t.rates):7.0f} "
              f"MiB/s (median of {args.rounds}){cpu}")
    this = targets[0]
    for other in targets[1:]:
        ratio = statistics.median(a / b for a, b in zip(this.rates, other.rates, strict=True))
        print(f"this tree / {other.name}, paired by round: x{ratio:.2f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench big_get", description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default="main", help="git revision (default main)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gets", type=int, default=6, help="GETs per client thread per round")
    ap.add_argument("--no-sigv4", action="store_true", help="open nodes, unsigned GETs")
    args = ap.parse_args(argv)
    with checkout(args.against) as other:
        files = Path(tempfile.mkdtemp(prefix="big-get-"))
        (files / "big").write_bytes(os.urandom(SIZE))
        files.chmod(0o755)  # nginx's worker runs as another user
        (files / "big").chmod(0o644)
        targets: list[Target] = []
        try:
            for name, tree in (("this tree", HERE), (args.against, other)):
                targets.append(node_target(name, tree, not args.no_sigv4))
            found = nginx_target(files)
            targets += [found] if found is not None else []
            targets.append(sendfile_target(files))
            time.sleep(1.1)  # past the racy second of the chunks just written (verified.py)
            for t in targets:
                measure(t, 1)  # warm: the page cache, the nodes' verified copies
            for r in range(args.rounds):
                for t in targets if r % 2 == 0 else targets[::-1]:
                    measure(t, args.gets)
            report(targets, args)
        finally:
            for t in targets:
                t.stop()
            shutil.rmtree(files, ignore_errors=True)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")


if __name__ == "__main__":
    main()
