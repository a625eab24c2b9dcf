"""The shortcuts of SigV4 verification (aisfs/s3/sigv4.py, request_time, signed_headers)
give exactly what the plain forms gave: canonical header lines against a reference
written as the specification says, the X-Amz-Date kept from the last request, the
SignedHeaders lists kept, the must-be-signed rule inlined."""

from __future__ import annotations

import re
import time

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.s3.request_time import amz_time
from aisfs.s3.signed_headers import must_be_signed, unsigned_headers
from aisfs.s3.sigv4 import canonical_headers, verify_request
from aisfs_node.http import Headers

AK, SK = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def reference_lines(pairs: list[tuple[str, str]], signed: list[str]) -> str:
    """Canonical headers as the SigV4 documentation words them (the former code)."""
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        values.setdefault(name.lower(), []).append(re.sub(r"\s+", " ", value.strip()))
    return "".join(f"{n}:{','.join(values[n])}\n" for n in signed)


names = st.sampled_from(["host", "x-amz-date", "x-amz-meta-a", "content-md5", "range"])
values = st.text(st.sampled_from("ab \t\x0b\x0c\x1c\x85\xa0\u3000é,"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(names, values), min_size=1, max_size=8))
def test_canonical_headers_as_the_reference(pairs: list[tuple[str, str]]) -> None:
    signed = sorted({n for n, _ in pairs})
    # a list of pairs (repeats stay repeats) and a mapping of the node (repeats joined)
    assert canonical_headers(pairs, signed) == reference_lines(pairs, signed)
    raw = [(n.encode("latin-1"), v.encode("utf-8")) for n, v in pairs]
    node = Headers(raw)
    assert canonical_headers(node, signed) == reference_lines(node.items(), signed)


def test_signed_but_missing_is_refused_both_ways() -> None:
    for headers in ([("host", "h")], Headers([(b"host", b"h")])):
        with pytest.raises(S3Error) as e:
            canonical_headers(headers, ["host", "x-amz-date"])
        assert e.value.code == "SignatureDoesNotMatch"


def test_amz_time_kept_only_for_a_good_date() -> None:
    good = "20261206T020320Z"
    assert amz_time(good) == amz_time(good) == 1796522600
    for bad in ("", "20261306T020320Z", "20261206T250000Z", "2026126T020320Z"):
        with pytest.raises(S3Error):
            amz_time(bad)
        assert amz_time(good) == 1796522600


@given(st.lists(st.sampled_from(
    ["host", "x-amz-date", "x-amz-content-sha256", "content-md5", "x-amz-meta-a",
     "range", "x-amzn-trace-id", "x-amz-acl"]), max_size=6),
    st.sets(st.sampled_from(["host", "x-amz-date", "content-md5"])),
    st.booleans(), st.booleans())
def test_unsigned_headers_is_must_be_signed(sent: list[str], signed: set[str],
                                            host_signable: bool, presigned: bool) -> None:
    want = sorted({n for n in sent if n not in signed and must_be_signed(n, presigned=presigned)
                   and not (n == "host" and not host_signable)})
    got = unsigned_headers([(n, "v") for n in sent], signed, host_signable=host_signable,
                           presigned=presigned)
    assert got == want


def sign(signed_headers: str | None = None) -> tuple[dict[str, str], float]:
    req = AWSRequest(method="GET", url="http://h:1/s3/b/k",
                     headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials(AK, SK), "s3", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    headers["Host"] = "h:1"
    if signed_headers is not None:
        headers["Authorization"] = re.sub(r"SignedHeaders=[^,]*",
                                          f"SignedHeaders={signed_headers}",
                                          headers["Authorization"])
    return headers, time.time()


def test_signed_header_lists_are_checked_every_time() -> None:
    headers, now = sign()
    assert verify_request("GET", "/s3/b/k", "", headers, {AK: SK}, now) is not None
    for bad, code in (("x-amz-date;host", "AuthorizationHeaderMalformed"),
                      ("x-amz-date", "AuthorizationHeaderMalformed")):
        for _ in range(2):  # refused again: a refused list is not kept as good
            h, now = sign(bad)
            with pytest.raises(S3Error) as e:
                verify_request("GET", "/s3/b/k", "", h, {AK: SK}, now)
            assert e.value.code == code
    # a good list seen before still proves nothing about a changed request
    headers, now = sign()
    date = headers.pop("X-Amz-Date")
    headers["x-amz-date"] = date[:-2] + ("1" if date[-2] == "0" else "0") + "Z"  # changed
    with pytest.raises(S3Error) as e:
        verify_request("GET", "/s3/b/k", "", headers, {AK: SK}, now)
    assert e.value.code in ("SignatureDoesNotMatch", "RequestTimeTooSkewed")
