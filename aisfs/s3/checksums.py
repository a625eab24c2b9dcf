"""Flexible checksums: MD5, CRC32, CRC32C, CRC64NVME, SHA1, SHA256 as S3 declares them.

A hasher (aisfs/hashing.py's ``Hasher``) is fed with ``update(data)`` as the body streams
and gives its value with ``digest_b64()`` (the form of ``x-amz-checksum-*`` and
``Content-MD5``). CRCs are big-endian before base64, as AWS sends them. This module knows
the S3 side: the headers and trailers that declare them, verification, multipart.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Iterator, Mapping

from awscrt import checksums as crt  # type: ignore[import-untyped]  # awscrt ships no stubs

from aisfs import hashing
from aisfs.errors import S3Error
from aisfs.hashing import Hasher
from aisfs.s3._headers import Headers, get_header, header_items

# algorithm -> digest length in bytes: S3's flexible checksums and Content-MD5
FLEXIBLE_ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
DIGEST_SIZES: dict[str, int] = {
    alg: hashing.DIGEST_SIZES[alg] for alg in (*FLEXIBLE_ALGORITHMS, "md5")
}


def new_hasher(algorithm: str) -> Hasher:
    """A fresh incremental hasher (aisfs/hashing.py) for ``crc32``, ``crc32c``,
    ``crc64nvme``, ``sha1``, ``sha256`` or ``md5`` (any case).

    Raises:
        S3Error: ``InvalidRequest`` for another algorithm.
    """
    alg = algorithm.lower()
    if alg not in DIGEST_SIZES:
        raise S3Error("InvalidRequest", f"Checksum algorithm {algorithm!r} is not supported")
    return hashing.new_hasher(alg)


def new_hashers(algorithms: Iterable[str]) -> dict[str, Hasher]:
    return {a.lower(): new_hasher(a) for a in algorithms}


def update_all(hashers: Mapping[str, Hasher], data: bytes | bytearray | memoryview) -> None:
    for h in hashers.values():
        h.update(data)


def is_valid_b64(value: str, algorithm: str) -> bool:
    """Whether *value* is strict base64 of a digest of the algorithm's length."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == DIGEST_SIZES[algorithm.lower()]


def _checksum_values(headers: Headers) -> Iterator[tuple[str, str, str]]:
    """(header name, algorithm, stripped value) of each ``x-amz-checksum-<alg>`` header
    (``-mode``, ``-type`` and ``-algorithm`` are not checksums).

    Raises:
        S3Error: ``InvalidRequest`` for an algorithm S3 does not have.
    """
    for name, value in header_items(headers):
        if not name.startswith("x-amz-checksum-"):
            continue
        alg = name[len("x-amz-checksum-") :]
        if alg in ("mode", "type", "algorithm"):
            continue
        if alg not in FLEXIBLE_ALGORITHMS:
            raise S3Error("InvalidRequest", f"The header {name} is not supported")
        yield name, alg, value.strip()


def checksum_headers(headers: Headers) -> dict[str, str]:
    """The expected body checksums a request declares, as {algorithm: base64}.

    Reads ``x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`` (at most one, as S3
    allows) and ``Content-MD5`` (as ``"md5"``), and checks
    ``x-amz-sdk-checksum-algorithm`` agrees. A checksum announced in
    ``x-amz-trailer`` is not here: see :func:`trailer_algorithm`.

    Raises:
        S3Error: ``InvalidRequest`` (bad value, several checksums, unknown
            algorithm), ``InvalidDigest`` (bad Content-MD5).
    """
    found: dict[str, str] = {}
    for name, alg, value in _checksum_values(headers):
        if not is_valid_b64(value, alg):
            raise S3Error("InvalidRequest", f"Value for {name} header is invalid.")
        found[alg] = value
    if len(found) > 1:
        raise S3Error(
            "InvalidRequest",
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        )
    sdk_alg = get_header(headers, "x-amz-sdk-checksum-algorithm")
    if sdk_alg is not None:
        alg = sdk_alg.strip().lower()
        if alg not in FLEXIBLE_ALGORITHMS:
            raise S3Error(
                "InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid."
            )
        if found and alg not in found:
            raise S3Error(
                "InvalidRequest",
                "Value for x-amz-sdk-checksum-algorithm header is invalid: "
                "it names another algorithm than the x-amz-checksum- header",
            )
    md5 = get_header(headers, "content-md5")
    if md5 is not None:
        md5 = md5.strip()
        if not is_valid_b64(md5, "md5"):
            raise S3Error("InvalidDigest", "The Content-MD5 you specified is not valid.")
        found["md5"] = md5
    return found


def trailer_algorithm(headers: Headers) -> str | None:
    """The flexible checksum a request sends in its aws-chunked trailer (``x-amz-trailer``).

    Raises:
        S3Error: ``InvalidRequest`` for a trailer we do not know.
    """
    value = get_header(headers, "x-amz-trailer")
    if value is None:
        return None
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    alg: str | None = None
    for n in names:
        if not n.startswith("x-amz-checksum-") or n[15:] not in FLEXIBLE_ALGORITHMS:
            raise S3Error("InvalidRequest", f"The trailer {n} is not supported")
        if alg is not None:
            raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- trailer.")
        alg = n[15:]
    return alg


def trailer_checksums(trailers: Mapping[str, str]) -> dict[str, str]:
    """The {algorithm: base64} in decoded trailers; bad values are InvalidRequest."""
    out: dict[str, str] = {}
    for name, value in trailers.items():
        name = name.lower()
        if not name.startswith("x-amz-checksum-"):
            continue
        alg = name[15:]
        if alg not in FLEXIBLE_ALGORITHMS or not is_valid_b64(value, alg):
            raise S3Error("InvalidRequest", f"Value for {name} trailing header is invalid.")
        out[alg] = value.strip()
    return out


def verify(expected: Mapping[str, str], hashers: Mapping[str, Hasher]) -> None:
    """Compare each expected base64 checksum with its hasher's result.

    Raises:
        S3Error: ``BadDigest`` on the first mismatch.
        KeyError: when no hasher was kept for an expected algorithm (a bug).
    """
    for alg, want in expected.items():
        got = hashers[alg].digest_b64()
        # bytes, not str: compare_digest raises TypeError on a non-ASCII str (a 500)
        if not hmac.compare_digest(got.encode(), want.strip().encode("utf-8", "replace")):
            if alg == "md5":
                raise S3Error(
                    "BadDigest", "The Content-MD5 you specified did not match what we received."
                )
            raise S3Error(
                "BadDigest",
                f"The {alg.upper()} you specified did not match the calculated checksum.",
                extra={"Algorithm": alg.upper()},
            )


# --------------------------------------------------------------------------- multipart

MULTIPART_TYPES = ("COMPOSITE", "FULL_OBJECT")
CRC_ALGORITHMS = ("crc32", "crc32c", "crc64nvme")
_COMBINE = {
    "crc32": crt.combine_crc32,
    "crc32c": crt.combine_crc32c,
    "crc64nvme": crt.combine_crc64nvme,
}


def multipart_checksum(algorithm: str | None, checksum_type: str | None) -> tuple[str, str] | None:
    """The (algorithm, type) of a CreateMultipartUpload's ``x-amz-checksum-algorithm`` and
    ``x-amz-checksum-type``; None when it names no algorithm.

    The type defaults to FULL_OBJECT for CRC64NVME and COMPOSITE for the others; FULL_OBJECT
    is a CRC's only (SHA-1 and SHA-256 have no combination), COMPOSITE not CRC64NVME's.

    Raises:
        S3Error: ``InvalidRequest`` with AWS's message for each refused combination.
    """
    alg = (algorithm or "").strip().lower()
    kind = (checksum_type or "").strip().upper()
    if not alg:
        if kind:
            raise S3Error(
                "InvalidRequest",
                "The x-amz-checksum-type header can only be used with the "
                "x-amz-checksum-algorithm header.",
            )
        return None
    if alg not in FLEXIBLE_ALGORITHMS:
        raise S3Error(
            "InvalidRequest",
            "Checksum algorithm provided is unsupported. Please try again with any of the "
            "valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
        )
    if kind and kind not in MULTIPART_TYPES:
        raise S3Error("InvalidRequest", "Value for x-amz-checksum-type header is invalid.")
    if not kind:
        kind = "FULL_OBJECT" if alg == "crc64nvme" else "COMPOSITE"
    if (kind == "FULL_OBJECT" and alg not in CRC_ALGORITHMS) or (
        kind == "COMPOSITE" and alg == "crc64nvme"
    ):
        raise S3Error(
            "InvalidRequest",
            f"The {kind} checksum type cannot be used with the {alg} checksum algorithm.",
        )
    return alg, kind


def type_mismatch(expected: str, actual: str) -> S3Error:
    """A part or a completion that names another algorithm than its upload's."""
    return S3Error(
        "InvalidRequest",
        f"Checksum Type mismatch occurred, expected checksum Type: {expected}, "
        f"actual checksum Type: {actual}",
    )


def composite_checksum(algorithm: str, part_values: Iterable[str]) -> str:
    """COMPOSITE: the checksum of the parts' raw checksums, concatenated, then ``-N``."""
    h = new_hasher(algorithm)
    n = 0
    for value in part_values:
        h.update(base64.b64decode(value))
        n += 1
    return f"{h.digest_b64()}-{n}"


def combine_crc(algorithm: str, crc1: int, crc2: int, length2: int) -> int:
    """The CRC of ``A + B`` from CRC(A), CRC(B) and len(B) (zlib's crc32_combine)."""
    return int(_COMBINE[algorithm](crc1, crc2, length2))


def full_object_checksum(algorithm: str, parts: Iterable[tuple[str, int]]) -> str:
    """FULL_OBJECT: the CRC of the whole object from each part's (base64 CRC, size)."""
    size = DIGEST_SIZES[algorithm]
    value = 0
    for b64, length in parts:
        value = combine_crc(algorithm, value, int.from_bytes(base64.b64decode(b64), "big"), length)
    return base64.b64encode(value.to_bytes(size, "big")).decode("ascii")


def completion_checksum(headers: Headers) -> dict[str, str]:
    """The object checksum a CompleteMultipartUpload declares, as {algorithm: value}: the
    ``x-amz-checksum-<alg>`` headers as sent (a COMPOSITE value ends ``-N``, so it is not
    plain base64; any other text is compared and found wrong, BadDigest, as AWS does).

    Raises:
        S3Error: ``InvalidRequest`` for an unknown algorithm or several of them.
    """
    found = {alg: value for _, alg, value in _checksum_values(headers)}
    if len(found) > 1:
        raise S3Error(
            "InvalidRequest",
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        )
    return found
