"""Incremental hashes: one protocol and one factory for every body aisfs hashes.

S3's flexible checksums and ``Content-MD5`` (aisfs/s3/checksums.py), AIS's checksum
types (aisfs_node/native/cksum.py maps ``xxhash`` -> ``xxh3_64``, ``xxhash2`` -> ``xxh64``), the
store's whole-body digests (aisfs/store/digest.py) and SigV4's payload SHA-256 all take
a ``Hasher`` from ``new_hasher(algorithm)``:

- ``update(data)`` as the body streams (bytes, bytearray or memoryview);
- ``digest()`` the raw value - a CRC big-endian, as AWS sends it;
- ``hexdigest()`` and ``digest_b64()`` the same value as hex (AIS, ETags) and base64
  (``x-amz-checksum-*``, ``Content-MD5``).

CRCs come from awscrt (crc32c, crc64nvme) and zlib (crc32), the rest from hashlib and
xxhash.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from typing import Any, Protocol

import xxhash
from awscrt import checksums as crt  # type: ignore[import-untyped]  # awscrt ships no stubs

Data = bytes | bytearray | memoryview

# algorithm -> digest length in bytes
DIGEST_SIZES: dict[str, int] = {
    "crc32": 4,
    "crc32c": 4,
    "crc64nvme": 8,
    "md5": 16,
    "sha1": 20,
    "sha256": 32,
    "sha512": 64,
    "xxh3_64": 8,
    "xxh64": 8,
}
CRCS = ("crc32", "crc32c", "crc64nvme")


class UnknownAlgorithm(ValueError):
    """``new_hasher`` was asked for an algorithm it does not have."""


class Hasher(Protocol):
    algorithm: str

    def update(self, data: Data, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...
    def digest_b64(self) -> str: ...


class Crc:
    """A CRC (``crc32``, ``crc32c`` or ``crc64nvme``); ``value`` is the integer, for
    combining parts' CRCs (aisfs/s3/checksums.py full_object_checksum)."""

    __slots__ = ("algorithm", "_fn", "_size", "value")

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.value = 0
        self._size = DIGEST_SIZES[algorithm]
        fn: Callable[[bytes, int], int]
        if algorithm == "crc32":
            fn = zlib.crc32
        elif algorithm == "crc32c":
            fn = crt.crc32c
        else:
            fn = crt.crc64nvme
        self._fn = fn

    def update(self, data: Data, /) -> None:
        if data:
            self.value = self._fn(data if isinstance(data, bytes) else bytes(data), self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self._size, "big")

    def hexdigest(self) -> str:
        return f"{self.value:0{2 * self._size}x}"

    def digest_b64(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


class _Lib(Protocol):
    def update(self, data: Data, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


class Hash:
    """A hashlib or xxhash object behind ``Hasher`` (it lacks ``digest_b64``)."""

    __slots__ = ("algorithm", "_h", "update", "digest", "hexdigest")

    def __init__(self, algorithm: str, h: _Lib) -> None:
        self.algorithm = algorithm
        self._h = h
        # the library's own methods: no Python frame per update
        self.update: Callable[[Data], None] = h.update
        self.digest: Callable[[], bytes] = h.digest
        self.hexdigest: Callable[[], str] = h.hexdigest

    def digest_b64(self) -> str:
        return base64.b64encode(self._h.digest()).decode("ascii")


_HASHLIB: dict[str, Any] = {"md5": hashlib.md5, "sha1": hashlib.sha1,
                             "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def new_hasher(algorithm: str) -> Hasher:
    """A fresh hasher for one of ``DIGEST_SIZES`` (lower case).

    Raises:
        UnknownAlgorithm: for any other name.
    """
    if algorithm in CRCS:
        return Crc(algorithm)
    make = _HASHLIB.get(algorithm)
    if make is not None:  # the named constructor: hashlib.new(name) costs ~10x more
        return Hash(algorithm, make(usedforsecurity=False))
    if algorithm == "xxh3_64":
        return Hash(algorithm, xxhash.xxh3_64())
    if algorithm == "xxh64":
        return Hash(algorithm, xxhash.xxh64())
    raise UnknownAlgorithm(f"no hasher for {algorithm!r}")
