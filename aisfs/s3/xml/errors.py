"""The ``<Error>`` document every failed S3 request is answered with."""

from __future__ import annotations

from aisfs.errors import S3Error

from .build import element, serialize, sub


def error_document(
    error: S3Error,
    request_id: str = "",
    resource: str | None = None,
    host_id: str | None = None,
) -> bytes:
    """``<Error>`` with Code, Message, the error's extra elements, Resource, RequestId."""
    top = element("Error", ns=False)
    sub(top, "Code", error.code)
    sub(top, "Message", error.message)
    for name, value in error.extra.items():
        sub(top, name, value)
    sub(top, "Resource", resource if resource is not None else error.resource)
    sub(top, "RequestId", request_id)
    if host_id is not None:
        sub(top, "HostId", host_id)
    return serialize(top)
