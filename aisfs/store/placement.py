"""Pure: weighted rendezvous (highest-random-weight) order of mountpaths for a name."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, TypeVar

import xxhash

_SEED = 1103515245


class Placeable(Protocol):
    @property
    def uuid(self) -> str: ...

    @property
    def weight(self) -> float: ...


T = TypeVar("T", bound=Placeable)


def quantize_weight(free_bytes: int) -> float:
    """Free capacity in GiB, rounded to half-octaves: small drifts do not reorder."""
    gib = max(free_bytes / 2**30, 1.0)
    return float(2.0 ** (round(math.log2(gib) * 2) / 2))


def hrw_order(name: str, mountpaths: Sequence[T]) -> list[T]:
    """Mountpaths best first for ``name``: score = w / -ln(u), u uniform from a hash."""

    def score(mp: T) -> float:
        data = f"{mp.uuid}\0{name}".encode("utf-8", "surrogatepass")
        h = xxhash.xxh64_intdigest(data, seed=_SEED)
        u = (h + 0.5) / 2.0**64
        return mp.weight / -math.log(u)

    return sorted(mountpaths, key=score, reverse=True)
