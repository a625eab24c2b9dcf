"""Who may use the native ``/v1`` API: the S3 facade's users, keys and tokens.

The identities are those of the S3 API (aisfs_node/s3_auth.py's ``Authenticator``, one user
directory): a request carries a bearer token (``Authorization: Bearer`` or
``X-Amz-Security-Token``, the one JWT check of :mod:`aisfs.auth.tokens`) or - when
``auth.mode`` is sigv4 - an S3 signature (the mount's native extras). Failures are 401.

What a caller may do (the interim rule of docs/auth.md):

- the cluster routes - ``/v1/cluster`` and ``/v1/daemon`` (config and features, read or
  set; the bucket map; mountpaths, resilver, scrub, jobs) and ``/v1/users`` - are an
  admin's; any caller may read the cluster map (``what=smap``/``snode``, the SDK's
  first call) and the node's status (``what=stats|node_status|status``);
- a bucket and its objects are its owner's (and every admin's) - but reading an object
  (GET/HEAD ``/v1/objects/B/K``) is decided as S3 decides GetObject/HeadObject (its
  ACL, the bucket policy: aisfs_node/s3_access.py); a bucket of the backend
  (``provider=aws``, or one the store has no record of on a node with a backend) is an
  admin's; ``GET /v1/buckets`` shows a non-admin their own buckets, an admin all;
- ``/metrics``, ``/health`` and ``/v1/health``: anyone, or with ``auth.metrics = "auth"``
  any caller the node accepts.

``/v1/users`` (``aisfs auth user|key``): GET lists the users (no secret); POST creates
one (``{"name", "display_name", "admin", "jwt_subjects", "access_key", "secret_key",
"no_key"}``; a key is generated unless given or ``no_key``; the secret is answered once);
``DELETE /v1/users/NAME``; ``POST /v1/users/NAME/keys`` (``{"access_key",
"secret_key"}``, generated when absent); ``DELETE /v1/users/NAME/keys/AKID``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import trio

from aisfs.auth.caller import OPEN, Caller
from aisfs.auth.users import UserError
from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from aisfs_node.http import Headers, Request, Response
from aisfs_node.native.wire import Ctx, Node, action_msg

if TYPE_CHECKING:
    from aisfs_node.s3_auth import Authenticator

OPEN_INFO = frozenset(("smap", "snode", "stats", "node_status", "status"))  # read-only


async def _names_a_job(ctx: Ctx) -> bool:
    """Does the request's message name one job by its id (``{"ID": ...}``)? The body is
    left readable for the route."""
    from aisfs_node.native.jobs import peek_action  # the jobs' routes import this module's peers

    msg = await peek_action(ctx)
    folded = {str(k).lower(): v for k, v in msg.items()}
    return bool(folded.get("id") or folded.get("uuid"))


def _deny(message: str) -> S3Error:
    return S3Error("AccessDenied", message, status=401)


def _forbidden(message: str) -> S3Error:
    return S3Error("AccessDenied", message, status=403)


def check_native_auth(cfg: NodeConfig, headers: Headers) -> dict[str, Any] | None:
    """The claims of the request's bearer token, or None when the node runs open.

    Raises 401 without a valid token, 403 when the node takes no tokens. (The status
    page's check: node/dashboard.py.)
    """
    from aisfs.auth import tokens

    if cfg.auth.mode == "open":
        return None
    if not cfg.auth.jwt_secret:
        raise _forbidden("the native API needs auth.jwt_secret when auth.mode is "
                         + cfg.auth.mode)
    token = tokens.token_of(headers.get)
    if token is None:
        raise _deny("missing bearer token (Authorization: Bearer <token>; see aisfs auth token)")
    try:
        return tokens.verify(token, cfg.auth.jwt_secret)
    except tokens.TokenError as e:
        raise _deny(str(e)) from None


def authenticator_of(api: Node) -> Authenticator:
    return api.authenticator  # the S3 facade's: the same users on /v1


def aws_signed(req: Request) -> bool:
    """The request carries an S3 signature (header or presigned query), not a token."""
    value = (req.headers.get("authorization") or "").lstrip()
    if value.startswith(("AWS4-HMAC-SHA256", "AWS ")):
        return True
    q = req.query_string
    return "X-Amz-Signature=" in q or "Signature=" in q


def identify(api: Node, ctx: Ctx) -> None:
    """Set ``ctx.caller`` (and ``ctx.auth`` for an S3 signature); raises 401/403."""
    cfg = api.cfg
    req = ctx.http
    if cfg.auth.mode == "open":
        ctx.caller = OPEN
        return
    authn = authenticator_of(api)
    if cfg.auth.mode == "sigv4" and aws_signed(req):
        caller, auth = authn.identify(req)
        if auth is not None and auth.streaming_signed:
            raise S3Error(
                "NotImplemented",
                "the native API takes no streaming-signed bodies (sign the payload "
                "hash or send UNSIGNED-PAYLOAD)", status=501,
            )
        ctx.caller, ctx.auth = caller, auth
        return
    if not cfg.auth.jwt_secret:
        raise _forbidden("the native API needs auth.jwt_secret when auth.mode is "
                         + cfg.auth.mode + " (or S3-signed requests)")
    ctx.caller = authn.token_caller(req.headers.get, status=401)


def probe_allowed(api: Node | None, cfg: NodeConfig, req: Request) -> None:
    """``/metrics`` and ``/health``: raises unless ``auth.metrics`` lets ``req`` in."""
    if cfg.auth.metrics == "open" or cfg.auth.mode == "open" or api is None:
        return
    identify(api, Ctx(req))


async def gate(api: Node, ctx: Ctx, head: str, parts: list[str]) -> Response | None:
    """Refuse what ``ctx.caller`` may not do; answer ``/v1/users`` and a non-admin's
    bucket list. None: the route goes on."""
    caller: Caller = ctx.caller
    if head == "users":
        if not caller.admin:
            raise _forbidden("users are an admin's (aisfs auth user|key)")
        return await users_route(api, ctx, parts)
    if caller.admin:
        return None
    method = ctx.http.method
    q = ctx.http.query_dict()
    if head in ("daemon", "cluster"):
        sub = parts[1] if len(parts) > 1 else ""
        if not sub and method == "GET" and q.get("what", "") in OPEN_INFO:
            return None
        if not sub and method == "GET" and q.get("what") == "qryxstats" \
                and await _names_a_job(ctx):
            return None  # one job's progress: the SDK's job.wait() (its id is the key)
        raise _forbidden(f"/v1/{head}: cluster routes are an admin's")
    if head not in ("buckets", "objects"):
        return None
    if q.get("provider", "ais") not in ("", "ais"):
        raise _forbidden("backend buckets are an admin's")
    name = unquote(parts[1]) if len(parts) > 1 else ""
    authn = authenticator_of(api)
    if head == "buckets" and not name:
        if method != "GET":
            return None
        ctx.operation = "ListBuckets"
        await action_msg(ctx)
        assert caller.user is not None
        mine = [b for b in await api.store.list_buckets()
                if authn.owner_of(b.props) == caller.user.id]
        doc = [{"name": b.name, "provider": "ais", "namespace": {"uuid": "", "name": ""}}
               for b in mine]
        return Response(200, [("content-type", "application/json")], json.dumps(doc).encode())
    if name and head == "objects" and method in ("GET", "HEAD") and len(parts) > 2:
        # reading an object: the S3 decision (owner, policy, ACLs: aisfs_node/s3_access.py)
        key = unquote("/".join(parts[2:]))
        operation = "GetObject" if method == "GET" else "HeadObject"
        await authn.access.authorize_read(api.store, caller, name, key, operation, ctx.http)
        return None
    if name:
        await authn.check_bucket(api.store, caller, name)
    return None


def _json(data: Any, status: int = 200) -> Response:
    return Response(status, [("content-type", "application/json")], json.dumps(data).encode())


def _user_error(e: UserError) -> S3Error:
    if e.conflict:
        return S3Error("Conflict", str(e), status=409)
    if e.missing:
        return S3Error("NoSuchUser", str(e), status=404)
    return S3Error("InvalidArgument", str(e), status=400)


def _str(msg: dict[str, Any], name: str) -> str:
    value = msg.get(name, "")
    if not isinstance(value, str):
        raise S3Error("InvalidArgument", f"{name}: expected a string")
    return value


async def users_route(api: Node, ctx: Ctx, parts: list[str]) -> Response:
    authn = authenticator_of(api)
    store = authn.store
    if store is None:
        raise S3Error("NotImplemented", "this node keeps no run-time users", status=501)
    method = ctx.http.method
    rest = [unquote(p) for p in "/".join(parts[1:]).split("/") if p]
    msg = await action_msg(ctx)
    known = authn.users
    try:
        if not rest:
            if method == "GET":
                ctx.operation = "ListUsers"
                return _json({"users": [u.public() for u in known.users()]})
            if method == "POST":
                ctx.operation = "CreateUser"
                subjects = msg.get("jwt_subjects") or []
                if not isinstance(subjects, list) or not all(isinstance(s, str) for s in subjects):
                    raise S3Error("InvalidArgument", "jwt_subjects: expected a list of strings")
                akid, secret = _str(msg, "access_key"), _str(msg, "secret_key")
                if bool(akid) != bool(secret):
                    raise S3Error("InvalidArgument", "access_key and secret_key go together")
                key = ("", "") if msg.get("no_key") else ((akid, secret) if akid else None)
                user, first = await trio.to_thread.run_sync(
                    lambda: store.add_user(known, _str(msg, "name"),
                                           _str(msg, "display_name"),
                                           msg.get("admin") is True, subjects, key))
                await trio.to_thread.run_sync(authn.refresh)
                out: dict[str, Any] = {"user": user.public()}
                if first is not None:
                    out["access_key"], out["secret_key"] = first
                return _json(out)
        elif len(rest) == 1 and method == "DELETE":
            ctx.operation = "DeleteUser"
            await trio.to_thread.run_sync(store.remove_user, known, rest[0])
            await trio.to_thread.run_sync(authn.refresh)
            return _json({"removed": rest[0]})
        elif len(rest) == 2 and rest[1] == "keys" and method == "POST":
            ctx.operation = "CreateAccessKey"
            akid, secret = _str(msg, "access_key"), _str(msg, "secret_key")
            if bool(akid) != bool(secret):
                raise S3Error("InvalidArgument", "access_key and secret_key go together")
            made = await trio.to_thread.run_sync(
                store.add_key, known, rest[0], (akid, secret) if akid else None)
            await trio.to_thread.run_sync(authn.refresh)
            return _json({"user": rest[0], "access_key": made[0], "secret_key": made[1]})
        elif len(rest) == 3 and rest[1] == "keys" and method == "DELETE":
            ctx.operation = "DeleteAccessKey"
            await trio.to_thread.run_sync(store.remove_key, known, rest[0], rest[2])
            await trio.to_thread.run_sync(authn.refresh)
            return _json({"user": rest[0], "removed": rest[2]})
    except UserError as e:
        raise _user_error(e) from None
    raise S3Error("MethodNotAllowed", f"{method} is not allowed on {ctx.http.raw_path}",
                  status=405)
