"""aws-chunked body decoding, sans-IO in h11's style.

The framing (``Content-Encoding: aws-chunked``, ``x-amz-content-sha256:
STREAMING-...``)::

    <hex size>[;chunk-signature=<64 hex>]\\r\\n<data>\\r\\n   (repeated)
    0[;chunk-signature=<64 hex>]\\r\\n
    [name:value\\r\\n ...]                                  (trailers, if any)
    [x-amz-trailer-signature:<64 hex>\\r\\n]
    \\r\\n

Theory of operation: ``feed`` appends bytes, ``next_event`` returns the next
``ChunkData``, ``Trailers`` or ``EndOfBody``, or ``NEED_DATA``. Data is yielded
as soon as it arrives, in pieces no larger than what was fed, so the decoder
holds at most one chunk header line (bounded by ``MAX_LINE``) plus the bytes of
the last ``feed`` -- provided the caller drains events before feeding again.

With a ``signing`` verifier, each chunk's SHA-256 is computed as its data streams
out and its signature checked when the chunk ends. Data is therefore handed out
*before* its signature is known: the caller must treat everything it received as
provisional until ``EndOfBody`` (the store publishes an object only then).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from aisfs.errors import S3Error

MAX_LINE: Final = 4096  # a chunk header or a trailer line
MAX_TRAILER_BYTES: Final = 16 * 1024
_SIZE_RE = re.compile(rb"^([0-9a-fA-F]{1,16})((?:;[^\r\n]*)?)$")
_SIG_RE = re.compile(r"^[0-9a-f]{64}$")


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()


@dataclass(frozen=True, slots=True)
class ChunkData:
    data: bytes


@dataclass(frozen=True, slots=True)
class Trailers:
    headers: dict[str, str]  # lower-case names; x-amz-trailer-signature left out


@dataclass(frozen=True, slots=True)
class EndOfBody:
    decoded_length: int


Event = ChunkData | Trailers | EndOfBody | _NeedData


class ChunkVerifier(Protocol):
    """Checks the signature chain of STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER].

    ``aisfs.s3.sigv4.ChunkSigner`` implements it.
    """

    def verify_chunk(self, signature: str, payload_sha256: bytes) -> None: ...

    def verify_trailer(self, signature: str, trailer_bytes: bytes) -> None: ...


def _malformed(why: str) -> S3Error:
    return S3Error("InvalidRequest", f"Malformed aws-chunked body: {why}")


def _incomplete(why: str) -> S3Error:
    return S3Error(
        "IncompleteBody",
        f"You did not provide the number of bytes specified by the Content-Length HTTP "
        f"header: {why}",
    )


class AwsChunkedDecoder:
    """Incremental aws-chunked decoder.

    Args:
        trailer_names: the trailers announced in ``x-amz-trailer``; each must arrive,
            and no other may (except ``x-amz-trailer-signature``).
        signing: verifies chunk (and trailer) signatures; None accepts any or none.
        decoded_length: ``x-amz-decoded-content-length``; when given, the data must
            add up to it exactly (``IncompleteBody`` otherwise).

    Raises (from ``next_event``/``feed_eof``):
        S3Error: ``InvalidRequest`` for broken framing, ``IncompleteBody`` for a body
            that ends early or disagrees with ``decoded_length``,
            ``SignatureDoesNotMatch`` from the verifier.
    """

    def __init__(
        self,
        trailer_names: Iterable[str] = (),
        signing: ChunkVerifier | None = None,
        decoded_length: int | None = None,
    ) -> None:
        self._expected_trailers = {n.strip().lower() for n in trailer_names if n.strip()}
        self._signing = signing
        self._decoded_length = decoded_length
        self._buf = bytearray()
        self._state = "header"  # header, data, data_crlf, trailers, done
        self._remaining = 0
        self._signature = ""
        self._hash: hashlib._Hash | None = None
        self._total = 0
        self._trailers: dict[str, str] = {}
        self._trailer_bytes = 0
        self._trailer_signature: str | None = None
        self._canonical_trailers = bytearray()
        self._eof = False
        self._failed = False

    @property
    def trailing_data(self) -> bytes:
        """Bytes fed after the end of the body (a client error the caller may refuse)."""
        return bytes(self._buf) if self._state == "done" else b""

    @property
    def decoded_bytes(self) -> int:
        return self._total

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._eof:
            raise RuntimeError("feed() after feed_eof()")
        self._buf += data

    def feed_eof(self) -> None:
        """The request body ended; a later ``next_event`` that needs data raises."""
        self._eof = True

    def next_event(self) -> Event:
        if self._failed:
            raise RuntimeError("the decoder already failed")
        try:
            event = self._next()
        except S3Error:
            self._failed = True
            raise
        if event is NEED_DATA and self._eof:
            self._failed = True
            raise _incomplete("the aws-chunked body ended early")
        return event

    def events(self) -> list[Event]:
        """Every event available now, ``NEED_DATA`` excluded (a convenience for tests)."""
        out: list[Event] = []
        while True:
            ev = self.next_event()
            if ev is NEED_DATA:
                return out
            out.append(ev)
            if isinstance(ev, EndOfBody):
                return out

    # ------------------------------------------------------------------ internals

    def _line(self) -> bytes | None:
        idx = self._buf.find(b"\r\n", 0, MAX_LINE + 2)
        if idx < 0:
            if len(self._buf) > MAX_LINE:
                raise _malformed("line too long")
            return None
        line = bytes(self._buf[:idx])
        del self._buf[: idx + 2]
        return line

    def _next(self) -> Event:
        while True:
            state = self._state
            if state == "header":
                line = self._line()
                if line is None:
                    return NEED_DATA
                self._start_chunk(line)
                continue
            if state == "data":
                if not self._buf:
                    return NEED_DATA
                n = min(self._remaining, len(self._buf))
                piece = bytes(self._buf[:n])
                del self._buf[:n]
                self._remaining -= n
                self._total += n
                if self._hash is not None:
                    self._hash.update(piece)
                if self._decoded_length is not None and self._total > self._decoded_length:
                    raise _incomplete("more data than x-amz-decoded-content-length")
                if self._remaining == 0:
                    self._state = "data_crlf"
                return ChunkData(piece)
            if state == "data_crlf":
                if len(self._buf) < 2:
                    return NEED_DATA
                if self._buf[:2] != b"\r\n":
                    raise _malformed("chunk data longer than its declared size")
                del self._buf[:2]
                self._end_chunk()
                self._state = "header"
                continue
            if state == "trailers":
                line = self._line()
                if line is None:
                    return NEED_DATA
                if line:
                    self._trailer_line(line)
                    continue
                return self._finish()
            return EndOfBody(self._total)  # done

    def _start_chunk(self, line: bytes) -> None:
        m = _SIZE_RE.match(line)
        if m is None:
            raise _malformed("bad chunk header")
        size = int(m.group(1), 16)
        signature = ""
        for ext in m.group(2).decode("latin-1").split(";")[1:]:
            name, _, value = ext.partition("=")
            if name.strip() == "chunk-signature":
                signature = value.strip()
        if self._signing is not None:
            if not _SIG_RE.match(signature):
                raise S3Error("SignatureDoesNotMatch", "Missing or malformed chunk-signature")
            self._hash = hashlib.sha256()
        self._signature = signature
        if size == 0:
            self._end_chunk()
            self._state = "trailers"
            return
        self._remaining = size
        self._state = "data"

    def _end_chunk(self) -> None:
        if self._signing is not None and self._hash is not None:
            self._signing.verify_chunk(self._signature, self._hash.digest())
            self._hash = None

    def _trailer_line(self, line: bytes) -> None:
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > MAX_TRAILER_BYTES:
            raise _malformed("trailers too large")
        name_b, sep, value_b = line.partition(b":")
        if not sep:
            raise _malformed("bad trailer line")
        try:
            name = name_b.decode("ascii").strip().lower()
            value = value_b.decode("ascii").strip()
        except UnicodeDecodeError:
            raise _malformed("non-ASCII trailer") from None
        if not name:
            raise _malformed("bad trailer line")
        if name == "x-amz-trailer-signature":
            self._trailer_signature = value
            return
        if self._trailer_signature is not None:
            raise _malformed("trailer after x-amz-trailer-signature")
        if name not in self._expected_trailers:
            raise _malformed(f"trailer {name} was not declared in x-amz-trailer")
        if name in self._trailers:
            raise _malformed(f"trailer {name} repeated")
        self._trailers[name] = value
        self._canonical_trailers += f"{name}:{value}\n".encode("ascii")

    def _finish(self) -> Event:
        missing = self._expected_trailers - self._trailers.keys()
        if missing:
            raise _incomplete(f"missing trailer {sorted(missing)[0]}")
        if self._signing is not None and self._expected_trailers:
            if self._trailer_signature is None or not _SIG_RE.match(self._trailer_signature):
                raise S3Error("SignatureDoesNotMatch", "Missing x-amz-trailer-signature")
            self._signing.verify_trailer(self._trailer_signature, bytes(self._canonical_trailers))
        if self._decoded_length is not None and self._total != self._decoded_length:
            raise _incomplete(
                f"decoded {self._total} bytes, x-amz-decoded-content-length says "
                f"{self._decoded_length}"
            )
        self._state = "done"
        if self._trailers:
            return Trailers(dict(self._trailers))
        return EndOfBody(self._total)


def encode_aws_chunked(
    data: bytes, chunk_size: int = 8192, trailers: dict[str, str] | None = None
) -> bytes:
    """An unsigned aws-chunked body (for tests and the S3 client side)."""
    out = bytearray()
    for i in range(0, len(data), chunk_size):
        piece = data[i : i + chunk_size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    out += b"0\r\n"
    for name, value in (trailers or {}).items():
        out += f"{name}:{value}\r\n".encode()
    out += b"\r\n"
    return bytes(out)
