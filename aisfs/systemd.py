"""systemd's notification protocol (sd_notify(3)) for the node and the mount.

- ``Notifier`` sends ``KEY=VALUE`` datagrams to ``$NOTIFY_SOCKET`` (a path or an
  ``@abstract`` name); without the variable every call is a no-op. Sends never block
  the event loop: the socket is non-blocking and a message the manager cannot take
  right now is dropped (systemd's own sd_notify behaves the same way).
- ``sd_notify(message)`` is one message through the process's notifier.
- ``watchdog_interval`` reads ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``, which must be
  ours) and ``watchdog_loop`` sends ``WATCHDOG=1`` every half of it *from a task on the
  trio loop*: if the loop is wedged (a blocking call, a busy handler) the pings stop and
  systemd restarts the unit (``WatchdogSec=`` with ``Restart=on-failure``).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

import trio

log = logging.getLogger("aisfs.systemd")


class Notifier:
    """sd_notify(3) for one process: ``notify("READY=1")``, ``status("...")``."""

    def __init__(self, address: str | None = None) -> None:
        if address is None:
            address = os.environ.get("NOTIFY_SOCKET") or ""
        self.address = address
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def _target(self) -> str:
        if self.address.startswith("@"):
            return "\0" + self.address[1:]
        return self.address

    def notify(self, message: str) -> bool:
        """Send one datagram (``KEY=VALUE`` lines); True when it was handed over."""
        if not self.address:
            return False
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)
                self._sock = sock
            self._sock.sendto(message.encode(), self._target())
            return True
        except OSError as e:
            if not self._warned:  # once: a manager gone away would fill the log
                log.warning("systemd notify to %s failed: %s", self.address, e)
                self._warned = True
            return False

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


_default: Notifier | None = None


def sd_notify(message: str) -> bool:
    """One notification through this process's notifier ($NOTIFY_SOCKET read once)."""
    global _default
    if _default is None:
        _default = Notifier()
    return _default.notify(message)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), or None when off."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process (e.g. our parent's shell)
    return int(usec) / 1_000_000 / 2


async def watchdog_loop(notifier: Notifier, interval: float) -> None:
    """Ping from the event loop; a loop that stops scheduling tasks stops pinging."""
    while True:
        notifier.notify("WATCHDOG=1")
        await trio.sleep(interval)
