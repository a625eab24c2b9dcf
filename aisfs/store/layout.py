"""Pure: where things live on a mountpath.

```
MP/.aisfs-mountpath.json            identity: {"uuid": ..., "created_ns": ...}
MP/chunks/<id[:2]>/<id>             chunk data, named by xxh3-128 hex ("-N" for a variant)
MP/manifests/<name[:2]>/<name>.json object manifest; name = sha256(bucket NUL key)[:40]
MP/manifests/<name[:2]>/<name>~<version_id>.json  a non-current version or a delete marker
MP/buckets/<bucket>.json            bucket record (every mountpath)
MP/uploads/<upload_id>/upload.json  multipart upload record
MP/uploads/<upload_id>/part.<NNNNN>.json  one part (its chunk list)
MP/tmp/                             work files: <kind>.<pid>.<random>
MP/small.db                         the shelf: small current manifests, one row each
                                    (shelf.py) - a name is in its file or its row
```
"""

from __future__ import annotations

import functools
import hashlib
import os

import xxhash

IDENTITY_FILE = ".aisfs-mountpath.json"
CHUNKS = "chunks"
MANIFESTS = "manifests"
BUCKETS = "buckets"
UPLOADS = "uploads"
TMP = "tmp"
SHELF = "small.db"
SHELF_WAL = f"/{SHELF}-wal"  # ends a shelf's WAL path (files.fsync_dir)
FANOUT = [f"{i:02x}" for i in range(256)]


def chunk_hasher() -> xxhash.xxh3_128:
    """An incremental hash of a chunk's bytes whose ``hexdigest()`` is its id (xxh3-128)."""
    return xxhash.xxh3_128()


def chunk_base(cid: str) -> str:
    """The xxh3-128 hex a chunk id's content must hash to."""
    return cid.split("-", 1)[0]


def chunk_path(root: str, cid: str) -> str:
    return f"{root}/{CHUNKS}/{cid[:2]}/{cid}"


@functools.lru_cache(maxsize=4096)  # a PUT or DELETE asks for it several times
def manifest_name(bucket: str, key: str) -> str:
    h = hashlib.sha256(bucket.encode() + b"\0" + key.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:40]


def manifest_path(root: str, bucket: str, key: str) -> str:
    name = manifest_name(bucket, key)
    return f"{root}/{MANIFESTS}/{name[:2]}/{name}.json"


VERSION_SEP = "~"  # <name>~<version_id>.json: a version file (never in a current's name)


def version_path(root: str, bucket: str, key: str, version_id: str) -> str:
    """The manifest of a non-current version (or a delete marker) of ``bucket/key``: beside
    the current one's, so one directory fsync covers both (versions.py)."""
    name = manifest_name(bucket, key)
    return f"{root}/{MANIFESTS}/{name[:2]}/{name}{VERSION_SEP}{version_id}.json"


def bucket_path(root: str, bucket: str) -> str:
    return f"{root}/{BUCKETS}/{bucket}.json"


def upload_dir(root: str, upload_id: str) -> str:
    return f"{root}/{UPLOADS}/{upload_id}"


def part_file(part_number: int) -> str:
    return f"part.{part_number:05d}.json"


def tmp_path(root: str, kind: str) -> str:
    return f"{root}/{TMP}/{kind}.{os.getpid()}.{os.urandom(8).hex()}"


def prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``.

    Code point order is UTF-8 byte order (SQLite's BINARY collation), so incrementing the
    last code point that can be incremented gives the bound. None: no bound.
    """
    chars = list(prefix)
    while chars:
        c = ord(chars[-1])
        if c >= 0x10FFFF:
            chars.pop()
            continue
        c += 1
        if 0xD800 <= c <= 0xDFFF:
            c = 0xE000
        chars[-1] = chr(c)
        return "".join(chars)
    return None
