"""Buckets: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation,
GetBucketVersioning, and the object listings (ListObjects, ListObjectsV2)."""

from __future__ import annotations

from aisfs.backend.provider import BucketRef, Provider
from aisfs.errors import S3Error
from aisfs.s3 import xml as s3xml
from aisfs.s3.names import validate_bucket_name
from aisfs.s3.request import listing_encoding, parse_max
from aisfs.store.store import Store
from aisfs.store.types import ListPage
from node.http import Response
from node.inventory import drop_bucket as drop_inventories
from node.s3.context import Context, Services, read_small_body, xml_response


async def list_page(
    store: Store, bucket: str, prefix: str, delimiter: str, start_after: str, max_keys: int
) -> ListPage:
    """One page of a listing (NoSuchBucket first; max-keys 0 lists nothing)."""
    await store.get_bucket(bucket)
    if max_keys == 0:
        return ListPage([], [], False, None)
    return await store.list_objects(
        bucket, prefix=prefix, delimiter=delimiter, start_after=start_after,
        max_keys=max_keys,
    )


class BucketOps:
    def __init__(self, services: Services) -> None:
        self.cfg = services.cfg
        self.store = services.store
        self.authenticator = services.authenticator

    async def op_ListBuckets(self, ctx: Context) -> Response:
        if not ctx.caller.open:
            return xml_response(await self.authenticator.list_buckets_xml(self.store, ctx.caller))
        buckets = await self.store.list_buckets()
        return xml_response(s3xml.list_buckets_result(buckets))

    async def op_CreateBucket(self, ctx: Context) -> Response:
        validate_bucket_name(ctx.bucket)
        body = await read_small_body(ctx)
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
        # its inventories go with it (a bucket made again under the name starts with none)
        await drop_inventories(self.store, BucketRef(Provider.AIS, ctx.bucket))
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
        page = await list_page(self.store, ctx.bucket, prefix, delimiter, marker, max_keys)
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
