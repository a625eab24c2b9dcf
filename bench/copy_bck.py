"""Bucket copies (``copy-bck``) through a front node, beside a client's own copy loop.

    .venv/bin/python -m bench.copy_bck            # 1,000 64 KiB objects + one 256 MiB
    .venv/bin/python -m bench.copy_bck --quick    # 200 + one 64 MiB
    .venv/bin/python -m bench.copy_bck --moto     # moto's server as the backend

A second aisfs node is the backend (``--moto``: moto). Figures, each beside a client
that copies the same objects itself (a GET from the front, a PUT to the destination, one
object at a time - what a script without the job does), measured in the same run:

| figure | beside |
|---|---|
| copy-bck ais:// -> s3:// of N small objects (objects/s) | the client loop |
| copy-bck s3:// -> ais:// of them | the client loop |
| copy-bck ais:// -> s3:// of one big object (MiB/s), the front's peak RSS | the client |

The front's RSS while it copies the big object shows the copy streams (the object is
larger than anything the node holds at once).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request
from collections.abc import Callable

from bench.client import PIECE, thread_conn
from bench.servers import Server, start_moto, start_node

MiB = 1024 * 1024


def _native(base: str, method: str, path: str, body: dict[str, object]) -> bytes:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        data: bytes = resp.read()
        return data


def copy_job(front: Server, src: str, src_provider: str, dst: str, dst_provider: str,
             prefix: str) -> tuple[float, dict[str, object]]:
    """One copy-bck job to its end: (seconds, record)."""
    base = front.s3_url.rsplit("/s3", 1)[0]
    t = time.perf_counter()
    job_id = _native(base, "POST", f"/v1/buckets/{src}?provider={src_provider}"
                     f"&bck_to={dst_provider}/@%23/{dst}/",
                     {"action": "copy-bck", "value": {"prefix": prefix}}).decode()
    while True:
        rec = json.loads(_native(base, "GET", "/v1/cluster?what=jobs", {"ID": job_id}))
        job = next(j for j in rec["jobs"] if j["id"] == job_id)
        if not job["running"]:
            assert job["state"] == "finished", job
            return time.perf_counter() - t, job
        time.sleep(0.05)


def client_loop(get_url: str, src: str, put_url: str, dst: str, keys: list[str]) -> float:
    """GET each object from ``get_url`` and PUT it to ``put_url``, one at a time."""
    g, p = thread_conn(get_url), thread_conn(put_url)
    t = time.perf_counter()
    for k in keys:
        status, data = g.request("GET", g.path(src, k))
        assert status == 200, (k, status)
        status, _ = p.request("PUT", p.path(dst, k), data)
        assert status == 200, (k, status)
    return time.perf_counter() - t


def peak_rss(pid: int, stop: threading.Event, out: list[float]) -> None:
    peak = 0.0
    while not stop.is_set():
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        time.sleep(0.05)
    out.append(peak)


def rss_now(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _mk(url: str, bucket: str) -> None:
    c = thread_conn(url)
    status, data = c.request("PUT", c.path(bucket))
    assert status == 200, (status, data[:200])


def _fill(url: str, bucket: str, keys: list[str], size: int) -> None:
    c = thread_conn(url)
    for i, k in enumerate(keys):
        body = i.to_bytes(8, "little") + b"x" * (size - 8)
        status, _ = c.request("PUT", c.path(bucket, k), body)
        assert status == 200, status


def run(front: Server, backend: Server, small: int, big_mib: int,
        say: Callable[[str], None]) -> None:
    keys = [f"s/{i:05d}" for i in range(small)]
    _mk(front.s3_url, "src")
    _fill(front.s3_url, "src", keys, 64 * 1024)
    for b in ("dst-job", "dst-loop", "back-loop"):
        _mk(backend.s3_url, b)
    _mk(front.s3_url, "back-loop")

    t_job, rec = copy_job(front, "src", "ais", "dst-job", "aws", "s/")
    t_loop = client_loop(front.s3_url, "src", backend.s3_url, "dst-loop", keys)
    say(f"ais -> s3, {small} x 64 KiB: job {small / t_job:.0f} objects/s "
        f"({t_job:.1f} s, {rec['objects_done']} copied) vs client loop "
        f"{small / t_loop:.0f}/s ({t_loop:.1f} s) = {t_loop / t_job:.2f}x")

    t_job, rec = copy_job(front, "dst-job", "aws", "back-job", "ais", "s/")
    t_loop = client_loop(front.s3_url, "dst-loop", front.s3_url, "back-loop", keys)
    say(f"s3 -> ais, {small} x 64 KiB: job {small / t_job:.0f} objects/s "
        f"({t_job:.1f} s) vs client loop {small / t_loop:.0f}/s ({t_loop:.1f} s) "
        f"= {t_loop / t_job:.2f}x")

    c = thread_conn(front.s3_url)
    assert c.put_stream("src", "big/one", big_mib * MiB, b"y" * PIECE) == 200
    before = rss_now(front.proc.pid)
    # a client's write-through PUT of the same size, for the RSS it costs the front
    stop, out = threading.Event(), []  # type: ignore[var-annotated]
    sampler = threading.Thread(target=peak_rss, args=(front.proc.pid, stop, out))
    sampler.start()
    try:
        w = thread_conn(front.s3_url)
        assert w.put_stream("dst-job", "big/put", big_mib * MiB, b"w" * PIECE) == 200
    finally:
        stop.set()
        sampler.join()
    put_peak = out.pop()
    stop = threading.Event()
    sampler = threading.Thread(target=peak_rss, args=(front.proc.pid, stop, out))
    sampler.start()
    try:
        t_job, rec = copy_job(front, "src", "ais", "dst-job", "aws", "big/")
    finally:
        stop.set()
        sampler.join()
    g, p = thread_conn(front.s3_url), thread_conn(backend.s3_url)
    t = time.perf_counter()
    status, data = g.request("GET", g.path("src", "big/one"))
    status2, _ = p.request("PUT", p.path("dst-loop", "big/one"), data)
    t_loop = time.perf_counter() - t
    assert status == status2 == 200
    say(f"ais -> s3, one {big_mib} MiB object: job {big_mib / t_job:.0f} MiB/s "
        f"vs client GET+PUT {big_mib / t_loop:.0f} MiB/s (the client held the whole "
        f"object; the job also keeps the destination's local copy) = {t_loop / t_job:.2f}x")
    say(f"  front RSS: {before:.0f} MiB before, peak {out[0]:.0f} MiB during the copy, "
        f"peak {put_peak:.0f} MiB during a client's write-through PUT of the same size")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench.copy_bck", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="200 small objects, 64 MiB")
    p.add_argument("--moto", action="store_true", help="moto's server as the backend")
    args = p.parse_args(argv)
    small, big = (200, 64) if args.quick else (1000, 256)
    backend: Server = start_moto() if args.moto else start_node()
    front = start_node(config=f"""[backend.s3]
endpoint = "{backend.s3_url}"
access_key = "FAKEKEY"
secret_key = "FAKESECRET"
read_timeout = 120
""")
    try:
        run(front, backend, small, big, print)
    finally:
        front.stop()
        backend.stop()


if __name__ == "__main__":
    main()
