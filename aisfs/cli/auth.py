"""`aisfs auth token`: HS256 JWTs the node accepts (``auth.jwt_secret``); `aisfs auth
user add|ls|rm` and `aisfs auth key add|rm`: the node's run-time users (``/v1/users``, an
admin's; docs/auth.md)."""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path
from urllib.parse import quote

import jwt

from aisfs.cli.args import (
    Subparsers,
    add_command,
    add_subcommands,
    client,
    connection_options,
    json_flag,
)
from aisfs.cli.output import print_json, print_table

_TTL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class AuthError(ValueError):
    pass


def parse_ttl(text: str) -> int:
    """``90s``, ``30m``, ``1h``, ``7d``, ``3600`` -> seconds (> 0)."""
    m = _TTL_RE.match(text)
    if m is None:
        raise AuthError(f"--ttl: expected e.g. 30m, 1h or 7d, got {text!r}")
    seconds = int(float(m.group(1)) * _UNIT[m.group(2)])
    if seconds <= 0:
        raise AuthError("--ttl: must be positive")
    return seconds


def resolve_secret(secret: str | None, config: Path | None) -> str:
    """--secret, then $AISFS_JWT_SECRET, then auth.jwt_secret of the node config."""
    if secret:
        return secret
    env = os.environ.get("AISFS_JWT_SECRET")
    if env:
        return env
    from aisfs.config import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as e:
        raise AuthError(str(e)) from None
    if cfg.auth.jwt_secret:
        return cfg.auth.jwt_secret
    raise AuthError(
        "no secret: pass --secret, set AISFS_JWT_SECRET, or set auth.jwt_secret in the node "
        "config (--config)"
    )


def make_token(secret: str, user: str, ttl_seconds: int, admin: bool = True) -> str:
    now = int(time.time())
    claims = {
        "sub": user,
        "username": user,
        "admin": admin,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def cmd_token(ns: argparse.Namespace) -> int:
    secret = resolve_secret(ns.secret, ns.config)
    print(make_token(secret, ns.user, parse_ttl(ns.ttl), admin=not ns.no_admin))
    return 0


def _print_key(ns: argparse.Namespace, out: dict[str, object]) -> None:
    if ns.json:
        print_json(out)
        return
    user = out.get("user")
    name = user.get("name") if isinstance(user, dict) else user
    print(f"user {name}")
    if out.get("access_key"):
        print(f"access key: {out['access_key']}")
        print(f"secret key: {out['secret_key']}   (shown once: keep it now)")


def cmd_user_add(ns: argparse.Namespace) -> int:
    msg: dict[str, object] = {"name": ns.name, "display_name": ns.display_name or "",
                              "admin": ns.admin, "jwt_subjects": ns.jwt_subject or [],
                              "no_key": ns.no_key}
    if ns.access_key:
        msg["access_key"], msg["secret_key"] = ns.access_key, _secret_arg(ns)
    with client(ns) as c:
        out = c.request("POST", "/v1/users", content=json.dumps(msg).encode(),
                        headers={"content-type": "application/json"}).json()
    _print_key(ns, out)
    return 0


def cmd_user_ls(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        users = c.request("GET", "/v1/users").json()["users"]
    if ns.json:
        print_json(users)
        return 0
    print_table(["NAME", "ID", "DISPLAY NAME", "ADMIN", "ACCESS KEYS", "JWT SUBJECTS", "FROM"],
                [[u["name"], u["id"], u["display_name"], "yes" if u["admin"] else "no",
                  ",".join(u["access_keys"]) or "-", ",".join(u["jwt_subjects"]) or "-",
                  u["source"]] for u in users])
    return 0


def cmd_user_rm(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        for name in ns.names:
            c.request("DELETE", f"/v1/users/{quote(name, safe='')}")
            print(f"user {name} removed")
    return 0


def _secret_arg(ns: argparse.Namespace) -> str:
    secret = ns.secret_key or os.environ.get("AISFS_SECRET_KEY", "")
    if not secret:
        raise AuthError("--access-key needs its secret: --secret-key or $AISFS_SECRET_KEY")
    return str(secret)


def cmd_key_add(ns: argparse.Namespace) -> int:
    msg: dict[str, str] = {}
    if ns.access_key:
        msg = {"access_key": ns.access_key, "secret_key": _secret_arg(ns)}
    with client(ns) as c:
        out = c.request("POST", f"/v1/users/{quote(ns.user, safe='')}/keys",
                        content=json.dumps(msg).encode(),
                        headers={"content-type": "application/json"}).json()
    _print_key(ns, out)
    return 0


def cmd_key_rm(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        c.request("DELETE", f"/v1/users/{quote(ns.user, safe='')}/keys/"
                  f"{quote(ns.access_key, safe='')}")
    print(f"access key {ns.access_key} of {ns.user} removed")
    return 0


def register(sub: Subparsers) -> None:
    asub = add_subcommands(add_command(sub, "auth", None, "JWT tokens, users and their keys"))
    conn = [connection_options()]
    usub = add_subcommands(add_command(asub, "user", None, "the node's users (an admin's)"))
    p = json_flag(add_command(usub, "add", cmd_user_add,
                              "add a user (with a generated access key, printed once)",
                              parents=conn))
    p.add_argument("name")
    p.add_argument("--display-name", default="")
    p.add_argument("--admin", action="store_true", help="may do everything (/v1 cluster routes, "
                   "every bucket)")
    p.add_argument("--jwt-subject", action="append", help="a JWT sub that is this user "
                   "(repeatable; the user's name always is)")
    p.add_argument("--access-key", default="", help="this key id instead of a generated one")
    p.add_argument("--secret-key", default="", help="its secret (else $AISFS_SECRET_KEY)")
    p.add_argument("--no-key", action="store_true", help="no access key (JWT only)")
    p = json_flag(add_command(usub, "ls", cmd_user_ls, "list users (no secrets)", parents=conn))
    p = add_command(usub, "rm", cmd_user_rm, "remove run-time users", parents=conn)
    p.add_argument("names", nargs="+", metavar="NAME")
    ksub = add_subcommands(add_command(asub, "key", None, "a user's access keys (an admin's)"))
    p = json_flag(add_command(ksub, "add", cmd_key_add,
                              "add an access key (generated unless given; printed once)",
                              parents=conn))
    p.add_argument("user")
    p.add_argument("--access-key", default="")
    p.add_argument("--secret-key", default="", help="its secret (else $AISFS_SECRET_KEY)")
    p = add_command(ksub, "rm", cmd_key_rm, "remove an access key", parents=conn)
    p.add_argument("user")
    p.add_argument("access_key", metavar="ACCESS_KEY")
    p = add_command(asub, "token", cmd_token,
                    "print a signed HS256 token for Authorization: Bearer")
    p.add_argument("--user", required=True)
    p.add_argument("--ttl", default="24h", help="lifetime: 90s, 30m, 1h, 7d (default 24h)")
    p.add_argument("--secret", default=None,
                   help="HS256 secret (default: $AISFS_JWT_SECRET, else auth.jwt_secret of "
                        "--config or /etc/aisfs/node.toml)")
    p.add_argument("--config", type=Path, default=None, help="node config to read the secret")
    p.add_argument("--no-admin", action="store_true", help="a non-admin token")
