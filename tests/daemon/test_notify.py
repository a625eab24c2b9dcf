"""sd_notify under a test-owned NOTIFY_SOCKET: STATUS while starting, READY=1 only when
the port answers, WATCHDOG=1 from the event loop, RELOADING/READY on SIGHUP, STOPPING=1."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import pytest
import trio
from daemon_support import NotifySocket

from aisfs_node.daemon import Notifier, watchdog_interval, watchdog_loop
from support.node import new_node


def test_notify_sequence(
    tmp_path: Path, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    node = new_node(tmp_path)
    ready_file = node.data_dir / "ready.json"
    answered: list[int] = []

    def on_message(fields: dict[str, str]) -> None:
        if fields.get("READY") == "1" and not answered:
            # at READY=1 the listener must already answer (and the ready file be there)
            url = json.loads(ready_file.read_text())["urls"][0]
            with urllib.request.urlopen(url + "/health", timeout=5) as r:
                answered.append(r.status)

    notify_socket.on_message = on_message
    node.start()
    try:
        ready_at = notify_socket.wait_for("READY")
        keys = notify_socket.lines()
        statuses = [k for k in keys[: keys.index("READY=1")] if k.startswith("STATUS=")]
        assert any("opening the store" in s for s in statuses), keys
        assert any("binding" in s for s in statuses), keys
        # the probe runs in the socket's receiver thread: give it the moment it needs
        deadline = time.monotonic() + 10
        while not answered and not notify_socket.errors and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not notify_socket.errors, notify_socket.errors
        assert answered == [200]

        # WATCHDOG_USEC=200000: a ping every 0.1 s
        time.sleep(1.0)
        pings = notify_socket.count("WATCHDOG", since=ready_at)
        assert 5 <= pings <= 20, pings

        node.proc.send_signal(signal.SIGHUP)
        notify_socket.wait_for("RELOADING")
        assert "MONOTONIC_USEC" in next(m for _, m in notify_socket.messages if "RELOADING" in m)
        deadline = time.monotonic() + 10
        while notify_socket.lines().count("READY=1") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert notify_socket.lines().count("READY=1") == 2, notify_socket.lines()
        assert "STOPPING=1" not in notify_socket.lines()
    finally:
        code = node.stop()
    assert code == 0, node.log()
    keys = notify_socket.lines()
    assert "STOPPING=1" in keys and keys.index("STOPPING=1") > keys.index("READY=1")
    assert "Traceback" not in node.log()


def test_watchdog_env_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}) is None
    mine = {"WATCHDOG_USEC": "200000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(mine) == 0.1


async def test_wedged_loop_stops_pinging() -> None:
    """The pings come from a trio task: while the loop is blocked, none go out."""
    sock = NotifySocket()
    try:
        notifier = Notifier(sock.path)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watchdog_loop, notifier, 0.02)
            await trio.sleep(0.3)
            before = sock.count("WATCHDOG")
            # wedge the event loop (a blocking call in a handler); pings sent just before
            # it get 0.3 s to be collected, then none may arrive while it lasts
            time.sleep(0.3)  # noqa: ASYNC251
            wedge_start = sock.count("WATCHDOG")
            time.sleep(0.6)  # noqa: ASYNC251
            wedge_end = sock.count("WATCHDOG")
            await trio.sleep(0.3)
            after = sock.count("WATCHDOG")
            nursery.cancel_scope.cancel()
        notifier.close()
        assert before >= 3
        assert wedge_end == wedge_start
        assert after > wedge_end + 3
    finally:
        sock.close()


def test_notifier_without_socket_is_a_noop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert Notifier().notify("READY=1") is False
    # a vanished manager socket is logged once, never raised
    n = Notifier("/nonexistent/aisfs-notify")
    assert n.notify("READY=1") is False
    assert n.notify("READY=1") is False
    n.close()
