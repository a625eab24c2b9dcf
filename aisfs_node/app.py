"""The node's ASGI application: one entry point that sends each request to its facade.

- ``/s3/...`` (and the root, with the ``S3-API-via-Root`` feature flag, and any
  ``bucket.<virtual_host_domain>`` host) goes to the S3 facade (``aisfs_node.s3.api``);
- ``/v1/...`` to the native API; ``/metrics`` to Prometheus; ``/health`` for probes;
- ``/v1/ui`` to the read-only status page (``aisfs_node.dashboard``).
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import time

import trio

from aisfs import __version__
from aisfs.backend import RemoteObjects
from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from aisfs.store.store import Store
from aisfs_node import lifecycle
from aisfs_node.backends import start_backends
from aisfs_node.dashboard import PREFIX as UI_PREFIX
from aisfs_node.dashboard import Dashboard
from aisfs_node.features import FeatureFlags
from aisfs_node.http import Receive, Request, Response, Scope, Send, send_response
from aisfs_node.jobs import start_jobs
from aisfs_node.lru import LruService
from aisfs_node.metrics import Metrics
from aisfs_node.native.api import NativeApi
from aisfs_node.native.remote import RemoteNative
from aisfs_node.native.wire import Node, node_id_of
from aisfs_node.native_auth import probe_allowed
from aisfs_node.s3.api import S3Api
from aisfs_node.s3.object_lock_ops import removal_guard
from aisfs_node.s3.remote import RemoteS3

log = logging.getLogger("aisfs.node")


class NodeApp:
    def __init__(self, cfg: NodeConfig, store: Store) -> None:
        self.cfg = cfg
        self.store = store
        # object lock: no path removes a protected version for good (object_lock_ops)
        store.version_removal_guard = removal_guard
        lifecycle.configure(cfg.lifecycle.day_seconds, cfg.lifecycle.interval)  # [lifecycle]
        self.features = FeatureFlags(cfg)
        self.metrics = Metrics(node_id_of(cfg), __version__)  # both APIs report here
        self.s3 = S3Api(cfg, store, self.features, self.metrics)
        self.dashboard = Dashboard(self)  # /v1/ui: the status page
        self.ready = False
        self.started_ns = time.time_ns()
        self.native_node = Node(cfg, store, self.features, self.metrics,
                                self.s3.authenticator, lambda: self.ready, self.started_ns)
        self.native = NativeApi(self.native_node)
        self.remote: RemoteObjects | None = None  # backend buckets (aisfs_node.backends)
        self.lru = LruService(cfg, store, self.metrics, self.native_node)  # node.lru
        self.native.lru = self.lru
        # request ids: 16 hex digits, a random per-process prefix and a counter (unique
        # per node without a getrandom call per request)
        self._id_prefix = secrets.token_hex(3).upper()
        self._ids = itertools.count(1)

    async def startup(self, nursery: trio.Nursery) -> None:
        self.remote, discover = await start_backends(self.cfg, self.store, nursery)
        self.s3.remote = RemoteS3(self.s3.services, self.remote, discover=discover)
        self.native.remote = RemoteNative(self.remote, discover=discover)
        runner = start_jobs(self.native_node, self.store, self.remote, nursery)  # aisfs_node/jobs
        nursery.start_soon(lifecycle.serve, self.store, runner)  # aisfs_node/lifecycle.py
        nursery.start_soon(self._gc_loop)
        await nursery.start(self.lru.serve)
        nursery.start_soon(self.dashboard.sample_loop)
        if self.cfg.store.scrub_interval > 0:
            nursery.start_soon(self._scrub_loop)

    async def _scrub_loop(self) -> None:
        """Start a scrub every ``store.scrub_interval`` seconds (one that is still running
        is left alone; progress and results: ``aisfs node scrub``/``show jobs``, the log)."""
        admin = self.store.admin
        while True:
            await trio.sleep(self.cfg.store.scrub_interval)
            try:
                prog = await trio.to_thread.run_sync(admin.scrub, None)
                log.info("scheduled scrub %s running", prog.id)
            except Exception as e:  # e.g. the store is closing
                log.warning("scheduled scrub not started: %s", e)

    async def _gc_loop(self) -> None:
        interval = self.cfg.store.gc_interval
        while True:
            await trio.sleep(interval)
            try:
                removed = await self.store.gc()
                if removed:
                    log.info("gc: removed %d orphan chunks", removed)
                await self.store.reclaim_uploads(self.cfg.store.upload_max_age)
            except Exception:
                log.exception("gc failed")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        request = Request(scope, receive)
        request_id = f"{self._id_prefix}{next(self._ids):010X}"
        path = request.raw_path
        s3_base = self.cfg.net.s3_path
        if path == s3_base or path.startswith(s3_base + "/"):
            await self.s3.handle(request, send, request_id, base_path=s3_base)
        elif self.s3.is_virtual_host(request.host):
            await self.s3.handle(request, send, request_id, base_path="")
        elif path in ("/health", "/v1/health"):
            await self._health(request, send)
        elif path == UI_PREFIX or path.startswith(UI_PREFIX + "/"):
            await self.dashboard.handle(request, send)
        elif path.startswith("/v1/") or path == "/metrics":
            await self.native(scope, receive, send)
        elif self.features.enabled("S3-API-via-Root"):
            await self.s3.handle(request, send, request_id, base_path="")
        else:
            body = b'{"message":"not found; the S3 API is at ' + s3_base.encode() + b'"}'
            await send_response(
                send, Response(404, [("content-type", "application/json")], body)
            )

    async def _health(self, request: Request, send: Send) -> None:
        if self.cfg.auth.metrics == "auth" and self.cfg.auth.mode != "open":
            try:
                probe_allowed(self.native_node, self.cfg, request)
            except S3Error as err:  # auth.metrics = "auth": a caller the node accepts
                body = json.dumps({"message": err.message}).encode()
                await send_response(
                    send, Response(err.status, [("content-type", "application/json")], body))
                return
        if self.ready:
            await send_response(send, Response(200, [("content-type", "text/plain")], b"ok\n"))
        else:
            await send_response(
                send, Response(503, [("content-type", "text/plain")], b"starting\n")
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
