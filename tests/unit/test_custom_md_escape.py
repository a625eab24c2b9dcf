"""`aisfs.native._escape`'s fast path (printable ASCII) escapes exactly as its loop does."""

from __future__ import annotations

import random

from aisfs.native import _SPECIAL, _escape, _escape_char, decode_custom_md, encode_custom_md


def _by_the_loop(text: str) -> str:
    out = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        code = ord(ch)
        if (ch in _SPECIAL or code < 0x20 or code >= 0x7F
                or ((i == 0 or i == last) and ch.isspace())):
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    return "".join(out)


def test_escape_matches_the_loop() -> None:
    rng = random.Random(1)
    alphabet = " %,=aZ09\t\n\x7f\xe9-_.:;/\u2028\x85\u00a0"
    samples = ["", " ", "a", " a", "a ", "a b", "%", "%%", "a=b,c", "Sun, 06 Dec 2026 GMT",
               "1796550601.123456789", "\u00e9t\u00e9"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 9)))
                for _ in range(20_000)]
    for text in samples:
        assert _escape(text) == _by_the_loop(text), repr(text)
        assert decode_custom_md(encode_custom_md({"k": text}))["k"] == text, repr(text)


def test_listing_entry_custom_md_is_encode_custom_md() -> None:
    """The listing's entry form (kept pieces: `custom_md_pair`, the Last-Modified piece
    per second) makes the custom-md string `encode_custom_md` makes, for any props."""
    from aisfs.native import ENTRY_IS_CACHED, custom_md_pair
    from aisfs.s3.conditions import format_http_date
    from aisfs.store.types import ListEntry
    from aisfs_node.native.listing import _EntryForm

    rng = random.Random(2)
    alphabet = " %,=aZ09\t\x01\xe9\u20ac"

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 7)))

    form = _EntryForm({"name", "size", "etag", "last-modified", "custom"}, 1, "n")
    for _ in range(5000):
        k, v = text(), text()
        assert custom_md_pair(k, v) == encode_custom_md([(k, v)])
        user = {text(): text() for _ in range(rng.randrange(0, 4))}
        e = ListEntry("k", rng.randrange(10**9), text(), rng.randrange(2**62), {}, user)
        want = encode_custom_md([("ETag", e.etag),
                                 ("LastModified", format_http_date(e.mtime_ns)),
                                 *sorted(user.items())])
        assert form.entry(e) == {"n": "k", "f": ENTRY_IS_CACHED, "s": e.size, "m": want}
    bare = _EntryForm({"name"}, 1, "n").entry(ListEntry("k", 5, "e", 0, {}, {"a": "b"}))
    assert bare == {"n": "k", "f": ENTRY_IS_CACHED}
