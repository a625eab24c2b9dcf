"""aisfs.crypto, sans-IO: the CTR stream at any offset across parts, the master key and
data-key wrapping, SSE-C key checks, the envelope record and the SSE headers."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.crypto import keys
from aisfs.crypto.ctr import CtrStream, counter_block, single
from aisfs.crypto.envelope import (
    SSE_C,
    SSE_S3,
    BadEnvelope,
    Envelope,
    of_extra,
    refuse_encrypted,
)
from aisfs.crypto.headers import COPY_SSEC, SSEC, customer_key, requested
from aisfs.errors import S3Error

KEY = bytes(range(32))
NONCE = b"\x01" * 8


def reference(key: bytes, nonce: bytes, segments: list[tuple[int, bytes]]) -> bytes:
    """Each segment encrypted on its own from counter 0 (the definition in ctr.py)."""
    out = b""
    for part, data in segments:
        enc = Cipher(algorithms.AES(key), modes.CTR(counter_block(nonce, part, 0))).encryptor()
        out += enc.update(data) + enc.finalize()
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in [*points, len(data)]:
        pieces.append(data[last:p])
        last = p
    return pieces


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 200), min_size=1, max_size=4),
    numbers=st.lists(st.integers(1, 10000), min_size=4, max_size=4, unique=True),
    start=st.integers(0, 800),
    cuts=st.lists(st.integers(0, 1000), max_size=6),
)
def test_ctr_stream_decrypts_any_range_across_parts(
    sizes: list[int], numbers: list[int], start: int, cuts: list[int]
) -> None:
    plain = [os.urandom(n) for n in sizes]
    segments = list(zip(numbers, plain, strict=False))
    cipher = reference(KEY, NONCE, segments)
    whole = b"".join(plain)
    assert len(cipher) == len(whole)
    start = min(start, len(whole))
    stream = CtrStream(KEY, NONCE, [(p, len(d)) for p, d in segments], start)
    got = b"".join(stream.update(piece) for piece in split(cipher[start:], cuts))
    assert got == whole[start:]


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=8),
       start=st.integers(0, 3000))
def test_single_put_round_trip(data: bytes, cuts: list[int], start: int) -> None:
    enc = single(KEY, NONCE)
    cipher = b"".join(enc.update(p) for p in split(data, cuts))
    assert len(cipher) == len(data)
    if len(data) >= 32:
        assert cipher != data
    start = min(start, len(data))
    assert single(KEY, NONCE, start).update(cipher[start:]) == data[start:]
    assert reference(KEY, NONCE, [(0, data)]) == cipher


def test_segments_do_not_share_keystream() -> None:
    zeros = bytes(64)
    a = CtrStream(KEY, NONCE, [(1, 64)]).update(zeros)
    b = CtrStream(KEY, NONCE, [(2, 64)]).update(zeros)
    c = single(KEY, b"\x02" * 8).update(zeros)
    assert len({a, b, c}) == 3
    with pytest.raises(ValueError):
        CtrStream(KEY, NONCE, [(1, 4)]).update(bytes(5))  # past the last segment
    with pytest.raises(ValueError):
        counter_block(NONCE, 70000, 0)


def test_master_key_made_once_private_and_wraps(tmp_path: Path) -> None:
    d = tmp_path / "state" / "sse"
    m1 = keys.load_or_create(d)
    path = d / keys.MASTER_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    m2 = keys.load_or_create(d)
    assert m1.key_id == m2.key_id
    data_key = keys.new_data_key()
    wrapped = m1.wrap(data_key)
    assert data_key not in wrapped and m2.unwrap(wrapped) == data_key
    assert m1.wrap(data_key) != wrapped  # a fresh nonce each time
    other = keys.MasterKey(os.urandom(32))
    with pytest.raises(keys.KeyUnusable):
        other.unwrap(wrapped)
    tampered = bytearray(wrapped)
    tampered[-1] ^= 1
    with pytest.raises(keys.KeyUnusable):
        m1.unwrap(bytes(tampered))
    path.chmod(0o644)
    with pytest.raises(keys.KeyUnusable):
        keys.load_or_create(d)


def test_master_key_not_under_a_mountpath(tmp_path: Path) -> None:
    mp = tmp_path / "mp1"
    with pytest.raises(keys.KeyUnusable):
        keys.check_outside(mp / "sse" / keys.MASTER_FILE, [str(mp)])
    keys.check_outside(tmp_path / "index" / "sse" / keys.MASTER_FILE, [str(mp)])


def test_customer_key_check_and_data_key() -> None:
    salt = keys.new_salt()
    check = keys.customer_key_check(KEY, salt)
    assert KEY not in check and keys.customer_key_matches(KEY, salt, check)
    assert not keys.customer_key_matches(os.urandom(32), salt, check)
    assert keys.customer_data_key(KEY, salt) != keys.customer_data_key(KEY, keys.new_salt())
    assert keys.customer_data_key(KEY, salt) != check


def test_envelope_round_trip_and_refusals() -> None:
    s3 = Envelope(SSE_S3, NONCE, wrapped_key=b"w" * 60, key_id="abc")
    c = Envelope(SSE_C, NONCE, salt=b"s" * 16, check=b"c" * 32, parts=[2, 5])
    for env in (s3, c):
        assert Envelope.from_json(env.to_json()) == env
    assert of_extra({}) is None
    assert of_extra({"sse": c.to_json()}) == c
    assert c.segments([10, 3], 13) == [(2, 10), (5, 3)]
    assert s3.segments(None, 7) == [(0, 7)]
    with pytest.raises(BadEnvelope):
        c.segments([13], 13)
    for bad in (None, {}, {"v": 2}, {"v": 1, "alg": "AES256", "iv": "!!"},
                {"v": 1, "alg": "ROT13", "iv": base64.b64encode(NONCE).decode()},
                {**c.to_json(), "parts": ["1"]}):
        with pytest.raises(BadEnvelope):
            Envelope.from_json(bad)
    refuse_encrypted({})
    with pytest.raises(S3Error) as e:
        refuse_encrypted({"sse": s3.to_json()})
    assert e.value.status == 501


def ssec(key: bytes, md5: bytes | None = None, alg: str = "AES256") -> dict[str, str]:
    return {
        "x-amz-server-side-encryption-customer-algorithm": alg,
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-md5":
            base64.b64encode(hashlib.md5(md5 if md5 is not None else key).digest()).decode(),
    }


def code(headers: dict[str, str], copy: bool = False, write: bool = False) -> tuple[str, int]:
    with pytest.raises(S3Error) as e:
        if write:
            requested(headers)
        else:
            customer_key(headers, COPY_SSEC if copy else SSEC)
    return e.value.code, e.value.status


def test_headers() -> None:
    got = customer_key(ssec(KEY))
    assert got is not None and got.key == KEY and "KEY" not in repr(got)
    assert customer_key({}) is None
    assert code(ssec(KEY, md5=b"other")) == ("InvalidArgument", 400)
    assert code(ssec(b"short")) == ("InvalidArgument", 400)
    assert code(ssec(KEY, alg="AES128")) == ("InvalidEncryptionAlgorithmError", 400)
    partial = ssec(KEY)
    del partial["x-amz-server-side-encryption-customer-key-md5"]
    assert code(partial) == ("InvalidArgument", 400)
    copy = {k.replace("x-amz-", "x-amz-copy-source-"): v for k, v in ssec(KEY).items()}
    assert customer_key(copy, COPY_SSEC) is not None and customer_key(copy) is None
    sse = "x-amz-server-side-encryption"
    assert requested({}) is None
    assert requested({sse: "AES256"}) == "AES256"
    assert requested(ssec(KEY)) == "SSE-C"
    assert code({sse: "aws:kms"}, write=True) == ("NotImplemented", 501)
    assert code({sse: "bogus"}, write=True) == ("InvalidArgument", 400)
    assert code({sse: "AES256", **ssec(KEY)}, write=True) == ("InvalidArgument", 400)
    assert code({f"{sse}-aws-kms-key-id": "k"}, write=True) == ("InvalidArgument", 400)
    assert code({sse: "AES256", f"{sse}-bucket-key-enabled": "true"}, write=True) == (
        "NotImplemented", 501)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), cuts=st.lists(st.integers(0, 5000), max_size=8))
def test_update_into_matches_update(data: bytes, cuts: list[int]) -> None:
    a, b = single(KEY, NONCE), single(KEY, NONCE)
    buf = bytearray()
    for piece in split(data, cuts):
        assert bytes(b.update_into(piece, buf)) == a.update(piece)
    short = CtrStream(KEY, NONCE, [(1, 10), (2, 10)])  # across segments: a fresh buffer
    assert bytes(short.update_into(bytes(20), bytearray())) == CtrStream(
        KEY, NONCE, [(1, 10), (2, 10)]).update(bytes(20))
