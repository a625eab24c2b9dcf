"""MessagePack for the native API's object listings, by msgspec.

The ``aistore`` SDK asks for listings with ``Accept: application/msgpack`` and decodes
them with msgspec; the node encodes them with the same library. ``packb`` is the one
entry point (node/native_api.py, node/remote_native.py): maps, arrays (lists, tuples),
strings, integers, booleans, floats, bytes and None, as the SDK's ``LsoResult`` wants
them; anything else is a ``TypeError``.
"""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.msgpack.Encoder()


def packb(obj: Any) -> bytes:
    """``obj`` as MessagePack (msgspec picks the smallest encoding of each value)."""
    return _encoder.encode(obj)
