"""What the native API offers the mount beyond S3: rename-prefix, listings that carry the
user metadata without a HEAD per entry, and SigV4-signed requests in sigv4 mode."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from support.node import NodeProcess

from .conftest import start, stop_and_check

pytestmark = pytest.mark.timeout(120)


def s3(url: str, **kw: Any) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=url + "/s3", region_name="us-east-1",
                        aws_access_key_id=kw.get("key", "k"),
                        aws_secret_access_key=kw.get("secret", "s"))


def keys(url: str, bucket: str) -> list[str]:
    r = httpx.request("GET", f"{url}/v1/buckets/{bucket}",
                      json={"action": "list", "value": {"props": "name"}})
    assert r.status_code == 200, r.text
    return [e["name"] for e in r.json()["entries"]]


def test_rename_prefix_moves_every_key_and_the_marker(shared_node: NodeProcess) -> None:
    url = shared_node.url
    c = s3(url)
    c.create_bucket(Bucket="renpfx")
    c.put_object(Bucket="renpfx", Key="src/", Body=b"")
    for i in range(50):
        c.put_object(Bucket="renpfx", Key=f"src/f{i:02d}", Body=b"%d" % i,
                     Metadata={"mode": "33188"})
    c.put_object(Bucket="renpfx", Key="src/sub/deep", Body=b"deep")
    c.put_object(Bucket="renpfx", Key="srcx", Body=b"not under src/")
    c.put_object(Bucket="renpfx", Key="dst/f00", Body=b"replaced")
    r = httpx.post(f"{url}/v1/buckets/renpfx",
                   json={"action": "rename-prefix", "name": "src/", "value": {"dst": "dst/"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"renamed": 52}
    got = keys(url, "renpfx")
    assert got == sorted(["dst/", "dst/sub/deep", "srcx"] + [f"dst/f{i:02d}" for i in range(50)])
    o = c.get_object(Bucket="renpfx", Key="dst/f00")
    assert o["Body"].read() == b"0" and o["Metadata"] == {"mode": "33188"}
    # nothing under the source: 0 renamed, not an error
    r = httpx.post(f"{url}/v1/buckets/renpfx",
                   json={"action": "rename-prefix", "name": "src/", "value": {"dst": "x/"}})
    assert r.status_code == 200 and r.json() == {"renamed": 0}
    for bad in ({"action": "rename-prefix", "name": "", "value": {"dst": "x/"}},
                {"action": "rename-prefix", "name": "dst/"},
                {"action": "rename-prefix", "name": "dst/", "value": "x/"}):
        r = httpx.post(f"{url}/v1/buckets/renpfx", json=bad)
        assert r.status_code == 400, (bad, r.text)
    r = httpx.post(f"{url}/v1/buckets/nosuchbucket",
                   json={"action": "rename-prefix", "name": "a/", "value": {"dst": "b/"}})
    assert r.status_code == 404


def test_listing_custom_comes_without_a_head(shared_node: NodeProcess) -> None:
    url = shared_node.url
    c = s3(url)
    c.create_bucket(Bucket="lscustom")
    for i in range(30):
        c.put_object(Bucket="lscustom", Key=f"d/f{i:02d}", Body=b"x",
                     Metadata={"mode": "33261", "uid": str(i), "mtime": "1.5,2"})
    c.put_object(Bucket="lscustom", Key="d/plain", Body=b"y")
    r = httpx.request("GET", f"{url}/v1/buckets/lscustom", json={
        "action": "list",
        "value": {"prefix": "d/", "flags": "2048", "props": "name,size,etag,custom"},
    })
    assert r.status_code == 200, r.text
    ents = {e["name"]: e for e in r.json()["entries"]}
    assert ents["d/f07"]["custom-md"].startswith("ETag=")
    assert "mode=33261" in ents["d/f07"]["custom-md"]
    assert "uid=7" in ents["d/f07"]["custom-md"]
    assert "mtime=1.5%2C2" in ents["d/f07"]["custom-md"]  # aisfs/native.py escapes
    assert "mode=" not in ents["d/plain"]["custom-md"]


async def test_store_listing_carries_user_metadata(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The native listing's "custom" comes from list_objects(with_extra=True): no HEAD."""
    from aisfs.store import StoreConfig, open_store
    from aisfs.store.types import ObjectMeta

    async def body(data: bytes) -> Any:
        yield data

    mp = tmp_path / "mp"
    mp.mkdir()
    cfg = StoreConfig(mountpaths=[mp], index_dir=tmp_path / "index", fsync=False)
    async with open_store(cfg) as store:
        await store.create_bucket("b")
        await store.put_object("b", "d/x", body(b"1"),
                               ObjectMeta(user={"mode": "33188"}, extra={"e": 1}))
        await store.put_object("b", "d/y", body(b"2"), ObjectMeta())
        page = await store.list_objects("b", prefix="d/", with_extra=True)
        assert [(e.key, e.user, e.extra) for e in page.entries] == [
            ("d/x", {"mode": "33188"}, {"e": 1}), ("d/y", {}, {})]
        page = await store.list_objects("b", prefix="d/")
        assert page.entries[0].user is None

        from aisfs_node.native.listing import list_objects
        from aisfs_node.native.wire import Ctx

        async def no_head(*a: Any, **kw: Any) -> Any:
            raise AssertionError("a HEAD per listed entry")

        monkeypatch.setattr(store, "head_object", no_head)
        node = SimpleNamespace(store=store, node_id="n")

        class Http:
            headers: dict[str, str] = {}

        ctx = Ctx(Http())  # type: ignore[arg-type]
        ctx.bucket = "b"
        resp = await list_objects(node, ctx,  # type: ignore[arg-type]
                                  {"value": {"prefix": "d/", "props": "name,custom"}})
        ents = json.loads(resp.body)["entries"]
        assert [(e["name"], e.get("custom-md")) for e in ents] == [("d/x", "mode=33188"),
                                                                   ("d/y", None)]


SIGV4_CONFIG = """
[store]
fsync = false
[auth]
mode = "sigv4"
access_keys = { AKIDNATIVE = "native-secret" }
"""


def signed(method: str, url: str, body: bytes = b"", secret: str = "native-secret",
           unsigned_payload: bool = False, send: bytes | None = None) -> httpx.Response:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=url, data=body,
                     headers={"Content-Type": "application/json"} if body else {})
    req.context["client_config"] = Config(s3={"payload_signing_enabled": not unsigned_payload})
    S3SigV4Auth(Credentials("AKIDNATIVE", secret), "s3", "us-east-1").add_auth(req)
    return httpx.request(method, url, headers=dict(req.headers.items()),
                         content=body if send is None else send)


def test_sigv4_signed_native_requests(tmp_path: Path) -> None:
    proc = start(tmp_path, SIGV4_CONFIG)
    try:
        url = proc.url
        assert httpx.get(f"{url}/v1/daemon?what=smap").status_code in (401, 403)
        r = signed("GET", f"{url}/v1/daemon?what=smap")
        assert r.status_code == 200 and "tmap" in r.json(), r.text
        body = json.dumps({"action": "create-bck"}).encode()
        assert signed("POST", f"{url}/v1/buckets/sig", body).status_code == 200
        r = signed("PUT", f"{url}/v1/objects/sig/a%20b", b"hello")
        assert r.status_code == 200, r.text
        r = signed("PUT", f"{url}/v1/objects/sig/u", b"unsigned", unsigned_payload=True)
        assert r.status_code == 200, r.text
        list_body = json.dumps({"action": "list", "value": {"props": "name,custom"}}).encode()
        r = signed("GET", f"{url}/v1/buckets/sig", list_body, unsigned_payload=True)
        assert [e["name"] for e in r.json()["entries"]] == ["a b", "u"]
        r = signed("GET", f"{url}/v1/objects/sig/a%20b")
        assert r.status_code == 200 and r.content == b"hello"
        # a wrong secret, and a body that is not the one signed
        assert signed("GET", f"{url}/v1/objects/sig/a%20b", secret="nope").status_code == 403
        r = signed("PUT", f"{url}/v1/objects/sig/t", b"signed body", send=b"other body!")
        assert r.status_code == 400 and "x-amz-content-sha256" in r.text, r.text
        assert signed("GET", f"{url}/v1/objects/sig/t").status_code == 404
        ren = json.dumps({"action": "rename-prefix", "name": "a", "value": {"dst": "z"}})
        r = signed("POST", f"{url}/v1/buckets/sig", ren.encode())
        assert r.status_code == 200 and r.json() == {"renamed": 1}
    finally:
        stop_and_check(proc)
