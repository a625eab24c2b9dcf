"""``copy-bck`` and ``copy-listrange`` (AIS's bucket copy), the sans-IO part: the request.

AIS's messages, as the ``aistore`` SDK sends them (``POST /v1/buckets/SRC``):

- ``copy-bck``: the destination in the query (``bck_to=PROVIDER/@#/NAME/``), the value
  ``{"prefix", "prepend", "dry_run", "force", "latest-ver", "synchronize",
  "num-workers", "coer"}`` (``synchronize``, AIS's ``--sync``: what the destination has
  under the copy's names that the source has not is deleted);
- ``copy-listrange``: the same value plus a selection (``objnames`` or ``template``) and
  the destination as ``"tobck": {"name", "provider", ...}``.

``parse_copy`` turns either into a ``CopyRequest`` (``CopyError`` says what is wrong:
the node answers it 400). The node does the copy (``aisfs_node.jobs.copy``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .record import COPY_BUCKET
from .selection import Selection, SelectionError, flag_of, parse_selection

COPY_OBJECTS = "copy-listrange"  # AIS's kind of a multi-object copy
DEFAULT_WORKERS = 8  # objects in flight at once when the request does not say
MAX_WORKERS = 64
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")  # AIS's and S3's bucket names


class CopyError(ValueError):
    """Not a copy request the node takes (the message says why)."""


@dataclass(frozen=True, slots=True)
class BucketName:
    provider: str  # "ais", "aws" (as AIS names them; "s3" is read as "aws")
    name: str

    @property
    def uri(self) -> str:
        return f"{'s3' if self.provider == 'aws' else self.provider}://{self.name}"


@dataclass(frozen=True, slots=True)
class CopyRequest:
    kind: str  # COPY_BUCKET or COPY_OBJECTS
    dst: BucketName
    prefix: str = ""  # copy-bck: only the source's objects under it
    selection: Selection | None = None  # copy-listrange: names or a template range
    prepend: str = ""  # put before each destination name
    dry_run: bool = False  # count what would be copied, write nothing
    force: bool = False  # copy even where the destination has the same object already
    latest: bool = False  # a cached source copy is checked with its backend first
    sync: bool = False  # also delete what the destination has that the source has not
    continue_on_error: bool = False
    workers: int = DEFAULT_WORKERS

    def dst_key(self, key: str) -> str:
        return self.prepend + key

    def describe(self) -> dict[str, Any]:
        """What the job record shows of it."""
        out: dict[str, Any] = {"to": self.dst.uri}
        if self.selection is not None:
            out.update(self.selection.describe())
        elif self.prefix:
            out["prefix"] = self.prefix
        for name, value in (("prepend", self.prepend), ("dry_run", self.dry_run),
                            ("force", self.force), ("latest", self.latest),
                            ("sync", self.sync)):
            if value:
                out[name] = value
        return out


def parse_bck_to(value: str) -> BucketName:
    """AIS's ``bck_to`` query value (``Bck.MakeUname``'s path form): ``ais/@#/name/``,
    ``aws/@#/name/``; a plain ``name`` or ``s3://name`` is taken too."""
    text = value.strip()
    if "://" in text:
        scheme, _, name = text.partition("://")
        return _bucket(scheme, name.strip("/"))
    pieces = [p for p in text.split("/") if p != ""]
    if len(pieces) == 1:
        return _bucket("ais", pieces[0])
    if len(pieces) == 3 and pieces[1].startswith("@"):
        if pieces[1] not in ("@", "@#"):
            raise CopyError(f"bck_to {value!r}: namespaces are not supported")
        return _bucket(pieces[0], pieces[2])
    if len(pieces) == 2:
        return _bucket(pieces[0], pieces[1])
    raise CopyError(f"bck_to {value!r}: expected PROVIDER/@#/NAME/")


def _bucket(provider: str, name: str) -> BucketName:
    p = provider.strip().lower() or "ais"
    p = {"s3": "aws"}.get(p, p)
    if p not in ("ais", "aws"):
        raise CopyError(f"provider {provider!r} is not supported (ais, aws, s3)")
    if not _NAME.fullmatch(name):
        raise CopyError(f"bad destination bucket name {name!r}")
    return BucketName(p, name)


def _model(value: Any) -> BucketName:
    """``{"name": ..., "provider": ...}`` (the SDK's BucketModel)."""
    if not isinstance(value, Mapping):
        raise CopyError('tobck: expected {"name": ..., "provider": ...}')
    ns = value.get("namespace") or {}
    if isinstance(ns, Mapping) and (ns.get("uuid") or ns.get("name")):
        raise CopyError("tobck: namespaces are not supported")
    return _bucket(str(value.get("provider") or "ais"), str(value.get("name") or ""))


def _flag(value: Mapping[str, Any], *names: str) -> bool:
    return flag_of(value, *names, error=CopyError)


def _text(value: Mapping[str, Any], name: str) -> str:
    v = value.get(name)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise CopyError(f"{name}: expected a string")
    return v


def _workers(value: Mapping[str, Any]) -> int:
    v = value.get("num-workers", value.get("num_workers"))
    if v is None or v == 0:
        return DEFAULT_WORKERS
    if isinstance(v, bool) or not isinstance(v, int) or v < -1:
        raise CopyError("num-workers: expected -1 (one at a time), 0 (default) or a count")
    return 1 if v == -1 else min(v, MAX_WORKERS)


def parse_copy(action: str, value: Any, bck_to: str | None) -> CopyRequest:
    """A ``copy-bck`` or ``copy-listrange`` message (``value``; ``bck_to``: the query's)."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise CopyError("expected a JSON object as the value")
    if value.get("ext"):
        raise CopyError("ext (renaming extensions) is not supported")
    if value.get("transform") or value.get("id"):
        raise CopyError("transforms (ETL) are not supported")
    if action == COPY_BUCKET:
        if not bck_to:
            raise CopyError("copy-bck: the destination (bck_to) is missing")
        dst = parse_bck_to(bck_to)
        selection = None
    elif action == COPY_OBJECTS:
        if "tobck" in value:
            dst = _model(value["tobck"])
        elif bck_to:
            dst = parse_bck_to(bck_to)
        else:
            raise CopyError("copy-listrange: the destination (tobck) is missing")
        try:
            selection = parse_selection({k: value[k] for k in ("objnames", "template")
                                         if k in value})
        except SelectionError as e:
            raise CopyError(str(e)) from None
    else:
        raise CopyError(f"not a copy action: {action!r}")
    sync = _flag(value, "synchronize", "sync")
    if sync and selection is not None and selection.prefix is None:
        raise CopyError("synchronize (--sync) is for a prefix, not a list or a range")
    return CopyRequest(
        kind=action, dst=dst, prefix=_text(value, "prefix"), selection=selection, sync=sync,
        prepend=_text(value, "prepend"), dry_run=_flag(value, "dry_run", "dry-run"),
        force=_flag(value, "force"), latest=_flag(value, "latest-ver", "latest"),
        continue_on_error=_flag(value, "coer", "continue-on-err"), workers=_workers(value),
    )
