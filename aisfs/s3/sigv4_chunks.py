"""The signature chain of a signed aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD
[-TRAILER]): each chunk's signature covers the previous one, seeded by the request's."""

from __future__ import annotations

import hashlib
import hmac

from aisfs.errors import S3Error
from aisfs.s3.signing_keys import sign

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _same(expected: str, given: str) -> bool:
    """Constant-time equality; bytes, as compare_digest raises on non-ASCII str."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


class ChunkSigner:
    """The signature chain of a signed aws-chunked body, seeded by the request's signature.

    Implements ``aisfs.s3.chunked.ChunkVerifier``.
    """

    def __init__(self, signing_key: bytes, amz_date: str, scope: str, seed_signature: str) -> None:
        self._key = signing_key
        self._prefix = f"{amz_date}\n{scope}\n"
        self.previous = seed_signature

    def sign_chunk(self, payload_sha256: bytes) -> str:
        """The next chunk's signature (the chain advances)."""
        sts = (
            f"AWS4-HMAC-SHA256-PAYLOAD\n{self._prefix}{self.previous}\n"
            f"{EMPTY_SHA256}\n{payload_sha256.hex()}"
        )
        self.previous = sign(self._key, sts)
        return self.previous

    def sign_trailer(self, trailer_bytes: bytes) -> str:
        sts = (
            f"AWS4-HMAC-SHA256-TRAILER\n{self._prefix}{self.previous}\n"
            f"{hashlib.sha256(trailer_bytes).hexdigest()}"
        )
        self.previous = sign(self._key, sts)
        return self.previous

    def verify_chunk(self, signature: str, payload_sha256: bytes) -> None:
        if not _same(self.sign_chunk(payload_sha256), signature):
            raise S3Error(
                "SignatureDoesNotMatch",
                "The chunk signature we calculated does not match the one you provided.",
            )

    def verify_trailer(self, signature: str, trailer_bytes: bytes) -> None:
        if not _same(self.sign_trailer(trailer_bytes), signature):
            raise S3Error(
                "SignatureDoesNotMatch",
                "The trailer signature we calculated does not match the one you provided.",
            )
