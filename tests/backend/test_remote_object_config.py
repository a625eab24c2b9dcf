"""A backend bucket's object ACLs and tags are the backend's (aisfs/backend/forwarded.py):
Get/PutObjectAcl and Get/Put/DeleteObjectTagging are forwarded, and a write's ACL and
tagging headers go to the backend with the write (PutObject, CopyObject,
CreateMultipartUpload); GetObjectAttributes is answered from a HEAD, retention and legal
hold are 501. Before, these answered NoSuchKey for an object the node had not cached (so
`s3cmd cp` and `s3cmd mv`, which copy the source's ACL onto the copy, failed on every
backend bucket), and `--acl public-read` or `--tagging` on a write-through were kept on
the cached copy only, never in the backend. Each backend, both auth modes; s3cmd as a
user runs it."""

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


def tag_set(client: Any, bucket: str, key: str) -> list[dict[str, str]]:
    return list(client.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", []))


def code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_a_writes_acl_goes_to_the_backend(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    s3, direct = client_of(front_node), target.client()
    s3.put_object(Bucket=bucket, Key="small", Body=b"x", ACL="public-read", Tagging="t=1")
    s3.put_object(Bucket=bucket, Key="big", Body=os.urandom(3 << 20), ACL="public-read")
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "small"},
                   ACL="public-read", TaggingDirective="REPLACE", Tagging="t=2")
    up = s3.create_multipart_upload(Bucket=bucket, Key="parts", ACL="public-read",
                                    Tagging="t=3")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="parts", UploadId=up, PartNumber=1,
                          Body=b"p" * 1000)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    s3.put_object(Bucket=bucket, Key="private", Body=b"y")
    for key in ("small", "big", "copied", "parts"):
        assert public(direct.get_object_acl(Bucket=bucket, Key=key)), key
        assert public(s3.get_object_acl(Bucket=bucket, Key=key)), key
    assert not public(direct.get_object_acl(Bucket=bucket, Key="private"))
    # Ceph Pacific copies the source's tags whatever the TaggingDirective, and keeps no
    # tags given at CreateMultipartUpload
    ceph = target.name == "ceph"
    for key, value in (("small", "1"), ("copied", "1" if ceph else "2"),
                       ("parts", "" if ceph else "3")):
        want = [{"Key": "t", "Value": value}] if value else []
        assert tag_set(direct, bucket, key) == want, key
        assert tag_set(s3, bucket, key) == want, key


def test_tags_attributes_and_lock_of_an_uncached_object(
    front_node: NodeProcess, target: Target,
) -> None:
    bucket = target.new_bucket()
    s3, direct = client_of(front_node), target.client()
    etag = direct.put_object(Bucket=bucket, Key="k", Body=b"only in the backend")["ETag"]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [
        {"Key": "color", "Value": "blue"}]})
    assert direct.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [
        {"Key": "color", "Value": "blue"}]
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [
        {"Key": "color", "Value": "blue"}]
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert direct.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    with pytest.raises(ClientError) as e:  # checked by the node first, as its own
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert code(e) == "InvalidTag"
    got = s3.get_object_attributes(Bucket=bucket, Key="k",
                                   ObjectAttributes=["ETag", "ObjectSize"])
    assert (got["ETag"], got["ObjectSize"]) == (etag.strip('"'), 19)
    for call in (lambda: s3.get_object_retention(Bucket=bucket, Key="k"),
                 lambda: s3.get_object_legal_hold(Bucket=bucket, Key="k")):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


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


def test_a_bad_acl_tagging_or_attributes_request_is_refused_before_the_backend(
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
    s3.meta.events.register("before-sign.s3.PutObjectTagging", _garbled_body)
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": []})
    assert code(e) == "MalformedXML"
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Colour"])
    assert code(e) == "InvalidArgument"


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


def test_a_version_of_the_backend_by_its_own_id(front_node: NodeProcess, target: Target) -> None:
    """``versionId`` is the backend's id, whatever its form: tags and attributes of an
    older version, through the front."""
    bucket = target.new_bucket()
    s3, direct = client_of(front_node), target.client()
    direct.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = direct.put_object(Bucket=bucket, Key="k", Body=b"first")["VersionId"]
    direct.put_object(Bucket=bucket, Key="k", Body=b"second, longer")
    s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1,
                          Tagging={"TagSet": [{"Key": "old", "Value": "yes"}]})
    assert direct.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["TagSet"] == [
        {"Key": "old", "Value": "yes"}]
    assert tag_set(direct, bucket, "k") == []  # the current one untouched
    got = s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)
    assert got["TagSet"] == [{"Key": "old", "Value": "yes"}]
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", VersionId=v1,
                                     ObjectAttributes=["ObjectSize"])
    assert attrs["ObjectSize"] == 5
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="k", VersionId="")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
