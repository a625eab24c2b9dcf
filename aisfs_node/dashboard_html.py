"""The HTML of the status page (``aisfs_node.dashboard``): one server-rendered document.

Every value that reaches the page - bucket names, mountpath paths, log messages, job
errors, even numbers - goes through ``_e`` (``html.escape`` with quotes): bucket names
and object keys in log lines are chosen by clients. No script at all; the style sheet is
inline and allowed by its hash in ``CSP``, which forbids everything else (a missed escape
still could not run anything). The page refreshes itself with ``<meta http-equiv>``.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#1d232a;background:#f6f7f9}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.3em 1.2em;margin:.8em 0}
h1{font-size:1.4em;margin:0}h2{font-size:1.1em;margin:1.4em 0 .4em}
.meta{color:#5b6470}.online{color:#17803d;font-weight:600}.starting{color:#b45309;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:.8em}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.6em 1em;min-width:9em}
.card .label{display:block;color:#5b6470;font-size:.85em}
.card .value{display:block;font-size:1.35em;font-weight:600}
table{border-collapse:collapse;background:#fff;border:1px solid #dde1e6;min-width:40em}
th,td{padding:.3em .8em;border-bottom:1px solid #eceff2;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.msg{white-space:pre-wrap;word-break:break-all;max-width:60em}
.state-enabled{color:#17803d}.state-disabled,.state-detaching{color:#b45309}
.state-faulted,.lvl-ERROR,.lvl-CRITICAL{color:#b91c1c;font-weight:600}.lvl-WARNING{color:#b45309}
meter{width:8em}.none{color:#5b6470;font-style:italic}
"""

_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_NUM = ' class="num"'
_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def size(n: float) -> str:
    """``512 B``, ``1.50 MiB``."""
    if n < 1024:
        return f"{int(n)} B"
    value = float(n)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.2f} {unit}"


def duration(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d}d {h}h {m}m"
    if h:
        return f"{h}h {m}m"
    return f"{m}m {s}s" if m else f"{s}s"


def _rate(x: float) -> str:
    return f"{x:,.2f}/s"


def _table(
    table_id: str, header: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int],
    empty: str,
) -> str:
    """``rows`` hold HTML already escaped (cells are built with ``_e``)."""
    body = []
    for row in rows:
        cells = "".join(
            f"<td{_NUM if i in numeric else ''}>{c}</td>" for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        return f'<p class="none" id="{table_id}">{_e(empty)}</p>'
    head = "".join(
        f"<th{_NUM if i in numeric else ''}>{_e(h)}</th>" for i, h in enumerate(header)
    )
    return (f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _card(label: str, value: str, extra: str = "") -> str:
    return (f'<div class="card"><span class="label">{_e(label)}</span>'
            f'<span class="value">{value}</span>{extra}</div>')


def _sized(n: int) -> str:
    return f'<span title="{_e(f"{n:,} bytes")}">{_e(size(n))}</span>'


def _mountpaths(mps: list[dict[str, Any]]) -> str:
    rows = []
    for m in mps:
        total = m["total"]
        bar = (f'<meter min="0" max="100" value="{_e(m["pct_used"])}" low="70" high="90" '
               f'optimum="0">{_e(m["pct_used"])}%</meter> {_e(m["pct_used"])}%') if total else "-"
        rows.append([
            f"<code>{_e(m['path'])}</code>",
            f'<span class="state-{_e(m["state"])}">{_e(m["state"])}</span>',
            _sized(m["used"]) if total else "-",
            _sized(m["total"]) if total else "-",
            bar,
            _e(m["io_errors"]),
            _e(m["reason"]),
        ])
    return _table("mountpaths", ["Mountpath", "State", "Used", "Capacity", "Used %", "I/O errors",
                                 "Reason"], rows, {2, 3, 5}, "no mountpaths")


def _buckets(data: dict[str, Any]) -> str:
    rows = [[f'<span class="bucket">{_e("ais://" + b["name"])}</span>', _e(f"{b['objects']:,}"),
             _sized(b["bytes"])] for b in data["buckets"]]
    out = _table("buckets", ["Bucket", "Objects", "Size"], rows, {1, 2}, "no buckets")
    shown, total = len(data["buckets"]), data["buckets_total"]
    if total > shown:
        out += f'<p class="none">{_e(f"the first {shown:,} of {total:,} buckets")}</p>'
    return out


def _progress(p: dict[str, Any]) -> list[str]:
    done, total = int(p.get("objects_done") or 0), int(p.get("objects_total") or 0)
    bdone, btotal = int(p.get("bytes_done") or 0), int(p.get("bytes_total") or 0)
    pct = 100 * bdone / btotal if btotal else (100.0 * done / total if total else 0.0)
    notes = [f"{p[k]} {label}" for k, label in (
        ("copies_added", "copies added"), ("copies_removed", "removed"),
        ("copies_repaired", "repaired"), ("lost_chunks", "lost chunks"),
        ("unrepairable_count", "unrepairable objects"), ("objects_skipped", "skipped"),
        ("errors", "errors")) if p.get(k)]
    if p.get("error"):
        notes.append(str(p["error"]))
    return [
        _e(p.get("kind", "")), f"<code>{_e(p.get('id', ''))}</code>",
        _e(p.get("bucket", "")), _e(p.get("state", "")),
        f'<meter min="0" max="100" value="{pct:.0f}">{pct:.0f}%</meter> {pct:.0f}%',
        _e(f"{done:,}/{total:,}"), _e(f"{size(bdone)}/{size(btotal)}"),
        _e(duration(float(p.get("elapsed_seconds") or 0))), _e("; ".join(notes)),
    ]


def _jobs(jobs: dict[str, Any]) -> str:
    header = ["Job", "ID", "Bucket", "State", "Progress", "Objects", "Bytes", "Elapsed",
              "Notes"]
    numeric = {5, 6, 7}
    out = [_table("jobs", header, [_progress(p) for p in jobs.get("running") or []],
                  numeric, "no job in progress")]
    extra = []
    if jobs.get("resilver_pending"):
        extra.append("a resilver is pending")
    for path in jobs.get("detaching") or []:
        extra.append(f"detaching {path}")
    if extra:
        out.append(f'<p class="meta">{_e("; ".join(extra))}</p>')
    last = list(jobs.get("finished") or []) + [
        p for p in (jobs.get("last") or {}).values() if not p.get("running")]
    if last:
        out.append("<h3>Last finished</h3>")
        out.append(_table("jobs-last", header, [_progress(p) for p in last], numeric, ""))
    return "".join(out)


def _requests(r: dict[str, Any]) -> str:
    rows = [[_e(o["api"]), _e(o["operation"]), _e(f"{o['total']:,}"), _e(_rate(o["per_second"])),
             _e(f"{o['errors']:,}")] for o in r.get("operations") or []]
    window = f"over the last {duration(float(r.get('window_seconds') or 0))}"
    return (f'<p class="meta">{_e(window)}</p>'
            + _table("requests", ["API", "Operation", "Total", "Rate", "Errors (4xx/5xx)"],
                     rows, {2, 3, 4}, "no requests yet"))


def _errors(rec: dict[str, Any]) -> str:
    entries = rec.get("entries") or []
    rows = [[_e(x["ts"]), f'<span class="lvl-{_e(x["level"])}">{_e(x["level"])}</span>',
             _e(x["logger"]), f'<span class="msg">{_e(x["msg"])}</span>'] for x in entries]
    out = _table("errors", ["Time (UTC)", "Level", "Logger", "Message"], rows, set(),
                 "no warnings or errors logged")
    total = int(rec.get("total", 0))
    if total > len(entries):
        out += f'<p class="meta">{_e(f"the last {len(entries)} of {total:,}")}</p>'
    return out


def render(data: dict[str, Any]) -> str:
    """The whole page for ``Dashboard.snapshot()``'s ``data``."""
    node = data["node"]
    cap = data["capacity"]
    store = data.get("store") or {}
    req = data.get("requests") or {}
    status = node["status"]
    cards = "".join([
        _card("Capacity used", f"{_sized(cap['used'])} / {_sized(cap['total'])}",
              f'<meter min="0" max="100" value="{_e(cap["pct_used"])}" low="70" high="90" '
              f'optimum="0">{_e(cap["pct_used"])}%</meter>'),
        _card("Objects", _e(f"{int(store.get('objects', 0)):,}")),
        _card("Logical size", _sized(int(store.get("logical_bytes", 0)))),
        _card("Stored (dedup)", _sized(int(store.get("stored_bytes", 0)))),
        _card("Buckets", _e(f"{data['buckets_total']:,}")),
        _card("Requests", _e(_rate(float(req.get("per_second", 0))))),
        _card("Errors", _e(_rate(float(req.get("errors_per_second", 0))))),
        _card("In / out", _e(f"{size(req.get('bytes_in_per_second', 0))}/s / "
                             f"{size(req.get('bytes_out_per_second', 0))}/s")),
    ])
    meta = (f"v{node['version']} · up {duration(node['uptime_seconds'])} · auth "
            f"{node['auth']} · S3 at {node['s3_path']} · as of {data['generated']} · "
            f"refreshes every {data['refresh_seconds']} s")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{_e(data['refresh_seconds'])}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aisfs node {_e(node['id'])}</title>
<style>{CSS}</style></head>
<body>
<header><h1>aisfs node <code>{_e(node['id'])}</code></h1>
<span class="{'online' if status == 'online' else 'starting'}" id="status">{_e(status)}</span>
<span class="meta">{_e(meta)}</span></header>
<section class="cards" id="summary">{cards}</section>
<h2>Mountpaths</h2>{_mountpaths(data['mountpaths'])}
<h2>Buckets</h2>{_buckets(data)}
<h2>Jobs</h2>{_jobs(data.get('jobs') or {})}
<h2>Requests</h2>{_requests(req)}
<h2>Recent warnings and errors</h2>{_errors(data.get('recent_errors') or {})}
</body></html>
"""
