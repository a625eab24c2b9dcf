"""A node's jobs seen from the CLI.

- the store's resilver and scrub (``/v1/daemon/<kind>``): one progress line, and
  ``--wait`` polling until the job is idle (``aisfs node resilver|scrub``);
- the node's job registry (AIS xactions: prefetch, evict, copy, and the store's too):
  ``aisfs job show [ID|KIND]``, ``aisfs job wait ID`` (a bar on a terminal, one line per
  change otherwise), ``aisfs job stop ID|KIND``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from aisfs.cli.args import Subparsers, add_command, add_subcommands, client, json_flag
from aisfs.cli.output import StatusLine, fmt_ns, human_size, print_json, print_table
from aisfs.client.native import NativeClient, NativeError

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


# == the node's job registry: aisfs job show|wait|stop (AIS xactions) ====================

_FINAL = {"finished": 0, "failed": 1, "aborted": 1}
BAR_WIDTH = 24


def job_line(job: dict[str, Any], bar: bool = False) -> str:
    """One line of a job's progress (with a bar when ``bar`` and the total is known)."""
    done = int(job.get("objects_done") or 0)
    total = job.get("objects_total")
    skipped = int(job.get("objects_skipped") or 0)
    count = f"{done + skipped}/{total}" if total is not None else f"{done + skipped}"
    line = f"{job.get('kind', '')} {job.get('id', '')} {job.get('state', '')}: "
    if bar and total:
        frac = min(1.0, (done + skipped) / int(total))
        filled = int(frac * BAR_WIDTH)
        line += f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {frac * 100:3.0f}% "
    line += f"{count} objects, {human_size(int(job.get('bytes_done') or 0))}"
    if skipped:
        line += f", {skipped} skipped"
    if job.get("errors"):
        line += f", {job['errors']} errors"
    if job.get("error"):
        line += f" [{job['error']}]"
    return line


def follow_job(c: NativeClient, job_id: str, timeout: float = 0) -> int:
    """Poll a job until it ends, its progress on stderr (a bar on a terminal, one line
    per change otherwise); 0 if it finished, 1 if it failed or was stopped, 2 if
    ``timeout`` (seconds, 0: none) passed first."""
    line = StatusLine()
    started = time.monotonic()
    while True:
        jobs = c.jobs(job_id=job_id)
        job = next((j for j in jobs if j.get("id") == job_id), None)
        if job is None:
            line.close()
            raise NativeError(404, f'job "{job_id}" not found')
        line.show(job_line(job, bar=line.tty))
        if not job.get("running"):
            line.close()
            return _FINAL.get(str(job.get("state")), 1)
        if timeout and time.monotonic() - started > timeout:
            line.close()
            return 2
        time.sleep(POLL_SECONDS)


def _elapsed(job: dict[str, Any]) -> str:
    secs = float(job.get("elapsed_seconds") or 0)
    return f"{secs:.1f}s" if secs < 120 else f"{int(secs // 60)}m{int(secs % 60):02d}s"


def cmd_show(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        jobs = c.jobs(running=ns.running)
    if ns.which:
        by_id = [j for j in jobs if j.get("id") == ns.which]
        jobs = by_id or [j for j in jobs if j.get("kind") == ns.which]
        if not jobs:
            raise NativeError(404, f'no job "{ns.which}" (an id, or a kind such as '
                              "prefetch-listrange)")
    if ns.json:
        print_json(jobs)
        return 0
    rows = []
    for j in jobs:
        total = j.get("objects_total")
        done = int(j.get("objects_done") or 0) + int(j.get("objects_skipped") or 0)
        rows.append([
            str(j.get("id", "")), str(j.get("kind", "")), " ".join(j.get("buckets") or []) or "-",
            str(j.get("state", "")), f"{done}/{total}" if total is not None else str(done),
            human_size(int(j.get("bytes_done") or 0)), str(j.get("errors") or 0),
            fmt_ns(str(j.get("started_ns", ""))), _elapsed(j),
        ])
    print_table(["ID", "KIND", "BUCKETS", "STATE", "OBJECTS", "BYTES", "ERRORS", "STARTED",
                 "ELAPSED"], rows)
    return 0


def cmd_wait(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        return follow_job(c, ns.id, ns.wait_timeout)


def cmd_stop(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        ids = [j["id"] for j in c.jobs() if j.get("id") == ns.which]
        if ids:
            c.stop_job(job_id=ids[0])
        else:
            c.stop_job(kind=ns.which)
    print(f"stopped {ns.which}")
    return 0


def register(sub: Subparsers, conn: argparse.ArgumentParser) -> None:
    job = add_command(sub, "job", None, "the node's jobs: show, wait for, stop")
    jsub = add_subcommands(job)
    p = json_flag(add_command(jsub, "show", cmd_show,
                              "the node's jobs, newest first (an ID or a KIND: only those)",
                              [conn]))
    p.add_argument("which", nargs="?", metavar="ID|KIND", help="a job id, or a kind")
    p.add_argument("--running", action="store_true", help="only running jobs")
    p = add_command(jsub, "wait", cmd_wait,
                    "follow a job until it ends (exit 1 if it failed or was stopped)", [conn])
    p.add_argument("id", metavar="ID")
    p.add_argument("--wait-timeout", type=float, default=0,
                   help="give up after this many seconds (exit 2); 0: never")
    p = add_command(jsub, "stop", cmd_stop, "stop a job (or every running job of a kind)",
                    [conn])
    p.add_argument("which", metavar="ID|KIND")
