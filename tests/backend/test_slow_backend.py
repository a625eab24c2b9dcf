"""A backend whose body comes slowly (a WAN link, a throttled bucket) streams on to the
caller: the lean client's receives wake at 4 MiB (``SO_RCVLOWAT``) only for a short
while, then take what came (aisfs/backend/lean.py ``_receive_soon``). Before, a body
slower than 4 MiB per read timeout was cut as "too slow" while it was making progress.
In process (RemoteObjects over a trickling raw backend, a 1 s read timeout) and the
whole body checked."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import trio

from aisfs.backend import Backends, open_remote_objects
from aisfs.backend.provider import BucketRef, Provider
from aisfs.config import BackendConfig, BackendS3Config
from aisfs.store import open_store
from support.raw_backend import RawBackend, object_head, read_head

from .conftest import store_config

MiB = 1024 * 1024
DATA = os.urandom(4 * MiB + 65536)  # its first receive is past LOWAT: woken at 4 MiB
STEP = 32 * 1024  # every 20 ms: ~1.6 MB/s, 4 MiB in ~2.6 s - past the 1 s read timeout


class TricklingBackend(RawBackend):
    def handle(self, conn: socket.socket) -> None:
        while (head := read_head(conn)) is not None:
            try:
                conn.sendall(object_head(len(DATA)))
                if not head.startswith(b"GET "):
                    continue
                for i in range(0, len(DATA), STEP):
                    conn.sendall(DATA[i:i + STEP])
                    time.sleep(0.02)
            except OSError:
                return


async def test_a_slow_body_streams_past_the_read_timeout(tmp_path: Path) -> None:
    backend = TricklingBackend()
    backends = Backends(BackendConfig(s3=BackendS3Config(
        endpoint=f"http://127.0.0.1:{backend.port}", access_key="a", secret_key="b",
        retries=0, connect_timeout=2.0, read_timeout=1.0)))
    try:
        async with (open_store(store_config(tmp_path)) as store,
                    open_remote_objects(store, backends) as ro):
            rb = backends.resolve(BucketRef(Provider.AWS, "bk"), {})
            read = await ro.get(rb, "k")
            got = bytearray()
            with trio.fail_after(60):
                async for piece in read.body:
                    got += piece
            assert got == DATA
            assert await ro.fetch(rb, "k") == -1  # and cached
    finally:
        backend.close()
        await backends.aclose()
