"""Writing a response document: elements in S3's namespace, serialized with the XML
declaration. The one place the builders' element plumbing lives."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from .records import Owner
from .values import url_encode

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def element(tag: str, ns: bool = True) -> ET.Element:
    el = ET.Element(tag)
    if ns:
        el.set("xmlns", S3_NS)
    return el


def sub(parent: ET.Element, tag: str, text: str | int | bool | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        if isinstance(text, bool):
            el.text = "true" if text else "false"
        else:
            el.text = str(text)
    return el


def serialize(top: ET.Element) -> bytes:
    return _DECL + ET.tostring(top, encoding="unicode").encode("utf-8")


def add_owner(parent: ET.Element, who: Owner, tag: str = "Owner") -> None:
    el = sub(parent, tag)
    sub(el, "ID", who.id)
    sub(el, "DisplayName", who.display_name)


def encoded(value: str, encoding_type: str | None) -> str:
    """``value`` as a listing echoes it: percent-encoded under ``encoding-type=url``."""
    return url_encode(value) if encoding_type == "url" else value


def add_common_prefixes(
    parent: ET.Element, prefixes: Iterable[str], encoding_type: str | None
) -> None:
    """One ``<CommonPrefixes>`` per prefix (the listings' and ListMultipartUploads')."""
    for p in prefixes:
        cp = sub(parent, "CommonPrefixes")
        sub(cp, "Prefix", encoded(p, encoding_type))
