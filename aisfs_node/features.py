"""Cluster feature flags by AIStore's names, settable at run time and persisted."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from aisfs.config import FEATURE_FLAGS, NodeConfig
from aisfs.errors import S3Error

log = logging.getLogger("aisfs.node")


class FeatureFlags:
    def __init__(self, cfg: NodeConfig) -> None:
        self._path = Path(cfg.state_dir) / "features.json"
        self._flags: set[str] = set(cfg.features)
        try:
            saved = json.loads(self._path.read_text())
            self._flags |= {f for f in saved if f in FEATURE_FLAGS}
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            log.warning("ignoring unreadable %s: %s", self._path, e)

    def enabled(self, name: str) -> bool:
        return name in self._flags

    def names(self) -> list[str]:
        return sorted(self._flags)

    def reload(self, cfg: NodeConfig) -> None:
        """Recompute the enabled set from ``cfg`` plus the persisted run-time flags."""
        self._flags = FeatureFlags(cfg)._flags

    def set(self, names: list[str]) -> None:
        """Replace the enabled set (AIS `config cluster features A B`); persisted."""
        unknown = [n for n in names if n not in FEATURE_FLAGS]
        if unknown:
            raise S3Error(
                "InvalidArgument",
                f"unknown feature flag(s) {', '.join(unknown)}; valid: {', '.join(FEATURE_FLAGS)}",
            )
        self._flags = set(names)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(self._flags)))
        os.replace(tmp, self._path)
