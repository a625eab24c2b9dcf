"""The one error edge of both APIs: a handler's failure becomes an answer here.

``answer`` runs a handler: an ``S3Error`` (also one a nursery wrapped in a group) is the
client's mistake or an expected refusal, rendered by the API's own renderer (S3 XML,
``s3_error``; AIS JSON, ``ais_error``); anything else is logged once, with its
traceback, and answered ``InternalError`` with a fixed message - the exception's text
stays in the log (it can name files). A cancellation (the stop deadline) propagates:
there is nothing to answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import trio

from aisfs.errors import S3Error, only, unwrap
from aisfs.s3 import xml as s3xml
from aisfs_node.http import Response

XML = "application/xml"
JSON = "application/json"
INTERNAL = "We encountered an internal error. Please try again."


async def answer(
    handler: Callable[[], Awaitable[Response]],
    render: Callable[[S3Error], Response],
    log: logging.Logger,
    what: str,
    request_id: str | None = None,
) -> Response:
    """``handler()``'s response, or ``render``'s for the error it raised (``what`` names
    the request in the log)."""
    try:
        return await handler()
    except S3Error as err:
        return render(err)
    except (trio.Cancelled, KeyboardInterrupt):
        raise
    except BaseException as exc:
        inner = unwrap(exc)
        if only(exc, trio.Cancelled):
            raise
        if isinstance(inner, S3Error):
            return render(inner)
        log.error("%s failed", what, exc_info=inner,
                  extra={"request_id": request_id} if request_id else None)
        return render(S3Error("InternalError", INTERNAL))


def s3_error(err: S3Error, resource: str, request_id: str, head: bool) -> Response:
    """The S3 XML error document (no body for HEAD and 304)."""
    body = s3xml.error_document(err, request_id, resource)
    response = Response(err.status, [("content-type", XML)], body)
    if err.code == "InvalidRange" and "ActualObjectSize" in err.extra:
        response.headers.append(("content-range", f"bytes */{err.extra['ActualObjectSize']}"))
    if head or err.status == 304:
        response.body = b""
        response.head = True
    return response


def ais_error(
    err: S3Error, method: str, path: str, client: tuple[str, int] | None, node_id: str,
    bucket: str, key: str | None,
) -> Response:
    """AIS's JSON error (in ``hdr-error`` for HEAD). Its *message* names the bucket or
    object as AIS does (``bucket "ais://b" does not exist``): the SDK picks its exception
    type from that text. Expected failures are 4xx, never 5xx (the SDK retries 5xx)."""
    status, message = _ais_message(err, bucket, key)
    doc = {
        "message": message,
        "method": method,
        "url_path": path,
        "remote_addr": f"{client[0]}:{client[1]}" if client else "",
        "caller": "",
        "node": f"t[{node_id}]",
        "status": status,
    }
    if err.code not in ("NoSuchBucket", "NoSuchKey", "InvalidRange"):
        doc["tcode"] = err.code
    data = json.dumps(doc)
    if method == "HEAD":
        return Response(status, [("content-type", JSON), ("hdr-error", data)], head=True)
    response = Response(status, [("content-type", JSON)], data.encode())
    if err.code == "InvalidRange" and "ActualObjectSize" in err.extra:
        response.headers.append(("content-range", f"bytes */{err.extra['ActualObjectSize']}"))
    return response


def _ais_message(err: S3Error, bucket: str, key: str | None) -> tuple[int, str]:
    name = bucket or err.resource
    code = err.code
    if code == "NoSuchBucket":
        return 404, f'bucket "ais://{name}" does not exist'
    if code == "NoSuchKey" and key is not None:
        return 404, f'object "ais://{bucket}/{key}" does not exist'
    if code in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
        return 409, f'bucket "ais://{name}" already exists'
    if code == "BucketNotEmpty":
        return 409, f'bucket "ais://{name}" is not empty'
    status = err.status
    if status >= 500 and code != "InternalError" and status not in (501, 507):
        status = 503 if code in ("ServiceUnavailable", "SlowDown") else status
    return status, err.message
