from __future__ import annotations

import pytest

from aisfs.errors import S3Error
from aisfs.s3.ranges import content_range, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=0-9", 10, (0, 9)),
        ("bytes=2-5", 10, (2, 5)),
        ("bytes=6-15", 10, (6, 9)),  # end clipped (AIS fixture get_range)
        ("bytes=9-", 10, (9, 9)),
        ("bytes=0-", 10, (0, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-10", 10, (0, 9)),
        ("bytes=-100", 10, (0, 9)),
        ("bytes = 1 - 2", 10, (1, 2)),
        ("Bytes=1-2", 10, (1, 2)),
        ("bytes=0-99999999999999999999999", 10, (0, 9)),
        # ignored: S3 serves the whole object
        ("bytes=5-2", 10, None),
        ("bytes=0-1,3-4", 10, None),
        ("bytes=-", 10, None),
        ("bytes=", 10, None),
        ("items=0-1", 10, None),
        ("bytes=a-b", 10, None),
        ("bytes=-1-2", 10, None),
        ("0-1", 10, None),
        ("", 10, None),
        ("bytes=1.5-2", 10, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=10-", 10),
        ("bytes=10-20", 10),
        ("bytes=100-200", 10),
        ("bytes=-0", 10),
        ("bytes=0-", 0),
        ("bytes=0-0", 0),
        ("bytes=-1", 0),
    ],
)
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(S3Error) as exc:
        parse_range(header, size)
    assert exc.value.code == "InvalidRange"
    assert exc.value.status == 416


def test_content_range() -> None:
    assert content_range(0, 9, 10) == "bytes 0-9/10"
