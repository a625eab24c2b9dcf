"""``s3://BUCKET`` (``aws://`` too) in the CLI: the node's backend buckets, through ``/v1``
with ``provider=aws`` (docs/backends.md).

A command whose bucket argument names an ``s3://`` bucket gets a ``RemoteClient``: the
same ``NativeClient`` calls with ``provider=aws`` in place of ``ais`` on every request.
``aisfs ls s3://`` lists the backend's buckets; ``aisfs ls s3://B [--cached|--not-cached]``
its objects (a CACHED column: in the node's store or not); ``aisfs get/put s3://B/K``.
"""

from __future__ import annotations

import argparse
from typing import Any

import httpx

from aisfs.client.native import NativeClient

# URI scheme -> provider (AIS: s3:// is aws's; aws:// is accepted)
REMOTE_SCHEMES = {"s3": "aws", "aws": "aws"}
# the arguments that may carry a bucket URI, across the verbs
_URI_ARGS = ("uri", "src", "dst", "object", "objects", "bucket", "buckets")


def scheme_provider(uri: str) -> str:
    """``aws`` for ``s3://...``/``aws://...``, ``ais`` for anything else."""
    scheme, sep, _ = uri.partition("://")
    return REMOTE_SCHEMES.get(scheme.lower(), "ais") if sep else "ais"


def provider_of(ns: argparse.Namespace) -> str:
    """The provider of the bucket(s) a command names (its first URI argument decides)."""
    for name in _URI_ARGS:
        value: Any = getattr(ns, name, None)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and "://" in v:
                return scheme_provider(v)
    return "ais"


def uri_of(provider: str, bucket: str, key: str = "") -> str:
    scheme = "s3" if provider == "aws" else "ais"
    return f"{scheme}://{bucket}/{key}" if key else f"{scheme}://{bucket}"


def client_uri(c: NativeClient, bucket: str, key: str = "") -> str:
    """``bucket``/``key`` as the CLI names it to the user: ``s3://`` when ``c`` talks to
    a backend bucket (a ``RemoteClient``), else ``ais://``."""
    return uri_of(getattr(c, "provider", "ais"), bucket, key)


class RemoteClient(NativeClient):
    """A ``NativeClient`` whose requests name ``provider`` instead of ``ais``."""

    def __init__(self, *args: Any, provider: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider = provider
        self.http.event_hooks["request"] = [*self.http.event_hooks["request"],
                                            self._set_provider]

    def _set_provider(self, request: httpx.Request) -> None:
        if request.url.params.get("provider") == "ais":
            request.url = request.url.copy_set_param("provider", self.provider)


def client_for(ns: argparse.Namespace, provider: str | None = None) -> NativeClient:
    """A client of the node for ``provider`` (default: the one the command's first URI
    argument names)."""
    if provider is None:
        provider = provider_of(ns)
    if provider == "ais":
        return NativeClient(ns.endpoint, token=ns.token, timeout=ns.timeout)
    return RemoteClient(ns.endpoint, token=ns.token, timeout=ns.timeout, provider=provider)
