"""aisfs_node.h1proto: the rest of a Content-Length body is passed on as received (no copy
by llhttp's on_body), counted against the length llhttp framed; a new llhttp takes what
follows. Whatever the split of the bytes into feeds (bytes or bytearray), the events are
those of the whole stream fed at once, which llhttp frames alone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs_node.h1proto import END, ProtocolError, RequestHead, RequestParser

from .test_h1proto import Event, events

FAST = settings(max_examples=300, deadline=None)


def request(kind: str, n: int, body: bytes) -> bytes:
    if kind == "get":
        return f"GET /g{n} HTTP/1.1\r\nHost: h\r\n\r\n".encode()
    if kind == "cl":
        return (f"PUT /p{n} HTTP/1.1\r\nHost: h\r\nContent-Length: {len(body)}\r\n\r\n"
                .encode() + body)
    if kind == "chunked":
        mid = len(body) // 2
        chunks = b"".join(b"%x\r\n%b\r\n" % (len(c), c) for c in (body[:mid], body[mid:]) if c)
        return (f"PUT /c{n} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                .encode() + chunks + b"0\r\n\r\n")
    return b"PUT /bad HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"


def normal(out: list[Event]) -> list[object]:
    """The events with each body's pieces joined (how a split cuts them is no matter)."""
    norm: list[object] = []
    for e in out:
        if isinstance(e, bytes) and norm and isinstance(norm[-1], bytes):
            norm[-1] += e
        elif isinstance(e, RequestHead):
            norm.append((e.method, e.target, e.content_length, e.chunked, e.keep_alive))
        elif isinstance(e, ProtocolError):
            norm.append(("error", e.status))
        else:
            norm.append(e)
    return norm


def split(data: bytes, cuts: list[int], mutable: bool) -> list[bytes]:
    at = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *at], [*at, len(data)], strict=True)]
    return [bytearray(p) if mutable else p for p in pieces if p]  # type: ignore[misc]


stream = st.lists(
    st.tuples(st.sampled_from(["get", "cl", "cl", "chunked"]), st.binary(max_size=300)),
    min_size=1, max_size=5,
).map(lambda reqs: b"".join(request(k, i, b) for i, (k, b) in enumerate(reqs)))


@FAST
@given(stream, st.booleans(), st.lists(st.integers(0, 4000), max_size=12), st.booleans())
def test_any_split_frames_as_the_whole(data: bytes, bad_last: bool, cuts: list[int],
                                       mutable: bool) -> None:
    if bad_last:
        data += request("bad", 0, b"")
    whole = events(data)
    assert normal(events(*split(data, cuts, mutable))) == normal(whole)
    assert normal(events(*[data[i:i + 1] for i in range(len(data))])) == normal(whole)


def test_body_pieces_passed_on_as_received() -> None:
    parser = RequestParser()
    parser.feed(b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() == b"ab"  # in the head's feed: llhttp's piece
    piece = b"cdefg"
    parser.feed(piece)
    assert parser.next_event() is piece  # not copied
    last = b"hij"
    parser.feed(last + b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
    assert parser.next_event() == last
    assert parser.next_event() is END
    head = parser.next_event()
    assert isinstance(head, RequestHead) and head.target == b"/next"
    assert parser.idle


def test_after_a_passed_on_body_the_next_request_is_checked_as_strictly() -> None:
    out = events(b"PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n", b"ab",
                 b"cd" + b"GET / HTTP/1.1\r\nHost : h\r\n\r\n")  # a space before the colon
    assert normal(out)[:3] == [("PUT", b"/k", 4, False, True), b"abcd", END]
    assert isinstance(out[-1], ProtocolError) and out[-1].status == 400


def test_connection_close_and_http10_as_before() -> None:
    out = events(b"PUT /k HTTP/1.0\r\nContent-Length: 3\r\n\r\n", b"abc")
    assert normal(out) == [("PUT", b"/k", 3, False, False), b"abc", END]
    out = events(b"PUT /k HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 3"
                 b"\r\n\r\n", b"a", b"bc")
    assert normal(out) == [("PUT", b"/k", 3, False, False), b"abc", END]


@given(st.integers(1, 60), st.sampled_from([
    b"PUT /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 40\r\n\r\n",
    b"PUT /a HTTP/1.0\r\nHost: h\r\nContent-Length: 40\r\n\r\n",
]))
def test_bytes_after_the_last_message_are_refused_whatever_the_split(
    cut: int, head: bytes
) -> None:
    """A message after which the connection closes: llhttp refuses what follows its body
    (no new llhttp takes it as a request), split or not."""
    data = head + bytes(40) + b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
    at = len(head) + cut % 41
    split_events = events(data[:at], data[at:])
    assert normal(events(data)) == normal(split_events)
    assert not any(isinstance(e, RequestHead) and e.target == "/b" for e in split_events)
