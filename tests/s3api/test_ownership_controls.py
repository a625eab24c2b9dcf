"""Object ownership (issue 16 item 4): Put/Get/DeleteBucketOwnershipControls,
x-amz-object-ownership on CreateBucket, and what ObjectWriter, BucketOwnerPreferred and
BucketOwnerEnforced do to who owns an object and whether ACLs count, with two users and
anonymous callers against a real sigv4 node."""

from __future__ import annotations

from typing import Any

import pytest

from support.access import ALICE, BOB, client, curl, denied, error_of, start, user_id
from support.node import NodeProcess


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    n = start(tmp_path_factory.mktemp("own"))
    yield n
    assert n.stop() == 0


def rule(ownership: str) -> dict[str, Any]:
    return {"Rules": [{"ObjectOwnership": ownership}]}


def ownership_of(c: Any, bucket: str) -> str:
    got = c.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    return str(got["Rules"][0]["ObjectOwnership"])


def test_configuration_round_trip(node: NodeProcess) -> None:
    alice, bob = client(node, ALICE), client(node, BOB)
    alice.create_bucket(Bucket="own-conf")
    assert error_of(alice.get_bucket_ownership_controls, Bucket="own-conf") == (
        "OwnershipControlsNotFoundError", 404)
    for o in ("BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced"):
        alice.put_bucket_ownership_controls(Bucket="own-conf", OwnershipControls=rule(o))
        assert ownership_of(alice, "own-conf") == o
    denied(bob.get_bucket_ownership_controls, Bucket="own-conf")
    denied(bob.put_bucket_ownership_controls, Bucket="own-conf",
           OwnershipControls=rule("ObjectWriter"))
    alice.delete_bucket_ownership_controls(Bucket="own-conf")
    assert error_of(alice.get_bucket_ownership_controls, Bucket="own-conf")[1] == 404
    alice.create_bucket(Bucket="own-hdr", ObjectOwnership="BucketOwnerEnforced")
    assert ownership_of(alice, "own-hdr") == "BucketOwnerEnforced"
    assert error_of(alice.create_bucket, Bucket="own-hdr2", ACL="public-read",
                    ObjectOwnership="BucketOwnerEnforced") == (
        "InvalidBucketAclWithObjectOwnership", 400)


def test_bucket_owner_enforced_disables_acls(node: NodeProcess) -> None:
    alice, anon = client(node, ALICE), client(node, None)
    bob_id = user_id(node, BOB)
    alice.create_bucket(Bucket="own-enf", ACL="public-read")
    alice.put_object(Bucket="own-enf", Key="k", Body=b"v", ACL="public-read")
    # a bucket ACL granting others must go first (AWS)
    assert error_of(alice.put_bucket_ownership_controls, Bucket="own-enf",
                    OwnershipControls=rule("BucketOwnerEnforced")) == (
        "InvalidBucketAclWithObjectOwnership", 400)
    alice.put_bucket_acl(Bucket="own-enf", ACL="private")
    alice.put_bucket_ownership_controls(Bucket="own-enf",
                                        OwnershipControls=rule("BucketOwnerEnforced"))
    assert curl(f"{node.s3_url}/own-enf/k")[0] == 403  # the object's ACL no longer counts
    denied(anon.get_object, Bucket="own-enf", Key="k")
    for call, kw in ((alice.put_object, {"Key": "p", "Body": b"p", "ACL": "public-read"}),
                     (alice.put_bucket_acl, {"ACL": "public-read"}),
                     (alice.put_object_acl, {"Key": "k", "GrantRead": f'id="{bob_id}"'})):
        assert error_of(call, Bucket="own-enf", **kw) == ("AccessControlListNotSupported", 400)
    alice.put_object(Bucket="own-enf", Key="p", Body=b"p", ACL="bucket-owner-full-control")
    alice.put_bucket_acl(Bucket="own-enf", ACL="private")
    # reading ACLs still works: the owner's full control
    acl = alice.get_object_acl(Bucket="own-enf", Key="k")
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    assert error_of(alice.get_object, Bucket="own-enf", Key="none")[1] == 404
    # back to ObjectWriter: the stored ACL counts again
    alice.put_bucket_ownership_controls(Bucket="own-enf", OwnershipControls=rule("ObjectWriter"))
    assert curl(f"{node.s3_url}/own-enf/k") == (200, b"v")


def test_object_writer_and_bucket_owner_preferred(node: NodeProcess) -> None:
    alice, bob = client(node, ALICE), client(node, BOB)
    alice_id, bob_id = user_id(node, ALICE), user_id(node, BOB)
    alice.create_bucket(Bucket="own-w", GrantWrite=f'id="{bob_id}"')
    alice.put_bucket_ownership_controls(Bucket="own-w", OwnershipControls=rule("ObjectWriter"))
    bob.put_object(Bucket="own-w", Key="w", Body=b"w", ACL="bucket-owner-full-control")
    assert bob.get_object_acl(Bucket="own-w", Key="w")["Owner"]["ID"] == bob_id
    # BucketOwnerPreferred: bucket-owner-full-control makes the bucket owner the owner
    alice.put_bucket_ownership_controls(Bucket="own-w",
                                        OwnershipControls=rule("BucketOwnerPreferred"))
    bob.put_object(Bucket="own-w", Key="p", Body=b"p", ACL="bucket-owner-full-control")
    assert alice.get_object_acl(Bucket="own-w", Key="p")["Owner"]["ID"] == alice_id
    denied(bob.get_object, Bucket="own-w", Key="p")  # alice's now, private
    bob.put_object(Bucket="own-w", Key="q", Body=b"q")  # no ACL: still bob's
    assert bob.get_object_acl(Bucket="own-w", Key="q")["Owner"]["ID"] == bob_id
    denied(alice.get_object, Bucket="own-w", Key="q")
    # BucketOwnerEnforced: alice owns everything in her bucket, bob's objects included
    # (her bucket's ACL granting bob WRITE has to go first)
    assert error_of(alice.put_bucket_ownership_controls, Bucket="own-w",
                    OwnershipControls=rule("BucketOwnerEnforced"))[0] == \
        "InvalidBucketAclWithObjectOwnership"
    alice.put_bucket_acl(Bucket="own-w", ACL="private")
    alice.put_bucket_ownership_controls(Bucket="own-w",
                                        OwnershipControls=rule("BucketOwnerEnforced"))
    assert alice.get_object(Bucket="own-w", Key="q")["Body"].read() == b"q"
    assert alice.get_object_acl(Bucket="own-w", Key="q")["Owner"]["ID"] == alice_id
    denied(bob.put_object, Bucket="own-w", Key="r", Body=b"r")
