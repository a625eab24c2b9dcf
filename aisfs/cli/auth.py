"""`aisfs auth token`: HS256 JWTs the node accepts (``auth.jwt_secret``)."""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import jwt

from aisfs.cli.args import Subparsers, add_command, add_subcommands

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


def register(sub: Subparsers) -> None:
    asub = add_subcommands(add_command(sub, "auth", None, "JWT tokens"))
    p = add_command(asub, "token", cmd_token,
                    "print a signed HS256 token for Authorization: Bearer")
    p.add_argument("--user", required=True)
    p.add_argument("--ttl", default="24h", help="lifetime: 90s, 30m, 1h, 7d (default 24h)")
    p.add_argument("--secret", default=None,
                   help="HS256 secret (default: $AISFS_JWT_SECRET, else auth.jwt_secret of "
                        "--config or /etc/aisfs/node.toml)")
    p.add_argument("--config", type=Path, default=None, help="node config to read the secret")
    p.add_argument("--no-admin", action="store_true", help="a non-admin token")
