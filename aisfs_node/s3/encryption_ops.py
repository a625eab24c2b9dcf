"""Server-side encryption: bucket default encryption (issue 16, item 6).

Put/Get/DeleteBucketEncryption. The rule is a bucket property (``"sse"``:
``{"alg": "AES256", "bucket_key": bool}``) that ``aisfs_node.s3.sse`` applies to every new
object whose request names no encryption (PutObject, CopyObject,
CreateMultipartUpload, POST Object). A bucket without one answers AWS's 404
ServerSideEncryptionConfigurationNotFoundError - and its objects are stored as sent.

Wired into the router (``aisfs_node.s3.api``) after the older parts, so an ``op_<Name>``
here answers that operation.
"""

from __future__ import annotations

from aisfs.crypto.envelope import EXTRA_KEY
from aisfs.errors import S3Error
from aisfs.s3.xml.encryption import (
    EncryptionRule,
    encryption_configuration,
    parse_encryption_configuration,
)
from aisfs_node.http import Response
from aisfs_node.s3.context import Context, Services, read_small_body, xml_response


class EncryptionOps:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = services.store

    async def op_PutBucketEncryption(self, ctx: Context) -> Response:
        await self.store.get_bucket(ctx.bucket)
        rule = parse_encryption_configuration(await read_small_body(ctx))
        await self.store.update_bucket_props(
            ctx.bucket, {EXTRA_KEY: {"alg": rule.algorithm, "bucket_key": rule.bucket_key}})
        return Response(200)

    async def op_GetBucketEncryption(self, ctx: Context) -> Response:
        info = await self.store.get_bucket(ctx.bucket)
        kept = info.props.get(EXTRA_KEY)
        if not isinstance(kept, dict) or not kept.get("alg"):
            raise S3Error("ServerSideEncryptionConfigurationNotFoundError",
                          "The server side encryption configuration was not found",
                          status=404, extra={"BucketName": ctx.bucket})
        rule = EncryptionRule(str(kept["alg"]), bool(kept.get("bucket_key")))
        return xml_response(encryption_configuration(rule))

    async def op_DeleteBucketEncryption(self, ctx: Context) -> Response:
        await self.store.get_bucket(ctx.bucket)
        await self.store.update_bucket_props(ctx.bucket, {EXTRA_KEY: None})
        return Response(204)
