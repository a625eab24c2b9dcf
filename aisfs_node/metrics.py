"""Prometheus metrics of a node, exposed with prometheus_client (text format 0.0.4).

Request metrics are recorded by every facade through ``Metrics.observe_request`` (the
S3 path and the native ``/v1`` API call it once per request); store metrics (mountpath
capacity, object and chunk counts, dedup savings) are read from ``store.stats()`` at
scrape time, so a scrape always shows the current state and nothing is sampled in the
background.

Two families are exported:

- ``aisfs_*``: requests by api/operation/status with a latency histogram, bytes in/out,
  mountpaths, objects, chunks, dedup;
- a few of AIStore's own names (``ais_target_get_count``, ``ais_target_put_bytes``,
  ``ais_target_err_get_count``, ``ais_target_get_ns_total``, ...), derived from the same
  observations, so dashboards written for AIS show something useful.

Each node has its own ``CollectorRegistry`` (never the process-global one: tests run
several nodes in one process) holding one custom collector, ``Metrics`` itself, and
``render`` is ``generate_latest`` of it. The counting stays in plain dicts under one
lock: prometheus_client's instruments cost 3-10x more per request (a lock per value,
a label lookup per child; bench/metrics.py measures both), so the collector turns the
dicts into metric families at scrape time, the pattern prometheus_client documents for
custom collectors.

AIStore's names do not follow the Prometheus counter convention (a counter's samples
end in ``_total``; ``ais_target_get_count`` does not), so they are exported under
their own names as ``untyped``: PromQL treats them alike and AIS dashboards find them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

# seconds; the last bucket is +Inf
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)
_LE = tuple(repr(b) for b in LATENCY_BUCKETS)  # le labels: 0.001 ... 60.0, as Go writes them

# operation name -> AIStore's stats kind (stats/api.go: get, put, head, del, lst, ren, append)
AIS_KIND: dict[str, str] = {
    "GetObject": "get",
    "PutObject": "put",
    "UploadPart": "put",
    "CopyObject": "put",
    "CompleteMultipartUpload": "put",
    "HeadObject": "head",
    "DeleteObject": "del",
    "DeleteObjects": "del",
    "ListObjects": "lst",
    "ListObjectsV2": "lst",
    "RenameObject": "ren",
}

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Histogram:
    __slots__ = ("counts", "sum", "count")

    def __init__(self) -> None:
        self.counts = [0] * len(LATENCY_BUCKETS)
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.sum += seconds
        self.count += 1
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
                break


class Metrics(Collector):
    """Counters of one node; thread-safe, cheap to update from the request path; the
    collector of its own registry (``self.registry``)."""

    def __init__(self, node_id: str = "", version: str = "") -> None:
        self.node_id = node_id
        self.version = version
        self.started = time.time()
        self._lock = threading.Lock()
        # (api, operation, status) -> count
        self._requests: dict[tuple[str, str, int], int] = {}
        # (api, operation) -> histogram, bytes in, bytes out
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self._bytes_in: dict[tuple[str, str], int] = {}
        self._bytes_out: dict[tuple[str, str], int] = {}
        # AIS-style: kind -> count / error count / bytes / ns
        self._ais_count: dict[str, int] = {}
        self._ais_err: dict[str, int] = {}
        self._ais_bytes: dict[str, int] = {}
        self._ais_ns: dict[str, int] = {}
        self._cksum_errors = 0
        self._lru_evicted = [0, 0]  # objects, bytes (aisfs_node/lru.py)
        # what the scrape in progress shows beside the counters (set by render)
        self._scrape: tuple[Mapping[str, Any] | None, bool] = (None, True)
        self._render_lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    # ---- recording ----------------------------------------------------------------

    def observe_request(
        self,
        api: str,
        operation: str,
        status: int,
        seconds: float,
        bytes_in: int,
        bytes_out: int,
    ) -> None:
        """Record one finished request (called by the S3 facade and the native API)."""
        key = (api, operation)
        kind = AIS_KIND.get(operation)
        with self._lock:
            rkey = (api, operation, int(status))
            self._requests[rkey] = self._requests.get(rkey, 0) + 1
            hist = self._latency.get(key)
            if hist is None:
                hist = self._latency[key] = _Histogram()
            hist.observe(max(0.0, seconds))
            if bytes_in:
                self._bytes_in[key] = self._bytes_in.get(key, 0) + bytes_in
            if bytes_out:
                self._bytes_out[key] = self._bytes_out.get(key, 0) + bytes_out
            if kind is not None:
                if status >= 400:
                    self._ais_err[kind] = self._ais_err.get(kind, 0) + 1
                else:
                    self._ais_count[kind] = self._ais_count.get(kind, 0) + 1
                    self._ais_ns[kind] = self._ais_ns.get(kind, 0) + int(seconds * 1e9)
                    moved = bytes_out if kind == "get" else bytes_in if kind == "put" else 0
                    if moved:
                        self._ais_bytes[kind] = self._ais_bytes.get(kind, 0) + moved

    def checksum_error(self) -> None:
        """A stored checksum did not match the data read back."""
        with self._lock:
            self._cksum_errors += 1

    def lru_evicted(self, objects: int, nbytes: int) -> None:
        """An LRU run evicted ``objects`` cached copies, ``nbytes`` bytes in all."""
        with self._lock:
            self._lru_evicted[0] += objects
            self._lru_evicted[1] += nbytes

    def request_count(self, api: str | None = None, operation: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (a, o, _s), n in self._requests.items()
                if (api is None or a == api) and (operation is None or o == operation)
            )

    def counters(self) -> tuple[dict[tuple[str, str, int], int], int, int]:
        """A copy of the cumulative counters the status page turns into rates: requests
        by (api, operation, status), and body bytes in and out (aisfs_node/dashboard.py)."""
        with self._lock:
            return (dict(self._requests), sum(self._bytes_in.values()),
                    sum(self._bytes_out.values()))

    # ---- exposition ---------------------------------------------------------------

    def render(self, stats: Mapping[str, Any] | None = None, ready: bool = True) -> str:
        """The whole exposition: request metrics plus ``stats`` (from ``store.stats()``)."""
        with self._render_lock:
            self._scrape = (stats, ready)
            try:
                return generate_latest(self.registry).decode()
            finally:
                self._scrape = (None, True)

    def describe(self) -> list[Metric]:
        return []  # names vary with the store's stats: nothing to check at register time

    def collect(self) -> Iterator[Metric]:
        stats, ready = self._scrape
        with self._lock:
            requests = dict(self._requests)
            latency = {k: (list(h.counts), h.sum, h.count) for k, h in self._latency.items()}
            bytes_in = dict(self._bytes_in)
            bytes_out = dict(self._bytes_out)
            ais = _AisCounts(dict(self._ais_count), dict(self._ais_err),
                             dict(self._ais_bytes), dict(self._ais_ns))
            cksum_errors = self._cksum_errors
            lru_count, lru_bytes = self._lru_evicted

        info = GaugeMetricFamily("aisfs_node_info", "Node identity (always 1).",
                                 labels=["node_id", "version"])
        info.add_metric([self.node_id, self.version], 1)
        yield info
        yield GaugeMetricFamily("aisfs_uptime_seconds", "Seconds since the node started.",
                                value=round(time.time() - self.started, 3))
        yield GaugeMetricFamily("aisfs_ready", "1 once the store is open and listeners bound.",
                                value=1 if ready else 0)

        req = CounterMetricFamily("aisfs_requests_total",
                                  "Requests served, by api, operation and status.",
                                  labels=["api", "operation", "status"])
        for (api, op, status), n in sorted(requests.items()):
            req.add_metric([api, op, str(status)], n)
        yield req

        hist = HistogramMetricFamily("aisfs_request_duration_seconds",
                                     "Request latency, by api and operation.",
                                     labels=["api", "operation"])
        for (api, op), (counts, total, count) in sorted(latency.items()):
            buckets: list[tuple[str, float]] = []
            cumulative = 0
            for le, c in zip(_LE, counts, strict=True):
                cumulative += c
                buckets.append((le, cumulative))
            buckets.append(("+Inf", count))
            hist.add_metric([api, op], buckets, total)
        yield hist

        for name, help_text, values in (
            ("aisfs_request_bytes_in_total", "Request body bytes received.", bytes_in),
            ("aisfs_response_bytes_out_total", "Response body bytes sent.", bytes_out),
        ):
            fam = CounterMetricFamily(name, help_text, labels=["api", "operation"])
            for (api, op), n in sorted(values.items()):
                fam.add_metric([api, op], n)
            yield fam

        yield CounterMetricFamily("aisfs_checksum_errors_total",
                                  "Objects whose stored checksum did not match on read.",
                                  value=cksum_errors)
        yield from _ais_families(self.node_id, ais, cksum_errors)
        yield _ais("ais_target_lru_evict_count", "AIS: objects evicted by LRU.", self.node_id,
                   lru_count)
        yield _ais("ais_target_lru_evict_bytes", "AIS: bytes evicted by LRU.", self.node_id,
                   lru_bytes)
        if stats:
            yield from _store_families(stats)


class _AisCounts:
    __slots__ = ("count", "err", "nbytes", "ns")

    def __init__(self, count: dict[str, int], err: dict[str, int], nbytes: dict[str, int],
                 ns: dict[str, int]) -> None:
        self.count = count
        self.err = err
        self.nbytes = nbytes
        self.ns = ns


def _ais(name: str, help_text: str, node_id: str, value: float) -> Metric:
    """One of AIStore's counters under its own name (untyped: see the module's doc)."""
    fam = Metric(name, help_text, "unknown")
    fam.add_sample(name, {"node_id": node_id}, value)
    return fam


def _ais_families(node_id: str, ais: _AisCounts, cksum_errors: int) -> Iterator[Metric]:
    for kind in ("get", "put", "head", "del", "lst", "ren"):
        yield _ais(f"ais_target_{kind}_count", f"AIS: successful {kind} ops.", node_id,
                   ais.count.get(kind, 0))
        yield _ais(f"ais_target_err_{kind}_count", f"AIS: failed {kind} ops.", node_id,
                   ais.err.get(kind, 0))
    for kind in ("get", "put"):
        yield _ais(f"ais_target_{kind}_bytes", f"AIS: {kind} payload bytes.", node_id,
                   ais.nbytes.get(kind, 0))
    for kind in ("get", "put", "head"):
        fam = CounterMetricFamily(f"ais_target_{kind}_ns_total", f"AIS: total {kind} latency, ns.",
                                  labels=["node_id"])
        fam.add_metric([node_id], ais.ns.get(kind, 0))
        yield fam
    yield _ais("ais_target_err_cksum_count", "AIS: checksum errors.", node_id, cksum_errors)


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    return None


_SCALARS = (
    ("objects", "aisfs_objects", "Objects in the store."),
    ("chunks", "aisfs_chunks", "Distinct (deduplicated) chunks in the store."),
    ("uploads", "aisfs_multipart_uploads", "Multipart uploads in progress."),
    ("logical_bytes", "aisfs_logical_bytes", "Sum of object sizes."),
    ("stored_bytes", "aisfs_stored_bytes", "Bytes of distinct chunks (one copy)."),
    ("dedup_savings_bytes", "aisfs_dedup_savings_bytes", "Bytes saved by deduplication."),
)
_PER_MOUNTPATH = (
    ("total", "aisfs_mountpath_capacity_bytes", "gauge", "Mountpath filesystem size."),
    ("used", "aisfs_mountpath_used_bytes", "gauge", "Mountpath filesystem used space."),
    ("free", "aisfs_mountpath_available_bytes", "gauge", "Mountpath space available."),
    ("enabled", "aisfs_mountpath_enabled", "gauge", "1 when the mountpath is in use."),
    ("io_errors", "aisfs_mountpath_io_errors_total", "counter", "Mountpath I/O errors."),
)


def _store_families(stats: Mapping[str, Any]) -> Iterator[Metric]:
    for key, name, help_text in _SCALARS:
        value = _num(stats.get(key))
        if value is not None:
            yield GaugeMetricFamily(name, help_text, value=value)

    mps = [m for m in stats.get("mountpaths") or [] if isinstance(m, Mapping)]
    if not mps:
        return
    for key, name, kind, help_text in _PER_MOUNTPATH:
        fam: GaugeMetricFamily | CounterMetricFamily
        if kind == "counter":
            fam = CounterMetricFamily(name, help_text, labels=["mountpath"])
        else:
            fam = GaugeMetricFamily(name, help_text, labels=["mountpath"])
        for mp in mps:
            value = _num(mp.get(key))
            if value is None and key == "io_errors":
                value = 0
            if value is not None:
                fam.add_metric([str(mp.get("path", ""))], value)
        if fam.samples:
            yield fam
    yield GaugeMetricFamily("ais_target_capacity_total", "AIS: capacity of all mountpaths.",
                            value=sum(_num(m.get("total")) or 0 for m in mps))
    yield GaugeMetricFamily("ais_target_capacity_used", "AIS: used space of all mountpaths.",
                            value=sum(_num(m.get("used")) or 0 for m in mps))
