"""The seed's aws CLI, s3cmd and curl examples, as written, against a real node with open
auth and with signatures on (``[auth] mode = "sigv4"``)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.clients import have
from support.node import NodeProcess, new_node

# The seed's clients use FAKEKEY / FAKESECRET (aws CLI through AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, set in tests/conftest.py; s3cmd's .s3cfg; boto3's arguments). With
# signatures on, the node knows that pair, so every client runs exactly as the seed shows.
SIGV4_CONFIG = """
[auth]
mode = "sigv4"
access_keys = { FAKEKEY = "FAKESECRET" }
"""


@pytest.fixture(params=["open", "sigv4"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NodeProcess]:
    """A real node, open auth or SigV4 with the seed's keys."""
    proc = new_node(tmp_path, config=SIGV4_CONFIG if request.param == "sigv4" else None)
    proc.start()
    try:
        yield proc
    finally:
        assert proc.stop() == 0, proc.log()
        assert "Traceback" not in proc.log(), proc.log()


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=120, env=env or os.environ.copy()
    )
    assert result.returncode == 0, f"{cmd}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    assert "warning" not in result.stderr.lower(), result.stderr
    return result.stdout


@pytest.fixture
def readme(tmp_path: Path) -> Path:
    path = tmp_path / "README.md"
    path.write_bytes(os.urandom(10493))
    return path


@pytest.mark.skipif(not have("aws"), reason="aws CLI not installed")
def test_seed_aws_cli_quick_start(node: NodeProcess, readme: Path, tmp_path: Path) -> None:
    ep = node.s3_url
    run(["aws", "--endpoint-url", ep, "s3", "mb", "s3://demo"], tmp_path)
    run(["aws", "--endpoint-url", ep, "s3", "cp", "README.md", "s3://demo/"], tmp_path)
    out = run(["aws", "--endpoint-url", ep, "s3", "ls", "s3://demo"], tmp_path)
    line = out.strip().splitlines()[-1]
    assert line.endswith(" 10493 README.md"), out


@pytest.mark.skipif(not have("aws"), reason="aws CLI not installed")
def test_seed_put_get_head_and_range(node: NodeProcess, readme: Path, tmp_path: Path) -> None:
    ep = node.s3_url
    file_txt = tmp_path / "file.txt"
    file_txt.write_bytes(b"x" * 1024)
    run(["aws", "--endpoint-url", ep, "s3", "mb", "s3://demo"], tmp_path)
    run(["aws", "--endpoint-url", ep, "s3api", "put-object", "--bucket", "demo", "--key",
         "obj", "--body", "file.txt"], tmp_path)
    run(["aws", "--endpoint-url", ep, "s3api", "get-object", "--bucket", "demo", "--key",
         "obj", "output.txt"], tmp_path)
    assert (tmp_path / "output.txt").read_bytes() == file_txt.read_bytes()
    head = json.loads(run(["aws", "--endpoint-url", ep, "s3api", "head-object", "--bucket",
                           "demo", "--key", "obj"], tmp_path))
    assert head["AcceptRanges"] == "bytes"
    assert head["ContentLength"] == 1024
    assert head["ETag"].startswith('"') and len(head["ETag"]) == 34
    assert "LastModified" in head and "ContentType" in head
    run(["aws", "--endpoint-url", ep, "s3", "cp", "README.md", "s3://demo/"], tmp_path)
    out = json.loads(run(["aws", "s3api", "get-object", "--range", "bytes=0-99", "--bucket",
                          "demo", "--key", "README.md", "part.txt", "--endpoint-url", ep],
                         tmp_path))
    assert out["ContentRange"] == "bytes 0-99/10493"
    assert out["ContentLength"] == 100
    assert (tmp_path / "part.txt").read_bytes() == readme.read_bytes()[:100]


@pytest.mark.skipif(not have("s3cmd"), reason="s3cmd not installed")
def test_seed_s3cmd_one_liner_and_cfg(node: NodeProcess, readme: Path, tmp_path: Path) -> None:
    hostport = node.url.removeprefix("http://")
    env = os.environ.copy()
    env["HOME"] = str(tmp_path)
    cfg = tmp_path / ".s3cfg"
    cfg.write_text(
        "[default]\n"
        f"host_base = {hostport}/s3\n"
        f"host_bucket = {hostport}/s3/%(bucket)\n"
        "access_key = FAKEKEY\n"
        "secret_key = FAKESECRET\n"
        "signature_v2 = False\n"
        "use_https = False\n"
    )
    run(["s3cmd", "mb", "s3://demo"], tmp_path, env)
    out = run(["s3cmd", "put", "README.md", "s3://demo", "--no-ssl", f"--host={hostport}/s3",
               f"--host-bucket={hostport}/s3/%(bucket)"], tmp_path, env)
    assert "upload: 'README.md' -> 's3://demo/README.md'" in out
    out = run(["s3cmd", "ls", "s3://demo"], tmp_path, env)
    assert "s3://demo/README.md" in out and "10493" in out
    run(["s3cmd", "get", "s3://demo/README.md", "back.md"], tmp_path, env)
    assert (tmp_path / "back.md").read_bytes() == readme.read_bytes()
    out = run(["s3cmd", "info", "s3://demo/README.md"], tmp_path, env)
    assert "10493" in out
    run(["s3cmd", "del", "s3://demo/README.md"], tmp_path, env)
    run(["s3cmd", "rb", "s3://demo"], tmp_path, env)


def curl(node: NodeProcess) -> list[str]:
    """curl, signing with SigV4 (``--aws-sigv4``, curl >= 7.75) when the node wants it.

    S3 requires ``x-amz-content-sha256`` on a SigV4 request; curl before 8.x sends (and
    signs) it only when given, as with S3 itself."""
    if node.config_file is None:
        return ["curl"]
    return ["curl", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "FAKEKEY:FAKESECRET",
            "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]


@pytest.mark.skipif(not have("curl"), reason="curl not installed")
def test_curl_put_get_range(node: NodeProcess, tmp_path: Path) -> None:
    ep = node.s3_url
    c = curl(node)
    subprocess.run([*c, "-sf", "-X", "PUT", f"{ep}/curlb"], check=True)
    data = tmp_path / "d.bin"
    data.write_bytes(bytes(range(256)) * 4)
    subprocess.run([*c, "-sf", "-T", str(data), f"{ep}/curlb/d.bin"], check=True)
    out = subprocess.run([*c, "-sf", "-r", "10-19", f"{ep}/curlb/d.bin"], check=True,
                         capture_output=True).stdout
    assert out == data.read_bytes()[10:20]
    res = subprocess.run([*c, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-r",
                          "5000-6000", f"{ep}/curlb/d.bin"], capture_output=True, text=True)
    assert res.stdout == "416"
    res = subprocess.run([*c, "-s", "-w", "\n%{http_code}", f"{ep}/curlb/missing"],
                         capture_output=True, text=True)
    assert res.stdout.endswith("404") and "<Code>NoSuchKey</Code>" in res.stdout
    if node.config_file is not None:  # with signatures on, unsigned curl is refused
        res = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", f"{ep}/curlb/d.bin"],
                             capture_output=True, text=True)
        assert res.stdout.endswith("403") and "<Code>AccessDenied</Code>" in res.stdout
