"""The set of mountpaths: which are live, their placement order, their health check."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from .health import check_mountpath
from .mountpath import Mountpath, open_mountpath
from .placement import hrw_order, quantize_weight


class MountpathSet:
    """The live mountpaths and their placement order (thread-safe reads)."""

    def __init__(self, mountpaths: Iterable[Mountpath], refresh_seconds: float) -> None:
        self.all: list[Mountpath] = list(mountpaths)
        self._refresh_seconds = refresh_seconds
        self._refreshed = time.monotonic()
        self._lock = threading.Lock()
        # called (in the failing thread) when the health check disables a mountpath; set
        # by StoreAdmin: persist the state, start a resilver
        self.on_fault: Callable[[Mountpath], None] | None = None

    def live(self) -> list[Mountpath]:
        if time.monotonic() - self._refreshed > self._refresh_seconds:
            self.refresh_weights()
        return [mp for mp in self.all if mp.enabled]

    def refresh_weights(self) -> None:
        with self._lock:
            self._refreshed = time.monotonic()
            for mp in self.all:
                if mp.enabled:
                    try:
                        mp.weight = quantize_weight(mp.capacity()["free"])
                    except OSError:
                        self.check(mp)

    def order(self, name: str) -> list[Mountpath]:
        live = self.live()
        if any(mp.detaching for mp in live):
            # a detaching mountpath is still read, but placed on only when nothing else is
            return hrw_order(name, [mp for mp in live if not mp.detaching]) + [
                mp for mp in live if mp.detaching
            ]
        return hrw_order(name, live)

    def check(self, mp: Mountpath) -> bool:
        """After an I/O error (called in its ``except`` block): count it and probe ``mp``
        (``health.check_mountpath``); a mountpath that fails the probe is disabled. True if
        still usable."""
        return check_mountpath(mp, self.on_fault)


__all__ = ["Mountpath", "MountpathSet", "open_mountpath"]
