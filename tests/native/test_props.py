"""Bucket props and cluster config through /v1: checksums, mirror copies, features."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import httpx
import pytest
import xxhash
from aistore.sdk import Client
from awscrt import checksums as crt

from support.node import NodeProcess

from .conftest import start, stop_and_check

pytestmark = pytest.mark.timeout(120)

DATA = os.urandom(2_500_000)  # three 1 MiB chunks on the test nodes
EXPECTED = {
    "none": "",
    "xxhash": xxhash.xxh3_64(DATA).hexdigest(),  # the store's "xxhash" (native/cksum.py)
    "xxhash2": xxhash.xxh64(DATA).hexdigest(),
    "md5": hashlib.md5(DATA).hexdigest(),
    "crc32c": f"{crt.crc32c(DATA):08x}",
    "sha256": hashlib.sha256(DATA).hexdigest(),
    "sha512": hashlib.sha512(DATA).hexdigest(),
}


def set_props(url: str, bucket: str, value: dict[str, object]) -> httpx.Response:
    return httpx.patch(
        f"{url}/v1/buckets/{bucket}",
        params={"provider": "ais"},
        json={"action": "set-bprops", "name": "", "value": value},
    )


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_checksum_types_computed_and_validated(shared_node: NodeProcess, kind: str) -> None:
    client = Client(shared_node.url)
    bucket = client.bucket(f"ck-{kind}")
    bucket.create()
    r = set_props(shared_node.url, f"ck-{kind}", {"checksum": {"type": kind}})
    assert r.status_code == 200, r.text
    obj = bucket.object("blob")
    obj.get_writer().put_content(DATA)
    attrs = obj.head(props="checksum")
    assert attrs.checksum_type == kind
    assert attrs.checksum_value == EXPECTED[kind]
    assert obj.get_reader().read_all() == DATA  # validated while streaming
    bucket.delete()


def test_client_checksum_is_checked_end_to_end(shared_node: NodeProcess) -> None:
    url = shared_node.url
    httpx.post(f"{url}/v1/buckets/e2e", json={"action": "create-bck"})
    good = {"ais-checksum-type": "sha256", "ais-checksum-value": hashlib.sha256(b"abc").hexdigest()}
    r = httpx.put(f"{url}/v1/objects/e2e/ok", content=b"abc", headers=good)
    assert r.status_code == 200
    bad = {"ais-checksum-type": "crc32c", "ais-checksum-value": "00000000"}
    r = httpx.put(f"{url}/v1/objects/e2e/bad", content=b"abc", headers=bad)
    assert r.status_code == 400 and "checksum mismatch" in r.json()["message"]
    assert httpx.head(f"{url}/v1/objects/e2e/bad").status_code == 404
    r = httpx.put(
        f"{url}/v1/objects/e2e/md", content=b"x", headers={"ais-custom-md": "k1=v1,k2=v2"}
    )
    assert r.status_code == 200
    assert Client(url).bucket("e2e").object("md").head(props="custom").custom_metadata == {
        "k1": "v1", "k2": "v2",
    }


def test_bad_props_are_refused_with_the_valid_values(shared_node: NodeProcess) -> None:
    url = shared_node.url
    httpx.post(f"{url}/v1/buckets/badprops", json={"action": "create-bck"})
    r = set_props(url, "badprops", {"checksum": {"type": "crc64"}})
    assert r.status_code == 400
    assert "none, xxhash, xxhash2, md5, crc32c, sha256, sha512" in r.json()["message"]
    r = set_props(url, "badprops", {"mirror": {"copies": 0}})
    assert r.status_code == 400
    r = set_props(url, "badprops", {"ec": {"enabled": True}})
    assert r.status_code == 400 and "settable" in r.json()["message"]
    r = set_props(url, "badprops", {"features": "Disable-Cold-GET,Streaming-Cold-GET"})
    assert r.status_code == 400 and "mutually exclusive" in r.json()["message"]
    r = set_props(url, "nobucket", {"checksum": {"type": "md5"}})
    assert r.status_code == 404


def _chunk_files(node: NodeProcess) -> list[set[str]]:
    return [{p.name for p in (mp / "chunks").rglob("*") if p.is_file()} for mp in node.mountpaths]


def test_mirror_copies_put_chunks_on_distinct_mountpaths(shared_node: NodeProcess) -> None:
    url = shared_node.url
    httpx.post(f"{url}/v1/buckets/mirrored", json={"action": "create-bck"})
    r = set_props(url, "mirrored", {"mirror": {"enabled": True, "copies": 2}})
    assert r.status_code == 200 and r.json()["mirror"]["copies"] == 2
    before = _chunk_files(shared_node)
    data = os.urandom(1_500_000)
    httpx.put(f"{url}/v1/objects/mirrored/two", content=data)
    after = _chunk_files(shared_node)
    new = [a - b for a, b in zip(after, before, strict=True)]
    assert len(new[0]) == len(new[1]) == 2  # both chunks on both mountpaths
    assert new[0] == new[1]
    h = httpx.head(f"{url}/v1/objects/mirrored/two", params={"props": "copies"})
    assert h.headers["ais-mirror-copies"] == "2"
    assert httpx.get(f"{url}/v1/objects/mirrored/two").content == data
    # make-n-copies (ais bucket mirror) sets the prop
    r = httpx.post(
        f"{url}/v1/buckets/mirrored", json={"action": "make-n-copies", "value": 1}
    )
    assert r.status_code == 200
    props = json.loads(httpx.head(f"{url}/v1/buckets/mirrored").headers["ais-bucket-props"])
    assert props["mirror"] == {"enabled": False, "copies": 1, "burst_buffer": 128}


def test_cluster_config_and_features_persist(tmp_path: Path) -> None:
    proc = start(tmp_path)
    try:
        url = proc.url
        r = httpx.put(f"{url}/v1/cluster/set-config", params={"checksum.type": "md5"})
        assert r.status_code == 200 and r.json()["checksum"]["type"] == "md5"
        r = httpx.put(
            f"{url}/v1/cluster/set-config", params={"features": "S3-API-via-Root,Fsync-PUT"}
        )
        assert r.status_code == 200
        assert r.json()["features"] == str((1 << 3) | (1 << 4))
        r = httpx.put(f"{url}/v1/cluster/set-config", params={"features": "No-Such-Flag"})
        assert r.status_code == 400
        msg = r.json()["message"]
        for flag in ("S3-API-via-Root", "S3-Presigned-Request", "Fsync-PUT", "Disable-Cold-GET",
                     "Streaming-Cold-GET", "S3-Use-Path-Style"):
            assert flag in msg
        r = httpx.put(
            f"{url}/v1/cluster",
            json={"action": "set-config", "value": {"mirror": {"copies": 2}}},
        )
        assert r.status_code == 200 and r.json()["mirror"]["copies"] == 2
        # S3 at the root now that S3-API-via-Root is on (the flag took effect at run time)
        assert httpx.get(f"{url}/").status_code == 200
        proc.restart()
        url = proc.url
        conf = httpx.get(f"{url}/v1/cluster", params={"what": "config"}).json()
        assert conf["checksum"]["type"] == "md5"
        assert conf["mirror"]["copies"] == 2
        assert conf["feature_names"] == ["Fsync-PUT", "S3-API-via-Root"]
        # a new bucket inherits the cluster defaults
        assert httpx.post(f"{url}/v1/buckets/inherit", json={"action": "create-bck"}).is_success
        props = json.loads(httpx.head(f"{url}/v1/buckets/inherit").headers["ais-bucket-props"])
        assert props["checksum"]["type"] == "md5" and props["mirror"]["copies"] == 2
        httpx.put(f"{url}/v1/objects/inherit/o", content=b"abc")
        h = httpx.head(f"{url}/v1/objects/inherit/o", params={"props": "checksum"})
        assert h.headers["ais-checksum-value"] == hashlib.md5(b"abc").hexdigest()
        r = httpx.put(f"{url}/v1/cluster/set-config", params={"features": "none"})
        assert r.json()["feature_names"] == []
    finally:
        stop_and_check(proc)


@pytest.mark.allow_node_errors  # the cut GET of a tampered object is logged at ERROR
def test_tampered_checksum_cuts_the_get(tmp_path: Path) -> None:
    proc = start(tmp_path)
    try:
        url = proc.url
        client = Client(url)
        bucket = client.bucket("tamper")
        bucket.create()
        set_props(url, "tamper", {"checksum": {"type": "crc32c"}})
        data = os.urandom(2_200_000)
        bucket.object("t").get_writer().put_content(data)
        db = sqlite3.connect(proc.index_dir / "index.db")
        (manifest,) = db.execute(
            "SELECT manifest FROM objects WHERE bucket='tamper' AND key='t'"
        ).fetchone()
        m = json.loads(manifest)
        m["meta"]["extra"]["ais.cksum"]["value"] = "deadbeef"
        db.execute(
            "UPDATE objects SET manifest=? WHERE bucket='tamper' AND key='t'", (json.dumps(m),)
        )
        db.commit()
        db.close()
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{url}/v1/objects/tamper/t")
        # a range is served without whole-object validation
        r = httpx.get(f"{url}/v1/objects/tamper/t", headers={"range": "bytes=0-9"})
        assert r.status_code == 206 and r.content == data[:10]
        # and with validate_warm_get off the object is served as stored
        set_props(url, "tamper", {"checksum": {"validate_warm_get": False}})
        assert httpx.get(f"{url}/v1/objects/tamper/t").content == data
        metrics = httpx.get(f"{url}/metrics").text
        assert "aisfs_checksum_errors_total 1" in metrics
    finally:
        proc.stop()
        log = proc.log()
        assert "checksum mismatch on GET ais://tamper/t" in log
        assert "Traceback" not in log
