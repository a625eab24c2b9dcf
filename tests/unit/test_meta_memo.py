"""aisfs/backend/metamemo.py: what a node learned of remote objects it holds no copy of -
recalled only for the ETag it was learned with, bounded, least recently learned first out."""

from __future__ import annotations

from aisfs.backend.metamemo import MetaMemo


def test_recalled_for_the_same_etag_only() -> None:
    memo = MetaMemo()
    memo.remember("b", "k", "e1", {"mode": "33188"})
    assert memo.recall("b", "k", "e1") == {"mode": "33188"}
    assert memo.recall("b", "k", "e2") is None  # changed elsewhere since
    assert memo.recall("other", "k", "e1") is None
    memo.remember("b", "k", "e2", {"mode": "33261"})
    assert memo.recall("b", "k", "e1") is None and memo.recall("b", "k", "e2") == {
        "mode": "33261"}
    memo.forget("b", "k")
    assert memo.recall("b", "k", "e2") is None
    memo.remember("b", "k", "", {"mode": "1"})  # no ETag: nothing to tell it by
    assert memo.recall("b", "k", "") is None


def test_bounded_least_recently_learned_out() -> None:
    memo = MetaMemo(limit=3)
    for i in range(3):
        memo.remember("b", f"k{i}", "e", {"i": str(i)})
    memo.remember("b", "k0", "e", {"i": "again"})  # learned again: newest
    memo.remember("b", "k3", "e", {"i": "3"})
    assert memo.recall("b", "k1", "e") is None
    assert [memo.recall("b", k, "e") for k in ("k0", "k2", "k3")] == [
        {"i": "again"}, {"i": "2"}, {"i": "3"}]
