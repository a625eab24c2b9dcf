"""The ASGI extension ``aisfs.http.response.threadsend``: a body piece written to the
client's socket by a worker thread, straight from the buffer it was made in.

An encrypted GET must bring every byte into the process (docs/encryption.md, "Cost").
Made in one thread and sent by another (the event loop), each byte crosses cores
between the decryption and the socket's copy, and every piece costs two hand-offs.
With this extension one worker thread reads a small step of a chunk file, decrypts it
and writes it to the socket while it is still in that core's cache; the event loop
hands out one job per piece (a chunk) and waits for it.

The app sends ``{"type": THREADSEND, "count": n, "write": fn, "more_body": ...}``;
the server (``aisfs_node/h1server.py``, plain TCP only: over TLS the bytes must pass
its SSL object, and Hypercorn does not offer it) writes the response head, then runs
``fn(writer)`` in a worker thread, where ``writer.send(data)`` writes all of ``data``
to the socket (waiting with ``poll`` while the socket is full). The server guarantees:

- nothing else writes the socket while ``fn`` runs (the connection's task waits);
- the framing stays exact: ``writer`` refuses a byte past ``count``, and a job that
  ends short of ``count`` (or raises) cuts the response - the connection closes;
- a cancellation (the node stopping) wakes the thread at its next write or wait
  (``Stopped``), and the task waits for the thread to end before it goes on, so what
  ``fn`` uses (an open chunk file, its buffers) outlives it; a client gone is
  ``PeerGone`` from ``send`` (the app then sees ``ClientGone``), and any other error of
  ``fn`` reaches the app as it is.

``os.write``, ``os.preadv`` and ``poll`` release the GIL; OpenSSL's ``update_into``
(cryptography 51) does not, so a worker holds it for the AES of one step at a time.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from typing import Any

THREADSEND = "aisfs.http.response.threadsend"


class Stopped(Exception):
    """The server cancelled the job (the node is stopping): stop writing."""


class PeerGone(Exception):
    """The socket's write failed (the client reset or closed the connection); not an
    ``OSError``, so that the job's own I/O errors (a chunk file's) are not taken for it."""


class TooLong(Exception):
    """A job wrote past the ``count`` it announced."""


class SocketWriter:
    """(A worker thread's.) Writes to a non-blocking socket ``fd``, at most ``count``
    bytes in all; ``wake`` (an eventfd) readable means stop.

    ``slots`` (the server's, shared by every job) bounds the jobs that work at once: a job
    takes a slot before it starts and gives it back while its socket is full, so clients
    that stop reading hold a parked thread each (and the job's buffers, less than the
    loop's pieces held), never the slots every other encrypted GET needs."""

    __slots__ = ("fd", "wake", "left", "stopped", "_poll", "_slots", "_holding")

    def __init__(
        self, fd: int, wake: int, count: int, slots: threading.Semaphore | None = None
    ) -> None:
        self.fd = fd
        self.wake = wake
        self.left = count
        self.stopped = False  # set by the event loop, then ``wake`` written
        self._poll: Any = None
        self._slots = slots
        self._holding = False

    def run(self, job: Callable[[SocketWriter], None]) -> None:
        """(The worker thread.) ``job(self)`` with a slot held while it works."""
        self._take_slot()
        try:
            job(self)
        finally:
            self._give_slot()

    def _take_slot(self) -> None:
        if self._slots is None or self._holding:
            return
        while not self._slots.acquire(timeout=0.05):
            if self.stopped:
                raise Stopped
        self._holding = True

    def _give_slot(self) -> None:
        if self._slots is not None and self._holding:
            self._holding = False
            self._slots.release()

    def send(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        if len(view) > self.left:
            raise TooLong(f"{len(view) - self.left} bytes past the piece's count")
        while view:
            if self.stopped:
                raise Stopped
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                n = 0
            except OSError as e:
                raise PeerGone(str(e) or type(e).__name__) from e
            if n:
                self.left -= n
                view = view[n:]
                continue
            if self._poll is None:
                self._poll = select.poll()
                self._poll.register(self.fd, select.POLLOUT)
                self._poll.register(self.wake, select.POLLIN)
            if self._poll.poll(0):
                continue  # writable again (or an error / a wake: the loop says which)
            self._give_slot()  # the client is not reading: let other jobs work meanwhile
            self._poll.poll()  # writable, an error/hangup (the write says which), or woken
            self._take_slot()


class Collector:
    """A ``SocketWriter`` stand-in that keeps the bytes, for a server that cannot let a
    thread write its stream (TLS): they are sent afterwards."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.pieces: list[bytes] = []

    def send(self, data: bytes | bytearray | memoryview) -> None:
        if len(data) > self.left:
            raise TooLong(f"{len(data) - self.left} bytes past the piece's count")
        self.left -= len(data)
        self.pieces.append(bytes(data))


Writer = SocketWriter | Collector


class ThreadSend:
    """A body piece of ``count`` bytes that ``write(writer)`` produces in a worker thread
    (``aisfs_node/http.py`` ``send_response`` turns it into the ``THREADSEND`` message)."""

    __slots__ = ("count", "write")

    def __init__(self, count: int, write: Callable[[Writer], None]) -> None:
        self.count = count
        self.write = write

    def __len__(self) -> int:
        return self.count

    def message(self) -> dict[str, Any]:
        return {"type": THREADSEND, "count": self.count, "write": self.write,
                "more_body": True}
