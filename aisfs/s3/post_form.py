"""A sans-IO multipart/form-data parser for S3 POST Object (browser uploads).

Bytes go in with ``feed`` as they arrive (any split, any size); events come out:
``Field`` (a form field before the file, its value whole, at most ``max_field`` bytes),
``FileStart`` (the part named ``file``: its filename and Content-Type), ``FileData``
(pieces of the file, never the whole of it: the parser keeps at most the delimiter's
length back), ``FileEnd`` and ``FormEnd``. Fields after the file are skipped, as AWS
ignores them. Limits keep every buffer small: a field value (``max_field``), all fields
before the file together (``max_fields``), one part's header block, the preamble.

Errors are ``S3Error``s as AWS answers them: MalformedPOSTRequest (the body does not
parse), MaxPostPreDataLengthExceededError (the fields before the file are too large).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from aisfs.errors import S3Error

MAX_FIELD = 20 * 1024  # one field's value (a policy document is the largest)
MAX_FIELDS = 64 * 1024  # all fields before the file, names and values
MAX_PART_HEADERS = 8 * 1024
MAX_PREAMBLE = 8 * 1024
MAX_BOUNDARY = 70  # RFC 2046


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: bytes


@dataclass(frozen=True, slots=True)
class FileStart:
    filename: str
    content_type: str | None


@dataclass(frozen=True, slots=True)
class FileData:
    data: bytes


@dataclass(frozen=True, slots=True)
class FileEnd:
    pass


@dataclass(frozen=True, slots=True)
class FormEnd:
    pass


Event = Field | FileStart | FileData | FileEnd | FormEnd


def malformed(detail: str = "") -> S3Error:
    message = "The body of your POST request is not well-formed multipart/form-data."
    return S3Error("MalformedPOSTRequest", message + (f" ({detail})" if detail else ""))


def too_much_before_file() -> S3Error:
    return S3Error("MaxPostPreDataLengthExceededError",
                   "Your POST request fields preceding the upload file were too large.")


def _params(value: str) -> tuple[str, dict[str, str]]:
    """``form-data; name="a"; filename="b"`` -> ("form-data", {name: a, filename: b})."""
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t;":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        name = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            i += 1
            out: list[str] = []
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                out.append(rest[i])
                i += 1
            i += 1
            val = "".join(out)
        else:
            end = rest.find(";", i)
            end = n if end < 0 else end
            val = rest[i:end].strip()
            i = end
        params.setdefault(name, val)
    return head.strip().lower(), params


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type (MalformedPOSTRequest)."""
    kind, params = _params(content_type or "")
    boundary = params.get("boundary", "")
    if kind != "multipart/form-data" or not boundary or len(boundary) > MAX_BOUNDARY:
        raise malformed("a multipart/form-data Content-Type with a boundary is required")
    try:
        return boundary.encode("ascii")
    except UnicodeEncodeError:
        raise malformed("the boundary is not ASCII") from None


def is_form(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "multipart/form-data"


class _State(Enum):
    PREAMBLE = auto()
    AFTER_BOUNDARY = auto()
    HEADERS = auto()
    BODY = auto()
    EPILOGUE = auto()


class _Part(Enum):
    """What the current part is (a field's name is kept apart: a field may be named
    anything, "skip" and "file"'s other cases included)."""

    FIELD = auto()
    FILE = auto()
    SKIPPED = auto()  # after the file


class FormParser:
    """One form: ``feed`` each piece of the body, then ``end``."""

    def __init__(self, boundary: bytes, max_field: int = MAX_FIELD,
                 max_fields: int = MAX_FIELDS) -> None:
        self._delim = b"\r\n--" + boundary
        self._buf = bytearray(b"\r\n")  # the first boundary needs no CRLF before it
        self._state = _State.PREAMBLE
        self._max_field = max_field
        self._fields_left = max_fields
        self._part: _Part | None = None  # the current part's kind
        self._name = ""  # a field part's name
        self._value = bytearray()
        self._file_seen = False
        self._done = False  # FormEnd given

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        if self._file_fast_path(data, events):
            return events
        self._buf += data
        while self._step(events):
            pass
        return events

    def _file_fast_path(self, data: bytes, events: list[Event]) -> bool:
        """The file's middle: a piece with no delimiter in it or across its start is
        passed on with one copy, not through the buffer."""
        keep = len(self._delim) - 1
        if self._state is not _State.BODY or self._part is not _Part.FILE \
                or len(self._buf) > keep or len(data) <= keep:
            return False
        if (bytes(self._buf) + data[:keep]).find(self._delim) >= 0 \
                or data.find(self._delim) >= 0:
            return False
        if self._buf:
            events.append(FileData(bytes(self._buf)))
        events.append(FileData(data[:-keep]))
        self._buf = bytearray(data[-keep:])
        return True

    def end(self) -> list[Event]:
        """The body is over: FormEnd, or MalformedPOSTRequest if the form is cut short."""
        if self._done:
            return []
        raise malformed("the body ends before the closing boundary")

    # ---- states ----------------------------------------------------------------------

    def _step(self, events: list[Event]) -> bool:
        """One move of the state machine; False: more bytes are needed."""
        if self._state is _State.PREAMBLE:
            return self._preamble()
        if self._state is _State.AFTER_BOUNDARY:
            return self._after_boundary(events)
        if self._state is _State.HEADERS:
            return self._headers(events)
        if self._state is _State.BODY:
            return self._body(events)
        self._buf.clear()  # the epilogue: ignored
        return False

    def _preamble(self) -> bool:
        at = self._buf.find(self._delim)
        if at < 0:
            if len(self._buf) > MAX_PREAMBLE:
                raise malformed("no boundary where the form should start")
            return False
        del self._buf[: at + len(self._delim)]
        self._state = _State.AFTER_BOUNDARY
        return True

    def _after_boundary(self, events: list[Event]) -> bool:
        if len(self._buf) < 2:
            return False
        if self._buf[:2] == b"--":
            self._state = _State.EPILOGUE
            self._form_end(events)
            return True
        # transport padding (RFC 2046) then CRLF
        eol = self._buf.find(b"\r\n")
        if eol < 0:
            if len(self._buf) > 256:
                raise malformed("bad boundary line")
            return False
        if self._buf[:eol].strip(b" \t"):
            raise malformed("bad boundary line")
        del self._buf[: eol + 2]
        self._state = _State.HEADERS
        return True

    def _headers(self, events: list[Event]) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0 and self._buf[:2] == b"\r\n":
            raise malformed("each part needs Content-Disposition: form-data; name=...")
        if end < 0 or end > MAX_PART_HEADERS:
            if len(self._buf) > MAX_PART_HEADERS:
                raise malformed("a part's headers are too long")
            return False
        block = bytes(self._buf[:end])
        del self._buf[: end + 4]
        self._start_part(block, events)
        self._state = _State.BODY
        return True

    def _start_part(self, block: bytes, events: list[Event]) -> None:
        headers: dict[str, str] = {}
        for line in block.decode("utf-8", "replace").split("\r\n"):
            name, sep, value = line.partition(":")
            if not sep:
                raise malformed("a part header without a colon")
            headers[name.strip().lower()] = value.strip()
        kind, params = _params(headers.get("content-disposition", ""))
        if kind != "form-data" or "name" not in params:
            raise malformed("each part needs Content-Disposition: form-data; name=...")
        name = params["name"]
        if self._file_seen:
            self._part = _Part.SKIPPED
        elif name.lower() == "file":
            self._part = _Part.FILE
            self._file_seen = True
            events.append(FileStart(params.get("filename", ""), headers.get("content-type")))
        else:
            self._part, self._name = _Part.FIELD, name
            self._charge(len(name))

    def _body(self, events: list[Event]) -> bool:
        at = self._buf.find(self._delim)
        if at < 0:
            keep = len(self._delim) - 1
            if len(self._buf) > keep:
                self._emit(bytes(self._buf[:-keep]), events)
                del self._buf[:-keep]
            return False
        self._emit(bytes(self._buf[:at]), events)
        del self._buf[: at + len(self._delim)]
        self._finish_part(events)
        self._state = _State.AFTER_BOUNDARY
        return True

    def _form_end(self, events: list[Event]) -> None:
        if not self._done:
            self._done = True
            events.append(FormEnd())

    def _emit(self, data: bytes, events: list[Event]) -> None:
        if not data or self._part is _Part.SKIPPED:
            return
        if self._part is _Part.FILE:
            events.append(FileData(data))
            return
        self._charge(len(data))
        self._value += data
        if len(self._value) > self._max_field:
            raise too_much_before_file()

    def _charge(self, n: int) -> None:
        self._fields_left -= n
        if self._fields_left < 0:
            raise too_much_before_file()

    def _finish_part(self, events: list[Event]) -> None:
        if self._part is _Part.FILE:
            events.append(FileEnd())
            self._form_end(events)  # what follows the file is not read by AWS either
        elif self._part is _Part.FIELD:
            events.append(Field(self._name, bytes(self._value)))
        self._part = None
        self._value = bytearray()
