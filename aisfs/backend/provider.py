"""Providers and bucket naming, as AIS has them; a pure resolver.

Remote data is named two ways:

- ``s3://B`` (``aws://B`` is an alias): the backend's bucket B itself. Its cached objects
  live in a store bucket of their own, ``local_bucket_name`` (``@aws:B``: ``@`` and ``:``
  are in no valid S3 or AIS bucket name, so it never collides with an ``ais://`` bucket).
- ``ais://A`` with the prop ``backend_bck=s3://B``: B fronted under another name; the
  cached objects are A's.

``resolve`` turns a bucket (as addressed) and its props into what the node must do: serve
it locally, or through which remote bucket and with which backend settings.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import BackendS3Config
from ..errors import S3Error
from .settings import S3Settings, prop, settings_for


class Provider(enum.StrEnum):
    AIS = "ais"
    AWS = "aws"


# AIS's NormalizeProvider: query aliases and URI schemes
_ALIASES = {"": Provider.AIS, "ais": Provider.AIS, "aws": Provider.AWS, "s3": Provider.AWS}
# how a provider is written in a URI (AIS prints s3:// for aws)
_SCHEME = {Provider.AIS: "ais", Provider.AWS: "s3"}
LOCAL_PREFIX = {Provider.AWS: "@aws:"}


def normalize_provider(name: str | None) -> Provider:
    """``ais``, ``aws``, ``s3`` (alias of aws) or empty (ais); else InvalidArgument."""
    p = _ALIASES.get((name or "").strip().lower())
    if p is None:
        raise S3Error(
            "InvalidArgument",
            f"unknown or unsupported provider {name!r} (supported: ais, aws, s3)",
        )
    return p


@dataclass(frozen=True, slots=True)
class BucketRef:
    provider: Provider
    name: str

    @property
    def uri(self) -> str:
        return f"{_SCHEME[self.provider]}://{self.name}"

    def __str__(self) -> str:
        return self.uri


def parse_bucket_uri(text: str, default: Provider = Provider.AIS) -> BucketRef:
    """``s3://B``, ``aws://B``, ``ais://B`` or a bare ``B`` (``default``'s)."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        provider, name = default, text
    else:
        provider, name = normalize_provider(scheme), rest
    name = name.rstrip("/")
    if not name or "/" in name:
        raise S3Error("InvalidBucketName", f"not a bucket: {text!r}", text)
    return BucketRef(provider, name)


def local_bucket_name(ref: BucketRef) -> str:
    """The store bucket that holds ``ref``'s objects (an ``ais://`` bucket's own name)."""
    return LOCAL_PREFIX.get(ref.provider, "") + ref.name


def bucket_of_local(local: str) -> BucketRef:
    """The inverse of ``local_bucket_name``."""
    for provider, prefix in LOCAL_PREFIX.items():
        if local.startswith(prefix):
            return BucketRef(provider, local[len(prefix) :])
    return BucketRef(Provider.AIS, local)


def backend_bck(props: Mapping[str, Any]) -> BucketRef | None:
    """The ``backend_bck`` prop of an ``ais://`` bucket: ``"s3://B"``, or AIS's JSON
    ``{"name": B, "provider": "aws"}`` (also flat: ``backend_bck.name``/``.provider``)."""
    raw = props.get("backend_bck")
    if isinstance(raw, str) and raw:
        ref = parse_bucket_uri(raw, default=Provider.AWS)
    else:
        name = prop(props, "backend_bck.name")
        if not name:
            return None
        ref = BucketRef(normalize_provider(str(prop(props, "backend_bck.provider", "aws"))),
                        str(name))
    if ref.provider is Provider.AIS:
        raise S3Error(
            "InvalidArgument", f"backend_bck must name a remote bucket (s3://...), not {ref}"
        )
    return ref


def _flag(props: Mapping[str, Any], name: str) -> bool:
    v = prop(props, name, False)
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes", "on")
    return bool(v)


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where a bucket's objects are: ``local`` (store bucket) and, for a remote bucket,
    ``remote`` with the backend ``settings`` and the bucket's versioning props."""

    bucket: BucketRef
    local: str
    remote: BucketRef | None = None
    settings: S3Settings | None = None
    validate_warm_get: bool = False
    synchronize: bool = False

    @property
    def is_remote(self) -> bool:
        return self.remote is not None


def resolve(ref: BucketRef, props: Mapping[str, Any], cfg: BackendS3Config) -> Resolved:
    """A bucket as addressed + its props + ``[backend.s3]`` -> ``Resolved``. Pure."""
    local = local_bucket_name(ref)
    if ref.provider is Provider.AIS:
        remote = backend_bck(props)
        if remote is None:
            return Resolved(ref, local)
    else:
        remote = ref
    return Resolved(
        ref,
        local,
        remote,
        settings_for(cfg, props),
        # synchronize implies validation (AIS: it is validate_warm_get plus deletions)
        validate_warm_get=_flag(props, "versioning.validate_warm_get")
        or _flag(props, "versioning.synchronize"),
        synchronize=_flag(props, "versioning.synchronize"),
    )
