"""Prometheus metrics of a node, rendered in the text exposition format (version 0.0.4).

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

Hand-rendered (no prometheus_client at run time): the format is a few lines per sample.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

# seconds; the last bucket is +Inf
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)

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


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{escape_label(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


def format_value(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


class _Family:
    """One metric family: name, type, help and its samples."""

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = name
        self.kind = kind
        self.help = help_text
        self.samples: list[tuple[str, dict[str, str], float]] = []

    def add(self, value: float, labels: Mapping[str, str] | None = None, suffix: str = "") -> None:
        self.samples.append((self.name + suffix, dict(labels or {}), value))

    def render(self, out: list[str]) -> None:
        out.append(f"# HELP {self.name} {self.help}")
        out.append(f"# TYPE {self.name} {self.kind}")
        for name, labels, value in self.samples:
            out.append(f"{name}{format_labels(labels)} {format_value(value)}")


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


class Metrics:
    """Counters of one node; thread-safe, cheap to update from the request path."""

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

    def request_count(self, api: str | None = None, operation: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (a, o, _s), n in self._requests.items()
                if (api is None or a == api) and (operation is None or o == operation)
            )

    def counters(self) -> tuple[dict[tuple[str, str, int], int], int, int]:
        """A copy of the cumulative counters the status page turns into rates: requests
        by (api, operation, status), and body bytes in and out (node/dashboard.py)."""
        with self._lock:
            return (dict(self._requests), sum(self._bytes_in.values()),
                    sum(self._bytes_out.values()))

    # ---- rendering ----------------------------------------------------------------

    def render(self, stats: Mapping[str, Any] | None = None, ready: bool = True) -> str:
        """The whole exposition: request metrics plus ``stats`` (from ``store.stats()``)."""
        families: list[_Family] = []
        with self._lock:
            requests = dict(self._requests)
            latency = {k: (list(h.counts), h.sum, h.count) for k, h in self._latency.items()}
            bytes_in = dict(self._bytes_in)
            bytes_out = dict(self._bytes_out)
            ais_count = dict(self._ais_count)
            ais_err = dict(self._ais_err)
            ais_bytes = dict(self._ais_bytes)
            ais_ns = dict(self._ais_ns)
            cksum_errors = self._cksum_errors

        info = _Family("aisfs_node_info", "gauge", "Node identity (always 1).")
        info.add(1, {"node_id": self.node_id, "version": self.version})
        families.append(info)
        up = _Family("aisfs_uptime_seconds", "gauge", "Seconds since the node started.")
        up.add(round(time.time() - self.started, 3))
        families.append(up)
        rd = _Family("aisfs_ready", "gauge", "1 once the store is open and listeners bound.")
        rd.add(1 if ready else 0)
        families.append(rd)

        req = _Family(
            "aisfs_requests_total", "counter", "Requests served, by api, operation and status."
        )
        for (api, op, status), n in sorted(requests.items()):
            req.add(n, {"api": api, "operation": op, "status": str(status)})
        families.append(req)

        hist = _Family(
            "aisfs_request_duration_seconds", "histogram", "Request latency, by api and operation."
        )
        for (api, op), (counts, total, count) in sorted(latency.items()):
            labels = {"api": api, "operation": op}
            cumulative = 0
            for bound, c in zip(LATENCY_BUCKETS, counts, strict=True):
                cumulative += c
                hist.add(cumulative, {**labels, "le": format_value(bound)}, "_bucket")
            hist.add(count, {**labels, "le": "+Inf"}, "_bucket")
            hist.add(total, labels, "_sum")
            hist.add(count, labels, "_count")
        families.append(hist)

        bin_ = _Family(
            "aisfs_request_bytes_in_total", "counter", "Request body bytes received."
        )
        for (api, op), n in sorted(bytes_in.items()):
            bin_.add(n, {"api": api, "operation": op})
        families.append(bin_)
        bout = _Family(
            "aisfs_response_bytes_out_total", "counter", "Response body bytes sent."
        )
        for (api, op), n in sorted(bytes_out.items()):
            bout.add(n, {"api": api, "operation": op})
        families.append(bout)

        ck = _Family(
            "aisfs_checksum_errors_total", "counter",
            "Objects whose stored checksum did not match on read.",
        )
        ck.add(cksum_errors)
        families.append(ck)

        families.extend(self._ais_families(ais_count, ais_err, ais_bytes, ais_ns, cksum_errors))
        if stats:
            families.extend(_store_families(stats))
        out: list[str] = []
        for fam in families:
            fam.render(out)
        return "\n".join(out) + "\n"

    def _ais_families(
        self,
        count: dict[str, int],
        err: dict[str, int],
        nbytes: dict[str, int],
        ns: dict[str, int],
        cksum_errors: int,
    ) -> Iterable[_Family]:
        labels = {"node_id": self.node_id}
        for kind in ("get", "put", "head", "del", "lst", "ren"):
            fam = _Family(f"ais_target_{kind}_count", "counter", f"AIS: successful {kind} ops.")
            fam.add(count.get(kind, 0), labels)
            yield fam
            fam = _Family(f"ais_target_err_{kind}_count", "counter", f"AIS: failed {kind} ops.")
            fam.add(err.get(kind, 0), labels)
            yield fam
        for kind in ("get", "put"):
            fam = _Family(f"ais_target_{kind}_bytes", "counter", f"AIS: {kind} payload bytes.")
            fam.add(nbytes.get(kind, 0), labels)
            yield fam
        for kind in ("get", "put", "head"):
            fam = _Family(
                f"ais_target_{kind}_ns_total", "counter", f"AIS: total {kind} latency, ns."
            )
            fam.add(ns.get(kind, 0), labels)
            yield fam
        fam = _Family("ais_target_err_cksum_count", "counter", "AIS: checksum errors.")
        fam.add(cksum_errors, labels)
        yield fam


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    return None


def _store_families(stats: Mapping[str, Any]) -> list[_Family]:
    families: list[_Family] = []
    scalar = (
        ("objects", "aisfs_objects", "Objects in the store."),
        ("chunks", "aisfs_chunks", "Distinct (deduplicated) chunks in the store."),
        ("uploads", "aisfs_multipart_uploads", "Multipart uploads in progress."),
        ("logical_bytes", "aisfs_logical_bytes", "Sum of object sizes."),
        ("stored_bytes", "aisfs_stored_bytes", "Bytes of distinct chunks (one copy)."),
        ("dedup_savings_bytes", "aisfs_dedup_savings_bytes", "Bytes saved by deduplication."),
    )
    for key, name, help_text in scalar:
        value = _num(stats.get(key))
        if value is None:
            continue
        fam = _Family(name, "gauge", help_text)
        fam.add(value)
        families.append(fam)

    mps = [m for m in stats.get("mountpaths") or [] if isinstance(m, Mapping)]
    if mps:
        per_mp = (
            ("total", "aisfs_mountpath_capacity_bytes", "gauge", "Mountpath filesystem size."),
            ("used", "aisfs_mountpath_used_bytes", "gauge", "Mountpath filesystem used space."),
            ("free", "aisfs_mountpath_available_bytes", "gauge", "Mountpath space available."),
            ("enabled", "aisfs_mountpath_enabled", "gauge", "1 when the mountpath is in use."),
            ("io_errors", "aisfs_mountpath_io_errors_total", "counter", "Mountpath I/O errors."),
        )
        for key, name, kind, help_text in per_mp:
            fam = _Family(name, kind, help_text)
            for mp in mps:
                value = _num(mp.get(key))
                if value is None and key == "io_errors":
                    value = 0
                if value is not None:
                    fam.add(value, {"mountpath": str(mp.get("path", ""))})
            if fam.samples:
                families.append(fam)
        total = sum(_num(m.get("total")) or 0 for m in mps)
        used = sum(_num(m.get("used")) or 0 for m in mps)
        fam = _Family("ais_target_capacity_total", "gauge", "AIS: capacity of all mountpaths.")
        fam.add(total)
        families.append(fam)
        fam = _Family("ais_target_capacity_used", "gauge", "AIS: used space of all mountpaths.")
        fam.add(used)
        families.append(fam)
    return families
