"""SigV4 signing through botocore, when it and AWS credentials are there (environment,
~/.aws); otherwise requests go unsigned, which a node with open auth accepts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.credentials import Credentials

log = logging.getLogger(__name__)


class Signer:
    def __init__(self, region: str) -> None:
        self.region = region
        self._creds: Credentials | None = None
        try:
            import botocore.session
            from botocore.auth import S3SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.config import Config
        except ImportError:
            return
        try:
            creds = botocore.session.get_session().get_credentials()
        except Exception as e:  # a broken ~/.aws file: say so, go unsigned
            log.warning("AWS credentials unreadable (%s); sending unsigned requests", e)
            return
        if creds is None:
            return
        self._creds = creds
        self._auth_cls = S3SigV4Auth
        self._request_cls = AWSRequest
        self._config = Config(s3={"payload_signing_enabled": False})

    @property
    def enabled(self) -> bool:
        return self._creds is not None

    def sign(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        """`headers` with the signature's added (the payload is not signed)."""
        if self._creds is None:
            return headers
        req = self._request_cls(method=method, url=url, headers=headers, data=b"")
        req.context["client_config"] = self._config
        self._auth_cls(self._creds.get_frozen_credentials(), "s3", self.region).add_auth(req)
        return dict(req.headers.items())
