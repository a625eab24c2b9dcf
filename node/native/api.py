"""The native ``/v1`` API in AIStore's URL layout and JSON messages, plus ``/metrics``.

Enough of AIS's REST API (``api/apc/urlpaths.go``, ``docs/http_api.md``) for the
``aistore`` Python SDK 2.0.0 to work unmodified against a node, and for the ``aisfs``
CLI (see docs/native-api.md for the route table):

- ``/v1/buckets[/B]``: list buckets, create/destroy, HEAD props (``Ais-Bucket-Props``),
  list objects (msgpack when asked, continuation tokens, virtual directories), PATCH
  ``set-bprops``/``reset-bprops``;
- ``/v1/objects/B/K``: PUT (streamed into the store with bounded memory), GET (ranges;
  whole-object checksum validated while streaming), HEAD (v1 and ``props=`` v2), DELETE,
  POST ``rename-obj``;
- ``/v1/daemon`` and ``/v1/cluster``: the cluster map (one node that is both proxy and
  target, pointing at the URL the client used), config get/set including ``features``,
  node stats and mountpaths;
- ``/metrics``: Prometheus text (``node.metrics``).

Error answers are AIS-style JSON whose *message* embeds the bucket/object name
(``bucket "ais://b" does not exist``): the SDK picks its exception type from that text.
Expected failures are 4xx, never 5xx (the SDK retries 5xx for a minute and a half).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import string
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import trio
import xxhash

from aisfs import __version__
from aisfs.auth.caller import OPEN, OWNER_PROP, Caller
from aisfs.client.props import (
    BUCKET_PROPS,
    CHECKSUM_TYPES,
    DEFAULT_CHECKSUM,
    PropError,
    bucket_props_json,
    features_to_bitmask,
    flatten,
    normalize_patch,
    parse_feature_list,
)
from aisfs.config import FEATURE_FLAGS
from aisfs.errors import S3Error, no_good_copy
from aisfs.native import (
    ENTRY_IS_CACHED,
    ENTRY_IS_DIR,
    LS_NAME_ONLY,
    LS_NO_DIRS,
    LS_NO_RECURSION,
    decode_custom_md,
    encode_custom_md,
)
from aisfs.numbers import INT64_MAX, NumberError, from_json, parse_uint
from aisfs.s3.conditions import format_http_date
from aisfs.s3.names import validate_bucket_name, validate_key
from aisfs.s3.ranges import content_range, parse_range
from aisfs.s3.sigv4 import AuthResult, check_payload_sha256
from aisfs.store.chunks import StoreCorruption
from aisfs.store.types import ObjectInfo, ObjectMeta, WriteResult
from node import native_auth
from node.http import (
    Receive,
    Request,
    Response,
    Scope,
    Send,
    first_piece_read,
    send_or_cut,
    unwrap,
)
from node.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from node.metrics import Metrics
from node.native.cksum import (
    EXTRA_KEY,
    FAST,
    STORE_COMPUTED,
    Cksum,
    checksum_of,
    new_cksum,
    object_checksum,
)
from node.native_msgpack import packb

log = logging.getLogger("aisfs.native")

JSON = "application/json"
MSGPACK = "application/msgpack"
MAX_CONTROL_BODY = 1024 * 1024
MAX_PAGE_SIZE = 10_000  # apc.MaxPageSizeAIS


LIST_PROPS = frozenset(
    ("name", "size", "version", "checksum", "atime", "cached", "status", "copies", "ec",
     "custom", "location", "chunked", "last-modified", "etag", "node", "target_url")
)
HEAD_PROPS = frozenset(
    ("name", "size", "version", "checksum", "atime", "copies", "ec", "custom", "location",
     "chunked", "last-modified", "etag", "present", "cached", "status", "node")
)
CLUSTER_CONFIG_FILE = "cluster-config.json"
_ALPHABET = string.ascii_letters + string.digits


def _uint_or_none(text: str | None) -> int | None:
    """A length header's value, or None when it is absent or not ASCII digits."""
    try:
        return None if text is None else parse_uint(text.strip(" \t"))
    except NumberError:
        return None


def cname(bucket: str, key: str | None = None) -> str:
    return f"ais://{bucket}" if key is None else f"ais://{bucket}/{key}"


def short_id(seed: str, n: int = 8) -> str:
    """A stable AIS-looking id (``hHQZBnBQ``) derived from ``seed``."""
    value = xxhash.xxh64_intdigest(seed.encode())
    out = []
    for _ in range(n):
        value, r = divmod(value, len(_ALPHABET))
        out.append(_ALPHABET[r])
    return "".join(out)


def rfc822(ns: int) -> str:
    """AIS's default listing time format (Go ``time.RFC822``)."""
    return time.strftime("%d %b %y %H:%M UTC", time.gmtime(ns / 1e9))


def json_response(data: Any, status: int = 200) -> Response:
    return Response(status, [("content-type", JSON)], json.dumps(data).encode())


class NativeApi:
    """ASGI callable for ``/v1/...`` and ``/metrics``; built by ``NodeApp.startup``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cfg = app.cfg
        self.store = app.store
        self.features = app.features
        self.node_id = short_id("node:" + str(self.cfg.store.index_dir))
        self.cluster_uuid = short_id("cluster:" + str(self.cfg.store.index_dir), 9)
        self.created = time.strftime(
            "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(getattr(app, "started_ns", 0) / 1e9)
        )
        metrics = getattr(app, "metrics", None)
        if not isinstance(metrics, Metrics):
            metrics = Metrics(self.node_id, __version__)
            # the S3 facade reports through app.metrics when it is there
            app.metrics = metrics
        if not metrics.node_id:
            metrics.node_id = self.node_id
        if not metrics.version:
            metrics.version = __version__
        self.metrics = metrics
        self._state = Path(self.cfg.state_dir) / CLUSTER_CONFIG_FILE
        self._load_cluster_config()

    # ---- cluster config persistence -----------------------------------------------

    def _load_cluster_config(self) -> None:
        try:
            saved = json.loads(self._state.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            log.warning("ignoring unreadable %s: %s", self._state, e)
            return
        defaults = saved.get("bucket_defaults") if isinstance(saved, dict) else None
        if isinstance(defaults, dict):
            try:
                self.cfg.bucket_defaults.update(normalize_patch(defaults))
            except PropError as e:
                log.warning("ignoring %s: %s", self._state, e)

    def _save_cluster_config(self) -> None:
        self._state.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._state.with_suffix(".tmp")
        tmp.write_text(json.dumps({"bucket_defaults": self.cfg.bucket_defaults}, indent=1))
        os.replace(tmp, self._state)

    # ---- dispatch -----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            return
        request = Request(scope, receive)
        started = time.perf_counter()
        ctx = _Ctx(request)
        try:
            response = await self._dispatch(ctx)
        except S3Error as err:
            response = self._error(ctx, err)
        except (trio.Cancelled, KeyboardInterrupt):
            raise
        except BaseException as exc:
            inner = unwrap(exc)
            if isinstance(inner, S3Error):
                response = self._error(ctx, inner)
            else:
                log.error(
                    "native %s %s failed: %s: %s",
                    request.method, request.raw_path, type(inner).__name__, inner,
                    exc_info=inner,
                )
                response = self._error(ctx, S3Error("InternalError", f"internal error: {inner}"))
        response.headers.append(("server", "aisfs"))
        sent = 0
        try:
            sent, cut = await send_or_cut(
                send, response, f"native {request.method} {request.raw_path}")
            if cut:
                response.status = 500 if response.status < 400 else response.status
        finally:
            self.metrics.observe_request(
                "native",
                ctx.operation,
                response.status,
                time.perf_counter() - started,
                request.bytes_received,
                sent,
            )

    async def _dispatch(self, ctx: _Ctx) -> Response:
        req = ctx.http
        path = req.raw_path
        if path == "/metrics":
            ctx.operation = "Metrics"
            native_auth.probe_allowed(self, self.cfg, req)  # auth.metrics
            return await self.metrics_response()
        self._authenticate(ctx)
        parts = path[len("/v1/"):].split("/", 2) if path.startswith("/v1/") else [""]
        head, method = parts[0], req.method
        if head != "health":  # admin-only routes, bucket owners, /v1/users
            gated = await native_auth.gate(self, ctx, head, parts)
            if gated is not None:
                return gated
        remote = getattr(self.app, "remote_native", None)  # node/native/remote.py
        if remote is not None and head in ("buckets", "objects"):
            answered: Response | None = await remote.handle(self, ctx, head, parts)
            if answered is not None:
                return answered
        if head == "buckets":
            self._check_provider(ctx)
            name = unquote(parts[1]) if len(parts) > 1 else ""
            if len(parts) > 2 and parts[2]:
                raise S3Error("InvalidURI", f"unexpected path {path!r}")
            if not name:
                if method == "GET":
                    ctx.operation = "ListBuckets"
                    return await self.list_buckets(ctx)
                raise _method_not_allowed(method, path)
            ctx.bucket = name
            return await self._bucket_route(ctx, method)
        if head == "objects":
            self._check_provider(ctx)
            if len(parts) < 3 or not parts[1] or not parts[2]:
                raise S3Error("InvalidURI", "expected /v1/objects/BUCKET/OBJECT")
            ctx.bucket = unquote(parts[1])
            ctx.key = unquote(parts[2])
            return await self._object_route(ctx, method)
        if head in ("daemon", "cluster"):
            sub = parts[1] if len(parts) > 1 else ""
            if head == "daemon" and sub in ("mountpaths", "resilver", "scrub", "jobs"):
                from node.native import admin as native_admin

                return await native_admin.handle(self, ctx, sub, parts[2] if len(parts) > 2 else "")
            if method == "GET" and not sub:
                ctx.operation = "GetClusterInfo" if head == "cluster" else "GetNodeInfo"
                return await self.get_info(ctx, head)
            if method == "PUT":
                ctx.operation = "SetConfig"
                return await self.set_config(ctx, sub)
            raise _method_not_allowed(method, path)
        if head == "health":
            ctx.operation = "Health"
            native_auth.probe_allowed(self, self.cfg, req)  # auth.metrics
            if self.app.ready:
                return Response(200, [("content-type", "text/plain")], b"ok\n")
            return Response(503, [("content-type", "text/plain")], b"starting\n")
        raise S3Error("InvalidURI", f"no such native API path: {path}", status=404)

    async def _bucket_route(self, ctx: _Ctx, method: str) -> Response:
        if method == "HEAD":
            ctx.operation = "HeadBucket"
            return await self.head_bucket(ctx)
        msg = await self._action_msg(ctx)
        action = str(msg.get("action") or "")
        if method == "POST":
            if action in ("", "create-bck"):
                ctx.operation = "CreateBucket"
                return await self.create_bucket(ctx, msg)
            if action == "make-n-copies":
                ctx.operation = "SetBucketProps"
                return await self.make_n_copies(ctx, msg)
            if action == "rename-prefix":
                ctx.operation = "RenamePrefix"
                return await self.rename_prefix(ctx, msg)
            raise _unsupported(action)
        if method == "DELETE":
            if action in ("", "destroy-bck"):
                ctx.operation = "DestroyBucket"
                return await self.destroy_bucket(ctx)
            if action == "delete-listrange":
                ctx.operation = "DeleteObjects"
                return await self.delete_list(ctx, msg)
            raise _unsupported(action)
        if method == "GET":
            if action in ("", "list"):
                ctx.operation = "ListObjects"
                return await self.list_objects(ctx, msg)
            raise _unsupported(action)
        if method == "PATCH":
            ctx.operation = "SetBucketProps"
            if action in ("", "set-bprops"):
                return await self.set_bucket_props(ctx, msg)
            if action == "reset-bprops":
                return await self.reset_bucket_props(ctx)
            raise _unsupported(action)
        raise _method_not_allowed(method, ctx.http.raw_path)

    async def _object_route(self, ctx: _Ctx, method: str) -> Response:
        if method == "GET":
            ctx.operation = "GetObject"
            return await self.get_object(ctx, head=False)
        if method == "HEAD":
            ctx.operation = "HeadObject"
            return await self.get_object(ctx, head=True)
        if method == "PUT":
            ctx.operation = "PutObject"
            return await self.put_object(ctx)
        if method == "DELETE":
            ctx.operation = "DeleteObject"
            await self.store.delete_object(ctx.bucket, ctx.key)
            return Response(200)
        if method == "POST":
            msg = await self._action_msg(ctx)
            if msg.get("action") == "rename-obj":
                ctx.operation = "RenameObject"
                return await self.rename_object(ctx, msg)
            if msg.get("action") == "locate":  # short-circuit local reads
                from node.native.locate import locate

                ctx.operation = "LocateObject"
                return await locate(self, ctx.bucket, ctx.key)
            raise S3Error(
                "NotImplemented", f"object action {msg.get('action')!r} is not supported",
                status=501,
            )
        raise _method_not_allowed(method, ctx.http.raw_path)

    def _authenticate(self, ctx: _Ctx) -> None:
        """The caller (``ctx.caller``): a bearer token (JWT), or - when auth.mode is
        sigv4 - an S3 signature, checked by the S3 facade's Authenticator against the
        same users (node/native_auth.py); a signed payload hash is checked against the
        body (`_action_msg`, `put_object`)."""
        if self.cfg.auth.mode == "open":
            return  # ctx.caller is OPEN
        native_auth.identify(self, ctx)

    def _check_provider(self, ctx: _Ctx) -> None:
        q = ctx.http.query_dict()
        provider = q.get("provider", "")
        if provider not in ("", "ais"):
            raise S3Error(
                "InvalidArgument",
                f'provider "{provider}" is not supported: aisfs keeps ais:// buckets only',
            )
        namespace = q.get("namespace", "")
        if namespace not in ("", "@#"):
            raise S3Error("InvalidArgument", f"namespace {namespace!r} is not supported")

    async def _action_msg(self, ctx: _Ctx) -> dict[str, Any]:
        body = await ctx.http.read_body(MAX_CONTROL_BODY)
        declared = _signed_payload_hash(ctx)
        if declared:
            check_payload_sha256(declared, hashlib.sha256(body).digest())
        if not body.strip():
            return {}
        try:
            msg = json.loads(body)
        except ValueError:
            raise S3Error("InvalidRequest", "the request body is not valid JSON") from None
        if not isinstance(msg, dict):
            raise S3Error("InvalidRequest", "expected a JSON action message {action, name, value}")
        return msg

    # ---- errors -------------------------------------------------------------------

    def _error(self, ctx: _Ctx, err: S3Error) -> Response:
        status, message = self._ais_message(ctx, err)
        req = ctx.http
        client = req.client
        doc = {
            "message": message,
            "method": req.method,
            "url_path": req.raw_path,
            "remote_addr": f"{client[0]}:{client[1]}" if client else "",
            "caller": "",
            "node": f"t[{self.node_id}]",
            "status": status,
        }
        if err.code not in ("NoSuchBucket", "NoSuchKey", "InvalidRange"):
            doc["tcode"] = err.code
        data = json.dumps(doc)
        if req.method == "HEAD":
            return Response(status, [("content-type", JSON), ("hdr-error", data)], head=True)
        response = json_response(doc, status)
        if err.code == "InvalidRange" and "ActualObjectSize" in err.extra:
            response.headers.append(("content-range", f"bytes */{err.extra['ActualObjectSize']}"))
        return response

    @staticmethod
    def _ais_message(ctx: _Ctx, err: S3Error) -> tuple[int, str]:
        bucket = ctx.bucket or err.resource
        code = err.code
        if code == "NoSuchBucket":
            return 404, f'bucket "{cname(bucket)}" does not exist'
        if code == "NoSuchKey" and ctx.key is not None:
            return 404, f'object "{cname(ctx.bucket, ctx.key)}" does not exist'
        if code in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
            return 409, f'bucket "{cname(bucket)}" already exists'
        if code == "BucketNotEmpty":
            return 409, f'bucket "{cname(bucket)}" is not empty'
        status = err.status
        if status >= 500 and code != "InternalError" and status not in (501, 507):
            status = 503 if code in ("ServiceUnavailable", "SlowDown") else status
        return status, err.message

    # ---- metrics ------------------------------------------------------------------

    async def metrics_response(self) -> Response:
        stats: dict[str, Any] | None = None
        getter = getattr(self.store, "stats", None)
        if getter is not None:
            try:
                stats = await getter()
            except Exception as e:
                log.warning("metrics: store stats failed: %s", e)
        text = self.metrics.render(stats, ready=bool(self.app.ready))
        return Response(200, [("content-type", METRICS_CONTENT_TYPE)], text.encode())

    # ---- buckets ------------------------------------------------------------------

    async def list_buckets(self, ctx: _Ctx) -> Response:
        await ctx.http.read_body(MAX_CONTROL_BODY)
        buckets = await self.store.list_buckets()
        return json_response(
            [
                {"name": b.name, "provider": "ais", "namespace": {"uuid": "", "name": ""}}
                for b in buckets
            ]
        )

    def _props_patch(
        self, value: Any, current: dict[str, Any] | None = None, strict: bool = True
    ) -> dict[str, Any]:
        if value in (None, "", {}):
            return {}
        if not isinstance(value, dict):
            raise S3Error("InvalidArgument", "bucket props must be a JSON object")
        flat = flatten(value)
        if not strict:
            # create-bck may carry a complete AIS Bprops: keep what aisfs implements
            for ignored in ("provider", "bid", "created", "name", "access", "feature_names"):
                flat.pop(ignored, None)
            flat = {k: v for k, v in flat.items() if k in BUCKET_PROPS or not _is_ais_noise(k)}
        try:
            return normalize_patch(flat, current)
        except PropError as e:
            raise S3Error("InvalidArgument", str(e)) from None

    async def create_bucket(self, ctx: _Ctx, msg: dict[str, Any]) -> Response:
        validate_bucket_name(ctx.bucket)
        props = dict(self.cfg.bucket_defaults)
        props.update(self._props_patch(msg.get("value"), strict=False))
        if ctx.caller.user is not None:
            props[OWNER_PROP] = ctx.caller.user.id  # the creating user (docs/auth.md)
        await self.store.create_bucket(ctx.bucket, props)
        return Response(200)

    async def head_bucket(self, ctx: _Ctx) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        props = bucket_props_json(info.name, info.props, info.created_ns, self.cfg.bucket_defaults)
        return Response(
            200,
            [
                ("ais-bucket-props", json.dumps(props, separators=(",", ":"))),
                ("content-type", JSON),
            ],
            head=True,
        )

    async def set_bucket_props(self, ctx: _Ctx, msg: dict[str, Any]) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        patch = self._props_patch(msg.get("value"), info.props)
        if not patch:
            raise S3Error("InvalidArgument", "no bucket properties to set")
        info = await self.store.update_bucket_props(ctx.bucket, patch)
        props = bucket_props_json(info.name, info.props, info.created_ns, self.cfg.bucket_defaults)
        return json_response(props)

    async def reset_bucket_props(self, ctx: _Ctx) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        patch: dict[str, Any] = {k: None for k in info.props if k != OWNER_PROP}
        patch.update(self.cfg.bucket_defaults)
        info = await self.store.update_bucket_props(ctx.bucket, patch)
        props = bucket_props_json(info.name, info.props, info.created_ns, self.cfg.bucket_defaults)
        return json_response(props)

    async def make_n_copies(self, ctx: _Ctx, msg: dict[str, Any]) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        try:
            patch = normalize_patch({"mirror.copies": msg.get("value")}, info.props)
        except PropError as e:
            raise S3Error("InvalidArgument", str(e)) from None
        await self.store.update_bucket_props(ctx.bucket, patch)
        # new writes get the copies at once; existing objects through the resilver that
        # update_bucket_props starts (GET /v1/daemon/resilver)
        return Response(200, [("content-type", "text/plain")], secrets.token_hex(5).encode())

    async def destroy_bucket(self, ctx: _Ctx) -> Response:
        """AIS ``destroy-bck``: the bucket goes with everything in it."""
        await self.store.get_bucket(ctx.bucket)
        for _attempt in range(5):
            await self._empty_bucket(ctx.bucket)
            try:
                await self.store.delete_bucket(ctx.bucket)
                return Response(200)
            except S3Error as err:
                if err.code != "BucketNotEmpty":
                    raise
        raise S3Error("OperationAborted", f'bucket "{cname(ctx.bucket)}" keeps being written to')

    async def _empty_bucket(self, bucket: str) -> None:
        while True:
            page = await self.store.list_objects(bucket, max_keys=1000)
            for entry in page.entries:
                try:
                    await self.store.delete_object(bucket, entry.key)
                except S3Error as err:
                    if err.code != "NoSuchKey":
                        raise
            if not page.is_truncated:
                break
        list_uploads = getattr(self.store, "list_uploads", None)
        if list_uploads is not None:
            for up in await list_uploads(bucket):
                try:
                    await self.store.abort_upload(up.upload_id, bucket, up.key)
                except S3Error as err:
                    if err.code != "NoSuchUpload":
                        raise

    async def rename_prefix(self, ctx: _Ctx, msg: dict[str, Any]) -> Response:
        """aisfs extension: every key under ``name`` moves under ``value.dst`` (the same
        tail), in one index transaction, metadata only; existing destinations are replaced."""
        src = str(msg.get("name") or "")
        value = msg.get("value")
        dst = str(value.get("dst") or "") if isinstance(value, dict) else ""
        if not src or not dst:
            raise S3Error(
                "InvalidArgument",
                'rename-prefix: expected {"name": SRC_PREFIX, "value": {"dst": DST_PREFIX}}',
            )
        validate_key(src)
        validate_key(dst)
        n = await self.store.rename_prefix(ctx.bucket, src, dst)
        return json_response({"renamed": n})

    async def delete_list(self, ctx: _Ctx, msg: dict[str, Any]) -> Response:
        value = msg.get("value") or {}
        names = value.get("objnames") if isinstance(value, dict) else None
        if not isinstance(names, list):
            raise S3Error("NotImplemented", "only delete-listrange with objnames", status=501)
        await self.store.get_bucket(ctx.bucket)
        for name in names:
            try:
                await self.store.delete_object(ctx.bucket, str(name))
            except S3Error as err:
                if err.code != "NoSuchKey":
                    raise
        return Response(200, [("content-type", "text/plain")], secrets.token_hex(5).encode())

    # ---- list objects -------------------------------------------------------------

    async def list_objects(self, ctx: _Ctx, msg: dict[str, Any]) -> Response:
        value = msg.get("value") or {}
        if not isinstance(value, dict):
            raise S3Error("InvalidArgument", "list: value must be a JSON object")
        prefix = str(value.get("prefix") or "")
        try:  # JSON ints or digit strings only (Infinity, 1e400, "²", lists: 400, not 500)
            page_size = from_json(value.get("pagesize") or 0, lo=-INT64_MAX)  # AIS: int64
            flags = from_json(value.get("flags") or 0, hi=2**64 - 1)  # AIS: uint64
        except NumberError:
            raise S3Error("InvalidArgument", "list: pagesize and flags are numbers") from None
        if page_size <= 0 or page_size > MAX_PAGE_SIZE:
            page_size = MAX_PAGE_SIZE
        token = str(value.get("continuation_token") or "")
        start_after = str(value.get("start_after") or "")
        marker = max(token, start_after)
        props = {p.strip() for p in str(value.get("props") or "").split(",") if p.strip()}
        unknown = props - LIST_PROPS
        if unknown:
            raise S3Error("InvalidArgument", f"list: unknown props {', '.join(sorted(unknown))}")
        if not props or flags & LS_NAME_ONLY:
            props = {"name", "size"} if not flags & LS_NAME_ONLY else {"name"}
        no_recursion = bool(flags & LS_NO_RECURSION)
        binfo = await self.store.get_bucket(ctx.bucket)
        page = await self.store.list_objects(
            ctx.bucket,
            prefix=prefix,
            delimiter="/" if no_recursion else "",
            start_after=marker,
            max_keys=page_size,
            # the user metadata comes with the listing: no HEAD per entry for "custom"
            # (nor for "checksum" and "version": index columns too)
            with_extra=bool(props & {"custom", "checksum"}),
        )
        copies = int(binfo.props.get("mirror.copies", 1) or 1)
        entries: list[tuple[str, dict[str, Any]]] = []
        for e in page.entries:
            ent: dict[str, Any] = {"n": e.key, "f": ENTRY_IS_CACHED}
            if "size" in props:
                ent["s"] = e.size
            if "atime" in props:
                ent["a"] = rfc822(e.mtime_ns)
            if "copies" in props:
                ent["c"] = copies
            if props & {"location", "node", "target_url"}:
                ent["t"] = f"t[{self.node_id}]"
            custom: list[tuple[str, str]] = []
            if "etag" in props:
                custom.append(("ETag", e.etag))
            if "last-modified" in props:
                custom.append(("LastModified", format_http_date(e.mtime_ns)))
            if "checksum" in props:
                ent["cs"] = checksum_of(e.checksum_type, e.checksum_value, e.extra)[1]
            if "version" in props:
                ent["v"] = str(e.generation)
            if "custom" in props and e.user:
                custom.extend(sorted(e.user.items()))
            if custom:
                ent["m"] = encode_custom_md(custom)
            entries.append((e.key, ent))
        if not flags & LS_NO_DIRS:
            for cp in page.common_prefixes:
                entries.append((cp, {"n": cp, "f": ENTRY_IS_DIR}))
        entries.sort(key=lambda pair: pair[0])
        next_token = (page.next_marker or "") if page.is_truncated else ""
        uuid = str(value.get("uuid") or "") or secrets.token_hex(5)
        wire = [ent for _, ent in entries]
        accept = ctx.http.headers.get("accept") or ""
        if MSGPACK in accept:
            body = packb(
                {"UUID": uuid, "ContinuationToken": next_token, "Flags": 0, "Entries": wire}
            )
            return Response(200, [("content-type", MSGPACK)], body)
        return json_response(
            {
                "uuid": uuid,
                "continuation_token": next_token,
                "flags": 0,
                "entries": [_entry_json(ent) for ent in wire],
            }
        )

    # ---- objects ------------------------------------------------------------------

    def _object_headers(self, info: ObjectInfo, copies: int) -> list[tuple[str, str]]:
        kind, value = object_checksum(info)
        headers = [
            ("ais-checksum-type", kind),
            ("ais-checksum-value", value),
            ("ais-atime", str(info.mtime_ns)),
            ("ais-version", str(info.generation)),
            ("ais-present", "true"),
            ("ais-location", f"t[{self.node_id}]"),
            ("ais-mirror-copies", str(copies)),
            ("last-modified", format_http_date(info.mtime_ns)),
            ("etag", f'"{info.etag}"'),
            ("accept-ranges", "bytes"),
        ]
        if info.meta.user:
            headers.append(
                ("ais-custom-md", encode_custom_md(sorted(info.meta.user.items())))
            )
        if len(info.chunks) > 1:
            headers.append(("ais-chunks-count", str(len(info.chunks))))
            headers.append(("ais-chunks-max-chunk-size", str(max(c.size for c in info.chunks))))
        return headers

    async def get_object(self, ctx: _Ctx, head: bool) -> Response:
        q = ctx.http.query_dict()
        props_q = q.get("props")
        if head and props_q:
            unknown = {p.strip() for p in props_q.split(",") if p.strip()} - HEAD_PROPS
            if unknown:
                raise S3Error(
                    "InvalidArgument", f"HEAD: unknown props {', '.join(sorted(unknown))}"
                )
        info = await self.store.head_object(ctx.bucket, ctx.key, with_data=not head)
        binfo = await self.store.get_bucket(ctx.bucket)
        copies = int(binfo.props.get("mirror.copies", 1) or 1)
        headers = self._object_headers(info, copies)
        if head:
            headers += [
                ("ais-name", ctx.key or ""),
                ("ais-bucket-name", ctx.bucket),
                ("ais-bucket-provider", "ais"),
                ("content-length", str(info.size)),
                ("content-type", "application/octet-stream"),
            ]
            return Response(200, headers, head=True)
        range_header = ctx.http.headers.get("range")
        if range_header is not None and "," in range_header:
            raise S3Error(
                "InvalidRange", "multi-range requests are not supported",
                extra={"ActualObjectSize": str(info.size)},
            )
        span = parse_range(range_header, info.size)
        headers.append(("content-type", "application/octet-stream"))
        if span is None:
            start, end, status = 0, info.size - 1, 200
        else:
            start, end = span
            status = 206
            headers.append(("content-range", content_range(start, end, info.size)))
        length = max(0, end - start + 1)
        headers.append(("content-length", str(length)))
        validate = span is None and bool(
            binfo.props.get(
                "checksum.validate_warm_get",
                self.cfg.bucket_defaults.get("checksum.validate_warm_get", True),
            )
        )
        body: AsyncIterator[bytes]
        if length == 0:
            return Response(status, headers, b"")
        kind, expected = object_checksum(info)
        hasher = new_cksum(kind) if validate and expected else None
        if hasher is None:
            body = self.store.read_object(info, start, end)
        else:
            body = self._validated(ctx, info, hasher, kind, expected)
        try:
            # a corrupt object with no good copy: a clean 500 rather than a cut body
            body = await first_piece_read(body)
        except StoreCorruption as exc:
            log.error("GET %s: no good copy of %s", cname(ctx.bucket, ctx.key), exc)
            raise no_good_copy() from None
        return Response(status, headers, body)

    async def _validated(
        self, ctx: _Ctx, info: ObjectInfo, hasher: Cksum, kind: str, expected: str
    ) -> AsyncIterator[bytes]:
        """Stream the whole object, hashing as it goes; a mismatch cuts the response."""
        fast = kind in FAST
        pieces = self.store.read_object(info, 0, info.size - 1)
        # the last piece is held back until the checksum is known: on a mismatch the
        # client gets less than Content-Length and sees a failed transfer
        held: bytes | None = None
        try:
            async for piece in pieces:
                if fast:
                    hasher.update(piece)
                else:
                    await trio.to_thread.run_sync(hasher.update, piece)
                if held is not None:
                    yield held
                held = piece
        finally:
            closer = getattr(pieces, "aclose", None)
            if closer is not None:
                await closer()
        actual = hasher.hexdigest()
        if actual != expected:
            self.metrics.checksum_error()
            log.error(
                "checksum mismatch on GET %s: %s stored %s, read %s",
                cname(ctx.bucket, ctx.key), kind, expected, actual,
            )
            raise ChecksumMismatch(f"{cname(ctx.bucket, ctx.key)}: {kind} mismatch")
        if held is not None:
            yield held

    async def put_object(self, ctx: _Ctx) -> Response:
        assert ctx.key is not None
        validate_key(ctx.key)
        h = ctx.http.headers
        binfo = await self.store.get_bucket(ctx.bucket)
        kind = str(
            binfo.props.get(
                "checksum.type", self.cfg.bucket_defaults.get("checksum.type", DEFAULT_CHECKSUM)
            )
        )
        hashers: dict[str, Any] = {}
        own = new_cksum(kind) if kind not in STORE_COMPUTED else None
        if own is not None:
            hashers["ais:" + kind] = own
        # end-to-end protection: the client's own checksum (Ais-Checksum-Type/-Value)
        client_type = (h.get("ais-checksum-type") or "").strip().lower()
        client_value = (h.get("ais-checksum-value") or "").strip().lower()
        client_hasher: Cksum | None = None
        if client_type and client_value and client_type != "none":
            if client_type not in CHECKSUM_TYPES:
                raise S3Error("InvalidArgument", f"invalid checksum type {client_type!r}")
            client_hasher = new_cksum(client_type)
            if client_hasher is not None:
                hashers["client:" + client_type] = client_hasher
        custom = decode_custom_md(h.get("ais-custom-md"))
        meta = ObjectMeta(user={k.lower(): v for k, v in custom.items()})
        declared = _signed_payload_hash(ctx)
        body_sha256 = hashlib.sha256() if declared else None
        if body_sha256 is not None:
            hashers["sigv4:sha256"] = body_sha256

        def before_commit(_result: WriteResult) -> None:
            if body_sha256 is not None:
                check_payload_sha256(declared, body_sha256.digest())
            if client_hasher is not None and client_hasher.hexdigest() != client_value:
                raise S3Error(
                    "BadDigest",
                    f"{cname(ctx.bucket, ctx.key)}: {client_type} checksum mismatch: "
                    f"expected {client_value}, got {client_hasher.hexdigest()}",
                )
            if own is not None:
                meta.extra[EXTRA_KEY] = {"type": kind, "value": own.hexdigest()}

        length = h.get("content-length")
        expected_size = _uint_or_none(length)
        info = await self.store.put_object(
            ctx.bucket,
            ctx.key,
            ctx.http.body(),
            meta,
            expected_size=expected_size,
            hashers=hashers or None,
            before_commit=before_commit,
        )
        copies = int(binfo.props.get("mirror.copies", 1) or 1)
        return Response(200, self._object_headers(info, copies))

    async def rename_object(self, ctx: _Ctx, msg: dict[str, Any]) -> Response:
        new_name = str(msg.get("name") or "")
        if not new_name:
            raise S3Error("InvalidArgument", "rename-obj: missing the new name")
        validate_key(new_name)
        assert ctx.key is not None
        await self.store.rename_object(ctx.bucket, ctx.key, new_name)
        return Response(200)

    # ---- cluster / daemon ---------------------------------------------------------

    def _snode(self, ctx: _Ctx, daemon_type: str) -> dict[str, Any]:
        req = ctx.http
        host = req.host or ""
        if not host:
            server = req.scope.get("server") or ("127.0.0.1", 8080)
            host = f"{server[0]}:{server[1]}"
        hostname, _, port = host.rpartition(":")
        if not hostname or not port.isdigit():
            hostname, port = host, "443" if req.scheme == "https" else "80"
        url = f"{req.scheme}://{host}"
        net = {"node_hostname": hostname.strip("[]"), "daemon_port": port, "direct_url": url}
        daemon_id = self.node_id + ("p" if daemon_type == "proxy" else "t")
        return {
            "daemon_id": daemon_id,
            "daemon_type": daemon_type,
            "public_net": net,
            "intra_control_net": net,
            "intra_data_net": net,
            "flags": 0,
            "id_digest": xxhash.xxh64_intdigest(daemon_id.encode()) & 0x7FFFFFFFFFFFFFFF,
        }

    def _smap(self, ctx: _Ctx) -> dict[str, Any]:
        proxy = self._snode(ctx, "proxy")
        target = self._snode(ctx, "target")
        return {
            "tmap": {target["daemon_id"]: target},
            "pmap": {proxy["daemon_id"]: proxy},
            "proxy_si": proxy,
            "version": 1,
            "uuid": self.cluster_uuid,
            "creation_time": self.created,
        }

    def cluster_config(self) -> dict[str, Any]:
        d = self.cfg.bucket_defaults
        names = self.features.names()
        copies = int(d.get("mirror.copies", self.cfg.store.default_copies) or 1)
        return {
            "checksum": {
                "type": str(d.get("checksum.type", DEFAULT_CHECKSUM)),
                "validate_warm_get": bool(d.get("checksum.validate_warm_get", True)),
                "validate_cold_get": False,
                "validate_obj_move": False,
                "enable_read_range": False,
            },
            "mirror": {"enabled": copies > 1, "copies": copies, "burst_buffer": 128},
            "versioning": {
                "enabled": bool(d.get("versioning.enabled", False)),
                "validate_warm_get": False,
                "synchronize": False,
            },
            "features": features_to_bitmask(names),
            "feature_names": names,
            "auth": {"enabled": self.cfg.auth.mode != "open", "mode": self.cfg.auth.mode},
            "net": {
                "http": {"use_https": bool(self.cfg.net.https_listen)},
                "s3_path": self.cfg.net.s3_path,
            },
            "chunks": {"chunk_size": self.cfg.store.chunk_size},
        }

    async def _node_stats(self, ctx: _Ctx) -> dict[str, Any]:
        stats: dict[str, Any] = {}
        getter = getattr(self.store, "stats", None)
        if getter is not None:
            stats = await getter()
        mps = stats.get("mountpaths") or []
        total = sum(int(m.get("total", 0) or 0) for m in mps)
        used = sum(int(m.get("used", 0) or 0) for m in mps)
        return {
            "snode": self._snode(ctx, "target"),
            "status": "online" if self.app.ready else "starting",
            "version": __version__,
            "build_time": "",
            "uptime": str(time.time_ns() - int(getattr(self.app, "started_ns", 0))),
            "capacity": {"total": total, "used": used,
                         "pct_used": round(100 * used / total, 2) if total else 0},
            "store": stats,
            "requests": self.metrics.request_count(),
        }

    async def get_info(self, ctx: _Ctx, where: str) -> Response:
        await ctx.http.read_body(MAX_CONTROL_BODY)
        what = ctx.http.query_dict().get("what", "")
        if what == "smap":
            return json_response(self._smap(ctx))
        if what == "snode":
            return json_response(self._snode(ctx, "target"))
        if what == "config":
            conf = self.cluster_config()
            if where == "daemon":
                conf["local"] = {
                    "confdir": self.cfg.state_dir,
                    "host_net": {"listen": list(self.cfg.net.listen)},
                    "fspaths": {"paths": {p: "" for p in self.cfg.store.mountpaths}},
                }
            return json_response(conf)
        if what == "bmd":
            buckets = await self.store.list_buckets()
            return json_response(
                {
                    "uuid": self.cluster_uuid,
                    "version": len(buckets),
                    "providers": {
                        "ais": {
                            "#": {
                                b.name: bucket_props_json(
                                    b.name, b.props, b.created_ns, self.cfg.bucket_defaults
                                )
                                for b in buckets
                            }
                        }
                    },
                }
            )
        if what in ("stats", "node_status", "status"):
            stats = await self._node_stats(ctx)
            if where == "cluster":
                return json_response({stats["snode"]["daemon_id"]: stats})
            return json_response(stats)
        if what == "mountpaths":
            stats = await self.store.stats()
            mps = stats.get("mountpaths") or []
            return json_response(
                {
                    "available": [m["path"] for m in mps if m.get("enabled", True)],
                    "disabled": [m["path"] for m in mps if not m.get("enabled", True)],
                    "details": mps,
                }
            )
        if what == "software_version":
            return json_response(__version__)
        if what in ("status_all", "running_all"):
            return json_response([])
        raise S3Error(
            "InvalidArgument",
            f"unknown what={what!r}; supported: smap, snode, config, bmd, stats, node_status, "
            "mountpaths, software_version",
        )

    async def set_config(self, ctx: _Ctx, sub: str) -> Response:
        """``PUT /v1/cluster/set-config?k=v`` or ``PUT /v1/cluster {"action":"set-config"}``."""
        msg = await self._action_msg(ctx)
        action = str(msg.get("action") or "")
        if sub == "set-config" or (not sub and action in ("", "set-config")):
            items: dict[str, Any] = {
                k: v for k, v in ctx.http.query if k not in ("transient", "provider")
            }
            value = msg.get("value")
            if isinstance(value, dict):
                items.update(flatten(value))
            if not items:
                raise S3Error("InvalidArgument", "set-config: nothing to set")
            return json_response(await self._apply_config(items))
        if not sub and action == "reset-config":
            self.cfg.bucket_defaults.clear()
            self._save_cluster_config()
            self.features.set([])
            return json_response(self.cluster_config())
        raise S3Error("InvalidArgument", f"unsupported config request {sub or action!r}")

    async def _apply_config(self, items: dict[str, Any]) -> dict[str, Any]:
        features: list[str] | None = None
        patch: dict[str, Any] = {}
        others: dict[str, Any] = {}
        for key, value in items.items():
            if key in ("features", "feature_names"):
                try:
                    features = parse_feature_list(value, FEATURE_FLAGS)
                except PropError as e:
                    raise S3Error("InvalidArgument", str(e)) from None
            elif key in BUCKET_PROPS and key != "features":
                others[key] = value
            else:
                valid = ["features", *(k for k in BUCKET_PROPS if k != "features")]
                raise S3Error(
                    "InvalidArgument",
                    f"unknown or read-only config key {key!r}; settable: {', '.join(valid)}",
                )
        if others:
            try:
                patch = normalize_patch(others, self.cfg.bucket_defaults)
            except PropError as e:
                raise S3Error("InvalidArgument", str(e)) from None
        if features is not None:
            self.features.set(features)
        if patch:
            self.cfg.bucket_defaults.update(patch)
            await trio.to_thread.run_sync(self._save_cluster_config)
        return self.cluster_config()


class ChecksumMismatch(Exception):
    """The data read back does not match the stored checksum (the response is cut)."""


class _Ctx:
    __slots__ = ("http", "operation", "bucket", "key", "auth", "caller")

    def __init__(self, http: Request) -> None:
        self.http = http
        self.operation = "Unknown"
        self.bucket = ""
        self.key: str | None = None
        self.auth: AuthResult | None = None  # a verified S3 signature (sigv4 mode)
        self.caller: Caller = OPEN  # who: a user, or the open node (node/native_auth.py)


def _signed_payload_hash(ctx: _Ctx) -> str:
    """The hex SHA-256 of the body that a verified signature covers, else ""."""
    if ctx.auth is None or ctx.auth.presigned:
        return ""
    declared = (ctx.http.headers.get("x-amz-content-sha256") or "").strip()
    return declared if len(declared) == 64 else ""


def _entry_json(ent: dict[str, Any]) -> dict[str, Any]:
    names = {"n": "name", "s": "size", "cs": "checksum", "a": "atime", "v": "version",
             "t": "location", "m": "custom-md", "c": "copies", "f": "flags"}
    return {names[k]: v for k, v in ent.items()}


def _is_ais_noise(key: str) -> bool:
    """Props of a full AIS Bprops that aisfs does not keep (accepted and ignored)."""
    return key.split(".", 1)[0] in (
        "backend_bck", "write_policy", "checksum", "versioning", "mirror", "ec", "lru",
        "rate_limit", "extra", "chunks",
    )


def _unsupported(action: str) -> S3Error:
    return S3Error("NotImplemented", f"bucket action {action!r} is not supported", status=501)


def _method_not_allowed(method: str, path: str) -> S3Error:
    return S3Error("MethodNotAllowed", f"{method} is not allowed on {path}")


