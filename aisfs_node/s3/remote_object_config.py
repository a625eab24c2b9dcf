"""An object's ACL, tags and attributes on a backend bucket: the backend's.

The node keeps no ACL or tags of a remote object (aisfs/backend/forwarded.py), so
Get/PutObjectAcl and Get/Put/DeleteObjectTagging are forwarded to the backend's bucket -
a ``versionId`` with them - and its answer (its ``x-amz-version-id``), or its refusal,
passed on. The request is checked as the node checks its own first: ACL headers or a
document, never both (UnexpectedContent), not neither (MissingSecurityHeader); an ACL
document that does not parse or follow the schema is MalformedACLError, a tag set the
node would refuse is refused the same (MalformedXML, InvalidTag). GetObjectAttributes is
answered from the object's HEAD (the cached copy's, else the backend's: ETag,
ObjectSize, StorageClass; no checksums or parts, which a HEAD does not give); retention
and legal hold are not done for backend buckets (501). Who may call was decided before
(aisfs_node/s3_access.py).
"""

from __future__ import annotations

from typing import Any

from aisfs.auth import acl as acls
from aisfs.backend import RemoteObjects, Resolved
from aisfs.backend.forwarded import ACL_PARAMS, forwarded_headers, forwarded_params
from aisfs.errors import S3Error
from aisfs.s3 import xml as s3xml
from aisfs.s3.conditions import format_http_date
from aisfs_node.http import Response
from aisfs_node.s3.context import Context, asked_attributes, read_small_body, xml_response
from aisfs_node.s3.remote_versions import head_source_version, refuse_empty_version


def _not_done(ctx: Context) -> Response:
    raise S3Error("NotImplemented", f"{ctx.s3.operation} is not implemented for a backend "
                  "bucket's objects", status=501)


def _version(ctx: Context) -> str | None:
    """The request's ``versionId``: the backend's id, whatever its form (not one this
    node could have made); an empty one is refused."""
    version = ctx.s3.query.get("versionId")
    refuse_empty_version(version)
    return version


def _version_header(answer: Any) -> list[tuple[str, str]]:
    version = str(answer.get("VersionId") or "")
    return [("x-amz-version-id", version)] if version else []


class RemoteObjectConfig:
    def __init__(self, remote: RemoteObjects) -> None:
        self.remote = remote

    async def _call(self, ctx: Context, rb: Resolved, op: str, **params: Any) -> Any:
        assert rb.remote is not None
        return await self.remote.backend(rb).object_call(
            op, rb.remote.name, ctx.key, _version(ctx), **params)

    # ---- ACL -----------------------------------------------------------------------

    async def op_GetObjectAcl(self, ctx: Context, rb: Resolved) -> Response:
        answer = await self._call(ctx, rb, "get_object_acl")
        return xml_response(s3xml.backend_policy_document(answer))

    async def op_PutObjectAcl(self, ctx: Context, rb: Resolved) -> Response:
        _version(ctx)
        body = await read_small_body(ctx)
        headers = ctx.http.headers
        if acls.has_acl_headers(headers):  # type: ignore[arg-type]
            if body.strip():
                raise S3Error("UnexpectedContent", "This request does not support content")
            if headers.get("x-amz-grant-write") is not None:
                raise S3Error("InvalidArgument", "x-amz-grant-write applies to buckets, "
                              "not to objects", extra={"ArgumentName": "x-amz-grant-write"})
            given = forwarded_headers(headers, names=ACL_PARAMS)
            await self._call(ctx, rb, "put_object_acl", **forwarded_params(given))
        elif not body.strip():
            raise S3Error("MissingSecurityHeader", "Your request was missing a required "
                          "header", extra={"MissingHeaderName": "x-amz-acl"})
        else:
            await self._call(ctx, rb, "put_object_acl",
                             AccessControlPolicy=s3xml.forwarded_policy(body))
        return Response(200)

    # ---- tags ----------------------------------------------------------------------

    async def op_GetObjectTagging(self, ctx: Context, rb: Resolved) -> Response:
        answer = await self._call(ctx, rb, "get_object_tagging")
        tags = {str(t.get("Key")): str(t.get("Value") or "") for t in answer.get("TagSet") or []}
        response = xml_response(s3xml.tagging(tags))
        response.headers += _version_header(answer)
        return response

    async def op_PutObjectTagging(self, ctx: Context, rb: Resolved) -> Response:
        _version(ctx)
        tags = s3xml.parse_tagging(await read_small_body(ctx))  # an object's: 10 at most
        answer = await self._call(ctx, rb, "put_object_tagging", Tagging={
            "TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
        return Response(200, _version_header(answer))

    async def op_DeleteObjectTagging(self, ctx: Context, rb: Resolved) -> Response:
        answer = await self._call(ctx, rb, "delete_object_tagging")
        return Response(204, _version_header(answer))

    # ---- attributes, lock ----------------------------------------------------------

    async def op_GetObjectAttributes(self, ctx: Context, rb: Resolved) -> Response:
        version = _version(ctx)
        wanted = asked_attributes(ctx)
        if version is not None:
            attrs = await head_source_version(self.remote, rb, ctx.key, version)
        else:
            attrs = (await self.remote.head(rb, ctx.key)).attrs
        response = xml_response(s3xml.object_attributes(wanted, attrs.etag, attrs.size))
        response.headers.append(("last-modified", format_http_date(attrs.last_modified_ns)))
        if attrs.version:
            response.headers.append(("x-amz-version-id", attrs.version))
        return response

    async def op_GetObjectRetention(self, ctx: Context, rb: Resolved) -> Response:
        return _not_done(ctx)

    async def op_PutObjectRetention(self, ctx: Context, rb: Resolved) -> Response:
        return _not_done(ctx)

    async def op_GetObjectLegalHold(self, ctx: Context, rb: Resolved) -> Response:
        return _not_done(ctx)

    async def op_PutObjectLegalHold(self, ctx: Context, rb: Resolved) -> Response:
        return _not_done(ctx)
