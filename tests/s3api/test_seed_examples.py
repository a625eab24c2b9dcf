"""The seed's s3cmd, aws CLI and boto3 examples as written, and whole-tree tools; each
with open auth and with signatures on (``[auth] mode = "sigv4"``)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.clients import have
from support.node import NodeProcess, new_node

MiB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    not (have("aws") and have("s3cmd")), reason="aws CLI and s3cmd needed"
)


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


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env=env or os.environ.copy())
    assert result.returncode == 0, f"{cmd}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    text = (result.stdout + result.stderr).lower()
    assert "md5 sum mismatch" not in text and "warning" not in text, result.stderr
    return result.stdout


def s3cmd_env(tmp_path: Path, node: NodeProcess) -> dict[str, str]:
    hostport = node.url.removeprefix("http://")
    (tmp_path / ".s3cfg").write_text(
        "[default]\n"
        f"host_base = {hostport}/s3\n"
        f"host_bucket = {hostport}/s3/%(bucket)\n"
        "access_key = FAKEKEY\nsecret_key = FAKESECRET\n"
        "signature_v2 = False\nuse_https = False\n"
    )
    return dict(os.environ, HOME=str(tmp_path))


def test_seed_s3cmd_multipart(node: NodeProcess, tmp_path: Path) -> None:
    env = s3cmd_env(tmp_path, node)
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(20 * MiB + 3))
    run(["s3cmd", "mb", "s3://demo"], tmp_path, env)
    out = run(["s3cmd", "put", "./large.bin", "s3://demo", "--multipart-chunk-size-mb=8"],
              tmp_path, env)
    assert "large.bin" in out
    from support.clients import s3_client

    etag = s3_client(node.s3_url).head_object(Bucket="demo", Key="large.bin")["ETag"]
    assert etag.endswith('-3"'), etag  # three 8 MiB-or-less parts
    run(["s3cmd", "get", "s3://demo/large.bin", "back.bin"], tmp_path, env)
    assert (tmp_path / "back.bin").read_bytes() == large.read_bytes()
    info = run(["s3cmd", "info", "s3://demo/large.bin"], tmp_path, env)
    assert str(20 * MiB + 3) in info


def test_seed_aws_s3api_multipart_with_parts_json(node: NodeProcess, tmp_path: Path) -> None:
    ep = node.s3_url
    run(["aws", "--endpoint-url", ep, "s3", "mb", "s3://demo"], tmp_path)
    created = json.loads(run(["aws", "s3api", "create-multipart-upload", "--bucket", "demo",
                              "--key", "big", "--endpoint-url", ep], tmp_path))
    assert created["Bucket"] == "demo" and created["Key"] == "big"
    upload_id = created["UploadId"]
    parts = []
    data = [os.urandom(5 * MiB), os.urandom(MiB)]
    for n, chunk in enumerate(data, 1):
        (tmp_path / f"part{n}.bin").write_bytes(chunk)
        out = json.loads(run(["aws", "s3api", "upload-part", "--bucket", "demo", "--key", "big",
                              "--part-number", str(n), "--body", f"part{n}.bin",
                              "--upload-id", upload_id, "--endpoint-url", ep], tmp_path))
        assert out["ETag"] == f'"{hashlib.md5(chunk).hexdigest()}"'
        parts.append({"PartNumber": n, "ETag": out["ETag"]})
    (tmp_path / "parts.json").write_text(json.dumps({"Parts": parts}))
    run(["aws", "s3api", "complete-multipart-upload", "--bucket", "demo", "--key", "big",
         "--upload-id", upload_id, "--multipart-upload", "file://parts.json",
         "--endpoint-url", ep], tmp_path)
    run(["aws", "--endpoint-url", ep, "s3", "cp", "s3://demo/big", "big.out"], tmp_path)
    assert (tmp_path / "big.out").read_bytes() == b"".join(data)


BOTO3_EXAMPLE = """
{patch}
import boto3

client = boto3.client(
    "s3",
    region_name="us-east-1",
    endpoint_url="{endpoint}",
    aws_access_key_id="FAKEKEY",
    aws_secret_access_key="FAKESECRET",
)
client.create_bucket(Bucket="my-bucket")
response = client.list_buckets()
bucket_names = [bucket["Name"] for bucket in response["Buckets"]]
print(f"Existing buckets: {{bucket_names}}")
client.put_object(Bucket="my-bucket", Key="sample.txt", Body="Hello, AIStore!")
response = client.get_object(Bucket="my-bucket", Key="sample.txt")
content = response["Body"].read().decode("utf-8")
print(f"Object content: {{content}}")
client.delete_object(Bucket="my-bucket", Key="sample.txt")
client.delete_bucket(Bucket="my-bucket")

bucket_name = "multipart-demo"
try:
    client.head_bucket(Bucket=bucket_name)
except:
    client.create_bucket(Bucket=bucket_name)
object_key = "large-file.txt"
data = "x" * 10_000_000
chunk_size = 5_000_000
chunks = [data[i:i+chunk_size] for i in range(0, len(data), chunk_size)]
response = client.create_multipart_upload(Bucket=bucket_name, Key=object_key)
upload_id = response["UploadId"]
parts = []
for i, chunk in enumerate(chunks):
    part_num = i + 1
    response = client.upload_part(
        Body=chunk, Bucket=bucket_name, Key=object_key, PartNumber=part_num, UploadId=upload_id,
    )
    parts.append({{"PartNumber": part_num, "ETag": response["ETag"]}})
client.complete_multipart_upload(
    Bucket=bucket_name, Key=object_key, UploadId=upload_id, MultipartUpload={{"Parts": parts}}
)
response = client.head_object(Bucket=bucket_name, Key=object_key)
print(f"Successfully uploaded {{response['ContentLength']}} bytes")
"""


@pytest.mark.parametrize("patched", [False, True])
def test_seed_boto3_examples(node: NodeProcess, tmp_path: Path, patched: bool) -> None:
    patch = "from aistore.botocore_patch import botocore" if patched else ""
    script = tmp_path / "example.py"
    script.write_text(textwrap.dedent(BOTO3_EXAMPLE.format(patch=patch, endpoint=node.s3_url)))
    result = subprocess.run([sys.executable, "-W", "error::UserWarning", str(script)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Existing buckets: ['my-bucket']" in result.stdout
    assert "Object content: Hello, AIStore!" in result.stdout
    assert "Successfully uploaded 10000000 bytes" in result.stdout


def make_tree(root: Path, count: int) -> None:
    for i in range(count):
        p = root / f"d{i % 10}" / f"f{i:04d}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(100 + i % 300))


def test_aws_sync_cp_mv_rm_whole_trees(node: NodeProcess, tmp_path: Path) -> None:
    ep = node.s3_url
    src = tmp_path / "src"
    make_tree(src, 1000)
    run(["aws", "--endpoint-url", ep, "s3", "mb", "s3://tree"], tmp_path)
    out = run(["aws", "--endpoint-url", ep, "s3", "sync", "src", "s3://tree/t"], tmp_path)
    assert out.count("upload:") == 1000
    out = run(["aws", "--endpoint-url", ep, "s3", "sync", "src", "s3://tree/t"], tmp_path)
    assert "upload:" not in out
    out = run(["aws", "--endpoint-url", ep, "s3", "sync", "s3://tree/t", "back"], tmp_path)
    assert out.count("download:") == 1000
    out = run(["aws", "--endpoint-url", ep, "s3", "sync", "s3://tree/t", "back"], tmp_path)
    assert "download:" not in out
    diff = subprocess.run(["diff", "-r", "src", "back"], cwd=tmp_path, capture_output=True)
    assert diff.returncode == 0, diff.stdout[:500]
    run(["aws", "--endpoint-url", ep, "s3", "cp", "--recursive", "src/d1", "s3://tree/copy"],
        tmp_path)
    run(["aws", "--endpoint-url", ep, "s3", "mv", "s3://tree/copy/f0001.txt",
         "s3://tree/moved.txt"], tmp_path)
    ls = run(["aws", "--endpoint-url", ep, "s3", "ls", "s3://tree/"], tmp_path)
    assert "moved.txt" in ls
    run(["aws", "--endpoint-url", ep, "s3", "rm", "--recursive", "s3://tree/"], tmp_path)
    empty = subprocess.run(["aws", "--endpoint-url", ep, "s3", "ls", "s3://tree/"],
                           capture_output=True, text=True)
    assert empty.stdout.strip() == ""


def test_s3cmd_sync_du_info(node: NodeProcess, tmp_path: Path) -> None:
    env = s3cmd_env(tmp_path, node)
    src = tmp_path / "src"
    make_tree(src, 200)
    run(["s3cmd", "mb", "s3://cmdtree"], tmp_path, env)
    run(["s3cmd", "sync", "src/", "s3://cmdtree/src/"], tmp_path, env)
    again = run(["s3cmd", "sync", "src/", "s3://cmdtree/src/"], tmp_path, env)
    assert "upload:" not in again
    total = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    du = run(["s3cmd", "du", "s3://cmdtree"], tmp_path, env)
    assert du.split()[0] == str(total), du
    run(["s3cmd", "sync", "s3://cmdtree/src/", "back/"], tmp_path, env)
    assert subprocess.run(["diff", "-r", "src", "back"], cwd=tmp_path).returncode == 0
    info = run(["s3cmd", "info", "s3://cmdtree/src/d0/f0000.txt"], tmp_path, env)
    assert "MD5 sum" in info


@pytest.mark.skipif(os.geteuid() != 0 or not os.access("/etc/hosts", os.W_OK),
                    reason="needs to add a name to /etc/hosts")
@pytest.mark.parametrize("mode", ["open", "sigv4"])
def test_s3cmd_virtual_hosted_style(tmp_path: Path, mode: str) -> None:
    domain = "aisfs-test.internal"
    hosts = Path("/etc/hosts")
    original = hosts.read_text()
    if f"vhost.{domain}" not in original:
        hosts.write_text(original + f"\n127.0.0.1 {domain} vhost.{domain}\n")
    config = f'[net]\nvirtual_host_domain = "{domain}"\n'
    if mode == "sigv4":
        config += SIGV4_CONFIG
    node = new_node(tmp_path, config=config).start()
    try:
        port = node.url.rsplit(":", 1)[1]
        (tmp_path / ".s3cfg").write_text(
            "[default]\n"
            f"host_base = {domain}:{port}\n"
            f"host_bucket = %(bucket)s.{domain}:{port}\n"
            "access_key = FAKEKEY\nsecret_key = FAKESECRET\n"
            "signature_v2 = False\nuse_https = False\n"
        )
        env = dict(os.environ, HOME=str(tmp_path))
        (tmp_path / "f.txt").write_bytes(b"virtual hosted")
        run(["s3cmd", "mb", "s3://vhost"], tmp_path, env)
        run(["s3cmd", "put", "f.txt", "s3://vhost/dir/f.txt"], tmp_path, env)
        assert "s3://vhost/dir/f.txt" in run(["s3cmd", "ls", "-r", "s3://vhost"], tmp_path, env)
        run(["s3cmd", "get", "s3://vhost/dir/f.txt", "g.txt"], tmp_path, env)
        assert (tmp_path / "g.txt").read_bytes() == b"virtual hosted"
    finally:
        hosts.write_text(original)
        assert node.stop() == 0, node.log()


@pytest.mark.skip(
    reason="the seed's `aws s3 presign ... --endpoint-url https://s3.amazonaws.com` then curl "
    "with the host replaced is AIStore's presigned-request offload: the URL carries an AWS "
    "account's signature for s3.amazonaws.com and AIStore replays it against AWS S3. That "
    "needs an AWS account and the network, and no node can verify an AWS key's signature; "
    "the same commands with this node as the endpoint run in both auth modes in "
    "test_s3_auth.py::test_seed_aws_presign_then_curl and test_s3_cli_tools.py"
)
def test_seed_presign_against_aws_then_offload() -> None:
    raise AssertionError("skipped")
