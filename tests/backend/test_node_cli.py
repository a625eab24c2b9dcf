"""The CLI over a front node's backend: ``aisfs ls s3://``, ``ls s3://B [--cached|
--not-cached]``, ``get``/``put s3://B/K`` and ``bucket props set ... backend_bck=s3://X``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.node import NodeProcess

from .conftest import Target

pytestmark = pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])


def aisfs(node: NodeProcess, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "aisfs", *args, "--endpoint", node.url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow  # ~25-30 s per backend: the aisfs CLI as a process per call
def test_cli_on_s3_buckets(front_node: NodeProcess, target: Target, tmp_path: Path) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    direct.put_object(Bucket=bucket, Key="remote.txt", Body=b"from the backend\n")
    out = aisfs(front_node, "ls", "s3://")
    assert f"s3://{bucket}" in out and "aws" in out

    src = tmp_path / "up.txt"
    src.write_bytes(b"put through the CLI\n")
    aisfs(front_node, "put", str(src), f"s3://{bucket}/dir/up.txt")
    assert direct.get_object(Bucket=bucket, Key="dir/up.txt")["Body"].read() == src.read_bytes()

    listed = json.loads(aisfs(front_node, "ls", f"s3://{bucket}", "--json"))
    cached = {e["name"]: bool(int(e["flags"]) & 64) for e in listed}
    assert cached == {"dir/up.txt": True, "remote.txt": False}
    table = aisfs(front_node, "ls", f"s3://{bucket}")
    assert "CACHED" in table.splitlines()[0]
    assert [e["name"] for e in json.loads(aisfs(front_node, "ls", f"s3://{bucket}",
                                                "--not-cached", "--json"))] == ["remote.txt"]

    dst = tmp_path / "down.txt"
    aisfs(front_node, "get", f"s3://{bucket}/remote.txt", str(dst))
    assert dst.read_bytes() == b"from the backend\n"
    assert sorted(e["name"] for e in json.loads(aisfs(front_node, "ls", f"s3://{bucket}",
                                                      "--cached", "--json"))) \
        == ["dir/up.txt", "remote.txt"]


def test_cli_backend_bck_prop(front_node: NodeProcess, target: Target, tmp_path: Path) -> None:
    remote = target.new_bucket()
    target.client().put_object(Bucket=remote, Key="k", Body=b"remote data")
    name = "cli-" + remote[-8:]
    aisfs(front_node, "bucket", "create", f"ais://{name}")
    aisfs(front_node, "bucket", "props", "set", f"ais://{name}", f"backend_bck=s3://{remote}")
    shown = aisfs(front_node, "bucket", "props", "show", f"ais://{name}", "--json")
    assert json.loads(shown)["backend_bck"] == {"name": remote, "provider": "aws"}
    assert [e["name"] for e in json.loads(aisfs(front_node, "ls", f"ais://{name}",
                                                "--json"))] == ["k"]
    aisfs(front_node, "get", f"ais://{name}/k", str(tmp_path / "k"))
    assert (tmp_path / "k").read_bytes() == b"remote data"
