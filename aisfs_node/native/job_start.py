"""``PUT /v1/cluster {"action": "start", "value": {"Kind": ...}}``: AIS's ``ais start
KIND`` as the ``aistore`` SDK sends it (``client.job(job_kind=KIND).start()``). The
answer is the started job's id (text), as AIS answers it, for ``client.job(id).wait()``.

======  =====================================================================
lru     a run of the node's LRU task now (``aisfs_node.lru``; the one running, if any,
        is answered instead); over every cached remote object - a bucket
        list (``Bck``/``Buckets``) is refused with a 501
scrub   a scrub of the store (``StoreAdmin.scrub``; ``Bck``/``Buckets``: those
        ``ais://`` buckets only); the one running, if any, is answered
other   501 naming the kind (a resilver: ``POST /v1/daemon/resilver``)
======  =====================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from aisfs.errors import S3Error
from aisfs.jobs import SCRUB
from aisfs_node.http import Response
from aisfs_node.native.wire import Ctx, Node

if TYPE_CHECKING:
    from aisfs_node.lru import LruService

START_ACTION = "start"
LRU = "lru"
TEXT = "text/plain; charset=utf-8"


async def start_job(node: Node, ctx: Ctx, args: dict[str, Any],
                    lru: LruService | None) -> Response:
    """Start the job ``args`` (AIS's ``JobArgs``: ``Kind``, ``Bck``, ``Buckets``) names."""
    ctx.operation = "StartJob"
    kind = str(_field(args, "kind") or "")
    if not kind:
        raise S3Error("InvalidArgument", "start: which job? give its Kind")
    if not (kind == SCRUB or (kind == LRU and lru is not None)):
        hint = " (POST /v1/daemon/resilver starts one)" if kind == "resilver" else ""
        raise _not_implemented(f'start: job kind "{kind}"{hint}')
    buckets = _buckets(args)
    if kind == SCRUB:
        prog = await trio.to_thread.run_sync(node.store.admin.scrub, buckets or None)
        job_id = prog.id
    elif buckets:
        raise _not_implemented(f"start: {LRU} over chosen buckets (a run covers every "
                               "cached remote object)")
    else:
        assert lru is not None
        job_id = lru.request("requested").id
    return Response(200, [("content-type", TEXT)], job_id.encode())


def _field(args: dict[str, Any], name: str) -> Any:
    """A field of AIS's ``JobArgs`` (Go reads JSON names case-blind: ``Kind``, ``kind``)."""
    for key, value in args.items():
        if str(key).lower() == name:
            return value
    return None


def _buckets(args: dict[str, Any]) -> list[str]:
    """The ``ais://`` buckets of ``Bck``/``Buckets`` (another provider: refused)."""
    given = [_field(args, "bck")] + list(_field(args, "buckets") or [])
    names = []
    for bck in given:
        if not bck:
            continue
        if not isinstance(bck, dict) or not isinstance(bck.get("name"), str):
            raise S3Error("InvalidArgument", f"start: a bucket is {{\"name\", \"provider\"}}, "
                          f"not {bck!r}")
        provider = str(bck.get("provider") or "ais")
        if provider != "ais":
            raise _not_implemented(f"start a job over {provider}://{bck['name']}")
        names.append(bck["name"])
    return names


def _not_implemented(what: str) -> S3Error:
    return S3Error("NotImplemented", f"{what} is not supported by aisfs", status=501)
