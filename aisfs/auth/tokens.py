"""The one JWT check of both APIs (AIStore AuthN's HS256 bearer tokens).

A token travels in ``Authorization: Bearer <token>`` or, as AIStore accepts from AWS SDKs
(which cannot send a bearer header), in ``X-Amz-Security-Token`` - on ``/s3`` and ``/v1``
alike. It must be signed with ``auth.jwt_secret`` (HS256) and carry ``exp``.

Its subject (``sub``, else AIStore's ``username``) maps to a user: the user listing it in
``jwt_subjects``, else the user of that name; the user's own admin flag then applies. A
subject no user has is a user of its own, as AIStore's AuthN makes the token the whole
identity: its name is the subject, its canonical id derived from it, its admin flag the
token's ``admin`` claim (``aisfs auth token --no-admin`` for a plain one). Only a holder of
the node's JWT secret can mint either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt

from aisfs.auth.users import Directory, User, canonical_id

HeaderGet = Callable[[str], str | None]


class TokenError(Exception):
    """No token, or one that is not valid: the message says which (no secret in it)."""


def token_of(get: HeaderGet) -> str | None:
    """The bearer token a request carries, or None."""
    value = (get("authorization") or "").strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return rest.strip()
    token = (get("x-amz-security-token") or "").strip()
    return token or None


def has_bearer(get: HeaderGet) -> bool:
    value = (get("authorization") or "").lstrip()
    return value[:7].lower() == "bearer "


def verify(token: str, secret: str) -> dict[str, Any]:
    """The claims of a valid token; raises TokenError."""
    if not secret:
        raise TokenError("this node takes no tokens (auth.jwt_secret is not set)")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired") from None
    except jwt.PyJWTError as e:
        raise TokenError(f"the token is not valid: {e}") from None
    return dict(claims)


def user_of_claims(claims: dict[str, Any], users: Directory) -> User:
    """The user a token stands for (see the module's docstring)."""
    subject = claims.get("sub") or claims.get("username")
    if not isinstance(subject, str) or not subject:
        raise TokenError("the token names no subject (sub)")
    user = users.user_of_subject(subject)
    if user is not None:
        return user
    admin = claims.get("admin") is True
    return User(subject, canonical_id("jwt:" + subject), subject, {}, (subject,), admin,
                "token")
