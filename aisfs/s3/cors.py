"""CORS evaluation of S3 buckets, as AWS does it (sans-IO).

Theory of operation. A bucket's CORS configuration is an ordered list of rules
(``xml.CORSRule``). A request carrying an ``Origin`` header is matched against
them and the *first* rule that fits decides the ``Access-Control-*`` headers:

- its ``AllowedOrigin`` matches the Origin: equal, or a pattern with at most one
  ``*`` (``http://*.example.com``; ``*`` alone matches every origin);
- its ``AllowedMethod`` holds the method (the actual request's method, or the
  ``Access-Control-Request-Method`` of a preflight), compared exactly;
- for a preflight, every name in ``Access-Control-Request-Headers`` matches one
  ``AllowedHeader`` (case-insensitive, at most one ``*`` each).

A preflight (``OPTIONS``) that no rule allows is refused with 403
``AccessForbidden``; an actual request that no rule allows is served anyway,
only without ``Access-Control-*`` headers (the browser then hides the answer).

Matched answers carry ``Access-Control-Allow-Origin`` (``*`` when the rule's
origin is ``*``, else the request's Origin plus ``Access-Control-Allow-Credentials:
true``), ``Access-Control-Allow-Methods``, the rule's ``ExposeHeader``s and
``MaxAgeSeconds``, and ``Vary`` naming the request headers the answer depends on.

Rules are kept in bucket props as JSON-able dicts (``rules_to_json`` /
``rules_from_json``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aisfs.errors import S3Error
from aisfs.numbers import INT32_MAX, from_json
from aisfs.s3.xml import CORS_METHODS, CORSRule

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution "
    "of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
BUCKET_NOT_FOUND = "CORSResponse: Bucket not found"


# --------------------------------------------------------------------------- matching


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """``pattern`` with at most one ``*`` (any run of characters, also empty) vs ``value``."""
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return (
        len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)
    )


def origin_matches(allowed: str, origin: str) -> bool:
    """One ``AllowedOrigin`` against a request's ``Origin`` (scheme and host are
    case-insensitive in an origin, so the comparison is too)."""
    return allowed == "*" or wildcard_match(allowed, origin, case_sensitive=False)


def header_allowed(allowed_headers: Iterable[str], name: str) -> bool:
    return any(wildcard_match(a, name, case_sensitive=False) for a in allowed_headers)


def parse_request_headers(value: str | None) -> list[str]:
    """``Access-Control-Request-Headers: a, B`` -> ``["a", "b"]`` (order kept)."""
    if not value:
        return []
    return [h.strip().lower() for h in value.split(",") if h.strip()]


def find_rule(
    rules: Sequence[CORSRule],
    origin: str,
    method: str,
    request_headers: Iterable[str] = (),
) -> CORSRule | None:
    """The first rule that allows ``origin``, ``method`` and every requested header."""
    wanted = list(request_headers)
    for rule in rules:
        if method not in rule.allowed_methods:
            continue
        if not any(origin_matches(o, origin) for o in rule.allowed_origins):
            continue
        if all(header_allowed(rule.allowed_headers, h) for h in wanted):
            return rule
    return None


def _allow_origin(rule: CORSRule, origin: str) -> list[tuple[str, str]]:
    # A rule that allows every origin answers "*" (and so no credentials), as AWS does;
    # a specific or wildcard-pattern origin is echoed with credentials allowed.
    if "*" in rule.allowed_origins:
        return [("access-control-allow-origin", "*")]
    return [
        ("access-control-allow-origin", origin),
        ("access-control-allow-credentials", "true"),
    ]


def _rule_headers(rule: CORSRule) -> list[tuple[str, str]]:
    out = [("access-control-allow-methods", ", ".join(rule.allowed_methods))]
    if rule.expose_headers:
        out.append(("access-control-expose-headers", ", ".join(rule.expose_headers)))
    if rule.max_age_seconds is not None:
        out.append(("access-control-max-age", str(rule.max_age_seconds)))
    return out


def cors_headers(
    rules: Sequence[CORSRule] | None,
    origin: str | None,
    method: str,
) -> list[tuple[str, str]] | None:
    """Headers to add to an actual (non-preflight) response, or None when no rule matches.

    ``method`` is the request's own method (GET, HEAD, PUT, POST, DELETE).
    """
    if not rules or not origin:
        return None
    rule = find_rule(rules, origin, method.upper())
    if rule is None:
        return None
    return [*_allow_origin(rule, origin), *_rule_headers(rule), ("vary", VARY)]


def preflight(
    rules: Sequence[CORSRule] | None,
    origin: str | None,
    request_method: str | None,
    request_headers: str | None,
    *,
    resource_type: str = "OBJECT",
) -> list[tuple[str, str]]:
    """Evaluate an ``OPTIONS`` preflight; the headers of its 200 answer.

    Args:
        rules: the bucket's rules (None or empty: CORS not configured).
        origin: the ``Origin`` header.
        request_method: the ``Access-Control-Request-Method`` header.
        request_headers: the raw ``Access-Control-Request-Headers`` header.
        resource_type: ``BUCKET`` or ``OBJECT``, echoed in a refusal.

    Raises:
        S3Error: 400 BadRequest without Origin or with a missing or unknown
            Access-Control-Request-Method; 403 AccessForbidden when CORS is not
            configured or no rule allows the request.
    """
    if not origin:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
    if not request_method or request_method not in CORS_METHODS:
        raise S3Error(
            "BadRequest", f"Invalid Access-Control-Request-Method: {request_method or 'null'}"
        )
    extra = {"Method": request_method, "ResourceType": resource_type}
    if not rules:
        raise S3Error("AccessForbidden", NOT_ENABLED, status=403, extra=extra)
    wanted = parse_request_headers(request_headers)
    rule = find_rule(rules, origin, request_method, wanted)
    if rule is None:
        raise S3Error("AccessForbidden", NOT_ALLOWED, status=403, extra=extra)
    headers = _allow_origin(rule, origin)
    headers += _rule_headers(rule)
    if wanted:
        headers.append(("access-control-allow-headers", ", ".join(wanted)))
    headers.append(("vary", VARY))
    return headers


# --------------------------------------------------------------------------- storage


def validate_rules(rules: Sequence[CORSRule]) -> None:
    """What PutBucketCors refuses beyond the XML schema (AWS's messages)."""
    for rule in rules:
        for text in (*rule.allowed_origins, *rule.allowed_headers, *rule.expose_headers):
            if any(ord(c) < 0x20 or c == "\x7f" for c in text):
                # they are sent back as header values: never a CR, LF or NUL
                raise S3Error(
                    "InvalidRequest", f"A CORS rule holds a control character: {text[:64]!r}"
                )
        for o in rule.allowed_origins:
            if o.count("*") > 1:
                raise S3Error(
                    "InvalidRequest", f'AllowedOrigin "{o}" can not have more than one wildcard.'
                )
        for h in rule.allowed_headers:
            if h.count("*") > 1:
                raise S3Error(
                    "InvalidRequest", f'AllowedHeader "{h}" can not have more than one wildcard.'
                )
        for h in rule.expose_headers:
            if "*" in h:
                raise S3Error(
                    "InvalidRequest", f'ExposeHeader "{h}" contains wildcard. We currently do '
                    "not support wildcard for ExposeHeader."
                )
        if rule.id is not None and len(rule.id) > 255:
            raise S3Error("InvalidRequest", "The ID of a CORSRule is limited to 255 characters.")


def rules_to_json(rules: Iterable[CORSRule]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in rules:
        d: dict[str, Any] = {
            "allowed_origins": list(r.allowed_origins),
            "allowed_methods": list(r.allowed_methods),
            "allowed_headers": list(r.allowed_headers),
            "expose_headers": list(r.expose_headers),
        }
        if r.max_age_seconds is not None:
            d["max_age_seconds"] = r.max_age_seconds
        if r.id is not None:
            d["id"] = r.id
        out.append(d)
    return out


def rules_from_json(data: Any) -> list[CORSRule]:
    """Rules as kept in bucket props; anything malformed is skipped, never raised."""
    if not isinstance(data, list):
        return []
    rules: list[CORSRule] = []
    for d in data:
        if not isinstance(d, dict):
            continue
        try:
            age = d.get("max_age_seconds")
            rules.append(
                CORSRule(
                    allowed_origins=tuple(str(x) for x in d.get("allowed_origins") or ()),
                    allowed_methods=tuple(str(x) for x in d.get("allowed_methods") or ()),
                    allowed_headers=tuple(str(x) for x in d.get("allowed_headers") or ()),
                    expose_headers=tuple(str(x) for x in d.get("expose_headers") or ()),
                    max_age_seconds=(
                        from_json(age, lo=-INT32_MAX - 1, hi=INT32_MAX) if age is not None else None
                    ),
                    id=str(d["id"]) if d.get("id") is not None else None,
                )
            )
        except (TypeError, ValueError):
            continue
    return rules
