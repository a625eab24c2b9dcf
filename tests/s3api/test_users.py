"""Users, their keys and buckets' owners through the S3 API: two users, an admin and
anonymous callers, with boto3, the aws CLI and the aisfs CLI, against real nodes."""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from support.clients import have
from support.node import ROOT, NodeProcess, new_node

JWT_SECRET = "jwt-secret-users-test-0123456789abcdef"
ALICE = ("AKALICE", "alice-secret-never-logged")
BOB = ("AKBOB", "bob-secret-never-logged")
ROOTK = ("AKROOT", "root-secret-never-logged")
CONFIG = f"""
[store]
fsync = false
[auth]
mode = "sigv4"
jwt_secret = "{JWT_SECRET}"
[auth.users.alice]
display_name = "Alice A."
access_keys = {{ {ALICE[0]} = "{ALICE[1]}" }}
jwt_subjects = ["alice@sso"]
[auth.users.bob]
access_keys = {{ {BOB[0]} = "{BOB[1]}" }}
[auth.users.root]
admin = true
access_keys = {{ {ROOTK[0]} = "{ROOTK[1]}" }}
"""
SECRETS = [ALICE[1], BOB[1], ROOTK[1], JWT_SECRET]


def client(node: NodeProcess, key: tuple[str, str], config: Any = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=node.s3_url, region_name="us-east-1", aws_access_key_id=key[0],
        aws_secret_access_key=key[1], config=config or Config(retries={"max_attempts": 1}))


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def denied(call: Any, **kw: Any) -> None:
    with pytest.raises(ClientError) as e:
        call(**kw)
    assert code_of(e) in (("AccessDenied", 403), ("403", 403)), code_of(e)


def token(sub: str, admin: bool = False) -> str:
    now = datetime.datetime.now(datetime.UTC)
    return jwt.encode({"sub": sub, "admin": admin, "exp": now + datetime.timedelta(hours=1)},
                      JWT_SECRET, algorithm="HS256")


def aisfs(node: NodeProcess, *args: str, tok: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AIS_ENDPOINT=node.url)
    env.pop("AIS_AUTHN_TOKEN", None)
    if tok:
        env["AIS_AUTHN_TOKEN"] = tok
    return subprocess.run([sys.executable, "-m", "aisfs", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)


def assert_no_secret(node: NodeProcess, extra: list[str] = ()) -> None:  # type: ignore[assignment]
    log = node.log()
    for s in [*SECRETS, *extra]:
        assert s not in log
    for path in node.index_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for s in [*SECRETS, *extra]:
                assert s.encode() not in data, path


@pytest.fixture
def users_node(tmp_path: Path) -> Any:
    node = new_node(tmp_path, config=CONFIG).start()
    yield node
    assert node.stop() == 0
    assert_no_secret(node)


def test_each_user_their_own_buckets(users_node: NodeProcess) -> None:
    alice, bob, root = (client(users_node, k) for k in (ALICE, BOB, ROOTK))
    alice.create_bucket(Bucket="alice-b")
    bob.create_bucket(Bucket="bob-b")
    alice.put_object(Bucket="alice-b", Key="a.txt", Body=b"alice's")
    bob.put_object(Bucket="bob-b", Key="b.txt", Body=b"bob's")
    # ListBuckets: each their own, with their canonical id and display name
    la, lb = alice.list_buckets(), bob.list_buckets()
    assert [b["Name"] for b in la["Buckets"]] == ["alice-b"]
    assert [b["Name"] for b in lb["Buckets"]] == ["bob-b"]
    assert re.fullmatch(r"[0-9a-f]{64}", la["Owner"]["ID"])
    assert la["Owner"]["DisplayName"] == "Alice A."
    assert lb["Owner"]["DisplayName"] == "bob" and lb["Owner"]["ID"] != la["Owner"]["ID"]
    # another user's bucket: read, write, list, head, delete all refused
    denied(alice.get_object, Bucket="bob-b", Key="b.txt")
    denied(alice.put_object, Bucket="bob-b", Key="x", Body=b"x")
    denied(alice.list_objects_v2, Bucket="bob-b")
    denied(alice.delete_object, Bucket="bob-b", Key="b.txt")
    denied(alice.delete_bucket, Bucket="bob-b")
    with pytest.raises(ClientError) as e:
        alice.head_bucket(Bucket="bob-b")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    denied(bob.get_object, Bucket="alice-b", Key="a.txt")
    url = alice.generate_presigned_url("get_object", Params={"Bucket": "bob-b", "Key": "b.txt"})
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(url)
    assert he.value.code == 403
    with pytest.raises(ClientError) as e:
        bob.create_bucket(Bucket="alice-b")
    assert code_of(e) == ("BucketAlreadyExists", 409)
    alice.create_bucket(Bucket="alice-b")  # your own again: 200 in us-east-1
    # listings name the owner by canonical id
    listed = alice.list_objects_v2(Bucket="alice-b", FetchOwner=True)["Contents"][0]
    assert listed["Owner"]["ID"] == la["Owner"]["ID"]
    assert alice.list_objects(Bucket="alice-b")["Contents"][0]["Owner"]["ID"] == la["Owner"]["ID"]
    # the admin acts on every bucket, lists its own
    assert root.get_object(Bucket="bob-b", Key="b.txt")["Body"].read() == b"bob's"
    root.put_object(Bucket="alice-b", Key="from-root", Body=b"r")
    assert alice.get_object(Bucket="alice-b", Key="from-root")["Body"].read() == b"r"
    assert root.list_buckets()["Buckets"] == []
    root.create_bucket(Bucket="root-b")
    assert [b["Name"] for b in root.list_buckets()["Buckets"]] == ["root-b"]
    denied(alice.list_objects_v2, Bucket="root-b")
    # anonymous: refused everywhere
    for path in ("/alice-b/a.txt", "/alice-b", "/"):
        with pytest.raises(urllib.error.HTTPError) as he:
            urllib.request.urlopen(users_node.s3_url + path)
        assert he.value.code == 403 and b"AccessDenied" in he.value.read()
    # SigV2 (s3v2 signer) identifies the same users
    from botocore.config import Config

    v2 = client(users_node, BOB, config=Config(signature_version="s3",
                                              retries={"max_attempts": 1}))
    assert [b["Name"] for b in v2.list_buckets()["Buckets"]] == ["bob-b"]
    denied(v2.get_object, Bucket="alice-b", Key="a.txt")


@pytest.mark.skipif(not have("aws"), reason="aws CLI needed")
def test_aws_cli_two_users(users_node: NodeProcess, tmp_path: Path) -> None:
    def aws(key: tuple[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, AWS_ACCESS_KEY_ID=key[0], AWS_SECRET_ACCESS_KEY=key[1],
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        return subprocess.run(["aws", "--endpoint-url", users_node.s3_url, *args],
                              capture_output=True, text=True, env=env, timeout=120)

    src = tmp_path / "f.txt"
    src.write_text("hello from alice\n")
    assert aws(ALICE, "s3", "mb", "s3://cli-alice").returncode == 0
    assert aws(BOB, "s3", "mb", "s3://cli-bob").returncode == 0
    assert aws(ALICE, "s3", "cp", str(src), "s3://cli-alice/f.txt").returncode == 0
    ls_a = aws(ALICE, "s3", "ls")
    ls_b = aws(BOB, "s3", "ls")
    assert "cli-alice" in ls_a.stdout and "cli-bob" not in ls_a.stdout
    assert "cli-bob" in ls_b.stdout and "cli-alice" not in ls_b.stdout
    r = aws(BOB, "s3", "cp", "s3://cli-alice/f.txt", str(tmp_path / "stolen"))
    assert r.returncode != 0 and "403" in r.stderr + r.stdout
    r = aws(BOB, "s3", "cp", str(src), "s3://cli-alice/bob.txt")
    assert r.returncode != 0 and "AccessDenied" in r.stderr
    r = aws(BOB, "s3", "ls", "s3://cli-alice")
    assert r.returncode != 0 and "AccessDenied" in r.stderr
    r = aws(ROOTK, "s3", "cp", "s3://cli-alice/f.txt", str(tmp_path / "root-copy"))
    assert r.returncode == 0 and (tmp_path / "root-copy").read_text() == "hello from alice\n"
    assert aws(ALICE, "s3api", "list-objects-v2", "--bucket", "cli-alice", "--fetch-owner",
               "--query", "Contents[0].Owner.ID", "--output", "text").stdout.strip() == \
        client(users_node, ALICE).list_buckets()["Owner"]["ID"]


def test_runtime_users_and_keys(users_node: NodeProcess) -> None:
    admin = token("root", admin=False)  # the user root, an admin by its own flag
    plain = token("alice@sso", admin=True)  # alice: the token's claim does not make her one
    r = aisfs(users_node, "auth", "user", "add", "carol", "--json", tok=plain)
    assert r.returncode == 1 and "admin" in r.stderr
    r = aisfs(users_node, "auth", "user", "add", "carol", "--display-name", "Carol C.",
              "--json", tok=admin)
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    carol1 = (made["access_key"], made["secret_key"])
    carol_id = made["user"]["id"]
    assert re.fullmatch(r"[0-9a-f]{64}", carol_id)
    carol = client(users_node, carol1)
    carol.create_bucket(Bucket="carol-b")  # at once, no restart
    carol.put_object(Bucket="carol-b", Key="k", Body=b"carol")
    assert carol.list_buckets()["Owner"] == {"ID": carol_id, "DisplayName": "Carol C."}
    with pytest.raises(ClientError) as e:  # no backend: a missing bucket is missing
        carol.get_object(Bucket="alice-b", Key="a")
    assert code_of(e) == ("NoSuchBucket", 404)
    client(users_node, ALICE).create_bucket(Bucket="alice-b")
    denied(carol.list_objects_v2, Bucket="alice-b")
    denied(client(users_node, ALICE).get_object, Bucket="carol-b", Key="k")
    # a second key given by the admin, then the first removed: refused at once
    r = aisfs(users_node, "auth", "key", "add", "carol", "--access-key", "AKCAROL2",
              "--secret-key", "carol-second-secret", "--json", tok=admin)
    assert r.returncode == 0, r.stderr
    carol2 = ("AKCAROL2", "carol-second-secret")
    assert client(users_node, carol2).get_object(Bucket="carol-b", Key="k")["Body"].read() \
        == b"carol"
    r = aisfs(users_node, "auth", "key", "rm", "carol", carol1[0], tok=admin)
    assert r.returncode == 0, r.stderr
    with pytest.raises(ClientError) as e:
        carol.list_buckets()
    assert code_of(e) == ("InvalidAccessKeyId", 403)
    # taken names and keys, config users: refused
    r = aisfs(users_node, "auth", "user", "add", "dave", "--access-key", ALICE[0],
              "--secret-key", "x", tok=admin)
    assert r.returncode == 1 and "exists" in r.stderr
    r = aisfs(users_node, "auth", "user", "rm", "alice", tok=admin)
    assert r.returncode == 1 and "node config" in r.stderr
    r = aisfs(users_node, "auth", "user", "ls", "--json", tok=admin)
    listed = {u["name"]: u for u in json.loads(r.stdout)}
    assert set(listed) == {"alice", "bob", "root", "carol"}
    assert listed["carol"]["access_keys"] == ["AKCAROL2"] and listed["carol"]["source"] == "runtime"
    assert "secret" not in r.stdout
    # on disk: sealed, 0600, outside the mountpaths
    auth_dir = users_node.index_dir / "auth"
    for name in ("users.json", "node.key"):
        assert stat.S_IMODE((auth_dir / name).stat().st_mode) == 0o600
    extra = [carol1[1], carol2[1]]
    assert_no_secret(users_node, extra)
    for mp in users_node.mountpaths:
        assert not list(mp.rglob("users.json"))
    # a restart keeps carol, her key, her bucket; SIGHUP reloads the store
    users_node.stop()
    users_node.start()
    carol = client(users_node, carol2)
    assert [b["Name"] for b in carol.list_buckets()["Buckets"]] == ["carol-b"]
    assert carol.get_object(Bucket="carol-b", Key="k")["Body"].read() == b"carol"
    r = aisfs(users_node, "auth", "user", "rm", "carol", tok=admin)
    assert r.returncode == 0, r.stderr
    with pytest.raises(ClientError) as e:
        carol.list_buckets()
    assert code_of(e) == ("InvalidAccessKeyId", 403)
    # the admin still reaches the bucket of a removed user
    root = client(users_node, ROOTK)
    assert root.get_object(Bucket="carol-b", Key="k")["Body"].read() == b"carol"
    assert users_node.proc is not None
    users_node.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)  # real time: the reload happens in the node's process, nothing says when
    assert [b["Name"] for b in client(users_node, BOB).list_buckets()["Buckets"]] == []
    assert_no_secret(users_node, extra)


def test_jwt_maps_to_a_user(users_node: NodeProcess) -> None:
    import boto3

    alice = client(users_node, ALICE)
    alice.create_bucket(Bucket="alice-jwt")
    alice.put_object(Bucket="alice-jwt", Key="k", Body=b"via a token")

    def bearer(tok: str, path: str) -> urllib.request.Request:
        return urllib.request.Request(users_node.s3_url + path,
                                      headers={"Authorization": f"Bearer {tok}"})

    # a subject in alice's jwt_subjects, and her name: alice
    for sub in ("alice@sso", "alice"):
        got = urllib.request.urlopen(bearer(token(sub), "/alice-jwt/k")).read()
        assert got == b"via a token"
    # bob's token: bob, refused on alice's bucket; his own bucket works
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(bearer(token("bob", admin=True), "/alice-jwt/k"))
    assert he.value.code == 403
    # a subject no user has: a user of its own, not alice's
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(bearer(token("mallory"), "/alice-jwt/k"))
    assert he.value.code == 403
    # an expired or forged token
    expired = jwt.encode({"sub": "alice", "exp": 1}, JWT_SECRET, algorithm="HS256")
    forged = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, "other-secret-32-bytes"
                        "-long-xxxxxxxx", algorithm="HS256")
    for bad in (expired, forged):
        with pytest.raises(urllib.error.HTTPError) as he:
            urllib.request.urlopen(bearer(bad, "/alice-jwt/k"))
        assert he.value.code == 403
    # native /v1 with the same token: the same user
    r = aisfs(users_node, "ls", "ais://alice-jwt", tok=token("alice@sso"))
    assert r.returncode == 0 and "k" in r.stdout, r.stderr
    r = aisfs(users_node, "ls", "ais://alice-jwt", tok=token("bob"))
    assert r.returncode == 1
    # jwt mode: boto3 carrying the token as X-Amz-Security-Token (AIStore's way)
    users_node.stop()
    assert users_node.config_file is not None
    users_node.config_file.write_text(CONFIG.replace('mode = "sigv4"', 'mode = "jwt"'))
    users_node.start()
    s3 = boto3.client("s3", endpoint_url=users_node.s3_url, region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="y",
                      aws_session_token=token("alice@sso"))
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["alice-jwt"]
    assert s3.get_object(Bucket="alice-jwt", Key="k")["Body"].read() == b"via a token"
    s3b = boto3.client("s3", endpoint_url=users_node.s3_url, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="y",
                       aws_session_token=token("bob"))
    with pytest.raises(ClientError) as e:
        s3b.get_object(Bucket="alice-jwt", Key="k")
    assert code_of(e) == ("AccessDenied", 403)


def test_legacy_access_keys_are_the_admin_aisfs(tmp_path: Path) -> None:
    config = '[store]\nfsync = false\n[auth]\nmode = "sigv4"\n' \
        'access_keys = { AKOLD = "old-secret-value" }\n' \
        '[auth.users.alice]\naccess_keys = { AKALICE = "alice-secret-never-logged" }\n'
    node = new_node(tmp_path, config=config).start()
    try:
        old = client(node, ("AKOLD", "old-secret-value"))
        alice = client(node, ALICE)
        alice.create_bucket(Bucket="hers")
        old.create_bucket(Bucket="legacy")
        assert old.list_buckets()["Owner"]["DisplayName"] == "aisfs"
        assert [b["Name"] for b in old.list_buckets()["Buckets"]] == ["legacy"]
        old.put_object(Bucket="hers", Key="k", Body=b"admin")  # aisfs is an admin
        denied(alice.list_objects_v2, Bucket="legacy")
    finally:
        assert node.stop() == 0
    assert "old-secret-value" not in node.log()
