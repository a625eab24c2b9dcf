"""Keys: the node's master key, data keys wrapped under it, and SSE-C key checks.

- The master key (SSE-S3) is 32 random bytes in a file of its own (``master.key``, mode
  0600, in a directory of mode 0700), made on first use with ``O_EXCL`` (two processes
  racing make one key) and fsynced with its directory before a data key is wrapped with
  it. It must not lie under a mountpath: whoever takes the disks must not take the key
  with them (:func:`check_outside`).
- A data key is wrapped with AES-256-GCM under the master key: 12-byte random nonce,
  the 48 bytes of ciphertext and tag, the associated data naming the scheme. A wrong
  master key (or a changed record) fails to unwrap; nothing is ever decrypted with a key
  that did not authenticate.
- SSE-C: the customer's key is never stored. The object keeps a random salt and
  ``HMAC-SHA256(key, "check" | salt)`` to recognise the key (AWS keeps a salted HMAC
  too), and its data key is ``HMAC-SHA256(key, "data" | salt)``: a fresh key per object
  even when a customer uses one key for all of them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
SALT_BYTES = 16
WRAP_NONCE_BYTES = 12
WRAP_AAD = b"aisfs sse-s3 data key v1"
MASTER_FILE = "master.key"


class KeyUnusable(Exception):
    """A key that cannot be used: a wrapped key that does not unwrap, a bad key file."""


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


class MasterKey:
    """The node's SSE-S3 key: wraps and unwraps data keys."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise KeyUnusable("a master key is 32 bytes")
        self._aead = AESGCM(key)
        # names the key in each record (a record wrapped by another node's key says so)
        self.key_id = hashlib.sha256(b"aisfs master key id" + key).hexdigest()[:16]

    def wrap(self, data_key: bytes) -> bytes:
        nonce = secrets.token_bytes(WRAP_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, WRAP_AAD)

    def unwrap(self, wrapped: bytes) -> bytes:
        nonce, sealed = wrapped[:WRAP_NONCE_BYTES], wrapped[WRAP_NONCE_BYTES:]
        try:
            key = self._aead.decrypt(nonce, sealed, WRAP_AAD)
        except (InvalidTag, ValueError):
            raise KeyUnusable("the data key does not unwrap with this node's master key") from None
        if len(key) != KEY_BYTES:
            raise KeyUnusable("the unwrapped data key is not 32 bytes")
        return key


def check_outside(path: Path, mountpaths: Iterable[str]) -> None:
    """Refuse a key file under a mountpath (it would travel with the data)."""
    real = path.resolve()
    for mp in mountpaths:
        root = Path(mp).resolve()
        if real == root or root in real.parents:
            raise KeyUnusable(f"the master key {path} would lie under the mountpath {mp}")


def load_or_create(directory: Path) -> MasterKey:
    """The master key in ``directory`` (made there, 0600, on first use)."""
    path = directory / MASTER_FILE
    try:
        return MasterKey(_read(path))
    except FileNotFoundError:
        pass
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = directory / f".{MASTER_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process made one meanwhile: theirs wins
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return MasterKey(_read(path))


def _read(path: Path) -> bytes:
    st = path.stat()
    if st.st_mode & 0o077:
        raise KeyUnusable(f"{path} is readable by others (mode {st.st_mode & 0o777:o}): "
                        "chmod 600 it")
    data = path.read_bytes()
    if len(data) != KEY_BYTES:
        raise KeyUnusable(f"{path} is not a 32-byte key")
    return data


def customer_key_check(customer_key: bytes, salt: bytes) -> bytes:
    """What an SSE-C object keeps to recognise its key (a salted HMAC, never the key)."""
    return hmac.new(customer_key, b"aisfs sse-c check" + salt, hashlib.sha256).digest()


def customer_key_matches(customer_key: bytes, salt: bytes, check: bytes) -> bool:
    return hmac.compare_digest(customer_key_check(customer_key, salt), check)


def customer_data_key(customer_key: bytes, salt: bytes) -> bytes:
    """The data key of one SSE-C object (the customer's key and the object's salt)."""
    return hmac.new(customer_key, b"aisfs sse-c data" + salt, hashlib.sha256).digest()
