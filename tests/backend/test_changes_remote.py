"""The change feed does not cover a bucket with a backend (its objects change out of
band): ``GET /v1/buckets/B?what=changes`` answers 501, by name or with provider=aws, and
a mount of it keeps attr_timeout (aisfs_node/native/changes.py, aisfs_mount/notify.py)."""

from __future__ import annotations

import httpx
import pytest

from support.node import NodeProcess

from .conftest import Target, client_of

pytestmark = [pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"]),
              pytest.mark.parametrize("target", ["moto"], indirect=True)]


def test_a_backend_bucket_has_no_feed(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    client_of(front_node).put_object(Bucket=bucket, Key="k", Body=b"x")
    for params in ({"what": "changes"}, {"what": "changes", "provider": "aws"},
                   {"what": "changes", "since": "abc.1", "wait": "1"}):
        r = httpx.get(f"{front_node.url}/v1/buckets/{bucket}", params=params)
        assert r.status_code == 501, (params, r.text)
    # a local bucket of the same node has one
    client_of(front_node).create_bucket(Bucket="localfeed")
    r = httpx.get(f"{front_node.url}/v1/buckets/localfeed", params={"what": "changes"})
    assert r.status_code == 200 and not r.json()["lost"], r.text
