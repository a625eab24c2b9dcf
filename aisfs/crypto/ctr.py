"""AES-256-CTR as a stream transform: the ciphertext has the plaintext's length, so
sizes, ranges and listings of an encrypted object are the plaintext's.

An object's bytes are one *segment* per part (one for a single PUT). Segment ``part``
(0 for a single PUT, the part number for a multipart object) is encrypted with the
counter block ``nonce (8 bytes) | part (2 bytes) | block counter (6 bytes)``, the block
counter starting at 0: no two segments of one object, nor two objects (a fresh data key
each, and a fresh nonce), share a keystream block. A read of bytes ``start..`` starts
each segment's counter at ``offset // 16`` and drops ``offset % 16`` bytes of keystream.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

NONCE_BYTES = 8
KEY_BYTES = 32
MAX_PART = 0xFFFF
BLOCK = 16


def counter_block(nonce: bytes, part: int, offset: int) -> bytes:
    """The initial counter block of segment ``part`` read from byte ``offset``."""
    if len(nonce) != NONCE_BYTES:
        raise ValueError("the nonce is 8 bytes")
    if not 0 <= part <= MAX_PART:
        raise ValueError(f"part {part} out of range")
    return nonce + part.to_bytes(2, "big") + (offset // BLOCK).to_bytes(6, "big")


def _cipher(key: bytes, nonce: bytes, part: int, offset: int) -> CipherContext:
    ctx = Cipher(algorithms.AES(key), modes.CTR(counter_block(nonce, part, offset))).encryptor()
    skip = offset % BLOCK
    if skip:
        ctx.update(bytes(skip))
    return ctx


class CtrStream:
    """Encrypts or decrypts (the same operation in CTR) a stream of pieces.

    ``segments``: ``(part, length)`` of each segment in object order; ``offset``: the
    object byte the first piece starts at. The last segment may be given a length past
    the end (an upload whose size is not known yet).
    """

    __slots__ = ("_key", "_nonce", "_segments", "_index", "_left", "_cipher")

    def __init__(
        self, key: bytes, nonce: bytes, segments: Sequence[tuple[int, int]], offset: int = 0
    ) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("the data key is 32 bytes")
        if offset < 0:
            raise ValueError("negative offset")
        self._key = key
        self._nonce = nonce
        self._segments = list(segments)
        index, inner = 0, offset
        while index < len(self._segments) - 1 and inner >= self._segments[index][1]:
            inner -= self._segments[index][1]
            index += 1
        self._index = index
        part, length = self._segments[index] if self._segments else (0, 0)
        self._left = length - inner
        self._cipher: CipherContext = _cipher(key, nonce, part, inner)

    def _next_segment(self) -> None:
        self._index += 1
        if self._index >= len(self._segments):
            raise ValueError("more bytes than the object's segments")
        part, length = self._segments[self._index]
        self._left = length
        self._cipher = _cipher(self._key, self._nonce, part, 0)

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        """The transformed bytes of ``data`` (the same length)."""
        if len(data) <= self._left:  # the common case: inside one segment
            self._left -= len(data)
            return self._cipher.update(data)
        view = memoryview(data)
        out = []
        while view:
            if self._left == 0:
                self._next_segment()
            take = min(self._left, len(view))
            out.append(self._cipher.update(view[:take]))
            self._left -= take
            view = view[take:]
        return b"".join(out)

    def write_into(self, data: bytes | bytearray | memoryview, out: memoryview) -> None:
        """``update(data)`` written to the start of ``out``, which must hold ``BLOCK``
        bytes more than ``data`` (OpenSSL's rule): no new buffer, segments crossed."""
        if len(out) < len(data) + BLOCK:
            raise ValueError("out must be BLOCK bytes longer than data")
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            if self._left == 0:
                self._next_segment()
            take = min(self._left, len(view) - pos)
            self._cipher.update_into(view[pos : pos + take], out[pos:])
            self._left -= take
            pos += take

    def update_into(self, data: bytes | bytearray | memoryview, buf: bytearray) -> memoryview:
        """``update(data)`` written into ``buf`` (grown as needed, reused by the caller
        once it is done with the result): no new buffer per piece."""
        n = len(data)
        if n > self._left:
            return memoryview(self.update(data))
        if len(buf) < n + BLOCK:
            buf.extend(bytes(n + BLOCK - len(buf)))
        self._left -= n
        written = self._cipher.update_into(data, buf)
        return memoryview(buf)[:written]


def single(key: bytes, nonce: bytes, offset: int = 0) -> CtrStream:
    """The transform of a single PUT's object (one segment, part 0)."""
    return CtrStream(key, nonce, [(0, 1 << 62)], offset)
