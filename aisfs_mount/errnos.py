"""One table: what a remote failure means as an errno.

Operations in aisfs_mount/fs.py let `S3Error` and `Unreachable` reach `fuse_errors`, which turns
them into `pyfuse3.FUSEError`; local decisions (EISDIR, ENOTEMPTY) are raised where made.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pyfuse3
from trio import Cancelled

from aisfs.errors import S3Error, leaves
from aisfs_mount.backend import Unreachable

log = logging.getLogger(__name__)

ERRNO_BY_CODE: dict[str, int] = {
    "NoSuchKey": errno.ENOENT,
    "NoSuchBucket": errno.ENOENT,
    "NoSuchUpload": errno.EIO,
    "AccessDenied": errno.EACCES,
    "InvalidAccessKeyId": errno.EACCES,
    "SignatureDoesNotMatch": errno.EACCES,
    "ExpiredToken": errno.EACCES,
    "RequestTimeTooSkewed": errno.EACCES,
    "BucketNotEmpty": errno.ENOTEMPTY,
    "BucketAlreadyExists": errno.EEXIST,
    "BucketAlreadyOwnedByYou": errno.EEXIST,
    "InvalidBucketName": errno.EINVAL,
    "KeyTooLongError": errno.ENAMETOOLONG,
    "MetadataTooLarge": errno.E2BIG,
    "EntityTooLarge": errno.EFBIG,
    "InsufficientStorage": errno.ENOSPC,
    "NotImplemented": errno.ENOTSUP,
    "MethodNotAllowed": errno.ENOTSUP,
    "InvalidRange": errno.EINVAL,
    "PreconditionFailed": errno.EAGAIN,
    "SlowDown": errno.EAGAIN,
}


def errno_of(exc: BaseException) -> int:
    if isinstance(exc, S3Error):
        return ERRNO_BY_CODE.get(exc.code, errno.EIO)
    if isinstance(exc, Unreachable):
        return errno.EIO
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    return errno.EIO


@contextmanager
def fuse_errors(what: str) -> Iterator[None]:
    """Turn a remote or local failure inside an operation into FUSEError."""
    try:
        yield
    except pyfuse3.FUSEError:
        raise
    except (S3Error, Unreachable, OSError) as e:
        code = errno_of(e)
        level = logging.DEBUG if code in (errno.ENOENT, errno.EEXIST) else logging.WARNING
        log.log(level, "%s: %s -> %s", what, e, errno.errorcode.get(code, code))
        raise pyfuse3.FUSEError(code) from None
    except BaseExceptionGroup as eg:  # several requests of one operation failed together
        first = leaves(eg)[0]  # the errno of the first failure (aisfs/errors.py)
        if isinstance(first, Cancelled):
            raise
        code = errno_of(first)
        log.warning("%s: %s -> %s", what, first, errno.errorcode.get(code, code))
        raise pyfuse3.FUSEError(code) from None
    except Exception:
        # a bug must cost one operation an EIO, not the whole mount
        log.exception("%s: unexpected failure -> EIO", what)
        raise pyfuse3.FUSEError(errno.EIO) from None

