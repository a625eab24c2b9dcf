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

from aisfs.errors import S3Error

from .build import element, serialize, sub
from .reading import XML_SPACE as _XML_SPACE
from .reading import children as _children
from .reading import malformed as _malformed
from .reading import one as _one
from .reading import parse_root


@dataclass(frozen=True, slots=True)
class EncryptionRule:
    algorithm: str  # "AES256"
    bucket_key: bool = False






def _text(el: ET.Element, tag: str) -> str | None:
    c = _one(el, tag)
    return None if c is None else (c.text or "").strip(_XML_SPACE)


def parse_encryption_configuration(body: bytes) -> EncryptionRule:
    """PutBucketEncryption's document as its one rule (see the module docstring)."""
    root = parse_root(body, "ServerSideEncryptionConfiguration")
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
