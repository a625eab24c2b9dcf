"""One SQLite connection per thread: the index's readers and each shelf's (shelf.py).

Worker threads come and go (trio's thread cache retires idle ones): when a thread opens
its connection, the connections of threads that are gone are closed, so they do not pile
up. A connection opened for one ``tag`` (a shelf file's inode) is replaced, by its own
thread, when that thread asks with another one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable


class ThreadConnections:
    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect  # called in the thread that will use the connection
        self._local = threading.local()
        self._open: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self._lock = threading.Lock()

    def get(self, tag: object = None) -> sqlite3.Connection:
        """This thread's connection (opened for ``tag``)."""
        have: tuple[sqlite3.Connection, object] | None = getattr(self._local, "conn", None)
        if have is not None:
            if have[1] == tag:
                return have[0]
            have[0].close()
        conn = self._connect()
        self._local.conn = (conn, tag)
        with self._lock:
            for ident, (thread, old) in list(self._open.items()):
                if not thread.is_alive():
                    old.close()
                    del self._open[ident]
            me = threading.current_thread()
            self._open[id(me)] = (me, conn)
        return conn

    def close_all(self) -> None:
        """Close every thread's connection (the store is closing: no thread uses them)."""
        with self._lock:
            for _, conn in self._open.values():
                conn.close()
            self._open.clear()
        self._local = threading.local()
