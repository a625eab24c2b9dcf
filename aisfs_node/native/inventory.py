"""NBI through ``/v1`` (AIS's API, the ``aistore`` SDK's ``Bucket.create_inventory``,
``destroy_inventory``, ``show_inventory`` and ``list_objects(inventory_name=...)``):

- ``POST /v1/buckets/B {"action": "create-inventory", "value": CreateNBIMsg}``: starts the
  job; answers its id (text). ``value``: ``name``, ``prefix``, ``force``; ``props`` and
  ``names_per_chunk`` are accepted and not needed (every inventory keeps name, size, etag,
  mtime and version; one file, no chunks).
- ``DELETE ... {"action": "destroy-inventory", "name": N}``: one, or (no name) all.
- ``GET ... {"action": "show-inventory", "name": N}``: AIS's ``NBIInfoMap``;
  ``GET /v1/buckets`` with that action: every bucket's.
- A list request with ``LsNBI`` (``1 << 15``) in its flags, ``Ais-Inv-Name`` naming the
  inventory (optional when the bucket has one): served from it, ``pagesize`` up to
  10,000, the continuation token the last name listed (AIS's literal tokens).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aisfs.backend import RemoteObjects, Resolved
from aisfs.backend.types import RemoteEntry
from aisfs.errors import S3Error
from aisfs.inventory import ACT_CREATE_NBI, ACT_DESTROY_NBI, ACT_SHOW_NBI, HDR_INV_NAME, LS_NBI
from aisfs.native import ENTRY_IS_DIR, LS_NAME_ONLY, LS_NO_DIRS, LS_NO_RECURSION, LS_NOT_CACHED
from aisfs.numbers import INT64_MAX, NumberError, from_json
from aisfs_node import inventory
from aisfs_node.http import Response
from aisfs_node.jobs import JobRunner, resolve_bucket, runner_of
from aisfs_node.jobs.runner import attach
from aisfs_node.native.listing import page_response
from aisfs_node.native.wire import Ctx, Node, json_response

__all__ = ["ACT_SHOW_NBI", "LS_NBI", "NBI_ACTIONS", "bucket_action", "list_objects",
           "local_action", "show_all"]

NBI_ACTIONS = frozenset((ACT_CREATE_NBI, ACT_DESTROY_NBI, ACT_SHOW_NBI))
MAX_PAGE = 10_000  # apc.MaxPageSizeAIS
_METHOD = {ACT_CREATE_NBI: "POST", ACT_DESTROY_NBI: "DELETE", ACT_SHOW_NBI: "GET"}
_OPERATION = {ACT_CREATE_NBI: "CreateInventory", ACT_DESTROY_NBI: "DestroyInventory",
              ACT_SHOW_NBI: "ShowInventory"}

EntryMaker = Callable[[RemoteEntry, set[str], bool], dict[str, Any]]
CachedLookup = Callable[[Resolved, str, list[str]], Awaitable[dict[str, Any]]]


def runner_for(node: Node, remote: RemoteObjects) -> JobRunner:
    """The node's job runner (``aisfs_node.jobs``); one on the backend service's nursery when
    the app has not attached one."""
    try:
        return runner_of(node)
    except S3Error:
        runner = JobRunner(remote.background, remote=remote)
        attach(node, runner)
        return runner


async def bucket_action(node: Node, ctx: Ctx, msg: dict[str, Any], rb: Resolved,
                        remote: RemoteObjects) -> Response:
    """One of ``NBI_ACTIONS`` on the (remote) bucket ``rb``."""
    action = str(msg.get("action") or "")
    if ctx.http.method != _METHOD[action]:
        raise S3Error("MethodNotAllowed", f"{action}: use {_METHOD[action]}", status=405)
    ctx.operation = _OPERATION[action]
    name = str(msg.get("name") or "")
    if action == ACT_SHOW_NBI:
        return json_response(await inventory.show(remote.store, rb.bucket, name))
    if action == ACT_DESTROY_NBI:
        await inventory.remove(remote.store, rb.bucket, name)
        return Response(200)
    value = msg.get("value") or {}
    if not isinstance(value, dict):
        raise S3Error("InvalidArgument", f"{ACT_CREATE_NBI}: value must be a JSON object")
    if value.get("continuation_token") or value.get("start_after"):
        raise S3Error("InvalidArgument", f"invalid '{ACT_CREATE_NBI}': continuation_token "
                      "and start_after are not supported")
    job = inventory.start_create(
        runner_for(node, remote), remote, rb, name=str(value.get("name") or name),
        prefix=str(value.get("prefix") or ""), force=bool(value.get("force")))
    return Response(200, [("content-type", "text/plain")], job.id.encode())


async def local_action(node: Node, ctx: Ctx, msg: dict[str, Any]) -> Response:
    """An NBI action on an ``ais://`` bucket (the local routes of ``aisfs_node.native.api``): one
    with ``backend_bck`` has inventories; a plain one is a 400, as in AIS."""
    runner = runner_of(node)
    if runner.remote is None:
        raise S3Error("InvalidRequest", f"{msg.get('action')}: this node has no backend "
                      "buckets")
    rb = await resolve_bucket(runner.remote, "ais", ctx.bucket, discover=False)
    return await bucket_action(node, ctx, msg, rb, runner.remote)


async def show_all(remote: RemoteObjects, ctx: Ctx) -> Response:
    """``show-inventory`` without a bucket: every inventory on the node."""
    ctx.operation = _OPERATION[ACT_SHOW_NBI]
    return json_response(await inventory.show(remote.store, None))


async def list_objects(ctx: Ctx, remote: RemoteObjects, rb: Resolved, value: dict[str, Any],
                       flags: int, make_entry: EntryMaker, cached: CachedLookup) -> Response:
    """A list request with ``LsNBI``: one page from the bucket's inventory."""
    if flags & LS_NOT_CACHED:
        raise S3Error("InvalidArgument", "invalid list via native bucket inventory: "
                      "flags: not-cached")
    try:
        page_size = from_json(value.get("pagesize") or 0, lo=-INT64_MAX)
    except NumberError:
        raise S3Error("InvalidArgument", "list: pagesize is a number") from None
    if page_size <= 0 or page_size > MAX_PAGE:
        page_size = MAX_PAGE
    prefix = str(value.get("prefix") or "")
    marker = max(str(value.get("continuation_token") or ""),
                 str(value.get("start_after") or ""))
    props = {p.strip() for p in str(value.get("props") or "").split(",") if p.strip()}
    if not props or flags & LS_NAME_ONLY:
        props = {"name", "size"} if not flags & LS_NAME_ONLY else {"name"}
    page = await inventory.inventory_page(
        remote.store, rb.bucket, (ctx.http.headers.get(HDR_INV_NAME) or "").strip(),
        prefix=prefix, delimiter="/" if flags & LS_NO_RECURSION else "",
        start_after=marker, max_keys=page_size)
    keys = [e.key for e in page.entries]
    have = await cached(rb, prefix, keys) if "cached" in props and keys else {}
    wire = [(e.key, make_entry(RemoteEntry(e.key, e.size, e.etag, e.mtime_ns, e.version),
                               props, e.key in have)) for e in page.entries]
    if not flags & LS_NO_DIRS:
        wire += [(p, {"n": p, "f": ENTRY_IS_DIR}) for p in page.common_prefixes]
    wire.sort(key=lambda pair: pair[0])
    token = (page.next_marker or "") if page.is_truncated else ""
    return page_response(ctx, value, token, [ent for _, ent in wire])
