"""Walk the README's quick starts as a new user would: each block in a fresh shell.

``blocks(text)`` finds the README's ```sh and ```python blocks; every one is run unless the
line before it is ``<!-- not run by tests/readme: REASON -->``. ``main`` (run by
test_readme.py inside ``unshare --mount --net``, so that the README's 127.0.0.1:8080 and
/mnt are the walk's own) brings up lo, puts a tmpfs on /mnt, starts a node listening on
127.0.0.1:8080 - with the README's ``~/aisfs-sigv4.toml`` in sigv4 mode, saved in the walk's
HOME as the README says - and runs each block, in order, in ``env -i bash`` (HOME, a plain
PATH, LANG: nothing of ours) from a directory holding the README and a link to .venv. It
writes what happened to a JSON file: one entry per block.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SKIP_RE = re.compile(r"<!--\s*not run by tests/readme:\s*(.*?)\s*-->")
FENCE_RE = re.compile(r"^```(\w*)\s*$")
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SIGV4_FILE = "~/aisfs-sigv4.toml"


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip_reason: str = ""

    @property
    def runs(self) -> bool:
        return self.lang in ("sh", "console", "bash", "python") and not self.skip_reason

    @property
    def needs_fuse(self) -> bool:
        return "aisfs mount" in self.text


@dataclass
class Result:
    line: int
    lang: str
    status: str  # ok | failed | skipped
    reason: str = ""
    output: str = ""


def blocks(text: str) -> list[Block]:
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        prev = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        skip = SKIP_RE.search(prev)
        out.append(Block(start + 1, lang, "\n".join(lines[start + 1:j]) + "\n",
                         skip.group(1) if skip else ""))
        i = j + 1
    return out


def sigv4_config(text: str) -> str:
    """The README's toml block that it says to save as ~/aisfs-sigv4.toml."""
    for b in blocks(text):
        if b.lang == "toml" and b.text.lstrip().startswith(f"# {SIGV4_FILE}"):
            return b.text
    raise LookupError(f"README.md has no ```toml block starting with '# {SIGV4_FILE}'")


def lo_up() -> None:
    """`ip link set lo up` without iproute2 (a fresh Debian may not have it)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s, siocgifflags, req))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh22x", b"lo", flags | iff_up))


def fresh_env(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "PATH": CLEAN_PATH, "LANG": "C.UTF-8", "TERM": "dumb",
            "USER": os.environ.get("USER", "root")}


def run_block(b: Block, home: Path, work: Path, timeout: float) -> Result:
    if b.lang == "python":
        # as the README says: the virtualenv's python
        argv = ["env", "-i", *(f"{k}={v}" for k, v in fresh_env(home).items()),
                "bash", "-c", ". .venv/bin/activate && exec python -"]
    else:
        argv = ["env", "-i", *(f"{k}={v}" for k, v in fresh_env(home).items()),
                "bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-x", "-s"]
    try:
        res = subprocess.run(argv, input=b.text, cwd=work, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return Result(b.line, b.lang, "failed", f"timed out after {timeout:.0f}s",
                      str(e.stdout or ""))
    out = res.stdout
    if res.returncode != 0:
        return Result(b.line, b.lang, "failed", f"exit status {res.returncode}", out)
    if "Traceback (most recent call last)" in out:
        return Result(b.line, b.lang, "failed", "a traceback", out)
    return Result(b.line, b.lang, "ok", "", out)


def fuse_mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if " - fuse" in ln]


def walk(mode: str, fuse_reason: str, tmp: Path, timeout: float) -> list[Result]:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.node import new_node  # type: ignore[import-not-found]

    text = README.read_text()
    home = tmp / "home"
    work = tmp / "clone"
    home.mkdir()
    work.mkdir()
    (work / "README.md").write_text(text)
    (work / ".venv").symlink_to(Path(sys.prefix))
    config = None
    if mode == "sigv4":
        config = sigv4_config(text)
        (home / SIGV4_FILE.removeprefix("~/")).write_text(config)
    node = new_node(tmp, config=config, extra_args=["--listen", "127.0.0.1:8080"]).start()
    results: list[Result] = []
    try:
        for b in blocks(text):
            if not b.runs:
                results.append(Result(b.line, b.lang, "skipped",
                                      b.skip_reason or f"a {b.lang or 'plain'} block"))
            elif b.needs_fuse and fuse_reason:
                results.append(Result(b.line, b.lang, "skipped", fuse_reason))
            else:
                results.append(run_block(b, home, work, timeout))
    finally:
        for mp in reversed(fuse_mounts()):
            subprocess.run(["fusermount3", "-u", "-z", mp], capture_output=True, timeout=30)
        node.stop()
    logs = sorted((home / ".local" / "state" / "aisfs").glob("*.log"))
    for log in logs:
        if "Traceback" in log.read_text(errors="replace"):
            results.append(Result(0, "log", "failed", f"a traceback in {log.name}",
                                  log.read_text(errors="replace")[-4000:]))
    return results


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["open", "sigv4"], required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--no-fuse", default="", help="the reason the FUSE blocks are skipped")
    p.add_argument("--timeout", type=float, default=180.0)
    ns = p.parse_args()
    lo_up()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "readme-mnt", "/mnt"],
                   check=True)
    with tempfile.TemporaryDirectory(prefix="aisfs-readme-") as tmp:
        results = walk(ns.mode, ns.no_fuse, Path(tmp), ns.timeout)
    ns.out.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
