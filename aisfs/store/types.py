"""Records the store hands out. Plain dataclasses: no I/O, no behaviour beyond helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Response headers a client may set on PUT that the store keeps and GET returns.
STORED_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
)


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """One piece of an object's data: its content address and length in bytes."""

    id: str  # xxh3-128 hex of the content, "-N" appended for a colliding variant
    size: int


@dataclass(slots=True)
class ObjectMeta:
    """What a client said about an object (everything but its bytes)."""

    content_type: str | None = None
    user: dict[str, str] = field(default_factory=dict)  # x-amz-meta-NAME -> value (NAME lower-case)
    headers: dict[str, str] = field(default_factory=dict)  # STORED_HEADERS, lower-case names
    checksums: dict[str, str] = field(default_factory=dict)  # "crc32c" -> base64 value
    tags: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the mount's mode/uid/gid/mtime

    def to_json(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "user": self.user,
            "headers": self.headers,
            "checksums": self.checksums,
            "tags": self.tags,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectMeta:
        return cls(
            content_type=data.get("content_type"),
            user=dict(data.get("user") or {}),
            headers=dict(data.get("headers") or {}),
            checksums=dict(data.get("checksums") or {}),
            tags=dict(data.get("tags") or {}),
            extra=dict(data.get("extra") or {}),
        )


@dataclass(slots=True)
class ObjectInfo:
    """A published object: its manifest as the index knows it."""

    bucket: str
    key: str
    size: int
    etag: str  # unquoted: MD5 hex, or "<md5-of-md5s>-N" for multipart
    mtime_ns: int
    generation: int
    meta: ObjectMeta
    chunks: list[ChunkRef]
    part_sizes: list[int] | None = None  # multipart objects: size of each part, in order
    checksum_type: str = "xxhash"  # the bucket checksum (AIS checksum.type) at write time
    checksum_value: str = ""
    # an inline object (size <= StoreConfig.inline_max, written by put_object): its bytes,
    # kept in the manifest itself (no chunks); None for a chunked object
    inline: bytes | None = field(default=None, repr=False)
    inline_xxh3: str = ""  # xxh3-128 hex of ``inline`` (scrub and reads verify it)
    # head_object(with_data=True) of a small object: its verified bytes, read in the same
    # worker call, which read_object then serves without touching the disks again
    data: bytes | None = field(default=None, repr=False, compare=False)
    # versioning (versions.py): the version id (None: the null version), a delete marker
    # (no data, in a versioned bucket only), the object-lock state (JSON object, None: none)
    version_id: str | None = None
    delete_marker: bool = False
    lock: dict[str, Any] | None = None

    @property
    def is_inline(self) -> bool:
        """An inline object, whether or not its bytes were read (``inline``)."""
        return self.inline is not None or bool(self.inline_xxh3)


@dataclass(slots=True)
class BucketInfo:
    name: str
    created_ns: int
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ListEntry:
    key: str
    size: int
    etag: str
    mtime_ns: int
    extra: dict[str, Any] | None = None  # ObjectMeta.extra, when asked for (the mount)
    user: dict[str, str] | None = None  # ObjectMeta.user (x-amz-meta-*), with extra
    generation: int = 0
    checksum_type: str = ""  # ObjectInfo.checksum_type ("" if the index does not know it)
    checksum_value: str = ""


@dataclass(slots=True)
class ListPage:
    entries: list[ListEntry]
    common_prefixes: list[str]
    is_truncated: bool
    next_marker: str | None  # the last key or common prefix returned, when truncated


@dataclass(frozen=True, slots=True)
class VersionEntry:
    """One version (or delete marker) of a key, as ListObjectVersions shows it."""

    key: str
    version_id: str  # "null" for the null version
    is_latest: bool
    is_marker: bool
    size: int
    etag: str
    mtime_ns: int


@dataclass(slots=True)
class VersionPage:
    entries: list[VersionEntry]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None  # the last key (or common prefix) returned, when truncated
    next_version_id_marker: str | None  # the last version returned, when truncated


@dataclass(frozen=True, slots=True)
class DeleteOutcome:
    """What a delete in a versioned bucket did: the version it made (a delete marker) or
    removed (``version_id``), and whether that version is a delete marker."""

    version_id: str | None
    delete_marker: bool


@dataclass(frozen=True, slots=True)
class PartInfo:
    part_number: int
    etag: str  # unquoted MD5 hex of the part
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class UploadInfo:
    upload_id: str
    bucket: str
    key: str
    initiated_ns: int
    meta: ObjectMeta


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a writer received, handed to ``before_commit`` once it is durable."""

    size: int
    md5: bytes
    chunks: list[ChunkRef]


@dataclass(slots=True)
class FsckReport:
    buckets: int = 0
    objects: int = 0
    uploads: int = 0
    parts: int = 0
    chunks_referenced: int = 0
    missing_chunks: list[str] = field(default_factory=list)
    index_only_objects: list[tuple[str, str]] = field(default_factory=list)  # not on disk
    disk_only_objects: list[tuple[str, str]] = field(default_factory=list)  # not in index
    stale_objects: list[tuple[str, str]] = field(default_factory=list)  # other generation
    bucket_mismatches: list[str] = field(default_factory=list)
    upload_mismatches: list[str] = field(default_factory=list)
    versions: int = 0  # non-current versions and delete markers on disk
    # (bucket, key, version id) on disk and not in the index, or the reverse
    version_mismatches: list[tuple[str, str, str]] = field(default_factory=list)
    rebuilt: bool = False

    @property
    def clean(self) -> bool:
        return not (
            self.missing_chunks
            or self.index_only_objects
            or self.disk_only_objects
            or self.stale_objects
            or self.bucket_mismatches
            or self.upload_mismatches
            or self.version_mismatches
        )
