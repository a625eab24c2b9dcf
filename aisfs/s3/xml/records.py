"""The values S3's XML documents are built from and parsed into.

Builders take plain values or any record with the named attributes (the store's
``ListEntry``, ``PartInfo``, ``UploadInfo``, ``BucketInfo`` fit the protocols here);
parsers return the frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

CORS_METHODS = frozenset({"GET", "PUT", "HEAD", "POST", "DELETE"})


@dataclass(frozen=True, slots=True)
class Owner:
    id: str = "aisfs"
    display_name: str = "aisfs"


DEFAULT_OWNER = Owner()


class ObjectRecord(Protocol):
    """What a listing needs of an object (the store's ``ListEntry``)."""

    @property
    def key(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def etag(self) -> str: ...
    @property
    def mtime_ns(self) -> int: ...


class BucketRecord(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def created_ns(self) -> int: ...


class PartRecord(Protocol):
    @property
    def part_number(self) -> int: ...
    @property
    def etag(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...


class UploadRecord(Protocol):
    @property
    def upload_id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def initiated_ns(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ObjectIdentifier:
    """One ``<Object>`` of a DeleteObjects request, and its ``<Deleted>`` answer: on a
    versioned bucket whether the delete made (or removed) a delete marker, and its id."""

    key: str
    version_id: str | None = None
    delete_marker: bool = False
    delete_marker_version_id: str = ""


@dataclass(frozen=True, slots=True)
class CORSRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ListParams:
    """The echoed request parameters of a listing (values as the client sent them)."""

    prefix: str = ""
    delimiter: str | None = None
    max_keys: int = 1000
    encoding_type: str | None = None  # "url" or None
    marker: str = ""  # v1
    start_after: str | None = None  # v2
    continuation_token: str | None = None  # v2
    fetch_owner: bool = False  # v2
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObjectPart:
    """One part of a multipart object, as GetObjectAttributes' ObjectParts lists it."""

    part_number: int
    size: int
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartsPage:
    """The ObjectParts of GetObjectAttributes: one page of the parts of a multipart object."""

    total: int
    parts: Sequence[ObjectPart] = ()
    marker: int = 0
    max_parts: int = 1000
    is_truncated: bool = False


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One ``<Part>`` of a CompleteMultipartUpload body."""

    number: int
    etag: str  # unquoted
    checksums: Mapping[str, str] = field(default_factory=dict)  # {algorithm: base64}
