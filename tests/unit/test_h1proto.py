"""node.h1proto: request heads, chunked bodies and response heads, byte by byte."""

from __future__ import annotations

import pytest

from node.h1proto import (
    MAX_HEAD,
    ChunkedReader,
    ProtocolError,
    body_allowed,
    find_head_end,
    parse_head,
    response_head,
    split_target,
)


def test_simple_get() -> None:
    head = parse_head(b"GET /s3/b/k?x=1 HTTP/1.1\r\nHost: h\r\nX-Amz-Date: 1")
    assert head.method == "GET"
    assert head.target == b"/s3/b/k?x=1"
    assert head.headers == [(b"host", b"h"), (b"x-amz-date", b"1")]
    assert head.keep_alive and not head.has_body and not head.expect_continue


def test_content_length_and_expect() -> None:
    head = parse_head(
        b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nExpect: 100-continue"
    )
    assert head.content_length == 12 and head.has_body and head.expect_continue


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"GET /k HTTP/1.1", 400),  # no Host
        (b"GET  /k HTTP/1.1\r\nHost: h", 400),
        (b"GET /k HTTP/2.0\r\nHost: h", 505),
        (b"G@T /k HTTP/1.1\r\nHost: h", 400),
        (b"GET /a\x00b HTTP/1.1\r\nHost: h", 400),
        (b"GET /k HTTP/1.1\r\nHost : h", 400),
        (b"GET /k HTTP/1.1\r\nHost: h\r\n folded", 400),
        (b"GET /k HTTP/1.1\r\nHost: h\r\nX: a\x01b", 400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: -1", 400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2", 400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked",
         400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked", 501),
    ],
)
def test_refused_heads(raw: bytes, status: int) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_head(raw)
    assert err.value.status == status


def test_repeated_equal_lengths_are_one() -> None:
    head = parse_head(b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5")
    assert head.content_length == 5


def test_keep_alive_rules() -> None:
    assert not parse_head(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close").keep_alive
    assert not parse_head(b"GET / HTTP/1.0").keep_alive
    assert parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive").keep_alive


def test_head_end_and_limit() -> None:
    assert find_head_end(b"GET / HTTP/1.1\r\nHost: h\r\n") == -1
    assert find_head_end(b"GET / HTTP/1.1\r\nHost: h\r\n\r\nBODY") == 27
    with pytest.raises(ProtocolError) as err:
        find_head_end(b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD)
    assert err.value.status == 431


def test_split_target() -> None:
    assert split_target(b"/s3/b/k?list-type=2") == (b"/s3/b/k", b"list-type=2")
    assert split_target(b"http://host:1/s3/b?x") == (b"/s3/b", b"x")
    assert split_target(b"http://host") == (b"/", b"")


CHUNKED = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT"


@pytest.mark.parametrize("step", [1, 2, 3, 7, len(CHUNKED)])
def test_chunked_in_pieces(step: int) -> None:
    reader = ChunkedReader()
    out = b""
    fed = 0
    while not reader.done:
        out += b"".join(reader.feed(CHUNKED[fed:fed + step]))
        fed += step
    assert out == b"hello world"
    assert reader.leftover() + CHUNKED[fed:] == b"NEXT"


@pytest.mark.parametrize(
    "body", [b"zz\r\nab\r\n", b"2\r\nabXY", b"1" * 5000, b"-1\r\n", b"\r\n"]
)
def test_chunked_refused(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        ChunkedReader().feed(body)


def test_response_head() -> None:
    head = response_head(200, [(b"content-length", b"3")], chunked=False, close=False)
    assert head.startswith(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ndate: ")
    assert head.endswith(b"GMT\r\n\r\n")
    head = response_head(200, [], chunked=True, close=True, http_version="1.0")
    assert b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n" in head
    assert b"connection: keep-alive" in response_head(204, [], chunked=False, close=False,
                                                      http_version="1.0")


def test_body_allowed() -> None:
    assert body_allowed("GET", 200)
    assert not body_allowed("HEAD", 200)
    assert not body_allowed("GET", 204) and not body_allowed("GET", 304)
