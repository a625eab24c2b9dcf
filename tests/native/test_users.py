"""The native API's identities: a non-admin is refused the cluster routes and others'
buckets, an admin is not; auth.metrics closes /metrics and /health."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import jwt

from native.conftest import run_cli
from support.node import new_node

SECRET = "native-users-jwt-secret-0123456789ab"
CONFIG = f"""
[store]
fsync = false
[auth]
mode = "jwt"
jwt_secret = "{SECRET}"
metrics = "auth"
[auth.users.alice]
jwt_subjects = ["alice@sso"]
[auth.users.bob]
[auth.users.ops]
admin = true
"""


def tok(sub: str, admin: bool = False) -> str:
    return jwt.encode({"sub": sub, "admin": admin, "exp": int(time.time()) + 600}, SECRET,
                      "HS256")


def test_admin_routes_and_owners(tmp_path: Path) -> None:
    node = new_node(tmp_path, config=CONFIG).start()
    try:
        url = node.url
        alice, bob, ops = tok("alice@sso"), tok("bob", admin=True), tok("ops")
        h = {t: {"authorization": f"Bearer {t}"} for t in (alice, bob, ops)}
        # the cluster routes: refused to users (bob's token claim does not make him admin)
        for user in (alice, bob):
            assert httpx.get(f"{url}/v1/daemon/mountpaths", headers=h[user]).status_code == 403
            assert httpx.get(f"{url}/v1/cluster", params={"what": "config"},
                             headers=h[user]).status_code == 403
            assert httpx.put(f"{url}/v1/cluster/set-config", params={"features": "none"},
                             headers=h[user]).status_code == 403
            assert httpx.get(f"{url}/v1/users", headers=h[user]).status_code == 403
            assert httpx.get(f"{url}/v1/daemon", params={"what": "smap"},
                             headers=h[user]).status_code == 200
        r = run_cli(url, "node", "mountpath", "ls", env={"AIS_AUTHN_TOKEN": alice})
        assert r.code == 1 and "admin" in r.err
        r = run_cli(url, "config", "cluster", "checksum.type=md5", env={"AIS_AUTHN_TOKEN": bob})
        assert r.code == 1
        r = run_cli(url, "auth", "user", "ls", env={"AIS_AUTHN_TOKEN": alice})
        assert r.code == 1
        # the admin: every route
        assert httpx.get(f"{url}/v1/daemon/mountpaths", headers=h[ops]).status_code == 200
        r = run_cli(url, "config", "cluster", "checksum.type=md5", env={"AIS_AUTHN_TOKEN": ops})
        assert r.code == 0, r.err
        r = run_cli(url, "auth", "user", "ls", env={"AIS_AUTHN_TOKEN": ops})
        assert r.code == 0 and "alice" in r.out and "ops" in r.out
        # buckets: each their own
        src = tmp_path / "f.txt"
        src.write_text("alice's\n")
        as_alice, as_bob = {"AIS_AUTHN_TOKEN": alice}, {"AIS_AUTHN_TOKEN": bob}
        assert run_cli(url, "bucket", "create", "ais://alb", env=as_alice).code == 0
        assert run_cli(url, "bucket", "create", "ais://bob-b", env=as_bob).code == 0
        assert run_cli(url, "put", str(src), "ais://alb/f", env=as_alice).code == 0
        r = run_cli(url, "ls", "--json", env={"AIS_AUTHN_TOKEN": alice})
        assert "alb" in r.out and "bob-b" not in r.out, r.out
        for args in (["get", "ais://alb/f", str(tmp_path / "x")], ["ls", "ais://alb"],
                     ["put", str(src), "ais://alb/g"], ["bucket", "rm", "ais://alb"],
                     ["bucket", "props", "set", "ais://alb", "mirror.copies=2"]):
            r = run_cli(url, *args, env={"AIS_AUTHN_TOKEN": bob})
            assert r.code == 1, args
        r = run_cli(url, "get", "ais://alb/f", str(tmp_path / "y"), env={"AIS_AUTHN_TOKEN": ops})
        assert r.code == 0 and (tmp_path / "y").read_text() == "alice's\n"
        r = run_cli(url, "ls", "--json", env={"AIS_AUTHN_TOKEN": ops})  # the admin sees all
        assert "alb" in r.out and "bob-b" in r.out
        r = run_cli(url, "bucket", "props", "reset", "ais://alb", env={"AIS_AUTHN_TOKEN": alice})
        assert r.code == 0, r.err
        r = run_cli(url, "ls", "ais://alb", env={"AIS_AUTHN_TOKEN": bob})  # still alice's
        assert r.code == 1
        # the aistore SDK as alice
        from aistore.sdk import Client

        sdk = Client(url, token=alice)
        assert sdk.bucket("alb").object("f").get_reader().read_all() == b"alice's\n"
        # auth.metrics = "auth": probes need a caller
        for probe in ("/metrics", "/health", "/v1/health"):
            assert httpx.get(url + probe).status_code == 401, probe
            assert httpx.get(url + probe, headers=h[alice]).status_code == 200, probe
    finally:
        assert node.stop() == 0
    assert SECRET not in node.log()
