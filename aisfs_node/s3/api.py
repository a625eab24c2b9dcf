"""The S3 facade's router: decode a request with ``aisfs.s3`` (sans-IO), authenticate it,
send it to its operation, answer errors at the one edge (``aisfs_node.errors``), stream.

Each operation is a method ``op_<AwsOperation>`` of one of the parts - ``BucketOps``,
``ObjectOps``, ``MultipartOps`` (with copies and multi-object delete),
``BucketConfigOps`` - each given the node's ``Services``; backend buckets go through
``remote`` (``aisfs_node.s3.remote``) first. Client mistakes are ``S3Error``s rendered as the
S3 XML error document; anything else is logged once with the request id and answered
``500 InternalError`` - never a traceback on the wire.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aisfs.auth.caller import OPEN
from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from aisfs.s3.refusals import check_unsupported
from aisfs.s3.request import S3Request, route
from aisfs.store.store import Store
from aisfs_node.errors import answer, s3_error
from aisfs_node.features import FeatureFlags
from aisfs_node.http import Request, Response, Send, send_or_cut
from aisfs_node.metrics import Metrics
from aisfs_node.s3.access_ops import AccessOps
from aisfs_node.s3.bucket_config import BucketConfigOps
from aisfs_node.s3.buckets import BucketOps
from aisfs_node.s3.context import Context, Services
from aisfs_node.s3.encryption_ops import EncryptionOps
from aisfs_node.s3.lifecycle import LifecycleOps
from aisfs_node.s3.multipart import MultipartOps
from aisfs_node.s3.object_lock_ops import ObjectLockOps
from aisfs_node.s3.objects import ObjectOps
from aisfs_node.s3.policy_ops import PolicyOps
from aisfs_node.s3.post_object import PostObject, form_route
from aisfs_node.s3.presigned import FEATURE as PRESIGNED
from aisfs_node.s3.presigned import PresignedOffload, bucket_flag, offload_signature
from aisfs_node.s3_access import NOTHING
from aisfs_node.s3_auth import Authenticator

if TYPE_CHECKING:
    from aisfs_node.s3.remote import RemoteS3

log = logging.getLogger("aisfs.s3")

Operation = Callable[[Context], Awaitable[Response]]


class S3Api:
    def __init__(
        self, cfg: NodeConfig, store: Store, features: FeatureFlags, metrics: Metrics
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.features = features
        self.authenticator = Authenticator(cfg)
        self.metrics = metrics
        self.services = Services(cfg, store, self.authenticator)
        self.config = BucketConfigOps(self.services)
        parts = (BucketOps(self.services), ObjectOps(self.services),
                 MultipartOps(self.services), self.config, LifecycleOps(self.services),
                 AccessOps(self.services), PolicyOps(self.services),
                 ObjectLockOps(self.services), EncryptionOps(self.services))
        # AWS operation name -> its method (op_ListBuckets -> "ListBuckets")
        self.operations: dict[str, Operation] = {
            name[3:]: getattr(part, name)
            for part in parts for name in dir(part) if name.startswith("op_")
        }
        self.remote: RemoteS3 | None = None  # backend buckets (aisfs_node.backends)
        self.presigned: PresignedOffload | None = None  # made on first use (s3/presigned.py)
        self.post_object = PostObject(self.services, self._is_remote)  # browser forms
        domain = cfg.net.virtual_host_domain.strip(".").lower()
        self.vhost_domain = domain or None

    def is_virtual_host(self, host: str) -> bool:
        if not self.vhost_domain:
            return False
        name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
        return name.endswith("." + self.vhost_domain)

    # ---- dispatch -------------------------------------------------------------------

    async def handle(self, http: Request, send: Send, request_id: str, base_path: str) -> None:
        started = time.perf_counter()
        s3: S3Request | None = None

        async def call() -> Response:
            nonlocal s3
            # a browser form (POST Object) carries its own credentials: before the others
            s3 = form_route(http, base_path, self.vhost_domain)
            if s3 is not None:
                return await self.post_object.handle(http, s3, base_path)
            s3 = route(
                http.method,
                http.raw_path,
                http.query,
                http.host,
                base_path=base_path,
                virtual_host_domain=self.vhost_domain,
                headers=http.headers,  # type: ignore[arg-type]
            )
            return await self._dispatch(http, s3, request_id, base_path)

        def render(err: S3Error) -> Response:
            resource = s3.resource if s3 is not None else http.raw_path
            return s3_error(err, resource, request_id, http.method == "HEAD")

        what = f"request {request_id} {http.method} {http.raw_path}"
        response = await answer(call, render, log, what, request_id)
        operation = s3.operation if s3 is not None else "Unknown"
        if http.headers.get("origin") and s3 is not None and s3.operation != "PreflightRequest":
            try:
                response.headers += await self.config.cors_headers(http, s3.bucket)
            except S3Error:
                pass
        response.headers.append(("x-amz-request-id", request_id))
        response.headers.append(("server", "aisfs"))
        status = response.status
        sent = 0
        try:
            sent, cut = await send_or_cut(send, response, what, request_id)
            if cut:
                status = 500 if status < 400 else status
        finally:
            self.metrics.observe_request(
                "s3", operation, status, time.perf_counter() - started,
                http.bytes_received, sent,
            )
        log.debug(
            "%s %s %s -> %d in %.1f ms",
            request_id,
            operation,
            http.raw_path,
            status,
            (time.perf_counter() - started) * 1000,
        )

    async def _dispatch(
        self, http: Request, s3: S3Request, request_id: str, base_path: str
    ) -> Response:
        """Authenticate and authorize the routed request, then run its operation."""
        handler = self.operations.get(s3.operation)
        if handler is None:
            raise S3Error(
                "NotImplemented",
                f"{s3.operation} is not implemented by aisfs yet",
                status=501,
            )
        offloaded = await self._offloaded(http, s3, request_id, base_path)
        if offloaded is not None:
            return offloaded
        auth = None
        caller = OPEN
        plan = NOTHING
        if s3.operation != "PreflightRequest":
            bucket_path = http.raw_path[len(base_path):] if base_path else http.raw_path
            if s3.virtual_host:
                bucket_path = f"/{s3.bucket}{http.raw_path}"
            caller, auth = self.authenticator.identify(http, bucket_path, anonymous=True)
            plan = await self.authenticator.authorize_s3(self.store, caller, s3, http)
            # SSE / object-lock headers: refused (501, or AWS's 400), never ignored
            check_unsupported(s3.operation, http.headers)  # type: ignore[arg-type]
        ctx = Context(http, s3, request_id, auth, caller)
        if s3.operation == "ListBuckets" and not caller.open:
            return await handler(ctx)  # the caller's own (aisfs_node/s3_auth.py)
        if self.remote is not None:  # a backend bucket's own path (``resolve``: None else)
            response = await self.remote.handle(ctx, handler)
        else:
            response = await handler(ctx)
        if plan.operation:  # the ACL a write gave (aisfs_node/s3_access.py)
            await self.authenticator.access.apply(self.store, plan, response)
        return response

    async def _is_remote(self, bucket: str) -> bool:
        return self.remote is not None and await self.remote.resolve(bucket) is not None

    async def _offloaded(
        self, http: Request, s3: S3Request, request_id: str, base_path: str
    ) -> Response | None:
        """A request signed for the backend, sent there as signed (S3-Presigned-Request:
        only on a backend bucket, only a key the node's users do not have - docs/backends.md);
        None: the node's own authentication applies."""
        if self.remote is None or s3.bucket is None:
            return None
        if not http.query and not self.features.enabled(PRESIGNED):
            return None  # with the flag off only a presigned URL (a query) is offloaded
        sig = offload_signature(http, s3.operation, self.authenticator.users)
        if sig is None:
            return None
        # the bucket-scope flag: presigned URLs only (no store lookup on the hot path of
        # every header-signed request of an open node)
        if not self.features.enabled(PRESIGNED) and not (
                sig.presigned and await bucket_flag(self.store, s3.bucket)):
            return None
        rb = await self.remote.resolve(s3.bucket)
        if rb is None:
            return None
        check_unsupported(s3.operation, http.headers)  # type: ignore[arg-type]
        if self.presigned is None:
            self.presigned = PresignedOffload.for_remote(self.services, self.remote)
        ctx = Context(http, s3, request_id, None)
        return await self.presigned.handle(ctx, rb, sig, base_path)
