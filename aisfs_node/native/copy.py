"""``POST /v1/buckets/SRC`` ``copy-bck`` and ``copy-listrange``: AIS's bucket copy.

As the ``aistore`` SDK sends them (``Bucket.copy(to_bck)``, ``ObjectGroup.copy``): the
source in the path (``?provider=aws`` for an ``s3://`` one), the destination in
``?bck_to=PROVIDER/@#/NAME/`` (copy-bck) or the value's ``tobck`` (copy-listrange). The
answer is the job's id (text), for ``client.job(id).wait()`` and ``aisfs job``.

A missing ``ais://`` destination is created (as AIS does); an ``s3://`` one must exist in
the backend. A caller that is not an admin may copy only between buckets it owns
(backend buckets are an admin's). The copy itself: ``aisfs_node.jobs.copy``.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import unquote

from aisfs.backend import Resolved
from aisfs.errors import S3Error
from aisfs.jobs import COPY_BUCKET
from aisfs.jobs.copy import COPY_OBJECTS, BucketName, CopyError, parse_copy
from aisfs_node.http import Response
from aisfs_node.jobs import resolve_bucket, runner_of
from aisfs_node.jobs.copy import start_copy
from aisfs_node.native.jobs import peek_action
from aisfs_node.native.wire import Ctx, Node

COPY_ACTIONS = frozenset((COPY_BUCKET, COPY_OBJECTS))
TEXT = "text/plain; charset=utf-8"


async def copy_job(node: Node, ctx: Ctx, parts: list[str], remote: Any) -> Response | None:
    """``/v1/buckets/SRC`` copy-bck / copy-listrange; None for every other request.
    ``remote``: the native API's ``RemoteNative`` (None: no backend service)."""
    if ctx.http.method != "POST" or len(parts) < 2 or not parts[1]:
        return None
    if len(parts) > 2 and parts[2]:
        return None
    msg = await peek_action(ctx)
    action = str(msg.get("action") or "")
    if action not in COPY_ACTIONS:
        return None
    ctx.bucket = unquote(parts[1])
    ctx.operation = "CopyBucket" if action == COPY_BUCKET else "CopyObjects"
    q = ctx.http.query_dict()
    try:
        req = parse_copy(action, msg.get("value"), q.get("bck_to"))
    except CopyError as e:
        raise S3Error("InvalidArgument", f"{action}: {e}") from None
    if q.get("namespace", "") not in ("", "@#"):
        raise S3Error("InvalidArgument", f"namespace {q['namespace']!r} is not supported")
    if remote is None:
        raise S3Error("ServiceUnavailable", "the node's backend service is not started",
                      status=503)
    await _check_caller(node, ctx, req.dst)
    src = await _resolve(remote, q.get("provider") or None, ctx.bucket)
    ctx.bucket = req.dst.name  # an error now is the destination's (its name in the message)
    dst = await _destination(remote, req.dst)
    job = start_copy(runner_of(node), src, dst, req)
    return Response(200, [("content-type", TEXT)], job.id.encode())


async def _resolve(remote: Any, provider: str | None, name: str) -> Resolved:
    if provider in ("aws", "s3") and not remote.discover:
        raise S3Error("InvalidArgument", 'provider "aws": this node has no backend '
                      "([backend.s3] in its config, docs/backends.md)")
    rb: Resolved = await resolve_bucket(remote.remote, provider, name,
                                        discover=remote.discover)
    return rb


async def _destination(remote: Any, dst: BucketName) -> Resolved:
    """The destination, an ``ais://`` one created when missing (AIS's copy-bck does)."""
    if dst.provider == "ais":
        with contextlib.suppress(S3Error):  # there already, or made meanwhile
            await remote.store.create_bucket(dst.name)
    return await _resolve(remote, dst.provider, dst.name)


async def _check_caller(node: Node, ctx: Ctx, dst: BucketName) -> None:
    """The source was checked by the gate (``aisfs_node.native_auth``); the destination too."""
    caller = ctx.caller
    if caller.admin:
        return
    if dst.provider != "ais":
        raise S3Error("AccessDenied", "backend buckets are an admin's", status=403)
    try:
        await node.store.get_bucket(dst.name)
    except S3Error as e:
        if e.code != "NoSuchBucket":
            raise
        # the copy would create it, owned by no one: a non-admin creates it first
        raise S3Error("AccessDenied", f"copy to ais://{dst.name}: create the bucket first",
                      status=403) from None
    await node.authenticator.check_bucket(node.store, caller, dst.name)
