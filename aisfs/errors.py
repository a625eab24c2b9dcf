"""The one error type of aisfs: an S3 error code with its HTTP status.

Code that expects a failure raises ``S3Error("NoSuchKey", ...)``; the status comes from
the table below (as AWS documents it), so callers never pick a status by hand.
Anything that is not an ``S3Error`` is a bug or a failing disk and becomes a 500.
"""

from __future__ import annotations

from collections.abc import Callable

STATUS_BY_CODE: dict[str, int] = {
    "AccessDenied": 403,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "InvalidPartNumber": 416,
    "BadRequest": 400,
    "BadDigest": 400,
    "BucketAlreadyExists": 409,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "EntityTooLarge": 400,
    "EntityTooSmall": 400,
    "ExpiredToken": 400,
    "IncompleteBody": 400,
    "InternalError": 500,
    "InvalidAccessKeyId": 403,
    "InvalidArgument": 400,
    "InvalidBucketName": 400,
    "InvalidDigest": 400,
    "InvalidObjectState": 403,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "InvalidRange": 416,
    "InvalidRequest": 400,
    "InvalidStorageClass": 400,
    "InvalidTag": 400,
    "InvalidURI": 400,
    "KeyTooLongError": 400,
    "MalformedXML": 400,
    "MaxMessageLengthExceeded": 400,
    "MetadataTooLarge": 400,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "MissingRequestBodyError": 400,
    "MissingSecurityHeader": 400,
    "NoSuchBucket": 404,
    "NoSuchBucketPolicy": 404,
    "NoSuchCORSConfiguration": 404,
    "NoSuchKey": 404,
    "NoSuchLifecycleConfiguration": 404,
    "NoSuchTagSet": 404,
    "NoSuchUpload": 404,
    "NoSuchVersion": 404,
    "NotImplemented": 501,
    "NotModified": 304,
    "PreconditionFailed": 412,
    "RequestTimeTooSkewed": 403,
    "ServiceUnavailable": 503,
    "SignatureDoesNotMatch": 403,
    "SlowDown": 503,
    "InsufficientStorage": 507,
    "XAmzContentSHA256Mismatch": 400,
    "ConditionalRequestConflict": 409,
    "InvalidBucketState": 409,
    "OperationAborted": 409,
}


class S3Error(Exception):
    """An expected failure, named by its S3 error code."""

    def __init__(
        self,
        code: str,
        message: str = "",
        resource: str = "",
        *,
        status: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message or code
        self.resource = resource
        self.status = status if status is not None else STATUS_BY_CODE.get(code, 400)
        # extra elements for the XML document (e.g. BucketName, Key, ArgumentName)
        self.extra = dict(extra or {})

    def __repr__(self) -> str:
        return f"S3Error({self.code!r}, {self.message!r}, status={self.status})"


def no_good_copy() -> S3Error:
    """A read whose data failed its integrity check on every copy (found before headers)."""
    return S3Error(
        "InternalError",
        "The object's data failed its integrity check and no good copy is left.",
        status=500,
    )


# ---- exception groups -------------------------------------------------------------------
# trio's nurseries wrap what their tasks raise in (Base)ExceptionGroups, nested one level
# per nursery; these three are the one reading of them (the node's responses, the store's
# writer, the mount's errnos).


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions in ``exc`` that are not groups, depth first (``[exc]`` for a plain
    exception)."""
    if not isinstance(exc, BaseExceptionGroup):
        return [exc]
    found: list[BaseException] = []
    for sub in exc.exceptions:
        found.extend(leaves(sub))
    return found


def unwrap(
    exc: BaseException, *, alike: Callable[[BaseException], bool] | None = None
) -> BaseException:
    """The one exception ``exc`` stands for: itself when it is not a group; a group's only
    leaf, however deep; of several leaves (several tasks failed together), the first
    ``S3Error`` - the answer a client gets - or the first leaf when ``alike`` holds for
    every one (the store: all found the disk full); else the group itself."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    found = leaves(exc)
    if len(found) == 1:
        return found[0]
    for leaf in found:
        if isinstance(leaf, S3Error):
            return leaf
    if alike is not None and all(alike(leaf) for leaf in found):
        return found[0]
    return exc


def first_error(
    exc: BaseException, *, ignore: type[BaseException] | tuple[type[BaseException], ...] = ()
) -> BaseException:
    """The error that matters in ``exc`` (a nursery's group): what :func:`unwrap` picks;
    else - several tasks failed together - the first leaf not of ``ignore``
    (``trio.Cancelled``: the siblings the failure cancelled), else the first leaf."""
    picked = unwrap(exc)
    if not isinstance(picked, BaseExceptionGroup):
        return picked
    found = leaves(exc)
    return next((x for x in found if not isinstance(x, ignore)), found[0])


def only(exc: BaseException, kinds: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
    """True when ``exc`` and every leaf of it are ``kinds`` (``only(exc, trio.Cancelled)``:
    a cancellation, to be raised on, not an error to report)."""
    return all(isinstance(leaf, kinds) for leaf in leaves(exc))
