"""Bucket and object configuration: CORS (and preflight), tagging, object attributes,
ListObjectVersions, PutBucketVersioning. (ACLs: ``aisfs_node.s3.access_ops``; object lock:
``aisfs_node.s3.object_lock_ops``.)

Configuration lives in bucket props: ``cors`` (list of rule dicts, see
``aisfs.s3.cors``), ``tagging`` (dict), ``versioning.status``. Object tags live in
the object's metadata (``ObjectMeta.tags``).
"""

from __future__ import annotations

import time

from aisfs.backend.provider import (
    LOCAL_PREFIX,
    BucketRef,
    Provider,
    bucket_of_local,
    local_bucket_name,
)
from aisfs.errors import S3Error
from aisfs.s3 import cors as s3cors
from aisfs.s3 import xml as s3xml
from aisfs.s3.request import listing_encoding, parse_max
from aisfs.s3.xml import CORSRule
from aisfs.store.types import ObjectInfo, ObjectMeta
from aisfs.store.versions import VERSIONING, valid_version_id
from aisfs_node.http import Request, Response
from aisfs_node.s3.context import (
    Context,
    Services,
    asked_attributes,
    invalid_version,
    read_small_body,
    version_headers,
    version_query,
)
from aisfs_node.s3.object_lock_ops import check_versioning_change
from aisfs_node.s3.sse import Sse

MAX_BUCKET_TAGS = 50
MAX_OBJECT_TAGS = 10
CORS_CACHE_SECONDS = 2.0
AWS_PREFIX = LOCAL_PREFIX[Provider.AWS]


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(status, [("content-type", "application/xml")], body)


def marker_refused(ctx: Context) -> S3Error:
    """A tagging request naming a delete marker: 405, as S3."""
    return S3Error("MethodNotAllowed",
                   "The specified method is not allowed against this resource.",
                   status=405, extra={"Method": ctx.http.method,
                                      "ResourceType": "DeleteMarker"})


class BucketConfigOps:
    def __init__(self, services: Services) -> None:
        self.store = services.store
        self.authenticator = services.authenticator  # a version listing's owners
        self.sse = Sse(services)  # an SSE-C object's attributes need its key (aisfs_node.s3.sse)
        # bucket -> (until when, its CORS rules): a few seconds, dropped on a change here
        self._cors_rules: dict[str, tuple[float, list[CORSRule]]] = {}

    # ---- CORS -----------------------------------------------------------------------

    async def _bucket_cors(self, bucket: str) -> list[CORSRule]:
        """The bucket's rules (a NoSuchBucket S3Error for a missing bucket). ``/s3/B``
        of a known ``s3://B`` (no ``ais://B``) has them on its store bucket ``@aws:B``,
        as PutBucketCors put them there (kept locally, never sent to the backend)."""
        try:
            info = await self.store.get_bucket(bucket)
        except S3Error as e:
            if e.code != "NoSuchBucket" or bucket.startswith(AWS_PREFIX):
                raise
            info = await self.store.get_bucket(local_bucket_name(BucketRef(Provider.AWS,
                                                                           bucket)))
        rules = s3cors.rules_from_json(info.props.get("cors"))
        self._cors_rules[bucket] = (time.monotonic() + CORS_CACHE_SECONDS, rules)
        return rules

    def _forget_cors(self, bucket: str) -> None:
        """A change of ``bucket``'s rules: by its store name and the name S3 knows."""
        self._cors_rules.pop(bucket, None)
        self._cors_rules.pop(bucket_of_local(bucket).name, None)

    async def cors_headers(self, http: Request, bucket: str | None) -> list[tuple[str, str]]:
        """``Access-Control-*`` headers for any S3 response to a request with an Origin.

        Rules are cached for a couple of seconds per bucket (PutBucketCors and
        DeleteBucketCors on this node drop the entry at once). A missing bucket or no
        matching rule adds nothing.
        """
        origin = http.headers.get("origin")
        if not origin or not bucket:
            return []
        cached = self._cors_rules.get(bucket)
        if cached is not None and cached[0] > time.monotonic():
            rules = cached[1]
        else:
            try:
                rules = await self._bucket_cors(bucket)
            except S3Error:
                return []
        return s3cors.cors_headers(rules, origin, http.method) or []

    async def op_GetBucketCors(self, ctx: Context) -> Response:
        rules = await self._bucket_cors(ctx.bucket)
        if not rules:
            raise S3Error(
                "NoSuchCORSConfiguration", "The CORS configuration does not exist", ctx.bucket,
                extra={"BucketName": ctx.bucket},
            )
        return _xml(s3xml.cors_configuration(rules))

    async def op_PutBucketCors(self, ctx: Context) -> Response:
        await self.store.get_bucket(ctx.bucket)
        body = await read_small_body(ctx)
        rules = s3xml.parse_cors_configuration(body)
        s3cors.validate_rules(rules)
        await self.store.update_bucket_props(ctx.bucket, {"cors": s3cors.rules_to_json(rules)})
        self._forget_cors(ctx.bucket)
        return Response(200)

    async def op_DeleteBucketCors(self, ctx: Context) -> Response:
        await self.store.update_bucket_props(ctx.bucket, {"cors": None})
        self._forget_cors(ctx.bucket)
        return Response(204)

    async def op_PreflightRequest(self, ctx: Context) -> Response:
        """``OPTIONS``: 200 with the Access-Control-* headers, or 403 AccessForbidden.

        Unauthenticated (browsers send no credentials on a preflight). A missing bucket
        is refused like a bucket without CORS, as AWS does (403 "Bucket not found").
        """
        http = ctx.http
        origin = http.headers.get("origin")
        method = http.headers.get("access-control-request-method")
        resource_type = "OBJECT" if ctx.s3.key is not None else "BUCKET"
        rules: list[CORSRule] = []
        if ctx.s3.bucket is not None and origin and method:
            try:
                rules = await self._bucket_cors(ctx.s3.bucket)
            except S3Error as err:
                if err.code != "NoSuchBucket":
                    raise
                raise S3Error(
                    "AccessForbidden", s3cors.BUCKET_NOT_FOUND, status=403,
                    extra={"Method": method, "ResourceType": resource_type},
                ) from None
        headers = s3cors.preflight(
            rules,
            origin,
            method,
            http.headers.get("access-control-request-headers"),
            resource_type=resource_type,
        )
        return Response(200, headers)

    # ---- bucket tagging -------------------------------------------------------------

    async def op_GetBucketTagging(self, ctx: Context) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        tags = info.props.get("tagging")
        if not isinstance(tags, dict) or not tags:
            raise S3Error(
                "NoSuchTagSet", "The TagSet does not exist", ctx.bucket,
                extra={"BucketName": ctx.bucket},
            )
        return _xml(s3xml.tagging({str(k): str(v) for k, v in tags.items()}))

    async def op_PutBucketTagging(self, ctx: Context) -> Response:
        await self.store.get_bucket(ctx.bucket)
        body = await read_small_body(ctx)
        tags = s3xml.parse_tagging(body, max_tags=MAX_BUCKET_TAGS)
        await self.store.update_bucket_props(ctx.bucket, {"tagging": tags or None})
        return Response(204)

    async def op_DeleteBucketTagging(self, ctx: Context) -> Response:
        await self.store.update_bucket_props(ctx.bucket, {"tagging": None})
        return Response(204)

    # ---- object tagging -------------------------------------------------------------

    async def _set_object_tags(self, ctx: Context, tags: dict[str, str]) -> ObjectInfo:
        """The tags of the version the request names (``versionId``; none: the current),
        changed in the store's read-modify-write under its lock (the version's lock and
        ACL kept)."""
        def set_tags(meta: ObjectMeta) -> None:
            meta.tags = tags

        try:
            return await self.store.update_version_meta(ctx.bucket, ctx.key,
                                                        version_query(ctx), set_tags)
        except S3Error as err:
            if err.code == "MethodNotAllowed":  # a null marker made meanwhile
                raise marker_refused(ctx) from None
            raise

    async def _tagged(self, ctx: Context) -> ObjectInfo:
        """The version a tagging request names (``versionId``; none: the current); a
        delete marker has no tags (405, as S3)."""
        version = version_query(ctx)
        if version is None:
            return await self.store.head_object(ctx.bucket, ctx.key)
        info = await self.store.head_version(ctx.bucket, ctx.key, version)
        if info.delete_marker:
            raise marker_refused(ctx)
        return info

    async def op_GetObjectTagging(self, ctx: Context) -> Response:
        info = await self._tagged(ctx)
        response = _xml(s3xml.tagging(info.meta.tags))
        response.headers += await version_headers(self.store, ctx.bucket, info.version_id)
        return response

    async def op_PutObjectTagging(self, ctx: Context) -> Response:
        await self._tagged(ctx)  # NoSuchKey / NoSuchVersion / 405 before a body error
        body = await read_small_body(ctx)
        tags = s3xml.parse_tagging(body, max_tags=MAX_OBJECT_TAGS)
        info = await self._set_object_tags(ctx, tags)
        return Response(200, await version_headers(self.store, ctx.bucket, info.version_id))

    async def op_DeleteObjectTagging(self, ctx: Context) -> Response:
        info = await self._tagged(ctx)
        if info.meta.tags:
            info = await self._set_object_tags(ctx, {})
        return Response(204, await version_headers(self.store, ctx.bucket, info.version_id))

    # ---- object attributes ----------------------------------------------------------

    async def op_GetObjectAttributes(self, ctx: Context) -> Response:
        from aisfs.s3.conditions import format_http_date

        version_query(ctx)  # a malformed versionId: InvalidArgument before the rest
        wanted = asked_attributes(ctx)
        info = await self._tagged(ctx)  # the current, or ?versionId=
        self.sse.object_headers(ctx, info)  # SSE-C: 400 without its key, 403 with another
        kind = info.meta.extra.get("checksum_type")
        if info.meta.checksums and not info.part_sizes:
            kind = "FULL_OBJECT"
        body = s3xml.object_attributes(
            wanted,
            info.etag,
            info.size,
            checksums=info.meta.checksums if kind else None,
            checksum_type=str(kind) if kind else None,
            parts=_parts_page(ctx, info),
        )
        response = _xml(body)
        response.headers.append(("last-modified", format_http_date(info.mtime_ns)))
        response.headers += await version_headers(self.store, ctx.bucket, info.version_id)
        return response

    # ---- versions (aisfs/store/versions.py) ----------------------------------------

    async def op_ListObjectVersions(self, ctx: Context) -> Response:
        q = ctx.s3.query
        max_keys = parse_max(q.get("max-keys"), "max-keys")
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter", "")
        key_marker = q.get("key-marker", "")
        vid_marker = q.get("version-id-marker", "")
        encoding = listing_encoding(q)
        if vid_marker and not key_marker:
            raise S3Error(
                "InvalidArgument",
                "A version-id marker cannot be specified without a key marker.",
                extra={"ArgumentName": "version-id-marker", "ArgumentValue": vid_marker},
            )
        if vid_marker and not valid_version_id(vid_marker):
            raise invalid_version(vid_marker, "version-id-marker")
        # one page from the index (store/version_listing.py): never the whole bucket
        page = await self.store.list_versions(
            ctx.bucket, prefix=prefix, delimiter=delimiter, key_marker=key_marker,
            version_id_marker=vid_marker, max_keys=max_keys,
        )
        params = s3xml.ListParams(
            prefix=prefix,
            delimiter=delimiter or None,
            max_keys=max_keys,
            encoding_type=encoding,
        )
        body = s3xml.object_versions_result(
            ctx.bucket,
            page.entries,
            page.common_prefixes,
            params,
            page.is_truncated,
            key_marker=key_marker,
            version_id_marker=vid_marker,
            next_key_marker=page.next_key_marker,
            next_version_id_marker=page.next_version_id_marker,
            owner=await self.authenticator.listing_owner(self.store, ctx.caller, ctx.bucket),
            owners=await self.authenticator.access.version_owners(
                self.store, ctx.caller, ctx.bucket,
                [(e.key, e.version_id, e.is_latest and not e.is_marker)
                 for e in page.entries]),
        )
        return _xml(body)

    # ---- versioning -----------------------------------------------------------------

    async def op_PutBucketVersioning(self, ctx: Context) -> Response:
        """Enabled or Suspended (docs/versioning.md); MFA delete is not implemented (501),
        so neither an ``MfaDelete`` of Enabled nor an ``x-amz-mfa`` header is accepted."""
        info = await self.store.get_bucket(ctx.bucket)
        body = await read_small_body(ctx)
        status = s3xml.parse_versioning_configuration(body)
        if status is not None:
            check_versioning_change(info.props, status)  # a lock bucket stays Enabled
        if s3xml.parse_versioning_mfa_delete(body) == "Enabled" or ctx.header("x-amz-mfa"):
            raise S3Error("NotImplemented", "MFA delete is not implemented by aisfs",
                          status=501)
        if status is not None:
            await self.store.update_bucket_props(ctx.bucket, {VERSIONING: status})
        return Response(200)


def _parts_page(ctx: Context, info: ObjectInfo) -> s3xml.PartsPage | None:
    """The page of a multipart object's parts GetObjectAttributes asks for
    (``x-amz-max-parts``, ``x-amz-part-number-marker``), each with its checksum."""
    from aisfs.numbers import INT32_MAX, argument

    if not info.part_sizes:
        return None
    max_parts = parse_max(ctx.header("x-amz-max-parts"), "max-parts")
    marker = argument(
        ctx.header("x-amz-part-number-marker") or "0", "part-number-marker", hi=INT32_MAX,
        message="Provided part-number-marker not an integer or within integer range",
    )
    sums = info.meta.extra.get("part_checksums")
    alg = next(iter(info.meta.checksums), None)
    parts = []
    for i, size in enumerate(info.part_sizes[marker:marker + max_parts], start=marker):
        part_sums = {}
        if alg and isinstance(sums, list) and i < len(sums):
            part_sums = {alg: str(sums[i])}
        parts.append(s3xml.ObjectPart(i + 1, size, part_sums))
    return s3xml.PartsPage(
        total=len(info.part_sizes),
        parts=parts,
        marker=marker,
        max_parts=max_parts,
        is_truncated=marker + max_parts < len(info.part_sizes),
    )
