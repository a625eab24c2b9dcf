"""The node as a systemd service: notifications, the watchdog, and reload on SIGHUP.

- ``Daemon`` is the run loop's systemd face (STATUS lines, READY/RELOADING/STOPPING, the
  watchdog task) over aisfs/systemd.py, which owns the protocol (``Notifier``,
  ``watchdog_interval``, ``watchdog_loop``, re-exported here) for the node and the mount.
- ``reload_config`` applies what can change without a restart — auth mode and keys,
  feature flags from the config, log level — to the running node, in place, so open
  connections and requests in flight are untouched. Settings that need a restart
  (listeners, TLS files, mountpaths, index) are reported, not applied. A config that does
  not load or validate is refused and the old one stays in force.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from aisfs.config import NodeConfig
from aisfs.systemd import Notifier, watchdog_interval, watchdog_loop
from aisfs_node.logs import set_level

if TYPE_CHECKING:
    from aisfs_node.app import NodeApp

log = logging.getLogger("aisfs.node")

__all__ = ["Daemon", "Notifier", "apply_config", "reload_config", "watchdog_interval",
           "watchdog_loop"]


async def reload_config(app: NodeApp, load: Callable[[], NodeConfig]) -> list[str]:
    """Load the config again (in a thread) and apply the live parts; returns what changed.

    Raises ConfigError or OSError (the running config is kept) when the new one is bad.
    """
    new = await trio.to_thread.run_sync(load)
    return apply_config(app, new)


def apply_config(app: NodeApp, new: NodeConfig) -> list[str]:
    """Apply auth, log level and feature flags of ``new`` to the running node, in place."""
    cfg = app.cfg
    changed: list[str] = []
    if (new.auth.mode, new.auth.access_keys, new.auth.jwt_secret, new.auth.region) != (
        cfg.auth.mode, cfg.auth.access_keys, cfg.auth.jwt_secret, cfg.auth.region
    ):
        changed.append(f"auth (mode {cfg.auth.mode} -> {new.auth.mode})")
    # Every facade holds this same NodeConfig object: replace sections in place.
    cfg.auth = new.auth
    app.s3.authenticator.reload(cfg)
    if new.log.level.lower() != cfg.log.level.lower():
        changed.append(f"log.level {cfg.log.level} -> {new.log.level}")
    cfg.log = new.log
    set_level(cfg.log.level)
    if sorted(new.features) != sorted(cfg.features):
        changed.append(f"features {sorted(cfg.features)} -> {sorted(new.features)}")
    cfg.features = list(new.features)
    _reload_features(app, cfg)
    restart_needed = [
        name
        for name, old_value, new_value in (
            ("net.listen", cfg.net.listen, new.net.listen),
            ("net.https_listen", cfg.net.https_listen, new.net.https_listen),
            ("net.certfile", cfg.net.certfile, new.net.certfile),
            ("net.keyfile", cfg.net.keyfile, new.net.keyfile),
            ("net.s3_path", cfg.net.s3_path, new.net.s3_path),
            ("store.mountpaths", cfg.store.mountpaths, new.store.mountpaths),
            ("store.index_dir", cfg.store.index_dir, new.store.index_dir),
        )
        if old_value != new_value
    ]
    if restart_needed:
        log.warning("reload: %s changed; takes effect at the next restart",
                    ", ".join(restart_needed))
    return changed


def _reload_features(app: NodeApp, cfg: NodeConfig) -> None:
    """The enabled set a restart would give: config flags plus those set at run time."""
    app.features.reload(cfg)


class Daemon:
    """The run loop's systemd face: STATUS lines, READY/RELOADING/STOPPING, the watchdog."""

    def __init__(self, notifier: Notifier | None = None) -> None:
        self.notifier = notifier or Notifier()

    def status(self, text: str) -> None:
        log.debug("status: %s", text)
        self.notifier.status(text)

    def ready(self, status: str) -> None:
        self.notifier.notify(f"READY=1\nSTATUS={status}")

    def reloading(self) -> None:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.notifier.notify(f"RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS=reloading config")

    def stopping(self, status: str) -> None:
        self.notifier.notify(f"STOPPING=1\nSTATUS={status}")

    async def run_watchdog(self) -> None:
        interval = watchdog_interval()
        if interval is None or not self.notifier.enabled:
            return
        log.info("systemd watchdog: pinging every %.3fs", interval)
        await watchdog_loop(self.notifier, interval)

