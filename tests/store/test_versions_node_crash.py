"""kill -9 a real node in the middle of versioned overwrites and deletes (S3 over HTTP,
several clients, a versioning-Enabled bucket), restart it: every acknowledged version is
there with its bytes (GET ?versionId=), the version in flight is whole or absent, each
key's history lists in order, and the offline fsck is clean."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.support.node import ROOT, start_node

CLIENTS = 4
ENABLE = (b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
          b"<Status>Enabled</Status></VersioningConfiguration>")


def writer(url: str, n: int, acked: list[tuple[str, str, str | None]],
           stop: threading.Event) -> None:
    """Overwrites (and some deletes: markers) of a few keys of its own; ``acked``: each
    acknowledged (key, version id, md5 - None for a marker)."""
    rnd = __import__("random").Random(n)
    with httpx.Client(timeout=30) as c:
        while not stop.is_set():
            key = f"c{n}/k{rnd.randrange(4)}"
            try:
                if rnd.random() < 0.15:
                    r = c.delete(f"{url}/s3/vcrash/{key}")
                    assert r.status_code == 204, r.text
                    assert r.headers["x-amz-delete-marker"] == "true"
                    acked.append((key, r.headers["x-amz-version-id"], None))
                    continue
                data = os.urandom(rnd.choice([10, 4096, 20_000, 300_000]))
                r = c.put(f"{url}/s3/vcrash/{key}", content=data)
                assert r.status_code == 200, r.text
                acked.append((key, r.headers["x-amz-version-id"], hashlib.md5(data).hexdigest()))
            except (httpx.TransportError, httpx.RemoteProtocolError):
                return  # the node died with this change in flight


def test_kill_9_during_versioned_overwrites(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        assert httpx.put(f"{node.url}/s3/vcrash", timeout=10).status_code == 200
        r = httpx.put(f"{node.url}/s3/vcrash?versioning", content=ENABLE, timeout=10)
        assert r.status_code == 200, r.text
        acked: list[list[tuple[str, str, str | None]]] = [[] for _ in range(CLIENTS)]
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(node.url, n, acked[n], stop))
                   for n in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(3)  # real time: versions in flight in the node when it is killed
        assert node.proc is not None
        node.proc.kill()
        node.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        total = sum(len(a) for a in acked)
        assert total > 20
        node.forget_errors()
        node.start()
        log = node.log()
        m = re.findall(r"unclean stop: (\d+) journaled names reconciled", log)
        if m:
            assert int(m[-1]) <= CLIENTS
        with httpx.Client(timeout=30) as c:
            for versions in acked:
                for key, vid, md5 in versions:
                    r = c.get(f"{node.url}/s3/vcrash/{key}", params={"versionId": vid})
                    if md5 is None:
                        assert r.status_code == 405, (key, vid, r.text)
                        assert r.headers["x-amz-delete-marker"] == "true"
                    else:
                        assert r.status_code == 200, (key, vid, r.text)
                        assert hashlib.md5(r.content).hexdigest() == md5, (key, vid)
            for n, versions in enumerate(acked):
                for k in range(4):
                    key = f"c{n}/k{k}"
                    mine = [v for kk, v, _ in versions if kk == key]
                    r = c.get(f"{node.url}/s3/vcrash", params={"versions": "", "prefix": key})
                    assert r.status_code == 200
                    listed = re.findall(r"<VersionId>([^<]+)</VersionId>", r.text)
                    # newest first: the acknowledged ones in reverse order, plus at most
                    # the one in flight (complete) on top
                    assert listed[len(listed) - len(mine):] == mine[::-1], key
                    assert len(listed) - len(mine) in (0, 1), key
                    assert r.text.count("<IsLatest>true</IsLatest>") == (1 if listed else 0)
        node.stop()
        args = [a for mp in node.mountpaths for a in ("--mountpath", str(mp))]
        res = subprocess.run(
            [sys.executable, "-m", "aisfs", "node", "fsck", *args, "--index-dir",
             str(node.index_dir)], capture_output=True, text=True, cwd=ROOT, timeout=120,
        )
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        node.kill()
