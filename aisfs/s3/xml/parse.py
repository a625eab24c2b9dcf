"""Request documents, parsed with defusedxml.

The parsers accept documents with or without the S3 namespace and turn anything
malformed or hostile (DTDs, entities) into ``MalformedXML``; they never raise another
exception type than ``S3Error``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aisfs.errors import S3Error
from aisfs.numbers import INT32_MAX, NumberError, invalid, parse_int

from .reading import XML_SPACE as _XML_SPACE
from .reading import children as _children
from .reading import first as _child
from .reading import malformed as _malformed
from .reading import parse_root as _parse
from .records import CORS_METHODS, CompletedPart, CORSRule, ObjectIdentifier
from .values import CHECKSUM_TAGS, unquote_etag

MAX_DELETE_OBJECTS = 1000
MAX_CORS_RULES = 100







def _text(el: ET.Element, tag: str) -> str | None:
    c = _child(el, tag)
    if c is None:
        return None
    return c.text or ""


def parse_create_bucket_configuration(body: bytes) -> str | None:
    """The LocationConstraint of a CreateBucket body; None for an empty body or none given."""
    if not body or not body.strip():
        return None
    root = _parse(body, "CreateBucketConfiguration")
    lc = _text(root, "LocationConstraint")
    return lc.strip() if lc else None


def parse_delete(body: bytes) -> tuple[list[ObjectIdentifier], bool]:
    """The objects and Quiet flag of a DeleteObjects body (1 to 1000 objects)."""
    root = _parse(body, "Delete")
    objects = _children(root, "Object")
    if not objects:
        raise _malformed("no <Object> in <Delete>")
    if len(objects) > MAX_DELETE_OBJECTS:
        raise _malformed(f"more than {MAX_DELETE_OBJECTS} objects")
    out: list[ObjectIdentifier] = []
    for o in objects:
        key = _text(o, "Key")
        if key is None:
            raise _malformed("<Object> without <Key>")
        vid = _text(o, "VersionId")
        out.append(ObjectIdentifier(key=key, version_id=vid or None))
    quiet_text = (_text(root, "Quiet") or "false").strip().lower()
    if quiet_text not in ("true", "false"):
        raise _malformed("<Quiet> must be true or false")
    return out, quiet_text == "true"


def parse_complete_multipart_upload(body: bytes) -> list[tuple[int, str]]:
    """(part number, unquoted ETag) of each part, which S3 wants in ascending order."""
    return [(p.number, p.etag) for p in parse_completed_parts(body)]


def parse_completed_parts(body: bytes) -> list[CompletedPart]:
    """Each ``<Part>``: number, unquoted ETag and the ``Checksum*`` it names (as given;
    compared, never decoded, so any text is a mismatch rather than an error)."""
    root = _parse(body, "CompleteMultipartUpload")
    parts: list[CompletedPart] = []
    for p in _children(root, "Part"):
        num = (_text(p, "PartNumber") or "").strip(_XML_SPACE)
        etag = _text(p, "ETag")
        if etag is None:
            raise _malformed("<Part> needs <PartNumber> and <ETag>")
        try:  # not an xs:int (Unicode digits, 5,000 digits, a sign...): the schema fails
            n = parse_int(num, lo=-INT32_MAX - 1, hi=INT32_MAX)
        except NumberError:
            raise _malformed("<Part> needs <PartNumber> and <ETag>") from None
        if not 1 <= n <= 10000:
            raise invalid(
                "PartNumber", num, "Part number must be an integer between 1 and 10000, inclusive"
            )
        sums: dict[str, str] = {}
        for alg, tag in CHECKSUM_TAGS.items():
            value = _text(p, tag)
            if value is not None:
                sums[alg] = value.strip(_XML_SPACE)
        parts.append(CompletedPart(n, unquote_etag(etag), sums))
    if not parts:
        raise _malformed("no <Part> in <CompleteMultipartUpload>")
    for a, b in zip(parts, parts[1:], strict=False):
        if b.number <= a.number:
            raise S3Error(
                "InvalidPartOrder",
                "The list of parts was not in ascending order. "
                "The parts list must be specified in order by part number.",
            )
    return parts


def parse_tagging(
    body: bytes,
    max_tags: int = 10,
    max_key_chars: int = 128,
    max_value_chars: int = 256,
) -> dict[str, str]:
    """A ``Tagging`` body's TagSet (object tags: at most 10; bucket tags: pass 50)."""
    root = _parse(body, "Tagging")
    tagset = _child(root, "TagSet")
    if tagset is None:
        raise _malformed("no <TagSet>")
    tags: dict[str, str] = {}
    for t in _children(tagset, "Tag"):
        k = _text(t, "Key")
        v = _text(t, "Value")
        if k is None or v is None:
            raise _malformed("<Tag> needs <Key> and <Value>")
        if not 1 <= len(k) <= max_key_chars:
            raise S3Error("InvalidTag", f"The TagKey you have provided is invalid: {k[:32]!r}")
        if len(v) > max_value_chars:
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid")
        if k.startswith("aws:"):
            raise S3Error("InvalidTag", "Your TagKey cannot be prefixed with aws:")
        if k in tags:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
        tags[k] = v
    if len(tags) > max_tags:
        raise S3Error("InvalidTag", f"Object tags cannot be greater than {max_tags}")
    return tags


def parse_cors_configuration(body: bytes) -> list[CORSRule]:
    root = _parse(body, "CORSConfiguration")
    rules_el = _children(root, "CORSRule")
    if not rules_el:
        raise _malformed("no <CORSRule>")
    if len(rules_el) > MAX_CORS_RULES:
        raise _malformed(f"more than {MAX_CORS_RULES} CORS rules")
    rules: list[CORSRule] = []
    for r in rules_el:

        def texts(tag: str, r: ET.Element = r) -> tuple[str, ...]:
            return tuple((c.text or "").strip() for c in _children(r, tag))

        origins = texts("AllowedOrigin")
        methods = texts("AllowedMethod")
        if not origins or not methods:
            raise _malformed("<CORSRule> needs <AllowedOrigin> and <AllowedMethod>")
        for m in methods:
            if m not in CORS_METHODS:
                raise S3Error(
                    "InvalidRequest",
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {m}",
                )
        max_age: int | None = None
        age_text = _text(r, "MaxAgeSeconds")
        if age_text is not None:
            try:  # an xs:int
                max_age = parse_int(age_text.strip(_XML_SPACE), lo=-INT32_MAX - 1, hi=INT32_MAX)
            except NumberError:
                raise _malformed("<MaxAgeSeconds> must be an integer") from None
        rid = _text(r, "ID")
        rules.append(
            CORSRule(
                allowed_origins=origins,
                allowed_methods=methods,
                allowed_headers=texts("AllowedHeader"),
                expose_headers=texts("ExposeHeader"),
                max_age_seconds=max_age,
                id=rid or None,
            )
        )
    return rules


def parse_versioning_configuration(body: bytes) -> str | None:
    """``Enabled`` or ``Suspended`` (None when the body gives no Status)."""
    root = _parse(body, "VersioningConfiguration")
    status = _text(root, "Status")
    if status is None:
        return None
    status = status.strip()
    if status not in ("Enabled", "Suspended"):
        raise _malformed("<Status> must be Enabled or Suspended")
    return status


def parse_versioning_mfa_delete(body: bytes) -> str | None:
    """A ``VersioningConfiguration``'s ``MfaDelete`` (Enabled, Disabled; None: absent)."""
    root = _parse(body, "VersioningConfiguration")
    value = _text(root, "MfaDelete")
    if value is None:
        return None
    value = value.strip()
    if value not in ("Enabled", "Disabled"):
        raise _malformed("<MfaDelete> must be Enabled or Disabled")
    return value
