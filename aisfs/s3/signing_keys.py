"""Signing keys: the secret of an access key looked up, SigV4's key derived from it
(four HMACs) and cached, a string signed. Shared by SigV4 (headers, presigned URLs,
streaming chunks) and SigV2 (the secret lookup)."""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Callable, Mapping

from aisfs.errors import S3Error

SecretLookup = Mapping[str, str] | Callable[[str], str | None]


def lookup_secret(secrets: SecretLookup, access_key: str) -> str:
    """The secret of ``access_key``: InvalidAccessKeyId when the lookup has none."""
    secret = secrets.get(access_key) if isinstance(secrets, Mapping) else secrets(access_key)
    if secret is None:
        raise S3Error(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            extra={"AWSAccessKeyId": access_key},
        )
    return secret


class SigningKeyCache:
    """Derived signing keys, least recently used evicted first."""

    def __init__(self, capacity: int = 256) -> None:
        self._keys: OrderedDict[tuple[str, str, str, str, str], bytes] = OrderedDict()
        self._capacity = capacity
        self.hits = 0
        self.misses = 0

    def get(self, secret: str, date: str, region: str, service: str, access_key: str = "") -> bytes:
        k = (access_key, secret, date, region, service)
        key = self._keys.get(k)
        if key is not None:
            self._keys.move_to_end(k)
            self.hits += 1
            return key
        self.misses += 1
        key = derive_signing_key(secret, date, region, service)
        self._keys[k] = key
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return key


DEFAULT_KEY_CACHE = SigningKeyCache()  # the process-wide one, when a caller brings none


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.digest(key, msg.encode("utf-8"), "sha256")


def derive_signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def sign(signing_key: bytes, string_to_sign: str) -> str:
    # hmac.digest: one call into OpenSSL (hmac.new builds a Python HMAC object)
    return hmac.digest(signing_key, string_to_sign.encode("utf-8"), "sha256").hex()
