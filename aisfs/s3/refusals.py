"""Headers of features aisfs does not have, and request values it must not echo.

Sans-IO. ``check_unsupported(operation, headers)`` runs on every authenticated S3 request
before its operation: a request that asks for what aisfs does not have - SSE-KMS, S3
Bucket Keys - is refused, never served as if nothing had been asked. A
value AWS itself would refuse gets AWS's 400 (``x-amz-server-side-encryption: bogus`` is
InvalidArgument, an SSE-C algorithm other than AES256 is
InvalidEncryptionAlgorithmError); a well-formed request for the feature gets 501
NotImplemented. SSE-S3 and SSE-C headers are only checked here (``aisfs.crypto.headers``)
and served by ``aisfs_node.s3.sse``; ``refuse_sse`` answers them 501 where nothing would be
encrypted (a backend's bucket). Object lock headers are checked here (AWS's 400s,
``aisfs.s3.object_lock``) and served by ``aisfs_node.s3.object_lock_ops``; ``refuse_lock``
answers them 501 where nothing would be locked (a backend's bucket, a POST form).

``override_value(param, value)`` checks a ``response-*`` query override before it becomes
a response header: a control character (CR, LF, NUL...) is 400 InvalidArgument.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from aisfs.crypto import headers as sse_headers
from aisfs.errors import S3Error
from aisfs.s3 import object_lock
from aisfs.s3._headers import Headers, get_header

SSE = sse_headers.SSE
COPY_SSEC = sse_headers.COPY_SSEC
LOCK_MODE = "x-amz-object-lock-mode"
LOCK_UNTIL = "x-amz-object-lock-retain-until-date"
LOCK_HOLD = "x-amz-object-lock-legal-hold"
BUCKET_LOCK = "x-amz-bucket-object-lock-enabled"

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
# operations whose headers choose an object's encryption (the others follow their upload)
SSE_CHOSEN = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})


def refuse_sse(operation: str, headers: Headers) -> None:
    """501 for SSE headers on a request nothing here would encrypt (a backend's bucket:
    the backend is the truth and no key of ours goes there)."""
    if operation == "PutBucketEncryption":
        raise _not_implemented("Default encryption of a backend's bucket")
    if operation not in WRITES and operation not in READS:
        return
    names = (SSE, sse_headers.SSE_BUCKET_KEY, *sse_headers.SSEC, *COPY_SSEC)
    if any(get_header(headers, h) is not None for h in names):
        raise _not_implemented("Server-side encryption of a backend's bucket")


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


def check_unsupported(operation: str, headers: Headers) -> None:
    """Refuse a request asking for SSE or object lock (see the module docstring)."""
    if operation == "CreateBucket":
        object_lock.bucket_lock_asked(headers)  # true/false, else 400 InvalidArgument
        return
    if operation in READS:
        sse_headers.customer_key(headers)  # AWS's 400s for a malformed SSE-C triple
        if get_header(headers, SSE) is not None:
            raise sse_headers.not_for_this_operation()
        return
    if operation not in WRITES:
        return
    if operation in COPIES:
        sse_headers.customer_key(headers, COPY_SSEC)
    if operation in SSE_CHOSEN:
        sse_headers.requested(headers)  # 400s; SSE-KMS and bucket keys: 501
    else:  # a part or a completion: the upload chose its encryption
        sse_headers.customer_key(headers)
        if get_header(headers, SSE) is not None:
            raise sse_headers.not_for_this_operation()
    if operation in CREATES:
        object_lock.lock_from_headers(headers, time.time_ns())  # AWS's 400s


def refuse_lock(operation: str, headers: Headers) -> None:
    """501 for object lock headers on a request nothing here would lock (a backend's
    bucket: its versions are the backend's; a POST form)."""
    if operation not in CREATES:
        return
    if object_lock.lock_from_headers(headers, time.time_ns()) is not None:
        raise _not_implemented("Object lock of a backend's bucket or a POST form")


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
