"""``get_bucket`` answers from memory, a missing name too (an S3 request for an s3://B
looks up ais://B first, every time): a create, a delete or a props change is seen at once."""

from __future__ import annotations

import pytest

from aisfs.errors import S3Error
from aisfs.store import Store
from aisfs.store.buckets import MISSING


async def _missing(store: Store, name: str) -> bool:
    try:
        await store.get_bucket(name)
    except S3Error as e:
        assert e.code == "NoSuchBucket"
        return True
    return False


async def test_a_missing_name_then_created_deleted(store: Store) -> None:
    assert await _missing(store, "b")
    assert await _missing(store, "b")  # remembered
    await store.create_bucket("b", {"x": "1"})
    assert (await store.get_bucket("b")).props["x"] == "1"
    await store.update_bucket_props("b", {"x": "2"})
    assert (await store.get_bucket("b")).props["x"] == "2"
    await store.delete_bucket("b")
    assert await _missing(store, "b")


async def test_the_missing_names_are_bounded(store: Store) -> None:
    for i in range(MISSING + 10):
        assert await _missing(store, f"n{i}")
    assert len(store.buckets._missing) <= MISSING
    await store.create_bucket("n5")
    assert not await _missing(store, "n5")


@pytest.mark.parametrize("name", ["", "UPPER", "a" * 300])
async def test_any_name_is_just_missing(store: Store, name: str) -> None:
    assert await _missing(store, name)
