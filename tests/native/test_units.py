"""Pure functions of the native API: the msgpack encoder, prop and feature validation."""

from __future__ import annotations

import msgspec
import pytest

from aisfs.client.props import PropError, normalize_patch, parse_feature_list
from aisfs_node.native_msgpack import packb


def test_msgpack_roundtrip_through_msgspec() -> None:
    doc = {
        "UUID": "u", "ContinuationToken": "", "Flags": 0,
        "Entries": [{"n": "é" * 40, "s": 2**40, "f": 64, "x": -5, "y": -200, "z": -(2**40),
                     "b": True, "nil": None, "fl": 1.5, "raw": b"\x00\x01",
                     "long": "x" * 70000, "list": list(range(20))}],
        "big": {str(i): i for i in range(20)},
    }
    assert msgspec.msgpack.decode(packb(doc)) == doc


def test_prop_validation() -> None:
    assert normalize_patch({"mirror.enabled": "true"}) == {"mirror.copies": 2}
    assert normalize_patch({"mirror.enabled": "false", "mirror.copies": 3}) == {
        "mirror.copies": 1
    }
    assert normalize_patch({"checksum.type": "MD5"}) == {"checksum.type": "md5"}
    with pytest.raises(PropError, match="settable"):
        normalize_patch({"ec.enabled": True})
    with pytest.raises(PropError, match="between 1 and 32"):
        normalize_patch({"mirror.copies": 33})
    assert parse_feature_list("none", ["A"]) == []
    assert parse_feature_list(str((1 << 3) | (1 << 4)), ["S3-API-via-Root", "Fsync-PUT"]) == [
        "S3-API-via-Root", "Fsync-PUT",
    ]
    with pytest.raises(PropError, match="valid: A, B"):
        parse_feature_list("C", ["A", "B"])


def test_lru_enabled_prop() -> None:
    """``lru.enabled`` is settable; the LRU looks at remote buckets only, so an ais://
    bucket without a backend always shows false (aisfs/backend/lru.py)."""
    from aisfs.client.props import bucket_props_json

    assert normalize_patch({"lru.enabled": "false"}) == {"lru.enabled": False}
    with pytest.raises(PropError):
        normalize_patch({"lru.enabled": "maybe"})
    assert bucket_props_json("b", {}, 0)["lru"] == {"enabled": False}
    assert bucket_props_json("b", {}, 0, remote=True)["lru"] == {"enabled": True}
    fronted = {"backend_bck": "s3://x", "lru.enabled": False}
    assert bucket_props_json("b", fronted, 0)["lru"] == {"enabled": False}
    assert bucket_props_json("b", {"backend_bck": "s3://x"}, 0)["lru"] == {"enabled": True}
