"""The ``ServerSideEncryptionConfiguration`` document (bucket default encryption):
parsed with defusedxml, and built back as AWS answers GetBucketEncryption.

One rule, as AWS takes it. ``SSEAlgorithm`` AES256 is served; ``aws:kms`` and
``aws:kms:dsse`` are 501 NotImplemented (no KMS here), as is a ``BlockedEncryptionTypes``
list (a refusal of SSE-C writes would otherwise be silently dropped); any other value,
a missing element or a second rule is MalformedXML; a ``KMSMasterKeyID`` beside AES256
is InvalidArgument. ``BucketKeyEnabled`` is kept and echoed (it changes nothing for
SSE-S3, as on AWS).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml.ElementTree as DET

from aisfs.errors import S3Error

from .build import element, serialize, sub

_XML_SPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class EncryptionRule:
    algorithm: str  # "AES256"
    bucket_key: bool = False


def _malformed(detail: str = "") -> S3Error:
    msg = (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
    return S3Error("MalformedXML", f"{msg}: {detail}" if detail else msg)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(el: ET.Element, tag: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == tag]


def _one(el: ET.Element, tag: str) -> ET.Element | None:
    found = _children(el, tag)
    if len(found) > 1:
        raise _malformed(f"more than one <{tag}>")
    return found[0] if found else None


def _text(el: ET.Element, tag: str) -> str | None:
    c = _one(el, tag)
    return None if c is None else (c.text or "").strip(_XML_SPACE)


def parse_encryption_configuration(body: bytes) -> EncryptionRule:
    """PutBucketEncryption's document as its one rule (see the module docstring)."""
    if not body or not body.strip():
        raise _malformed("empty document")
    try:
        root = DET.fromstring(body, forbid_dtd=True)
    except Exception as e:  # ParseError, DefusedXmlException, ValueError, ...
        raise _malformed(type(e).__name__) from None
    if _local(root.tag) != "ServerSideEncryptionConfiguration":
        raise _malformed(f"expected <ServerSideEncryptionConfiguration>, got <{_local(root.tag)}>")
    rules = _children(root, "Rule")
    if len(rules) != 1:
        raise _malformed("exactly one <Rule>")
    rule = rules[0]
    if _one(rule, "BlockedEncryptionTypes") is not None:
        raise S3Error("NotImplemented", "BlockedEncryptionTypes is not implemented by aisfs",
                      status=501)
    default = _one(rule, "ApplyServerSideEncryptionByDefault")
    if default is None:
        raise _malformed("no <ApplyServerSideEncryptionByDefault>")
    alg = _text(default, "SSEAlgorithm")
    if alg is None:
        raise _malformed("no <SSEAlgorithm>")
    if alg in ("aws:kms", "aws:kms:dsse"):
        raise S3Error("NotImplemented", f"Default encryption with {alg} is not implemented by "
                      "aisfs: there is no KMS", status=501)
    if alg != "AES256":
        raise _malformed(f"unknown SSEAlgorithm {alg[:32]!r}")
    if _one(default, "KMSMasterKeyID") is not None:
        raise S3Error("InvalidArgument", "a KMSMasterKeyID is not applicable if the default "
                      "sse algorithm is not aws:kms or aws:kms:dsse",
                      extra={"ArgumentName": "ApplyServerSideEncryptionByDefault"})
    bucket_key = _text(rule, "BucketKeyEnabled")
    if bucket_key not in (None, "true", "false"):
        raise _malformed("BucketKeyEnabled is true or false")
    return EncryptionRule(alg, bucket_key == "true")


def encryption_configuration(rule: EncryptionRule) -> bytes:
    """GetBucketEncryption's answer."""
    root = element("ServerSideEncryptionConfiguration")
    r = sub(root, "Rule")
    d = sub(r, "ApplyServerSideEncryptionByDefault")
    sub(d, "SSEAlgorithm", rule.algorithm)
    sub(r, "BucketKeyEnabled", rule.bucket_key)
    return serialize(root)
