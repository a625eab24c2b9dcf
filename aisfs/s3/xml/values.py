"""How single values are written in S3's XML: timestamps, ETags, ``encoding-type=url``,
the ``Checksum*`` element names. Shared by the builders and the parsers."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

CHECKSUM_TAGS = {
    "crc32": "ChecksumCRC32",
    "crc32c": "ChecksumCRC32C",
    "crc64nvme": "ChecksumCRC64NVME",
    "sha1": "ChecksumSHA1",
    "sha256": "ChecksumSHA256",
}


def format_timestamp(ns: int) -> str:
    """ISO 8601 with milliseconds, as S3 XML has it: ``2006-01-02T15:04:05.000Z``."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    ms = (ns // 1_000_000) % 1000
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"


def quote_etag(etag: str) -> str:
    if len(etag) >= 2 and etag.startswith('"') and etag.endswith('"'):
        return etag
    return f'"{etag}"'


def unquote_etag(etag: str) -> str:
    etag = etag.strip()
    if len(etag) >= 2 and etag.startswith('"') and etag.endswith('"'):
        return etag[1:-1]
    # some clients send &quot; entities which the parser has already decoded
    return etag


def url_encode(value: str) -> str:
    """``encoding-type=url``: percent-encode everything but unreserved chars and ``/``."""
    return quote(value, safe="/")


def checksum_tag(alg: str) -> str:
    """The element naming a checksum algorithm's value (``crc32c``: ``ChecksumCRC32C``)."""
    return CHECKSUM_TAGS.get(alg.lower(), "Checksum" + alg.upper())
