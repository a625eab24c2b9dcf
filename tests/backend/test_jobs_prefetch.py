"""Prefetch and evict jobs (AIS xactions) on a front node over a real backend: through the
``aistore`` SDK unmodified, through /v1 with httpx, with progress, abort and the backend's
own request log showing what was fetched."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from support.moto import MotoServer
from support.node import NodeProcess

from .conftest import FRONT_KEY, FRONT_SECRET, Target

moto_only = pytest.mark.parametrize("target", ["moto"], indirect=True)


def sdk(node: NodeProcess) -> Any:
    from aistore.sdk import Client  # type: ignore[import-untyped]

    return Client(node.url, max_pool_size=4)


class SigV4(httpx.Auth):
    """An S3 SigV4 signature of the whole request, body included (the native API's
    sigv4 mode takes S3-signed requests)."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Any:
        from botocore.auth import S3SigV4Auth  # type: ignore[import-untyped]
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
        from botocore.credentials import Credentials  # type: ignore[import-untyped]

        aws = AWSRequest(method=request.method, url=str(request.url), data=request.content)
        S3SigV4Auth(Credentials(FRONT_KEY, FRONT_SECRET), "s3", "us-east-1").add_auth(aws)
        for name, value in aws.headers.items():
            request.headers[name] = value
        yield request


def native(node: NodeProcess) -> httpx.Client:
    """/v1 as the node's admin: open, or signed with the front's key."""
    auth = SigV4() if getattr(node, "signed", False) else None
    return httpx.Client(base_url=node.url, timeout=30, auth=auth)


@pytest.fixture
def http(front_node: NodeProcess) -> Any:
    with native(front_node) as client:
        yield client


def fill(target: Target, bucket: str, names: list[str], size: int = 4096) -> None:
    s3 = target.client()
    for n in names:
        s3.put_object(Bucket=bucket, Key=n, Body=n.encode().ljust(size, b"."))


def cached(http: httpx.Client, bucket: str) -> list[str]:
    """What the node has cached of ``bucket`` (a /v1 listing with AIS's LsCached)."""
    r = http.request("GET", f"/v1/buckets/{bucket}", params={"provider": "aws"},
                     json={"action": "list", "value": {"flags": 1, "pagesize": 1000}})
    assert r.status_code == 200, r.text
    return sorted(e["name"] for e in r.json()["entries"] or [])


def wait_job(http: httpx.Client, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = http.request("GET", "/v1/cluster", params={"what": "jobs"}, json={"ID": job_id})
        r.raise_for_status()
        jobs = r.json()["jobs"]
        assert jobs, r.text
        if not jobs[0]["running"] or time.monotonic() > deadline:
            return dict(jobs[0])
        time.sleep(0.1)


def backend_gets(moto: MotoServer, bucket: str, key: str) -> int:
    return moto.log_text().count(f'"GET /{bucket}/{key} HTTP')


@moto_only
@pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])  # the SDK: open
def test_sdk_prefetch_template_then_evict(front_node: NodeProcess, target: Target,
                                         moto_server: MotoServer, http: httpx.Client) -> None:
    bucket = target.new_bucket()
    names = [f"shard-{i:03d}.tar" for i in range(12)] + ["other"]
    fill(target, bucket, names)
    client = sdk(front_node)
    b = client.bucket(bucket, provider="aws")
    job_id = b.objects(obj_template="shard-{000..010..2}.tar").prefetch()
    assert job_id
    result = client.job(job_id).wait(timeout=60, verbose=False)
    assert result.success, result
    status = client.job(job_id).status()
    assert status.uuid == job_id and status.end_time > 0 and not status.aborted
    assert cached(http, bucket) == [f"shard-{i:03d}.tar" for i in range(0, 11, 2)]
    # a second prefetch of an overlapping list fetches only what is new
    before = backend_gets(moto_server, bucket, "shard-000.tar")
    job2 = b.objects(obj_names=["shard-000.tar", "shard-001.tar"]).prefetch()
    assert client.job(job2).wait(timeout=60, verbose=False).success
    assert backend_gets(moto_server, bucket, "shard-000.tar") == before
    rec = wait_job(http, job2)
    assert (rec["objects_done"], rec["objects_skipped"], rec["bytes_done"]) == (1, 1, 4096)

    # evict some: the remote keeps them, the next GET is cold again
    ev = b.objects(obj_names=["shard-000.tar", "shard-004.tar"]).evict()
    assert client.job(ev).wait(timeout=60, verbose=False).success
    assert "shard-000.tar" not in cached(http, bucket)
    rec = wait_job(http, ev)  # the bytes the cache gave back (was 0)
    assert (rec["objects_done"], rec["bytes_done"]) == (2, 2 * 4096)
    data = b.object("shard-000.tar").get_reader().read_all()
    assert data.startswith(b"shard-000.tar")
    assert backend_gets(moto_server, bucket, "shard-000.tar") == before + 1
    # that GET's fill lands once the client has its bytes (they are relayed as they come,
    # fill.py): an evict that starts before would find nothing of it to drop
    deadline = time.monotonic() + 30
    while "shard-000.tar" not in cached(http, bucket):
        assert time.monotonic() < deadline, "the cold GET's copy never landed"
        time.sleep(0.05)
    # the whole bucket (keeping its props): nothing cached, everything still remote
    b.evict(keep_md=True)
    jobs = client.cluster().list_jobs_status(job_kind="evict-remote-bck")
    assert jobs
    client.job(jobs[0].uuid).wait(timeout=60, verbose=False)
    assert cached(http, bucket) == []
    rec = wait_job(http, jobs[0].uuid)
    assert rec["bytes_done"] == rec["objects_done"] * 4096 > 0
    assert len(target.client().list_objects_v2(Bucket=bucket)["Contents"]) == len(names)


def test_prefetch_prefix_over_http(
    front_node: NodeProcess, target: Target, http: httpx.Client
) -> None:
    bucket = target.new_bucket()
    fill(target, bucket, [f"logs/{i}" for i in range(25)] + ["data/x"], size=1000)
    r = http.request("POST", f"/v1/buckets/{bucket}", params={"provider": "aws"},
                     json={"action": "prefetch-listrange", "value": {"template": "logs/"}})
    assert r.status_code == 200, r.text
    rec = wait_job(http, r.text)
    assert rec["state"] == "finished", rec
    assert (rec["objects_done"], rec["bytes_done"]) == (25, 25_000)
    assert rec["objects_total"] is None and rec["detail"] == {"prefix": "logs/"}
    assert cached(http, bucket) == sorted(f"logs/{i}" for i in range(25))
    # AIS's job queries
    running = http.request("GET", "/v1/cluster", params={"what": "running_all"}, json={})
    assert running.status_code == 200 and isinstance(running.json(), list)
    snaps = http.request("GET", "/v1/cluster", params={"what": "qryxstats"},
                         json={"ID": r.text}).json()
    (snap,) = [s for per in snaps.values() for s in per]
    assert snap["kind"] == "prefetch-listrange" and snap["stats"]["loc-objs"] == 25
    assert snap["bck"]["provider"] == "aws" and snap["bck"]["name"] == bucket
    # the node's stats answer what=status without a job (as before)
    stats = http.get("/v1/cluster", params={"what": "status"})
    assert stats.status_code == 200 and "snode" in next(iter(stats.json().values()))


@moto_only
def test_missing_object_fails_or_is_counted(
    front_node: NodeProcess, target: Target, http: httpx.Client
) -> None:
    bucket = target.new_bucket()
    fill(target, bucket, ["a", "b"])

    def prefetch(value: dict[str, Any]) -> dict[str, Any]:
        r = http.request("POST", f"/v1/buckets/{bucket}", params={"provider": "aws"},
                         json={"action": "prefetch-listrange", "value": value})
        assert r.status_code == 200, r.text
        return wait_job(http, r.text)

    failed = prefetch({"objnames": ["a", "nope", "b"]})
    assert failed["state"] == "failed" and "nope" in failed["error"], failed
    going_on = prefetch({"objnames": ["a", "nope", "b"], "coer": True})
    assert going_on["state"] == "finished" and going_on["errors"] == 1, going_on
    assert going_on["failed_objects"][0].startswith("nope: NoSuchKey")


@moto_only
def test_refusals(
    front_node: NodeProcess, target: Target, http: httpx.Client
) -> None:
    plain = f"plain-{time.monotonic_ns()}"
    assert http.post(f"/v1/buckets/{plain}", params={"provider": "ais"},
                     json={"action": "create-bck"}).status_code == 200
    for method, action in (("POST", "prefetch-listrange"), ("DELETE", "evict-listrange"),
                           ("DELETE", "evict-remote-bck")):
        r = http.request(method, f"/v1/buckets/{plain}", params={"provider": "ais"},
                         json={"action": action, "value": {"objnames": ["x"]}})
        assert r.status_code == 400 and "not a remote bucket" in r.json()["message"], r.text
    bucket = target.new_bucket()
    for value in ({"template": "a-{5..1}"}, {"objnames": "x"}, {"template": "a-{0..x}"},
                  {"objnames": ["a"], "template": "b{0..1}"}, "x", {"template": "%06d"}):
        r = http.request("POST", f"/v1/buckets/{bucket}", params={"provider": "aws"},
                         json={"action": "prefetch-listrange", "value": value})
        assert r.status_code == 400, (value, r.text)
    r = http.request("GET", "/v1/cluster", params={"what": "status"}, json={"ID": "nosuchjob"})
    assert r.status_code == 404
    r = http.put("/v1/cluster", json={"action": "stop", "value": {"ID": "nosuchjob"}})
    assert r.status_code == 404
    # other bucket actions still reach their routes (the body given back)
    r = http.request("DELETE", f"/v1/buckets/{plain}", params={"provider": "ais"},
                     json={"action": "destroy-bck"})
    assert r.status_code == 200, r.text
    fill(target, bucket, ["gone"])
    r = http.request("DELETE", f"/v1/buckets/{bucket}", params={"provider": "aws"},
                     json={"action": "delete-listrange", "value": {"objnames": ["gone"]}})
    assert r.status_code == 200, r.text
    assert "Contents" not in target.client().list_objects_v2(Bucket=bucket)


@moto_only
def test_abort_mid_job(front_node: NodeProcess, target: Target, http: httpx.Client) -> None:
    """A job of a million names (all missing, counted and gone past) is stopped once it
    has made progress: aborted, with what it did so far; the node keeps serving."""
    bucket = target.new_bucket()
    fill(target, bucket, ["kept"])
    r = http.request("POST", f"/v1/buckets/{bucket}", params={"provider": "aws"},
                     json={"action": "prefetch-listrange",
                           "value": {"template": "m-{0000000..0999999}", "coer": True}})
    assert r.status_code == 200, r.text
    job_id = r.text
    while True:
        rec = http.request("GET", "/v1/cluster", params={"what": "jobs"},
                           json={"ID": job_id}).json()["jobs"][0]
        if rec["errors"] >= 5:
            break
        time.sleep(0.05)
    assert rec["running"] and rec["objects_total"] == 1_000_000
    running = http.request("GET", "/v1/cluster", params={"what": "running_all"}, json={})
    assert f"prefetch-listrange[{job_id}]" in running.json()
    r = http.put("/v1/cluster", json={"action": "stop-xaction", "value": {"ID": job_id}})
    assert r.status_code == 200, r.text
    rec = wait_job(http, job_id)
    assert rec["state"] == "aborted" and rec["errors"] < 1_000_000, rec
    status = http.request("GET", "/v1/cluster", params={"what": "status"},
                          json={"ID": job_id}).json()
    assert status["aborted"] is True and status["end_time"] > 0
    assert len(rec["failed_objects"]) <= 100
    # stopping a finished job is a no-op; the node still serves the bucket
    assert http.put("/v1/cluster", json={"action": "stop",
                                         "value": {"ID": job_id}}).status_code == 200
    r = http.get(f"/v1/objects/{bucket}/kept", params={"provider": "aws"})
    assert r.status_code == 200 and r.content.startswith(b"kept")


@moto_only
@pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])
def test_sdk_abort_and_running_jobs(front_node: NodeProcess, target: Target) -> None:
    bucket = target.new_bucket()
    client = sdk(front_node)
    b = client.bucket(bucket, provider="aws")
    job_id = b.objects(obj_template="n-{0000000..0999999}").prefetch(continue_on_error=True)
    assert f"prefetch-listrange[{job_id}]" in client.cluster().list_running_jobs()
    client.job(job_id).abort()
    result = client.job(job_id).wait(timeout=60, verbose=False)
    assert not result.success and "abort" in (result.error or "")
    assert f"prefetch-listrange[{job_id}]" not in client.cluster().list_running_jobs()


@moto_only
def test_latest_refetches_a_changed_object(
    front_node: NodeProcess, target: Target, http: httpx.Client, moto_server: MotoServer
) -> None:
    bucket = target.new_bucket()
    fill(target, bucket, ["v"], size=10)

    def prefetch(latest: bool) -> dict[str, Any]:
        r = http.request("POST", f"/v1/buckets/{bucket}", params={"provider": "aws"},
                         json={"action": "prefetch-listrange",
                               "value": {"objnames": ["v"], "latest-ver": latest}})
        assert r.status_code == 200, r.text
        return wait_job(http, r.text)

    assert prefetch(False)["objects_done"] == 1
    target.client().put_object(Bucket=bucket, Key="v", Body=b"changed!")
    assert prefetch(False)["objects_skipped"] == 1  # cached: not asked about
    assert http.get(f"/v1/objects/{bucket}/v", params={"provider": "aws"}).content \
        == b"v" + b"." * 9
    rec = prefetch(True)
    assert (rec["objects_done"], rec["bytes_done"]) == (1, 8), rec
    gets = backend_gets(moto_server, bucket, "v")
    assert http.get(f"/v1/objects/{bucket}/v", params={"provider": "aws"}).content \
        == b"changed!"
    assert backend_gets(moto_server, bucket, "v") == gets  # served warm
    assert prefetch(True)["objects_skipped"] == 1  # unchanged now


@moto_only
def test_ais_bucket_with_backend_bck(
    front_node: NodeProcess, target: Target, http: httpx.Client, moto_server: MotoServer
) -> None:
    remote = target.new_bucket()
    fill(target, remote, ["p/1", "p/2", "q"], size=50)
    name = f"front-{remote[-8:]}"
    r = http.post(f"/v1/buckets/{name}", params={"provider": "ais"},
                  json={"action": "create-bck", "value": {"backend_bck": f"s3://{remote}"}})
    assert r.status_code == 200, r.text
    r = http.request("POST", f"/v1/buckets/{name}", params={"provider": "ais"},
                     json={"action": "prefetch-listrange", "value": {"template": "p/"}})
    assert r.status_code == 200, r.text
    rec = wait_job(http, r.text)
    assert rec["buckets"] == [f"ais://{name}"] and rec["objects_done"] == 2, rec
    gets = backend_gets(moto_server, remote, "p/1")
    assert http.get(f"/v1/objects/{name}/p/1", params={"provider": "ais"}).status_code == 200
    assert backend_gets(moto_server, remote, "p/1") == gets  # warm
    r = http.request("DELETE", f"/v1/buckets/{name}", params={"provider": "ais"},
                     json={"action": "evict-remote-bck"})
    assert wait_job(http, r.text)["objects_done"] == 2
    assert http.get(f"/v1/objects/{name}/p/1", params={"provider": "ais"}).status_code == 200
    assert backend_gets(moto_server, remote, "p/1") == gets + 1  # cold again
    # the ais:// bucket keeps its backend_bck (its props are never dropped)
    head = http.head(f"/v1/buckets/{name}", params={"provider": "ais"})
    assert remote in head.headers["ais-bucket-props"]


@pytest.mark.parametrize("target", ["ceph"], indirect=True)
@pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])
def test_prefetch_and_evict_over_ceph(front_node: NodeProcess, target: Target,
                                      http: httpx.Client) -> None:
    bucket = target.new_bucket()
    names = [f"obj-{i:02d}" for i in range(20)]
    fill(target, bucket, names, size=8192)
    r = http.request("POST", f"/v1/buckets/{bucket}", params={"provider": "aws"},
                     json={"action": "prefetch-listrange",
                           "value": {"template": "obj-{00..19}"}})
    rec = wait_job(http, r.text)
    assert rec["state"] == "finished" and rec["bytes_done"] == 20 * 8192, rec
    assert cached(http, bucket) == names
    r = http.request("DELETE", f"/v1/buckets/{bucket}", params={"provider": "aws"},
                     json={"action": "evict-listrange", "value": {"template": "obj-0"}})
    assert wait_job(http, r.text)["objects_done"] == 10
    assert cached(http, bucket) == names[10:]
    r = http.request("DELETE", f"/v1/buckets/{bucket}",
                     params={"provider": "aws", "keep_bck_md": "false"},
                     json={"action": "evict-remote-bck"})
    assert wait_job(http, r.text)["state"] == "finished"
    assert cached(http, bucket) == []
    assert len(target.client().list_objects_v2(Bucket=bucket)["Contents"]) == 20


@moto_only
@pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])
def test_store_jobs_show_through(front_node: NodeProcess, http: httpx.Client) -> None:
    """The store's scrub is listed with the node's jobs (one registry to look at)."""
    r = http.post("/v1/daemon/scrub")
    assert r.status_code == 200, r.text
    scrub_id = r.json()["progress"]["id"]
    jobs = http.request("GET", "/v1/cluster", params={"what": "jobs"}, json={}).json()["jobs"]
    (rec,) = [j for j in jobs if j["id"] == scrub_id]
    assert rec["kind"] == "scrub"
    r = http.put("/v1/cluster", json={"action": "stop", "value": {"ID": scrub_id}})
    assert r.status_code in (200, 501), r.text  # 501 while it runs: the store's to stop


@moto_only
@pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])
def test_sdk_object_range_and_prefix_then_curl(front_node: NodeProcess, target: Target,
                                                http: httpx.Client) -> None:
    import json
    import subprocess

    from aistore.sdk.multiobj import ObjectRange  # type: ignore[import-untyped]

    bucket = target.new_bucket()
    fill(target, bucket, [f"shard-{i:03d}.tar" for i in range(5)] + ["logs/a", "logs/b"])
    client = sdk(front_node)
    b = client.bucket(bucket, provider="aws")
    rng = ObjectRange(prefix="shard-", min_index=1, max_index=3, pad_width=3,
                      suffix=".tar")
    assert client.job(b.objects(obj_range=rng).prefetch()).wait(timeout=60,
                                                                 verbose=False).success
    prefix = ObjectRange(prefix="logs/")  # no indices: a prefix
    assert client.job(b.objects(obj_range=prefix).prefetch()).wait(timeout=60,
                                                                    verbose=False).success
    assert cached(http, bucket) == ["logs/a", "logs/b", "shard-001.tar", "shard-002.tar",
                                    "shard-003.tar"]
    # curl: the job id as text, its status as AIS's JobStatus
    out = subprocess.run(
        ["curl", "-sS", "-X", "DELETE", "-H", "content-type: application/json",
         "-d", json.dumps({"action": "evict-listrange", "value": {"template": "logs/"}}),
         f"{front_node.url}/v1/buckets/{bucket}?provider=aws"],
        capture_output=True, text=True, timeout=30, check=True).stdout
    rec = wait_job(http, out.strip())
    assert rec["kind"] == "evict-listrange" and rec["objects_done"] == 2
    status = subprocess.run(
        ["curl", "-sS", "-X", "GET", "-d", json.dumps({"ID": out.strip()}),
         f"{front_node.url}/v1/cluster?what=status"],
        capture_output=True, text=True, timeout=30, check=True).stdout
    assert json.loads(status)["uuid"] == out.strip()


@moto_only
@pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"])  # page: open
def test_status_page_lists_the_job_registry(front_node: NodeProcess, target: Target,
                                            http: httpx.Client) -> None:
    """The status page (/v1/ui, /v1/ui/status) lists the node's jobs: a running prefetch
    with its bucket and counters, then, stopped, among the last finished."""
    from native.test_dashboard import tables

    bucket = target.new_bucket()
    r = http.request("POST", f"/v1/buckets/{bucket}", params={"provider": "aws"},
                     json={"action": "prefetch-listrange",
                           "value": {"template": "p-{0000000..0999999}", "coer": True}})
    assert r.status_code == 200, r.text
    job_id = r.text
    try:
        running = http.get("/v1/ui/status").json()["jobs"]["running"]
        [shown] = [j for j in running if j["id"] == job_id]
        assert (shown["kind"], shown["bucket"], shown["state"]) == (
            "prefetch-listrange", f"s3://{bucket}", "running")
        assert shown["objects_total"] == 1_000_000
        rows = tables(http.get("/v1/ui").text)["jobs"]
        assert rows[0][:4] == ["Job", "ID", "Bucket", "State"]
        assert ["prefetch-listrange", job_id, f"s3://{bucket}", "running"] in [
            row[:4] for row in rows[1:]]
    finally:
        http.put("/v1/cluster", json={"action": "stop", "value": {"ID": job_id}})
    assert wait_job(http, job_id)["state"] == "aborted"
    jobs = http.get("/v1/ui/status").json()["jobs"]
    assert job_id not in [j["id"] for j in jobs["running"]]
    assert job_id in [j["id"] for j in jobs["finished"]]
    last = tables(http.get("/v1/ui").text)["jobs-last"]
    assert ["prefetch-listrange", job_id, f"s3://{bucket}", "aborted"] in [
        row[:4] for row in last[1:]]
