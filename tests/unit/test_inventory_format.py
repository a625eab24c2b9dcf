"""The inventory file (aisfs.inventory): its paged listing against a slow model, the
writer's atomic publish and what a crash mid-create leaves, the catalog's AIS rules."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aisfs.backend.provider import BucketRef, Provider
from aisfs.errors import S3Error
from aisfs.inventory import (
    Catalog,
    InventoryWriter,
    check_name,
    list_page,
    new_name,
    open_reader,
    wants_inventory,
)
from aisfs.inventory.reader import read_meta

KEYS = [
    "a", "a/b", "a/b/c", "a/c", "a+b", "b/1", "b/2", "b/3/x", "c", "d/e/f",
    "é", "éa/1", "z", "ā/x", "中文/1", "中文/2", "\U0001f600", "ｚ",
]
BUCKET = BucketRef(Provider.AWS, "b")


def model(keys, prefix="", delimiter="", start_after=""):
    """Every entry of an S3 listing, in UTF-8 byte order, (name, is_prefix)."""
    items: list[tuple[str, bool]] = []
    seen = set()
    for k in sorted(set(keys), key=lambda s: s.encode()):
        if not k.startswith(prefix):
            continue
        if delimiter and delimiter in k[len(prefix):]:
            cp = k[: k.index(delimiter, len(prefix)) + len(delimiter)]
            if cp not in seen and cp > start_after:
                seen.add(cp)
                items.append((cp, True))
        elif k > start_after:
            items.append((k, False))
    return items


def write(path: Path, keys, meta=None) -> int:
    w = InventoryWriter(path, fsync=False)
    w.add((k, len(k), f"e-{k}", 1000 + i, "") for i, k in enumerate(keys))
    return w.publish(meta or {"prefix": ""})


def paged(path: Path, prefix: str, delimiter: str, max_keys: int, start_after: str = ""):
    conn = open_reader(path)
    got: list[tuple[str, bool]] = []
    marker = start_after
    try:
        for _ in range(10_000):
            page = list_page(conn, prefix=prefix, delimiter=delimiter, start_after=marker,
                             max_keys=max_keys)
            items = sorted([(e.key, False) for e in page.entries]
                           + [(p, True) for p in page.common_prefixes])
            assert len(items) <= max_keys
            got += items
            if not page.is_truncated:
                assert page.next_marker is None
                return got
            assert page.next_marker == items[-1][0]
            marker = page.next_marker
    finally:
        conn.close()
    raise AssertionError("no end")


def test_paged_listing_matches_model(tmp_path: Path) -> None:
    path = tmp_path / "i.nbi"
    assert write(path, KEYS) == len(KEYS)
    for prefix in ["", "a", "a/", "b/", "中", "x"]:
        for delimiter in ["", "/", "b", "/c", "中"]:
            for max_keys in [1, 2, 3, 1000]:
                assert paged(path, prefix, delimiter, max_keys) == model(
                    KEYS, prefix, delimiter), (prefix, delimiter, max_keys)
    assert paged(path, "", "/", 2, start_after="b/2") == model(KEYS, "", "/", "b/2")
    assert paged(path, "", "", 1000, start_after="c") == model(KEYS, "", "", "c")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.lists(st.text(alphabet="ab/ä\U0001f600", min_size=1, max_size=6), max_size=30),
    prefix=st.text(alphabet="ab/", max_size=2),
    delimiter=st.sampled_from(["", "/", "b", "a/"]),
    max_keys=st.integers(1, 5),
    start_after=st.text(alphabet="ab/", max_size=3),
)
def test_listing_property(tmp_path: Path, keys, prefix, delimiter, max_keys, start_after):
    path = tmp_path / f"{new_name()}.nbi"
    write(path, keys)
    try:
        assert paged(path, prefix, delimiter, max_keys, start_after) == model(
            keys, prefix, delimiter, start_after)
    finally:
        path.unlink()


def test_a_common_prefix_costs_one_seek(tmp_path: Path) -> None:
    """A level of 5 directories of 2,000 keys each: 6 statements, not 10,000 rows."""
    path = tmp_path / "big.nbi"
    write(path, [f"d{i}/{j:05d}" for i in range(5) for j in range(2000)] + ["top"])
    conn = open_reader(path)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    page = list_page(conn, delimiter="/", max_keys=1000)
    assert page.common_prefixes == [f"d{i}/" for i in range(5)]
    assert [e.key for e in page.entries] == ["top"]
    assert len(statements) == 6
    conn.close()


def test_entries_and_meta(tmp_path: Path) -> None:
    path = tmp_path / "i.nbi"
    w = InventoryWriter(path, fsync=True)
    w.add([("k1", 5, "etag1", 7, "v1"), ("k0", 1, "etag0", 6, "")])
    w.add([("k1", 9, "etag9", 8, "v2")])  # a key seen twice: its last row
    assert w.publish({"prefix": "k", "started": 1}) == 2
    conn = open_reader(path)
    page = list_page(conn)
    assert [(e.key, e.size, e.etag, e.mtime_ns, e.version) for e in page.entries] == [
        ("k0", 1, "etag0", 6, ""), ("k1", 9, "etag9", 8, "v2")]
    assert read_meta(conn) == {"prefix": "k", "started": 1, "ntotal": 2}
    assert list_page(conn, max_keys=0).entries == []
    conn.close()
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_abort_keeps_the_published_one(tmp_path: Path) -> None:
    cat = Catalog(tmp_path, fsync=False)
    write(cat.path(BUCKET, "inv"), ["old"])
    w = cat.writer(BUCKET, "inv")
    w.add([("new", 1, "e", 1, "")])
    assert w.tmp.exists()
    w.abort()
    assert not w.tmp.exists()
    assert [e.key for e in list_page(open_reader(cat.resolve(BUCKET))).entries] == ["old"]


def test_kill_mid_create_leaves_the_previous_inventory(tmp_path: Path) -> None:
    """kill -9 of a process writing a new version of an inventory: the old one reads as it
    was, the torn temporary file is swept at the next start."""
    cat = Catalog(tmp_path, fsync=True)
    write(cat.path(BUCKET, "inv"), [f"old{i}" for i in range(100)])
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from aisfs.backend.provider import BucketRef, Provider
        from aisfs.inventory import Catalog
        w = Catalog(Path({str(tmp_path)!r})).writer(BucketRef(Provider.AWS, "b"), "inv")
        i = 0
        while True:
            w.add([(f"new{{i + j:09d}}", 1, "e", 1, "") for j in range(1000)])
            i += 1000
            if i == 5000:
                print("writing", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    bdir = cat.bucket_dir(BUCKET)
    assert len(list(bdir.glob(".inv.*.tmp"))) == 1
    conn = open_reader(cat.resolve(BUCKET, "inv"))
    assert len(list_page(conn).entries) == 100 and read_meta(conn)["ntotal"] == 100
    conn.close()
    assert cat.sweep() == 1
    assert cat.names(BUCKET) == ["inv"] and not list(bdir.glob(".*"))


def test_catalog_rules(tmp_path: Path) -> None:
    cat = Catalog(tmp_path, fsync=False)
    with pytest.raises(S3Error, match="has no inventories") as e:
        cat.resolve(BUCKET)
    assert e.value.status == 400
    write(cat.path(BUCKET, "one"), ["a"], {"prefix": "", "started": 5, "finished": 6})
    assert cat.resolve(BUCKET).name == "one.nbi"
    write(cat.path(BUCKET, "two"), ["a", "b"])
    with pytest.raises(S3Error, match="has 2 inventories"):
        cat.resolve(BUCKET)
    with pytest.raises(S3Error, match="does not exist") as e:
        cat.resolve(BUCKET, "three")
    assert e.value.status == 404
    with pytest.raises(S3Error, match="does not exist") as e:
        cat.show(BUCKET, "three")
    assert e.value.status == 404
    [info] = cat.show(BUCKET, "one")
    assert info.to_json()["ntotal"] == 1 and info.to_json()["bucket"] == "s3://b"
    assert info.obj_name == "aws/@#/b/one"
    other = BucketRef(Provider.AIS, "a")
    write(cat.path(other, "x"), [])
    assert [(i.bucket, i.name) for i in cat.show(None)] == [
        (other, "x"), (BUCKET, "one"), (BUCKET, "two")]
    assert cat.remove(BUCKET, "one") == ["one"]
    with pytest.raises(S3Error):
        cat.remove(BUCKET, "one")
    assert cat.remove(BUCKET) == ["two"] and cat.names(BUCKET) == []


@pytest.mark.parametrize("bad", ["", ".x", "../x", "a/b", "x" * 65, "a b", "é"])
def test_bad_names(bad: str) -> None:
    with pytest.raises(S3Error) as e:
        check_name(bad)
    assert e.value.status == 400


def test_default_names() -> None:
    name = new_name()
    assert check_name(name) == name and name.startswith("inv-") and len(name) == 13


@pytest.mark.parametrize(("value", "wanted"), [
    ("true", True), ("TRUE", True), ("yes", True), ("y", True), ("on", True), ("1", True),
    ("false", False), ("", False), (None, False), ("no", False), ("maybe", False)])
def test_the_inventory_header(value: str | None, wanted: bool) -> None:
    assert wants_inventory(value) is wanted  # AIS's cos.IsParseBool
