"""Features aisfs does not have are refused, never silently accepted; response-* overrides
never carry CR/LF into a header (issue 12, items 1 and 6). Real node, boto3 and curl."""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.clients import have, s3_client
from support.node import NodeProcess, new_node

SIGV4_CONFIG = """
[auth]
mode = "sigv4"
access_keys = { AKIDTEST = "s3cr3t-refusals" }
"""


@pytest.fixture(scope="module", params=["open", "sigv4"])
def node_and_client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[tuple[NodeProcess, Any]]:
    """One node per auth mode for the whole module (each test uses its own keys)."""
    signed = request.param == "sigv4"
    tmp_path = tmp_path_factory.mktemp(f"refusals-{request.param}")
    node = new_node(tmp_path, config=SIGV4_CONFIG if signed else None).start()
    try:
        import boto3
        from botocore.config import Config

        if signed:
            client = boto3.client(
                "s3", endpoint_url=node.s3_url, region_name="us-east-1",
                aws_access_key_id="AKIDTEST", aws_secret_access_key="s3cr3t-refusals",
                config=Config(retries={"max_attempts": 1}),
            )
        else:
            client = s3_client(node.s3_url)
        client.create_bucket(Bucket="bkt")
        yield node, client
    finally:
        assert node.stop() == 0, node.log()
        log = node.log()
        assert "Traceback" not in log and " ERROR " not in log, log


def err(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def refused(call: Any, code: str, status: int, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    assert err(e) == (code, status), e.value.response


def absent(s3: Any, key: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="bkt", Key=key)
    assert err(e)[1] == 404


SSEC_KEY = os.urandom(32)
SSEC = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY}
UNTIL = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)


def test_sse_headers_on_writes(node_and_client: tuple[NodeProcess, Any]) -> None:
    """SSE-KMS and bucket keys are 501; malformed SSE headers AWS's 400s; SSE-C over plain
    HTTP AWS's 400 (this node does not set ``[s3] sse_c_over_http``). SSE-S3 and SSE-C
    themselves: tests/s3api/test_sse.py."""
    _node, s3 = node_and_client
    put = s3.put_object
    for extra in (
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/x"},
        {"ServerSideEncryption": "aws:kms", "SSEKMSEncryptionContext": "e30="},
        {"ServerSideEncryption": "aws:kms", "BucketKeyEnabled": True},
        {"ServerSideEncryption": "aws:kms:dsse"},
        {"ServerSideEncryption": "AES256", "BucketKeyEnabled": True},
    ):
        refused(put, "NotImplemented", 501, Bucket="bkt", Key="sse", Body=b"x", **extra)
        absent(s3, "sse")
    refused(put, "InvalidRequest", 400, Bucket="bkt", Key="sse", Body=b"x", **SSEC)
    refused(put, "InvalidArgument", 400, Bucket="bkt", Key="sse", Body=b"x",
            ServerSideEncryption="bogus")
    refused(put, "InvalidArgument", 400, Bucket="bkt", Key="sse", Body=b"x",
            SSEKMSKeyId="alias/x")
    refused(put, "InvalidEncryptionAlgorithmError", 400, Bucket="bkt", Key="sse", Body=b"x",
            SSECustomerAlgorithm="AES128", SSECustomerKey=SSEC_KEY)
    refused(put, "InvalidArgument", 400, Bucket="bkt", Key="sse", Body=b"x",
            SSECustomerAlgorithm="AES256", SSECustomerKey=b"short")
    absent(s3, "sse")

    s3.put_object(Bucket="bkt", Key="src", Body=b"source")
    refused(s3.copy_object, "NotImplemented", 501, Bucket="bkt", Key="dst",
            CopySource="bkt/src", ServerSideEncryption="aws:kms")
    refused(s3.copy_object, "InvalidRequest", 400, Bucket="bkt", Key="dst",
            CopySource="bkt/src", **SSEC)
    # a customer key for a source that is not SSE-C encrypted (AWS's 400)
    refused(s3.copy_object, "InvalidRequest", 400, Bucket="bkt", Key="dst",
            CopySource="bkt/src", CopySourceSSECustomerAlgorithm="AES256",
            CopySourceSSECustomerKey=SSEC_KEY)
    absent(s3, "dst")
    refused(s3.create_multipart_upload, "NotImplemented", 501, Bucket="bkt", Key="mp",
            ServerSideEncryption="aws:kms")
    refused(s3.create_multipart_upload, "InvalidRequest", 400, Bucket="bkt", Key="mp", **SSEC)
    up = s3.create_multipart_upload(Bucket="bkt", Key="mp")["UploadId"]
    refused(s3.upload_part, "InvalidRequest", 400, Bucket="bkt", Key="mp", UploadId=up,
            PartNumber=1, Body=b"p", **SSEC)
    assert s3.list_parts(Bucket="bkt", Key="mp", UploadId=up).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket="bkt", Key="mp", UploadId=up)

    # reading with a customer key an object that is not SSE-C encrypted (AWS's 400)
    refused(s3.get_object, "InvalidRequest", 400, Bucket="bkt", Key="src", **SSEC)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="bkt", Key="src", **SSEC)
    assert err(e)[1] == 400
    assert s3.get_object(Bucket="bkt", Key="src")["Body"].read() == b"source"


def test_object_lock_headers_on_a_plain_bucket(node_and_client: tuple[NodeProcess, Any]
                                              ) -> None:
    """Object lock is served (tests/s3api/test_object_lock.py): on a bucket without it,
    lock headers are AWS's 400 InvalidRequest, malformed ones 400 InvalidArgument."""
    _node, s3 = node_and_client
    put = s3.put_object
    refused(put, "InvalidRequest", 400, Bucket="bkt", Key="lk", Body=b"x",
            ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=UNTIL)
    refused(put, "InvalidRequest", 400, Bucket="bkt", Key="lk", Body=b"x",
            ObjectLockLegalHoldStatus="ON")
    refused(put, "InvalidArgument", 400, Bucket="bkt", Key="lk", Body=b"x",
            ObjectLockMode="FOREVER", ObjectLockRetainUntilDate=UNTIL)
    refused(put, "InvalidArgument", 400, Bucket="bkt", Key="lk", Body=b"x",
            ObjectLockMode="COMPLIANCE")
    refused(s3.create_multipart_upload, "InvalidRequest", 400, Bucket="bkt", Key="lk",
            ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=UNTIL)
    absent(s3, "lk")
    s3.create_bucket(Bucket="unlocked", ObjectLockEnabledForBucket=False)


def test_sub_resources_of_missing_features(node_and_client: tuple[NodeProcess, Any]) -> None:
    _node, s3 = node_and_client
    s3.put_object(Bucket="bkt", Key="obj", Body=b"x")
    rule = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}
    refused(s3.put_bucket_encryption, "NotImplemented", 501, Bucket="bkt",
            ServerSideEncryptionConfiguration=rule)
    refused(s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError", 404,
            Bucket="bkt")
    # object lock is served; "bkt" is neither versioned nor a lock bucket
    refused(s3.put_object_lock_configuration, "InvalidBucketState", 409, Bucket="bkt",
            ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    refused(s3.get_object_lock_configuration, "ObjectLockConfigurationNotFoundError", 404,
            Bucket="bkt")
    refused(s3.put_object_retention, "InvalidRequest", 400, Bucket="bkt", Key="obj",
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": UNTIL})
    refused(s3.get_object_retention, "InvalidRequest", 400, Bucket="bkt", Key="obj")
    refused(s3.put_object_legal_hold, "InvalidRequest", 400, Bucket="bkt", Key="obj",
            LegalHold={"Status": "ON"})
    refused(s3.get_object_legal_hold, "InvalidRequest", 400, Bucket="bkt", Key="obj")


def test_response_override_injection_is_400(node_and_client: tuple[NodeProcess, Any]) -> None:
    node, s3 = node_and_client
    s3.put_object(Bucket="bkt", Key="k", Body=b"hello")
    evil = ("text/html%0D%0ASet-Cookie:%20session=attacker%0D%0A%0D%0A"
            "%3Cscript%3Ealert(1)%3C/script%3E")
    if node.config_file is None and have("curl"):  # the curl, verbatim
        out = subprocess.run(
            ["curl", "-si", f"{node.s3_url}/bkt/k?response-content-type={evil}"],
            capture_output=True, check=True, timeout=30,
        ).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), out
        assert b"set-cookie" not in out.lower() and b"<script>" not in out, out
        assert b"<Code>InvalidArgument</Code>" in body
    import httpx

    for param in ("ResponseContentType", "ResponseContentDisposition",
                  "ResponseCacheControl", "ResponseContentLanguage"):
        for bad in ("a\r\nX-Evil: 1", "a\nb", "a\x00b", "a\x7fb"):
            # a presigned URL signs the override: the node sees it as a signed request
            url = s3.generate_presigned_url(
                "get_object", Params={"Bucket": "bkt", "Key": "k", param: bad}, ExpiresIn=60)
            r = httpx.get(url)
            assert r.status_code == 400, (param, bad, r.status_code, r.text)
            assert "x-evil" not in r.headers and "<Code>InvalidArgument</Code>" in r.text
    got = s3.get_object(Bucket="bkt", Key="k", ResponseContentType="text/plain; charset=utf-8",
                        ResponseContentDisposition='attachment; filename="k.txt"')
    assert got["ContentType"] == "text/plain; charset=utf-8"
    assert got["ContentDisposition"] == 'attachment; filename="k.txt"'
    assert got["Body"].read() == b"hello"


def test_ssec_key_md5_mismatch_is_400(node_and_client: tuple[NodeProcess, Any]) -> None:
    node, s3 = node_and_client
    if node.config_file is not None:
        pytest.skip("a raw header request needs open auth")
    import httpx

    key = base64.b64encode(SSEC_KEY).decode()
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = httpx.put(f"{node.s3_url}/bkt/raw", content=b"x", headers={
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": key,
        "x-amz-server-side-encryption-customer-key-md5": wrong,
    })
    assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text
    r = httpx.put(f"{node.s3_url}/bkt/raw", content=b"x",
                  headers={"x-amz-object-lock-legal-hold": "MAYBE"})
    assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text
    absent(s3, "raw")
