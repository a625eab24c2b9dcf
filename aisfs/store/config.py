"""The store's settings: one dataclass of typed defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024


@dataclass(slots=True)
class StoreConfig:
    mountpaths: list[Path]
    index_dir: Path
    chunk_size: int = 8 * MiB
    fsync: bool = True
    default_copies: int = 1
    gc_grace_seconds: float = 3600.0
    min_part_size: int = 5_000_000  # AWS: 5 MiB; the seed's boto3 example uses 5,000,000-byte parts
    # free capacity is quantized to half-octaves before it weights placement (stable order)
    weight_refresh_seconds: float = 60.0

    def __post_init__(self) -> None:
        self.mountpaths = [Path(p) for p in self.mountpaths]
        self.index_dir = Path(self.index_dir)
        if self.chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
