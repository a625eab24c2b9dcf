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
        )
        if result is None:
            raise S3Error("AccessDenied", "Access Denied: this node requires signed requests")
        return result

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
