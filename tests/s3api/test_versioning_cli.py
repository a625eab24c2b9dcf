"""`aisfs ls --versions ais://BUCKET` (the native listing's LS_VERSIONS, paged with a
"key NUL version-id" token) against a real node whose versions S3 clients made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.clients import s3_client
from support.node import new_node

ROOT = Path(__file__).resolve().parents[2]


def test_ls_versions(tmp_path: Path) -> None:
    node = new_node(tmp_path).start()
    try:
        s3 = s3_client(node.s3_url)
        s3.create_bucket(Bucket="lsv")
        s3.put_bucket_versioning(Bucket="lsv", VersioningConfiguration={"Status": "Enabled"})
        vids = [s3.put_object(Bucket="lsv", Key="a", Body=b"x" * i)["VersionId"]
                for i in range(1, 4)]
        s3.put_object(Bucket="lsv", Key="b", Body=b"b")
        marker = s3.delete_object(Bucket="lsv", Key="b")["VersionId"]
        env = {**os.environ, "AIS_ENDPOINT": node.url}
        env.pop("AIS_AUTHN_TOKEN", None)

        def ls(*args: str) -> list[dict[str, object]]:
            proc = subprocess.run(
                [sys.executable, "-m", "aisfs", "ls", "ais://lsv", *args, "--json"],
                capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout)  # type: ignore[no-any-return]

        got = ls("--versions", "--page-size", "2")  # three pages
        assert [(e["name"], e["version"]) for e in got] == [
            ("a", vids[2]), ("a", vids[1]), ("a", vids[0]), ("b", marker),
            ("b", [e for e in got if e["name"] == "b"][1]["version"])]
        assert "latest" in str(got[0].get("custom-md")) and "latest" not in str(
            got[1].get("custom-md"))
        assert "delete-marker" in str(got[3].get("custom-md"))
        assert [e["name"] for e in ls()] == ["a"]  # without it: the current objects
    finally:
        assert node.stop() == 0
