"""Short store steps (a small PUT's commit, a delete) run on the event loop only when the
server says nothing else is in flight and the index writer lock is free at once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import trio

from aisfs.store import ObjectMeta, Store, open_store

from .conftest import body_of, make_config


def _spy(store: Store) -> list[str]:
    """Record the thread each delete step runs in."""
    seen: list[str] = []
    real = store.objects.delete_many_sync  # a batch of deletes (one here: sequential)

    def delete_many_sync(names: list[tuple[str, str]]) -> Any:
        seen.append(threading.current_thread().name)
        return real(names)

    store.objects.delete_many_sync = delete_many_sync  # type: ignore[method-assign]
    return seen


async def test_on_the_loop_only_when_uncontended_and_lock_free(tmp_path: Path) -> None:
    async with open_store(make_config(tmp_path, inline_max=1024)) as store:
        await store.create_bucket("b")
        seen = _spy(store)
        main = threading.current_thread().name
        for i in range(3):
            await store.put_object("b", f"k{i}", body_of(b"x"), ObjectMeta())

        await store.delete_object("b", "k0")  # default: the server has not said
        store.uncontended = lambda: True
        await store.delete_object("b", "k1")
        # the writer lock held elsewhere (a long rename, a resilver): never wait on the loop
        held, release = threading.Event(), threading.Event()

        def holder() -> None:
            with store.index.wlock:
                held.set()
                release.wait()

        t = threading.Thread(target=holder)
        t.start()
        held.wait()
        try:
            async with trio.open_nursery() as n:
                n.start_soon(store.delete_object, "b", "k2")
                with trio.fail_after(2):  # the loop still runs while the delete waits
                    await trio.sleep(0.2)
                assert len(seen) == 3
                release.set()  # now the delete can take the lock (in its thread)
        finally:
            release.set()
            t.join()
        assert seen[0] != main and seen[1] == main and seen[2] != main
        assert (await store.list_objects("b")).entries == []

        store.config.short_steps_on_loop = False
        await store.put_object("b", "k3", body_of(b"x"), ObjectMeta())
        await store.delete_object("b", "k3")
        assert seen[3] != main

