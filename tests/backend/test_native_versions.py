"""``?versionId=`` on the native API (``/v1/objects/B/K``) of remote buckets: GET (ranges
too), HEAD and DELETE of the backend's version, as the S3 API serves them - from the
cached copy when it is that version, else forwarded and never cached. Against moto with
versioning on, the front open and signed (httpx; signed with the front's key), for an
``s3://`` bucket and an ``ais://`` bucket with ``backend_bck``."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from support.clients import fronting
from support.node import NodeProcess

from .conftest import Target
from .test_jobs_prefetch import native
from .test_remote_copy_version import missing, versioned

pytestmark = pytest.mark.parametrize("target", ["moto", "aisfs"], indirect=True)


def wait_present(http: httpx.Client, path: str, params: dict[str, str]) -> None:
    for _ in range(500):
        if http.head(path, params=params).headers.get("ais-present") == "true":
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} was not cached")


def check_versions(http: httpx.Client, target: Target, remote: str, name: str,
                   params: dict[str, str], v1: str, v2: str) -> None:
    """``name`` (with ``params``) fronts the backend bucket ``remote``, whose ``k`` has
    versions v1 ``one`` and v2 ``two``."""
    direct = target.client()
    path = f"/v1/objects/{name}/k"

    def q(**more: str) -> dict[str, Any]:
        return {**params, **more}

    got = http.get(path, params=q(versionId=v1))
    assert got.status_code == 200 and got.content == b"one"
    assert got.headers["ais-version"] == v1 and got.headers["ais-present"] == "false"
    part = http.get(path, params=q(versionId=v1), headers={"range": "bytes=1-2"})
    assert part.status_code == 206 and part.content == b"ne"
    assert part.headers["content-range"] == "bytes 1-2/3"
    head = http.head(path, params=q(versionId=v1))
    assert head.status_code == 200 and head.headers["content-length"] == "3"
    assert head.headers["ais-version"] == v1 and head.headers["ais-name"] == "k"

    # the current version: cached by a plain GET; then its version is served from there
    assert http.get(path, params=q()).content == b"two"
    wait_present(http, path, q())
    cur = http.get(path, params=q(versionId=v2))
    assert cur.content == b"two" and cur.headers["ais-present"] == "true"
    # an old version's GET never replaced the cached copy
    assert http.get(path, params=q()).content == b"two"

    assert http.get(path, params=q(versionId=missing(v1))).status_code == 404
    assert http.head(path, params=q(versionId=missing(v1))).status_code == 404
    assert http.get(path, params=q(versionId="")).status_code == 400
    assert http.put(path, params=q(versionId=v1), content=b"x").status_code == 501

    # DELETE of the old version: gone from the backend, the current object untouched
    gone = http.delete(path, params=q(versionId=v1))
    assert gone.status_code == 200 and gone.headers["x-amz-version-id"] == v1
    versions = direct.list_object_versions(Bucket=remote, Prefix="k")["Versions"]
    assert [v["VersionId"] for v in versions] == [v2]
    again = http.get(path, params=q())
    assert again.content == b"two" and again.headers["ais-present"] == "true"
    # DELETE of the current version: its cached copy goes with it
    assert http.delete(path, params=q(versionId=v2)).status_code == 200
    assert "Versions" not in direct.list_object_versions(Bucket=remote, Prefix="k")
    assert http.get(path, params=q()).status_code == 404


def test_versions_of_an_s3_bucket(front_node: NodeProcess, target: Target) -> None:
    bucket, v1, v2 = versioned(target)
    with native(front_node) as http:
        check_versions(http, target, bucket, bucket, {"provider": "aws"}, v1, v2)


def test_versions_through_backend_bck(front_node: NodeProcess, target: Target) -> None:
    remote, v1, v2 = versioned(target)
    name = "nv-" + remote[-8:]
    with native(front_node) as http:
        fronting(http, name, remote)
        check_versions(http, target, remote, name, {"provider": "ais"}, v1, v2)


def test_a_marker_and_null(front_node: NodeProcess, target: Target) -> None:
    """A delete marker's version: a 4xx (the backend's: moto's 404 for a GET, 405 for a
    HEAD, as S3); deleting it by id brings the object back. ``null``: the object written
    before versioning."""
    bucket = target.new_bucket()
    direct = target.client()
    direct.put_object(Bucket=bucket, Key="k", Body=b"before")
    direct.put_bucket_versioning(Bucket=bucket,
                                 VersioningConfiguration={"Status": "Enabled"})
    marker = direct.delete_object(Bucket=bucket, Key="k")["VersionId"]
    path, aws = f"/v1/objects/{bucket}/k", {"provider": "aws"}
    with native(front_node) as http:
        assert http.get(path, params=aws).status_code == 404
        assert http.get(path, params={**aws, "versionId": marker}).status_code in (404, 405)
        assert http.head(path, params={**aws, "versionId": marker}).status_code in (404, 405)
        old = http.get(path, params={**aws, "versionId": "null"})
        assert old.status_code == 200 and old.content == b"before"
        assert old.headers["x-amz-version-id"] == "null"
        done = http.delete(path, params={**aws, "versionId": marker})
        assert done.status_code == 200 and done.headers["x-amz-version-id"] == marker
        assert http.get(path, params=aws).content == b"before"


def test_versions_of_an_ais_bucket(front_node: NodeProcess, target: Target) -> None:
    """The store's own versions (an ``ais://`` bucket with versioning on, through S3):
    ``/v1`` GET, HEAD, DELETE ``?versionId=`` as the S3 API's; a locked version stays."""
    from .conftest import client_of

    s3 = client_of(front_node)
    name = "v1ver-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=name, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=name, Key="k", Body=b"two!")["VersionId"]
    path, ais = f"/v1/objects/{name}/k", {"provider": "ais"}
    with native(front_node) as http:
        got = http.get(path, params={**ais, "versionId": v1})
        assert got.status_code == 200 and got.content == b"one"
        assert got.headers["x-amz-version-id"] == v1
        part = http.get(path, params={**ais, "versionId": v1}, headers={"range": "bytes=1-"})
        assert part.status_code == 206 and part.content == b"ne"
        head = http.head(path, params={**ais, "versionId": v1})
        assert head.status_code == 200 and head.headers["content-length"] == "3"
        assert http.get(path, params=ais).content == b"two!"
        assert http.get(path, params={**ais, "versionId": "bogus"}).status_code == 400
        assert http.get(path, params={**ais, "versionId": missing(v1)}).status_code == 404
        assert http.put(path, params={**ais, "versionId": v1}, content=b"x").status_code == 501

        done = http.delete(path, params={**ais, "versionId": v1})
        assert done.status_code == 200 and done.headers["x-amz-version-id"] == v1
        listed = s3.list_object_versions(Bucket=name, Prefix="k")["Versions"]
        assert [v["VersionId"] for v in listed] == [v2]
        # a plain DELETE makes a marker: its version is 405, as S3's
        marker = http.delete(path, params=ais)
        assert marker.headers["x-amz-delete-marker"] == "true"
        mid = marker.headers["x-amz-version-id"]
        assert http.get(path, params={**ais, "versionId": mid}).status_code == 405
        assert http.get(path, params=ais).status_code == 404
        assert http.delete(path, params={**ais, "versionId": mid}).status_code == 200
        assert http.get(path, params=ais).content == b"two!"


def test_a_locked_version_stays(front_node: NodeProcess, target: Target) -> None:
    import datetime

    from .conftest import client_of

    s3 = client_of(front_node)
    name = "v1lock-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    v1 = s3.put_object(Bucket=name, Key="k", Body=b"kept", ObjectLockMode="COMPLIANCE",
                       ObjectLockRetainUntilDate=until)["VersionId"]
    with native(front_node) as http:
        refused = http.delete(f"/v1/objects/{name}/k",
                              params={"provider": "ais", "versionId": v1})
        assert refused.status_code == 403
    assert s3.get_object(Bucket=name, Key="k", VersionId=v1)["Body"].read() == b"kept"
