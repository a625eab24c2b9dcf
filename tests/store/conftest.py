from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aisfs.store import Store, StoreConfig, open_store

CHUNK = 64 * 1024


def make_config(tmp_path: Path, n: int = 3, **kw: object) -> StoreConfig:
    mps = []
    for i in range(n):
        p = tmp_path / f"mp{i}"
        p.mkdir(exist_ok=True)
        mps.append(p)
    # inline_max=0: these tests are about the chunk path (test_inline.py turns it on)
    params: dict[str, object] = {
        "chunk_size": CHUNK, "fsync": False, "min_part_size": CHUNK, "inline_max": 0,
    }
    params.update(kw)
    return StoreConfig(mountpaths=mps, index_dir=tmp_path / "index", **params)  # type: ignore[arg-type]


@pytest.fixture
def config(tmp_path: Path) -> StoreConfig:
    return make_config(tmp_path)


@pytest.fixture
async def store(config: StoreConfig) -> AsyncIterator[Store]:
    async with open_store(config) as s:
        yield s
        report = await s.fsck(rebuild=False)
        assert report.clean, report


class body_of:  # noqa: N801 (used as the function it was)
    """``data`` as an async iterator of ``piece``-sized bytes. A class, not an async
    generator: a put that stops reading early (BadDigest, IncompleteBody) leaves no
    generator to be finalized by the garbage collector (a ResourceWarning, an error here)."""

    def __init__(self, data: bytes, piece: int = 10_000) -> None:
        self.data = data
        self.piece = piece
        self.at = 0

    def __aiter__(self) -> body_of:
        return self

    async def __anext__(self) -> bytes:
        if self.at >= len(self.data):
            raise StopAsyncIteration
        out = self.data[self.at : self.at + self.piece]
        self.at += self.piece
        return out


async def read_all(store: Store, info: object, start: int = 0, end: int | None = None) -> bytes:
    out = bytearray()
    async for piece in store.read_object(info, start, end):  # type: ignore[arg-type]
        assert len(piece) <= 1024 * 1024
        out += piece
    return bytes(out)


def rand(n: int) -> bytes:
    return os.urandom(n)


def chunk_files(config: StoreConfig) -> list[Path]:
    out = []
    for mp in config.mountpaths:
        if (mp / "chunks").is_dir():
            out += [p for p in (mp / "chunks").glob("*/*") if p.is_file()]
    return out
