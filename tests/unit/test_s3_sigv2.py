"""SigV2 (HMAC-SHA1) verification against botocore's HmacV1Auth / HmacV1QueryAuth."""

from __future__ import annotations

import time
from email.utils import formatdate
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from aisfs.errors import S3Error
from aisfs.s3 import sigv2

AK, SK = "AKIDV2", "v2-secret/EXAMPLEKEY"
SECRETS = {AK: SK}
CREDS = Credentials(AK, SK)


def signed(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    auth_path: str | None = None,
    presign: int | None = None,
) -> tuple[str, str, dict[str, str]]:
    """Sign with botocore (as boto3 with signature_version='s3' does): (path, query, headers)."""
    req = AWSRequest(method=method, url=url, headers=headers or {})
    req.auth_path = auth_path
    if presign is not None:
        HmacV1QueryAuth(CREDS, expires=presign).add_auth(req)
    else:
        HmacV1Auth(CREDS).add_auth(req)
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    return parts.path, parts.query, dict(prepared.headers.items())


def verify(method: str, path: str, query: str, headers: dict[str, str],
           bucket_path: str | None = None, now: float | None = None) -> str:
    return sigv2.verify(
        method, sigv2.candidate_resources(path, bucket_path), query, headers, SECRETS,
        time.time() if now is None else now,
    )


@pytest.mark.parametrize(
    ("method", "url", "auth_path", "bucket_path"),
    [
        # botocore signs /bucket/ for bucket-level requests to a path-style /s3 endpoint
        ("PUT", "http://h/s3/bkt", "/bkt/", "/bkt"),
        ("GET", "http://h/s3/bkt?prefix=a&delimiter=%2F", "/bkt/", "/bkt"),
        ("GET", "http://h/s3/bkt?versioning", "/bkt/", "/bkt"),
        ("GET", "http://h/s3", None, ""),  # ListBuckets
        ("GET", "http://h/s3/bkt/k%20y", "/bkt/k%20y", "/bkt/k%20y"),
        ("PUT", "http://h/s3/bkt/k?partNumber=2&uploadId=xyz", "/bkt/k", "/bkt/k"),
        ("GET", "http://bkt.h/", "/bkt/", "/bkt/"),  # virtual-hosted
        ("GET", "http://h/bkt/", None, "/bkt/"),  # S3 API at the root, slash as sent
        ("GET", "http://h/", "/", ""),  # s3cmd's ListBuckets at the root
    ],
)
def test_header_auth_matches_botocore(
    method: str, url: str, auth_path: str | None, bucket_path: str
) -> None:
    path, query, headers = signed(method, url, {"x-amz-meta-a": " 1 "}, auth_path)
    assert verify(method, path, query, headers, bucket_path) == AK


def test_bucket_slash_only_for_the_bucket_itself() -> None:
    assert sigv2.candidate_resources("/s3/bkt", "/bkt") == ["/bkt", "/bkt/"]
    assert sigv2.candidate_resources("/s3/bkt/k", "/bkt/k") == ["/bkt/k"]
    assert sigv2.candidate_resources("/s3", "") == ["/", "/s3"]
    assert sigv2.candidate_resources("/s3/", "/") == ["/", "/s3/"]
    assert sigv2.candidate_resources("/", "/") == ["/"]
    assert sigv2.candidate_resources("/v1/x", None) == ["/v1/x"]
    # a signature for the bucket does not open an object
    path, query, headers = signed("GET", "http://h/s3/bkt", auth_path="/bkt/")
    with pytest.raises(S3Error) as exc:
        verify("GET", "/s3/bkt/k", query, headers, "/bkt/k")
    assert exc.value.code == "SignatureDoesNotMatch"


def test_request_time_window() -> None:
    path, query, headers = signed("GET", "http://h/s3/bkt/k", auth_path="/bkt/k")
    now = time.time()
    assert verify("GET", path, query, headers, "/bkt/k", now=now + 14 * 60) == AK
    for skew in (16 * 60, -16 * 60, 3e8):
        with pytest.raises(S3Error) as exc:
            verify("GET", path, query, headers, "/bkt/k", now=now + skew)
        assert exc.value.code == "RequestTimeTooSkewed" and exc.value.status == 403
        assert exc.value.extra["MaxAllowedSkewMilliseconds"] == "900000"


def test_x_amz_date_is_the_request_time() -> None:
    old = formatdate(time.time() - 3600, usegmt=True)
    # x-amz-date is signed (Date's line is then empty) and is the time checked
    path, query, headers = signed("GET", "http://h/s3/bkt/k", {"x-amz-date": old}, "/bkt/k")
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, headers, "/bkt/k")
    assert exc.value.code == "RequestTimeTooSkewed"
    headers = {k: v for k, v in headers.items() if k != "Date"}
    headers["x-amz-date"] = formatdate(usegmt=True)  # changing it breaks the signature
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, headers, "/bkt/k")
    assert exc.value.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("date", [None, "", "yesterday", "Mon, 99 Foo 2020 00:00:00 GMT"])
def test_missing_or_bad_date(date: str | None) -> None:
    path, query, headers = signed("GET", "http://h/s3/bkt/k", auth_path="/bkt/k")
    headers.pop("Date")
    if date is not None:
        headers["Date"] = date
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, headers, "/bkt/k")
    assert exc.value.code == "AccessDenied"


def test_presigned_and_expiry() -> None:
    path, query, headers = signed("GET", "http://h/s3/bkt/k", auth_path="/bkt/k", presign=60)
    assert verify("GET", path, query, {}, "/bkt/k") == AK
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, {}, "/bkt/k", now=time.time() + 120)
    assert (exc.value.code, exc.value.message) == ("AccessDenied", "Request has expired")
    for bad in ("²", "9" * 5000, ""):
        q = "&".join(f"Expires={bad}" if p.startswith("Expires=") else p for p in query.split("&"))
        with pytest.raises(S3Error) as exc:
            verify("GET", path, q, {}, "/bkt/k")
        assert exc.value.code == "AccessDenied"


@pytest.mark.parametrize("presign", [None, 60])
@pytest.mark.parametrize(
    "extra", [{"x-amz-copy-source": "/other/secret.txt"}, {"X-Amz-Meta-X": "1"},
              {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}],
)
def test_added_headers_break_the_signature(presign: int | None, extra: dict[str, str]) -> None:
    """SigV2 signs every x-amz-* header and Content-MD5 by construction."""
    path, query, headers = signed("PUT", "http://h/s3/bkt/k", auth_path="/bkt/k", presign=presign)
    with pytest.raises(S3Error) as exc:
        verify("PUT", path, query, {**headers, **extra}, "/bkt/k")
    assert exc.value.code == "SignatureDoesNotMatch"


def test_signed_amz_headers_pass() -> None:
    hdrs = {"x-amz-copy-source": "/src/k", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
            "Content-Type": "text/plain", "x-amz-meta-b": "2"}
    path, query, headers = signed("PUT", "http://h/s3/bkt/k", hdrs, "/bkt/k")
    assert verify("PUT", path, query, {**headers, "X-Amzn-Trace-Id": "t"}, "/bkt/k") == AK


def test_non_ascii_signature_is_a_mismatch() -> None:
    path, query, headers = signed("GET", "http://h/s3/bkt/k", auth_path="/bkt/k")
    headers["Authorization"] = f"AWS {AK}:\u00e9\u00e9"
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, headers, "/bkt/k")
    assert exc.value.code == "SignatureDoesNotMatch"


def test_a_resource_names_one_bucket_and_key() -> None:
    """Under the base /s3, the path /s3/x/y is bucket x, key y; as a SigV2 resource,
    /s3/x/y is bucket s3, key x/y. A signature for either opens only its own object,
    wherever the request is served (the base, the root with S3-API-via-Root, a virtual
    host)."""
    # what the clients sign for bucket x, key y at an endpoint ending in /s3
    path, query, headers = signed("GET", "http://h/s3/x/y", auth_path="/x/y")
    assert verify("GET", path, query, headers, "/x/y") == AK
    # the same signature for bucket s3, key x/y (root path-style or s3.domain/x/y)
    for sent in ("/s3/x/y", "/x/y"):
        with pytest.raises(S3Error) as exc:
            verify("GET", sent, query, headers, "/s3/x/y")
        assert exc.value.code == "SignatureDoesNotMatch"
    # a signature for bucket s3, key x/y does not open bucket x, key y under the base
    path, query, headers = signed("GET", "http://h/s3/x/y", auth_path="/s3/x/y")
    assert verify("GET", "/x/y", query, headers, "/s3/x/y") == AK  # s3.domain/x/y
    with pytest.raises(S3Error) as exc:
        verify("GET", "/s3/x/y", query, headers, "/x/y")
    assert exc.value.code == "SignatureDoesNotMatch"
    # presigned the same
    path, query, headers = signed("GET", "http://h/s3/x/y", auth_path="/s3/x/y", presign=60)
    with pytest.raises(S3Error) as exc:
        verify("GET", "/s3/x/y", query, headers, "/x/y")
    assert exc.value.code == "SignatureDoesNotMatch"
    # a virtual host's path as sent is not a resource either: /y is bucket y
    path, query, headers = signed("GET", "http://h/y", auth_path="/y")
    with pytest.raises(S3Error) as exc:
        verify("GET", "/y", query, headers, "/x/y")  # x.domain/y
    assert exc.value.code == "SignatureDoesNotMatch"
