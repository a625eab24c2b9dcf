"""Object ACLs per version (issue 16 item 2, as AWS): Get/PutObjectAcl with a versionId
read and set that version's ACL, a version keeps its ACL once an overwrite makes it
non-current, reads of a version are decided on its own ACL; a delete marker has no ACL
(405), an unknown version is NoSuchVersion. boto3 against a real sigv4 node (alice, bob,
anonymous), the aws CLI and curl against it, and boto3 against an open node."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.access import (
    ALICE,
    ALL_USERS,
    BOB,
    client,
    curl,
    denied,
    error_of,
    grants,
    start,
    user_id,
)
from support.node import NodeProcess, new_node


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    n = start(tmp_path_factory.mktemp("aclv"))
    yield n
    assert n.stop() == 0


def versioned(c: Any, bucket: str, **create: Any) -> None:
    c.create_bucket(Bucket=bucket, **create)
    c.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def test_each_version_keeps_its_own_acl(node: NodeProcess) -> None:
    alice, anon = client(node, ALICE), client(node, None)
    versioned(alice, "vacl")
    v1 = alice.put_object(Bucket="vacl", Key="k", Body=b"one", ACL="public-read")["VersionId"]
    v2 = alice.put_object(Bucket="vacl", Key="k", Body=b"two")["VersionId"]
    assert (ALL_USERS, "READ") in grants(alice.get_object_acl(Bucket="vacl", Key="k",
                                                              VersionId=v1))
    for acl in (alice.get_object_acl(Bucket="vacl", Key="k", VersionId=v2),
                alice.get_object_acl(Bucket="vacl", Key="k")):
        assert grants(acl) == {(acl["Owner"]["ID"], "FULL_CONTROL")}
    # anonymous reads the old version (its ACL), not the current one (its own)
    got = anon.get_object(Bucket="vacl", Key="k", VersionId=v1)
    assert got["Body"].read() == b"one"
    denied(anon.get_object, Bucket="vacl", Key="k")
    denied(anon.get_object, Bucket="vacl", Key="k", VersionId=v2)
    assert curl(f"{node.s3_url}/vacl/k?versionId={v1}") == (200, b"one")
    # a version's ACL is set on that version alone
    alice.put_object_acl(Bucket="vacl", Key="k", VersionId=v2, ACL="public-read")
    assert anon.get_object(Bucket="vacl", Key="k")["Body"].read() == b"two"
    alice.put_object_acl(Bucket="vacl", Key="k", VersionId=v1, ACL="private")
    denied(anon.get_object, Bucket="vacl", Key="k", VersionId=v1)
    assert anon.get_object(Bucket="vacl", Key="k", VersionId=v2)["Body"].read() == b"two"
    # the current's ACL set without a versionId is its version's too
    alice.put_object_acl(Bucket="vacl", Key="k", ACL="private")
    acl = alice.get_object_acl(Bucket="vacl", Key="k", VersionId=v2)
    assert grants(acl) == {(acl["Owner"]["ID"], "FULL_CONTROL")}
    # and survives the overwrite that makes it non-current
    alice.put_object_acl(Bucket="vacl", Key="k", ACL="public-read")
    alice.put_object(Bucket="vacl", Key="k", Body=b"three")
    assert anon.get_object(Bucket="vacl", Key="k", VersionId=v2)["Body"].read() == b"two"
    denied(anon.get_object, Bucket="vacl", Key="k")


def test_grant_to_another_user_on_one_version(node: NodeProcess) -> None:
    alice, bob = client(node, ALICE), client(node, BOB)
    bob_id = user_id(node, BOB)
    versioned(alice, "vgrant")
    v1 = alice.put_object(Bucket="vgrant", Key="k", Body=b"one")["VersionId"]
    alice.put_object(Bucket="vgrant", Key="k", Body=b"two")
    denied(bob.get_object, Bucket="vgrant", Key="k", VersionId=v1)
    owner = alice.get_object_acl(Bucket="vgrant", Key="k", VersionId=v1)["Owner"]
    alice.put_object_acl(Bucket="vgrant", Key="k", VersionId=v1, AccessControlPolicy={
        "Owner": owner, "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]},
             "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": bob_id}, "Permission": "READ"},
            {"Grantee": {"Type": "CanonicalUser", "ID": bob_id}, "Permission": "READ_ACP"},
        ]})
    assert bob.get_object(Bucket="vgrant", Key="k", VersionId=v1)["Body"].read() == b"one"
    assert (bob_id, "READ") in grants(bob.get_object_acl(Bucket="vgrant", Key="k",
                                                         VersionId=v1))
    denied(bob.get_object, Bucket="vgrant", Key="k")  # the current is not shared
    denied(bob.get_object_acl, Bucket="vgrant", Key="k")
    denied(bob.put_object_acl, Bucket="vgrant", Key="k", VersionId=v1, ACL="public-read")


def test_a_version_another_user_wrote_stays_theirs(node: NodeProcess) -> None:
    alice, bob = client(node, ALICE), client(node, BOB)
    bob_id = user_id(node, BOB)
    versioned(alice, "vowner", GrantWrite=f'id="{bob_id}"')
    vb = bob.put_object(Bucket="vowner", Key="k", Body=b"bob's")["VersionId"]
    alice.put_object(Bucket="vowner", Key="k", Body=b"alice's")
    acl = bob.get_object_acl(Bucket="vowner", Key="k", VersionId=vb)
    assert acl["Owner"]["ID"] == bob_id and grants(acl) == {(bob_id, "FULL_CONTROL")}
    denied(alice.get_object, Bucket="vowner", Key="k", VersionId=vb)  # not hers to read
    bob.put_object_acl(Bucket="vowner", Key="k", VersionId=vb,
                       ACL="bucket-owner-full-control")
    assert alice.get_object(Bucket="vowner", Key="k", VersionId=vb)["Body"].read() == b"bob's"
    assert bob.get_object_acl(Bucket="vowner", Key="k", VersionId=vb)["Owner"]["ID"] == bob_id


def test_markers_unknown_and_deleted_versions(node: NodeProcess) -> None:
    alice = client(node, ALICE)
    versioned(alice, "vgone")
    v1 = alice.put_object(Bucket="vgone", Key="k", Body=b"one", ACL="public-read")["VersionId"]
    marker = alice.delete_object(Bucket="vgone", Key="k")["VersionId"]
    assert error_of(alice.get_object_acl, Bucket="vgone", Key="k",
                    VersionId=marker) == ("MethodNotAllowed", 405)
    assert error_of(alice.put_object_acl, Bucket="vgone", Key="k", VersionId=marker,
                    ACL="private") == ("MethodNotAllowed", 405)
    assert error_of(alice.get_object_acl, Bucket="vgone", Key="k",
                    VersionId="0" * 32) == ("NoSuchVersion", 404)
    assert error_of(alice.get_object_acl, Bucket="vgone", Key="k",
                    VersionId="not-an-id") == ("InvalidArgument", 400)
    assert (ALL_USERS, "READ") in grants(alice.get_object_acl(Bucket="vgone", Key="k",
                                                              VersionId=v1))
    alice.delete_object(Bucket="vgone", Key="k", VersionId=v1)
    assert error_of(alice.get_object_acl, Bucket="vgone", Key="k",
                    VersionId=v1) == ("NoSuchVersion", 404)


def test_null_version_keeps_its_acl_when_versioning_starts(node: NodeProcess) -> None:
    alice, anon = client(node, ALICE), client(node, None)
    alice.create_bucket(Bucket="vnull")
    alice.put_object(Bucket="vnull", Key="k", Body=b"null", ACL="public-read")
    assert (ALL_USERS, "READ") in grants(alice.get_object_acl(Bucket="vnull", Key="k",
                                                              VersionId="null"))
    alice.put_bucket_versioning(Bucket="vnull", VersioningConfiguration={"Status": "Enabled"})
    alice.put_object(Bucket="vnull", Key="k", Body=b"new")
    assert (ALL_USERS, "READ") in grants(alice.get_object_acl(Bucket="vnull", Key="k",
                                                              VersionId="null"))
    assert anon.get_object(Bucket="vnull", Key="k", VersionId="null")["Body"].read() == b"null"
    denied(anon.get_object, Bucket="vnull", Key="k")
    # suspended: a new null version replaces it, and its ACL with it
    alice.put_bucket_versioning(Bucket="vnull",
                                VersioningConfiguration={"Status": "Suspended"})
    alice.put_object(Bucket="vnull", Key="k", Body=b"null 2")
    acl = alice.get_object_acl(Bucket="vnull", Key="k", VersionId="null")
    assert grants(acl) == {(acl["Owner"]["ID"], "FULL_CONTROL")}
    denied(anon.get_object, Bucket="vnull", Key="k", VersionId="null")


def test_open_node_version_acls(tmp_path: Path) -> None:
    n = new_node(tmp_path).start()
    try:
        c = client(n, ("any", "thing"))
        versioned(c, "open-v")
        v1 = c.put_object(Bucket="open-v", Key="k", Body=b"one")["VersionId"]
        v2 = c.put_object(Bucket="open-v", Key="k", Body=b"two")["VersionId"]
        c.put_object_acl(Bucket="open-v", Key="k", VersionId=v1, ACL="public-read")
        assert (ALL_USERS, "READ") in grants(c.get_object_acl(Bucket="open-v", Key="k",
                                                              VersionId=v1))
        for acl in (c.get_object_acl(Bucket="open-v", Key="k", VersionId=v2),
                    c.get_object_acl(Bucket="open-v", Key="k")):
            assert (ALL_USERS, "READ") not in grants(acl)
        assert error_of(c.get_object_acl, Bucket="open-v", Key="k",
                        VersionId="0" * 32) == ("NoSuchVersion", 404)
    finally:
        assert n.stop() == 0


def test_a_lock_change_keeps_the_objects_acl(node: NodeProcess) -> None:
    """A legal hold or retention republishes the object's record (a new generation):
    its ACL is its version's, so it stays."""
    alice, anon = client(node, ALICE), client(node, None)
    alice.create_bucket(Bucket="vlock", ObjectLockEnabledForBucket=True)
    v1 = alice.put_object(Bucket="vlock", Key="k", Body=b"held",
                          ACL="public-read")["VersionId"]
    alice.put_object_legal_hold(Bucket="vlock", Key="k", LegalHold={"Status": "ON"})
    assert anon.get_object(Bucket="vlock", Key="k")["Body"].read() == b"held"
    assert (ALL_USERS, "READ") in grants(alice.get_object_acl(Bucket="vlock", Key="k"))
    alice.put_object_legal_hold(Bucket="vlock", Key="k", VersionId=v1,
                                LegalHold={"Status": "OFF"})
    assert (ALL_USERS, "READ") in grants(alice.get_object_acl(Bucket="vlock", Key="k",
                                                              VersionId=v1))


@pytest.mark.skipif(shutil.which("aws") is None, reason="aws CLI not installed")
def test_aws_cli_version_acls(node: NodeProcess, tmp_path: Path) -> None:
    alice = client(node, ALICE)
    versioned(alice, "vcli")
    v1 = alice.put_object(Bucket="vcli", Key="f", Body=b"one")["VersionId"]
    alice.put_object(Bucket="vcli", Key="f", Body=b"two")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ALICE[0], AWS_SECRET_ACCESS_KEY=ALICE[1],
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))

    def aws(*args: str) -> str:
        return subprocess.run(["aws", "--endpoint-url", node.s3_url, "s3api", *args],
                              capture_output=True, text=True, env=env, check=True,
                              timeout=60).stdout

    aws("put-object-acl", "--bucket", "vcli", "--key", "f", "--version-id", v1,
        "--acl", "public-read")
    got = json.loads(aws("get-object-acl", "--bucket", "vcli", "--key", "f",
                         "--version-id", v1))
    assert (ALL_USERS, "READ") in grants(got)
    assert (ALL_USERS, "READ") not in grants(json.loads(aws(
        "get-object-acl", "--bucket", "vcli", "--key", "f")))
    assert curl(f"{node.s3_url}/vcli/f?versionId={v1}") == (200, b"one")
    assert curl(f"{node.s3_url}/vcli/f")[0] == 403


def test_tags_of_a_version_keep_its_acl_and_lock(node: NodeProcess) -> None:
    """PutObjectTagging of a non-current version rewrites its record: its ACL, legal hold
    and retention stay; the current null version's tag change keeps its ACL once an
    overwrite makes it non-current."""
    alice, anon = client(node, ALICE), client(node, None)
    alice.create_bucket(Bucket="vtags", ObjectLockEnabledForBucket=True)
    v1 = alice.put_object(Bucket="vtags", Key="k", Body=b"one", ACL="public-read",
                          ObjectLockLegalHoldStatus="ON")["VersionId"]
    alice.put_object(Bucket="vtags", Key="k", Body=b"two")
    alice.put_object_tagging(Bucket="vtags", Key="k", VersionId=v1,
                             Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    assert anon.get_object(Bucket="vtags", Key="k", VersionId=v1)["Body"].read() == b"one"
    assert (ALL_USERS, "READ") in grants(alice.get_object_acl(Bucket="vtags", Key="k",
                                                              VersionId=v1))
    assert alice.get_object_legal_hold(Bucket="vtags", Key="k",
                                       VersionId=v1)["LegalHold"]["Status"] == "ON"
    assert error_of(alice.delete_object, Bucket="vtags", Key="k",
                    VersionId=v1) == ("AccessDenied", 403)
    alice.delete_object_tagging(Bucket="vtags", Key="k", VersionId=v1)
    assert anon.get_object(Bucket="vtags", Key="k", VersionId=v1)["Body"].read() == b"one"
    alice.put_object_legal_hold(Bucket="vtags", Key="k", VersionId=v1,
                                LegalHold={"Status": "OFF"})
    # the null version: tagged while current, then kept by an overwrite
    alice.create_bucket(Bucket="vtagnull")
    alice.put_object(Bucket="vtagnull", Key="k", Body=b"null", ACL="public-read")
    alice.put_object_tagging(Bucket="vtagnull", Key="k",
                             Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    alice.put_bucket_versioning(Bucket="vtagnull",
                                VersioningConfiguration={"Status": "Enabled"})
    alice.put_object(Bucket="vtagnull", Key="k", Body=b"new")
    assert anon.get_object(Bucket="vtagnull", Key="k",
                           VersionId="null")["Body"].read() == b"null"
    denied(anon.get_object, Bucket="vtagnull", Key="k")
    denied(anon.put_object_tagging, Bucket="vtagnull", Key="k", VersionId="null",
           Tagging={"TagSet": []})


def test_acls_of_an_index_from_before_version_acls(tmp_path: Path) -> None:
    """An index an older aisfs made has object ACL rows and no version_acls: the node
    gives each object's ACL to its version, so an overwrite keeps it on the version."""
    n = start(tmp_path)
    try:
        alice, anon = client(n, ALICE), client(n, None)
        versioned(alice, "vold")
        v1 = alice.put_object(Bucket="vold", Key="k", Body=b"one",
                              ACL="public-read")["VersionId"]
        alice.create_bucket(Bucket="nold")
        alice.put_object(Bucket="nold", Key="k", Body=b"null", ACL="public-read")
        assert n.stop() == 0
        db = sqlite3.connect(n.index_dir / "index.db")  # as the older aisfs left it
        db.execute("DROP TABLE version_acls")
        db.execute("DELETE FROM meta WHERE name = 'version_acls_backfilled'")
        db.commit()
        db.close()
        n.start()
        alice, anon = client(n, ALICE), client(n, None)  # a new port
        alice.put_object(Bucket="vold", Key="k", Body=b"two")
        alice.put_bucket_versioning(Bucket="nold",
                                    VersioningConfiguration={"Status": "Enabled"})
        alice.put_object(Bucket="nold", Key="k", Body=b"new")
        assert anon.get_object(Bucket="vold", Key="k", VersionId=v1)["Body"].read() == b"one"
        assert anon.get_object(Bucket="nold", Key="k",
                               VersionId="null")["Body"].read() == b"null"
        assert (ALL_USERS, "READ") in grants(alice.get_object_acl(Bucket="vold", Key="k",
                                                                  VersionId=v1))
        denied(anon.get_object, Bucket="vold", Key="k")
        denied(anon.get_object, Bucket="nold", Key="k")
    finally:
        assert n.stop() == 0
