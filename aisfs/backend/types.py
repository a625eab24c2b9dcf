"""Records a backend hands out. Plain dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RemoteAttrs:
    """What the backend says about one object (HEAD, or a GET's response headers)."""

    size: int  # the whole object's, also for a ranged GET
    etag: str  # unquoted, as the backend gives it ("<md5>-N" for multipart)
    version: str = ""  # the backend's version id; "" when unversioned
    last_modified_ns: int = 0
    content_type: str | None = None
    user: dict[str, str] = field(default_factory=dict)  # x-amz-meta-* (lower-case names)
    headers: dict[str, str] = field(default_factory=dict)  # cache-control etc. (store.types)

    def same_version(self, etag: str, version: str) -> bool:
        """Is this the object a cached copy with ``etag``/``version`` was made from?"""
        if self.version and version:
            return self.version == version and self.etag == etag
        return self.etag == etag


@dataclass(frozen=True, slots=True)
class RemoteEntry:
    key: str
    size: int
    etag: str
    last_modified_ns: int
    version: str = ""


@dataclass(frozen=True, slots=True)
class RemotePage:
    entries: list[RemoteEntry]
    common_prefixes: list[str]
    next_token: str  # "" when this is the last page


@dataclass(frozen=True, slots=True)
class RemoteBucketInfo:
    name: str
    created_ns: int
