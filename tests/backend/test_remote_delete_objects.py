"""DeleteObjects on a remote bucket whose backend keeps versions: each ``<Deleted>`` is
what the backend answered for its key, as AWS writes it - a marker made
(``DeleteMarker``, ``DeleteMarkerVersionId``), a version removed (``VersionId``; a marker
removed also ``DeleteMarker`` and ``DeleteMarkerVersionId`` when the backend says so:
an aisfs backend does, moto does not), a missing key counted as deleted. Against moto
and a SigV4 aisfs node as backends, the front open and signed; and for an ``ais://``
bucket with ``backend_bck``."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.node import NodeProcess

from .conftest import Target, cached, client_of, wait_cached

VERSIONED = ["moto", "aisfs"]


def versioned_bucket(target: Target) -> str:
    bucket = target.new_bucket()
    target.client().put_bucket_versioning(Bucket=bucket,
                                          VersioningConfiguration={"Status": "Enabled"})
    return bucket


def markers(direct: Any, bucket: str, key: str) -> list[str]:
    listed = direct.list_object_versions(Bucket=bucket, Prefix=key)
    return [m["VersionId"] for m in listed.get("DeleteMarkers", []) if m["Key"] == key]


@pytest.mark.parametrize("target", VERSIONED, indirect=True)
def test_each_entry_is_the_backends_answer(front_node: NodeProcess, target: Target) -> None:
    bucket = versioned_bucket(target)
    direct = target.client()
    direct.put_object(Bucket=bucket, Key="plain", Body=b"p")
    v_old = direct.put_object(Bucket=bucket, Key="two", Body=b"old")["VersionId"]
    v_new = direct.put_object(Bucket=bucket, Key="two", Body=b"new")["VersionId"]
    s3 = client_of(front_node)
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"p"
    wait_cached(s3, bucket, "plain")

    done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "plain"}, {"Key": "two", "VersionId": v_old}, {"Key": "never"}]})
    assert "Errors" not in done
    assert [d["Key"] for d in done["Deleted"]] == ["plain", "two", "never"]
    made, version, missing = done["Deleted"]
    assert made["DeleteMarker"] is True and "VersionId" not in made
    assert [made["DeleteMarkerVersionId"]] == markers(direct, bucket, "plain")
    assert version == {"Key": "two", "VersionId": v_old}
    # a missing key: a marker on a versioned backend (S3 makes one), counted as deleted
    assert missing["Key"] == "never"
    if "DeleteMarker" in missing:
        assert [missing["DeleteMarkerVersionId"]] == markers(direct, bucket, "never")

    # the marker hides the object through the node; the older version is still there
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="plain")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    versions = direct.list_object_versions(Bucket=bucket, Prefix="two")["Versions"]
    assert [v["VersionId"] for v in versions] == [v_new]
    assert s3.get_object(Bucket=bucket, Key="two")["Body"].read() == b"new"

    # the marker removed by its id: the object is back
    marker = made["DeleteMarkerVersionId"]
    done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "plain", "VersionId": marker}]})
    [removed] = done["Deleted"]
    assert removed["Key"] == "plain" and removed["VersionId"] == marker
    if target.name == "aisfs":  # a backend that says it was a marker (AWS does too)
        assert removed["DeleteMarker"] is True and removed["DeleteMarkerVersionId"] == marker
    else:  # moto's DELETE ?versionId= of a marker has no x-amz-delete-marker
        assert "DeleteMarker" not in removed
    assert markers(direct, bucket, "plain") == []
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"p"


@pytest.mark.parametrize("target", VERSIONED, indirect=True)
def test_quiet_lists_nothing_deleted(front_node: NodeProcess, target: Target) -> None:
    bucket = versioned_bucket(target)
    direct = target.client()
    direct.put_object(Bucket=bucket, Key="a", Body=b"1")
    s3 = client_of(front_node)
    done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}], "Quiet": True})
    assert "Deleted" not in done and "Errors" not in done
    assert len(markers(direct, bucket, "a")) == 1


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_unversioned_backend_has_no_marker(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    target.client().put_object(Bucket=bucket, Key="a", Body=b"1")
    s3 = client_of(front_node)
    done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})
    assert done["Deleted"] == [{"Key": "a"}, {"Key": "b"}]
    assert "Contents" not in target.client().list_objects_v2(Bucket=bucket)


@pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])
@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_ais_bucket_with_backend_bck(front_node: NodeProcess, target: Target) -> None:
    """``/s3/NAME`` of an ``ais://NAME`` fronting a versioned backend answers the same."""
    import httpx

    remote = versioned_bucket(target)
    direct = target.client()
    v1 = direct.put_object(Bucket=remote, Key="k", Body=b"1")["VersionId"]
    name = "dm-" + remote[-8:]
    url = f"{front_node.url}/v1/buckets/{name}"
    httpx.post(url, params={"provider": "ais"}, json={"action": "create-bck"}).raise_for_status()
    httpx.patch(url, params={"provider": "ais"}, json={
        "action": "set-bprops",
        "value": {"backend_bck": {"name": remote, "provider": "aws"}}}).raise_for_status()
    s3 = client_of(front_node)
    got = s3.get_object(Bucket=name, Key="k")
    assert got["Body"].read() == b"1" and cached(got) in ("true", "false")
    done = s3.delete_objects(Bucket=name, Delete={"Objects": [
        {"Key": "k"}, {"Key": "k", "VersionId": v1}]})
    made, gone = done["Deleted"]
    assert made["DeleteMarker"] is True and [made["DeleteMarkerVersionId"]] == \
        markers(direct, remote, "k")
    assert gone == {"Key": "k", "VersionId": v1}
    assert "Versions" not in direct.list_object_versions(Bucket=remote, Prefix="k")
