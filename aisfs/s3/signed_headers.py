"""Which request headers a signature must cover: one policy for SigV4 and SigV2, both APIs.

A signature proves only what it covers. A header outside it can be added by whoever
holds a captured request or a presigned URL, so a header that changes what a request
does must be signed or the request refused - as S3 does, with 403 AccessDenied
"There were headers present in the request which were not signed" and a
``HeadersNotSigned`` element naming them:

- every ``x-amz-*`` header (``x-amz-copy-source`` turns a PUT into a copy of any object
  the signer may read, ``x-amz-meta-*`` is stored, ``x-amz-tagging``, ACLs, ...);
- ``Content-MD5`` and ``Host`` (SigV4 requires ``host`` in SignedHeaders anyway).

Exempt, as on S3: ``x-amz-content-sha256``, which AWS accepts unsigned on a presigned
URL; its value is the payload hash the signature itself is computed over (header
form) or is checked against the body, so it cannot change what is done.

Content-MD5 on a SigV4 presigned URL may go unsigned, as on S3, whose query-string
authentication requires ``host`` and the ``x-amz-*`` headers sent to be signed and
nothing else: a client that adds Content-MD5 to a presigned PUT (the usual way to have
the upload checked) is served, and the digest is still verified against the body
(``aisfs.s3.checksums``), so an unsigned Content-MD5 can only make a request fail, never
change what it stores. A header-signed request must sign it, as before
(``presigned=False``); SigV2 carries it in every string to sign.
``x-amzn-*`` (trace ids) are not ``x-amz-*`` headers and SDKs leave them unsigned.

SigV2 has no signed-header list: its string to sign carries every ``x-amz-*`` header
present and Content-MD5 by construction, and ``sigv2`` passes exactly the names it put
into the string to sign, so this check guards that construction too. SigV2 cannot sign
Host (the bucket of a virtual-hosted request is in its canonical resource); callers say
so with ``host_signable=False``.
"""

from __future__ import annotations

from collections.abc import Container

from aisfs.errors import S3Error
from aisfs.s3._headers import Headers, header_items

MESSAGE = "There were headers present in the request which were not signed"
# the headers outside the x-amz- prefix that must be signed when present
MUST_SIGN = frozenset({"content-md5", "host"})
# x-amz- headers S3 accepts unsigned
EXEMPT = frozenset({"x-amz-content-sha256"})
# what a presigned (query-authenticated) request may carry unsigned besides EXEMPT
PRESIGNED_EXEMPT = frozenset({"content-md5"})


def must_be_signed(name: str, *, presigned: bool = False) -> bool:
    """Whether header *name* (lower case) must be covered by the signature when sent."""
    if name.startswith("x-amz-"):
        return name not in EXEMPT
    if presigned and name in PRESIGNED_EXEMPT:
        return False
    return name in MUST_SIGN


def unsigned_headers(
    headers: Headers,
    signed: Container[str],
    *,
    host_signable: bool = True,
    presigned: bool = False,
) -> list[str]:
    """The names (lower case, sorted, each once) of headers sent but not signed."""
    out: set[str] = set()
    for name, _ in header_items(headers):  # must_be_signed, inlined: one pass per request
        if name in signed:
            continue
        if name.startswith("x-amz-"):
            if name in EXEMPT:
                continue
        elif (name not in MUST_SIGN or (presigned and name in PRESIGNED_EXEMPT)
              or (name == "host" and not host_signable)):
            continue
        out.add(name)
    return sorted(out)


def check_signed(
    headers: Headers,
    signed: Container[str],
    *,
    host_signable: bool = True,
    presigned: bool = False,
) -> None:
    """Refuse a request that carries a header its signature does not cover.

    Args:
        headers: the request's headers as received (any case; repeats allowed).
        signed: the lower-case names the signature covers (SigV4 SignedHeaders /
            X-Amz-SignedHeaders, or the headers of a SigV2 string to sign).
        host_signable: False for SigV2, whose string to sign has no Host.
        presigned: True for a SigV4 presigned URL, which may leave Content-MD5 unsigned.

    Raises:
        S3Error: 403 AccessDenied with ``HeadersNotSigned`` (comma-separated names).
    """
    missing = unsigned_headers(
        headers, signed, host_signable=host_signable, presigned=presigned
    )
    if missing:
        raise S3Error("AccessDenied", MESSAGE, extra={"HeadersNotSigned": ", ".join(missing)})
