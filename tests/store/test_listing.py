from __future__ import annotations

import time

import pytest

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store

from .conftest import body_of

KEYS = [
    "a", "a/b", "a/b/c", "a/c", "a+b", "b/1", "b/2", "b/3/x", "c", "d/e/f",
    "é", "éa/1", "z", "ā/x", "中文/1", "中文/2", "\U0001f600", "ｚ",
]


def s3_model(keys, prefix="", delimiter="", start_after="", max_keys=1000):
    """A slow reference: every key in UTF-8 byte order."""
    items: list[tuple[str, bool]] = []
    seen = set()
    for k in sorted(keys, key=lambda s: s.encode()):
        if not k.startswith(prefix):
            continue
        if delimiter and delimiter in k[len(prefix):]:
            i = k.index(delimiter, len(prefix))
            cp = k[: i + len(delimiter)]
            if cp in seen or cp <= start_after:
                continue
            seen.add(cp)
            items.append((cp, True))
        elif k > start_after:
            items.append((k, False))
    page = items[:max_keys]
    return page, len(items) > max_keys


async def fill(store: Store, keys) -> None:
    await store.create_bucket("b")
    for k in keys:
        await store.put_object("b", k, body_of(k.encode()), ObjectMeta(extra={"k": k}))


async def test_listing_matches_model(store: Store) -> None:
    await fill(store, KEYS)
    assert sorted(KEYS, key=lambda s: s.encode()) == sorted(KEYS)  # code point == UTF-8 order
    for prefix in ["", "a", "a/", "b/", "中", "x"]:
        for delimiter in ["", "/", "b", "/c", "中"]:
            for max_keys in [1, 2, 3, 1000]:
                # page through with next_marker, compare with the model
                got: list[tuple[str, bool]] = []
                marker = ""
                for _ in range(100):
                    page = await store.list_objects(
                        "b", prefix=prefix, delimiter=delimiter, start_after=marker,
                        max_keys=max_keys,
                    )
                    items = [(e.key, False) for e in page.entries] + [
                        (p, True) for p in page.common_prefixes
                    ]
                    items.sort(key=lambda t: t[0])
                    assert len(items) <= max_keys
                    got += items
                    if not page.is_truncated:
                        break
                    assert page.next_marker == items[-1][0]
                    marker = page.next_marker
                want, _ = s3_model(KEYS, prefix, delimiter, "", 10**9)
                assert got == want, (prefix, delimiter, max_keys)


async def test_listing_start_after_and_extra(store: Store) -> None:
    await fill(store, KEYS)
    page = await store.list_objects("b", start_after="b/2", max_keys=3, with_extra=True)
    assert [e.key for e in page.entries] == ["b/3/x", "c", "d/e/f"]
    assert page.entries[0].extra == {"k": "b/3/x"}
    assert page.is_truncated and page.next_marker == "d/e/f"
    page = await store.list_objects("b", delimiter="/", start_after="a/b")
    assert "a/" not in page.common_prefixes  # never returns anything sorting before the marker
    page = await store.list_objects("b", max_keys=0)
    assert page.entries == [] and not page.is_truncated
    with pytest.raises(S3Error) as e:
        await store.list_objects("nob")
    assert e.value.code == "NoSuchBucket"


async def test_listing_skips_common_prefix_groups(store: Store) -> None:
    await store.create_bucket("b")
    # many keys under a few prefixes: listing with a delimiter must not walk them
    rows = []
    for d in range(3):
        for i in range(2000):
            rows.append((f"dir{d}/{i:05d}", 1, "e", 1, None, '{"chunks":[]}'))
    _insert_rows(store, rows)
    t = time.perf_counter()
    page = await store.list_objects("b", delimiter="/")
    assert page.common_prefixes == ["dir0/", "dir1/", "dir2/"]
    assert time.perf_counter() - t < 0.5
    with store.index.wlock:
        store.index.w.execute("DELETE FROM objects WHERE bucket = 'b'")


def _insert_rows(store: Store, rows) -> None:
    with store.index.wlock:
        store.index.w.executemany(
            "INSERT INTO objects (bucket, key, size, etag, mtime_ns, generation, extra, manifest)"
            " VALUES ('b', ?, ?, ?, ?, ?, ?, ?)",
            [(k, s, e, m, 1, x, man) for k, s, e, m, x, man in rows],
        )


async def test_listing_speed(store: Store) -> None:
    await store.create_bucket("b")
    n = 50_000
    _insert_rows(store, [(f"k/{i:08d}", i, "etag", 1, None, "{}") for i in range(n)])
    t = time.perf_counter()
    count = 0
    marker = ""
    while True:
        page = await store.list_objects("b", start_after=marker)
        count += len(page.entries)
        if not page.is_truncated:
            break
        marker = page.next_marker
    dt = time.perf_counter() - t
    assert count == n
    print(f"listed {n} objects in {dt:.3f}s: {n / dt:,.0f} objects/s")
    # rows inserted behind the store's back: drop them so the fsck check stays clean
    with store.index.wlock:
        store.index.w.execute("DELETE FROM objects WHERE bucket = 'b'")
