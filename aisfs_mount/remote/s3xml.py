"""S3's XML answers read, and the request bodies the mount writes (CompleteMultipartUpload,
DeleteObjects).

Untrusted XML is parsed with defusedxml. Namespaces are ignored: endpoints differ in
whether they send S3's.
"""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as ET

from aisfs.errors import S3Error
from aisfs_mount.backend import DirPage, ObjectInfo

# what an error answer without an S3 code means, by status
CODE_BY_STATUS = {
    404: "NoSuchKey", 403: "AccessDenied", 409: "OperationAborted",
    416: "InvalidRange", 501: "NotImplemented", 503: "ServiceUnavailable",
    507: "InsufficientStorage",
}


def parse(body: bytes) -> Element:
    return ET.fromstring(body)


def strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child_text(el: Element, name: str, default: str = "") -> str:
    for c in el:
        if strip_ns(c.tag) == name:
            return c.text or ""
    return default


def iso_to_ns(text: str) -> int:
    text = text.strip()
    if not text:
        return 0
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def error_from(status: int, body: bytes, resource: str) -> S3Error:
    """The S3Error an error answer stands for (its code from the body, else the status)."""
    code, message = "", ""
    if body:
        try:
            root = parse(body)
            code = child_text(root, "Code")
            message = child_text(root, "Message")
        except Exception:  # a non-XML error body (proxy, HTML)
            pass
    if not code:
        code = CODE_BY_STATUS.get(status, "InternalError" if status >= 500 else "InvalidRequest")
    return S3Error(code, message or f"HTTP {status}", resource, status=status)


def error_in(root: Element, resource: str) -> S3Error | None:
    """CopyObject and CompleteMultipartUpload can fail inside a 200: the error, if so."""
    if strip_ns(root.tag) != "Error":
        return None
    return S3Error(child_text(root, "Code") or "InternalError", child_text(root, "Message"),
                   resource, status=500)


def buckets_of(root: Element) -> list[tuple[str, int]]:
    """ListBuckets: names and creation times (ns)."""
    return [(child_text(el, "Name"), iso_to_ns(child_text(el, "CreationDate")))
            for el in root.iter() if strip_ns(el.tag) == "Bucket"]


def list_page_of(root: Element) -> tuple[DirPage, str]:
    """ListObjectsV2: one page and the continuation token ("" when it is the last)."""
    page = DirPage()
    truncated = False
    token = ""
    for el in root:
        tag = strip_ns(el.tag)
        if tag == "Contents":
            page.objects.append(ObjectInfo(
                key=child_text(el, "Key"),
                size=int(child_text(el, "Size", "0")),
                mtime_ns=iso_to_ns(child_text(el, "LastModified")),
                etag=child_text(el, "ETag").strip('"'),
            ))
        elif tag == "CommonPrefixes":
            page.prefixes.append(child_text(el, "Prefix"))
        elif tag == "IsTruncated":
            truncated = (el.text or "").strip().lower() == "true"
        elif tag == "NextContinuationToken":
            token = el.text or ""
    return page, token if truncated else ""


def keys_of(root: Element) -> list[str]:
    return [child_text(el, "Key") for el in root if strip_ns(el.tag) == "Contents"]


def complete_body(etags: dict[int, str]) -> bytes:
    """CompleteMultipartUpload of parts 1..len(etags)."""
    return ("<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{etags[n]}</ETag></Part>"
        for n in range(1, len(etags) + 1)
    ) + "</CompleteMultipartUpload>").encode()


def delete_body(keys: list[str]) -> bytes:
    """DeleteObjects of `keys` (Quiet: the answer names only the keys not deleted)."""
    return ("<Delete><Quiet>true</Quiet>" + "".join(
        f"<Object><Key>{escape(k)}</Key></Object>" for k in keys) + "</Delete>").encode()


def delete_errors(root: Element) -> dict[str, str]:
    """The keys a DeleteObjects answer says were not deleted, each with its code and
    message (a missing key counts as deleted, as S3 says)."""
    out: dict[str, str] = {}
    for el in root:
        if strip_ns(el.tag) == "Error" and child_text(el, "Code") != "NoSuchKey":
            out[child_text(el, "Key")] = f"{child_text(el, 'Code')}: {child_text(el, 'Message')}"
    return out
