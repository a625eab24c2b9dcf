"""aisfs/hashing.py: every algorithm behind one Hasher, checked against the libraries'
own one-shot values, fed in pieces of every buffer type."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
import xxhash

from aisfs.hashing import DIGEST_SIZES, UnknownAlgorithm, new_hasher

DATA = bytes(range(256)) * 41


def reference(alg: str) -> bytes:
    if alg == "crc32":
        return zlib.crc32(DATA).to_bytes(4, "big")
    if alg == "crc32c":
        return _crt("crc32c", 4)
    if alg == "crc64nvme":
        return _crt("crc64nvme", 8)
    if alg == "xxh3_64":
        return xxhash.xxh3_64(DATA).digest()
    if alg == "xxh64":
        return xxhash.xxh64(DATA).digest()
    return hashlib.new(alg, DATA).digest()


def _crt(alg: str, size: int) -> bytes:
    from awscrt import checksums as crt  # type: ignore[import-untyped]

    return int(getattr(crt, alg)(DATA)).to_bytes(size, "big")


@pytest.mark.parametrize("alg", sorted(DIGEST_SIZES))
def test_every_algorithm(alg: str) -> None:
    h = new_hasher(alg)
    assert h.algorithm == alg
    h.update(DATA[:1000])
    h.update(bytearray(DATA[1000:5000]))
    h.update(memoryview(DATA)[5000:])
    h.update(b"")
    want = reference(alg)
    assert len(want) == DIGEST_SIZES[alg]
    assert h.digest() == want
    assert h.hexdigest() == want.hex()
    assert h.digest_b64() == base64.b64encode(want).decode()


def test_unknown_algorithm() -> None:
    with pytest.raises(UnknownAlgorithm):
        new_hasher("crc16")
    with pytest.raises(ValueError):
        new_hasher("SHA256")  # names are lower case; callers map theirs (S3, AIS)
