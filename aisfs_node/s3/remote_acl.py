"""GetObjectAcl and PutObjectAcl of a backend bucket's object: the backend's.

The node keeps no ACL of a remote object (aisfs/backend/acl.py): both are forwarded to
the backend's bucket - a ``versionId`` with them - and its answer, or its refusal,
passed on. The request is checked as the node checks its own first: ACL headers or a
document, never both (UnexpectedContent), not neither (MissingSecurityHeader); a
document that does not parse or follow the schema is MalformedACLError. Who may call
was decided before (aisfs_node/s3_access.py).
"""

from __future__ import annotations

from aisfs.auth import acl as acls
from aisfs.backend import RemoteObjects, Resolved
from aisfs.backend.acl import acl_headers
from aisfs.errors import S3Error
from aisfs.s3 import xml as s3xml
from aisfs_node.http import Response
from aisfs_node.s3.context import Context, read_small_body, version_query, xml_response


class RemoteAcl:
    def __init__(self, remote: RemoteObjects) -> None:
        self.remote = remote

    async def op_GetObjectAcl(self, ctx: Context, rb: Resolved) -> Response:
        version = version_query(ctx)
        assert rb.remote is not None
        answer = await self.remote.backend(rb).get_object_acl(rb.remote.name, ctx.key,
                                                               version)
        return xml_response(s3xml.backend_policy_document(answer))

    async def op_PutObjectAcl(self, ctx: Context, rb: Resolved) -> Response:
        version = version_query(ctx)
        assert rb.remote is not None
        body = await read_small_body(ctx)
        headers = ctx.http.headers
        backend = self.remote.backend(rb)
        if acls.has_acl_headers(headers):  # type: ignore[arg-type]
            if body.strip():
                raise S3Error("UnexpectedContent", "This request does not support content")
            acl = acl_headers(headers)
            if headers.get("x-amz-grant-write") is not None:
                raise S3Error("InvalidArgument", "x-amz-grant-write applies to buckets, "
                              "not to objects", extra={"ArgumentName": "x-amz-grant-write"})
            await backend.put_object_acl(rb.remote.name, ctx.key, version, acl=acl)
        elif not body.strip():
            raise S3Error("MissingSecurityHeader", "Your request was missing a required "
                          "header", extra={"MissingHeaderName": "x-amz-acl"})
        else:
            await backend.put_object_acl(rb.remote.name, ctx.key, version,
                                         policy=s3xml.forwarded_policy(body))
        return Response(200)
