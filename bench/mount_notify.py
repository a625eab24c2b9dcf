"""Stats of files the mount holds, before and after `attr_timeout` passed: what the change
feed (aisfs_mount/notify.py) buys, this tree beside another (--before DIR) in one run.

    ./run bench mount-notify --before DIR [--files 2000] [--rounds 5] [-o OPT]
    ./run bench mount-notify --vs-off [--all] ...

One node; per round each mount in turn (the order rotating): a fresh mount of its own
bucket (with --all: an `--all` mount, the files in the bucket's directory: a feed per
bucket, aisfs_mount/feeds.py), FILES small files written through it (as mount-peers'
small files), then a stat of each right after, again 1.2 s later (past the default 1 s
attr_timeout), and once more 1.2 s after that; then the files are unlinked and the mount
goes. --vs-off sets this tree with the feed beside this tree with `-o notify=0`. Printed:
stats per s of each pass (medians of the rounds), the node's requests per stat (the
feed's long polls counted apart), and `uptime` at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from statistics import median

from bench.client import Conn
from bench.servers import Server, start_node

PASSES = ("right after", "after 1.2 s", "after 2.4 s")


def requests(server: Server) -> tuple[int, int]:
    """The node's requests so far: all but Metrics and the feed's, and the feed's."""
    base = server.s3_url[: -len("/s3")]
    text = urllib.request.urlopen(base + "/metrics", timeout=30).read().decode()
    other = feed = 0
    for m in re.finditer(r'^aisfs_requests_total\{([^}]*)\} (\S+)', text, re.M):
        n = int(float(m.group(2)))
        if 'operation="ListChanges"' in m.group(1):
            feed += n
        elif 'operation="Metrics"' not in m.group(1):
            other += n
    return other, feed


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def one_round(server: Server, name: str, source: str | None, options: list[str],
              files: int, work: Path, all_buckets: bool = False) -> dict[str, float]:
    mnt = work / f"mnt-{name}"
    mnt.mkdir(exist_ok=True)
    opts = [a for o in options for a in ("-o", o)]
    env = dict(os.environ, PYTHONPATH=source) if source else None
    what = ["--all"] if all_buckets else [f"notify-{name}"]
    subprocess.run([sys.executable, "-m", "aisfs", "mount", "--endpoint", server.s3_url,
                    *opts, *what, str(mnt)], check=True, timeout=60, env=env, cwd=source)
    where = mnt / f"notify-{name}" if all_buckets else mnt
    out: dict[str, float] = {}
    try:
        names = [where / f"f{i:05d}" for i in range(files)]
        for p in names:
            with open(p, "wb") as f:
                f.write(b"x" * 100)
        for i, label in enumerate(PASSES):
            if i:
                time.sleep(1.2)
            (r0, f0), t = requests(server), time.perf_counter()
            for p in names:
                os.stat(p)
            took = time.perf_counter() - t
            r1, f1 = requests(server)
            out[f"stat/s {label}"] = files / took
            out[f"req/stat {label}"] = (r1 - r0) / files
            out[f"feed req/stat {label}"] = (f1 - f0) / files
        for p in names:
            os.unlink(p)
    finally:
        subprocess.run([sys.executable, "-m", "aisfs", "umount", str(mnt)], timeout=60)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench mount-notify", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", metavar="DIR", help="another aisfs tree (git archive)")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("-o", dest="options", action="append", default=[])
    ap.add_argument("--all", action="store_true", help="--all mounts (a feed per bucket)")
    ap.add_argument("--vs-off", action="store_true", help="beside: this with notify=0")
    args = ap.parse_args(argv)
    up0 = uptime()
    server = start_node(mountpaths=1, config="[store]\nfsync = false\n")
    work = Path(tempfile.mkdtemp(prefix="aisfs-bench-notify-"))
    peers: list[tuple[str, str | None, list[str]]] = [("this", None, [])]
    if args.before:
        peers.append(("before", str(Path(args.before).resolve()), []))
    if args.vs_off:
        peers.append(("off", None, ["notify=0"]))
    got: dict[str, dict[str, list[float]]] = {n: {} for n, _, _ in peers}
    try:
        c = Conn(server.s3_url)
        for n, _, _ in peers:
            c.request("PUT", c.path(f"notify-{n}"))
        c.close()
        for r in range(args.rounds):
            order = peers[r % len(peers):] + peers[:r % len(peers)]
            for n, src, extra in order:
                res = one_round(server, n, src, args.options + extra, args.files, work,
                                args.all)
                for k, v in res.items():
                    got[n].setdefault(k, []).append(v)
                print(f"[round {r + 1}] {n}: " + ", ".join(
                    f"{k} {v:.0f}" if k.startswith("stat") else f"{k} {v:.2f}"
                    for k, v in res.items()), flush=True)
    finally:
        server.stop()
    print(f"\nuptime at the start: {up0}\nuptime at the end:   {uptime()}\n"
          f"{os.cpu_count()} cores; {args.files} files, medians of {args.rounds} rounds"
          f"{', --all mounts' if args.all else ''}\n")
    print("| | " + " | ".join(n for n, _, _ in peers) + " |")
    print("|---|" + "---|" * len(peers))
    for label in PASSES:
        cells = [f"{median(got[n][f'stat/s {label}']):,.0f} "
                 f"({median(got[n][f'req/stat {label}']):.2f} req, "
                 f"+{median(got[n][f'feed req/stat {label}']):.3f} feed)" for n, _, _ in peers]
        print(f"| stat/s {label} | " + " | ".join(cells) + " |")
