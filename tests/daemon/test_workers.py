"""``[net] workers = 2``: a read worker beside the primary on one port (SO_REUSEPORT).

Every test opens many connections, each its own (fresh boto3 clients, raw sockets): the
kernel spreads them over both processes, so both serve and a worker forwards what it
must not serve. The worker's stop line counts what it served and forwarded; the tests
check both happened. Open and SigV4 modes; policies, ACLs and deletes seen on the very
next request on every connection; a killed worker is started again; SIGTERM stops all.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.access import client
from support.clients import have
from support.node import NodeProcess, new_node

KEY = ("FAKEKEY", "FAKESECRET")
BOB = ("AKBOB", "bob-secret-workers")
SIGV4 = f"""
[net]
workers = 2
[store]
fsync = false
[auth]
mode = "sigv4"
access_keys = {{ {KEY[0]} = "{KEY[1]}" }}
[auth.users.bob]
access_keys = {{ {BOB[0]} = "{BOB[1]}" }}
"""
OPEN = """
[net]
workers = 2
[store]
fsync = false
"""
CONNECTIONS = 24  # P(all on one of two processes) = 2 * 2**-24


def start(tmp_path: Path, mode: str) -> NodeProcess:
    return new_node(tmp_path, config=SIGV4 if mode == "sigv4" else OPEN).start()


@pytest.fixture(params=["open", "sigv4"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NodeProcess]:
    proc = start(tmp_path, request.param)
    proc.mode = request.param  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        proc.stop()


def admin(node: NodeProcess) -> Any:
    return client(node, KEY if getattr(node, "mode", "sigv4") == "sigv4" else None)


def workers_of(node: NodeProcess) -> set[int]:
    assert node.proc is not None
    pid = node.proc.pid
    kids: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        kids |= {int(k) for k in Path(f"/proc/{pid}/task/{task}/children").read_text().split()}
    return kids


def worker_counts(node: NodeProcess) -> tuple[int, int]:
    """(served, forwarded) summed over the worker stop lines in the log."""
    found = re.findall(r"worker \d+ stopped \((\d+) requests served here, (\d+) forwarded",
                       node.log())
    return sum(int(a) for a, _ in found), sum(int(b) for _, b in found)


def test_reads_writes_and_deletes_over_many_connections(node: NodeProcess) -> None:
    s3 = admin(node)
    s3.create_bucket(Bucket="wkb")
    bodies = {f"k{i}": os.urandom(4096 + i) for i in range(CONNECTIONS)}
    for key, body in bodies.items():  # PUTs over fresh connections: some forwarded
        admin(node).put_object(Bucket="wkb", Key=key, Body=body)
    for key, body in bodies.items():
        c = admin(node)
        assert c.get_object(Bucket="wkb", Key=key)["Body"].read() == body
        assert c.head_object(Bucket="wkb", Key=key)["ContentLength"] == len(body)
        assert c.get_object(Bucket="wkb", Key=key, Range="bytes=1-3")["Body"].read() == body[1:4]
        assert c.list_objects_v2(Bucket="wkb")["KeyCount"] == len(bodies)
        c.head_bucket(Bucket="wkb")
    s3.delete_object(Bucket="wkb", Key="k0")
    for _ in range(CONNECTIONS):
        with pytest.raises(ClientError) as e:
            admin(node).get_object(Bucket="wkb", Key="k0")
        assert e.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        admin(node).get_object(Bucket="no-such-bucket", Key="k")
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"
    assert node.stop() == 0
    served, forwarded = worker_counts(node)
    assert served > 0 and forwarded > 0, node.log()


def test_policy_and_acl_changes_hold_on_the_next_request_everywhere(tmp_path: Path) -> None:
    node = start(tmp_path, "sigv4")
    owner = client(node, KEY)
    owner.create_bucket(Bucket="pol")
    owner.put_object(Bucket="pol", Key="o", Body=b"x" * 4096)
    bobs = [client(node, BOB) for _ in range(CONNECTIONS)]
    anons = [client(node, None) for _ in range(CONNECTIONS)]

    def bob_gets() -> list[bool]:
        out = []
        for c in bobs:  # each on its kept-alive connection
            try:
                c.get_object(Bucket="pol", Key="o")["Body"].read()
                out.append(True)
            except ClientError as e:
                assert e.response["Error"]["Code"] == "AccessDenied"
                out.append(False)
        return out

    def anon_heads() -> list[bool]:
        out = []
        for c in anons:
            try:
                c.head_object(Bucket="pol", Key="o")
                out.append(True)
            except ClientError as e:
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403
                out.append(False)
        return out

    arn = "arn:aws:s3:::pol/*"
    for round_ in range(2):
        assert not any(bob_gets())
        owner.put_bucket_policy(Bucket="pol", Policy=json.dumps({"Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:::user/bob"},
            "Action": "s3:GetObject", "Resource": arn}]}))
        assert all(bob_gets()), round_
        owner.delete_bucket_policy(Bucket="pol")
        assert not any(bob_gets())
        assert not any(anon_heads())
        owner.put_object_acl(Bucket="pol", Key="o", ACL="public-read")
        assert all(anon_heads())
        owner.put_object_acl(Bucket="pol", Key="o", ACL="private")
        assert not any(anon_heads())
        owner.put_bucket_acl(Bucket="pol", ACL="public-read")  # a bucket change too
        owner.put_bucket_acl(Bucket="pol", ACL="private")
    assert node.stop() == 0
    served, _ = worker_counts(node)
    assert served > 0, node.log()


def test_a_spoofed_client_address_is_ignored(tmp_path: Path) -> None:
    node = start(tmp_path, "sigv4")
    owner = client(node, KEY)
    owner.create_bucket(Bucket="ips")
    owner.put_object(Bucket="ips", Key="o", Body=b"y" * 100)
    arn = "arn:aws:s3:::ips/*"

    def policy(cidr: str) -> None:
        owner.put_bucket_policy(Bucket="ips", Policy=json.dumps({"Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": arn, "Condition": {"IpAddress": {"aws:SourceIp": cidr}}}]}))

    host, port = node.url.split("//")[1].rsplit(":", 1)

    def statuses(method: str, spoof: bool) -> set[int]:
        out = set()
        for _ in range(CONNECTIONS):
            with socket.create_connection((host, int(port))) as sock:
                extra = b"x-aisfs-worker-client: http 10.1.2.3 9999\r\n" if spoof else b""
                body = b"z" * 10 if method == "PUT" else b""
                sock.sendall(f"{method} /s3/ips/o HTTP/1.1\r\nHost: {host}:{port}\r\n"
                             f"Content-Length: {len(body)}\r\nConnection: close\r\n".encode()
                             + extra + b"\r\n" + body)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
                out.add(int(data.split(b" ", 2)[1]))
        return out

    policy("10.0.0.0/8")  # the spoofed address only
    assert statuses("GET", spoof=True) == {403}
    assert statuses("PUT", spoof=True) == {403}
    policy("127.0.0.0/8")  # the real one: allowed, through the worker and forwarded
    assert statuses("GET", spoof=False) == {200}
    assert statuses("PUT", spoof=False) == {200}
    assert statuses("PUT", spoof=True) == {200}
    assert node.stop() == 0
    served, forwarded = worker_counts(node)
    assert served > 0 and forwarded > 0, node.log()


def test_expect_continue_and_chunked_bodies_are_forwarded(node: NodeProcess) -> None:
    admin(node).create_bucket(Bucket="fwb")
    host, port = node.url.split("//")[1].rsplit(":", 1)
    assert node.mode is not None  # type: ignore[attr-defined]
    if node.mode == "sigv4":  # type: ignore[attr-defined]
        admin(node).put_bucket_policy(Bucket="fwb", Policy=json.dumps({"Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::fwb/*"}]}))
    for i in range(CONNECTIONS // 2):
        body = os.urandom(70_000 + i)
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(f"PUT /s3/fwb/c{i} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                         "Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
            interim = sock.recv(4096)
            assert interim.startswith(b"HTTP/1.1 100 "), interim
            for at in range(0, len(body), 30_000):
                piece = body[at:at + 30_000]
                sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
            sock.sendall(b"0\r\n\r\n")
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 "), answer
            # the same connection carries the next request (kept alive through the hop)
            sock.sendall(f"HEAD /s3/fwb/c{i} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 "), "no answer on the kept connection"
        assert admin(node).get_object(Bucket="fwb", Key=f"c{i}")["Body"].read() == body


@pytest.mark.skipif(not have("aws"), reason="aws CLI not installed")
def test_aws_cli_uploads_through_the_workers(tmp_path: Path) -> None:
    node = start(tmp_path, "sigv4")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY[0], AWS_SECRET_ACCESS_KEY=KEY[1])
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(12 * 1024 * 1024 + 5))  # multipart: parts with 100-continue
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(5000))

    def aws(*args: str) -> str:
        out = subprocess.run(["aws", "--endpoint-url", node.s3_url, "s3", *args],
                             capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout

    aws("mb", "s3://cli")
    for i in range(6):
        aws("cp", str(src), f"s3://cli/big{i}")
        aws("cp", str(small), f"s3://cli/small{i}")
    for i in range(6):
        aws("cp", f"s3://cli/big{i}", str(tmp_path / "back.bin"))
        assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    assert node.stop() == 0


def test_a_killed_worker_is_started_again(tmp_path: Path) -> None:
    node = start(tmp_path, "open")
    s3 = client(node, None)
    s3.create_bucket(Bucket="kill")
    s3.put_object(Bucket="kill", Key="o", Body=b"k" * 5000)
    (first,) = workers_of(node)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = workers_of(node)
        if now and now != {first} and "worker 1 listening" in node.log().split(
                "starting it again")[-1]:
            break
        time.sleep(0.1)
    assert workers_of(node) and first not in workers_of(node), node.log()
    for _ in range(CONNECTIONS):
        assert client(node, None).get_object(Bucket="kill", Key="o")["Body"].read() == b"k" * 5000
    assert "exited with -9: starting it again" in node.log()
    assert node.stop() == 0
    served, _ = worker_counts(node)
    assert served > 0, node.log()


def test_sigterm_stops_every_process(tmp_path: Path) -> None:
    node = new_node(tmp_path, config=OPEN.replace("workers = 2", "workers = 3")).start()
    kids = workers_of(node)
    assert len(kids) == 2
    assert node.stop() == 0
    for pid in kids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(
            f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    assert len(re.findall(r"worker \d+ stopped", node.log())) == 2


def test_a_bad_workers_value_is_a_config_error(tmp_path: Path) -> None:
    node = new_node(tmp_path, config="[net]\nworkers = 0\n")
    with pytest.raises(RuntimeError, match="net.workers"):
        node.start()


def test_sighup_starts_the_workers_again_with_the_new_config(tmp_path: Path) -> None:
    node = start(tmp_path, "sigv4")
    assert node.config_file is not None
    owner = client(node, KEY)
    owner.create_bucket(Bucket="hup")
    owner.put_object(Bucket="hup", Key="o", Body=b"h" * 300)
    carol = ("AKCAROL", "carol-secret-workers")
    before = workers_of(node)
    node.config_file.write_text(SIGV4 + f"""[auth.users.carol]
access_keys = {{ {carol[0]} = "{carol[1]}" }}
""")
    assert node.proc is not None
    node.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
            not workers_of(node) or workers_of(node) & before
            or node.log().count("worker 1 listening") < 2):
        time.sleep(0.1)
    assert workers_of(node) and not workers_of(node) & before, node.log()
    owner.put_bucket_policy(Bucket="hup", Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:::user/carol"},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::hup/*"}]}))
    for _ in range(CONNECTIONS):  # carol, a user of the new config, on both processes
        assert client(node, carol).get_object(Bucket="hup", Key="o")["Body"].read() == b"h" * 300
    assert node.stop() == 0
    served, _ = worker_counts(node)
    assert served > 0, node.log()


@pytest.mark.allow_node_errors  # the corrupt copy is logged at ERROR
def test_a_bad_copy_is_served_around_and_left_to_the_primary(tmp_path: Path) -> None:
    from aisfs.store import layout
    from support.damage import flip_in_place

    node = new_node(tmp_path, config=OPEN + "default_copies = 2\n").start()
    s3 = client(node, None)
    s3.create_bucket(Bucket="bad")
    body = os.urandom(200_000)  # chunked (not inline), one chunk, a copy per mountpath
    s3.put_object(Bucket="bad", Key="o", Body=body)
    chunks = sorted(p for mp in node.mountpaths for p in (mp / layout.CHUNKS).rglob("*")
                    if p.is_file() and p.stat().st_size == len(body))
    assert len(chunks) == 2, chunks
    for chunk in chunks:  # the copy a read tries first (placement order) is the bad one
        flip_in_place(chunk, 1000)
        for _ in range(CONNECTIONS):
            assert client(node, None).get_object(Bucket="bad", Key="o")["Body"].read() == body
        if "is corrupt" in node.log():
            break
        flip_in_place(chunk, 1000)  # never read: put it back, damage the other
    assert node.stop() == 0
    assert "left for the primary's scrub" in node.log() or "repaired" in node.log()
    served, _ = worker_counts(node)
    assert served > 0, node.log()


def test_connections_to_the_primary_it_closed_are_not_reused(tmp_path: Path) -> None:
    node = new_node(tmp_path, config=OPEN.replace(
        "workers = 2", "workers = 2\nkeep_alive_timeout = 1")).start()
    s3 = client(node, None)
    s3.create_bucket(Bucket="idle")
    for round_ in range(3):  # each round after the primary closed the idle hops
        for i in range(CONNECTIONS // 2):
            client(node, None).put_object(Bucket="idle", Key=f"k{i}", Body=b"%d" % round_)
        time.sleep(1.5)
    for i in range(CONNECTIONS // 2):
        assert client(node, None).get_object(Bucket="idle", Key=f"k{i}")["Body"].read() == b"2"
    assert node.stop() == 0
    _, forwarded = worker_counts(node)
    assert forwarded > 0, node.log()


def test_tls_and_the_scheme_travel_through_the_hop(tmp_path: Path, make_test_ca) -> None:  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    ca, cert, key = make_test_ca(tmp_path)
    config = SIGV4.replace("workers = 2", f'workers = 2\nhttps_listen = ["127.0.0.1:0"]\n'
                           f'certfile = "{cert}"\nkeyfile = "{key}"')
    node = new_node(tmp_path, config=config).start()

    def bob(tls: bool) -> Any:
        return boto3.client(
            "s3", endpoint_url=(node.https_url if tls else node.url) + "/s3",
            region_name="us-east-1", aws_access_key_id=BOB[0], aws_secret_access_key=BOB[1],
            verify=str(ca), config=Config(retries={"max_attempts": 1}))

    owner = client(node, KEY)
    owner.create_bucket(Bucket="tls")
    owner.put_bucket_policy(Bucket="tls", Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:::user/bob"},
        "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::tls/*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))
    for i in range(CONNECTIONS // 2):
        body = os.urandom(3000 + i)
        owner.put_object(Bucket="tls", Key=f"k{i}", Body=body)  # bob owns nothing here
        assert bob(True).get_object(Bucket="tls", Key=f"k{i}")["Body"].read() == body
        # boto3 over TLS: an aws-chunked body; forwarded by a worker with its scheme
        bob(True).put_object(Bucket="tls", Key=f"b{i}", Body=body)
        for method, extra in (("get_object", {}), ("put_object", {"Body": b"x"})):
            with pytest.raises(ClientError) as e:
                getattr(bob(False), method)(Bucket="tls", Key=f"k{i}", **extra)
            assert e.value.response["Error"]["Code"] == "AccessDenied", method
    assert node.stop() == 0
    served, forwarded = worker_counts(node)
    assert served > 0 and forwarded > 0, node.log()
