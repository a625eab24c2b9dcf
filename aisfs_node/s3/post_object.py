"""S3 POST Object: a browser form's upload (``POST /BUCKET``, multipart/form-data).

The form's fields come first (each bounded, :mod:`aisfs.s3.post_form`), then the file,
streamed into the store as it arrives. Between the two, once the fields are known and
before a byte of the file is stored: the signature of the policy (SigV4 or SigV2, a
user's key; :mod:`aisfs.s3.post_policy`), the policy's expiration and conditions (the
key after ``${filename}``), and the interim access rule (the signer owns the bucket or
is an admin). A form with no signature is anonymous: let in on an open node, refused
(AccessDenied) otherwise until ACLs and bucket policies exist. On an open node a policy,
if present, still binds (expiration, conditions), but no signature is checked - as no
other request's is.

The file's size is held to the policy's ``content-length-range`` while it streams: past
the maximum the upload stops with EntityTooLarge and nothing is published; under the
minimum, EntityTooSmall at the end. A ``Content-MD5`` field is checked as PutObject's.

Answers are AWS's: 204 (default), ``success_action_status`` 200 or 201 (a PostResponse
document), ``success_action_redirect`` 303 to that URL with ``bucket``, ``key`` and
``etag`` added to its query; each with ETag and Location.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from urllib.parse import quote, urlencode

from aisfs.auth.caller import ANONYMOUS, OPEN, Caller
from aisfs.errors import S3Error
from aisfs.s3 import post_form as pf
from aisfs.s3 import post_policy as pp
from aisfs.s3.names import validate_key
from aisfs.s3.refusals import check_unsupported, refuse_lock
from aisfs.s3.request import SUBRESOURCES, S3Request, route
from aisfs.s3.xml.build import element, serialize, sub
from aisfs.s3.xml.values import quote_etag
from aisfs.store.types import STORED_HEADERS, ObjectMeta
from aisfs_node.http import Request, Response
from aisfs_node.s3.context import Services
from aisfs_node.s3.object_lock_ops import lock_new_version
from aisfs_node.s3.sse import Sse

IsRemote = Callable[[str], Awaitable[bool]]
MAX_DRAIN = 1024 * 1024  # what may follow the file (ignored) before the node stops reading


class FormReader:
    """The events of one form, read from the request body as they are needed."""

    def __init__(self, http: Request) -> None:
        self.parser = pf.FormParser(pf.boundary_of(http.headers.get("content-type")))
        self.body = http.body().__aiter__()
        self.pending: list[pf.Event] = []
        self.ended = False

    async def next(self) -> pf.Event:
        while not self.pending:
            if self.ended:
                raise pf.malformed("the body ends before the closing boundary")
            try:
                data = await self.body.__anext__()
            except StopAsyncIteration:
                self.ended = True
                self.pending += self.parser.end()
                continue
            self.pending += self.parser.feed(data)
        return self.pending.pop(0)

    async def drain(self) -> None:
        """Read (and drop) what follows the file, up to MAX_DRAIN bytes."""
        seen = 0
        async for data in self.body:
            seen += len(data)
            if seen > MAX_DRAIN:
                return


async def read_fields(reader: FormReader) -> tuple[dict[str, str], pf.FileStart]:
    """The fields before the file (names lower-cased, the first of a repeated name)."""
    fields: dict[str, str] = {}
    while True:
        event = await reader.next()
        if isinstance(event, pf.Field):
            try:
                value = event.value.decode("utf-8")
            except UnicodeDecodeError:
                raise pf.malformed(f"the field {event.name!r} is not UTF-8") from None
            fields.setdefault(event.name.lower(), value)
        elif isinstance(event, pf.FileStart):
            return fields, event
        elif isinstance(event, pf.FormEnd):
            raise S3Error("IncorrectNumberOfFilesInPostRequest",
                          "POST requires exactly one file upload per request.")


class PostObject:
    def __init__(self, services: Services, is_remote: IsRemote | None = None) -> None:
        self.services = services
        self.is_remote = is_remote

    async def handle(self, http: Request, s3: S3Request, base_path: str) -> Response:
        assert s3.bucket is not None
        bucket = s3.bucket
        reader = FormReader(http)
        fields, file = await read_fields(reader)
        key = object_key(fields, file)
        fields["key"] = key
        caller, policy = self._authorize_form(fields, bucket)
        access = self.services.authenticator.access  # owner, policy, ACLs (aisfs_node/s3_access.py)
        plan = await access.authorize_post(self.services.store, caller, bucket, key, fields)
        if self.is_remote is not None and await self.is_remote(bucket):
            raise S3Error("NotImplemented", "POST Object uploads to a backend (s3://) "
                          "bucket are not implemented; use PutObject", status=501)
        check_unsupported("PutObject", fields)
        refuse_lock("PutObject", fields)  # a form's lock fields: 501 (object_lock_ops)
        meta = meta_from_fields(fields)
        counter = _Counter(policy)
        put = await Sse(self.services).put_object_for(  # the form's SSE fields, or the
            bucket, fields, http.scheme == "https", meta)  # bucket's default (aisfs_node.s3.sse)
        info = await put(
            bucket, key, counter.stream(reader), meta,
            content_md5=content_md5(fields),
            before_commit=lambda _result: pp.check_length(policy, counter.size),
        )
        await reader.drain()
        await lock_new_version(self.services.store, info)  # the bucket's default retention
        await access.apply(self.services.store, plan, Response(200))  # the form's acl
        location = object_url(http, s3, base_path, key)
        return answer(fields, bucket, key, quote_etag(info.etag), location)

    def _authorize_form(
        self, fields: dict[str, str], bucket: str
    ) -> tuple[Caller, pp.Policy | None]:
        """Who signed the form, and its policy (expiration and conditions checked)."""
        auth = self.services.authenticator
        open_node = auth.cfg.auth.mode == "open"
        caller = OPEN
        if not open_node and pp.signature_version(fields) is None:
            caller = ANONYMOUS  # an unsigned form: where an ACL or a policy lets anyone write
        elif not open_node:
            signed = pp.verify_signature(fields, auth.users.secret, auth.cache)
            user = auth.users.user_of_key(signed.access_key)
            if user is None:
                raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided "
                              "does not exist in our records.",
                              extra={"AWSAccessKeyId": signed.access_key})
            caller = Caller(user, signed.version, signed.access_key)
        policy_b64 = fields.get("policy")
        if policy_b64 is None:
            return caller, None
        policy = pp.parse_policy(policy_b64)
        pp.check_expiration(policy, time.time())
        pp.check_conditions(policy, fields, bucket)
        return caller, policy


class _Counter:
    """The file's pieces, counted against the policy's maximum as they pass."""

    def __init__(self, policy: pp.Policy | None) -> None:
        self.size = 0
        rng = policy.length_range if policy is not None else None
        self.high = rng[1] if rng is not None else None

    async def stream(self, reader: FormReader) -> AsyncIterator[bytes]:
        while True:
            event = await reader.next()
            if isinstance(event, pf.FileData):
                self.size += len(event.data)
                if self.high is not None and self.size > self.high:
                    raise pp.too_large(self.size, self.high)
                yield event.data
            elif isinstance(event, pf.FileEnd):
                return


def object_key(fields: dict[str, str], file: pf.FileStart) -> str:
    key = fields.get("key")
    if key is None:
        raise pp.missing_field("key")
    filename = file.filename.replace("\\", "/").rsplit("/", 1)[-1]
    key = key.replace("${filename}", filename)
    if not key:
        raise S3Error("InvalidArgument", "User key must have a length greater than 0.",
                      extra={"ArgumentName": "key", "ArgumentValue": ""})
    validate_key(key)
    return key


def _as_header(value: str) -> str:
    """A form value as a header value: its UTF-8 bytes, as a header's bytes are kept (a
    non-Latin-1 character would not go back out on a GET)."""
    return value.encode("utf-8").decode("latin-1")


def meta_from_fields(fields: dict[str, str]) -> ObjectMeta:
    """The object metadata a form carries (the fields PutObject takes as headers)."""
    meta = ObjectMeta()
    total = 0
    for name, raw in fields.items():
        value = _as_header(raw)
        if name.startswith("x-amz-meta-"):
            meta.user[name[len("x-amz-meta-"):]] = value
            total += len(name) - len("x-amz-meta-") + len(value)
        elif name in STORED_HEADERS:
            meta.headers[name] = value
    if total > 2048:
        raise S3Error("MetadataTooLarge",
                      "Your metadata headers exceed the maximum allowed metadata size.")
    meta.content_type = _as_header(fields.get("content-type") or "binary/octet-stream")
    return meta


def content_md5(fields: dict[str, str]) -> bytes | None:
    value = fields.get("content-md5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.")
    return digest


def object_url(http: Request, s3: S3Request, base_path: str, key: str) -> str:
    host = http.host or "localhost"
    path = f"/{quote(key)}"
    if not s3.virtual_host:
        path = f"{base_path}/{quote(s3.bucket or '')}{path}"
    return f"{http.scheme}://{host}{path}"


def answer(fields: dict[str, str], bucket: str, key: str, etag: str, location: str) -> Response:
    headers = [("etag", etag), ("location", location)]
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect and redirect.startswith(("http://", "https://")) and redirect.isascii() \
            and redirect.isprintable():
        sep = "&" if "?" in redirect else "?"
        target = redirect + sep + urlencode({"bucket": bucket, "key": key, "etag": etag})
        return Response(303, [("etag", etag), ("location", target)])
    status = fields.get("success_action_status")
    if status == "201":
        doc = element("PostResponse", ns=False)
        for tag, text in (("Location", location), ("Bucket", bucket), ("Key", key),
                          ("ETag", etag)):
            sub(doc, tag, text)
        return Response(201, [*headers, ("content-type", "application/xml")], serialize(doc))
    return Response(200 if status == "200" else 204, headers)


def form_route(http: Request, base_path: str, vhost_domain: str | None) -> S3Request | None:
    """The PostObject request of a ``POST /BUCKET`` with no sub-resource; None: any other
    request (routed as usual). Such a POST whose body is not multipart/form-data is 412
    PreconditionFailed, as AWS answers it."""
    if http.method != "POST" or any(name in SUBRESOURCES for name, _ in http.query):
        return None
    probe = route("HEAD", http.raw_path, http.query, http.host, base_path=base_path,
                  virtual_host_domain=vhost_domain)
    if probe.operation != "HeadBucket":
        return None
    if not pf.is_form(http.headers.get("content-type")):
        raise S3Error("PreconditionFailed",
                      "At least one of the pre-conditions you specified did not hold",
                      status=412, extra={"Condition": "Bucket POST must be of the "
                                         "enclosure-type multipart/form-data"})
    return replace(probe, operation="PostObject")
