"""A job's bucket, as ``/v1`` names it (``provider`` + name), resolved for the backend."""

from __future__ import annotations

from aisfs.backend import (
    BucketRef,
    Provider,
    RemoteObjects,
    Resolved,
    local_bucket_name,
    normalize_provider,
)
from aisfs.errors import S3Error


async def resolve_bucket(remote: RemoteObjects, provider: str | None, name: str, *,
                         discover: bool = True) -> Resolved:
    """``provider`` ``aws``/``s3``: the backend's bucket ``name`` (asked for and added on
    first use when ``discover``); ``ais``: the node's bucket (remote only if it has
    ``backend_bck``); None (no provider given): an ``ais://`` bucket if there is one,
    else ``s3://``. Raises NoSuchBucket (404) when there is none."""
    store = remote.store
    wanted = normalize_provider(provider) if provider is not None else None
    if wanted is not Provider.AWS:
        try:
            info = await store.get_bucket(name)
        except S3Error as e:
            if e.code != "NoSuchBucket" or wanted is Provider.AIS:
                raise
        else:
            return remote.backends.resolve(BucketRef(Provider.AIS, name), info.props)
    ref = BucketRef(Provider.AWS, name)
    try:
        info = await store.get_bucket(local_bucket_name(ref))
        return remote.backends.resolve(ref, info.props)
    except S3Error as e:
        if e.code != "NoSuchBucket" or not discover:
            raise
    rb = remote.backends.resolve(ref, {})
    try:
        await remote.backend(rb).head_bucket(name)
    except S3Error as e:
        if e.code == "NoSuchBucket":
            raise S3Error("NoSuchBucket", f'bucket "{ref}" does not exist', name) from None
        raise
    await remote.ensure_local_bucket(rb)
    return rb


def remote_only(rb: Resolved, action: str) -> Resolved:
    """``rb`` if it is a remote bucket; a 400 for a plain ``ais://`` one (AIS: prefetch
    and evict are for remote buckets only)."""
    if not rb.is_remote:
        raise S3Error("InvalidRequest", f"{action}: {rb.bucket} is not a remote bucket "
                      "(only s3:// buckets and ais:// buckets with backend_bck have cached "
                      "copies)", status=400)
    return rb
