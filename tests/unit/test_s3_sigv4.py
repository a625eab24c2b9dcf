from __future__ import annotations

import hashlib
import time
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from aisfs.errors import S3Error
from aisfs.s3.chunked import AwsChunkedDecoder, ChunkData, EndOfBody
from aisfs.s3.sigv4 import (
    ChunkSigner,
    SigningKeyCache,
    check_payload_sha256,
    derive_signing_key,
    is_signed,
    verify_request,
)

AK, SK = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SECRETS = {AK: SK}
CREDS = Credentials(AK, SK)


def signed(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    region: str = "us-east-1",
    presign: int | None = None,
) -> tuple[str, str, dict[str, str]]:
    """Sign with botocore; return (raw_path, raw_query, headers) as a server sees them."""
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    if presign is not None:
        S3SigV4QueryAuth(CREDS, "s3", region, expires=presign).add_auth(req)
    else:
        S3SigV4Auth(CREDS, "s3", region).add_auth(req)
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    hdrs = {k: v for k, v in prepared.headers.items()}
    hdrs["Host"] = parts.netloc
    return parts.path, parts.query, hdrs


def verify(method: str, path: str, query: str, headers: dict[str, str], **kw: object):  # type: ignore[no-untyped-def]
    now = kw.pop("now", time.time())
    return verify_request(method, path, query, headers, SECRETS, now, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "http://127.0.0.1:8080/s3/bkt/key"),
        ("GET", "http://localhost/s3/bkt/a%20b/c%2Bd/%C3%A9~x"),
        ("GET", "http://localhost/s3/bkt?list-type=2&prefix=a%2Fb&delimiter=%2F"),
        ("PUT", "http://localhost/s3/bkt/k?partNumber=1&uploadId=abc%3D%3D"),
        ("GET", "http://localhost/s3/bkt?versioning"),
        ("DELETE", "http://localhost/s3/bkt/a//b"),
        ("GET", "http://bkt.s3.local:9000/key?response-content-type=text%2Fplain"),
    ],
)
def test_header_auth_matches_botocore(method: str, url: str) -> None:
    body = b"hello" if method == "PUT" else b""
    path, query, headers = signed(
        method, url, body, {"Range": "bytes=0-1", "X-Amz-Meta-A": " x  y "}
    )
    res = verify(method, path, query, headers)
    assert res is not None
    assert res.access_key == AK
    assert res.payload_hash == hashlib.sha256(body).hexdigest()
    check_payload_sha256(res.payload_hash, hashlib.sha256(body).digest())
    with pytest.raises(S3Error) as exc:
        check_payload_sha256(res.payload_hash, hashlib.sha256(b"other").digest())
    assert exc.value.code == "XAmzContentSHA256Mismatch"


@pytest.mark.parametrize(
    "tamper",
    ["method", "path", "query", "header", "signature", "secret"],
)
def test_header_auth_tampered(tamper: str) -> None:
    method = "GET"
    path, query, headers = signed(
        method, "http://h/s3/bkt/key?x-id=GetObject", headers={"Range": "bytes=0-9"}
    )
    secrets = SECRETS
    if tamper == "method":
        method = "DELETE"
    elif tamper == "path":
        path = "/s3/bkt/kez"
    elif tamper == "query":
        query += "&tagging"
    elif tamper == "header":
        headers["Range"] = "bytes=0-99"
    elif tamper == "signature":
        auth = headers["Authorization"]
        headers["Authorization"] = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    else:
        secrets = {AK: "wrong"}
    with pytest.raises(S3Error) as exc:
        verify_request(method, path, query, headers, secrets, time.time())
    assert exc.value.code == "SignatureDoesNotMatch"
    assert exc.value.status == 403


def test_header_auth_errors() -> None:
    path, query, headers = signed("GET", "http://h/s3/bkt/key")
    with pytest.raises(S3Error) as exc:
        verify_request("GET", path, query, headers, {}, time.time())
    assert exc.value.code == "InvalidAccessKeyId"
    with pytest.raises(S3Error) as exc:
        verify_request("GET", path, query, headers, lambda ak: None, time.time())
    assert exc.value.code == "InvalidAccessKeyId"
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, headers, now=time.time() + 3600)
    assert exc.value.code == "RequestTimeTooSkewed"
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, headers, region="eu-west-1")
    assert exc.value.code == "AuthorizationHeaderMalformed"
    assert verify("GET", path, query, headers, region="us-east-1") is not None
    for bad in (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2013/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=host, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 garbage",
    ):
        h = dict(headers, Authorization=bad)
        with pytest.raises(S3Error) as exc:
            verify("GET", path, query, h)
        assert exc.value.code == "AuthorizationHeaderMalformed", bad
    h = dict(headers, Authorization="AWS AKIDEXAMPLE:abc")
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, h)
    assert exc.value.code == "InvalidRequest"
    h = {k: v for k, v in headers.items() if k.lower() != "x-amz-content-sha256"}
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, h)
    assert exc.value.code in ("InvalidRequest", "SignatureDoesNotMatch")


def test_anonymous() -> None:
    assert verify_request("GET", "/s3/b/k", "", {"Host": "h"}, SECRETS, time.time()) is None
    assert not is_signed({"Host": "h"}, "")
    assert is_signed({"Authorization": "x"}, "")
    assert is_signed({}, b"X-Amz-Signature=abc")


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/s3/bkt/key",
        "http://localhost/s3/bkt/a%20b/%C3%A9?versionId=null",
        "http://localhost/s3/bkt/k?response-content-disposition=attachment%3B%20x",
    ],
)
def test_presigned_matches_botocore(url: str) -> None:
    path, query, headers = signed("GET", url, presign=600)
    headers.pop("Authorization", None)
    res = verify("GET", path, query, headers)
    assert res is not None and res.presigned
    assert res.payload_hash == "UNSIGNED-PAYLOAD"
    # tampered
    with pytest.raises(S3Error) as exc:
        verify("GET", path + "x", query, headers)
    assert exc.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as exc:
        verify("PUT", path, query, headers)
    assert exc.value.code == "SignatureDoesNotMatch"


def test_presigned_expiry() -> None:
    path, query, headers = signed("GET", "http://h/s3/bkt/key", presign=60)
    assert verify("GET", path, query, headers, now=time.time() + 30) is not None
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, headers, now=time.time() + 120)
    assert exc.value.code == "AccessDenied"
    assert exc.value.message == "Request has expired"


def test_presigned_malformed() -> None:
    path, query, headers = signed("GET", "http://h/s3/bkt/key", presign=60)
    for drop in ("X-Amz-Expires", "X-Amz-Credential", "X-Amz-Date"):
        q = "&".join(p for p in query.split("&") if not p.startswith(drop + "="))
        with pytest.raises(S3Error) as exc:
            verify("GET", path, q, headers)
        assert exc.value.code == "AuthorizationQueryParametersError"
        assert exc.value.status == 400
    q = query.replace("X-Amz-Expires=60", "X-Amz-Expires=604801")
    with pytest.raises(S3Error) as exc:
        verify("GET", path, q, headers)
    assert exc.value.code == "AuthorizationQueryParametersError"


def test_signing_key_cache() -> None:
    cache = SigningKeyCache(capacity=2)
    k1 = cache.get(SK, "20130524", "us-east-1", "s3", AK)
    assert cache.get(SK, "20130524", "us-east-1", "s3", AK) == k1
    assert (cache.hits, cache.misses) == (1, 1)
    cache.get(SK, "20130525", "us-east-1", "s3", AK)
    cache.get(SK, "20130526", "us-east-1", "s3", AK)
    cache.get(SK, "20130524", "us-east-1", "s3", AK)
    assert cache.misses == 4
    path, query, headers = signed("GET", "http://h/s3/bkt/key")
    verify("GET", path, query, headers, cache=cache)
    verify("GET", path, query, headers, cache=cache)
    assert cache.hits == 2


# The example of "Signature Calculations for the Authorization Header: Transferring Payload
# in Multiple Chunks" (AWS S3 API reference, sigv4-streaming).
EX_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EX_DATE = "20130524T000000Z"
EX_SCOPE = "20130524/us-east-1/s3/aws4_request"
EX_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
EX_SIGS = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
]


def test_aws_streaming_example_seed() -> None:
    headers = {
        "Host": "s3.amazonaws.com",
        "x-amz-date": EX_DATE,
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/"
        "s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;"
        f"x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature={EX_SEED}",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "Content-Length": "66824",
    }
    now = 1369353600.0  # 2013-05-24T00:00:00Z
    res = verify_request(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        headers,
        {"AKIAIOSFODNN7EXAMPLE": EX_SECRET},
        now,
    )
    assert res is not None and res.streaming_signed
    assert res.signature == EX_SEED
    # the whole body through the decoder, signatures verified by the chain
    chunks = [b"a" * 65536, b"a" * 1024, b""]
    body = b"".join(
        f"{len(c):x};chunk-signature={s}\r\n".encode() + c + b"\r\n"
        for c, s in zip(chunks, EX_SIGS, strict=True)
    )
    assert len(body) == 66824  # the example's Content-Length
    dec = AwsChunkedDecoder(signing=res.chunk_signer(), decoded_length=66560)
    dec.feed(body)
    data = b"".join(ev.data for ev in dec.events() if isinstance(ev, ChunkData))
    assert data == b"a" * 66560
    # a tampered chunk breaks the chain
    dec = AwsChunkedDecoder(signing=res.chunk_signer())
    dec.feed(body.replace(b"a" * 1024, b"b" * 1024))
    with pytest.raises(S3Error) as exc:
        dec.events()
    assert exc.value.code == "SignatureDoesNotMatch"


def test_chunk_signer_chain() -> None:
    key = derive_signing_key(EX_SECRET, "20130524", "us-east-1", "s3")
    signer = ChunkSigner(key, EX_DATE, EX_SCOPE, EX_SEED)
    for chunk, want in zip([b"a" * 65536, b"a" * 1024, b""], EX_SIGS, strict=True):
        assert signer.sign_chunk(hashlib.sha256(chunk).digest()) == want
    # a chunk, the final chunk and a signed trailer
    v = ChunkSigner(key, EX_DATE, EX_SCOPE, EX_SEED)
    s1 = ChunkSigner(key, EX_DATE, EX_SCOPE, EX_SEED)
    c1 = s1.sign_chunk(hashlib.sha256(b"hello").digest())
    c2 = s1.sign_chunk(hashlib.sha256(b"").digest())
    t = s1.sign_trailer(b"x-amz-checksum-crc32:NhCmhg==\n")
    body = (
        f"5;chunk-signature={c1}\r\nhello\r\n0;chunk-signature={c2}\r\n"
        f"x-amz-checksum-crc32:NhCmhg==\r\nx-amz-trailer-signature:{t}\r\n\r\n"
    ).encode()
    dec = AwsChunkedDecoder(["x-amz-checksum-crc32"], signing=v)
    dec.feed(body)
    events = dec.events()
    assert events[-1] == EndOfBody(5)
    v2 = ChunkSigner(key, EX_DATE, EX_SCOPE, EX_SEED)
    dec = AwsChunkedDecoder(["x-amz-checksum-crc32"], signing=v2)
    dec.feed(body.replace(b"NhCmhg==\r\n", b"AAAAAA==\r\n"))
    with pytest.raises(S3Error) as exc:
        dec.events()
    assert exc.value.code == "SignatureDoesNotMatch"


# ---------------------------------------------------------------- signed-header policy


def _denied_unsigned(exc: pytest.ExceptionInfo[S3Error], *names: str) -> None:
    assert exc.value.code == "AccessDenied" and exc.value.status == 403
    assert exc.value.message == "There were headers present in the request which were not signed"
    assert exc.value.extra["HeadersNotSigned"] == ", ".join(names)


@pytest.mark.parametrize("presign", [None, 300])
@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"x-amz-copy-source": "/otherbucket/secret.txt"}, ["x-amz-copy-source"]),
        ({"X-Amz-Meta-Owner": "mallory"}, ["x-amz-meta-owner"]),
        ({"x-amz-tagging": "a=b", "x-amz-acl": "public-read"}, ["x-amz-acl", "x-amz-tagging"]),
        ({"x-amz-meta-a": "1", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, ["x-amz-meta-a"]),
    ],
)
def test_unsigned_headers_refused(
    presign: int | None, extra: dict[str, str], names: list[str]
) -> None:
    path, query, headers = signed("PUT", "http://h/s3/bkt/key", presign=presign)
    assert verify("PUT", path, query, headers) is not None  # as signed: accepted
    with pytest.raises(S3Error) as exc:
        verify("PUT", path, query, {**headers, **extra})
    if presign is None and "Content-MD5" in extra:
        names = sorted([*names, "content-md5"])
    _denied_unsigned(exc, *names)


def test_content_md5_signed_on_header_auth_not_on_presigned_urls() -> None:
    """As on S3: a presigned URL needs host and the x-amz-* headers sent signed, nothing
    else; Content-MD5 added to a presigned PUT is served (the node still checks it against
    the body). A header-signed request must sign it."""
    md5 = {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}
    path, query, headers = signed("PUT", "http://h/s3/bkt/key")
    with pytest.raises(S3Error) as exc:
        verify("PUT", path, query, {**headers, **md5})
    _denied_unsigned(exc, "content-md5")
    path, query, headers = signed("PUT", "http://h/s3/bkt/key", presign=300)
    result = verify("PUT", path, query, {**headers, **md5})
    assert result is not None and result.presigned


@pytest.mark.parametrize("presign", [None, 300])
def test_signed_amz_headers_and_exemptions_pass(presign: int | None) -> None:
    hdrs = {"x-amz-copy-source": "/src/k", "X-Amz-Meta-A": "1", "Content-MD5": "abc="}
    path, query, headers = signed("PUT", "http://h/s3/bkt/key", headers=hdrs, presign=presign)
    # headers that need no signature: x-amzn-* trace ids, ordinary ones
    extra = {"X-Amzn-Trace-Id": "Root=1", "User-Agent": "x", "Content-Type": "text/plain"}
    if presign is not None:
        extra["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"  # S3 accepts it unsigned
    assert verify("PUT", path, query, {**headers, **extra}) is not None


def test_unsigned_header_checked_after_signature() -> None:
    """A forged request is a signature mismatch, whatever it carries."""
    path, query, headers = signed("GET", "http://h/s3/bkt/key")
    auth = headers["Authorization"]
    forged = auth[:-1] + ("0" if auth[-1] != "0" else "1")  # always another signature
    headers = {**headers, "x-amz-meta-z": "1", "Authorization": forged}
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, headers)
    assert exc.value.code == "SignatureDoesNotMatch"


def test_policy_names() -> None:
    from aisfs.s3.signed_headers import must_be_signed, unsigned_headers

    assert must_be_signed("x-amz-copy-source") and must_be_signed("content-md5")
    assert must_be_signed("host") and not must_be_signed("x-amz-content-sha256")
    assert not must_be_signed("content-md5", presigned=True)
    assert must_be_signed("x-amz-meta-a", presigned=True) and must_be_signed("host", presigned=True)
    assert not must_be_signed("x-amzn-trace-id") and not must_be_signed("content-type")
    hdrs = [("Host", "h"), ("X-Amz-Meta-A", "1"), ("x-amz-meta-a", "2")]
    assert unsigned_headers(hdrs, {"x-amz-date"}) == ["host", "x-amz-meta-a"]
    assert unsigned_headers(hdrs, {"x-amz-meta-a"}, host_signable=False) == []


# ---------------------------------------------------------------- dates


def test_amz_time_exact() -> None:
    import calendar

    from aisfs.s3.request_time import amz_time

    for s in ["19700101T000000Z", "20000229T235959Z", "20261205T193108Z", "99991231T235960Z"]:
        assert amz_time(s) == calendar.timegm(time.strptime(s, "%Y%m%dT%H%M%SZ"))
    for bad in ["20230229T000000Z", "20231301T000000Z", "20230101T240000Z", "20230101T006000Z",
                "2023010１T000000Z", "20230101T000000", "20230101 000000Z", "", "x" * 16]:
        with pytest.raises(S3Error) as exc:
            amz_time(bad)
        assert exc.value.code == "AccessDenied"


def test_date_header_with_offset_is_utc() -> None:
    from aisfs.s3.request_time import http_date_seconds, http_date_to_amz

    assert http_date_to_amz("Sun, 06 Nov 1994 09:49:37 +0100") == "19941106T084937Z"
    assert http_date_to_amz("Sun, 06 Nov 1994 08:49:37 GMT") == "19941106T084937Z"
    gmt = "Sun, 06 Nov 1994 08:49:37 GMT"
    assert http_date_seconds("19941106T084937Z") == http_date_seconds(gmt)


@pytest.mark.parametrize("expires", ["²", "1" * 5000, "-1", "", " 60", "６０"])
def test_presigned_expires_bad_numbers(expires: str) -> None:
    path, query, headers = signed("GET", "http://h/s3/bkt/key", presign=60)
    query = "&".join(
        f"X-Amz-Expires={expires}" if p.startswith("X-Amz-Expires=") else p
        for p in query.split("&")
    )
    with pytest.raises(S3Error) as exc:
        verify("GET", path, query, headers)
    assert exc.value.code == "AuthorizationQueryParametersError"


# --------------------------------------------------------------------------- base path


def s3cmd_signed(
    method: str, host_base: str, resource_uri: str, params: dict[str, str] | None = None,
    body: bytes = b"",
) -> dict[str, str]:
    """Headers signed by s3cmd's own signer (S3/Crypto.py), as with ``host_base = host_base``."""
    s3cfg = pytest.importorskip("S3.Config")
    crypto = pytest.importorskip("S3.Crypto")
    sorted_dict = pytest.importorskip("S3.SortedDict")
    cfg = s3cfg.Config()
    cfg.access_key, cfg.secret_key = AK, SK
    signed_headers = crypto.sign_request_v4(
        method, host_base, resource_uri, params or {}, "us-east-1",
        sorted_dict.SortedDict(ignore_case=True), body,
    )
    return {str(k): str(v) for k, v in signed_headers.items()}


@pytest.mark.parametrize(
    ("method", "resource", "params", "sent_path", "sent_query"),
    [
        ("GET", "/", {}, "/s3/", ""),  # ListBuckets
        ("PUT", "/demo/", {}, "/s3/demo/", ""),  # mb
        ("GET", "/demo/", {"prefix": "a/", "delimiter": "/"}, "/s3/demo/",
         "delimiter=%2F&prefix=a%2F"),
        ("PUT", "/demo/dir/a b+c", {}, "/s3/demo/dir/a%20b%2Bc", ""),
        ("POST", "/demo/big", {"uploads": ""}, "/s3/demo/big", "uploads"),
    ],
)
def test_s3cmd_host_base_with_the_base_path(
    method: str, resource: str, params: dict[str, str], sent_path: str, sent_query: str
) -> None:
    """s3cmd with ``host_base = h:8080/s3`` signs Host ``h:8080/s3`` and the path without
    ``/s3``, then sends ``Host: h:8080`` and ``/s3/...``: verified under the base ``/s3``."""
    headers = s3cmd_signed(method, "h:8080/s3", resource, params)
    headers["Host"] = "h:8080"
    assert verify(method, sent_path, sent_query, headers, base_path="/s3") is not None
    # not without the base, not under another base, not served at the root
    for base in ("", "/s4", "/s"):
        with pytest.raises(S3Error) as exc:
            verify(method, sent_path, sent_query, headers, base_path=base)
        assert exc.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as exc:
        verify(method, sent_path.removeprefix("/s3"), sent_query, headers, base_path="/s3")
    assert exc.value.code == "SignatureDoesNotMatch"


def test_base_path_form_still_checks_everything_else() -> None:
    headers = s3cmd_signed("PUT", "h:8080/s3", "/demo/k", body=b"hello")
    headers["Host"] = "h:8080"
    result = verify("PUT", "/s3/demo/k", "", headers, base_path="/s3")
    assert result is not None and result.payload_hash == hashlib.sha256(b"hello").hexdigest()
    for tampered in (
        {"Host": "other:8080"},
        {"Host": "h:8080/s3"},  # the base twice
        # another second (a date already at :00 was no tampering: 1 run in 60 failed)
        {"x-amz-date": headers["x-amz-date"][:-3]
         + ("01Z" if headers["x-amz-date"].endswith("00Z") else "00Z")},
    ):
        with pytest.raises(S3Error) as exc:
            verify("PUT", "/s3/demo/k", "", {**headers, **tampered}, base_path="/s3")
        assert exc.value.code == "SignatureDoesNotMatch"
    for method, path, query in (("GET", "/s3/demo/k", ""), ("PUT", "/s3/demo/k2", ""),
                                ("PUT", "/s3/demo/k", "acl")):
        with pytest.raises(S3Error) as exc:
            verify(method, path, query, headers, base_path="/s3")
        assert exc.value.code == "SignatureDoesNotMatch"
    # an unsigned x-amz-* header is refused in this form too
    with pytest.raises(S3Error) as exc:
        verify("PUT", "/s3/demo/k", "", {**headers, "x-amz-copy-source": "/o/secret"},
               base_path="/s3")
    assert exc.value.code == "AccessDenied"


@pytest.mark.parametrize("presign", [None, 300])
def test_botocore_endpoint_with_base_path_as_received(presign: int | None) -> None:
    """boto3 and the aws CLI (endpoint_url=http://h:8080/s3) sign the request as sent."""
    path, query, headers = signed("GET", "http://h:8080/s3/demo/k", presign=presign)
    assert verify("GET", path, query, headers, base_path="/s3") is not None
    assert verify("GET", path, query, headers) is not None
    # the base moved into the Host is another request: the form received only
    path, query, headers = signed("GET", "http://h:8080/demo/k", presign=presign,
                                  headers={"Host": "h:8080/s3"})
    headers["Host"] = "h:8080"
    assert verify("GET", "/s3/demo/k", query, headers, base_path="/s3") is not None
    with pytest.raises(S3Error):
        verify("GET", "/demo/k", query, headers, base_path="/s3")
