"""Buckets: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation,
GetBucketVersioning, and the object listings (ListObjects, ListObjectsV2)."""

from __future__ import annotations

from aisfs.backend.provider import BucketRef, Provider
from aisfs.errors import S3Error
from aisfs.s3 import xml as s3xml
from aisfs.s3.names import validate_bucket_name
from aisfs.store.store import Store
from aisfs.store.types import ListPage
from aisfs_node.http import Response
from aisfs_node.inventory import drop_bucket as drop_inventories
from aisfs_node.s3.context import Context, Services, read_small_body, xml_response
from aisfs_node.s3.listing import list_query, list_result, shows_owner
from aisfs_node.s3.object_lock_ops import bucket_lock_props


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
        props.update(bucket_lock_props(ctx.http.headers))  # type: ignore[arg-type]  # lock
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
        q = list_query(ctx.s3.query, v2)
        page = await list_page(self.store, ctx.bucket, q.prefix, q.delimiter, q.marker,
                               q.max_keys)
        owner = await self.authenticator.listing_owner(self.store, ctx.caller, ctx.bucket)
        # the objects another user wrote: their own Owner (aisfs_node/s3_access.py)
        owners: dict[str, s3xml.Owner] = {}
        if shows_owner(q):
            owners = await self.authenticator.access.entry_owners(
                self.store, ctx.caller, ctx.bucket, [e.key for e in page.entries])
        return xml_response(list_result(ctx.bucket, q, page.entries, page.common_prefixes,
                                        page.is_truncated, page.next_marker, owner, owners))
