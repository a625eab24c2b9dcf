"""The native ``/v1`` API in AIStore's URL layout and JSON messages, plus ``/metrics``:
the edge (errors, metrics, sending) and the route table.

Enough of AIS's REST API (``api/apc/urlpaths.go``, ``docs/http_api.md``) for the
``aistore`` Python SDK 2.0.0 to work unmodified against a node, and for the ``aisfs``
CLI (docs/native-api.md has the routes and the module map). Each route names a handler
in a module of its concern - ``buckets``, ``listing``, ``objects``, ``cluster``,
``admin``, ``locate`` - all given the node's collaborators (``wire.Node``) and the
request (``wire.Ctx``); backend buckets are answered first by ``remote``.

Error answers are AIS-style JSON (``aisfs_node.errors.ais_error``) whose *message* embeds the
bucket/object name: the SDK picks its exception type from that text. Expected failures
are 4xx, never 5xx (the SDK retries 5xx for a minute and a half).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aisfs.errors import S3Error
from aisfs_node import native_auth
from aisfs_node.errors import ais_error, answer
from aisfs_node.http import Receive, Request, Response, Scope, Send, send_or_cut
from aisfs_node.native import admin, buckets, cluster, listing, locate, lru, objects
from aisfs_node.native import changes as native_changes
from aisfs_node.native import copy as native_copy
from aisfs_node.native import inventory as nbi
from aisfs_node.native import jobs as native_jobs
from aisfs_node.native.wire import Ctx, Node, action_msg, method_not_allowed, unsupported

if TYPE_CHECKING:
    from aisfs_node.lru import LruService
    from aisfs_node.native.remote import RemoteNative

log = logging.getLogger("aisfs.native")

# (method, action) of /v1/buckets/B -> (operation, handler); HEAD reads no message
MsgHandler = Callable[[Node, Ctx, dict[str, Any]], Awaitable[Response]]
BUCKET_ROUTES: dict[tuple[str, str], tuple[str, MsgHandler]] = {
    ("POST", ""): ("CreateBucket", buckets.create_bucket),
    ("POST", "create-bck"): ("CreateBucket", buckets.create_bucket),
    ("POST", "make-n-copies"): ("SetBucketProps", buckets.make_n_copies),
    ("POST", "rename-prefix"): ("RenamePrefix", buckets.rename_prefix),
    ("DELETE", ""): ("DestroyBucket", buckets.destroy_bucket),
    ("DELETE", "destroy-bck"): ("DestroyBucket", buckets.destroy_bucket),
    ("DELETE", "delete-listrange"): ("DeleteObjects", buckets.delete_list),
    ("GET", ""): ("ListObjects", listing.list_objects),
    ("GET", "list"): ("ListObjects", listing.list_objects),
    ("PATCH", ""): ("SetBucketProps", buckets.set_bucket_props),
    ("PATCH", "set-bprops"): ("SetBucketProps", buckets.set_bucket_props),
    ("PATCH", "reset-bprops"): ("SetBucketProps", buckets.reset_bucket_props),
    # native bucket inventory of an ais:// bucket with backend_bck (s3://: node.native.remote)
    ("POST", "create-inventory"): ("CreateInventory", nbi.local_action),
    ("DELETE", "destroy-inventory"): ("DestroyInventory", nbi.local_action),
    ("GET", "show-inventory"): ("ShowInventory", nbi.local_action),
}
BUCKET_METHODS = frozenset(method for method, _ in BUCKET_ROUTES)
# /v1/objects/B/K: by method; POST by its message's action
Handler = Callable[[Node, Ctx], Awaitable[Response]]
OBJECT_ROUTES: dict[str, tuple[str, Handler]] = {
    "GET": ("GetObject", objects.get_object),
    "HEAD": ("HeadObject", objects.head_object),
    "PUT": ("PutObject", objects.put_object),
    "DELETE": ("DeleteObject", objects.delete_object),
}
OBJECT_ACTIONS: dict[str, tuple[str, MsgHandler]] = {
    "rename-obj": ("RenameObject", objects.rename_object),
    "locate": ("LocateObject", locate.locate),  # short-circuit local reads
}


class NativeApi:
    """ASGI callable for ``/v1/...`` and ``/metrics``; built by ``NodeApp``."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.remote: RemoteNative | None = None  # backend buckets (aisfs_node.backends)
        self.lru: LruService | None = None  # /v1/daemon/lru (aisfs_node.lru)
        cluster.load_cluster_config(node.cfg)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            return
        request = Request(scope, receive)
        started = time.perf_counter()
        ctx = Ctx(request)
        what = f"native {request.method} {request.raw_path}"

        def render(err: S3Error) -> Response:
            return ais_error(err, request.method, request.raw_path, request.client,
                             self.node.node_id, ctx.bucket, ctx.key)

        response = await answer(lambda: self._dispatch(ctx), render, log, what)
        response.headers.append(("server", "aisfs"))
        sent = 0
        try:
            sent, cut = await send_or_cut(send, response, what)
            if cut:
                response.status = 500 if response.status < 400 else response.status
        finally:
            self.node.metrics.observe_request(
                "native", ctx.operation, response.status, time.perf_counter() - started,
                request.bytes_received, sent,
            )

    async def _dispatch(self, ctx: Ctx) -> Response:
        node = self.node
        path = ctx.http.raw_path
        if path == "/metrics":
            ctx.operation = "Metrics"
            native_auth.probe_allowed(node, node.cfg, ctx.http)  # auth.metrics
            return await cluster.metrics_response(node)
        if node.cfg.auth.mode != "open":  # else ctx.caller stays OPEN
            native_auth.identify(node, ctx)
        parts = path[len("/v1/"):].split("/", 2) if path.startswith("/v1/") else [""]
        head = parts[0]
        if head != "health":  # admin-only routes, bucket owners, /v1/users
            gated = await native_auth.gate(node, ctx, head, parts)
            if gated is not None:
                return gated
        if (head == "buckets" and len(parts) == 2 and parts[1]  # the change feed
                and ctx.http.method == "GET" and ctx.http.query_dict().get("what") == "changes"):
            ctx.bucket = unquote(parts[1])
            return await native_changes.changes(node, ctx, self.remote)
        if head == "buckets" and (  # prefetch/evict jobs (aisfs_node/native/jobs.py)
                answered := await native_jobs.bucket_job(node, ctx, parts, self.remote)):
            return answered
        if head == "buckets" and (  # copy-bck, copy-listrange (aisfs_node/native/copy.py)
                answered := await native_copy.copy_job(node, ctx, parts, self.remote)):
            return answered
        if self.remote is not None and head in ("buckets", "objects"):
            answered = await self.remote.handle(node, ctx, head, parts)
            if answered is not None:
                return answered
        if head == "buckets":
            return await self._buckets(ctx, parts)
        if head == "objects":
            return await self._objects(ctx, parts)
        if head in ("daemon", "cluster"):
            return await self._cluster(ctx, head, parts)
        if head == "health":
            ctx.operation = "Health"
            native_auth.probe_allowed(node, node.cfg, ctx.http)  # auth.metrics
            return cluster.health(node)
        raise S3Error("InvalidURI", f"no such native API path: {path}", status=404)

    async def _buckets(self, ctx: Ctx, parts: list[str]) -> Response:
        _check_provider(ctx)
        method, path = ctx.http.method, ctx.http.raw_path
        name = unquote(parts[1]) if len(parts) > 1 else ""
        if len(parts) > 2 and parts[2]:
            raise S3Error("InvalidURI", f"unexpected path {path!r}")
        if not name:
            if method == "GET":
                ctx.operation = "ListBuckets"
                return await buckets.list_buckets(self.node, ctx)
            raise method_not_allowed(method, path)
        ctx.bucket = name
        if method == "HEAD":
            ctx.operation = "HeadBucket"
            return await buckets.head_bucket(self.node, ctx)
        msg = await action_msg(ctx)
        action = str(msg.get("action") or "")
        route = BUCKET_ROUTES.get((method, action))
        if route is None:
            if method in BUCKET_METHODS:
                raise unsupported(action)
            raise method_not_allowed(method, path)
        ctx.operation, handler = route
        return await handler(self.node, ctx, msg)

    async def _objects(self, ctx: Ctx, parts: list[str]) -> Response:
        _check_provider(ctx)
        if len(parts) < 3 or not parts[1] or not parts[2]:
            raise S3Error("InvalidURI", "expected /v1/objects/BUCKET/OBJECT")
        ctx.bucket = unquote(parts[1])
        ctx.key = unquote(parts[2])
        method = ctx.http.method
        route = OBJECT_ROUTES.get(method)
        if route is not None:
            ctx.operation, handler = route
            return await handler(self.node, ctx)
        if method != "POST":
            raise method_not_allowed(method, ctx.http.raw_path)
        msg = await action_msg(ctx)
        action_route = OBJECT_ACTIONS.get(str(msg.get("action")))
        if action_route is None:
            raise S3Error(
                "NotImplemented", f"object action {msg.get('action')!r} is not supported",
                status=501,
            )
        ctx.operation, msg_handler = action_route
        return await msg_handler(self.node, ctx, msg)

    async def _cluster(self, ctx: Ctx, head: str, parts: list[str]) -> Response:
        method = ctx.http.method
        sub = parts[1] if len(parts) > 1 else ""
        if head == "daemon" and sub == "lru" and self.lru is not None:
            return await lru.handle(self.lru, ctx)
        if head == "daemon" and sub in admin.SUBS:  # mountpaths, resilver, scrub, jobs
            return await admin.handle(self.node, ctx, sub, parts[2] if len(parts) > 2 else "")
        if head == "cluster" and not sub and (  # job status/stop (aisfs_node/native/jobs.py)
                answered := await native_jobs.cluster_job(self.node, ctx, self.lru)):
            return answered
        if method == "GET" and not sub:
            ctx.operation = "GetClusterInfo" if head == "cluster" else "GetNodeInfo"
            return await cluster.get_info(self.node, ctx, head)
        if method == "PUT":
            ctx.operation = "SetConfig"
            return await cluster.set_config(self.node, ctx, sub)
        raise method_not_allowed(method, ctx.http.raw_path)


def _check_provider(ctx: Ctx) -> None:
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
