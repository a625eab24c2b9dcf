"""The native API's vocabulary, shared by the node (``aisfs_node/native/``) and the CLI.

- bucket properties by AIStore's dotted names (``checksum.type``, ``mirror.copies``, ...):
  which are settable, how values are checked, and how the flat form the store keeps
  (``{"checksum.type": "md5"}``) maps to AIS's nested ``Bprops`` JSON and back;
- checksum types AIStore accepts;
- feature flags as AIS numbers them (bit *i* = the i-th name of ``cmn/feat/feat.go``),
  for the decimal-string bitmask AIS puts in ``features``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aisfs.numbers import NumberError, parse_int, parse_uint

CHECKSUM_TYPES = ("none", "xxhash", "xxhash2", "md5", "crc32c", "sha256", "sha512")
DEFAULT_CHECKSUM = "xxhash"

# AIStore's cluster feature names in bit order (cmn/feat/feat.go `Cluster`).
AIS_FEATURE_BITS: tuple[str, ...] = (
    "Enforce-IntraCluster-Access",
    "Skip-Loading-VersionChecksum-MD",
    "Do-not-Auto-Detect-FileShare",
    "S3-API-via-Root",
    "Fsync-PUT",
    "LZ4-Block-1MB",
    "LZ4-Frame-Checksum",
    "Do-not-Allow-Passing-FQN-to-ETL",
    "Ignore-LimitedCoexistence-Conflicts",
    "S3-Presigned-Request",
    "Do-not-Optimize-Listing-Virtual-Dirs",
    "Disable-Cold-GET",
    "Streaming-Cold-GET",
    "S3-Reverse-Proxy",
    "S3-Use-Path-Style",
    "Do-not-Delete-When-Rebalancing",
    "Do-not-Set-Control-Plane-ToS",
    "Trust-Crypto-Safe-Checksums",
    "S3-ListObjectVersions",
    "Enable-Detailed-Prom-Metrics",
    "Force-Container-CPU-Mem",
    "Resume-Interrupted-MPU",
    "Keep-Unknown-FQN",
    "Load-Balance-GET",
    "Count-Object-NotFound-Stats",
    "Enable-Go-Runtime-Metrics",
    "Dload-Allow-Private-Egress",
)
# the subset that can be set per bucket (cmn/feat/feat.go `Bucket`)
AIS_BUCKET_FEATURES: tuple[str, ...] = (
    "Skip-Loading-VersionChecksum-MD",
    "Fsync-PUT",
    "S3-Presigned-Request",
    "Disable-Cold-GET",
    "Streaming-Cold-GET",
    "S3-Use-Path-Style",
    "S3-ListObjectVersions",
    "Resume-Interrupted-MPU",
    "Count-Object-NotFound-Stats",
)
MUTUALLY_EXCLUSIVE = (("Disable-Cold-GET", "Streaming-Cold-GET"),)
RESET_TOKEN = "none"  # `ais config cluster features none` clears them all


class PropError(ValueError):
    """A property name or value the node does not accept (the message says why)."""


def features_to_bitmask(names: Iterable[str]) -> str:
    mask = 0
    for name in names:
        if name in AIS_FEATURE_BITS:
            mask |= 1 << AIS_FEATURE_BITS.index(name)
    return str(mask)


def bitmask_to_features(value: str | int) -> list[str]:
    mask = int(value)
    return [name for i, name in enumerate(AIS_FEATURE_BITS) if mask & (1 << i)]


def parse_feature_list(value: Any, valid: Iterable[str], scope: str = "") -> list[str]:
    """Names from a list, a comma/space separated string or a decimal bitmask.

    Raises:
        PropError: unknown names (with the list of valid ones) or an exclusive pair.
    """
    valid = list(valid)
    if isinstance(value, int) and not isinstance(value, bool):
        names = bitmask_to_features(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            try:
                names = bitmask_to_features(parse_uint(text, hi=2**64 - 1))
            except NumberError:
                raise PropError(f"features: bitmask {text[:32]!r} out of range") from None
        else:
            names = [n for n in text.replace(",", " ").split() if n]
    elif isinstance(value, list | tuple):
        names = [str(n) for n in value]
    elif value is None:
        names = []
    else:
        raise PropError(f"features: expected names, got {value!r}")
    if names == [RESET_TOKEN]:
        return []
    unknown = [n for n in names if n not in valid]
    if unknown:
        what = f"{scope} feature flag" if scope else "feature flag"
        raise PropError(
            f"unknown {what}(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
    for a, b in MUTUALLY_EXCLUSIVE:
        if a in names and b in names:
            raise PropError(f"feature flags {a!r} and {b!r} are mutually exclusive")
    out: list[str] = []
    for n in names:
        if n not in out:
            out.append(n)
    return out


# ---- bucket properties --------------------------------------------------------------

def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "enabled"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", "disabled"):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise PropError(f"{key}: expected true or false, got {value!r}")


def _int(key: str, value: Any, lo: int, hi: int) -> int:
    try:  # a string must be ASCII digits (int() takes "٣", "1_0", " +1")
        n = parse_int(value) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        raise PropError(f"{key}: expected an integer, got {value!r}") from None
    if isinstance(value, bool) or not lo <= n <= hi:
        raise PropError(f"{key}: must be between {lo} and {hi}, got {value!r}")
    return n


def _checksum(key: str, value: Any) -> str:
    text = str(value).strip().lower()
    if text not in CHECKSUM_TYPES:
        raise PropError(
            f"{key}: invalid checksum type {value!r}; valid: {', '.join(CHECKSUM_TYPES)}"
        )
    return text


# settable bucket props (also the cluster-wide defaults for new buckets), by AIS name
BUCKET_PROPS: dict[str, str] = {
    "checksum.type": "checksum type of new writes: " + "|".join(CHECKSUM_TYPES),
    "checksum.validate_warm_get": "recompute and compare the checksum on GET (true|false)",
    "mirror.enabled": "keep mirror.copies copies of each chunk on distinct mountpaths",
    "mirror.copies": "copies of each chunk (1..32), on distinct mountpaths",
    "versioning.enabled": "count object versions (true|false)",
    "features": "bucket-scope feature flags: " + ", ".join(AIS_BUCKET_FEATURES),
    # backend buckets (docs/backends.md)
    "backend_bck": "the remote bucket this ais:// bucket fronts: s3://NAME ('' clears it)",
    "versioning.validate_warm_get": "check the backend's ETag/version before a warm GET",
    "versioning.synchronize": "validate_warm_get, and drop what the backend deleted",
    "lru.enabled": "may the LRU evict this remote bucket's cached copies (true|false)",
    "extra.aws.endpoint": "this bucket's S3 endpoint (instead of [backend.s3]'s)",
    "extra.aws.cloud_region": "this bucket's S3 region",
    "extra.aws.profile": "this bucket's profile of the AWS shared files",
}
_BACKEND_SCHEMES = {"s3": "s3", "aws": "s3"}
MAX_COPIES = 32


def normalize_patch(
    patch: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
    valid_features: Iterable[str] = AIS_BUCKET_FEATURES,
) -> dict[str, Any]:
    """Check a flat ``{"checksum.type": "md5", ...}`` patch; returns the store's form.

    ``mirror.enabled`` and ``mirror.copies`` are kept consistent: the store places
    ``mirror.copies`` copies, so ``mirror.enabled=false`` means one copy, and
    ``mirror.enabled=true`` alone means two (as AIS's default ``mirror.copies``).
    """
    out: dict[str, Any] = {}
    cur = dict(current or {})
    patch = dict(patch)
    if "backend_bck.name" in patch or "backend_bck.provider" in patch:  # AIS's JSON form
        name = str(patch.pop("backend_bck.name", "") or "")
        provider = str(patch.pop("backend_bck.provider", "") or "aws")
        patch.setdefault("backend_bck", f"{provider}://{name}" if name else "")
    for key, value in patch.items():
        if key not in BUCKET_PROPS:
            raise PropError(
                f"unknown bucket property {key!r}; settable: {', '.join(BUCKET_PROPS)}"
            )
        if key == "checksum.type":
            out[key] = _checksum(key, value)
        elif key in ("checksum.validate_warm_get", "versioning.enabled"):
            out[key] = _bool(key, value)
        elif key == "mirror.copies":
            out[key] = _int(key, value, 1, MAX_COPIES)
        elif key == "mirror.enabled":
            out[key] = _bool(key, value)
        elif key == "features":
            out[key] = parse_feature_list(value, valid_features, "bucket")
        elif key == "backend_bck":
            out[key] = _backend_bck(value)
        elif key in ("versioning.validate_warm_get", "versioning.synchronize", "lru.enabled"):
            out[key] = _bool(key, value)
        elif key.startswith("extra.aws."):
            out[key] = str(value or "").strip() or None
    if "mirror.enabled" in out:
        enabled = out.pop("mirror.enabled")
        copies = out.get("mirror.copies", cur.get("mirror.copies", 1))
        if not enabled:
            out["mirror.copies"] = 1
        elif int(copies) < 2:
            out["mirror.copies"] = 2
    return out


def _backend_bck(value: Any) -> str | None:
    """``s3://NAME`` (``aws://NAME``, AIS's ``{"name", "provider"}``); empty clears it."""
    text = str(value or "").strip()
    if not text or text.endswith("://"):
        return None
    scheme, sep, name = text.partition("://")
    name = name.rstrip("/")
    if not sep or _BACKEND_SCHEMES.get(scheme.lower()) is None or not name or "/" in name:
        raise PropError(f"backend_bck: expected s3://BUCKET, got {text!r}")
    return f"s3://{name}"


def flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"checksum": {"type": "md5"}}`` -> ``{"checksum.type": "md5"}``."""
    out: dict[str, Any] = {}
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["checksum.type=md5", "mirror.copies=2"]`` -> a flat dict (CLI and query form)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PropError(f"expected KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def bucket_props_json(
    name: str,
    props: Mapping[str, Any],
    created_ns: int,
    defaults: Mapping[str, Any] | None = None,
    remote: bool = False,
) -> dict[str, Any]:
    """AIS's ``Bprops`` JSON (``Ais-Bucket-Props``) from the store's flat props
    (``remote``: an ``s3://`` bucket's, whose props live on its store bucket)."""
    d = dict(defaults or {})

    def get(key: str, fallback: Any) -> Any:
        return props.get(key, d.get(key, fallback))

    copies = int(get("mirror.copies", 1) or 1)
    features = get("features", [])
    if not isinstance(features, list):
        features = []
    backend = str(props.get("backend_bck") or "")
    return {
        "provider": "ais",
        "backend_bck": {"name": backend.partition("://")[2], "provider": "aws"}
        if backend else {"name": "", "provider": ""},
        "write_policy": {"data": "immediate", "md": "immediate"},
        "checksum": {
            "type": str(get("checksum.type", DEFAULT_CHECKSUM)),
            "validate_cold_get": False,
            "validate_warm_get": bool(get("checksum.validate_warm_get", True)),
            "validate_obj_move": False,
            "enable_read_range": False,
        },
        "versioning": {
            "enabled": bool(get("versioning.enabled", False)),
            "validate_warm_get": bool(get("versioning.validate_warm_get", False)),
            "synchronize": bool(get("versioning.synchronize", False)),
        },
        "mirror": {"enabled": copies > 1, "copies": copies, "burst_buffer": 128},
        "ec": {"enabled": False, "data_slices": 1, "parity_slices": 1, "objsize_limit": 0},
        # the LRU looks at cached remote objects only (aisfs/backend/lru.py)
        "lru": {"enabled": bool(get("lru.enabled", True)) if backend or remote else False},
        "extra": {"aws": {k: str(props.get(f"extra.aws.{k}") or "")
                          for k in ("cloud_region", "endpoint", "profile")}},
        "access": "0",
        "features": features_to_bitmask(features),
        "feature_names": list(features),
        "bid": str(created_ns & 0xFFFFFFFF),
        "created": str(created_ns),
        "name": name,
    }
