"""`aisfs auth token`: HS256 JWTs the node accepts (``auth.jwt_secret``)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import jwt

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
