"""Bucket policies enforced on requests (aisfs_node/s3_auth.py with aisfs.auth.policy): the
owner, another user and anonymous callers, with boto3 and plain HTTP; explicit Deny over
Allow (the owner's requests included), conditions, policy variables, and the owner who
can always manage the policy."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.access import client
from support.node import new_node

ALICE = ("AKALICE", "alice-secret-enforce")
BOB = ("AKBOB", "bob-secret-enforce")
CAROL = ("AKCAROL", "carol-secret-enforce")
CONFIG = f"""
[store]
fsync = false
[auth]
mode = "sigv4"
[auth.users.alice]
access_keys = {{ {ALICE[0]} = "{ALICE[1]}" }}
[auth.users.bob]
access_keys = {{ {BOB[0]} = "{BOB[1]}" }}
[auth.users.carol]
access_keys = {{ {CAROL[0]} = "{CAROL[1]}" }}
"""
B = "enforced"
OBJ = f"arn:aws:s3:::{B}/*"
BUCKET = f"arn:aws:s3:::{B}"


@pytest.fixture
def world(tmp_path: Any) -> Any:
    node = new_node(tmp_path, config=CONFIG).start()
    alice, bob, carol, anon = (client(node, k) for k in (ALICE, BOB, CAROL, None))
    alice.create_bucket(Bucket=B)
    for key in ("public/a", "secret/s", "home/bob/b", "home/carol/c", "locked/l", "x"):
        alice.put_object(Bucket=B, Key=key, Body=key.encode())
    yield node, alice, bob, carol, anon
    assert node.stop() == 0


def put(s3: Any, *statements: dict[str, Any]) -> None:
    s3.put_bucket_policy(Bucket=B, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": list(statements)}))


def allow(principal: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action,
            "Resource": resource, **extra}


def deny(principal: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return dict(allow(principal, action, resource, **extra), Effect="Deny")


def ok(s3: Any, key: str) -> bool:
    try:
        return bool(s3.get_object(Bucket=B, Key=key)["Body"].read() == key.encode())
    except ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        return False


def can(call: Any, **kw: Any) -> bool:
    try:
        call(**kw)
        return True
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, e.response
        return False


def test_public_read_lets_anyone_get_and_nothing_else(world: Any) -> None:
    node, alice, bob, carol, anon = world
    assert not ok(anon, "public/a") and not ok(bob, "public/a")
    put(alice, allow("*", "s3:GetObject", f"arn:aws:s3:::{B}/public/*"))
    assert ok(anon, "public/a") and ok(bob, "public/a")
    assert not ok(anon, "secret/s") and not ok(bob, "secret/s")
    # plain HTTP, no signature (a browser, curl)
    with urllib.request.urlopen(f"{node.s3_url}/{B}/public/a") as r:
        assert r.read() == b"public/a"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{node.s3_url}/{B}/secret/s")
    assert e.value.code == 403
    assert not can(anon.put_object, Bucket=B, Key="public/new", Body=b"x")
    assert not can(anon.list_objects_v2, Bucket=B)
    assert not can(bob.delete_object, Bucket=B, Key="public/a")
    assert ok(alice, "secret/s")  # the owner's own rights are untouched
    alice.delete_bucket_policy(Bucket=B)
    assert not ok(anon, "public/a")


def test_a_user_principal_and_wildcard_actions(world: Any) -> None:
    _, alice, bob, carol, anon = world
    put(alice, allow({"AWS": "arn:aws:iam:::user/bob"}, ["s3:Get*", "s3:PutObject"], OBJ))
    assert ok(bob, "x") and not ok(carol, "x") and not ok(anon, "x")
    assert can(bob.get_object_tagging, Bucket=B, Key="x")
    assert can(bob.put_object, Bucket=B, Key="from-bob", Body=b"b")
    assert not can(bob.delete_object, Bucket=B, Key="x")
    assert not can(bob.list_objects_v2, Bucket=B)  # a bucket action: not granted
    # by canonical id
    bob_id = bob.list_buckets()["Owner"]["ID"]
    put(alice, allow({"CanonicalUser": bob_id}, "s3:GetObject", OBJ))
    assert ok(bob, "x") and not ok(carol, "x")


def test_explicit_deny_wins_even_over_the_owner(world: Any) -> None:
    _, alice, bob, carol, anon = world
    put(alice,
        allow("*", "s3:GetObject", OBJ),
        deny({"AWS": "arn:aws:iam:::user/bob"}, "s3:GetObject", f"arn:aws:s3:::{B}/secret/*"),
        deny("*", ["s3:GetObject", "s3:DeleteObject"], f"arn:aws:s3:::{B}/locked/*"))
    assert ok(bob, "public/a") and not ok(bob, "secret/s")
    assert ok(carol, "secret/s") and ok(anon, "secret/s")
    assert not ok(alice, "locked/l")  # the owner too
    assert not can(alice.delete_object, Bucket=B, Key="locked/l")
    # ... but the owner can always manage the policy
    text = alice.get_bucket_policy(Bucket=B)["Policy"]
    assert "locked" in text
    put(alice, deny("*", "s3:*", [BUCKET, OBJ]))
    assert not ok(alice, "x")
    assert not can(alice.list_objects_v2, Bucket=B)
    assert can(alice.get_bucket_policy, Bucket=B)
    alice.delete_bucket_policy(Bucket=B)
    assert ok(alice, "x")


def test_not_principal_and_not_resource(world: Any) -> None:
    _, alice, bob, carol, anon = world
    put(alice,
        allow("*", "s3:GetObject", OBJ),
        {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam:::user/bob"},
         "Action": "s3:GetObject", "NotResource": f"arn:aws:s3:::{B}/public/*"})
    assert ok(bob, "secret/s") and ok(carol, "public/a") and ok(anon, "public/a")
    assert not ok(carol, "secret/s") and not ok(anon, "x")


def test_conditions(world: Any) -> None:
    _, alice, bob, carol, anon = world
    put(alice, allow("*", "s3:GetObject", OBJ,
                     Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}))
    assert ok(anon, "x")
    put(alice, allow("*", "s3:GetObject", OBJ,
                     Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}))
    assert not ok(anon, "x")
    # a node on plain HTTP: aws:SecureTransport is false
    put(alice, allow("*", "s3:GetObject", OBJ),
        deny("*", "s3:GetObject", OBJ, Condition={"Bool": {"aws:SecureTransport": "false"}}))
    assert not ok(anon, "x") and not ok(bob, "x")
    put(alice, allow("*", "s3:GetObject", OBJ,
                     Condition={"StringEquals": {"aws:username": "carol"}}))
    assert ok(carol, "x") and not ok(bob, "x") and not ok(anon, "x")
    put(alice, allow("*", "s3:GetObject", OBJ,
                     Condition={"StringNotEqualsIfExists": {"aws:username": "carol"}}))
    assert ok(bob, "x") and ok(anon, "x") and not ok(carol, "x")
    put(alice, allow("*", "s3:GetObject", OBJ,
                     Condition={"Null": {"aws:username": "true"}}))
    assert ok(anon, "x") and not ok(bob, "x")
    put(alice, allow("*", "s3:GetObject", OBJ,
                     Condition={"DateGreaterThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}))
    assert ok(anon, "x")
    put(alice, allow("*", "s3:GetObject", OBJ,
                     Condition={"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}))
    assert not ok(anon, "x")


def test_listing_by_prefix_and_acl_condition(world: Any) -> None:
    _, alice, bob, carol, anon = world
    put(alice,
        allow({"AWS": "arn:aws:iam:::user/bob"}, "s3:ListBucket", BUCKET,
              Condition={"StringLike": {"s3:prefix": "home/bob/*"}}),
        allow({"AWS": "arn:aws:iam:::user/bob"}, "s3:PutObject", OBJ,
              Condition={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}))
    keys = [o["Key"] for o in bob.list_objects_v2(Bucket=B, Prefix="home/bob/")["Contents"]]
    assert keys == ["home/bob/b"]
    assert not can(bob.list_objects_v2, Bucket=B, Prefix="home/")
    assert not can(bob.list_objects_v2, Bucket=B)
    assert not can(bob.put_object, Bucket=B, Key="up", Body=b"x")
    assert can(bob.put_object, Bucket=B, Key="up", Body=b"x", ACL="bucket-owner-full-control")


def test_policy_variables(world: Any) -> None:
    _, alice, bob, carol, anon = world
    put(alice, allow({"AWS": ["arn:aws:iam:::user/bob", "arn:aws:iam:::user/carol"]},
                     ["s3:GetObject", "s3:PutObject"],
                     f"arn:aws:s3:::{B}/home/${{aws:username}}/*"))
    assert ok(bob, "home/bob/b") and not ok(bob, "home/carol/c")
    assert ok(carol, "home/carol/c") and not ok(carol, "home/bob/b")
    assert can(carol.put_object, Bucket=B, Key="home/carol/new", Body=b"c")
    assert not can(carol.put_object, Bucket=B, Key="home/bob/new", Body=b"c")


def test_a_policy_cannot_hand_the_policy_to_another_user(world: Any) -> None:
    _, alice, bob, carol, anon = world
    put(alice, allow({"AWS": "arn:aws:iam:::user/bob"},
                     ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
                     BUCKET))
    # let through by the policy, refused by the operation: AWS's 405 for a caller outside
    # the owner's account; carol, whom nothing lets through, is AccessDenied
    for call in (bob.get_bucket_policy, bob.delete_bucket_policy):
        with pytest.raises(ClientError) as e:
            call(Bucket=B)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
        assert e.value.response["Error"]["Code"] == "MethodNotAllowed"
    assert not can(carol.get_bucket_policy, Bucket=B)
    assert "s3:PutBucketPolicy" in alice.get_bucket_policy(Bucket=B)["Policy"]


def test_numeric_condition_on_max_keys(world: Any) -> None:
    _, alice, bob, carol, anon = world
    put(alice, allow({"AWS": "arn:aws:iam:::user/bob"}, "s3:ListBucket", BUCKET,
                     Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}}))
    assert can(bob.list_objects_v2, Bucket=B, MaxKeys=5)
    assert not can(bob.list_objects_v2, Bucket=B, MaxKeys=100)
    assert not can(bob.list_objects_v2, Bucket=B)  # no max-keys: the key is absent
    put(alice, allow({"AWS": "arn:aws:iam:::user/bob"}, "s3:ListBucket", BUCKET,
                     Condition={"NumericLessThanEqualsIfExists": {"s3:max-keys": "10"}}))
    assert can(bob.list_objects_v2, Bucket=B)
    assert not can(bob.list_objects_v2, Bucket=B, MaxKeys=11)
