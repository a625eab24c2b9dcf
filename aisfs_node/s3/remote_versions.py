"""GET/HEAD of a remote object with ``?versionId=`` or ``?partNumber=`` (S3's selectors).

What the node does (``aisfs_node.s3.remote`` calls ``selector_of`` then ``read_selected``):

- ``versionId=V`` is the backend's version V. A version's bytes never change, so a cached
  copy that *is* V (its recorded version id; ``null`` is a copy without one) is served
  locally - after a HEAD of V on the backend when the bucket validates warm GETs (a
  version deleted there is then the backend's 404). Any other version is forwarded and
  streamed from the backend and **not cached**: the cache holds one copy per key, the
  current one, and a GET of an older version must never replace it (nor be mistaken
  for it by the next plain GET).
- ``partNumber=N`` answers as S3 does: part N's bytes (206, ``Content-Range`` and
  ``x-amz-mp-parts-count`` for a multipart object; a single-part object has part 1 only).
  A cached copy does not keep the backend's part layout (a cold GET fills it as one
  object), so for a cached multipart object the node HEADs ``partNumber=N`` on the
  backend - its ETag validates the copy and its ``Content-Range`` gives the span - and
  serves the span locally; a cached single-part object serves part 1 with no backend
  call (validated as a plain warm GET is). Cold, changed, or unreadable: forwarded.
- A Range with a partNumber is refused (400 InvalidRequest, as AWS); the backend's
  ``x-amz-version-id`` is passed on (``null`` when ``versionId=null`` was asked).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aisfs.backend import RemoteObjects, Resolved
from aisfs.backend.cachemeta import remote_attrs, remote_of
from aisfs.backend.errors import client_error_parts
from aisfs.backend.s3 import RemoteStream, S3Backend, attrs_from_response
from aisfs.backend.types import RemoteAttrs
from aisfs.errors import S3Error
from aisfs.s3.ranges import parse_range
from aisfs.s3.request import parse_part_number
from aisfs.store.chunks import StoreCorruption
from aisfs.store.types import ObjectInfo
from aisfs_node.http import first_piece_read

log = logging.getLogger("aisfs.s3")


@dataclass(frozen=True, slots=True)
class Selector:
    """What a GET/HEAD selects beyond the key: a version, a part, a range."""

    version: str | None  # as asked ("null" included)
    part: int | None
    range_header: str | None

    @property
    def stored_version(self) -> str | None:
        """The version id a cached copy of the asked version records ("" for null)."""
        if self.version is None:
            return None
        return "" if self.version == "null" else self.version

    def params(self) -> dict[str, Any]:
        """The botocore parameters that select the same thing on the backend."""
        out: dict[str, Any] = {}
        if self.version is not None:
            out["VersionId"] = self.version
        if self.part is not None:
            out["PartNumber"] = self.part
        if self.range_header:
            out["Range"] = self.range_header
        return out


def selector_of(query: Mapping[str, str], range_header: str | None) -> Selector | None:
    """The request's selector, or None for a plain GET/HEAD (the cache's own path)."""
    version = query.get("versionId")
    part_value = query.get("partNumber")
    if version is None and part_value is None:
        return None
    refuse_empty_version(version)
    part = parse_part_number(part_value) if part_value is not None else None
    if part is not None and range_header:
        raise S3Error("InvalidRequest",
                      "Cannot specify both Range header and partNumber query parameter")
    return Selector(version, part, range_header)


@dataclass(slots=True)
class Selected:
    """The answer: as ``RemoteRead``, with the headers only a selector adds."""

    attrs: RemoteAttrs
    start: int
    end: int
    ranged: bool
    cached: bool
    body: AsyncIterator[bytes] | None  # None for a HEAD
    headers: list[tuple[str, str]] = field(default_factory=list)


async def read_selected(
    remote: RemoteObjects, rb: Resolved, key: str, sel: Selector, *, head: bool
) -> Selected:
    """GET (``head=False``) or HEAD of ``key`` as ``sel`` selects it."""
    info = await _cached_copy(remote, rb, key, sel)
    if info is not None:
        served = await _from_cache(remote, rb, key, info, sel, head)
        if served is not None:
            return _with_version_header(served, sel)
    return _with_version_header(await _forward(remote, rb, key, sel, head), sel)


def _with_version_header(out: Selected, sel: Selector) -> Selected:
    if sel.version == "null" and not out.attrs.version:
        out.headers.append(("x-amz-version-id", "null"))
    return out


async def _cached_copy(
    remote: RemoteObjects, rb: Resolved, key: str, sel: Selector
) -> ObjectInfo | None:
    """The cached copy when it is what ``sel`` asks for (that version, or the current
    object when no version is asked), else None."""
    assert rb.remote is not None
    info = await remote.local(rb, key)
    rec = remote_of(info) if info is not None else None
    if info is None or rec is None or rec.get("source") != rb.remote.uri:
        return None
    wanted = sel.stored_version
    if wanted is not None and str(rec.get("version") or "") != wanted:
        return None
    return info


async def _from_cache(
    remote: RemoteObjects, rb: Resolved, key: str, info: ObjectInfo, sel: Selector,
    head: bool,
) -> Selected | None:
    """``sel`` served from the cached copy ``info``; None when it must be forwarded (the
    backend's object changed, or the copy cannot be read)."""
    attrs = remote_attrs(info)
    headers: list[tuple[str, str]] = []
    span = await _cached_span(remote, rb, key, attrs, sel, headers)
    if span is None:
        return None
    start, end, ranged = span
    body = None
    if not head and end >= start:
        try:
            body = await first_piece_read(remote.store.read_object(info, start, end))
        except (StoreCorruption, S3Error) as e:
            log.info("%s/%s: the cached copy cannot be read (%s): forwarded", rb.bucket, key, e)
            return None
    return Selected(attrs, start, end, ranged, True, body, headers)


async def _cached_span(
    remote: RemoteObjects, rb: Resolved, key: str, attrs: RemoteAttrs, sel: Selector,
    headers: list[tuple[str, str]],
) -> tuple[int, int, bool] | None:
    """(start, end, ranged) of what ``sel`` asks of the cached copy ``attrs``, or None
    when the backend's object is not that copy any more."""
    if sel.part is not None and _parts_in(attrs.etag) > 1:
        # the layout is the backend's: its HEAD of the part gives the span and the ETag
        backend = remote.backend(rb)
        resp = await _call(backend, "head_object", rb, key, sel, {})
        if attrs_from_response(resp).etag != attrs.etag:
            return None
        _check_part_served(backend, resp, attrs, sel)
        start, end = _span_of(resp, attrs.size)
        headers.append(("x-amz-mp-parts-count", str(resp.get("PartsCount") or
                                                     _parts_in(attrs.etag))))
        return start, end, True
    if rb.validate_warm_get and not await _still_current(remote, rb, key, attrs, sel):
        return None
    if sel.part is not None:
        if sel.part != 1:
            raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable",
                          status=416)
        return 0, attrs.size - 1, True  # as the backend answers it: 206, Content-Range
    span = parse_range(sel.range_header, attrs.size) if sel.range_header else None
    if span is None:
        return 0, attrs.size - 1, False
    return span[0], span[1], True


async def _still_current(
    remote: RemoteObjects, rb: Resolved, key: str, attrs: RemoteAttrs, sel: Selector
) -> bool:
    """Validation of a warm read (the bucket's ``validate_warm_get``): the backend still
    has the object (that version, when one is asked) as cached. A backend that cannot be
    reached does not stop a warm read (AIS's behaviour: the copy is served)."""
    only_version = Selector(sel.version, None, None)
    try:
        resp = await _call(remote.backend(rb), "head_object", rb, key, only_version, {})
    except S3Error as e:
        if e.status >= 500:
            log.warning("%s/%s: served the cached copy unvalidated: %s", rb.bucket, key,
                        e.message)
            return True
        raise
    now = attrs_from_response(resp)
    return now.same_version(attrs.etag, attrs.version)


async def _forward(
    remote: RemoteObjects, rb: Resolved, key: str, sel: Selector, head: bool
) -> Selected:
    """``sel`` asked of the backend; a GET's body streamed, nothing cached."""
    backend = remote.backend(rb)
    resp = await _call(backend, "head_object" if head else "get_object", rb, key, sel, {})
    attrs = attrs_from_response(resp)
    status = int((resp.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 200)
    start, end = _span_of(resp, attrs.size)
    headers = []
    if resp.get("PartsCount"):
        headers.append(("x-amz-mp-parts-count", str(resp["PartsCount"])))
    try:
        _check_part_served(backend, resp, attrs, sel)
    except S3Error:
        if "Body" in resp:
            resp["Body"].close()
        raise
    body = None
    if not head:
        stream = await _stream_of(backend, resp, key)
        body = await first_piece_read(_pieces(stream))
    return Selected(attrs, start, end, status == 206, False, body, headers)


async def _stream_of(backend: S3Backend, resp: dict[str, Any], key: str) -> RemoteStream:
    """A RemoteStream of a GET's response: it takes one of the backend's slots for as
    long as its body is open (``call`` gave its own back when the headers came in)."""
    token = object()
    try:
        await backend.slots.acquire_on_behalf_of(token)
    except BaseException:
        resp["Body"].close()
        raise
    return RemoteStream.of_response(backend, resp, token, key)


async def _pieces(stream: RemoteStream) -> AsyncIterator[bytes]:
    try:
        async for piece in stream.pieces():
            yield piece
    finally:
        await stream.aclose()


async def _call(
    backend: S3Backend, op: str, rb: Resolved, key: str, sel: Selector,
    extra: dict[str, Any],
) -> Any:
    """One backend call with the selector's parameters; a version the backend does not
    have (moto: NoSuchVersion, Ceph: NoSuchKey) and a part past the last one answer the
    S3 codes a client expects."""
    assert rb.remote is not None
    params = dict(Bucket=rb.remote.name, Key=key, **sel.params(), **extra)
    try:
        return await backend.call(op, key, **params)
    except S3Error as e:
        code, status, _ = cause_parts(e)
        if sel.version is not None:
            missing = _no_such_version(e, key, sel.version)
            if missing is not None:
                raise missing from None
        if sel.part is not None and (status == 416 or code in ("InvalidRange",
                                                                "InvalidPartNumber")):
            raise S3Error("InvalidPartNumber", "The requested partnumber is not "
                          "satisfiable", key, status=416) from None
        raise


def _no_such_version(e: S3Error, key: str, version: str) -> S3Error | None:
    """S3's NoSuchVersion for a backend's error that says it has no version ``version``
    of ``key`` (moto: NoSuchVersion, Ceph: NoSuchKey), else None."""
    code, status, _ = cause_parts(e)
    if code == "NoSuchVersion" or (status == 404 and code != "NoSuchBucket"):
        return S3Error("NoSuchVersion", "The specified version does not exist.", key,
                       extra={"Key": key, "VersionId": version})
    return None


# == a copy's source version (CopyObject, UploadPartCopy: x-amz-copy-source ?versionId=) ==

MARKER_AS_SOURCE = ("The source of a copy request may not specifically refer to a delete "
                    "marker by version id.")


def refuse_empty_version(version: str | None, argument: str = "versionId") -> None:
    """A backend's version id asked for (``?versionId=``, a copy source's: ``argument``
    names it): any string the backend gave (its format is the backend's), not the empty
    one."""
    if version == "":
        raise S3Error("InvalidArgument", "Version id cannot be the empty string",
                      extra={"ArgumentName": argument, "ArgumentValue": ""})


async def source_version_refused(
    remote: RemoteObjects, rb: Resolved, key: str, version: str, e: S3Error
) -> S3Error:
    """What a client is told when the backend refused the source version ``version`` of
    a copy: a delete marker named is S3's 400 InvalidRequest (a GET or HEAD of one is
    405 MethodNotAllowed; moto answers a copy or GET of one with NoSuchVersion, so a
    NoSuchVersion is checked with a HEAD of the version), a version the backend does not
    have 404 NoSuchVersion, anything else as it came."""
    code, status, _ = cause_parts(e)
    if code == "MethodNotAllowed" or status == 405 or (
            e.code == "InvalidRequest" and "delete marker" in e.message.lower()):
        return S3Error("InvalidRequest", MARKER_AS_SOURCE, key)
    missing = _no_such_version(e, key, version)
    if missing is None:
        return e
    try:
        await _call(remote.backend(rb), "head_object", rb, key, Selector(version, None, None),
                    {})
    except S3Error as head:
        code, status, _ = cause_parts(head)
        if code == "MethodNotAllowed" or status == 405:
            return S3Error("InvalidRequest", MARKER_AS_SOURCE, key)
    return missing


async def read_source_version(
    remote: RemoteObjects, rb: Resolved, key: str, version: str, range_header: str | None
) -> Selected:
    """Version ``version`` of a copy's source ``key`` (a range of it for UploadPartCopy):
    the cached copy when it is that version, else streamed from the backend and not
    cached (as a GET ``?versionId=``)."""
    try:
        return await read_selected(remote, rb, key, Selector(version, None, range_header),
                                   head=False)
    except S3Error as e:
        raise await source_version_refused(remote, rb, key, version, e) from None


async def head_source_version(
    remote: RemoteObjects, rb: Resolved, key: str, version: str
) -> RemoteAttrs:
    """The attributes of version ``version`` of a copy's source (its preconditions)."""
    try:
        return (await read_selected(remote, rb, key, Selector(version, None, None),
                                    head=True)).attrs
    except S3Error as e:
        raise await source_version_refused(remote, rb, key, version, e) from None


def cause_parts(e: S3Error) -> tuple[str, int, str]:
    """(code, status, message) of the backend's own error behind ``e`` (a 501 of the
    backend is ``e``'s 503 ServiceUnavailable)."""
    from botocore.exceptions import ClientError

    cause = e.__cause__
    if isinstance(cause, ClientError):
        return client_error_parts(cause)
    return e.code, e.status, e.message


def _check_part_served(
    backend: S3Backend, resp: Mapping[str, Any], attrs: RemoteAttrs, sel: Selector
) -> None:
    """A backend that ignores ``partNumber`` (Ceph Pacific answers the whole object) must
    not have that taken for part N: without a Content-Range a single-part object's part 1
    is the whole (a later part: 416); a multipart object's part is refused, 501."""
    if sel.part is None or resp.get("ContentRange"):
        return
    if _parts_in(attrs.etag) > 1:
        raise S3Error("NotImplemented", f"The {backend.settings.label} does not serve "
                      "partNumber GETs of a multipart object", status=501)
    if sel.part != 1:
        raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable",
                      status=416)


def _span_of(resp: Mapping[str, Any], size: int) -> tuple[int, int]:
    """(start, end) of a response's body: its Content-Range, else the whole object."""
    crange = str(resp.get("ContentRange") or "")
    if crange.startswith("bytes ") and "-" in crange:
        lo, _, hi = crange[6:].split("/", 1)[0].partition("-")
        if lo.isdigit() and hi.isdigit():
            return int(lo), int(hi)
    return 0, size - 1


def _parts_in(etag: str) -> int:
    """How many parts an S3 ETag says its object has (``<md5>-N``; 1 otherwise)."""
    _, dash, count = etag.rpartition("-")
    return int(count) if dash and count.isdigit() else 1


async def delete_version(
    remote: RemoteObjects, rb: Resolved, key: str, version: str
) -> list[tuple[str, str]]:
    """DeleteObject ``?versionId=V`` (and a DeleteObjects entry with a VersionId): V
    deleted in the backend; the cached copy dropped only when it *is* V (deleting an
    older version leaves the current object, and its copy, as they are). The response
    headers: the version deleted, ``x-amz-delete-marker`` when it was one."""
    assert rb.remote is not None
    refuse_empty_version(version)
    resp = await remote.backend(rb).call("delete_object", key, Bucket=rb.remote.name,
                                         Key=key, VersionId=version)
    await evict_version(remote, rb, key, version)
    headers = [("x-amz-version-id", version)]
    if resp.get("DeleteMarker"):
        headers.append(("x-amz-delete-marker", "true"))
    return headers


async def evict_version(remote: RemoteObjects, rb: Resolved, key: str, version: str) -> None:
    """After version ``version`` of ``key`` was deleted in the backend: the cached copy
    dropped when it is that version (an older version's delete leaves the current one)."""
    if await _cached_copy(remote, rb, key, Selector(version, None, None)) is not None:
        await remote.evict(rb, key)
