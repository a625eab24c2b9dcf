"""aisfs_node.h1proto: request framing by llhttp (with our limits and policy) and response
heads, byte by byte; hypothesis feeds it arbitrary bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs_node.h1proto import (
    END,
    MAX_HEAD,
    MAX_HEADERS,
    BadResponseHead,
    EndOfMessage,
    ProtocolError,
    RequestHead,
    RequestParser,
    body_allowed,
    response_head,
    split_target,
)

Event = RequestHead | bytes | EndOfMessage | ProtocolError


def events(*pieces: bytes) -> list[Event]:
    parser = RequestParser()
    out: list[Event] = []
    for piece in pieces:
        parser.feed(piece)
        while (event := parser.next_event()) is not None:
            out.append(event)
    return out


def head_of(raw: bytes) -> RequestHead:
    (head, *_rest) = events(raw + b"\r\n\r\n")
    assert isinstance(head, RequestHead), head
    return head


def refused(raw: bytes) -> int:
    out = events(raw)
    assert out and isinstance(out[-1], ProtocolError), out
    assert not any(isinstance(e, ProtocolError) for e in out[:-1])
    return out[-1].status


def body_of(out: list[Event]) -> bytes:
    return b"".join(e for e in out if isinstance(e, bytes))


def test_simple_get() -> None:
    head = head_of(b"GET /s3/b/k?x=1 HTTP/1.1\r\nHost: h\r\nX-Amz-Date: 1  ")
    assert head.method == "GET"
    assert head.target == b"/s3/b/k?x=1"
    assert head.headers == [(b"host", b"h"), (b"x-amz-date", b"1")]
    assert head.keep_alive and not head.has_body and not head.expect_continue


def test_content_length_and_expect() -> None:
    head = head_of(b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nExpect: 100-continue")
    assert head.content_length == 12 and head.has_body and head.expect_continue


def test_body_and_pipelining_in_one_feed() -> None:
    raw = (b"PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
           b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
           b"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"2;x=y\r\nhi\r\n0\r\nT: v\r\n\r\n")
    for step in (1, 5, len(raw)):
        out = events(*(raw[i:i + step] for i in range(0, len(raw), step)))
        heads = [e for e in out if isinstance(e, RequestHead)]
        assert [h.target for h in heads] == [b"/a", b"/b", b"/c"]
        assert body_of(out) == b"abchi"
        assert out.count(END) == 2  # GET /b has no body: no END for it
        assert heads[2].chunked and heads[2].headers[-1] == (b"transfer-encoding", b"chunked")


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"GET /k HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET /k HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        (b"GET /k HTTP/1.2\r\nHost: h\r\n\r\n", 400),
        (b"G@T /k HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /k HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        (b"GET /k HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400),
        (b"GET /k HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", 400),
        (b"GET /k HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", 400),
        (b"GET /k HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400),
        (b"GET /k HTTP/1.1\r\nHost: h\r\nNocolon\r\n\r\n", 400),
        (b"GET /k HTTP/1.1\nHost: h\n\n", 400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
         400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"
         b"\r\n\r\n", 400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\nContent-Length: 2\r\n\r\n", 400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\r\nContent-Length: 2\r\n\r\n",
         400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
        (b"PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", 501),
        (b"CONNECT h:80 HTTP/1.1\r\nHost: h\r\n\r\n", 501),
    ],
)
def test_refused_heads(raw: bytes, status: int) -> None:
    assert refused(raw) == status


CHUNKED_HEAD = b"PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "body",
    [
        b"2;\nXX\r\n45\r\n0\r\n\r\n",  # bare LF in a chunk extension
        b"2\r\nXX\r\n0\r\nbad\r\n\r\n",  # trailer without colon
        b"2\r\nXX\r\n0\r\nA: b\n\r\n",  # trailer ending in a bare LF
        b" 2\r\nXX\r\n0\r\n\r\n",  # leading space in the size
        b"2 ;x\r\nXX\r\n0\r\n\r\n",  # space before ';'
        b"10000000000000000\r\n",  # size overflow
        b"zz\r\nab\r\n",
        b"2\r\nabXY",
        b"-1\r\n",
        b"\r\n",
    ],
)
def test_chunked_refused(body: bytes) -> None:
    assert refused(CHUNKED_HEAD + body) == 400


def test_trailers_are_dropped_not_headers() -> None:
    out = events(CHUNKED_HEAD + b"2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n")
    head = out[0]
    assert isinstance(head, RequestHead)
    assert (b"x-t", b"1") not in head.headers
    assert body_of(out) == b"hi" and out[-1] is END


def test_keep_alive_rules() -> None:
    assert not head_of(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close").keep_alive
    assert not head_of(b"GET / HTTP/1.0").keep_alive
    assert head_of(b"GET / HTTP/1.0\r\nConnection: Keep-Alive").keep_alive
    # HTTP/1.0 with a transfer coding: answered, then closed (RFC 9112 6.1)
    out = events(b"PUT /k HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked"
                 b"\r\n\r\n2\r\nXX\r\n0\r\n\r\n")
    head = out[0]
    assert isinstance(head, RequestHead) and head.chunked and not head.keep_alive
    assert body_of(out) == b"XX"


def test_head_limits() -> None:
    assert refused(b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * MAX_HEAD + b"\r\n\r\n") == 431
    many = b"".join(b"X%d: y\r\n" % i for i in range(MAX_HEADERS + 1))
    assert refused(b"GET / HTTP/1.1\r\nHost: h\r\n" + many + b"\r\n") == 431
    # a header that never ends is cut once the head passes the limit, fed in pieces
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost: h\r\nX: ")
    for _ in range(3):
        assert parser.next_event() is None
        parser.feed(b"a" * (MAX_HEAD // 2))
    err = parser.next_event()
    assert isinstance(err, ProtocolError) and err.status == 431 and parser.dead


def test_idle_and_stray_crlf() -> None:
    parser = RequestParser()
    assert parser.idle
    parser.feed(b"\r\n\r\n")
    assert parser.idle and parser.next_event() is None
    parser.feed(b"GET / HT")
    assert not parser.idle
    parser.feed(b"TP/1.1\r\nHost: h\r\n\r\n")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.idle


def test_absolute_form() -> None:
    head = head_of(b"GET http://x:1/s3/b?q HTTP/1.1\r\nHost: h")
    assert split_target(head.target) == (b"/s3/b", b"q")


def test_split_target() -> None:
    assert split_target(b"/s3/b/k?list-type=2") == (b"/s3/b/k", b"list-type=2")
    assert split_target(b"http://host:1/s3/b?x") == (b"/s3/b", b"x")
    assert split_target(b"http://host") == (b"/", b"")
    assert split_target(b"http://host?a=/b") == (b"/", b"a=/b")


def test_response_head() -> None:
    head = response_head(200, [(b"content-length", b"3")], chunked=False, close=False)
    assert head.startswith(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ndate: ")
    assert head.endswith(b"GMT\r\n\r\n")
    head = response_head(200, [], chunked=True, close=True, http_version="1.0")
    assert b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n" in head
    assert b"connection: keep-alive" in response_head(204, [], chunked=False, close=False,
                                                      http_version="1.0")
    assert b"x: a\tb \x80" in response_head(200, [(b"x", b"a\tb \x80")], chunked=False,
                                           close=False)


@pytest.mark.parametrize(
    "name, value",
    [
        (b"content-type", b"text/html\r\nSet-Cookie: a=b"),
        (b"x", b"a\nb"),
        (b"x", b"a\rb"),
        (b"x", b"a\x00b"),
        (b"x y", b"v"),
        (b"x:", b"v"),
        (b"", b"v"),
        (b"x\r\nset-cookie", b"v"),
    ],
)
def test_response_head_refuses_bad_headers(name: bytes, value: bytes) -> None:
    with pytest.raises(BadResponseHead):
        response_head(200, [(b"ok", b"1"), (name, value)], chunked=False, close=False)


def test_body_allowed() -> None:
    assert body_allowed("GET", 200)
    assert not body_allowed("HEAD", 200)
    assert not body_allowed("GET", 204) and not body_allowed("GET", 304)


# ---- properties -----------------------------------------------------------------------

def _check_stream(pieces: list[bytes]) -> None:
    """Any bytes: only well-formed events in a well-formed order, never an exception."""
    parser = RequestParser()
    in_body = False
    for piece in pieces:
        parser.feed(piece)  # must not raise
        while (event := parser.next_event()) is not None:
            if isinstance(event, ProtocolError):
                assert 400 <= event.status < 600 and parser.dead
                assert parser.next_event() is None
                return
            if isinstance(event, RequestHead):
                assert not in_body
                assert event.http_version in ("1.0", "1.1")
                assert event.method.isascii() and event.target
                assert not (event.chunked and event.content_length is not None)
                for name, value in event.headers:
                    assert name == name.lower() and b":" not in name
                    assert b"\r" not in value and b"\n" not in value and b"\0" not in value
                in_body = event.has_body
            elif isinstance(event, bytes):
                assert in_body and event
            else:
                assert event is END and in_body
                in_body = False


_PARTS = [b"GET", b"PUT", b" ", b"/k", b"?a=b", b"HTTP/1.1", b"HTTP/1.0", b"\r\n", b"\n",
          b"\r", b"Host: h", b"Content-Length: ", b"Transfer-Encoding: ", b"chunked", b",",
          b"0", b"5", b"ff", b";x=y", b":", b"\t", b"\x00", b"\xff", b"hello", b"Expect: ",
          b"100-continue", b"Connection: ", b"close", b"keep-alive", b"Upgrade: x"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=6))
def test_any_bytes(pieces: list[bytes]) -> None:
    _check_stream(pieces)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PARTS), max_size=40), st.integers(1, 40))
def test_http_like_bytes(parts: list[bytes], step: int) -> None:
    raw = b"".join(parts)
    _check_stream([raw[i:i + step] for i in range(0, len(raw), step)])


@pytest.mark.fuzz
@settings(max_examples=20_000, deadline=None)
@given(st.lists(st.sampled_from(_PARTS), max_size=80), st.integers(1, 80))
def test_http_like_bytes_long(parts: list[bytes], step: int) -> None:
    raw = b"".join(parts)
    _check_stream([raw[i:i + step] for i in range(0, len(raw), step)])
