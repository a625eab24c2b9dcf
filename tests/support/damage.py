"""Damage done to a store's files behind the node's back, as a careless tool would."""

from __future__ import annotations

import os
from pathlib import Path


def flip_in_place(path: Path, at: int) -> None:
    """Flip one byte of ``path`` in place and put the mtime back: the ctime still moves
    (it cannot be set from user space), which is what a remembered verification sees."""
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0x10]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
