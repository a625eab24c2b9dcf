"""Public access block (issue 16 item 4): Put/Get/DeletePublicAccessBlock and what each
flag does to ACLs and policies, for the owner, another user and anonymous callers
(boto3, curl), against a real sigv4 node."""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.access import ALICE, BOB, client, curl, denied, error_of, start
from support.node import NodeProcess

ALL_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
          "RestrictPublicBuckets": True}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    n = start(tmp_path_factory.mktemp("pab"))
    yield n
    assert n.stop() == 0


def pab(**flags: bool) -> dict[str, bool]:
    return {k: flags.get(k, False) for k in ALL_ON}


def test_configuration_round_trip(node: NodeProcess) -> None:
    alice, bob = client(node, ALICE), client(node, BOB)
    alice.create_bucket(Bucket="pab-conf")
    assert error_of(alice.get_public_access_block, Bucket="pab-conf") == (
        "NoSuchPublicAccessBlockConfiguration", 404)
    alice.put_public_access_block(Bucket="pab-conf",
                                  PublicAccessBlockConfiguration=pab(BlockPublicAcls=True))
    got = alice.get_public_access_block(Bucket="pab-conf")["PublicAccessBlockConfiguration"]
    assert got == pab(BlockPublicAcls=True)
    denied(bob.get_public_access_block, Bucket="pab-conf")
    denied(bob.put_public_access_block, Bucket="pab-conf", PublicAccessBlockConfiguration=pab())
    denied(bob.delete_public_access_block, Bucket="pab-conf")
    alice.delete_public_access_block(Bucket="pab-conf")
    assert error_of(alice.get_public_access_block, Bucket="pab-conf")[1] == 404
    assert error_of(alice.get_public_access_block, Bucket="no-such-pab") == ("NoSuchBucket", 404)


def test_block_public_acls(node: NodeProcess) -> None:
    alice = client(node, ALICE)
    alice.create_bucket(Bucket="pab-block")
    alice.put_public_access_block(Bucket="pab-block",
                                  PublicAccessBlockConfiguration=pab(BlockPublicAcls=True))
    denied(alice.put_object, Bucket="pab-block", Key="k", Body=b"v", ACL="public-read")
    denied(alice.put_bucket_acl, Bucket="pab-block", ACL="public-read")
    alice.put_object(Bucket="pab-block", Key="k", Body=b"v")
    denied(alice.put_object_acl, Bucket="pab-block", Key="k", ACL="authenticated-read")
    denied(alice.create_multipart_upload, Bucket="pab-block", Key="m", ACL="public-read")
    denied(alice.copy_object, Bucket="pab-block", Key="c", CopySource="pab-block/k",
           ACL="public-read-write")
    alice.put_object(Bucket="pab-block", Key="k2", Body=b"v", ACL="private")  # not public
    assert curl(f"{node.s3_url}/pab-block/k")[0] == 403


def test_ignore_public_acls(node: NodeProcess) -> None:
    alice, bob = client(node, ALICE), client(node, BOB)
    alice.create_bucket(Bucket="pab-ignore", ACL="public-read")
    alice.put_object(Bucket="pab-ignore", Key="k", Body=b"v", ACL="public-read")
    assert curl(f"{node.s3_url}/pab-ignore/k") == (200, b"v")
    alice.put_public_access_block(Bucket="pab-ignore",
                                  PublicAccessBlockConfiguration=pab(IgnorePublicAcls=True))
    assert curl(f"{node.s3_url}/pab-ignore/k")[0] == 403
    assert curl(f"{node.s3_url}/pab-ignore")[0] == 403
    denied(bob.get_object, Bucket="pab-ignore", Key="k")
    # the ACLs are kept, only ignored: they count again once the block is gone
    alice.delete_public_access_block(Bucket="pab-ignore")
    assert curl(f"{node.s3_url}/pab-ignore/k") == (200, b"v")


def test_public_policy_blocked_and_restricted(node: NodeProcess) -> None:
    alice, bob, anon = client(node, ALICE), client(node, BOB), client(node, None)
    alice.create_bucket(Bucket="pab-policy")
    alice.put_object(Bucket="pab-policy", Key="k", Body=b"v")
    public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::pab-policy/*"}]})
    alice.put_bucket_policy(Bucket="pab-policy", Policy=public)
    assert anon.get_object(Bucket="pab-policy", Key="k")["Body"].read() == b"v"
    assert bob.get_object(Bucket="pab-policy", Key="k")["Body"].read() == b"v"
    # RestrictPublicBuckets: a public policy lets only the owner in
    alice.put_public_access_block(Bucket="pab-policy",
                                  PublicAccessBlockConfiguration=pab(RestrictPublicBuckets=True))
    denied(anon.get_object, Bucket="pab-policy", Key="k")
    denied(bob.get_object, Bucket="pab-policy", Key="k")
    assert curl(f"{node.s3_url}/pab-policy/k")[0] == 403
    assert alice.get_object(Bucket="pab-policy", Key="k")["Body"].read() == b"v"
    # BlockPublicPolicy: a public policy is refused
    alice.put_public_access_block(Bucket="pab-policy",
                                  PublicAccessBlockConfiguration=pab(BlockPublicPolicy=True))
    denied(alice.put_bucket_policy, Bucket="pab-policy", Policy=public)
    alice.delete_public_access_block(Bucket="pab-policy")
    assert curl(f"{node.s3_url}/pab-policy/k") == (200, b"v")


def test_malformed_configuration(node: NodeProcess) -> None:
    import hashlib

    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    client(node, ALICE).create_bucket(Bucket="pab-bad")
    url = f"{node.s3_url}/pab-bad?publicAccessBlock"
    for body in (b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls>"
                 b"</PublicAccessBlockConfiguration>", b"<nope", b""):
        headers = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
        req = AWSRequest("PUT", url, data=body, headers=headers)
        SigV4Auth(Credentials(*ALICE), "s3", "us-east-1").add_auth(req)
        r = requests.put(url, data=body, headers=dict(req.headers), timeout=30)
        assert r.status_code == 400 and b"<Code>MalformedXML</Code>" in r.content
