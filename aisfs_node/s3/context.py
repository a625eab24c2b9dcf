"""What every part of the S3 facade shares: the request's ``Context``, the node's
collaborators (``Services``), the request document and the metadata a request carries.

The router (``aisfs_node.s3.api``) and every operation module import this one; none of them
imports the router back, so the wing has no import circle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import parse_qsl

from aisfs.auth.caller import OPEN, Caller
from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from aisfs.s3._headers import stored_content_encoding
from aisfs.s3.request import S3Request, parse_copy_source
from aisfs.s3.sigv4 import AuthResult, check_payload_sha256
from aisfs.store.store import Store
from aisfs.store.types import STORED_HEADERS, DeleteOutcome, ObjectMeta
from aisfs.store.versions import valid_version_id, versioning
from aisfs_node.http import Request, Response
from aisfs_node.s3_auth import Authenticator

XML = "application/xml"
MAX_XML_BODY = 2 * 1024 * 1024


class Context:
    """What one operation sees: the decoded request, its HTTP request, who signed it."""

    __slots__ = ("http", "s3", "request_id", "auth", "caller")

    def __init__(
        self, http: Request, s3: S3Request, request_id: str, auth: AuthResult | None,
        caller: Caller = OPEN,
    ) -> None:
        self.http = http
        self.s3 = s3
        self.request_id = request_id
        self.auth = auth
        self.caller = caller  # who: a user, anonymous, or the open node (aisfs.auth)

    @property
    def bucket(self) -> str:
        assert self.s3.bucket is not None
        return self.s3.bucket

    @property
    def key(self) -> str:
        assert self.s3.key is not None
        return self.s3.key

    def header(self, name: str) -> str | None:
        return self.http.headers.get(name)


class Services:
    """The node as the S3 operations see it: its config, its store, who its users are."""

    def __init__(self, cfg: NodeConfig, store: Store, authenticator: Authenticator) -> None:
        self.cfg = cfg
        self.store = store
        self.authenticator = authenticator


def xml_response(body: bytes, status: int = 200) -> Response:
    return Response(status, [("content-type", XML)], body)


async def read_small_body(ctx: Context, limit: int = MAX_XML_BODY) -> bytes:
    """A request document (XML), read whole and checked against a signed payload hash."""
    body = await ctx.http.read_body(limit)
    declared = (ctx.header("x-amz-content-sha256") or "").strip()
    if ctx.auth is not None and len(declared) == 64:
        check_payload_sha256(declared, hashlib.sha256(body).digest())
    return body


def version_query(ctx: Context) -> str | None:
    """The request's ``versionId`` (None: none), as S3 checks it: an id this node could
    have made, or ``null`` - anything else is InvalidArgument."""
    version = ctx.s3.query.get("versionId")
    if version is None:
        return None
    if not valid_version_id(version):
        raise invalid_version(version)
    return version


def invalid_version(version: str, name: str = "versionId") -> S3Error:
    return S3Error(
        "InvalidArgument",
        "Invalid version id specified",
        extra={"ArgumentName": name, "ArgumentValue": version},
    )


def copy_source_version(ctx: Context) -> str | None:
    """The ``?versionId=`` of ``x-amz-copy-source`` (None: the current object)."""
    _, _, version = parse_copy_source(ctx.header("x-amz-copy-source") or "")
    if version is not None and not valid_version_id(version):
        raise invalid_version(version, "x-amz-copy-source")
    return version


async def version_headers(
    store: Store, bucket: str, version_id: str | None
) -> list[tuple[str, str]]:
    """``x-amz-version-id`` of an object's answer: its id, or ``null`` in a bucket whose
    versioning was ever set (none in a bucket that never had it, as S3)."""
    if version_id is not None:
        return [("x-amz-version-id", version_id)]
    binfo = await store.get_bucket(bucket)
    if versioning(binfo.props) is not None:
        return [("x-amz-version-id", "null")]
    return []


def deleted_headers(out: DeleteOutcome | None) -> list[tuple[str, str]]:
    """A DeleteObject's answer headers: the delete marker made, or the version removed
    (``x-amz-delete-marker`` when it is one); none in an unversioned bucket."""
    if out is None:
        return []
    headers = [("x-amz-delete-marker", "true")] if out.delete_marker else []
    if out.version_id is not None:
        headers.append(("x-amz-version-id", out.version_id))
    return headers


def stored_object_headers(
    headers: Mapping[str, str], user: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The response headers of an object's kept headers and user metadata (a
    Content-Encoding stored before aws-chunked was stripped is served without it)."""
    out: list[tuple[str, str]] = []
    for name, value in headers.items():
        if name == "content-encoding":
            kept = stored_content_encoding(value)
            if kept is None:
                continue
            value = kept
        out.append((name, value))
    out += [(f"x-amz-meta-{name}", value) for name, value in user.items()]
    return out


def meta_from_headers(ctx: Context) -> ObjectMeta:
    """The object metadata a PUT (or a copy's REPLACE) carries in its headers."""
    meta = ObjectMeta()
    total = 0
    for name, value in ctx.http.headers.items():
        if name.startswith("x-amz-meta-"):
            meta.user[name[len("x-amz-meta-") :]] = value
            total += len(name) - len("x-amz-meta-") + len(value)
        elif name in STORED_HEADERS:
            if name == "content-encoding":
                # aws-chunked is the request's framing, not the object's (AWS strips it)
                kept = stored_content_encoding(value)
                if kept is None:
                    continue
                value = kept
            meta.headers[name] = value
    if total > 2048:
        raise S3Error(
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
        )
    meta.content_type = ctx.header("content-type")
    tagging = ctx.header("x-amz-tagging")
    if tagging:
        meta.tags = parse_tagging_header(tagging)
    return meta


def parse_tagging_header(value: str) -> dict[str, str]:
    """``x-amz-tagging: k1=v1&k2=v2`` (URL query form) with S3's object-tag limits."""
    tags = dict(parse_qsl(value, keep_blank_values=True))
    if len(tags) > 10:
        raise S3Error("BadRequest", "Object tags cannot be greater than 10", status=400)
    for k, v in tags.items():
        if not k or len(k) > 128 or len(v) > 256:
            raise S3Error("InvalidTag", "The TagKey or TagValue you have provided is invalid")
    return tags


OBJECT_ATTRIBUTES = frozenset({"etag", "checksum", "objectparts", "storageclass", "objectsize"})


def asked_attributes(ctx: Context) -> list[str]:
    """GetObjectAttributes' ``x-amz-object-attributes``, as given; InvalidArgument for
    none or an unknown one."""
    raw = ctx.header("x-amz-object-attributes") or ""
    wanted = [a.strip() for a in raw.split(",") if a.strip()]
    if not wanted:
        raise S3Error(
            "InvalidArgument",
            "The x-amz-object-attributes header specifying the attributes to be "
            "retrieved is either missing or empty",
            extra={"ArgumentName": "x-amz-object-attributes"},
        )
    for a in wanted:
        if a.lower() not in OBJECT_ATTRIBUTES:
            raise S3Error(
                "InvalidArgument",
                "Invalid attribute name specified.",
                extra={"ArgumentName": "x-amz-object-attributes", "ArgumentValue": a},
            )
    return wanted
