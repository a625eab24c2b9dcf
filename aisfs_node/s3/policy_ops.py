"""Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus (issue 16).

Wired into the router (``aisfs_node.s3.api``) after the older parts, so an ``op_<Name>``
here answers that operation. An operation with no method anywhere answers 501.

The policy is kept as its JSON text, exactly as put, in the bucket's props
(``policy``); the language itself is ``aisfs.auth.policy`` and its enforcement on every
request is ``aisfs_node/s3_auth.py``'s. Managing the policy is the bucket owner's (and an
admin's): as AWS answers a caller whom permissions let in but who is not of the owner's
account, anyone else who gets this far is 405 MethodNotAllowed. A bucket behind the
node (``s3://B``) keeps its policy at its backend: 501 here.
"""

from __future__ import annotations

from aisfs.auth.caller import may_use_bucket
from aisfs.auth.policy import MAX_POLICY_BYTES, POLICY_PROP, is_public, parse_policy
from aisfs.backend.provider import LOCAL_PREFIX, Provider
from aisfs.errors import S3Error
from aisfs.s3 import checksums
from aisfs.s3.xml.build import element, serialize, sub
from aisfs.store.types import BucketInfo
from aisfs_node.http import Response
from aisfs_node.s3.context import Context, Services, read_small_body, xml_response

PUBLIC_ACCESS_BLOCK_PROP = "public_access_block"  # H4's: the four flags (JSON object)
_BACKEND_PREFIX = LOCAL_PREFIX[Provider.AWS]
# a body this much over the policy limit is refused before it is read whole
_READ_LIMIT = 4 * MAX_POLICY_BYTES


def _no_policy(bucket: str) -> S3Error:
    return S3Error("NoSuchBucketPolicy", "The bucket policy does not exist", bucket,
                   status=404, extra={"BucketName": bucket})


def _check_body_checksums(ctx: Context, body: bytes) -> None:
    """Content-MD5 and an x-amz-checksum-* header, when sent, must match the body."""
    expected = checksums.checksum_headers(ctx.http.headers)  # type: ignore[arg-type]
    if expected:
        hashers = checksums.new_hashers(expected)
        checksums.update_all(hashers, body)
        checksums.verify(expected, hashers)


def blocks_public_policy(props: dict[str, object]) -> bool:
    """The bucket's public access block has BlockPublicPolicy on."""
    block = props.get(PUBLIC_ACCESS_BLOCK_PROP)
    return isinstance(block, dict) and block.get("BlockPublicPolicy") is True


class PolicyOps:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def _owned_bucket(self, ctx: Context) -> BucketInfo:
        """The bucket, when the caller may manage its policy (its owner, an admin)."""
        if ctx.bucket.startswith(_BACKEND_PREFIX):
            raise S3Error("NotImplemented",
                          "Bucket policies of a backend bucket are kept at the backend",
                          status=501)
        info = await self.services.store.get_bucket(ctx.bucket)
        owner = self.services.authenticator.owner_of(info.props)
        if not may_use_bucket(ctx.caller, owner):
            if ctx.caller.anonymous:
                raise S3Error("AccessDenied", "Access Denied")
            raise S3Error("MethodNotAllowed",
                          "The specified method is not allowed against this resource.",
                          status=405)
        return info

    async def op_PutBucketPolicy(self, ctx: Context) -> Response:
        info = await self._owned_bucket(ctx)
        body = await read_small_body(ctx, _READ_LIMIT)
        _check_body_checksums(ctx, body)
        policy = parse_policy(body, ctx.bucket)
        if blocks_public_policy(info.props) and is_public(policy):
            raise S3Error("AccessDenied", "Access Denied")
        # x-amz-confirm-remove-self-bucket-access: accepted; the owner never loses the
        # policy operations, so there is nothing to confirm
        await self.services.store.update_bucket_props(ctx.bucket, {POLICY_PROP: policy.text})
        return Response(204)

    async def op_GetBucketPolicy(self, ctx: Context) -> Response:
        info = await self._owned_bucket(ctx)
        text = info.props.get(POLICY_PROP)
        if not isinstance(text, str) or not text:
            raise _no_policy(ctx.bucket)
        return Response(200, [("content-type", "application/json")], text.encode("utf-8"))

    async def op_DeleteBucketPolicy(self, ctx: Context) -> Response:
        await self._owned_bucket(ctx)
        await self.services.store.update_bucket_props(ctx.bucket, {POLICY_PROP: None})
        return Response(204)

    async def op_GetBucketPolicyStatus(self, ctx: Context) -> Response:
        info = await self._owned_bucket(ctx)
        text = info.props.get(POLICY_PROP)
        if not isinstance(text, str) or not text:
            raise _no_policy(ctx.bucket)
        policy = parse_policy(text.encode("utf-8"), ctx.bucket)
        top = element("PolicyStatus")
        sub(top, "IsPublic", is_public(policy))
        return xml_response(serialize(top))
