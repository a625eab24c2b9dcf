"""What ``pip install .`` puts into site-packages is only names of our own: ``aisfs``,
``aisfs_node`` and ``aisfs_mount`` (issue 17: it used to install generic top-level ``node``
and ``mount`` packages, which collide with anything else of that name).

Setuptools builds the install tree from pyproject (``build_py``, the step a wheel's
contents come from) and the metadata (``egg_info``: top_level.txt, entry_points.txt) into a
temporary directory; the entry points are then imported from that tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = {"aisfs", "aisfs_node", "aisfs_mount"}


def setuptools(*command: str) -> None:
    res = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", "import setuptools; setuptools.setup()",
         "-q", *command],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr


def test_install_tree_has_only_our_names(tmp_path: Path) -> None:
    lib, meta = tmp_path / "lib", tmp_path / "meta"
    meta.mkdir()
    setuptools("build_py", "--build-lib", str(lib))
    setuptools("egg_info", "--egg-base", str(meta))
    assert {p.name for p in lib.iterdir()} == OURS
    (info,) = meta.glob("*.egg-info")
    assert set((info / "top_level.txt").read_text().split()) == OURS
    entry_points = (info / "entry_points.txt").read_text()
    assert "aisfs_node.cli:main" in entry_points and "aisfs_mount.cli:main" in entry_points
    code = "import aisfs_node.cli, aisfs_mount.cli; print(aisfs_node.cli.__file__)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(lib)}, cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.startswith(str(lib)), res.stderr
