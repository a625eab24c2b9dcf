"""Check the index against the manifests on the mountpaths; rebuild it from them.

The mountpaths are the truth: bucket records (on every mountpath), object manifests (the
highest generation wins when copies disagree; inline objects carry their bytes, and of
equal copies one whose bytes match their checksum wins) and upload/part records. The index is
rebuilt from those alone; chunk refcounts are recomputed from the chunk lists.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import time
from collections import Counter
from typing import Any

from . import layout
from .core import StoreCore
from .files import read_json
from .index import INSERT_OBJECT, INSERT_VERSION, object_row, version_row
from .manifest import dumps, index_text, inline_ok, upload_from_json
from .manifests import walk_manifests
from .types import BucketInfo, FsckReport, ObjectInfo, UploadInfo
from .version_repair import apply_files, scan_versions, settle

log = logging.getLogger(__name__)


class ScanProgress:
    """A progress line on stderr about once a second while fsck scans the manifests."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.mountpath = ""
        self.start = self.last = time.monotonic()
        self.seen = 0

    def tick(self, objects: int) -> None:
        self.seen += 1
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = self.seen / max(now - self.start, 1e-9)
            print(
                f"fsck: {self.seen:,} manifests read ({objects:,} objects), {rate:,.0f}/s, "
                f"on {self.mountpath}", file=sys.stderr, flush=True,
            )


# long: one walk of each mountpath collecting four kinds of record, the highest
# generation winning; the return type alone is six lines
def _scan(core: StoreCore, progress: ScanProgress) -> tuple[
    dict[str, tuple[int, BucketInfo]],
    dict[tuple[str, str], ObjectInfo],
    dict[str, UploadInfo],
    dict[str, dict[int, dict[str, Any]]],
]:
    buckets: dict[str, tuple[int, BucketInfo]] = {}
    objects: dict[tuple[str, str], ObjectInfo] = {}
    uploads: dict[str, UploadInfo] = {}
    parts: dict[str, dict[int, dict[str, Any]]] = {}
    oks: dict[tuple[str, str], tuple[int, bool]] = {}
    for mp in core.mps.live():
        progress.mountpath = mp.root
        root = mp.root
        try:
            names = os.listdir(f"{root}/{layout.BUCKETS}")
        except OSError:
            names = []
        for name in names:
            if not name.endswith(".json"):
                continue
            d = read_json(f"{root}/{layout.BUCKETS}/{name}")
            if d is None:
                continue
            updated = int(d.get("updated_ns", 0))
            have = buckets.get(d["name"])
            if have is None or updated > have[0]:
                buckets[d["name"]] = (
                    updated, BucketInfo(d["name"], int(d["created_ns"]), d.get("props") or {})
                )
        for _path, info in walk_manifests(root, logged=True):
            cur = oks.get((info.bucket, info.key))
            # the newest copy wins; of equal ones, one whose inline bytes verify
            ok = inline_ok(info)
            info.inline = None  # the index keeps no inline bytes: not held for all objects
            if cur is None or (info.generation, ok) > cur:
                objects[(info.bucket, info.key)] = info
                oks[(info.bucket, info.key)] = (info.generation, ok)
            progress.tick(len(objects))
        try:
            uids = os.listdir(f"{root}/{layout.UPLOADS}")
        except OSError:
            uids = []
        for uid in uids:
            d_dir = layout.upload_dir(root, uid)
            d = read_json(f"{d_dir}/upload.json")
            if d is None:
                continue
            uploads[uid] = upload_from_json(d)
            try:
                files = os.listdir(d_dir)
            except OSError:
                continue
            for f in files:
                if f.startswith("part.") and f.endswith(".json"):
                    p = read_json(f"{d_dir}/{f}")
                    if p is None:
                        continue
                    prev = parts.setdefault(uid, {}).get(int(p["part_number"]))
                    if prev is None or int(p["mtime_ns"]) > int(prev["mtime_ns"]):
                        parts[uid][int(p["part_number"])] = p
    return buckets, objects, uploads, parts


def run_fsck(core: StoreCore, rebuild: bool, check_chunks: bool = True) -> FsckReport:
    with core.index.wlock:
        return _check(core, rebuild, check_chunks)


def _check(core: StoreCore, rebuild: bool, check_chunks: bool) -> FsckReport:
    progress = ScanProgress()
    buckets, objects, uploads, parts = _scan(core, progress)
    versions, promotions = _settle_versions(objects, scan_versions(core))
    _adopt_orphans(buckets, objects, uploads)
    for bucket, _ in versions:
        if bucket not in buckets:
            buckets[bucket] = (0, BucketInfo(bucket, time.time_ns(), {}))
    report = FsckReport()
    _compare_with_index(core.index.w, report, buckets, objects, uploads, parts)
    _compare_versions(core.index.w, report, versions)
    refs, sizes = _chunk_refs(objects, uploads, parts)
    for per in versions.values():
        for info in per.values():
            for c in info.chunks:
                refs[c.id] += 1
                sizes[c.id] = c.size
    report.buckets = len(buckets)
    report.objects = len(objects)
    report.uploads = len(uploads)
    report.parts = sum(len(parts.get(u, {})) for u in uploads)
    report.chunks_referenced = len(refs)
    if check_chunks:
        live = core.mps.live()
        for cid in refs:
            if not any(os.path.exists(layout.chunk_path(mp.root, cid)) for mp in live):
                report.missing_chunks.append(cid)
    if rebuild:
        for (bucket, key), (drop, promote, drop_current) in promotions.items():
            apply_files(core, bucket, key, drop, promote, drop_current)
        _rebuild_index(core, buckets, objects, uploads, parts, refs, sizes)
        _rebuild_versions(core, versions)
        report.rebuilt = True
    return report


def _settle_versions(
    objects: dict[tuple[str, str], ObjectInfo],
    scanned: dict[tuple[str, str], dict[str, ObjectInfo]],
) -> tuple[dict[tuple[str, str], dict[str, ObjectInfo]],
           dict[tuple[str, str], tuple[list[str], str | None, bool]]]:
    """Each key's versions as version_repair's rules leave them (``objects`` updated: a
    current superseded goes, a version promoted comes); the file changes a rebuild makes."""
    out: dict[tuple[str, str], dict[str, ObjectInfo]] = {}
    changes: dict[tuple[str, str], tuple[list[str], str | None, bool]] = {}
    for name, found in scanned.items():
        current, kept, drop, promote, drop_current = settle(objects.get(name), found)
        if current is None:
            objects.pop(name, None)
        else:
            objects[name] = current
        if kept:
            out[name] = kept
        if drop or promote or drop_current:
            changes[name] = (drop, promote, drop_current)
    return out, changes


def _compare_versions(w: sqlite3.Connection, report: FsckReport,
                      versions: dict[tuple[str, str], dict[str, ObjectInfo]]) -> None:
    disk = {(b, k, vid) for (b, k), per in versions.items() for vid in per}
    idx = {(r[0], r[1], r[2]) for r in w.execute(
        "SELECT bucket, key, version_id FROM versions").fetchall()}
    report.versions = len(disk)
    report.version_mismatches = sorted(disk ^ idx)


def _rebuild_versions(core: StoreCore,
                      versions: dict[tuple[str, str], dict[str, ObjectInfo]]) -> None:
    w = core.index.w
    with core.index.transaction():
        w.execute("DELETE FROM versions")
        w.executemany(INSERT_VERSION, (
            version_row(i, index_text(i)) for per in versions.values() for i in per.values()
        ))


def _adopt_orphans(buckets: dict[str, tuple[int, BucketInfo]],
                   objects: dict[tuple[str, str], ObjectInfo],
                   uploads: dict[str, UploadInfo]) -> None:
    """Objects and uploads whose bucket record is lost everywhere get a bucket with
    default props."""
    for bucket, _ in objects:
        if bucket not in buckets:
            log.warning("bucket %s has objects but no record: recreating it", bucket)
            buckets[bucket] = (0, BucketInfo(bucket, time.time_ns(), {}))
    for up in uploads.values():
        if up.bucket not in buckets:
            buckets[up.bucket] = (0, BucketInfo(up.bucket, time.time_ns(), {}))


def _compare_with_index(w: sqlite3.Connection, report: FsckReport,
                        buckets: dict[str, tuple[int, BucketInfo]],
                        objects: dict[tuple[str, str], ObjectInfo],
                        uploads: dict[str, UploadInfo],
                        parts: dict[str, dict[int, dict[str, Any]]]) -> None:
    """What the disk has that the index lacks, and the reverse, into ``report``."""
    idx_objects = {
        (r[0], r[1]): int(r[2])
        for r in w.execute("SELECT bucket, key, generation FROM objects").fetchall()
    }
    for k, info in objects.items():
        g = idx_objects.get(k)
        if g is None:
            report.disk_only_objects.append(k)
        elif g != info.generation:
            report.stale_objects.append(k)
    report.index_only_objects = [k for k in idx_objects if k not in objects]
    idx_buckets = {
        r[0]: json.loads(r[1]) for r in w.execute("SELECT name, props FROM buckets").fetchall()
    }
    report.bucket_mismatches = sorted(
        set(idx_buckets) ^ set(buckets)
        | {n for n in idx_buckets if n in buckets and idx_buckets[n] != buckets[n][1].props}
    )
    idx_uploads = {r[0] for r in w.execute("SELECT upload_id FROM uploads").fetchall()}
    idx_parts = Counter(
        r[0] for r in w.execute("SELECT upload_id FROM parts").fetchall()
    )
    report.upload_mismatches = sorted(
        (idx_uploads ^ set(uploads))
        | {u for u in uploads if idx_parts.get(u, 0) != len(parts.get(u, {}))}
    )


def _chunk_refs(objects: dict[tuple[str, str], ObjectInfo],
                uploads: dict[str, UploadInfo],
                parts: dict[str, dict[int, dict[str, Any]]],
                ) -> tuple[Counter[str], dict[str, int]]:
    """How many objects and live parts name each chunk, and its size."""
    refs: Counter[str] = Counter()
    sizes: dict[str, int] = {}
    for info in objects.values():
        for c in info.chunks:
            refs[c.id] += 1
            sizes[c.id] = c.size
    for uid, ps in parts.items():
        if uid not in uploads:
            continue
        for p in ps.values():
            for cid, size in p["chunks"]:
                refs[cid] += 1
                sizes[cid] = int(size)
    return refs, sizes


def _rebuild_index(core: StoreCore,
                   buckets: dict[str, tuple[int, BucketInfo]],
                   objects: dict[tuple[str, str], ObjectInfo],
                   uploads: dict[str, UploadInfo],
                   parts: dict[str, dict[int, dict[str, Any]]],
                   refs: Counter[str], sizes: dict[str, int]) -> None:
    """The index's tables replaced by what the disk says, in one transaction."""
    w = core.index.w
    with core.index.transaction():
        for table in ("buckets", "objects", "chunks", "uploads", "parts"):
            w.execute(f"DELETE FROM {table}")
        w.executemany(
            "INSERT INTO buckets (name, created_ns, props) VALUES (?, ?, ?)",
            [(b.name, b.created_ns, dumps(b.props)) for _, b in buckets.values()],
        )
        w.executemany(
            INSERT_OBJECT, (object_row(i, index_text(i)) for i in objects.values())
        )
        if objects:
            core.index.note_generation(max(i.generation for i in objects.values()))
        w.executemany(
            "INSERT INTO chunks (id, refs, size) VALUES (?, ?, ?)",
            [(cid, n, sizes[cid]) for cid, n in refs.items()],
        )
        w.executemany(
            "INSERT INTO uploads (upload_id, bucket, key, initiated_ns, meta) "
            "VALUES (?, ?, ?, ?, ?)",
            [(u.upload_id, u.bucket, u.key, u.initiated_ns, dumps(u.meta.to_json()))
             for u in uploads.values()],
        )
        w.executemany(
            "INSERT INTO parts (upload_id, part_number, etag, size, mtime_ns, chunks) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (uid, int(p["part_number"]), p["etag"], int(p["size"]), int(p["mtime_ns"]),
                 dumps(p["chunks"]))
                for uid, ps in parts.items() if uid in uploads
                for p in ps.values()
            ],
        )
    for _, b in buckets.values():
        core.buckets.write_files(b)
