"""The mount signs its requests (SigV4 through botocore) with the usual AWS credentials."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mountkit import ROOT, MountFactory, mount_cmd

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(120)]

KEY, SECRET = "AKIDMOUNT", "mount-secret-value"
CONFIG = f"""
[auth]
mode = "sigv4"
access_keys = {{ {KEY} = "{SECRET}" }}
"""


@pytest.fixture
def sigv4_node(tmp_path: Path) -> Iterator[Any]:
    try:
        from support.node import new_node
    except ImportError:
        pytest.skip("no node to test SigV4 against")
    node = new_node(tmp_path, config=CONFIG).start()
    yield node
    node.stop()
    assert "Traceback" not in node.log()


def test_signed_requests_with_odd_names(sigv4_node: Any, mount_factory: MountFactory,
                                        tmp_path: Path) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=sigv4_node.s3_url, region_name="us-east-1",
                      aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    s3.create_bucket(Bucket="signed")
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    m = mount_factory("signed", url=sigv4_node.s3_url, env=env)
    names = ["plain", "sp ace", "plus+", "ünï", "tilde~", "pct%20", "q=&;,"]
    d = m.path / "dir x"
    d.mkdir()
    for n in names:
        (d / n).write_bytes(n.encode())
    assert sorted(os.listdir(d)) == sorted(names)
    os.chmod(d / "ünï", 0o600)
    os.rename(d, m.path / "dir+y")
    assert (m.path / "dir+y" / "sp ace").read_bytes() == b"sp ace"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="signed")["Contents"])
    assert keys == sorted(["dir+y/"] + [f"dir+y/{n}" for n in names])
    # the node takes the mount's SigV4-signed native requests too: its extras are used
    assert "backend: NodeBackend" in m.log_text()
    st = os.stat(m.path / "dir+y" / "ünï")
    assert st.st_mode & 0o777 == 0o600

    bad = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY="wrong")
    mp = tmp_path / "bad"
    mp.mkdir()
    res = subprocess.run(mount_cmd("--endpoint", sigv4_node.s3_url, "signed", str(mp)),
                         cwd=ROOT, env=bad, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "SignatureDoesNotMatch" in res.stderr or "AccessDenied" in res.stderr, res.stderr
