"""The fsync pool of group commits (aisfs/store/groups.py): every file and directory of a
batch fsynced before the call returns, one failure raised once all the others are done,
and a batch leader's ``gather`` hook given the last batch's size."""

from __future__ import annotations

import os
from pathlib import Path

import outcome
import pytest
import trio

from aisfs.store.groups import Group, fsync_linked, fsync_together


def _files(tmp_path: Path, n: int) -> list[tuple[int, str]]:
    out = []
    for i in range(n):
        d = tmp_path / f"d{i % 3}"
        d.mkdir(exist_ok=True)
        fd = os.open(d / f"f{i}", os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"x" * 100)
        out.append((fd, str(d)))
    return out


def test_fsync_linked_and_together_sync_everything(tmp_path: Path) -> None:
    files = _files(tmp_path, 12)
    try:
        fsync_linked(files, [str(tmp_path)])
        fsync_together([fd for fd, _ in files], [str(tmp_path), str(tmp_path / "d0")])
        fsync_linked(files[:1])  # one job: in the calling thread
    finally:
        for fd, _ in files:
            os.close(fd)


def test_a_failed_fsync_is_raised_after_the_others(tmp_path: Path) -> None:
    ok = _files(tmp_path, 6)
    try:
        with pytest.raises(OSError):  # no such fd: EBADF, from the pool's threads
            fsync_together([ok[0][0], 999_999, ok[1][0], 999_998])
        with pytest.raises(FileNotFoundError):  # a missing directory, the caller's job
            fsync_linked(ok, [str(tmp_path / "gone")])
        fsync_linked(ok)  # the pool goes on after errors
    finally:
        for fd, _ in ok:
            os.close(fd)


async def test_the_gather_hook_sees_the_last_batch_size() -> None:
    seen: list[int] = []

    async def gather(last: int) -> None:
        seen.append(last)
        await trio.lowlevel.checkpoint()

    async def run_batch(items: list[int]) -> list[outcome.Outcome[int]]:
        await trio.sleep(0.01)
        return [outcome.Value(i * 2) for i in items]

    group: Group[int, int] = Group(run_batch, gather)
    got: dict[int, int] = {}

    async def one(i: int) -> None:
        got[i] = await group.submit(i)

    async with trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(one, i)
    assert got == {i: i * 2 for i in range(5)}
    assert seen[0] == 0  # the first leader: no batch before it
    assert all(last >= 1 for last in seen[1:])


def test_a_directory_is_fsynced_after_every_new_file_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name renamed over an acknowledged file must not be made durable before the
    bytes it now points to: each directory's fsync comes after all its files' fsyncs
    (the record of the calls is taken from os.fsync and the directory fsync as they run
    in the pool's threads)."""
    import threading

    import aisfs.store.groups as groups

    lock = threading.Lock()
    order: list[tuple[str, object]] = []
    real_fsync, real_dir = os.fsync, groups.__dict__["fsync_dir"]

    def fsync(fd: int) -> None:
        real_fsync(fd)
        with lock:
            order.append(("file", fd))

    def fsync_dir(d: str) -> None:
        with lock:
            order.append(("dir", d))
        real_dir(d)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr("aisfs.store.groups.fsync_dir", fsync_dir)
    files = _files(tmp_path, 12)  # four files in each of three directories
    try:
        for _ in range(20):
            order.clear()
            fsync_linked(files, [str(tmp_path)])
            done = {fd: order.index(("file", fd)) for fd, _ in files}
            for fd, d in files:
                assert done[fd] < order.index(("dir", d))
            assert ("dir", str(tmp_path)) in order
    finally:
        for fd, _ in files:
            os.close(fd)
