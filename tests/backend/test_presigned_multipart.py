"""Presigned-request offload of the multipart upload (feature S3-Presigned-Request, as AIS
forwards it): URLs presigned by boto3 for the backend's CreateMultipartUpload, UploadPart,
UploadPartCopy, ListParts, CompleteMultipartUpload and AbortMultipartUpload, sent to the
front with the host replaced by its ``/s3`` (httpx), are relayed to the backend - a SigV4
aisfs node - as signed; nothing is stored on the front, and a completion drops the front's
cached copy of the key. Both front auth modes: with SigV4 enforced the front's users' keys
are not the backend's, so only the offload lets these URLs through.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from support.node import NodeProcess, new_node

from . import test_presigned_offload as offload
from .test_presigned_offload import (
    STYLE,
    cached,
    direct,
    error_code,
    landed,
    own_client,
    to_front,
)

# the nodes: a SigV4 aisfs backend, a front in each auth mode with the flag on
backend = offload.backend
front = offload.front
_fronts = offload._fronts

MiB = 1024 * 1024
KEY = "mp/obj one.bin"


def old_object(front: NodeProcess, backend: NodeProcess) -> tuple[str, bytes]:
    """A backend bucket with an object at KEY, cached on the front."""
    bucket = f"mpre-{uuid.uuid4().hex[:10]}"
    old = b"the old object " * 100
    s3 = direct(backend)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=KEY, Body=old)
    assert own_client(front).get_object(Bucket=bucket, Key=KEY)["Body"].read() == old
    assert landed(front, bucket, KEY)
    return bucket, old


def url(backend: NodeProcess, front: NodeProcess, op: str, expires: int = 600,
        **params: Any) -> str:
    """A URL presigned for the backend (its own user's key), at the front."""
    signed = direct(backend).generate_presigned_url(op, Params=params, ExpiresIn=expires)
    return to_front(signed, front, backend)


def send(method: str, at: str, content: bytes | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.request(method, at, content=content, headers={STYLE: "path", **(headers or {})},
                         timeout=60)


def forge(u: str) -> str:
    return re.sub(r"X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=" + "0" * 64, u)


def upload_id(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    m = re.search(r"<UploadId>([^<]+)</UploadId>", r.text)
    assert m is not None, r.text
    return m.group(1)


def uploads_of(backend: NodeProcess, bucket: str) -> list[str]:
    listed = direct(backend).list_multipart_uploads(Bucket=bucket)
    return [u["UploadId"] for u in listed.get("Uploads", []) if u["Key"] == KEY]


def completion(parts: list[tuple[int, str]]) -> bytes:
    inner = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
                    for n, e in parts)
    return f"<CompleteMultipartUpload>{inner}</CompleteMultipartUpload>".encode()


def multipart_etag(parts: list[bytes]) -> str:
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def test_presigned_multipart_upload(front: NodeProcess, backend: NodeProcess) -> None:
    bucket, old = old_object(front, backend)
    where = {"Bucket": bucket, "Key": KEY}

    # a forged CreateMultipartUpload: the backend's 403, no upload
    create = url(backend, front, "create_multipart_upload", **where)
    r = send("POST", forge(create))
    assert r.status_code == 403 and error_code(r.content) == "SignatureDoesNotMatch", r.text
    assert uploads_of(backend, bucket) == []
    uid = upload_id(send("POST", create))
    assert uploads_of(backend, bucket) == [uid]

    parts = [os.urandom(5 * MiB + 3), os.urandom(MiB // 2 + 1)]
    etags = []
    for n, data in enumerate(parts, 1):
        part = url(backend, front, "upload_part", PartNumber=n, UploadId=uid, **where)
        r = send("PUT", forge(part), content=data)
        assert r.status_code == 403 and error_code(r.content) == "SignatureDoesNotMatch"
        r = send("PUT", part, content=data)
        assert r.status_code == 200, r.text
        assert r.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
        etags.append(r.headers["etag"])
    listed = send("GET", url(backend, front, "list_parts", UploadId=uid, **where))
    assert listed.status_code == 200, listed.text
    assert re.findall(r"<PartNumber>(\d+)</PartNumber>", listed.text) == ["1", "2"]
    assert f"<Size>{len(parts[0])}</Size>" in listed.text

    body = completion(list(enumerate(etags, 1)))
    complete = url(backend, front, "complete_multipart_upload", UploadId=uid, **where)
    # refused completions change nothing: forged, expired, a wrong part's ETag
    expired = url(backend, front, "complete_multipart_upload", expires=1, UploadId=uid,
                  **where)
    time.sleep(2)  # past its expiry (not a timing assertion: it only has to be later)
    for u, doc, status, code in (
            (forge(complete), body, 403, "SignatureDoesNotMatch"),
            (expired, body, 403, "AccessDenied"),
            (complete, completion([(1, etags[0]), (2, '"' + "0" * 32 + '"')]), 400,
             "InvalidPart")):
        r = send("POST", u, content=doc)
        assert r.status_code == status and error_code(r.content) == code, r.text
        assert cached(front, bucket, KEY)
        assert uploads_of(backend, bucket) == [uid]
        assert direct(backend).get_object(Bucket=bucket, Key=KEY)["Body"].read() == old

    r = send("POST", complete, content=body)
    assert r.status_code == 200, r.text
    assert "<CompleteMultipartUploadResult" in r.text and "<Error>" not in r.text
    assert f"<ETag>{multipart_etag(parts)}</ETag>" in r.text.replace("&#34;", '"') \
        .replace("&quot;", '"')
    # the backend has the new object; the front's copy of the old one is gone
    got = direct(backend).get_object(Bucket=bucket, Key=KEY)
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == multipart_etag(parts)
    assert uploads_of(backend, bucket) == []
    assert not cached(front, bucket, KEY)
    through = own_client(front).get_object(Bucket=bucket, Key=KEY)
    assert through["Body"].read() == b"".join(parts)
    assert through["ETag"] == multipart_etag(parts)


def test_presigned_abort(front: NodeProcess, backend: NodeProcess) -> None:
    bucket, old = old_object(front, backend)
    where = {"Bucket": bucket, "Key": KEY}
    uid = upload_id(send("POST", url(backend, front, "create_multipart_upload", **where)))
    r = send("PUT", url(backend, front, "upload_part", PartNumber=1, UploadId=uid, **where),
             content=b"a part")
    assert r.status_code == 200, r.text
    abort = url(backend, front, "abort_multipart_upload", UploadId=uid, **where)
    r = send("DELETE", forge(abort))
    assert r.status_code == 403 and error_code(r.content) == "SignatureDoesNotMatch"
    assert uploads_of(backend, bucket) == [uid]
    r = send("DELETE", abort)
    assert r.status_code == 204, r.text
    assert uploads_of(backend, bucket) == []
    # an abort is no completion: the cached copy stays, and is the backend's object
    assert cached(front, bucket, KEY)
    assert direct(backend).get_object(Bucket=bucket, Key=KEY)["Body"].read() == old


def test_presigned_upload_part_copy(front: NodeProcess, backend: NodeProcess) -> None:
    """UploadPartCopy: the same relay (no body; the source is named as the backend knows
    it, and the backend checks the client's access to it)."""
    bucket, old = old_object(front, backend)
    where = {"Bucket": bucket, "Key": KEY}
    uid = upload_id(send("POST", url(backend, front, "create_multipart_upload", **where)))
    source = f"{bucket}/{KEY}"
    copy = url(backend, front, "upload_part_copy", PartNumber=1, UploadId=uid,
               CopySource=source, **where)
    # boto3 signs x-amz-copy-source as a header: the client sends it
    headers = {"x-amz-copy-source": source.replace(" ", "%20")}
    r = send("PUT", forge(copy), headers=headers)
    assert r.status_code == 403 and error_code(r.content) == "SignatureDoesNotMatch", r.text
    r = send("PUT", copy, headers=headers)
    assert r.status_code == 200, r.text
    assert "<CopyPartResult" in r.text, r.text
    etag = re.search(r"<ETag>([^<]+)</ETag>", r.text)
    assert etag is not None
    tag = etag.group(1).replace("&#34;", '"').replace("&quot;", '"')
    r = send("POST", url(backend, front, "complete_multipart_upload", UploadId=uid, **where),
             content=completion([(1, tag)]))
    assert r.status_code == 200 and "<Error>" not in r.text, r.text
    assert direct(backend).get_object(Bucket=bucket, Key=KEY)["Body"].read() == old
    assert not cached(front, bucket, KEY)


def test_what_is_not_forwarded(front: NodeProcess, backend: NodeProcess) -> None:
    bucket, _ = old_object(front, backend)
    where = {"Bucket": bucket, "Key": KEY}
    uid = upload_id(send("POST", url(backend, front, "create_multipart_upload", **where)))
    part = url(backend, front, "upload_part", PartNumber=1, UploadId=uid, **where)
    # a streaming-signed (aws-chunked) part: 501, as a PUT
    r = send("PUT", part, content=b"x" * 10,
             headers={"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                      "x-amz-decoded-content-length": "10"})
    assert r.status_code == 501 and error_code(r.content) == "NotImplemented", r.text

    # a part without Content-Length (chunked): 411
    def gen() -> Any:
        yield b"abc"

    r = httpx.put(part, content=gen(), headers={STYLE: "path"}, timeout=60)
    assert r.status_code == 411 and error_code(r.content) == "MissingContentLength", r.text
    # nothing of it reached the backend
    listed = direct(backend).list_parts(Bucket=bucket, Key=KEY, UploadId=uid)
    assert listed.get("Parts", []) == []
    direct(backend).abort_multipart_upload(Bucket=bucket, Key=KEY, UploadId=uid)


# == a completion that fails after its 200 ==============================================


class _Stub(http.server.BaseHTTPRequestHandler):
    """A backend that answers anything (it checks no signature): a PUT gets ETag "e1", a
    GET the probe's one byte of it, a POST (the completion) a 200 whose document - after
    S3's keep-alive spaces - is the server's ``answer``: ``<Error>`` or the result."""

    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("ETag", '"e1"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(206)
        self.send_header("ETag", '"e1"')
        self.send_header("Content-Range", "bytes 0-0/3")
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b"o")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Connection", "close")  # no length: the body ends at the close
        self.end_headers()
        self.wfile.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        for _ in range(3):
            self.wfile.flush()
            time.sleep(0.05)  # pieces apart, as S3's keep-alive spaces come
            self.wfile.write(b"  ")
        self.wfile.write(self.server.answer)
        self.wfile.flush()
        self.close_connection = True


def test_a_completion_whose_200_carries_an_error(tmp_path: Path) -> None:
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    config = (f'features = ["{offload.FLAG}"]\n[backend.s3]\n'
              f'endpoint = "http://127.0.0.1:{stub.server_address[1]}"\nretries = 0\n')
    node = new_node(tmp_path / "front", config=config).start()
    try:
        assert httpx.put(f"{node.s3_url}/stubx").status_code == 200
        r = httpx.patch(f"{node.url}/v1/buckets/stubx", json={
            "action": "set-bprops", "value": {"backend_bck": {"name": "stubb",
                                                              "provider": "aws"}}})
        assert r.status_code == 200, r.text
        query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=K%2F20261205%2Fus-east-1"
                 "%2Fs3%2Faws4_request&X-Amz-Signature=00")
        obj = f"{node.s3_url}/stubx/k"
        assert send("PUT", f"{obj}?{query}", content=b"old").status_code == 200
        assert send("GET", f"{obj}?{query}").headers["ais-cached"] == "true"

        stub.answer = (b"<Error><Code>InternalError</Code><Message>We encountered an "  # type: ignore[attr-defined]
                       b"internal error.</Message></Error>")
        r = send("POST", f"{obj}?uploadId=u1&{query}", content=b"<CompleteMultipartUpload/>")
        assert r.status_code == 200 and error_code(r.content) == "InternalError", r.text
        assert r.content.startswith(b"<?xml") and b"      <Error>" in r.content
        assert send("GET", f"{obj}?{query}").headers["ais-cached"] == "true"  # kept

        stub.answer = b"<CompleteMultipartUploadResult><ETag>&quot;e2-2&quot;</ETag>" \
                      b"</CompleteMultipartUploadResult>"  # type: ignore[attr-defined]
        r = send("POST", f"{obj}?uploadId=u1&{query}", content=b"<CompleteMultipartUpload/>")
        assert r.status_code == 200 and b"<CompleteMultipartUploadResult>" in r.content
        assert send("GET", f"{obj}?{query}").headers["ais-cached"] == "false"  # dropped
    finally:
        stub.shutdown()
        stub.server_close()
        assert node.stop() == 0, node.log()


def part_answers(front: NodeProcess) -> dict[int, int]:
    """The front's UploadPart answers so far, by status (its /metrics)."""
    text = httpx.get(f"{front.url}/metrics").text
    found = re.findall(r'aisfs_requests_total\{api="s3",operation="UploadPart",'
                       r'status="(\d+)"\} (\S+)', text)
    return {int(s): int(float(n)) for s, n in found}


def test_a_client_that_leaves_mid_part(front: NodeProcess, backend: NodeProcess) -> None:
    """A part's client that goes away mid-body: the backend's request is cut (no part),
    the front answers the next requests as ever."""
    bucket, _ = old_object(front, backend)
    where = {"Bucket": bucket, "Key": KEY}
    uid = upload_id(send("POST", url(backend, front, "create_multipart_upload", **where)))
    broken = urlsplit(url(backend, front, "upload_part", PartNumber=2, UploadId=uid, **where))
    before = part_answers(front)
    with socket.create_connection((broken.hostname, broken.port)) as sock:
        sock.sendall(f"PUT {broken.path}?{broken.query} HTTP/1.1\r\nHost: {broken.netloc}\r\n"
                     f"Content-Length: {6 * MiB}\r\n{STYLE}: path\r\n\r\n".encode())
        sock.sendall(os.urandom(MiB))
    deadline = time.monotonic() + 30  # the front has seen it through (its metrics)
    while sum(part_answers(front).values()) == sum(before.values()):
        assert time.monotonic() < deadline, "the cut part never ended"
        time.sleep(0.05)
    after = part_answers(front)
    assert {s: n - before.get(s, 0) for s, n in after.items() if n != before.get(s, 0)} \
        == {400: 1}  # IncompleteBody: the client's, not the backend's 503 nor a 500
    data = os.urandom(MiB)
    r = send("PUT", url(backend, front, "upload_part", PartNumber=1, UploadId=uid, **where),
             content=data)
    assert r.status_code == 200, r.text
    r = send("POST", url(backend, front, "complete_multipart_upload", UploadId=uid, **where),
             content=completion([(1, r.headers["etag"])]))
    assert r.status_code == 200 and "<Error>" not in r.text, r.text
    assert direct(backend).get_object(Bucket=bucket, Key=KEY)["Body"].read() == data


def test_front_without_backend_credentials(backend: NodeProcess, tmp_path: Path) -> None:
    """A front with no key of the backend's, ``ais://name`` with ``backend_bck=s3://B``
    and the flag on that bucket only: a whole multipart upload by presigned URLs."""
    node = new_node(tmp_path / "bare", config=offload.front_config(
        backend, "open", credentials=False, flag=False)).start()
    try:
        remote = f"mpre-{uuid.uuid4().hex[:10]}"
        direct(backend).create_bucket(Bucket=remote)
        name = "fronted-" + remote[-6:]
        assert httpx.put(f"{node.s3_url}/{name}").status_code == 200
        r = httpx.patch(f"{node.url}/v1/buckets/{name}", json={
            "action": "set-bprops", "value": {"backend_bck": {"name": remote, "provider": "aws"},
                                              "features": offload.FLAG}})
        assert r.status_code == 200, r.text
        where = {"Bucket": remote, "Key": KEY}

        def at(op: str, **params: Any) -> str:
            return url(backend, node, op, **where, **params).replace(
                f"/s3/{remote}/", f"/s3/{name}/")

        uid = upload_id(send("POST", at("create_multipart_upload")))
        parts = [os.urandom(5 * MiB), os.urandom(1000)]
        etags = []
        for n, data in enumerate(parts, 1):
            r = send("PUT", at("upload_part", PartNumber=n, UploadId=uid), content=data)
            assert r.status_code == 200, r.text
            etags.append(r.headers["etag"])
        r = send("POST", at("complete_multipart_upload", UploadId=uid),
                 content=completion(list(enumerate(etags, 1))))
        assert r.status_code == 200 and "<Error>" not in r.text, r.text
        got = direct(backend).get_object(Bucket=remote, Key=KEY)
        assert got["Body"].read() == b"".join(parts)
        assert got["ETag"] == multipart_etag(parts)
        # and a presigned GET through the front reads it
        r = send("GET", at("get_object"))
        assert r.status_code == 200 and r.content == b"".join(parts)
    finally:
        assert node.stop() == 0, node.log()
