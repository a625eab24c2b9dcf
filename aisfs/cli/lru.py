"""`aisfs start lru [--wait] [--json]`: run the node's LRU now (AIS's ``ais start lru``).

The run evicts cached copies of remote objects, least recently used first, only when a
mountpath's file system is above ``space.highwm``, down to ``space.lowwm``
(docs/backends.md, "LRU and watermarks"). ``--wait`` shows the run until it ends and
prints what it evicted. The node's route: ``POST``/``GET /v1/daemon/lru``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from aisfs.cli.args import Subparsers, add_command, add_subcommands, client, json_flag
from aisfs.cli.output import StatusLine, human_size, print_json

POLL_SECONDS = 0.2


def lru_line(prog: dict[str, Any] | None) -> str:
    """``lru <id> finished: 12 objects (3.0 MiB) evicted; usage 95.1% -> 74.0%``."""
    if not prog:
        return "lru: never run"
    nbytes = human_size(int(prog.get("bytes_done") or 0))
    line = (f"lru {prog.get('id', '')} {prog.get('state', '')}: "
            f"{prog.get('objects_done', 0)} objects ({nbytes}) evicted")
    before = ", ".join(f"{u['percent']}%" for u in prog.get("usage_before") or [])
    after = ", ".join(f"{u['percent']}%" for u in prog.get("usage_after") or [])
    if before and after and not prog.get("running"):
        line += f"; usage {before} -> {after}"
        if not prog.get("above_highwm"):
            line += " (under the high watermark)"
    if prog.get("error"):
        line += f" [{prog['error']}]"
    return line


def cmd_start_lru(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        st: dict[str, Any] = c.request("POST", "/v1/daemon/lru").json()
        ours = (st.get("progress") or {}).get("id")
        if ns.wait:
            line = StatusLine()
            while st.get("running") and (st.get("progress") or {}).get("id") == ours:
                line.show(lru_line(st.get("progress")))
                time.sleep(POLL_SECONDS)
                st = c.request("GET", "/v1/daemon/lru").json()
            line.close()
    if ns.json:
        print_json(st)
    else:
        print(lru_line(st.get("progress")) if ns.wait else f"lru {ours} started")
    return 1 if (st.get("progress") or {}).get("state") == "failed" else 0


def register(sub: Subparsers, conn: argparse.ArgumentParser) -> None:
    start = add_subcommands(add_command(sub, "start", None, "start a job (ais start)"))
    p = json_flag(add_command(
        start, "lru", cmd_start_lru,
        "evict cached remote objects past space.highwm, least recently used first",
        [conn]))
    p.add_argument("--wait", action="store_true", help="wait for the run to end")
