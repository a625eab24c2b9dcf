"""Multipart uploads: upload and part records (index rows and files), parts, complete,
abort, reclaim."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from typing import Any

import trio

from ..errors import S3Error
from . import layout
from .buckets import Buckets
from .chunks import ChunkStore
from .config import StoreConfig
from .digest import Digest
from .files import fsync_dir, write_tmp
from .generations import Generations
from .index import Index
from .manifest import dumps, encode, part_to_json, upload_to_json
from .mountpath import Mountpath
from .mountpaths import MountpathSet
from .preconditions import check_preconditions
from .publish import Publisher, nonzero
from .space import insufficient_storage, is_full_error
from .threads import run_sync
from .types import ChunkRef, ObjectInfo, ObjectMeta, PartInfo, UploadInfo, WriteResult
from .unnamed import discard, link_or_stage, unnamed
from .versions import version_id_for
from .writer import Writer

log = logging.getLogger(__name__)

# Kept beside the index's own tables (created here, IF NOT EXISTS, so an older index gets
# them): each part's flexible checksums (mp_part_checksums, gone with the upload), and a
# record of each completed upload (mp_completed) so that a retried CompleteMultipartUpload
# is answered as the first was, until ``reclaim_uploads`` collects it.
SCHEMA = """
CREATE TABLE IF NOT EXISTS mp_part_checksums (
    upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, checksums TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mp_completed (
    upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
    completed_ns INTEGER NOT NULL, record TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mp_completed_by_time ON mp_completed (completed_ns);
"""
# how long a completed upload's id stays answerable (a client's retries come in minutes)
COMPLETED_KEEP_SECONDS = 24 * 3600
# the hashers a part's checksums are kept from (not md5: the ETag; not a payload hash)
PART_CHECKSUMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")


@dataclass(slots=True)
class _Staged:
    """An upload or part record on its way to one mountpath: a named temp file (fsynced),
    or an unnamed one (O_TMPFILE, ``fd``: not fsynced until it has its name)."""

    mp: Mountpath
    tmp: str = ""  # "" once renamed (or for an unnamed record)
    fd: int = -1
    linked: str = ""  # the directory ``fd`` was linked into: fsync both (``_sync_linked``)


def new_upload_id() -> str:
    """A fresh upload id: 32 url-safe characters that never start with ``-``.

    A leading ``-`` makes the aws CLI read ``--upload-id -abc`` as an option, so the
    client could not name its own upload (one id in 64 did).
    """
    token = secrets.token_urlsafe(24)
    return token if token[0] != "-" else "_" + token[1:]


class Multipart:
    """Multipart uploads: upload and part records, parts written through ``Writer``, the
    completed object published through ``Publisher``."""

    def __init__(
        self,
        config: StoreConfig,
        index: Index,
        mps: MountpathSet,
        chunks: ChunkStore,
        buckets: Buckets,
        publisher: Publisher,
        writer: Writer,
        generations: Generations,
    ) -> None:
        self.config = config
        self.index = index
        self.mps = mps
        self.chunks = chunks
        self.buckets = buckets
        self.publisher = publisher
        self.writer = writer
        self.versions = writer.versions  # a versioned bucket's complete keeps the current
        self.generations = generations
        self.completed_keep_seconds: float = COMPLETED_KEEP_SECONDS
        if not index.read_only:  # a read worker's: the node's primary made the tables
            with index.wlock:
                index.w.executescript(SCHEMA)

    def _upload_row(
        self, upload_id: str, bucket: str, key: str, conn: sqlite3.Connection | None = None
    ) -> UploadInfo:
        conn = conn or self.index.r
        row = conn.execute(
            "SELECT bucket, key, initiated_ns, meta FROM uploads WHERE upload_id = ?",
            (upload_id,),
        ).fetchone()
        if row is None or row[0] != bucket or row[1] != key:
            self.buckets.get_sync(bucket)
            raise S3Error(
                "NoSuchUpload", "The specified multipart upload does not exist.", upload_id
            )
        return UploadInfo(upload_id, row[0], row[1], int(row[2]),
                          ObjectMeta.from_json(json.loads(row[3])))

    def _upload_targets(self, upload_id: str, copies: int) -> list[Mountpath]:
        return self.mps.order(upload_id)[: max(copies, 1)]

    def _write_upload_file(
        self, upload_id: str, copies: int, name: str, data: bytes
    ) -> None:
        self._install_upload_file(
            upload_id, name, self._stage_upload_file(upload_id, copies, name, data))

    def _stage_upload_file(
        self, upload_id: str, copies: int, name: str, data: bytes, lazy: bool = False
    ) -> list[_Staged]:
        """An upload record written to temp files (fsynced) on the upload's mountpaths, no
        lock needed: ``_install_upload_file`` renames them into place (under the lock).
        A full mountpath: 507 (a record on fewer copies is refused), a failed one skipped.

        ``lazy`` (a part's record): where no record of that name is there yet, the temp
        file is an unnamed one, not fsynced: ``_install_upload_file`` links it to its name
        (nothing is replaced: a torn file can only be one never acknowledged, which a
        rebuild skips) and ``_sync_linked`` fsyncs it and its directory after the lock -
        one journal commit for file and entry instead of two, as a PUT's manifest."""
        staged: list[_Staged] = []
        full = False
        try:
            for mp in self._upload_targets(upload_id, copies):
                st = _Staged(mp)
                try:
                    if lazy and not os.path.exists(
                            f"{layout.upload_dir(mp.root, upload_id)}/{name}"):
                        st.fd = unnamed(mp.root, data)
                    if st.fd < 0:
                        st.tmp = layout.tmp_path(mp.root, "upload")
                        write_tmp(st.tmp, data, self.config.fsync)
                except OSError as e:
                    if is_full_error(e):  # not a fault
                        self.chunks.full.mark(mp, e)
                        full = True
                        continue
                    if self.mps.check(mp):
                        raise
                    log.warning("upload record not written to failed %s: %s", mp.root, e)
                    continue
                staged.append(st)
            if full:
                raise insufficient_storage(upload_id)
            if not staged:
                raise OSError("no mountpath took the upload record")
        except BaseException:
            discard(staged)
            raise
        return staged

    def _install_upload_file(
        self, upload_id: str, name: str, staged: list[_Staged]
    ) -> None:
        """The staged record renamed to ``name`` in the upload's directory on each
        mountpath, the directory fsynced (the caller holds the lock); an unnamed one
        linked to it, left for ``_sync_linked``."""
        written = 0
        try:
            for st in staged:
                mp = st.mp
                d = layout.upload_dir(mp.root, upload_id)
                try:
                    if not os.path.isdir(d):
                        os.makedirs(d, 0o700, exist_ok=True)
                        if self.config.fsync:
                            fsync_dir(os.path.dirname(d))
                    if st.fd >= 0 and self._link_unnamed(st, f"{d}/{name}"):
                        st.linked = d
                        written += 1
                        continue
                    os.replace(st.tmp, f"{d}/{name}")
                    st.tmp = ""
                    if self.config.fsync:
                        fsync_dir(d)
                    written += 1
                except OSError as e:
                    if is_full_error(e):
                        self.chunks.full.mark(mp, e)
                        raise insufficient_storage(upload_id) from None
                    if self.mps.check(mp):
                        raise
                    log.warning("upload record not written to failed %s: %s", mp.root, e)
        finally:
            discard(staged, keep_linked=True)
        if not written:
            raise OSError("no mountpath took the upload record")

    def _link_unnamed(self, st: _Staged, final: str) -> bool:
        """The unnamed record linked to ``final``; where a record of that name came
        meanwhile (the same part uploaded twice at once), False and ``st.tmp`` a named
        copy of it (fsynced) to rename over it, as any re-uploaded part's."""
        st.tmp = link_or_stage(st.fd, final, st.mp.root, "upload", self.config.fsync)
        return not st.tmp

    def _sync_linked(self, staged: list[_Staged]) -> None:
        """fsync (and close) the records ``_install_upload_file`` linked, then their
        directories: before the part is acknowledged."""
        try:
            for st in staged:
                if st.linked and st.fd >= 0 and self.config.fsync:
                    os.fsync(st.fd)
            for st in staged:
                if st.linked and self.config.fsync:
                    # gone: the upload was completed or aborted meanwhile (its directory
                    # renamed away, uploads/ fsynced): nothing left to make durable
                    with contextlib.suppress(FileNotFoundError):
                        fsync_dir(st.linked)
        finally:
            discard(staged)

    def _remove_upload_files(self, upload_id: str) -> None:
        """The upload's directory renamed into MP/tmp (``deleted.upload.*``) on every
        mountpath, ``uploads/`` fsynced: its records are durably gone; the reaper removes
        them off the request path (an rmtree of a 32-part upload's fsynced records took
        16-80 ms here, under the index lock, in every CompleteMultipartUpload)."""
        for mp in self.mps.live():
            d = layout.upload_dir(mp.root, upload_id)
            gone: str | None = layout.tmp_path(mp.root, "deleted.upload")
            try:
                os.rename(d, str(gone))
            except FileNotFoundError:
                continue
            except OSError:  # as before the rename: removed in place, at best
                shutil.rmtree(d, ignore_errors=True)
                gone = None
            if self.config.fsync:
                with contextlib.suppress(OSError):
                    fsync_dir(os.path.dirname(d))
            if gone is not None:
                self.publisher.reaper.reap(gone)

    def _create_upload_sync(self, bucket: str, key: str, meta: ObjectMeta) -> UploadInfo:
        with self.index.wlock:
            binfo = self.buckets.get_sync(bucket)
            info = UploadInfo(new_upload_id(), bucket, key, time.time_ns(), meta)
            self._write_upload_file(
                info.upload_id, self.buckets.copies(binfo.props), "upload.json",
                encode(upload_to_json(info)),
            )
            self.index.w.execute(
                "INSERT INTO uploads (upload_id, bucket, key, initiated_ns, meta) "
                "VALUES (?, ?, ?, ?, ?)",
                (info.upload_id, bucket, key, info.initiated_ns, dumps(meta.to_json())),
            )
            return info

    async def create_upload(self, bucket: str, key: str, meta: ObjectMeta) -> UploadInfo:
        return await run_sync(self._create_upload_sync, bucket, key, meta)

    async def get_upload(self, upload_id: str, bucket: str, key: str) -> UploadInfo:
        """The upload's record, read on the event loop (one point read of the index, as
        ``head_object``'s): an UploadPart reads it twice (the S3 layer, ``put_part``),
        a worker-thread hand-off each cost more than the read."""
        await trio.lowlevel.checkpoint_if_cancelled()
        info = self._upload_row(upload_id, bucket, key)
        await trio.lowlevel.cancel_shielded_checkpoint()
        return info

    def _commit_part_sync(
        self, upload_id: str, bucket: str, key: str, part_number: int, result: WriteResult,
        checksums: dict[str, str] | None = None,
    ) -> tuple[PartInfo, list[str]]:
        # the record is staged before the lock (a first upload of this part number: an
        # unnamed file; a re-upload's: a temp file, fsynced); under it, given its name
        part = PartInfo(part_number, result.md5.hex(), result.size, time.time_ns())
        record = part_to_json(upload_id, part, result.chunks)
        if checksums:
            record["checksums"] = checksums
        name, data = layout.part_file(part_number), encode(record)
        copies = self.buckets.copies(self.buckets.get_sync(bucket).props)
        staged = self._stage_upload_file(upload_id, copies, name, data, lazy=True)
        try:
            part_and_dropped = self._commit_part_locked(
                upload_id, bucket, key, part_number, result, checksums, part, copies,
                name, data, staged)
            self._sync_linked(staged)  # the record durable before the part is acknowledged
        finally:
            discard(staged)
        return part_and_dropped

    def _commit_part_locked(
        self, upload_id: str, bucket: str, key: str, part_number: int, result: WriteResult,
        checksums: dict[str, str] | None, part: PartInfo, copies: int, name: str,
        data: bytes, staged: list[_Staged],
    ) -> tuple[PartInfo, list[str]]:
        """Under the lock: the staged record (``staged``, replaced in place if the
        bucket's copies changed) installed, the part's rows committed."""
        with self.index.wlock:
            self._upload_row(upload_id, bucket, key, self.index.w)
            want = self.buckets.copies(self.buckets.get_sync(bucket).props)
            if want != copies:  # rare: the bucket's copies changed meanwhile
                discard(staged)
                staged[:] = self._stage_upload_file(upload_id, want, name, data, lazy=True)
            self._install_upload_file(upload_id, name, staged)
            w = self.index.w
            self.index.begin()
            try:
                delta: Counter[str] = Counter(c.id for c in result.chunks)
                row = w.execute(
                    "SELECT chunks FROM parts WHERE upload_id = ? AND part_number = ?",
                    (upload_id, part_number),
                ).fetchone()
                if row is not None:
                    delta.subtract(c[0] for c in json.loads(row[0]))
                w.execute(
                    "INSERT OR REPLACE INTO parts (upload_id, part_number, etag, size, mtime_ns,"
                    " chunks) VALUES (?, ?, ?, ?, ?, ?)",
                    (upload_id, part_number, part.etag, part.size, part.mtime_ns,
                     dumps([[c.id, c.size] for c in result.chunks])),
                )
                w.execute(
                    "DELETE FROM mp_part_checksums WHERE upload_id = ? AND part_number = ?",
                    (upload_id, part_number),
                )
                if checksums:
                    w.execute(
                        "INSERT INTO mp_part_checksums (upload_id, part_number, checksums) "
                        "VALUES (?, ?, ?)",
                        (upload_id, part_number, dumps(checksums)),
                    )
                dropped = self.index.apply_refs(
                    nonzero(delta), {c.id: c.size for c in result.chunks}
                )
                self.index.commit()
            except BaseException:
                self.index.rollback()
                raise
            return part, dropped

    async def put_part(
        self,
        upload_id: str,
        bucket: str,
        key: str,
        part_number: int,
        body: AsyncIterable[bytes],
        *,
        content_md5: bytes | None = None,
        expected_size: int | None = None,
        hashers: dict[str, Any] | None = None,
        before_commit: Callable[[WriteResult], None] | None = None,
    ) -> PartInfo:
        if not 1 <= part_number <= 10000:
            raise S3Error(
                "InvalidArgument", "Part number must be an integer between 1 and 10000",
                str(part_number),
            )
        await self.get_upload(upload_id, bucket, key)
        binfo = await self.buckets.get(bucket)
        copies = self.buckets.copies(binfo.props)
        dg = Digest("none", hashers)

        def commit(result: WriteResult, _value: str) -> tuple[PartInfo, list[str]]:
            # the part's flexible checksums (the S3 layer verified any the client declared)
            sums = {
                a: base64.b64encode(h.digest()).decode("ascii")
                for a, h in (hashers or {}).items() if a in PART_CHECKSUMS
            }
            return self._commit_part_sync(upload_id, bucket, key, part_number, result, sums)

        return await self.writer.write_and_commit(
            body, copies, dg, expected_size, key, content_md5, before_commit, commit
        )

    async def list_parts(self, upload_id: str, bucket: str, key: str) -> list[PartInfo]:
        def sync() -> list[PartInfo]:
            self._upload_row(upload_id, bucket, key)
            rows = self.index.rows(
                "SELECT part_number, etag, size, mtime_ns FROM parts WHERE upload_id = ? "
                "ORDER BY part_number",
                (upload_id,),
            )
            return [PartInfo(int(r[0]), r[1], int(r[2]), int(r[3])) for r in rows]

        return await run_sync(sync)

    async def part_checksums(
        self, upload_id: str, bucket: str, key: str
    ) -> dict[int, dict[str, str]]:
        """Each part's flexible checksums ({algorithm: base64}), by part number."""
        def sync() -> dict[int, dict[str, str]]:
            self._upload_row(upload_id, bucket, key)
            rows = self.index.rows(
                "SELECT part_number, checksums FROM mp_part_checksums WHERE upload_id = ?",
                (upload_id,),
            )
            return {int(r[0]): dict(json.loads(r[1])) for r in rows}

        return await run_sync(sync)

    async def list_uploads(self, bucket: str) -> list[UploadInfo]:
        def sync() -> list[UploadInfo]:
            self.buckets.get_sync(bucket)
            rows = self.index.rows(
                "SELECT upload_id, bucket, key, initiated_ns, meta FROM uploads "
                "WHERE bucket = ? ORDER BY key, initiated_ns",
                (bucket,),
            )
            return [
                UploadInfo(r[0], r[1], r[2], int(r[3]), ObjectMeta.from_json(json.loads(r[4])))
                for r in rows
            ]

        return await run_sync(sync)

    def _forget_upload_tx(self, upload_id: str) -> Counter[str]:
        """Inside a transaction: delete the upload's rows; the refcount delta of its parts."""
        w = self.index.w
        delta: Counter[str] = Counter()
        for (chunks,) in w.execute(
            "SELECT chunks FROM parts WHERE upload_id = ?", (upload_id,)
        ).fetchall():
            delta.subtract(c[0] for c in json.loads(chunks))
        w.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        w.execute("DELETE FROM mp_part_checksums WHERE upload_id = ?", (upload_id,))
        w.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        return delta

    def _abort_sync(self, upload_id: str, bucket: str, key: str) -> list[str]:
        with self.index.wlock:
            self._upload_row(upload_id, bucket, key, self.index.w)
            self._remove_upload_files(upload_id)
            self.index.begin()
            try:
                dropped = self.index.apply_refs(nonzero(self._forget_upload_tx(upload_id)), {})
                self.index.commit()
            except BaseException:
                self.index.rollback()
                raise
            return dropped

    async def abort_upload(self, upload_id: str, bucket: str, key: str) -> None:
        dropped = await run_sync(self._abort_sync, upload_id, bucket, key)
        with trio.CancelScope(shield=True):
            await run_sync(self.publisher.drop_chunks, dropped)

    def _complete_sync(
        self,
        upload_id: str,
        bucket: str,
        key: str,
        parts: list[tuple[int, str]],
        if_match: str | None,
        if_none_match: str | None,
        checksums: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[ObjectInfo, list[str]]:
        with self.index.wlock:
            w = self.index.w
            upload = self._upload_row(upload_id, bucket, key, w)
            binfo = self.buckets.get_sync(bucket)
            md5s, sizes, chunks = self._chosen_parts(w, upload_id, parts)
            row = w.execute(
                "SELECT etag, manifest, version_id, lock FROM objects "
                "WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            check_preconditions(row[0] if row else None, if_match, if_none_match, key)
            generation = self.generations.next()
            meta = upload.meta
            if checksums is not None:
                meta.checksums = dict(checksums)
            if extra:
                meta.extra.update(extra)
            info = ObjectInfo(
                bucket=bucket,
                key=key,
                size=sum(sizes),
                etag=f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(parts)}",
                mtime_ns=time.time_ns(),
                generation=generation,
                meta=meta,
                chunks=chunks,
                part_sizes=sizes,
                checksum_type=str(binfo.props.get("checksum.type", "xxhash")),
                checksum_value="",
                version_id=version_id_for(binfo.props, generation),
            )
            return info, self._publish_complete(upload_id, info, parts, binfo.props, row)

    def _publish_complete(
        self, upload_id: str, info: ObjectInfo, parts: list[tuple[int, str]],
        props: dict[str, Any], row: Any,
    ) -> list[str]:
        """Publish a completed upload over the current row ``row`` (etag, manifest,
        version_id, lock; None: none), kept as a version in a versioned bucket."""
        keep = self.versions.plan(
            props, info.bucket, info.key, info.version_id,
            self.versions.current_of(row[1:] if row is not None else None), read=False,
        )

        def in_tx() -> Counter[str]:
            delta = self._finish_upload_tx(upload_id, info, parts)
            if keep is not None:
                delta.update(keep.in_tx())
            return delta

        return self.publisher.publish(
            [info],
            [],
            self.buckets.copies(props),
            before_tx=lambda: self._remove_upload_files(upload_id),
            in_tx=in_tx,
            prepare=keep.prepare if keep is not None else None,
            guarded=True,
        )

    def _chosen_parts(
        self, w: sqlite3.Connection, upload_id: str, parts: list[tuple[int, str]]
    ) -> tuple[list[bytes], list[int], list[ChunkRef]]:
        """The MD5s, sizes and chunks of the parts a completion names, each checked
        against the stored part (ascending numbers, matching ETags, all but the last at
        least min_part_size)."""
        if not parts:
            raise S3Error(
                "MalformedXML", "You must specify at least one part", upload_id
            )
        prev = 0
        for number, _ in parts:
            if number <= prev:
                raise S3Error(
                    "InvalidPartOrder", "The list of parts was not in ascending order.",
                    upload_id,
                )
            prev = number
        stored = {
            int(r[0]): (r[1], int(r[2]), r[3])
            for r in w.execute(
                "SELECT part_number, etag, size, chunks FROM parts WHERE upload_id = ?",
                (upload_id,),
            ).fetchall()
        }
        md5s = []
        chunks: list[ChunkRef] = []
        sizes: list[int] = []
        for i, (number, etag) in enumerate(parts):
            have = stored.get(number)
            if have is None or have[0] != etag.strip().strip('"').lower():
                raise S3Error(
                    "InvalidPart",
                    "One or more of the specified parts could not be found or the "
                    "specified entity tag might not have matched the part's entity tag.",
                    upload_id,
                    extra={"PartNumber": str(number), "ETag": etag},
                )
            if i < len(parts) - 1 and have[1] < self.config.min_part_size:
                raise S3Error(
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed object size.",
                    upload_id,
                    extra={"PartNumber": str(number)},
                )
            md5s.append(bytes.fromhex(have[0]))
            sizes.append(have[1])
            chunks.extend(ChunkRef(c[0], int(c[1])) for c in json.loads(have[2]))
        return md5s, sizes, chunks

    def _finish_upload_tx(
        self, upload_id: str, info: ObjectInfo, parts: list[tuple[int, str]]
    ) -> Counter[str]:
        """Inside the publishing transaction: forget the upload, keep its completion."""
        record = {
            "etag": info.etag,
            "generation": info.generation,
            "parts": [[n, e.strip().strip('"').lower()] for n, e in parts],
            "checksums": info.meta.checksums,
            "checksum_type": info.meta.extra.get("checksum_type"),
            "version_id": info.version_id,  # a versioned bucket's (versions.py)
        }
        self.index.w.execute(
            "INSERT OR REPLACE INTO mp_completed (upload_id, bucket, key, completed_ns, record)"
            " VALUES (?, ?, ?, ?, ?)",
            (upload_id, info.bucket, info.key, time.time_ns(), dumps(record)),
        )
        return self._forget_upload_tx(upload_id)

    async def complete_upload(
        self,
        upload_id: str,
        bucket: str,
        key: str,
        parts: list[tuple[int, str]],
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        checksums: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> ObjectInfo:
        """Publish the listed parts as one object; their chunks are reused, not copied.

        ``checksums`` replaces the object's flexible checksums (the S3 layer's COMPOSITE
        or FULL_OBJECT value), ``extra`` is merged into its ``meta.extra``. The completion
        is kept (``completed``) for ``completed_keep_seconds``."""
        info, dropped = await run_sync(
            self._complete_sync, upload_id, bucket, key, parts, if_match, if_none_match,
            checksums, extra,
        )
        with trio.CancelScope(shield=True):
            await run_sync(self.publisher.drop_chunks, dropped)
        return info

    async def completed(self, upload_id: str, bucket: str, key: str) -> dict[str, Any] | None:
        """What the completion of ``upload_id`` answered (etag, generation, parts,
        checksums, checksum_type), while its object is still the one it made; else None."""
        def sync() -> dict[str, Any] | None:
            row = self.index.row(
                "SELECT c.record, o.generation FROM mp_completed c JOIN objects o "
                "ON o.bucket = c.bucket AND o.key = c.key "
                "WHERE c.upload_id = ? AND c.bucket = ? AND c.key = ?",
                (upload_id, bucket, key),
            )
            if row is None:
                return None
            record: dict[str, Any] = json.loads(row[0])
            return record if int(row[1]) == int(record["generation"]) else None

        return await run_sync(sync)

    def _abort_bucket_uploads_sync(self, bucket: str) -> list[str] | None:
        with self.index.wlock:
            w = self.index.w
            self.buckets.get_sync(bucket, w)
            if w.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (bucket,)).fetchone():
                return None
            ids = [r[0] for r in w.execute(
                "SELECT upload_id FROM uploads WHERE bucket = ?", (bucket,)
            ).fetchall()]
            for upload_id in ids:
                self._remove_upload_files(upload_id)
            self.index.begin()
            try:
                delta: Counter[str] = Counter()
                for upload_id in ids:
                    delta.update(self._forget_upload_tx(upload_id))
                w.execute("DELETE FROM mp_completed WHERE bucket = ?", (bucket,))
                dropped = self.index.apply_refs(nonzero(delta), {})
                self.index.commit()
            except BaseException:
                self.index.rollback()
                raise
            return dropped

    async def abort_bucket_uploads(self, bucket: str) -> bool:
        """Abort every upload in progress in ``bucket`` if it has no object (before
        DeleteBucket, as S3 deletes a bucket holding only uploads); False if it has one."""
        dropped = await run_sync(self._abort_bucket_uploads_sync, bucket)
        if dropped is None:
            return False
        with trio.CancelScope(shield=True):
            await run_sync(self.publisher.drop_chunks, dropped)
        return True

    async def reclaim_uploads(self, older_than_seconds: float) -> int:
        """Abort the uploads older than ``older_than_seconds``; forget completions older
        than ``completed_keep_seconds``. The number of uploads aborted."""
        keep = time.time_ns() - int(self.completed_keep_seconds * 1e9)

        def forget_completed() -> None:
            with self.index.wlock:
                self.index.w.execute("DELETE FROM mp_completed WHERE completed_ns < ?", (keep,))

        await run_sync(forget_completed)
        cutoff = time.time_ns() - int(older_than_seconds * 1e9)
        rows = await run_sync(
            self.index.rows,
            "SELECT upload_id, bucket, key FROM uploads WHERE initiated_ns < ?",
            (cutoff,),
        )
        n = 0
        for upload_id, bucket, key in rows:
            try:
                await self.abort_upload(upload_id, bucket, key)
                n += 1
            except S3Error:
                pass
        return n
