"""AIS object-name templates (aisfs.jobs.template) and list-range selections: examples
from AIS's docs, and properties hypothesis checks against a direct expansion."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.jobs import (
    MAX_EXPANSION,
    SelectionError,
    TemplateError,
    parse_selection,
    parse_template,
)


@pytest.mark.parametrize(("text", "names"), [
    ("shard-{0..3}.tar", ["shard-0.tar", "shard-1.tar", "shard-2.tar", "shard-3.tar"]),
    ("shard-{000..003}.tar", ["shard-000.tar", "shard-001.tar", "shard-002.tar",
                              "shard-003.tar"]),
    ("{0..10..5}", ["0", "5", "10"]),
    ("{00..10..5}", ["00", "05", "10"]),
    ("{1..100..50}", ["1", "51"]),  # padded to the shorter bound's width (AIS)
    ("a-{0..1}-b-{00..02..2}-c", ["a-0-b-00-c", "a-0-b-02-c", "a-1-b-00-c", "a-1-b-02-c"]),
    ("x@02.bin", ["x00.bin", "x01.bin", "x02.bin"]),
    ("p@1-q@1", ["p0-q0", "p0-q1", "p1-q0", "p1-q1"]),
    ("{7..7}", ["7"]),
])
def test_expansion(text: str, names: list[str]) -> None:
    t = parse_template(text)
    assert list(t) == names
    assert t.count() == len(names) and not t.is_prefix


@pytest.mark.parametrize("text", ["logs/", "a@b", "plain-name", "dir/sub/"])
def test_no_range_is_a_prefix(text: str) -> None:
    t = parse_template(text)
    assert t.is_prefix and t.prefix == text and list(t) == []


@pytest.mark.parametrize(("text", "why"), [
    ("", "empty"),
    ("a-{5..1}", "greater than"),
    ("a-{0..9..0}", "non-positive"),
    ("a-{0..x}", "not a non-negative number"),
    ("a-{-1..3}", "not a non-negative number"),
    ("a-{0..1..2..3}", "expected"),
    ("a-{0}", "expected"),
    ("a-{0..1", "unbalanced"),
    ("a-0..1}", "unbalanced"),
    ("a-{{0..1}}", "unbalanced"),
    ("a-%06d", "unbounded"),
    ("a-{0..99999999}", "at most"),
    ("a-{٠..٣}", "not a non-negative number"),  # Arabic-Indic digits are not ASCII
])
def test_refused(text: str, why: str) -> None:
    with pytest.raises(TemplateError, match=why):
        parse_template(text)


def test_large_range_is_lazy() -> None:
    t = parse_template("m-{0000000..9999999}")
    assert t.count() == MAX_EXPANSION
    first = list(itertools.islice(t, 3))
    assert first == ["m-0000000", "m-0000001", "m-0000002"]


ranges = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(1, 7),
                   st.integers(0, 3), st.text("ab-_/.", max_size=3))


@given(st.text("xyz/", max_size=4), st.lists(ranges, min_size=1, max_size=3))
@settings(max_examples=200, deadline=None)
def test_matches_a_direct_expansion(prefix: str, specs: list[tuple[int, int, int, int, str]]
                                    ) -> None:
    text = prefix
    expected_parts = []
    for a, b, step, pad, gap in specs:
        start, end = min(a, b), max(a, b)
        s, e = f"{start:0{pad}d}", f"{end:0{pad}d}"
        text += f"{{{s}..{e}..{step}}}{gap}"
        width = min(len(s), len(e))
        expected_parts.append([f"{n:0{width}d}{gap}" for n in range(start, end + 1, step)])
    expected = [prefix + "".join(p) for p in itertools.product(*expected_parts)]
    t = parse_template(text)
    assert list(t) == expected
    assert t.count() == len(expected)


@given(st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        t = parse_template(text)
    except TemplateError:
        return
    assert t.count() <= MAX_EXPANSION
    if t.is_prefix:
        assert t.prefix == text
    else:
        assert next(iter(t)).startswith(t.prefix)


def test_selection_messages() -> None:
    sel = parse_selection({"objnames": ["a", "b"], "coer": True, "latest-ver": True})
    assert list(sel.named()) == ["a", "b"] and sel.count() == 2
    assert sel.continue_on_error and sel.latest and sel.prefix is None
    sel = parse_selection({"template": "s-{0..9}"})
    assert sel.count() == 10 and sel.prefix is None and not sel.continue_on_error
    assert sel.describe() == {"template": "s-{0..9..1}"}
    for whole in ({}, {"template": ""}, {"template": "*"}):
        sel = parse_selection(whole)
        assert sel.prefix == "" and sel.count() is None
    assert parse_selection({"template": "logs/"}).prefix == "logs/"


@pytest.mark.parametrize("value", [
    None, "x", [], {"objnames": "a"}, {"objnames": [1]}, {"objnames": [""]},
    {"objnames": ["a"], "template": "b"}, {"template": 7}, {"template": "a{1..0}"},
    {"objnames": ["a"], "coer": "yes"},
])
def test_selection_refused(value: object) -> None:
    with pytest.raises(SelectionError):
        parse_selection(value)
