"""Secrets sealed at rest with the node key.

SigV4 and SigV2 sign with the secret itself (HMAC keyed by it): a node verifying them
must have the plaintext, so the secrets of run-time keys cannot be hashed. They are
sealed instead: Fernet (AES-128-CBC + HMAC-SHA256, ``cryptography``) under a key kept
in its own file, mode 0600, beside the user store - never in a mountpath, never in the
user file. Someone with both files has the secrets; someone with the user file alone
(a backup, a copied index directory without its key) does not.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "node.key"


class SealError(Exception):
    pass


def load_or_create_key(path: Path) -> bytes:
    """The node key at ``path``, created (0600, fsynced) on first use."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Fernet.generate_key()
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, key + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # never replaces a key another process just made
        except FileExistsError:
            key = path.read_bytes().strip()
        finally:
            tmp.unlink(missing_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, 0o600)
    try:
        Fernet(key)
    except ValueError:
        raise SealError(f"{path}: not a node key (32 url-safe base64 bytes)") from None
    return key


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._f = Fernet(key)

    def seal(self, secret: str) -> str:
        return self._f.encrypt(secret.encode()).decode("ascii")

    def unseal(self, sealed: str) -> str:
        try:
            return self._f.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, ValueError, UnicodeError):
            raise SealError("a sealed secret does not open with the node key") from None
