"""The object record and its on-disk (JSON) form; upload and part records likewise."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import xxhash

from .types import ChunkRef, ObjectInfo, ObjectMeta, PartInfo, UploadInfo

VERSION = 1


def inline_hash(data: bytes) -> str:
    """The checksum kept next to an inline object's bytes (xxh3-128, as for chunk ids)."""
    return xxhash.xxh3_128_hexdigest(data)


def inline_ok(info: ObjectInfo) -> bool:
    """True unless ``info`` is inline and its bytes do not match their stored checksum."""
    if info.inline is None:
        return True
    return len(info.inline) == info.size and inline_hash(info.inline) == info.inline_xxh3


def info_to_json(info: ObjectInfo) -> dict[str, Any]:
    """The manifest's JSON: for an inline object its checksum (``inline_xxh3``), never its
    bytes (they follow the JSON in the file, see ``encode_manifest``)."""
    d = _info_to_json(info)
    if info.inline is not None or info.inline_xxh3:
        d["inline_xxh3"] = info.inline_xxh3 or inline_hash(info.inline or b"")
    if info.version_id is not None:
        d["version_id"] = info.version_id
    if info.delete_marker:
        d["delete_marker"] = True
    if info.lock:
        d["lock"] = info.lock
    return d


def index_text(info: ObjectInfo) -> str:
    """The manifest text the index row keeps: the JSON, no inline bytes."""
    return dumps(info_to_json(info))


def manifest_bytes(text: str, inline: bytes | None) -> bytes:
    """A manifest file: its JSON (``index_text``), then for an inline object a newline
    and the raw bytes (JSON text holds no raw newline)."""
    data = text.encode("utf-8", "surrogatepass")
    return data if inline is None else data + b"\n" + inline


def encode_manifest(info: ObjectInfo) -> bytes:
    return manifest_bytes(index_text(info), info.inline)


def decode_manifest(data: bytes) -> ObjectInfo:
    """A manifest file's record, its inline bytes included: the JSON, then the raw bytes;
    or (an older file) JSON with the bytes in base64 (``"inline"``). ValueError (or
    KeyError, TypeError, AttributeError) if it does not parse."""
    head, sep, tail = data.partition(b"\n")
    info = info_from_json(json.loads(head))
    if sep and info.inline_xxh3 and info.inline is None:
        info.inline = tail
    return info


def _info_to_json(info: ObjectInfo) -> dict[str, Any]:
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
    """The record of a manifest's JSON (an index row's, or a file's: ``decode_manifest``);
    ValueError if an older file's inline bytes are not base64. An inline object read from
    the index has ``inline_xxh3`` and no bytes (``inline`` None)."""
    inline = d.get("inline")
    data: bytes | None = None
    if inline is not None:
        try:
            data = base64.b64decode(inline, validate=True)
        except binascii.Error as e:
            raise ValueError(f"bad inline data: {e}") from None
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
        inline=data,
        inline_xxh3=d.get("inline_xxh3", ""),
        version_id=d.get("version_id"),
        delete_marker=bool(d.get("delete_marker")),
        lock=d.get("lock") or None,
    )


def dumps(d: dict[str, Any] | list[Any]) -> str:
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
