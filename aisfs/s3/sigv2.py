"""AWS Signature Version 2 (HMAC-SHA1): header and presigned-query verification.

Current tools still send it: boto3 and the aws CLI presign S3 URLs with SigV2 for
us-east-1 on custom endpoints (``?AWSAccessKeyId=..&Signature=..&Expires=..``), and s3cmd
uses it with ``signature_v2 = True``. The string to sign names the resource as S3
defines it, ``/bucket/key``, whatever the endpoint: botocore (``auth_path``) and s3cmd
(``sign``) both sign ``/bkt/key`` for a request they send to ``/s3/bkt/key``. The S3 API
therefore verifies against the resource the node routed the request to, never against
the path as sent (:func:`candidate_resources`): under a base ``/s3``, the path
``/s3/x/y`` as a resource means bucket ``s3``, key ``x/y``, and a signature for that
must not open bucket ``x``, key ``y`` (nor the other way round at the root, with
``S3-API-via-Root`` or a virtual host).

The request time is checked as for SigV4: a header-signed request's ``x-amz-date`` (or
``Date``) must be within 15 minutes of the node's clock, else RequestTimeTooSkewed (a
captured request does not replay for ever); a presigned request's ``Expires`` must not
have passed.

The string to sign carries Content-MD5 and every ``x-amz-*`` header present, so none can
be added unsigned; :mod:`aisfs.s3.signed_headers` is still applied to the names it
covered, so the policy has one home for both versions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qsl

from aisfs.errors import S3Error
from aisfs.s3._headers import Headers, get_header, header_items
from aisfs.s3.request_time import (
    MAX_SKEW_SECONDS,
    http_date_seconds,
    parse_expires,
    skew_error,
)
from aisfs.s3.signed_headers import check_signed
from aisfs.s3.signing_keys import SecretLookup, lookup_secret

# sub-resources that are part of the canonical resource (the AWS SigV2 list)
SIGNED_SUBRESOURCES = frozenset(
    {
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification",
        "partNumber", "policy", "requestPayment", "restore", "tagging", "torrent",
        "uploadId", "uploads", "versionId", "versioning", "versions", "website",
        "response-cache-control", "response-content-disposition",
        "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires", "select", "select-type",
        "object-lock", "retention", "legal-hold", "replication", "encryption",
        "accelerate", "inventory", "metrics", "analytics", "ownershipControls",
        "publicAccessBlock", "intelligent-tiering", "attributes",
    }
)


def is_sigv2(headers: Headers, raw_query: str) -> bool:
    auth = get_header(headers, "authorization") or ""
    return auth.startswith("AWS ") or "AWSAccessKeyId=" in raw_query


def candidate_resources(raw_path: str, bucket_path: str | None = None) -> list[str]:
    """The resources a client may have signed for a request, most likely first.

    Args:
        raw_path: the path as sent; the resource only when *bucket_path* is None (the
            native API, served at the root, whose paths are not S3 resources).
        bucket_path: the S3 resource the node routed the request to, ``/bkt/key``
            (``/bkt`` for a bucket, ``/`` or "" for the service): the path without the
            node's base, or a virtual host's bucket put in front of the path.

    Returns:
        - ``/bkt/key``;
        - for a request that addresses a bucket itself, ``/bkt/`` too: the canonical
          resource AWS computes for ``GET /`` on a virtual-hosted bucket, which botocore
          and s3cmd sign for bucket-level requests whatever the addressing style;
        - for the service itself (ListBuckets), ``/`` (s3cmd) and the endpoint's path
          as sent, ``/s3`` or ``/s3/`` (botocore, which has no resource to sign there).

        Never the path as sent for a bucket or an object when it differs: it would name
        another bucket and key.
    """
    path = raw_path.split("?", 1)[0] or "/"
    if bucket_path is None:
        return [path]
    rel = bucket_path.split("?", 1)[0]
    if rel in ("", "/"):
        return list(dict.fromkeys(["/", path]))
    if rel.count("/") == 1 and rel.startswith("/"):  # /bucket
        return [rel, rel + "/"]
    return [rel]


def canonical_resource(path: str, raw_query: str) -> str:
    pairs = [(k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True)
             if k in SIGNED_SUBRESOURCES]
    pairs.sort()
    if not pairs:
        return path
    return path + "?" + "&".join(f"{k}={v}" if v != "" else k for k, v in pairs)


def amz_headers(headers: Headers) -> dict[str, str]:
    """Every ``x-amz-*`` header, by lower-case name, repeated values joined with commas."""
    amz: dict[str, str] = {}
    for name, value in header_items(headers):
        if name.startswith("x-amz-"):
            amz[name] = f"{amz[name]},{value.strip()}" if name in amz else value.strip()
    return amz


def string_to_sign(method: str, headers: Headers, date_or_expires: str, resource: str) -> str:
    amz = amz_headers(headers)
    amz_lines = "".join(f"{k}:{amz[k]}\n" for k in sorted(amz))
    return "\n".join(
        [
            method,
            get_header(headers, "content-md5") or "",
            get_header(headers, "content-type") or "",
            date_or_expires,
        ]
    ) + "\n" + amz_lines + resource


def sign(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# long: the docstring is half of it; the header and the query forms, then the one check
def verify(
    method: str,
    resources: list[str],
    raw_query: str,
    headers: Headers,
    secrets: SecretLookup,
    now: float,
) -> str:
    """Verify a SigV2 request; returns the access key id.

    Args:
        resources: candidate canonical paths (percent-encoded, without query), e.g.
            from :func:`candidate_resources`.
        secrets: access key -> secret key, a mapping or a function returning None for an
            unknown key (the node's user directory).
        now: the current time, seconds since the epoch.

    Raises:
        S3Error: InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied (no valid date,
            expired presigned request, unsigned headers), RequestTimeTooSkewed.
    """
    query = dict(parse_qsl(raw_query, keep_blank_values=True))
    auth = get_header(headers, "authorization") or ""
    if auth.startswith("AWS "):
        access_key, _, signature = auth[4:].strip().partition(":")
        amz_date = get_header(headers, "x-amz-date")
        # with x-amz-date the Date line of the string to sign is empty (AWS's rule)
        date = "" if amz_date else (get_header(headers, "date") or "")
        request_time = (amz_date or date).strip()
        if not request_time:
            raise S3Error(
                "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
            )
        if abs(now - http_date_seconds(request_time)) > MAX_SKEW_SECONDS:
            raise skew_error(request_time, now)
    else:
        access_key = query.get("AWSAccessKeyId", "")
        signature = query.get("Signature", "")
        date = query.get("Expires", "")
        expires = parse_expires(date, _query_error, "Expires")
        if expires < now:
            raise S3Error(
                "AccessDenied",
                "Request has expired",
                extra={
                    "Expires": _iso(expires),
                    "ServerTime": _iso(now),
                },
            )
    secret = lookup_secret(secrets, access_key)
    for path in resources:
        text = string_to_sign(method, headers, date, canonical_resource(path, raw_query))
        # bytes: compare_digest refuses str with non-ASCII characters (a TypeError)
        if hmac.compare_digest(sign(secret, text).encode(), signature.encode("utf-8", "replace")):
            covered = set(amz_headers(headers)) | {"content-md5"}
            check_signed(headers, covered, host_signable=False)
            return access_key
    raise S3Error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    )


def _query_error(msg: str) -> S3Error:
    return S3Error("AccessDenied", f"Query-string authentication: {msg}")


def _iso(seconds: float) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    except (OverflowError, ValueError, OSError):
        return str(int(seconds))
