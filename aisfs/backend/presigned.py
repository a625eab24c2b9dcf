"""Presigned-request offload, sans-IO: is a request signed for the backend, and where does
it go (AIS ``ais/s3/presigned.go``, feature ``S3-Presigned-Request``).

A client holding a URL presigned for the backend (``aws s3 presign s3://B/K
--endpoint-url <backend>``) sends it to the node with the host replaced by the node's
``/s3`` (always path-style: ``/s3/B/K?X-Amz-...``). The node never checks that signature:
it rebuilds the request the client signed - the backend's host, path-style or
virtual-hosted as ``Ais-S3-Signed-Request-Style`` says, the same method, the raw query and
headers byte for byte - and the backend decides.

This module only reads and builds strings:

- :func:`client_signature`: the signature a request carries (SigV4 or SigV2, in the query
  or the Authorization header) and the access key it names - the node compares that key
  with its own users' to tell its own requests from the backend's;
- :func:`backend_target`: the URL to connect to and the ``Host`` the client signed, from
  the backend's endpoint (never from the request: the node connects only to the
  configured endpoint, whatever the signature's region says);
- :func:`forwarded_headers`: the client's headers minus the hop-by-hop ones;
- :func:`attrs_from_headers`: a backend response's headers as ``RemoteAttrs``;
- :data:`OFFLOADED`: the operations that may be offloaded (:data:`RELAYED_OPS`: those
  relayed as the backend answers, nothing stored - the multipart upload's);
  :func:`forwarded_length`: the body's length to forward (501 for a streaming-signed
  body, 411 without a length); :class:`RootElement`: the root element of a backend's XML
  answer read as it streams (a CompleteMultipartUpload's 200 may carry ``<Error>``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit

from ..errors import S3Error
from ..store.types import STORED_HEADERS
from .types import RemoteAttrs

STYLE_HEADER = "ais-s3-signed-request-style"  # AIS apc.HdrSignedRequestStyle
PATH = "path"
VIRTUAL = "virtual-hosted"
SIGV4 = "AWS4-HMAC-SHA256"

# never forwarded: this hop's own, or recomputed for the backend's connection
HOP_HEADERS = frozenset((
    "host", "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "expect", "content-length", STYLE_HEADER,
))
# GetObject/HeadObject/PutObject: the node's own relay (a fill, a tee into the store);
# the multipart upload's operations: relayed as the backend answers, nothing stored (a
# completion drops the node's copy of the key)
OBJECT_OPS = frozenset(("GetObject", "HeadObject", "PutObject"))
RELAYED_OPS = frozenset((
    "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload",
    "AbortMultipartUpload", "ListParts",
))
OFFLOADED = OBJECT_OPS | RELAYED_OPS
_DNS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


@dataclass(frozen=True, slots=True)
class ClientSignature:
    """A signature found on a request (not verified: only the backend can)."""

    kind: str  # "sigv4-query" | "sigv2-query" | "sigv4-header" | "sigv2-header"
    access_key: str
    signed_headers: frozenset[str]  # SigV4's SignedHeaders, lower-case ("" for SigV2)

    @property
    def presigned(self) -> bool:
        """In the query (a presigned URL), not in an Authorization header."""
        return self.kind.endswith("-query")


@dataclass(frozen=True, slots=True)
class Target:
    """Where the rebuilt request goes: ``url`` to connect to (the endpoint's scheme, host
    and port; path and query raw), and the ``host`` header the client signed."""

    scheme: str
    netloc: str  # host[:port] to connect to
    raw_path: str  # path?query, raw
    host: str  # the Host header

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.raw_path}"


def _first(query: Iterable[tuple[str, str]], name: str) -> str | None:
    for k, v in query:
        if k == name:
            return v
    return None


def _signed_list(value: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in value.split(";") if h.strip())


def client_signature(
    query: Iterable[tuple[str, str]], authorization: str | None
) -> ClientSignature | None:
    """The signature ``query`` (decoded pairs) or the Authorization header carry, or None.

    A presigned query wins over a header (the query is what a presigned URL is). The
    access key is whatever the request names (possibly ""): deciding whose it is is the
    caller's business.
    """
    q = list(query)
    if _first(q, "X-Amz-Signature") is not None or _first(q, "X-Amz-Credential") is not None:
        credential = _first(q, "X-Amz-Credential") or ""
        return ClientSignature("sigv4-query", credential.split("/", 1)[0],
                               _signed_list(_first(q, "X-Amz-SignedHeaders") or ""))
    if _first(q, "AWSAccessKeyId") is not None and _first(q, "Signature") is not None:
        return ClientSignature("sigv2-query", _first(q, "AWSAccessKeyId") or "", frozenset())
    auth = (authorization or "").strip()
    if auth.startswith(SIGV4 + " "):
        fields: dict[str, str] = {}
        for item in auth[len(SIGV4):].split(","):
            name, _, val = item.strip().partition("=")
            fields[name.strip()] = val.strip()
        return ClientSignature("sigv4-header", fields.get("Credential", "").split("/", 1)[0],
                               _signed_list(fields.get("SignedHeaders", "")))
    if auth.startswith("AWS "):
        akid = auth[4:].strip().rpartition(":")[0]
        return ClientSignature("sigv2-header", akid, frozenset())
    return None


def raw_key_of(raw_path: str, base_path: str, bucket: str, key: str, *,
               virtual_host: bool) -> str:
    """The object's key as the client sent it (percent-encoded, as signed), checked
    against the key the node routed the request to.

    Raises InvalidArgument for a path that is not plainly ``<base>/<bucket>/<key>``, and
    for a key with ``.`` or ``..`` segments: a URL library or the backend may resolve them
    into another bucket's path, which must never be cached under this one's key.
    """
    path = raw_path.split("?", 1)[0]
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        path = path[len(base_path):]
    if not virtual_host:
        first, sep, path = path.lstrip("/").partition("/")
        if unquote(first) != bucket or not sep:
            raise _not_offloadable("the path does not name the bucket and key plainly")
    else:
        path = path[1:] if path.startswith("/") else path
    if unquote(path) != key or not key:
        raise _not_offloadable("the path's key differs from the routed key")
    segments = unquote(path).split("/")
    if any(s in (".", "..") for s in segments):
        raise _not_offloadable("a key with '.' or '..' segments")
    return path


def _not_offloadable(why: str) -> S3Error:
    return S3Error("InvalidArgument", f"A presigned request cannot be forwarded: {why}")


def request_style(value: str | None, netloc_host: str, bucket: str) -> str:
    """``path`` or ``virtual-hosted``: as the header says; absent, virtual-hosted as AIS
    (and S3) default to, unless the backend's host is an IP address or the bucket's name
    is not a DNS label - virtual-hosted cannot be what the client signed then."""
    style = (value or "").strip().lower()
    if style in (PATH, VIRTUAL):
        return style
    if style:
        raise S3Error("InvalidArgument", f"{STYLE_HEADER}: {value!r} is not 'path' or "
                      "'virtual-hosted'")
    try:
        ipaddress.ip_address(netloc_host.strip("[]"))
        return PATH
    except ValueError:
        pass
    return VIRTUAL if _DNS_BUCKET.fullmatch(bucket) else PATH


def aws_host(region: str) -> str:
    """AWS's S3 endpoint host for ``region`` as botocore presigns for it (us-east-1: the
    global ``s3.amazonaws.com``)."""
    if region in ("", "us-east-1"):
        return "s3.amazonaws.com"
    return f"s3.{region}.amazonaws.com"


def backend_target(
    endpoint: str, region: str, style_header: str | None, bucket: str, raw_key: str,
    raw_query: str,
) -> Target:
    """The request the client signed: ``bucket``/``raw_key`` at the backend ``endpoint``
    (``""``: AWS in ``region``), path-style or virtual-hosted, with ``raw_query`` as sent.

    The connection always goes to the endpoint's own host and port; a virtual-hosted
    request names the bucket only in its ``Host`` header, so no host is ever taken from
    the request (no DNS lookup of a client's choice, no host smuggled in a region).
    """
    if not _BUCKET.fullmatch(bucket):
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", bucket)
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise S3Error("InvalidArgument", "the backend's endpoint is not an http(s) URL")
        scheme, netloc, base = parts.scheme, parts.netloc, parts.path.rstrip("/")
        host_only = parts.hostname or ""
    else:
        scheme, netloc, base = "https", aws_host(region), ""
        host_only = netloc
    style = request_style(style_header, host_only, bucket)
    query = f"?{raw_query}" if raw_query else ""
    if style == PATH:
        return Target(scheme, netloc, f"{base}/{bucket}/{raw_key}{query}", netloc)
    return Target(scheme, netloc, f"{base}/{raw_key}{query}", f"{bucket}.{netloc}")


def forwarded_headers(
    headers: Iterable[tuple[str, str]], host: str
) -> list[tuple[str, str]]:
    """The client's headers for the backend: all it sent but the hop-by-hop ones, with
    ``host`` (the signed one) first. ``accept-encoding: identity`` unless the client asked
    otherwise (the body is relayed and stored as the backend sends it)."""
    out = [("host", host)]
    names = set()
    for name, value in headers:
        low = name.lower()
        if low in HOP_HEADERS:
            continue
        names.add(low)
        out.append((low, value))
    if "accept-encoding" not in names:
        out.append(("accept-encoding", "identity"))
    return out


def _etag(value: str | None) -> str:
    return (value or "").strip().strip('"')


def _http_date_ns(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1_000_000_000)
    except (TypeError, ValueError, OverflowError):
        return 0


def whole_size(headers: Mapping[str, str]) -> int:
    """The object's whole size: a Content-Range's total, else Content-Length (-1: none)."""
    crange = headers.get("content-range") or ""
    total = crange.rsplit("/", 1)[1].strip() if "/" in crange else ""
    for value in (total, headers.get("content-length") or ""):
        if value.isdigit() and len(value) < 20:
            return int(value)
    return -1


def attrs_from_headers(headers: Mapping[str, str]) -> RemoteAttrs:
    """``RemoteAttrs`` of a backend's GET/HEAD/PUT response (lower-case header names)."""
    version = headers.get("x-amz-version-id") or ""
    return RemoteAttrs(
        size=max(whole_size(headers), 0),
        etag=_etag(headers.get("etag")),
        version="" if version == "null" else version,
        last_modified_ns=_http_date_ns(headers.get("last-modified")),
        content_type=headers.get("content-type"),
        user={k[len("x-amz-meta-"):]: v for k, v in headers.items()
              if k.startswith("x-amz-meta-")},
        headers={h: headers[h] for h in STORED_HEADERS if h in headers},
    )


def cacheable_get(query: Iterable[tuple[str, str]], headers: Mapping[str, str]) -> bool:
    """May a GET's answer be stored as the object? Not a range, a version, a part, nor an
    answer whose headers the query overrides (``response-content-type``...)."""
    if headers.get("range"):
        return False
    return not any(k in ("versionId", "partNumber") or k.startswith("response-")
                   for k, _ in query)


def may_probe(signature: ClientSignature, headers: Mapping[str, str]) -> bool:
    """May a warm GET be authenticated with ``Range: bytes=0-0`` added (the backend then
    sends one byte, not the object)? Not when the client sent or signed a Range."""
    return not headers.get("range") and "range" not in signature.signed_headers


def forwarded_length(operation: str, headers: Mapping[str, str]) -> int | None:
    """The length of the body an offloaded write sends on (``headers``: lower-case
    names), None: no body. A streaming-signed (``aws-chunked``) body cannot be sent on as
    signed by a node that re-frames it: 501. A body without Content-Length (chunked) or a
    part without one: 411, as S3 answers."""
    declared = (headers.get("x-amz-content-sha256") or "").strip()
    if declared.upper().startswith("STREAMING-") or "aws-chunked" in (
            headers.get("content-encoding") or ""):
        what = "PUT" if operation == "PutObject" else operation
        raise S3Error("NotImplemented", f"A streaming-signed (aws-chunked) {what} cannot be "
                      "forwarded as a presigned request", status=501)
    length = (headers.get("content-length") or "").strip()
    if length:
        if not length.isdigit() or len(length) > 15:
            raise S3Error("InvalidArgument", "Content-Length is not a number")
        return int(length)
    if operation in ("PutObject", "UploadPart") or headers.get("transfer-encoding"):
        raise S3Error("MissingContentLength",
                      "You must provide the Content-Length HTTP header.", status=411)
    return None


_NAME = re.compile(rb"<([A-Za-z_][A-Za-z0-9_.:-]*)[\s/>]")


class RootElement:
    """The name of an XML document's root element, fed as its pieces come: ``name`` is
    None until it is known (leading whitespace - S3's keep-alive spaces during a long
    CompleteMultipartUpload -, the XML declaration, comments and a DOCTYPE are skipped;
    only an unfinished prefix is held, at most ``limit`` bytes), ``""`` when the body is
    not XML or the prefix grew past ``limit``."""

    def __init__(self, limit: int = 4096) -> None:
        self.name: str | None = None
        self._head = b""
        self._limit = limit

    def feed(self, piece: bytes) -> None:
        if self.name is not None or not piece:
            return
        head = self._head + piece
        while True:
            head = head.lstrip()
            if not head:
                break
            if head.startswith((b"<?", b"<!")):
                end = b"?>" if head.startswith(b"<?") else (
                    b"-->" if head.startswith(b"<!--") else b">")
                if head.startswith(b"<!-") and len(head) < 4:
                    break  # "<!-" of a comment not yet whole
                at = head.find(end, 2)
                if at < 0:
                    break
                head = head[at + len(end):]
                continue
            if not head.startswith(b"<"):
                self.name = ""
                return
            m = _NAME.match(head)
            if m is not None:
                self.name = m.group(1).decode("ascii")
                return
            if len(head) > 1 and not re.match(rb"<(?:[A-Za-z_][A-Za-z0-9_.:-]*)?$", head):
                self.name = ""  # "<" then something no name starts with
                return
            break
        if len(head) > self._limit:
            self.name = ""
            return
        self._head = head

    @property
    def is_error(self) -> bool:
        """Is the document S3's error document (``<Error>``: a 200 can carry one)?"""
        return self.name == "Error"
