"""Nothing unsigned is acted on: every x-amz-* header (and Content-MD5, Host) a signed
request carries must be covered by its signature - SigV4 header and presigned, SigV2 header
and presigned, through the S3 API and the native API - while ordinary boto3, aws CLI and
s3cmd traffic (V4 and V2) still passes. A SigV4 presigned URL may leave Content-MD5 unsigned,
as on S3 (it is still checked against the body). Real node, real clients, raw sockets for
the rest."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1Auth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support.clients import have
from support.node import NodeProcess, new_node

AK, SK = "AKIDSIGNED", "signed-headers-secret"
CONFIG = f"""
features = ["S3-API-via-Root"]
[store]
fsync = false
[auth]
mode = "sigv4"
access_keys = {{ {AK} = "{SK}" }}
"""
NOT_SIGNED = b"<Message>There were headers present in the request which were not signed</Message>"


def client(endpoint: str, v2: bool = False):  # type: ignore[no-untyped-def]
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config

    cfg = Config(retries={"max_attempts": 1}, signature_version="s3" if v2 else "s3v4")
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=AK, aws_secret_access_key=SK, config=cfg)


def send(url: str, method: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    """One request over a plain connection, headers exactly as given."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if body or method in ("PUT", "POST"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def sign_v4(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
            ) -> dict[str, str]:
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    S3SigV4Auth(Credentials(AK, SK), "s3", "us-east-1").add_auth(req)
    out = dict(req.headers.items())
    out["Host"] = urlsplit(url).netloc
    return out


def sign_v2(method: str, url: str, auth_path: str, headers: dict[str, str] | None = None
            ) -> dict[str, str]:
    req = AWSRequest(method=method, url=url, headers=headers or {})
    req.auth_path = auth_path
    HmacV1Auth(Credentials(AK, SK)).add_auth(req)
    out = dict(req.headers.items())
    out["Host"] = urlsplit(url).netloc
    return out


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    proc = new_node(tmp_path_factory.mktemp("signed"), config=CONFIG).start()
    s3 = client(proc.s3_url)
    s3.create_bucket(Bucket="otherbucket")
    s3.put_object(Bucket="otherbucket", Key="secret.txt", Body=b"top secret")
    s3.create_bucket(Bucket="mine")
    yield proc
    assert proc.stop() == 0
    log = proc.log()
    assert "Traceback" not in log and " ERROR " not in log, log
    assert SK not in log


def absent(node: NodeProcess, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client(node.s3_url).head_object(Bucket="mine", Key=key)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


def assert_not_signed(status: int, body: bytes, *names: str) -> None:
    assert status == 403, body
    assert b"<Code>AccessDenied</Code>" in body and NOT_SIGNED in body, body
    assert f"<HeadersNotSigned>{', '.join(names)}</HeadersNotSigned>".encode() in body, body


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"x-amz-copy-source": "/otherbucket/secret.txt"}, ["x-amz-copy-source"]),
        ({"x-amz-meta-owner": "mallory"}, ["x-amz-meta-owner"]),
        ({"X-Amz-Tagging": "a=b", "x-amz-meta-x": "1"}, ["x-amz-meta-x", "x-amz-tagging"]),
        ({"Content-MD5": "rL0Y20zC+Fzt72VPzMSk2A=="}, ["content-md5"]),
    ],
)
def test_v4_header_signed_put_with_unsigned_header(node: NodeProcess, extra: dict[str, str],
                                                   names: list[str]) -> None:
    key = "v4-" + names[0]
    url = f"{node.s3_url}/mine/{key}"
    headers = sign_v4("PUT", url, b"foo")
    assert send(url, "PUT", headers, b"foo")[0] == 200  # as signed: stored
    client(node.s3_url).delete_object(Bucket="mine", Key=key)
    status, body = send(url, "PUT", {**headers, **extra}, b"foo")
    assert_not_signed(status, body, *names)
    assert absent(node, key)  # neither copied nor stored


def test_v4_presigned_put_with_unsigned_header(node: NodeProcess) -> None:
    s3 = client(node.s3_url)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "mine", "Key": "pre"},
                                    ExpiresIn=300)
    host = {"Host": urlsplit(url).netloc}
    status, body = send(url, "PUT", {**host, "x-amz-copy-source": "/otherbucket/secret.txt"})
    assert_not_signed(status, body, "x-amz-copy-source")
    status, body = send(url, "PUT", {**host, "x-amz-meta-evil": "1"}, b"data")
    assert_not_signed(status, body, "x-amz-meta-evil")
    assert absent(node, "pre")
    # curl, as people use presigned URLs; x-amz-content-sha256 may go unsigned (as on S3)
    subprocess.run(["curl", "-sf", "-X", "PUT", "--data-binary", "via presigned", "-H",
                    "Content-Type:", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", url],
                   check=True, timeout=60)
    assert s3.get_object(Bucket="mine", Key="pre")["Body"].read() == b"via presigned"
    # a presigned URL that signs the header carries it
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": "mine", "Key": "pre-meta", "Metadata": {"a": "1"}},
        ExpiresIn=300)
    status, body = send(url, "PUT", {**host, "x-amz-meta-a": "1"}, b"m")
    assert status == 200, body
    assert s3.head_object(Bucket="mine", Key="pre-meta")["Metadata"] == {"a": "1"}
    status, body = send(url, "PUT", {**host, "x-amz-meta-a": "1", "x-amz-meta-b": "2"}, b"m")
    assert_not_signed(status, body, "x-amz-meta-b")


def test_v2_header_and_presigned_cover_every_amz_header(node: NodeProcess) -> None:
    url = f"{node.s3_url}/mine/v2key"
    headers = sign_v2("PUT", url, "/mine/v2key")
    assert send(url, "PUT", headers, b"v2")[0] == 200
    client(node.s3_url).delete_object(Bucket="mine", Key="v2key")
    for extra in ({"x-amz-copy-source": "/otherbucket/secret.txt"}, {"x-amz-meta-z": "1"}):
        status, body = send(url, "PUT", {**headers, **extra}, b"v2")
        assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body, body
    assert absent(node, "v2key")
    purl = client(node.s3_url, v2=True).generate_presigned_url(
        "put_object", Params={"Bucket": "mine", "Key": "v2pre"}, ExpiresIn=300)
    assert "Signature=" in purl and "X-Amz-Signature" not in purl
    host = {"Host": urlsplit(purl).netloc}
    status, body = send(purl, "PUT", {**host, "x-amz-copy-source": "/otherbucket/secret.txt"})
    assert status == 403 and b"SignatureDoesNotMatch" in body, body
    assert absent(node, "v2pre")
    assert send(purl, "PUT", host, b"v2 presigned")[0] == 200


def test_native_api_applies_the_same_policy(node: NodeProcess) -> None:
    url = f"{node.url}/v1/objects/otherbucket/secret.txt"
    headers = sign_v4("GET", url)
    status, body = send(url, "GET", headers)
    assert status == 200 and body == b"top secret"
    status, body = send(url, "GET", {**headers, "x-amz-meta-x": "1"})
    assert status == 403 and b"not signed" in body, body
    v2 = sign_v2("GET", url, "/v1/objects/otherbucket/secret.txt")
    status, body = send(url, "GET", v2)
    assert status == 200 and body == b"top secret", body
    status, body = send(url, "GET", {**v2, "x-amz-meta-x": "1"})
    assert status == 403 and b"SignatureDoesNotMatch" in body, body


def test_boto3_v4_and_v2_traffic_passes(node: NodeProcess) -> None:
    for v2 in (False, True):
        s3 = client(node.s3_url, v2=v2)
        bucket = "tradv2" if v2 else "tradv4"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="a b/c", Body=b"x" * 1000, Metadata={"m": "v"},
                      Tagging="t=1", ContentType="text/plain")
        assert s3.head_object(Bucket=bucket, Key="a b/c")["Metadata"] == {"m": "v"}
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "a b/c"})
        assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"x" * 1000
        keys = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
        assert keys == ["a b/c", "copy"]
        assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a b/c"}, {"Key": "copy"}]})
        s3.delete_bucket(Bucket=bucket)


@pytest.mark.skipif(not have("aws"), reason="aws CLI not installed")
def test_aws_cli_passes(node: NodeProcess, tmp_path: Path) -> None:
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"))
    src = tmp_path / "f.txt"
    src.write_bytes(b"cli data")
    ep = ["--endpoint-url", node.s3_url]

    def aws(*args: str) -> str:
        r = subprocess.run(["aws", *args, *ep], capture_output=True, text=True, env=env,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    aws("s3", "cp", str(src), "s3://mine/cli.txt")
    aws("s3api", "put-object", "--bucket", "mine", "--key", "cli-meta", "--body", str(src),
        "--metadata", "k=v")
    assert '"k": "v"' in aws("s3api", "head-object", "--bucket", "mine", "--key", "cli-meta")
    aws("s3", "cp", "s3://mine/cli.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_bytes() == b"cli data"
    assert "cli.txt" in aws("s3", "ls", "s3://mine")


def s3cmd_path() -> str | None:
    return shutil.which("s3cmd") or shutil.which("s3cmd", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(s3cmd_path() is None, reason="s3cmd not installed")
@pytest.mark.parametrize(("v2", "base"), [(False, ""), (True, "/s3")])
def test_s3cmd_passes(node: NodeProcess, tmp_path: Path, v2: bool, base: str) -> None:
    """s3cmd V4 signs ``Host: <host_base>`` whole, so a path in host_base (/s3) cannot
    verify (on AWS neither): V4 goes through the S3 API at the root (S3-API-via-Root)."""
    hostport = node.url.removeprefix("http://")
    cfg = tmp_path / "s3cfg"
    cfg.write_text(
        "[default]\n"
        f"host_base = {hostport}{base}\n"
        f"host_bucket = {hostport}{base}\n"
        f"access_key = {AK}\nsecret_key = {SK}\n"
        f"signature_v2 = {v2}\nuse_https = False\n"
    )
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(5000))
    bucket = f"s3cmd{'v2' if v2 else 'v4'}{base.strip('/')}"

    def s3cmd(*args: str) -> str:
        r = subprocess.run([str(s3cmd_path()), "-c", str(cfg), *args], capture_output=True,
                           text=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 0, f"{args}\n{r.stdout}\n{r.stderr}"
        return r.stdout

    s3cmd("mb", f"s3://{bucket}")
    s3cmd("put", str(src), f"s3://{bucket}/f.bin", "--add-header=x-amz-meta-color:blue")
    assert "f.bin" in s3cmd("ls", f"s3://{bucket}")
    assert f"s3://{bucket}" in s3cmd("ls")
    s3cmd("get", f"s3://{bucket}/f.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    assert "blue" in s3cmd("info", f"s3://{bucket}/f.bin")
    s3cmd("del", f"s3://{bucket}/f.bin")
    s3cmd("rb", f"s3://{bucket}")


def test_v4_presigned_put_with_unsigned_content_md5(node: NodeProcess) -> None:
    """As on S3: Content-MD5 added to a presigned PUT need not be signed; the node still
    checks it against the body (BadDigest, nothing stored). Header auth must sign it
    (test_v4_header_signed_put_with_unsigned_header)."""
    import base64
    import hashlib

    s3 = client(node.s3_url)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "mine", "Key": "md5"},
                                    ExpiresIn=300)
    host = {"Host": urlsplit(url).netloc}
    body = b"checked by its digest"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    status, reply = send(url, "PUT", {**host, "Content-MD5": bad}, body)
    assert status == 400 and b"<Code>BadDigest</Code>" in reply, reply
    assert absent(node, "md5")
    status, reply = send(url, "PUT", {**host, "Content-MD5": good}, body)
    assert status == 200, reply
    assert s3.get_object(Bucket="mine", Key="md5")["Body"].read() == body


def test_v2_resource_names_one_object_at_the_base_and_the_root(node: NodeProcess) -> None:
    """With S3-API-via-Root, /s3/xbk/y is bucket xbk, key y (served under the base). A
    SigV2 string to sign names /bucket/key: one for /s3/xbk/y (bucket s3, key xbk/y) must
    not open bucket xbk, key y, and the clients' /xbk/y opens it under the base and at the
    root. (Bucket s3 is too short to exist; a longer configured base is a real bucket.)"""
    s3 = client(node.s3_url)
    s3.create_bucket(Bucket="xbk")
    s3.put_object(Bucket="xbk", Key="y", Body=b"xbk/y")
    for url in (f"{node.s3_url}/xbk/y", f"{node.url}/xbk/y"):
        assert send(url, "GET", sign_v2("GET", url, "/xbk/y")) == (200, b"xbk/y")
    url = f"{node.s3_url}/xbk/y"
    status, reply = send(url, "GET", sign_v2("GET", url, "/s3/xbk/y"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in reply, reply
    # and a presigned V2 URL for bucket s3, key xbk/y
    from botocore.auth import HmacV1QueryAuth

    req = AWSRequest(method="GET", url=url)
    req.auth_path = "/s3/xbk/y"
    HmacV1QueryAuth(Credentials(AK, SK), expires=60).add_auth(req)
    status, reply = send(req.prepare().url, "GET", {"Host": urlsplit(url).netloc})
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in reply, reply
