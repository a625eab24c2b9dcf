"""Server-side encryption (issue 16, item 6): SSE-S3, SSE-C and bucket default
encryption through a real node, with boto3 (both auth modes) and the aws CLI.

The module's node sets ``[s3] sse_c_over_http = true`` (the tests speak plain HTTP);
the refusal without it is tested here over HTTP and the acceptance over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.clients import have, s3_client
from support.node import NodeProcess, new_node

SSE_CONFIG = """
[store]
fsync = false
[s3]
sse_c_over_http = true
"""
SIGV4 = """
[auth]
mode = "sigv4"
access_keys = { AKIDSSE = "sse-secret-never-logged" }
"""
KEY = os.urandom(32)
OTHER = os.urandom(32)
KEY_B64 = base64.b64encode(KEY).decode()  # what boto3 wants when the MD5 is given too
SSEC = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}
COPY_SSEC = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": KEY}
MARKER = b"PLAINTEXT-MARKER-7f3a9c-"
MiB = 1024 * 1024


def client_for(node: NodeProcess, signed: bool) -> Any:
    if not signed:
        return s3_client(node.s3_url)
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=node.s3_url, region_name="us-east-1",
                        aws_access_key_id="AKIDSSE",
                        aws_secret_access_key="sse-secret-never-logged",
                        config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module", params=["open", "sigv4"])
def sse_node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[NodeProcess, Any]]:
    signed = request.param == "sigv4"
    tmp = tmp_path_factory.mktemp(f"sse-{request.param}")
    node = new_node(tmp, config=SSE_CONFIG + (SIGV4 if signed else "")).start()
    try:
        yield node, client_for(node, signed)
    finally:
        assert node.stop() == 0, node.log()
        log = node.log()
        assert "Traceback" not in log and " ERROR " not in log, log


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def refused(call: Any, code: str, status: int, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    assert code_of(e) == (code, status), e.value.response


def bucket(s3: Any, name: str) -> str:
    try:
        s3.create_bucket(Bucket=name)
    except ClientError as e:
        if e.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    return name


def md5_b64(key: bytes) -> str:
    return base64.b64encode(hashlib.md5(key).digest()).decode()


def test_sse_s3_round_trip_headers_ranges_listing(sse_node: tuple[NodeProcess, Any]) -> None:
    _node, s3 = sse_node
    b = bucket(s3, "sse-s3")
    for size in (0, 1, 100, 70 * 1024, 9 * MiB + 17):  # empty, inline, chunked
        body = os.urandom(size)
        r = s3.put_object(Bucket=b, Key=f"k{size}", Body=body, ServerSideEncryption="AES256")
        assert r["ServerSideEncryption"] == "AES256"
        assert r["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # AWS: the plaintext's MD5
        got = s3.get_object(Bucket=b, Key=f"k{size}")
        assert got["ServerSideEncryption"] == "AES256"
        assert got["ContentLength"] == size and got["Body"].read() == body
        head = s3.head_object(Bucket=b, Key=f"k{size}")
        assert head["ServerSideEncryption"] == "AES256" and head["ContentLength"] == size
        if size > 20:
            for lo, hi in ((0, 0), (3, 17), (size // 2 - 5, size // 2 + 40), (size - 7, size - 1)):
                part = s3.get_object(Bucket=b, Key=f"k{size}", Range=f"bytes={lo}-{hi}")
                assert part["Body"].read() == body[lo:hi + 1], (size, lo, hi)
            tail = s3.get_object(Bucket=b, Key=f"k{size}", Range="bytes=-5")["Body"].read()
            assert tail == body[-5:]
    sizes = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=b)["Contents"]}
    assert sizes == {"k0": 0, "k1": 1, "k100": 100, f"k{70 * 1024}": 70 * 1024,
                     f"k{9 * MiB + 17}": 9 * MiB + 17}
    # a Content-MD5 is the plaintext's; a wrong one stores nothing
    body = b"checked body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=b, Key="md5", Body=body, ContentMD5=good, ServerSideEncryption="AES256")
    refused(s3.put_object, "BadDigest", 400, Bucket=b, Key="md5", Body=b"other body!!",
            ContentMD5=good, ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=b, Key="md5")["Body"].read() == body
    # a flexible checksum is of the plaintext too
    r = s3.put_object(Bucket=b, Key="crc", Body=body, ChecksumAlgorithm="SHA256",
                      ServerSideEncryption="AES256")
    assert r["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()


def test_sse_s3_bytes_on_disk_are_not_the_plaintext(sse_node: tuple[NodeProcess, Any]) -> None:
    node, s3 = sse_node
    b = bucket(s3, "sse-disk")
    small = MARKER * 10
    large = MARKER * (3 * MiB // len(MARKER))
    s3.put_object(Bucket=b, Key="small", Body=small, ServerSideEncryption="AES256")
    s3.put_object(Bucket=b, Key="large", Body=large, ServerSideEncryption="AES256")
    s3.put_object(Bucket=b, Key="plain", Body=b"control " + MARKER)  # the grep works
    seen = []
    for root in [*node.mountpaths, node.index_dir]:
        for path in Path(root).rglob("*"):
            if path.is_file() and MARKER in path.read_bytes():
                seen.append(path)
    assert seen, "the unencrypted control object should be found"
    for path in seen:  # only the plaintext object's own files hold the marker
        data = path.read_bytes()
        assert data.count(MARKER) <= 2, path
    assert s3.get_object(Bucket=b, Key="large")["Body"].read() == large
    # the master key: outside the mountpaths, 0600, in a 0700 directory
    keyfile = node.index_dir / "sse" / "master.key"
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert stat.S_IMODE(keyfile.parent.stat().st_mode) == 0o700
    assert not any(mp in keyfile.parents for mp in node.mountpaths)


def test_sse_c_round_trip_and_refusals(sse_node: tuple[NodeProcess, Any]) -> None:
    _node, s3 = sse_node
    b = bucket(s3, "sse-c")
    body = os.urandom(10 * MiB + 3)
    r = s3.put_object(Bucket=b, Key="c", Body=body, **SSEC)
    assert r["SSECustomerAlgorithm"] == "AES256" and r["SSECustomerKeyMD5"] == md5_b64(KEY)
    assert "ServerSideEncryption" not in r
    assert r["ETag"] != f'"{hashlib.md5(body).hexdigest()}"'  # AWS: not the data's MD5
    got = s3.get_object(Bucket=b, Key="c", **SSEC)
    assert got["Body"].read() == body and got["SSECustomerKeyMD5"] == md5_b64(KEY)
    ranged = s3.get_object(Bucket=b, Key="c", Range="bytes=8388600-8388700", **SSEC)
    assert ranged["Body"].read() == body[8388600:8388701]
    head = s3.head_object(Bucket=b, Key="c", **SSEC)
    assert head["ContentLength"] == len(body) and head["SSECustomerAlgorithm"] == "AES256"
    # without the key: 400 InvalidRequest; another key: 403 AccessDenied (GET and HEAD)
    refused(s3.get_object, "InvalidRequest", 400, Bucket=b, Key="c")
    refused(s3.get_object, "AccessDenied", 403, Bucket=b, Key="c",
            SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER)
    refused(s3.get_object, "AccessDenied", 403, Bucket=b, Key="c", Range="bytes=0-9",
            SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER)
    for kw in ({}, {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": OTHER}):
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=b, Key="c", **kw)
        assert code_of(e)[1] == (403 if kw else 400)
    # GetObjectAttributes of an SSE-C object asks for its key too (AWS)
    attrs = {"ObjectAttributes": ["ObjectSize", "ETag"]}
    refused(s3.get_object_attributes, "InvalidRequest", 400, Bucket=b, Key="c", **attrs)
    # (botocore does not encode the key for this operation: base64 and MD5 given)
    other = {"SSECustomerAlgorithm": "AES256", "SSECustomerKeyMD5": md5_b64(OTHER),
             "SSECustomerKey": base64.b64encode(OTHER).decode()}
    mine = {"SSECustomerAlgorithm": "AES256", "SSECustomerKeyMD5": md5_b64(KEY),
            "SSECustomerKey": KEY_B64}
    refused(s3.get_object_attributes, "AccessDenied", 403, Bucket=b, Key="c", **attrs, **other)
    assert s3.get_object_attributes(Bucket=b, Key="c", **attrs, **mine)["ObjectSize"] == len(body)
    # the key's MD5 must match the key (boto3 sends the one given)
    refused(s3.get_object, "InvalidArgument", 400, Bucket=b, Key="c",
            SSECustomerAlgorithm="AES256", SSECustomerKey=KEY_B64, SSECustomerKeyMD5=md5_b64(OTHER))
    refused(s3.put_object, "InvalidArgument", 400, Bucket=b, Key="c2", Body=b"x",
            SSECustomerAlgorithm="AES256", SSECustomerKey=KEY_B64, SSECustomerKeyMD5=md5_b64(OTHER))
    # SSE-S3 headers on a GET are AWS's 400; an SSE-S3 object read with a customer key 400
    s3.put_object(Bucket=b, Key="s3", Body=b"x", ServerSideEncryption="AES256")
    refused(s3.get_object, "InvalidRequest", 400, Bucket=b, Key="s3", **SSEC)
    # a small SSE-C object (kept inline) and an empty one
    for small in (b"", b"tiny secret"):
        s3.put_object(Bucket=b, Key="small", Body=small, **SSEC)
        assert s3.get_object(Bucket=b, Key="small", **SSEC)["Body"].read() == small
    refused(s3.get_object, "AccessDenied", 403, Bucket=b, Key="small",
            SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER)


def test_copies_between_encryptions(sse_node: tuple[NodeProcess, Any]) -> None:
    _node, s3 = sse_node
    b = bucket(s3, "sse-copy")
    body = os.urandom(9 * MiB + 5)
    s3.put_object(Bucket=b, Key="c", Body=body, **SSEC)
    # SSE-C -> SSE-S3 needs the source's key
    refused(s3.copy_object, "InvalidRequest", 400, Bucket=b, Key="s", CopySource=f"{b}/c",
            ServerSideEncryption="AES256")
    refused(s3.copy_object, "AccessDenied", 403, Bucket=b, Key="s", CopySource=f"{b}/c",
            CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=OTHER)
    r = s3.copy_object(Bucket=b, Key="s", CopySource=f"{b}/c", ServerSideEncryption="AES256",
                       **COPY_SSEC)
    assert r["ServerSideEncryption"] == "AES256"
    assert r["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert s3.get_object(Bucket=b, Key="s")["Body"].read() == body
    # SSE-S3 -> SSE-C with another key, and back to plaintext
    r = s3.copy_object(Bucket=b, Key="c2", CopySource=f"{b}/s", SSECustomerAlgorithm="AES256",
                       SSECustomerKey=OTHER)
    assert r["SSECustomerKeyMD5"] == md5_b64(OTHER)
    got = s3.get_object(Bucket=b, Key="c2", SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER)
    assert got["Body"].read() == body
    refused(s3.get_object, "AccessDenied", 403, Bucket=b, Key="c2", **SSEC)
    r = s3.copy_object(Bucket=b, Key="p", CopySource=f"{b}/c2",
                       CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=OTHER)
    assert "ServerSideEncryption" not in r and "SSECustomerAlgorithm" not in r
    got = s3.get_object(Bucket=b, Key="p")
    assert got["Body"].read() == body and "ServerSideEncryption" not in got
    # SSE-S3 -> SSE-S3 (shares the chunks) with REPLACE metadata; without SSE headers
    # the target is as the bucket's default says (none here: plaintext), as on AWS
    r = s3.copy_object(Bucket=b, Key="s2", CopySource=f"{b}/s", MetadataDirective="REPLACE",
                       Metadata={"m": "v"}, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=b, Key="s2")
    assert got["Body"].read() == body and got["Metadata"] == {"m": "v"}
    r = s3.copy_object(Bucket=b, Key="s3", CopySource=f"{b}/s")
    assert "ServerSideEncryption" not in r
    assert s3.get_object(Bucket=b, Key="s3")["Body"].read() == body
    # a copy onto itself that changes only the encryption is allowed (AWS: re-encrypts)
    s3.put_object(Bucket=b, Key="self", Body=b"in place")
    refused(s3.copy_object, "InvalidRequest", 400, Bucket=b, Key="self", CopySource=f"{b}/self")
    s3.copy_object(Bucket=b, Key="self", CopySource=f"{b}/self", ServerSideEncryption="AES256")
    got = s3.get_object(Bucket=b, Key="self")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == b"in place"


def test_multipart_sse_c(sse_node: tuple[NodeProcess, Any]) -> None:
    _node, s3 = sse_node
    b = bucket(s3, "sse-mp")
    parts = [os.urandom(5 * MiB + 11), os.urandom(5 * MiB + 7), os.urandom(1234)]
    up = s3.create_multipart_upload(Bucket=b, Key="mp", **SSEC)
    assert up["SSECustomerAlgorithm"] == "AES256"
    uid = up["UploadId"]
    # a part without the key, or with another, is refused (AWS's 400s)
    refused(s3.upload_part, "InvalidRequest", 400, Bucket=b, Key="mp", UploadId=uid,
            PartNumber=1, Body=parts[0])
    refused(s3.upload_part, "InvalidRequest", 400, Bucket=b, Key="mp", UploadId=uid,
            PartNumber=1, Body=parts[0], SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER)
    done = []
    # parts numbered 2, 5, 9: the part numbers, not their order, key each CTR segment
    for number, data in zip((2, 5, 9), parts, strict=True):
        r = s3.upload_part(Bucket=b, Key="mp", UploadId=uid, PartNumber=number, Body=data,
                           **SSEC)
        assert r["SSECustomerKeyMD5"] == md5_b64(KEY)
        done.append({"PartNumber": number, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": done})
    whole = b"".join(parts)
    got = s3.get_object(Bucket=b, Key="mp", **SSEC)
    assert got["ContentLength"] == len(whole) and got["Body"].read() == whole
    lo, hi = len(parts[0]) - 100, len(parts[0]) + len(parts[1]) + 50  # across two parts
    ranged = s3.get_object(Bucket=b, Key="mp", Range=f"bytes={lo}-{hi}", **SSEC)
    assert ranged["Body"].read() == whole[lo:hi + 1]
    second = s3.get_object(Bucket=b, Key="mp", PartNumber=2, **SSEC)
    assert second["Body"].read() == parts[1]
    refused(s3.get_object, "InvalidRequest", 400, Bucket=b, Key="mp")
    # UploadPartCopy from the SSE-C object into an SSE-S3 upload
    up2 = s3.create_multipart_upload(Bucket=b, Key="mp2", ServerSideEncryption="AES256")
    assert up2["ServerSideEncryption"] == "AES256"
    r = s3.upload_part_copy(Bucket=b, Key="mp2", UploadId=up2["UploadId"], PartNumber=1,
                            CopySource=f"{b}/mp", CopySourceRange=f"bytes={lo}-{hi}",
                            **COPY_SSEC)
    done2 = [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}]
    r = s3.complete_multipart_upload(Bucket=b, Key="mp2", UploadId=up2["UploadId"],
                                     MultipartUpload={"Parts": done2})
    assert r["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=b, Key="mp2")["Body"].read() == whole[lo:hi + 1]


def test_bucket_default_encryption(sse_node: tuple[NodeProcess, Any]) -> None:
    _node, s3 = sse_node
    b = bucket(s3, "sse-default")
    refused(s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError", 404,
            Bucket=b)
    s3.put_object(Bucket=b, Key="before", Body=b"plain")
    rule = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                       "BucketKeyEnabled": False}]}
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=rule)
    got = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]
    assert got["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    r = s3.put_object(Bucket=b, Key="after", Body=b"encrypted by default")
    assert r["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=b, Key="after")["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in s3.head_object(Bucket=b, Key="before")
    # a customer key still wins over the default
    r = s3.put_object(Bucket=b, Key="ssec", Body=b"mine", **SSEC)
    assert r["SSECustomerAlgorithm"] == "AES256" and "ServerSideEncryption" not in r
    # copies and multipart uploads (boto3's managed transfer) follow the default
    r = s3.copy_object(Bucket=b, Key="copied", CopySource=f"{b}/before")
    assert r["ServerSideEncryption"] == "AES256"
    data = os.urandom(11 * MiB)
    from boto3.s3.transfer import TransferConfig

    s3.upload_fileobj(io.BytesIO(data), b, "big",
                      Config=TransferConfig(multipart_threshold=5 * MiB,
                                            multipart_chunksize=5 * MiB))
    head = s3.head_object(Bucket=b, Key="big")
    assert head["ServerSideEncryption"] == "AES256" and head["ContentLength"] == len(data)
    assert s3.get_object(Bucket=b, Key="big")["Body"].read() == data
    s3.delete_bucket_encryption(Bucket=b)
    refused(s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError", 404,
            Bucket=b)
    assert "ServerSideEncryption" not in s3.put_object(Bucket=b, Key="later", Body=b"x")
    assert s3.get_object(Bucket=b, Key="after")["Body"].read() == b"encrypted by default"
    # malformed and KMS rules
    refused(s3.put_bucket_encryption, "NotImplemented", 501, Bucket=b,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/k"}}]})
    refused(s3.put_bucket_encryption, "InvalidArgument", 400, Bucket=b,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "AES256", "KMSMasterKeyID": "alias/k"}}]})
    refused(s3.get_bucket_encryption, "NoSuchBucket", 404, Bucket="sse-missing")


def test_native_api_refuses_encrypted_objects(sse_node: tuple[NodeProcess, Any]) -> None:
    node, s3 = sse_node
    if node.config_file is not None and "sigv4" in node.config_file.read_text():
        pytest.skip("the native API call below is unsigned")
    b = bucket(s3, "sse-native")
    s3.put_object(Bucket=b, Key="enc", Body=b"secret", ServerSideEncryption="AES256")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{node.url}/v1/objects/{b}/enc")
    e.value.close()
    assert e.value.code == 501


def test_sse_c_refused_over_http_served_over_https(tmp_path: Path) -> None:
    """Without ``sse_c_over_http``: AWS's 400 over plain HTTP, served over TLS."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "sse_tls_ca", Path(__file__).with_name("test_s3_auth.py"))
    assert spec is not None and spec.loader is not None
    auth_tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(auth_tests)
    make_test_ca = auth_tests.make_test_ca
    ca, cert, key = make_test_ca(tmp_path)
    config = ("[store]\nfsync = false\n[net]\nhttps_listen = [\"127.0.0.1:0\"]\n"
              f"certfile = \"{cert}\"\nkeyfile = \"{key}\"\n")
    node = new_node(tmp_path, config=config).start()
    try:
        plain = s3_client(node.s3_url)
        plain.create_bucket(Bucket="tls")
        with pytest.raises(ClientError) as e:
            plain.put_object(Bucket="tls", Key="k", Body=b"x", **SSEC)
        assert code_of(e) == ("InvalidRequest", 400)
        assert "secure connection" in e.value.response["Error"]["Message"]
        import boto3
        from botocore.config import Config

        tls = boto3.client("s3", endpoint_url=node.https_url + "/s3", region_name="us-east-1",
                           aws_access_key_id="FAKEKEY", aws_secret_access_key="FAKESECRET",
                           verify=str(ca), config=Config(retries={"max_attempts": 1}))
        tls.put_object(Bucket="tls", Key="k", Body=b"over tls", **SSEC)
        assert tls.get_object(Bucket="tls", Key="k", **SSEC)["Body"].read() == b"over tls"
        refused(plain.get_object, "InvalidRequest", 400, Bucket="tls", Key="k", **SSEC)
    finally:
        assert node.stop() == 0


@pytest.mark.skipif(not have("aws"), reason="aws CLI not installed")
def test_aws_cli_sse(sse_node: tuple[NodeProcess, Any], tmp_path: Path) -> None:
    node, s3 = sse_node
    if node.config_file is not None and "sigv4" in node.config_file.read_text():
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDSSE",
               "AWS_SECRET_ACCESS_KEY": "sse-secret-never-logged"}
    else:
        env = dict(os.environ)
    b = bucket(s3, "sse-cli")
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(7 * MiB + 9))  # the CLI goes multipart past 8 MiB; not here
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(17 * MiB))
    keyfile = tmp_path / "key.bin"
    keyfile.write_bytes(KEY)

    def aws(*args: str) -> str:
        out = subprocess.run(["aws", "--endpoint-url", node.s3_url, *args], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    aws("s3", "cp", "--sse", "AES256", str(src), f"s3://{b}/s3.bin")
    aws("s3", "cp", "--sse", "AES256", str(big), f"s3://{b}/big.bin")
    head = json.loads(aws("s3api", "head-object", "--bucket", b, "--key", "big.bin"))
    assert head["ServerSideEncryption"] == "AES256"
    aws("s3", "cp", f"s3://{b}/big.bin", str(tmp_path / "big.out"))
    assert (tmp_path / "big.out").read_bytes() == big.read_bytes()
    for name, path in (("c.bin", src), ("cbig.bin", big)):
        aws("s3", "cp", "--sse-c", "AES256", "--sse-c-key", f"fileb://{keyfile}", str(path),
            f"s3://{b}/{name}")
        out = tmp_path / f"{name}.out"
        aws("s3", "cp", "--sse-c", "AES256", "--sse-c-key", f"fileb://{keyfile}",
            f"s3://{b}/{name}", str(out))
        assert out.read_bytes() == path.read_bytes()
    failed = subprocess.run(["aws", "--endpoint-url", node.s3_url, "s3", "cp",
                             f"s3://{b}/c.bin", str(tmp_path / "nokey")], env=env,
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0 and not (tmp_path / "nokey").exists()


def test_post_object_follows_encryption(sse_node: tuple[NodeProcess, Any]) -> None:
    """A browser form upload: its x-amz-server-side-encryption field, else the bucket's
    default encryption."""
    import requests

    _node, s3 = sse_node
    b = bucket(s3, "sse-post")
    post = s3.generate_presigned_post(b, "asked", Fields={"x-amz-server-side-encryption": "AES256"},
                                      Conditions=[{"x-amz-server-side-encryption": "AES256"}])
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"form body")},
                      timeout=60)
    assert r.status_code == 204, r.text
    assert s3.head_object(Bucket=b, Key="asked")["ServerSideEncryption"] == "AES256"
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    post = s3.generate_presigned_post(b, "default")
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"by default")},
                      timeout=60)
    assert r.status_code == 204, r.text
    got = s3.get_object(Bucket=b, Key="default")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == b"by default"
