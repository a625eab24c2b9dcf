"""The effective settings of one S3 backend: ``[backend.s3]`` with a bucket's overrides.

AIS keeps per-bucket backend overrides in the bucket's props (``extra.aws.endpoint``,
``extra.aws.profile``, ``extra.aws.cloud_region``); one node can so front several S3
clusters. ``S3Settings`` is frozen and hashable: the registry keeps one client per
distinct value. Secrets never appear in its repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from ..config import BackendS3Config


class S3Settings(BackendS3Config, frozen=True):
    """``BackendS3Config``'s fields (declared there once, redacted by its ``__repr__``),
    frozen: a hashable value naming one client."""

    @property
    def label(self) -> str:
        """How errors and logs name this backend (never with credentials)."""
        return f"s3 backend {self.endpoint or f'AWS ({self.region})'}"


def prop(props: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """A bucket prop by its dotted name, flat (``{"extra.aws.endpoint": ...}``, as the
    store keeps props) or nested (``{"extra": {"aws": {"endpoint": ...}}}``, as AIS's
    JSON has them)."""
    if dotted in props:
        return props[dotted]
    cur: Any = props
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return default
        cur = cur[part]
    return cur


def settings_for(cfg: BackendS3Config, props: Mapping[str, Any] | None = None) -> S3Settings:
    """``[backend.s3]`` with the bucket's ``extra.aws.*`` overrides applied.

    A bucket's ``extra.aws.profile`` selects credentials from the AWS shared files: the
    node's static keys are then not used for that bucket.
    """
    props = props or {}
    values = msgspec.structs.asdict(cfg)
    endpoint = prop(props, "extra.aws.endpoint")
    if endpoint:
        values["endpoint"] = str(endpoint).rstrip("/")
    region = prop(props, "extra.aws.cloud_region")
    if region:
        values["region"] = str(region)
    profile = prop(props, "extra.aws.profile")
    if profile:
        values.update(profile=str(profile), access_key="", secret_key="", session_token="")
    values["endpoint"] = str(values["endpoint"]).rstrip("/")
    return S3Settings(**values)
