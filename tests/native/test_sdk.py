"""The `aistore` Python SDK 2.0.0, unmodified, against a real node's /v1 API."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from aistore.sdk import Client, ListObjectFlag
from aistore.sdk.errors import (
    AISError,
    ErrBckAlreadyExists,
    ErrBckNotFound,
    ErrObjNotFound,
)

from support.node import NodeProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client(shared_node: NodeProcess) -> Client:
    return Client(shared_node.url, timeout=(3, 20))


def test_cluster_map_and_readiness(client: Client, shared_node: NodeProcess) -> None:
    smap = client.cluster().get_info()
    assert len(smap.tmap) == 1 and len(smap.pmap) == 1
    assert smap.proxy_si.daemon_type == "proxy"
    assert client.cluster().get_primary_url() == shared_node.url
    assert client.cluster().is_ready()
    assert client.cluster().get_uuid() == smap.uuid != ""
    target = next(iter(smap.tmap.values()))
    assert target.daemon_type == "target"
    assert target.public_net is not None
    assert target.public_net.direct_url == shared_node.url
    assert client.cluster().list_running_jobs() == []


def test_bucket_lifecycle(client: Client) -> None:
    b = client.bucket("sdk-life")
    b.create()
    with pytest.raises(ErrBckAlreadyExists):
        b.create()
    b.create(exist_ok=True)
    names = [m.name for m in client.cluster().list_buckets()]
    assert "sdk-life" in names
    assert all(m.provider == "ais" for m in client.cluster().list_buckets())
    headers = b.head()
    import json

    props = json.loads(headers["Ais-Bucket-Props"])
    assert props["provider"] == "ais"
    assert props["checksum"]["type"] in ("xxhash", "md5")
    assert props["mirror"]["copies"] == 1
    b.delete()
    with pytest.raises(ErrBckNotFound):
        b.delete()
    b.delete(missing_ok=True)
    with pytest.raises(AISError):
        b.head()
    assert "sdk-life" not in [m.name for m in client.cluster().list_buckets()]


def test_destroy_removes_a_full_bucket(client: Client) -> None:
    b = client.bucket("sdk-full")
    b.create()
    for i in range(5):
        b.object(f"o{i}").get_writer().put_content(b"data")
    b.delete()
    with pytest.raises(ErrBckNotFound):
        b.object("o1").get_reader().read_all()


def test_object_put_get_head_delete(client: Client, tmp_path: Path) -> None:
    b = client.bucket("sdk-obj")
    b.create()
    data = bytes(range(256)) * 4096 + b"tail"  # > 1 MiB: several chunks
    obj = b.object("dir/sub/o.bin")
    obj.get_writer().put_content(data)
    assert obj.get_reader().read_all() == data
    assert obj.get_reader(byte_range="bytes=0-4").read_all() == data[:5]
    assert obj.get_reader(byte_range="bytes=1048570-1048580").read_all() == (
        data[1048570:1048581]
    )
    attrs = obj.head()
    assert attrs.size == len(data)
    assert attrs.present
    props = obj.props
    assert props.size == len(data)

    f = tmp_path / "up.txt"
    f.write_bytes(b"from a file")
    b.object("file.txt").get_writer().put_file(str(f))
    assert b.object("file.txt").get_reader().read_all() == b"from a file"

    obj.delete()
    with pytest.raises(ErrObjNotFound):
        obj.get_reader().read_all()
    with pytest.raises(ErrObjNotFound):
        obj.delete()
    with pytest.raises(ErrBckNotFound):
        client.bucket("sdk-none").object("x").get_reader().read_all()


def test_object_props_carry_the_bucket_checksum(client: Client) -> None:
    b = client.bucket("sdk-md5")
    b.create()
    r = client._request_client  # noqa: SLF001 - the SDK has no set-props call
    r.request(
        "patch", "buckets/sdk-md5", params={"provider": "ais"},
        json={"action": "set-bprops", "name": "", "value": {"checksum": {"type": "md5"}}},
    )
    o = b.object("x")
    o.get_writer().put_content(b"hello")
    attrs = o.head(props="checksum,atime,version,copies,custom,location")
    assert attrs.checksum_type == "md5"
    assert attrs.checksum_value == hashlib.md5(b"hello").hexdigest()
    assert attrs.mirror_copies == 1
    assert attrs.obj_version
    assert attrs.location.startswith("t[")
    entries = b.list_all_objects(props="name,size,checksum,version,copies")
    assert entries[0].checksum == hashlib.md5(b"hello").hexdigest()
    assert entries[0].copies == 1


def test_listing_pages_prefixes_and_virtual_dirs(client: Client) -> None:
    b = client.bucket("sdk-list")
    b.create()
    names = [f"a/{i:02d}" for i in range(7)] + ["b/x/1", "b/x/2", "b/y", "c"]
    for n in names:
        b.object(n).get_writer().put_content(n.encode())
    page = b.list_objects(page_size=3)
    assert [e.name for e in page.entries] == sorted(names)[:3]
    assert page.continuation_token != ""
    assert all(e.is_cached() and e.is_ok() for e in page.entries)
    everything = b.list_all_objects(page_size=3)
    assert [e.name for e in everything] == sorted(names)
    assert [e.size for e in everything] == [len(n) for n in sorted(names)]
    assert [e.name for e in b.list_objects_iter(prefix="b/", page_size=2)] == [
        "b/x/1", "b/x/2", "b/y",
    ]
    assert [e.name for e in b.list_all_objects(prefix="a/", page_size=4)] == names[:7]
    # exactly-full last page: an empty page follows, ending with an empty token
    assert len(b.list_all_objects(prefix="a/", page_size=7)) == 7
    top = b.list_all_objects(flags=[ListObjectFlag.NO_RECURSION])
    assert [(e.name, bool(e.flags & (1 << 8))) for e in top] == [
        ("a/", True), ("b/", True), ("c", False),
    ]
    sub = b.list_all_objects(prefix="b/", flags=[ListObjectFlag.NO_RECURSION], page_size=1)
    assert [e.name for e in sub] == ["b/x/", "b/y"]
    after = b.list_objects(start_after="b/y")
    assert [e.name for e in after.entries] == ["c"]


def test_errors_are_4xx_with_ais_text(shared_node: NodeProcess) -> None:
    import httpx

    r = httpx.get(f"{shared_node.url}/v1/objects/nobucket/k", params={"provider": "ais"})
    assert r.status_code == 404
    assert 'bucket "ais://nobucket" does not exist' in r.json()["message"]
    r = httpx.get(f"{shared_node.url}/v1/buckets", params={"provider": "aws"})
    assert r.status_code == 400
    r = httpx.post(f"{shared_node.url}/v1/buckets/Bad_Name", params={"provider": "ais"})
    assert r.status_code == 400
    r = httpx.head(f"{shared_node.url}/v1/buckets/nobucket", params={"provider": "ais"})
    assert r.status_code == 404
    assert "ais://nobucket" in r.headers["hdr-error"]
