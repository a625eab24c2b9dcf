"""Put/Get/DeleteBucketLifecycleConfiguration (``?lifecycle`` on a bucket) and the
``x-amz-expiration`` header of objects an enabled Expiration rule covers.

The rules live in the bucket's props (``lifecycle``: ``aisfs.s3.lifecycle.rules_to_json``)
and are applied by the node's lifecycle worker (``aisfs_node.lifecycle``). A backend bucket
(``s3://B``, or an ``ais://`` bucket with ``backend_bck``) refuses a configuration with
501: its objects are the backend's, which the worker does not expire.

PutBucketLifecycleConfiguration needs an integrity header, as on AWS: ``Content-MD5`` or
an ``x-amz-checksum-*`` header (botocore sends one), checked against the body.
"""

from __future__ import annotations

import time
import weakref

from aisfs.backend.provider import backend_bck
from aisfs.errors import S3Error
from aisfs.s3 import checksums
from aisfs.s3 import lifecycle as lc
from aisfs.s3 import xml as s3xml
from aisfs.store.store import Store
from aisfs.store.types import ObjectInfo
from aisfs_node.http import Response
from aisfs_node.lifecycle import PROP, day_ns
from aisfs_node.s3.context import Context, Services, read_small_body

RULES_CACHE_SECONDS = 2.0


class RulesCache:
    """Each bucket's rules for a couple of seconds (the GET/HEAD path asks per request);
    a change on this node drops the bucket's entry at once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._rules: dict[str, tuple[float, list[lc.LifecycleRule]]] = {}

    async def rules(self, bucket: str) -> list[lc.LifecycleRule]:
        cached = self._rules.get(bucket)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        info = await self.store.get_bucket(bucket)
        rules = lc.rules_from_json(info.props.get(PROP))
        if len(self._rules) > 10_000:
            self._rules.clear()
        self._rules[bucket] = (time.monotonic() + RULES_CACHE_SECONDS, rules)
        return rules

    def forget(self, bucket: str) -> None:
        self._rules.pop(bucket, None)


_CACHES: weakref.WeakKeyDictionary[Store, RulesCache] = weakref.WeakKeyDictionary()


def rules_cache(store: Store) -> RulesCache:
    cache = _CACHES.get(store)
    if cache is None:
        cache = _CACHES[store] = RulesCache(store)
    return cache


async def expiration_headers(store: Store, bucket: str, info: ObjectInfo) -> list[tuple[str, str]]:
    """``x-amz-expiration`` for an object an enabled Expiration rule covers (else none)."""
    try:
        rules = await rules_cache(store).rules(bucket)
    except S3Error:
        return []
    if not rules:
        return []
    found = lc.expiration_of(rules, info.key, info.size, info.meta.tags, info.mtime_ns, day_ns())
    if found is None:
        return []
    return [("x-amz-expiration", lc.expiration_header(*found))]


def _check_integrity(ctx: Context, body: bytes) -> None:
    """Content-MD5 or an x-amz-checksum-* header is required, and must match."""
    declared = checksums.checksum_headers(ctx.http.headers)  # type: ignore[arg-type]
    if not declared:
        raise S3Error(
            "InvalidRequest", "Missing required header for this request: Content-MD5"
        )
    hashers = checksums.new_hashers(declared)
    checksums.update_all(hashers, body)
    checksums.verify(declared, hashers)


def _no_such_configuration(bucket: str) -> S3Error:
    return S3Error(
        "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", bucket,
        extra={"BucketName": bucket},
    )


class LifecycleOps:
    def __init__(self, services: Services) -> None:
        self.store = services.store
        self.cache = rules_cache(services.store)

    async def op_GetBucketLifecycleConfiguration(self, ctx: Context) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        rules = lc.rules_from_json(info.props.get(PROP))
        if not rules:
            raise _no_such_configuration(ctx.bucket)
        body = s3xml.lifecycle_configuration(rules)
        return Response(200, [("content-type", "application/xml")], body)

    async def op_PutBucketLifecycleConfiguration(self, ctx: Context) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        if ctx.bucket.startswith("@") or backend_bck(info.props) is not None:
            raise S3Error(
                "NotImplemented",
                "lifecycle rules of a backend bucket are not implemented: its objects are "
                "the backend's (configure the backend's own lifecycle)",
                status=501,
            )
        body = await read_small_body(ctx)
        _check_integrity(ctx, body)
        rules = lc.named(s3xml.parse_lifecycle_configuration(body))
        lc.validate_rules(rules)
        await self.store.update_bucket_props(ctx.bucket, {PROP: lc.rules_to_json(rules)})
        self.cache.forget(ctx.bucket)
        return Response(200)

    async def op_DeleteBucketLifecycle(self, ctx: Context) -> Response:
        await self.store.update_bucket_props(ctx.bucket, {PROP: None})
        self.cache.forget(ctx.bucket)
        return Response(204)
