"""Object lock: bucket lock configuration, retention and legal hold (issue 15,
docs/object-lock.md).

Wired into the router (``aisfs_node.s3.api``) after the older parts, so an ``op_<Name>``
here answers that operation (``GetObjectLockConfiguration`` too: the older stub in
``bucket_config`` is overridden). The decisions are ``aisfs.s3.object_lock``'s (sans-IO);
the documents ``aisfs.s3.xml.object_lock``'s.

- The bucket's configuration lives in its props (``object_lock.enabled``,
  ``object_lock.default``). CreateBucket with ``x-amz-bucket-object-lock-enabled: true``
  turns it on with versioning (``bucket_lock_props``); PutObjectLockConfiguration turns it
  on for a bucket whose versioning is Enabled (AWS allows an existing bucket since 2023),
  else 409 InvalidBucketState.
- A version's lock is the store's (``get_version_lock``/``set_version_lock``: kept in the
  version's manifest, so it survives restarts, fsck and resilver).
- Writes: PutObject and CopyObject ask ``lock_for_new_version`` before they write (the
  lock the new version gets: its headers, else the bucket's default retention, validated
  as AWS does) and ``record_lock`` it once the version exists; CreateMultipartUpload
  keeps what its headers ask (``lock_for_upload``), CompleteMultipartUpload applies it
  (``lock_new_version``). GET and HEAD send ``object_lock_headers``.
- Removals: ``removal_guard`` is installed on the store at node start
  (``Store.version_removal_guard``): every path that would remove a version for good
  (DELETE with versionId, DeleteObjects, an overwrite of a null version, lifecycle, the
  native API, the mount) asks it, and a protected version stays. A delete asking for
  ``x-amz-bypass-governance-retention`` first lifts a GOVERNANCE retention
  (``lift_bypassed_retention``, as PutObjectRetention with the bypass may).
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from aisfs.backend.provider import backend_bck
from aisfs.errors import S3Error
from aisfs.s3 import checksums
from aisfs.s3 import object_lock as ol
from aisfs.s3 import xml as s3xml
from aisfs.s3._headers import Headers
from aisfs.store.store import Store
from aisfs.store.types import ObjectInfo, ObjectMeta
from aisfs.store.versions import VERSIONING, versioning
from aisfs_node.http import Response
from aisfs_node.s3.context import Context, Services, read_small_body, version_query, xml_response
from aisfs_node.s3_auth import Authenticator

UPLOAD_LOCK = "object_lock"  # an upload's meta.extra: the lock CreateMultipartUpload asked


def _no_bucket_config(bucket: str) -> S3Error:
    return S3Error("ObjectLockConfigurationNotFoundError",
                   "Object Lock configuration does not exist for this bucket", bucket,
                   status=404, extra={"BucketName": bucket})


def _no_object_config() -> S3Error:
    return S3Error("NoSuchObjectLockConfiguration",
                   "The specified object does not have a ObjectLock configuration", status=404)


def _check_integrity(ctx: Context, body: bytes) -> None:
    """Content-MD5 or an x-amz-checksum-* header is required (AWS, for these three
    documents), and must match the body."""
    declared = checksums.checksum_headers(ctx.http.headers)  # type: ignore[arg-type]
    if not declared:
        raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
    hashers = checksums.new_hashers(declared)
    checksums.update_all(hashers, body)
    checksums.verify(declared, hashers)


# each node's authenticator, by its store (the hooks in other modules are given the store)
_ACCESS: weakref.WeakKeyDictionary[Store, Authenticator] = weakref.WeakKeyDictionary()


async def may_bypass_governance(store: Store, ctx: Context, key: str | None) -> bool:
    """Whether this request's caller holds s3:BypassGovernanceRetention on ``key``: admins
    and the bucket's owner do (as an AWS account's owner), unless the bucket policy denies
    it; another user where the policy allows it (aisfs_node.s3_access, aisfs.auth.access)."""
    if ctx.caller.admin:
        return True
    authenticator = _ACCESS.get(store)
    if authenticator is None:
        return False
    access = authenticator.access
    try:
        b = await access.bucket(store, ctx.bucket)
        await access.check(store, ctx.caller, "BypassGovernanceRetention", ctx.bucket, key, b,
                           ctx.s3, ctx.http)
    except S3Error:
        return False
    return True


def now_ns() -> int:
    return time.time_ns()


# --------------------------------------------------------------------------- hooks


def bucket_lock_props(headers: Headers) -> dict[str, Any]:
    """CreateBucket's props for ``x-amz-bucket-object-lock-enabled`` (none when absent or
    false; versioning on with lock when true; 400 InvalidArgument otherwise)."""
    if not ol.bucket_lock_asked(headers):
        return {}
    return {VERSIONING: "Enabled", **{k: v for k, v in ol.BucketLockConfig(True).to_props()
                                      .items() if v is not None}}


async def bucket_lock_config(store: Store, bucket: str) -> ol.BucketLockConfig:
    info = await store.get_bucket(bucket)
    return ol.BucketLockConfig.from_props(info.props)


async def lock_for_new_version(store: Store, ctx: Context, *, body: bool) -> str | None:
    """Before PutObject or CopyObject writes: the lock JSON the new version gets (None:
    none) - its ``x-amz-object-lock-*`` headers, else the bucket's default retention -
    validated as AWS does. ``body``: the request carries the object's bytes (PutObject:
    Content-MD5 or a checksum is then required with lock parameters). The caller records
    it with ``record_lock`` once the version exists."""
    headers: Headers = ctx.http.headers  # type: ignore[assignment]
    now = now_ns()
    asked = ol.lock_from_headers(headers, now)
    config = await bucket_lock_config(store, ctx.bucket)
    lock = ol.new_version_lock(asked, config, now)
    if body:
        ol.check_integrity(headers, asked, config)
    return None if lock is None else lock.to_json()


async def record_lock(store: Store, bucket: str, key: str, version_id: str | None,
                      lock: str | None) -> None:
    """A new version's lock, recorded in its manifest (nothing when ``lock`` is None)."""
    if lock is not None:
        await store.set_version_lock(bucket, key, version_id or "null", lock)


async def lock_for_upload(store: Store, ctx: Context, meta: ObjectMeta) -> None:
    """CreateMultipartUpload: the lock its headers ask for, validated now and kept in the
    upload's ``meta.extra`` until CompleteMultipartUpload (``lock_new_version``)."""
    asked = ol.lock_from_headers(ctx.http.headers, now_ns())  # type: ignore[arg-type]
    if asked is None:
        return
    if not (await bucket_lock_config(store, ctx.bucket)).enabled:
        raise S3Error("InvalidRequest", "Bucket is missing ObjectLockConfiguration")
    meta.extra[UPLOAD_LOCK] = asked.to_json()


async def lock_new_version(store: Store, info: ObjectInfo) -> None:
    """After a write whose request named no lock itself - CompleteMultipartUpload, a POST
    form: the version it made gets the lock its upload asked for (kept in ``meta.extra``),
    else the bucket's default retention (from now)."""
    config = await bucket_lock_config(store, info.bucket)
    raw = info.meta.extra.get(UPLOAD_LOCK)
    asked = ol.VersionLock.from_json(raw) if isinstance(raw, str) else None
    if not config.enabled:
        return
    lock = ol.new_version_lock(asked, config, now_ns())
    await record_lock(store, info.bucket, info.key, info.version_id,
                      None if lock is None else lock.to_json())


def check_versioning_change(props: dict[str, Any], status: str) -> None:
    """PutBucketVersioning on a lock bucket: only ``Enabled`` (409 InvalidBucketState)."""
    if ol.BucketLockConfig.from_props(props).enabled and status != "Enabled":
        raise S3Error("InvalidBucketState", "An Object Lock configuration is present on this "
                      "bucket, so the versioning state cannot be changed.")


def removal_guard(bucket: str, key: str, version_id: str, lock: str | None) -> None:
    """The store's ``version_removal_guard``: refuse (403 AccessDenied) the permanent
    removal of a version its lock protects now (legal hold, or a retention in force).
    The store asks it from every path, under its writer lock: it must stay this cheap."""
    if lock is not None:
        ol.may_remove(ol.VersionLock.from_json(lock), now_ns(), False, False)


async def lift_bypassed_retention(store: Store, ctx: Context, key: str,
                                  version_id: str | None) -> None:
    """Before a removal of ``version_id`` that asks for ``x-amz-bypass-governance-retention``
    by a caller who may: its GOVERNANCE retention in force is lifted (as PutObjectRetention
    with the bypass may do), so that the store's guard judges only what no bypass lifts - a
    legal hold, COMPLIANCE. A version under legal hold keeps everything."""
    if version_id is None or not await bypass_of(store, ctx, key):
        return
    try:
        lock = ol.VersionLock.from_json(
            await store.get_version_lock(ctx.bucket, key, version_id))
    except S3Error:
        return  # no such version: the delete answers for it
    if lock is None or lock.mode != ol.GOVERNANCE or lock.held or not lock.retained(now_ns()):
        return
    await store.set_version_lock(ctx.bucket, key, version_id,
                                 lock.with_retention(None, None).to_json())


async def bypass_of(store: Store, ctx: Context, key: str | None) -> bool:
    """Whether this request bypasses GOVERNANCE retention: it asks, and its caller may."""
    return ol.bypass_asked(ctx.http.headers) and await may_bypass_governance(  # type: ignore[arg-type]
        store, ctx, key)


def object_lock_headers(lock: dict[str, Any] | str | None) -> list[tuple[str, str]]:
    """``x-amz-object-lock-*`` of a GET or HEAD of a version with this lock record."""
    if lock is None:
        return []
    if isinstance(lock, str):
        return ol.lock_headers(ol.VersionLock.from_json(lock))
    return ol.lock_headers(ol.VersionLock.from_dict(lock))


# --------------------------------------------------------------------------- operations


class ObjectLockOps:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = services.store
        _ACCESS[services.store] = services.authenticator

    async def _enabled(self, bucket: str) -> None:
        """400 InvalidRequest unless the bucket's object lock is on (retention, legal hold)."""
        if not (await bucket_lock_config(self.store, bucket)).enabled:
            raise ol.missing_config()

    # ---- the bucket -----------------------------------------------------------------

    async def op_PutObjectLockConfiguration(self, ctx: Context) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        if ctx.bucket.startswith("@") or backend_bck(info.props) is not None:
            raise S3Error("NotImplemented", "object lock on a backend bucket is not "
                          "implemented: its objects are the backend's", status=501)
        body = await read_small_body(ctx)
        _check_integrity(ctx, body)
        config = s3xml.parse_object_lock_configuration(body)
        current = ol.BucketLockConfig.from_props(info.props)
        if not current.enabled and versioning(info.props) != "Enabled":
            raise S3Error("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to "
                          "apply a Object Lock configuration", ctx.bucket)
        await self.store.update_bucket_props(ctx.bucket, config.to_props())
        return Response(200)

    async def op_GetObjectLockConfiguration(self, ctx: Context) -> Response:
        config = await bucket_lock_config(self.store, ctx.bucket)
        if not config.enabled:
            raise _no_bucket_config(ctx.bucket)
        return xml_response(s3xml.object_lock_configuration(config))

    # ---- one version ------------------------------------------------------------------

    async def _lock_of(self, ctx: Context) -> ol.VersionLock | None:
        """The lock of the version ``versionId`` names (else the current); a delete marker
        has none to read or set: 405 MethodNotAllowed, as S3 answers."""
        version = version_query(ctx)  # InvalidArgument for an id we could not have made
        if version is not None and (await self.store.head_version(
                ctx.bucket, ctx.key, version)).delete_marker:
            raise S3Error("MethodNotAllowed",
                          "The specified method is not allowed against this resource.",
                          status=405, extra={"Method": ctx.http.method,
                                             "ResourceType": "DeleteMarker"})
        return ol.VersionLock.from_json(
            await self.store.get_version_lock(ctx.bucket, ctx.key, version))

    async def _set_lock(self, ctx: Context, lock: ol.VersionLock) -> None:
        await self.store.set_version_lock(
            ctx.bucket, ctx.key, version_query(ctx), lock.to_json())

    async def op_PutObjectRetention(self, ctx: Context) -> Response:
        await self._enabled(ctx.bucket)
        body = await read_small_body(ctx)
        _check_integrity(ctx, body)
        mode, until = s3xml.parse_object_retention(body)
        old = await self._lock_of(ctx)
        now = now_ns()
        ol.check_new_retention(mode, until, now)
        bypass = await bypass_of(self.store, ctx, ctx.key)
        ol.may_change_retention(old, mode, until, now, bypass, bypass)
        await self._set_lock(ctx, (old or ol.VersionLock()).with_retention(mode, until))
        return Response(200)

    async def op_GetObjectRetention(self, ctx: Context) -> Response:
        await self._enabled(ctx.bucket)
        lock = await self._lock_of(ctx)
        if lock is None or lock.mode is None or lock.until_ns is None:
            raise _no_object_config()
        return xml_response(s3xml.object_retention(lock.mode, lock.until_ns))

    async def op_PutObjectLegalHold(self, ctx: Context) -> Response:
        await self._enabled(ctx.bucket)
        body = await read_small_body(ctx)
        _check_integrity(ctx, body)
        on = s3xml.parse_object_legal_hold(body)
        old = await self._lock_of(ctx)
        await self._set_lock(ctx, (old or ol.VersionLock()).with_legal_hold(on))
        return Response(200)

    async def op_GetObjectLegalHold(self, ctx: Context) -> Response:
        await self._enabled(ctx.bucket)
        lock = await self._lock_of(ctx)
        if lock is None or lock.legal_hold is None:
            raise _no_object_config()
        return xml_response(s3xml.object_legal_hold(lock.legal_hold))
