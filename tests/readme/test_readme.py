"""Issue 17 §1: the README's quick starts run as written, in order, each in a fresh shell.

tests/readme/walk.py does the walk inside ``unshare --mount --net`` (a user namespace too
when not root), so the README's own 127.0.0.1:8080 and /mnt are used as written without
touching the machine's: once against a node with open auth, once with the README's
``[auth] mode = "sigv4"`` file. The FUSE blocks need root and /dev/fuse; without them they
are skipped, and the test says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from walk import README, blocks, sigv4_config  # noqa: E402

pytestmark = pytest.mark.timeout(900)


def test_every_shell_block_runs_or_says_why_not() -> None:
    found = blocks(README.read_text())
    shell = [b for b in found if b.lang in ("sh", "console", "bash", "python")]
    assert [b for b in found if b.lang == "console"] == [], "use ```sh for shell blocks"
    run = [b for b in shell if b.runs]
    assert len(run) >= 5, [b.line for b in run]  # aws, s3cmd, boto3, mount, CLI
    for b in run:
        assert b.lang == "python" or b.text.startswith(". .venv/bin/activate"), (
            f"README.md:{b.line}: a quick start begins by putting .venv's bin on PATH")
    assert "mode = \"sigv4\"" in sigv4_config(README.read_text())
    assert "my-bucket" not in "".join(b.text for b in run)  # the seed's example's bucket


def _fuse_reason() -> str:
    if os.geteuid() != 0:
        return "the FUSE blocks run as root"
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        return "the FUSE blocks need /dev/fuse and fusermount3 (fuse3)"
    return ""


def _namespace() -> list[str]:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) for a network and mount namespace of its own")
    ns = ["unshare", "--mount", "--net", "--propagation", "private"]
    if os.geteuid() != 0:
        ns.insert(1, "--map-root-user")
    probe = subprocess.run([*ns, "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a namespace here: {probe.stderr.strip()}")
    return ns


def _known_gap(mode: str, failed: list[dict[str, str]]) -> bool:
    """Issue 17 item 2, worked on elsewhere: with signatures on, s3cmd signs the path
    without the node's /s3 base path (403 SignatureDoesNotMatch). Only that failure, only
    in sigv4 mode, is an expected failure; anything else fails the test."""
    return mode == "sigv4" and bool(failed) and all(
        "s3cmd" in r["output"] and "SignatureDoesNotMatch" in r["output"] for r in failed)


@pytest.mark.slow  # ~30 s each: every README command run for real
@pytest.mark.parametrize("mode", ["open", "sigv4"])
def test_readme_walk(mode: str, tmp_path: Path) -> None:
    out = tmp_path / "walk.json"
    fuse = _fuse_reason()
    cmd = [*_namespace(), sys.executable, str(Path(__file__).with_name("walk.py")),
           "--mode", mode, "--out", str(out)]
    if fuse:
        cmd += ["--no-fuse", fuse]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=850)
    assert res.returncode == 0, res.stdout + res.stderr
    results = json.loads(out.read_text())
    failed = [r for r in results if r["status"] == "failed"]
    report = "\n\n".join(
        f"README.md:{r['line']} ({r['lang']}): {r['reason']}\n{r['output'][-3000:]}"
        for r in failed)
    if _known_gap(mode, failed):
        pytest.xfail("issue 17 item 2: s3cmd with signatures on gets SignatureDoesNotMatch "
                     "(the node's /s3 base path); every other block passed")
    assert not failed, report
    ran = [r for r in results if r["status"] == "ok"]
    assert len(ran) >= 4
    if fuse:
        pytest.skip(f"{len(ran)} blocks passed; the mount block was skipped: {fuse}")
