"""`aisfs node mountpath|scrub`, `aisfs bucket mirror --wait`, and the mountpath table of
`aisfs node show`: the CLI side of node/native_admin.py.

    aisfs node mountpath [ls]                    state, capacity, I/O errors of each
    aisfs node mountpath add|disable|enable|detach PATH [--wait]
    aisfs node scrub [--wait] [--json]           exit 1 if objects cannot be repaired
    aisfs node resilver [--wait]                 status (or start one with --start)
    aisfs bucket mirror ais://B --copies N [--wait]

``--wait`` polls the job and draws a progress line on stderr (rewritten in place on a
terminal, one line per change otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from aisfs.cli.format import human_size, print_table
from aisfs.client.native import NativeClient

POLL = 0.3


def _client(ns: argparse.Namespace) -> NativeClient:
    return NativeClient(ns.endpoint, token=ns.token, timeout=ns.timeout)


# ---- progress -----------------------------------------------------------------------

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
    extras = []
    for key, label in (("copies_added", "added"), ("copies_removed", "removed"),
                       ("copies_repaired", "repaired"), ("lost_chunks", "lost chunks"),
                       ("unrepairable_count", "unrepairable objects")):
        if prog.get(key):
            extras.append(f"{prog[key]} {label}")
    if extras:
        line += "; " + ", ".join(extras)
    if prog.get("error"):
        line += f" [{prog['error']}]"
    return line


def wait_job(c: NativeClient, kind: str, after_id: str | None = None) -> dict[str, Any]:
    """Poll ``/v1/daemon/<kind>`` until idle; a progress line on stderr. The last status."""
    tty = sys.stderr.isatty()
    last = ""
    started = time.monotonic()
    while True:
        st = c.request("GET", f"/v1/daemon/{kind}").json()
        prog = st.get("progress")
        busy = st.get("running") or st.get("pending")
        if prog and prog.get("id") == after_id and time.monotonic() - started < 3:
            busy = True  # our job has not started yet (or there was nothing to do)
        line = progress_line(kind, prog, bool(st.get("pending")))
        if line != last:
            if tty:
                sys.stderr.write("\r\x1b[K" + line)
            else:
                sys.stderr.write(line + "\n")
            sys.stderr.flush()
            last = line
        if not busy:
            if tty:
                sys.stderr.write("\n")
            return st
        time.sleep(POLL)


# ---- commands -----------------------------------------------------------------------

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


MP_HEADER = ["MOUNTPATH", "STATE", "USED", "TOTAL", "USED%", "IO ERRORS", "REASON"]


def cmd_mountpath_ls(ns: argparse.Namespace) -> int:
    with _client(ns) as c:
        data = c.request("GET", "/v1/daemon/mountpaths").json()
    if ns.json:
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    print_table(MP_HEADER, mountpath_rows(data.get("mountpaths") or []))
    return 0


def _mountpath_action(action: str, method: str) -> Callable[[argparse.Namespace], int]:
    def run(ns: argparse.Namespace) -> int:
        with _client(ns) as c:
            before = c.request("GET", "/v1/daemon/resilver").json().get("progress") or {}
            # the node resolves paths on its own host: send an absolute one
            path = os.path.abspath(os.path.expanduser(ns.path))
            entry = c.request(method, "/v1/daemon/mountpaths", action=action,
                              value=path).json()
            print(f"{entry.get('path', ns.path)}: {entry.get('state', '')}")
            if ns.wait:
                st = wait_job(c, "resilver", before.get("id"))
                prog = st.get("progress") or {}
                if prog.get("state") == "failed":
                    return 1
        return 0

    return run


def cmd_scrub(ns: argparse.Namespace) -> int:
    with _client(ns) as c:
        before = c.request("GET", "/v1/daemon/scrub").json()
        if ns.status:
            st = before
        else:
            st = c.request("POST", "/v1/daemon/scrub").json()
            prog = st.get("progress") or {}
            if not ns.json:
                print(f"scrub {prog.get('id', '')} started")
        if ns.wait:
            st = wait_job(c, "scrub")
    prog = st.get("progress") or {}
    if ns.json:
        print(json.dumps(st, indent=2, sort_keys=True))
    elif ns.wait or ns.status:
        print(progress_line("scrub", prog))
        for name in prog.get("unrepairable") or []:
            print(f"unrepairable: ais://{name}")
    if (ns.wait or ns.status) and (prog.get("unrepairable_count") or prog.get("state") == "failed"):
        return 1
    return 0


def cmd_resilver(ns: argparse.Namespace) -> int:
    with _client(ns) as c:
        before = c.request("GET", "/v1/daemon/resilver").json().get("progress") or {}
        st = c.request("POST" if ns.start else "GET", "/v1/daemon/resilver").json()
        if ns.wait:
            st = wait_job(c, "resilver", before.get("id") if ns.start else None)
    if ns.json:
        print(json.dumps(st, indent=2, sort_keys=True))
    else:
        print(progress_line("resilver", st.get("progress"), bool(st.get("pending"))))
    return 0


def cmd_bucket_mirror(ns: argparse.Namespace) -> int:
    from aisfs.cli.commands import parse_uri

    bucket, _ = parse_uri(ns.bucket)
    with _client(ns) as c:
        before = c.request("GET", "/v1/daemon/resilver").json().get("progress") or {}
        c.make_n_copies(bucket, ns.copies)
        print(f'"ais://{bucket}": mirror.copies={ns.copies}; existing objects are being '
              "brought to it (aisfs node resilver)")
        if ns.wait:
            st = wait_job(c, "resilver", before.get("id"))
            if (st.get("progress") or {}).get("state") == "failed":
                return 1
    return 0


def cmd_node_show(ns: argparse.Namespace) -> int:
    from aisfs.cli.commands import cmd_node_show as show

    rc = show(ns)
    if ns.json or rc:
        return rc
    with _client(ns) as c:
        data = c.request("GET", "/v1/daemon/mountpaths").json()
        jobs = c.request("GET", "/v1/daemon/jobs").json()
    print()
    print_table(MP_HEADER, mountpath_rows(data.get("mountpaths") or []))
    for kind in ("resilver", "scrub"):
        prog = jobs.get(kind)
        if prog:
            print(progress_line(kind, prog))
    return 0


# ---- parser ---------------------------------------------------------------------------

def register(nsub: Any, bsub: Any, common: argparse.ArgumentParser) -> None:
    """Add the verbs to `aisfs node` (``nsub``) and `aisfs bucket` (``bsub``)."""

    def add(sub: Any, name: str, func: Callable[[argparse.Namespace], int],
            help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.set_defaults(func=func)
        return p

    mp = nsub.add_parser("mountpath", help="list, add, disable, enable, detach mountpaths",
                         description="list, add, disable, enable, detach mountpaths",
                         parents=[common])
    mp.set_defaults(func=cmd_mountpath_ls, json=False)
    msub = mp.add_subparsers(dest="mp_sub", metavar="SUBCOMMAND")
    p = add(msub, "ls", cmd_mountpath_ls, "state, capacity and I/O errors of each mountpath")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add(msub, "show", cmd_mountpath_ls, "same as ls")
    p.add_argument("--json", action="store_true", help="print JSON")
    for name, action, method, text in (
        ("add", "attach-mp", "PUT", "attach a directory; a resilver moves data onto it"),
        ("attach", "attach-mp", "PUT", "same as add"),
        ("disable", "disable-mp", "POST",
         "stop using a mountpath (data served from mirrors; copies restored elsewhere)"),
        ("enable", "enable-mp", "POST", "use a disabled (or faulted) mountpath again"),
        ("detach", "detach-mp", "DELETE",
         "move a mountpath's data away, then remove it from the node"),
    ):
        p = add(msub, name, _mountpath_action(action, method), text)
        p.add_argument("path", metavar="PATH")
        p.add_argument("--wait", action="store_true",
                       help="wait for the resilver, progress on stderr")

    p = add(nsub, "scrub", cmd_scrub,
            "re-read and verify every chunk copy, repair bad or missing ones")
    p.add_argument("--wait", action="store_true", help="wait for it, progress on stderr")
    p.add_argument("--status", action="store_true", help="show the last scrub, start nothing")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add(nsub, "resilver", cmd_resilver, "resilver status (--start one)")
    p.add_argument("--start", action="store_true", help="start a resilver of everything")
    p.add_argument("--wait", action="store_true", help="wait for it, progress on stderr")
    p.add_argument("--json", action="store_true", help="print JSON")

    nsub.choices["show"].set_defaults(func=cmd_node_show)
    mirror = bsub.choices["mirror"]
    mirror.set_defaults(func=cmd_bucket_mirror)
    mirror.add_argument("--wait", action="store_true",
                        help="wait until existing objects have their copies (progress on stderr)")
