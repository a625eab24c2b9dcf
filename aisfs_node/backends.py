"""The node's backend buckets: ``[backend.s3]`` made into a ``Backends`` registry and a
``RemoteObjects`` service at start (``NodeApp`` hooks it into the facades), closed at stop.

Fills of cold GETs run in the node's background nursery: they outlive the request that
started them and are cancelled (publishing nothing) when the node stops, before the
store closes; the backend clients are closed then too.
"""

from __future__ import annotations

import logging

import trio

from aisfs.backend import Backends, RemoteObjects
from aisfs.config import BackendS3Config, NodeConfig
from aisfs.store.store import Store

log = logging.getLogger("aisfs.node")


def backend_configured(cfg: BackendS3Config) -> bool:
    """Does the node have a backend: a ``[backend.s3]`` with anything set (AWS itself with
    the environment's credentials: ``endpoint = "https://s3.amazonaws.com"``)? Only then
    is the backend asked about an ``s3://`` bucket (``provider=aws``, or an S3 request for
    a bucket the node does not have): a node without one does not ask AWS about every
    unknown name."""
    return cfg != BackendS3Config()


async def start_backends(
    cfg: NodeConfig, store: Store, nursery: trio.Nursery
) -> tuple[RemoteObjects, bool]:
    """The backend service and whether the node asks it about unknown names
    (``backend_configured``); the app hooks it into both facades."""
    backends = Backends(cfg.backend)
    remote = RemoteObjects(store, backends, nursery)

    async def close_at_stop() -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await backends.aclose()

    nursery.start_soon(close_at_stop)
    discover = backend_configured(cfg.backend.s3)
    if discover:
        log.info("backend: %s", backends.s3().settings.label)
    return remote, discover
