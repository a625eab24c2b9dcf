"""Native API routes for node administration: mountpaths, resilver, scrub.

Reached from the router (``aisfs_node.native.api``) for ``/v1/daemon/<sub>`` with ``sub``
in ``SUBS``.

Mountpaths, in AIStore's shape (``api/daemon.go``; AIS sends them to
``/v1/reverse/daemon/mountpaths``, a single node takes them at ``/v1/daemon/mountpaths``),
with an action message ``{"action": ..., "value": "<path>"}``:

=======  ===========================  =====================================================
GET      ``/v1/daemon/mountpaths``    every mountpath: state, capacity, io_errors, reason
PUT      ``attach-mp``                add a directory (identity file; joins placement)
POST     ``enable-mp`` / ``disable-mp``
DELETE   ``detach-mp``                move its data away, then drop it from the set
=======  ===========================  =====================================================

The action may also be given as ``?action=`` with ``?path=`` (``add``, ``enable``,
``disable``, ``detach`` are accepted too). Each answers the mountpath's JSON record; the
resilver that follows is reported by ``GET /v1/daemon/resilver``.

Jobs: ``GET /v1/daemon/resilver`` and ``GET /v1/daemon/scrub`` give the progress record of
the current or last run (``{"running", "pending", "progress": {...}}``); ``POST`` starts one
(a resilver of everything, or a scrub; a scrub already running is returned as is).
``GET /v1/daemon/jobs``: both, and the mountpaths being detached.
"""

from __future__ import annotations

import json
from typing import Any

import trio

from aisfs.errors import S3Error
from aisfs.store.admin import MountpathError
from aisfs_node.http import Response
from aisfs_node.native.wire import Ctx, Node, json_response

SUBS = frozenset(("mountpaths", "resilver", "scrub", "jobs"))
MAX_BODY = 64 * 1024

_ACTIONS = {
    "attach-mp": "add", "add-mp": "add", "add": "add", "attach": "add",
    "enable-mp": "enable", "enable": "enable",
    "disable-mp": "disable", "disable": "disable",
    "detach-mp": "detach", "remove-mp": "detach", "detach": "detach", "remove": "detach",
}
_METHOD = {"add": "PUT", "enable": "POST", "disable": "POST", "detach": "DELETE"}


async def handle(node: Node, ctx: Ctx, sub: str, rest: str) -> Response:
    admin = node.store.admin
    method = ctx.http.method
    body = await ctx.http.read_body(MAX_BODY)
    msg: dict[str, Any] = {}
    if body.strip():
        try:
            msg = json.loads(body)
        except ValueError:
            raise S3Error("InvalidRequest", "the request body is not valid JSON") from None
        if not isinstance(msg, dict):
            raise S3Error("InvalidRequest", "expected {\"action\": ..., \"value\": ...}")
    q = ctx.http.query_dict()
    try:
        if sub == "mountpaths":
            return await _mountpaths(node, ctx, method, msg, q, rest)
        if sub in ("resilver", "scrub"):
            ctx.operation = "Resilver" if sub == "resilver" else "Scrub"
            if method == "POST":
                if sub == "resilver":
                    await trio.to_thread.run_sync(
                        lambda: admin.request_resilver(reason="requested")
                    )
                else:
                    buckets = msg.get("buckets") or None
                    await trio.to_thread.run_sync(admin.scrub, buckets)
            elif method != "GET":
                raise S3Error("MethodNotAllowed", f"{method} is not allowed on {sub}")
            return json_response(_job(admin.status(), sub))
        if sub == "jobs":
            ctx.operation = "Jobs"
            return json_response(admin.status())
    except MountpathError as e:
        raise S3Error("InvalidRequest", str(e), status=e.status) from None
    raise S3Error("InvalidURI", f"no such native API path: {ctx.http.raw_path}", status=404)


def _job(status: dict[str, Any], kind: str) -> dict[str, Any]:
    if kind == "resilver":
        return {"running": status["resilver_running"], "pending": status["resilver_pending"],
                "progress": status["resilver"], "detaching": status["detaching"]}
    prog = status["scrub"]
    return {"running": bool(prog and prog["running"]), "pending": False, "progress": prog}


async def _mountpaths(
    node: Node, ctx: Ctx, method: str, msg: dict[str, Any], q: dict[str, str], rest: str
) -> Response:
    admin = node.store.admin
    if method == "GET":
        ctx.operation = "ListMountpaths"
        mps = await trio.to_thread.run_sync(admin.mountpaths)
        return json_response({
            "mountpaths": mps,
            "available": [m["path"] for m in mps if m["state"] == "enabled"],
            "disabled": [m["path"] for m in mps if m["state"] in ("disabled", "faulted")],
            "detaching": [m["path"] for m in mps if m["state"] == "detaching"],
        })
    name = str(msg.get("action") or q.get("action") or rest or "")
    action = _ACTIONS.get(name)
    if action is None:
        raise S3Error(
            "InvalidArgument",
            f"unknown mountpath action {name!r}: attach-mp (PUT), enable-mp, disable-mp "
            "(POST), detach-mp (DELETE)",
        )
    if method != _METHOD[action] and not (rest or q.get("action")):
        raise S3Error("MethodNotAllowed", f"{name} takes {_METHOD[action]}, not {method}")
    path = msg.get("value") or q.get("path") or q.get("mountpath")
    if not isinstance(path, str) or not path:
        raise S3Error("InvalidArgument", "which mountpath? give it as \"value\" (or ?path=)")
    ctx.operation = f"Mountpath{action.capitalize()}"
    entry = await trio.to_thread.run_sync(getattr(admin, action), path)
    return json_response(entry)
