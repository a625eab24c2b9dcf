"""Object checksums of the bucket's ``checksum.type`` (AIStore's names).

The store computes some types itself while it writes (``xxhash`` — as xxh3-64 —,
``md5``, ``sha256``) and records them in the manifest (``ObjectInfo.checksum_value``).
For the other AIS types (``xxhash2`` = xxh64, ``crc32c``, ``sha512``) the native PUT
path hands the store an extra hasher through ``put_object(hashers=...)`` and records the
value in ``ObjectMeta.extra["ais.cksum"]`` just before the commit (``before_commit``), so
the value is published atomically with the object. Readers take whichever is present
(``object_checksum``). GET recomputes the same algorithm while streaming a whole object
and compares (``checksum.validate_warm_get``, on by default in aisfs).
"""

from __future__ import annotations

from typing import Any

from aisfs.hashing import Hasher, new_hasher
from aisfs.store.types import ObjectInfo

EXTRA_KEY = "ais.cksum"
# types the store computes on its own while it writes (aisfs/store/digest.py Digest)
STORE_COMPUTED = frozenset({"xxhash", "md5", "sha256"})
# cheap enough to run on the event loop per 1 MiB piece; the others go to a thread
FAST = frozenset({"xxhash", "xxhash2", "crc32c"})


# an AIS checksum type -> its algorithm in aisfs/hashing.py (AIS's "xxhash" is the store's
# xxh3-64, "xxhash2" is xxh64)
AIS_ALGORITHMS = {"xxhash": "xxh3_64", "xxhash2": "xxh64", "crc32c": "crc32c", "md5": "md5",
                  "sha256": "sha256", "sha512": "sha512"}
Cksum = Hasher  # the old name


def new_cksum(kind: str) -> Hasher | None:
    """A fresh hasher for an AIS checksum type; None for ``none`` or an unknown type."""
    alg = AIS_ALGORITHMS.get(kind)
    return new_hasher(alg) if alg is not None else None


def object_checksum(info: ObjectInfo) -> tuple[str, str]:
    """``(type, value)`` of a stored object; value is "" when none was recorded."""
    return checksum_of(info.checksum_type, info.checksum_value, info.meta.extra)


def checksum_of(kind: str, value: str, extra: dict[str, Any] | None) -> tuple[str, str]:
    """``object_checksum`` from the fields a listing entry carries (index columns)."""
    kind = kind or "none"
    if not value:
        rec: Any = (extra or {}).get(EXTRA_KEY)
        if isinstance(rec, dict) and rec.get("type") == kind:
            value = str(rec.get("value") or "")
    if kind == "none":
        value = ""
    return kind, value
