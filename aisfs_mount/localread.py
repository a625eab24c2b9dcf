"""Short-circuit local reads: the chunk files of an object read straight from the disk.

When the mount runs on the node's own host (the endpoint is a loopback address), a
sequential reader needs neither HTTP nor the node's CPU: the node says where the object's
chunks lie (`POST /v1/objects/B/K {"action": "locate"}`, node/native_locate.py) and the mount
reads the chunk files in a worker thread, as HDFS's short-circuit reads do. A block that
is exactly one chunk (the usual case: blocks and chunks are both 8 MiB) is mapped, not
copied: the kernel's reply to the reader is copied straight from the page cache, which
halves the mount's CPU per byte; anything else is `pread` into the block's buffer.

Nothing the node says is trusted to pick a file:

- a chunk id must look like one (32 hex digits, maybe "-N"): the path is built from it and
  a mountpath root with the store's layout (`aisfs/store/layout.py`), and must still be
  under that root once symlinks are resolved;
- the root must hold the mountpath identity file, and every file read must be a regular
  file owned by the uid that holds the endpoint's listening socket (the kernel's
  /proc/net/tcp says who that is, not the node): the mount reads only what the node's
  own user could have sent it;
- a chunk's bytes are served only once they hash (xxh3-128) to the chunk id.

A mapping is made only of a file no one but its owner may write, and only once
MADV_POPULATE_READ has read all of it in (an I/O error there is an error, not a SIGBUS
later). What a mapping cannot guard against: the chunk file truncated or rewritten in
place while mapped (the store never does that: chunks are written once and replaced by
rename) - that would be a SIGBUS, or unverified bytes.

Any problem - not loopback, no such listener, another uid, a missing or unreadable file
(the object was overwritten and its chunks collected), a size or checksum mismatch -
raises `LocalMiss`, and the reader goes back to ranged GETs for that open file.
"""

from __future__ import annotations

import bisect
import errno
import ipaddress
import logging
import mmap
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import xxhash

from aisfs.store import layout
from aisfs_mount.backend import Unreachable

log = logging.getLogger(__name__)

CHUNK_ID = re.compile(r"[0-9a-f]{32}(-[0-9]{1,3})?")
LOCAL_MIN = 4 << 20  # smaller objects: the GET is as cheap as the locate
SCRATCH = 2  # whole chunks kept for blocks that end inside one
MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux 5.14


def _cached(fd: int, size: int) -> bool:
    """Whether the file's first and last pages are in the page cache (a read that
    would wait for the disk fails with EAGAIN under RWF_NOWAIT)."""
    probe = bytearray(1)
    try:
        for off in (0, size - 1):
            os.preadv(fd, [probe], off, os.RWF_NOWAIT)
    except BlockingIOError:
        return False
    except OSError:  # RWF_NOWAIT unsupported here: take the mapping's path
        return True
    return True


class LocalMiss(Exception):
    """The local path cannot serve this read: use a GET."""


@dataclass(slots=True, frozen=True)
class Chunk:
    id: str
    size: int
    paths: tuple[str, ...]  # in the node's placement order


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listener_uid(port: int) -> int | None:
    """The uid of the socket(s) listening on TCP `port` on this host (loopback or any
    address); None if there is none or they belong to several users."""
    uids: set[int] = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as lines:
                next(lines, None)
                for line in lines:
                    f = line.split()
                    if len(f) < 8 or f[3] != "0A":
                        break  # the kernel lists the listening sockets first
                    addr, _, hport = f[1].rpartition(":")
                    if int(hport, 16) == port and _loopback_or_any(addr):
                        uids.add(int(f[7]))
        except OSError:
            continue
    return uids.pop() if len(uids) == 1 else None


def _loopback_or_any(hexaddr: str) -> bool:
    """An address of /proc/net/tcp{,6} (host-order 32-bit words in hex)."""
    raw = bytes.fromhex(hexaddr)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(words)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


class LocalObject:
    """One object's chunk files; `read_into` is blocking (run it in a worker thread)."""

    def __init__(self, chunks: list[Chunk], uid: int, map_ok: bool = True) -> None:
        self.chunks = chunks
        self.uid = uid
        self.map_ok = map_ok
        self.offsets: list[int] = []
        off = 0
        for c in chunks:
            self.offsets.append(off)
            off += c.size
        self.size = off
        self.lock = threading.Lock()
        self.scratch: OrderedDict[str, bytearray] = OrderedDict()

    def read_into(self, start: int, length: int, buf: bytearray) -> memoryview:
        """Bytes `start..start+length` into `buf` (verified); a view of them."""
        end = start + length
        if start < 0 or end > self.size or len(buf) < length:
            raise LocalMiss("range outside the located object")
        view = memoryview(buf)
        pos = start
        i = bisect.bisect_right(self.offsets, start) - 1
        while pos < end:
            c, c_off = self.chunks[i], self.offsets[i]
            hi = min(end, c_off + c.size)
            dst = view[pos - start:hi - start]
            if pos == c_off and hi == c_off + c.size:
                self._read_chunk(c, dst)
            else:
                dst[:] = memoryview(self._whole(c))[pos - c_off:hi - c_off]
            pos = hi
            i += 1
        return view[:length]

    def _whole(self, c: Chunk) -> bytearray:
        """A chunk only part of which a block needs, kept for the next block."""
        with self.lock:
            data = self.scratch.get(c.id)
            if data is not None:
                self.scratch.move_to_end(c.id)
                return data
        data = bytearray(c.size)
        self._read_chunk(c, memoryview(data))
        with self.lock:
            self.scratch[c.id] = data
            while len(self.scratch) > SCRATCH:
                self.scratch.popitem(last=False)
        return data

    def map_block(self, start: int, length: int) -> memoryview | None:
        """A block that is exactly one chunk, mapped (verified); None: use `read_into`."""
        i = bisect.bisect_right(self.offsets, start) - 1
        if not self.map_ok or i < 0 or self.offsets[i] != start or \
                self.chunks[i].size != length or not length:
            return None
        c = self.chunks[i]
        for path in c.paths:
            fd = self._open(path, c)
            if fd < 0:
                continue
            try:
                if os.fstat(fd).st_mode & 0o022:
                    return None  # others may write it: copy it, then verify the copy
                if not _cached(fd, c.size):
                    # a cold chunk is read with pread (the copying path): faster than
                    # faulting a mapping in from disk (1 GiB cold: 1,070-1,220 vs 960-990
                    # MiB/s), and a disk error is then EIO, never a SIGBUS
                    return None
                m = mmap.mmap(fd, c.size, prot=mmap.PROT_READ)
            except OSError:
                return None
            finally:
                os.close(fd)
            try:
                m.madvise(MADV_POPULATE_READ)
            except OSError:  # an I/O error (or an old kernel): the copying path says which
                m.close()
                self.map_ok = False
                return None
            view = memoryview(m)
            if xxhash.xxh3_128_hexdigest(view) == layout.chunk_base(c.id):
                return view
            view.release()
            m.close()
            log.warning("local read of chunk %s: %s: checksum mismatch", c.id, path)
        return None  # the copying path tries every copy again and says what is wrong

    def _open(self, path: str, c: Chunk) -> int:
        """`path` opened if it is the node's chunk file of the right size, else -1."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return -1
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EPERM):
                raise LocalMiss(f"{path}: {e.strerror}") from e
            return -1
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_uid == self.uid and st.st_size == c.size:
                return fd
        except OSError:
            pass
        os.close(fd)
        return -1

    def _read_chunk(self, c: Chunk, dst: memoryview) -> None:
        for path in c.paths:
            fd = self._open(path, c)
            if fd < 0:
                continue
            got = 0
            try:
                while got < c.size:
                    n = os.preadv(fd, [dst[got:]], got)
                    if n <= 0:
                        break
                    got += n
            except OSError as e:
                log.warning("local read of chunk %s: %s: %s", c.id, path, e.strerror)
                continue
            finally:
                os.close(fd)
            if got == c.size and xxhash.xxh3_128_hexdigest(dst) == layout.chunk_base(c.id):
                return
            log.warning("local read of chunk %s: %s: checksum mismatch", c.id, path)
        raise LocalMiss(f"chunk {c.id}: no good copy here")


class LocalReads:
    """Per backend: whether local reads can work here, and the locate call."""

    def __init__(self, endpoint: str, base: str, mode: str = "auto") -> None:
        """`mode`: "auto" (map whole-chunk blocks), "copy" (always pread), "off"."""
        u = urlsplit(base or endpoint)
        self.port = u.port or 80
        self.enabled = mode != "off" and u.scheme == "http" and loopback(u.hostname or "")
        self.map = mode == "auto"
        self.roots: dict[str, str | None] = {}  # root -> its real path, None if refused
        self.dirs: dict[str, bool] = {}  # ROOT/chunks/XX -> no symlink on the way

    def _root(self, root: str, uid: int) -> str | None:
        if root not in self.roots:
            real: str | None = os.path.realpath(root)
            try:
                st = os.stat(f"{real}/{layout.IDENTITY_FILE}", follow_symlinks=False)
                if not os.path.isabs(root) or not stat.S_ISREG(st.st_mode) or st.st_uid != uid:
                    real = None
            except OSError:
                real = None
            self.roots[root] = real
        return self.roots[root]

    def _plain_dir(self, d: str) -> bool:
        if d not in self.dirs:
            self.dirs[d] = os.path.realpath(d) == d
        return self.dirs[d]

    def parse(self, answer: object, size: int, uid: int) -> LocalObject:
        """The located object from the node's JSON answer, every path checked."""
        if not isinstance(answer, dict) or answer.get("inline") or answer.get("size") != size:
            raise LocalMiss("inline, or not the size the file was opened with")
        roots = [self._root(str(r), uid) for r in answer.get("mountpaths") or []]
        chunks: list[Chunk] = []
        for ent in answer.get("chunks") or []:
            cid, csize = str(ent.get("id", "")), int(ent.get("size", -1))
            if not CHUNK_ID.fullmatch(cid) or csize < 0:
                raise LocalMiss(f"not a chunk id: {cid!r}")
            paths = []
            for i in ent.get("mp") or []:
                real = roots[int(i)] if 0 <= int(i) < len(roots) else None
                if real is None:
                    continue
                path = layout.chunk_path(real, cid)
                if self._plain_dir(os.path.dirname(path)):
                    paths.append(path)
            if not paths:
                raise LocalMiss(f"chunk {cid}: no usable mountpath")
            chunks.append(Chunk(cid, csize, tuple(paths)))
        obj = LocalObject(chunks, uid, self.map)
        if obj.size != size:
            raise LocalMiss("the chunks do not add up to the object's size")
        return obj

    async def locate(
        self, native: Callable[..., Awaitable[object]], bucket: str, key: str, size: int
    ) -> LocalObject | None:
        """The object's chunk files, or None to read it with GETs. `native` is the
        backend's native-API call. Raises `Unreachable` when the node does not answer."""
        if not self.enabled or size < LOCAL_MIN:
            return None
        uid = listener_uid(self.port)
        if uid is None:
            return None
        path = "/v1/objects/" + quote(bucket, safe="") + "/" + quote(key, safe="/~")
        try:
            answer = await native("POST", path, {"action": "locate"},
                                  resource=f"{bucket}/{key}")
            return self.parse(answer, size, uid)
        except LocalMiss as e:
            log.debug("local reads of %s/%s: %s", bucket, key, e)
        except Unreachable:
            raise  # the read fails now (EIO), not after a GET's timeout too
        except Exception as e:  # an older node, an error answer: GETs say what is wrong
            if getattr(e, "status", 0) == 501:
                self.enabled = False  # a node without `locate`: ask no more
            log.debug("locate %s/%s failed: %s", bucket, key, e)
        return None


__all__ = ["LocalMiss", "LocalObject", "LocalReads"]
