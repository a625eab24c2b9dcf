"""Jobs on ``/v1`` as AIS has them (xactions): prefetch and evict of remote buckets, job
status and stop. Hooked into the router (``aisfs_node.native.api``) ahead of the bucket and
cluster routes; each hook answers what is a job's and returns None for the rest (the
request's body, read to see its action, is given back to the route that answers).

=======  ====================================  =================================================
POST     ``/v1/buckets/B`` prefetch-listrange  ``value``: ``{"objnames": [...]}``, ``{"template":
                                               "shard-{000..999}.tar"}`` or a prefix template;
                                               ``coer``, ``latest-ver``. Answers the job id.
DELETE   ``/v1/buckets/B`` evict-listrange     the same selection; answers the job id
DELETE   ``/v1/buckets/B`` evict-remote-bck    every cached object; ``?keep_bck_md=false``
                                               drops an ``s3://`` bucket's props too
GET      ``/v1/cluster?what=status``           one job's ``JobStatus`` (body: ``{"ID"|"Kind"}``);
                                               without a job in the body: the node's stats
GET      ``?what=status_all``                  every job's ``JobStatus`` (``kind``, ``show_active``)
GET      ``?what=running_all``                 ``["kind[id]", ...]`` of the running jobs
GET      ``?what=qryxstats``                   ``{node_id: [JobSnap, ...]}``
GET      ``?what=jobs``                        our records (``aisfs job show``)
PUT      ``/v1/cluster`` stop / stop-xaction   ``value``: ``{"ID"|"Kind"}``: abort
PUT      ``/v1/cluster`` start                 ``value``: ``{"Kind": "lru"|"scrub"}``: the id
                                               (``aisfs_node.native.job_start``)
=======  ====================================  =================================================

The bucket actions are for remote buckets (``provider=aws``, or an ``ais://`` bucket with
``backend_bck``); a plain ``ais://`` bucket is refused with a 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aisfs.backend import Resolved
from aisfs.errors import S3Error
from aisfs.jobs import (
    EVICT_BUCKET,
    EVICT_OBJECTS,
    PREFETCH,
    Job,
    SelectionError,
    parse_selection,
)
from aisfs_node.http import Message, Request, Response
from aisfs_node.jobs import JobRunner, remote_only, resolve_bucket, runner_of
from aisfs_node.jobs.evict import start_evict, start_evict_bucket
from aisfs_node.jobs.prefetch import start_prefetch
from aisfs_node.native.job_start import START_ACTION, start_job
from aisfs_node.native.wire import MAX_CONTROL_BODY, Ctx, Node, action_msg, json_response

if TYPE_CHECKING:
    from aisfs_node.lru import LruService
    from aisfs_node.native.remote import RemoteNative

JOB_WHATS = frozenset(("status", "status_all", "running_all", "qryxstats", "jobs"))
STOP_ACTIONS = frozenset(("stop", "stop-xaction", "stop-xact", "abort"))
_BUCKET_ACTIONS = {("POST", PREFETCH), ("DELETE", EVICT_OBJECTS), ("DELETE", EVICT_BUCKET)}
TEXT = "text/plain; charset=utf-8"


async def peek_action(ctx: Ctx) -> dict[str, Any]:
    """The action message of ``ctx``'s request, the body left readable again for the
    route that answers if it is not the caller's (a hook reads it to see the action,
    then returns None: the next hook or route reads it again)."""
    body = await ctx.http.read_body(MAX_CONTROL_BODY)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    replayed = Request(ctx.http.scope, receive)
    ctx.http = replayed
    msg = await action_msg(ctx)  # parsed (and a signed payload checked) as the routes do
    replayed.body_consumed = False  # for the route that answers, if not ours
    sent = False
    return msg


# == bucket actions =====================================================================

async def bucket_job(node: Node, ctx: Ctx, parts: list[str],
                     remote: RemoteNative | None) -> Response | None:
    """``/v1/buckets/B`` prefetch/evict; None for every other bucket request."""
    method = ctx.http.method
    if method not in ("POST", "DELETE") or len(parts) < 2 or not parts[1]:
        return None
    if len(parts) > 2 and parts[2]:
        return None
    msg = await peek_action(ctx)
    action = str(msg.get("action") or "")
    if (method, action) not in _BUCKET_ACTIONS:
        return None
    name = unquote(parts[1])
    ctx.bucket = name
    ctx.operation = {PREFETCH: "Prefetch", EVICT_OBJECTS: "EvictObjects",
                     EVICT_BUCKET: "EvictBucket"}[action]
    if remote is None:
        raise S3Error("InvalidRequest", f"{action}: this node has no backend buckets")
    rb = remote_only(await _resolve(remote, ctx, name), action)
    runner = runner_of(node)
    job = _start(runner, rb, action, msg, ctx.http.query_dict())
    return Response(200, [("content-type", TEXT)], job.id.encode())


async def _resolve(remote: RemoteNative, ctx: Ctx, name: str) -> Resolved:
    q = ctx.http.query_dict()
    provider = q.get("provider")
    if q.get("namespace", "") not in ("", "@#"):
        raise S3Error("InvalidArgument", f"namespace {q['namespace']!r} is not supported")
    if provider in ("aws", "s3") and not remote.discover:
        raise S3Error("InvalidArgument", 'provider "aws": this node has no backend '
                      "([backend.s3] in its config, docs/backends.md)")
    return await resolve_bucket(remote.remote, provider or None, name,
                                discover=remote.discover)


def _start(runner: JobRunner, rb: Resolved, action: str, msg: dict[str, Any],
           q: dict[str, str]) -> Job:
    if action == EVICT_BUCKET:
        keep = q.get("keep_bck_md", "true").strip().lower() not in ("false", "0", "no")
        return start_evict_bucket(runner, rb, keep_props=keep)
    try:
        sel = parse_selection(msg.get("value"))
    except SelectionError as e:
        raise S3Error("InvalidArgument", f"{action}: {e}") from None
    if action == PREFETCH:
        return start_prefetch(runner, rb, sel)
    return start_evict(runner, rb, sel)


# == cluster: job queries and stop ======================================================

def _arg(args: dict[str, Any], *names: str) -> Any:
    """A field of AIS's ``ArgsMsg`` (Go reads JSON names case-blind: ``ID``, ``id``)."""
    folded = {str(k).lower(): v for k, v in args.items()}
    for name in names:
        value = folded.get(name.lower())
        if value not in (None, ""):
            return value
    return None


async def cluster_job(node: Node, ctx: Ctx, lru: LruService | None = None) -> Response | None:
    """``/v1/cluster`` job queries, start (``aisfs_node.native.job_start``) and stop; None for
    the rest."""
    method = ctx.http.method
    q = ctx.http.query_dict()
    if method == "GET" and q.get("what", "") in JOB_WHATS:
        return await _query(node, ctx, q["what"])
    if method != "PUT":
        return None
    msg = await peek_action(ctx)
    action = str(msg.get("action") or "")
    if action not in STOP_ACTIONS and action != START_ACTION:
        return None
    args = msg.get("value") if isinstance(msg.get("value"), dict) else {}
    assert isinstance(args, dict)
    if action == START_ACTION:
        return await start_job(node, ctx, args, lru)
    ctx.operation = "StopJob"
    _stop(runner_of(node), args)
    return Response(200)


def _stop(runner: JobRunner, args: dict[str, Any]) -> None:
    job_id, kind = _arg(args, "id", "uuid"), _arg(args, "kind")
    if job_id:
        job = runner.registry.get(str(job_id))
        if job is None:
            raise _no_job(str(job_id))
        if runner.abort(job.id) is None:
            raise S3Error("NotImplemented", f"{job.kind} {job.id} is the store's: it is not "
                          "stopped from here", status=501)
        return
    if not kind:
        raise S3Error("InvalidArgument", "stop: which job? give its ID or Kind")
    runner.abort_kind(str(kind))


def _no_job(job_id: str) -> S3Error:
    return S3Error("NoSuchJob", f'job "{job_id}" not found', job_id, status=404)


async def _query(node: Node, ctx: Ctx, what: str) -> Response | None:
    args = await peek_action(ctx)
    runner = runner_of(node)
    if what == "status":
        job_id, kind = _arg(args, "id", "uuid"), _arg(args, "kind")
        if not job_id and not kind:
            return None  # the node's stats (aisfs_node.native.cluster)
        ctx.operation = "JobStatus"
        found = runner.registry.find(str(job_id or kind))
        if not found:
            raise _no_job(str(job_id or kind))
        return json_response(found[0].status_json())
    ctx.operation = "ListJobs"
    kind = str(_arg(args, "kind") or ctx.http.query_dict().get("kind") or "")
    active = bool(_arg(args, "show_active", "active"))
    job_id = _arg(args, "id", "uuid")
    jobs = runner.registry.jobs(kind, running_only=active or what == "running_all")
    if job_id:
        jobs = [j for j in jobs if j.id == job_id]
    if what == "running_all":
        return json_response([f"{j.kind}[{j.id}]" for j in jobs])
    if what == "status_all":
        return json_response([j.status_json() for j in jobs])
    if what == "qryxstats":
        if job_id and not jobs:
            raise _no_job(str(job_id))
        return json_response({node.node_id: [j.snap_json() for j in jobs]})
    return json_response({"jobs": [j.to_json() for j in jobs]})
