"""What an encrypted object keeps beside its bytes: the ``"sse"`` entry of its
``ObjectMeta.extra`` (a multipart upload's too, from CreateMultipartUpload on).

``{"v": 1, "alg": "AES256", "iv": b64, "wk": b64, "kid": hex}`` for SSE-S3 (the data
key wrapped under the master key named by ``kid``), ``{"v": 1, "alg": "SSE-C", "iv":
b64, "salt": b64, "check": b64}`` for SSE-C (no key at all: a salted HMAC to recognise
it). A completed multipart object adds ``"parts"``: its part numbers in object order,
each the CTR segment of that part (``aisfs.crypto.ctr``).

The entry is internal: it is never sent as ``x-amz-meta-*``; it travels with the
manifest (a copy that shares chunks shares it, a rename keeps it).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import Any

from aisfs.errors import S3Error

from .ctr import NONCE_BYTES

EXTRA_KEY = "sse"
SSE_S3 = "AES256"
SSE_C = "SSE-C"


class BadEnvelope(Exception):
    """An ``"sse"`` entry that is not one this code wrote."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise BadEnvelope(f"sse.{name} is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadEnvelope(f"sse.{name} is not base64") from None


@dataclass(slots=True)
class Envelope:
    alg: str  # SSE_S3 | SSE_C
    nonce: bytes
    wrapped_key: bytes = b""  # SSE-S3
    key_id: str = ""  # SSE-S3: the master key's id
    salt: bytes = b""  # SSE-C
    check: bytes = b""  # SSE-C
    parts: list[int] | None = field(default=None)  # a completed multipart object's

    @staticmethod
    def new_nonce() -> bytes:
        return secrets.token_bytes(NONCE_BYTES)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": 1, "alg": self.alg, "iv": _b64(self.nonce)}
        if self.alg == SSE_S3:
            out["wk"] = _b64(self.wrapped_key)
            out["kid"] = self.key_id
        else:
            out["salt"] = _b64(self.salt)
            out["check"] = _b64(self.check)
        if self.parts is not None:
            out["parts"] = list(self.parts)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Envelope:
        if not isinstance(data, dict) or data.get("v") != 1:
            raise BadEnvelope("unknown sse record version")
        alg = data.get("alg")
        nonce = _unb64(data.get("iv"), "iv")
        if len(nonce) != NONCE_BYTES:
            raise BadEnvelope("sse.iv is not 8 bytes")
        parts = data.get("parts")
        if parts is not None and (
            not isinstance(parts, list) or not all(type(p) is int for p in parts)
        ):
            raise BadEnvelope("sse.parts is not a list of part numbers")
        if alg == SSE_S3:
            return cls(alg, nonce, wrapped_key=_unb64(data.get("wk"), "wk"),
                       key_id=str(data.get("kid") or ""), parts=parts)
        if alg == SSE_C:
            return cls(alg, nonce, salt=_unb64(data.get("salt"), "salt"),
                       check=_unb64(data.get("check"), "check"), parts=parts)
        raise BadEnvelope(f"unknown sse algorithm {alg!r}")

    def segments(self, part_sizes: list[int] | None, size: int) -> list[tuple[int, int]]:
        """The object's CTR segments: ``(part, length)`` in order."""
        if self.parts is None:
            return [(0, size)]
        if part_sizes is None or len(part_sizes) != len(self.parts):
            raise BadEnvelope("sse.parts does not match the object's parts")
        return list(zip(self.parts, part_sizes, strict=True))


def of_extra(extra: dict[str, Any]) -> Envelope | None:
    """The envelope in an object's (or upload's) ``meta.extra``; None: not encrypted."""
    data = extra.get(EXTRA_KEY)
    return None if data is None else Envelope.from_json(data)


def refuse_encrypted(extra: dict[str, Any]) -> None:
    """501 for an operation that would carry an encrypted object's bytes as if they were
    its data (the native ``/v1`` API, a copy to a backend, a copy-bck job), or write
    unencrypted into a bucket whose default is to encrypt (``extra``: an object's
    ``meta.extra`` or a bucket's props)."""
    if extra.get(EXTRA_KEY):
        raise S3Error("NotImplemented", "The object or bucket uses server-side encryption, "
                      "which this operation does not carry: use the S3 API's GetObject, "
                      "PutObject or CopyObject within this node", status=501)
