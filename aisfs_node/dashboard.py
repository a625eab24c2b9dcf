"""The node's read-only status page: ``GET /v1/ui`` (HTML) and ``GET /v1/ui/status`` (JSON).

What ``ais show cluster`` or MinIO's console give at a glance, for one node: the node,
its mountpaths (capacity, used, state, I/O errors), buckets with object counts and sizes,
jobs (the node's job registry, ``aisfs_node.jobs``: prefetch, evict, copy-bck, inventories, LRU
runs, the store's resilver and scrub - the running ones and the last ``LAST_FINISHED``
finished; mountpaths being detached), the last WARNING/ERROR log
records (``aisfs_node.recent_log``) and request rates (``aisfs_node.metrics`` counters, sampled here
every ``SAMPLE_SECONDS`` into a ring that spans ``RATE_WINDOW`` seconds).

The HTML is rendered on the server (``aisfs_node.dashboard_html``), every value escaped, no
script, refreshed by ``<meta http-equiv="refresh">``. ``aisfs node status`` reads the
JSON. Who may see it is ``auth.status_page``: ``open`` (the default: as ``/metrics`` and
``/v1/health``), ``auth`` (the same check as ``/v1``: a bearer token, or an S3 signature
in sigv4 mode), ``off`` (404).

Cost: the store's counters (``store.stats()``) and the per-bucket counts (one
``GROUP BY`` over the index) are read in a worker thread at most once per
``STORE_TTL`` seconds whatever the number of viewers; concurrent requests share one read.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from typing import Any

import trio

from aisfs import __version__
from aisfs.errors import S3Error
from aisfs.jobs import Job
from aisfs_node.http import Request, Response, Send, send_response
from aisfs_node.jobs import runner_of
from aisfs_node.native_auth import check_native_auth
from aisfs_node.recent_log import RECENT

log = logging.getLogger("aisfs.node")

PREFIX = "/v1/ui"
JSON_PATH = "/v1/ui/status"
REFRESH_SECONDS = 10
SAMPLE_SECONDS = 5.0
RATE_WINDOW = 60.0
STORE_TTL = 5.0  # seconds: the store figures are at most this old
MAX_BUCKETS = 1000  # listed; the total is always given
MAX_OPERATIONS = 20
LAST_FINISHED = 5  # finished jobs listed (the newest)
# a store job's notes (``aisfs_node.jobs.store``: its record's ``detail``), shown by the page
_NOTES = ("copies_added", "copies_removed", "copies_repaired", "lost_chunks")

_BUCKET_SQL = "SELECT bucket, count(*), coalesce(sum(size), 0) FROM objects GROUP BY bucket"

Counters = tuple[dict[tuple[str, str, int], int], int, int]
_Counts = dict[str, tuple[int, int]]


class Dashboard:
    """Routes ``/v1/ui[...]`` for ``NodeApp``; ``sample_loop`` runs in its nursery."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._samples: deque[tuple[float, Counters]] = deque(
            maxlen=int(RATE_WINDOW / SAMPLE_SECONDS) + 2
        )
        self._store_facts: dict[str, Any] | None = None
        self._store_at = 0.0
        self._store_lock = trio.Lock()

    # ---- request rates ------------------------------------------------------------

    def _counters(self) -> Counters | None:
        metrics = getattr(self.app, "metrics", None)
        counters = getattr(metrics, "counters", None)
        return counters() if counters is not None else None

    async def sample_loop(self) -> None:
        """Every ``SAMPLE_SECONDS``, a copy of the request counters (rates are taken
        between the newest and the oldest kept, ~``RATE_WINDOW`` apart)."""
        while True:
            self.sample()
            await trio.sleep(SAMPLE_SECONDS)

    def sample(self) -> None:
        now = self._counters()
        if now is not None:
            self._samples.append((time.monotonic(), now))

    def rates(self) -> dict[str, Any]:
        now = self._counters()
        if now is None:
            return {"window_seconds": 0.0, "total": 0, "per_second": 0.0, "operations": []}
        t_now = time.monotonic()
        base: Counters = ({}, 0, 0)
        t_base = t_now - (time.time() - self.app.started_ns / 1e9)  # since the start
        for t, counters in self._samples:
            if t_now - t <= RATE_WINDOW + SAMPLE_SECONDS:
                t_base, base = t, counters
                break
        window = max(t_now - t_base, 1e-3)
        requests, bytes_in, bytes_out = now
        old = base[0]
        by_op: dict[tuple[str, str], list[int]] = {}
        by_api: dict[str, list[int]] = {}
        for (api, op, status), n in requests.items():
            delta = n - old.get((api, op, status), 0)
            err = status >= 400
            for row in (by_op.setdefault((api, op), [0, 0, 0, 0]),
                        by_api.setdefault(api, [0, 0, 0, 0])):
                row[0] += n
                row[1] += delta
                row[2] += n if err else 0
                row[3] += delta if err else 0
        total = sum(r[0] for r in by_api.values())
        recent = sum(r[1] for r in by_api.values())
        errors = sum(r[3] for r in by_api.values())
        ops = sorted(by_op.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
        return {
            "window_seconds": round(window, 1),
            "total": total,
            "errors_total": sum(r[2] for r in by_api.values()),
            "per_second": round(recent / window, 3),
            "errors_per_second": round(errors / window, 3),
            "bytes_in_total": bytes_in,
            "bytes_out_total": bytes_out,
            "bytes_in_per_second": round((bytes_in - base[1]) / window, 1),
            "bytes_out_per_second": round((bytes_out - base[2]) / window, 1),
            "by_api": {
                api: {"total": r[0], "per_second": round(r[1] / window, 3), "errors": r[2]}
                for api, r in sorted(by_api.items())
            },
            "operations": [
                {"api": api, "operation": op, "total": r[0],
                 "per_second": round(r[1] / window, 3), "errors": r[2]}
                for (api, op), r in ops[:MAX_OPERATIONS]
            ],
        }

    # ---- the store's facts --------------------------------------------------------

    def _read_blocking(self) -> tuple[list[dict[str, Any]] | None, dict[str, Any], _Counts]:
        """Mountpaths, jobs and per-bucket counts (blocking: a worker thread)."""
        store = self.app.store
        admin = getattr(store, "admin", None)
        mps = admin.mountpaths() if admin is not None else None
        jobs = admin.status() if admin is not None else {}
        index = getattr(store, "index", None)
        counts: _Counts = {}
        if index is not None:
            counts = {r[0]: (int(r[1]), int(r[2])) for r in index.rows(_BUCKET_SQL)}
        return mps, jobs, counts

    async def _read_store(self) -> dict[str, Any]:
        store = self.app.store
        stats: dict[str, Any] = await store.stats()
        names = [b.name for b in await store.list_buckets()]
        mps, jobs, counts = await trio.to_thread.run_sync(self._read_blocking)
        if mps is None:
            mps = list(stats.get("mountpaths") or [])
        buckets = [
            {"name": n, "objects": counts.get(n, (0, 0))[0], "bytes": counts.get(n, (0, 0))[1]}
            for n in names[:MAX_BUCKETS]
        ]
        return {
            "store": {k: v for k, v in stats.items() if k != "mountpaths"},
            "mountpaths": [_mountpath(m) for m in mps],
            "buckets": buckets,
            "buckets_total": len(names),
            "jobs": _jobs(jobs),
        }

    async def store_facts(self) -> dict[str, Any]:
        async with self._store_lock:
            if self._store_facts is None or time.monotonic() - self._store_at > STORE_TTL:
                self._store_facts = await self._read_store()
                self._store_at = time.monotonic()
            return self._store_facts

    async def snapshot(self) -> dict[str, Any]:
        """Every fact the page shows, as JSON-able data."""
        app = self.app
        facts = dict(await self.store_facts())
        registry = self._registry_jobs()
        if registry is not None:  # fresh each time (in memory): not the store's TTL
            facts["jobs"] = _registry_view(registry, facts["jobs"])
        mps = facts["mountpaths"]
        live = [m for m in mps if m["state"] in ("enabled", "detaching")]
        total = sum(m["total"] for m in live)
        used = sum(m["used"] for m in live)
        metrics = getattr(app, "metrics", None)
        now = time.time()
        return {
            "node": {
                "id": str(getattr(metrics, "node_id", "") or ""),
                "version": __version__,
                "status": "online" if app.ready else "starting",
                "uptime_seconds": round(now - app.started_ns / 1e9, 1),
                "auth": app.cfg.auth.mode,
                "s3_path": app.cfg.net.s3_path,
            },
            "time": round(now, 3),
            "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "refresh_seconds": REFRESH_SECONDS,
            "capacity": {"total": total, "used": used, "free": max(0, total - used),
                         "pct_used": round(100 * used / total, 1) if total else 0.0},
            **facts,
            "requests": self.rates(),
            "recent_errors": {"total": RECENT.total, "entries": RECENT.entries()},
        }

    def _registry_jobs(self) -> list[Job] | None:
        """Every job of the node's registry, newest first (the store's resilver and scrub
        among them); None before the node's job runner is started."""
        node = getattr(self.app, "native_node", None)
        if node is None:
            return None
        try:
            return runner_of(node).registry.jobs()
        except S3Error:
            return None

    # ---- HTTP ---------------------------------------------------------------------

    def _check_access(self, request: Request) -> None:
        cfg = self.app.cfg
        rule = cfg.auth.status_page
        if rule == "off":
            raise S3Error("NoSuchKey", "the status page is off (auth.status_page)", status=404)
        if rule == "open" or cfg.auth.mode == "open":
            return  # "auto" on a node with auth on is "auth": names and log lines are private
        value = (request.headers.get("authorization") or "").lstrip()
        signed = value.startswith(("AWS4-HMAC-SHA256", "AWS ")) or any(
            k in ("X-Amz-Signature", "Signature") for k, _ in request.query
        )
        if cfg.auth.mode == "sigv4" and signed:
            self.app.s3.authenticator.authenticate(request)
            return
        check_native_auth(cfg, request.headers)

    async def handle(self, request: Request, send: Send) -> None:
        started = time.perf_counter()
        path = request.raw_path
        operation = "StatusPage"
        try:
            response = await self._route(request, path)
        except S3Error as err:
            response = _json_response({"message": err.message, "status": err.status},
                                      err.status)
        except Exception as e:  # never a traceback to the browser
            log.error("status page %s failed: %s: %s", path, type(e).__name__, e, exc_info=e)
            response = _json_response({"message": "internal error", "status": 500}, 500)
        if request.method == "HEAD" and isinstance(response.body, bytes):
            response.headers.append(("content-length", str(len(response.body))))
            response.head = True  # errors too: a HEAD answer carries no body
        response.headers.append(("server", "aisfs"))
        response.headers.append(("cache-control", "no-store"))
        response.headers.append(("x-content-type-options", "nosniff"))
        sent = await send_response(send, response)
        metrics = getattr(self.app, "metrics", None)
        if metrics is not None:
            metrics.observe_request("native", operation, response.status,
                                    time.perf_counter() - started, request.bytes_received, sent)

    async def _route(self, request: Request, path: str) -> Response:
        if path not in (PREFIX, PREFIX + "/", JSON_PATH):
            raise S3Error("NoSuchKey", f"no such status page path: {path}", status=404)
        self._check_access(request)
        if request.method not in ("GET", "HEAD"):
            raise S3Error("MethodNotAllowed", f"{request.method} is not allowed on {path}",
                          status=405)
        data = await self.snapshot()
        if path == JSON_PATH:
            return _json_response(data)
        from aisfs_node.dashboard_html import CSP, render

        return Response(200, [("content-type", "text/html; charset=utf-8"),
                              ("content-security-policy", CSP),
                              ("referrer-policy", "no-referrer"),
                              ("x-frame-options", "DENY")],
                        render(data).encode())


def _json_response(data: Any, status: int = 200) -> Response:
    return Response(status, [("content-type", "application/json")],
                    json.dumps(data, default=str).encode())


def _mountpath(m: dict[str, Any]) -> dict[str, Any]:
    total = int(m.get("total", 0) or 0)
    used = int(m.get("used", 0) or 0)
    state = str(m.get("state") or ("enabled" if m.get("enabled", True) else "disabled"))
    reason = m.get("reason")
    return {
        "path": str(m.get("path", "")),
        "state": state,
        "total": total,
        "used": used,
        "free": int(m.get("free", max(0, total - used)) or 0),
        "pct_used": round(100 * used / total, 1) if total else 0.0,
        "io_errors": int(m.get("io_errors", 0) or 0),
        "reason": str(reason) if reason not in (None, "admin") else "",
    }


def _job_view(job: Job) -> dict[str, Any]:
    """A job as the page shows it: its record without the failed names, its buckets as
    one ``bucket`` (``src → dst`` for a copy), a store job's notes."""
    view = job.to_json()
    view.pop("failed_objects", None)
    view["bucket"] = " → ".join(job.buckets)
    view.update({k: v for k, v in job.detail.items() if k in _NOTES})
    return view


def _registry_view(jobs: list[Job], store_view: dict[str, Any]) -> dict[str, Any]:
    """The running jobs and the last ``LAST_FINISHED`` finished (newest first); the
    store's pending resilver and detaching mountpaths as ``_jobs`` had them."""
    finished = [_job_view(j) for j in jobs if not j.running][:LAST_FINISHED]
    return {**store_view, "running": [_job_view(j) for j in jobs if j.running],
            "finished": finished, "last": {}}


def _jobs(status: dict[str, Any]) -> dict[str, Any]:
    """The store's jobs alone (no job runner): running first (what the page lists), then
    the last run of each kind."""
    running: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    for kind in ("resilver", "scrub"):
        prog = status.get(kind)
        if prog:
            last[kind] = prog
            if prog.get("running"):
                running.append(prog)
    return {
        "running": running,
        "resilver_pending": bool(status.get("resilver_pending")),
        "detaching": list(status.get("detaching") or []),
        "last": last,
    }
