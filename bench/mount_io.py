"""The mount, measured beside direct S3 and the local disk, in one run.

    ./run bench mount            # 1 GiB sequential, 2,000 small files, 10,000-file ls -lR
    ./run bench mount --quick    # 256 MiB, 500 files, 2,000-file listing
    ./run bench mount --quick -o local_read=off   # mount options (A/B comparisons)

Prints: sequential write/read of a big file through the mount vs S3 PUT/GET of the same
size (ratio; targets: read >= 70 %, write >= 60 %), create+stat+unlink of small files
(ops/s; target >= 500), cold `ls -lR` of many files (s; target < 2), renaming a directory
of 1,000 files (s; target < 1) — each with the local disk's figure beside it.

The small-file loop takes a few seconds, and on a shared 2-core VM back-to-back runs of it
differ by up to 30 %: it runs three times on each side and the median is reported, with
every run printed beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

from bench.client import Conn, stamp_piece
from bench.servers import Server, start_node

MiB = 1024 * 1024


MOUNT_OPTIONS: list[str] = []  # -o lists given to the bench
SMALL_RUNS = 3


def mount(server: Server, bucket: str, where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    opts = [a for o in MOUNT_OPTIONS for a in ("-o", o)]
    subprocess.run(
        [sys.executable, "-m", "aisfs", "mount", "--endpoint", server.s3_url, *opts, bucket,
         str(where)],
        check=True, timeout=60,
    )


def umount(where: Path) -> None:
    subprocess.run([sys.executable, "-m", "aisfs", "umount", str(where)], timeout=60)


def drop_caches() -> None:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        pass


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def write_file(path: Path, size: int) -> None:
    piece = bytearray(os.urandom(MiB))
    view = memoryview(piece)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(piece))
            stamp_piece(piece, size - left)  # no two pieces alike: nothing to deduplicate
            f.write(view[:n])
            left -= n
        f.flush()
        os.fsync(f.fileno())


def read_file(path: Path) -> int:
    total = 0
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(MiB)
        while n := f.readinto(buf):
            total += n
    return total


def small_files(root: Path, count: int) -> float:
    root.mkdir(parents=True, exist_ok=True)

    def run() -> None:
        for i in range(count):
            p = root / f"f{i:05d}"
            with open(p, "wb") as f:
                f.write(b"x" * 100)
            os.stat(p)
            os.unlink(p)

    return count / timed(run)


def make_tree(root: Path, count: int, per_dir: int = 500) -> None:
    for i in range(count):
        d = root / f"d{i // per_dir:03d}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}").write_bytes(b"y")


def ls_lr(root: Path) -> float:
    return timed(lambda: subprocess.run(["ls", "-lR", str(root)], stdout=subprocess.DEVNULL,
                                        check=True))


def rename_dir(root: Path, count: int) -> float:
    src = root / "ren-src"
    src.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (src / f"f{i:04d}").write_bytes(b"z")
    return timed(lambda: os.rename(src, root / "ren-dst"))


def s3_seq(server: Server, size: int) -> tuple[float, float]:
    c = Conn(server.s3_url)
    c.request("PUT", c.path("direct"))
    piece = os.urandom(MiB)
    put = timed(lambda: c.put_stream("direct", "big", size, piece))
    drop_caches()  # cold, as the mount's read below and the local disk's are
    get = timed(lambda: c.get_stream("direct", "big"))
    c.close()
    return size / MiB / put, size / MiB / get


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench mount", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("-o", dest="options", action="append", default=[],
                        help="mount options, as for aisfs mount -o")
    args = parser.parse_args(argv)
    MOUNT_OPTIONS[:] = args.options
    size = (256 if args.quick else 1024) * MiB
    nsmall = 500 if args.quick else 2000
    ntree = 2000 if args.quick else 10_000
    if not (os.path.exists("/dev/fuse") and shutil.which("fusermount3")):
        sys.exit("bench mount: needs /dev/fuse and fusermount3")

    work = Path(tempfile.mkdtemp(prefix="aisfs-bench-mount-"))
    local = work / "local"
    local.mkdir()
    node = start_node()
    mnt = work / "mnt"
    rows: list[tuple[str, float, float, str]] = []
    try:
        c = Conn(node.s3_url)
        c.request("PUT", c.path("mnt"))
        c.close()
        put_mibs, get_mibs = s3_seq(node, size)
        mount(node, "mnt", mnt)
        try:
            print(f"sequential {size // MiB} MiB ...", flush=True)
            w = size / MiB / timed(lambda: write_file(mnt / "big.bin", size))
            umount(mnt)
            drop_caches()
            mount(node, "mnt", mnt)
            r = size / MiB / timed(lambda: read_file(mnt / "big.bin"))
            lw = size / MiB / timed(lambda: write_file(local / "big.bin", size))
            drop_caches()
            lr = size / MiB / timed(lambda: read_file(local / "big.bin"))
            rows.append(("write through mount (MiB/s)", w, lw,
                         f"{100 * w / put_mibs:.0f}% of S3 PUT {put_mibs:.0f} (>= 60%)"))
            rows.append(("read through mount (MiB/s)", r, lr,
                         f"{100 * r / get_mibs:.0f}% of S3 GET {get_mibs:.0f} (>= 70%)"))
            print(f"{nsmall} small files, 3 times ...", flush=True)
            ms = [small_files(mnt / "small", nsmall) for _ in range(SMALL_RUNS)]
            ls = [small_files(local / "small", nsmall) for _ in range(SMALL_RUNS)]
            runs = ", ".join(f"{v:.0f}" for v in ms)
            rows.append(("create+stat+unlink (ops/s), median", median(ms), median(ls),
                         f">= 500 (mount runs: {runs})"))
            print(f"tree of {ntree} files ...", flush=True)
            make_tree(mnt / "tree", ntree)
            make_tree(local / "tree", ntree)
            umount(mnt)
            drop_caches()
            mount(node, "mnt", mnt)
            rows.append((f"cold ls -lR of {ntree} files (s)", ls_lr(mnt / "tree"),
                         ls_lr(local / "tree"), "< 2 s"))
            rows.append(("rename a directory of 1,000 files (s)", rename_dir(mnt, 1000),
                         rename_dir(local, 1000), "< 1 s"))
        finally:
            umount(mnt)
    finally:
        node.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'measure':<40} {'mount':>10} {'local':>10}   target")
    for label, m, loc, target in rows:
        print(f"{label:<40} {m:>10.2f} {loc:>10.2f}   {target}")


if __name__ == "__main__":
    main()
