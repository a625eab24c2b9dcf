"""AIS's names for NBI (``api/apc``, the Python SDK's ``const.py``) and inventory names."""

from __future__ import annotations

import re
import secrets
import string

from aisfs.errors import S3Error

# bucket actions (``ActionMsg.action`` of /v1/buckets/B); the create job's kind is the
# create action, as in AIS (``apc.ActCreateNBI``: ``ais show job create-inventory``)
ACT_CREATE_NBI = "create-inventory"
ACT_DESTROY_NBI = "destroy-inventory"
ACT_SHOW_NBI = "show-inventory"

# list-objects flag: list the inventory instead of the backend (``apc.LsNBI``, bit 15)
LS_NBI = 1 << 15

# S3 (and /v1) request headers
HDR_INVENTORY = "ais-bucket-inventory"  # "true" (or y, yes, on): list from an inventory
HDR_INV_NAME = "ais-inv-name"  # optional: which one

MAX_NAME = 64
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*\Z")
_ID_CHARS = string.ascii_letters + string.digits
_TRUE = frozenset(("true", "t", "1", "y", "yes", "on"))


def new_name() -> str:
    """A default inventory name, as AIS makes them: ``inv-`` and 9 letters or digits."""
    return "inv-" + "".join(secrets.choice(_ID_CHARS) for _ in range(9))


def check_name(name: str) -> str:
    """``name`` if it is a valid inventory name (AIS ``cos.CheckAlphaPlus``: letters,
    digits, ``-``, ``_`` and ``.``, not first), else InvalidArgument."""
    if not name or len(name) > MAX_NAME or not _NAME.match(name):
        raise S3Error("InvalidArgument", f"invalid inventory name {name!r}: expected up to "
                      f"{MAX_NAME} letters, digits, '-', '_' or '.' (not first)")
    return name


def wants_inventory(header_value: str | None) -> bool:
    """Does an ``Ais-Bucket-Inventory`` header value ask for the inventory (AIS's
    ``cos.IsParseBool``)?"""
    return (header_value or "").strip().lower() in _TRUE
