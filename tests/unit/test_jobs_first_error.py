"""``aisfs_node.jobs.first_error``: the error a job (and a presigned PUT's tee) reports out of a
nursery's exception group, picked with ``aisfs.errors``' helpers."""

from __future__ import annotations

import trio

from aisfs.errors import S3Error
from aisfs_node.jobs import first_error


def cancelled() -> trio.Cancelled:
    return trio.Cancelled._create()  # type: ignore[attr-defined,no-any-return]


def test_a_plain_error_is_itself() -> None:
    e = ValueError("x")
    assert first_error(e) is e


def test_the_only_leaf_however_deep() -> None:
    e = OSError("disk")
    assert first_error(ExceptionGroup("a", [ExceptionGroup("b", [e])])) is e
    c = cancelled()
    assert first_error(BaseExceptionGroup("a", [c])) is c


def test_an_s3_error_first() -> None:
    s3 = S3Error("NoSuchKey", "gone", status=404)
    group = BaseExceptionGroup("g", [cancelled(), ValueError("v"),
                                     ExceptionGroup("in", [s3])])
    assert first_error(group) is s3


def test_else_the_first_that_is_not_a_cancellation() -> None:
    v = ValueError("v")
    group = BaseExceptionGroup("g", [cancelled(), BaseExceptionGroup("in", [cancelled(), v]),
                                     OSError("later")])
    assert first_error(group) is v
    c = cancelled()
    assert first_error(BaseExceptionGroup("g", [c, cancelled()])) is c
