"""``/v1/daemon/lru``: the LRU task's last run, and a run started on request.

``GET`` answers ``{"running", "pending", "enabled", "progress": {...}}`` (the shape of
``/v1/daemon/resilver`` and ``/scrub``; ``progress``: the current or last run, from
``aisfs_node.lru.LruRun.to_json``, or null). ``POST`` starts a run now - AIS's ``ais start
lru`` - unless one is running, and answers the same with that run (``aisfs start lru
[--wait]``). A run evicts only above ``space.highwm`` (docs/backends.md, "LRU and
watermarks").
"""

from __future__ import annotations

from aisfs.errors import S3Error
from aisfs_node.http import Response
from aisfs_node.lru import LruService
from aisfs_node.native.wire import Ctx, json_response

MAX_BODY = 4096


async def handle(lru: LruService, ctx: Ctx) -> Response:
    method = ctx.http.method
    await ctx.http.read_body(MAX_BODY)  # an optional action message: nothing in it is used
    if method == "POST":
        ctx.operation = "StartLru"
        lru.request("requested")
    elif method == "GET":
        ctx.operation = "Lru"
    else:
        raise S3Error("MethodNotAllowed", f"{method} is not allowed on lru", status=405)
    return json_response(lru.status())
