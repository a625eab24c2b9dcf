"""STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies against a node that verifies SigV4."""

from __future__ import annotations

import hashlib
import http.client
import os
from pathlib import Path
from urllib.parse import urlparse

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from aisfs.s3.sigv4 import ChunkSigner, derive_signing_key
from support.node import new_node

KEY, SECRET = "AKIDSTREAM", "stream-secret"
CONFIG = f'[auth]\nmode = "sigv4"\naccess_keys = {{ {KEY} = "{SECRET}" }}\n'


def frame_length(sizes: list[int]) -> int:
    total = 0
    for n in [*sizes, 0]:
        total += len(f"{n:x};chunk-signature=") + 64 + 2 + n + 2
    return total


def signed_streaming_put(
    url: str, path: str, data: bytes, chunk: int, tamper: bool = False,
    payload_hash: str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
):
    sizes = [len(data[i : i + chunk]) for i in range(0, len(data), chunk)]
    headers = {
        "x-amz-content-sha256": payload_hash,
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "content-length": str(frame_length(sizes)),
    }
    request = AWSRequest(method="PUT", url=url + path, headers=headers)
    # SigV4Auth (not S3SigV4Auth, which would replace x-amz-content-sha256 with a hash)
    SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(request)
    amz_date = request.headers["X-Amz-Date"]
    seed = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    signer = ChunkSigner(derive_signing_key(SECRET, amz_date[:8], "us-east-1"), amz_date,
                         scope, seed)
    body = bytearray()
    for i in range(0, len(data), chunk):
        piece = data[i : i + chunk]
        signature = signer.sign_chunk(hashlib.sha256(piece).digest())
        if tamper and i == 0:
            piece = bytes([piece[0] ^ 1]) + piece[1:]
        body += f"{len(piece):x};chunk-signature={signature}\r\n".encode() + piece + b"\r\n"
    body += f"0;chunk-signature={signer.sign_chunk(hashlib.sha256(b'').digest())}\r\n\r\n".encode()
    assert len(body) == int(headers["content-length"])
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("PUT", u.path + path, body=bytes(body), headers=dict(request.headers.items()))
    resp = conn.getresponse()
    try:
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture
def signed_node(tmp_path: Path):
    node = new_node(tmp_path, config=CONFIG).start()
    yield node
    assert node.stop() == 0, node.log()


def test_signed_chunks_verified(signed_node) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=signed_node.s3_url, region_name="us-east-1",
                      aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    s3.create_bucket(Bucket="stream")
    data = os.urandom(200_000)
    status, body = signed_streaming_put(signed_node.s3_url, "/stream/ok", data, 65536)
    assert status == 200, body
    assert s3.get_object(Bucket="stream", Key="ok")["Body"].read() == data
    # a payload hash that claims an empty body while aws-chunked data follows is refused
    hashed = signed_streaming_put(signed_node.s3_url, "/stream/mixed", data, 65536,
                                  payload_hash=hashlib.sha256(b"").hexdigest())
    assert hashed[0] == 400, hashed
    status, body = signed_streaming_put(signed_node.s3_url, "/stream/bad", data, 65536,
                                        tamper=True)
    assert status == 403 and b"SignatureDoesNotMatch" in body, body
    with pytest.raises(ClientError):
        s3.head_object(Bucket="stream", Key="bad")


def test_complete_multipart_conditional(signed_node) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=signed_node.s3_url, region_name="us-east-1",
                      aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    s3.create_bucket(Bucket="cmpu")
    s3.put_object(Bucket="cmpu", Key="k", Body=b"exists")
    uid = s3.create_multipart_upload(Bucket="cmpu", Key="k")["UploadId"]
    etag = s3.upload_part(Bucket="cmpu", Key="k", UploadId=uid, PartNumber=1, Body=b"x")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="cmpu", Key="k", UploadId=uid,
                                     MultipartUpload=parts, IfNoneMatch="*")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    current = s3.head_object(Bucket="cmpu", Key="k")["ETag"]
    s3.complete_multipart_upload(Bucket="cmpu", Key="k", UploadId=uid, MultipartUpload=parts,
                                 IfMatch=current)
    assert s3.get_object(Bucket="cmpu", Key="k")["Body"].read() == b"x"
