"""Native Bucket Inventory through a front node (docs/backends.md, "Inventory"): created
by the ``aistore`` SDK and the CLI, listed by boto3 with ``Ais-Bucket-Inventory: true``
(added through botocore's event system, as an S3 client of AIS does) and by the SDK
with ``inventory_name`` / ``ListObjectFlag.NBI``; equal to the backend's own listing at
the snapshot, for every prefix/delimiter/page size; AIS's errors when there is none."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from support.node import NodeProcess

from .conftest import FRONT_KEY, FRONT_SECRET, Target, client_of

INVENTORY_HEADERS = {"Ais-Bucket-Inventory": "true"}


def sdk(node: NodeProcess) -> Any:
    from aistore.sdk import Client  # type: ignore[import-untyped]

    return Client(node.url, max_pool_size=4)


def with_headers(client: Any, headers: dict[str, str]) -> Any:
    """``client`` whose listings carry ``headers`` (before signing: a SigV4 front checks
    them as signed headers)."""
    def add(request: Any, **_: Any) -> None:
        for k, v in headers.items():
            request.headers[k] = v

    for op in ("ListObjectsV2", "ListObjects"):
        client.meta.events.register(f"before-sign.s3.{op}", add)
    return client


def fill(target: Target, bucket: str, keys: list[str]) -> None:
    direct = target.client()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: direct.put_object(Bucket=bucket, Key=k, Body=k.encode()),
                      keys))


def wait_for(what: Callable[[], Any], seconds: float = 120.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


class Native:
    """``/v1`` bucket actions of a front node, SigV4-signed when the node wants it (the
    SDK's requests are not: it is used in the open mode)."""

    def __init__(self, node: NodeProcess, bucket: str, provider: str = "aws") -> None:
        self.node, self.bucket, self.provider = node, bucket, provider

    def call(self, method: str, action: str, name: str = "", value: Any = None,
             query: str = "", path: str = "", msg: dict[str, Any] | None = None) -> Any:
        import httpx

        path = path or f"/v1/buckets/{self.bucket}?provider={self.provider}"
        url = f"{self.node.url}{path}{query}"
        body = json.dumps(msg or {"action": action, "name": name, "value": value}).encode()
        headers = {"content-type": "application/json"}
        if getattr(self.node, "signed", False):
            from botocore.auth import S3SigV4Auth  # type: ignore[import-untyped]
            from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
            from botocore.credentials import Credentials  # type: ignore[import-untyped]

            req = AWSRequest(method=method, url=url, data=body, headers=headers)
            S3SigV4Auth(Credentials(FRONT_KEY, FRONT_SECRET), "s3", "us-east-1").add_auth(req)
            headers = dict(req.headers.items())
        return httpx.request(method, url, headers=headers, content=body, timeout=60)

    def show(self, name: str = "") -> dict[str, Any]:
        r = self.call("GET", "show-inventory", name)
        assert r.status_code == 200, r.text
        shown: dict[str, Any] = r.json()
        return shown

    def create(self, name: str = "", **value: Any) -> str:
        """Create an inventory and wait until it is listed; its name."""
        r = self.call("POST", "create-inventory", value={"name": name, **value})
        assert r.status_code == 200, r.text
        name = name or r.text  # as AIS: the default name is the job's id
        assert wait_for(lambda: [i for i in self.show().values() if i["name"] == name])
        return name

    def destroy(self, name: str = "") -> None:
        r = self.call("DELETE", "destroy-inventory", name)
        assert r.status_code == 200, r.text


def listing(client: Any, v2: bool = True, **params: Any) -> tuple[list[Any], list[str]]:
    """Every page of a listing: (keys with size and ETag, common prefixes)."""
    op = "list_objects_v2" if v2 else "list_objects"
    pages = client.get_paginator(op).paginate(**params)
    keys: list[Any] = []
    prefixes: list[str] = []
    for page in pages:
        keys += [(c["Key"], c["Size"], c["ETag"]) for c in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes


KEYS = ([f"a/{i:04d}" for i in range(1200)] + [f"b/{i % 7}/{i:04d}" for i in range(700)]
        + [f"top-{i:03d}" for i in range(100)] + ["é/x", "z"])


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_s3_listing_from_inventory(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    fill(target, bucket, KEYS)
    name = Native(front_node, bucket).create("snap")
    direct = target.client()
    front = with_headers(client_of(front_node), {**INVENTORY_HEADERS, "Ais-Inv-Name": name})
    for params in [{}, {"Delimiter": "/"}, {"Prefix": "b/", "Delimiter": "/"},
                   {"Prefix": "a/01"}, {"Prefix": "b/3/", "MaxKeys": 7}, {"Prefix": "nope"},
                   {"Delimiter": "/", "MaxKeys": 2}, {"StartAfter": "a/1100", "MaxKeys": 333}]:
        want = listing(direct, Bucket=bucket, **params)
        assert listing(front, Bucket=bucket, **params) == want, params
        if "StartAfter" not in params:  # v1 pages by marker (moto's v1 repeats prefixes)
            assert listing(front, v2=False, Bucket=bucket, **params) == want, params
    assert len(listing(front, Bucket=bucket)[0]) == len(KEYS)
    page = front.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert page["KeyCount"] == 0 and not page["IsTruncated"]

    # a snapshot: what the backend got since is not in it (a normal listing has it)
    direct.put_object(Bucket=bucket, Key="after", Body=b"x")
    assert "after" not in [k for k, _, _ in listing(front, Bucket=bucket, Prefix="af")[0]]
    assert [c["Key"] for c in client_of(front_node).list_objects_v2(
        Bucket=bucket, Prefix="af")["Contents"]] == ["after"]


@pytest.mark.parametrize("target", ["moto", "ceph"], indirect=True)
def test_inventory_lifecycle_and_errors(front_node: NodeProcess, target: Target) -> None:
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]

    bucket = target.new_bucket()
    fill(target, bucket, ["d/1", "d/2", "e", "f/g/h"])
    nbi = Native(front_node, bucket)
    front = with_headers(client_of(front_node), INVENTORY_HEADERS)
    with pytest.raises(ClientError) as err:  # AIS: 400, the bucket has no inventories
        front.list_objects_v2(Bucket=bucket)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "has no inventories" in err.value.response["Error"]["Message"]

    first = nbi.create()  # the default name, AIS's: inv-XXXXXXXXX
    assert first.startswith("inv-")
    info = nbi.show()[f"aws/@#/{bucket}/{first}"]
    assert (info["bucket"], info["ntotal"], info["prefix"]) == (f"s3://{bucket}", 4, "")
    assert info["finished"] >= info["started"] > 0 and info["size"] > 0
    keys = [c["Key"] for c in front.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["d/1", "d/2", "e", "f/g/h"]

    second = nbi.create("only-d", prefix="d/")
    with pytest.raises(ClientError) as err:  # two: which one?
        front.list_objects_v2(Bucket=bucket)
    assert "has 2 inventories" in err.value.response["Error"]["Message"]
    named = with_headers(client_of(front_node), {**INVENTORY_HEADERS, "Ais-Inv-Name": second})
    assert [c["Key"] for c in named.list_objects_v2(Bucket=bucket)["Contents"]] == ["d/1", "d/2"]
    missing = with_headers(client_of(front_node),
                           {**INVENTORY_HEADERS, "Ais-Inv-Name": "not-there"})
    with pytest.raises(ClientError) as err:
        missing.list_objects_v2(Bucket=bucket)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    bad = with_headers(client_of(front_node), {**INVENTORY_HEADERS, "Ais-Inv-Name": "../x"})
    with pytest.raises(ClientError) as err:
        bad.list_objects_v2(Bucket=bucket)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    r = nbi.call("POST", "create-inventory", value={"name": second})
    assert r.status_code == 409, r.text  # AIS: a name is unique per bucket
    assert nbi.call("DELETE", "destroy-inventory", "nope").status_code == 404
    nbi.destroy(second)
    assert list(nbi.show()) == [f"aws/@#/{bucket}/{first}"]
    nbi.destroy()
    assert nbi.show() == {}


@pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])
def test_sdk_listing_and_backend_bck(front_node: NodeProcess, target: Target) -> None:
    """The SDK's calls (open mode: the SDK does not sign): create, show, list by name and
    by flag, destroy - on an ais:// bucket with backend_bck."""
    from aistore.sdk.list_object_flag import ListObjectFlag  # type: ignore[import-untyped]

    remote = target.new_bucket()
    fill(target, remote, [f"k{i:03d}" for i in range(250)] + ["dir/x", "dir/y"])
    client = sdk(front_node)
    name = "inv-front-" + remote[-8:]
    b = client.bucket(name)
    b.create()
    b.make_request("PATCH", "set-bprops", value={"backend_bck": {"name": remote,
                                                                 "provider": "aws"}})
    job = b.create_inventory(name="v1")
    client.job(job_id=job).wait(timeout=120)  # an AIS job (xaction) of kind create-inventory
    assert client.job(job_id=job).get_details().list_snapshots()[0].kind == "create-inventory"
    assert "v1" in [i.name for i in b.show_inventory().values()]
    inv = "v1"
    assert [e.name for e in b.list_objects(inventory_name=inv, prefix="dir/").entries] == [
        "dir/x", "dir/y"]
    want = [f"k{i:03d}" for i in range(250)] + ["dir/x", "dir/y"]
    got = [e.name for e in b.list_all_objects(flags=[ListObjectFlag.NBI], page_size=100)]
    assert got == sorted(want)
    page = b.list_objects(flags=[ListObjectFlag.NBI, ListObjectFlag.NO_RECURSION],
                          props="name,size,cached")
    assert [e.name for e in page.entries][:2] == ["dir/", "k000"]
    # through the node's S3 API: /s3/<name> is the ais:// bucket, its inventory is its own
    front = with_headers(client_of(front_node), {**INVENTORY_HEADERS, "Ais-Inv-Name": inv})
    assert listing(front, Bucket=name, Delimiter="/") == listing(
        target.client(), Bucket=remote, Delimiter="/")
    b.destroy_inventory(name=inv)
    b.make_request("PATCH", "set-bprops", value={"backend_bck": {"name": "", "provider": ""}})
    b.delete()


@pytest.mark.parametrize("target", ["moto"], indirect=True)
@pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])
def test_cli(front_node: NodeProcess, target: Target) -> None:
    """`aisfs nbi create --wait`, `nbi show` (`show nbi`), `ls --inventory [--inv-name]`,
    `nbi rm`."""
    import subprocess
    import sys

    def aisfs(*args: str, ok: bool = True) -> str:
        done = subprocess.run([sys.executable, "-m", "aisfs", *args, "--endpoint",
                               front_node.url], capture_output=True, text=True, timeout=120)
        assert (done.returncode == 0) == ok, done.stderr
        return done.stdout if ok else done.stderr

    bucket = target.new_bucket()
    fill(target, bucket, ["x/1", "x/2", "y"])
    out = aisfs("nbi", "create", f"s3://{bucket}", "--inv-name", "cli1", "--wait")
    assert "cli1" in out and f"s3://{bucket}" in out
    shown = json.loads(aisfs("nbi", "show", f"s3://{bucket}", "--json"))
    assert [(i["name"], i["ntotal"]) for i in shown] == [("cli1", 3)]
    assert f"s3://{bucket}" in aisfs("nbi", "ls")  # every bucket's
    assert json.loads(aisfs("show", "nbi", f"s3://{bucket}", "--json")) == shown  # AIS's
    target.client().put_object(Bucket=bucket, Key="z-later", Body=b"z")
    listed = json.loads(aisfs("ls", f"s3://{bucket}", "--inventory", "--json"))
    assert [e["name"] for e in listed] == ["x/1", "x/2", "y"]
    listed = json.loads(aisfs("ls", f"s3://{bucket}/x/", "--inv-name", "cli1", "--json"))
    assert [e["name"] for e in listed] == ["x/1", "x/2"]
    out = aisfs("nbi", "create", f"s3://{bucket}", "--prefix", "z", "--wait", "--json")
    [made] = json.loads(out)
    assert made["name"].startswith("inv-") and made["ntotal"] == 1 and made["prefix"] == "z"
    aisfs("nbi", "rm", f"s3://{bucket}", "--inv-name", "cli1")
    assert "does not exist" in aisfs("ls", f"s3://{bucket}", "--inv-name", "cli1", ok=False)
    aisfs("nbi", "rm", f"s3://{bucket}")
    assert "has no inventories" in aisfs("ls", f"s3://{bucket}", "--inventory", ok=False)


def job_finished(nbi: Native, job_id: str) -> bool:
    r = nbi.call("GET", "", path="/v1/cluster?what=qryxstats", msg={"ID": job_id})
    assert r.status_code == 200, r.text
    return all(s["end-time"] and not s["abort-err"] for snaps in r.json().values()
               for s in snaps)


@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_inventories_go_with_their_bucket(front_node: NodeProcess, target: Target) -> None:
    """An s3:// bucket's inventories go when evict-remote-bck drops its metadata (not when
    it keeps them); an ais:// bucket's when the bucket is destroyed (a new bucket of the
    same name has none)."""
    remote = target.new_bucket()
    fill(target, remote, ["a", "b/c"])
    nbi = Native(front_node, remote)
    nbi.create("keep")
    for keep, left in (("true", ["keep"]), ("false", [])):
        r = nbi.call("DELETE", "evict-remote-bck", query=f"&keep_bck_md={keep}")
        assert r.status_code == 200, r.text
        assert wait_for(lambda: job_finished(nbi, r.text)), r.text  # noqa: B023
        assert [i["name"] for i in nbi.show().values()] == left, keep
    nbi.create("again")  # the bucket is found again as discovered, inventories anew
    assert [i["name"] for i in nbi.show().values()] == ["again"]
    nbi.destroy()

    name = "inv-gone-" + remote[-8:]
    front = Native(front_node, name, provider="ais")
    for _round in range(2):
        assert front.call("POST", "create-bck").status_code == 200
        r = front.call("PATCH", "set-bprops", value={"backend_bck": {"name": remote,
                                                                     "provider": "aws"}})
        assert r.status_code == 200, r.text
        assert front.show() == {}  # the first round's went with its bucket
        front.create("snap")
        r = front.call("DELETE", "destroy-bck")
        assert r.status_code == 200, r.text
    assert not (front_node.index_dir / "inventory" / "ais" / name).exists()


def test_s3_delete_bucket_drops_its_inventories(front_node: NodeProcess,
                                               target: Target) -> None:
    """An ais:// bucket fronting a remote one, deleted through S3: its inventories go too
    (as with /v1 destroy-bck)."""
    remote = target.new_bucket()
    fill(target, remote, ["a"])
    name = "inv-s3del-" + remote[-8:]
    front = Native(front_node, name, provider="ais")
    assert front.call("POST", "create-bck").status_code == 200
    r = front.call("PATCH", "set-bprops", value={"backend_bck": {"name": remote,
                                                                 "provider": "aws"}})
    assert r.status_code == 200, r.text
    front.create("snap")
    assert (front_node.index_dir / "inventory" / "ais" / name).exists()
    client_of(front_node).delete_bucket(Bucket=name)
    assert not (front_node.index_dir / "inventory" / "ais" / name).exists()
