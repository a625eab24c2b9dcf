"""``/v1/buckets/B``: create, HEAD props, set/reset props, mirror copies, destroy, delete a
list of objects, rename a prefix; ``GET /v1/buckets``: the bucket list."""

from __future__ import annotations

import json
import secrets
from typing import Any

from aisfs.auth.access import OBJECT_ACLS_PROP
from aisfs.auth.caller import OWNER_PROP
from aisfs.backend.provider import BucketRef, Provider
from aisfs.client.props import (
    BUCKET_PROPS,
    PropError,
    bucket_props_json,
    flatten,
    normalize_patch,
)
from aisfs.errors import S3Error
from aisfs.s3.names import validate_bucket_name, validate_key
from aisfs_node.http import Response
from aisfs_node.inventory import drop_bucket as drop_inventories
from aisfs_node.native.wire import JSON, MAX_CONTROL_BODY, Ctx, Node, cname, json_response


async def list_buckets(node: Node, ctx: Ctx) -> Response:
    await ctx.http.read_body(MAX_CONTROL_BODY)
    buckets = await node.store.list_buckets()
    return json_response(
        [
            {"name": b.name, "provider": "ais", "namespace": {"uuid": "", "name": ""}}
            for b in buckets
        ]
    )


def props_patch(
    value: Any, current: dict[str, Any] | None = None, strict: bool = True
) -> dict[str, Any]:
    """A bucket-props patch from an action message's value (flattened, checked)."""
    if value in (None, "", {}):
        return {}
    if not isinstance(value, dict):
        raise S3Error("InvalidArgument", "bucket props must be a JSON object")
    flat = flatten(value)
    if not strict:
        # create-bck may carry a complete AIS Bprops: keep what aisfs implements
        for ignored in ("provider", "bid", "created", "name", "access", "feature_names"):
            flat.pop(ignored, None)
        flat = {k: v for k, v in flat.items() if k in BUCKET_PROPS or not _is_ais_noise(k)}
    try:
        return normalize_patch(flat, current)
    except PropError as e:
        raise S3Error("InvalidArgument", str(e)) from None


def _is_ais_noise(key: str) -> bool:
    """Props of a full AIS Bprops that aisfs does not keep (accepted and ignored)."""
    return key.split(".", 1)[0] in (
        "backend_bck", "write_policy", "checksum", "versioning", "mirror", "ec", "lru",
        "rate_limit", "extra", "chunks",
    )


async def create_bucket(node: Node, ctx: Ctx, msg: dict[str, Any]) -> Response:
    validate_bucket_name(ctx.bucket)
    props = dict(node.cfg.bucket_defaults)
    props.update(props_patch(msg.get("value"), strict=False))
    if ctx.caller.user is not None:
        props[OWNER_PROP] = ctx.caller.user.id  # the creating user (docs/auth.md)
    await node.store.create_bucket(ctx.bucket, props)
    return Response(200)


async def head_bucket(node: Node, ctx: Ctx) -> Response:
    info = await node.store.get_bucket(ctx.bucket)
    props = bucket_props_json(info.name, info.props, info.created_ns, node.cfg.bucket_defaults)
    return Response(
        200,
        [
            ("ais-bucket-props", json.dumps(props, separators=(",", ":"))),
            ("content-type", JSON),
        ],
        head=True,
    )


async def set_bucket_props(node: Node, ctx: Ctx, msg: dict[str, Any]) -> Response:
    info = await node.store.get_bucket(ctx.bucket)
    patch = props_patch(msg.get("value"), info.props)
    if not patch:
        raise S3Error("InvalidArgument", "no bucket properties to set")
    info = await node.store.update_bucket_props(ctx.bucket, patch)
    props = bucket_props_json(info.name, info.props, info.created_ns, node.cfg.bucket_defaults)
    return json_response(props)


async def reset_bucket_props(node: Node, ctx: Ctx, msg: dict[str, Any]) -> Response:
    info = await node.store.get_bucket(ctx.bucket)
    # kept: the owner, and the mark that object ACLs are stored (state, not a setting)
    patch: dict[str, Any] = {k: None for k in info.props
                             if k not in (OWNER_PROP, OBJECT_ACLS_PROP)}
    patch.update(node.cfg.bucket_defaults)
    info = await node.store.update_bucket_props(ctx.bucket, patch)
    props = bucket_props_json(info.name, info.props, info.created_ns, node.cfg.bucket_defaults)
    return json_response(props)


async def make_n_copies(node: Node, ctx: Ctx, msg: dict[str, Any]) -> Response:
    info = await node.store.get_bucket(ctx.bucket)
    try:
        patch = normalize_patch({"mirror.copies": msg.get("value")}, info.props)
    except PropError as e:
        raise S3Error("InvalidArgument", str(e)) from None
    await node.store.update_bucket_props(ctx.bucket, patch)
    # new writes get the copies at once; existing objects through the resilver that
    # update_bucket_props starts (GET /v1/daemon/resilver)
    return Response(200, [("content-type", "text/plain")], secrets.token_hex(5).encode())


async def destroy_bucket(node: Node, ctx: Ctx, msg: dict[str, Any]) -> Response:
    """AIS ``destroy-bck``: the bucket goes with everything in it, its inventories too."""
    await node.store.get_bucket(ctx.bucket)
    for _attempt in range(5):
        await _empty_bucket(node, ctx.bucket)
        try:
            await node.store.delete_bucket(ctx.bucket)
            await drop_inventories(node.store, BucketRef(Provider.AIS, ctx.bucket))
            return Response(200)
        except S3Error as err:
            if err.code != "BucketNotEmpty":
                raise
    raise S3Error("OperationAborted", f'bucket "{cname(ctx.bucket)}" keeps being written to')


async def _empty_bucket(node: Node, bucket: str) -> None:
    store = node.store
    while True:
        page = await store.list_objects(bucket, max_keys=1000)
        for entry in page.entries:
            try:
                await store.delete_object(bucket, entry.key)
            except S3Error as err:
                if err.code != "NoSuchKey":
                    raise
        if not page.is_truncated:
            break
    for up in await store.list_uploads(bucket):
        try:
            await store.abort_upload(up.upload_id, bucket, up.key)
        except S3Error as err:
            if err.code != "NoSuchUpload":
                raise


async def rename_prefix(node: Node, ctx: Ctx, msg: dict[str, Any]) -> Response:
    """aisfs extension: every key under ``name`` moves under ``value.dst`` (the same
    tail), in one index transaction, metadata only; existing destinations are replaced."""
    src = str(msg.get("name") or "")
    value = msg.get("value")
    dst = str(value.get("dst") or "") if isinstance(value, dict) else ""
    if not src or not dst:
        raise S3Error(
            "InvalidArgument",
            'rename-prefix: expected {"name": SRC_PREFIX, "value": {"dst": DST_PREFIX}}',
        )
    validate_key(src)
    validate_key(dst)
    n = await node.store.rename_prefix(ctx.bucket, src, dst)
    return json_response({"renamed": n})


async def delete_list(node: Node, ctx: Ctx, msg: dict[str, Any]) -> Response:
    value = msg.get("value") or {}
    names = value.get("objnames") if isinstance(value, dict) else None
    if not isinstance(names, list):
        raise S3Error("NotImplemented", "only delete-listrange with objnames", status=501)
    await node.store.get_bucket(ctx.bucket)
    for name in names:
        try:
            await node.store.delete_object(ctx.bucket, str(name))
        except S3Error as err:
            if err.code != "NoSuchKey":
                raise
    return Response(200, [("content-type", "text/plain")], secrets.token_hex(5).encode())
