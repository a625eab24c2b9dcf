"""The node's malloc settings: few glibc arenas, so memory freed by any thread is reused.

glibc gives each thread that allocates under contention an arena of its own (up to 8 per
core) and keeps what is freed in it. The store used to join every received chunk (~8 MiB)
in a worker thread (``aisfs/store/writer.py``), so with 40 worker threads the freed chunk
buffers spread over many arenas: a 5 GiB ``aws s3 cp`` up and down peaked at 432 MiB of
node RSS against 291 MiB with every join on the event loop; two arenas brought it back.
A PUT or part of declared length is spooled now (``aisfs/store/spool.py``: no chunk
buffer), but a remote object's copy and a body of unknown length still join chunks, and
the reads allocate theirs in worker threads: the limit stays (tests/s3api/test_s3_large.py
bounds the peak). Only glibc has ``mallopt``; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """At most ``arenas`` malloc arenas from now on (call before the worker threads
    start); False where the C library has no ``mallopt``."""
    try:  # the process's own symbols (libc's among them): no library search at start
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
