"""The sans-IO parts of a read worker's hop to the primary (aisfs_node/forward.py): the
request it sends and the client address the primary takes from it."""

from __future__ import annotations

from typing import Any

from aisfs_node.forward import CLIENT_HEADER, client_of, request_of


def scope(headers: list[tuple[bytes, bytes]], **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": "PUT", "raw_path": b"/s3/b/a%20b",
            "query_string": b"x-id=PutObject&z", "headers": headers,
            "client": ("10.0.0.7", 4321), "scheme": "https", **extra}


def test_the_request_keeps_target_and_headers_and_says_who_the_client_is() -> None:
    request, has_body, expect = request_of(scope([
        (b"host", b"h:1"), (b"content-length", b"5"), (b"x-amz-date", b"20260101T000000Z"),
        (b"connection", b"keep-alive"), (CLIENT_HEADER, b"http 6.6.6.6 1"),
        (b"expect", b"100-continue")]))
    assert request.target == b"/s3/b/a%20b?x-id=PutObject&z"
    headers = [(bytes(k), bytes(v)) for k, v in request.headers]
    assert (b"x-amz-date", b"20260101T000000Z") in headers
    assert (b"content-length", b"5") in headers
    assert (b"connection", b"keep-alive") not in headers
    assert [v for k, v in headers if k == CLIENT_HEADER] == [b"https 10.0.0.7 4321"]
    assert has_body and expect


def test_a_chunked_body_is_chunked_on_the_hop_and_no_body_is_none() -> None:
    request, has_body, expect = request_of(scope([(b"host", b"h"),
                                                  (b"transfer-encoding", b"chunked")]))
    headers = [(bytes(k), bytes(v)) for k, v in request.headers]
    assert (b"transfer-encoding", b"chunked") in headers and has_body and not expect
    _, has_body, _ = request_of(scope([(b"host", b"h"), (b"content-length", b"0")],
                                      method="GET", query_string=b""))
    assert not has_body


def test_client_of() -> None:
    assert client_of(b"https 10.0.0.7 4321") == ("https", ("10.0.0.7", 4321))
    assert client_of(b"http ::1 80") == ("http", ("::1", 80))
    assert client_of(b"http  0") == ("http", None)
    assert client_of(b"gopher x y") == ("http", None)
    assert client_of(b"") == ("http", None)
