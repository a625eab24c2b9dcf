"""Another revision of this repository, checked out beside it for a side-by-side bench."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


@contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """``rev`` in a temporary git worktree (detached), removed when the block ends."""
    other = Path(tempfile.mkdtemp(prefix="aisfs-against-")) / "tree"
    subprocess.run(["git", "-C", str(HERE), "worktree", "add", "--detach", str(other), rev],
                   check=True, capture_output=True)
    try:
        yield other
    finally:
        subprocess.run(["git", "-C", str(HERE), "worktree", "remove", "--force", str(other)],
                       check=False, capture_output=True)
        shutil.rmtree(other.parent, ignore_errors=True)
