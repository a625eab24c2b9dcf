"""Backend failures -> aisfs's S3 errors, and which of them a retry may cure.

The client of the node sees what it would expect of S3: the backend's 404 is NoSuchKey or
NoSuchBucket, its 403 AccessDenied, its 412 PreconditionFailed; a backend that is down,
slow past the configured timeout or failing with 5xx is 503 ServiceUnavailable with a
message naming the backend (never its credentials).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from ..errors import STATUS_BY_CODE, S3Error

_DENIED = {
    "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
    "InvalidToken", "ExpiredToken", "RequestTimeTooSkewed", "AuthorizationHeaderMalformed",
}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
              "ServiceUnavailable", "InternalError", "RequestTimeout"}


def client_error_parts(e: ClientError) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a botocore ClientError."""
    resp: dict[str, Any] = dict(e.response or {})
    err = resp.get("Error") or {}
    status = int((resp.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    code = str(err.get("Code") or "")
    if code.isdigit():  # a HEAD has no body: botocore uses the status as the code
        status = status or int(code)
        code = {304: "NotModified", 403: "AccessDenied", 404: "NoSuchKey",
                412: "PreconditionFailed", 416: "InvalidRange"}.get(int(code), "")
    return code, status, str(err.get("Message") or "")


def retryable(exc: BaseException) -> bool:
    """A 5xx, a throttle, or a network failure/timeout (any BotoCoreError but missing
    credentials): the same idempotent call may succeed if made again."""
    if isinstance(exc, ClientError):
        code, status, _ = client_error_parts(exc)
        return status >= 500 or code in _THROTTLED
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return False
    return isinstance(exc, BotoCoreError | OSError)


def backend_error(exc: BaseException, label: str, resource: str = "") -> S3Error:
    """The S3Error a client of the node gets for ``exc`` from the backend ``label``."""
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, ClientError):
        code, status, msg = client_error_parts(exc)
        where = f"{label}: {msg or code or status}"
        if code in _DENIED or (status == 403 and not code):
            return S3Error("AccessDenied", f"Access denied by the {where}", resource)
        if code == "NoSuchBucket":
            return S3Error("NoSuchBucket", f"The bucket does not exist in the {where}", resource)
        if code in ("NoSuchKey", "NotFound") or status == 404:
            return S3Error("NoSuchKey", "The specified key does not exist.", resource)
        if status >= 500 or code in _THROTTLED:
            return S3Error("ServiceUnavailable", f"The {where}", resource, status=503)
        if code in STATUS_BY_CODE:
            return S3Error(code, msg or code, resource)
        return S3Error(code or "InvalidRequest", f"The {where}", resource,
                       status=status if 400 <= status < 500 else 400)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return S3Error("AccessDenied", f"No credentials for the {label}: {exc}", resource)
    if isinstance(exc, BotoCoreError | OSError):
        return S3Error(
            "ServiceUnavailable", f"The {label} is unreachable or too slow: {exc}", resource,
            status=503,
        )
    return S3Error("InternalError", f"The {label} failed: {exc!r}", resource, status=500)
