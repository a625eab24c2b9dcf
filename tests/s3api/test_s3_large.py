"""A 5 GiB `aws s3 cp` (multipart) while the node's memory stays bounded."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from support.clients import have

GiB = 1024**3


@pytest.mark.slow
@pytest.mark.skipif(not have("aws"), reason="aws CLI needed")
def test_five_gib_aws_cp_memory_bounded(node, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # mostly sparse, with real data at both ends
        f.write(os.urandom(16 * 1024 * 1024))
        f.truncate(5 * GiB)
        f.seek(5 * GiB - 1024 * 1024)
        f.write(os.urandom(1024 * 1024))
    proc = psutil.Process(node.proc.pid)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    ep = node.s3_url
    try:
        subprocess.run(["aws", "--endpoint-url", ep, "s3", "mb", "s3://large"], check=True)
        subprocess.run(["aws", "--endpoint-url", ep, "s3", "cp", str(big), "s3://large/big.bin"],
                       check=True, capture_output=True, timeout=900)
        digest = hashlib.md5()
        with subprocess.Popen(["aws", "--endpoint-url", ep, "s3", "cp", "s3://large/big.bin",
                               "-"], stdout=subprocess.PIPE) as down:
            assert down.stdout is not None
            while chunk := down.stdout.read(8 * 1024 * 1024):
                digest.update(chunk)
        assert down.returncode == 0
    finally:
        stop.set()
        sampler.join()
    want = hashlib.md5()
    with open(big, "rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            want.update(chunk)
    assert digest.hexdigest() == want.hexdigest()
    print(f"node peak RSS during a 5 GiB aws s3 cp up and down: {peak / 2**20:.0f} MiB")
    # 153 MiB with the PUT path spooled (aisfs/store/spool.py), 240-291 when it held up to
    # five 8 MiB chunk buffers per write; the margin is for CI under load
    assert peak < 256 * 2**20
