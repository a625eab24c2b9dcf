"""``./run bench version-listing [N]``: N versions (default 100,000) of 1,000 keys in one
versioned bucket, then ListObjectVersions of all of them through boto3's paginator: the
PUT rate, the listing rate and the node's RSS before and while listing (issue 15's target:
the listing streams in bounded memory - RSS does not grow with N).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import psutil
from botocore.config import Config

from bench.servers import start_node

KEYS = 1000


def _peak_while(proc: psutil.Process, work: threading.Event) -> list[int]:
    peak = [proc.memory_info().rss]

    def sample() -> None:
        while not work.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    return peak


def main(argv: list[str]) -> None:
    count = int(argv[0]) if argv else 100_000
    node = start_node(config="[store]\nfsync = false\n")
    try:
        proc = psutil.Process(node.proc.pid)
        s3 = boto3.client("s3", endpoint_url=node.s3_url, region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x",
                          config=Config(max_pool_connections=32))
        s3.create_bucket(Bucket="versions")
        s3.put_bucket_versioning(Bucket="versions",
                                 VersioningConfiguration={"Status": "Enabled"})
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: s3.put_object(Bucket="versions", Key=f"k{i % KEYS:04d}",
                                                  Body=b"x" * 100), range(count)))
        took = time.monotonic() - started
        before = proc.memory_info().rss
        print(f"{count:,} versioned PUTs: {count / took:,.0f}/s; node RSS {before >> 20} MiB")
        done = threading.Event()
        peak = _peak_while(proc, done)
        started, listed = time.monotonic(), 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket="versions"):
            listed += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        took = time.monotonic() - started
        done.set()
        print(f"ListObjectVersions of {listed:,} versions: {listed / took:,.0f}/s; "
              f"node peak RSS while listing {peak[0] >> 20} MiB")
    finally:
        node.stop()
