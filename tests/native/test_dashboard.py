"""The status page (/v1/ui, /v1/ui/status; aisfs_node/dashboard.py) and `aisfs node status`,
against real nodes; the page rendered by a real headless Chromium when it is installed."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import jwt
import pytest
import trio

from aisfs.store import open_store
from aisfs.store.config import StoreConfig
from aisfs_node.dashboard_html import render
from native.conftest import FAST_CONFIG, run_cli, stop_and_check
from support.node import NodeProcess, new_node

# not a valid bucket name: the API refuses it, so it is put in the store directly (as a
# damaged or rebuilt index could hold it); it must come out as text, never as markup
HOSTILE = "<script>alert('aisfs')"
BUCKETS = {"alpha": [b"a" * 100, b"b" * 2000, b"c" * 30_000], "beta": [b"x" * 7], "gamma": []}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,900",
]


class _Tables(HTMLParser):
    """The text of each cell of every ``<table id=...>``: {id: [[cell, ...], ...]}."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(page: str) -> dict[str, list[list[str]]]:
    p = _Tables()
    p.feed(page)
    return p.tables


def _plant_hostile_bucket(node: NodeProcess) -> None:
    async def plant() -> None:
        cfg = StoreConfig(mountpaths=node.mountpaths, index_dir=node.index_dir, fsync=False)
        async with open_store(cfg) as store:
            await store.create_bucket(HOSTILE)

    trio.run(plant)


@pytest.fixture(scope="module")
def dash_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A node with a few buckets and objects, a hostile bucket name, and one WARNING in
    its log (an unreadable cluster config at start)."""
    node = new_node(tmp_path_factory.mktemp("dash"), config=FAST_CONFIG)
    _plant_hostile_bucket(node)
    (node.index_dir / "cluster-config.json").write_text("{not json")
    node.start()
    for bucket, blobs in BUCKETS.items():
        r = httpx.post(f"{node.url}/v1/buckets/{bucket}", json={"action": "create-bck"})
        assert r.is_success, r.text
        for i, blob in enumerate(blobs):
            assert httpx.put(f"{node.url}/v1/objects/{bucket}/obj{i}", content=blob).is_success
    assert httpx.get(f"{node.url}/v1/objects/alpha/missing").status_code == 404
    try:
        yield node
    finally:
        stop_and_check(node)


def _status(url: str) -> dict[str, object]:
    r = httpx.get(f"{url}/v1/ui/status")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    data = r.json()
    assert isinstance(data, dict)
    return data


def test_json_facts(dash_node: NodeProcess) -> None:
    data = _status(dash_node.url)
    node = data["node"]
    assert isinstance(node, dict) and node["status"] == "online" and node["auth"] == "open"
    buckets = {b["name"]: (b["objects"], b["bytes"]) for b in data["buckets"]}  # type: ignore[attr-defined]
    assert buckets == {
        **{name: (len(blobs), sum(map(len, blobs))) for name, blobs in BUCKETS.items()},
        HOSTILE: (0, 0),
    }
    assert data["buckets_total"] == 4
    store = data["store"]
    assert isinstance(store, dict)
    assert store["objects"] == 4 and store["logical_bytes"] == 32_107
    mps = data["mountpaths"]
    assert isinstance(mps, list)
    assert sorted(m["path"] for m in mps) == sorted(str(p) for p in dash_node.mountpaths)
    for m in mps:
        assert m["state"] == "enabled" and m["total"] > 0 and 0 < m["used"] <= m["total"]
        assert m["io_errors"] == 0
    cap = data["capacity"]
    assert isinstance(cap, dict) and cap["total"] == sum(m["total"] for m in mps)
    jobs = data["jobs"]
    assert isinstance(jobs, dict) and jobs["running"] == [] and not jobs["resilver_pending"]
    req = data["requests"]
    assert isinstance(req, dict)
    ops = {(o["api"], o["operation"]): o for o in req["operations"]}
    assert ops[("native", "PutObject")]["total"] == 4
    assert ops[("native", "CreateBucket")]["total"] == 3
    assert ops[("native", "GetObject")]["errors"] == 1
    assert req["total"] >= 8 and req["per_second"] > 0 and req["bytes_in_total"] >= 32_107
    errors = data["recent_errors"]
    assert isinstance(errors, dict) and errors["total"] >= 1
    warning = [e for e in errors["entries"] if "cluster-config.json" in e["msg"]]
    assert warning and warning[0]["level"] == "WARNING", errors
    assert warning[0]["logger"] == "aisfs.native"


def test_html_page(dash_node: NodeProcess) -> None:
    r = httpx.get(f"{dash_node.url}/v1/ui")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    page = r.text
    assert '<meta http-equiv="refresh" content="10">' in page
    t = tables(page)
    rows = {row[0]: row[1:] for row in t["buckets"][1:]}
    assert rows["ais://alpha"] == ["3", "31.35 KiB"]
    assert rows["ais://beta"] == ["1", "7 B"]
    assert rows["ais://gamma"] == ["0", "0 B"]
    assert f"ais://{HOSTILE}" in rows  # shown as the text it is
    assert [row[0] for row in t["mountpaths"][1:]] == [str(p) for p in dash_node.mountpaths]
    assert {row[1] for row in t["mountpaths"][1:]} == {"enabled"}
    assert any(row[1] == "PutObject" and row[2] == "4" for row in t["requests"])
    assert any("cluster-config.json" in row[3] and row[1] == "WARNING" for row in t["errors"])
    assert "no job in progress" in page


def test_hostile_names_are_escaped(dash_node: NodeProcess) -> None:
    page = httpx.get(f"{dash_node.url}/v1/ui").text
    assert "<script" not in page.lower()
    assert "ais://&lt;script&gt;alert(&#x27;aisfs&#x27;)" in page
    # every field, as the renderer gets it
    evil = '<script>alert(1)</script>"\'&'
    data = _status(dash_node.url)
    data["buckets"] = [{"name": evil, "objects": 1, "bytes": 1}]
    data["mountpaths"] = [{"path": evil, "state": evil, "total": 1, "used": 1, "free": 0,
                           "pct_used": evil, "io_errors": evil, "reason": evil}]
    data["jobs"] = {"running": [{"kind": evil, "id": evil, "state": evil, "error": evil,
                                 "running": True}], "detaching": [evil],
                    "resilver_pending": True, "last": {}}
    data["recent_errors"] = {"total": 9, "entries": [
        {"ts": evil, "level": evil, "logger": evil, "msg": evil}]}
    data["requests"]["operations"] = [  # type: ignore[index]
        {"api": evil, "operation": evil, "total": 1, "per_second": 1.0, "errors": 0}]
    data["node"]["id"] = evil  # type: ignore[index]
    html = render(data)
    assert "<script" not in html.lower() and "</script" not in html.lower()
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;") >= 10


def test_methods_and_paths(dash_node: NodeProcess) -> None:
    url = dash_node.url
    head = httpx.head(f"{url}/v1/ui")
    assert head.status_code == 200 and int(head.headers["content-length"]) > 1000
    assert head.content == b""
    assert httpx.post(f"{url}/v1/ui").status_code == 405
    missing = httpx.head(f"{url}/v1/ui/nope")
    assert missing.status_code == 404 and missing.content == b""
    assert httpx.get(f"{url}/v1/ui/nope").status_code == 404
    assert httpx.get(f"{url}/v1/ui/").status_code == 200


@pytest.mark.parametrize("rule", ["auto", "open", "auth", "off"])
def test_auth_rule(tmp_path: Path, rule: str) -> None:
    """With auth on, auth.status_page decides: open (as /metrics), auth (a token, as
    /v1), off (404); auto, the default, is auth on a node with auth on."""
    secret = "s" * 32
    config = FAST_CONFIG + f'\n[auth]\nmode = "jwt"\njwt_secret = "{secret}"\n' \
        f'status_page = "{rule}"\n'
    node = new_node(tmp_path, config=config).start()
    try:
        token = jwt.encode({"sub": "t", "exp": int(time.time()) + 600}, secret, "HS256")
        bearer = {"authorization": f"Bearer {token}"}
        plain = httpx.get(f"{node.url}/v1/ui/status")
        signed = httpx.get(f"{node.url}/v1/ui", headers=bearer)
        assert httpx.get(f"{node.url}/metrics").status_code == 200
        assert httpx.get(f"{node.url}/v1/buckets").status_code == 401
        if rule == "open":
            assert plain.status_code == 200 and signed.status_code == 200
        elif rule in ("auth", "auto"):
            assert plain.status_code == 401, plain.text
            assert signed.status_code == 200 and "<table" in signed.text
            bad = httpx.get(f"{node.url}/v1/ui", headers={"authorization": "Bearer x.y.z"})
            assert bad.status_code == 401
            cli = run_cli(node.url, "node", "status", "--json",
                          env={"AIS_AUTHN_TOKEN": token})
            assert cli.code == 0, cli.err
            assert "buckets" in json.loads(cli.out)
        else:
            assert plain.status_code == 404 and signed.status_code == 404
            cli = run_cli(node.url, "node", "status", "--json",
                          env={"AIS_AUTHN_TOKEN": token})
            assert cli.code == 0, cli.err
            assert "buckets" not in json.loads(cli.out)  # stdout stays JSON
            assert "/v1/ui/status" in cli.err
    finally:
        stop_and_check(node)


def test_cli_node_status(dash_node: NodeProcess) -> None:
    res = run_cli(dash_node.url, "node", "status")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert any(line.split()[:3] == ["ais://alpha", "3", "31.35KiB"] for line in lines), res.out
    assert any(line.split()[:3] == ["ais://beta", "1", "7B"] for line in lines), res.out
    assert "jobs: none running" in res.out
    assert any(line.startswith("requests: ") and "/s" in line for line in lines), res.out
    assert "cluster-config.json" in res.out  # the recent warning

    res = run_cli(dash_node.url, "node", "status", "--json")
    assert res.code == 0 and res.err == ""
    data = json.loads(res.out)  # nothing but the JSON document on stdout
    assert data["healthy"] is True and data["store"]["objects"] == 4
    assert {b["name"]: b["objects"] for b in data["buckets"]}["alpha"] == 3
    assert data["rates"]["total"] >= 8 and isinstance(data["requests"], int)
    assert data["jobs"]["running"] == []
    assert any("cluster-config.json" in e["msg"] for e in data["recent_errors"]["entries"])


def _png_facts(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values of the decoded image data."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", blob[16:24])
    pos, idat = 8, b""
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos:pos + 4])
        kind = blob[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += blob[pos + 8:pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="aisfs-chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120,
        )


@pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                    reason=f"no {CHROMIUM}: Debian's chromium package (./run test installs it)")
def test_chromium_renders_the_page(dash_node: NodeProcess, tmp_path: Path) -> None:
    url = f"{dash_node.url}/v1/ui"
    shot = tmp_path / "status.png"
    res = _chromium(f"--screenshot={shot}", url)
    assert shot.exists(), res.stderr[-2000:]
    width, height, distinct = _png_facts(shot)
    assert (width, height) == (1280, 900)
    assert shot.stat().st_size > 20_000 and distinct > 50  # text and tables, not a blank page

    res = _chromium("--dump-dom", url)
    dom = res.stdout
    assert "<table" in dom, res.stderr[-2000:]
    t = tables(dom)
    rows = {row[0]: row[1:] for row in t["buckets"][1:]}
    assert rows["ais://alpha"] == ["3", "31.35 KiB"] and rows["ais://beta"] == ["1", "7 B"]
    assert rows["ais://gamma"] == ["0", "0 B"] and f"ais://{HOSTILE}" in rows
    assert "<script" not in dom.lower()  # the hostile name stayed text in the browser too
    summary = dom[dom.index('id="summary"'):]
    assert ">4<" in summary  # the Objects card
    assert [r[0] for r in t["mountpaths"][1:]] == [str(p) for p in dash_node.mountpaths]


def test_auth_rule_sigv4(tmp_path: Path) -> None:
    """In sigv4 mode with status_page = "auth", an S3-signed GET sees the page (as /v1);
    unsigned, or signed with a wrong secret, it does not."""
    from native.test_mount_extras import SIGV4_CONFIG, signed

    node = new_node(tmp_path, config=SIGV4_CONFIG + 'status_page = "auth"\n').start()
    try:
        url = f"{node.url}/v1/ui/status"
        assert httpx.get(url).status_code in (401, 403)
        r = signed("GET", url)
        assert r.status_code == 200, r.text
        assert r.json()["node"]["auth"] == "sigv4"
        assert signed("GET", url, secret="wrong").status_code == 403
    finally:
        stop_and_check(node)
