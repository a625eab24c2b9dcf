from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, Store
from aisfs.store.types import ListEntry

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


# == delimiter listings over tricky keys ===============================================

# characters sorting below '/' ('!', ' ', '-', '.', '+'), just above it ('0'), far above
# ('~', 'é', U+FFFF-adjacent, astral, U+10FFFF), empty segments, keys ending in '/'
TRICKY = [
    "a", "a!", "a b", "a-b", "a.b", "a+b", "a/", "a//", "a//x", "a/b", "a/b/", "a/b/c",
    "a/b!", "a/b0", "a/é", "a/\U0010ffff", "a/\U0010ffff/x", "a0", "a0/x", "a~/y", "aé/1",
    "b/1", "b/2", "b/3/x", "é/z", "\ufffd/q", "\U0001f600/1", "\U0001f600", "\U0010ffff",
    "\U0010ffff/\U0010ffff", "z",
]


def _page_through(store: Store, prefix: str, delimiter: str, start_after: str, max_keys: int,
                  with_extra: bool = False) -> list[tuple[str, bool]]:
    got: list[tuple[str, bool]] = []
    marker = start_after
    for _ in range(1000):
        page = store.lister.list_sync("b", prefix, delimiter, marker, max_keys, with_extra)
        items = [(e.key, False) for e in page.entries] + [(p, True) for p in page.common_prefixes]
        items.sort(key=lambda t: t[0])
        assert len(items) <= max_keys
        got += items
        if not page.is_truncated:
            return got
        assert page.next_marker == items[-1][0]
        marker = page.next_marker
    raise AssertionError("listing did not end")


async def test_delimiter_listing_tricky_keys(store: Store) -> None:
    await fill(store, TRICKY)
    starts = ["", "a", "a/", "a/b", "a/b/", "a/\U0010ffff", "a/\U0010ffff/z", "a0", "a1",
              "\U0001f600", "\U0010ffff/", "\U0010ffff/\U0010ffff/"]
    for prefix in ["", "a", "a/", "a/b", "a/b/", "a/\U0010ffff", "\U0010ffff", "é", "q"]:
        for delimiter in ["", "/", "//", "b", "/\U0010ffff", "\U0010ffff"]:
            for start_after in starts:
                want, _ = s3_model(TRICKY, prefix, delimiter, start_after, 10**9)
                for max_keys in [1, 2, 5, 1000]:
                    got = await trio_to_thread(
                        _page_through, store, prefix, delimiter, start_after, max_keys
                    )
                    assert got == want, (prefix, delimiter, start_after, max_keys)


async def trio_to_thread(fn, *args):  # type: ignore[no-untyped-def]
    import trio

    return await trio.to_thread.run_sync(fn, *args)


async def test_max_keys_boundary_at_common_prefixes(store: Store) -> None:
    # exactly max_keys entries: not truncated; one more (a prefix or a key): truncated
    await store.create_bucket("b")
    _insert_rows(store, [(f"d{i}/x", 1, "e", 1, None, "{}") for i in range(3)])
    try:
        page = await store.list_objects("b", delimiter="/", max_keys=3)
        assert page.common_prefixes == ["d0/", "d1/", "d2/"] and not page.is_truncated
        page = await store.list_objects("b", delimiter="/", max_keys=2)
        assert page.common_prefixes == ["d0/", "d1/"]
        assert page.is_truncated and page.next_marker == "d1/"
        page = await store.list_objects("b", delimiter="/", max_keys=2, start_after="d1/")
        assert page.common_prefixes == ["d2/"] and not page.is_truncated
        # a marker inside a common prefix: that prefix was on the page before
        page = await store.list_objects("b", delimiter="/", start_after="d1/a")
        assert page.common_prefixes == ["d2/"]
        _insert_rows(store, [("e", 1, "e", 1, None, "{}")])
        page = await store.list_objects("b", delimiter="/", max_keys=3)
        assert page.is_truncated and page.next_marker == "d2/"
        page = await store.list_objects("b", delimiter="/", max_keys=3, start_after="d2/")
        assert [e.key for e in page.entries] == ["e"] and not page.is_truncated
    finally:
        with store.index.wlock:
            store.index.w.execute("DELETE FROM objects WHERE bucket = 'b'")


async def test_listing_fields_come_from_index_columns(store: Store) -> None:
    import sqlite3

    await store.create_bucket("b")
    await store.put_object("b", "d/k", body_of(b"x" * 10),
                           ObjectMeta(user={"mode": "33188"}, extra={"uid": 7}))
    await store.put_object("b", "d/plain", body_of(b"y"), ObjectMeta())
    seen: list[str] = []

    def traced() -> list[ListEntry]:
        conn: sqlite3.Connection = store.index.r
        conn.set_trace_callback(seen.append)
        try:
            return store.lister.list_sync("b", "d/", "/", "", 1000, True).entries
        finally:
            conn.set_trace_callback(None)

    entries = await trio_to_thread(traced)
    info = await store.head_object("b", "d/k")
    assert [e.key for e in entries] == ["d/k", "d/plain"]
    e = entries[0]
    assert e.user == {"mode": "33188"} and e.extra == {"uid": 7}
    assert e.generation == info.generation and e.size == 10 and e.etag == info.etag
    assert (e.checksum_type, e.checksum_value) == (info.checksum_type, info.checksum_value)
    assert entries[1].user == {} and entries[1].extra == {}
    assert seen and not any("json" in s.lower() or "manifest" in s.lower() for s in seen), seen


async def test_older_index_gets_listing_columns(config) -> None:  # type: ignore[no-untyped-def]
    """An index made before the listing columns: they are added and filled on open."""
    import sqlite3

    from aisfs.store import open_store

    async with open_store(config) as s:
        await s.create_bucket("b")
        await s.put_object("b", "k", body_of(b"abc"), ObjectMeta(user={"a": "1"}))
        await s.put_object("b", "plain", body_of(b"d"), ObjectMeta())
        want = await s.head_object("b", "k")
    db = sqlite3.connect(str(config.index_dir / "index.db"))
    for col in ("user_meta", "cksum_type", "cksum_value"):
        db.execute(f"ALTER TABLE objects DROP COLUMN {col}")
    db.commit()
    db.close()
    async with open_store(config) as s:
        page = await s.list_objects("b", with_extra=True)
        by_key = {e.key: e for e in page.entries}
        assert by_key["k"].user == {"a": "1"} and by_key["plain"].user == {}
        assert by_key["k"].checksum_type == want.checksum_type
        assert by_key["k"].checksum_value == want.checksum_value
        # and what is written from now on carries them too
        await s.put_object("b", "n", body_of(b"e"), ObjectMeta(user={"b": "2"}))
        page = await s.list_objects("b", prefix="n", with_extra=True)
        assert page.entries[0].user == {"b": "2"}
        assert (await s.fsck(rebuild=False)).clean


# == a property: the store's listing is the naive one, over random key sets ==============

_ALPHABET = ["a", "b", "/", "!", "0", "~", "é", "\ufffd", "\U0001f600", "\U0010ffff"]
_text = st.text(alphabet=st.sampled_from(_ALPHABET), max_size=5)


@pytest.fixture
def sync_store(tmp_path):  # type: ignore[no-untyped-def]
    from .conftest import make_config

    s = Store.open_sync(make_config(tmp_path, n=1))
    try:
        s.buckets.create_sync("b", None)
        yield s
    finally:
        s.close_sync()


def _set_keys(store: Store, keys: set[str]) -> None:
    with store.index.wlock:
        store.index.w.execute("DELETE FROM objects WHERE bucket = 'b'")
    _insert_rows(store, [(k, len(k), "e", 1, None, "{}") for k in keys])


def _check_listing(store: Store, keys: set[str], prefix: str, delimiter: str,
                   start_after: str, max_keys: int) -> None:
    _set_keys(store, keys)
    want, _ = s3_model(keys, prefix, delimiter, start_after, 10**9)
    assert _page_through(store, prefix, delimiter, start_after, max_keys) == want
    # and the first page alone, with its truncation flag
    page = store.lister.list_sync("b", prefix, delimiter, start_after, max_keys, False)
    first = sorted([(e.key, False) for e in page.entries]
                   + [(p, True) for p in page.common_prefixes])
    assert first == want[:max_keys]
    assert page.is_truncated == (len(want) > max_keys)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.sets(_text.filter(bool), max_size=40), prefix=_text,
       delimiter=st.sampled_from(["", "/", "/", "/", "a", "//", "\U0010ffff", "é/"]),
       start_after=_text, max_keys=st.integers(1, 6))
def test_listing_property(sync_store: Store, keys: set[str], prefix: str, delimiter: str,
                          start_after: str, max_keys: int) -> None:
    _check_listing(sync_store, keys, prefix, delimiter, start_after, max_keys)


@pytest.mark.fuzz
@settings(max_examples=20_000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.sets(_text.filter(bool), max_size=200), prefix=_text,
       delimiter=st.sampled_from(["", "/", "a", "//", "\U0010ffff", "é/", "/0"]),
       start_after=_text, max_keys=st.integers(1, 50))
def test_listing_property_long(sync_store: Store, keys: set[str], prefix: str,
                               delimiter: str, start_after: str, max_keys: int) -> None:
    _check_listing(sync_store, keys, prefix, delimiter, start_after, max_keys)


# == through a node: S3 ListObjects V1 and V2, the native listing the mount uses ==========

WIRE_KEYS = [k for k in TRICKY if k != "a//"] + ["c/x y", "c/x+y", "c/x%2Fy"]


def _s3_pages(s3, v2: bool, prefix: str, delimiter: str, max_keys: int,  # type: ignore[no-untyped-def]
              start_after: str = "") -> list[tuple[str, bool]]:
    got: list[tuple[str, bool]] = []
    args = {"Bucket": "lst", "Prefix": prefix, "Delimiter": delimiter, "MaxKeys": max_keys}
    if start_after:
        args["StartAfter" if v2 else "Marker"] = start_after
    for _ in range(200):
        res = s3.list_objects_v2(**args) if v2 else s3.list_objects(**args)
        items = [(o["Key"], False) for o in res.get("Contents", [])]
        items += [(p["Prefix"], True) for p in res.get("CommonPrefixes", [])]
        items.sort(key=lambda t: t[0])
        assert len(items) <= max_keys
        got += items
        if not res["IsTruncated"]:
            return got
        if v2:
            args["ContinuationToken"] = res["NextContinuationToken"]
        else:
            args["Marker"] = res.get("NextMarker") or items[-1][0]
    raise AssertionError("listing did not end")


def _native_pages(url: str, prefix: str, page_size: int) -> list[tuple[str, bool]]:
    import http.client
    import json
    from urllib.parse import urlparse

    u = urlparse(url)
    got: list[tuple[str, bool]] = []
    token = ""
    for _ in range(200):
        value = {"prefix": prefix, "flags": str(1 << 11), "pagesize": page_size,
                 "props": "name,size,etag,last-modified,custom"}  # as mount/nodebackend.py
        if token:
            value["continuation_token"] = token
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            conn.request("GET", "/v1/buckets/lst",
                         body=json.dumps({"action": "list", "value": value}),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            body = json.loads(resp.read())
        finally:
            conn.close()
        assert resp.status == 200, body
        for ent in body["entries"]:
            is_dir = bool(int(ent.get("flags", 0)) & (1 << 8))
            got.append((ent["name"], is_dir))
            if not is_dir:
                assert "mode=33188" in ent.get("custom-md", ""), ent
        token = body.get("continuation_token") or ""
        if not token:
            return got
    raise AssertionError("listing did not end")


def test_listings_through_a_node(node, s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="lst")
    for k in WIRE_KEYS:
        s3.put_object(Bucket="lst", Key=k, Body=k.encode(), Metadata={"mode": "33188"})
    for prefix in ["", "a", "a/", "a/b", "c/", "\U0010ffff"]:
        for delimiter in ["/", ""]:
            want, _ = s3_model(WIRE_KEYS, prefix, delimiter, "", 10**9)
            for max_keys in [1, 3, 1000]:
                for v2 in (False, True):
                    got = _s3_pages(s3, v2, prefix, delimiter, max_keys)
                    assert got == want, (v2, prefix, delimiter, max_keys)
        want, _ = s3_model(WIRE_KEYS, prefix, "/", "", 10**9)
        for page_size in [1, 4, 1000]:
            assert _native_pages(node.url, prefix, page_size) == want, (prefix, page_size)
    # a StartAfter / Marker inside a common prefix, and on one
    for start_after in ["a/b", "a/", "a/\U0010ffff/x", "\U0001f600"]:
        want, _ = s3_model(WIRE_KEYS, "", "/", start_after, 10**9)
        for v2 in (False, True):
            assert _s3_pages(s3, v2, "", "/", 2, start_after) == want, (v2, start_after)
    # checksum and version in the native listing: index columns, as HEAD reports them
    import http.client
    import json
    from urllib.parse import quote, urlparse

    u = urlparse(node.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        value = {"prefix": "b/", "props": "name,checksum,version", "pagesize": 100}
        conn.request("GET", "/v1/buckets/lst", body=json.dumps({"action": "list", "value": value}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        listed = json.loads(resp.read())["entries"]
        assert [e["name"] for e in listed] == ["b/1", "b/2", "b/3/x"]
        for ent in listed:
            conn.request("HEAD", "/v1/objects/lst/" + quote(ent["name"]))
            head = conn.getresponse()
            head.read()
            assert head.status == 200
            assert ent["checksum"] == head.getheader("ais-checksum-value") != ""
            assert ent["version"] == head.getheader("ais-version")
    finally:
        conn.close()
