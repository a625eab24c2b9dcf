"""The object record and its on-disk (JSON) form; upload and part records likewise."""

from __future__ import annotations

import json
from typing import Any

from .types import ChunkRef, ObjectInfo, ObjectMeta, PartInfo, UploadInfo

VERSION = 1


def info_to_json(info: ObjectInfo) -> dict[str, Any]:
    return {
        "v": VERSION,
        "bucket": info.bucket,
        "key": info.key,
        "size": info.size,
        "etag": info.etag,
        "mtime_ns": info.mtime_ns,
        "generation": info.generation,
        "meta": info.meta.to_json(),
        "chunks": [[c.id, c.size] for c in info.chunks],
        "part_sizes": info.part_sizes,
        "checksum_type": info.checksum_type,
        "checksum_value": info.checksum_value,
    }


def info_from_json(d: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        bucket=d["bucket"],
        key=d["key"],
        size=int(d["size"]),
        etag=d["etag"],
        mtime_ns=int(d["mtime_ns"]),
        generation=int(d["generation"]),
        meta=ObjectMeta.from_json(d.get("meta") or {}),
        chunks=[ChunkRef(c[0], int(c[1])) for c in d.get("chunks") or []],
        part_sizes=d.get("part_sizes"),
        checksum_type=d.get("checksum_type", "xxhash"),
        checksum_value=d.get("checksum_value", ""),
    )


def dumps(d: dict[str, Any]) -> str:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def encode(d: dict[str, Any]) -> bytes:
    return dumps(d).encode("utf-8", "surrogatepass")


def upload_to_json(u: UploadInfo) -> dict[str, Any]:
    return {
        "v": VERSION,
        "upload_id": u.upload_id,
        "bucket": u.bucket,
        "key": u.key,
        "initiated_ns": u.initiated_ns,
        "meta": u.meta.to_json(),
    }


def upload_from_json(d: dict[str, Any]) -> UploadInfo:
    return UploadInfo(
        upload_id=d["upload_id"],
        bucket=d["bucket"],
        key=d["key"],
        initiated_ns=int(d["initiated_ns"]),
        meta=ObjectMeta.from_json(d.get("meta") or {}),
    )


def part_to_json(upload_id: str, p: PartInfo, chunks: list[ChunkRef]) -> dict[str, Any]:
    return {
        "v": VERSION,
        "upload_id": upload_id,
        "part_number": p.part_number,
        "etag": p.etag,
        "size": p.size,
        "mtime_ns": p.mtime_ns,
        "chunks": [[c.id, c.size] for c in chunks],
    }
