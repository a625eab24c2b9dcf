"""AWS Signature Version 2 (HMAC-SHA1): header and presigned-query verification.

Current tools still send it: boto3 and the aws CLI presign S3 URLs with SigV2 for
us-east-1 on custom endpoints (``?AWSAccessKeyId=..&Signature=..&Expires=..``), and s3cmd
uses it with ``signature_v2 = True``. The string to sign names the resource the client
had in mind, which is either the whole path as sent or ``/bucket/key`` without the
node's ``/s3`` base: both are tried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl

from aisfs.errors import S3Error
from aisfs.s3._headers import Headers, get_header, header_items

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


def canonical_resource(path: str, raw_query: str) -> str:
    pairs = [(k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True)
             if k in SIGNED_SUBRESOURCES]
    pairs.sort()
    if not pairs:
        return path
    return path + "?" + "&".join(f"{k}={v}" if v != "" else k for k, v in pairs)


def string_to_sign(method: str, headers: Headers, date_or_expires: str, resource: str) -> str:
    amz = {}
    for name, value in header_items(headers):
        if name.startswith("x-amz-"):
            amz[name] = f"{amz[name]},{value.strip()}" if name in amz else value.strip()
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


def verify(
    method: str,
    resources: list[str],
    raw_query: str,
    headers: Headers,
    secrets: Mapping[str, str],
    now: float,
) -> str:
    """Verify a SigV2 request; returns the access key id.

    Args:
        resources: candidate canonical paths (percent-encoded, without query).

    Raises:
        S3Error: InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied (expired).
    """
    query = dict(parse_qsl(raw_query, keep_blank_values=True))
    auth = get_header(headers, "authorization") or ""
    if auth.startswith("AWS "):
        access_key, _, signature = auth[4:].strip().partition(":")
        date = "" if get_header(headers, "x-amz-date") else (get_header(headers, "date") or "")
    else:
        access_key = query.get("AWSAccessKeyId", "")
        signature = query.get("Signature", "")
        date = query.get("Expires", "")
        if not date.isdigit():
            raise S3Error("AccessDenied", "Query-string authentication requires Expires")
        if int(date) < now:
            raise S3Error("AccessDenied", "Request has expired")
    secret = secrets.get(access_key)
    if secret is None:
        raise S3Error(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            extra={"AWSAccessKeyId": access_key},
        )
    for path in resources:
        text = string_to_sign(method, headers, date, canonical_resource(path, raw_query))
        if hmac.compare_digest(sign(secret, text), signature):
            return access_key
    raise S3Error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    )
