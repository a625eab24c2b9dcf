"""``/v1/daemon/lru`` and ``aisfs start lru``: an admin's route (open and token modes),
a run under the high watermark evicts nothing and says so, a node with
``lru.enabled = false`` runs none, a method the route does not take is a clean 405."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import jwt

from native.conftest import FAST_CONFIG, run_cli, stop_and_check
from support.node import new_node

SECRET = "native-lru-jwt-secret-0123456789abcdef"
JWT_CONFIG = f"""
[store]
fsync = false
[auth]
mode = "jwt"
jwt_secret = "{SECRET}"
[auth.users.alice]
[auth.users.ops]
admin = true
"""


def tok(sub: str) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 600}, SECRET, "HS256")


def test_start_lru_under_the_high_watermark(tmp_path: Path) -> None:
    node = new_node(tmp_path, config=FAST_CONFIG).start()
    try:
        before = httpx.get(f"{node.url}/v1/daemon/lru").json()
        assert before == {"running": False, "pending": False, "enabled": True,
                          "progress": None}
        r = run_cli(node.url, "start", "lru", "--wait")
        assert r.code == 0, r.err
        assert "finished: 0 objects (0B) evicted" in r.out
        assert "(under the high watermark)" in r.out
        prog = httpx.get(f"{node.url}/v1/daemon/lru").json()["progress"]
        assert prog["state"] == "finished" and not prog["above_highwm"]
        assert prog["usage_before"] and prog["usage_before"][0]["total"] > 0
        assert httpx.delete(f"{node.url}/v1/daemon/lru").status_code == 405
        r = run_cli(node.url, "start", "lru", "--json")
        assert r.code == 0 and json.loads(r.out)["progress"]["kind"] == "lru"
        assert "nothing to evict" in node.log()
    finally:
        stop_and_check(node)


def test_lru_disabled_runs_nothing(tmp_path: Path) -> None:
    node = new_node(tmp_path, config=FAST_CONFIG + "[lru]\nenabled = false\n").start()
    try:
        r = run_cli(node.url, "start", "lru", "--wait", "--json")
        assert r.code == 0, r.err
        st = json.loads(r.out)
        assert st["enabled"] is False
        assert st["progress"]["error"] == "lru.enabled is false"
        assert st["progress"]["objects_done"] == 0
    finally:
        stop_and_check(node)


def test_lru_route_is_an_admins(tmp_path: Path) -> None:
    node = new_node(tmp_path, config=JWT_CONFIG).start()
    try:
        alice = {"authorization": f"Bearer {tok('alice')}"}
        assert httpx.post(f"{node.url}/v1/daemon/lru", headers=alice).status_code == 403
        assert httpx.get(f"{node.url}/v1/daemon/lru", headers=alice).status_code == 403
        assert httpx.post(f"{node.url}/v1/daemon/lru").status_code in (401, 403)
        start = {"action": "start", "value": {"Kind": "lru"}}
        assert httpx.put(f"{node.url}/v1/cluster", json=start,
                         headers=alice).status_code == 403
        r = run_cli(node.url, "start", "lru", env={"AIS_AUTHN_TOKEN": tok("alice")})
        assert r.code == 1 and "admin" in r.err
        r = run_cli(node.url, "start", "lru", "--wait", env={"AIS_AUTHN_TOKEN": tok("ops")})
        assert r.code == 0 and "finished" in r.out, r.err
    finally:
        stop_and_check(node)


def test_sdk_starts_lru_and_scrub_as_ais_jobs(tmp_path: Path) -> None:
    """``client.job(job_kind=KIND).start()`` (``PUT /v1/cluster {"action": "start"}``)
    answers the job's id, which ``client.job(id)`` then waits for; a kind aisfs does not
    start from there is a clean 501 naming it."""
    from aistore.sdk import Client
    from aistore.sdk.errors import AISError

    node = new_node(tmp_path, config=FAST_CONFIG).start()
    try:
        client = Client(node.url)
        lru_id = client.job(job_kind="lru").start()
        assert lru_id and " " not in lru_id
        client.job(job_id=lru_id).wait(timeout=60)
        assert client.job(job_id=lru_id).get_details().list_snapshots()[0].kind == "lru"
        prog = httpx.get(f"{node.url}/v1/daemon/lru").json()["progress"]
        assert prog["id"] == lru_id and prog["state"] == "finished"

        scrub_id = client.job(job_kind="scrub").start()
        client.job(job_id=scrub_id).wait(timeout=60)
        snaps = client.job(job_id=scrub_id).get_details().list_snapshots()
        assert [s.kind for s in snaps] == ["scrub"]

        for kind, named in (("resilver", "/v1/daemon/resilver"), ("dsort", "job kind")):
            try:
                client.job(job_kind=kind).start()
                raise AssertionError(f"{kind} started")
            except AISError as e:
                assert e.status_code == 501 and named in e.message and kind in e.message, e
        r = httpx.put(f"{node.url}/v1/cluster", json={"action": "start", "value": {
            "Kind": "lru", "Bck": {"name": "b", "provider": "ais"}}})
        assert r.status_code == 501 and "chosen buckets" in r.text
        r = httpx.put(f"{node.url}/v1/cluster", json={"action": "start", "value": {}})
        assert r.status_code == 400 and "Kind" in r.text
    finally:
        stop_and_check(node)


def test_a_users_sdk_waits_for_a_job_by_its_id(tmp_path: Path) -> None:
    """The cluster routes are an admin's, but one job's progress is anyone's who holds its
    id: the SDK's ``job.wait()`` (``what=qryxstats`` naming the id) works for a user; the
    list of all jobs does not."""
    from aistore.sdk import Client

    node = new_node(tmp_path, config=JWT_CONFIG).start()
    try:
        admin = Client(node.url, token=tok("ops"))
        job_id = admin.job(job_kind="lru").start()
        user = Client(node.url, token=tok("alice"))
        user.job(job_id=job_id).wait(timeout=60)
        assert user.job(job_id=job_id).get_details().list_snapshots()[0].kind == "lru"
        h = {"Authorization": f"Bearer {tok('alice')}"}
        r = httpx.request("GET", f"{node.url}/v1/cluster?what=qryxstats", headers=h,
                          json={"kind": "lru"})
        assert r.status_code == 403, r.text
    finally:
        stop_and_check(node)
