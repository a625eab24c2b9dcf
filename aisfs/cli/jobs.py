"""A node's background jobs (resilver, scrub) seen from the CLI: one progress line, and
``--wait`` polling until the job is idle."""

from __future__ import annotations

import time
from typing import Any

from aisfs.cli.output import StatusLine, human_size
from aisfs.client.native import NativeClient

POLL_SECONDS = 0.3
# a job asked for may not have started yet: it counts as busy this long
START_GRACE_SECONDS = 3.0
_EXTRAS = (("copies_added", "added"), ("copies_removed", "removed"),
           ("copies_repaired", "repaired"), ("lost_chunks", "lost chunks"),
           ("unrepairable_count", "unrepairable objects"))


def progress_line(kind: str, prog: dict[str, Any] | None, pending: bool = False) -> str:
    if not prog:
        return f"{kind}: {'pending' if pending else 'never run'}"
    total = int(prog.get("objects_total") or 0)
    done = int(prog.get("objects_done") or 0)
    btotal = int(prog.get("bytes_total") or 0)
    bdone = int(prog.get("bytes_done") or 0)
    pct = f" ({100 * bdone / btotal:.0f}%)" if btotal else ""
    line = (
        f"{kind} {prog.get('id', '')} {prog.get('state', '')}: {done}/{total} objects, "
        f"{human_size(bdone)}/{human_size(btotal)}{pct}"
    )
    extras = [f"{prog[key]} {label}" for key, label in _EXTRAS if prog.get(key)]
    if extras:
        line += "; " + ", ".join(extras)
    if prog.get("error"):
        line += f" [{prog['error']}]"
    return line


def job_status(c: NativeClient, kind: str) -> dict[str, Any]:
    status: dict[str, Any] = c.request("GET", f"/v1/daemon/{kind}").json()
    return status


def last_job_id(c: NativeClient, kind: str) -> str | None:
    prog = job_status(c, kind).get("progress") or {}
    return prog.get("id")


def wait_job(c: NativeClient, kind: str, after_id: str | None = None) -> dict[str, Any]:
    """Poll ``/v1/daemon/<kind>`` until idle, a progress line on stderr; the last status.
    ``after_id``: the job that ran before ours (ours has not started while it shows)."""
    line = StatusLine()
    started = time.monotonic()
    while True:
        st = job_status(c, kind)
        prog = st.get("progress")
        busy = st.get("running") or st.get("pending")
        if prog and prog.get("id") == after_id and time.monotonic() - started < START_GRACE_SECONDS:
            busy = True
        line.show(progress_line(kind, prog, bool(st.get("pending"))))
        if not busy:
            line.close()
            return st
        time.sleep(POLL_SECONDS)


def job_failed(status: dict[str, Any]) -> bool:
    return (status.get("progress") or {}).get("state") == "failed"
