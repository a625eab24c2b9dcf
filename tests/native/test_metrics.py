"""/metrics and the Metrics class, parsed with prometheus_client's text parser."""

from __future__ import annotations

import os

import httpx
import pytest

from aisfs_node.metrics import Metrics
from support.node import NodeProcess

parser = pytest.importorskip("prometheus_client.parser")


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def samples(fams: dict[str, object], name: str) -> list[tuple[str, dict[str, str], float]]:
    fam = fams[name]
    return [(s.name, s.labels, s.value) for s in fam.samples]  # type: ignore[attr-defined]


def test_metrics_endpoint(shared_node: NodeProcess) -> None:
    url = shared_node.url
    httpx.post(f"{url}/v1/buckets/metrics", json={"action": "create-bck"})
    blob = os.urandom(300_000)
    for key in ("a", "b", "c"):  # identical content: deduplicated chunks
        assert httpx.put(f"{url}/v1/objects/metrics/{key}", content=blob).is_success
    assert httpx.get(f"{url}/v1/objects/metrics/a").content == blob
    assert httpx.get(f"{url}/v1/objects/metrics/missing").status_code == 404

    r = httpx.get(f"{url}/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    fams = families(r.text)

    reqs = samples(fams, "aisfs_requests")  # the parser drops the _total suffix
    puts = [v for n, labels, v in reqs
            if labels == {"api": "native", "operation": "PutObject", "status": "200"}]
    assert puts and puts[0] >= 3
    assert any(labels.get("status") == "404" and labels["operation"] == "GetObject"
               for _, labels, _ in reqs)

    hist = samples(fams, "aisfs_request_duration_seconds")
    buckets = [(labels["le"], v) for n, labels, v in hist
               if n.endswith("_bucket") and labels["operation"] == "PutObject"]
    assert buckets[-1][0] == "+Inf" and buckets[-1][1] >= 3
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative

    bytes_in = samples(fams, "aisfs_request_bytes_in")
    assert any(labels["operation"] == "PutObject" and v >= 3 * len(blob)
               for _, labels, v in bytes_in)
    bytes_out = samples(fams, "aisfs_response_bytes_out")
    assert any(labels["operation"] == "GetObject" and v >= len(blob)
               for _, labels, v in bytes_out)

    cap = samples(fams, "aisfs_mountpath_capacity_bytes")
    assert {labels["mountpath"] for _, labels, _ in cap} == {
        str(p) for p in shared_node.mountpaths
    }
    assert all(v > 0 for _, _, v in cap)
    assert samples(fams, "aisfs_mountpath_used_bytes")
    assert samples(fams, "aisfs_mountpath_io_errors")
    assert samples(fams, "aisfs_objects")[0][2] >= 3
    assert samples(fams, "aisfs_chunks")[0][2] >= 1
    assert samples(fams, "aisfs_dedup_savings_bytes")[0][2] >= 2 * len(blob)
    assert samples(fams, "ais_target_put_count")[0][2] >= 3
    assert samples(fams, "ais_target_get_bytes")[0][2] >= len(blob)
    assert samples(fams, "aisfs_ready")[0][2] == 1


def test_metrics_class_renders_parseable_text() -> None:
    m = Metrics("node1", "0.1.0")
    m.observe_request("s3", "PutObject", 200, 0.004, 1000, 0)
    m.observe_request("s3", "GetObject", 206, 0.2, 0, 500)
    m.observe_request("s3", "GetObject", 404, 0.001, 0, 120)
    m.observe_request("s3", 'Weird"Op\n', 500, 99.0, 0, 0)
    m.checksum_error()
    stats = {
        "objects": 2, "chunks": 1, "uploads": 0, "logical_bytes": 2000,
        "stored_bytes": 1000, "dedup_savings_bytes": 1000,
        "mountpaths": [
            {"path": "/d1", "enabled": True, "total": 100, "used": 40, "free": 60},
            {"path": "/d2", "enabled": False},
        ],
    }
    fams = families(m.render(stats))
    assert samples(fams, "aisfs_dedup_savings_bytes")[0][2] == 1000
    assert samples(fams, "ais_target_err_get_count")[0][1:] == ({"node_id": "node1"}, 1)
    assert samples(fams, "ais_target_get_bytes")[0][2] == 500
    enabled = {labels["mountpath"]: v for _, labels, v in samples(fams, "aisfs_mountpath_enabled")}
    assert enabled == {"/d1": 1.0, "/d2": 0.0}
    weird = [labels for _, labels, _ in samples(fams, "aisfs_requests")
             if labels["status"] == "500"]
    assert weird[0]["operation"] == 'Weird"Op\n'
    slow = [(labels["le"], v) for n, labels, v in samples(fams, "aisfs_request_duration_seconds")
            if n.endswith("_bucket") and labels["operation"] == 'Weird"Op\n']
    assert slow[-2][1] == 0 and slow[-1] == ("+Inf", 1.0)  # beyond the largest bucket
    assert m.request_count("s3") == 4
