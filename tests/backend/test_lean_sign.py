"""The lean client's own SigV4 text (lean.py ``_authorization``, written for its fixed
header set) is the one ``aisfs.s3.sigv4`` makes of the same request - keys with spaces
and non-ASCII, a session token, conditions, virtual addressing."""

from __future__ import annotations

import pytest

from aisfs.backend import lean
from aisfs.backend.settings import S3Settings
from aisfs.s3.signing_keys import SigningKeyCache, sign
from aisfs.s3.sigv4 import ALGORITHM, canonical_request, string_to_sign


def reference(client: lean.LeanClient, method: str, target: str,
              headers: list[tuple[str, str]]) -> str:
    s = client.settings
    amz_date = dict(headers)["x-amz-date"]
    scope = f"{amz_date[:8]}/{s.region}/s3/aws4_request"
    signed = sorted(n for n, _ in headers)
    creq = canonical_request(method, target, "", headers, signed, lean.EMPTY_SHA256)
    key = SigningKeyCache().get(s.secret_key, amz_date[:8], s.region, "s3", s.access_key)
    return (f"{ALGORITHM} Credential={s.access_key}/{scope}, "
            f"SignedHeaders={';'.join(signed)}, "
            f"Signature={sign(key, string_to_sign(amz_date, scope, creq))}")


@pytest.mark.parametrize("addressing", ["path", "virtual"])
@pytest.mark.parametrize("token", ["", "tok/en+=="])
@pytest.mark.parametrize("key", ["plain", "a b/c+d", "ü/ß?x=1&y", "dir//x~y"])
def test_same_signature(addressing: str, token: str, key: str) -> None:
    client = lean.LeanClient(S3Settings(
        endpoint="http://127.0.0.1:9000/base", access_key="AK", secret_key="SK/x",
        session_token=token, addressing=addressing, region="eu-west-3"))
    extra = [("if-match", ' "abc"  x '), ("range", "bytes=0-9")]
    raw = client._request("GET", "bkt", key, list(extra)).decode()
    lines = raw.split("\r\n")
    target = lines[0].split(" ")[1]
    headers = [tuple(x.split(": ", 1)) for x in lines[1:] if x]
    got = dict(headers).pop("authorization")
    unsigned = [(n, v) for n, v in headers if n != "authorization"]
    assert got == reference(client, "GET", target, unsigned)  # type: ignore[arg-type]


def test_modified_dates() -> None:
    assert lean._modified_ns("Sun, 06 Dec 2026 04:31:28 GMT") == 1796531488_000_000_000
    assert lean._modified_ns("not a date") == 0


@pytest.mark.parametrize("addressing", ["path", "virtual"])
@pytest.mark.parametrize("token", ["", "tok/en+=="])
@pytest.mark.parametrize("query", [{}, {"partNumber": "3", "uploadId": "a/b+c=="}])
def test_same_put_signature(addressing: str, token: str, query: dict[str, str]) -> None:
    # lean_put's PutObject/UploadPart head: a query, UNSIGNED-PAYLOAD, the PUT's headers
    from aisfs.backend.lean_put import LeanPutClient
    from aisfs.s3.sigv4 import UNSIGNED_PAYLOAD

    client = LeanPutClient(S3Settings(
        endpoint="http://127.0.0.1:9000/base", access_key="AK", secret_key="SK/x",
        session_token=token, addressing=addressing, region="eu-west-3"))
    extra = [("content-length", "4096"), ("x-amz-meta-colour", "  dark   red "),
             ("content-type", "text/plain"), ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")]
    raw = client._put_head("bkt", "a b/ü+c", query, list(extra)).decode()
    lines = raw.split("\r\n")
    method, path, _ = lines[0].split(" ")
    target, _, qs = path.partition("?")
    headers = [tuple(x.split(": ", 1)) for x in lines[1:] if x]
    got = dict(headers).pop("authorization")
    unsigned = [(n, v) for n, v in headers if n != "authorization"]
    s = client.settings
    amz_date = dict(unsigned)["x-amz-date"]
    scope = f"{amz_date[:8]}/{s.region}/s3/aws4_request"
    signed = sorted(n for n, _ in unsigned)
    creq = canonical_request(method, target, qs, unsigned, signed,  # type: ignore[arg-type]
                             UNSIGNED_PAYLOAD)
    key = SigningKeyCache().get(s.secret_key, amz_date[:8], s.region, "s3", s.access_key)
    assert method == "PUT" and ("uploadId=a%2Fb%2Bc%3D%3D" in qs) == bool(query)
    assert got == (f"{ALGORITHM} Credential={s.access_key}/{scope}, "
                   f"SignedHeaders={';'.join(signed)}, "
                   f"Signature={sign(key, string_to_sign(amz_date, scope, creq))}")
