"""The S3 facade: decode a request with ``aisfs.s3`` (sans-IO), call the store, stream.

Each operation is a method named after the AWS operation. Client mistakes are
``S3Error``s rendered as the S3 XML error document; anything else is logged once with
the request id and answered ``500 InternalError`` — never a traceback on the wire.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import trio

from aisfs.auth.caller import OPEN, Caller
from aisfs.config import NodeConfig
from aisfs.errors import S3Error, no_good_copy
from aisfs.s3 import xml as s3xml
from aisfs.s3._headers import stored_content_encoding
from aisfs.s3.conditions import check_preconditions, format_http_date
from aisfs.s3.names import validate_bucket_name
from aisfs.s3.ranges import content_range, parse_range
from aisfs.s3.refusals import check_unsupported, override_value
from aisfs.s3.request import S3Request, listing_encoding, parse_max, route
from aisfs.s3.sigv4 import AuthResult, check_payload_sha256
from aisfs.store.chunks import StoreCorruption
from aisfs.store.store import Store
from aisfs.store.types import STORED_HEADERS, ListPage, ObjectInfo, ObjectMeta
from node.features import FeatureFlags
from node.http import (
    Request,
    Response,
    Send,
    first_piece_read,
    only_cancelled,
    send_or_cut,
    unwrap,
)
from node.metrics import Metrics
from node.s3.body import UploadBody, checksum_headers
from node.s3.bucket_config import BucketConfigOps
from node.s3.multipart import MultipartOps
from node.s3_auth import Authenticator

log = logging.getLogger("aisfs.s3")

XML = "application/xml"
MAX_XML_BODY = 2 * 1024 * 1024
RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}


def xml_response(body: bytes, status: int = 200) -> Response:
    return Response(status, [("content-type", XML)], body)


class Context:
    """What one operation sees: the decoded request, its HTTP request, who signed it."""

    __slots__ = ("http", "s3", "request_id", "auth", "caller")

    def __init__(
        self, http: Request, s3: S3Request, request_id: str, auth: AuthResult | None,
        caller: Caller = OPEN,
    ) -> None:
        self.http = http
        self.s3 = s3
        self.request_id = request_id
        self.auth = auth
        self.caller = caller  # who: a user, anonymous, or the open node (aisfs.auth)

    @property
    def bucket(self) -> str:
        assert self.s3.bucket is not None
        return self.s3.bucket

    @property
    def key(self) -> str:
        assert self.s3.key is not None
        return self.s3.key

    def header(self, name: str) -> str | None:
        return self.http.headers.get(name)


class S3Api(MultipartOps, BucketConfigOps):
    def __init__(
        self, cfg: NodeConfig, store: Store, features: FeatureFlags, metrics: Metrics
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.features = features
        self.authenticator = Authenticator(cfg)
        self.metrics = metrics
        self.remote: Any = None  # node.s3.remote.RemoteS3: backend buckets (node.backends)
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
        resource = http.raw_path
        operation = "Unknown"
        status = 500
        s3: S3Request | None = None
        try:
            s3 = route(
                http.method,
                http.raw_path,
                http.query,
                http.host,
                base_path=base_path,
                virtual_host_domain=self.vhost_domain,
                headers=http.headers,  # type: ignore[arg-type]
            )
            operation = s3.operation
            resource = s3.resource
            handler: Callable[[Context], Awaitable[Response]] | None = getattr(
                self, f"op_{s3.operation}", None
            )
            if handler is None:
                raise S3Error(
                    "NotImplemented",
                    f"{s3.operation} is not implemented by aisfs yet",
                    status=501,
                )
            auth = None
            caller = OPEN
            if s3.operation != "PreflightRequest":
                bucket_path = http.raw_path[len(base_path):] if base_path else http.raw_path
                if s3.virtual_host:
                    bucket_path = f"/{s3.bucket}{http.raw_path}"
                caller, auth = self.authenticator.identify(http, bucket_path)
                await self.authenticator.authorize_s3(
                    self.store, caller, s3.operation, s3.bucket)
                # SSE / object-lock headers: refused (501, or AWS's 400), never ignored
                check_unsupported(s3.operation, http.headers)  # type: ignore[arg-type]
            ctx = Context(http, s3, request_id, auth, caller)
            if s3.operation == "ListBuckets" and not caller.open:
                response = await handler(ctx)  # the caller's own (node/s3_auth.py)
            elif self.remote is not None:
                response = await self.remote.handle(ctx, handler)
            else:
                response = await handler(ctx)
        except S3Error as err:
            response = self.error_response(err, resource, request_id, http.method == "HEAD")
        except (trio.Cancelled, KeyboardInterrupt):
            raise
        except BaseException as exc:
            inner = unwrap(exc)
            if only_cancelled(exc):
                raise  # the request was cancelled (shutdown deadline): nothing to answer
            if isinstance(inner, S3Error):
                response = self.error_response(inner, resource, request_id, http.method == "HEAD")
            else:
                log.error(
                    "request %s %s %s failed",
                    request_id,
                    http.method,
                    http.raw_path,
                    exc_info=inner,
                    extra={"request_id": request_id},
                )
                response = self.error_response(
                    S3Error("InternalError", "We encountered an internal error. Please try again."),
                    resource,
                    request_id,
                    http.method == "HEAD",
                )
        if http.headers.get("origin") and s3 is not None and s3.operation != "PreflightRequest":
            try:
                response.headers += await self.cors_headers(http, s3.bucket)
            except S3Error:
                pass
        response.headers.append(("x-amz-request-id", request_id))
        response.headers.append(("server", "aisfs"))
        status = response.status
        sent = 0
        try:
            sent, cut = await send_or_cut(
                send, response, f"request {request_id} {http.method} {http.raw_path}",
                request_id)
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

    async def read_small_body(self, ctx: Context, limit: int = MAX_XML_BODY) -> bytes:
        """A request document (XML), read whole and checked against a signed payload hash."""
        body = await ctx.http.read_body(limit)
        declared = (ctx.header("x-amz-content-sha256") or "").strip()
        if ctx.auth is not None and len(declared) == 64:
            check_payload_sha256(declared, hashlib.sha256(body).digest())
        return body

    def authenticate(self, ctx: Context) -> AuthResult | None:
        """The request's verified credentials (checked once, before dispatch)."""
        return ctx.auth

    def error_response(self, err: S3Error, resource: str, request_id: str, head: bool) -> Response:
        body = s3xml.error_document(err, request_id, resource)
        response = Response(err.status, [("content-type", XML)], body)
        if err.code == "InvalidRange" and "ActualObjectSize" in err.extra:
            response.headers.append(("content-range", f"bytes */{err.extra['ActualObjectSize']}"))
        if head or err.status == 304:
            response.body = b""
            response.head = True
        return response

    # ---- buckets --------------------------------------------------------------------

    async def op_ListBuckets(self, ctx: Context) -> Response:
        if not ctx.caller.open:
            return xml_response(await self.authenticator.list_buckets_xml(self.store, ctx.caller))
        buckets = await self.store.list_buckets()
        return xml_response(s3xml.list_buckets_result(buckets))

    async def op_CreateBucket(self, ctx: Context) -> Response:
        validate_bucket_name(ctx.bucket)
        body = await self.read_small_body(ctx)
        if body.strip():
            s3xml.parse_create_bucket_configuration(body)
        props = {**self.cfg.bucket_defaults, **self.authenticator.new_bucket_props(ctx.caller)}
        try:
            await self.store.create_bucket(ctx.bucket, props or None)
        except S3Error as err:
            if err.code == "BucketAlreadyOwnedByYou":  # another user's: BucketAlreadyExists
                await self.authenticator.check_recreate(self.store, ctx.caller, ctx.bucket)
            # AWS: creating a bucket you own again succeeds in us-east-1 (the legacy
            # region), is BucketAlreadyOwnedByYou in every other
            if err.code != "BucketAlreadyOwnedByYou" or self.cfg.auth.region != "us-east-1":
                raise
        return Response(200, [("location", f"/{ctx.bucket}")])

    async def op_DeleteBucket(self, ctx: Context) -> Response:
        try:
            await self.store.delete_bucket(ctx.bucket)
        except S3Error as err:
            # a bucket holding only multipart uploads in progress: S3 deletes it and them
            if err.code != "BucketNotEmpty" or not await self.store.multipart.abort_bucket_uploads(
                ctx.bucket
            ):
                raise
            await self.store.delete_bucket(ctx.bucket)
        return Response(204)

    async def op_HeadBucket(self, ctx: Context) -> Response:
        await self.store.get_bucket(ctx.bucket)
        return Response(
            200, [("x-amz-bucket-region", self.cfg.auth.region)], head=True
        )

    async def op_GetBucketLocation(self, ctx: Context) -> Response:
        await self.store.get_bucket(ctx.bucket)
        region = self.cfg.auth.region
        return xml_response(s3xml.location_constraint(None if region == "us-east-1" else region))

    async def op_GetBucketVersioning(self, ctx: Context) -> Response:
        bucket = await self.store.get_bucket(ctx.bucket)
        return xml_response(s3xml.versioning_configuration(bucket.props.get("versioning.status")))

    async def list_page(
        self, bucket: str, prefix: str, delimiter: str, start_after: str, max_keys: int
    ) -> ListPage:
        """One page of a listing (NoSuchBucket first; max-keys 0 lists nothing)."""
        await self.store.get_bucket(bucket)
        if max_keys == 0:
            return ListPage([], [], False, None)
        return await self.store.list_objects(
            bucket, prefix=prefix, delimiter=delimiter, start_after=start_after,
            max_keys=max_keys,
        )

    async def op_ListObjects(self, ctx: Context) -> Response:
        return await self._list_objects(ctx, v2=False)

    async def op_ListObjectsV2(self, ctx: Context) -> Response:
        return await self._list_objects(ctx, v2=True)

    async def _list_objects(self, ctx: Context, v2: bool) -> Response:
        q = ctx.s3.query
        max_keys = parse_max(q.get("max-keys"), "max-keys")
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter", "")
        encoding = listing_encoding(q)
        if v2:
            token = q.get("continuation-token")
            start_after = q.get("start-after", "")
            marker = s3xml.decode_continuation_token(token) if token is not None else start_after
        else:
            token = None
            start_after = ""
            marker = q.get("marker", "")
        page = await self.list_page(ctx.bucket, prefix, delimiter, marker, max_keys)
        params = s3xml.ListParams(
            prefix=prefix,
            delimiter=delimiter or None,
            max_keys=max_keys,
            encoding_type=encoding,
            marker=marker if not v2 else "",
            start_after=q.get("start-after") if v2 else None,
            continuation_token=token,
            fetch_owner=q.get("fetch-owner", "").lower() == "true",
        )
        owner = await self.authenticator.listing_owner(self.store, ctx.caller, ctx.bucket)
        if v2:
            next_token = None
            if page.is_truncated and page.next_marker is not None:
                next_token = s3xml.encode_continuation_token(page.next_marker)
            body = s3xml.list_objects_v2_result(
                ctx.bucket, page.entries, page.common_prefixes, params, page.is_truncated,
                next_token, owner,
            )
        else:
            body = s3xml.list_objects_v1_result(
                ctx.bucket, page.entries, page.common_prefixes, params, page.is_truncated,
                page.next_marker, owner,
            )
        return xml_response(body)

    # ---- objects --------------------------------------------------------------------

    def _meta_from_headers(self, ctx: Context) -> ObjectMeta:
        meta = ObjectMeta()
        total = 0
        for name, value in ctx.http.headers.items():
            if name.startswith("x-amz-meta-"):
                meta.user[name[len("x-amz-meta-") :]] = value
                total += len(name) - len("x-amz-meta-") + len(value)
            elif name in STORED_HEADERS:
                if name == "content-encoding":
                    # aws-chunked is the request's framing, not the object's (AWS strips it)
                    kept = stored_content_encoding(value)
                    if kept is None:
                        continue
                    value = kept
                meta.headers[name] = value
        if total > 2048:
            raise S3Error(
                "MetadataTooLarge",
                "Your metadata headers exceed the maximum allowed metadata size.",
            )
        meta.content_type = ctx.header("content-type")
        tagging = ctx.header("x-amz-tagging")
        if tagging:
            meta.tags = parse_tagging_header(tagging)
        return meta

    async def op_PutObject(self, ctx: Context) -> Response:
        meta = self._meta_from_headers(ctx)
        body = UploadBody(ctx.http, ctx.auth)
        try:
            info = await self.store.put_object(
                ctx.bucket,
                ctx.key,
                body.stream(),
                meta,
                content_md5=body.content_md5_bytes(),
                expected_size=body.expected_size,
                hashers=body.store_hashers(),
                before_commit=lambda _result: body.before_commit(meta),
                if_match=ctx.header("if-match"),
                if_none_match=ctx.header("if-none-match"),
            )
        except S3Error as err:
            await self.no_such_key_for_if_match(ctx, err)
            raise
        headers = [("etag", s3xml.quote_etag(info.etag))]
        headers += checksum_headers(body.stored)
        return Response(200, headers)

    async def no_such_key_for_if_match(self, ctx: Context, err: S3Error) -> None:
        """If-Match on a key with no object: AWS answers 404 NoSuchKey, not 412 (the store's
        commit says only that the condition failed)."""
        if err.code != "PreconditionFailed" or ctx.header("if-match") is None:
            return
        try:
            await self.store.head_object(ctx.bucket, ctx.key)
        except S3Error as missing:
            if missing.code == "NoSuchKey":
                raise missing from None

    def _object_headers(self, info: ObjectInfo) -> list[tuple[str, str]]:
        meta = info.meta
        headers = [
            ("last-modified", format_http_date(info.mtime_ns)),
            ("etag", s3xml.quote_etag(info.etag)),
            ("accept-ranges", "bytes"),
            ("content-type", meta.content_type or "binary/octet-stream"),
        ]
        for name, value in meta.headers.items():
            if name == "content-encoding":  # stored before aws-chunked was stripped
                kept = stored_content_encoding(value)
                if kept is None:
                    continue
                value = kept
            headers.append((name, value))
        for name, value in meta.user.items():
            headers.append((f"x-amz-meta-{name}", value))
        if meta.tags:
            headers.append(("x-amz-tagging-count", str(len(meta.tags))))
        return headers

    async def _get_or_head(self, ctx: Context, head: bool) -> Response:
        version = ctx.s3.query.get("versionId")
        if version is not None and version != "null":
            raise S3Error(
                "InvalidArgument",
                "Invalid version id specified",
                extra={"ArgumentName": "versionId", "ArgumentValue": version},
            )
        info = await self.store.head_object(ctx.bucket, ctx.key, with_data=not head)
        headers = self._object_headers(info)
        try:
            check_preconditions(ctx.http.headers.items(), info.etag, info.mtime_ns)
        except S3Error as err:
            if err.status == 304:
                keep = {"etag", "last-modified"}
                return Response(304, [h for h in headers if h[0] in keep], head=True)
            raise
        if not head:
            for param, header in RESPONSE_OVERRIDES.items():
                value = ctx.s3.query.get(param)
                if value is not None:
                    value = override_value(param, value)  # no CR/LF/NUL into a header
                    headers = [h for h in headers if h[0] != header]
                    headers.append((header, value))
        size = info.size
        start, end = 0, size - 1
        status = 200
        part_number = ctx.s3.query.get("partNumber")
        if part_number is not None:
            start, end = self._part_span(info, part_number)
            status = 206 if info.part_sizes else 200
            if info.part_sizes:
                headers.append(("x-amz-mp-parts-count", str(len(info.part_sizes))))
                headers.append(("content-range", content_range(start, end, size)))
        else:
            span = parse_range(ctx.header("range"), size)
            if span is not None:
                start, end = span
                status = 206
                headers.append(("content-range", content_range(start, end, size)))
        length = max(0, end - start + 1)
        headers.append(("content-length", str(length)))
        checksum_mode = (ctx.header("x-amz-checksum-mode") or "").upper() == "ENABLED"
        if checksum_mode and info.meta.checksums:
            headers += object_checksum_headers(info, part_number, status)
        if head or length == 0:
            return Response(status, headers, b"", head=True)
        return Response(status, headers, await self._body_checked_first(ctx, info, start, end))

    async def _body_checked_first(
        self, ctx: Context, info: ObjectInfo, start: int, end: int
    ) -> AsyncIterator[bytes]:
        """The object's bytes, with the first piece read (and verified) before the headers
        go out: a corrupt object with no good copy is then a clean 500, not a cut body."""
        try:
            return await first_piece_read(self.store.read_object(info, start, end))
        except StoreCorruption as exc:
            log.error("request %s: %s/%s has no good copy of %s", ctx.request_id,
                      info.bucket, info.key, exc, extra={"request_id": ctx.request_id})
            raise no_good_copy() from None

    def _part_span(self, info: ObjectInfo, value: str) -> tuple[int, int]:
        from aisfs.s3.request import parse_part_number

        number = parse_part_number(value)
        sizes = info.part_sizes or [info.size]
        if number > len(sizes):
            raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable",
                          status=416)
        start = sum(sizes[: number - 1])
        return start, start + sizes[number - 1] - 1

    async def op_GetObject(self, ctx: Context) -> Response:
        return await self._get_or_head(ctx, head=False)

    async def op_HeadObject(self, ctx: Context) -> Response:
        return await self._get_or_head(ctx, head=True)

    async def op_DeleteObject(self, ctx: Context) -> Response:
        # As the seed says (AIStore): deleting a missing object is reported as not found.
        await self.store.get_bucket(ctx.bucket)
        await self.store.delete_object(ctx.bucket, ctx.key)
        return Response(204)


def object_checksum_headers(
    info: ObjectInfo, part_number: str | None, status: int
) -> list[tuple[str, str]]:
    """``x-amz-checksum-<alg>`` and ``x-amz-checksum-type`` of a GET/HEAD asking for them:
    the whole object's (a multipart one's COMPOSITE ``xxxx-N`` or FULL_OBJECT value), one
    part's own (``partNumber``), none for a byte range (it has no checksum of its own)."""
    meta = info.meta
    kind = str(meta.extra.get("checksum_type") or "FULL_OBJECT")
    if part_number is not None and info.part_sizes:
        sums = meta.extra.get("part_checksums")
        index = int(part_number) - 1
        if not isinstance(sums, list) or not 0 <= index < len(sums) or not meta.checksums:
            return []
        alg = next(iter(meta.checksums))
        return [(f"x-amz-checksum-{alg}", str(sums[index])), ("x-amz-checksum-type", kind)]
    if status != 200 and part_number is None:
        return []
    if info.part_sizes and "checksum_type" not in meta.extra:
        return []  # parts uploaded without an algorithm: no checksum of the whole
    return [*checksum_headers(meta.checksums), ("x-amz-checksum-type", kind)]


def parse_tagging_header(value: str) -> dict[str, str]:
    """``x-amz-tagging: k1=v1&k2=v2`` (URL query form) with S3's object-tag limits."""
    from urllib.parse import parse_qsl

    tags = dict(parse_qsl(value, keep_blank_values=True))
    if len(tags) > 10:
        raise S3Error("BadRequest", "Object tags cannot be greater than 10", status=400)
    for k, v in tags.items():
        if not k or len(k) > 128 or len(v) > 256:
            raise S3Error("InvalidTag", "The TagKey or TagValue you have provided is invalid")
    return tags



