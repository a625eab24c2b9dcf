"""`aisfs prefetch|evict` and `aisfs job show|wait|stop` over a front node (moto)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support.node import NodeProcess

from .conftest import Target

pytestmark = [pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"]),
              pytest.mark.parametrize("target", ["moto"], indirect=True)]


def aisfs(node: NodeProcess, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "aisfs", *args, "--endpoint", node.url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == code, (done.stdout, done.stderr)
    return done


def cached(node: NodeProcess, bucket: str) -> list[str]:
    out = aisfs(node, "ls", f"s3://{bucket}", "--cached", "--json").stdout
    return sorted(e["name"] for e in json.loads(out))


@pytest.mark.slow  # ~30 s: the aisfs CLI as a process per call
def test_prefetch_evict_and_jobs(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    s3 = target.client()
    for i in range(6):
        s3.put_object(Bucket=bucket, Key=f"img-{i:02d}.jpg", Body=b"x" * 100)
    s3.put_object(Bucket=bucket, Key="dir/a", Body=b"a")

    done = aisfs(front_node, "prefetch", f"s3://{bucket}", "--template", "img-{00..05..2}.jpg",
                 "--wait")
    job_id = done.stdout.strip()
    # not a terminal: one progress line per change on stderr, the last one final
    assert done.stderr.strip().splitlines()[-1].startswith(
        f"prefetch-listrange {job_id} finished: 3/3 objects"), done.stderr
    assert cached(front_node, bucket) == ["img-00.jpg", "img-02.jpg", "img-04.jpg"]

    shown = json.loads(aisfs(front_node, "job", "show", job_id, "--json").stdout)
    assert [j["id"] for j in shown] == [job_id]
    assert shown[0]["buckets"] == [f"s3://{bucket}"] and shown[0]["bytes_done"] == 300
    table = aisfs(front_node, "job", "show", "prefetch-listrange").stdout
    assert table.splitlines()[0].split()[:4] == ["ID", "KIND", "BUCKETS", "STATE"]
    assert job_id in table
    assert aisfs(front_node, "job", "wait", job_id).returncode == 0

    aisfs(front_node, "prefetch", f"s3://{bucket}", "--list", "dir/a,img-01.jpg", "--wait")
    aisfs(front_node, "evict", f"s3://{bucket}", "--prefix", "img-0", "--wait")
    assert cached(front_node, bucket) == ["dir/a"]
    evicted = aisfs(front_node, "evict", f"s3://{bucket}", "--wait").stdout.strip()
    assert cached(front_node, bucket) == []
    kinds = {j["id"]: j["kind"] for j in
             json.loads(aisfs(front_node, "job", "show", "--json").stdout)}
    assert kinds[evicted] == "evict-remote-bck"

    # refusals: one line, no traceback
    bad = aisfs(front_node, "prefetch", f"s3://{bucket}", "--template", "a-{9..1}", code=1)
    assert "greater than" in bad.stderr and "Traceback" not in bad.stderr
    bad = aisfs(front_node, "job", "show", "nosuchjob", code=1)
    assert "nosuchjob" in bad.stderr
    aisfs(front_node, "prefetch", f"s3://{bucket}", "--list", "a", "--prefix", "b", code=2)
    # a failed job: --wait exits 1
    failed = aisfs(front_node, "prefetch", f"s3://{bucket}", "--list", "missing", "--wait",
                   code=1)
    assert "failed" in failed.stderr and "NoSuchKey" in failed.stderr
