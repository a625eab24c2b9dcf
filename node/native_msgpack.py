"""A small MessagePack encoder for the native API's object listings.

The ``aistore`` SDK asks for listings with ``Accept: application/msgpack`` and decodes
them with msgspec; only maps, arrays, strings, integers, booleans, floats, bytes and nil
are ever sent, so a few dozen lines do it without a run-time dependency.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any


def packb(obj: Any) -> bytes:
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


def _pack(obj: Any, out: bytearray) -> None:
    if obj is None:
        out.append(0xC0)
    elif obj is True:
        out.append(0xC3)
    elif obj is False:
        out.append(0xC2)
    elif isinstance(obj, int):
        _pack_int(obj, out)
    elif isinstance(obj, float):
        out.append(0xCB)
        out += struct.pack(">d", obj)
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        n = len(data)
        if n < 32:
            out.append(0xA0 | n)
        elif n < 0x100:
            out += bytes((0xD9, n))
        elif n < 0x10000:
            out.append(0xDA)
            out += struct.pack(">H", n)
        else:
            out.append(0xDB)
            out += struct.pack(">I", n)
        out += data
    elif isinstance(obj, bytes | bytearray | memoryview):
        data = bytes(obj)
        n = len(data)
        if n < 0x100:
            out += bytes((0xC4, n))
        elif n < 0x10000:
            out.append(0xC5)
            out += struct.pack(">H", n)
        else:
            out.append(0xC6)
            out += struct.pack(">I", n)
        out += data
    elif isinstance(obj, list | tuple):
        n = len(obj)
        if n < 16:
            out.append(0x90 | n)
        elif n < 0x10000:
            out.append(0xDC)
            out += struct.pack(">H", n)
        else:
            out.append(0xDD)
            out += struct.pack(">I", n)
        for item in obj:
            _pack(item, out)
    elif isinstance(obj, Mapping):
        n = len(obj)
        if n < 16:
            out.append(0x80 | n)
        elif n < 0x10000:
            out.append(0xDE)
            out += struct.pack(">H", n)
        else:
            out.append(0xDF)
            out += struct.pack(">I", n)
        for key, value in obj.items():
            _pack(key, out)
            _pack(value, out)
    else:
        raise TypeError(f"cannot msgpack {type(obj).__name__}")


def _pack_int(n: int, out: bytearray) -> None:
    if 0 <= n < 0x80:
        out.append(n)
    elif -32 <= n < 0:
        out.append(n & 0xFF)
    elif n >= 0:
        if n < 0x100:
            out += bytes((0xCC, n))
        elif n < 0x10000:
            out.append(0xCD)
            out += struct.pack(">H", n)
        elif n < 0x100000000:
            out.append(0xCE)
            out += struct.pack(">I", n)
        elif n < 0x10000000000000000:
            out.append(0xCF)
            out += struct.pack(">Q", n)
        else:
            raise OverflowError("integer too large for msgpack")
    else:
        if n >= -0x80:
            out.append(0xD0)
            out += struct.pack(">b", n)
        elif n >= -0x8000:
            out.append(0xD1)
            out += struct.pack(">h", n)
        elif n >= -0x80000000:
            out.append(0xD2)
            out += struct.pack(">i", n)
        elif n >= -0x8000000000000000:
            out.append(0xD3)
            out += struct.pack(">q", n)
        else:
            raise OverflowError("integer too large for msgpack")
