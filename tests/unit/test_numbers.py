"""aisfs.numbers: ASCII digits only, bounded text and value, one typed error."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.numbers import (
    INT32_MAX,
    INT64_MAX,
    NumberError,
    argument,
    from_json,
    parse_int,
    parse_uint,
)

FAST = settings(max_examples=200, deadline=None)
LONG = settings(max_examples=20_000, deadline=None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("7", 7), ("0007", 7), ("000", 0), (str(INT64_MAX), INT64_MAX), (b"42", 42)],
)
def test_parse_uint_accepts_ascii_digits(text: str | bytes, expected: int) -> None:
    assert parse_uint(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "", " 1", "1 ", "+1", "-1", "1_000", "1.0", "1e3", "0x10", "²", "1²", "٣", "１",
        "߀", "\u0660", "1\n", "\t1", "٣" * 5000, b"\xd9\xa3", b"1 ", "9" * 65,
    ],
)
def test_parse_uint_refuses_what_int_would_take(text: str | bytes) -> None:
    with pytest.raises(NumberError) as exc:
        parse_uint(text)
    assert exc.value.reason == "syntax"


def test_bounds_are_range_errors() -> None:
    with pytest.raises(NumberError) as exc:
        parse_uint(str(INT64_MAX + 1))
    assert exc.value.reason == "range"
    with pytest.raises(NumberError) as exc:
        parse_uint("0", lo=1, hi=10)
    assert exc.value.reason == "range"
    with pytest.raises(NumberError) as exc:
        parse_uint("11", lo=1, hi=10)
    assert exc.value.reason == "range"
    assert parse_uint("10", lo=1, hi=10) == 10


def test_five_thousand_digits_never_reach_int() -> None:
    # past Python's 4,300-digit conversion limit: a scan, never a ValueError from int()
    huge = "9" * 5000
    assert len(huge) > sys.get_int_max_str_digits()
    with pytest.raises(NumberError):
        parse_uint(huge)
    assert parse_uint(huge, saturate=True) == INT64_MAX
    assert parse_uint(huge, hi=99, saturate=True) == 99
    assert parse_uint("0" * 5000 + "5", saturate=True) == 5
    with pytest.raises(NumberError) as exc:
        parse_uint("0" * 5000 + "5")  # the text bound holds for leading zeros too
    assert exc.value.reason == "syntax"


def test_parse_int_one_minus() -> None:
    assert parse_int("-5") == -5
    assert parse_int("5") == 5
    assert parse_int("-0") == 0
    for bad in ("--5", "-", "+5", "- 5", "-²"):
        with pytest.raises(NumberError):
            parse_int(bad)
    with pytest.raises(NumberError) as exc:
        parse_int("-5", lo=0)
    assert exc.value.reason == "range"
    assert parse_int(str(-INT32_MAX - 1), lo=-INT32_MAX - 1, hi=INT32_MAX) == -(2**31)


def test_from_json() -> None:
    assert from_json(5) == 5
    assert from_json("5") == 5
    assert from_json(-5, lo=-10) == -5
    for bad in (True, False, 1.5, 1.0, float("inf"), float("nan"), None, [1], {"a": 1}, "1.5",
                " 5", "²", 10**5000 if False else "9" * 5000):
        with pytest.raises(NumberError):
            from_json(bad)
    with pytest.raises(NumberError) as exc:
        from_json(2**64)
    assert exc.value.reason == "range"
    assert from_json(2**64 - 1, hi=2**64 - 1) == 2**64 - 1


def test_argument_maps_to_invalid_argument() -> None:
    assert argument("12", "max-keys") == 12
    with pytest.raises(S3Error) as exc:
        argument("x" * 1000, "max-keys", message="Provided max-keys not an integer")
    assert exc.value.code == "InvalidArgument"
    assert exc.value.status == 400
    assert exc.value.extra["ArgumentName"] == "max-keys"
    assert len(exc.value.extra["ArgumentValue"]) < 300  # echoed, but bounded
    with pytest.raises(S3Error) as exc:
        argument("9", "x", hi=5, code="InvalidRange")
    assert exc.value.code == "InvalidRange"


def _check_uint(text: str, lo: int, hi: int) -> None:
    try:
        value = parse_uint(text, lo=lo, hi=hi)
    except NumberError as exc:
        assert exc.reason in ("syntax", "range")
        plain = text.isascii() and text.isdigit() and len(text) <= 64
        if plain:  # a digit string is refused only for its value
            assert exc.reason == "range"
            assert not lo <= int(text) <= hi
        return
    assert text.isascii() and text.isdigit()
    assert value == int(text)
    assert lo <= value <= hi


def _check_saturating(text: str, hi: int) -> None:
    try:
        value = parse_uint(text, hi=hi, saturate=True)
    except NumberError as exc:
        assert exc.reason == "syntax"
        assert not (text.isascii() and text.isdigit())
        return
    assert value == min(int(text), hi)


_numberish = st.one_of(
    st.text(),
    st.text(alphabet="0123456789"),
    st.text(alphabet="0123456789-+_ .e²٣１\t", max_size=30),
    st.integers().map(str),
    st.integers(min_value=0).map(lambda n: "0" * (n % 7) + str(n)),
)
_bounds = st.tuples(st.integers(0, 2**64), st.integers(0, 2**64)).map(sorted)


@FAST
@given(_numberish, _bounds)
def test_parse_uint_property(text: str, bounds: list[int]) -> None:
    _check_uint(text, bounds[0], bounds[1])


@FAST
@given(_numberish, st.integers(0, 2**64))
def test_saturating_property(text: str, hi: int) -> None:
    _check_saturating(text, hi)


@FAST
@given(st.one_of(st.integers(), st.floats(), st.text(), st.booleans(), st.none(),
                 st.lists(st.integers(), max_size=2)))
def test_from_json_property(value: object) -> None:
    try:
        n = from_json(value, lo=-(2**63), hi=2**64)
    except NumberError:
        return
    assert isinstance(n, int) and not isinstance(n, bool)
    assert isinstance(value, int | str)


@pytest.mark.fuzz
@LONG
@given(_numberish, _bounds)
def test_parse_uint_property_long(text: str, bounds: list[int]) -> None:
    _check_uint(text, bounds[0], bounds[1])
    _check_saturating(text, bounds[1])
