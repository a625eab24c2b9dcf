"""SigV4 with configured keys, presigned URLs, JWT bearer tokens, and HTTPS with aws-chunked."""

from __future__ import annotations

import datetime
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import jwt
import pytest
from botocore.exceptions import ClientError

from support.clients import have, s3_client
from support.node import new_node

SIGV4_CONFIG = """
[auth]
mode = "sigv4"
access_keys = { AKIDTEST = "s3cr3t-value-never-logged" }
"""


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def signed_client(endpoint: str, key: str = "AKIDTEST", secret: str = "s3cr3t-value-never-logged"):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def sigv4_node(tmp_path: Path):
    node = new_node(tmp_path, config=SIGV4_CONFIG).start()
    yield node
    assert node.stop() == 0
    log = node.log()
    assert "s3cr3t-value-never-logged" not in log
    assert "Traceback" not in log, log


def test_sigv4_accepts_signed_and_refuses_bad(sigv4_node) -> None:
    s3 = signed_client(sigv4_node.s3_url)
    s3.create_bucket(Bucket="sig")
    body = os.urandom(100_000)
    s3.put_object(Bucket="sig", Key="k", Body=body)
    assert s3.get_object(Bucket="sig", Key="k")["Body"].read() == body
    s3.put_object(Bucket="sig", Key="gone", Body=b"x")
    deleted = s3.delete_objects(Bucket="sig", Delete={"Objects": [{"Key": "gone"}]})
    assert [d["Key"] for d in deleted["Deleted"]] == ["gone"]  # signed XML body verified
    with pytest.raises(ClientError) as e:
        signed_client(sigv4_node.s3_url, secret="wrong").get_object(Bucket="sig", Key="k")
    assert code_of(e) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as e:
        signed_client(sigv4_node.s3_url, key="NOSUCHKEY").list_buckets()
    assert code_of(e) == ("InvalidAccessKeyId", 403)
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(sigv4_node.s3_url + "/sig/k")
    assert he.value.code == 403 and b"<Code>AccessDenied</Code>" in he.value.read()


def test_presigned_urls_and_expiry(sigv4_node) -> None:
    s3 = signed_client(sigv4_node.s3_url)
    s3.create_bucket(Bucket="pre")
    s3.put_object(Bucket="pre", Key="doc.txt", Body=b"presigned!")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "doc.txt"},
                                    ExpiresIn=60)
    assert urllib.request.urlopen(url).read() == b"presigned!"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "pre", "Key": "up"},
                                        ExpiresIn=60)
    subprocess.run(["curl", "-sf", "-X", "PUT", "--data-binary", "uploaded", "-H",
                    "Content-Type:", put_url], check=True, timeout=60)
    assert s3.get_object(Bucket="pre", Key="up")["Body"].read() == b"uploaded"
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "doc.txt"},
                                        ExpiresIn=1)
    time.sleep(2.1)  # real time: the node checks the expiry against its own wall clock
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(expired)
    assert he.value.code == 403 and b"AccessDenied" in he.value.read()


@pytest.mark.skipif(not (have("aws") and have("curl")), reason="aws CLI and curl needed")
def test_seed_aws_presign_then_curl(sigv4_node, tmp_path: Path) -> None:
    s3 = signed_client(sigv4_node.s3_url)
    s3.create_bucket(Bucket="demo")
    s3.put_object(Bucket="demo", Key="README.md", Body=b"# readme\n")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDTEST",
               AWS_SECRET_ACCESS_KEY="s3cr3t-value-never-logged")
    url = subprocess.run(
        ["aws", "s3", "presign", "s3://demo/README.md", "--endpoint-url", sigv4_node.s3_url],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    ).stdout.strip()
    subprocess.run(["curl", "-sf", "-H", "ais-s3-signed-request-style: path", url, "-o",
                    "README.md"], cwd=tmp_path, check=True, timeout=60)
    assert (tmp_path / "README.md").read_bytes() == b"# readme\n"


def test_jwt_bearer_and_security_token(tmp_path: Path) -> None:
    secret = "jwt-secret-for-tests-32-bytes-long-xx"
    node = new_node(tmp_path, config=f'[auth]\nmode = "jwt"\njwt_secret = "{secret}"\n').start()
    try:
        now = datetime.datetime.now(datetime.UTC)
        token = jwt.encode({"sub": "alice", "exp": now + datetime.timedelta(hours=1)}, secret,
                           algorithm="HS256")
        req = urllib.request.Request(node.s3_url + "/jwtb", method="PUT",
                                     headers={"Authorization": f"Bearer {token}"})
        urllib.request.urlopen(req).read()
        import boto3

        s3 = boto3.client("s3", endpoint_url=node.s3_url, region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="y",
                          aws_session_token=token)
        s3.put_object(Bucket="jwtb", Key="k", Body=b"with token")
        assert s3.get_object(Bucket="jwtb", Key="k")["Body"].read() == b"with token"
        expired = jwt.encode({"sub": "alice", "exp": now - datetime.timedelta(minutes=1)},
                             secret, algorithm="HS256")
        req = urllib.request.Request(node.s3_url + "/jwtb/k",
                                     headers={"Authorization": f"Bearer {expired}"})
        with pytest.raises(urllib.error.HTTPError) as he:
            urllib.request.urlopen(req)
        assert he.value.code == 403 and b"AccessDenied" in he.value.read()
        with pytest.raises(ClientError) as e:
            s3_client(node.s3_url).list_buckets()
        assert code_of(e) == ("AccessDenied", 403)
    finally:
        assert node.stop() == 0, node.log()


def make_test_ca(directory: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aisfs test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path = directory / "ca.pem", directory / "node.pem"
    key_path = directory / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_path, cert_path, key_path


@pytest.mark.parametrize("mode", ["open", "sigv4"])
def test_https_aws_chunked_trailer_checksums(tmp_path: Path, mode: str) -> None:
    ca, cert, key = make_test_ca(tmp_path)
    config = (
        "[net]\nhttps_listen = [\"127.0.0.1:0\"]\n"
        f"certfile = \"{cert}\"\nkeyfile = \"{key}\"\n"
    )
    if mode == "sigv4":
        config += SIGV4_CONFIG
    node = new_node(tmp_path, config=config).start()
    try:
        assert node.https_url, node.urls
        import boto3
        from botocore.config import Config

        s3 = boto3.client(
            "s3", endpoint_url=node.https_url + "/s3", region_name="us-east-1",
            aws_access_key_id="AKIDTEST", aws_secret_access_key="s3cr3t-value-never-logged",
            verify=str(ca), config=Config(retries={"max_attempts": 1}),
        )
        s3.create_bucket(Bucket="tls")
        body = os.urandom(3 * 1024 * 1024 + 5)
        r = s3.put_object(Bucket="tls", Key="k", Body=body)
        assert r.get("ChecksumCRC32")
        got = s3.get_object(Bucket="tls", Key="k", ChecksumMode="ENABLED")
        assert got["Body"].read() == body
        assert got["ChecksumCRC32"] == r["ChecksumCRC32"]
        import io

        s3.upload_fileobj(io.BytesIO(body * 3), "tls", "multi",
                          Config=__import__("boto3.s3.transfer").s3.transfer.TransferConfig(
                              multipart_threshold=5 * 1024 * 1024,
                              multipart_chunksize=5 * 1024 * 1024))
        assert s3.get_object(Bucket="tls", Key="multi")["Body"].read() == body * 3
    finally:
        assert node.stop() == 0, node.log()


def sigv2_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDTEST",
        aws_secret_access_key="s3cr3t-value-never-logged",
        config=Config(signature_version="s3", retries={"max_attempts": 1}),
    )


def test_sigv2_bucket_level_requests(sigv4_node) -> None:
    """botocore's HmacV1Auth signs /bucket/ for bucket requests (the node checked /bucket)."""
    s3 = sigv2_client(sigv4_node.s3_url)
    s3.create_bucket(Bucket="vtwo")
    s3.put_object(Bucket="vtwo", Key="dir/a b", Body=b"v2 body", Metadata={"k": "v"})
    assert [o["Key"] for o in s3.list_objects(Bucket="vtwo")["Contents"]] == ["dir/a b"]
    assert s3.list_objects_v2(Bucket="vtwo", Prefix="dir/", Delimiter="/")["KeyCount"] == 1
    assert "vtwo" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    got = s3.get_object(Bucket="vtwo", Key="dir/a b")
    assert got["Body"].read() == b"v2 body" and got["Metadata"] == {"k": "v"}
    s3.head_bucket(Bucket="vtwo")
    s3.delete_object(Bucket="vtwo", Key="dir/a b")
    s3.delete_bucket(Bucket="vtwo")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="vtwo")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def _v2_request(url: str, auth_path: str, age: float) -> urllib.request.Request:
    from email.utils import formatdate

    from botocore.auth import HmacV1Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class Dated(HmacV1Auth):
        def _get_date(self) -> str:
            return formatdate(time.time() - age, usegmt=True)

    req = AWSRequest(method="GET", url=url)
    req.auth_path = auth_path  # type: ignore[attr-defined]
    Dated(Credentials("AKIDTEST", "s3cr3t-value-never-logged")).add_auth(req)
    return urllib.request.Request(url, headers=dict(req.headers.items()))


def test_sigv2_replayed_request_and_expired_presign_refused(sigv4_node) -> None:
    s3 = sigv2_client(sigv4_node.s3_url)
    s3.create_bucket(Bucket="replay")
    s3.put_object(Bucket="replay", Key="k", Body=b"once")
    url = sigv4_node.s3_url + "/replay/k"
    assert urllib.request.urlopen(_v2_request(url, "/replay/k", 60)).read() == b"once"
    for age in (20 * 60, -20 * 60, 16 * 365 * 86400):  # captured, from the future, from 2010
        with pytest.raises(urllib.error.HTTPError) as he:
            urllib.request.urlopen(_v2_request(url, "/replay/k", age))
        body = he.value.read()
        assert he.value.code == 403 and b"<Code>RequestTimeTooSkewed</Code>" in body, body
    from botocore.auth import HmacV1QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="GET", url=url)
    req.auth_path = "/replay/k"  # type: ignore[attr-defined]
    creds = Credentials("AKIDTEST", "s3cr3t-value-never-logged")
    HmacV1QueryAuth(creds, expires=-60).add_auth(req)  # expired a minute ago
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(req.prepare().url)
    body = he.value.read()
    assert he.value.code == 403 and b"<Message>Request has expired</Message>" in body, body
    req = AWSRequest(method="GET", url=url)
    req.auth_path = "/replay/k"  # type: ignore[attr-defined]
    HmacV1QueryAuth(creds, expires=60).add_auth(req)
    assert urllib.request.urlopen(req.prepare().url).read() == b"once"


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{cmd}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    return result.stdout


def _s3cfg(tmp_path: Path, hostport: str, base: str, v2: bool, ca: Path | None) -> dict[str, str]:
    """The seed's .s3cfg (host_base = host:port/s3), with this node's keys."""
    home = tmp_path / ("home-v2" if v2 else "home-v4")
    home.mkdir(exist_ok=True)
    tls = f"use_https = True\nca_certs_file = {ca}\ncheck_ssl_certificate = True\n" if ca \
        else "use_https = False\n"
    (home / ".s3cfg").write_text(
        "[default]\n"
        f"host_base = {hostport}{base}\nhost_bucket = {hostport}{base}/%(bucket)\n"
        "access_key = AKIDTEST\nsecret_key = s3cr3t-value-never-logged\n"
        f"signature_v2 = {v2}\n{tls}"
    )
    return dict(os.environ, HOME=str(home))


@pytest.mark.skipif(not (have("s3cmd") and have("aws")), reason="s3cmd and aws CLI needed")
@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("base", ["/s3", ""])
def test_clients_with_the_base_path_in_their_endpoint(
    tmp_path: Path, scheme: str, base: str
) -> None:
    """Signatures on, every client configured with an endpoint ending in /s3 (the seed's
    way), or at the root with S3-API-via-Root: s3cmd V4 (signs Host h:p/s3 and the path
    without /s3) and V2, the aws CLI, boto3 V4 and V2; over HTTP and HTTPS."""
    ca, cert, key = make_test_ca(tmp_path)
    config = ('features = ["S3-API-via-Root"]\n[net]\nhttps_listen = ["127.0.0.1:0"]\n'
              f'certfile = "{cert}"\nkeyfile = "{key}"\n' + SIGV4_CONFIG)
    node = new_node(tmp_path, config=config).start()
    try:
        origin = node.https_url if scheme == "https" else node.url
        endpoint = origin + base
        hostport = origin.split("://", 1)[1]
        tls_ca = ca if scheme == "https" else None
        (tmp_path / "f.txt").write_bytes(b"through the base path\n")
        for v2 in (False, True):
            env = _s3cfg(tmp_path, hostport, base, v2, tls_ca)
            bucket = f"cmd-{'v2' if v2 else 'v4'}"
            _run(["s3cmd", "mb", f"s3://{bucket}"], tmp_path, env)
            assert f"s3://{bucket}" in _run(["s3cmd", "ls"], tmp_path, env)
            _run(["s3cmd", "put", "f.txt", f"s3://{bucket}/dir/a b.txt"], tmp_path, env)
            assert "a b.txt" in _run(["s3cmd", "ls", "-r", f"s3://{bucket}"], tmp_path, env)
            _run(["s3cmd", "get", "--force", f"s3://{bucket}/dir/a b.txt", "g.txt"],
                 tmp_path, env)
            assert (tmp_path / "g.txt").read_bytes() == b"through the base path\n"
            _run(["s3cmd", "del", f"s3://{bucket}/dir/a b.txt"], tmp_path, env)
            _run(["s3cmd", "rb", f"s3://{bucket}"], tmp_path, env)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDTEST",
                   AWS_SECRET_ACCESS_KEY="s3cr3t-value-never-logged")
        if tls_ca is not None:
            env["AWS_CA_BUNDLE"] = str(tls_ca)
        _run(["aws", "--endpoint-url", endpoint, "s3", "mb", "s3://cli"], tmp_path, env)
        _run(["aws", "--endpoint-url", endpoint, "s3", "cp", "f.txt", "s3://cli/"], tmp_path, env)
        assert "f.txt" in _run(["aws", "--endpoint-url", endpoint, "s3", "ls", "s3://cli"],
                               tmp_path, env)
        import boto3
        from botocore.config import Config

        for version in ("s3v4", "s3"):
            s3 = boto3.client(
                "s3", endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id="AKIDTEST", aws_secret_access_key="s3cr3t-value-never-logged",
                verify=str(tls_ca) if tls_ca else None,
                config=Config(signature_version=version, retries={"max_attempts": 1}),
            )
            s3.create_bucket(Bucket=f"py-{version}")
            s3.put_object(Bucket=f"py-{version}", Key="k", Body=b"boto3")
            assert s3.get_object(Bucket=f"py-{version}", Key="k")["Body"].read() == b"boto3"
            assert f"py-{version}" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
            url = s3.generate_presigned_url("get_object",
                                            Params={"Bucket": f"py-{version}", "Key": "k"})
            out = subprocess.run(["curl", "-sf", "--cacert", str(ca), url],
                                 capture_output=True, check=True, timeout=60).stdout
            assert out == b"boto3"
        # the wrong key is still refused, whichever form it is signed in
        env = _s3cfg(tmp_path, hostport, base, False, tls_ca)
        cfg = Path(env["HOME"]) / ".s3cfg"
        cfg.write_text(cfg.read_text().replace("s3cr3t-value-never-logged", "wrong"))
        bad = subprocess.run(["s3cmd", "ls"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
        assert bad.returncode != 0 and "SignatureDoesNotMatch" in bad.stderr, bad.stderr
    finally:
        assert node.stop() == 0, node.log()
