"""What every part of the native API shares: the request's context (``Ctx``), the node's
collaborators (``Node``), the action message, JSON responses and AIS's names.

The router (``aisfs_node.native.api``) and every handler module import this one; none of them
imports the router or each other's routes back, so the wing has no import circle.
"""

from __future__ import annotations

import hashlib
import json
import string
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import xxhash

from aisfs.auth.caller import OPEN, Caller
from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from aisfs.numbers import NumberError, parse_uint
from aisfs.s3.sigv4 import AuthResult, check_payload_sha256
from aisfs.store.store import Store
from aisfs_node.features import FeatureFlags
from aisfs_node.http import Request, Response
from aisfs_node.metrics import Metrics
from aisfs_node.native.whole_checked import WholeChecked

if TYPE_CHECKING:
    from aisfs_node.s3_auth import Authenticator

JSON = "application/json"
MSGPACK = "application/msgpack"
MAX_CONTROL_BODY = 1024 * 1024
_ALPHABET = string.ascii_letters + string.digits


class Ctx:
    """One request: its HTTP request, the operation's name (metrics), the bucket and key
    of the route, who sent it."""

    __slots__ = ("http", "operation", "bucket", "key", "auth", "caller")

    def __init__(self, http: Request) -> None:
        self.http = http
        self.operation = "Unknown"
        self.bucket = ""
        self.key: str | None = None
        self.auth: AuthResult | None = None  # a verified S3 signature (sigv4 mode)
        self.caller: Caller = OPEN  # who: a user, or the open node (aisfs_node/native_auth.py)


class Node:
    """The node as the native API's handlers see it, built by ``NodeApp``."""

    def __init__(
        self,
        cfg: NodeConfig,
        store: Store,
        features: FeatureFlags,
        metrics: Metrics,
        authenticator: Authenticator,
        ready: Callable[[], bool],
        started_ns: int,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.features = features
        self.metrics = metrics
        self.authenticator = authenticator  # the S3 facade's: the same users on /v1
        self.ready = ready
        self.started_ns = started_ns
        self.node_id = node_id_of(cfg)
        self.cluster_uuid = short_id("cluster:" + str(cfg.store.index_dir), 9)
        self.created = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(started_ns / 1e9))
        # whole-object checksums GETs validated, by content (sendfile after: objects.py)
        self.whole_checked = WholeChecked()


def node_id_of(cfg: NodeConfig) -> str:
    """The node's AIS id: stable for its index directory."""
    return short_id("node:" + str(cfg.store.index_dir))


def short_id(seed: str, n: int = 8) -> str:
    """A stable AIS-looking id (``hHQZBnBQ``) derived from ``seed``."""
    value = xxhash.xxh64_intdigest(seed.encode())
    out = []
    for _ in range(n):
        value, r = divmod(value, len(_ALPHABET))
        out.append(_ALPHABET[r])
    return "".join(out)


def cname(bucket: str, key: str | None = None) -> str:
    return f"ais://{bucket}" if key is None else f"ais://{bucket}/{key}"


def rfc822(ns: int) -> str:
    """AIS's default listing time format (Go ``time.RFC822``)."""
    return time.strftime("%d %b %y %H:%M UTC", time.gmtime(ns / 1e9))


def json_response(data: Any, status: int = 200) -> Response:
    return Response(status, [("content-type", JSON)], json.dumps(data).encode())


def uint_or_none(text: str | None) -> int | None:
    """A length header's value, or None when it is absent or not ASCII digits."""
    try:
        return None if text is None else parse_uint(text.strip(" \t"))
    except NumberError:
        return None


def signed_payload_hash(ctx: Ctx) -> str:
    """The hex SHA-256 of the body that a verified signature covers, else ""."""
    if ctx.auth is None or ctx.auth.presigned:
        return ""
    declared = (ctx.http.headers.get("x-amz-content-sha256") or "").strip()
    return declared if len(declared) == 64 else ""


async def action_msg(ctx: Ctx) -> dict[str, Any]:
    """The request's AIS action message ``{action, name, value}`` ({} for no body)."""
    body = await ctx.http.read_body(MAX_CONTROL_BODY)
    declared = signed_payload_hash(ctx)
    if declared:
        check_payload_sha256(declared, hashlib.sha256(body).digest())
    if not body.strip():
        return {}
    try:
        msg = json.loads(body)
    except ValueError:
        raise S3Error("InvalidRequest", "the request body is not valid JSON") from None
    if not isinstance(msg, dict):
        raise S3Error("InvalidRequest", "expected a JSON action message {action, name, value}")
    return msg


def entry_json(ent: dict[str, Any]) -> dict[str, Any]:
    """A listing entry with its msgpack short names spelled out (the JSON listing)."""
    names = {"n": "name", "s": "size", "cs": "checksum", "a": "atime", "v": "version",
             "t": "location", "m": "custom-md", "c": "copies", "f": "flags"}
    return {names[k]: v for k, v in ent.items()}


def unsupported(action: str) -> S3Error:
    return S3Error("NotImplemented", f"bucket action {action!r} is not supported", status=501)


def method_not_allowed(method: str, path: str) -> S3Error:
    return S3Error("MethodNotAllowed", f"{method} is not allowed on {path}")
