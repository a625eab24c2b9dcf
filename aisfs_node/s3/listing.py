"""A ListObjects(V2) request's query and its answer, for every listing that pages by
marker: a local bucket's (aisfs_node/s3/buckets.py) and an inventory's (aisfs_node/inventory.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aisfs.s3 import xml as s3xml
from aisfs.s3.request import listing_encoding, parse_max


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What a listing asks for: ``marker`` is where the page starts (V1's marker, or V2's
    continuation token decoded, else its start-after); ``params`` echo the request."""

    prefix: str
    delimiter: str
    max_keys: int
    marker: str
    v2: bool
    params: s3xml.ListParams


def list_query(query: dict[str, str], v2: bool) -> ListQuery:
    max_keys = parse_max(query.get("max-keys"), "max-keys")
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    token = query.get("continuation-token") if v2 else None
    if v2:
        start_after = query.get("start-after", "")
        marker = s3xml.decode_continuation_token(token) if token is not None else start_after
    else:
        marker = query.get("marker", "")
    params = s3xml.ListParams(
        prefix=prefix,
        delimiter=delimiter or None,
        max_keys=max_keys,
        encoding_type=listing_encoding(query),
        marker="" if v2 else marker,
        start_after=query.get("start-after") if v2 else None,
        continuation_token=token,
        fetch_owner=query.get("fetch-owner", "").lower() == "true",
    )
    return ListQuery(prefix, delimiter, max_keys, marker, v2, params)


def list_result(bucket: str, q: ListQuery, entries: Sequence[s3xml.ObjectRecord],
                common_prefixes: Sequence[str], is_truncated: bool,
                next_marker: str | None, owner: s3xml.Owner = s3xml.DEFAULT_OWNER,
                owners: Mapping[str, s3xml.Owner] | None = None) -> bytes:
    """The ListBucketResult of one page (V2: the next marker as a continuation token);
    an object's ``Owner`` is ``owners``' for its key (another's than the bucket owner),
    else ``owner``."""
    if q.v2:
        next_token = None
        if is_truncated and next_marker is not None:
            next_token = s3xml.encode_continuation_token(next_marker)
        return s3xml.list_objects_v2_result(bucket, entries, common_prefixes, q.params,
                                            is_truncated, next_token, owner, owners)
    return s3xml.list_objects_v1_result(bucket, entries, common_prefixes, q.params,
                                        is_truncated, next_marker, owner, owners)


def shows_owner(q: ListQuery) -> bool:
    """Whether the page names each object's owner (V1 always, V2 with fetch-owner)."""
    return not q.v2 or q.params.fetch_owner
