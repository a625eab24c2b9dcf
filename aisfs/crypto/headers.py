"""The server-side-encryption headers of a request, parsed and checked (sans-IO).

Every answer is AWS's: a malformed SSE-C triple is 400 InvalidArgument (an algorithm
other than AES256 InvalidEncryptionAlgorithmError), ``x-amz-server-side-encryption``
with an unknown value InvalidArgument, SSE-C beside it InvalidArgument, a KMS key id
without ``aws:kms`` InvalidArgument; SSE-KMS itself (``aws:kms``, ``aws:kms:dsse``) and
S3 Bucket Keys are 501 NotImplemented - there is no KMS here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from aisfs.errors import S3Error
from aisfs.s3._headers import Headers, get_header

SSE = "x-amz-server-side-encryption"
SSE_KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id"
SSE_CONTEXT = "x-amz-server-side-encryption-context"
SSE_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
SSEC_ALG = "x-amz-server-side-encryption-customer-algorithm"
SSEC_KEY = "x-amz-server-side-encryption-customer-key"
SSEC_MD5 = "x-amz-server-side-encryption-customer-key-md5"
SSEC = (SSEC_ALG, SSEC_KEY, SSEC_MD5)
COPY_SSEC = (
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-md5",
)
SSE_VALUES = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
AES256 = "AES256"


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """An SSE-C key a request carries: its 32 bytes and the MD5 the client sent."""

    key: bytes
    md5_b64: str

    def __repr__(self) -> str:  # never the key in a log
        return f"CustomerKey(md5={self.md5_b64})"


def invalid_argument(message: str, name: str, value: str | None = None) -> S3Error:
    extra = {"ArgumentName": name}
    if value is not None:
        extra["ArgumentValue"] = value
    return S3Error("InvalidArgument", message, extra=extra)


def not_implemented(what: str) -> S3Error:
    return S3Error("NotImplemented",
                   f"{what} is not implemented by aisfs: nothing would be encrypted", status=501)


def customer_key(headers: Headers, names: tuple[str, str, str] = SSEC) -> CustomerKey | None:
    """The SSE-C key named by ``names`` (the object's, or ``COPY_SSEC``: a copy's
    source's); None when none of the three headers is present."""
    alg_name, key_name, md5_name = names
    alg = get_header(headers, alg_name)
    key = get_header(headers, key_name)
    md5 = get_header(headers, md5_name)
    if alg is None and key is None and md5 is None:
        return None
    if alg is None:
        raise invalid_argument("Requests specifying Server Side Encryption with Customer "
                               "provided keys must provide a valid encryption algorithm.",
                               alg_name)
    if alg.strip() != AES256:
        raise S3Error("InvalidEncryptionAlgorithmError",
                      "The Encryption request you specified is not valid. Supported value: "
                      "AES256.", extra={"ArgumentName": alg_name, "ArgumentValue": alg})
    if key is None:
        raise invalid_argument("Requests specifying Server Side Encryption with Customer "
                               "provided keys must provide an appropriate secret key.", key_name)
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise invalid_argument("The secret key was invalid for the specified algorithm.",
                               key_name)
    if md5 is None:
        raise invalid_argument("Requests specifying Server Side Encryption with Customer "
                               "provided keys must provide the client calculated MD5 of the "
                               "secret key.", md5_name)
    want = base64.b64encode(hashlib.md5(raw).digest()).decode()
    if want != md5.strip():
        raise invalid_argument("The calculated MD5 hash of the key did not match the hash "
                               "that was provided.", md5_name)
    return CustomerKey(raw, want)


def requested(headers: Headers) -> str | None:
    """What a write asks for: ``"AES256"`` (SSE-S3), ``"SSE-C"`` or None (nothing: the
    bucket's default applies). The SSE-C triple itself: :func:`customer_key`."""
    sse = get_header(headers, SSE)
    ssec = any(get_header(headers, h) is not None for h in SSEC)
    if sse is not None and sse.strip() not in SSE_VALUES:
        raise invalid_argument("The encryption method specified is not supported", SSE, sse)
    if sse is not None and ssec:
        raise invalid_argument("Server Side Encryption with Customer provided key is "
                               "incompatible with the encryption method specified", SSE, sse)
    kms = [h for h in (SSE_KMS_KEY, SSE_CONTEXT) if get_header(headers, h) is not None]
    if kms and (sse is None or not sse.strip().startswith("aws:kms")):
        raise invalid_argument("Server Side Encryption with AWS KMS managed key requires "
                               f"HTTP header {SSE} : aws:kms", kms[0])
    if sse is not None and sse.strip() != AES256:
        raise not_implemented(f"Server-side encryption with KMS keys ({sse.strip()})")
    if get_header(headers, SSE_BUCKET_KEY) is not None:
        raise not_implemented("Server-side encryption with an S3 Bucket Key")
    if ssec:
        customer_key(headers)
        return "SSE-C"
    return AES256 if sse is not None else None


def not_for_this_operation() -> S3Error:
    """``x-amz-server-side-encryption`` on a request that takes no such choice (a GET, a
    part: the upload chose)."""
    return invalid_argument(f"{SSE} header is not supported for this operation.", SSE)
