"""A real tree through the mount: an installed package copied in, walked, read back.

    ./run bench tree                 # the installed botocore package (~2,000 files, ~900 dirs)
    ./run bench tree --src DIR       # another tree
    ./run bench tree --base /work/base   # the same beside the mount of another checkout
    ./run bench tree -o attr_timeout=0   # mount options (A/B comparisons)

For each mount (this checkout's, and with --base the other's, over the same node - this
checkout's - in interleaved rounds) it prints: `cp -r` of the tree into the mount
(files/s; target >= 300), `du -sh` of it right after (s; target < 2), `tar c` of it right
after (must exit 0), `diff -r` against the source (must be clean), a cold `ls -lR` after
a remount with the page cache dropped (s), and the node's requests per operation during
the copy (from its /metrics), so a per-directory or per-file cost shows as a count.

The limit beside it: the same files PUT one after another on one keep-alive connection
(what a `cp` that waits for each close() to be durable can reach at best), measured in
the same round.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from statistics import median

from bench.client import Conn
from bench.servers import Server, start_node


def default_src() -> Path:
    import botocore

    return Path(botocore.__file__).parent


def count(src: Path) -> tuple[int, int]:
    files = dirs = 0
    for _, ds, fs in os.walk(src):
        dirs += len(ds)
        files += len(fs)
    return files, dirs + 1


def requests(server: Server) -> Counter[str]:
    base = server.s3_url[: -len("/s3")]
    text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    out: Counter[str] = Counter()
    for m in re.finditer(r'^aisfs_requests_total\{([^}]*)\} (\S+)', text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        out[f"{labels.get('api', '')}:{labels.get('operation', '')}"] += int(float(m.group(2)))
    return out


def seq_put(server: Server, bucket: str, src: Path) -> float:
    """Files/s of the tree's files PUT one at a time (with the mount's metadata headers)."""
    files = [Path(d) / f for d, _, fs in os.walk(src) for f in fs]
    host = server.s3_url.split("//", 1)[1].split("/", 1)[0]
    c = http.client.HTTPConnection(host, timeout=30)
    c.request("PUT", f"/s3/{bucket}")
    c.getresponse().read()
    meta = {"x-amz-meta-mode": "33188", "x-amz-meta-uid": "0", "x-amz-meta-gid": "0",
            "x-amz-meta-mtime": "1796502290.455916388"}
    t = time.perf_counter()
    for i, p in enumerate(files):
        c.request("PUT", f"/s3/{bucket}/k/{i}", body=p.read_bytes(), headers=meta)
        c.getresponse().read()
    dt = time.perf_counter() - t
    c.close()
    return len(files) / dt


def mount(server: Server, bucket: str, where: Path, pythonpath: str | None,
          options: list[str]) -> None:
    where.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    opts = [a for o in options for a in ("-o", o)]
    subprocess.run(
        [sys.executable, "-m", "aisfs", "mount", "--endpoint", server.s3_url, *opts, bucket,
         str(where)], check=True, timeout=60, env=env, cwd=pythonpath or None,
    )


def umount(where: Path) -> None:
    subprocess.run([sys.executable, "-m", "aisfs", "umount", str(where)], timeout=60)


def drop_caches() -> None:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        pass


def timed_run(cmd: list[str], **kw: object) -> tuple[float, int]:
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]
    dt = time.perf_counter() - t
    if p.returncode:
        print(f"  {cmd[0]} exited {p.returncode}: {p.stderr.decode(errors='replace')[:400]}")
    return dt, int(p.returncode)


def one_round(server: Server, bucket: str, src: Path, nfiles: int, work: Path,
              pythonpath: str | None, options: list[str]) -> dict[str, float]:
    mnt = work / "mnt"
    c = Conn(server.s3_url)
    c.request("PUT", c.path(bucket))
    c.close()
    mount(server, bucket, mnt, pythonpath, options)
    res: dict[str, float] = {"put_files_s": seq_put(server, bucket + "-put", src)}
    try:
        before = requests(server)
        cp, rc = timed_run(["cp", "-r", str(src), str(mnt / "t")])
        res["cp_files_s"] = nfiles / cp
        res["cp_rc"] = rc
        after = requests(server)
        res["requests"] = sum((after - before).values())
        res["req_detail"] = after - before  # type: ignore[assignment]
        res["du_s"], res["du_rc"] = timed_run(["du", "-sh", str(mnt / "t")])
        res["du_detail"] = requests(server) - after  # type: ignore[assignment]
        _, res["tar_rc"] = timed_run(["tar", "cf", "/dev/null", "-C", str(mnt), "t"])
        _, res["diff_rc"] = timed_run(["diff", "-r", str(src), str(mnt / "t")])
    finally:
        umount(mnt)
    drop_caches()
    mount(server, bucket, mnt, pythonpath, options)
    try:
        before = requests(server)
        res["ls_lR_s"], _ = timed_run(["ls", "-lR", str(mnt / "t")])
        res["ls_detail"] = requests(server) - before  # type: ignore[assignment]
        res["du_cold_s"], _ = timed_run(["du", "-sh", str(mnt / "t")])
    finally:
        umount(mnt)
    return res


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench tree", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, default=None)
    parser.add_argument("--base", default=None, help="another checkout's mount beside ours")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("-o", dest="options", action="append", default=[])
    args = parser.parse_args(argv)
    if not (os.path.exists("/dev/fuse") and shutil.which("fusermount3")):
        sys.exit("bench tree: needs /dev/fuse and fusermount3")
    src: Path = args.src or default_src()
    nfiles, ndirs = count(src)
    print(f"tree {src}: {nfiles} files in {ndirs} directories", flush=True)
    sides: list[tuple[str, str | None]] = [("this", None)]
    if args.base:
        sides.append(("base", os.path.abspath(args.base)))
    work = Path(tempfile.mkdtemp(prefix="aisfs-bench-tree-"))
    node = start_node()
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in sides}
    n = 0
    try:
        for _ in range(args.rounds):
            for name, pp in sides:
                n += 1
                r = one_round(node, f"tree{n}", src, nfiles, work, pp, args.options)
                results[name].append(r)
                print(f"  {name}: cp {r['cp_files_s']:.0f} files/s (sequential PUTs "
                      f"{r['put_files_s']:.0f}/s), du {r['du_s']:.2f} s, "
                      f"tar rc {r['tar_rc']:.0f}, diff rc {r['diff_rc']:.0f}, cold ls -lR "
                      f"{r['ls_lR_s']:.2f} s, cold du {r['du_cold_s']:.2f} s, "
                      f"{r['requests']:.0f} requests in the copy", flush=True)
                for what in ("req", "du", "ls"):
                    detail = r[what + "_detail"]
                    assert isinstance(detail, Counter)
                    print(f"    {what}: " + ", ".join(
                        f"{k} {v}" for k, v in detail.most_common() if k != "native:Metrics"),
                        flush=True)
    finally:
        node.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'measure (median)':<34}" + "".join(f"{name:>10}" for name, _ in sides)
          + "   target")
    for key, label, target in [
        ("cp_files_s", "cp -r (files/s)", ">= 300"),
        ("put_files_s", "  limit: sequential PUTs (files/s)", ""),
        ("du_s", "du -sh right after (s)", "< 2"),
        ("tar_rc", "tar c exit code", "0"),
        ("diff_rc", "diff -r exit code", "0"),
        ("ls_lR_s", "cold ls -lR (s)", ""),
        ("du_cold_s", "du -sh after remount (s)", "< 2"),
        ("requests", "node requests during cp", ""),
    ]:
        vals = [median(r[key] for r in results[name]) for name, _ in sides]
        print(f"{label:<34}" + "".join(f"{v:>10.2f}" for v in vals) + f"   {target}")


if __name__ == "__main__":
    main()
