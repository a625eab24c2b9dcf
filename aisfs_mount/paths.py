"""Where a path of the mount lives in the store: a bucket and a key, or a bucket and a prefix.

A path is relative to the mount root, without a leading slash ("" is the root). The root
is one bucket (or a prefix of one), or with --all the list of buckets, each a top-level
directory. A directory `a/b` is the prefix `a/b/`; an empty one is kept as the marker
object `a/b/`. Nothing here does I/O.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

import pyfuse3

from aisfs_mount.options import MountOptions

NAME_MAX = 255


@dataclass(frozen=True, slots=True)
class Layout:
    """How paths map onto the store for one mount's options."""

    all_buckets: bool
    bucket: str = ""  # empty with all_buckets
    prefix: str = ""  # "" or "some/prefix/"

    @classmethod
    def of(cls, opts: MountOptions) -> Layout:
        return cls(opts.all_buckets, opts.bucket, opts.prefix)

    def is_bucket(self, path: str) -> bool:
        """`path` is a bucket (a top-level directory of an --all mount)."""
        return self.all_buckets and path != "" and "/" not in path

    def key(self, path: str) -> tuple[str, str]:
        """Bucket and key of the file at `path` (EPERM for a file where only buckets live)."""
        if self.all_buckets:
            bucket, _, rest = path.partition("/")
            if not rest:
                raise pyfuse3.FUSEError(errno.EPERM)
            return bucket, rest
        return self.bucket, self.prefix + path

    def prefix_of(self, path: str) -> tuple[str, str]:
        """Bucket and key prefix of the directory at `path` ("" for a bucket root)."""
        if self.all_buckets:
            bucket, _, rest = path.partition("/")
            return bucket, rest + "/" if rest else ""
        return self.bucket, self.prefix + path + "/" if path else self.prefix

    def crosses_buckets(self, old: str, new: str) -> bool:
        """A rename from `old` to `new` would rename a bucket or move between two."""
        return self.all_buckets and (
            self.is_bucket(old) or self.is_bucket(new)
            or old.split("/")[0] != new.split("/")[0])


def name_of(raw: bytes) -> str:
    """A path component as the kernel sends it, checked: ENAMETOOLONG, EILSEQ."""
    if len(raw) > NAME_MAX:
        raise pyfuse3.FUSEError(errno.ENAMETOOLONG)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # S3 keys are UTF-8: a name that is not cannot be stored faithfully
        raise pyfuse3.FUSEError(errno.EILSEQ) from None


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def split(path: str) -> tuple[str, str]:
    """Parent path and last component."""
    parent, _, name = path.rpartition("/")
    return parent, name
