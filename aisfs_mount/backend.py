"""What the mount needs from a store, as one small interface.

`S3Backend` (mount/s3backend.py) implements it with plain S3 calls against any endpoint.
A backend for our own node can override the few methods where the node does better:
`list_dir` returning full attributes (``ObjectInfo.meta`` filled, ``rich_listing`` True),
`rename_object` / `rename_prefix` done on the server, and `capacity`.

Every method raises `aisfs.errors.S3Error` for an S3 error answer and `Unreachable` when
the endpoint cannot be reached in time; `aisfs_mount/errnos.py` turns both into errnos.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import trio

# what a ranged GET gives: bytes, or the caller's buffer (or a view of it), not copied
Buffer = bytes | bytearray | memoryview


class Unreachable(Exception):
    """The endpoint did not answer (refused, reset, timed out) within the deadline."""


@dataclass(slots=True)
class ObjectInfo:
    """One object as a listing or a HEAD reports it."""

    key: str
    size: int
    mtime_ns: int  # Last-Modified
    etag: str = ""
    # user metadata without the x-amz-meta- prefix; None when the source (a plain S3
    # listing) does not carry it and a HEAD is needed to know it
    meta: dict[str, str] | None = None
    content_type: str = ""


@dataclass(slots=True)
class DirPage:
    """One page of a delimited listing."""

    objects: list[ObjectInfo] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Capacity:
    total_bytes: int
    free_bytes: int


ProgressFn = Callable[[int], None]


class Backend(Protocol):
    rich_listing: bool
    # aisfs_mount/writebehind.py may send a big file's parts while it is written (its final
    # metadata set by a CopyObject onto itself: metadata only on aisfs)
    write_behind: bool

    async def aclose(self) -> None: ...

    # buckets
    async def list_buckets(self) -> list[tuple[str, int]]: ...
    async def create_bucket(self, bucket: str) -> None: ...
    async def delete_bucket(self, bucket: str) -> None: ...
    async def check_bucket(self, bucket: str) -> None: ...

    # listing
    def list_dir(
        self, bucket: str, prefix: str, max_keys: int = 1000
    ) -> AsyncGenerator[DirPage, None]:
        """Pages of a listing with delimiter '/' under `prefix`."""
        ...

    def list_all(
        self, bucket: str, prefix: str, max_keys: int = 1000, start_after: str = ""
    ) -> AsyncIterator[list[ObjectInfo]]:
        """Pages of every key under `prefix` (no delimiter; after `start_after` if given);
        with `rich_listing`, each ObjectInfo carries its user metadata (``meta``) as
        `list_dir`'s do."""
        ...

    async def first_key(self, bucket: str, prefix: str, max_keys: int = 2) -> list[str]: ...

    # objects
    async def head(self, bucket: str, key: str) -> ObjectInfo | None: ...
    async def get_range(
        self, bucket: str, key: str, start: int, length: int, into: bytearray | None = None
    ) -> Buffer:
        """`length` bytes from `start`; with `into`, possibly received into that buffer."""
        ...

    async def get_to_fd(self, bucket: str, key: str, fd: int, length: int | None) -> int: ...
    async def put_bytes(
        self, bucket: str, key: str, data: bytes, meta: dict[str, str], content_type: str = ""
    ) -> ObjectInfo: ...
    async def put_fd(
        self, bucket: str, key: str, fd: int, size: int, meta: dict[str, str],
        content_type: str = "",
    ) -> ObjectInfo: ...
    async def copy(
        self, bucket: str, src: str, dst: str, meta: dict[str, str] | None = None,
        content_type: str = "",
    ) -> None: ...
    async def delete(self, bucket: str, key: str) -> None: ...
    async def delete_many(self, bucket: str, keys: list[str]) -> dict[str, str]:
        """DeleteObjects of up to 1,000 `keys`: those not deleted, each with why."""
        ...

    # multipart steps (a big file's upload; write-behind)
    async def initiate_upload(
        self, bucket: str, key: str, meta: dict[str, str], ct: str
    ) -> str: ...
    async def upload_part(
        self, bucket: str, key: str, upload_id: str, n: int, fd: int, start: int, length: int
    ) -> str: ...
    async def complete_upload(
        self, bucket: str, key: str, upload_id: str, etags: dict[int, str]
    ) -> str: ...
    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None: ...

    # what a node can do better
    async def rename_object(self, bucket: str, src: str, dst: str) -> None: ...
    async def rename_prefix(self, bucket: str, src: str, dst: str) -> int: ...
    async def capacity(self) -> Capacity | None: ...


async def copy_then_delete_prefix(
    backend: Backend, bucket: str, src: str, dst: str, concurrency: int = 16
) -> int:
    """Rename every key under `src` to the same tail under `dst` with CopyObject+DeleteObject.

    Not atomic: keys are moved one by one (copies first, deletes after the copies of a page
    succeed), so a failure midway leaves some keys at each name and nothing lost.
    """
    moved = 0
    limiter = trio.Semaphore(concurrency)
    async for page in backend.list_all(bucket, src):
        keys = [o.key for o in page]

        async def one(op: Callable[[str], Awaitable[None]], key: str) -> None:
            async with limiter:
                await op(key)

        async def do_copy(key: str) -> None:
            await backend.copy(bucket, key, dst + key[len(src):])

        async def do_delete(key: str) -> None:
            await backend.delete(bucket, key)

        async with trio.open_nursery() as nursery:
            for key in keys:
                nursery.start_soon(one, do_copy, key)
        async with trio.open_nursery() as nursery:
            for key in keys:
                nursery.start_soon(one, do_delete, key)
        moved += len(keys)
    return moved
