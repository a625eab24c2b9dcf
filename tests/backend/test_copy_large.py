"""A server-side copy past ``copy_max`` (S3 refuses one CopyObject over 5 GiB; these
fronts set 5 MiB) is a multipart upload of UploadPartCopy ranges in the backend: a copy to
another key with the source's metadata or new metadata, and a copy onto itself (how a
metadata change - the mount's chmod of a big file - is made). Each backend, both auth
modes; the bytes and metadata checked in the backend directly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.node import NodeProcess, new_node

from .conftest import Target, client_of, front_config

MiB = 1024 * 1024


@pytest.fixture(params=[False, True], ids=["open", "signed"])
def small_copies(request: pytest.FixtureRequest, target: Target,
                 tmp_path: Path) -> Iterator[NodeProcess]:
    """A front whose CopyObject takes at most 5 MiB."""
    signed = bool(request.param)
    node = new_node(tmp_path / "front",
                    config=front_config(target, signed, copy_max=5 * MiB)).start()
    node.signed = signed  # type: ignore[attr-defined]
    try:
        yield node
    finally:
        assert node.stop() == 0


def test_a_copy_past_copy_max_is_made_of_part_copies(
    small_copies: NodeProcess, target: Target,
) -> None:
    front_node = small_copies
    bucket = target.new_bucket()
    s3, direct = client_of(front_node), target.client()
    data = os.urandom(12 * MiB + 5)
    direct.put_object(Bucket=bucket, Key="big", Body=data, ContentType="image/png",
                      Metadata={"colour": "blue"}, CacheControl="max-age=9")

    s3.copy_object(Bucket=bucket, Key="kept", CopySource={"Bucket": bucket, "Key": "big"})
    kept = direct.get_object(Bucket=bucket, Key="kept")
    assert kept["Body"].read() == data
    assert kept["ETag"].strip('"').endswith("-3")  # three 5 MiB part copies
    assert kept["ContentType"] == "image/png" and kept["Metadata"] == {"colour": "blue"}
    assert kept["CacheControl"] == "max-age=9"

    s3.copy_object(Bucket=bucket, Key="big", CopySource={"Bucket": bucket, "Key": "big"},
                   MetadataDirective="REPLACE", Metadata={"mode": "33257"},
                   ContentType="text/plain")
    onto = direct.get_object(Bucket=bucket, Key="big")
    assert onto["Body"].read() == data
    assert onto["Metadata"] == {"mode": "33257"} and onto["ContentType"] == "text/plain"
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == data and got["Metadata"] == {"mode": "33257"}
    assert not direct.list_multipart_uploads(Bucket=bucket).get("Uploads")
