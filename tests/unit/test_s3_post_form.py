"""The POST Object form parser (aisfs/s3/post_form.py): any boundary, any split of the
body across reads, the file never held whole, bounded fields, malformed bodies refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.s3 import post_form as pf

BOUNDARY_CHARS = st.sampled_from(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'()+_,-./:=?")


def build(boundary: str, fields: list[tuple[str, bytes]], file: bytes | None,
          filename: str = "a.txt", after: list[tuple[str, bytes]] | None = None,
          preamble: bytes = b"") -> bytes:
    b = boundary.encode()
    out = [preamble]
    for name, value in fields:
        out += [b"--" + b + b"\r\n",
                f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode(),
                value, b"\r\n"]
    if file is not None:
        out += [b"--" + b + b"\r\n",
                f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                .encode(), b"Content-Type: text/plain\r\n\r\n", file, b"\r\n"]
    for name, value in after or []:
        out += [b"--" + b + b"\r\n",
                f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode(),
                value, b"\r\n"]
    out.append(b"--" + b + b"--\r\n")
    return b"".join(out)


def parse(body: bytes, boundary: str, cuts: list[int], **kw: int) -> list[pf.Event]:
    parser = pf.FormParser(boundary.encode(), **kw)
    events: list[pf.Event] = []
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    for start, end in zip(points, points[1:], strict=False):
        events += parser.feed(body[start:end])
    events += parser.end()
    return events


def summary(events: list[pf.Event]) -> tuple[dict[str, bytes], bytes | None, str]:
    fields: dict[str, bytes] = {}
    data: list[bytes] = []
    file_seen = False
    filename = ""
    for e in events:
        if isinstance(e, pf.Field):
            assert not file_seen
            fields[e.name] = e.value
        elif isinstance(e, pf.FileStart):
            file_seen, filename = True, e.filename
        elif isinstance(e, pf.FileData):
            data.append(e.data)
    assert isinstance(events[-1], pf.FormEnd)
    assert sum(isinstance(e, pf.FormEnd) for e in events) == 1
    return fields, (b"".join(data) if file_seen else None), filename


NAMES = st.text("abcdefghijklmnopqrstuvwxyz-_$", min_size=1, max_size=12).filter(
    lambda s: s != "file")


@settings(max_examples=300, deadline=None)
@given(boundary=st.text(BOUNDARY_CHARS, min_size=1, max_size=70),
       fields=st.lists(st.tuples(NAMES, st.binary(max_size=200)), max_size=5,
                       unique_by=lambda t: t[0]),
       file=st.binary(max_size=3000),
       cuts=st.lists(st.integers(0, 10_000), max_size=20),
       preamble=st.sampled_from([b"", b"ignored preamble\r\n"]))
def test_any_boundary_any_split(boundary: str, fields: list[tuple[str, bytes]], file: bytes,
                                cuts: list[int], preamble: bytes) -> None:
    body = build(boundary, fields, file, after=[("late", b"ignored")], preamble=preamble)
    got_fields, got_file, filename = summary(parse(body, boundary, cuts))
    assert got_fields == dict(fields) and got_file == file and filename == "a.txt"


@settings(max_examples=100, deadline=None)
@given(file=st.binary(min_size=1, max_size=500).map(lambda b: b * 20),
       cuts=st.lists(st.integers(0, 10_000), max_size=10))
def test_the_file_looks_like_a_boundary(file: bytes, cuts: list[int]) -> None:
    """Bytes close to the delimiter (a CRLF, dashes, most of the boundary) inside the file
    stay file bytes (the boundary itself never appears in content: RFC 2046)."""
    file = b"\r\n--boun\r\n-bound\n--bound" + file + b"\r\n--boun"
    body = build("bound", [], file)
    assert summary(parse(body, "bound", cuts))[1] == file


def test_file_data_is_never_held_whole() -> None:
    file = bytes(range(256)) * 4096  # 1 MiB
    parser = pf.FormParser(b"xyz")
    body = build("xyz", [("key", b"k")], file)
    biggest = 0
    for i in range(0, len(body), 65536):
        for e in parser.feed(body[i:i + 65536]):
            if isinstance(e, pf.FileData):
                biggest = max(biggest, len(e.data))
    assert biggest <= 65536 + 16
    assert len(parser._buf) < 100


def test_a_field_may_have_any_name() -> None:
    """A field named "skip" was dropped: the parser's own word for the parts after the
    file (found by test_any_boundary_any_split)."""
    fields = [("skip", b""), ("Skip", b"s"), ("file-name", b"f")]
    events = parse(build("0", fields, b"", after=[("late", b"ignored")]), "0", [])
    assert summary(events) == (dict(fields), b"", "a.txt")


def test_a_form_without_a_file() -> None:
    events = parse(build("b", [("key", b"k")], None), "b", [])
    assert summary(events) == ({"key": b"k"}, None, "")


@pytest.mark.parametrize("body", [
    b"--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk",  # cut short
    b"--b\r\nContent-Type: text/plain\r\n\r\nk\r\n--b--\r\n",  # no Content-Disposition
    b"--b\r\nno colon here\r\n\r\nk\r\n--b--\r\n",
    b"--b\r\n\r\nk\r\n--b--\r\n",  # no headers
    b"--bXX\r\n",  # junk after the boundary
    b"x" * 20_000,  # no boundary at all
])
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(S3Error) as e:
        parse(body, "b", [3, 7])
    assert e.value.code == "MalformedPOSTRequest" and e.value.status == 400


def test_oversize_fields_are_refused_before_the_file() -> None:
    body = build("b", [("policy", b"p" * 30_000)], b"data")
    with pytest.raises(S3Error) as e:
        parse(body, "b", [1000, 5000])
    assert e.value.code == "MaxPostPreDataLengthExceededError"
    many = [(f"x-amz-meta-{i}", b"v" * 1000) for i in range(100)]
    with pytest.raises(S3Error) as e:
        parse(build("b", many, b"data"), "b", [])
    assert e.value.code == "MaxPostPreDataLengthExceededError"


def test_long_part_headers_are_refused() -> None:
    body = b"--b\r\nContent-Disposition: form-data; name=\"k\"\r\nX: " + b"y" * 9000
    with pytest.raises(S3Error) as e:
        parse(body, "b", [])
    assert e.value.code == "MalformedPOSTRequest"


@pytest.mark.parametrize(("ctype", "boundary"), [
    ("multipart/form-data; boundary=abc", b"abc"),
    ('Multipart/Form-Data; charset=utf-8; boundary="a b;c"', b"a b;c"),
    ("multipart/form-data;boundary=----WebKitFormBoundaryX1", b"----WebKitFormBoundaryX1"),
])
def test_boundary_of(ctype: str, boundary: bytes) -> None:
    assert pf.boundary_of(ctype) == boundary
    assert pf.is_form(ctype)


@pytest.mark.parametrize("ctype", [None, "text/plain", "multipart/form-data",
                                   "multipart/form-data; boundary=" + "x" * 71,
                                   "multipart/mixed; boundary=a"])
def test_bad_content_types(ctype: str | None) -> None:
    with pytest.raises(S3Error) as e:
        pf.boundary_of(ctype)
    assert e.value.code == "MalformedPOSTRequest"


def test_quoted_names_and_filenames() -> None:
    body = (b'--b\r\nContent-Disposition: form-data; name="x-amz-meta-a;b"\r\n\r\nv\r\n'
            b'--b\r\nContent-Disposition: form-data; filename="C:\\\\dir\\\\f \\"q\\".txt"; '
            b'name=file\r\n\r\nDATA\r\n--b--\r\n')
    fields, data, filename = summary(parse(body, "b", [20, 60]))
    assert fields == {"x-amz-meta-a;b": b"v"} and data == b"DATA"
    assert filename == 'C:\\dir\\f "q".txt'
