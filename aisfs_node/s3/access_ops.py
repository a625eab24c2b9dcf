"""Bucket and object ACLs, public access block and ownership controls (issue 16).

Wired into the router (``aisfs_node.s3.api``) after the older parts, so an ``op_<Name>``
here answers that operation. An operation with no method anywhere answers 501.

Where each lives: the bucket's ACL, public access block and ownership in its props
(``acl``, ``public_access_block``, ``ownership``: ``aisfs.auth.access``), an object's ACL
in the index (``aisfs.store.acls``), per version in a versioned bucket (``versionId``
on Get/PutObjectAcl names one). Who may call these is decided before (the owner;
READ_ACP/WRITE_ACP grants for the ACL operations: ``aisfs_node.s3_access``).
"""

from __future__ import annotations

from typing import Any

from aisfs.auth import access
from aisfs.auth import acl as acls
from aisfs.errors import S3Error
from aisfs.s3 import xml as s3xml
from aisfs_node.http import Response
from aisfs_node.s3.context import (
    Context,
    Services,
    read_small_body,
    version_query,
    xml_response,
)
from aisfs_node.s3_access import (
    Bucket,
    access_denied,
    acl_not_supported,
    delete_marker_refused,
)


class AccessOps:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = services.store
        self.control = services.authenticator.access

    async def _bucket(self, ctx: Context) -> Bucket:
        return await self.control.bucket(self.store, ctx.bucket)

    def _document(self, acl: acls.AccessControlPolicy) -> Response:
        named = acls.named(acl, self.control.name_of)
        owner = self.services.authenticator.owner_xml(acl.owner)
        if owner.display_name == owner.id and acl.owner == "65a011a29cdf8ec533ec3d1ccaae921c":
            owner = s3xml.Owner(acl.owner, "anonymous")
        return xml_response(s3xml.access_control_policy_document(named, owner))

    async def _requested_acl(self, ctx: Context, owner: str,
                             bucket_owner: str | None) -> acls.AccessControlPolicy:
        """The ACL a Put*Acl request gives: its headers or its body, never both."""
        body = await read_small_body(ctx)
        headers: Any = ctx.http.headers
        if acls.has_acl_headers(headers):
            if body.strip():
                raise S3Error("UnexpectedContent", "This request does not support content")
            given = acls.from_headers(headers, owner, self.control.name_of, bucket_owner)
            assert given is not None
            return given
        if not body.strip():
            raise S3Error("MissingSecurityHeader", "Your request was missing a required "
                          "header", extra={"MissingHeaderName": "x-amz-acl"})
        return s3xml.parse_access_control_policy(body, owner, self.control.name_of)

    @staticmethod
    def _check_settable(acl: acls.AccessControlPolicy, b: Bucket) -> None:
        if b.enforced and not acls.only_owner_full_control(acl, b.owner):
            raise acl_not_supported()
        if b.block.block_public_acls and acl.public:
            raise access_denied()

    # ---- bucket ACL --------------------------------------------------------------------

    async def op_GetBucketAcl(self, ctx: Context) -> Response:
        b = await self._bucket(ctx)
        return self._document(acls.private(b.owner) if b.enforced else b.acl)

    async def op_PutBucketAcl(self, ctx: Context) -> Response:
        b = await self._bucket(ctx)
        acl = await self._requested_acl(ctx, b.owner, None)
        self._check_settable(acl, b)
        default = acl.grants == acls.private(b.owner).grants
        await self.store.update_bucket_props(
            ctx.bucket, {access.ACL_PROP: None if default else acls.to_json(acl)})
        return Response(200)

    # ---- object ACL --------------------------------------------------------------------

    async def _object_acl(self, ctx: Context, version: str | None,
                          b: Bucket) -> acls.AccessControlPolicy:
        """The ACL of the object, or of the version ``versionId`` names (NoSuchKey,
        NoSuchVersion; 405 for a delete marker)."""
        if version is not None:
            return await self.control.version_acl(self.store, ctx.bucket, ctx.key, version, b)
        await self.store.head_object(ctx.bucket, ctx.key)
        return await self.control.object_acl(self.store, ctx.bucket, ctx.key, b)

    async def op_GetObjectAcl(self, ctx: Context) -> Response:
        version = version_query(ctx)  # InvalidArgument for an id we could not have made
        b = await self._bucket(ctx)
        return self._document(await self._object_acl(ctx, version, b))

    async def op_PutObjectAcl(self, ctx: Context) -> Response:
        version = version_query(ctx)
        b = await self._bucket(ctx)
        if version is not None:  # its state before the body (405 for a marker: a PUT)
            info = await self.store.head_version(ctx.bucket, ctx.key, version)
            if info.delete_marker:
                raise delete_marker_refused("PUT")
        current = await self._object_acl(ctx, version, b)  # NoSuchKey before the body
        acl = await self._requested_acl(ctx, current.owner, b.owner)
        self._check_settable(acl, b)
        if b.enforced:
            return Response(200)  # the bucket owner's, full control: nothing to keep
        default = acl.owner == b.owner and acl.grants == acls.private(b.owner).grants
        if version is None:
            await self.control.set_object_acl(self.store, ctx.bucket, ctx.key,
                                              None if default else acl)
        else:
            await self.control.set_version_acl(self.store, ctx.bucket, ctx.key, version,
                                               None if default else acl)
        return Response(200)

    # ---- public access block -----------------------------------------------------------

    async def op_GetPublicAccessBlock(self, ctx: Context) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        flags = info.props.get(access.PUBLIC_ACCESS_BLOCK_PROP)
        if not isinstance(flags, dict):
            raise S3Error("NoSuchPublicAccessBlockConfiguration",
                          "The public access block configuration was not found",
                          ctx.bucket, status=404, extra={"BucketName": ctx.bucket})
        return xml_response(s3xml.public_access_block_configuration(flags))

    async def op_PutPublicAccessBlock(self, ctx: Context) -> Response:
        await self.store.get_bucket(ctx.bucket)
        flags = s3xml.parse_public_access_block(await read_small_body(ctx))
        await self.store.update_bucket_props(ctx.bucket, {access.PUBLIC_ACCESS_BLOCK_PROP: flags})
        return Response(200)

    async def op_DeletePublicAccessBlock(self, ctx: Context) -> Response:
        await self.store.get_bucket(ctx.bucket)
        await self.store.update_bucket_props(ctx.bucket, {access.PUBLIC_ACCESS_BLOCK_PROP: None})
        return Response(204)

    # ---- ownership controls ------------------------------------------------------------

    async def op_GetBucketOwnershipControls(self, ctx: Context) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        ownership = info.props.get(access.OWNERSHIP_PROP)
        if not isinstance(ownership, str):
            raise S3Error("OwnershipControlsNotFoundError",
                          "The bucket ownership controls were not found",
                          ctx.bucket, status=404, extra={"BucketName": ctx.bucket})
        return xml_response(s3xml.ownership_controls(ownership))

    async def op_PutBucketOwnershipControls(self, ctx: Context) -> Response:
        b = await self._bucket(ctx)
        ownership = s3xml.parse_ownership_controls(await read_small_body(ctx))
        if ownership == access.ENFORCED and not acls.only_owner_full_control(b.acl, b.owner):
            raise S3Error("InvalidBucketAclWithObjectOwnership",
                          "Bucket cannot have ACLs set with ObjectOwnership's "
                          "BucketOwnerEnforced setting")
        await self.store.update_bucket_props(ctx.bucket, {access.OWNERSHIP_PROP: ownership})
        return Response(200)

    async def op_DeleteBucketOwnershipControls(self, ctx: Context) -> Response:
        await self.store.get_bucket(ctx.bucket)
        await self.store.update_bucket_props(ctx.bucket, {access.OWNERSHIP_PROP: None})
        return Response(204)
