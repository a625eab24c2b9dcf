"""CORS evaluation (aisfs.s3.cors) without a server."""

from __future__ import annotations

import pytest

from aisfs.errors import S3Error
from aisfs.s3 import cors
from aisfs.s3.xml import CORSRule, cors_configuration, parse_cors_configuration

SITE = CORSRule(
    allowed_origins=("http://www.example.com",),
    allowed_methods=("GET", "PUT"),
    allowed_headers=("Content-Type", "x-amz-*"),
    expose_headers=("ETag", "x-amz-request-id"),
    max_age_seconds=3000,
)
WILD = CORSRule(allowed_origins=("http://*.example.org",), allowed_methods=("GET",))
ANY = CORSRule(allowed_origins=("*",), allowed_methods=("HEAD",), allowed_headers=("*",))


def hdrs(pairs: list[tuple[str, str]] | None) -> dict[str, str]:
    assert pairs is not None
    return dict(pairs)


def test_wildcard_match() -> None:
    assert cors.wildcard_match("a*c", "abbbc")
    assert cors.wildcard_match("a*c", "ac")
    assert not cors.wildcard_match("a*c", "abd")
    assert not cors.wildcard_match("ab*ba", "aba")  # head and tail may not overlap
    assert cors.wildcard_match("*", "")
    assert cors.wildcard_match("X-Amz-*", "x-amz-date", case_sensitive=False)
    assert not cors.wildcard_match("X-Amz-*", "x-amz-date")


def test_origin_patterns() -> None:
    assert cors.origin_matches("*", "https://anything:8080")
    assert cors.origin_matches("http://*.example.com", "http://www.example.com")
    assert cors.origin_matches("http://*.example.com", "http://a.b.example.com")
    assert not cors.origin_matches("http://*.example.com", "https://www.example.com")
    assert not cors.origin_matches("http://*.example.com", "http://example.com")
    assert not cors.origin_matches("http://www.example.com", "http://www.example.com:8080")
    assert cors.origin_matches("http://WWW.example.com", "http://www.example.com")


def test_preflight_allowed() -> None:
    h = hdrs(
        cors.preflight(
            [WILD, SITE], "http://www.example.com", "PUT", "content-type, X-Amz-Date"
        )
    )
    assert h["access-control-allow-origin"] == "http://www.example.com"
    assert h["access-control-allow-credentials"] == "true"
    assert h["access-control-allow-methods"] == "GET, PUT"
    assert h["access-control-allow-headers"] == "content-type, x-amz-date"
    assert h["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert h["access-control-max-age"] == "3000"
    assert "Origin" in h["vary"]


def test_preflight_first_matching_rule_wins() -> None:
    h = hdrs(cors.preflight([ANY, SITE], "http://www.example.com", "HEAD", None))
    assert h["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in h
    assert h["access-control-allow-methods"] == "HEAD"
    assert "access-control-allow-headers" not in h
    h = hdrs(cors.preflight([ANY, SITE], "http://www.example.com", "GET", None))
    assert h["access-control-allow-methods"] == "GET, PUT"  # ANY has no GET


def test_preflight_allowed_header_star() -> None:
    h = hdrs(cors.preflight([ANY], "http://x", "HEAD", "authorization,x-custom"))
    assert h["access-control-allow-headers"] == "authorization, x-custom"


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("http://evil.com", "GET", None),  # origin
        ("http://www.example.com", "DELETE", None),  # method
        ("http://www.example.com", "PUT", "authorization"),  # header not allowed
        ("http://a.example.org", "PUT", None),  # wildcard origin, wrong method
    ],
)
def test_preflight_refused(origin: str, method: str, headers: str | None) -> None:
    with pytest.raises(S3Error) as e:
        cors.preflight([SITE, WILD], origin, method, headers)
    assert e.value.status == 403
    assert e.value.code == "AccessForbidden"
    assert e.value.message.startswith("CORSResponse: This CORS request is not allowed")
    assert e.value.extra["Method"] == method


def test_preflight_not_enabled_and_bad_requests() -> None:
    with pytest.raises(S3Error) as e:
        cors.preflight([], "http://x", "GET", None)
    assert (e.value.status, e.value.message) == (403, cors.NOT_ENABLED)
    with pytest.raises(S3Error) as e:
        cors.preflight([SITE], None, "GET", None)
    assert (e.value.code, e.value.status) == ("BadRequest", 400)
    assert "Origin" in e.value.message
    for method in (None, "PATCH", "get"):
        with pytest.raises(S3Error) as e:
            cors.preflight([SITE], "http://www.example.com", method, None)
        assert (e.value.code, e.value.status) == ("BadRequest", 400)
        assert "Access-Control-Request-Method" in e.value.message


def test_actual_request_headers() -> None:
    h = hdrs(cors.cors_headers([SITE, WILD], "http://z.example.org", "GET"))
    assert h["access-control-allow-origin"] == "http://z.example.org"
    assert h["access-control-allow-methods"] == "GET"
    assert "access-control-expose-headers" not in h
    assert "access-control-max-age" not in h
    assert h["vary"].startswith("Origin")
    assert cors.cors_headers([SITE, WILD], "http://z.example.org", "PUT") is None
    assert cors.cors_headers([SITE], "http://evil.com", "GET") is None
    assert cors.cors_headers([], "http://www.example.com", "GET") is None
    assert cors.cors_headers(None, "http://www.example.com", "GET") is None
    assert cors.cors_headers([SITE], None, "GET") is None
    h = hdrs(cors.cors_headers([ANY], "http://q", "head"))
    assert h["access-control-allow-origin"] == "*"


def test_json_round_trip() -> None:
    rules = [SITE, WILD, CORSRule(("*",), ("GET",), id="r1", max_age_seconds=0)]
    data = cors.rules_to_json(rules)
    import json

    assert cors.rules_from_json(json.loads(json.dumps(data))) == rules
    assert cors.rules_from_json(None) == []
    assert cors.rules_from_json([{"max_age_seconds": "x"}, 3]) == []


def test_xml_round_trip_and_validation() -> None:
    rules = parse_cors_configuration(cors_configuration([SITE, WILD]))
    assert rules == [SITE, WILD]
    cors.validate_rules(rules)
    for bad in (
        CORSRule(("http://*.*.com",), ("GET",)),
        CORSRule(("*",), ("GET",), allowed_headers=("x-*-*",)),
        CORSRule(("*",), ("GET",), expose_headers=("x-*",)),
    ):
        with pytest.raises(S3Error) as e:
            cors.validate_rules([bad])
        assert e.value.code == "InvalidRequest"
