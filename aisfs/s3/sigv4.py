"""AWS Signature Version 4 verification: header, presigned query, streaming chunks.

Sans-IO: the caller passes the request line and headers as received, the
credentials, and the current time (``now``, seconds since the epoch), and gets
an ``AuthResult`` or an ``S3Error``. Signing keys are cached per
(access key, date, region, service): deriving one costs four HMACs.

Beside it, what SigV4 shares with SigV2 or hands on: ``signing_keys`` (the secret
lookup, key derivation and cache), ``request_time`` (x-amz-date, HTTP dates, skew,
Expires) and ``sigv4_chunks`` (the chunk signature chain of a streaming body).

The canonical URI is the path as the client sent it (S3 does not normalise
paths). Clients disagree on which characters they percent-encode, so when the
raw path does not verify, its canonical re-encoding (everything but unreserved
characters and ``/``) is tried too.

A node served under a base path (``/s3``) meets one more form. A client whose endpoint
is ``host:port/s3`` may treat the base as part of the host: s3cmd with
``host_base = localhost:8080/s3`` signs ``host:localhost:8080/s3`` and the path without
``/s3`` (S3/S3.py ``get_hostname``/``sign``), while it sends ``Host: localhost:8080`` and
``/s3/bkt/key``. When the request does not verify as received and the caller names its
``base_path`` (fixed by configuration, never read from the request), that one form is
tried too: the Host header with the base appended and the path with the base removed
(:func:`base_path_forms`). It proves as much as the form received: the same method,
query, headers, payload and path below the base, for a host that can only be this
node's under its base. Nothing else is tried.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

from aisfs.errors import S3Error
from aisfs.s3._headers import Headers, get_header, header_items
from aisfs.s3.request_time import (
    AMZ_DATE,
    MAX_SKEW_SECONDS,
    amz_time,
    http_date_to_amz,
    parse_expires,
    skew_error,
)
from aisfs.s3.signed_headers import check_signed
from aisfs.s3.signing_keys import (
    DEFAULT_KEY_CACHE,
    SecretLookup,
    lookup_secret,
    sign,
)
from aisfs.s3.signing_keys import SigningKeyCache as SigningKeyCache
from aisfs.s3.signing_keys import derive_signing_key as derive_signing_key
from aisfs.s3.sigv4_chunks import ChunkSigner

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOADS = frozenset(
    {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    }
)
SIGNED_STREAMING = frozenset(
    {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"}
)
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DATE8 = re.compile(r"[0-9]{8}")


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A verified request: who signed it, and what the body must still satisfy."""

    access_key: str
    signature: str  # the seed signature of a streaming body
    amz_date: str  # 20130524T000000Z
    scope: str  # 20130524/us-east-1/s3/aws4_request
    signing_key: bytes
    payload_hash: str  # hex SHA-256, UNSIGNED-PAYLOAD or STREAMING-...
    presigned: bool = False

    def chunk_signer(self) -> ChunkSigner:
        """The verifier of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body."""
        return ChunkSigner(self.signing_key, self.amz_date, self.scope, self.signature)

    @property
    def streaming_signed(self) -> bool:
        return self.payload_hash in SIGNED_STREAMING


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs ~1 us more
class _Parsed:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


# --------------------------------------------------------------------------- canonical form


def _uri_encode(value: str, safe: str = "-_.~") -> str:
    return quote(value, safe=safe)


def canonical_query(raw_query: str, exclude_signature: bool = False) -> str:
    """Canonical query string of a raw (still encoded) query."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = unquote(name.replace("+", "%20"))
        value = unquote(value.replace("+", "%20"))
        if exclude_signature and name == "X-Amz-Signature":
            continue
        pairs.append((_uri_encode(name), _uri_encode(value)))
    pairs.sort()
    return "&".join(f"{n}={v}" for n, v in pairs)


def canonical_headers(headers: Headers, signed: Sequence[str]) -> str:
    """The canonical header lines of the ``signed`` names: each value trimmed, inner
    runs of whitespace made one space (``" ".join(v.split())`` is exactly
    ``re.sub(r"\\s+", " ", v.strip())``: both use Python's whitespace), repeats joined
    with ``,``."""
    if getattr(headers, "case_insensitive", False):  # one value per name: look them up
        get = headers.get  # type: ignore[union-attr]
        lines = []
        for name in signed:
            value = get(name)
            if value is None:
                raise _signed_missing(name)
            lines.append(f"{name}:{' '.join(value.split())}\n")
        return "".join(lines)
    values: dict[str, list[str]] = {}
    for name, value in header_items(headers):
        values.setdefault(name, []).append(" ".join(value.split()))
    out = []
    for name in signed:
        if name not in values:
            raise _signed_missing(name)
        out.append(f"{name}:{','.join(values[name])}\n")
    return "".join(out)


def _signed_missing(name: str) -> S3Error:
    return S3Error(
        "SignatureDoesNotMatch", f"The header {name} is signed but missing from the request"
    )


def canonical_request(
    method: str,
    canonical_uri: str,
    canonical_query_string: str,
    headers: Headers,
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    return (
        f"{method.upper()}\n{canonical_uri}\n{canonical_query_string}\n"
        f"{canonical_headers(headers, signed_headers)}\n{';'.join(signed_headers)}\n"
        f"{payload_hash}"
    )


def string_to_sign(amz_date: str, scope: str, canonical_request_text: str) -> str:
    digest = hashlib.sha256(canonical_request_text.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _candidate_uris(raw_path: str) -> Iterator[str]:
    """The path as sent, then (only if asked for: it did not verify) its re-encoding."""
    raw = raw_path.split("?", 1)[0] or "/"
    yield raw
    reencoded = _uri_encode(unquote(raw), safe="-_.~/")
    if reencoded != raw:
        yield reencoded


def _forms(raw_path: str, headers: Headers, base_path: str) -> Iterator[tuple[str, Headers]]:
    """The request as received, then (only if that did not verify) the base-path form."""
    yield raw_path, headers
    yield from base_path_forms(raw_path, headers, base_path)


def base_path_forms(
    raw_path: str, headers: Headers, base_path: str
) -> list[tuple[str, list[tuple[str, str]]]]:
    """The (path, headers) a client signs when its endpoint ends in the node's base path.

    ``/s3/bkt/key`` with ``Host: h:8080`` under base ``/s3`` gives ``/bkt/key`` with
    ``Host: h:8080/s3``; a path outside the base, no base, or no Host gives nothing.
    """
    base = base_path.rstrip("/")
    path = raw_path.split("?", 1)[0]
    if not base or not (path == base or path.startswith(base + "/")):
        return []
    items = header_items(headers)
    if not any(name == "host" for name, _ in items):
        return []
    moved = [(name, value.strip() + base if name == "host" else value) for name, value in items]
    return [(path[len(base):] or "/", moved)]


# --------------------------------------------------------------------------- parsing

# SignedHeaders as sent -> its names, checked (host signed, sorted): a client sends the
# same few lists again and again
_signed_lists: dict[str, tuple[str, ...]] = {}


def _malformed(msg: str) -> S3Error:
    return S3Error("AuthorizationHeaderMalformed", msg)


def _parse_credential(credential: str, malformed: Callable[[str], S3Error]) -> list[str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise malformed(
            "The authorization header is malformed; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    if not _DATE8.fullmatch(parts[1]):
        raise malformed(f"The authorization header is malformed; invalid date {parts[1]!r}")
    return parts


def parse_authorization(value: str, amz_date: str) -> _Parsed:
    """Split ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise S3Error(
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. "
            "Please use AWS4-HMAC-SHA256.",
        )
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, val = item.strip().partition("=")
        if not sep:
            raise _malformed("The authorization header is malformed")
        fields[name.strip()] = val.strip()
    try:
        credential = fields["Credential"]
        signed = fields["SignedHeaders"]
        signature = fields["Signature"]
    except KeyError as e:
        raise _malformed(f"The authorization header is malformed; missing {e.args[0]}") from None
    parts = _parse_credential(credential, _malformed)
    return _make_parsed(parts, signed, signature, amz_date, _malformed)


def _make_parsed(
    parts: list[str],
    signed: str,
    signature: str,
    amz_date: str,
    malformed: Callable[[str], S3Error],
) -> _Parsed:
    signed_headers = _signed_lists.get(signed)
    if signed_headers is None:
        names = [h.strip().lower() for h in signed.split(";") if h.strip()]
        if "host" not in names:
            raise malformed("The host header must be signed")
        if names != sorted(names):
            raise malformed("SignedHeaders must be sorted")
        signed_headers = tuple(names)
        if len(signed) <= 1024 and len(_signed_lists) < 256:  # clients send a few forms
            _signed_lists[signed] = signed_headers
    if not _HEX64.fullmatch(signature):
        raise S3Error("SignatureDoesNotMatch", "The signature is not 64 hex characters")
    if not AMZ_DATE.fullmatch(amz_date):
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date")
    if amz_date[:8] != parts[1]:
        raise malformed(
            f"The authorization header is malformed; Invalid credential date. "
            f"Date is not the same as X-Amz-Date: {parts[1]}."
        )
    return _Parsed(parts[0], parts[1], parts[2], parts[3], signed_headers, signature, amz_date)


def _check_scope(p: _Parsed, region: str | None, malformed: Callable[[str], S3Error]) -> None:
    if p.service != "s3":
        raise malformed(f"The authorization header is malformed; wrong service {p.service!r}")
    if region is not None and p.region != region:
        raise malformed(
            f"The authorization header is malformed; the region '{p.region}' is wrong; "
            f"expecting '{region}'",
        )


def _verify(
    method: str,
    raw_path: str,
    cquery: str,
    headers: Headers,
    p: _Parsed,
    payload_hash: str,
    secret: str,
    cache: SigningKeyCache,
    base_path: str = "",
) -> bytes:
    key = cache.get(secret, p.date, p.region, p.service, p.access_key)
    for path, hdrs in _forms(raw_path, headers, base_path):
        for uri in _candidate_uris(path):
            creq = canonical_request(method, uri, cquery, hdrs, p.signed_headers, payload_hash)
            expected = sign(key, string_to_sign(p.amz_date, p.scope, creq))
            if hmac.compare_digest(expected, p.signature):
                return key
    raise S3Error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        extra={"AWSAccessKeyId": p.access_key},
    )


# --------------------------------------------------------------------------- entry points


def is_signed(headers: Headers, raw_query: str | bytes) -> bool:
    """Whether the request carries SigV4 (or any) credentials at all."""
    if isinstance(raw_query, bytes):
        raw_query = raw_query.decode("latin-1")
    return get_header(headers, "authorization") is not None or "X-Amz-Signature=" in raw_query


def verify_request(
    method: str,
    raw_path: str,
    raw_query: str | bytes,
    headers: Headers,
    secrets: SecretLookup,
    now: float,
    region: str | None = None,
    cache: SigningKeyCache | None = None,
    base_path: str = "",
) -> AuthResult | None:
    """Verify the SigV4 signature of a request, by header or presigned query.

    Args:
        raw_path: the path as sent (ASGI ``raw_path``), still percent-encoded.
        raw_query: the query string as sent (ASGI ``query_string``).
        secrets: access key -> secret key (a mapping or a function returning None).
        now: the current time, seconds since the epoch.
        region: the region signatures must name; None accepts any.
        base_path: the base the node serves this request under (``/s3``), from the
            configuration; "" for a request served at the root. When the request does
            not verify as received, the form of a client whose endpoint includes the
            base is tried (:func:`base_path_forms`).

    Returns:
        The AuthResult, or None when the request carries no credentials (anonymous).
        A hex ``payload_hash`` must still be compared with the body's SHA-256
        (:func:`check_payload_sha256`), a signed streaming body verified chunk by
        chunk (``result.chunk_signer()``).

    Raises:
        S3Error: AuthorizationHeaderMalformed, InvalidAccessKeyId, SignatureDoesNotMatch,
            AccessDenied (expired presigned URL), RequestTimeTooSkewed, InvalidRequest.
    """
    if isinstance(raw_query, bytes):
        raw_query = raw_query.decode("latin-1")
    cache = cache or DEFAULT_KEY_CACHE
    auth = get_header(headers, "authorization")
    if auth is not None:
        return _verify_header(
            method, raw_path, raw_query, headers, auth, secrets, now, region, cache, base_path
        )
    if "X-Amz-Signature=" in raw_query or "X-Amz-Credential=" in raw_query:
        return _verify_presigned(
            method, raw_path, raw_query, headers, secrets, now, region, cache, base_path
        )
    return None


def _verify_header(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    auth: str,
    secrets: SecretLookup,
    now: float,
    region: str | None,
    cache: SigningKeyCache,
    base_path: str = "",
) -> AuthResult:
    amz_date = get_header(headers, "x-amz-date")
    if amz_date is None:
        date = get_header(headers, "date")
        if date is None:
            raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date")
        amz_date = http_date_to_amz(date)
    amz_date = amz_date.strip()
    p = parse_authorization(auth, amz_date)
    _check_scope(p, region, _malformed)
    payload_hash = get_header(headers, "x-amz-content-sha256")
    if payload_hash is None:
        raise S3Error(
            "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
        )
    payload_hash = payload_hash.strip()
    if (
        payload_hash not in STREAMING_PAYLOADS
        and payload_hash != UNSIGNED_PAYLOAD
        and not _HEX64.fullmatch(payload_hash)
    ):
        raise S3Error(
            "InvalidArgument",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., "
            "or a valid sha256 value.",
            extra={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": payload_hash},
        )
    secret = lookup_secret(secrets, p.access_key)
    if abs(now - amz_time(amz_date)) > MAX_SKEW_SECONDS:
        raise skew_error(amz_date, now)
    cquery = canonical_query(raw_query)
    key = _verify(method, raw_path, cquery, headers, p, payload_hash, secret, cache, base_path)
    check_signed(headers, p.signed_headers)
    return AuthResult(p.access_key, p.signature, amz_date, p.scope, key, payload_hash)


def _verify_presigned(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    secrets: SecretLookup,
    now: float,
    region: str | None,
    cache: SigningKeyCache,
    base_path: str = "",
) -> AuthResult:
    q: dict[str, str] = {}
    for part in raw_query.split("&"):
        name, _, value = part.partition("=")
        q.setdefault(unquote(name), unquote(value.replace("+", "%20")))

    def bad(msg: str) -> S3Error:
        return S3Error("AuthorizationQueryParametersError", msg, status=400)

    required = (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    )
    missing = [n for n in required if n not in q]
    if missing:
        raise bad(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
            "and X-Amz-Expires parameters."
        )
    if q["X-Amz-Algorithm"] != ALGORITHM:
        raise bad('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    expires_s = q["X-Amz-Expires"]
    expires = parse_expires(expires_s, bad, "X-Amz-Expires")
    if expires > MAX_PRESIGN_EXPIRES:
        raise bad("X-Amz-Expires must be less than a week (in seconds) that is 604800")
    amz_date = q["X-Amz-Date"]
    parts = _parse_credential(q["X-Amz-Credential"], bad)
    p = _make_parsed(parts, q["X-Amz-SignedHeaders"], q["X-Amz-Signature"], amz_date, bad)
    _check_scope(p, region, bad)
    secret = lookup_secret(secrets, p.access_key)
    issued = amz_time(amz_date)
    if now > issued + expires:
        raise S3Error(
            "AccessDenied",
            "Request has expired",
            extra={"X-Amz-Expires": expires_s, "Expires": amz_date},
        )
    if issued - now > MAX_SKEW_SECONDS:
        raise S3Error("AccessDenied", "Request is not valid yet")
    payload_hash = q.get("X-Amz-Content-Sha256") or UNSIGNED_PAYLOAD
    cquery = canonical_query(raw_query, exclude_signature=True)
    key = _verify(method, raw_path, cquery, headers, p, payload_hash, secret, cache, base_path)
    check_signed(headers, p.signed_headers, presigned=True)
    return AuthResult(p.access_key, p.signature, amz_date, p.scope, key, payload_hash, True)


def check_payload_sha256(expected_hex: str, actual_digest: bytes) -> None:
    """Compare a hex ``x-amz-content-sha256`` with the body's SHA-256.

    Raises:
        S3Error: ``XAmzContentSHA256Mismatch``.
    """
    expected = expected_hex.lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected, actual_digest.hex().encode()):
        raise S3Error(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            extra={
                "ClientComputedContentSHA256": expected_hex,
                "S3ComputedContentSHA256": actual_digest.hex(),
            },
        )


