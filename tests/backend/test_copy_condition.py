"""``S3Backend.copy_object(src_if_match=...)``: the copy of an object onto itself that the
front makes when it holds the object cached (tests/backend/test_copy_onto_itself.py) is
conditioned on the cached copy's ETag - ``CopySourceIfMatch`` on the CopyObject, and on
each UploadPartCopy of a copy past ``copy_max``. A backend that honours it (AWS, an aisfs
node) refuses the copy when the object changed: PreconditionFailed, nothing made."""

from __future__ import annotations

import os

import pytest

from aisfs.backend.s3 import S3Backend
from aisfs.backend.settings import settings_for
from aisfs.errors import S3Error

from .conftest import Target

MiB = 1024 * 1024


@pytest.mark.parametrize("copy_max", [5 * MiB * 1024, 5 * MiB], ids=["one-copy", "part-copies"])
async def test_a_copy_on_a_stale_etag_is_refused(target: Target, copy_max: int) -> None:
    if target.name != "aisfs":
        pytest.skip(f"{target.name} ignores CopySourceIfMatch (docs/backends.md)")
    bucket = target.new_bucket()
    client = target.client()
    old = client.put_object(Bucket=bucket, Key="k", Body=b"old")["ETag"].strip('"')
    data = os.urandom(6 * MiB)
    new = client.put_object(Bucket=bucket, Key="k", Body=data)["ETag"].strip('"')
    backend = S3Backend(settings_for(target.config(copy_max=copy_max).s3))
    try:
        with pytest.raises(S3Error) as refused:
            await backend.copy_object(bucket, "k", bucket, "k2", user={"m": "1"},
                                      size=len(data), src_if_match=old)
        assert refused.value.code == "PreconditionFailed"
        assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="k2")
        made = await backend.copy_object(bucket, "k", bucket, "k2", user={"m": "1"},
                                         size=len(data), src_if_match=new)
        assert made.size == len(data)
        got = client.get_object(Bucket=bucket, Key="k2")
        assert got["Body"].read() == data and got["Metadata"] == {"m": "1"}
    finally:
        await backend.aclose()
