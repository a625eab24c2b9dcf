"""The whole-body hashes of a write (a PUT or a part), fed in order."""

from __future__ import annotations

from typing import Any

from ..hashing import Hasher, new_hasher

__all__ = ["Digest", "Hasher", "STORE_ALGORITHMS"]

# the bucket's checksum.type (AIS's names) -> the algorithm the store computes for it
STORE_ALGORITHMS: dict[str, str] = {"xxhash": "xxh3_64", "sha256": "sha256", "md5": "md5"}


class Digest:
    """MD5 (the ETag), the bucket's checksum (``checksum_type``: xxhash, sha256, md5 or
    none), and the caller's extra hashers (the S3 flexible checksums); all
    aisfs/hashing.py ``Hasher``s.

    ``md5=False``: the caller knows the object's ETag (a backend's) and asks for no MD5
    (~1.4 CPU s/GiB) - unless the bucket's checksum is MD5 itself.
    """

    def __init__(
        self, checksum_type: str, hashers: dict[str, Any] | None, *, md5: bool = True
    ) -> None:
        self.checksum_type = checksum_type
        self.md5: Hasher | None = (
            new_hasher("md5") if md5 or checksum_type == "md5" else None
        )
        self.whole: Hasher | None = None
        if checksum_type in ("xxhash", "sha256"):
            self.whole = new_hasher(STORE_ALGORITHMS[checksum_type])
        self.extra: list[Hasher] = list((hashers or {}).values())
        self.size = 0

    def update(self, buf: bytes) -> None:
        self.size += len(buf)
        if self.md5 is not None:
            self.md5.update(buf)
        if self.whole is not None:
            self.whole.update(buf)
        for h in self.extra:
            h.update(buf)

    def md5_digest(self) -> bytes:
        """The body's MD5; b"" when it was not asked for."""
        return self.md5.digest() if self.md5 is not None else b""

    def value(self) -> str:
        if self.checksum_type == "md5":
            return self.md5.hexdigest() if self.md5 is not None else ""
        return self.whole.hexdigest() if self.whole is not None else ""
