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

``keep_malloc_heap``: freed memory stays in the heap up to ``TRIM_THRESHOLD`` rather than
going back to the kernel at every ~2 MiB free at its top (glibc's dynamic threshold,
twice the largest block it stopped mmapping). Every received body piece (~1 MiB, the
parser's copy) was otherwise laid in pages faulted in afresh: 45-115 thousand page faults
per GiB uploaded, ~0.1-0.25 s of node CPU per GiB, the most in a multipart upload (its
parts end and free their pieces at once); with it ~2 thousand, the node's CPU per GiB of
8 MiB parts -4..6 % (bench/multipart.py). Blocks up to ``MMAP_THRESHOLD`` (a joined
8 MiB chunk among them) come from the heap, as the dynamic threshold had them.
"""

from __future__ import annotations

import ctypes
from typing import Any

M_ARENA_MAX = -8  # glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
ARENAS = 2
TRIM_THRESHOLD = 32 * 1024 * 1024  # free memory a heap keeps at its top
MMAP_THRESHOLD = 16 * 1024 * 1024  # a larger block is mmapped (and unmapped when freed)


def _mallopt() -> Any:
    try:  # the process's own symbols (libc's among them): no library search at start
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """At most ``arenas`` malloc arenas from now on (call before the worker threads
    start); False where the C library has no ``mallopt``."""
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, arenas))


def keep_malloc_heap(trim: int = TRIM_THRESHOLD, mmap: int = MMAP_THRESHOLD) -> bool:
    """Fixed malloc thresholds: up to ``trim`` bytes free at a heap's top kept, blocks up
    to ``mmap`` bytes from the heap; False where the C library has no ``mallopt``."""
    mallopt = _mallopt()
    return (mallopt is not None and bool(mallopt(M_MMAP_THRESHOLD, mmap))
            and bool(mallopt(M_TRIM_THRESHOLD, trim)))
