"""``GET /v1/objects/B/K?provider=aws`` of a cached remote object takes the zero-copy path
as the S3 GET does (``RemoteObjects.get(..., segments=True)``): in process, the node's
ASGI app offered ``http.response.zerocopysend`` sends a warm copy's verified chunks as
file segments, whole and by range; a chunk copy changed after its verification is never
sent (hashed again, the copy dropped and fetched from the backend again)."""

from __future__ import annotations

import os
from pathlib import Path

import trio
from native.test_zero_copy_get import call, chunk_files

from aisfs.config import NodeConfig
from aisfs_node.app import NodeApp
from aisfs_node.native.remote import RemoteNative
from support.damage import flip_in_place

from .conftest import Front
from .test_zero_copy_warm import SIZE
from .test_zero_copy_warm import moto_front as moto_front  # noqa: F401 (a fixture)
from .test_zero_copy_warm import moto_target as moto_target  # noqa: F401 (a fixture)

CHUNK = 1024 * 1024


async def test_v1_warm_get_sends_file_segments(moto_front: Front) -> None:  # noqa: F811
    f = moto_front
    app = NodeApp(NodeConfig(), f.store)
    app.native.remote = RemoteNative(f.ro, discover=True)
    data = os.urandom(SIZE)
    f.target.client().put_object(Bucket=f.bucket, Key="k", Body=data)
    url = f"/v1/objects/{f.bucket}/k?provider=aws"
    cold = await call(app, "GET", url)
    assert cold.status == 200, bytes(cold.body)
    assert cold.body == data and cold.segments == 0
    with trio.fail_after(30):
        while len(f.ro._flights):  # noqa: ASYNC110 (polled: no event to wait on)
            await trio.sleep(0.02)
    await trio.sleep(1.1)  # a chunk verified in the second it was written is not trusted
    first = await call(app, "GET", url)  # verified in place, remembered, sent from files
    assert first.segments == 6 and first.body == data
    warm = await call(app, "GET", url)
    assert warm.status == 200 and warm.body == data and warm.segments == 6
    ranged = await call(app, "GET", url, headers={"Range": f"bytes={CHUNK - 3}-{3 * CHUNK + 4}"})
    assert ranged.status == 206 and ranged.body == data[CHUNK - 3 : 3 * CHUNK + 5]
    assert ranged.segments == 4
    plain = await call(app, "GET", url, zero_copy=False)  # TLS, Hypercorn: bytes
    assert plain.body == data and plain.segments == 0
    first_chunk: Path = chunk_files(list(f.store.config.mountpaths))[data[:CHUNK]]
    flip_in_place(first_chunk, CHUNK // 2)
    again = await call(app, "GET", url)  # found bad: fetched from the backend again
    assert again.status == 200 and again.body == data and again.segments == 0
