"""A backend object's ACL is the backend's: what a client asks of it is forwarded.

The node keeps no ACL of its own for a remote object (an ACL row lives as long as the
cached copy it was set on, and an eviction would drop it). So GetObjectAcl and
PutObjectAcl of a backend bucket's object are the backend's (``aisfs_node.s3.remote_acl``),
and a write's ACL headers (``x-amz-acl``, ``x-amz-grant-*``: PutObject, CopyObject,
CreateMultipartUpload) go to the backend with the write - never dropped. The backend
judges them: its own canonical ids, its errors passed on. Who may call is still the
node's decision (aisfs_node/s3_access.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class Headers(Protocol):
    def get(self, name: str, /) -> str | None: ...

# a write's ACL headers, by the botocore parameter of PutObject, CopyObject,
# CreateMultipartUpload and PutObjectAcl that sends each
ACL_PARAMS = {
    "x-amz-acl": "ACL",
    "x-amz-grant-full-control": "GrantFullControl",
    "x-amz-grant-read": "GrantRead",
    "x-amz-grant-read-acp": "GrantReadACP",
    "x-amz-grant-write-acp": "GrantWriteACP",
}


def acl_headers(headers: Headers) -> dict[str, str]:
    """The ACL headers of a request (lower-case names, as sent)."""
    return {h: v for h in ACL_PARAMS if (v := headers.get(h)) is not None}


def acl_params(acl: Mapping[str, str] | None) -> dict[str, str]:
    """``acl`` (``acl_headers``) as botocore parameters."""
    return {ACL_PARAMS[h]: v for h, v in (acl or {}).items() if h in ACL_PARAMS}
