from __future__ import annotations

import hashlib
import io
import os

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, CrtCrc64NvmeChecksum

from aisfs.errors import S3Error
from aisfs.s3.checksums import new_hasher, trailer_checksums
from aisfs.s3.chunked import (
    NEED_DATA,
    AwsChunkedDecoder,
    ChunkData,
    EndOfBody,
    Event,
    Trailers,
    encode_aws_chunked,
)


def run(dec: AwsChunkedDecoder, pieces: list[bytes]) -> tuple[bytes, dict[str, str] | None, int]:
    """Feed *pieces*, drain events after each; return (data, trailers, decoded_length)."""
    data = bytearray()
    trailers: dict[str, str] | None = None
    end: int | None = None
    for piece in pieces:
        dec.feed(piece)
        while True:
            ev: Event = dec.next_event()
            if ev is NEED_DATA:
                break
            assert end is None or isinstance(ev, EndOfBody)
            if isinstance(ev, ChunkData):
                assert len(ev.data) <= len(piece)  # never more than one feed's worth
                data += ev.data
            elif isinstance(ev, Trailers):
                trailers = ev.headers
            elif isinstance(ev, EndOfBody):
                end = ev.decoded_length
                break
        if end is not None:
            break
    assert end is not None, "no EndOfBody"
    return bytes(data), trailers, end


def tr(
    body: bytes,
    expected_data: bytes,
    expected_trailers: dict[str, str] | None = None,
    trailer_names: tuple[str, ...] = (),
) -> None:
    """h11's tr: whole input, one byte at a time, and with trailing bytes."""
    for pieces in ([body], [body[i : i + 1] for i in range(len(body))], [body + b"EXTRA"]):
        dec = AwsChunkedDecoder(trailer_names, decoded_length=len(expected_data))
        data, trailers, n = run(dec, pieces)
        assert data == expected_data
        assert trailers == expected_trailers
        assert n == len(expected_data)
        if pieces[-1].endswith(b"EXTRA"):
            assert dec.trailing_data == b"EXTRA"
            assert dec.next_event() == EndOfBody(len(expected_data))
        else:
            assert dec.trailing_data == b""


def test_boto3_https_example() -> None:
    body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
    tr(body, b"hello world", {"x-amz-checksum-crc32": "DUoRhQ=="}, ("x-amz-checksum-crc32",))


def test_no_trailers() -> None:
    tr(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world")
    tr(b"0\r\n\r\n", b"")


def test_signed_chunks_accepted_without_verifier() -> None:
    sig = "a" * 64
    body = f"5;chunk-signature={sig}\r\nhello\r\n0;chunk-signature={sig}\r\n\r\n".encode()
    tr(body, b"hello")


@pytest.mark.parametrize("size", [0, 1, 4, 100, 70_000])
@pytest.mark.parametrize(
    ("cls", "name"),
    [(Crc32Checksum, "x-amz-checksum-crc32"), (CrtCrc64NvmeChecksum, "x-amz-checksum-crc64nvme")],
)
def test_body_built_by_botocore(size: int, cls: type, name: str) -> None:
    payload = os.urandom(size)
    body = AwsChunkedWrapper(
        io.BytesIO(payload), checksum_cls=cls, checksum_name=name, chunk_size=4096
    ).read()
    dec = AwsChunkedDecoder([name], decoded_length=size)
    pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    data, trailers, _ = run(dec, pieces)
    assert data == payload
    assert trailers is not None
    expected = trailer_checksums(trailers)
    alg = name.removeprefix("x-amz-checksum-")
    h = new_hasher(alg)
    h.update(data)
    assert expected == {alg: h.digest_b64()}


def test_encode_aws_chunked_roundtrip() -> None:
    payload = os.urandom(20_000)
    body = encode_aws_chunked(payload, 7000, {"x-amz-checksum-sha256": "x"})
    tr(body, payload, {"x-amz-checksum-sha256": "x"}, ("x-amz-checksum-sha256",))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"zz\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),  # not hex
        (b"\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),  # empty size
        (b"12345678901234567\r\n", "InvalidRequest"),  # > 16 hex digits
        (b"5 \r\nhello\r\n0\r\n\r\n", "InvalidRequest"),
        (b"3\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),  # data longer than declared
        (b"5\r\nhello\r\n0\r\nbogus\r\n\r\n", "InvalidRequest"),  # no colon
        (b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "InvalidRequest"),
        (b"1" * 5000, "InvalidRequest"),  # header line never ends
    ],
)
def test_malformed(body: bytes, code: str) -> None:
    dec = AwsChunkedDecoder()
    dec.feed(body)
    with pytest.raises(S3Error) as exc:
        dec.events()
    assert exc.value.code == code
    with pytest.raises(RuntimeError):
        dec.next_event()


@pytest.mark.parametrize(
    "body",
    [b"", b"5\r\nhel", b"5\r\nhello", b"5\r\nhello\r\n", b"5\r\nhello\r\n0\r\n", b"0\r\nx:1\r\n"],
)
def test_truncated_body_is_incomplete(body: bytes) -> None:
    dec = AwsChunkedDecoder(["x"] if b"x:" in body else ())
    dec.feed(body)
    dec.events()
    dec.feed_eof()
    with pytest.raises(S3Error) as exc:
        dec.next_event()
    assert exc.value.code == "IncompleteBody"


def test_decoded_length_mismatch() -> None:
    for declared in (4, 6):
        dec = AwsChunkedDecoder(decoded_length=declared)
        dec.feed(b"5\r\nhello\r\n0\r\n\r\n")
        with pytest.raises(S3Error) as exc:
            dec.events()
        assert exc.value.code == "IncompleteBody"


def test_missing_declared_trailer() -> None:
    dec = AwsChunkedDecoder(["x-amz-checksum-crc32"])
    dec.feed(b"5\r\nhello\r\n0\r\n\r\n")
    with pytest.raises(S3Error) as exc:
        dec.events()
    assert exc.value.code == "IncompleteBody"


class RecordingVerifier:
    def __init__(self, bad_at: int | None = None) -> None:
        self.chunks: list[tuple[str, bytes]] = []
        self.trailer: tuple[str, bytes] | None = None
        self.bad_at = bad_at

    def verify_chunk(self, signature: str, payload_sha256: bytes) -> None:
        if self.bad_at == len(self.chunks):
            raise S3Error("SignatureDoesNotMatch", "bad chunk")
        self.chunks.append((signature, payload_sha256))

    def verify_trailer(self, signature: str, trailer_bytes: bytes) -> None:
        self.trailer = (signature, trailer_bytes)


def test_signing_hashes_each_chunk() -> None:
    s1, s2, s3 = "1" * 64, "2" * 64, "3" * 64
    body = (
        f"5;chunk-signature={s1}\r\nhello\r\n6;chunk-signature={s2}\r\n world\r\n"
        f"0;chunk-signature={s3}\r\nx-amz-checksum-crc32:DUoRhQ==\r\n"
        f"x-amz-trailer-signature:{'4' * 64}\r\n\r\n"
    ).encode()
    v = RecordingVerifier()
    dec = AwsChunkedDecoder(["x-amz-checksum-crc32"], signing=v)
    data, trailers, _ = run(dec, [body[i : i + 3] for i in range(0, len(body), 3)])
    assert data == b"hello world"
    assert trailers == {"x-amz-checksum-crc32": "DUoRhQ=="}
    assert v.chunks == [
        (s1, hashlib.sha256(b"hello").digest()),
        (s2, hashlib.sha256(b" world").digest()),
        (s3, hashlib.sha256(b"").digest()),
    ]
    assert v.trailer == ("4" * 64, b"x-amz-checksum-crc32:DUoRhQ==\n")


def test_signing_requires_signatures() -> None:
    dec = AwsChunkedDecoder(signing=RecordingVerifier())
    dec.feed(b"5\r\nhello\r\n0\r\n\r\n")
    with pytest.raises(S3Error) as exc:
        dec.events()
    assert exc.value.code == "SignatureDoesNotMatch"


def test_signing_failure_propagates() -> None:
    dec = AwsChunkedDecoder(signing=RecordingVerifier(bad_at=0))
    dec.feed(f"5;chunk-signature={'1' * 64}\r\nhello\r\n".encode())
    assert dec.next_event() == ChunkData(b"hello")  # provisional until the chunk ends
    with pytest.raises(S3Error) as exc:
        dec.next_event()
    assert exc.value.code == "SignatureDoesNotMatch"
