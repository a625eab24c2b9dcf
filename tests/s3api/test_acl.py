"""ACLs through the S3 API (issue 16 item 2): canned ACLs and grant headers on buckets
and objects, Get/Put{Bucket,Object}Acl with headers and AccessControlPolicy documents,
enforced on every operation for the owner, another user and anonymous callers, with
boto3, the aws CLI and plain curl, against a real sigv4 node (and an open one)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.access import (
    ALICE,
    ALL_USERS,
    AUTHENTICATED,
    BOB,
    ROOTK,
    client,
    curl,
    denied,
    error_of,
    grants,
    start,
    user_id,
)
from support.node import NodeProcess, new_node

ANONYMOUS_ID = "65a011a29cdf8ec533ec3d1ccaae921c"  # AWS's canonical id of anonymous writers


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    n = start(tmp_path_factory.mktemp("acl"))
    yield n
    assert n.stop() == 0


def test_public_read_bucket_and_object_with_plain_curl(node: NodeProcess) -> None:
    alice = client(node, ALICE)
    alice.create_bucket(Bucket="pub", ACL="public-read")
    alice.put_object(Bucket="pub", Key="open.txt", Body=b"for all", ACL="public-read")
    alice.put_object(Bucket="pub", Key="closed.txt", Body=b"mine")
    # the bucket lists for anyone; an object reads only where its own ACL says so
    code, body = curl(f"{node.s3_url}/pub")
    assert code == 200 and b"open.txt" in body and b"closed.txt" in body
    assert curl(f"{node.s3_url}/pub/open.txt") == (200, b"for all")
    code, body = curl(f"{node.s3_url}/pub/closed.txt")
    assert code == 403 and b"<Code>AccessDenied</Code>" in body
    # writing is not reading: anonymous PUT and DELETE refused
    assert curl(f"{node.s3_url}/pub/x", "PUT")[0] == 403
    assert curl(f"{node.s3_url}/pub/open.txt", "DELETE")[0] == 403
    anon = client(node, None)
    assert [o["Key"] for o in anon.list_objects_v2(Bucket="pub")["Contents"]] == [
        "closed.txt", "open.txt"]
    assert anon.get_object(Bucket="pub", Key="open.txt")["Body"].read() == b"for all"
    denied(anon.get_object, Bucket="pub", Key="closed.txt")
    denied(anon.get_bucket_acl, Bucket="pub")  # READ is not READ_ACP
    denied(anon.list_buckets)
    acl = alice.get_bucket_acl(Bucket="pub")
    assert grants(acl) == {(acl["Owner"]["ID"], "FULL_CONTROL"), (ALL_USERS, "READ")}
    assert acl["Owner"]["DisplayName"] == "Alice A."
    oacl = alice.get_object_acl(Bucket="pub", Key="open.txt")
    assert (ALL_USERS, "READ") in grants(oacl)


def test_private_bucket_refuses_everyone_else(node: NodeProcess) -> None:
    alice, bob, anon = client(node, ALICE), client(node, BOB), client(node, None)
    alice.create_bucket(Bucket="priv")
    alice.put_object(Bucket="priv", Key="k", Body=b"v")
    for c in (bob, anon):
        denied(c.get_object, Bucket="priv", Key="k")
        denied(c.head_object, Bucket="priv", Key="k")
        denied(c.list_objects_v2, Bucket="priv")
        denied(c.put_object, Bucket="priv", Key="x", Body=b"x")
        denied(c.delete_object, Bucket="priv", Key="k")
        denied(c.get_bucket_acl, Bucket="priv")
        denied(c.put_bucket_acl, Bucket="priv", ACL="public-read")
    assert curl(f"{node.s3_url}/priv/k")[0] == 403
    # the admin is root on every bucket
    root = client(node, ROOTK)
    assert root.get_object(Bucket="priv", Key="k")["Body"].read() == b"v"


def test_grant_headers_and_object_ownership(node: NodeProcess) -> None:
    alice, bob, anon = client(node, ALICE), client(node, BOB), client(node, None)
    bob_id, alice_id = user_id(node, BOB), user_id(node, ALICE)
    alice.create_bucket(Bucket="shared", GrantWrite=f'id="{bob_id}"')
    alice.put_object(Bucket="shared", Key="for-bob", Body=b"hi bob",
                     GrantRead=f'id="{bob_id}"')
    assert bob.get_object(Bucket="shared", Key="for-bob")["Body"].read() == b"hi bob"
    denied(bob.list_objects_v2, Bucket="shared")  # WRITE is not READ
    denied(bob.get_object_acl, Bucket="shared", Key="for-bob")
    # bob writes into alice's bucket: the object is bob's (ObjectWriter, the default)
    bob.put_object(Bucket="shared", Key="bobs", Body=b"bob's")
    acl = bob.get_object_acl(Bucket="shared", Key="bobs")
    assert acl["Owner"]["ID"] == bob_id and grants(acl) == {(bob_id, "FULL_CONTROL")}
    denied(alice.get_object, Bucket="shared", Key="bobs")  # not hers to read
    # bob gives it to everyone, then takes it back
    bob.put_object_acl(Bucket="shared", Key="bobs", ACL="public-read")
    assert anon.get_object(Bucket="shared", Key="bobs")["Body"].read() == b"bob's"
    assert alice.get_object(Bucket="shared", Key="bobs")["Body"].read() == b"bob's"
    bob.put_object_acl(Bucket="shared", Key="bobs", ACL="private")
    denied(anon.get_object, Bucket="shared", Key="bobs")
    # bucket-owner-full-control: alice reads what bob wrote
    bob.put_object(Bucket="shared", Key="bofc", Body=b"x", ACL="bucket-owner-full-control")
    assert alice.get_object(Bucket="shared", Key="bofc")["Body"].read() == b"x"
    # the bucket owner may delete it (the bucket's WRITE is hers)
    alice.delete_object(Bucket="shared", Key="bobs")
    # an overwrite takes the ACL of its own request: the old grant is gone
    alice.put_object(Bucket="shared", Key="for-bob", Body=b"new")
    denied(bob.get_object, Bucket="shared", Key="for-bob")
    assert alice_id != bob_id


def test_authenticated_read_and_acp_grants(node: NodeProcess) -> None:
    alice, bob, anon = client(node, ALICE), client(node, BOB), client(node, None)
    bob_id = user_id(node, BOB)
    alice.create_bucket(Bucket="authread", ACL="authenticated-read")
    alice.put_object(Bucket="authread", Key="k", Body=b"v", ACL="authenticated-read")
    assert bob.get_object(Bucket="authread", Key="k")["Body"].read() == b"v"
    bob.list_objects_v2(Bucket="authread")
    denied(anon.get_object, Bucket="authread", Key="k")
    denied(anon.list_objects_v2, Bucket="authread")
    # READ_ACP lets bob read the ACL, WRITE_ACP replace it
    alice.put_bucket_acl(Bucket="authread", GrantReadACP=f'id="{bob_id}"')
    assert (bob_id, "READ_ACP") in grants(bob.get_bucket_acl(Bucket="authread"))
    denied(bob.put_bucket_acl, Bucket="authread", ACL="public-read")
    denied(bob.list_objects_v2, Bucket="authread")  # replaced: no authenticated-read now
    alice.put_bucket_acl(Bucket="authread", GrantWriteACP=f'id="{bob_id}"')
    bob.put_bucket_acl(Bucket="authread", ACL="public-read")
    anon.list_objects_v2(Bucket="authread")
    # FULL_CONTROL on an object is READ, READ_ACP and WRITE_ACP
    alice.put_object_acl(Bucket="authread", Key="k", GrantFullControl=f'id="{bob_id}"')
    bob.get_object_acl(Bucket="authread", Key="k")
    bob.put_object_acl(Bucket="authread", Key="k", ACL="public-read")
    assert anon.get_object(Bucket="authread", Key="k")["Body"].read() == b"v"


def test_access_control_policy_documents(node: NodeProcess) -> None:
    alice, bob = client(node, ALICE), client(node, BOB)
    alice_id, bob_id = user_id(node, ALICE), user_id(node, BOB)
    alice.create_bucket(Bucket="docs")
    policy = {
        "Owner": {"ID": alice_id},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": alice_id}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": bob_id}, "Permission": "READ"},
            {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ_ACP"},
        ],
    }
    alice.put_bucket_acl(Bucket="docs", AccessControlPolicy=policy)
    got = alice.get_bucket_acl(Bucket="docs")
    assert grants(got) == {(alice_id, "FULL_CONTROL"), (bob_id, "READ"),
                           (AUTHENTICATED, "READ_ACP")}
    names = {g["Grantee"].get("ID"): g["Grantee"].get("DisplayName") for g in got["Grants"]}
    assert names[bob_id] == "bob" and names[alice_id] == "Alice A."
    bob.list_objects_v2(Bucket="docs")
    alice.put_object(Bucket="docs", Key="o", Body=b"o")
    alice.put_object_acl(Bucket="docs", Key="o", AccessControlPolicy=policy)
    assert bob.get_object(Bucket="docs", Key="o")["Body"].read() == b"o"


def test_refusals_as_aws(node: NodeProcess) -> None:
    alice = client(node, ALICE)
    alice_id = user_id(node, ALICE)
    alice.create_bucket(Bucket="refuse")
    alice.put_object(Bucket="refuse", Key="o", Body=b"o")
    email = {"Owner": {"ID": alice_id}, "Grants": [
        {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"},
         "Permission": "READ"}]}
    assert error_of(alice.put_bucket_acl, Bucket="refuse", AccessControlPolicy=email) == (
        "UnresolvableGrantByEmailAddress", 400)
    assert error_of(alice.put_object_acl, Bucket="refuse", Key="o",
                    GrantRead='emailAddress="a@example.com"') == (
        "UnresolvableGrantByEmailAddress", 400)
    assert error_of(alice.put_bucket_acl, Bucket="refuse", GrantRead='id="' + "0" * 64 + '"') \
        == ("InvalidArgument", 400)
    assert error_of(alice.put_bucket_acl, Bucket="refuse", GrantRead='uri="http://x/y"') == (
        "InvalidArgument", 400)
    assert error_of(alice.put_object, Bucket="refuse", Key="p", Body=b"p",
                    ACL="public-read", GrantRead=f'id="{alice_id}"') == ("InvalidRequest", 400)
    assert error_of(alice.put_object, Bucket="refuse", Key="p", Body=b"p",
                    ACL="no-such-acl") == ("InvalidArgument", 400)  # type: ignore[arg-type]
    assert error_of(alice.get_object, Bucket="refuse", Key="p")[1] == 404  # nothing stored
    assert error_of(alice.get_object_acl, Bucket="refuse", Key="nope") == ("NoSuchKey", 404)


def test_acl_wire_errors(node: NodeProcess) -> None:
    import requests  # signed by hand: bodies boto3 would not send
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    client(node, ALICE).create_bucket(Bucket="wire")

    def put_acl(body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        url = f"{node.s3_url}/wire?acl"
        headers = {**headers, "x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
        req = AWSRequest("PUT", url, data=body, headers=headers)
        SigV4Auth(Credentials(*ALICE), "s3", "us-east-1").add_auth(req)
        r = requests.put(url, data=body, headers=dict(req.headers), timeout=30)
        return r.status_code, r.content

    code, body = put_acl(b"<AccessControlPolicy><nope/>", {})
    assert code == 400 and b"MalformedACLError" in body
    code, body = put_acl(b"<AccessControlPolicy><AccessControlList/></AccessControlPolicy>", {})
    assert code == 400 and b"MalformedACLError" in body  # no Owner
    code, body = put_acl(b"<AccessControlPolicy/>", {"x-amz-acl": "private"})
    assert code == 400 and b"UnexpectedContent" in body
    code, body = put_acl(b"", {})
    assert code == 400 and b"MissingSecurityHeader" in body


def test_multipart_and_copy_take_their_acl(node: NodeProcess) -> None:
    alice, bob, anon = client(node, ALICE), client(node, BOB), client(node, None)
    bob_id = user_id(node, BOB)
    alice.create_bucket(Bucket="mpu")
    up = alice.create_multipart_upload(Bucket="mpu", Key="big", ACL="public-read")
    part = alice.upload_part(Bucket="mpu", Key="big", UploadId=up["UploadId"], PartNumber=1,
                             Body=b"m" * 100)
    alice.complete_multipart_upload(
        Bucket="mpu", Key="big", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert anon.get_object(Bucket="mpu", Key="big")["Body"].read() == b"m" * 100
    # a copy does not copy the ACL: it takes its request's
    alice.copy_object(Bucket="mpu", Key="copy", CopySource="mpu/big")
    denied(anon.get_object, Bucket="mpu", Key="copy")
    alice.copy_object(Bucket="mpu", Key="copy2", CopySource="mpu/big", ACL="public-read")
    assert anon.get_object(Bucket="mpu", Key="copy2")["Body"].read() == b"m" * 100
    # bob copies into his own bucket: needs READ on the source
    bob.create_bucket(Bucket="bobs-mpu")
    alice.put_object(Bucket="mpu", Key="secret", Body=b"s")
    denied(bob.copy_object, Bucket="bobs-mpu", Key="c", CopySource="mpu/secret")
    alice.put_object_acl(Bucket="mpu", Key="secret", GrantRead=f'id="{bob_id}"')
    bob.copy_object(Bucket="bobs-mpu", Key="c", CopySource="mpu/secret")
    assert bob.get_object(Bucket="bobs-mpu", Key="c")["Body"].read() == b"s"


@pytest.mark.skipif(shutil.which("aws") is None, reason="aws CLI not installed")
def test_aws_cli_put_bucket_acl(node: NodeProcess, tmp_path: Path) -> None:
    alice = client(node, ALICE)
    alice.create_bucket(Bucket="cli-acl")
    alice.put_object(Bucket="cli-acl", Key="f", Body=b"f")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ALICE[0], AWS_SECRET_ACCESS_KEY=ALICE[1],
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))

    def aws(*args: str) -> str:
        return subprocess.run(["aws", "--endpoint-url", node.s3_url, "s3api", *args],
                              capture_output=True, text=True, env=env, check=True,
                              timeout=60).stdout

    assert curl(f"{node.s3_url}/cli-acl")[0] == 403
    aws("put-bucket-acl", "--bucket", "cli-acl", "--acl", "public-read")
    got = json.loads(aws("get-bucket-acl", "--bucket", "cli-acl"))
    assert (ALL_USERS, "READ") in grants(got)
    assert curl(f"{node.s3_url}/cli-acl")[0] == 200
    aws("put-object-acl", "--bucket", "cli-acl", "--key", "f", "--acl", "public-read")
    assert curl(f"{node.s3_url}/cli-acl/f") == (200, b"f")
    aws("put-bucket-acl", "--bucket", "cli-acl", "--acl", "private")
    assert curl(f"{node.s3_url}/cli-acl")[0] == 403


def test_open_node_keeps_acls_it_is_given(tmp_path: Path) -> None:
    n = new_node(tmp_path).start()
    try:
        c = client(n, ("any", "thing"))
        c.create_bucket(Bucket="open-b", ACL="public-read")
        assert (ALL_USERS, "READ") in grants(c.get_bucket_acl(Bucket="open-b"))
        c.put_object(Bucket="open-b", Key="k", Body=b"v")  # open: everything allowed
        assert curl(f"{n.s3_url}/open-b/k") == (200, b"v")
        c.put_object_acl(Bucket="open-b", Key="k", ACL="public-read")
        assert (ALL_USERS, "READ") in grants(c.get_object_acl(Bucket="open-b", Key="k"))
    finally:
        assert n.stop() == 0


def post_form(url: str, fields: dict[str, str], data: bytes) -> tuple[int, bytes]:
    """A browser form's upload, submitted by curl (the file field last)."""
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}"]
    for k, v in fields.items():
        args += ["-F", f"{k}={v}"]
    args += ["-F", "file=@-;filename=f.txt", url]
    out = subprocess.run(args, input=data, capture_output=True, timeout=30, check=True).stdout
    body, _, code = out.rpartition(b"\n")
    return int(code), body


def test_post_object_forms(node: NodeProcess) -> None:
    alice, anon = client(node, ALICE), client(node, None)
    alice.create_bucket(Bucket="forms", ACL="public-read-write")
    alice.create_bucket(Bucket="forms-private")
    # an unsigned form: anonymous, let in by the bucket's public-read-write
    assert post_form(f"{node.s3_url}/forms", {"key": "anon.txt"}, b"from anyone")[0] == 204
    assert post_form(f"{node.s3_url}/forms", {"key": "anon-pub.txt", "acl": "public-read"},
                     b"readable")[0] == 204
    assert curl(f"{node.s3_url}/forms/anon-pub.txt") == (200, b"readable")
    denied(alice.get_object, Bucket="forms", Key="anon.txt")  # the anonymous writer's
    code, body = post_form(f"{node.s3_url}/forms-private", {"key": "x"}, b"x")
    assert code == 403 and b"AccessDenied" in body
    # a signed form's acl field is the object's canned ACL
    post = alice.generate_presigned_post(
        "forms-private", "signed.txt", Fields={"acl": "public-read"},
        Conditions=[{"acl": "public-read"}])
    assert post_form(post["url"], post["fields"], b"signed")[0] == 204
    assert anon.get_object(Bucket="forms-private", Key="signed.txt")["Body"].read() == b"signed"


def test_delete_objects_decided_per_key_under_a_policy(node: NodeProcess) -> None:
    """As AWS: each refused key is its <Error> AccessDenied in a 200 DeleteResult, the
    others are deleted."""
    alice, bob = client(node, ALICE), client(node, BOB)
    alice.create_bucket(Bucket="dels")
    for k in ("tmp/a", "tmp/b", "keep/x"):
        alice.put_object(Bucket="dels", Key=k, Body=b"v")
    alice.put_bucket_policy(Bucket="dels", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:::user/bob"},
             "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::dels/tmp/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
             "Resource": "arn:aws:s3:::dels/keep/*"}]}))

    def delete(c: Any, *keys: str, quiet: bool = False) -> Any:
        return c.delete_objects(Bucket="dels", Delete={
            "Objects": [{"Key": k} for k in keys], "Quiet": quiet})

    def refused(answer: Any) -> list[tuple[str, str, str]]:
        return [(e["Key"], e["Code"], e["Message"]) for e in answer.get("Errors", [])]

    def deleted(answer: Any) -> list[str]:
        return [d["Key"] for d in answer.get("Deleted", [])]

    out = delete(bob, "tmp/a", "keep/x", "other")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert deleted(out) == ["tmp/a"]
    assert sorted(refused(out)) == [("keep/x", "AccessDenied", "Access Denied"),
                                    ("other", "AccessDenied", "Access Denied")]
    out = delete(alice, "keep/x", "tmp/b", quiet=True)  # the explicit Deny binds the owner
    assert "Deleted" not in out and refused(out) == [("keep/x", "AccessDenied", "Access Denied")]
    assert alice.list_objects_v2(Bucket="dels")["KeyCount"] == 1  # keep/x only
    denied(bob.delete_object, Bucket="dels", Key="keep/x")
    alice.delete_bucket_policy(Bucket="dels")
    delete(alice, "keep/x")
    alice.delete_bucket(Bucket="dels")


def test_delete_objects_refused_by_the_bucket_answers_each_key(node: NodeProcess) -> None:
    """No policy: the bucket's verdict, one for every key - each its <Error>, nothing
    deleted; anonymous the same; an owner's own request reads nothing more."""
    alice, bob = client(node, ALICE), client(node, BOB)
    anon = client(node, None)
    alice.create_bucket(Bucket="dels-acl")
    alice.put_object(Bucket="dels-acl", Key="a", Body=b"v")
    for c in (bob, anon):
        out = c.delete_objects(Bucket="dels-acl", Delete={"Objects": [{"Key": "a"},
                                                                       {"Key": "b"}]})
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 200 and "Deleted" not in out
        assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [
            ("a", "AccessDenied"), ("b", "AccessDenied")]
    assert alice.head_object(Bucket="dels-acl", Key="a")["ContentLength"] == 1
    alice.put_bucket_acl(Bucket="dels-acl", GrantWrite=f'id="{user_id(node, BOB)}"')
    out = bob.delete_objects(Bucket="dels-acl", Delete={"Objects": [{"Key": "a"}]})
    assert [d["Key"] for d in out["Deleted"]] == ["a"] and "Errors" not in out
    alice.delete_bucket(Bucket="dels-acl")


def test_listings_name_each_objects_owner(node: NodeProcess) -> None:
    """ListObjects, ListObjectsV2 (fetch-owner), ListObjectVersions and GetObjectAcl name
    the writer as an object's Owner (another user, anonymous), the bucket owner for her
    own, for a bucket-owner-full-control write under BucketOwnerPreferred and for every
    object under BucketOwnerEnforced."""
    alice, bob, anon = client(node, ALICE), client(node, BOB), client(node, None)
    alice_id, bob_id = user_id(node, ALICE), user_id(node, BOB)
    alice.create_bucket(Bucket="owners", ACL="public-read-write")
    alice.put_object(Bucket="owners", Key="a", Body=b"a")
    bob.put_object(Bucket="owners", Key="b", Body=b"b")
    bob.put_object(Bucket="owners", Key="b-full", Body=b"b", ACL="bucket-owner-full-control")
    anon.put_object(Bucket="owners", Key="anon", Body=b"x")
    want = {"a": alice_id, "anon": ANONYMOUS_ID, "b": bob_id, "b-full": bob_id}

    def listed(answer: Any) -> dict[str, str]:
        return {o["Key"]: o["Owner"]["ID"] for o in answer["Contents"]}

    assert listed(alice.list_objects(Bucket="owners")) == want
    assert listed(alice.list_objects_v2(Bucket="owners", FetchOwner=True)) == want
    assert all("Owner" not in o for o in alice.list_objects_v2(Bucket="owners")["Contents"])
    page = alice.list_objects_v2(Bucket="owners", FetchOwner=True, MaxKeys=2,
                                 StartAfter="a")
    assert listed(page) == {"anon": ANONYMOUS_ID, "b": bob_id}
    names = {o["Key"]: o["Owner"].get("DisplayName") for o in
             alice.list_objects(Bucket="owners")["Contents"]}
    assert names["anon"] == "anonymous" and names["b"] == "bob"
    assert {v["Key"]: v["Owner"]["ID"] for v in
            alice.list_object_versions(Bucket="owners")["Versions"]} == want
    assert bob.get_object_acl(Bucket="owners", Key="b")["Owner"]["ID"] == bob_id
    # an overwrite by the bucket owner makes the object hers
    alice.put_object(Bucket="owners", Key="b", Body=b"mine")
    assert listed(alice.list_objects(Bucket="owners"))["b"] == alice_id
    # BucketOwnerPreferred: bucket-owner-full-control gives the object to the bucket owner
    alice.put_bucket_ownership_controls(Bucket="owners", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    bob.put_object(Bucket="owners", Key="pref", Body=b"p", ACL="bucket-owner-full-control")
    bob.put_object(Bucket="owners", Key="pref-own", Body=b"p")
    got = listed(alice.list_objects(Bucket="owners"))
    assert got["pref"] == alice_id and got["pref-own"] == bob_id
    # BucketOwnerEnforced: every object is the bucket owner's
    alice.put_bucket_acl(Bucket="owners", ACL="private")
    alice.put_bucket_ownership_controls(Bucket="owners", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert set(listed(alice.list_objects_v2(Bucket="owners", FetchOwner=True)).values()) \
        == {alice_id}
    assert alice.get_object_acl(Bucket="owners", Key="anon")["Owner"]["ID"] == alice_id
    for k in ("a", "b", "b-full", "anon", "pref", "pref-own"):
        alice.delete_object(Bucket="owners", Key=k)
    alice.delete_bucket(Bucket="owners")


def test_version_listing_names_each_versions_owner(node: NodeProcess) -> None:
    """A versioned bucket: each version another user wrote is shown as theirs, current or
    not, and each delete marker as its deleter's; the bucket owner's own as hers; under
    BucketOwnerEnforced all are hers."""
    alice, bob, anon = client(node, ALICE), client(node, BOB), client(node, None)
    alice_id, bob_id = user_id(node, ALICE), user_id(node, BOB)
    alice.create_bucket(Bucket="owners-v", ACL="public-read-write")
    alice.put_bucket_versioning(Bucket="owners-v", VersioningConfiguration={
        "Status": "Enabled"})
    alice.put_object(Bucket="owners-v", Key="k", Body=b"1")
    bob.put_object(Bucket="owners-v", Key="k", Body=b"2")
    anon.put_object(Bucket="owners-v", Key="k", Body=b"3")
    bob.put_object(Bucket="owners-v", Key="k", Body=b"4")

    def owners() -> list[tuple[bool, str]]:
        return [(v["IsLatest"], v["Owner"]["ID"]) for v in
                alice.list_object_versions(Bucket="owners-v")["Versions"]]

    assert owners() == [(True, bob_id), (False, ANONYMOUS_ID), (False, bob_id),
                        (False, alice_id)]
    alice.put_object(Bucket="owners-v", Key="k", Body=b"5")
    assert owners() == [(True, alice_id), (False, bob_id), (False, ANONYMOUS_ID),
                        (False, bob_id), (False, alice_id)]
    # a delete marker is its deleter's; one with a versionId removes, makes nothing
    bob.delete_object(Bucket="owners-v", Key="k")
    anon.delete_object(Bucket="owners-v", Key="k")
    alice.delete_object(Bucket="owners-v", Key="k")
    markers = alice.list_object_versions(Bucket="owners-v")["DeleteMarkers"]
    assert [(m["IsLatest"], m["Owner"]["ID"]) for m in markers] == [
        (True, alice_id), (False, ANONYMOUS_ID), (False, bob_id)]
    assert owners()[0] == (False, alice_id)
    alice.put_bucket_acl(Bucket="owners-v", ACL="private")
    alice.put_bucket_ownership_controls(Bucket="owners-v", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    listing = alice.list_object_versions(Bucket="owners-v")
    assert {o for _, o in owners()} == {alice_id}
    assert {m["Owner"]["ID"] for m in listing["DeleteMarkers"]} == {alice_id}
    for v in listing["Versions"] + listing["DeleteMarkers"]:
        alice.delete_object(Bucket="owners-v", Key="k", VersionId=v["VersionId"])
    alice.delete_bucket(Bucket="owners-v")
