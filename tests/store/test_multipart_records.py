"""A part's record (multipart.py): a first upload of a part number stages it unnamed
(O_TMPFILE), links it under the index lock and fsyncs it after; a record of that name
already there (a re-upload, or one that came meanwhile) is replaced by a named, fsynced
temp file instead. Whichever way, the record on disk is the part the index holds, and no
temp file is left."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import trio

from aisfs.errors import S3Error
from aisfs.store import ObjectMeta, layout, open_store

from .conftest import body_of, make_config, rand, read_all
from .test_spool import temp_files

MiB = 1024 * 1024
SIZE = 1536 * 1024  # past HASH_AHEAD, within one chunk: spooled, one chunk


def records(roots: list[Path], upload_id: str, number: int) -> list[dict[str, object]]:
    out = []
    for r in roots:
        p = Path(layout.upload_dir(str(r), upload_id)) / layout.part_file(number)
        if p.exists():
            out.append(json.loads(p.read_bytes()))
    return out


async def test_records_of_parts_at_once_and_again(tmp_path: Path) -> None:
    config = make_config(tmp_path, fsync=True, chunk_size=2 * MiB, min_part_size=SIZE)
    async with open_store(config) as store:
        await store.create_bucket("b", {"mirror.copies": 2})
        up = await store.create_upload("b", "k", ObjectMeta())
        data = {n: rand(SIZE) for n in (1, 2, 3)}
        same = [rand(SIZE) for _ in range(3)]  # three uploads of part 4 at once

        async def put(n: int, body: bytes) -> None:
            p = await store.put_part(up.upload_id, "b", "k", n, body_of(body, 256 * 1024),
                                     expected_size=len(body))
            assert p.etag == hashlib.md5(body).hexdigest()

        async with trio.open_nursery() as nursery:
            for n, body in data.items():
                nursery.start_soon(put, n, body)
            for body in same:
                nursery.start_soon(put, 4, body)
        data[2] = rand(SIZE)  # again: the record replaced
        await put(2, data[2])
        parts = {p.part_number: p.etag for p in await store.list_parts(up.upload_id, "b", "k")}
        assert parts[4] in {hashlib.md5(b).hexdigest() for b in same}
        data[4] = next(b for b in same if hashlib.md5(b).hexdigest() == parts[4])
        for n, etag in parts.items():
            found = records(config.mountpaths, up.upload_id, n)
            assert len(found) == 2 and all(r["etag"] == etag for r in found), n
        assert not temp_files(config.mountpaths)
        assert (await store.fsck(rebuild=False)).clean
        info = await store.complete_upload(up.upload_id, "b", "k", sorted(parts.items()))
        assert await read_all(store, info) == b"".join(data[n] for n in sorted(data))
        assert not temp_files(config.mountpaths)
        assert (await store.fsck(rebuild=False)).clean


async def test_unnamed_record_whose_name_came_meanwhile_replaces_it(tmp_path: Path) -> None:
    config = make_config(tmp_path, fsync=True)
    async with open_store(config) as store:
        await store.create_bucket("b")
        up = await store.create_upload("b", "k", ObjectMeta())
        mp = store.multipart
        name = layout.part_file(9)
        staged = mp._stage_upload_file(up.upload_id, 1, name, b'{"new": 1}', lazy=True)
        assert len(staged) == 1 and staged[0].fd >= 0 and not staged[0].tmp  # unnamed
        final = Path(layout.upload_dir(staged[0].mp.root, up.upload_id)) / name
        final.write_bytes(b'{"old": 1}')  # a record of that name came meanwhile
        with store.index.wlock:
            mp._install_upload_file(up.upload_id, name, staged)
        mp._sync_linked(staged)
        assert final.read_bytes() == b'{"new": 1}'
        assert all(st.fd < 0 and not st.tmp for st in staged)
        assert not temp_files(config.mountpaths)
        staged = mp._stage_upload_file(up.upload_id, 1, name, b'{"again": 1}', lazy=True)
        assert staged[0].fd < 0 and staged[0].tmp  # a name there: a named temp file
        with store.index.wlock:
            mp._install_upload_file(up.upload_id, name, staged)
        mp._sync_linked(staged)
        assert final.read_bytes() == b'{"again": 1}'
        assert not temp_files(config.mountpaths)
        final.unlink()


@pytest.mark.parametrize("cut", [-1, +1])
async def test_refused_part_beside_others_leaves_nothing(tmp_path: Path, cut: int) -> None:
    """Parts in flight are spooled by one task each (spool.py): one whose body is shorter
    or longer than declared is refused, the others stored, no temp file left."""
    config = make_config(tmp_path, fsync=True, chunk_size=2 * MiB, min_part_size=SIZE)
    async with open_store(config) as store:
        await store.create_bucket("b")
        up = await store.create_upload("b", "k", ObjectMeta())
        good = {n: rand(SIZE) for n in (1, 2, 3)}
        bad = rand(SIZE + cut)
        refused: list[str] = []

        async def put(n: int, body: bytes) -> None:
            try:
                await store.put_part(up.upload_id, "b", "k", n, body_of(body, 256 * 1024),
                                     expected_size=SIZE)
            except S3Error as e:
                refused.append(e.code)

        async with trio.open_nursery() as nursery:
            for n, body in good.items():
                nursery.start_soon(put, n, body)
            nursery.start_soon(put, 4, bad)
        assert refused == ["IncompleteBody"]
        parts = await store.list_parts(up.upload_id, "b", "k")
        assert [p.part_number for p in parts] == [1, 2, 3]
        assert not records(config.mountpaths, up.upload_id, 4)
        assert not temp_files(config.mountpaths)
        assert (await store.fsck(rebuild=False)).clean
        info = await store.complete_upload(up.upload_id, "b", "k",
                                           [(p.part_number, p.etag) for p in parts])
        assert await read_all(store, info) == b"".join(good.values())
