"""DeleteObjects on a remote bucket whose backend keeps versions: each ``<Deleted>`` is
what the backend answered for its key, as AWS writes it - a marker made
(``DeleteMarker``, ``DeleteMarkerVersionId``), a version removed (``VersionId``; a marker
removed also ``DeleteMarker`` and ``DeleteMarkerVersionId`` when the backend says so:
an aisfs backend and Ceph do, moto does not), a missing key counted as deleted. Against
moto, Ceph RGW and a SigV4 aisfs node as backends, the front open and signed; and for an ``ais://``
bucket with ``backend_bck``."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.node import NodeProcess
from support.raw_backend import RawBackend

from .conftest import Target, cached, client_of, raw_front, wait_cached

VERSIONED = ["moto", "aisfs"]


def versioned_bucket(target: Target) -> str:
    bucket = target.new_bucket()
    target.client().put_bucket_versioning(Bucket=bucket,
                                          VersioningConfiguration={"Status": "Enabled"})
    return bucket


def markers(direct: Any, bucket: str, key: str) -> list[str]:
    listed = direct.list_object_versions(Bucket=bucket, Prefix=key)
    return [m["VersionId"] for m in listed.get("DeleteMarkers", []) if m["Key"] == key]


@pytest.mark.parametrize("target", [*VERSIONED, "ceph"], indirect=True)
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
    if target.name != "moto":  # a backend that says it was a marker (as AWS does)
        assert removed["DeleteMarker"] is True and removed["DeleteMarkerVersionId"] == marker
    else:  # moto does not say so
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


class RefusingBatch(RawBackend):
    """moto behind a proxy that refuses every DeleteObjects (501 NotImplemented, as an S3
    without multi-object delete answers) and passes everything else on."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.split("//", 1)[1]
        self.batches = 0
        self.deletes = 0

    def handle(self, conn: socket.socket) -> None:
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            head, _, pending = pending.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            length = int({k.lower(): v for k, v in headers.items()}.get("content-length", 0))
            while len(pending) < length:
                pending += conn.recv(65536)
            body, pending = pending[:length], pending[length:]
            if method == "POST" and "delete" in target.split("?", 1)[-1].split("&"):
                self.batches += 1
                text = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented'
                        b"</Code><Message>no multi-object delete</Message></Error>")
                conn.sendall(b"HTTP/1.1 501 Not Implemented\r\nContent-Type: application/xml"
                             b"\r\nContent-Length: %d\r\n\r\n" % len(text) + text)
                continue
            if method == "DELETE":
                self.deletes += 1
            up = http.client.HTTPConnection(self.upstream, timeout=30)
            up.request(method, target, body=body or None, headers={
                k: v for k, v in headers.items() if k.lower() not in ("host", "connection")})
            resp = up.getresponse()
            data = resp.read()
            out = [f"HTTP/1.1 {resp.status} {resp.reason}"]
            out += [f"{k}: {v}" for k, v in resp.getheaders()
                    if k.lower() not in ("content-length", "connection", "transfer-encoding")]
            out.append(f"Content-Length: {len(data)}")
            conn.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + data)
            up.close()


@pytest.fixture
def refusing(moto_server: Any) -> Iterator[RefusingBatch]:
    proxy = RefusingBatch(moto_server.endpoint)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture(params=[False, True], ids=["open", "signed"])
def refusing_front(request: pytest.FixtureRequest, tmp_path: Path,
                   refusing: RefusingBatch) -> Iterator[NodeProcess]:
    yield from raw_front(tmp_path, refusing.port, bool(request.param))


def test_a_backend_without_delete_objects(refusing_front: NodeProcess,
                                          refusing: RefusingBatch, moto_server: Any) -> None:
    """A backend that refuses DeleteObjects whole gets a DELETE per key (the node
    remembers: the next DeleteObjects goes key by key at once); the answer is the same."""
    target = Target("moto", moto_server.endpoint, moto_server.access_key,
                    moto_server.secret_key)
    bucket = versioned_bucket(target)
    direct = target.client()
    keys = [f"k{i:03d}" for i in range(40)]
    for k in keys:
        direct.put_object(Bucket=bucket, Key=k, Body=k.encode())
    s3 = client_of(refusing_front)
    assert s3.get_object(Bucket=bucket, Key="k000")["Body"].read() == b"k000"
    wait_cached(s3, bucket, "k000")

    done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": k} for k in keys[:20]] + [{"Key": "never"}]})
    assert [d["Key"] for d in done["Deleted"]] == keys[:20] + ["never"]
    assert all(d["DeleteMarker"] is True for d in done["Deleted"][:20])
    assert (refusing.batches, refusing.deletes) == (1, 21)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="k000")  # the cached copy went with it
    done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": k} for k in keys[20:]], "Quiet": True})
    assert "Deleted" not in done and "Errors" not in done
    assert (refusing.batches, refusing.deletes) == (1, 41)
    assert "Contents" not in direct.list_objects_v2(Bucket=bucket)


def test_many_keys_keep_their_order(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    keys = [f"o{(i * 7919) % 1000:04d}" for i in range(300)]
    for k in keys[::2]:
        direct.put_object(Bucket=bucket, Key=k, Body=b"x")
    s3 = client_of(front_node)
    done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert [d["Key"] for d in done["Deleted"]] == keys and "Errors" not in done
    assert "Contents" not in direct.list_objects_v2(Bucket=bucket)


@pytest.mark.parametrize("front_node", [True], indirect=True, ids=["signed"])
@pytest.mark.parametrize("target", ["moto"], indirect=True)
def test_keys_the_access_check_refuses_stay(front_node: NodeProcess, target: Target) -> None:
    """The keys the node's access check refuses are answered AccessDenied and never sent
    to the backend; the others are deleted (a user who does not own the bucket, then an
    ``ais://`` bucket with ``backend_bck`` whose policy lets them delete under ``tmp/``)."""
    import json
    import uuid

    import boto3
    from botocore.config import Config

    from support.clients import fronting

    from .test_jobs_prefetch import native

    bucket = target.new_bucket()
    direct = target.client()
    for k in ("a", "b", "tmp/x"):
        direct.put_object(Bucket=bucket, Key=k, Body=b"x")
    admin = client_of(front_node)
    admin.head_bucket(Bucket=bucket)
    name = "dora" + uuid.uuid4().hex[:6]
    key, secret = "AK" + name.upper(), "dora-secret-" + name
    with native(front_node) as http:
        http.post("/v1/users", json={"name": name, "access_key": key, "secret_key": secret}
                  ).raise_for_status()
    dora = boto3.client("s3", endpoint_url=front_node.s3_url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1},
                                      s3={"addressing_style": "path"}))
    with pytest.raises(ClientError) as e:  # not the bucket's owner: refused whole
        dora.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"},
                                                               {"Key": "tmp/x"}]})
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    left = {o["Key"] for o in direct.list_objects_v2(Bucket=bucket)["Contents"]}
    assert left == {"a", "b", "tmp/x"}

    # an ais:// bucket with backend_bck keeps a bucket policy of its own (an s3:// one's
    # are the backend's: 501): it lets dora delete under tmp/ only
    name_bck = "pol-" + bucket[-8:]
    with native(front_node) as http:
        fronting(http, name_bck, bucket)
    admin.put_bucket_policy(Bucket=name_bck, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam:::user/{name}"},
            "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{name_bck}/tmp/*"}]}))
    done = dora.delete_objects(Bucket=name_bck, Delete={"Objects": [{"Key": "a"},
                                                                    {"Key": "tmp/x"}]})
    assert [d["Key"] for d in done["Deleted"]] == ["tmp/x"]
    assert [(e["Key"], e["Code"]) for e in done["Errors"]] == [("a", "AccessDenied")]
    left = {o["Key"] for o in direct.list_objects_v2(Bucket=bucket)["Contents"]}
    assert left == {"a", "b"}
