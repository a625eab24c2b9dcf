"""``Content-Encoding: aws-chunked`` names the request's framing, not the object: it is not
stored nor served back (issue 12, item 7). boto3 >= 1.36 over HTTPS sends aws-chunked
bodies with a trailing CRC32; the objects are read back with curl --compressed."""

from __future__ import annotations

import gzip
import importlib.util
import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.clients import have
from support.node import NodeProcess, new_node

TESTS = Path(__file__).resolve().parents[1]


def _make_test_ca(directory: Path) -> tuple[Path, Path, Path]:
    spec = importlib.util.spec_from_file_location(
        "aisfs_test_s3_auth_ca", TESTS / "s3api" / "test_s3_auth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_test_ca(directory)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, Path]]:
    tmp = tmp_path_factory.mktemp("aws-chunked")
    ca, cert, key = _make_test_ca(tmp)
    config = f'[net]\nhttps_listen = ["127.0.0.1:0"]\ncertfile = "{cert}"\nkeyfile = "{key}"\n'
    node = new_node(tmp, config=config).start()
    try:
        assert node.https_url, node.urls
        yield node, ca
    finally:
        assert node.stop() == 0, node.log()
        log = node.log()
        assert "Traceback" not in log and " ERROR " not in log, log


def tls_client(node: NodeProcess, ca: Path) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=node.https_url + "/s3", region_name="us-east-1",
        aws_access_key_id="FAKEKEY", aws_secret_access_key="FAKESECRET", verify=str(ca),
        config=Config(retries={"max_attempts": 1}),
    )


def sent_encoding(s3: Any) -> list[str]:
    """Record the Content-Encoding of every PutObject boto3 sends."""
    seen: list[str] = []

    def before_send(request: Any, **_kw: Any) -> None:
        value = request.headers.get("Content-Encoding") or ""
        seen.append(value.decode() if isinstance(value, bytes) else value)

    s3.meta.events.register("before-send.s3.PutObject", before_send)
    return seen


def trust(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def curl_compressed(url: str, ca: Path) -> bytes:
    return subprocess.run(
        ["curl", "-sSf", "--compressed", "--cacert", str(ca), url],
        capture_output=True, check=True, timeout=30,
    ).stdout


def test_aws_chunked_is_not_stored(tls_node: tuple[NodeProcess, Path]) -> None:
    node, ca = tls_node
    s3 = tls_client(node, ca)
    seen = sent_encoding(s3)
    s3.create_bucket(Bucket="enc")
    body = os.urandom(200_000)
    s3.put_object(Bucket="enc", Key="plain", Body=body)
    assert seen and "aws-chunked" in seen[-1], seen  # the framing this test is about
    got = s3.get_object(Bucket="enc", Key="plain")
    assert "ContentEncoding" not in got, got.get("ContentEncoding")
    assert got["Body"].read() == body
    r = httpx.get(f"{node.https_url}/s3/enc/plain", verify=trust(ca))
    assert "content-encoding" not in r.headers and r.content == body
    if have("curl"):
        assert curl_compressed(f"{node.https_url}/s3/enc/plain", ca) == body


def test_gzip_with_aws_chunked_keeps_gzip(tls_node: tuple[NodeProcess, Path]) -> None:
    node, ca = tls_node
    s3 = tls_client(node, ca)
    seen = sent_encoding(s3)
    s3.create_bucket(Bucket="gzb")
    text = b"hello, compressed world\n" * 5000
    s3.put_object(Bucket="gzb", Key="doc.txt", Body=gzip.compress(text), ContentEncoding="gzip")
    assert seen and "aws-chunked" in seen[-1] and "gzip" in seen[-1], seen
    head = s3.head_object(Bucket="gzb", Key="doc.txt")
    assert head["ContentEncoding"] == "gzip"
    r = httpx.get(f"{node.https_url}/s3/gzb/doc.txt", verify=trust(ca))  # decodes gzip
    assert r.headers["content-encoding"] == "gzip" and r.content == text
    if have("curl"):
        assert curl_compressed(f"{node.https_url}/s3/gzb/doc.txt", ca) == text


@pytest.mark.parametrize("encoding, stored", [
    ("aws-chunked", None), ("aws-chunked,gzip", "gzip"), ("gzip, aws-chunked", "gzip"),
    ("AWS-CHUNKED , br", "br"), ("gzip", "gzip"),
])
def test_explicit_encodings(tls_node: tuple[NodeProcess, Path], encoding: str,
                            stored: str | None) -> None:
    """A raw aws-chunked request (unsigned, open auth) with each spelling of the header."""
    node, ca = tls_node
    httpx.put(f"{node.url}/s3/raw", timeout=10)  # the bucket (exists after the first)
    data = b"0123456789" * 10
    chunked = "aws-chunked" in encoding.lower()
    body = (b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n") if chunked else data
    headers = {"content-encoding": encoding}
    if chunked:
        headers["x-amz-content-sha256"] = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        headers["x-amz-decoded-content-length"] = str(len(data))
    r = httpx.put(f"{node.url}/s3/raw/k", content=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    r = httpx.head(f"{node.url}/s3/raw/k", timeout=10)
    assert r.headers.get("content-encoding") == stored
    with httpx.stream("GET", f"{node.url}/s3/raw/k", timeout=10) as r:
        assert r.headers.get("content-encoding") == stored
        assert b"".join(r.iter_raw()) == data
