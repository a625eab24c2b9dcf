"""The `aisfs` CLI as a subprocess: every `ais` line of the seed, translated, and the rest."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import jwt
import pytest

from support.node import NodeProcess

from .conftest import InProcessCli, run_cli, start, stop_and_check

pytestmark = pytest.mark.timeout(180)


def test_seed_ais_lines(shared_node: NodeProcess, tmp_path: Path) -> None:
    """../shared/seed/ais-s3-compat.md, each `ais` command with `aisfs` in its place."""
    url = shared_node.url
    (tmp_path / "file.txt").write_bytes(b"hello from the seed\n" * 50)

    r = run_cli(url, "bucket", "create", "ais://demo")
    assert r.code == 0, r.err
    # ais bucket props set ais://demo checksum.type=md5
    r = run_cli(url, "bucket", "props", "set", "ais://demo", "checksum.type=md5")
    assert r.code == 0, r.err
    assert "checksum.type" in r.out and "md5" in r.out
    # ais config cluster checksum.type=md5
    r = run_cli(url, "config", "cluster", "checksum.type=md5")
    assert r.code == 0, r.err
    # ais put file.txt ais://demo/obj
    r = run_cli(url, "put", "file.txt", "ais://demo/obj", cwd=tmp_path)
    assert r.code == 0, r.err
    assert 'PUT "file.txt" => ais://demo/obj' in r.out
    # ais get ais://demo/obj output.txt
    r = run_cli(url, "get", "ais://demo/obj", "output.txt", cwd=tmp_path)
    assert r.code == 0, r.err
    assert (tmp_path / "output.txt").read_bytes() == (tmp_path / "file.txt").read_bytes()
    # ais object show ais://demo/obj
    r = run_cli(url, "object", "show", "ais://demo/obj")
    assert r.code == 0, r.err
    md5 = hashlib.md5((tmp_path / "file.txt").read_bytes()).hexdigest()
    assert f"md5[{md5}]" in r.out and "1000B" in r.out
    # ais config cluster features S3-Presigned-Request
    r = run_cli(url, "config", "cluster", "features", "S3-Presigned-Request")
    assert r.code == 0, r.err
    assert "S3-Presigned-Request" in r.out
    # ais bucket props set BUCKET checksum.type=md5 (the FAQ line, bucket without scheme)
    r = run_cli(url, "bucket", "props", "set", "demo", "checksum.type=md5")
    assert r.code == 0, r.err

    # and what they did, seen through the API
    conf = httpx.get(f"{url}/v1/cluster", params={"what": "config"}).json()
    assert conf["checksum"]["type"] == "md5"
    assert conf["feature_names"] == ["S3-Presigned-Request"]
    assert conf["features"] == str(1 << 9)  # AIS's bit for S3-Presigned-Request
    r = run_cli(url, "config", "cluster", "features", "none")
    assert r.code == 0, r.err
    r = run_cli(url, "config", "cluster", "checksum.type=xxhash")
    assert r.code == 0, r.err


def test_buckets_and_props(cli: InProcessCli, shared_node: NodeProcess) -> None:
    url = shared_node.url
    assert cli("bucket", "create", "ais://cli-b1", "ais://cli-b2").code == 0
    r = run_cli(url, "bucket", "create", "ais://cli-b1")
    assert r.code == 1 and 'bucket "ais://cli-b1" already exists' in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1
    assert cli("bucket", "create", "ais://cli-b1", "--ignore-error").code == 0
    r = cli("bucket", "ls", "--json")
    assert r.code == 0
    assert {"cli-b1", "cli-b2"} <= {b["name"] for b in json.loads(r.out)}
    r = cli("bucket", "ls")
    assert "ais://cli-b1" in r.out

    r = cli("bucket", "props", "set", "ais://cli-b1", "mirror.copies=2",
                "versioning.enabled=false", "features=Fsync-PUT")
    assert r.code == 0, r.err
    r = cli("bucket", "props", "show", "ais://cli-b1", "--json")
    props = json.loads(r.out)
    assert props["mirror"] == {"enabled": True, "copies": 2, "burst_buffer": 128}
    assert props["versioning"]["enabled"] is False
    assert props["feature_names"] == ["Fsync-PUT"]
    r = cli("bucket", "props", "show", "ais://cli-b1", "mirror")
    assert "mirror.copies" in r.out and "checksum" not in r.out

    r = cli("bucket", "props", "set", "ais://cli-b1", "checksum.type=crc64")
    assert r.code == 1
    assert "xxhash2" in r.err and "sha512" in r.err  # the valid types are listed
    r = cli("bucket", "props", "set", "ais://cli-b1", "no.such=1")
    assert r.code == 2 and "settable" in r.err
    r = cli("bucket", "props", "set", "ais://cli-b1", "features=S3-API-via-Root")
    assert r.code == 1 and "bucket feature" in r.err  # cluster-only flag
    assert cli("bucket", "props", "reset", "ais://cli-b1").code == 0
    r = cli("bucket", "props", "show", "ais://cli-b1", "--json")
    assert json.loads(r.out)["mirror"]["copies"] == 1

    assert cli("bucket", "rm", "ais://cli-b1", "ais://cli-b2").code == 0
    r = cli("bucket", "rm", "ais://cli-b1")
    assert r.code == 1 and "does not exist" in r.err


def test_put_get_ls_rm(cli: InProcessCli, shared_node: NodeProcess, tmp_path: Path) -> None:
    url = shared_node.url
    assert cli("bucket", "create", "ais://cli-obj").code == 0
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    files = {"x.txt": b"x" * 10, "a/y.bin": os.urandom(300_000), "a/b/z": b"zz"}
    for name, data in files.items():
        (tree / name).write_bytes(data)
    r = cli("put", str(tree), "ais://cli-obj/pre", "--recursive", "--progress")
    assert r.code == 0, r.err
    assert "PUT 3 objects" in r.out
    assert "100.0%" in r.err  # the progress bar went to stderr
    assert "100.0%" not in r.out

    r = cli("ls", "ais://cli-obj/pre/", "--json")
    listed = {e["name"]: e["size"] for e in json.loads(r.out)}
    assert listed == {f"pre/{n}": len(d) for n, d in files.items()}
    r = cli("ls", "ais://cli-obj/pre/", "--nr")
    assert r.code == 0
    assert r.out.split()[2:] == ["pre/a/", "-", "pre/x.txt", "10B"]
    r = cli("ls", "ais://cli-obj", "--props", "all")
    assert "CHECKSUM" in r.out and "pre/a/b/z" in r.out
    r = cli("ls")  # no bucket: the buckets
    assert "ais://cli-obj" in r.out

    r = run_cli(url, "get", "ais://cli-obj/pre/a/y.bin", "-", binary=True)
    assert r.code == 0 and r.out == files["a/y.bin"]
    r = run_cli(url, "get", "ais://cli-obj/pre/a/y.bin", "--offset", "10", "--length", "5",
                "-", binary=True)
    assert r.out == files["a/y.bin"][10:15]
    out = tmp_path / "dl"
    r = cli("get", "-r", "ais://cli-obj/pre/", str(out))
    assert r.code == 0, r.err
    for name, data in files.items():
        assert (out / "pre" / name).read_bytes() == data
    r = cli("get", "ais://cli-obj/pre/x.txt", str(tmp_path))  # into a directory
    assert (tmp_path / "x.txt").read_bytes() == files["x.txt"]

    r = run_cli(url, "put", "-", "ais://cli-obj/stdin", input=b"from stdin")
    assert r.code == 0, r.err
    r = cli("object", "show", "ais://cli-obj/stdin", "--json")
    shown = json.loads(r.out)
    assert shown["size"] == 10 and shown["checksum"]["type"] == "xxhash"

    r = cli("object", "mv", "ais://cli-obj/stdin", "moved")  # AIS's name for a rename
    assert r.code == 0, r.err
    r = cli("object", "rename", "ais://cli-obj/moved", "renamed")
    assert r.code == 0, r.err
    r = cli("rm", "ais://cli-obj/renamed")
    assert r.code == 0 and 'deleted "renamed"' in r.out
    r = cli("rm", "ais://cli-obj/renamed")
    assert r.code == 1 and 'object "ais://cli-obj/renamed" does not exist' in r.err
    r = cli("get", "ais://cli-obj/nope", str(tmp_path / "nope"))
    assert r.code == 1 and not (tmp_path / "nope").exists()
    r = cli("object", "show", "ais://cli-obj/nope")
    assert r.code == 1 and "Traceback" not in r.err
    r = cli("put", str(tmp_path / "missing"), "ais://cli-obj/m")
    assert r.code == 1
    # s3:// is a backend bucket now: a node without [backend.s3] says so in one line
    r = cli("put", str(tree / "x.txt"), "s3://elsewhere/x")
    assert r.code == 1 and "has no backend" in r.err and "Traceback" not in r.err


def test_node_views_help_and_failures(cli: InProcessCli, shared_node: NodeProcess) -> None:
    url = shared_node.url
    r = cli("show", "cluster")
    assert r.code == 0, r.err
    assert "proxy+target" in r.out and url in r.out
    r = cli("cluster", "show", "--json")
    assert json.loads(r.out)["smap"]["proxy_si"]["public_net"]["direct_url"] == url
    # `aisfs node show|status` reach these through node.cli; the verbs themselves:
    r = cli("node", "status", "--json")
    assert r.code == 0 and json.loads(r.out)["healthy"] is True
    r = cli("node", "status")
    assert "MOUNTPATH" in r.out and r.out.count("enabled") == 2
    assert cli("node", "show").code == 0
    r = cli("nonsense", endpoint=False)
    assert r.code == 2 and "invalid choice: 'nonsense'" in r.err
    r = cli("config", "cluster", "--json")
    assert json.loads(r.out)["checksum"]["type"]
    r = cli("config", "cluster", "features", "Bogus-Flag")
    assert r.code == 1
    assert "Bogus-Flag" in r.err and "S3-API-via-Root" in r.err and "Fsync-PUT" in r.err
    r = cli("config", "cluster", "no.such.key=1")
    assert r.code == 1 and "settable" in r.err

    for verb in (["bucket"], ["bucket", "create"], ["bucket", "props", "set"], ["ls"],
                 ["put"], ["get"], ["object", "show"], ["rm"], ["config", "cluster"],
                 ["show"], ["auth", "token"], ["completion"]):
        r = cli(*verb, "--help", endpoint=False)
        assert r.code == 0 and "usage: aisfs" in r.out, (verb, r.err)
    r = cli("bucket", endpoint=False)
    assert r.code == 2
    r = cli("completion", "bash", endpoint=False)
    assert "complete -o default -F _aisfs_complete aisfs" in r.out

    r = run_cli("http://127.0.0.1:9", "ls")  # nothing listens there
    assert r.code == 1 and "cannot reach" in r.err and "Traceback" not in r.err


def test_auth_token_and_jwt_node(tmp_path: Path) -> None:
    secret = "s3cr3t-for-tests-at-least-32-bytes-long"
    proc = start(
        tmp_path,
        config=f'[store]\nfsync = false\n[auth]\nmode = "jwt"\njwt_secret = "{secret}"\n',
    )
    try:
        url = proc.url
        r = run_cli(url, "ls")
        assert r.code == 1 and "bearer token" in r.err
        r = run_cli(url, "auth", "token", "--user", "alice", "--ttl", "1h",
                    env={"AISFS_JWT_SECRET": secret})
        assert r.code == 0, r.err
        token = r.out.strip()
        claims = jwt.decode(token, secret, algorithms=["HS256"])
        assert claims["sub"] == "alice" and 3590 < claims["exp"] - claims["iat"] <= 3600
        r = run_cli(url, "bucket", "create", "ais://secure", env={"AIS_AUTHN_TOKEN": token})
        assert r.code == 0, r.err
        r = run_cli(url, "--token", token, "ls")  # options go after the verb
        assert r.code == 2
        r = run_cli(url, "ls", "--token", token)
        assert r.code == 0 and "ais://secure" in r.out
        bad = jwt.encode({"sub": "x", "exp": 1}, secret, algorithm="HS256")
        r = run_cli(url, "ls", "--token", bad)
        assert r.code == 1 and "expired" in r.err
        r = run_cli(url, "auth", "token", "--user", "bob", "--config",
                    str(proc.config_file))
        assert r.code == 0 and jwt.decode(r.out.strip(), secret, algorithms=["HS256"])
        r = run_cli(url, "auth", "token", "--user", "bob", "--ttl", "soon",
                    "--secret", "x")
        assert r.code == 1 and "--ttl" in r.err
        # metrics stay open for scrapers
        assert httpx.get(f"{url}/metrics").status_code == 200
    finally:
        stop_and_check(proc)


def test_custom_metadata_with_a_comma_comes_back_whole(
    cli: InProcessCli, shared_node: NodeProcess, tmp_path: Path
) -> None:
    """Issue 18: the node split `ais-custom-md` on every comma, so an HTTP date was cut."""
    from aisfs.native import decode_custom_md, encode_custom_md

    url = shared_node.url
    md = {"date": "Wed, 25 Nov 2026 07:35:16 GMT", "eq": "a=b", "pct": "100%"}
    assert cli("bucket", "create", "ais://cli-md").code == 0
    r = httpx.put(f"{url}/v1/objects/cli-md/o", content=b"x",
                  headers={"ais-custom-md": encode_custom_md(md)})
    assert r.status_code == 200, r.text
    head = httpx.head(f"{url}/v1/objects/cli-md/o", params={"props": "custom"})
    assert decode_custom_md(head.headers["ais-custom-md"]) == md
    listed = httpx.request("GET", f"{url}/v1/buckets/cli-md", json={
        "action": "list", "value": {"props": "name,custom"}}).json()["entries"]
    assert decode_custom_md(listed[0]["custom-md"]) == md
    r = cli("object", "show", "ais://cli-md/o", "--json")
    assert json.loads(r.out)["custom"] == md
    r = cli("object", "show", "ais://cli-md/o")
    assert "date=Wed, 25 Nov 2026 07:35:16 GMT" in r.out

    # and through `aisfs put --custom` (repeatable; a comma before a piece without '=')
    (tmp_path / "f").write_bytes(b"f")
    r = cli("put", str(tmp_path / "f"), "ais://cli-md/p",
            "--custom", "date=Wed, 25 Nov 2026 07:35:16 GMT", "--custom", "eq=a%3Db,pct=100%")
    assert r.code == 0, r.err
    r = cli("object", "show", "ais://cli-md/p", "--json")
    assert json.loads(r.out)["custom"] == md
