"""JWT bearer tokens for the native API (AIStore's AuthN model, HS256).

``aisfs auth token --user U --ttl 1h`` signs ``{"sub": U, "username": U, "admin": true,
"iat": ..., "exp": ...}`` with ``auth.jwt_secret``; the node checks the signature and
expiry of ``Authorization: Bearer <token>`` on every ``/v1`` request when auth is on.
"""

from __future__ import annotations

from typing import Any

import jwt

from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from node.http import Headers


def _deny(message: str) -> S3Error:
    return S3Error("AccessDenied", message, status=401)


def check_native_auth(cfg: NodeConfig, headers: Headers) -> dict[str, Any] | None:
    """The token's claims, or None when the node runs open; raises 401 otherwise.

    - ``auth.mode = "open"``: no check;
    - ``jwt``, or ``sigv4`` with a ``jwt_secret``: a valid HS256 bearer token is needed;
    - ``sigv4`` without a secret: the native API is closed (S3 keys don't sign it).
    """
    mode = cfg.auth.mode
    if mode == "open":
        return None
    secret = cfg.auth.jwt_secret
    if not secret:
        raise S3Error(
            "AccessDenied",
            "the native API needs auth.jwt_secret when auth.mode is " + mode,
            status=403,
        )
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _deny("missing bearer token (Authorization: Bearer <token>; see aisfs auth token)")
    try:
        claims = jwt.decode(
            token.strip(), secret, algorithms=["HS256"], options={"require": ["exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise _deny("token expired") from None
    except jwt.PyJWTError as e:
        raise _deny(f"invalid token: {e}") from None
    return dict(claims)
