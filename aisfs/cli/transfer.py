"""`aisfs put` and `aisfs get`: streamed, parallel for directories, progress on stderr."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import IO, Any

import httpx

from aisfs.cli.output import Progress, human_size, progress_wanted
from aisfs.cli.remote import client_uri
from aisfs.client.native import NativeClient, NativeError
from aisfs.native import ENTRY_IS_DIR, decode_custom_md

PIECE = 1024 * 1024


def _read_pieces(f: IO[bytes], progress: Progress | None) -> Iterator[bytes]:
    while True:
        piece = f.read(PIECE)
        if not piece:
            return
        if progress is not None:
            progress.add(len(piece))
        yield piece


def _parse_custom(texts: list[str]) -> dict[str, str]:
    """``--custom`` values: the wire form of aisfs/native.py (which also reads plain
    ``k=v,k=v``), merged in order."""
    out: dict[str, str] = {}
    for text in texts:
        out.update(decode_custom_md(text))
    return out


# ---- put ----------------------------------------------------------------------------

def _walk(root: Path) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_file():
                files.append(p)
    return files


def _put_jobs(path: Path, key: str) -> list[tuple[Path, str]]:
    """(file, object name) of each file to upload: a directory's files under the prefix
    ``key``, a file as ``key`` (or under it when ``key`` ends with '/')."""
    if path.is_dir():
        prefix = key if not key or key.endswith("/") else key + "/"
        return [(f, prefix + f.relative_to(path).as_posix()) for f in _walk(path)]
    return [(path, key if key and not key.endswith("/") else key + path.name)]


def put(
    client: NativeClient, src: str, bucket: str, key: str, ns: argparse.Namespace
) -> int:
    custom = _parse_custom(ns.custom) or None
    if src == "-":
        if not key or key.endswith("/"):
            print("aisfs: put from stdin needs an object name ([ais|s3]://BUCKET/OBJECT)",
                  file=sys.stderr)
            return 2
        client.put_object(bucket, key, _read_pieces(sys.stdin.buffer, None), None, custom)
        print(f'PUT "-" => {client_uri(client, bucket, key)}')
        return 0
    path = Path(src)
    if not path.exists():
        print(f"aisfs: {src}: no such file or directory", file=sys.stderr)
        return 1
    jobs = _put_jobs(path, key)
    if ns.dry_run:
        for f, obj in jobs:
            print(f'[dry-run] PUT "{f}" => {client_uri(client, bucket, obj)}')
        return 0
    sizes = {f: f.stat().st_size for f, _ in jobs}
    progress = Progress(sum(sizes.values()), len(jobs), progress_wanted(ns.progress), "PUT")
    started = time.monotonic()
    errors: list[str] = []
    done: list[dict[str, Any]] = []

    def one(f: Path, obj: str) -> None:
        with open(f, "rb") as fh:
            client.put_object(bucket, obj, _read_pieces(fh, progress), sizes[f], custom)
        progress.file_done()

    with ThreadPoolExecutor(max_workers=max(1, ns.conc)) as pool:
        futures = {pool.submit(one, f, obj): (f, obj) for f, obj in jobs}
        for fut in as_completed(futures):
            f, obj = futures[fut]
            try:
                fut.result()
                done.append({"file": str(f), "object": client_uri(client, bucket, obj),
                             "size": sizes[f]})
            except (NativeError, OSError, httpx.HTTPError) as e:
                msg = e.message if isinstance(e, NativeError) else f"{type(e).__name__}: {e}"
                errors.append(f'PUT "{f}" => {client_uri(client, bucket, obj)} failed: {msg}')
    progress.finish()
    for line in errors:
        print(f"aisfs: {line}", file=sys.stderr)
    total = sum(d["size"] for d in done)
    if ns.json:
        print(json.dumps(sorted(done, key=lambda d: d["object"]), indent=2))
    elif len(jobs) == 1 and done:
        print(f'PUT "{jobs[0][0]}" => {client_uri(client, bucket, jobs[0][1])}')
    else:
        elapsed = time.monotonic() - started
        where = client_uri(client, bucket, key)
        print(f"PUT {len(done)} objects ({human_size(total)}) => {where} in {elapsed:.2f}s")
    return 1 if errors else 0


# ---- get ----------------------------------------------------------------------------

def _safe_relpath(key: str) -> Path | None:
    parts = [p for p in key.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return Path(*parts)


def _download(
    client: NativeClient,
    bucket: str,
    key: str,
    dest: Path | None,
    byte_range: str | None,
    progress: Progress | None,
) -> int:
    with client.get_object(bucket, key, byte_range) as resp:
        if dest is None:
            out = sys.stdout.buffer
            n = 0
            for piece in resp.iter_bytes(PIECE):
                out.write(piece)
                n += len(piece)
                if progress is not None:
                    progress.add(len(piece))
            out.flush()
            return n
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.aisfs-part")
        n = 0
        try:
            with open(tmp, "wb") as f:
                for piece in resp.iter_bytes(PIECE):
                    f.write(piece)
                    n += len(piece)
                    if progress is not None:
                        progress.add(len(piece))
            expected = resp.headers.get("content-length")
            if expected is not None and int(expected) != n:
                raise NativeError(0, f"{client_uri(client, bucket, key)}: short read "
                                    f"({n} of {expected})")
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return n


def get(
    client: NativeClient, bucket: str, key: str, dst: str | None, ns: argparse.Namespace
) -> int:
    if ns.recursive or not key:
        return _get_many(client, bucket, key, dst, ns)
    byte_range = None
    if ns.offset is not None or ns.length is not None:
        start = ns.offset or 0
        end = "" if ns.length is None else str(start + ns.length - 1)
        byte_range = f"bytes={start}-{end}"
    if dst == "-":
        _download(client, bucket, key, None, byte_range, None)
        return 0
    base = key.rsplit("/", 1)[-1]
    if dst is None:
        dest = Path(base)
    else:
        dest = Path(dst)
        if dest.is_dir() or dst.endswith("/"):
            dest = dest / base
    n = _download(client, bucket, key, dest, byte_range, None)
    if ns.json:
        print(json.dumps({"object": client_uri(client, bucket, key), "file": str(dest),
                          "size": n}))
    else:
        print(f'GET "{key}" from {client_uri(client, bucket)} as "{dest}" ({human_size(n)})')
    return 0


def _get_many(
    client: NativeClient, bucket: str, prefix: str, dst: str | None, ns: argparse.Namespace
) -> int:
    if dst == "-":
        print("aisfs: cannot write many objects to stdout", file=sys.stderr)
        return 2
    root = Path(dst or ".")
    entries = [
        e for e in client.iter_objects(bucket, prefix)
        if not int(e.get("flags", 0)) & ENTRY_IS_DIR
    ]
    jobs: list[tuple[str, Path, int]] = []
    errors: list[str] = []
    for e in entries:
        rel = _safe_relpath(e["name"])
        if rel is None:
            errors.append(f"skipped {e['name']!r}: not a safe file name")
            continue
        jobs.append((e["name"], root / rel, int(e.get("size", 0) or 0)))
    progress = Progress(sum(j[2] for j in jobs), len(jobs), progress_wanted(ns.progress), "GET")
    started = time.monotonic()
    total = 0
    lock = threading.Lock()

    def one(name: str, dest: Path) -> None:
        nonlocal total
        n = _download(client, bucket, name, dest, None, progress)
        progress.file_done()
        with lock:
            total += n

    with ThreadPoolExecutor(max_workers=max(1, ns.conc)) as pool:
        futures = {pool.submit(one, name, dest): name for name, dest, _ in jobs}
        for fut in as_completed(futures):
            try:
                fut.result()
            except (NativeError, OSError, httpx.HTTPError) as e:
                msg = e.message if isinstance(e, NativeError) else f"{type(e).__name__}: {e}"
                errors.append(f"GET {client_uri(client, bucket, futures[fut])} failed: {msg}")
    progress.finish()
    for line in errors:
        print(f"aisfs: {line}", file=sys.stderr)
    elapsed = time.monotonic() - started
    print(
        f"GET {len(jobs) - sum(1 for e in errors if 'failed' in e)} objects "
        f"({human_size(total)}) from {client_uri(client, bucket, prefix)} into \"{root}\" "
        f"in {elapsed:.2f}s"
    )
    return 1 if errors else 0
