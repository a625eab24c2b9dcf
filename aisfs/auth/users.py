"""Users and the lookups a request needs.

A user has a name (``[auth.users.NAME]``, or ``aisfs auth user add NAME``), a canonical
id (64 hex digits, as AWS's canonical user ids: the ``Owner/ID`` of listings and ACLs),
a display name, access keys (SigV4/SigV2: the node must hold each secret in plaintext to
verify a signature, see docs/auth.md), JWT subjects (``sub`` claims that are this user)
and the admin flag (``/v1`` cluster routes, every bucket).

The ``[auth.access_keys]`` of older configs is one user, ``aisfs``, an admin: what every
key could do before users existed. Its canonical id, like every configured user's
without an ``id``, is derived from the name, so it is stable across restarts; a bucket
with no recorded owner (created before users, or while the node ran open) belongs to it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

LEGACY_USER = "aisfs"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+=,-]{0,63}")
_AKID = re.compile(r"[A-Za-z0-9._+=@-]{1,128}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_SECRET = 256
_AKID_ALPHABET = string.ascii_uppercase + string.digits


class UserError(ValueError):
    """A bad user, key or name; ``conflict``: it collides with an existing one."""

    def __init__(self, message: str, conflict: bool = False, missing: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict
        self.missing = missing


def canonical_id(name: str) -> str:
    """The stable canonical id of a configured user named ``name`` (64 hex digits)."""
    return hashlib.sha256(b"aisfs-user\0" + name.encode()).hexdigest()


def new_id() -> str:
    """A fresh canonical id (a run-time user's)."""
    return secrets.token_hex(32)


def new_access_key() -> tuple[str, str]:
    """A fresh (access key id, secret key): ``AK`` + 18 characters, 40-character secret."""
    akid = "AK" + "".join(secrets.choice(_AKID_ALPHABET) for _ in range(18))
    secret = secrets.token_urlsafe(30)  # never a leading '-': a CLI would read it as an option
    return akid, secret if secret[0] != "-" else "_" + secret[1:]


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UserError(
            f"user name {name!r}: 1-64 characters, letters, digits and ._@+=,- "
            "(not first)"
        )
    return name


def check_key(akid: str, secret: str) -> None:
    if not isinstance(akid, str) or not _AKID.fullmatch(akid):
        raise UserError(f"access key id {akid!r}: 1-128 letters, digits or ._+=@-")
    if not isinstance(secret, str) or not secret or len(secret) > MAX_SECRET \
            or not secret.isprintable():
        raise UserError(f"the secret of {akid}: 1-{MAX_SECRET} printable characters")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    id: str
    display_name: str
    access_keys: Mapping[str, str] = field(default_factory=dict)
    jwt_subjects: tuple[str, ...] = ()
    admin: bool = False
    source: str = "config"  # "config" (node.toml) | "runtime" (the user store) | "token"

    def __repr__(self) -> str:  # secrets never in a log or a traceback
        return (f"User(name={self.name!r}, id={self.id[:12]}..., admin={self.admin}, "
                f"keys={sorted(self.access_keys)}, source={self.source})")

    def public(self) -> dict[str, Any]:
        """What ``aisfs auth user ls`` shows: everything but the secrets."""
        return {
            "name": self.name,
            "id": self.id,
            "display_name": self.display_name,
            "admin": self.admin,
            "access_keys": sorted(self.access_keys),
            "jwt_subjects": list(self.jwt_subjects),
            "source": self.source,
        }


def user_from_table(name: str, table: Mapping[str, Any], prefix: str) -> User:
    """One ``[auth.users.NAME]`` table (``prefix``: its key path, for the message)."""
    check_name(name)
    known = {"id", "display_name", "access_keys", "jwt_subjects", "admin"}
    for k in table:
        if k not in known:
            raise UserError(f"{prefix}.{k}: unknown setting (known: {', '.join(sorted(known))})")
    uid = table.get("id", "") or canonical_id(name)
    if not isinstance(uid, str) or not _HEX64.fullmatch(uid):
        raise UserError(f"{prefix}.id: 64 lower-case hex digits (a canonical user id)")
    display = table.get("display_name", name)
    if not isinstance(display, str) or not display or len(display) > 128:
        raise UserError(f"{prefix}.display_name: a non-empty string")
    keys = table.get("access_keys", {})
    if not isinstance(keys, Mapping):
        raise UserError(f"{prefix}.access_keys: a table {{ AKID = \"SECRET\" }}")
    for akid, secret in keys.items():
        try:
            check_key(akid, secret)
        except UserError as e:
            raise UserError(f"{prefix}.access_keys: {e}") from None
    subjects = table.get("jwt_subjects", [])
    if not isinstance(subjects, list) or not all(isinstance(s, str) and s for s in subjects):
        raise UserError(f"{prefix}.jwt_subjects: a list of non-empty strings")
    admin = table.get("admin", False)
    if not isinstance(admin, bool):
        raise UserError(f"{prefix}.admin: true or false")
    return User(name, uid, display, dict(keys), tuple(subjects), admin, "config")


def users_from_config(access_keys: Mapping[str, str], users: Mapping[str, Any]) -> list[User]:
    """The users of ``[auth]``: each ``[auth.users.NAME]``, and ``[auth.access_keys]`` as
    the admin user ``aisfs`` (merged into ``[auth.users.aisfs]`` when both are there)."""
    out: dict[str, User] = {}
    for name, table in users.items():
        if not isinstance(table, Mapping):
            raise UserError(f"auth.users.{name}: expected a table")
        out[name] = user_from_table(name, table, f"auth.users.{name}")
    if access_keys:
        for akid, secret in access_keys.items():
            try:
                check_key(akid, secret)
            except UserError as e:
                raise UserError(f"auth.access_keys: {e}") from None
        legacy = out.get(LEGACY_USER)
        if legacy is None:
            out[LEGACY_USER] = User(LEGACY_USER, canonical_id(LEGACY_USER), LEGACY_USER,
                                    dict(access_keys), (), True, "config")
        else:
            merged = {**legacy.access_keys, **access_keys}
            out[LEGACY_USER] = User(legacy.name, legacy.id, legacy.display_name, merged,
                                    legacy.jwt_subjects, legacy.admin, "config")
    found = Directory(out.values())
    if found.problems:
        raise UserError("auth.users: " + "; ".join(found.problems))
    return list(out.values())


class Directory:
    """Every user a node knows, with the indexes requests need (immutable: rebuilt on a
    change and swapped whole, so a request never sees half an update)."""

    def __init__(self, users: Iterable[User]) -> None:
        self.problems: list[str] = []
        self._by_name: dict[str, User] = {}
        self._by_id: dict[str, User] = {}
        self._by_key: dict[str, User] = {}
        self._by_subject: dict[str, User] = {}
        for u in users:
            if u.name in self._by_name:
                self.problems.append(f"user {u.name} is defined twice ({u.source} ignored)")
                continue
            if u.id in self._by_id:
                self.problems.append(
                    f"users {self._by_id[u.id].name} and {u.name} have the same id "
                    f"({u.name} ignored)")
                continue
            self._by_name[u.name] = u
            self._by_id[u.id] = u
            for akid in u.access_keys:
                other = self._by_key.get(akid)
                if other is not None:
                    self.problems.append(
                        f"access key {akid} belongs to {other.name} and {u.name} "
                        f"(kept for {other.name})")
                    continue
                self._by_key[akid] = u
            for sub in u.jwt_subjects:
                self._by_subject.setdefault(sub, u)

    def __len__(self) -> int:
        return len(self._by_name)

    def users(self) -> list[User]:
        return sorted(self._by_name.values(), key=lambda u: u.name)

    def by_name(self, name: str) -> User | None:
        return self._by_name.get(name)

    def by_id(self, uid: str) -> User | None:
        return self._by_id.get(uid)

    def user_of_key(self, akid: str) -> User | None:
        return self._by_key.get(akid)

    def secret(self, akid: str) -> str | None:
        """The secret of an access key id (SigV4/SigV2's lookup), None if unknown."""
        u = self._by_key.get(akid)
        return None if u is None else u.access_keys.get(akid)

    def user_of_subject(self, subject: str) -> User | None:
        """A JWT subject's user: one who lists it in ``jwt_subjects``, else by name."""
        return self._by_subject.get(subject) or self._by_name.get(subject)

    def has_keys(self) -> bool:
        return bool(self._by_key)

    @property
    def legacy_owner_id(self) -> str:
        """Who owns a bucket with no recorded owner: the user ``aisfs``."""
        u = self._by_name.get(LEGACY_USER)
        return u.id if u is not None else canonical_id(LEGACY_USER)
