"""`aisfs mount` beside s3fs-fuse and rclone mount, over the same aisfs node, in one run.

    ./run bench mount-peers              # 500 small files, a 1,000-file tree, 64 MiB
    ./run bench mount-peers --full       # the issue's sizes: 2,000 / 5,000 / 256 MiB
    ./run bench mount-peers --rounds 3   # medians of 3 interleaved rounds
    ./run bench mount-peers --only aisfs,s3fs
    ./run bench mount-peers --only aisfs -o local_read=off   # aisfs mount -o ...
    ./run bench mount-peers --big-dir 2000   # instead: lookups in a directory of 2,000
    ./run bench mount-peers --before DIR  # also the aisfs tree at DIR (A/B in one run)
    ./run bench mount-peers --small-only --rounds 5   # only the small-file rows, quick

One node (open auth: the peers sign with a dummy key, which an open node ignores) with a
bucket per mount. The peers are Debian's `s3fs` and `rclone` (`./run bench` installs them
when root; a peer that is not installed is skipped with a line saying so):

- s3fs: `-o url=http://HOST:PORT/s3,use_path_request_style` (s3fs keeps a path in `url`
  ahead of the bucket, so no S3-API-via-Root is needed), its defaults otherwise.
- rclone: an S3 remote (provider Other, endpoint the node's /s3 URL, force_path_style),
  mounted with `--vfs-cache-mode off` and with `--vfs-cache-mode writes` (whose close()
  returns before the upload: its write figure is not a durable one; before each of its
  unmounts the bench waits, unmeasured, until rclone says its uploads are done).

Each mount is measured the same way: small files created (100 bytes, closed), stat'ed and
unlinked (per s, each phase on its own); a tree of files in directories of 500 created
(files/s), then after a remount with the page cache dropped `ls -lR` and `rm -rf` of it
(s); a big file written sequentially (fsync'd) and read back cold after a remount
(MiB/s); and semantic checks (rename of a file, append, `ls -la` shows . and .., truncate
down and up, all of it still so after a remount), counted pass/fail. Each phase also
counts the node's requests per file (its /metrics): where a mount's time goes. With
--rounds N the mounts take turns in each round (the order rotating) and the medians are
printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from bench.client import Conn, thread_conn
from bench.mount_io import drop_caches, read_file, timed, write_file
from bench.servers import Server, free_port, start_node

MiB = 1024 * 1024
PEERS = ("aisfs", "s3fs", "rclone-off", "rclone-writes", "aisfs-before")
TITLES = {"aisfs": "aisfs mount", "s3fs": "s3fs", "rclone-off": "rclone (cache off)",
          "rclone-writes": "rclone (writes cached)", "aisfs-before": "aisfs mount (before)"}
CHECKS = ("rename", "append", "ls -la . ..", "truncate", "kept after remount")


@dataclass
class Peer:
    """One mount of one bucket: how to mount it and unmount it."""

    name: str
    bucket: str
    where: Path
    start: Callable[[Peer], subprocess.Popen[bytes] | None]
    proc: subprocess.Popen[bytes] | None = None
    settle: Callable[[], None] | None = None  # waits for what the mount still uploads

    def mount(self) -> None:
        self.where.mkdir(parents=True, exist_ok=True)
        self.proc = self.start(self)
        deadline = time.monotonic() + 60
        while not os.path.ismount(self.where):
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: mount exited {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: not mounted after 60 s")
            time.sleep(0.05)

    def umount(self) -> None:
        if self.settle is not None:
            self.settle()
        if self.name.startswith("aisfs"):
            subprocess.run([sys.executable, "-m", "aisfs", "umount", str(self.where)],
                           timeout=120)
        else:
            subprocess.run(["fusermount3", "-u", str(self.where)], timeout=120)
        if self.proc is not None:
            try:
                self.proc.wait(300)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def remount_cold(self) -> None:
        self.umount()
        drop_caches()
        self.mount()


@dataclass
class Figures:
    values: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # check -> why (first failure)

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def med(self, key: str) -> float | None:
        got = self.values.get(key)
        return median(got) if got else None


def start_aisfs(server: Server, options: list[str],
                source: str | None = None) -> Callable[[Peer], None]:
    """`aisfs mount` of this checkout, or of the tree at `source` (--before: an older
    commit's files, e.g. `git archive HEAD | tar x -C DIR`, for an A/B in one run)."""
    opts = [a for o in options for a in ("-o", o)]
    env = dict(os.environ, PYTHONPATH=source) if source else None

    def start(p: Peer) -> None:
        subprocess.run([sys.executable, "-m", "aisfs", "mount", "--endpoint", server.s3_url,
                        *opts, p.bucket, str(p.where)], check=True, timeout=60, env=env,
                       cwd=source)
    return start


def start_s3fs(server: Server, work: Path) -> Callable[[Peer], subprocess.Popen[bytes]]:
    pw = work / "passwd-s3fs"
    pw.write_text("BENCHKEY:BENCHSECRET\n")
    pw.chmod(0o600)

    def start(p: Peer) -> subprocess.Popen[bytes]:
        opts = f"url={server.s3_url},use_path_request_style,passwd_file={pw}"
        log = open(work / "s3fs.log", "ab")  # noqa: SIM115 - handed to the child
        return subprocess.Popen(["s3fs", p.bucket, str(p.where), "-f", "-o", opts],
                                stdout=log, stderr=subprocess.STDOUT)
    return start


def rclone_settle(rc_port: int) -> Callable[[], None]:
    """Wait until rclone's VFS cache has uploaded everything (`vfs/stats` over its remote
    control): with --vfs-cache-mode writes close() returns before the upload, and an
    unmount does not wait for it (the uploads resume at the next start with that cache)."""
    def settle() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            req = urllib.request.Request(f"http://127.0.0.1:{rc_port}/vfs/stats",
                                         data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                cache = json.load(resp).get("diskCache", {})
            if not cache.get("uploadsInProgress") and not cache.get("uploadsQueued"):
                return
            time.sleep(0.5)
    return settle


def start_rclone(server: Server, work: Path, cache_mode: str,
                 rc_port: int = 0) -> Callable[[Peer], subprocess.Popen[bytes]]:
    conf = work / "rclone.conf"
    conf.write_text(f"[ais]\ntype = s3\nprovider = Other\nenv_auth = false\n"
                    f"access_key_id = BENCHKEY\nsecret_access_key = BENCHSECRET\n"
                    f"endpoint = {server.s3_url}\nforce_path_style = true\n"
                    f"region = us-east-1\n")
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}  # http: no CA;
    env["RCLONE_CONFIG"] = str(conf)  # (rclone refuses a CA bundle with its transport)
    cache = work / f"rclone-cache-{cache_mode}"

    def start(p: Peer) -> subprocess.Popen[bytes]:
        shutil.rmtree(cache, ignore_errors=True)  # cold: nothing left in its cache
        log = open(work / "rclone.log", "ab")  # noqa: SIM115 - handed to the child
        return subprocess.Popen(
            ["rclone", "mount", f"ais:{p.bucket}", str(p.where), "--vfs-cache-mode",
             cache_mode, "--cache-dir", str(cache),
             *(["--rc", "--rc-no-auth", f"--rc-addr=127.0.0.1:{rc_port}"] if rc_port else [])],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    return start


def phase(fig: Figures, key: str, n: int, fn: Callable[[], object],
          requests: Callable[[], int], rate: bool = True) -> None:
    """Time `fn` (a rate of `n` per s, or seconds) and count the node's requests per item."""
    before = requests()
    t = timed(fn)
    fig.add("req:" + key, (requests() - before) / n)
    fig.add(key, n / t if rate else t)


def small_files(root: Path, count: int, fig: Figures, requests: Callable[[], int]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    names = [root / f"f{i:05d}" for i in range(count)]

    def create() -> None:
        for p in names:
            with open(p, "wb") as f:
                f.write(b"x" * 100)

    phase(fig, "create", count, create, requests)
    phase(fig, "stat", count, lambda: [os.stat(p) for p in names], requests)
    phase(fig, "unlink", count, lambda: list(map(os.unlink, names)), requests)


def make_tree(root: Path, count: int, per_dir: int = 500) -> None:
    for i in range(count):
        d = root / f"d{i // per_dir:03d}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}").write_bytes(b"y")


def run_cmd(cmd: list[str]) -> float:
    return timed(lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True,
                                        timeout=900))


def semantics_now(d: Path) -> dict[str, str | None]:
    """The checks through the mount; each maps to None (passed) or what went wrong."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, str | None] = {}

    def check(name: str, fn: Callable[[], str | None]) -> None:
        try:
            out[name] = fn()
        except OSError as e:
            out[name] = f"{type(e).__name__}: {e}"

    def rename() -> str | None:
        (d / "a").write_bytes(b"hello")
        os.rename(d / "a", d / "b")
        if (d / "a").exists():
            return "the old name still exists"
        return None if (d / "b").read_bytes() == b"hello" else "content changed"

    def append() -> str | None:
        (d / "log").write_bytes(b"one\n")
        with open(d / "log", "ab") as f:
            f.write(b"two\n")
        got = (d / "log").read_bytes()
        return None if got == b"one\ntwo\n" else f"read {got!r}"

    def dots() -> str | None:
        ls = subprocess.run(["ls", "-la", str(d)], capture_output=True, text=True,
                            timeout=60).stdout.splitlines()
        names = {line.rsplit(" ", 1)[-1] for line in ls}
        return None if {".", ".."} <= names else "no . or .. in ls -la"

    def truncate() -> str | None:
        (d / "t").write_bytes(b"z" * 1000)
        os.truncate(d / "t", 10)
        os.truncate(d / "t", 20)
        got = (d / "t").read_bytes()
        return None if got == b"z" * 10 + b"\0" * 10 else f"read {len(got)} bytes {got[:24]!r}"

    for name, fn in (("rename", rename), ("append", append), ("ls -la . ..", dots),
                     ("truncate", truncate)):
        check(name, fn)
    return out


def semantics_kept(d: Path) -> str | None:
    """After a remount: what the checks left is still so."""
    try:
        want = {"b": b"hello", "log": b"one\ntwo\n", "t": b"z" * 10 + b"\0" * 10}
        for name, data in want.items():
            got = (d / name).read_bytes()
            if got != data:
                return f"{name}: read {got[:24]!r}"
        return "a: came back" if (d / "a").exists() else None
    except OSError as e:
        return f"{type(e).__name__}: {e}"


def note(fig: Figures, checks: dict[str, str | None]) -> None:
    for name, why in checks.items():
        fig.add("check:" + name, 0.0 if why else 1.0)
        if why and name not in fig.failed:
            fig.failed[name] = why


def run_peer(p: Peer, r: int, args: argparse.Namespace, fig: Figures) -> None:
    m = p.where
    size = args.mib * MiB
    print(f"[round {r + 1}] {TITLES[p.name]}: {args.small} small files ...", flush=True)
    reqs = args.requests
    p.mount()
    try:
        small_files(m / f"small{r}", args.small, fig, reqs)
        if args.small_only:
            return
        print(f"[round {r + 1}] {TITLES[p.name]}: tree of {args.tree} ...", flush=True)
        phase(fig, "tree_create", args.tree, lambda: make_tree(m / f"tree{r}", args.tree), reqs)
        p.remount_cold()
        phase(fig, "ls_lr", args.tree, lambda: run_cmd(["ls", "-lR", str(m / f"tree{r}")]),
              reqs, rate=False)
        phase(fig, "rm_rf", args.tree, lambda: run_cmd(["rm", "-rf", str(m / f"tree{r}")]),
              reqs, rate=False)
        checks = semantics_now(m / f"sem{r}")
        print(f"[round {r + 1}] {TITLES[p.name]}: {args.mib} MiB sequential ...", flush=True)
        fig.add("seq_write", args.mib / timed(lambda: write_file(m / f"big{r}", size)))
        p.remount_cold()
        got = 0

        def read() -> None:
            nonlocal got
            got = read_file(m / f"big{r}")

        fig.add("seq_read", args.mib / timed(read))
        if got != size:
            checks["kept after remount"] = f"big file read back {got} of {size} bytes"
        else:
            checks["kept after remount"] = semantics_kept(m / f"sem{r}")
        note(fig, checks)
    finally:
        p.umount()


def fmt(v: float | None, spec: str = ".0f") -> str:
    return "-" if v is None else format(v, spec)


def table(order: list[str], figs: dict[str, Figures], args: argparse.Namespace) -> str:
    head = "| | " + " | ".join(TITLES[n] for n in order) + " |"
    rows = [head, "|---" * (len(order) + 1) + "|"]

    def row(label: str, cell: Callable[[Figures], str]) -> None:
        rows.append(f"| {label} | " + " | ".join(cell(figs[n]) for n in order) + " |")

    row(f"small files ({args.small}) create / stat / unlink per s",
        lambda f: " / ".join(fmt(f.med(k)) for k in ("create", "stat", "unlink")))
    if args.small_only:
        row("node requests per file: create / stat / unlink",
            lambda f: " / ".join(fmt(f.med("req:" + k), ".2f")
                                 for k in ("create", "stat", "unlink")))
        return "\n".join(rows)
    row(f"tree of {args.tree}: create/s · cold `ls -lR` · `rm -rf`",
        lambda f: f"{fmt(f.med('tree_create'))} · {fmt(f.med('ls_lr'), '.2f')} s · "
                  f"{fmt(f.med('rm_rf'), '.2f')} s")
    row("node requests per file: create / stat / unlink",
        lambda f: " / ".join(fmt(f.med("req:" + k), ".2f") for k in ("create", "stat", "unlink")))
    row("node requests per tree file: create · `ls -lR` · `rm -rf`",
        lambda f: " · ".join(fmt(f.med("req:" + k), ".3f")
                             for k in ("tree_create", "ls_lr", "rm_rf")))
    row(f"seq write / cold read MiB/s ({args.mib} MiB)",
        lambda f: f"{fmt(f.med('seq_write'))} / {fmt(f.med('seq_read'))}")

    def checks(f: Figures) -> str:
        runs = [f.values.get("check:" + c, []) for c in CHECKS]
        passed = sum(1 for v in runs if v and min(v) == 1.0)
        return f"{passed}/{len(CHECKS)}" + (f" (failed: {', '.join(f.failed)})"
                                            if f.failed else "")

    row("semantic checks passed", checks)
    return "\n".join(rows)


def peers_to_run(args: argparse.Namespace, server: Server, work: Path) -> list[Peer]:
    rc_port = free_port()
    starters = {
        "aisfs": start_aisfs(server, args.options),
        "s3fs": start_s3fs(server, work),
        "rclone-off": start_rclone(server, work, "off"),
        "rclone-writes": start_rclone(server, work, "writes", rc_port),
        "aisfs-before": start_aisfs(server, args.options, args.before),
    }
    tools = {"s3fs": "s3fs", "rclone-off": "rclone", "rclone-writes": "rclone"}
    peers = []
    c = Conn(server.s3_url)
    for name in args.only:
        if name == "aisfs-before" and not args.before:
            continue
        tool = tools.get(name)
        if tool and shutil.which(tool) is None:
            print(f"{TITLES[name]}: skipped - `{tool}` is not installed "
                  f"(apt-get install {tool}, or ./run bench as root)", flush=True)
            continue
        bucket = f"peer-{name}"
        c.request("PUT", c.path(bucket))
        settle = rclone_settle(rc_port) if name == "rclone-writes" else None
        peers.append(Peer(name, bucket, work / "mnt" / name, starters[name], settle=settle))
    c.close()
    return peers


def node_requests(server: Server) -> int:
    """Requests the node has served so far (its /metrics), all operations together."""
    base = server.s3_url[: -len("/s3")]
    text = urllib.request.urlopen(base + "/metrics", timeout=30).read().decode()
    return sum(int(float(m.group(1))) for m in re.finditer(
        r'^aisfs_requests_total\{(?![^}]*operation="Metrics")[^}]*\} (\S+)', text, re.M))


def stat_pass(server: Server, d: Path, names: list[str]) -> tuple[float, float, float]:
    """stat/s of `names` in `d`, requests per stat, and lookups/s of 200 missing names."""
    before = node_requests(server)
    t = timed(lambda: [os.stat(d / n) for n in names])
    spent = node_requests(server) - before
    missing = timed(lambda: [os.path.exists(d / f"new{i}") for i in range(200)])
    return len(names) / t, spent / len(names), 200 / missing


def big_dir(server: Server, work: Path, files: int, backends: list[str]) -> None:
    """stat/s and requests per stat in a directory of `files` entries (over SMALL_DIR, so
    not listed whole to answer lookups): each name once after a fresh mount, then again
    once its attributes expired; the mount's `backend=node` and `backend=s3`."""
    c = Conn(server.s3_url)
    c.request("PUT", c.path("bigdir"))
    c.close()
    url = server.s3_url

    def put(i: int) -> None:
        cc = thread_conn(url)
        status, _ = cc.request("PUT", cc.path("bigdir", f"big/f{i:05d}"), body=b"x" * 100)
        assert status == 200, status

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(files)))
    names = [f"f{i:05d}" for i in range(files)]
    for backend in backends:
        where = work / f"bigdir-{backend}"
        where.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "aisfs", "mount", "--endpoint", url,
                        "-o", f"backend={backend}", "bigdir", str(where)], check=True,
                       timeout=60)
        try:
            d = where / "big"
            os.stat(d / names[0])  # the first lookup lists the directory: too big
            for label in ("first lookup", "attributes expired"):
                if label != "first lookup":
                    time.sleep(1.2)  # the default attr_timeout (1 s)
                rate, each, missing = stat_pass(server, d, names[1:])
                print(f"big directory of {files}, backend={backend}, {label}: "
                      f"stat {rate:.0f}/s ({each:.2f} requests each), missing names "
                      f"{missing:.0f}/s", flush=True)
        finally:
            subprocess.run([sys.executable, "-m", "aisfs", "umount", str(where)], timeout=60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench mount-peers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="2,000 / 5,000 / 256 MiB")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default=",".join(PEERS),
                        help=f"comma-separated subset of {','.join(PEERS)}")
    parser.add_argument("--small", type=int)
    parser.add_argument("--tree", type=int)
    parser.add_argument("--mib", type=int)
    parser.add_argument("-o", dest="options", action="append", default=[],
                        help="options of the aisfs mount, as for aisfs mount -o")
    parser.add_argument("--before", metavar="DIR",
                        help="also mount with the aisfs tree at DIR (an older commit's "
                             "files: `git archive REV | tar x -C DIR`), interleaved")
    parser.add_argument("--small-only", action="store_true",
                        help="only the small files' create / stat / unlink (A/B of those rows)")
    parser.add_argument("--big-dir", type=int, metavar="N",
                        help="instead: stat/s of aisfs mount in a directory of N files "
                             "(backend=node and backend=s3)")
    args = parser.parse_args(argv)
    args.only = [n for n in args.only.split(",") if n]
    if bad := set(args.only) - set(PEERS):
        parser.error(f"unknown: {', '.join(sorted(bad))}")
    args.small = args.small or (2000 if args.full else 500)
    args.tree = args.tree or (5000 if args.full else 1000)
    args.mib = args.mib or (256 if args.full else 64)
    if not (os.path.exists("/dev/fuse") and shutil.which("fusermount3")):
        sys.exit("bench mount-peers: needs /dev/fuse and fusermount3")
    work = Path(tempfile.mkdtemp(prefix="aisfs-bench-peers-"))
    server = start_node()
    args.requests = lambda: node_requests(server)  # (a phase's requests per item, each peer)
    if args.big_dir:
        try:
            big_dir(server, work, args.big_dir, ["node", "s3"])
        finally:
            server.stop()
            shutil.rmtree(work, ignore_errors=True)
        return
    load = os.getloadavg()
    figs: dict[str, Figures] = {}
    try:
        peers = peers_to_run(args, server, work)
        for r in range(args.rounds):
            turn = peers[r % len(peers):] + peers[:r % len(peers)] if peers else []
            for p in turn:
                try:
                    run_peer(p, r, args, figs.setdefault(p.name, Figures()))
                except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                    print(f"{TITLES[p.name]}: round {r + 1} failed: {e}", flush=True)
                    figs.setdefault(p.name, Figures()).failed.setdefault("run", str(e))
        order = [p.name for p in peers]
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    end = os.getloadavg()
    print(f"\nload average at the start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, "
          f"at the end {end[0]:.1f} / {end[1]:.1f} / {end[2]:.1f} on {os.cpu_count()} "
          f"cores; medians of {args.rounds} round(s)\n")
    print(table(order, figs, args))
    if args.rounds > 1:
        for n in order:
            for key in ("create", "stat", "unlink"):
                runs = ", ".join(f"{v:.0f}" for v in figs[n].values.get(key, []))
                print(f"  {TITLES[n]}: {key} per s, each round: {runs}")
    for n in order:
        for check, why in figs[n].failed.items():
            print(f"  {TITLES[n]}: {check}: {why}")


if __name__ == "__main__":
    main()
