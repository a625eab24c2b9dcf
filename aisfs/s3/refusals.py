"""Headers of features aisfs does not have, and request values it must not echo.

Sans-IO. ``check_unsupported(operation, headers)`` runs on every authenticated S3 request
before its operation: a request that asks for server-side encryption (SSE-S3, SSE-KMS,
SSE-C) or object lock is refused, never served as if nothing had been asked. A value AWS
itself would refuse gets AWS's 400 (``x-amz-server-side-encryption: bogus`` is
InvalidArgument, an SSE-C algorithm other than AES256 is
InvalidEncryptionAlgorithmError); a well-formed request for the feature gets 501
NotImplemented. SSE-C headers that name the key of an object to *read* (GetObject,
HeadObject, the copy-source variants) get AWS's answer for an object that is not
SSE-C encrypted - and none here is: 400 InvalidRequest.

``override_value(param, value)`` checks a ``response-*`` query override before it becomes
a response header: a control character (CR, LF, NUL...) is 400 InvalidArgument.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping

from aisfs.errors import S3Error
from aisfs.s3._headers import Headers, get_header

SSE = "x-amz-server-side-encryption"
SSE_KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id"
SSE_CONTEXT = "x-amz-server-side-encryption-context"
SSE_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
SSEC_ALG = "x-amz-server-side-encryption-customer-algorithm"
SSEC_KEY = "x-amz-server-side-encryption-customer-key"
SSEC_MD5 = "x-amz-server-side-encryption-customer-key-md5"
COPY_SSEC = (
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-md5",
)
LOCK_MODE = "x-amz-object-lock-mode"
LOCK_UNTIL = "x-amz-object-lock-retain-until-date"
LOCK_HOLD = "x-amz-object-lock-legal-hold"
BUCKET_LOCK = "x-amz-bucket-object-lock-enabled"

SSE_VALUES = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})

# operations that write an object (or a part of one) with the encryption and lock of
# the request's headers
WRITES = frozenset(
    {
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
    }
)
# operations that create an object (object lock applies to a new object)
CREATES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})
READS = frozenset({"GetObject", "HeadObject"})
COPIES = frozenset({"CopyObject", "UploadPartCopy"})


def _not_implemented(what: str) -> S3Error:
    return S3Error(
        "NotImplemented",
        f"{what} is not implemented by aisfs: nothing would be {_verb(what)}",
        status=501,
    )


def _verb(what: str) -> str:
    return "locked" if "lock" in what.lower() else "encrypted"


def _invalid(message: str, name: str, value: str | None = None) -> S3Error:
    extra = {"ArgumentName": name}
    if value is not None:
        extra["ArgumentValue"] = value
    return S3Error("InvalidArgument", message, extra=extra)


def _not_applicable() -> S3Error:
    return S3Error("InvalidRequest", "The encryption parameters are not applicable to this object.")


def check_unsupported(operation: str, headers: Headers) -> None:
    """Refuse a request asking for SSE or object lock (see the module docstring)."""
    if operation == "CreateBucket":
        lock = get_header(headers, BUCKET_LOCK)
        if lock is not None:
            if lock.strip().lower() == "true":
                raise _not_implemented("Object lock")
            if lock.strip().lower() != "false":
                raise _invalid("Invalid value for x-amz-bucket-object-lock-enabled", BUCKET_LOCK,
                               lock)
        return
    if operation in READS:
        if any(get_header(headers, h) is not None for h in (SSEC_ALG, SSEC_KEY, SSEC_MD5)):
            _check_ssec(headers, (SSEC_ALG, SSEC_KEY, SSEC_MD5))
            raise _not_applicable()
        if get_header(headers, SSE) is not None:
            raise _invalid(f"{SSE} header is not supported for this operation.", SSE)
        return
    if operation not in WRITES:
        return
    if operation in COPIES and any(get_header(headers, h) is not None for h in COPY_SSEC):
        _check_ssec(headers, COPY_SSEC)
        raise _not_applicable()
    sse = get_header(headers, SSE)
    ssec = any(get_header(headers, h) is not None for h in (SSEC_ALG, SSEC_KEY, SSEC_MD5))
    if sse is not None and sse.strip() not in SSE_VALUES:
        raise _invalid("The encryption method specified is not supported", SSE, sse)
    if sse is not None and ssec:
        raise _invalid("Server Side Encryption with Customer provided key is incompatible "
                       "with the encryption method specified", SSE, sse)
    kms = [h for h in (SSE_KMS_KEY, SSE_CONTEXT) if get_header(headers, h) is not None]
    if kms and (sse is None or not sse.strip().startswith("aws:kms")):
        raise _invalid("Server Side Encryption with AWS KMS managed key requires HTTP header "
                       f"{SSE} : aws:kms", kms[0])
    if ssec:
        _check_ssec(headers, (SSEC_ALG, SSEC_KEY, SSEC_MD5))
        raise _not_implemented("Server-side encryption with customer-provided keys (SSE-C)")
    if sse is not None:
        raise _not_implemented(f"Server-side encryption ({sse.strip()})")
    if get_header(headers, SSE_BUCKET_KEY) is not None:
        raise _not_implemented("Server-side encryption with an S3 Bucket Key")
    if operation in CREATES:
        _check_lock(headers)


def _check_ssec(headers: Headers, names: tuple[str, str, str]) -> None:
    """AWS's 400s for a malformed SSE-C triple (algorithm, key, key MD5)."""
    alg_name, key_name, md5_name = names
    alg = get_header(headers, alg_name)
    key = get_header(headers, key_name)
    md5 = get_header(headers, md5_name)
    if alg is None:
        raise _invalid("Requests specifying Server Side Encryption with Customer provided "
                       "keys must provide a valid encryption algorithm.", alg_name)
    if alg.strip() != "AES256":
        raise S3Error("InvalidEncryptionAlgorithmError",
                      "The Encryption request you specified is not valid. Supported value: "
                      "AES256.", extra={"ArgumentName": alg_name, "ArgumentValue": alg})
    if key is None:
        raise _invalid("Requests specifying Server Side Encryption with Customer provided "
                       "keys must provide an appropriate secret key.", key_name)
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise _invalid("The secret key was invalid for the specified algorithm.", key_name)
    if md5 is None:
        raise _invalid("Requests specifying Server Side Encryption with Customer provided "
                       "keys must provide the client calculated MD5 of the secret key.",
                       md5_name)
    if base64.b64encode(hashlib.md5(raw).digest()).decode() != md5.strip():
        raise _invalid("The calculated MD5 hash of the key did not match the hash that was "
                       "provided.", md5_name)


def _check_lock(headers: Headers) -> None:
    mode = get_header(headers, LOCK_MODE)
    until = get_header(headers, LOCK_UNTIL)
    hold = get_header(headers, LOCK_HOLD)
    if mode is not None and mode.strip() not in ("GOVERNANCE", "COMPLIANCE"):
        raise _invalid("Unknown wormMode directive.", LOCK_MODE, mode)
    if (mode is None) != (until is None):
        raise _invalid(f"{LOCK_UNTIL} and {LOCK_MODE} must both be supplied",
                       LOCK_MODE if mode is None else LOCK_UNTIL)
    if hold is not None and hold.strip() not in ("ON", "OFF"):
        raise _invalid("Legal Hold must be either of 'ON' or 'OFF'", LOCK_HOLD, hold)
    if mode is not None or hold is not None:
        raise _not_implemented("Object lock")


def override_value(param: str, value: str) -> str:
    """A ``response-*`` override as a header value, or 400 InvalidArgument.

    Control characters (CR, LF, NUL, any C0 but TAB, DEL) would split or end the header:
    refused, never copied. Characters past Latin-1 go out as their UTF-8 bytes (what AWS
    sends for a raw UTF-8 override).
    """
    for ch in value:
        o = ord(ch)
        if (o < 0x20 and ch != "\t") or o == 0x7F:
            raise S3Error(
                "InvalidArgument",
                f"Header value of {param} contains a character that is not allowed",
                extra={"ArgumentName": param},
            )
    if value.isascii():
        return value
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        pass
    try:
        return value.encode("utf-8", "surrogateescape").decode("latin-1")
    except UnicodeEncodeError:
        raise S3Error(
            "InvalidArgument", f"Header value of {param} is not valid UTF-8",
            extra={"ArgumentName": param},
        ) from None


# the ``response-*`` query parameters of a GET and the response header each one sets
RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}


def with_overrides(
    query: Mapping[str, str], headers: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``headers`` with each ``response-*`` override in ``query`` in place of the header
    it names (each value checked by :func:`override_value`)."""
    for param, header in RESPONSE_OVERRIDES.items():
        value = query.get(param)
        if value is not None:
            value = override_value(param, value)  # no CR/LF/NUL into a header
            headers = [h for h in headers if h[0] != header]
            headers.append((header, value))
    return headers
