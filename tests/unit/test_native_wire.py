"""aisfs/native.py: the custom-metadata codec of the `/v1` wire (issue 18: it was parsed
three ways that disagreed, and a value holding a comma was cut on a native PUT)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aisfs.native import decode_custom_md, encode_custom_md

keys = st.text(min_size=1, max_size=20)
values = st.text(max_size=40)


@given(st.dictionaries(keys, values, max_size=6))
def test_custom_md_round_trip(md: dict[str, str]) -> None:
    wire = encode_custom_md(md)
    assert wire.isascii() and "\r" not in wire and "\n" not in wire
    assert decode_custom_md(wire) == md


@given(st.dictionaries(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                   blacklist_characters="%,="), min_size=1, max_size=10),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                   blacklist_characters="%,="), max_size=20),
    max_size=5,
))
def test_plain_metadata_reads_the_same_in_either_form(md: dict[str, str]) -> None:
    wire = encode_custom_md(md)
    assert wire == ",".join(f"{k}={v}" for k, v in md.items())  # what AIStore sends
    assert decode_custom_md(wire) == md


def test_comma_and_specials_escaped() -> None:
    md = {"date": "Wed, 25 Nov 2026 07:35:16 GMT", "a=b": "50%", " pad ": "x "}
    wire = encode_custom_md(md)
    assert wire == "date=Wed%2C 25 Nov 2026 07:35:16 GMT,a%3Db=50%25,%20pad%20=x%20"
    assert decode_custom_md(wire) == md


def test_old_unescaped_form() -> None:
    got = decode_custom_md("ETag=abc, LastModified=Wed, 25 Nov 2026 07:35:16 GMT,mode=33188")
    assert got == {"ETag": "abc", "LastModified": "Wed, 25 Nov 2026 07:35:16 GMT",
                   "mode": "33188"}
    assert decode_custom_md("k1=v1,k2=v2") == {"k1": "v1", "k2": "v2"}
    assert decode_custom_md("junk,=nokey,k=v") == {"k": "v"}
    assert decode_custom_md("") == decode_custom_md(None) == {}
