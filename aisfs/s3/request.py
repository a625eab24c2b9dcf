"""Request routing: method, raw path, query and Host -> the S3 operation.

Theory of operation. S3 names an operation by the method, whether the request
addresses the service, a bucket or an object, and at most one *sub-resource*
query key (``?tagging``, ``?uploads``, ``?uploadId=...``). AIStore only looked
at a few of those keys and let the rest fall through to the plain operation
(``DELETE /b?cors`` deleted the bucket, ``PUT /b/k?tagging`` overwrote the
object). Here every sub-resource S3 defines is listed in ``SUBRESOURCES``; a
request carrying one is routed by the table ``_OPS`` or refused with 501
NotImplemented. Any other query key is a plain parameter and never changes the
operation except where S3 says so (``list-type=2``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from aisfs.errors import S3Error
from aisfs.numbers import INT32_MAX, NumberError, invalid, parse_uint
from aisfs.s3._headers import Headers, get_header
from aisfs.s3.names import validate_bucket_name, validate_key

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # what a routed bucket name may not hold

METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"})

# Every sub-resource S3 defines (bucket and object level). Membership decides
# whether a query key selects an operation; only the pairs in _OPS are served.
SUBRESOURCES = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "attributes",
        "cors",
        "delete",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "location",
        "logging",
        "metadataConfiguration",
        "metadataInventoryTable",
        "metadataJournalTable",
        "metadataTable",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "renameObject",
        "replication",
        "requestPayment",
        "restore",
        "retention",
        "select",
        "session",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versioning",
        "versions",
        "website",
        "abac",
    }
)

# (level, method, sub-resource or "") -> operation. level: "service", "bucket", "object".
_OPS: dict[tuple[str, str, str], str] = {
    ("service", "GET", ""): "ListBuckets",
    # bucket
    ("bucket", "GET", ""): "ListObjects",  # ListObjectsV2 with list-type=2
    ("bucket", "PUT", ""): "CreateBucket",
    ("bucket", "DELETE", ""): "DeleteBucket",
    ("bucket", "HEAD", ""): "HeadBucket",
    ("bucket", "GET", "location"): "GetBucketLocation",
    ("bucket", "GET", "versioning"): "GetBucketVersioning",
    ("bucket", "PUT", "versioning"): "PutBucketVersioning",
    ("bucket", "GET", "versions"): "ListObjectVersions",
    ("bucket", "GET", "uploads"): "ListMultipartUploads",
    ("bucket", "POST", "delete"): "DeleteObjects",
    ("bucket", "DELETE", "delete"): "DeleteObjects",  # AIStore accepts it too
    ("bucket", "GET", "cors"): "GetBucketCors",
    ("bucket", "PUT", "cors"): "PutBucketCors",
    ("bucket", "DELETE", "cors"): "DeleteBucketCors",
    ("bucket", "GET", "tagging"): "GetBucketTagging",
    ("bucket", "PUT", "tagging"): "PutBucketTagging",
    ("bucket", "DELETE", "tagging"): "DeleteBucketTagging",
    ("bucket", "GET", "acl"): "GetBucketAcl",
    ("bucket", "GET", "policy"): "GetBucketPolicy",
    ("bucket", "GET", "lifecycle"): "GetBucketLifecycleConfiguration",
    ("bucket", "PUT", "lifecycle"): "PutBucketLifecycleConfiguration",
    ("bucket", "DELETE", "lifecycle"): "DeleteBucketLifecycle",
    ("bucket", "GET", "object-lock"): "GetObjectLockConfiguration",
    ("bucket", "PUT", "object-lock"): "PutObjectLockConfiguration",
    ("bucket", "PUT", "acl"): "PutBucketAcl",
    ("bucket", "PUT", "policy"): "PutBucketPolicy",
    ("bucket", "DELETE", "policy"): "DeleteBucketPolicy",
    ("bucket", "GET", "policyStatus"): "GetBucketPolicyStatus",
    ("bucket", "GET", "publicAccessBlock"): "GetPublicAccessBlock",
    ("bucket", "PUT", "publicAccessBlock"): "PutPublicAccessBlock",
    ("bucket", "DELETE", "publicAccessBlock"): "DeletePublicAccessBlock",
    ("bucket", "GET", "ownershipControls"): "GetBucketOwnershipControls",
    ("bucket", "PUT", "ownershipControls"): "PutBucketOwnershipControls",
    ("bucket", "DELETE", "ownershipControls"): "DeleteBucketOwnershipControls",
    ("bucket", "GET", "encryption"): "GetBucketEncryption",
    ("bucket", "PUT", "encryption"): "PutBucketEncryption",
    ("bucket", "DELETE", "encryption"): "DeleteBucketEncryption",
    # object
    ("object", "GET", ""): "GetObject",
    ("object", "HEAD", ""): "HeadObject",
    ("object", "PUT", ""): "PutObject",  # CopyObject with x-amz-copy-source
    ("object", "DELETE", ""): "DeleteObject",
    ("object", "POST", "uploads"): "CreateMultipartUpload",
    ("object", "PUT", "uploadId"): "UploadPart",  # UploadPartCopy with x-amz-copy-source
    ("object", "POST", "uploadId"): "CompleteMultipartUpload",
    ("object", "DELETE", "uploadId"): "AbortMultipartUpload",
    ("object", "GET", "uploadId"): "ListParts",
    ("object", "GET", "tagging"): "GetObjectTagging",
    ("object", "PUT", "tagging"): "PutObjectTagging",
    ("object", "DELETE", "tagging"): "DeleteObjectTagging",
    ("object", "GET", "acl"): "GetObjectAcl",
    ("object", "PUT", "acl"): "PutObjectAcl",
    ("object", "GET", "retention"): "GetObjectRetention",
    ("object", "PUT", "retention"): "PutObjectRetention",
    ("object", "GET", "legal-hold"): "GetObjectLegalHold",
    ("object", "PUT", "legal-hold"): "PutObjectLegalHold",
    ("object", "GET", "attributes"): "GetObjectAttributes",
}

# Sub-resources that only make sense on an object: used on a bucket they are a
# client mistake (400), not a missing feature (501).
_OBJECT_ONLY = frozenset(
    {"uploadId", "attributes", "retention", "legal-hold", "restore", "select", "torrent"}
)

# Operations that read or write an object and so need a key.
OBJECT_OPERATIONS = frozenset(op for (lvl, _m, _s), op in _OPS.items() if lvl == "object") | {
    "CopyObject",
    "UploadPartCopy",
}

QueryInput = Mapping[str, str] | Iterable[tuple[str, str]] | str | bytes


@dataclass(frozen=True, slots=True)
class S3Request:
    """What a request asks for, decided from its line and Host alone.

    ``key`` is percent-decoded UTF-8 and literal (``a//b`` stays ``a//b``);
    ``query`` holds the decoded parameters (the first value of a repeated name).
    """

    operation: str
    bucket: str | None = None
    key: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    virtual_host: bool = False

    @property
    def resource(self) -> str:
        """The ``Resource`` of an error document: ``/bucket/key``."""
        if self.bucket is None:
            return "/"
        if self.key is None:
            return f"/{self.bucket}"
        return f"/{self.bucket}/{self.key}"


def parse_query(query: QueryInput) -> dict[str, str]:
    """Decode a query (raw string, pairs or mapping) into a dict, first value winning."""
    if not query:  # "", b"", no pairs: most GETs and HEADs
        return {}
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    pairs: Iterable[tuple[str, str]]
    if isinstance(query, str):
        try:
            pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise S3Error("InvalidURI", "Couldn't parse the specified URI.") from None
    elif isinstance(query, Mapping):
        pairs = query.items()
    else:
        pairs = query
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


def _decode(segment: str) -> str:
    try:
        return unquote(segment, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI", "Couldn't parse the specified URI.") from None


def _split_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def _below_base(raw: str, base_path: str) -> str:
    """The path below ``base_path`` (``/`` for the base itself), always starting with ``/``."""
    if base_path:
        base = base_path.rstrip("/")
        if raw == base:
            raw = "/"
        elif raw.startswith(base + "/"):
            raw = raw[len(base) :]
        # else: the node decided the request is ours anyway (S3 API via root)
    if not raw.startswith("/"):
        raw = "/" + raw
    return raw


def _bucket_and_key(
    raw: str, host: str, virtual_host_domain: str | None
) -> tuple[str | None, str | None, bool]:
    """(bucket, key, virtual-hosted) of a path below the base: the bucket from the Host
    under ``virtual_host_domain``, else from the path's first segment."""
    hostname = _split_host(host) if host else ""
    domain = (virtual_host_domain or "").strip(".").lower()
    if domain and hostname.endswith("." + domain) and len(hostname) > len(domain) + 1:
        return hostname[: -len(domain) - 1], _decode(raw[1:]) or None, True
    rest = raw[1:]
    if not rest:
        return None, None, False
    seg, sep, tail = rest.partition("/")
    bucket = _decode(seg) or None
    if bucket is None:
        # "//x": an empty bucket segment
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.")
    return bucket, (_decode(tail) if sep and tail else None), False


def route(
    method: str,
    path: str,
    query: QueryInput,
    host: str = "",
    base_path: str = "/s3",
    virtual_host_domain: str | None = None,
    headers: Headers | None = None,
) -> S3Request:
    """Decide the S3 operation of a request.

    Args:
        method: the HTTP method.
        path: the raw, still percent-encoded path (ASGI ``raw_path``), without query.
        query: the query as a raw string, pairs or a mapping.
        host: the Host header (port allowed).
        base_path: where the S3 API is mounted (``"/s3"``, or ``""`` at the root). It is
            stripped when the path starts with it, in both addressing styles.
        virtual_host_domain: if set and Host is ``<bucket>.<domain>``, the bucket comes
            from the host and the whole remaining path (minus its first ``/``) is the key.
        headers: request headers; ``x-amz-copy-source`` selects CopyObject/UploadPartCopy.

    Raises:
        S3Error: MethodNotAllowed, NotImplemented (501, a known sub-resource we do not
            serve), InvalidRequest, InvalidArgument, InvalidURI, InvalidBucketName,
            KeyTooLongError.
    """
    method = method.upper()
    if method not in METHODS:
        raise S3Error("MethodNotAllowed", f"The method {method} is not allowed.")
    q = parse_query(query)
    raw = _below_base(path.split("?", 1)[0], base_path)
    bucket, key, vhost = _bucket_and_key(raw, host, virtual_host_domain)

    op = "PreflightRequest" if method == "OPTIONS" else _operation(method, bucket, key, q, headers)

    if bucket is not None:
        if op == "CreateBucket":
            validate_bucket_name(bucket)
        elif "/" in bucket or _CONTROL.search(bucket):
            raise S3Error(
                "InvalidBucketName",
                "The specified bucket is not valid.",
                extra={"BucketName": bucket},
            )
    if key is not None and op != "PreflightRequest":
        validate_key(key)
    return S3Request(operation=op, bucket=bucket, key=key, query=q, virtual_host=vhost)


def _operation(
    method: str,
    bucket: str | None,
    key: str | None,
    q: dict[str, str],
    headers: Headers | None,
) -> str:
    level = "service" if bucket is None else ("bucket" if key is None else "object")
    subs = sorted(name for name in q if name in SUBRESOURCES) if q else []
    if len(subs) > 1:
        raise S3Error(
            "InvalidRequest",
            f"Conflicting sub-resources in one request: {', '.join(subs)}",
        )
    sub = subs[0] if subs else ""
    op = _OPS.get((level, method, sub))
    if op is None:
        what = f"?{sub}" if sub else "this resource"
        if sub and level == "bucket" and sub in _OBJECT_ONLY:
            raise S3Error("InvalidRequest", f"{what} requires an object key")
        if sub:
            raise S3Error("NotImplemented", f"{method} {what} is not implemented", status=501)
        if level == "bucket" and method == "POST":
            raise S3Error("NotImplemented", "POST object uploads are not implemented", status=501)
        raise S3Error("MethodNotAllowed", f"The method {method} is not allowed on {what}.")

    copy_source = get_header(headers, "x-amz-copy-source") if headers is not None else None
    if op == "ListObjects":
        list_type = q.get("list-type")
        if list_type == "2":
            op = "ListObjectsV2"
        elif list_type not in (None, "", "1"):
            raise S3Error(
                "InvalidArgument",
                "Invalid List Type",
                extra={"ArgumentName": "list-type", "ArgumentValue": list_type},
            )
    elif op == "PutObject":
        if "partNumber" in q:
            raise S3Error("InvalidRequest", "partNumber requires an uploadId")
        if copy_source is not None:
            op = "CopyObject"
    elif op == "UploadPart":
        if "partNumber" not in q:
            raise S3Error(
                "InvalidArgument",
                "A part upload needs partNumber",
                extra={"ArgumentName": "partNumber"},
            )
        if copy_source is not None:
            op = "UploadPartCopy"
    return op


def parse_part_number(value: str | None, maximum: int = 10000) -> int:
    """``partNumber`` as an int in 1..maximum, else InvalidArgument."""
    try:
        if value is None:
            raise NumberError("", "syntax", 1, maximum)
        return parse_uint(value, lo=1, hi=maximum)
    except NumberError:
        raise invalid(
            "partNumber",
            str(value),
            f"Part number must be an integer between 1 and {maximum}, inclusive",
        ) from None


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """Split ``x-amz-copy-source`` into (bucket, key, versionId).

    The header is ``[/]bucket/key[?versionId=V]``, the key percent-encoded.
    """
    raw, _, qs = value.strip().partition("?")
    version_id: str | None = None
    if qs:
        version_id = parse_query(qs).get("versionId")
    raw = raw.lstrip("/")
    if raw.startswith("arn:"):
        raise S3Error("NotImplemented", "Access point copy sources are not supported", status=501)
    seg, sep, tail = raw.partition("/")
    bucket = _decode(seg)
    key = _decode(tail)
    if not bucket or not sep or not key:
        raise S3Error(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": value},
        )
    validate_key(key)
    return bucket, key, version_id


def parse_max(value: str | None, name: str, default: int = 1000, limit: int = 1000) -> int:
    """``max-keys``/``max-uploads``/``max-parts``: an int in 0..2**31-1, clipped to *limit*.

    Anything else (a sign, Unicode digits, past a 32-bit int) is InvalidArgument, as AWS.
    """
    if value is None or value == "":
        return default
    try:
        return min(parse_uint(value, hi=INT32_MAX), limit)
    except NumberError:
        raise invalid(
            name, value, f"Provided {name} not an integer or within integer range"
        ) from None


def listing_encoding(query: dict[str, str]) -> str | None:
    """The ``encoding-type`` of a listing: absent or ``url``."""
    encoding = query.get("encoding-type")
    if encoding not in (None, "url"):
        raise S3Error(
            "InvalidArgument",
            "Invalid Encoding Method specified in Request",
            extra={"ArgumentName": "encoding-type", "ArgumentValue": encoding},
        )
    return encoding
