"""The `/v1` wire knowledge shared by the node, the mount and the CLI.

- the list-objects flags a client sends (AIStore's api/apc/lsmsg.go, bit *i* in
  declaration order) and the flags of each listed entry;
- the custom metadata of an object as one header value (``ais-custom-md`` on PUT and HEAD)
  and as the ``custom-md`` of a listed entry: ``k=v,k=v``.

AIStore's format has no escaping, so a value holding a comma (an HTTP date) was cut in
two. Here ``%``, ``,`` and ``=`` in keys and values are percent-encoded, as are control
characters, non-ASCII characters (a header value is ASCII on the wire) and whitespace at
either end of a key or value (the decoder strips unescaped whitespace, as the old parsers
did). Everything else goes as it is, so metadata without those characters reads the same
in either form and AIStore's SDK sees what it saw before.

Decoding accepts the unescaped form too: a piece without ``=`` cannot start a pair in the
encoded form, so it is taken as the rest of the previous value after a comma (the node's
listings used to send ``LastModified=Wed, 25 Nov 2026 ...`` like that).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

# list-objects flags (the "flags" of a list request's value, a decimal string)
LS_CACHED = 1  # a remote bucket: only what is in the store
LS_NAME_ONLY = 1 << 4
LS_NOT_CACHED = 1 << 9  # a remote bucket: only what is not
LS_NO_RECURSION = 1 << 11
LS_NO_DIRS = 1 << 13
# aisfs's own (AIS has none): every version and delete marker of a versioned ais:// bucket
# (docs/versioning.md); the continuation token is "key NUL version-id"
LS_VERSIONS = 1 << 40

# flags of a listed entry
ENTRY_IS_CACHED = 1 << 6
ENTRY_IS_DIR = 1 << 8

CUSTOM_MD_HEADER = "ais-custom-md"

_SPECIAL = frozenset("%,=")


def _escape_char(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))


def _escape(text: str) -> str:
    if text.isascii() and text.isprintable() and not (text[:1] == " " or text[-1:] == " "):
        # the usual value (a listing encodes one per key and entry): only the three
        # specials to escape, as the loop below would (space is the only printable
        # ASCII whitespace)
        if "%" in text:
            text = text.replace("%", "%25")
        return text.replace(",", "%2C").replace("=", "%3D")
    out = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        code = ord(ch)
        if (
            ch in _SPECIAL
            or code < 0x20
            or code >= 0x7F
            or ((i == 0 or i == last) and ch.isspace())
        ):
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    return "".join(out)


def encode_custom_md(items: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """``{"a": "x,y"}`` -> ``"a=x%2Cy"``; pairs keep the order given."""
    pairs = items.items() if isinstance(items, Mapping) else items
    return ",".join(f"{_escape(k)}={_escape(v)}" for k, v in pairs)


@functools.lru_cache(maxsize=4096)
def _key_piece(key: str) -> str:
    """``key`` escaped, with its "=" (a listing's custom-metadata keys repeat from entry
    to entry: mode, uid, ... - each escaped once)."""
    return _escape(key) + "="


def custom_md_pair(key: str, value: str) -> str:
    """One ``k=v`` piece of `encode_custom_md` (a listing joins an entry's with commas:
    the same string)."""
    return _key_piece(key) + _escape(value)


def decode_custom_md(text: str | None) -> dict[str, str]:
    """The inverse of `encode_custom_md`; also reads the old unescaped form.

    A piece without a key (``=v``) or before any pair is dropped; of a key given twice the
    last value wins.
    """
    out: dict[str, str] = {}
    if not text:
        return out
    raw: list[tuple[str, list[str]]] = []
    for piece in text.split(","):
        key, sep, value = piece.partition("=")
        if sep:
            raw.append((key, [value]))
        elif raw:
            raw[-1][1].append(piece)
    for key, values in raw:
        name = unquote(key.strip())
        if name:
            out[name] = unquote(",".join(values).strip())
    return out
