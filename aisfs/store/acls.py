"""Object ACLs in the index: one row per object that has an ACL of its own (another
owner than its bucket's, or grants beyond the owner's), one per multipart upload that
was created with one (applied when it completes), one per version (of a versioned
bucket) owned by another than the bucket owner (``version_owners``: a version keeps its
owner once it is no longer current, for ListObjectVersions), and one per version with
an ACL of its own (``version_acls``: a version keeps its ACL once it is no longer
current, and Get/PutObjectAcl with a ``versionId`` read and set it, as AWS).

A version's ACL row is written beside the current object's (the object row answers the
current; the version row is what stays when an overwrite makes it non-current). A
version id other than ``null`` is never reused, so its row is that version's until the
version is deleted; the ``null`` version's row also names its generation, since a write
of the null version replaces it (a row naming another generation is ignored). The
current object's ACL is its row of its generation, else its version's row: a legal hold,
a retention or a tag change republishes the object as a new generation of the same
version, and its ACL stays (``carry_in_tx`` moves its rows to the new generation in the
republishing transaction, so the null version's row still names it).

The tables are kept beside the index's own (created here, IF NOT EXISTS, so an older
index gets them); an index from before ``version_acls`` gets each live object ACL row
copied to its version's row once (``_backfill_version_acls``).

An object's row names the generation of the object it was set on: a
row whose object is gone or was replaced (a DELETE, an overwrite, an eviction, a native
PUT, a lifecycle expiry) no longer matches its ``objects`` row and is ignored - what AWS
does, an overwritten object getting the ACL of its new request - so no deleting path of
the store needs to know about ACLs; ``prune_sync`` collects such rows. The ACL itself is
JSON (``aisfs.auth.acl.to_json``): this module stores it, it does not read it.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Sequence
from typing import Any

from .index import Index
from .threads import run_sync

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS object_acls (
    bucket TEXT NOT NULL, key TEXT NOT NULL, generation INTEGER NOT NULL, acl TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS version_owners (
    bucket TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT NOT NULL, owner TEXT NOT NULL,
    PRIMARY KEY (bucket, key, version_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS version_acls (
    bucket TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT NOT NULL,
    generation INTEGER NOT NULL, acl TEXT NOT NULL,
    PRIMARY KEY (bucket, key, version_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS upload_acls (
    upload_id TEXT PRIMARY KEY, acl TEXT NOT NULL
) WITHOUT ROWID;
"""
OWNERS_BATCH = 500  # keys per query of ``owners`` (a listing page has up to 1000)
# the current object's ACL: its row of this generation, else its version's row (a
# version id is never reused: a lock change, which makes a new generation of the same
# version, keeps the version's ACL; the null version is the generation's alone)
_CURRENT_ACL = (
    "coalesce(a.acl, v.acl) FROM objects o "
    "LEFT JOIN object_acls a ON a.bucket = o.bucket AND a.key = o.key "
    "AND a.generation = o.generation "
    "LEFT JOIN version_acls v ON v.bucket = o.bucket AND v.key = o.key "
    "AND v.version_id = o.version_id")


class ObjectAcls:
    """The object ACL rows of one index (``of(index)``: the one instance per index)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        if index.read_only:  # a read worker's: the node's primary made the tables
            return
        with index.wlock:
            index.w.executescript(SCHEMA)
            _backfill_version_acls(index)

    def carry_in_tx(self, bucket: str, key: str, version_id: str, old: int,
                    new: int) -> None:
        """In the caller's transaction (it holds the writer lock): the rows of the object
        of generation ``old`` now name ``new``, a new generation of the same version (a
        tag or lock change republishes the current object) - the null version's row is
        checked against its generation once it is no longer current."""
        w = self.index.w
        w.execute("UPDATE object_acls SET generation = ? WHERE bucket = ? AND key = ? "
                  "AND generation = ?", (new, bucket, key, old))
        w.execute("UPDATE version_acls SET generation = ? WHERE bucket = ? AND key = ? "
                  "AND version_id = ? AND generation = ?", (new, bucket, key, version_id, old))

    # ---- blocking (worker threads) -----------------------------------------------------

    def get_sync(self, bucket: str, key: str) -> dict[str, Any] | None:
        """The ACL of the current object at ``bucket/key`` (None: none of its own)."""
        row = self.index.row(f"SELECT {_CURRENT_ACL} WHERE o.bucket = ? AND o.key = ?",
                             (bucket, key))
        return _loads(row[0]) if row is not None and row[0] is not None else None

    def owners_sync(self, bucket: str, keys: Sequence[str]) -> dict[str, str]:
        """The owner of each current object among ``keys`` that has an ACL of its own
        (the others: the bucket owner's), read in one query per ``OWNERS_BATCH`` keys."""
        out: dict[str, str] = {}
        wanted = sorted(set(keys))
        for i in range(0, len(wanted), OWNERS_BATCH):
            batch = wanted[i:i + OWNERS_BATCH]
            marks = ",".join("?" * len(batch))
            for key, text in self.index.rows(
                    f"SELECT o.key, {_CURRENT_ACL} WHERE o.bucket = ? AND o.key IN ({marks}) "
                    "AND (a.acl IS NOT NULL OR v.acl IS NOT NULL)",
                    (bucket, *batch)):
                doc = _loads(text) if text is not None else None
                owner = doc.get("owner") if doc is not None else None
                if isinstance(owner, str) and owner:
                    out[key] = owner
        return out

    def set_version_owner_sync(self, bucket: str, key: str, version_id: str,
                               owner: str) -> None:
        """Record the owner of a version (of a versioned bucket) that is not the bucket
        owner's: once it is no longer current, its ACL row is gone, this stays."""
        with self.index.wlock:
            self.index.w.execute(
                "INSERT OR REPLACE INTO version_owners (bucket, key, version_id, owner) "
                "VALUES (?, ?, ?, ?)", (bucket, key, version_id, owner))

    def version_owners_sync(self, bucket: str,
                            versions: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The recorded owner of each (key, version id) among ``versions`` that has one."""
        wanted = set(versions)
        keys = sorted({k for k, _ in wanted})
        out: dict[tuple[str, str], str] = {}
        for i in range(0, len(keys), OWNERS_BATCH):
            batch = keys[i:i + OWNERS_BATCH]
            marks = ",".join("?" * len(batch))
            for key, vid, owner in self.index.rows(
                    "SELECT key, version_id, owner FROM version_owners "
                    f"WHERE bucket = ? AND key IN ({marks})", (bucket, *batch)):
                if (key, vid) in wanted:
                    out[(key, vid)] = owner
        return out

    def set_sync(self, bucket: str, key: str, generation: int,
                 acl: dict[str, Any] | None, version_id: str | None = None) -> None:
        """Give the object of ``generation`` its ACL (None: drop it, the default applies);
        with ``version_id`` (the object's, ``null`` for the null version) its version's
        too, in the same transaction."""
        with self.index.wlock:
            if acl is None:
                self.index.w.execute(
                    "DELETE FROM object_acls WHERE bucket = ? AND key = ?", (bucket, key))
            else:
                self.index.w.execute(
                    "INSERT OR REPLACE INTO object_acls (bucket, key, generation, acl) "
                    "VALUES (?, ?, ?, ?)", (bucket, key, generation, _dumps(acl)))
            if version_id is not None:
                self.set_version_sync(bucket, key, version_id, generation, acl)

    def set_version_sync(self, bucket: str, key: str, version_id: str, generation: int,
                         acl: dict[str, Any] | None) -> None:
        """Give one version (``null`` included) its ACL (None: drop it)."""
        with self.index.wlock:
            if acl is None:
                self.index.w.execute(
                    "DELETE FROM version_acls WHERE bucket = ? AND key = ? AND version_id = ?",
                    (bucket, key, version_id))
            else:
                self.index.w.execute(
                    "INSERT OR REPLACE INTO version_acls (bucket, key, version_id, generation, "
                    "acl) VALUES (?, ?, ?, ?, ?)",
                    (bucket, key, version_id, generation, _dumps(acl)))

    def version_sync(self, bucket: str, key: str, version_id: str,
                     generation: int) -> dict[str, Any] | None:
        """The ACL of one version, ``generation`` the version's (head_version's): the
        current object's row when it is the current, else its version row (None: none
        of its own)."""
        row = self.index.row(
            "SELECT version_id FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        if row is not None and (row[0] or "null") == version_id:
            return self.get_sync(bucket, key)
        row = self.index.row(
            "SELECT generation, acl FROM version_acls WHERE bucket = ? AND key = ? "
            "AND version_id = ?", (bucket, key, version_id))
        if row is None or (version_id == "null" and int(row[0]) != generation):
            return None
        return _loads(row[1])

    def set_upload_sync(self, upload_id: str, acl: dict[str, Any] | None) -> None:
        with self.index.wlock:
            if acl is None:
                self.index.w.execute("DELETE FROM upload_acls WHERE upload_id = ?",
                                     (upload_id,))
            else:
                self.index.w.execute(
                    "INSERT OR REPLACE INTO upload_acls (upload_id, acl) VALUES (?, ?)",
                    (upload_id, _dumps(acl)))

    def upload_sync(self, upload_id: str) -> dict[str, Any] | None:
        row = self.index.row("SELECT acl FROM upload_acls WHERE upload_id = ?", (upload_id,))
        return _loads(row[0]) if row is not None else None

    def prune_sync(self) -> int:
        """Drop the rows of objects that are gone or were replaced, and of uploads that
        are no more; how many."""
        with self.index.wlock:
            n = self.index.w.execute(
                "DELETE FROM object_acls WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE "
                "o.bucket = object_acls.bucket AND o.key = object_acls.key "
                "AND o.generation = object_acls.generation)").rowcount
            n += self.index.w.execute(
                "DELETE FROM upload_acls WHERE upload_id NOT IN "
                "(SELECT upload_id FROM uploads)").rowcount
            n += self.index.w.execute(
                "DELETE FROM version_owners WHERE NOT EXISTS (SELECT 1 FROM versions v "
                "WHERE v.bucket = version_owners.bucket AND v.key = version_owners.key "
                "AND v.version_id = version_owners.version_id) AND NOT EXISTS (SELECT 1 "
                "FROM objects o WHERE o.bucket = version_owners.bucket AND o.key = "
                "version_owners.key AND o.version_id = version_owners.version_id)").rowcount
            n += self.index.w.execute(
                "DELETE FROM version_acls WHERE NOT EXISTS (SELECT 1 FROM versions v "
                "WHERE v.bucket = version_acls.bucket AND v.key = version_acls.key "
                "AND v.version_id = version_acls.version_id) AND NOT EXISTS (SELECT 1 "
                "FROM objects o WHERE o.bucket = version_acls.bucket AND o.key = "
                "version_acls.key AND coalesce(o.version_id, 'null') = "
                "version_acls.version_id)").rowcount
        return int(n)

    # ---- async -------------------------------------------------------------------------

    async def get(self, bucket: str, key: str) -> dict[str, Any] | None:
        return await run_sync(self.get_sync, bucket, key)

    async def owners(self, bucket: str, keys: Sequence[str]) -> dict[str, str]:
        return await run_sync(self.owners_sync, bucket, keys)

    async def set_version_owner(self, bucket: str, key: str, version_id: str,
                                owner: str) -> None:
        await run_sync(self.set_version_owner_sync, bucket, key, version_id, owner)

    async def version_owners(self, bucket: str, versions: Sequence[tuple[str, str]]
                             ) -> dict[tuple[str, str], str]:
        return await run_sync(self.version_owners_sync, bucket, versions)

    async def set(self, bucket: str, key: str, generation: int,
                  acl: dict[str, Any] | None, version_id: str | None = None) -> None:
        await run_sync(self.set_sync, bucket, key, generation, acl, version_id)

    async def set_version(self, bucket: str, key: str, version_id: str, generation: int,
                          acl: dict[str, Any] | None) -> None:
        await run_sync(self.set_version_sync, bucket, key, version_id, generation, acl)

    async def version(self, bucket: str, key: str, version_id: str,
                      generation: int) -> dict[str, Any] | None:
        return await run_sync(self.version_sync, bucket, key, version_id, generation)

    async def set_upload(self, upload_id: str, acl: dict[str, Any] | None) -> None:
        await run_sync(self.set_upload_sync, upload_id, acl)

    async def upload(self, upload_id: str) -> dict[str, Any] | None:
        return await run_sync(self.upload_sync, upload_id)

    async def prune(self) -> int:
        return await run_sync(self.prune_sync)


BACKFILLED = "version_acls_backfilled"  # meta: the backfill below ran on this index
# an object ACL row of the generation of a current object or of a kept version (a
# version's ``seq`` is the generation it was written with) that its version lacks
_BACKFILL = """
INSERT OR REPLACE INTO version_acls (bucket, key, version_id, generation, acl)
SELECT a.bucket, a.key, coalesce(o.version_id, 'null'), a.generation, a.acl
FROM object_acls a JOIN objects o
    ON o.bucket = a.bucket AND o.key = a.key AND o.generation = a.generation
WHERE NOT EXISTS (SELECT 1 FROM version_acls v WHERE v.bucket = a.bucket AND v.key = a.key
    AND v.version_id = coalesce(o.version_id, 'null')
    AND (v.version_id != 'null' OR v.generation = a.generation))
UNION ALL
SELECT a.bucket, a.key, k.version_id, a.generation, a.acl
FROM object_acls a JOIN versions k
    ON k.bucket = a.bucket AND k.key = a.key AND k.seq = a.generation AND k.is_marker = 0
WHERE NOT EXISTS (SELECT 1 FROM version_acls v WHERE v.bucket = a.bucket AND v.key = a.key
    AND v.version_id = k.version_id
    AND (v.version_id != 'null' OR v.generation = a.generation))
"""


def _backfill_version_acls(index: Index) -> None:
    """An index made before ``version_acls`` has object ACL rows but no version rows: an
    overwrite that makes such an object non-current would drop its ACL (the object row
    no longer matches). Each row still naming its object - the current one, or a version
    an overwrite kept since (the open is lazy: a version is found by its generation) -
    gets its version's row, in one transaction; once per index (meta ``BACKFILLED``)."""
    w = index.w
    if w.execute("SELECT 1 FROM meta WHERE name = ?", (BACKFILLED,)).fetchone():
        return
    with index.transaction():
        n = w.execute(_BACKFILL).rowcount
        w.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, '1')", (BACKFILLED,))
    if n > 0:
        log.warning("index: %d object ACLs given to their versions (version_acls)", n)


_BY_INDEX: weakref.WeakKeyDictionary[Index, ObjectAcls] = weakref.WeakKeyDictionary()


def of(index: Index) -> ObjectAcls:
    """The ``ObjectAcls`` of ``index`` (made, and its tables created, on first use)."""
    acls = _BY_INDEX.get(index)
    if acls is None:
        acls = _BY_INDEX[index] = ObjectAcls(index)
    return acls


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _loads(text: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
