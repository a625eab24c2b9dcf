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
