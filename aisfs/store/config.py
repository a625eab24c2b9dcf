"""The store's settings: one dataclass of typed defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import StoreSettings

KiB = 1024
MiB = 1024 * 1024
# the largest row a shelf page (32 KiB, shelf.py) holds without overflow pages
SHELF_LIMIT = 32 * KiB - 64


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
    # put_object bodies of at most this many bytes are kept in their manifest (no chunk
    # file: two fsyncs instead of four); 0 turns it off. Multipart objects stay chunked.
    inline_max: int = 64 * KiB
    # a current manifest of at most this many bytes is a row of its mountpath's shelf
    # (shelf.py), not a file of its own; 0 turns it off
    shelf_max: int = 16 * KiB
    # a small PUT's commit and a delete run on the event loop when nothing else is served
    # (threads.ShortSteps); False: always in a worker thread
    short_steps_on_loop: bool = True

    @classmethod
    def from_settings(cls, settings: StoreSettings, **overrides: Any) -> StoreConfig:
        """From the node's ``[store]`` table (``aisfs.config.StoreSettings``): every field
        the two share, by name - a new store setting is declared in both, copied nowhere.
        The node's own keys (gc_interval, scrub_interval, upload_max_age) stay there."""
        given = set(settings.__struct_fields__)
        values = {f.name: getattr(settings, f.name) for f in fields(cls) if f.name in given}
        return cls(**{**values, **overrides})

    def __post_init__(self) -> None:
        self.mountpaths = [Path(p) for p in self.mountpaths]
        self.index_dir = Path(self.index_dir)
        if self.chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        if self.inline_max < 0:
            raise ValueError("inline_max must not be negative")
        if not 0 <= self.shelf_max <= SHELF_LIMIT:
            raise ValueError(f"shelf_max must be 0..{SHELF_LIMIT}")
