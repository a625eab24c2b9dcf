"""The content-addressed object store."""

from .chunks import StoreCorruption
from .config import StoreConfig
from .store import Store, open_store
from .types import (
    BucketInfo,
    ChunkRef,
    FsckReport,
    ListEntry,
    ListPage,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    UploadInfo,
    WriteResult,
)

__all__ = [
    "BucketInfo",
    "ChunkRef",
    "FsckReport",
    "ListEntry",
    "ListPage",
    "ObjectInfo",
    "ObjectMeta",
    "PartInfo",
    "Store",
    "StoreConfig",
    "StoreCorruption",
    "UploadInfo",
    "WriteResult",
    "open_store",
]
