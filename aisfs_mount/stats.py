"""Counters of one mount's requests and uploads, for a test or a bench to read."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Stats:
    uploads: int = 0
    upload_failures: int = 0
    delete_failures: int = 0  # background DELETEs (aisfs_mount/deletes.py) that failed
    write_behind: int = 0  # uploads completed by write-behind
    heads: int = 0
    lists: int = 0
    kept: list[str] = field(default_factory=list)  # where failed uploads' data went
