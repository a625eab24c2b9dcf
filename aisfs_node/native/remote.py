"""The native ``/v1`` API over backend buckets: ``provider=aws`` and ``backend_bck``.

As AIS (``api/apc``): ``/v1/buckets/B?provider=aws`` (``s3`` is an alias) is the backend's
bucket B (its cached copies in the store bucket ``@aws:B``), and an ``ais://`` bucket
with the prop ``backend_bck=s3://X`` fronts X. Hooked into the router
(``aisfs_node.native.api``): it answers what concerns a remote bucket and returns None
for everything else.

- ``GET /v1/buckets?provider=aws``: the backend's buckets (``ais ls s3://``);
  ``provider=ais`` lists the store's buckets without the ``@aws:`` caches.
- ``HEAD``/``POST create-bck`` of ``s3://B``: the backend is asked, the bucket is added
  (discovered); ``PATCH set-bprops``: its props (``versioning.validate_warm_get`` ...).
- Listing: one backend page per request (``pagesize`` at most 1,000, the backend's
  continuation token), each entry flagged ``EntryIsCached`` (64) when a copy is in the
  store - found by one range scan of the local index per page, no HEAD per entry.
  ``LsCached`` (1) lists only the cached copies (the local listing, as AIS does);
  ``LsNotCached`` (512) only what is not cached.
- Objects: GET (cold/warm/validated, ranges), HEAD (``Ais-Present``: cached or not), PUT
  written through, DELETE forwarded, ``rename-obj`` the backend's copy then a delete;
  GET, HEAD, DELETE ``?versionId=V`` the backend's version V as the S3 API's are;
  ``locate`` answers 501 (no short-circuit reads of a remote object: they would skip
  validation).
- A request with no ``provider`` at all (the mount's native extras, which go beside its
  S3 calls; the SDK and the CLI always send one) names a bucket as the S3 API does: an
  ``ais://`` bucket if there is one, else ``s3://`` (known or discovered).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

from aisfs.backend import (
    BucketRef,
    Provider,
    RemoteObjects,
    Resolved,
    client_etag,
    normalize_provider,
)
from aisfs.backend.provider import LOCAL_PREFIX, bucket_of_local, local_bucket_name
from aisfs.backend.types import RemoteAttrs, RemoteEntry
from aisfs.client.props import bucket_props_json
from aisfs.errors import S3Error
from aisfs.native import (
    ENTRY_IS_CACHED,
    ENTRY_IS_DIR,
    LS_CACHED,
    LS_NAME_ONLY,
    LS_NO_DIRS,
    LS_NO_RECURSION,
    LS_NOT_CACHED,
    decode_custom_md,
    encode_custom_md,
)
from aisfs.numbers import INT64_MAX, NumberError, from_json
from aisfs.s3.conditions import format_http_date
from aisfs.s3.names import validate_key
from aisfs.s3.ranges import content_range
from aisfs.s3.sigv4 import check_payload_sha256
from aisfs.store.types import ObjectMeta
from aisfs_node.http import Response, zero_copy
from aisfs_node.native import inventory as nbi
from aisfs_node.native.buckets import props_patch
from aisfs_node.native.cksum import new_cksum
from aisfs_node.native.listing import list_objects, page_response
from aisfs_node.native.wire import (
    Ctx,
    Node,
    action_msg,
    rfc822,
    signed_payload_hash,
    uint_or_none,
)
from aisfs_node.s3.remote_versions import (
    Selector,
    delete_version,
    read_selected,
    refuse_empty_version,
)

MAX_REMOTE_PAGE = 1000  # apc: AWS's page
MSGPACK = "application/msgpack"
JSON = "application/json"
AWS_PREFIX = LOCAL_PREFIX[Provider.AWS]


def remote_cname(rb: Resolved, key: str | None = None) -> str:
    return rb.bucket.uri if key is None else f"{rb.bucket.uri}/{key}"


def _before(key: str) -> str:
    """A string just below ``key`` (a listing's exclusive ``start_after`` that still
    yields ``key``)."""
    if not key:
        return ""
    c = ord(key[-1])
    if c == 0:
        return key[:-1]
    c -= 1
    if 0xD800 <= c <= 0xDFFF:
        c = 0xD7FF
    return key[:-1] + chr(c) + "\U0010ffff" * 4


class RemoteNative:
    def __init__(self, remote: RemoteObjects, *, discover: bool) -> None:
        self.remote = remote
        self.discover = discover

    @property
    def store(self) -> Any:
        return self.remote.store

    # == which bucket ====================================================================

    async def _resolve_ais(self, name: str) -> Resolved | None:
        try:
            info = await self.store.get_bucket(name)
        except S3Error as e:
            if e.code == "NoSuchBucket":
                return None
            raise
        rb = self.remote.backends.resolve(BucketRef(Provider.AIS, name), info.props)
        return rb if rb.is_remote else None

    async def changes_out_of_band(self, name: str) -> bool:
        """The bucket ``name`` (as the mount names it) has a backend: an s3:// one, or an
        ais:// one with ``backend_bck`` - its objects change where the node does not see
        (the change feed does not cover it: aisfs_node/native/changes.py)."""
        return await self._s3_by_name(name) or await self._resolve_ais(name) is not None

    async def _resolve_aws(self, name: str, *, add: bool = True) -> Resolved:
        """``s3://name``: known, or (``add``) looked up in the backend and added."""
        ref = BucketRef(Provider.AWS, name)
        try:
            info = await self.store.get_bucket(local_bucket_name(ref))
            return self.remote.backends.resolve(ref, info.props)
        except S3Error as e:
            if e.code != "NoSuchBucket":
                raise
        rb = self.remote.backends.resolve(ref, {})
        if add:
            await self._discover(rb)
        return rb

    async def _s3_by_name(self, name: str) -> bool:
        """Is ``name`` not an ais:// bucket but an s3:// one the node knows or its backend
        has (discovered, as by the S3 API)?"""
        if name.startswith(AWS_PREFIX):
            return False
        try:
            await self.store.get_bucket(name)
            return False
        except S3Error as e:
            if e.code != "NoSuchBucket":
                raise
        ref = BucketRef(Provider.AWS, name)
        try:
            await self.store.get_bucket(local_bucket_name(ref))
            return True
        except S3Error as e:
            if e.code != "NoSuchBucket":
                raise
        if not self.discover:
            return False
        try:
            await self._discover(self.remote.backends.resolve(ref, {}))
        except S3Error as e:
            if e.code in ("NoSuchBucket", "AccessDenied"):
                return False
            raise
        return True

    async def _discover(self, rb: Resolved) -> None:
        assert rb.remote is not None
        try:
            await self.remote.backend(rb).head_bucket(rb.remote.name)
        except S3Error as e:
            if e.code == "NoSuchBucket":
                raise S3Error("NoSuchBucket", f'bucket "{rb.bucket}" does not exist',
                              rb.remote.name) from None
            raise
        await self.remote.ensure_local_bucket(rb)

    # == dispatch ========================================================================

    async def handle(
        self, node: Node, ctx: Ctx, head: str, parts: list[str]
    ) -> Response | None:
        q = ctx.http.query_dict()
        provider = normalize_provider(q.get("provider"))
        # no provider at all (the mount's native extras beside its S3 calls, never the SDK
        # or the CLI): a name as the S3 API resolves it - an ais:// bucket, else s3://
        by_name = "provider" not in q
        method = ctx.http.method
        if provider is Provider.AWS:
            if not self.discover:
                raise S3Error("InvalidArgument", 'provider "aws": this node has no backend '
                              "([backend.s3] in its config, docs/backends.md)")
            if q.get("namespace", "") not in ("", "@#"):
                raise S3Error("InvalidArgument",
                              f"namespace {q['namespace']!r} is not supported")
        if head == "buckets":
            name = unquote(parts[1]) if len(parts) > 1 else ""
            if len(parts) > 2 and parts[2]:
                return None
            if not name:
                if method != "GET":
                    return None
                ctx.operation = "ListBuckets"
                if (await action_msg(ctx)).get("action") == nbi.ACT_SHOW_NBI:
                    return await nbi.show_all(self.remote, ctx)  # every inventory
                return await self.list_buckets(provider)
            if name.startswith(AWS_PREFIX):
                raise S3Error("NoSuchBucket", f'bucket "ais://{name}" does not exist', name)
            ctx.bucket = name
            if provider is Provider.AIS and by_name and await self._s3_by_name(name):
                provider = Provider.AWS
            if provider is Provider.AIS:
                rb = await self._resolve_ais(name)
                if rb is None or method != "GET":
                    return None  # a local bucket; its props etc. are the node's own
                return await self._list(node, ctx, rb)
            return await self._aws_bucket(node, ctx, name, method)
        if head == "objects":
            if len(parts) < 3 or not parts[1] or not parts[2]:
                return None
            name, key = unquote(parts[1]), unquote(parts[2])
            if provider is Provider.AIS and by_name and await self._s3_by_name(name):
                provider = Provider.AWS
            if provider is Provider.AIS:
                if name.startswith(AWS_PREFIX):
                    raise S3Error("NoSuchBucket", f'bucket "ais://{name}" does not exist', name)
                found = await self._resolve_ais(name)
                if found is None:
                    return None
                rb = found
            else:
                rb = await self._resolve_aws(name)
            ctx.bucket, ctx.key = name, key
            return await self._object(node, ctx, rb, key, method)
        return None

    async def list_buckets(self, provider: Provider) -> Response:
        if provider is Provider.AWS:
            buckets = [b.name for b in await self.remote.list_buckets()]
        else:
            buckets = [b.name for b in await self.store.list_buckets()
                       if bucket_of_local(b.name).provider is Provider.AIS]
        return _json([{"name": n, "provider": provider.value,
                       "namespace": {"uuid": "", "name": ""}} for n in buckets])

    async def _aws_bucket(self, node: Node, ctx: Ctx, name: str, method: str) -> Response:
        if method == "HEAD":
            ctx.operation = "HeadBucket"
            rb = await self._resolve_aws(name, add=False)
            await self._discover(rb)
            return await self._props_response(rb, head=True)
        msg = await action_msg(ctx)
        action = str(msg.get("action") or "")
        if action in nbi.NBI_ACTIONS:  # native bucket inventory (aisfs_node.native.inventory)
            return await nbi.bucket_action(node, ctx, msg, await self._resolve_aws(name),
                                           self.remote)
        if method == "GET" and action in ("", "list"):
            ctx.operation = "ListObjects"
            return await self._list(node, ctx, await self._resolve_aws(name), msg)
        if method == "POST" and action in ("", "create-bck"):
            ctx.operation = "CreateBucket"
            await self._discover(await self._resolve_aws(name, add=False))
            return Response(200)
        if method == "PATCH" and action in ("", "set-bprops"):
            ctx.operation = "SetBucketProps"
            rb = await self._resolve_aws(name)
            current = (await self.store.get_bucket(rb.local)).props
            value = msg.get("value")
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if k != "backend_bck"}
            patch = props_patch(value, current)
            if not patch:
                raise S3Error("InvalidArgument", "no bucket properties to set")
            await self.store.update_bucket_props(rb.local, patch)
            return await self._props_response(rb, head=False)
        if method == "DELETE" and action == "delete-listrange":
            ctx.operation = "DeleteObjects"
            return await self._delete_list(await self._resolve_aws(name), msg)
        raise S3Error("NotImplemented", f"{action or method!r} of an s3:// bucket is not "
                      "supported", status=501)

    async def _props_response(self, rb: Resolved, head: bool) -> Response:
        import json

        info = await self.store.get_bucket(rb.local)
        props = bucket_props_json(rb.bucket.name, info.props, info.created_ns, remote=True)
        props["provider"] = rb.bucket.provider.value
        if head:
            return Response(200, [("ais-bucket-props", json.dumps(props, separators=(",", ":"))),
                                  ("content-type", JSON)], head=True)
        return _json(props)

    async def _delete_list(self, rb: Resolved, msg: dict[str, Any]) -> Response:
        value = msg.get("value") or {}
        names = value.get("objnames") if isinstance(value, dict) else None
        if not isinstance(names, list):
            raise S3Error("NotImplemented", "only a list of object names can be deleted from "
                          "an s3:// bucket", status=501)
        for key in names:
            await self.remote.delete(rb, str(key))
        return Response(200, [("content-type", "text/plain")], secrets.token_hex(5).encode())

    # == listing =========================================================================

    async def _list(self, node: Node, ctx: Ctx, rb: Resolved,
                    msg: dict[str, Any] | None = None) -> Response:
        if msg is None:
            msg = await action_msg(ctx)
            action = str(msg.get("action") or "")
            if action in nbi.NBI_ACTIONS:
                return await nbi.bucket_action(node, ctx, msg, rb, self.remote)
            if action not in ("", "list"):
                raise S3Error("NotImplemented", f"bucket action {action!r} is not supported",
                              status=501)
        ctx.operation = "ListObjects"
        value = msg.get("value") or {}
        if not isinstance(value, dict):
            raise S3Error("InvalidArgument", "list: value must be a JSON object")
        try:
            page_size = from_json(value.get("pagesize") or 0, lo=-INT64_MAX)
            flags = from_json(value.get("flags") or 0, hi=2**64 - 1)
        except NumberError:
            raise S3Error("InvalidArgument", "list: pagesize and flags are numbers") from None
        if flags & nbi.LS_NBI:  # from the bucket's inventory
            return await nbi.list_objects(ctx, self.remote, rb, value, flags,
                                          lambda e, p, c: _entry(e, p, c, None), self._cached)
        if flags & LS_CACHED:  # only what is in the store: the cache's own listing
            saved = ctx.bucket
            ctx.bucket = rb.local
            try:
                return await list_objects(node, ctx, msg)
            finally:
                ctx.bucket = saved
        if page_size <= 0 or page_size > MAX_REMOTE_PAGE:
            page_size = MAX_REMOTE_PAGE
        prefix = str(value.get("prefix") or "")
        token = str(value.get("continuation_token") or "")
        start_after = str(value.get("start_after") or "")
        props = {p.strip() for p in str(value.get("props") or "").split(",") if p.strip()}
        if not props or flags & LS_NAME_ONLY:
            props = {"name", "size"} if not flags & LS_NAME_ONLY else {"name"}
        page = await self.remote.list_page(
            rb, prefix=prefix, delimiter="/" if flags & LS_NO_RECURSION else "",
            token=token, start_after="" if token else start_after, page_size=page_size,
        )
        cached = await self._cached(rb, prefix, [e.key for e in page.entries],
                                    with_user="custom" in props)
        wire: list[tuple[str, dict[str, Any]]] = []
        for e in page.entries:
            is_cached = e.key in cached
            if flags & LS_NOT_CACHED and is_cached:
                continue
            user = cached.get(e.key) if is_cached else (  # what the node learned of it
                self.remote.meta_memo.recall(rb.local, e.key, e.etag)
                if "custom" in props else None)
            wire.append((e.key, _entry(e, props, is_cached, user)))
        if not flags & LS_NO_DIRS:
            wire += [(p, {"n": p, "f": ENTRY_IS_DIR}) for p in page.common_prefixes]
        wire.sort(key=lambda pair: pair[0])
        return page_response(ctx, value, page.next_token, [ent for _, ent in wire])

    async def _cached(self, rb: Resolved, prefix: str, keys: list[str], *,
                      with_user: bool = False) -> dict[str, dict[str, str] | None]:
        """Which of ``keys`` (sorted, one backend page) have a copy in the store (with its
        user metadata when ``with_user``): one range scan of the local index from the
        first to the last."""
        found: dict[str, dict[str, str] | None] = {}
        if not keys:
            return found
        wanted = set(keys)
        after = _before(keys[0])
        last = keys[-1]
        while True:
            try:
                page = await self.store.list_objects(
                    rb.local, prefix=prefix, start_after=after, max_keys=1000,
                    with_extra=with_user)
            except S3Error as e:
                if e.code == "NoSuchBucket":
                    return found
                raise
            for ent in page.entries:
                if ent.key > last:
                    return found
                if ent.key in wanted:
                    found[ent.key] = ent.user
            if not page.is_truncated or not page.entries:
                return found
            after = page.entries[-1].key

    # == objects =========================================================================

    async def _object(self, node: Node, ctx: Ctx, rb: Resolved, key: str,
                      method: str) -> Response | None:
        version = ctx.http.query_dict().get("versionId")
        if version is not None:
            return await self._version(ctx, rb, key, method, version, node.node_id)
        if method in ("GET", "HEAD"):
            ctx.operation = "GetObject" if method == "GET" else "HeadObject"
            return await self._get(ctx, rb, key, method == "HEAD", node.node_id)
        if method == "PUT":
            ctx.operation = "PutObject"
            return await self._put(node, ctx, rb, key)
        if method == "DELETE":
            ctx.operation = "DeleteObject"
            await self.remote.delete(rb, key)
            return Response(200)
        if method == "POST":
            msg = await action_msg(ctx)
            if msg.get("action") == "rename-obj":
                ctx.operation = "RenameObject"
                return await self._rename(rb, key, str(msg.get("name") or ""))
            raise S3Error("NotImplemented", f"object action {msg.get('action')!r} on "
                          f"{remote_cname(rb)} is not supported", status=501)
        return None

    async def _version(self, ctx: Ctx, rb: Resolved, key: str, method: str, version: str,
                       node_id: str) -> Response | None:
        """``?versionId=V``: GET, HEAD, DELETE of the backend's version V, as the S3 API
        does them (``aisfs_node.s3.remote_versions``: served from the cached copy when it
        is V, else forwarded and never cached; a DELETE removes V in the backend and the
        cached copy only when it is V). Another method with a version: 501."""
        refuse_empty_version(version)
        if method == "DELETE":
            ctx.operation = "DeleteObject"
            return Response(200, await delete_version(self.remote, rb, key, version))
        if method not in ("GET", "HEAD"):
            if method not in ("PUT", "POST"):
                return None
            raise S3Error("NotImplemented", f"{method} of a version of "
                          f"{remote_cname(rb, key)} is not supported", status=501)
        head = method == "HEAD"
        ctx.operation = "HeadObject" if head else "GetObject"
        range_header = None if head else ctx.http.headers.get("range")
        if range_header is not None and "," in range_header:
            raise S3Error("InvalidRange", "multi-range requests are not supported")
        out = await read_selected(self.remote, rb, key, Selector(version, None, range_header),
                                  head=head)
        headers = self._headers(out.attrs, out.cached, node_id)
        headers += [(k, v) for k, v in out.headers if k == "x-amz-version-id"]
        headers.append(("content-type", "application/octet-stream"))
        if head:
            headers += [
                ("ais-name", key), ("ais-bucket-name", rb.bucket.name),
                ("ais-bucket-provider", rb.bucket.provider.value),
                ("content-length", str(out.attrs.size)),
            ]
            return Response(200, headers, head=True)
        length = max(0, out.end - out.start + 1)
        if out.ranged:
            headers.append(("content-range", content_range(out.start, out.end,
                                                           out.attrs.size)))
        headers.append(("content-length", str(length)))
        status = 206 if out.ranged else 200
        if out.body is None or length == 0:
            if out.body is not None:
                await out.body.aclose()  # type: ignore[attr-defined]
            return Response(status, headers, b"")
        return Response(status, headers, out.body)

    async def _rename(self, rb: Resolved, key: str, new_key: str) -> Response:
        """The backend's server-side copy, then the source deleted (S3 has no rename);
        both cached copies dropped."""
        assert rb.remote is not None
        validate_key(new_key)
        if new_key == key:
            return Response(200)
        await self.remote.backend(rb).copy_object(rb.remote.name, key, rb.remote.name,
                                                  new_key)
        await self.remote.evict(rb, new_key)
        await self.remote.delete(rb, key)
        return Response(200)

    def _headers(self, attrs: RemoteAttrs, cached: bool, node_id: str) -> list[tuple[str, str]]:
        etag = attrs.etag
        plain_md5 = len(etag) == 32 and "-" not in etag
        headers = [
            ("ais-checksum-type", "md5" if plain_md5 else "none"),
            ("ais-checksum-value", etag if plain_md5 else ""),
            ("ais-atime", str(attrs.last_modified_ns)),
            ("ais-version", attrs.version),
            ("ais-present", "true" if cached else "false"),
            ("ais-location", f"t[{node_id}]"),
            ("last-modified", format_http_date(attrs.last_modified_ns)),
            ("etag", f'"{etag}"'),
            ("accept-ranges", "bytes"),
        ]
        custom = [("ETag", etag), ("LastModified", format_http_date(attrs.last_modified_ns))]
        custom += sorted(attrs.user.items())
        headers.append(("ais-custom-md", encode_custom_md(custom)))
        return headers

    async def _get(self, ctx: Ctx, rb: Resolved, key: str, head: bool,
                   node_id: str) -> Response:
        if head:
            h = await self.remote.head(rb, key)
            headers = self._headers(h.attrs, h.cached, node_id)
            headers += [
                ("ais-name", key), ("ais-bucket-name", rb.bucket.name),
                ("ais-bucket-provider", rb.bucket.provider.value),
                ("content-length", str(h.attrs.size)),
                ("content-type", "application/octet-stream"),
            ]
            return Response(200, headers, head=True)
        range_header = ctx.http.headers.get("range")
        if range_header is not None and "," in range_header:
            raise S3Error("InvalidRange", "multi-range requests are not supported")
        from aisfs_node.s3.remote import read_started

        # a warm copy's verified chunks as file segments where the server sends files
        read, body = await read_started(self.remote, rb, key, range_header,
                                        segments=zero_copy(ctx.http.scope))
        headers = self._headers(read.attrs, read.cached, node_id)
        headers.append(("content-type", "application/octet-stream"))
        status = 206 if read.ranged else 200
        if read.ranged:
            headers.append(("content-range", content_range(read.start, read.end,
                                                           read.attrs.size)))
        headers.append(("content-length", str(read.length)))
        if read.length == 0:
            await body.aclose()  # type: ignore[attr-defined]
            return Response(status, headers, b"")
        return Response(status, headers, body)

    async def _put(self, node: Node, ctx: Ctx, rb: Resolved, key: str) -> Response:
        validate_key(key)
        h = ctx.http.headers
        custom = decode_custom_md(h.get("ais-custom-md"))
        meta = ObjectMeta(user={k.lower(): v for k, v in custom.items()})
        declared = signed_payload_hash(ctx)
        client_type = (h.get("ais-checksum-type") or "").strip().lower()
        client_value = (h.get("ais-checksum-value") or "").strip().lower()

        async def checked() -> AsyncIterator[bytes]:
            sha = hashlib.sha256() if declared else None
            client = (new_cksum(client_type) if client_type and client_value
                      and client_type != "none" else None)
            async for piece in ctx.http.body():
                if sha is not None:
                    sha.update(piece)
                if client is not None:
                    client.update(piece)
                yield piece
            if sha is not None:
                check_payload_sha256(declared, sha.digest())
            if client is not None and client.hexdigest() != client_value:
                raise S3Error("BadDigest", f"{remote_cname(rb, key)}: {client_type} checksum "
                              f"mismatch: expected {client_value}, got {client.hexdigest()}")

        info = await self.remote.put(rb, key, checked(), meta,
                                     size=uint_or_none(h.get("content-length")))
        rec = info.meta.extra.get("remote") or {}
        headers = [("etag", f'"{client_etag(info)}"'),
                   ("ais-version", str(rec.get("version") or "")),
                   ("ais-present", "true")]
        return Response(200, headers)


def _json(data: Any, status: int = 200) -> Response:
    import json

    return Response(status, [("content-type", JSON)], json.dumps(data).encode())


def _entry(e: RemoteEntry, props: set[str], is_cached: bool, user: dict[str, str] | None
           ) -> dict[str, Any]:
    """One object of a backend listing with the props asked for (msgpack's short names);
    ``user``: its cached copy's metadata (a backend listing has none)."""
    ent: dict[str, Any] = {"n": e.key, "f": ENTRY_IS_CACHED if is_cached else 0}
    if "size" in props:
        ent["s"] = e.size
    if "atime" in props:
        ent["a"] = rfc822(e.last_modified_ns)
    if "version" in props and e.version:
        ent["v"] = e.version
    custom: list[tuple[str, str]] = []
    if "etag" in props:
        custom.append(("ETag", e.etag))
    if "last-modified" in props:
        custom.append(("LastModified", format_http_date(e.last_modified_ns)))
    if "custom" in props and user:
        custom.extend(sorted(user.items()))
    if custom:
        ent["m"] = encode_custom_md(custom)
    return ent
