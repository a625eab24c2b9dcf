"""Bad input gets a clear S3 error and loses nothing: never a 500, a traceback, or a file
outside the data directory. The `node` fixture also fails on any traceback in the log."""

from __future__ import annotations

import http.client
from urllib.parse import urlparse

import pytest

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Delete><Object><Key>&lol3;</Key></Object></Delete>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Tagging><TagSet><Tag><Key>&xxe;</Key><Value>v</Value></Tag></TagSet></Tagging>"""


def raw(node, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    u = urlparse(node.s3_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest(method, u.path + path, skip_accept_encoding=True)
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    if body or method in ("PUT", "POST"):
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    if body:
        conn.send(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data, resp


@pytest.fixture
def seeded(node, s3):
    s3.create_bucket(Bucket="hostile")
    s3.put_object(Bucket="hostile", Key="keep", Body=b"precious")
    return node


CASES = [
    ("POST", "/hostile?delete", b"<Delete><Object><Key>x</Key>", {}, "MalformedXML"),
    ("POST", "/hostile?delete", BOMB, {}, "MalformedXML"),
    ("PUT", "/hostile/keep?tagging", EXTERNAL, {}, "MalformedXML"),
    ("PUT", "/hostile?cors", b"not xml at all", {}, "MalformedXML"),
    ("POST", "/hostile/keep?uploadId=nope", b"<CompleteMultipartUpload>", {}, None),
    ("GET", "/hostile/keep?partNumber=0", b"", {}, "InvalidArgument"),
    ("GET", "/hostile?max-keys=abc", b"", {}, "InvalidArgument"),
    ("GET", "/hostile?list-type=2&continuation-token=%%%garbage", b"", {}, None),
    ("GET", "/hostile/%FF%FE", b"", {}, None),
    ("PUT", "/hostile/a%00b", b"x", {}, "InvalidArgument"),
    ("PUT", "/hostile/" + "k" * 1100, b"x", {}, "KeyTooLongError"),
    ("PUT", "/hostile/cks", b"x", {"x-amz-checksum-crc32": "!!notbase64"}, "InvalidRequest"),
    ("PUT", "/hostile/md5", b"x", {"Content-MD5": "short"}, "InvalidDigest"),
    ("PUT", "/hostile/copy", b"", {"x-amz-copy-source": "nonsense"}, None),
    ("PUT", "/hostile/upc?partNumber=1&uploadId=zz", b"", {"x-amz-copy-source": "/hostile/keep",
                                                          "x-amz-copy-source-range": "bytes=9-1"},
     None),
    ("PATCH", "/hostile/keep", b"", {}, None),
    ("PUT", "/hostile/keep?retention", b"<Retention/>", {}, "InvalidRequest"),  # no lock
    ("DELETE", "/hostile?cors&tagging", b"", {}, None),
    ("PUT", "/Bad..Bucket", b"", {}, "InvalidBucketName"),
    ("PUT", "/hostile/chunked", b"zz\r\nnope\r\n", {"x-amz-content-sha256":
                                                    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                                    "Content-Encoding": "aws-chunked",
                                                    "x-amz-decoded-content-length": "4"}, None),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "code"), CASES)
def test_hostile_requests_get_clear_errors(seeded, s3, method, path, body, headers, code):
    status, data, _ = raw(seeded, method, path, body, headers)
    assert 400 <= status < 500 or status == 501, (status, data[:300])
    if method != "HEAD":
        assert b"<Error>" in data and b"<Code>" in data, data[:300]
    if code is not None:
        assert f"<Code>{code}</Code>".encode() in data, data[:300]
    # nothing was lost or half-written
    assert s3.get_object(Bucket="hostile", Key="keep")["Body"].read() == b"precious"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="hostile").get("Contents", [])]
    assert keys == ["keep"]


@pytest.mark.parametrize(
    "spec", ["bytes=5-1", "bytes=--", "bytes=99999999999999999999999-", "bytes=0-0,5-6",
             "items=0-1", "bytes=-0", "bytes= 1-2"]
)
def test_bogus_ranges(seeded, spec: str) -> None:
    status, data, resp = raw(seeded, "GET", "/hostile/keep", headers={"Range": spec})
    assert status in (200, 206, 416), (status, data[:200])
    if status == 200:
        assert data == b"precious"
    if status == 416:
        assert resp.getheader("Content-Range") == "bytes */8"


def test_short_body_leaves_nothing(seeded, s3) -> None:
    u = urlparse(seeded.s3_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("PUT", u.path + "/hostile/short")
    conn.putheader("Content-Length", "1000")
    conn.endheaders()
    conn.send(b"only a few bytes")
    conn.close()  # the client goes away mid-body
    import time

    time.sleep(0.5)  # real time: the node's process notices the client gone on its own
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="hostile").get("Contents", [])]
    assert keys == ["keep"]
