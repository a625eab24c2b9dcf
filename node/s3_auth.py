"""Who may do what: open, SigV4 with configured keys, or JWT bearer tokens (AIStore AuthN).

- open: any request is let in; signatures are not checked (the embedded default, bound to
  127.0.0.1). Signed streaming bodies are still de-framed.
- sigv4: the Authorization header or a presigned query must verify against
  ``auth.access_keys`` (SigV4, or SigV2, which boto3 and the aws CLI still use to
  presign URLs for us-east-1); an anonymous request is AccessDenied.
- jwt: a HS256 token signed with ``auth.jwt_secret`` in ``Authorization: Bearer`` or, as
  AIStore accepts from AWS SDKs, in ``X-Amz-Security-Token``.

Every verified signature, V4 or V2, header or presigned, must also cover every
``x-amz-*`` header, Content-MD5 and Host the request carries
(:mod:`aisfs.s3.signed_headers`, applied inside ``sigv4``/``sigv2`` so the native API's
signed requests, which come through here too, get the same policy).

A node served under a base path (``net.s3_path``, ``/s3``) verifies what clients whose
endpoint ends in that base sign: SigV4 as received or with the base moved from the path
to the Host (s3cmd, :func:`aisfs.s3.sigv4.base_path_forms`); SigV2 against the S3
resource the request was routed to, ``/bkt/key`` (:func:`aisfs.s3.sigv2.candidate_resources`).
The base is the configured one, and only for a request the node routed under it.

Secrets are never logged: errors carry the access key id at most.
"""

from __future__ import annotations

import time

from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from aisfs.s3 import sigv2, sigv4
from node.http import Request


class Authenticator:
    def __init__(self, cfg: NodeConfig) -> None:
        self.cfg = cfg
        self.cache = sigv4.SigningKeyCache()

    def reload(self, cfg: NodeConfig) -> None:
        self.cfg = cfg
        self.cache = sigv4.SigningKeyCache()

    def authenticate(
        self, http: Request, bucket_path: str | None = None
    ) -> sigv4.AuthResult | None:
        """Check the request's credentials; the result says what the body must satisfy."""
        mode = self.cfg.auth.mode
        if mode == "open":
            return None
        if mode == "jwt":
            self._check_jwt(http)
            return None
        if sigv2.is_sigv2(http.headers.items(), http.query_string):
            sigv2.verify(
                http.method,
                sigv2.candidate_resources(http.raw_path, bucket_path),
                http.query_string,
                http.headers.items(),
                self.cfg.auth.access_keys,
                time.time(),
            )
            return None
        result = sigv4.verify_request(
            http.method,
            http.raw_path,
            http.query_string,
            http.headers.items(),
            self.cfg.auth.access_keys,
            time.time(),
            None,
            self.cache,
            base_path=self._base_of(http.raw_path, bucket_path),
        )
        if result is None:
            raise S3Error("AccessDenied", "Access Denied: this node requires signed requests")
        return result

    def _base_of(self, raw_path: str, bucket_path: str | None) -> str:
        """The configured base an S3 request was routed under, or "" (root, native API).

        node/app.py routes every path equal to or below ``net.s3_path`` under that base,
        with or without ``S3-API-via-Root``; nothing here is read from the request but
        which of the two it is.
        """
        if bucket_path is None:
            return ""
        base = self.cfg.net.s3_path.rstrip("/")
        path = raw_path.split("?", 1)[0]
        return base if base and (path == base or path.startswith(base + "/")) else ""

    def _check_jwt(self, http: Request) -> None:
        import jwt

        token = None
        auth_header = http.headers.get("authorization") or ""
        if auth_header[:7].lower() == "bearer ":
            token = auth_header[7:].strip()
        if token is None:
            token = http.headers.get("x-amz-security-token")
        if not token:
            raise S3Error("AccessDenied", "Access Denied: a bearer token is required")
        try:
            jwt.decode(
                token,
                self.cfg.auth.jwt_secret,
                algorithms=["HS256"],
                options={"require": ["exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise S3Error("AccessDenied", "Access Denied: the token has expired") from None
        except jwt.InvalidTokenError:
            raise S3Error("AccessDenied", "Access Denied: the token is not valid") from None
