"""The inventories on a node: ``<index_dir>/inventory/<provider>/<bucket>/<NAME>.nbi``.

A bucket is named as AIS names it (``s3://B`` is provider ``aws``; an ``ais://A`` with
``backend_bck`` keeps its inventories as ``ais``). Several inventories per bucket, each
published whole by ``InventoryWriter``; a name must be unique within its bucket.
Resolving which one a listing reads follows AIS's target (``_resolveInvName``): a name
given must exist; none given, the bucket must have exactly one.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aisfs.backend.provider import BucketRef, Provider
from aisfs.errors import S3Error
from aisfs.inventory.names import HDR_INV_NAME, check_name
from aisfs.inventory.reader import open_reader, read_meta
from aisfs.inventory.writer import SUFFIX, TMP_SUFFIX, InventoryWriter

log = logging.getLogger("aisfs.inventory")


@dataclass(frozen=True, slots=True)
class InventoryInfo:
    """AIS's ``NBIInfo``: the bucket, the name, its size on disk and its ``NBIMeta``."""

    bucket: BucketRef
    name: str
    size: int
    meta: dict[str, Any]

    @property
    def obj_name(self) -> str:
        """AIS names an inventory by its object in ``ais://.sys-inventory``."""
        return f"{self.bucket.provider.value}/@#/{self.bucket.name}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        m = self.meta
        return {"bucket": self.bucket.uri, "name": self.name, "obj_name": self.obj_name,
                "size": self.size, "prefix": m.get("prefix", ""),
                "started": int(m.get("started", 0)), "finished": int(m.get("finished", 0)),
                "ntotal": int(m.get("ntotal", 0)), "smap_ver": 0, "chunks": 1, "nat": 1}


class Catalog:
    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync

    def bucket_dir(self, bucket: BucketRef) -> Path:
        return self.root / bucket.provider.value / bucket.name

    def path(self, bucket: BucketRef, name: str) -> Path:
        return self.bucket_dir(bucket) / f"{check_name(name)}{SUFFIX}"

    def writer(self, bucket: BucketRef, name: str) -> InventoryWriter:
        return InventoryWriter(self.path(bucket, name), fsync=self.fsync)

    def names(self, bucket: BucketRef) -> list[str]:
        """The bucket's published inventories, sorted."""
        d = self.bucket_dir(bucket)
        if not d.is_dir():
            return []
        return sorted(p.name.removesuffix(SUFFIX) for p in d.iterdir()
                      if p.name.endswith(SUFFIX) and not p.name.startswith("."))

    def buckets(self) -> Iterator[BucketRef]:
        if not self.root.is_dir():
            return
        for pdir in sorted(self.root.iterdir()):
            if pdir.name not in {p.value for p in Provider}:
                continue
            for bdir in sorted(pdir.iterdir()):
                if bdir.is_dir():
                    yield BucketRef(Provider(pdir.name), bdir.name)

    def info(self, bucket: BucketRef, name: str) -> InventoryInfo:
        path = self.path(bucket, name)
        try:
            size = path.stat().st_size
            conn = open_reader(path)
            try:
                meta = read_meta(conn)
            finally:
                conn.close()
        except (OSError, sqlite3.Error) as e:
            if not path.is_file():  # not there, or removed meanwhile
                raise _not_found(bucket, name) from e
            raise S3Error("InternalError", f"inventory {name!r} of {bucket}: {e}") from e
        return InventoryInfo(bucket, name, size, meta)

    def show(self, bucket: BucketRef | None, name: str = "") -> list[InventoryInfo]:
        """AIS's ``show-inventory``: one bucket's (one by name) or every bucket's."""
        if name and bucket is not None:
            return [self.info(bucket, name)]
        refs = [bucket] if bucket is not None else list(self.buckets())
        out = []
        for ref in refs:
            for n in self.names(ref):
                with contextlib.suppress(S3Error):  # removed meanwhile
                    out.append(self.info(ref, n))
        return out

    def resolve(self, bucket: BucketRef, name: str = "") -> Path:
        """The inventory a listing reads (AIS's rules and messages)."""
        if name:
            path = self.path(bucket, name)
            if not path.is_file():
                raise _not_found(bucket, name)
            return path
        names = self.names(bucket)
        if not names:
            raise S3Error("InvalidRequest", f'bucket "{bucket}" has no inventories')
        if len(names) > 1:
            raise S3Error("InvalidRequest", f'missing "{HDR_INV_NAME}" header: bucket '
                          f'"{bucket}" has {len(names)} inventories; please specify which one')
        return self.path(bucket, names[0])

    def remove(self, bucket: BucketRef, name: str = "") -> list[str]:
        """Remove one inventory (``name``) or all of the bucket's; the names removed."""
        names = [check_name(name)] if name else self.names(bucket)
        if name and not self.path(bucket, name).is_file():
            raise _not_found(bucket, name)
        for n in names:
            self.path(bucket, n).unlink(missing_ok=True)
        return names

    def drop_bucket(self, bucket: BucketRef) -> list[str]:
        """Remove every inventory of ``bucket`` (its bucket destroyed, or its metadata
        dropped), temporary files of a creation included (that creation then fails to
        publish); the names removed."""
        names = self.names(bucket)
        shutil.rmtree(self.bucket_dir(bucket), ignore_errors=True)  # the bucket's alone
        return names

    def sweep(self) -> int:
        """Remove temporary files left by creations a crash or a stop cut short (at start,
        before any creation runs); how many."""
        n = 0
        if not self.root.is_dir():
            return 0
        for tmp in self.root.glob(f"*/*/.*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
            n += 1
        return n


def _not_found(bucket: BucketRef, name: str) -> S3Error:
    return S3Error("NotFound", f'inventory "{name}" of bucket "{bucket}" does not exist',
                   status=404)
