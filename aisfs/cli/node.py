"""The client verbs of `aisfs node`: show, status, mountpath, scrub, resilver.

`aisfs node` belongs to aisfs_node/cli.py, which runs the daemon and its offline maintenance
(run, fsck, gc) and adds these verbs to the same parser with `register`: they only speak
to a running node's native API, so they live here with the other client verbs.

    aisfs node show|status                       the node, its store and mountpaths;
                                                 status adds buckets, jobs, rates, errors
    aisfs node mountpath [ls]                    state, capacity, I/O errors of each
    aisfs node mountpath add|disable|enable|detach PATH [--wait]
    aisfs node scrub [--wait] [--status]         exit 1 if objects cannot be repaired
    aisfs node resilver [--start] [--wait]
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from aisfs.cli.args import Handler, Subparsers, add_command, add_subcommands, client, json_flag
from aisfs.cli.jobs import job_failed, job_status, last_job_id, progress_line, wait_job
from aisfs.cli.output import fmt_uptime, human_size, print_json, print_table
from aisfs.client.native import NativeClient, NativeError

MP_HEADER = ["MOUNTPATH", "STATE", "USED", "TOTAL", "USED%", "IO ERRORS", "REASON"]
BUCKET_HEADER = ["BUCKET", "OBJECTS", "SIZE"]
STATUS_PATH = "/v1/ui/status"  # aisfs_node/dashboard.py
# what `node status --json` adds from the status page (the rest is /v1/daemon's, whose
# "requests" is a count): its key -> the page's
PAGE_KEYS = {"buckets": "buckets", "buckets_total": "buckets_total", "jobs": "jobs",
             "rates": "requests", "recent_errors": "recent_errors"}
RECENT_SHOWN = 5
NODE_HEADER = ["NODE", "TYPE", "URL", "STATUS", "VERSION", "UPTIME", "CAPACITY", "OBJECTS",
               "MOUNTPATHS"]


def mountpath_rows(mps: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for mp in mps:
        total = int(mp.get("total", 0) or 0)
        used = int(mp.get("used", 0) or 0)
        rows.append([
            str(mp.get("path", "")),
            str(mp.get("state") or ("enabled" if mp.get("enabled", True) else "disabled")),
            human_size(used) if total else "-",
            human_size(total) if total else "-",
            f"{100 * used / total:.0f}%" if total else "-",
            str(mp.get("io_errors", 0)),
            str(mp.get("reason", "") if mp.get("reason") not in (None, "admin") else ""),
        ])
    return rows


def _mountpaths(c: NativeClient) -> dict[str, Any]:
    data: dict[str, Any] = c.request("GET", "/v1/daemon/mountpaths").json()
    return data


def _node_row(stats: dict[str, Any]) -> list[str]:
    store = stats.get("store") or {}
    cap = stats.get("capacity") or {}
    snode = stats.get("snode") or {}
    return [
        snode.get("daemon_id", ""),
        "proxy+target",
        (snode.get("public_net") or {}).get("direct_url", ""),
        stats.get("status", ""),
        stats.get("version", ""),
        fmt_uptime(stats.get("uptime", "0")),
        f"{human_size(int(cap.get('used', 0)))}/{human_size(int(cap.get('total', 0)))}",
        str(store.get("objects", "")),
        str(len(store.get("mountpaths") or [])),
    ]


def cmd_show(ns: argparse.Namespace) -> int:
    """`aisfs node show` (also `aisfs show node|cluster`, `aisfs cluster show`)."""
    with client(ns) as c:
        smap = c.smap()
        stats = c.node_stats()
        if ns.json:
            print_json({"smap": smap, "node": stats})
            return 0
        mps = _mountpaths(c)
        jobs: dict[str, Any] = c.request("GET", "/v1/daemon/jobs").json()
    print_table(NODE_HEADER, [_node_row(stats)])
    print(f"\ncluster {smap.get('uuid', '')}: 1 proxy, 1 target (single node)\n")
    print_table(MP_HEADER, mountpath_rows(mps.get("mountpaths") or []))
    for kind in ("resilver", "scrub"):
        if jobs.get(kind):
            print(progress_line(kind, jobs[kind]))
    return 0


def _status_page(c: NativeClient) -> dict[str, Any] | None:
    """The node's status page facts (``/v1/ui/status``), or None with a note on stderr
    (an older node, ``auth.status_page = "off"``, or no credentials for it)."""
    try:
        data = c.request("GET", STATUS_PATH).json()
    except (NativeError, ValueError) as e:
        print(f"aisfs: no buckets, jobs, rates or recent errors: {STATUS_PATH}: {e}",
              file=sys.stderr)
        return None
    return data if isinstance(data, dict) else None


def _rates_line(r: dict[str, Any]) -> str:
    apis = ", ".join(f"{api} {v.get('per_second', 0):.2f}/s"
                     for api, v in (r.get("by_api") or {}).items())
    return (
        f"requests: {r.get('per_second', 0):.2f}/s over the last "
        f"{float(r.get('window_seconds') or 0):.0f}s"
        f"{f' ({apis})' if apis else ''}, errors {r.get('errors_per_second', 0):.2f}/s, "
        f"in {human_size(int(r.get('bytes_in_per_second') or 0))}/s, "
        f"out {human_size(int(r.get('bytes_out_per_second') or 0))}/s; "
        f"{r.get('total', 0)} since the start ({r.get('errors_total', 0)} errors)"
    )


def _print_status_page(page: dict[str, Any]) -> None:
    buckets = page.get("buckets") or []
    print()
    print_table(BUCKET_HEADER, [
        [f"ais://{b.get('name', '')}", str(b.get("objects", 0)),
         human_size(int(b.get("bytes", 0) or 0))] for b in buckets])
    shown, total = len(buckets), int(page.get("buckets_total") or 0)
    if total > shown:
        print(f"(the first {shown} of {total} buckets)")
    jobs = page.get("jobs") or {}
    running = jobs.get("running") or []
    print()
    for prog in running:
        print(progress_line(str(prog.get("kind", "job")), prog))
    if jobs.get("resilver_pending") and not any(p.get("kind") == "resilver" for p in running):
        print("resilver: pending")
    for path in jobs.get("detaching") or []:
        print(f"detaching: {path}")
    if not running and not jobs.get("resilver_pending"):
        print("jobs: none running")
    print(_rates_line(page.get("requests") or {}))
    errors = page.get("recent_errors") or {}
    entries = (errors.get("entries") or [])[:RECENT_SHOWN]
    if entries:
        print(f"\nrecent warnings and errors ({len(entries)} of {errors.get('total', 0)}):")
        for e in entries:
            print(f"  {e.get('ts', '')} {e.get('level', '')} {e.get('logger', '')}: "
                  f"{e.get('msg', '')}")


def cmd_status(ns: argparse.Namespace) -> int:
    """`aisfs node status`: health, store counters and mountpaths (``/v1/daemon``), then
    buckets, jobs, request rates and recent errors from the node's status page."""
    with client(ns) as c:
        healthy = c.health()
        stats = c.node_stats()
        page = _status_page(c)
    store = stats.get("store") or {}
    if ns.json:
        extra = {k: page[v] for k, v in PAGE_KEYS.items() if v in page} if page else {}
        print_json({"healthy": healthy, **stats, **extra})
        return 0 if healthy else 1
    print(f"status: {stats.get('status', '')}{'' if healthy else ' (not ready)'}")
    print(
        f"objects: {store.get('objects', 0)}, chunks: {store.get('chunks', 0)}, "
        f"logical {human_size(int(store.get('logical_bytes', 0)))}, "
        f"stored {human_size(int(store.get('stored_bytes', 0)))}, "
        f"dedup savings {human_size(int(store.get('dedup_savings_bytes', 0)))}"
    )
    print_table(MP_HEADER, mountpath_rows(store.get("mountpaths") or []))
    if page:
        _print_status_page(page)
    return 0 if healthy else 1


def cmd_mountpath_ls(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        data = _mountpaths(c)
    if ns.json:
        print_json(data)
        return 0
    print_table(MP_HEADER, mountpath_rows(data.get("mountpaths") or []))
    return 0


def _mountpath_action(action: str, method: str) -> Handler:
    def run(ns: argparse.Namespace) -> int:
        with client(ns) as c:
            before = last_job_id(c, "resilver")
            # the node resolves paths on its own host: send an absolute one
            path = os.path.abspath(os.path.expanduser(ns.path))
            entry = c.request(method, "/v1/daemon/mountpaths", action=action, value=path).json()
            print(f"{entry.get('path', ns.path)}: {entry.get('state', '')}")
            if ns.wait and job_failed(wait_job(c, "resilver", before)):
                return 1
        return 0

    return run


def cmd_scrub(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        st = job_status(c, "scrub")
        if not ns.status:
            st = c.request("POST", "/v1/daemon/scrub").json()
            if not ns.json:
                print(f"scrub {(st.get('progress') or {}).get('id', '')} started")
        if ns.wait:
            st = wait_job(c, "scrub")
    prog = st.get("progress") or {}
    if ns.json:
        print_json(st)
    elif ns.wait or ns.status:
        print(progress_line("scrub", prog))
        for name in prog.get("unrepairable") or []:
            print(f"unrepairable: ais://{name}")
    if (ns.wait or ns.status) and (prog.get("unrepairable_count") or job_failed(st)):
        return 1
    return 0


def cmd_resilver(ns: argparse.Namespace) -> int:
    with client(ns) as c:
        before = last_job_id(c, "resilver")
        st = c.request("POST" if ns.start else "GET", "/v1/daemon/resilver").json()
        if ns.wait:
            st = wait_job(c, "resilver", before if ns.start else None)
    if ns.json:
        print_json(st)
    else:
        print(progress_line("resilver", st.get("progress"), bool(st.get("pending"))))
    return 0


_MOUNTPATH_ACTIONS = (
    ("add", "attach-mp", "PUT", "attach a directory; a resilver moves data onto it"),
    ("attach", "attach-mp", "PUT", "same as add"),
    ("disable", "disable-mp", "POST",
     "stop using a mountpath (data served from mirrors; copies restored elsewhere)"),
    ("enable", "enable-mp", "POST", "use a disabled (or faulted) mountpath again"),
    ("detach", "detach-mp", "DELETE", "move a mountpath's data away, then remove it"),
)


def register(nsub: Subparsers, conn: argparse.ArgumentParser) -> None:
    """Add the client verbs to `aisfs node`'s sub-commands ``nsub``."""
    json_flag(add_command(nsub, "show", cmd_show,
                          "the node, its mountpaths and running jobs (of a running node)", [conn]))
    json_flag(add_command(nsub, "status", cmd_status,
                          "health, store counters, mountpaths, buckets, jobs, request rates, "
                          "recent errors (exit 1 if not ready)", [conn]))
    mp = add_command(nsub, "mountpath", cmd_mountpath_ls,
                     "list, add, disable, enable, detach mountpaths of a running node", [conn])
    mp.set_defaults(json=False)
    msub = add_subcommands(mp, "mp_sub")
    for name in ("ls", "show"):
        json_flag(add_command(msub, name, cmd_mountpath_ls,
                              "state, capacity and I/O errors of each mountpath", [conn]))
    for name, action, method, text in _MOUNTPATH_ACTIONS:
        p = add_command(msub, name, _mountpath_action(action, method), text, [conn])
        p.add_argument("path", metavar="PATH")
        p.add_argument("--wait", action="store_true",
                       help="wait for the resilver, progress on stderr")
    p = json_flag(add_command(
        nsub, "scrub", cmd_scrub,
        "re-read and verify every chunk copy of a running node, repair bad or missing ones",
        [conn]))
    p.add_argument("--wait", action="store_true", help="wait for it, progress on stderr")
    p.add_argument("--status", action="store_true", help="show the last scrub, start nothing")
    p = json_flag(add_command(
        nsub, "resilver", cmd_resilver,
        "show the resilver (copies moved to where placement wants them); --start one", [conn]))
    p.add_argument("--start", action="store_true", help="start a resilver of everything")
    p.add_argument("--wait", action="store_true", help="wait for it, progress on stderr")
