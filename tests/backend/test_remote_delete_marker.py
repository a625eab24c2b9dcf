"""A DELETE of an ``s3://`` bucket's object passes on the backend's answer: on a
versioned bucket the delete marker it made (``x-amz-delete-marker``, its
``x-amz-version-id``), on an unversioned one neither header."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from support.node import NodeProcess

from .conftest import Target, client_of


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_delete_on_a_versioned_backend_names_its_marker(
    front_node: NodeProcess, target: Target
) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    direct.put_bucket_versioning(Bucket=bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
    v1 = direct.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3 = client_of(front_node)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"

    done = s3.delete_object(Bucket=bucket, Key="k")
    headers = done["ResponseMetadata"]["HTTPHeaders"]
    assert done["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert done["DeleteMarker"] is True and headers["x-amz-delete-marker"] == "true"
    markers = direct.list_object_versions(Bucket=bucket, Prefix="k")["DeleteMarkers"]
    assert [m["VersionId"] for m in markers] == [done["VersionId"]]
    assert done["VersionId"] != v1
    # the current object is the marker: a 404 through the node, the old version stays
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert direct.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_delete_on_an_unversioned_backend_has_no_marker(
    front_node: NodeProcess, target: Target
) -> None:
    bucket = target.new_bucket()
    target.client().put_object(Bucket=bucket, Key="k", Body=b"x")
    s3 = client_of(front_node)
    done = s3.delete_object(Bucket=bucket, Key="k")
    headers = done["ResponseMetadata"]["HTTPHeaders"]
    assert done["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "x-amz-delete-marker" not in headers and "x-amz-version-id" not in headers
    # a missing key is S3's 204 too, without a marker
    again = s3.delete_object(Bucket=bucket, Key="k")
    assert "x-amz-delete-marker" not in again["ResponseMetadata"]["HTTPHeaders"]


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_delete_objects_on_a_versioned_backend_names_the_markers(
    front_node: NodeProcess, target: Target
) -> None:
    """DeleteObjects' ``<Deleted>`` entries carry ``DeleteMarker`` and
    ``DeleteMarkerVersionId`` as S3's do when the backend made a marker."""
    bucket = target.new_bucket()
    direct = target.client()
    direct.put_bucket_versioning(Bucket=bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
    direct.put_object(Bucket=bucket, Key="a", Body=b"1")
    v_b = direct.put_object(Bucket=bucket, Key="b", Body=b"2")["VersionId"]
    s3 = client_of(front_node)
    done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}]})
    [made] = done["Deleted"]
    assert made["Key"] == "a" and made["DeleteMarker"] is True
    markers = direct.list_object_versions(Bucket=bucket, Prefix="a")["DeleteMarkers"]
    assert [m["VersionId"] for m in markers] == [made["DeleteMarkerVersionId"]]
    # removing that marker by its id: the object is back
    marker_id = made["DeleteMarkerVersionId"]
    done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "VersionId": marker_id}, {"Key": "b", "VersionId": v_b}]})
    by_key = {d["Key"]: d for d in done["Deleted"]}
    # (AWS also says DeleteMarker for a marker removed; moto does not tell the node)
    assert by_key["a"]["VersionId"] == marker_id
    assert "DeleteMarker" not in by_key["b"] and by_key["b"]["VersionId"] == v_b
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"1"
