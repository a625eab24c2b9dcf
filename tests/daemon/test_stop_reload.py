"""SIGTERM lets requests in flight finish (or cuts them cleanly at the grace deadline);
SIGHUP reloads auth, feature flags and log level without dropping connections."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from daemon_support import SlowGet, host_port, put_random

from support.clients import s3_client
from support.node import new_node

MiB = 1 << 20


def refused(url: str) -> bool:
    try:
        with socket.create_connection(host_port(url), timeout=2):
            return False
    except OSError:
        return True


def test_sigterm_during_long_get(tmp_path: Path) -> None:
    node = new_node(tmp_path, config="[net]\ngraceful_timeout = 30.0\n").start()
    try:
        s3_client(node.s3_url).create_bucket(Bucket="big")
        size = 200 * MiB
        md5 = put_random(node.url, "big", "obj", size)
        get = SlowGet(node.url, "/s3/big/obj")
        assert get.length == size
        get.read(4 * MiB)
        node.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # real time: a node that did not wait would have exited by now
        assert node.proc.poll() is None, "the node must wait for the GET in flight"
        assert refused(node.url), "no new connections once stopping"
        get.read_rest(seconds=2.0, piece=4 * MiB)
        get.close()
        assert get.received == size
        assert get.md5.hexdigest() == md5
        assert node.proc.wait(30) == 0
    finally:
        node.kill()
    log = node.log()
    assert "Traceback" not in log, log
    assert "cut at the grace deadline" not in log


def slow_put(url: str, path: str, body: bytes, first: int) -> http.client.HTTPConnection:
    host, port = host_port(url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("PUT", path)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    conn.send(body[:first])
    return conn


def test_put_in_flight_at_sigterm_completes(tmp_path: Path) -> None:
    node = new_node(tmp_path, config="[net]\ngraceful_timeout = 20.0\n").start()
    try:
        s3_client(node.s3_url).create_bucket(Bucket="inflight")
        body = os.urandom(20 * MiB)
        conn = slow_put(node.url, "/s3/inflight/done", body, 5 * MiB)
        time.sleep(0.2)
        node.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        conn.send(body[5 * MiB:])
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        conn.close()
        assert node.proc.wait(30) == 0
        node.start()
        got = s3_client(node.s3_url).get_object(Bucket="inflight", Key="done")["Body"].read()
        assert got == body
        assert node.stop() == 0
    finally:
        node.kill()
    assert "Traceback" not in node.log()


def test_put_cut_by_deadline_leaves_nothing(tmp_path: Path) -> None:
    node = new_node(tmp_path, config="[net]\ngraceful_timeout = 1.0\n").start()
    try:
        s3 = s3_client(node.s3_url)
        s3.create_bucket(Bucket="cut")
        s3.put_object(Bucket="cut", Key="cut-me", Body=b"old version")
        body = os.urandom(24 * MiB)
        conn = slow_put(node.url, "/s3/cut/cut-me", body, 12 * MiB)
        conn2 = slow_put(node.url, "/s3/cut/never", body, 9 * MiB)
        time.sleep(0.3)
        started = time.monotonic()
        node.proc.send_signal(signal.SIGTERM)
        assert node.proc.wait(15) == 0
        assert time.monotonic() - started < 10
        for c in (conn, conn2):
            with pytest.raises((OSError, http.client.HTTPException)):
                c.send(body[12 * MiB:])
                c.getresponse().read()
            c.close()
        node.start()
        s3 = s3_client(node.s3_url)
        # the old version is intact, the cut one never became visible
        assert s3.get_object(Bucket="cut", Key="cut-me")["Body"].read() == b"old version"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cut").get("Contents", [])]
        assert keys == ["cut-me"]
        assert node.stop() == 0
    finally:
        node.kill()
    log = node.log()
    assert "cut at the grace deadline" in log, log
    assert "Traceback" not in log, log


AUTH = '[auth]\nmode = "sigv4"\n[auth.access_keys]\nFAKEKEY = "FAKESECRET"\n'


@pytest.mark.allow_node_errors  # the refused reload of a broken node.toml is logged at ERROR
def test_sighup_reload_during_long_get(tmp_path: Path) -> None:
    node = new_node(tmp_path, config='[log]\nlevel = "info"\n').start()
    try:
        s3 = s3_client(node.s3_url)
        s3.create_bucket(Bucket="hup")
        size = 64 * MiB
        md5 = put_random(node.url, "hup", "obj", size)
        s3.put_object(Bucket="hup", Key="small", Body=b"hello")
        # an idle keep-alive connection and a streaming GET, both open across the reload
        host, port = host_port(node.url)
        idle = http.client.HTTPConnection(host, port, timeout=10)
        idle.request("GET", "/health")
        assert idle.getresponse().read() == b"ok\n"
        get = SlowGet(node.url, "/s3/hup/obj")
        get.read(2 * MiB)
        # before: the root is not S3, anonymous requests are let in, no debug lines
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(node.url + "/hup/small", timeout=5)
        assert e.value.code == 404
        assert " -> 200 in " not in node.log()

        node.config_file.write_text(
            'features = ["S3-API-via-Root"]\n[log]\nlevel = "debug"\n' + AUTH
        )
        node.proc.send_signal(signal.SIGHUP)
        wait_for_log(node, "config reloaded")

        get.read(2 * MiB)
        idle.request("GET", "/health")  # the same connection, still open
        assert idle.getresponse().read() == b"ok\n"
        idle.close()
        # after: the root serves S3, unsigned requests are refused, debug lines appear
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(node.url + "/hup/small", timeout=5)
        assert e.value.code == 403
        root = s3_client(node.url)
        assert root.get_object(Bucket="hup", Key="small")["Body"].read() == b"hello"
        wait_for_log(node, " -> 200 in ")

        # a broken config is refused; the running one stays
        node.config_file.write_text("[log\nlevel = 'nope'\n")
        node.proc.send_signal(signal.SIGHUP)
        wait_for_log(node, "reload refused")
        assert root.get_object(Bucket="hup", Key="small")["Body"].read() == b"hello"

        get.read_rest(seconds=1.5, piece=2 * MiB)
        get.close()
        assert get.received == size and get.md5.hexdigest() == md5
        assert node.stop() == 0
    finally:
        node.kill()
    assert "Traceback" not in node.log()


def wait_for_log(node, text: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while text not in node.log():
        assert time.monotonic() < deadline, f"{text!r} not in log:\n{node.log()}"
        time.sleep(0.05)
