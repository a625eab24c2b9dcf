"""aisfs/errors.py's reading of exception groups: the node's responses, the store's
writer and the mount's errnos all go through leaves/unwrap/only."""

from __future__ import annotations

import errno

import trio

from aisfs.errors import S3Error, leaves, only, unwrap


def full() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


def test_leaves_depth_first() -> None:
    a, b, c = ValueError("a"), KeyError("b"), OSError("c")
    assert leaves(a) == [a]
    assert leaves(BaseExceptionGroup("g", [a, ExceptionGroup("h", [b, c])])) == [a, b, c]


def test_unwrap_one_leaf_however_deep() -> None:
    a = ValueError("a")
    assert unwrap(a) is a
    assert unwrap(ExceptionGroup("g", [ExceptionGroup("h", [a])])) is a


def test_unwrap_several_leaves() -> None:
    s3 = S3Error("InsufficientStorage")
    a, b = full(), full()
    assert unwrap(ExceptionGroup("g", [a, ExceptionGroup("h", [s3])])) is s3
    eg = ExceptionGroup("g", [a, b])
    assert unwrap(eg) is eg  # no S3Error, no rule for them: the group stays
    assert unwrap(eg, alike=lambda e: isinstance(e, OSError) and e.errno == errno.ENOSPC) is a
    mixed = ExceptionGroup("g", [a, ValueError("bug")])
    assert unwrap(mixed, alike=lambda e: isinstance(e, OSError)) is mixed


def test_only() -> None:
    c = _cancelled()
    assert only(c, trio.Cancelled)
    assert only(BaseExceptionGroup("g", [c, BaseExceptionGroup("h", [c])]), trio.Cancelled)
    assert not only(BaseExceptionGroup("g", [c, ValueError()]), trio.Cancelled)
    assert not only(ValueError(), trio.Cancelled)


def test_first_error_passes_over_cancelled_siblings() -> None:
    from aisfs.errors import first_error

    boom, other = ValueError("boom"), OSError("other")
    s3 = S3Error("NoSuchKey", "x")
    assert first_error(boom) is boom
    assert first_error(ExceptionGroup("g", [boom, other])) is boom
    assert first_error(ExceptionGroup("g", [boom, s3])) is s3  # the answer a client gets
    cancelled = _cancelled()
    assert isinstance(cancelled, trio.Cancelled)
    group = BaseExceptionGroup("g", [cancelled, other])
    assert first_error(group, ignore=trio.Cancelled) is other
    assert first_error(group) is cancelled
    only_cancelled = BaseExceptionGroup("g", [cancelled, _cancelled()])
    assert first_error(only_cancelled, ignore=trio.Cancelled) is cancelled


def _cancelled() -> BaseException:
    async def cancelled() -> BaseException:
        with trio.CancelScope() as scope:
            scope.cancel()
            try:
                await trio.sleep(1)
            except trio.Cancelled as exc:
                return exc
        raise AssertionError("not cancelled")

    return trio.run(cancelled)
