"""S3 Object Lock against a real node, with boto3, open and SigV4 (issue 15).

A lock bucket (CreateBucket with ``x-amz-bucket-object-lock-enabled``) is versioned and
stays so; Put/GetObjectLockConfiguration with AWS's refusals; retention and legal hold
on versions; the lock headers of PUT, copy and multipart; the bucket's default
retention; and every path that would remove a locked version for good - DELETE with
versionId, DeleteObjects, lifecycle expiry, the native ``/v1`` delete, an overwrite of a
null version - refused (AccessDenied), GOVERNANCE yielding to the bypass header,
COMPLIANCE and legal hold to nothing. A restart and ``aisfs node fsck --rebuild`` keep
the lock state.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from support.clients import s3_client
from support.lifecycle import fast_lifecycle_node
from support.node import NodeProcess, new_node

FAR = datetime(2031, 2, 1, tzinfo=UTC)
FARTHER = datetime(2031, 4, 1, tzinfo=UTC)
WAIT = 60.0


@pytest.fixture(params=["open", "sigv4"])
def served(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[NodeProcess, Any]]:
    """A node (lifecycle day of a second, run every half second) and a boto3 client."""
    with fast_lifecycle_node(tmp_path, monkeypatch, request.param) as node_and_client:
        yield node_and_client


@pytest.fixture
def s3(served: tuple[NodeProcess, Any]) -> Any:
    return served[1]


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def refused(call: Callable[..., Any], **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return code_of(e)


def lock_bucket(s3: Any, name: str, default: dict[str, Any] | None = None) -> str:
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    if default is not None:
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": default}})
    return name


def put(s3: Any, bucket: str, key: str, body: bytes = b"data", **kw: Any) -> str:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    return str(s3.put_object(Bucket=bucket, Key=key, Body=body, ContentMD5=md5,
                             **kw)["VersionId"])


def versions(s3: Any, bucket: str, key: str | None = None) -> set[str]:
    out = s3.list_object_versions(Bucket=bucket, Prefix=key or "")
    return {v["VersionId"] for v in out.get("Versions", [])
            if key is None or v["Key"] == key}


def retain(s3: Any, bucket: str, key: str, vid: str, mode: str,
           until: datetime = FAR, **kw: Any) -> None:
    s3.put_object_retention(Bucket=bucket, Key=key, VersionId=vid,
                            Retention={"Mode": mode, "RetainUntilDate": until}, **kw)


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT}s: {what}")
        time.sleep(0.2)


# --------------------------------------------------------------------------- the bucket


def test_a_lock_bucket_is_versioned_for_good(s3: Any) -> None:
    b = lock_bucket(s3, "lk-versioned")
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    got = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled"}
    assert refused(s3.put_bucket_versioning, Bucket=b,
                   VersioningConfiguration={"Status": "Suspended"}) == ("InvalidBucketState", 409)


def test_lock_configuration_round_trip_and_refusals(s3: Any) -> None:
    b = lock_bucket(s3, "lk-config")
    for default in ({"Mode": "GOVERNANCE", "Days": 1}, {"Mode": "COMPLIANCE", "Years": 2}):
        conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": default}}
        s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration=conf)
        assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == conf
    bad = [({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, "MalformedXML"),
           ({"Mode": "invalid", "Years": 1}, "MalformedXML"),
           ({"Mode": "GOVERNANCE", "Days": 0}, "InvalidArgument"),
           ({"Mode": "GOVERNANCE", "Years": -1}, "InvalidArgument")]
    for default, code in bad:
        conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": default}}
        assert refused(s3.put_object_lock_configuration, Bucket=b,
                       ObjectLockConfiguration=conf) == (code, 400)
    assert refused(s3.put_object_lock_configuration, Bucket=b, ObjectLockConfiguration={
        "ObjectLockEnabled": "Disabled"}) == ("MalformedXML", 400)
    # a plain bucket: no configuration to read, none to put while it is not versioned
    s3.create_bucket(Bucket="lk-plain")
    assert refused(s3.get_object_lock_configuration, Bucket="lk-plain") == (
        "ObjectLockConfigurationNotFoundError", 404)
    assert refused(s3.put_object_lock_configuration, Bucket="lk-plain",
                   ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}) == (
        "InvalidBucketState", 409)
    # an existing bucket whose versioning is Enabled may turn lock on (AWS since 2023)
    s3.put_bucket_versioning(Bucket="lk-plain", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket="lk-plain",
                                     ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert refused(s3.put_bucket_versioning, Bucket="lk-plain",
                   VersioningConfiguration={"Status": "Suspended"}) == ("InvalidBucketState", 409)


def test_retention_and_legal_hold_need_a_lock_bucket(s3: Any) -> None:
    s3.create_bucket(Bucket="lk-none")
    s3.put_object(Bucket="lk-none", Key="k", Body=b"x")
    for call, kw in ((s3.put_object_retention, {"Retention": {"Mode": "GOVERNANCE",
                                                              "RetainUntilDate": FAR}}),
                     (s3.get_object_retention, {}),
                     (s3.put_object_legal_hold, {"LegalHold": {"Status": "ON"}}),
                     (s3.get_object_legal_hold, {})):
        assert refused(call, Bucket="lk-none", Key="k", **kw) == ("InvalidRequest", 400)
    assert refused(s3.put_object, Bucket="lk-none", Key="k2", Body=b"x",
                   ContentMD5=base64.b64encode(hashlib.md5(b"x").digest()).decode(),
                   ObjectLockLegalHoldStatus="ON") == ("InvalidRequest", 400)


# --------------------------------------------------------------------------- retention


def test_governance_yields_to_the_bypass_only(s3: Any) -> None:
    b = lock_bucket(s3, "lk-gov")
    vid = put(s3, b, "k")
    assert refused(s3.get_object_retention, Bucket=b, Key="k") == (
        "NoSuchObjectLockConfiguration", 404)
    retain(s3, b, "k", vid, "GOVERNANCE", FARTHER)
    got = s3.get_object_retention(Bucket=b, Key="k", VersionId=vid)["Retention"]
    assert got == {"Mode": "GOVERNANCE", "RetainUntilDate": FARTHER}
    head = s3.head_object(Bucket=b, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"] == FARTHER
    assert refused(s3.delete_object, Bucket=b, Key="k", VersionId=vid) == ("AccessDenied", 403)
    # shortening: refused, then allowed with the bypass; lengthening: always
    assert refused(retain, s3=s3, bucket=b, key="k", vid=vid, mode="GOVERNANCE") == (
        "AccessDenied", 403)
    retain(s3, b, "k", vid, "GOVERNANCE", FAR, BypassGovernanceRetention=True)
    retain(s3, b, "k", vid, "GOVERNANCE", FARTHER)
    s3.delete_object(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    assert versions(s3, b, "k") == set()


def test_compliance_yields_to_nothing(s3: Any) -> None:
    b = lock_bucket(s3, "lk-comp")
    vid = put(s3, b, "k")
    retain(s3, b, "k", vid, "COMPLIANCE", FAR)
    for kw in ({}, {"BypassGovernanceRetention": True}):
        assert refused(s3.delete_object, Bucket=b, Key="k", VersionId=vid, **kw) == (
            "AccessDenied", 403)
        assert refused(retain, s3=s3, bucket=b, key="k", vid=vid, mode="COMPLIANCE",
                       until=FAR - timedelta(days=1), **kw) == ("AccessDenied", 403)
        assert refused(retain, s3=s3, bucket=b, key="k", vid=vid, mode="GOVERNANCE",
                       until=FARTHER, **kw) == ("AccessDenied", 403)
        assert refused(s3.put_object_retention, Bucket=b, Key="k", VersionId=vid,
                       Retention={}, **kw) == ("AccessDenied", 403)
    retain(s3, b, "k", vid, "COMPLIANCE", FARTHER)  # lengthened
    assert s3.get_object_retention(Bucket=b, Key="k")["Retention"]["RetainUntilDate"] == FARTHER
    assert vid in versions(s3, b, "k")


def test_a_retention_date_in_the_past_is_refused(s3: Any) -> None:
    b = lock_bucket(s3, "lk-past")
    vid = put(s3, b, "k")
    past = datetime(2001, 1, 1, tzinfo=UTC)
    assert refused(retain, s3=s3, bucket=b, key="k", vid=vid, mode="GOVERNANCE",
                   until=past) == ("InvalidArgument", 400)
    assert refused(put, s3=s3, bucket=b, key="k", ObjectLockMode="GOVERNANCE",
                   ObjectLockRetainUntilDate=past) == ("InvalidArgument", 400)


def test_an_expired_retention_protects_nothing(s3: Any) -> None:
    b = lock_bucket(s3, "lk-expired")
    soon = datetime.now(UTC) + timedelta(seconds=2)
    vid = put(s3, b, "k", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=soon)
    assert refused(s3.delete_object, Bucket=b, Key="k", VersionId=vid) == ("AccessDenied", 403)

    def gone() -> bool:
        try:
            s3.delete_object(Bucket=b, Key="k", VersionId=vid)
        except ClientError:
            return False
        return True

    eventually(gone, "the version is deleted once its COMPLIANCE date has passed")


# --------------------------------------------------------------------------- legal hold


def test_legal_hold_blocks_deletion_whatever_the_mode(s3: Any) -> None:
    b = lock_bucket(s3, "lk-hold")
    vid = put(s3, b, "k")
    assert refused(s3.get_object_legal_hold, Bucket=b, Key="k") == (
        "NoSuchObjectLockConfiguration", 404)
    s3.put_object_legal_hold(Bucket=b, Key="k", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=b, Key="k")["LegalHold"] == {"Status": "ON"}
    assert s3.head_object(Bucket=b, Key="k")["ObjectLockLegalHoldStatus"] == "ON"
    for kw in ({}, {"BypassGovernanceRetention": True}):
        assert refused(s3.delete_object, Bucket=b, Key="k", VersionId=vid, **kw) == (
            "AccessDenied", 403)
    assert refused(s3.put_object_legal_hold, Bucket=b, Key="k",
                   LegalHold={"Status": "abc"}) == ("MalformedXML", 400)
    s3.put_object_legal_hold(Bucket=b, Key="k", LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=b, Key="k")["LegalHold"] == {"Status": "OFF"}
    s3.delete_object(Bucket=b, Key="k", VersionId=vid)
    assert versions(s3, b, "k") == set()


# --------------------------------------------------------------------------- writes


def test_lock_headers_on_put_copy_and_multipart(s3: Any) -> None:
    b = lock_bucket(s3, "lk-writes")
    vid = put(s3, b, "p", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR,
              ObjectLockLegalHoldStatus="ON")
    head = s3.head_object(Bucket=b, Key="p", VersionId=vid)
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"],
            head["ObjectLockLegalHoldStatus"]) == ("COMPLIANCE", FAR, "ON")
    got = s3.get_object(Bucket=b, Key="p")
    assert got["ObjectLockMode"] == "COMPLIANCE" and got["Body"].read() == b"data"
    cvid = s3.copy_object(Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "p"},
                          ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FAR)["VersionId"]
    head = s3.head_object(Bucket=b, Key="c", VersionId=cvid)
    assert head["ObjectLockMode"] == "GOVERNANCE" and "ObjectLockLegalHoldStatus" not in head
    up = s3.create_multipart_upload(Bucket=b, Key="m", ObjectLockMode="GOVERNANCE",
                                    ObjectLockRetainUntilDate=FAR)["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=b"m" * 100,
                          ContentMD5=base64.b64encode(hashlib.md5(b"m" * 100).digest())
                          .decode())["ETag"]
    mvid = s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})["VersionId"]
    assert s3.head_object(Bucket=b, Key="m", VersionId=mvid)["ObjectLockMode"] == "GOVERNANCE"
    for key, v in (("p", vid), ("c", cvid), ("m", mvid)):
        assert refused(s3.delete_object, Bucket=b, Key=key, VersionId=v) == ("AccessDenied", 403)
    # both mode and date, or neither
    assert refused(put, s3=s3, bucket=b, key="x", ObjectLockMode="GOVERNANCE") == (
        "InvalidArgument", 400)


def test_default_retention_applies_to_new_versions(served: tuple[NodeProcess, Any]) -> None:
    node, s3 = served
    b = lock_bucket(s3, "lk-default", {"Mode": "GOVERNANCE", "Days": 1})
    before = datetime.now(UTC)
    vid = put(s3, b, "k")
    head = s3.head_object(Bucket=b, Key="k", VersionId=vid)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert before + timedelta(days=1) - timedelta(seconds=1) <= until
    assert until <= datetime.now(UTC) + timedelta(days=1, seconds=1)
    # its own headers win over the default
    own = put(s3, b, "k2", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR)
    assert s3.head_object(Bucket=b, Key="k2", VersionId=own)["ObjectLockMode"] == "COMPLIANCE"
    assert refused(s3.delete_object, Bucket=b, Key="k", VersionId=vid) == ("AccessDenied", 403)
    # lock headers need Content-MD5 or a checksum (AWS); a PUT without either into a
    # default-retention bucket is taken (AWS refuses it; the mount sends neither)
    plain = s3_client(node.s3_url, request_checksum_calculation="when_required")
    assert refused(plain.put_object, Bucket=b, Key="k3", Body=b"x",
                   ObjectLockLegalHoldStatus="ON") == ("InvalidRequest", 400)
    vid3 = plain.put_object(Bucket=b, Key="k3", Body=b"x")["VersionId"]
    assert s3.head_object(Bucket=b, Key="k3", VersionId=vid3)["ObjectLockMode"] == "GOVERNANCE"
    # the native API's PUT gets the default retention too
    r = httpx.put(f"{node.url}/v1/objects/{b}/native", content=b"n")
    if r.status_code == 200:  # open auth
        head = s3.head_object(Bucket=b, Key="native")
        assert head["ObjectLockMode"] == "GOVERNANCE"


# --------------------------------------------------------------------------- removals


def test_a_delete_without_version_id_adds_a_marker_and_keeps_the_locked_version(
        s3: Any) -> None:
    b = lock_bucket(s3, "lk-marker")
    vid = put(s3, b, "k", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR)
    out = s3.delete_object(Bucket=b, Key="k")
    assert out["DeleteMarker"] is True
    assert vid in versions(s3, b, "k")
    assert s3.get_object(Bucket=b, Key="k", VersionId=vid)["Body"].read() == b"data"
    # a delete marker has no lock to read or set; the current is a marker: no such key
    marker = out["VersionId"]
    assert refused(s3.get_object_retention, Bucket=b, Key="k", VersionId=marker) == (
        "MethodNotAllowed", 405)
    assert refused(s3.put_object_legal_hold, Bucket=b, Key="k", VersionId=marker,
                   LegalHold={"Status": "ON"}) == ("MethodNotAllowed", 405)
    assert refused(s3.get_object_legal_hold, Bucket=b, Key="k") == ("NoSuchKey", 404)
    assert refused(s3.get_object_retention, Bucket=b, Key="k", VersionId="bogus") == (
        "InvalidArgument", 400)


def test_delete_objects_refuses_the_locked_versions_alone(s3: Any) -> None:
    b = lock_bucket(s3, "lk-multi")
    free = put(s3, b, "free")
    gov = put(s3, b, "gov", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FAR)
    comp = put(s3, b, "comp", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR)
    objects = [{"Key": "free", "VersionId": free}, {"Key": "gov", "VersionId": gov},
               {"Key": "comp", "VersionId": comp}]
    out = s3.delete_objects(Bucket=b, Delete={"Objects": objects})
    assert [d["Key"] for d in out.get("Deleted", [])] == ["free"]
    assert sorted((e["Key"], e["Code"]) for e in out["Errors"]) == [
        ("comp", "AccessDenied"), ("gov", "AccessDenied")]
    out = s3.delete_objects(Bucket=b, Delete={"Objects": objects[1:]},
                            BypassGovernanceRetention=True)
    assert [d["Key"] for d in out.get("Deleted", [])] == ["gov"]
    assert [e["Key"] for e in out["Errors"]] == ["comp"]
    assert versions(s3, b) == {comp}


def test_an_overwrite_keeps_a_locked_null_version(s3: Any) -> None:
    s3.create_bucket(Bucket="lk-null")
    s3.put_object(Bucket="lk-null", Key="k", Body=b"old")  # the null version
    s3.put_bucket_versioning(Bucket="lk-null", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket="lk-null",
                                     ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    retain(s3, "lk-null", "k", "null", "GOVERNANCE", FAR)
    assert refused(s3.delete_object, Bucket="lk-null", Key="k", VersionId="null") == (
        "AccessDenied", 403)
    put(s3, "lk-null", "k", b"new")
    assert "null" in versions(s3, "lk-null", "k")
    got = s3.get_object(Bucket="lk-null", Key="k", VersionId="null")
    assert got["Body"].read() == b"old" and got["ObjectLockMode"] == "GOVERNANCE"


def test_the_native_api_cannot_remove_a_locked_version(
        served: tuple[NodeProcess, Any]) -> None:
    node, s3 = served
    b = lock_bucket(s3, "lk-native")
    vid = put(s3, b, "k", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR)
    httpx.delete(f"{node.url}/v1/objects/{b}/k", auth=None)  # whatever it answers
    assert vid in versions(s3, b, "k")
    assert s3.get_object(Bucket=b, Key="k", VersionId=vid)["Body"].read() == b"data"


def test_lifecycle_expiry_never_removes_a_locked_version(s3: Any) -> None:
    b = lock_bucket(s3, "lk-lc")
    locked = put(s3, b, "k", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR)
    held = put(s3, b, "h", ObjectLockLegalHoldStatus="ON")
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [{
        "ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""},
        "Expiration": {"Days": 1}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})

    def expired() -> bool:  # the current versions are behind delete markers now
        out = s3.list_object_versions(Bucket=b)
        return {m["Key"] for m in out.get("DeleteMarkers", [])} == {"k", "h"}

    eventually(expired, "the worker's expiry adds a delete marker on each key")
    for _ in range(10):  # several more runs of the worker (every half second)
        assert versions(s3, b) == {locked, held}
        time.sleep(0.3)
    assert s3.get_object(Bucket=b, Key="k", VersionId=locked)["Body"].read() == b"data"


def test_the_lock_state_survives_a_restart_and_an_index_rebuild(
        served: tuple[NodeProcess, Any]) -> None:
    node, s3 = served
    b = lock_bucket(s3, "lk-durable", {"Mode": "GOVERNANCE", "Days": 3})
    vid = put(s3, b, "k", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR)
    old = put(s3, b, "k", b"v2")
    s3.put_object_legal_hold(Bucket=b, Key="k", VersionId=old, LegalHold={"Status": "ON"})
    expected = s3.head_object(Bucket=b, Key="k", VersionId=old)["ObjectLockRetainUntilDate"]
    put(s3, b, "k", b"v3")

    def check(s3: Any) -> None:
        conf = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
        assert conf["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 3}
        assert s3.get_object_retention(Bucket=b, Key="k", VersionId=vid)["Retention"] == {
            "Mode": "COMPLIANCE", "RetainUntilDate": FAR}
        head = s3.head_object(Bucket=b, Key="k", VersionId=old)
        assert head["ObjectLockLegalHoldStatus"] == "ON"
        assert head["ObjectLockRetainUntilDate"] == expected
        for v in (vid, old):
            assert refused(s3.delete_object, Bucket=b, Key="k", VersionId=v,
                           BypassGovernanceRetention=True) == ("AccessDenied", 403)

    check(s3)
    node.restart()
    check(s3_client(node.s3_url))
    assert node.stop() == 0
    args: list[str] = []
    for mp in node.mountpaths:
        args += ["--mountpath", str(mp)]
    res = subprocess.run([sys.executable, "-m", "aisfs", "node", "fsck", "--rebuild", *args,
                          "--index-dir", str(node.index_dir)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    node.start()
    check(s3_client(node.s3_url))


# --------------------------------------------------------------------------- who may bypass

ALICE = ("AKALICELOCK", "alice-lock-secret")
BOB = ("AKBOBLOCK", "bob-lock-secret")
USERS = f"""
[auth]
mode = "sigv4"
[auth.users.alice]
access_keys = {{ {ALICE[0]} = "{ALICE[1]}" }}
[auth.users.bob]
access_keys = {{ {BOB[0]} = "{BOB[1]}" }}
"""


def test_the_bypass_is_the_owners_and_whom_the_policy_allows(tmp_path: Path) -> None:
    import json

    import boto3
    from botocore.config import Config

    node = new_node(tmp_path, config=USERS).start()
    try:
        alice, bob = (boto3.client(
            "s3", endpoint_url=node.s3_url, region_name="us-east-1", aws_access_key_id=k[0],
            aws_secret_access_key=k[1], config=Config(retries={"max_attempts": 1}))
            for k in (ALICE, BOB))
        b = lock_bucket(alice, "lk-users")
        gov = {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": FARTHER}
        v1, v2, v3 = (put(alice, b, k, **gov) for k in ("k1", "k2", "k3"))
        bob_arn = {"AWS": "arn:aws:iam:::user/bob"}
        objects = f"arn:aws:s3:::{b}/*"
        may_delete = {"Effect": "Allow", "Principal": bob_arn, "Resource": objects, "Action": [
            "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention",
            "s3:GetObjectRetention"]}

        def policy(*more: dict[str, Any]) -> None:
            alice.put_bucket_policy(Bucket=b, Policy=json.dumps(
                {"Version": "2012-10-17", "Statement": [may_delete, *more]}))

        policy()
        # bob may delete versions, not bypass a GOVERNANCE retention
        assert refused(bob.delete_object, Bucket=b, Key="k1", VersionId=v1,
                       BypassGovernanceRetention=True) == ("AccessDenied", 403)
        assert refused(retain, s3=bob, bucket=b, key="k1", vid=v1, mode="GOVERNANCE",
                       until=FAR, BypassGovernanceRetention=True) == ("AccessDenied", 403)
        assert alice.get_object_retention(Bucket=b, Key="k1", VersionId=v1)["Retention"] == {
            "Mode": "GOVERNANCE", "RetainUntilDate": FARTHER}  # nothing was lifted
        # granted s3:BypassGovernanceRetention, he may
        policy({"Effect": "Allow", "Principal": bob_arn, "Resource": objects,
                "Action": "s3:BypassGovernanceRetention"})
        bob.delete_object(Bucket=b, Key="k1", VersionId=v1, BypassGovernanceRetention=True)
        # the owner may, unless the policy denies it to her
        alice.delete_object(Bucket=b, Key="k2", VersionId=v2, BypassGovernanceRetention=True)
        policy({"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam:::user/alice"},
                "Resource": objects, "Action": "s3:BypassGovernanceRetention"})
        assert refused(alice.delete_object, Bucket=b, Key="k3", VersionId=v3,
                       BypassGovernanceRetention=True) == ("AccessDenied", 403)
        assert versions(alice, b) == {v3}
    finally:
        assert node.stop() == 0
