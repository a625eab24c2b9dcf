"""Presigned-request offload (feature S3-Presigned-Request, the seed's "Presigned S3
requests"): a URL presigned for the backend by the aws CLI (v1 and v2, SigV4 and SigV2,
path-style and virtual-hosted), sent to the front node with the host replaced by its
``/s3``, is forwarded exactly as signed; the backend - a second aisfs node that checks
every signature - decides, and the object is stored and then served by the front.

The front nodes hold the backend's credentials (to discover ``s3://B``) in both auth modes;
one test runs a front without any and an ``ais://`` bucket with ``backend_bck``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from support.node import NodeProcess, new_node

from .conftest import AIS_KEY, AIS_SECRET, SIGV4_CONFIG

VENV_AWS = Path(sys.executable).with_name("aws")  # the venv's awscli: v1
SYSTEM_AWS = Path("/usr/bin/aws")
FRONT_KEY = "AKIDFRONTPRESIGN"
FRONT_SECRET = "front-presign-s3cr3t"
STYLE = "ais-s3-signed-request-style"
FLAG = "S3-Presigned-Request"


# == the nodes ==========================================================================


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A SigV4 aisfs node with S3 at its root (as AWS, Ceph or MinIO have it: an endpoint
    without a path), answering virtual-hosted requests for ``<bucket>.localhost``."""
    config = ('features = ["S3-API-via-Root"]\n[net]\nvirtual_host_domain = "localhost"\n'
              + SIGV4_CONFIG)
    node = new_node(tmp_path_factory.mktemp("presign-backend"), config=config).start()
    try:
        yield node
    finally:
        assert node.stop() == 0, node.log()
        assert AIS_SECRET not in node.log()


def backend_endpoint(backend: NodeProcess) -> str:
    """The backend as clients sign for it: a host name, so that virtual-hosted URLs
    (``<bucket>.localhost``) can be made for it."""
    return f"http://localhost:{backend.url.rsplit(':', 1)[1]}"


def front_config(backend: NodeProcess, mode: str, *, credentials: bool = True,
                 flag: bool = True) -> str:
    lines = [f'features = ["{FLAG}"]' if flag else "", "[backend.s3]",
             f'endpoint = "{backend_endpoint(backend)}"', "retries = 1",
             # generous: a loaded CI machine once took >10 s for a backend read here
             "connect_timeout = 5.0", "read_timeout = 30.0"]
    if credentials:
        lines += [f'access_key = "{AIS_KEY}"', f'secret_key = "{AIS_SECRET}"']
    if mode == "sigv4":
        lines += ["[auth]", 'mode = "sigv4"', f'access_keys = {{ {FRONT_KEY} = "{FRONT_SECRET}" }}']
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def _fronts(backend: NodeProcess) -> Iterator[dict[str, NodeProcess]]:
    nodes: dict[str, NodeProcess] = {}
    try:
        yield nodes
    finally:
        for n in nodes.values():
            assert n.stop() == 0, n.log()[-4000:]
            assert AIS_SECRET not in n.log() and FRONT_SECRET not in n.log()


@pytest.fixture(params=["open", "sigv4"])
def front(request: pytest.FixtureRequest, backend: NodeProcess,
          _fronts: dict[str, NodeProcess],
          tmp_path_factory: pytest.TempPathFactory) -> NodeProcess:
    mode = str(request.param)
    node = _fronts.get(mode)
    if node is None:
        node = new_node(tmp_path_factory.mktemp(f"presign-front-{mode}"),
                        config=front_config(backend, mode)).start()
        node.mode = mode  # type: ignore[attr-defined]
        _fronts[mode] = node
    return node


# == clients ===========================================================================


def boto(endpoint: str, key: str | None, secret: str = "", **config: Any) -> Any:
    import boto3  # type: ignore[import-untyped]
    from botocore import UNSIGNED
    from botocore.config import Config

    cfg = Config(retries={"max_attempts": 1}, signature_version=UNSIGNED if key is None
                 else config.pop("signature_version", "s3v4"),
                 s3={"addressing_style": config.pop("addressing_style", "path")}, **config)
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key or "x", aws_secret_access_key=secret or "x",
                        config=cfg)


def direct(backend: NodeProcess) -> Any:
    """The backend, as its own user."""
    return boto(backend_endpoint(backend), AIS_KEY, AIS_SECRET)


def own_client(front: NodeProcess) -> Any:
    """The front through its own rules: unsigned (open) or its own user's key (sigv4)."""
    if getattr(front, "mode", "open") == "sigv4":
        return boto(front.s3_url, FRONT_KEY, FRONT_SECRET)
    return boto(front.s3_url, None)


def cached(front: NodeProcess, bucket: str, key: str) -> bool:
    """Whether the front holds ``key`` (its own HEAD: never fetches)."""
    from botocore.exceptions import ClientError

    try:
        head = own_client(front).head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise
    return head["ResponseMetadata"]["HTTPHeaders"]["ais-cached"] == "true"


def landed(front: NodeProcess, bucket: str, key: str) -> bool:
    """Whether the front holds ``key`` once its fill has committed: a cold GET's client
    has the last byte before the copy is published (the commit follows it), so this
    asks until it is there (30 s at most)."""
    deadline = time.monotonic() + 30
    while not cached(front, bucket, key):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def new_object(backend: NodeProcess, data: bytes, key: str = "dir/obj one.bin") -> str:
    bucket = f"pre-{uuid.uuid4().hex[:10]}"
    s3 = direct(backend)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/x-presigned",
                  Metadata={"origin": "backend"})
    return bucket


def aws_cli_v2() -> str | None:
    """Why /usr/bin/aws cannot be used as aws CLI v2, or None."""
    if not SYSTEM_AWS.exists():
        return "/usr/bin/aws is not installed (Debian's awscli package, v2: ./run test as root)"
    out = subprocess.run([str(SYSTEM_AWS), "--version"], capture_output=True, text=True)
    if not (out.stdout + out.stderr).startswith("aws-cli/2."):
        return f"/usr/bin/aws is not aws CLI v2: {out.stdout.strip()}"
    return None


def presign(tmp_path: Path, cli: str, sig: str, style: str, uri: str, endpoint: str,
            expires: int = 600) -> str:
    """``aws s3 presign URI --endpoint-url ENDPOINT`` with the backend's key: CLI v1 or
    v2, SigV4 or SigV2 (v1 only: ``signature_version = s3``), path or virtual-hosted."""
    aws = str(VENV_AWS) if cli == "v1" else str(SYSTEM_AWS)
    addressing = "virtual" if style == "virtual-hosted" else "path"
    # v1 reads SigV2 from the profile's signature_version, SigV4 from its s3 section
    top, nested = ("", "    signature_version = s3v4\n") if sig == "sigv4" \
        else ("signature_version = s3\n", "")
    cfg = tmp_path / f"aws-{cli}-{sig}-{addressing}.cfg"
    cfg.write_text(f"[default]\nregion = us-east-1\n{top}s3 =\n{nested}"
                   f"    addressing_style = {addressing}\n")
    env = dict(os.environ, AWS_CONFIG_FILE=str(cfg), AWS_ACCESS_KEY_ID=AIS_KEY,
               AWS_SECRET_ACCESS_KEY=AIS_SECRET,
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    env.pop("AWS_PROFILE", None)
    done = subprocess.run([aws, "s3", "presign", uri, "--endpoint-url", endpoint,
                           "--expires-in", str(expires)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert ("X-Amz-Signature=" in url) == (sig == "sigv4"), url
    assert ("AWSAccessKeyId=" in url) == (sig == "sigv2"), url
    return url


def to_front(url: str, front: NodeProcess, backend: NodeProcess) -> str:
    """The URL with the backend's host replaced by the front's ``/s3`` (path-style: the
    bucket of a virtual-hosted URL goes into the path; the header tells how it was signed)."""
    parts = urlsplit(url)
    base = urlsplit(backend_endpoint(backend))
    path = parts.path[len(base.path):]
    if parts.netloc != base.netloc:  # virtual-hosted: <bucket>.localhost:port
        path = "/" + parts.netloc.split(".", 1)[0] + path
    return f"{front.s3_url}{path}?{parts.query}"


def curl(url: str, out: Path, *args: str) -> tuple[int, dict[str, str]]:
    """GET with curl: (status, response headers); the body into ``out``."""
    hdrs = out.with_suffix(".headers")
    done = subprocess.run(["curl", "-sS", "-o", str(out), "-D", str(hdrs), "-w",
                           "%{http_code}", *args, url], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    headers = {}
    for line in hdrs.read_text().splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(done.stdout), headers


def backend_bytes_out(backend: NodeProcess) -> float:
    """The backend's GetObject response bytes so far (its /metrics)."""
    text = httpx.get(f"{backend.url}/metrics").text
    m = re.search(r'aisfs_response_bytes_out_total\{api="s3",operation="GetObject"\} (\S+)',
                  text)
    return float(m.group(1)) if m else 0.0


def error_code(body: bytes) -> str:
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else ""


# == GET through every kind of URL =======================================================

VARIANTS = [
    ("v1", "sigv4", "path"), ("v1", "sigv4", "virtual-hosted"),
    ("v1", "sigv2", "path"), ("v1", "sigv2", "virtual-hosted"),
    ("v2", "sigv4", "path"), ("v2", "sigv4", "virtual-hosted"),
]


@pytest.mark.parametrize(("cli", "sig", "style"), VARIANTS,
                         ids=["-".join(v) for v in VARIANTS])
def test_presigned_get_is_forwarded_then_served_locally(
    front: NodeProcess, backend: NodeProcess, tmp_path: Path, cli: str, sig: str, style: str
) -> None:
    if cli == "v2" and (why := aws_cli_v2()):
        pytest.skip(why)
    data = os.urandom(3 * 1024 * 1024 + 17)
    key = "dir/obj one.bin"
    bucket = new_object(backend, data, key)
    url = presign(tmp_path, cli, sig, style, f"s3://{bucket}/{key}", backend_endpoint(backend))
    at_front = to_front(url, front, backend)

    before = backend_bytes_out(backend)
    status, headers = curl(at_front, tmp_path / "first", "-H", f"{STYLE}: {style}")
    assert status == 200, (tmp_path / "first").read_bytes()[:500]
    assert (tmp_path / "first").read_bytes() == data
    assert headers["ais-cached"] == "false"
    assert headers["content-type"] == "text/x-presigned"
    assert headers["x-amz-meta-origin"] == "backend"
    assert backend_bytes_out(backend) - before >= len(data)  # the backend sent it once
    assert landed(front, bucket, key)

    # again: the backend authenticates the request (one byte), the front serves the object
    before = backend_bytes_out(backend)
    status, headers = curl(at_front, tmp_path / "second", "-H", f"{STYLE}: {style}")
    assert status == 200 and (tmp_path / "second").read_bytes() == data
    assert headers["ais-cached"] == "true"
    assert backend_bytes_out(backend) - before <= 1
    # a range the client adds (unsigned) is the backend's to serve: relayed as it comes
    status, headers = curl(at_front, tmp_path / "part", "-r", "5-14", "-H", f"{STYLE}: {style}")
    assert status == 206 and (tmp_path / "part").read_bytes() == data[5:15]
    assert headers["content-range"] == f"bytes 5-14/{len(data)}"
    # and through the front's own rules, the backend is not asked at all
    before = backend_bytes_out(backend)
    got = own_client(front).get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == data
    assert backend_bytes_out(backend) == before


def test_presigned_head_and_put(front: NodeProcess, backend: NodeProcess,
                                tmp_path: Path) -> None:
    bucket = new_object(backend, b"head me")
    signer = direct(backend)
    head_url = signer.generate_presigned_url(
        "head_object", Params={"Bucket": bucket, "Key": "dir/obj one.bin"})
    status, headers = curl(to_front(head_url, front, backend), tmp_path / "h", "-I",
                           "-H", f"{STYLE}: path")
    assert status == 200 and headers["content-length"] == "7"
    assert headers["ais-cached"] == "false"

    # an empty object: stored, then served (the backend cannot send byte 0-0 of it)
    direct(backend).put_object(Bucket=bucket, Key="empty", Body=b"")
    empty = to_front(signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "empty"}), front, backend)
    for _ in range(2):
        status, headers = curl(empty, tmp_path / "z", "-H", f"{STYLE}: path")
        assert status == 200 and (tmp_path / "z").read_bytes() == b""
        assert headers["content-length"] == "0"
        assert cached(front, bucket, "empty")

    body = os.urandom(3 * 1024 * 1024 + 5)  # curl sends Expect: 100-continue for it
    (tmp_path / "up").write_bytes(body)
    put_url = signer.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "put/new.bin"})
    # a forged PUT: the backend's 403, nothing written there nor here
    forged = re.sub(r"X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=" + "0" * 64, put_url)
    status, _ = curl(to_front(forged, front, backend), tmp_path / "f", "-T",
                     str(tmp_path / "up"), "-H", f"{STYLE}: path")
    assert status == 403 and error_code((tmp_path / "f").read_bytes()) \
        == "SignatureDoesNotMatch"
    assert not cached(front, bucket, "put/new.bin")
    status, headers = curl(to_front(put_url, front, backend), tmp_path / "p", "-T",
                           str(tmp_path / "up"), "-H", f"{STYLE}: path")
    assert status == 200, (tmp_path / "p").read_bytes()
    got = direct(backend).get_object(Bucket=bucket, Key="put/new.bin")
    assert got["Body"].read() == body
    assert headers["etag"] == got["ETag"]
    assert cached(front, bucket, "put/new.bin")  # stored locally on the backend's 200
    before = backend_bytes_out(backend)
    assert own_client(front).get_object(Bucket=bucket, Key="put/new.bin")["Body"].read() \
        == body
    assert backend_bytes_out(backend) == before


def test_signed_authorization_header_for_the_backend(
    front: NodeProcess, backend: NodeProcess, tmp_path: Path
) -> None:
    """Not a URL but a request signed (Authorization header) for the backend's host."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    bucket = new_object(backend, b"signed header")
    url = f"{backend_endpoint(backend)}/{bucket}/dir/obj%20one.bin"
    req = AWSRequest("GET", url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials(AIS_KEY, AIS_SECRET), "s3", "us-east-1").add_auth(req)
    headers = {k: v for k, v in req.headers.items() if k.lower() != "host"}
    headers[STYLE] = "path"
    r = httpx.get(f"{front.s3_url}/{bucket}/dir/obj%20one.bin", headers=headers)
    assert r.status_code == 200 and r.content == b"signed header", r.text
    assert cached(front, bucket, "dir/obj one.bin")


# == what does not get through ===========================================================


def test_forged_or_expired_urls_get_the_backends_403(
    front: NodeProcess, backend: NodeProcess, tmp_path: Path
) -> None:
    bucket = new_object(backend, b"secret")
    key = "dir/obj one.bin"
    endpoint = backend_endpoint(backend)
    good = presign(tmp_path, "v1", "sigv4", "path", f"s3://{bucket}/{key}", endpoint)
    forged = re.sub(r"X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=" + "0" * 64, good)
    garbage = f"{good.split('?')[0]}?X-Amz-Credential=nobody%2F20200101%2Fus-east-1%2Fs3" \
              "%2Faws4_request&X-Amz-Signature=junk"
    expired = presign(tmp_path, "v1", "sigv4", "path", f"s3://{bucket}/{key}", endpoint,
                      expires=1)
    time.sleep(2)  # past its expiry (not a timing assertion: it only has to be later)
    for url, code in ((forged, "SignatureDoesNotMatch"), (garbage, ""),
                      (expired, "AccessDenied")):
        status, _ = curl(to_front(url, front, backend), tmp_path / "e", "-H", f"{STYLE}: path")
        body = (tmp_path / "e").read_bytes()
        assert status in (400, 403), body
        if code:
            assert status == 403 and error_code(body) == code, body
        assert not cached(front, bucket, key)
    # a cached object is not served to a forged URL either: the backend still refuses it
    status, _ = curl(to_front(good, front, backend), tmp_path / "ok", "-H", f"{STYLE}: path")
    assert status == 200 and cached(front, bucket, key)
    status, _ = curl(to_front(forged, front, backend), tmp_path / "e", "-H", f"{STYLE}: path")
    assert status == 403 and error_code((tmp_path / "e").read_bytes()) == "SignatureDoesNotMatch"


def test_url_for_one_bucket_does_not_read_another(
    front: NodeProcess, backend: NodeProcess, tmp_path: Path
) -> None:
    key = "dir/obj one.bin"
    x = new_object(backend, b"bucket x", key)
    y = new_object(backend, b"bucket y", key)
    own_client(front).get_object(Bucket=y, Key=key)["Body"].read()  # y's copy is cached
    assert cached(front, y, key)
    url = presign(tmp_path, "v1", "sigv4", "path", f"s3://{x}/{key}", backend_endpoint(backend))
    at_y = to_front(url, front, backend).replace(f"/s3/{x}/", f"/s3/{y}/")
    status, _ = curl(at_y, tmp_path / "y", "-H", f"{STYLE}: path")
    assert status == 403, (tmp_path / "y").read_bytes()
    assert b"bucket y" not in (tmp_path / "y").read_bytes()
    # dot segments that a URL library would fold into another bucket are refused outright
    sneaky = to_front(url, front, backend).replace(f"/s3/{x}/", f"/s3/{y}/../{x}/")
    status, _ = curl(sneaky, tmp_path / "z", "--path-as-is", "-H", f"{STYLE}: path")
    assert status in (400, 403, 404)
    assert not cached(front, y, f"../{x}/{key}")


# == the flag ============================================================================


def set_features(front: NodeProcess, value: str) -> None:
    """``aisfs config cluster features VALUE``: the CLI on an open front; on a sigv4 one
    the request it sends, signed by the front's user (the CLI carries bearer tokens only)."""
    if getattr(front, "mode", "open") == "open":
        done = subprocess.run([sys.executable, "-m", "aisfs", "config", "cluster", "features",
                               value, "--endpoint", front.url],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{front.url}/v1/cluster/set-config?features={value}"
    req = AWSRequest("PUT", url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials(FRONT_KEY, FRONT_SECRET), "s3", "us-east-1").add_auth(req)
    r = httpx.put(url, headers=dict(req.headers.items()))
    assert r.status_code == 200, r.text


def test_flag_off_means_the_nodes_own_auth(
    front: NodeProcess, backend: NodeProcess, tmp_path: Path
) -> None:
    bucket = new_object(backend, b"flag")
    key = "dir/obj one.bin"
    url = presign(tmp_path, "v1", "sigv4", "path", f"s3://{bucket}/{key}",
                  backend_endpoint(backend))
    forged = re.sub(r"X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=" + "0" * 64, url)
    set_features(front, "none")
    try:
        status, _ = curl(to_front(url, front, backend), tmp_path / "o", "-H", f"{STYLE}: path")
        body = (tmp_path / "o").read_bytes()
        if front.mode == "sigv4":  # type: ignore[attr-defined]
            # the front checks it itself: the backend's key is not one of its users'
            assert status == 403 and error_code(body) == "InvalidAccessKeyId", body
        else:  # open: signatures are not checked, the front serves it as any request
            status, _ = curl(to_front(forged, front, backend), tmp_path / "o")
            assert status == 200 and (tmp_path / "o").read_bytes() == b"flag"
    finally:
        set_features(front, FLAG)
    status, _ = curl(to_front(forged, front, backend), tmp_path / "o", "-H", f"{STYLE}: path")
    assert status == 403  # the flag is back: the backend refuses the forged URL


# == a front without the backend's credentials ===========================================


def test_front_without_backend_credentials(
    backend: NodeProcess, tmp_path: Path
) -> None:
    """Nothing but the client's signature reaches the backend: a front with no key of the
    backend's fronts ``ais://name`` with ``backend_bck=s3://B`` and serves it by URLs -
    with the flag on that bucket only (AIS's bucket-scope ``features``), not the node's."""
    node = new_node(tmp_path / "bare", config=front_config(
        backend, "open", credentials=False, flag=False)).start()
    try:
        remote = new_object(backend, b"no credentials here")
        name = "fronted-" + remote[-6:]
        assert httpx.put(f"{node.s3_url}/{name}").status_code == 200
        url = presign(tmp_path, "v1", "sigv4", "path", f"s3://{remote}/dir/obj one.bin",
                      backend_endpoint(backend))
        at_front = to_front(url, node, backend).replace(f"/s3/{remote}/", f"/s3/{name}/")
        r = httpx.patch(f"{node.url}/v1/buckets/{name}", json={
            "action": "set-bprops", "value": {"backend_bck": {"name": remote,
                                                              "provider": "aws"}}})
        assert r.status_code == 200, r.text
        # the flag off: the node's own way, and it has no credentials for the backend
        status, _ = curl(at_front, tmp_path / "b", "-H", f"{STYLE}: path")
        assert status == 403, (tmp_path / "b").read_bytes()
        r = httpx.patch(f"{node.url}/v1/buckets/{name}", json={
            "action": "set-bprops", "value": {"features": FLAG}})
        assert r.status_code == 200, r.text
        status, headers = curl(at_front, tmp_path / "b", "-H", f"{STYLE}: path")
        assert status == 200 and (tmp_path / "b").read_bytes() == b"no credentials here"
        status, headers = curl(at_front, tmp_path / "b", "-H", f"{STYLE}: path")
        assert status == 200 and headers["ais-cached"] == "true"
    finally:
        assert node.stop() == 0, node.log()
        assert AIS_SECRET not in node.log()


def test_backend_down_is_a_clean_503(tmp_path: Path) -> None:
    """The backend cannot be reached: 503 ServiceUnavailable naming it, nothing else."""
    closed = "http://localhost:9"  # discard: nothing listens on it here
    config = f'features = ["{FLAG}"]\n[backend.s3]\nendpoint = "{closed}"\n' \
             "connect_timeout = 1.0\nread_timeout = 2.0\nretries = 0\n"
    node = new_node(tmp_path / "down", config=config).start()
    try:
        assert httpx.put(f"{node.s3_url}/downb").status_code == 200
        r = httpx.patch(f"{node.url}/v1/buckets/downb", json={
            "action": "set-bprops", "value": {"backend_bck": {"name": "gone",
                                                              "provider": "aws"}}})
        assert r.status_code == 200, r.text
        query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=K%2F20261205%2Fus-east-1"
                 "%2Fs3%2Faws4_request&X-Amz-Signature=00")
        for method in ("GET", "HEAD", "PUT"):
            r = httpx.request(method, f"{node.s3_url}/downb/k?{query}", content=b"x"
                              if method == "PUT" else None, headers={STYLE: "path"})
            assert r.status_code == 503, (method, r.text)
            if method != "HEAD":
                assert error_code(r.content) == "ServiceUnavailable"
                assert "localhost:9" in r.text
    finally:
        assert node.stop() == 0, node.log()
