"""The node's backend buckets: ``[backend.s3]`` made into a ``Backends`` registry and a
``RemoteObjects`` service at start, hooked into the facades, closed at stop.

Fills of cold GETs run in the node's background nursery: they outlive the request that
started them and are cancelled (publishing nothing) when the node stops, before the
store closes; the backend clients are closed then too.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from aisfs.backend import Backends, RemoteObjects
from aisfs.config import BackendS3Config

if TYPE_CHECKING:
    from node.app import NodeApp

log = logging.getLogger("aisfs.node")


def backend_configured(cfg: BackendS3Config) -> bool:
    """Does the node have a backend: a ``[backend.s3]`` with anything set (AWS itself with
    the environment's credentials: ``endpoint = "https://s3.amazonaws.com"``)? Only then
    is the backend asked about an ``s3://`` bucket (``provider=aws``, or an S3 request for
    a bucket the node does not have): a node without one does not ask AWS about every
    unknown name."""
    return cfg != BackendS3Config()


async def start_backends(app: NodeApp, nursery: trio.Nursery) -> RemoteObjects:
    backends = Backends(app.cfg.backend)
    remote = RemoteObjects(app.store, backends, nursery)

    async def close_at_stop() -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await backends.aclose()

    nursery.start_soon(close_at_stop)
    from node.native.remote import RemoteNative
    from node.s3.remote import RemoteS3

    discover = backend_configured(app.cfg.backend.s3)
    app.s3.remote = RemoteS3(app.s3, remote, discover=discover)
    app.native.remote = RemoteNative(remote, discover=discover)
    if discover:
        log.info("backend: %s", backends.s3().settings.label)
    return remote
