"""The node's backends: one ``S3Backend`` per distinct effective settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import BackendConfig
from .provider import BucketRef, Resolved, resolve
from .s3 import S3Backend
from .settings import S3Settings, settings_for


class Backends:
    """Resolves buckets against ``[backend.*]`` and hands out the clients."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self._clients: dict[S3Settings, S3Backend] = {}

    def resolve(self, ref: BucketRef, props: Mapping[str, Any]) -> Resolved:
        return resolve(ref, props, self.config.s3)

    def s3(self, settings: S3Settings | None = None) -> S3Backend:
        """The client for ``settings`` (default: ``[backend.s3]`` as configured)."""
        if settings is None:
            settings = settings_for(self.config.s3)
        client = self._clients.get(settings)
        if client is None:
            client = self._clients[settings] = S3Backend(settings)
        return client

    def for_bucket(self, rb: Resolved) -> S3Backend:
        if rb.settings is None:
            raise ValueError(f"{rb.bucket} has no backend")
        return self.s3(rb.settings)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            await c.aclose()
