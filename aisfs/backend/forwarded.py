"""A backend object's ACL and tags are the backend's: what a client asks of them is
forwarded.

The node keeps no ACL or tags of its own for a remote object (they would live only as
long as the cached copy they were set on: an eviction would drop them). So
Get/PutObjectAcl and Get/Put/DeleteObjectTagging of a backend bucket's object are the
backend's (``aisfs_node.s3.remote_object_config``), and a write's ACL headers
(``x-amz-acl``, ``x-amz-grant-*``) and tags (``x-amz-tagging``; a copy's
``x-amz-tagging-directive``) go to the backend with the write (PutObject, CopyObject,
CreateMultipartUpload) - never dropped. The backend judges them: its own canonical ids,
its errors passed on. Who may call is still the node's decision
(aisfs_node/s3_access.py); tags are checked as the node checks its own first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol


class Headers(Protocol):
    def get(self, name: str, /) -> str | None: ...


# an object's ACL headers, by the botocore parameter of PutObject, CopyObject,
# CreateMultipartUpload and PutObjectAcl that sends each
ACL_PARAMS = {
    "x-amz-acl": "ACL",
    "x-amz-grant-full-control": "GrantFullControl",
    "x-amz-grant-read": "GrantRead",
    "x-amz-grant-read-acp": "GrantReadACP",
    "x-amz-grant-write-acp": "GrantWriteACP",
}
FORWARDED_PARAMS = {**ACL_PARAMS, "x-amz-tagging": "Tagging"}  # a write's
COPY_ONLY = {"x-amz-tagging-directive": "TaggingDirective"}  # CopyObject's alone


def forwarded_headers(headers: Headers, *, copy: bool = False,
                      names: Iterable[str] = FORWARDED_PARAMS) -> dict[str, str]:
    """The headers of a request the backend must get with its write (lower-case names,
    as sent; ``copy``: a CopyObject's, its tagging directive too; ``names``: those
    looked for - ``ACL_PARAMS`` for a PutObjectAcl)."""
    wanted = [*names, *COPY_ONLY] if copy else names
    return {h: v for h in wanted if (v := headers.get(h)) is not None}


def forwarded_params(forwarded: Mapping[str, str] | None) -> dict[str, str]:
    """``forwarded`` (``forwarded_headers``) as botocore parameters."""
    params = {**FORWARDED_PARAMS, **COPY_ONLY}
    return {params[h]: v for h, v in (forwarded or {}).items() if h in params}
