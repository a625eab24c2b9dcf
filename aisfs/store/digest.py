"""The whole-body hashes of a write (a PUT or a part), fed in order."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import xxhash


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


class _HexHasher(Hasher, Protocol):
    def hexdigest(self) -> str: ...


class Digest:
    """MD5 (the ETag), the bucket's checksum (``checksum_type``: xxhash, sha256, md5 or
    none), and the caller's extra hashers (the S3 flexible checksums)."""

    def __init__(self, checksum_type: str, hashers: dict[str, Any] | None) -> None:
        self.checksum_type = checksum_type
        self.md5 = hashlib.md5()
        self.whole: _HexHasher | None = None
        if checksum_type == "xxhash":
            self.whole = xxhash.xxh3_64()
        elif checksum_type == "sha256":
            self.whole = hashlib.sha256()
        self.extra: list[Hasher] = list((hashers or {}).values())
        self.size = 0

    def update(self, buf: bytes) -> None:
        self.size += len(buf)
        self.md5.update(buf)
        if self.whole is not None:
            self.whole.update(buf)
        for h in self.extra:
            h.update(buf)

    def value(self) -> str:
        if self.checksum_type == "md5":
            return self.md5.hexdigest()
        return self.whole.hexdigest() if self.whole is not None else ""
