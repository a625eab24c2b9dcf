"""Backend buckets: remote S3 data cached on the mountpaths, written through.

- provider.py  ``Provider``, ``BucketRef``, ``parse_bucket_uri``, ``resolve`` (pure)
- settings.py  ``S3Settings``: ``[backend.s3]`` + a bucket's ``extra.aws.*`` (redacted)
- s3.py        ``S3Backend``: botocore in worker threads, bounded, retried, streamed
- errors.py    backend failures -> S3Error;  retry.py: backoff for idempotent calls
- registry.py  ``Backends``: one client per distinct settings
- flights.py   one fetch per key;  cachemeta.py: the backend's attributes on a cached copy
- remote.py    ``RemoteObjects``: cold/warm/validated GET, write-through PUT, DELETE
"""

from .cachemeta import client_etag, remote_attrs, remote_of
from .provider import (
    BucketRef,
    Provider,
    Resolved,
    bucket_of_local,
    local_bucket_name,
    normalize_provider,
    parse_bucket_uri,
    resolve,
)
from .registry import Backends
from .remote import RemoteHead, RemoteObjects, RemoteRead, open_remote_objects
from .s3 import RemoteStream, S3Backend
from .settings import S3Settings, settings_for
from .types import RemoteAttrs, RemoteBucketInfo, RemoteEntry, RemotePage

__all__ = [
    "Backends",
    "BucketRef",
    "Provider",
    "RemoteAttrs",
    "RemoteBucketInfo",
    "RemoteEntry",
    "RemoteHead",
    "RemoteObjects",
    "RemotePage",
    "RemoteRead",
    "RemoteStream",
    "Resolved",
    "S3Backend",
    "S3Settings",
    "bucket_of_local",
    "client_etag",
    "local_bucket_name",
    "normalize_provider",
    "open_remote_objects",
    "parse_bucket_uri",
    "remote_attrs",
    "remote_of",
    "resolve",
    "settings_for",
]
