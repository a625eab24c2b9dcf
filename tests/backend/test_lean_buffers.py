"""lean.py ``Buffers``: a GET piece's buffer is reused only once nothing holds it - not
a name, a channel, a memoryview of it - so a piece handed on is never written over."""

from __future__ import annotations

from aisfs.backend.lean import Buffers


def test_reused_only_when_free() -> None:
    pool = Buffers()
    a = pool.take(pool.POOLED)
    b = pool.take(pool.POOLED)
    assert a is not b
    view = memoryview(a)[10:]
    held = [b]
    c = pool.take(pool.POOLED)
    assert c is not a and c is not b  # both still held
    del c
    view.release()
    del view
    d = pool.take(pool.POOLED)
    assert d is not b
    held.clear()
    del a, d
    e = pool.take(pool.POOLED)
    f = pool.take(pool.POOLED)
    assert e is not f


def test_other_sizes_are_new_and_at_most_kept() -> None:
    pool = Buffers()
    assert len(pool.take(100)) == 100
    held = [pool.take(pool.POOLED) for _ in range(pool.KEPT + 2)]
    assert len({id(x) for x in held}) == len(held)
    assert len(pool._kept) == pool.KEPT
