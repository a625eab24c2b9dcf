"""How every request document is read: defusedxml, the S3 namespace optional, anything
malformed or hostile (DTDs, entities, the wrong root) one ``MalformedXML``.

A shared module of the package (as records, values and build are): the document modules
(parse, lifecycle, object_lock, encryption...) read their elements through these, so the
rules for a well-formed document are written once.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DET

from aisfs.errors import S3Error

XML_SPACE = " \t\r\n"  # XML's whitespace (str.strip() would also take U+3000 etc.)


def malformed(detail: str = "") -> S3Error:
    msg = (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
    return S3Error("MalformedXML", f"{msg}: {detail}" if detail else msg)


def local(tag: object) -> str:
    """An element's name without its namespace; "" for comments and processing
    instructions."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def elements(el: ET.Element) -> list[ET.Element]:
    """The child elements (no comments or processing instructions)."""
    return [c for c in el if local(c.tag)]


def children(el: ET.Element, tag: str) -> list[ET.Element]:
    return [c for c in el if local(c.tag) == tag]


def one(el: ET.Element, tag: str) -> ET.Element | None:
    """The child named ``tag``, if any; two of them are MalformedXML."""
    found = children(el, tag)
    if len(found) > 1:
        raise malformed(f"more than one <{tag}>")
    return found[0] if found else None


def first(el: ET.Element, tag: str) -> ET.Element | None:
    found = children(el, tag)
    return found[0] if found else None


def parse_root(body: bytes, tag: str) -> ET.Element:
    """The document's root, which must be ``tag``."""
    if not body or not body.strip():
        raise malformed("empty document")
    try:
        root = DET.fromstring(body, forbid_dtd=True)
    except Exception as e:  # ParseError, DefusedXmlException, ValueError, ...
        raise malformed(type(e).__name__) from None
    if local(root.tag) != tag:
        raise malformed(f"expected <{tag}>, got <{local(root.tag)}>")
    return root
