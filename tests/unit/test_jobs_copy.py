"""The copy request (aisfs.jobs.copy) as the aistore SDK sends it, sans-IO."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aisfs.jobs import COPY_BUCKET
from aisfs.jobs.copy import (
    COPY_OBJECTS,
    DEFAULT_WORKERS,
    MAX_WORKERS,
    BucketName,
    CopyError,
    parse_bck_to,
    parse_copy,
)


def test_bck_to_forms() -> None:
    assert parse_bck_to("aws/@#/dst/") == BucketName("aws", "dst")
    assert parse_bck_to("ais/@#/d/") == BucketName("ais", "d")
    assert parse_bck_to("s3/@#/d/").uri == "s3://d"
    assert parse_bck_to("s3://d") == BucketName("aws", "d")
    assert parse_bck_to("d") == BucketName("ais", "d")
    for bad in ("gcp/@#/d/", "ais/@ns#x/d/", "", "a/b/c/d", "aws/@#//"):
        with pytest.raises(CopyError):
            parse_bck_to(bad)


def test_copy_bck_as_the_sdk_sends_it() -> None:
    # Bucket.copy(to_bck, prefix_filter="a/", prepend="p/", dry_run=True)
    value = {"prefix": "a/", "prepend": "p/", "dry_run": True, "force": False,
             "latest-ver": True, "synchronize": False, "num-workers": 3}
    req = parse_copy(COPY_BUCKET, value, "aws/@#/dst/")
    assert req.dst == BucketName("aws", "dst") and req.prefix == "a/"
    assert req.dry_run and req.latest and not req.force and req.workers == 3
    assert req.dst_key("x") == "p/x" and req.selection is None
    assert req.describe() == {"to": "s3://dst", "prefix": "a/", "prepend": "p/",
                              "dry_run": True, "latest": True}
    assert parse_copy(COPY_BUCKET, {}, "ais/@#/d/").workers == DEFAULT_WORKERS
    assert parse_copy(COPY_BUCKET, {"num-workers": -1}, "d").workers == 1
    assert parse_copy(COPY_BUCKET, {"num-workers": 10**6}, "d").workers == MAX_WORKERS


def test_copy_listrange_as_the_sdk_sends_it() -> None:
    value = {"template": "shard-{0..9}.tar", "prepend": "", "dry_run": False,
             "force": True, "latest-ver": False, "synchronize": False,
             "tobck": {"name": "d", "provider": "aws", "namespace": {"uuid": "", "name": ""}},
             "coer": True}
    req = parse_copy(COPY_OBJECTS, value, None)
    assert req.kind == COPY_OBJECTS and req.dst.uri == "s3://d" and req.force
    assert req.selection is not None and req.selection.count() == 10
    assert req.continue_on_error
    names = parse_copy(COPY_OBJECTS, {"objnames": ["a", "b"], "tobck": {"name": "d"}}, None)
    assert names.selection is not None and list(names.selection.named()) == ["a", "b"]


@pytest.mark.parametrize("value", [
    {"ext": {"jpg": "txt"}}, {"dry_run": "yes"}, {"prefix": 3},
    {"num-workers": "8"}, {"num-workers": -5}, [1, 2],
])
def test_refused(value: object) -> None:
    with pytest.raises(CopyError):
        parse_copy(COPY_BUCKET, value, "ais/@#/d/")


def test_sync_is_for_a_prefix() -> None:
    assert parse_copy(COPY_BUCKET, {"synchronize": True, "prefix": "a/"}, "d").sync
    with pytest.raises(CopyError):
        parse_copy(COPY_OBJECTS, {"synchronize": True, "template": "a-{0..3}",
                                  "tobck": {"name": "d"}}, None)
    req = parse_copy(COPY_OBJECTS, {"synchronize": True, "template": "logs/",
                                    "tobck": {"name": "d"}}, None)
    assert req.sync and req.selection is not None and req.selection.prefix == "logs/"


def test_destination_required() -> None:
    with pytest.raises(CopyError):
        parse_copy(COPY_BUCKET, {}, None)
    with pytest.raises(CopyError):
        parse_copy(COPY_OBJECTS, {"template": "a-{0..2}"}, None)
    with pytest.raises(CopyError):
        parse_copy("move-bck", {}, "d")


@given(st.dictionaries(st.sampled_from(["prefix", "prepend", "dry_run", "force", "coer",
                                        "latest-ver", "num-workers", "synchronize",
                                        "template", "objnames", "tobck"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.text(),
                                 st.lists(st.text()), st.dictionaries(st.text(), st.text()))),
       st.sampled_from([COPY_BUCKET, COPY_OBJECTS]), st.one_of(st.none(), st.text()))
def test_any_message_is_a_request_or_a_copy_error(value: dict[str, object], action: str,
                                                  bck_to: str | None) -> None:
    try:
        req = parse_copy(action, value, bck_to)
    except CopyError:
        return
    assert req.dst.provider in ("ais", "aws") and req.dst.name
    assert 1 <= req.workers <= MAX_WORKERS
