"""Native Bucket Inventory: a full paged listing of a remote bucket from its inventory
beside the same listing from the backend, through one front node.

    ./run bench inventory              # 20,000 keys (a short run)
    ./run bench inventory --keys 200000

The backend is a second aisfs node (the fastest to fill). Prints: the fill, the
inventory's creation (the create-inventory job: the backend listed into the file), a
full ListObjectsV2 listing (1,000 a page) through the front from the inventory and from
the backend, each round, and the front's RSS (peak sampled, VmHWM) over all of it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from urllib.parse import quote
from xml.etree import ElementTree

from bench.backend import (
    CLIENTS,
    NS,
    Sampler,
    backend_config,
    many,
    med,
    mkbucket,
    rss_mib,
)
from bench.client import Conn
from bench.servers import Server, start_node

BUCKET = "inv"


def list_all(s3_url: str, bucket: str, headers: dict[str, str]) -> tuple[float, int]:
    """Every page of a ListObjectsV2 listing: (seconds, keys)."""
    c = Conn(s3_url)
    token, n = "", 0
    t = time.perf_counter()
    while True:
        q = "list-type=2&max-keys=1000"
        if token:
            q += "&continuation-token=" + quote(token, safe="")
        status, body = c.request("GET", c.path(bucket, query=q), headers=headers)
        assert status == 200, body[:300]
        root = ElementTree.fromstring(body)
        n += len(root.findall(f"{NS}Contents"))
        nxt = root.find(f"{NS}NextContinuationToken")
        if nxt is None or not nxt.text:
            break
        token = nxt.text
    dt = time.perf_counter() - t
    c.conn.close()
    return dt, n


def native(front: Server, method: str, action: str, name: str = "",
           value: object = None) -> bytes | None:
    """A /v1 bucket action on the front's s3://inv; None for a 404."""
    host, port = front.s3_url.split("//")[1].split("/")[0].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=600)
    c.request(method, f"/v1/buckets/{BUCKET}?provider=aws",
              body=json.dumps({"action": action, "name": name, "value": value}),
              headers={"content-type": "application/json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status == 404:
        return None
    assert r.status == 200, (r.status, body[:300])
    return body


def create(front: Server) -> tuple[float, dict[str, object]]:
    """Create the inventory ``snap``; (seconds until it is listed, its info)."""
    t = time.perf_counter()
    native(front, "POST", "create-inventory", value={"name": "snap", "force": True})
    while True:
        shown = json.loads(native(front, "GET", "show-inventory", "snap") or b"{}")
        if shown:
            return time.perf_counter() - t, next(iter(shown.values()))
        time.sleep(0.05)


def fill(backend: Server, nkeys: int) -> float:
    mkbucket(backend.s3_url, BUCKET)
    t = time.perf_counter()
    for lo in range(0, nkeys, 20_000):
        keys = [f"d{i % 100:02d}/k{i:08d}" for i in range(lo, min(nkeys, lo + 20_000))]
        many(backend.s3_url, BUCKET, keys, "PUT", CLIENTS, b"")
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench inventory", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, default=20_000, help="keys in the remote bucket")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    backend = start_node()
    front = None
    try:
        print(f"{args.keys} keys put in the backend in {fill(backend, args.keys):.0f} s",
              flush=True)
        front = start_node(config=backend_config(backend, "FAKEKEY", "FAKESECRET"))
        base = rss_mib(front.proc.pid)[0]
        inv_headers = {"Ais-Bucket-Inventory": "true", "Ais-Inv-Name": "snap"}
        with Sampler(front.proc.pid) as s:
            t_create, info = create(front)
            t_inv, t_back = [], []
            for _ in range(args.rounds):
                dt, n = list_all(front.s3_url, BUCKET, inv_headers)
                assert n == args.keys, (n, args.keys)
                t_inv.append(dt)
                dt, n = list_all(front.s3_url, BUCKET, {})
                assert n == args.keys, (n, args.keys)
                t_back.append(dt)
        hwm = rss_mib(front.proc.pid)[1]
    finally:
        if front is not None:
            front.stop()
        backend.stop()
    k = args.keys
    print(f"\ninventory of {k} keys created in {t_create:.1f} s ({k / t_create:.0f} keys/s),"
          f" {int(info['size']) / 2**20:.1f} MiB on disk")
    print(f"{'full listing, 1,000 a page':40} {'seconds':>8} {'keys/s':>9}")
    for label, ts in (("from the inventory", t_inv), ("from the backend", t_back)):
        print(f"  {label:38} {med(ts):8.2f} {k / med(ts):9.0f}   rounds: "
              + ", ".join(f"{x:.2f}" for x in ts))
    print(f"  inventory / backend speed: x{med(t_back) / med(t_inv):.1f}")
    print(f"front RSS: {base:.0f} MiB at start, peak sampled {s.peak:.0f} MiB, VmHWM "
          f"{hwm:.0f} MiB")


if __name__ == "__main__":
    main()
