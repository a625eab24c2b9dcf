"""After a process crash: reconcile what the intent journal names (journal.py), and
nothing else.

The index (SQLite, WAL) holds every committed change; what a crash can leave half done is
the change in flight, whose files (manifests, bucket records) may be changed and whose
commit may be missing. For each journaled name the files are the truth, as for fsck: the
object's manifest copies on the live mountpaths (the newest generation that parses, of
equal ones one whose inline bytes verify) replace its row, or its row goes when no copy is
left (a delete cut short is finished); chunk refcounts follow. A bucket's records likewise.
The work is a few file reads per journaled name: bounded by the work in flight, not by the
number of objects.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

from . import layout
from .core import StoreCore
from .files import read_json
from .index import INSERT_OBJECT, object_row
from .manifest import decode_manifest, dumps, index_text, inline_ok
from .manifests import current_copies
from .types import ObjectInfo
from .version_repair import reconcile_key

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReconcileReport:
    entries: int = 0  # names in the journal
    manifests_read: int = 0  # manifest files read (the work, bounded by entries x copies)
    objects_fixed: int = 0  # rows inserted, replaced or removed
    buckets_fixed: int = 0
    uploads_checked: int = 0  # multipart uploads in progress, checked against their files
    uploads_fixed: int = 0


def reconcile(core: StoreCore, crashed: bool = True) -> ReconcileReport:
    """Reconcile every name in the journal with the disks, then empty the journal; after a
    crash (``crashed``) the multipart uploads in progress too (``_uploads``)."""
    report = ReconcileReport()
    journal = core.index.journal
    with core.index.wlock:
        entries = journal.entries()
        report.entries = len(entries)
        dropped: list[str] = []
        for e in entries:
            if e[0] == "o" and len(e) == 3:
                dropped += _object(core, e[1], e[2], report)
            elif e[0] == "b" and len(e) == 2:
                _bucket(core, e[1], report)
        if crashed:
            dropped += _uploads(core, report)
        journal.clear()
    if dropped:
        core.chunks.remove_unreferenced(dropped, core.index.referenced)
    if report.objects_fixed or report.buckets_fixed:
        core.buckets.changed()
    return report


def _newest(core: StoreCore, bucket: str, key: str, report: ReconcileReport) -> ObjectInfo | None:
    best: ObjectInfo | None = None
    for mp in core.mps.live():
        try:
            copies = list(current_copies(mp.root, bucket, key))
        except OSError as e:
            log.warning("reconcile: manifest of %s/%s on %s: %s", bucket, key, mp.root, e)
            continue
        for data in copies:
            report.manifests_read += 1
            try:
                info = decode_manifest(data)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                log.warning("reconcile: bad manifest of %s/%s on %s: %s", bucket, key,
                            mp.root, e)
                continue
            if (info.bucket, info.key) != (bucket, key):
                continue
            if best is None or (info.generation, inline_ok(info)) > (
                best.generation, inline_ok(best)
            ):
                best = info
    return best


def _object(core: StoreCore, bucket: str, key: str, report: ReconcileReport) -> list[str]:
    # a versioned key's version files first (version_repair.py): they may change which
    # manifest is current
    best = _newest(core, bucket, key, report)
    settled, read, changed = reconcile_key(core, bucket, key, best)
    report.manifests_read += read
    if changed:
        report.objects_fixed += 1
        best = _newest(core, bucket, key, report)
    return settled + _current(core, bucket, key, best, report)


def _current(core: StoreCore, bucket: str, key: str, best: ObjectInfo | None,
             report: ReconcileReport) -> list[str]:
    index = core.index
    w = index.w
    row = w.execute(
        "SELECT generation, manifest FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
    ).fetchone()
    if row is None and best is None:
        return []
    if row is not None and best is not None and int(row[0]) == best.generation:
        return []
    if best is not None and not w.execute(
        "SELECT 1 FROM buckets WHERE name = ?", (bucket,)
    ).fetchone():
        return []  # its bucket is gone (a later delete of the bucket committed)
    delta: Counter[str] = Counter()
    sizes: dict[str, int] = {}
    with index.transaction():
        if row is not None:
            delta.subtract(c[0] for c in json.loads(row[1]).get("chunks") or [])
            w.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        if best is not None:
            for c in best.chunks:
                delta[c.id] += 1
                sizes[c.id] = c.size
            w.execute(INSERT_OBJECT, object_row(best, index_text(best)))
            index.note_generation(best.generation)
        dropped = index.apply_refs(Counter({k: v for k, v in delta.items() if v}), sizes)
    report.objects_fixed += 1
    log.warning(
        "reconcile: %s/%s %s", bucket, key,
        "removed (no manifest left)" if best is None else f"at generation {best.generation}",
    )
    return dropped


def _bucket(core: StoreCore, name: str, report: ReconcileReport) -> None:
    newest: dict[str, Any] | None = None
    for mp in core.mps.live():
        d = read_json(layout.bucket_path(mp.root, name))
        if d is not None and (
            newest is None or int(d.get("updated_ns", 0)) > int(newest.get("updated_ns", 0))
        ):
            newest = d
    w = core.index.w
    row = w.execute("SELECT props FROM buckets WHERE name = ?", (name,)).fetchone()
    if newest is None:
        if row is not None and not w.execute(
            "SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)
        ).fetchone():
            w.execute("DELETE FROM buckets WHERE name = ?", (name,))
            report.buckets_fixed += 1
        return
    props = newest.get("props") or {}
    if row is not None and json.loads(row[0]) == props:
        return
    w.execute(
        "INSERT OR REPLACE INTO buckets (name, created_ns, props) VALUES (?, ?, ?)",
        (name, int(newest["created_ns"]), dumps(props)),
    )
    report.buckets_fixed += 1


def _uploads(core: StoreCore, report: ReconcileReport) -> list[str]:
    """Upload and part records are not journaled: after a crash each upload in progress
    (work in flight too: their number, not the objects') is checked against its files.
    An upload whose ``upload.json`` is gone everywhere (a complete or abort cut short after
    its files went) loses its rows; a part row whose file is gone goes, a part file with no
    row (a part cut short before its commit, never acknowledged) is left for the next
    upload of that part. Refcounts follow."""
    index = core.index
    w = index.w
    delta: Counter[str] = Counter()
    uids = [r[0] for r in w.execute("SELECT upload_id FROM uploads").fetchall()]
    if not uids:
        return []
    # tables kept beside the parts by upload id (multipart.py's, where present)
    extra = [t for (t,) in w.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'mp_part_checksums'"
    ).fetchall()]
    with index.transaction():
        dropped = _uploads_tx(core, uids, extra, delta, report)
    return dropped


def _uploads_tx(core: StoreCore, uids: list[str], extra: list[str], delta: Counter[str],
                report: ReconcileReport) -> list[str]:
    w = core.index.w
    live = core.mps.live()
    for uid in uids:
        report.uploads_checked += 1
        dirs = [layout.upload_dir(mp.root, uid) for mp in live]
        if not any(os.path.exists(f"{d}/upload.json") for d in dirs):
            gone = [(int(n), c) for n, c in w.execute(
                "SELECT part_number, chunks FROM parts WHERE upload_id = ?", (uid,)
            ).fetchall()]
            w.execute("DELETE FROM uploads WHERE upload_id = ?", (uid,))
            for t in extra:
                w.execute(f"DELETE FROM {t} WHERE upload_id = ?", (uid,))
        else:
            files: set[str] = set()
            for d in dirs:
                with contextlib.suppress(OSError):
                    files.update(os.listdir(d))
            gone = [(int(n), c) for n, c in w.execute(
                "SELECT part_number, chunks FROM parts WHERE upload_id = ?", (uid,)
            ).fetchall() if layout.part_file(int(n)) not in files]
            if not gone:
                continue
        for n, chunks in gone:
            delta.subtract(c[0] for c in json.loads(chunks))
            w.execute("DELETE FROM parts WHERE upload_id = ? AND part_number = ?", (uid, n))
            for t in extra:
                w.execute(f"DELETE FROM {t} WHERE upload_id = ? AND part_number = ?", (uid, n))
        report.uploads_fixed += 1
        log.warning("reconcile: upload %s: %d part rows without files removed%s", uid,
                    len(gone), "" if dirs and any(
                        os.path.exists(f"{d}/upload.json") for d in dirs) else
                    ", and the upload (its record is gone)")
    return core.index.apply_refs(Counter({k: v for k, v in delta.items() if v}), {})
