"""The conditions a commit checks under the index writer lock: If-Match / If-None-Match
against the current object's ETag (a PUT, a multipart complete)."""

from __future__ import annotations

from ..errors import S3Error


def _etags(header: str) -> list[str]:
    out = []
    for item in header.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        out.append(item.strip('"'))
    return out


def check_preconditions(
    current_etag: str | None, if_match: str | None, if_none_match: str | None, res: str
) -> None:
    """Raise ``PreconditionFailed`` unless the object as it is now (``current_etag``, None:
    no object) meets ``if_match`` and ``if_none_match``."""
    if if_none_match is not None and current_etag is not None:
        tags = _etags(if_none_match)
        if "*" in tags or current_etag in tags:
            raise S3Error("PreconditionFailed", "At least one of the preconditions failed", res)
    if if_match is not None:
        tags = _etags(if_match)
        if current_etag is None or ("*" not in tags and current_etag not in tags):
            raise S3Error("PreconditionFailed", "At least one of the preconditions failed", res)
