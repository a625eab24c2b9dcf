"""Group commit of small (inline) PUTs: the PUTs whose bodies arrived while a batch was
committing go together in the next batch (``groups.Group``): one hand-off, one writer
lock, one journal record naming every key, one index transaction, then every member's
manifest and manifest directories fsynced together; only then is any of them answered.

Each member's own failure (BadDigest, a precondition, NoSuchBucket, an object lock, a
``before_commit`` that refused) is its own and leaves the others alone: all of it is
found before anything is installed. A failure of the commit itself (a disk, SQLite)
fails every member of that commit, none acknowledged; the journal record stays (sticky)
and the next open reconciles its keys, as for a lone PUT.

Two PUTs of one key in one batch commit in turn (a second round, in the same hand-off):
the second sees the first's row, as it would have one after the other.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import outcome

from .buckets import Buckets
from .generations import Generations
from .groups import fsync_linked
from .index import Index
from .inline_cache import remember_inline
from .preconditions import check_preconditions
from .publish import Publisher, PutEntry, Staged
from .types import ObjectInfo, ObjectMeta, WriteResult
from .unnamed import discard
from .versions import Versions, new_version_id

Done = tuple[ObjectInfo, list[str]]  # the object published, chunk ids whose refcount hit 0


@dataclass(slots=True)
class PutSpec:
    """What ``put_object`` was asked, beside the body."""

    bucket: str
    key: str
    meta: ObjectMeta
    checksum_type: str
    copies: int
    if_match: str | None
    if_none_match: str | None
    versioned: bool
    before_commit: Callable[[WriteResult], None] | None
    etag: Callable[[], str] | None = None  # a write-through's: the backend's ETag


@dataclass(slots=True)
class PutJob:
    """One small PUT waiting for its batch: ``land()`` hashes and checks its body (in the
    batch's thread) and returns ``(result, checksum value, inline bytes)``."""

    spec: PutSpec
    land: Callable[[], tuple[WriteResult, str, bytes]]


@dataclass(slots=True)
class _Member:
    at: int  # its place in the batch
    spec: PutSpec
    info: ObjectInfo
    staged: list[Staged]
    entry: PutEntry | None = None
    done: bool = field(default=False)


class PutGroup:
    """``commit_sync(jobs)``: a batch of small PUTs published together (see above)."""

    def __init__(
        self, index: Index, buckets: Buckets, publisher: Publisher, generations: Generations,
        versions: Versions, new_info: Callable[..., ObjectInfo],
    ) -> None:
        self.index = index
        self.buckets = buckets
        self.publisher = publisher
        self.generations = generations
        self.versions = versions
        self.new_info = new_info  # Writer._new_info

    def commit_sync(self, jobs: list[PutJob]) -> list[outcome.Outcome[Done]]:
        results: list[outcome.Outcome[Done] | None] = [None] * len(jobs)
        members: list[_Member] = []
        for at, job in enumerate(jobs):
            try:
                members.append(self._stage(at, job))
            except Exception as e:  # its own: nothing of it is installed
                results[at] = outcome.Error(e)
        try:
            while members:
                now: list[_Member] = []
                later: list[_Member] = []
                seen: set[tuple[str, str]] = set()
                for m in members:
                    name = (m.spec.bucket, m.spec.key)
                    (later if name in seen else now).append(m)
                    seen.add(name)
                members = later
                self._commit_round(now, results)
        except Exception as e:  # a failed commit: its members and those after it fail
            for m in members:
                results[m.at] = outcome.Error(e)
            for at, r in enumerate(results):
                if r is None:
                    results[at] = outcome.Error(e)
        finally:
            for m in members:
                discard(m.staged)
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def _stage(self, at: int, job: PutJob) -> _Member:
        """The body hashed and checked, ``before_commit`` run, the manifest staged."""
        spec = job.spec
        result, value, inline = job.land()
        if spec.before_commit is not None:
            spec.before_commit(result)
        info = self.new_info(result, value, inline, spec.bucket, spec.key, spec.meta,
                             spec.checksum_type, spec.etag)
        if spec.versioned:
            info.version_id = new_version_id(info.generation)
        staged = self.publisher.stage_manifest(info, spec.copies, lazy=True)
        return _Member(at, spec, info, staged)

    def _check(self, m: _Member) -> None:
        """Under the lock, in the open transaction: ``m``'s checks, its entry planned."""
        spec, info = m.spec, m.info
        binfo = self.buckets.get_locked(spec.bucket)
        row: Any = self.index.w.execute(
            "SELECT etag, generation, manifest, version_id, lock FROM objects "
            "WHERE bucket = ? AND key = ?", (spec.bucket, spec.key),
        ).fetchone()
        check_preconditions(row[0] if row else None, spec.if_match, spec.if_none_match,
                            spec.key)
        want = self.buckets.copies(binfo.props)
        if want != spec.copies or (row is not None and row[1] >= info.generation):
            discard(m.staged)  # rare: see Writer._commit_put_sync
            m.staged = []
            info.generation = self.generations.next()
            if spec.versioned:
                info.version_id = new_version_id(info.generation)
            m.staged = self.publisher.stage_manifest(info, want, lazy=True)
        keep = self.versions.plan(
            binfo.props, spec.bucket, spec.key, info.version_id,
            self.versions.current_of(row[2:] if row is not None else None), read=False,
        )
        m.entry = PutEntry(info, m.staged, row[2] if row is not None else None,
                           keep.prepare if keep is not None else None,
                           keep.in_tx if keep is not None else None)

    def _commit_round(self, round_: list[_Member],
                      results: list[outcome.Outcome[Done] | None]) -> None:
        """Members of distinct keys: checked, then published in one journal record and
        one index transaction, then made durable; each one's outcome into ``results``."""
        dirs: set[str] = set()
        ok: list[_Member] = []
        try:
            with self.index.wlock:
                self.index.begin()
                try:
                    for m in round_:
                        try:
                            self._check(m)
                            ok.append(m)
                        except Exception as e:  # its own, nothing installed
                            discard(m.staged)
                            results[m.at] = outcome.Error(e)
                    dropped: list[str] = []
                    if ok:
                        dropped = self.publisher.publish_puts(
                            [m.entry for m in ok if m.entry is not None], dirs)
                    else:  # every member refused: nothing to commit
                        self.index.rollback()
                except BaseException:
                    self.index.rollback()
                    raise
            files: list[tuple[int, str]] = []
            for m in ok:
                for st in m.staged:
                    if st.fd >= 0 and st.linked:
                        files.append((st.fd, os.path.dirname(st.final)))
            if self.publisher.config.fsync:
                fsync_linked(files, sorted(dirs))
        except BaseException:
            for m in round_:
                discard(m.staged)
            raise
        for m in ok:
            discard(m.staged)  # closes the linked files, fsynced above
            remember_inline(self.index, m.info)
            results[m.at] = outcome.Value((m.info, dropped))
            dropped = []  # the ids go to one member, which releases them
