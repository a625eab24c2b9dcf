"""The owners a listing names (aisfs/store/acls.py): ``owners`` reads the owner of each
current object with an ACL row of its own, in batches, ignoring rows of replaced objects;
``version_owners`` keeps a version's owner once it is no longer current; ``prune`` drops
the rows of versions that are gone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.store import Store
from aisfs.store import acls as stored_acls
from aisfs.store.acls import OWNERS_BATCH
from aisfs.store.types import ObjectMeta

from .conftest import body_of


async def test_owners_read_in_batches_and_only_for_the_current_object(store: Store) -> None:
    await store.create_bucket("b")
    rows = stored_acls.of(store.index)
    n = OWNERS_BATCH + 7  # two batches
    keys = [f"k{i:05d}" for i in range(n)]
    for k in keys:
        info = await store.put_object("b", k, body_of(b"x"), ObjectMeta())
        if int(k[1:]) % 3 == 0:
            await rows.set("b", k, info.generation, {"owner": f"u{k}", "grants": []})
    await store.put_object("b", "k00003", body_of(b"new"), ObjectMeta())  # replaced
    got = await rows.owners("b", [*keys, "missing", "k00000"])
    assert got == {k: f"u{k}" for k in keys if int(k[1:]) % 3 == 0 and k != "k00003"}
    assert await rows.owners("other", keys) == {}
    assert await rows.owners("b", []) == {}


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from("abc"), st.sampled_from("123")),
                       st.sampled_from(["alice", "bob"]), max_size=9),
       st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("1234")), max_size=12))
def test_version_owners_answers_exactly_the_recorded_pairs(
        recorded: dict[tuple[str, str], str], asked: list[tuple[str, str]]) -> None:
    import tempfile
    from pathlib import Path

    from aisfs.store.index import Index

    with tempfile.TemporaryDirectory() as d:
        index = Index(Path(d) / "index.db")
        rows = stored_acls.ObjectAcls(index)
        for (k, v), owner in recorded.items():
            rows.set_version_owner_sync("b", k, v, owner)
        assert rows.version_owners_sync("b", asked) == {
            kv: recorded[kv] for kv in asked if kv in recorded}
        # none of them is a version the index holds: all pruned
        assert rows.prune_sync() == len(recorded)
        assert rows.version_owners_sync("b", list(recorded)) == {}
        index.close()
