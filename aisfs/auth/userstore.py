"""The users added at run time (``aisfs auth user|key``), kept by the node.

``<state_dir>/auth/users.json`` (the index directory by default: beside the index, not in
any mountpath's object data), mode 0600, replaced atomically (temp file, fsync, rename,
directory fsync), with every secret sealed by the node key (``node.key`` beside it,
:mod:`aisfs.auth.sealed`). Read at start and on SIGHUP; written by each change, which
takes effect at once.

Blocking file I/O: the node calls it from a worker thread. One lock serialises changes.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aisfs.auth.sealed import KEY_FILE, Sealer, load_or_create_key
from aisfs.auth.users import (
    Directory,
    User,
    UserError,
    check_key,
    check_name,
    new_access_key,
    new_id,
)

USERS_FILE = "users.json"
MAX_KEYS_PER_USER = 16


class UserStore:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.path = directory / USERS_FILE
        self._lock = threading.Lock()
        self._sealer: Sealer | None = None

    def _seal(self) -> Sealer:
        if self._sealer is None:
            self._sealer = Sealer(load_or_create_key(self.dir / KEY_FILE))
        return self._sealer

    # ---- reading ------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError as e:
            raise UserError(f"{self.path}: not valid JSON: {e}") from None
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict):
            raise UserError(f"{self.path}: no users table")
        return users

    def load(self) -> list[User]:
        """Every stored user, secrets unsealed."""
        with self._lock:
            raw = self._read()
            return [self._user(name, rec) for name, rec in raw.items()]

    def _user(self, name: str, rec: dict[str, Any]) -> User:
        keys = {}
        sealed = rec.get("access_keys") or {}
        if sealed:
            sealer = self._seal()
            keys = {akid: sealer.unseal(s) for akid, s in sealed.items()}
        return User(name, str(rec["id"]), str(rec.get("display_name") or name), keys,
                    tuple(rec.get("jwt_subjects") or ()), bool(rec.get("admin")), "runtime")

    # ---- writing ------------------------------------------------------------------

    def _write(self, users: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(USERS_FILE + ".tmp")
        data = json.dumps({"v": 1, "users": users}, indent=1, sort_keys=True).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def add_user(
        self,
        known: Directory,
        name: str,
        display_name: str = "",
        admin: bool = False,
        jwt_subjects: Iterable[str] = (),
        key: tuple[str, str] | None = None,
    ) -> tuple[User, tuple[str, str] | None]:
        """Add a user (and a first key: ``key``, or a fresh one unless key is ("", ""));
        ``known``: every user the node has now (names and keys must be new)."""
        check_name(name)
        subjects = [s for s in jwt_subjects if s]
        if not display_name:
            display_name = name
        if len(display_name) > 128:
            raise UserError("display name: at most 128 characters")
        if known.by_name(name) is not None:
            raise UserError(f"user {name} exists", conflict=True)
        first: tuple[str, str] | None = None
        if key != ("", ""):
            first = key or new_access_key()
            check_key(*first)
            self._key_free(known, first[0])
        with self._lock:
            users = self._read()
            if name in users:
                raise UserError(f"user {name} exists", conflict=True)
            if first is not None:
                self._stored_key_free(users, first[0])
            rec: dict[str, Any] = {"id": new_id(), "display_name": display_name,
                                   "admin": bool(admin), "jwt_subjects": subjects,
                                   "access_keys": {}}
            if first is not None:
                rec["access_keys"][first[0]] = self._seal().seal(first[1])
            users[name] = rec
            self._write(users)
            return self._user(name, rec), first

    def remove_user(self, known: Directory, name: str) -> None:
        with self._lock:
            users = self._read()
            if name not in users:
                self._not_ours(known, name)
            del users[name]
            self._write(users)

    def add_key(
        self, known: Directory, name: str, key: tuple[str, str] | None = None
    ) -> tuple[str, str]:
        akid, secret = key or new_access_key()
        check_key(akid, secret)
        self._key_free(known, akid)
        with self._lock:
            users = self._read()
            if name not in users:
                self._not_ours(known, name)
            keys = users[name].setdefault("access_keys", {})
            self._stored_key_free(users, akid)
            if len(keys) >= MAX_KEYS_PER_USER:
                raise UserError(f"user {name} has {MAX_KEYS_PER_USER} keys: remove one first")
            keys[akid] = self._seal().seal(secret)
            self._write(users)
        return akid, secret

    def remove_key(self, known: Directory, name: str, akid: str) -> None:
        with self._lock:
            users = self._read()
            if name not in users:
                self._not_ours(known, name)
            keys = users[name].get("access_keys") or {}
            if akid not in keys:
                raise UserError(f"user {name} has no access key {akid}", missing=True)
            del keys[akid]
            self._write(users)

    @staticmethod
    def _key_free(known: Directory, akid: str) -> None:
        if known.user_of_key(akid) is not None:
            raise UserError(f"access key {akid} exists", conflict=True)

    @staticmethod
    def _stored_key_free(users: dict[str, Any], akid: str) -> None:
        if any(akid in (rec.get("access_keys") or {}) for rec in users.values()):
            raise UserError(f"access key {akid} exists", conflict=True)

    @staticmethod
    def _not_ours(known: Directory, name: str) -> None:
        user = known.by_name(name)
        if user is not None and user.source == "config":
            raise UserError(
                f"user {name} is defined in the node config ([auth.users.{name}] or "
                "[auth.access_keys]): change it there and reload (SIGHUP)", conflict=True)
        raise UserError(f"no user {name}", missing=True)
