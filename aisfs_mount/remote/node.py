"""The backend for our own node: plain S3 plus what the node offers beyond it.

- Listings through the native API (`GET /v1/buckets/B`, action "list", no recursion) carry
  size, ETag, Last-Modified and the user metadata (mode, owner, times, symlink target), so
  `ls -l` and `find` cost one listing per directory and no HEAD per file.
- Rename of an object is the node's `rename-obj`, of a directory its `rename-prefix`
  (every key under the prefix in one call and one index transaction): metadata only, no
  data copied (no CopyObject, no DeleteObject).
- `statfs` reports the capacity of the node's mountpaths.
- On the node's own host, sequential reads go straight to the chunk files
  (`locate`, aisfs_mount/localread.py).

Everything else (reads, writes, HEAD, metadata updates) stays plain S3: `NodeBackend`
is an `S3Backend` that overrides those few methods.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import quote, unquote

import msgspec
import trio

from aisfs.errors import S3Error
from aisfs.native import ENTRY_IS_DIR, LS_NO_RECURSION, decode_custom_md
from aisfs_mount.backend import Capacity, DirPage, ObjectInfo, Unreachable
from aisfs_mount.localread import LocalObject, LocalReads
from aisfs_mount.remote.headers import http_date_to_ns
from aisfs_mount.remote.s3 import S3Backend
from aisfs_mount.remote.transport import Timeouts

log = logging.getLogger(__name__)

LIST_PROPS = "name,size,etag,last-modified,custom"
MSGPACK = "application/msgpack"


def native_base(endpoint: str) -> str | None:
    """The node's root URL for an S3 endpoint served at `<root>/s3`."""
    e = endpoint.rstrip("/")
    return e[: -len("/s3")] if e.endswith("/s3") else None


def _object_info(name: str, size: int, custom_md: str) -> ObjectInfo:
    custom = _custom_md(custom_md)
    etag = custom.pop("ETag", "").strip('"')
    mtime = _date_ns(custom.pop("LastModified", ""))
    for k in custom:
        if not k.islower():
            custom = {k.lower(): v for k, v in custom.items()}
            break
    return ObjectInfo(name, size, mtime, etag, custom)


class _Entry(msgspec.Struct):
    """One entry of a MessagePack listing page (the node's short names; the rest of an
    entry is not asked for and, if there, skipped)."""

    n: str = ""  # name
    f: int = 0  # flags (ENTRY_IS_DIR)
    s: int = 0  # size
    m: str = ""  # custom-md


class _Page(msgspec.Struct):
    Entries: list[_Entry] | None = None
    ContinuationToken: str = ""


_decode_page = msgspec.msgpack.Decoder(_Page).decode


def _add_entry(page: DirPage, flags: int, name: str, size: int, custom_md: str) -> None:
    """A listing entry (either encoding's) onto ``page``: a directory's prefix, or an
    object."""
    if flags & ENTRY_IS_DIR:
        page.prefixes.append(name if name.endswith("/") else name + "/")
    else:
        page.objects.append(_object_info(name, size, custom_md))


def _custom_md(text: str) -> dict[str, str]:
    """`decode_custom_md`, with a fast path for the listing's usual entries (no value with
    a comma, no escape but in LastModified): a tree of thousands is decoded at once, and
    their pieces repeat (mode, owner, the second they were written), so each piece is
    parsed once (`_PIECES`)."""
    out: dict[str, str] = {}
    for piece in text.split(","):
        kv = _PIECES.get(piece)
        if kv is None:
            key, sep, value = piece.partition("=")
            if not sep or "%" in key:
                return decode_custom_md(text)
            if "%" in value:
                value = _unquote(value)
            kv = (key.strip(), value.strip())
            if len(_PIECES) > 8192:
                _PIECES.clear()
            _PIECES[piece] = kv
        out[kv[0]] = kv[1]
    out.pop("", None)
    return out


_PIECES: dict[str, tuple[str, str]] = {}


# the escaped values of a listing are its LastModified dates, which few seconds share
_unquote = functools.lru_cache(maxsize=4096)(unquote)

_DATES: dict[str, int] = {}


def _date_ns(text: str) -> int:
    """An HTTP date in ns; the listing's entries share few seconds, so they are kept."""
    ns = _DATES.get(text)
    if ns is None:
        if len(_DATES) > 4096:
            _DATES.clear()
        ns = _DATES[text] = http_date_to_ns(text)
    return ns


class NodeBackend(S3Backend):
    rich_listing = True
    write_behind = True

    def __init__(self, endpoint: str, base: str, local_read: str = "auto", *,
                 region: str | None = None, timeouts: Timeouts | None = None,
                 max_connections: int = 32) -> None:
        super().__init__(endpoint, region=region, timeouts=timeouts,
                         max_connections=max_connections)
        self.base = base.rstrip("/")
        self.local = LocalReads(endpoint, self.base, local_read)

    async def locate(self, bucket: str, key: str, size: int) -> LocalObject | None:
        """The object's chunk files when they can be read here, else None."""
        return await self.local.locate(self._native, bucket, key, size)

    async def _native(self, method: str, path: str, body: object | None = None,
                      resource: str = "", deadline: float | None = None) -> Any:
        """A native-API request (signed like the S3 ones): its JSON answer, or None."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        content = json.dumps(body).encode() if body is not None else None
        resp = await self.http.send(method, self.base + path, headers, content,
                                    resource=resource or path, deadline=deadline)
        if not resp.content:
            return None
        try:
            return json.loads(resp.content)
        except ValueError:
            return None

    async def _native_pages(
        self, bucket: str, prefix: str, flags: int, max_keys: int, start_after: str = ""
    ) -> AsyncIterator[DirPage]:
        token = ""
        path = "/v1/buckets/" + quote(bucket, safe="")
        while True:
            value: dict[str, object] = {"prefix": prefix, "flags": str(flags),
                                        "props": LIST_PROPS, "pagesize": max_keys}
            if token:
                value["continuation_token"] = token
            elif start_after:
                value["start_after"] = start_after
            page, token = await self._list_page(path, value, bucket, prefix)
            yield page
            if not token:
                return

    async def _list_page(self, path: str, value: dict[str, object], bucket: str,
                         prefix: str) -> tuple[DirPage, str]:
        """One listing page and the token of the next ("" at the end). Asked for as
        MessagePack, which the node encodes and this decodes (into `_Entry`) at a small
        part of JSON's cost per entry - a stat of each file of a big directory reads a
        listed entry per file (aisfs_mount/dirs.py, windows); JSON from a node that does
        not answer it."""
        body = json.dumps({"action": "list", "value": value}).encode()
        resp = await self.http.send("GET", self.base + path,
                                    {"Content-Type": "application/json", "Accept": MSGPACK},
                                    body, resource=f"{bucket}/{prefix}")
        page = DirPage()
        if resp.headers.get("content-type", "").startswith(MSGPACK):
            try:
                got = _decode_page(resp.content)
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                raise S3Error("InternalError", f"node listing: {e}", bucket) from None
            for ent in got.Entries or ():
                _add_entry(page, ent.f, ent.n, ent.s, ent.m)
            return page, got.ContinuationToken
        try:
            res = json.loads(resp.content) if resp.content else None
        except ValueError:
            res = None
        if not isinstance(res, dict):
            raise S3Error("InternalError", "node listing: not a JSON object", bucket)
        for ent in res.get("entries") or []:
            _add_entry(page, int(ent.get("flags", 0)), str(ent.get("name", "")),
                       int(ent.get("size", 0)), str(ent.get("custom-md") or ""))
        return page, str(res.get("continuation_token") or "")

    async def list_dir(
        self, bucket: str, prefix: str, max_keys: int = 1000
    ) -> AsyncGenerator[DirPage, None]:
        async for page in self._native_pages(bucket, prefix, LS_NO_RECURSION, max_keys):
            yield page

    async def list_all(
        self, bucket: str, prefix: str, max_keys: int = 1000, start_after: str = ""
    ) -> AsyncIterator[list[ObjectInfo]]:
        """Every key under `prefix` with its metadata (a whole subtree in a few pages)."""
        async for page in self._native_pages(bucket, prefix, 0, max_keys, start_after):
            yield page.objects

    async def rename_object(self, bucket: str, src: str, dst: str) -> None:
        path = "/v1/objects/" + quote(bucket, safe="") + "/" + quote(src, safe="/~")
        await self._native("POST", path, {"action": "rename-obj", "name": dst},
                           f"{bucket}/{src}")

    async def rename_prefix(self, bucket: str, src: str, dst: str) -> int:
        """Every key under `src` (the `src` marker too) to `dst`: one call, one index
        transaction on the node, metadata only."""
        path = "/v1/buckets/" + quote(bucket, safe="")
        try:
            res = await self._native(
                "POST", path, {"action": "rename-prefix", "name": src, "value": {"dst": dst}},
                f"{bucket}/{src}", deadline=self.timeouts.request * 3)
        except S3Error as e:
            if e.status != 501:
                raise
            return await self._rename_keys(bucket, src, dst)  # an older node
        return int(res.get("renamed", 0)) if isinstance(res, dict) else 0

    async def _rename_keys(self, bucket: str, src: str, dst: str) -> int:
        keys: list[str] = []
        async for page in self.list_all(bucket, src):
            keys += [o.key for o in page]
        limiter = trio.Semaphore(16)

        async def one(key: str) -> None:
            async with limiter:
                await self.rename_object(bucket, key, dst + key[len(src):])

        async with trio.open_nursery() as nursery:
            for key in keys:
                nursery.start_soon(one, key)
        return len(keys)

    async def changes(self, bucket: str, since: str | None, wait: float) -> dict[str, Any] | None:
        """The bucket's change feed after the position ``since`` (None: the current
        position), waiting up to ``wait`` s for a change (``GET /v1/buckets/B?what=changes``,
        aisfs_mount/notify.py); None when the answer is not the feed's (an older node).
        S3Error 404/501: the node does not cover the bucket."""
        q = "?what=changes&wait=" + format(wait, "g")
        if since is not None:
            q += "&since=" + quote(since, safe=".")
        got = await self._native("GET", "/v1/buckets/" + quote(bucket, safe="") + q,
                                 resource=bucket, deadline=wait + self.timeouts.request)
        if not isinstance(got, dict) or not isinstance(got.get("position"), str):
            return None
        return got

    async def capacity(self) -> Capacity | None:
        try:
            res = await self._native("GET", "/v1/daemon?what=mountpaths")
        except (S3Error, Unreachable):
            return None
        if not isinstance(res, dict):
            return None
        total = free = 0
        for mp in res.get("details") or []:
            if mp.get("enabled", True):
                total += int(mp.get("total", 0))
                free += int(mp.get("free", 0))
        return Capacity(total, free) if total else None


async def probe_node(endpoint: str, timeouts: Timeouts, region: str | None) -> str | None:
    """The node's root URL if `endpoint` is our node's S3 facade, else None."""
    base = native_base(endpoint)
    if base is None:
        return None
    probe = S3Backend(endpoint, region=region, timeouts=Timeouts(
        connect=timeouts.connect, request=min(timeouts.request, 5.0), retry_window=0.5))
    try:
        resp = await probe.http.send("GET", base + "/v1/daemon?what=smap", resource="smap")
        data = json.loads(resp.content)
        return base if isinstance(data, dict) and "tmap" in data else None
    except (S3Error, Unreachable, ValueError):
        return None
    finally:
        await probe.aclose()
