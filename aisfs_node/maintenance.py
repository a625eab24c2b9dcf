"""Offline store maintenance: fsck (rebuild the index from the disks) and gc."""

from __future__ import annotations

import dataclasses
from typing import Any

from aisfs.config import NodeConfig
from aisfs.store.store import open_store
from aisfs_node.serve import store_config


async def run_fsck(cfg: NodeConfig, rebuild: bool) -> dict[str, Any]:
    async with open_store(store_config(cfg)) as store:
        report = await store.fsck(rebuild=rebuild)
    return dataclasses.asdict(report)


async def run_gc(cfg: NodeConfig) -> dict[str, Any]:
    async with open_store(store_config(cfg)) as store:
        removed = await store.gc()
    return {"removed_chunks": removed}
