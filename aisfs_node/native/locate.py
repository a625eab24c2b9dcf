"""`POST /v1/objects/BUCKET/KEY {"action": "locate"}`: where its chunks lie on this host.

For short-circuit local reads (aisfs_mount/localread.py): a client on the node's own host reads
the chunk files itself instead of receiving them through HTTP. The answer names no file
the client must trust: it gives the object's size, ETag and generation, its chunks (id
and size) in order, and the mountpath roots in each chunk's placement order. The client
builds each path from a root with the store's layout, opens it read-only, checks that the
file belongs to the uid serving this node's port, and verifies the content against the
chunk id (xxh3-128 of the bytes) before it serves any of it.

An inline object has no chunk files: `"inline": true` and no chunks (read it with GET).
A POST action, not a GET query: a node without it answers 501 at once, where a GET would
send the whole object.
"""

from __future__ import annotations

import json
from typing import Any

from aisfs.store.lru import touch
from aisfs.store.types import ObjectInfo
from aisfs_node.http import Response
from aisfs_node.native.wire import Ctx, Node


def locate_json(info: ObjectInfo, roots: list[str], order: Any) -> dict[str, Any]:
    """The answer for `info`: `order(chunk_id)` is its mountpaths in placement order."""
    index = {root: i for i, root in enumerate(roots)}
    chunks = [{"id": c.id, "size": c.size, "mp": [index[mp.root] for mp in order(c.id)
                                                  if mp.root in index]}
              for c in info.chunks]
    return {
        "size": info.size, "etag": info.etag, "generation": info.generation,
        "inline": info.is_inline, "mountpaths": roots,
        "chunks": [] if info.is_inline else chunks,
    }


async def locate(node: Node, ctx: Ctx, msg: dict[str, Any]) -> Response:
    assert ctx.key is not None
    info = await node.store.head_object(ctx.bucket, ctx.key)
    touch(node.store, ctx.bucket, ctx.key)  # a local read is a read, for the LRU
    mps = node.store.mps
    roots = [mp.root for mp in mps.live()]
    body = json.dumps(locate_json(info, roots, mps.order)).encode()
    return Response(200, [("content-type", "application/json")], body)
