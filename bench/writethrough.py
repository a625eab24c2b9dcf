"""Write-through PUT (issue 13's target: >= 90 % of a direct PUT to the backend).

A second aisfs node is the backend (``--moto``: moto's server); the front node has
``[backend.s3]`` pointing at it. The same client PUTs to the backend directly and to an
``s3://`` bucket through the front, in alternating rounds, side by side in one run (the
machine is shared: medians and every round printed, with the CPU each process spent).

    ./run bench writethrough             # 256 MiB objects and 4 KiB ones, 5 rounds
    ./run bench writethrough --quick     # 3 rounds, fewer small objects

| figure | beside | target |
|---|---|---|
| write-through PUT of a 256 MiB object | a PUT of it to the backend | >= 90 % |
| 4 KiB write-through PUTs (16 clients) | 4 KiB PUTs to the backend | >= 90 % |
"""

from __future__ import annotations

import argparse
import os

from bench.backend import (
    CLIENTS,
    Cpu,
    MiB,
    backend_config,
    many,
    med,
    mkbucket,
    put_unique,
)
from bench.servers import start_moto, start_node


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _large(args: argparse.Namespace, rounds: int, backend_url: str, front_url: str,
           cpu: Cpu) -> tuple[float, float]:
    size = args.mib * MiB
    wt: list[float] = []
    dp: list[float] = []
    for r in range(rounds):
        pair = [("direct", lambda r=r: put_unique(backend_url, "wtb", f"d-{r}", size, 2000 + r)),
                ("through", lambda r=r: put_unique(front_url, "wtb", f"t-{r}", size, 3000 + r))]
        for name, fn in (pair if r % 2 == 0 else pair[::-1]):
            (wt if name == "through" else dp).append(
                args.mib / cpu.timed(f"{name} PUT", size, fn))
        print(f"round {r}: {args.mib} MiB through {wt[-1]:.0f}, direct {dp[-1]:.0f} MiB/s "
              f"(ratio {wt[-1] / dp[-1]:.2f}; load {_load()})", flush=True)
    return med(wt), med(dp)


def _small(args: argparse.Namespace, rounds: int, backend_url: str, front_url: str,
           cpu: Cpu) -> tuple[float, float]:
    """Each round A B B A (then B A A B) in four batches of ``--small``/2 PUTs: whatever
    the first batch of a round leaves the disk (writeback) falls on both sides alike."""
    n = args.small // 2
    body = b"s" * 4096
    wt: list[float] = []
    dp: list[float] = []
    for r in range(rounds):
        secs = {"direct": 0.0, "through": 0.0}
        order = ["direct", "through", "through", "direct"]
        for b, name in enumerate(order if r % 2 == 0 else order[::-1]):
            keys = [f"s{r}-{b}-{i:05d}" for i in range(n)]
            url = backend_url if name == "direct" else front_url
            secs[name] += cpu.timed_requests(
                f"{name} small PUT", n,
                lambda keys=keys, url=url: many(url, "wtb", keys, "PUT", args.clients, body))
        wt.append(2 * n / secs["through"])
        dp.append(2 * n / secs["direct"])
        print(f"round {r}: 4 KiB through {wt[-1]:.0f}, direct {dp[-1]:.0f} PUT/s "
              f"(ratio {wt[-1] / dp[-1]:.2f}; load {_load()})", flush=True)
    return med(wt), med(dp)


def _against(args: argparse.Namespace, rounds: int) -> None:
    """This tree's front and ``--against``'s, one backend: 4 KiB write-through PUTs through
    each in alternating batches (A B B A, then B A A B), PUT/s and each front's CPU."""
    from bench.revisions import checkout

    n = args.small // 2
    body = b"s" * 4096
    backend = start_node()
    config = backend_config(backend, "FAKEKEY", "FAKESECRET")
    with checkout(args.against) as tree:
        fronts = {"this": start_node(config=config), args.against: start_node(config=config,
                                                                              tree=tree)}
        cpu = Cpu({"backend": backend.proc.pid,  # type: ignore[union-attr]
                   **{k: f.proc.pid for k, f in fronts.items()}})
        rate: dict[str, list[float]] = {k: [] for k in fronts}
        front_cpu: dict[str, list[float]] = {k: [] for k in fronts}
        try:
            mkbucket(backend.s3_url, "wtb")
            for name, f in fronts.items():  # warm: connections, the cache bucket
                many(f.s3_url, "wtb", [f"warm-{name}-{i}" for i in range(200)], "PUT",
                     args.clients, body)
            for r in range(rounds):
                secs = dict.fromkeys(fronts, 0.0)
                order = ["this", args.against, args.against, "this"]
                for b, name in enumerate(order if r % 2 == 0 else order[::-1]):
                    keys = [f"a{r}-{b}-{i:05d}" for i in range(n)]
                    url = fronts[name].s3_url
                    secs[name] += cpu.timed_requests(
                        name, n, lambda keys=keys, url=url: many(url, "wtb", keys, "PUT",
                                                                  args.clients, body))
                    front_cpu[name].append(cpu.rows[name][-1][name])
                for name in fronts:
                    rate[name].append(2 * n / secs[name])
                print(f"round {r}: " + ", ".join(
                    f"{k} {rate[k][-1]:.0f} PUT/s {med(front_cpu[k][-2:]):.3f} front ms/PUT"
                    for k in fronts) + f" (load {_load()})", flush=True)
        finally:
            for f in fronts.values():
                f.stop()
            backend.stop()
    a, b = "this", args.against
    print(f"\n4 KiB write-through PUT x{args.clients}: this {med(rate[a]):.0f} PUT/s, "
          f"{args.against} {med(rate[b]):.0f} (ratio {med(rate[a]) / med(rate[b]):.2f})")
    print(f"front CPU ms/PUT: this {med(front_cpu[a]):.3f}, {args.against} "
          f"{med(front_cpu[b]):.3f} (ratio {med(front_cpu[a]) / med(front_cpu[b]):.2f})")
    print(f"    CPU (s/1,000): {cpu.line(a)}; {cpu.line(b)}")
    print(f"load average {_load()}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench writethrough", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 rounds, 500 small objects")
    p.add_argument("--moto", action="store_true", help="moto server as the backend")
    p.add_argument("--rounds", type=int, default=0)
    p.add_argument("--mib", type=int, default=256, help="the large object's size")
    p.add_argument("--small", type=int, default=0, help="4 KiB objects per round")
    p.add_argument("--clients", type=int, default=CLIENTS, help="threads for 4 KiB PUTs")
    p.add_argument("--only", default="", help="large or small")
    p.add_argument("--part-mib", type=int, default=0,
                   help="the front's part_size and multipart_threshold (default: config's)")
    p.add_argument("--multipart-mib", type=int, default=0,
                   help="the front's multipart_threshold alone: a larger object is one "
                   "PutObject, streamed (default: config's, 16 MiB)")
    p.add_argument("--against", default="", help="a revision (main, HEAD~3): its front "
                   "beside this tree's, 4 KiB write-through PUTs, CPU per PUT of each")
    args = p.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 5)
    args.small = args.small or (500 if args.quick else 2000)
    if args.against:
        _against(args, rounds)
        return
    backend = start_moto() if args.moto else start_node()
    config = backend_config(backend, "FAKEKEY", "FAKESECRET")
    if args.part_mib:
        config += (f"part_size = {args.part_mib * MiB}\n"
                   f"multipart_threshold = {args.part_mib * MiB}\n")
    if args.multipart_mib:
        config += f"multipart_threshold = {args.multipart_mib * MiB}\n"
    front = start_node(config=config)
    pids = {"front": front.proc.pid}
    if backend.proc is not None:
        pids["backend"] = backend.proc.pid
    cpu = Cpu(pids)
    print(f"backend: {backend.name} {backend.s3_url}; front: {front.s3_url}; "
          f"load {_load()}", flush=True)
    rows = []
    try:
        mkbucket(backend.s3_url, "wtb")
        if args.only in ("", "large"):
            rows.append((f"{args.mib} MiB PUT, MiB/s", "through PUT", "direct PUT",
                         *_large(args, rounds, backend.s3_url, front.s3_url, cpu)))
        if args.only in ("", "small"):
            rows.append((f"4 KiB PUT x{args.clients} clients, PUT/s", "through small PUT",
                         "direct small PUT",
                         *_small(args, rounds, backend.s3_url, front.s3_url, cpu)))
    finally:
        front.stop()
        backend.stop()
    print(f"\n{'figure':34} {'through':>9} {'direct':>9} {'ratio':>6}  target")
    for name, a, b, through, direct in rows:
        ratio = through / direct
        mark = "ok" if ratio >= 0.9 else "BELOW"
        print(f"{name:34} {through:9.1f} {direct:9.1f} {ratio:6.2f}  >= 0.90 {mark}")
        print(f"    CPU ({'s/GiB' if 'MiB' in name else 's/1,000'}): "
              f"{cpu.line(a)}; {cpu.line(b)}")
    print(f"load average {_load()}")


if __name__ == "__main__":
    main()
