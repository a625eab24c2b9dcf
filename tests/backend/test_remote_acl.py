"""A backend bucket's object ACLs are the backend's (aisfs/backend/acl.py): GetObjectAcl
and PutObjectAcl are forwarded, and a write's ACL headers go to the backend with the
write (PutObject, CopyObject, CreateMultipartUpload) - before, a PutObjectAcl of an
object the node had not cached answered NoSuchKey (so `s3cmd cp` and `s3cmd mv`, which
copy the source's ACL onto the copy, failed on every backend bucket), and `--acl
public-read` on a write-through was dropped without a word. Each backend, both auth
modes; s3cmd as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.node import NodeProcess

from .conftest import FRONT_KEY, FRONT_SECRET, Target, client_of

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def public(acl: dict[str, Any]) -> bool:
    return any(g["Grantee"].get("URI") == ALL_USERS and g["Permission"] == "READ"
               for g in acl["Grants"])


def code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_a_writes_acl_goes_to_the_backend(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    s3, direct = client_of(front_node), target.client()
    s3.put_object(Bucket=bucket, Key="small", Body=b"x", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="big", Body=os.urandom(3 << 20), ACL="public-read")
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "small"},
                   ACL="public-read")
    up = s3.create_multipart_upload(Bucket=bucket, Key="parts", ACL="public-read")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="parts", UploadId=up, PartNumber=1,
                          Body=b"p" * 1000)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    s3.put_object(Bucket=bucket, Key="private", Body=b"y")
    for key in ("small", "big", "copied", "parts"):
        assert public(direct.get_object_acl(Bucket=bucket, Key=key)), key
        assert public(s3.get_object_acl(Bucket=bucket, Key=key)), key
    assert not public(direct.get_object_acl(Bucket=bucket, Key="private"))


def test_object_acl_of_an_uncached_object_is_forwarded(
    front_node: NodeProcess, target: Target,
) -> None:
    bucket = target.new_bucket()
    s3, direct = client_of(front_node), target.client()
    direct.put_object(Bucket=bucket, Key="k", Body=b"only in the backend")
    owner = direct.get_object_acl(Bucket=bucket, Key="k")["Owner"]
    assert s3.get_object_acl(Bucket=bucket, Key="k")["Owner"]["ID"] == owner["ID"]

    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")  # headers
    assert public(direct.get_object_acl(Bucket=bucket, Key="k"))
    s3.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy={  # a document
        "Owner": {"ID": owner["ID"]},
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]},
                    "Permission": "FULL_CONTROL"}]})
    got = direct.get_object_acl(Bucket=bucket, Key="k")
    assert not public(got) and got["Grants"][0]["Permission"] == "FULL_CONTROL"
    with pytest.raises(ClientError) as e:
        s3.get_object_acl(Bucket=bucket, Key="missing")
    assert code(e) == "NoSuchKey"


def test_a_bad_acl_request_is_refused_before_the_backend(
    front_node: NodeProcess, target: Target,
) -> None:
    if target.name != "moto":
        pytest.skip("the node's own checks: one backend shows them")
    bucket = target.new_bucket()
    s3 = client_of(front_node)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")

    def refused(**kw: Any) -> str:
        with pytest.raises(ClientError) as e:
            s3.put_object_acl(Bucket=bucket, Key="k", **kw)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        return code(e)

    assert refused() == "MissingSecurityHeader"
    assert refused(ACL="private", AccessControlPolicy={
        "Owner": {"ID": "x"}, "Grants": []}) == "UnexpectedContent"
    assert refused(GrantWrite='uri="http://acs.amazonaws.com/groups/global/AllUsers"') \
        == "InvalidArgument"
    s3.meta.events.register("before-sign.s3.PutObjectAcl", _garbled_body)  # then signed
    assert refused(AccessControlPolicy={"Owner": {"ID": "x"}, "Grants": []}) \
        == "MalformedACLError"


def _garbled_body(request: Any, **_: Any) -> None:
    request.data = b"<AccessControlPolicy><Owner><ID>x</ID></Owner><AccessControlList>"
    request.headers["Content-Length"] = str(len(request.data))
    for name in ("Content-MD5", "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm"):
        if name in request.headers:
            del request.headers[name]


def _s3cmd() -> str | None:
    return shutil.which("s3cmd") or shutil.which("s3cmd", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(_s3cmd() is None, reason="s3cmd not installed")
def test_s3cmd_cp_mv_setacl_on_a_backend_bucket(
    front_node: NodeProcess, target: Target, tmp_path: Path,
) -> None:
    bucket = target.new_bucket()
    signed = getattr(front_node, "signed", False)
    hostport = front_node.url.removeprefix("http://")
    cfg = tmp_path / "s3cfg"
    cfg.write_text(
        "[default]\n"
        f"host_base = {hostport}/s3\nhost_bucket = {hostport}/s3/%(bucket)\n"
        f"access_key = {FRONT_KEY if signed else 'any'}\n"
        f"secret_key = {FRONT_SECRET if signed else 'any'}\n"
        "signature_v2 = False\nuse_https = False\n")

    def s3cmd(*args: str) -> str:
        r = subprocess.run([str(_s3cmd()), "-c", str(cfg), *args], capture_output=True,
                           text=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 0 and "WARNING" not in r.stderr, f"{args}\n{r.stdout}\n{r.stderr}"
        return r.stdout

    data = os.urandom(70_000)
    (tmp_path / "f.bin").write_bytes(data)
    s3cmd("put", str(tmp_path / "f.bin"), f"s3://{bucket}/f.bin")
    s3cmd("setacl", "--acl-public", f"s3://{bucket}/f.bin")
    s3cmd("cp", f"s3://{bucket}/f.bin", f"s3://{bucket}/copy.bin")
    s3cmd("mv", f"s3://{bucket}/copy.bin", f"s3://{bucket}/moved.bin")
    direct = target.client()
    assert [o["Key"] for o in direct.list_objects_v2(Bucket=bucket)["Contents"]] == \
        ["f.bin", "moved.bin"]
    assert direct.get_object(Bucket=bucket, Key="moved.bin")["Body"].read() == data
    if target.name != "moto":  # moto drops a Group grant given by a document, which is
        # how s3cmd sets the source's ACL on the copy (a canned ACL it keeps)
        assert public(direct.get_object_acl(Bucket=bucket, Key="moved.bin"))
        assert "*anon*: READ" in s3cmd("info", f"s3://{bucket}/moved.bin")
