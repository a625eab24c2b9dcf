"""`aisfs node ...` from the user's side (issues 17 and 18): one parser lists every verb,
completion comes from the parsers, fsck checks unless told to rebuild, and a user's
mistake is one line on stderr, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.node import NodeProcess

from .conftest import ROOT, start, stop_and_check

pytestmark = pytest.mark.timeout(180)

NODE_VERBS = ("run", "fsck", "gc", "show", "status", "mountpath", "scrub", "resilver")


def aisfs(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aisfs", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=60)


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def store_args(node: NodeProcess) -> list[str]:
    args = []
    for mp in node.mountpaths:
        args += ["--mountpath", str(mp)]
    return [*args, "--index-dir", str(node.index_dir)]


def test_node_help_lists_every_verb() -> None:
    res = aisfs("node", "--help")
    assert res.returncode == 0, res.stderr
    listed = res.stdout.split("positional arguments:")[1]
    for verb in NODE_VERBS:
        assert f"\n    {verb}" in listed, verb
    fsck = aisfs("node", "fsck", "--help").stdout
    assert "--rebuild" in fsck and "Check the store offline" in fsck
    res = aisfs("--help")
    assert res.returncode == 0 and "node" in res.stdout and "bucket" in res.stdout


def test_completion_comes_from_the_parsers(tmp_path: Path) -> None:
    from aisfs.config import FEATURE_FLAGS

    script = tmp_path / "comp.sh"
    script.write_text(aisfs("completion", "bash").stdout)
    probe = (
        f"source {script}\n"
        't() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _aisfs_complete; '
        'echo "${COMPREPLY[*]}"; }\n'
        't aisfs node ""\nt aisfs node mountpath ""\nt aisfs config cluster features ""\n'
        't aisfs put --\n'
    )
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert set(out[0].split()) == set(NODE_VERBS)
    assert {"add", "disable", "enable", "detach", "ls"} <= set(out[1].split())
    assert set(FEATURE_FLAGS) <= set(out[2].split())
    assert "--custom" in out[3].split() and "--endpoint" in out[3].split()


def test_offline_verbs_and_a_second_node_on_a_running_store(tmp_path: Path) -> None:
    node = start(tmp_path)
    try:
        assert node.proc is not None
        pid = node.proc.pid
        for verb in ("fsck", "gc"):
            res = aisfs("node", verb, *store_args(node))
            line = one_line_error(res)
            assert res.returncode == 1
            assert f"pid {pid}" in line and "stop it first" in line and verb in line
        res = aisfs("node", "run", "--listen", "127.0.0.1:0", *store_args(node))
        line = one_line_error(res)
        assert res.returncode == 1 and f"pid {pid}" in line and "already running" in line

        # the port of a running node, for a node of its own
        host_port = node.url.removeprefix("http://")
        other = tmp_path / "other"
        res = aisfs("node", "run", "--listen", host_port, "--mountpath", str(other / "mp"),
                    "--index-dir", str(other / "index"))
        line = one_line_error(res)
        assert res.returncode == 1
        assert f"cannot listen on {host_port}" in line and "address already in use" in line
    finally:
        stop_and_check(node)

    # stopped: plain fsck checks (rebuilds nothing), --rebuild rebuilds
    res = aisfs("node", "fsck", *store_args(node))
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["rebuilt"] is False and report["missing_chunks"] == []
    res = aisfs("node", "fsck", "--rebuild", *store_args(node))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["rebuilt"] is True
    res = aisfs("node", "gc", *store_args(node))
    assert res.returncode == 0 and "removed_chunks" in json.loads(res.stdout)


def test_a_data_directory_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    for verb in ("run", "fsck"):
        res = aisfs("node", verb, "--mountpath", str(afile / "mp"),
                    "--index-dir", str(tmp_path / "index"))
        assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
        line = res.stderr.strip().splitlines()[-1]  # after the store's log lines, if any
        assert line.startswith("aisfs node: ") and str(afile / "mp") in line
        if verb == "run":  # the node makes its directories: the error is the mkdir's
            assert one_line_error(res).endswith(
                f"cannot use {afile / 'mp'}: not a directory (check --mountpath, "
                "--index-dir and store.* of the config)")
        else:  # the store skips a missing mountpath (a warning) and finds none left
            assert "no usable mountpath" in line
