"""An upload body as the store should see it: decoded, hashed, and checked before commit.

One ``UploadBody`` per PutObject/UploadPart: it undoes aws-chunked framing (verifying
chunk signatures when the request was signed that way), feeds the flexible-checksum
and payload-SHA-256 hashers, and ``before_commit`` compares them all with what the
client declared (in headers or in the trailer). Only then does the store publish.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aisfs.errors import S3Error
from aisfs.hashing import new_hasher
from aisfs.numbers import NumberError, invalid, parse_uint
from aisfs.s3 import checksums, chunked
from aisfs.s3.sigv4 import AuthResult, check_payload_sha256
from aisfs.store.types import ObjectMeta
from aisfs_node.http import Request

UNSIGNED = {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}


class UploadBody:
    def __init__(self, http: Request, auth: AuthResult | None) -> None:
        headers: Any = http.headers  # case-insensitive: get_header looks up once
        self.http = http
        self.auth = auth
        declared = checksums.checksum_headers(headers)
        self.content_md5 = declared.pop("md5", None)
        self.expected = declared  # flexible checksums from headers: {alg: b64}
        self.trailer_alg = checksums.trailer_algorithm(headers)
        algs = set(self.expected)
        if self.trailer_alg:
            algs.add(self.trailer_alg)
        self.hashers: dict[str, Any] = dict(checksums.new_hashers(algs))
        sha_header = (http.headers.get("x-amz-content-sha256") or "").strip()
        encoding = http.headers.get("content-encoding") or ""
        self.chunked = sha_header.startswith("STREAMING-") or "aws-chunked" in encoding.lower()
        self.payload_sha256: str | None = None
        if auth is not None and len(sha_header) == 64:
            if self.chunked:
                raise S3Error(
                    "InvalidRequest",
                    "An aws-chunked body must be signed as STREAMING-*, not with a payload hash",
                )
            self.payload_sha256 = sha_header
            self.hashers["x-payload-sha256"] = new_hasher("sha256")
        self.trailers: dict[str, str] = {}
        self.decoded_length = _int_header(http, "x-amz-decoded-content-length")
        self.expected_size = (
            self.decoded_length if self.chunked else _int_header(http, "content-length")
        )
        if self.chunked and self.decoded_length is None and "content-length" in http.headers:
            raise S3Error(
                "MissingContentLength",
                "aws-chunked bodies need x-amz-decoded-content-length",
                status=411,
            )
        self.stored: dict[str, str] = {}

    def content_md5_bytes(self) -> bytes | None:
        if self.content_md5 is None:
            return None
        import base64

        return base64.b64decode(self.content_md5)

    def stream(self) -> AsyncIterator[bytes]:
        if self.chunked:
            return self._decode_chunked()
        return self.http.body()

    async def _decode_chunked(self) -> AsyncIterator[bytes]:
        trailer = self.http.headers.get("x-amz-trailer") or ""
        signer = None
        if self.auth is not None and self.auth.streaming_signed:
            signer = self.auth.chunk_signer()
        decoder = chunked.AwsChunkedDecoder(
            [t for t in trailer.split(",") if t.strip()],
            signing=signer,
            decoded_length=self.decoded_length,
        )
        done = False
        async for data in self.http.body():
            if done:
                continue  # bytes after the final chunk: drained, ignored
            decoder.feed(data)
            while True:
                event = decoder.next_event()
                if event is chunked.NEED_DATA:
                    break
                if isinstance(event, chunked.ChunkData):
                    yield event.data
                elif isinstance(event, chunked.Trailers):
                    self.trailers.update(event.headers)
                elif isinstance(event, chunked.EndOfBody):
                    done = True
                    break
        if not done:
            decoder.feed_eof()
            while True:
                event = decoder.next_event()
                if event is chunked.NEED_DATA or isinstance(event, chunked.EndOfBody):
                    break
                if isinstance(event, chunked.ChunkData):
                    yield event.data
                elif isinstance(event, chunked.Trailers):
                    self.trailers.update(event.headers)

    def before_commit(self, meta: ObjectMeta | None = None) -> None:
        """Check every declared checksum; record the verified ones (on ``meta`` too)."""
        expected = dict(self.expected)
        if self.trailer_alg:
            from_trailer = checksums.trailer_checksums(self.trailers)
            if self.trailer_alg not in from_trailer:
                raise S3Error(
                    "InvalidRequest",
                    f"The x-amz-checksum-{self.trailer_alg} trailer was announced but not sent",
                )
            expected.update(from_trailer)
        checksums.verify(expected, {a: h for a, h in self.hashers.items() if a in expected})
        if self.payload_sha256 is not None:
            check_payload_sha256(self.payload_sha256, self.hashers["x-payload-sha256"].digest())
        self.stored = expected
        if meta is not None:
            meta.checksums = dict(expected)

    def store_hashers(self) -> dict[str, Any] | None:
        return self.hashers or None


def checksum_headers(values: dict[str, str]) -> list[tuple[str, str]]:
    """``x-amz-checksum-<alg>`` response headers for {algorithm: base64 value}."""
    return [(f"x-amz-checksum-{alg}", v) for alg, v in values.items()]


def _int_header(http: Request, name: str) -> int | None:
    value = http.headers.get(name)
    if value is None:
        return None
    value = value.strip(" \t")
    try:
        return parse_uint(value)  # ASCII digits, at most 2**63-1
    except NumberError:
        raise invalid(name, value, f"Invalid {name}: {value[:64]!r}") from None
