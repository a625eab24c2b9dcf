"""The wire corpus: request smuggling and framing cases fed over a raw socket to a real
node, on its own server (llhttp) and on Hypercorn (h11).

Each case is refused (a 4xx/501/505 answer, then the connection closed) or framed exactly
as llhttp frames it: the stored objects hold exactly the bytes llhttp's framing gives and
no request hidden in a body ever runs (every hidden request is a PUT of an ``s-`` key,
so "nothing smuggled" is "no ``s-`` key exists"). On the node's own server the answer is
the one written in the case; on Hypercorn, where h11 may answer differently, the safe
property is asserted: refused, or framed as llhttp frames it, never smuggled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from support.clients import s3_client
from support.node import NodeProcess, new_node
from wire.wirekit import exchange

CONFIG = """
[store]
fsync = false
[net]
http_server = "{server}"
"""


@pytest.fixture(scope="module", params=["aisfs", "hypercorn", "workers"])
def wire_node(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    # "workers": the node's own server with a read worker beside it (net.workers = 2):
    # a case lands on either process, and a worker forwards each PUT to the primary -
    # the answers must be the same as the node's own server gives alone
    server = request.param
    config = CONFIG.format(server="aisfs" if server == "workers" else server)
    if server == "workers":
        config += "workers = 2\n"
    proc = new_node(tmp_path_factory.mktemp(f"wire-{server}"), config=config).start()
    proc.server = "aisfs" if server == "workers" else server  # type: ignore[attr-defined]
    s3_client(proc.s3_url).create_bucket(Bucket="wire")
    try:
        yield proc
    finally:
        assert proc.stop() == 0, proc.log()


def hidden(case: str) -> bytes:
    """A request smuggled inside another's body: it must never run."""
    return f"PUT /s3/wire/s-{case} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()


def chunk_of(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


@dataclass
class Case:
    id: str
    raw: bytes
    # None: refused; else the statuses of the answers in order (framed as llhttp does)
    statuses: list[int] | None
    refused_with: tuple[int, ...] = (400,)
    stored: dict[str, bytes] = field(default_factory=dict)  # key -> bytes once framed
    closes: bool = False  # framed, and the connection must close after the answers


def put(key: str, extra: bytes, body: bytes = b"", version: bytes = b"1.1") -> bytes:
    return (b"PUT /s3/wire/" + key.encode() + b" HTTP/" + version + b"\r\nHost: x\r\n"
            + extra + b"\r\n" + body)


TE = b"Transfer-Encoding: chunked\r\n"
H = hidden

CASES = [
    # ---- the classics: two lengths, a length and a coding ------------------------------
    Case("cl-cl", put("cl-cl", b"Content-Length: 5\r\nContent-Length: 66\r\n",
                      b"abcde" + H("cl-cl")), None),
    Case("cl-cl-same", put("cl-cl-same", b"Content-Length: 5\r\nContent-Length: 5\r\n",
                           b"abcde"), None),
    Case("cl-list", put("cl-list", b"Content-Length: 5, 5\r\n", b"abcde"), None),
    Case("cl-plus", put("cl-plus", b"Content-Length: +5\r\n", b"abcde"), None),
    Case("cl-neg", put("cl-neg", b"Content-Length: -5\r\n", b"abcde"), None),
    Case("cl-te", put("cl-te", b"Content-Length: 4\r\n" + TE,
                      b"0\r\n\r\n" + H("cl-te")), None),
    Case("te-cl", put("te-cl", TE + b"Content-Length: 4\r\n",
                      chunk_of(H("te-cl")) + b"0\r\n\r\n"), None),
    Case("te-empty-cl", put("te-empty-cl", b"Transfer-Encoding:\r\nContent-Length: 66\r\n",
                            H("te-empty-cl")), None),
    Case("te-comma-cl", put("te-comma-cl", b"Transfer-Encoding: ,\r\nContent-Length: 66\r\n",
                            H("te-comma-cl")), None),
    # ---- Transfer-Encoding variants -----------------------------------------------------
    Case("te-chunked-identity", put("te-ci", b"Transfer-Encoding: chunked, identity\r\n",
                                    b"5\r\nabcde\r\n0\r\n\r\n" + H("te-ci")), None),
    Case("te-xchunked", put("te-x", b"Transfer-Encoding: xchunked\r\n",
                            b"5\r\nabcde\r\n0\r\n\r\n" + H("te-x")), None,
         refused_with=(400, 501)),
    Case("te-space-colon", put("te-sc", b"Transfer-Encoding : chunked\r\n",
                               b"5\r\nabcde\r\n0\r\n\r\n" + H("te-sc")), None),
    Case("te-dup", put("te-dup", TE + TE, b"5\r\nabcde\r\n0\r\n\r\n"), None),
    Case("te-gzip-chunked", put("te-gz", b"Transfer-Encoding: gzip\r\n" + TE,
                                b"5\r\nabcde\r\n0\r\n\r\n"), None, refused_with=(400, 501)),
    Case("te-obs-fold", put("te-fold", b"Transfer-Encoding:\r\n chunked\r\n",
                            b"5\r\nabcde\r\n0\r\n\r\n"), None),
    Case("te-tab", put("te-tab", b"Transfer-Encoding:\tchunked\r\n",
                       b"5\r\nabcde\r\n0\r\n\r\n"), [200], stored={"te-tab": b"abcde"}),
    Case("te-trailing-tab", put("te-tabv", b"Transfer-Encoding: \tchunked\t\r\n",
                                b"2\r\nab\r\n0\r\n\r\n"), None),
    # ---- chunked bodies -------------------------------------------------------------------
    Case("chunk-ext-bare-lf", put("ext-lf", TE, b"2;\nXX\r\n45\r\n0\r\n\r\n" + H("ext-lf")),
         None),
    Case("chunk-size-space", put("size-sp", TE, b" 2\r\nXX\r\n0\r\n\r\n" + H("size-sp")),
         None),
    Case("chunk-space-semicolon", put("sp-semi", TE, b"2 ;x\r\nXX\r\n0\r\n\r\n"), None),
    Case("chunk-overflow", put("ovf", TE, b"10000000000000002\r\nXX\r\n0\r\n\r\n" + H("ovf")),
         None),
    Case("chunk-no-crlf", put("nocrlf", TE, b"2\r\nXXY\r\n0\r\n\r\n"), None),
    Case("trailer-no-colon", put("tr-nc", TE, b"2\r\nXX\r\n0\r\nbad\r\n\r\n" + H("tr-nc")),
         None),
    Case("trailer-bare-lf", put("tr-lf", TE, b"2\r\nXX\r\n0\r\nA: b\n\r\n" + H("tr-lf")),
         None),
    Case("chunked-ok", put("chunked-ok", TE, b"2;a=b\r\nXX\r\n3\r\nYYY\r\n0\r\nT: v\r\n\r\n"),
         [200], stored={"chunked-ok": b"XXYYY"}),
    # ---- heads ----------------------------------------------------------------------------
    Case("obs-fold", put("fold", b"Content-Length: 1\r\nX-A: a\r\n b\r\n", b"z"), None),
    Case("no-colon", put("nocolon", b"Content-Length: 1\r\nNocolon\r\n", b"z"), None),
    Case("nul-value", put("nul", b"Content-Length: 1\r\nX-A: a\x00b\r\n", b"z"), None),
    Case("cr-value", put("cr", b"Content-Length: 1\r\nX-A: a\rb\r\n", b"z"), None),
    Case("bare-lf-head", b"PUT /s3/wire/lf HTTP/1.1\nHost: x\nContent-Length: 1\n\nz", None),
    Case("raw-ff-target", b"GET /s3/wire/\xff HTTP/1.1\r\nHost: x\r\n\r\n", None),
    Case("nul-target", b"GET /s3/wire/a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", None),
    Case("no-host", b"GET /s3/wire HTTP/1.1\r\n\r\n", None),
    Case("http-2.0", b"GET /s3/wire HTTP/2.0\r\nHost: x\r\n\r\n", None,
         refused_with=(400, 505)),
    Case("huge-line", b"GET /s3/wire HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 70_000
         + b"\r\n\r\n", None, refused_with=(400, 431)),
    Case("huge-count", b"GET /s3/wire HTTP/1.1\r\nHost: x\r\n"
         + b"".join(b"X-%d: y\r\n" % i for i in range(300)) + b"\r\n", None,
         refused_with=(431,)),
    Case("upgrade", b"GET /s3/wire HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
         b"Upgrade: websocket\r\n\r\n" + H("upgrade"), None, refused_with=(400, 501)),
    # ---- framed ---------------------------------------------------------------------------
    Case("absolute-form", b"PUT http://example.com/s3/wire/abs HTTP/1.1\r\nHost: x\r\n"
         b"Content-Length: 3\r\n\r\nabc", [200], stored={"abs": b"abc"}),
    Case("double-space-target", b"GET  /s3/wire/abs2 HTTP/1.1\r\nHost: x\r\n\r\n", [404]),
    Case("pipeline-3", put("p1", b"Content-Length: 3\r\n", b"one")
         + b"GET /s3/wire/p1 HTTP/1.1\r\nHost: x\r\n\r\n"
         + put("p2", TE, b"3\r\ntwo\r\n0\r\n\r\n"), [200, 200, 200],
         stored={"p1": b"one", "p2": b"two"}),
    Case("pipeline-body-looks-like-request", put("p3", b"Content-Length: %d\r\n"
                                                 % len(H("p3")), H("p3"))
         + b"GET /s3/wire/p3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         [200, 200], stored={"p3": H("p3")}, closes=True),
    Case("http10-chunked-keepalive", put("h10", b"Connection: keep-alive\r\n" + TE,
                                         b"2\r\nXX\r\n0\r\n\r\n", version=b"1.0")
         + H("h10"), [200], stored={"h10": b"XX"}, closes=True),
]


def s3_keys(node: NodeProcess) -> dict[str, bytes]:
    s3 = s3_client(node.s3_url)
    out = {}
    for obj in s3.list_objects_v2(Bucket="wire").get("Contents", []):
        out[obj["Key"]] = s3.get_object(Bucket="wire", Key=obj["Key"])["Body"].read()
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_wire_case(wire_node: NodeProcess, case: Case) -> None:
    server = wire_node.server  # type: ignore[attr-defined]
    if server == "hypercorn" and case.id == "http10-chunked-keepalive":
        # seen once in three runs: h11 raises "Got data when expecting EOF" while
        # Hypercorn is still sending the answer; its error response then hits
        # trio.BusyResourceError, which escapes Hypercorn's serve() and stops the node
        pytest.skip("Hypercorn can crash on bytes after an HTTP/1.0 request (upstream)")
    before = s3_keys(wire_node)
    ex = exchange(wire_node.url, case.raw,
                  count=None if case.statuses is None or case.closes
                  else len(case.statuses), timeout=5 if server == "aisfs" else 1)
    after = s3_keys(wire_node)
    new = {k: v for k, v in after.items() if before.get(k) != v}
    smuggled = [k for k in new if k.startswith("s-")]
    assert not smuggled, (ex, smuggled)
    statuses = [r.status for r in ex.responses]
    refused = (len(statuses) == 1 and 400 <= statuses[0] < 600 and statuses[0] != 500
               and ex.closed and not new)
    if server == "hypercorn" and not statuses and ex.closed and not new:
        # Hypercorn closes with the body unread: the kernel may reset the connection
        # before the client reads the answer - closed, nothing ran: refused all the same
        refused = True
    framed = (case.statuses is not None and statuses == case.statuses
              and new == case.stored and (ex.closed or not case.closes))
    for r in ex.responses:
        assert r.status != 500, (ex, wire_node.log()[-3000:])
    if server == "aisfs":
        if case.statuses is None:
            assert refused, ex
            assert statuses[0] in case.refused_with, ex
            assert ex.responses[0].headers.get("connection") == "close"
        else:
            assert framed, (ex, new)
    else:
        if refused or framed:
            return
        # h11 answered otherwise: only where it is known to, and never unsafely
        assert case.id in H11_DIFFERS, (ex, new)
        if case.statuses is None:
            # llhttp refuses this; h11 frames it one unambiguous way (no second reading
            # of the bytes exists that a front end could take): stored at most the key
            # the request names, and nothing hidden ran (checked above)
            assert all(not k.startswith("s-") for k in new), new


# Where h11 (Hypercorn) answers otherwise than llhttp, and what it does instead. None of
# these runs a hidden request; CL.TE and a bare-LF trailer did until node.serve.H11Guard
# (400 for CL+TE; a chunked request's answer closes the connection).
H11_DIFFERS = {
    "cl-cl-same": "accepts two equal Content-Length fields",
    "cl-list": "accepts a list of equal lengths",
    "te-obs-fold": "unfolds a folded Transfer-Encoding",
    "te-trailing-tab": "strips the trailing tab",
    "obs-fold": "unfolds obs-fold",
    "bare-lf-head": "accepts bare LF line ends",
    "chunk-overflow": "waits for the 2^64-byte chunk (no answer; nothing stored)",
    "http-2.0": "serves HTTP/2.0 in a 1.x head",
    "huge-line": "Hypercorn's limit is on the incomplete head, not the line",
    "huge-count": "no limit on the number of fields",
    "upgrade": "400 without closing the connection",
    "absolute-form": "routes the whole absolute URL as the path (404)",
    "trailer-bare-lf": "takes the bare-LF trailer line; the answer then closes (H11Guard)",
}


def test_bare_lf_trailer_never_smuggles(wire_node: NodeProcess) -> None:
    """h11 takes a trailer line ending in a bare LF, which llhttp (and so the default
    server) refuses. A guard at the ASGI level cannot see trailers, so in Hypercorn mode
    a chunked request's answer closes the connection: the request after it never runs."""
    case = next(c for c in CASES if c.id == "trailer-bare-lf")
    ex = exchange(wire_node.url, case.raw, timeout=1)
    keys = s3_keys(wire_node)
    assert "s-tr-lf" not in keys and ex.closed
