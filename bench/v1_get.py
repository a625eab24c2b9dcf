"""64 MiB GETs through the native API (``GET /v1/objects/B/K``), 2 in flight: this tree's
node beside another revision's, and this tree's S3 GET of the same object, in one run.

    python -m bench v1_get [--against REV] [--rounds 5] [--gets 4] [--no-sigv4]

The nodes, the client and the alternation are bench/big_get.py's (its ``node_target``,
``measure``): one 64 MiB object PUT once per node, SigV4-signed GETs (unless
``--no-sigv4``; /v1 takes S3 signatures), 2 client threads on keep-alive connections,
``--gets`` GETs per thread per target per round, the order alternating round by round.
``checksum.validate_warm_get`` is the default (on). Printed: MiB/s per target (median of
the rounds), each node's CPU seconds per GiB served, and the ratios paired by round.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

from bench.big_get import Target, measure, node_target, report
from bench.revisions import HERE, checkout


def v1_of(s3: Target, name: str) -> Target:
    """The same node and object, through ``/v1`` (a fresh list of figures)."""
    path = "/v1/objects/" + s3.path.rsplit("/", 2)[-2] + "/" + s3.path.rsplit("/", 1)[-1]
    return dataclasses.replace(s3, name=name, path=path, rates=[], cpu=[])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench v1_get", description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default="636122c", help="git revision (default 636122c)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--gets", type=int, default=4, help="GETs per client thread per round")
    ap.add_argument("--no-sigv4", action="store_true", help="open nodes, unsigned GETs")
    args = ap.parse_args(argv)
    with checkout(args.against) as other:
        nodes: list[Target] = []
        try:
            this = node_target("this tree", HERE, not args.no_sigv4)
            nodes.append(this)
            base = node_target(args.against, other, not args.no_sigv4)
            nodes.append(base)
            targets = [v1_of(this, "/v1 this"), v1_of(base, f"/v1 {args.against}"),
                       dataclasses.replace(this, name="S3 this", rates=[], cpu=[])]
            time.sleep(1.1)  # past the racy second of the chunks just written (verified.py)
            for t in targets:
                measure(t, 1)  # warm: the page cache, verified copies, whole checksums
                measure(t, 1)
            for r in range(args.rounds):
                for t in targets if r % 2 == 0 else targets[::-1]:
                    measure(t, args.gets)
            for t in targets:
                del t.rates[:2], t.cpu[:2]
            report(targets, args)
        finally:
            for t in nodes:
                t.stop()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")


if __name__ == "__main__":
    main()
