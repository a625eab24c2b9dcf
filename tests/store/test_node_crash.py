"""kill -9 a real node in the middle of mixed writes (PUT small and chunked, overwrite,
DELETE from several clients), restart it: every acknowledged change is there, the restart
reconciled only the journal (the open logs what it read), and the offline fsck is clean."""

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


def writer(url: str, n: int, state: dict[str, str | None], pending: dict[str, object],
           stop: threading.Event) -> None:
    """Mixed writes on its own keys; ``state``: the acknowledged md5 (None: deleted) of
    each key; ``pending``: the change in flight when the node died, with the key's state
    before it."""
    rnd = __import__("random").Random(n)
    with httpx.Client(timeout=30) as c:
        i = 0
        while not stop.is_set():
            key = f"c{n}/k{rnd.randrange(40)}"
            if rnd.random() < 0.2 and state.get(key):
                op, data = "delete", None
            else:
                op, data = "put", os.urandom(rnd.choice([10, 4096, 20_000, 300_000]))
            pending[key] = (op, hashlib.md5(data).hexdigest() if data else None)
            try:
                if op == "delete":
                    r = c.delete(f"{url}/s3/crashb/{key}")
                    assert r.status_code == 204, r.text
                    state[key] = None
                else:
                    r = c.put(f"{url}/s3/crashb/{key}", content=data)
                    assert r.status_code == 200, r.text
                    state[key] = hashlib.md5(data or b"").hexdigest()
            except (httpx.TransportError, httpx.RemoteProtocolError):
                return  # the node died with this change in flight: it stays pending
            del pending[key]
            i += 1


def test_kill_9_during_mixed_writes_then_restart(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        assert httpx.put(f"{node.url}/s3/crashb", timeout=10).status_code == 200
        states: list[dict[str, str | None]] = [{} for _ in range(CLIENTS)]
        pendings: list[dict[str, object]] = [{} for _ in range(CLIENTS)]
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(node.url, n, states[n], pendings[n],
                                                         stop)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(3)  # real time: writes in flight in the node's process when it is killed
        assert node.proc is not None
        node.proc.kill()  # SIGKILL, mid-write
        node.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        acked = sum(len(s) for s in states)
        assert acked > 20
        node.forget_errors()
        started = time.monotonic()
        node.start()
        restart = time.monotonic() - started
        log = node.log()
        m = re.findall(r"unclean stop: (\d+) journaled names reconciled \((\d+) manifests", log)
        # the journal named the changes in flight only (one per client at most), not the
        # objects written
        if m:
            entries, read = map(int, m[-1])
            assert entries <= CLIENTS and read <= 2 * CLIENTS
        with httpx.Client(timeout=30) as c:
            for state, pending in zip(states, pendings, strict=True):
                for key, md5 in state.items():
                    r = c.get(f"{node.url}/s3/crashb/{key}")
                    got = hashlib.md5(r.content).hexdigest() if r.status_code == 200 else None
                    assert r.status_code in (200, 404)
                    if key in pending:  # in flight: before or after, complete either way
                        assert got in (md5, pending[key][1]), key  # type: ignore[index]
                    else:
                        assert got == md5, key
        assert restart < 10  # a process start; the store's part is the journal above
        node.stop()
        args = [a for mp in node.mountpaths for a in ("--mountpath", str(mp))]
        res = subprocess.run(
            [sys.executable, "-m", "aisfs", "node", "fsck", *args, "--index-dir",
             str(node.index_dir)], capture_output=True, text=True, cwd=ROOT, timeout=120,
        )
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        node.kill()
