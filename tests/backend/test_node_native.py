"""The native /v1 API of a front node over a backend: the ``aistore`` SDK with
``provider="aws"``, the ``cached`` flag of listings, and ``backend_bck`` set as a prop."""

from __future__ import annotations

import os
from typing import Any

import pytest

from support.node import NodeProcess

from .conftest import Target, client_of

pytestmark = pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])


def sdk(node: NodeProcess) -> Any:
    from aistore.sdk import Client  # type: ignore[import-untyped]

    return Client(node.url, max_pool_size=4)


def test_sdk_with_provider_aws(front_node: NodeProcess, target: Target) -> None:
    from aistore.sdk.list_object_flag import ListObjectFlag  # type: ignore[import-untyped]

    bucket = target.new_bucket()
    direct = target.client()
    data = os.urandom(300_000)
    direct.put_object(Bucket=bucket, Key="remote/one", Body=data, Metadata={"a": "b"})
    direct.put_object(Bucket=bucket, Key="remote/two", Body=b"two")
    client = sdk(front_node)
    assert bucket in [b.name for b in client.cluster().list_buckets(provider="aws")]
    b = client.bucket(bucket, provider="aws")
    b.head()
    assert b.object("remote/one").get_reader().read_all() == data  # cold
    assert b.object("remote/one").get_reader().read_all() == data  # warm
    b.object("local/new").get_writer().put_content(b"written through")
    got = direct.get_object(Bucket=bucket, Key="local/new")["Body"].read()
    assert got == b"written through"
    props = b.object("remote/two").head()
    assert props.present is False  # never fetched
    assert b.object("local/new").head().present is True

    listed = {e.name: e for e in b.list_all_objects(props="name,size,cached")}
    assert sorted(listed) == ["local/new", "remote/one", "remote/two"]
    assert {n for n, e in listed.items() if e.is_cached()} == {"local/new", "remote/one"}
    assert listed["remote/one"].size == len(data)
    cached = b.list_objects(flags=[ListObjectFlag.CACHED]).entries
    assert sorted(e.name for e in cached) == ["local/new", "remote/one"]
    not_cached = b.list_objects(flags=[ListObjectFlag.NOT_CACHED]).entries
    assert [e.name for e in not_cached] == ["remote/two"]
    # the user metadata of what is cached comes with the listing (the mount's modes)
    client_of(front_node).put_object(Bucket=bucket, Key="meta", Body=b"m",
                                     Metadata={"mode": "33188"})
    import httpx

    res = httpx.request("GET", f"{front_node.url}/v1/buckets/{bucket}",
                        params={"provider": "aws"},
                        json={"action": "list", "value": {"prefix": "meta",
                                                          "props": "name,custom"}}).json()
    assert [e["name"] for e in res["entries"]] == ["meta"]
    assert "mode=33188" in res["entries"][0]["custom-md"]
    client_of(front_node).delete_object(Bucket=bucket, Key="meta")
    # paged: the backend's continuation token, echoed
    names = [e.name for e in b.list_objects_iter(page_size=1)]
    assert names == ["local/new", "remote/one", "remote/two"]

    # props of an s3:// bucket: validate_warm_get sees a change made behind the node
    b.make_request("PATCH", "set-bprops", value={"versioning": {"validate_warm_get": True}})
    assert '"validate_warm_get":true' in b.head()["Ais-Bucket-Props"].replace(" ", "")
    direct.put_object(Bucket=bucket, Key="local/new", Body=b"changed behind")
    assert b.object("local/new").get_reader().read_all() == b"changed behind"

    b.object("remote/one").delete()
    assert "Contents" not in direct.list_objects_v2(Bucket=bucket, Prefix="remote/one")
    from aistore.sdk.errors import AISError  # type: ignore[import-untyped]

    with pytest.raises(AISError):
        b.object("remote/one").get_reader().read_all()
    # the local buckets do not show the caches
    assert all(not x.name.startswith("@") for x in client.cluster().list_buckets())


def test_backend_bck_prop(front_node: NodeProcess, target: Target) -> None:
    remote = target.new_bucket()
    direct = target.client()
    direct.put_object(Bucket=remote, Key="k", Body=b"from the backend")
    client = sdk(front_node)
    name = "front-" + remote[-8:]
    b = client.bucket(name)
    b.create()
    b.object("before").get_writer().put_content(b"local only")
    # what `ais bucket props set` sends (the SDK has no call of its own for it)
    b.make_request("PATCH", "set-bprops", value={
        "backend_bck": {"name": remote, "provider": "aws"},
        "versioning": {"validate_warm_get": True}})
    head = b.head()
    assert '"name":"' + remote + '"' in head["Ais-Bucket-Props"].replace(" ", "")
    assert b.object("k").get_reader().read_all() == b"from the backend"
    b.object("w").get_writer().put_content(b"through")
    assert direct.get_object(Bucket=remote, Key="w")["Body"].read() == b"through"
    # validate_warm_get: a change in the backend is seen on the next GET
    direct.put_object(Bucket=remote, Key="k", Body=b"changed behind the node")
    assert b.object("k").get_reader().read_all() == b"changed behind the node"
    # the same through the node's S3 API: /s3/<name> is the ais bucket that fronts remote
    s3 = client_of(front_node)
    assert s3.get_object(Bucket=name, Key="w")["Body"].read() == b"through"
    keys = [c["Key"] for c in s3.list_objects_v2(Bucket=name)["Contents"]]
    assert keys == ["k", "w"]
    s3.put_object(Bucket=name, Key="s3-put", Body=b"x")
    assert direct.head_object(Bucket=remote, Key="s3-put")["ContentLength"] == 1
    # cleared: the bucket is local again (the local-only object is still there)
    b.make_request("PATCH", "set-bprops", value={"backend_bck": {"name": "", "provider": ""}})
    assert b.object("before").get_reader().read_all() == b"local only"
