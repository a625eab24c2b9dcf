"""kill -9 under load loses no acknowledged object; HTTP and HTTPS together, with boto3
against a test CA, `aws --no-verify-ssl` and s3cmd over TLS."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from support.clients import have, s3_client
from support.node import new_node


def test_kill9_under_load_loses_no_acknowledged_object(tmp_path: Path) -> None:
    node = new_node(tmp_path).start()
    acked: dict[str, str] = {}
    attempted: dict[str, str] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def writer(n: int) -> None:
        s3 = s3_client(node.s3_url)
        i = 0
        while not stop.is_set():
            key = f"w{n}/obj{i:05d}"
            size = (64 << 10) if i % 5 else (9 << 20)  # every fifth spans two chunks
            body = os.urandom(size)
            digest = hashlib.md5(body).hexdigest()
            with lock:
                attempted[key] = digest
            try:
                s3.put_object(Bucket="load", Key=key, Body=body)
            except Exception:
                return  # the node is gone
            with lock:
                acked[key] = digest
            i += 1

    try:
        s3_client(node.s3_url).create_bucket(Bucket="load")
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        # real time: the PUTs run in the node's process, to be cut there; kill once some
        # were acknowledged (2 s on a quiet machine; longer on a loaded one, up to 60 s)
        deadline = time.monotonic() + 60
        time.sleep(2.0)
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= 8:
                    break
            time.sleep(0.1)
        node.kill()  # SIGKILL in the middle of PUTs
        stop.set()
        for t in threads:
            t.join(30)
        with lock:
            acked_now = dict(acked)
        assert len(acked_now) >= 8, f"too little load: {len(acked_now)} PUTs"

        node.start()
        s3 = s3_client(node.s3_url)
        for key, digest in acked_now.items():
            body = s3.get_object(Bucket="load", Key=key)["Body"].read()
            assert hashlib.md5(body).hexdigest() == digest, key
        # a PUT cut by the kill is either absent or whole, never partial
        listed = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="load"):
            listed |= {o["Key"] for o in page.get("Contents", [])}
        assert set(acked_now) <= listed
        for key in listed - set(acked_now):
            body = s3.get_object(Bucket="load", Key=key)["Body"].read()
            assert hashlib.md5(body).hexdigest() == attempted[key], key
        assert node.stop() == 0
    finally:
        stop.set()
        node.kill()
    assert "Traceback" not in node.log().split("aisfs node ready")[-1]


def test_http_and_https_together(tmp_path: Path, make_test_ca) -> None:  # type: ignore[no-untyped-def]
    ca, cert, key = make_test_ca(tmp_path)
    config = (
        '[net]\nhttps_listen = ["127.0.0.1:0"]\n'
        f'certfile = "{cert}"\nkeyfile = "{key}"\n'
    )
    node = new_node(tmp_path, config=config).start()
    try:
        assert node.url.startswith("http://") and node.https_url.startswith("https://")
        plain = s3_client(node.s3_url)
        import boto3
        from botocore.config import Config

        tls = boto3.client(
            "s3", endpoint_url=node.https_url + "/s3", region_name="us-east-1",
            aws_access_key_id="FAKEKEY", aws_secret_access_key="FAKESECRET",
            verify=str(ca), config=Config(retries={"max_attempts": 1}),
        )
        plain.create_bucket(Bucket="both")
        plain.put_object(Bucket="both", Key="via-http", Body=b"plain")
        tls.put_object(Bucket="both", Key="via-https", Body=b"secret")
        assert tls.get_object(Bucket="both", Key="via-http")["Body"].read() == b"plain"
        assert plain.get_object(Bucket="both", Key="via-https")["Body"].read() == b"secret"

        env = dict(os.environ, HOME=str(tmp_path))
        (tmp_path / "up.txt").write_bytes(b"from the aws cli\n")
        if have("aws"):
            endpoint = ["--endpoint-url", node.https_url + "/s3"]
            run(["aws", *endpoint, "--no-verify-ssl", "s3", "cp", "up.txt", "s3://both/aws.txt"],
                tmp_path, env)
            out = run(["aws", *endpoint, "--no-verify-ssl", "s3", "ls", "s3://both/"],
                      tmp_path, env)
            assert "aws.txt" in out and "via-https" in out
            # and with the CA instead of --no-verify-ssl
            out = run(["aws", *endpoint, "--ca-bundle", str(ca), "s3", "cp",
                       "s3://both/via-http", "-"], tmp_path, env)
            assert out == "plain"
        if have("s3cmd"):
            hostport = node.https_url.removeprefix("https://")
            (tmp_path / ".s3cfg").write_text(
                "[default]\n"
                f"host_base = {hostport}/s3\nhost_bucket = {hostport}/s3/%(bucket)\n"
                "access_key = FAKEKEY\nsecret_key = FAKESECRET\nsignature_v2 = False\n"
                f"use_https = True\nca_certs_file = {ca}\ncheck_ssl_certificate = True\n"
            )
            run(["s3cmd", "put", "up.txt", "s3://both/s3cmd.txt"], tmp_path, env)
            assert "s3://both/s3cmd.txt" in run(["s3cmd", "ls", "s3://both"], tmp_path, env)
            run(["s3cmd", "get", "s3://both/via-https", "got.txt"], tmp_path, env)
            assert (tmp_path / "got.txt").read_bytes() == b"secret"
        assert plain.get_object(Bucket="both", Key="via-https")["Body"].read() == b"secret"
        assert node.stop() == 0
    finally:
        node.kill()
    assert "Traceback" not in node.log()


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
