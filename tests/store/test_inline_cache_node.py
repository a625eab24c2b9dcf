"""The inline cache through a real node (boto3, open and SigV4): a small object's GET and
HEAD answer the latest version, and bytes verified at the PUT are served from memory even
after its manifest copies are damaged on disk - which a restart (an empty cache) then
finds, as scrub would: an error, never wrong bytes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.clients import s3_client
from support.manifest_copies import copies
from support.node import NodeProcess, new_node

STORE = "[store]\ninline_max = 16384\n"
SIGV4 = STORE + (
    '[auth]\nmode = "sigv4"\n[auth.users.alice]\naccess_keys = { AKALICE = "alice-secret" }\n'
)


def client_for(node: NodeProcess, sig: bool) -> Any:
    import boto3
    from botocore.config import Config

    if not sig:
        return s3_client(node.s3_url)
    return boto3.client(
        "s3", endpoint_url=node.s3_url, region_name="us-east-1",
        aws_access_key_id="AKALICE", aws_secret_access_key="alice-secret",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(params=["open", "sigv4"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[NodeProcess, bool]]:
    sig = request.param == "sigv4"
    node = new_node(tmp_path, config=SIGV4 if sig else STORE).start()
    try:
        yield node, sig
    finally:
        node.stop()


@pytest.mark.allow_node_errors  # the damaged object's GET after the restart logs its error
def test_latest_version_from_memory_damage_found_after_restart(
    served: tuple[NodeProcess, bool],
) -> None:
    node, sig = served
    s3 = client_for(node, sig)
    s3.create_bucket(Bucket="small")
    v1, v2 = os.urandom(4096), os.urandom(5000)
    s3.put_object(Bucket="small", Key="k", Body=v1)
    assert s3.get_object(Bucket="small", Key="k")["Body"].read() == v1
    s3.put_object(Bucket="small", Key="k", Body=v2)
    for _ in range(3):
        assert s3.get_object(Bucket="small", Key="k")["Body"].read() == v2
        assert s3.head_object(Bucket="small", Key="k")["ContentLength"] == len(v2)

    found = copies(node.mountpaths, "small", "k")
    assert found
    for p in found:
        raw = bytearray(p.read_bytes())
        raw[-1] ^= 0xFF  # the last byte of the object, after the JSON
        p.write_bytes(bytes(raw))
    # verified when the PUT wrote them: served from memory, correct
    assert s3.get_object(Bucket="small", Key="k")["Body"].read() == v2

    node.restart()  # the cache is memory only: the disks alone now
    s3 = client_for(node, sig)
    with pytest.raises(ClientError) as e:  # a 5xx before the headers, never wrong bytes
        s3.get_object(Bucket="small", Key="k")["Body"].read()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
    node.forget_errors()
