"""Inodes: the kernel's numbers for paths, their attributes, and how those map to objects.

An inode stands for one path (relative to the mount root) and one kind - file, directory
or symlink - for its whole life: the kernel marks an inode bad if its type changes, so
when the store says a path changed kind the old inode is detached and a new one made.
Inode numbers are never reused while the mount lives.

POSIX attributes live in object metadata, in the headers s3fs made a convention of:
x-amz-meta-mode (decimal, with the type bits), -uid, -gid, -mtime and -atime (decimal
seconds), and x-amz-meta-symlink (the target, percent-encoded) for symlinks.
"""

from __future__ import annotations

import errno
import stat
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import pyfuse3
import trio

from aisfs.numbers import parse_int
from aisfs_mount.backend import ObjectInfo

if TYPE_CHECKING:
    from aisfs_mount.writecache import Stage

FILE, DIR, LINK = "f", "d", "l"
TYPE_BITS = {FILE: stat.S_IFREG, DIR: stat.S_IFDIR, LINK: stat.S_IFLNK}
OUR_META = {"mode", "uid", "gid", "mtime", "atime", "symlink"}
DIR_CONTENT_TYPE = "application/x-directory"


@dataclass(slots=True)
class Attrs:
    size: int = 0
    mtime_ns: int = 0
    atime_ns: int | None = None
    ctime_ns: int = 0
    perm: int = 0o644  # permission bits (07777)
    uid: int = 0
    gid: int = 0
    target: str | None = None  # symlinks; None = not known yet
    etag: str = ""
    user_meta: dict[str, str] = field(default_factory=dict)  # others' metadata, kept
    content_type: str = ""
    full: bool = False  # mode/owner/times known (from HEAD or a rich listing)
    fetched: float = -1e18  # trio time of the last refresh
    marker: bool = False  # directories: a `dir/` marker object exists
    server_s: int = -1  # the object's Last-Modified (s) when these attrs were read; -1 unknown
    exact: bool = True  # user metadata known byte for byte (HEAD or our own write, not a listing)


class Inode:
    __slots__ = ("ino", "kind", "path", "attrs", "lookups", "opens", "writers", "stage",
                 "dirty", "remote", "unlinked", "lock")

    def __init__(self, ino: int, kind: str, path: str | None, attrs: Attrs) -> None:
        self.ino = ino
        self.kind = kind
        self.path = path  # None once detached (unlinked, replaced, changed kind)
        self.attrs = attrs
        self.lookups = 0
        self.opens = 0
        self.writers = 0  # open handles that can write (each close uploads)
        self.stage: Stage | None = None  # local copy while open for writing
        self.dirty = False  # the stage holds data or metadata not yet on the server
        self.remote = True  # an object (or prefix) for it exists on the server
        self.unlinked = False
        self.lock = trio.Lock()

    def fresh(self, ttl: float) -> bool:
        return trio.current_time() - self.attrs.fetched < ttl

    def __repr__(self) -> str:
        return f"Inode({self.ino}, {self.kind}, {self.path!r})"


def now_ns() -> int:
    return time.time_ns()


# the values of mode, uid and gid repeat from object to object: a listing of thousands
# parses each once (a window's attributes are built per file: aisfs_mount/dirs.py)
_INTS: dict[str, int | None] = {}


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    got = _INTS.get(text, _INTS)
    if got is not _INTS:
        return got  # type: ignore[return-value]
    try:  # ASCII digits, bounded: another client's x-amz-meta-* may hold anything
        value: int | None = parse_int(text.strip(), lo=-(2**63), hi=2**64 - 1)
    except ValueError:
        value = None
    if len(_INTS) > 4096:
        _INTS.clear()
    _INTS[text] = value
    return value


MAX_TIME_S = 2**62 // 1_000_000_000


def parse_time_ns(text: str | None) -> int | None:
    if not text:
        return None
    t = text.strip()
    sec, dot, frac = t.partition(".")
    if (sec.isascii() and sec.isdigit() and len(sec) <= 19
            and (not dot or frac.isascii() and frac.isdigit())):
        # the usual form (seconds.nanoseconds, as this mount and s3fs write it), without
        # Decimal: the same value, truncated to the nanosecond
        s = int(sec)
        if s > MAX_TIME_S or s == MAX_TIME_S and frac.strip("0"):
            return None
        return s * 1_000_000_000 + (int(frac[:9].ljust(9, "0")) if frac else 0)
    try:
        seconds = Decimal(t)
        if not seconds.is_finite() or seconds.copy_abs() > MAX_TIME_S:
            return None  # Infinity, NaN, 1e999999999: never int() of a vast Decimal
        return int(seconds * 1_000_000_000)
    except (ArithmeticError, ValueError):  # decimal's InvalidOperation, Overflow...
        return None


def format_time_ns(ns: int) -> str:
    sign = "-" if ns < 0 else ""
    s, frac = divmod(abs(ns), 1_000_000_000)
    return f"{sign}{s}.{frac:09d}"


@dataclass(slots=True)
class Defaults:
    uid: int
    gid: int
    umask: int
    mount_time_ns: int

    def perm(self, kind: str) -> int:
        if kind == LINK:
            return 0o777
        return (0o777 if kind == DIR else 0o666) & ~self.umask


def kind_of(info: ObjectInfo) -> str:
    meta = info.meta or {}
    if "symlink" in meta:
        return LINK
    mode = _int(meta.get("mode"))
    if mode is not None and stat.S_ISLNK(mode):
        return LINK
    return FILE


def attrs_from(info: ObjectInfo | None, kind: str, d: Defaults, now: float) -> Attrs:
    """Attributes of a file/symlink object or a directory marker (None: an implied dir)."""
    if info is None:
        return Attrs(perm=d.perm(kind), uid=d.uid, gid=d.gid, mtime_ns=d.mount_time_ns,
                     ctime_ns=d.mount_time_ns, full=True, fetched=now)
    meta = info.meta or {}
    mode = _int(meta.get("mode"))
    uid, gid = _int(meta.get("uid")), _int(meta.get("gid"))
    mtime = parse_time_ns(meta.get("mtime"))
    target = meta.get("symlink")
    return Attrs(
        size=0 if kind == DIR else info.size,
        mtime_ns=mtime if mtime is not None else info.mtime_ns,
        atime_ns=parse_time_ns(meta.get("atime")),
        ctime_ns=info.mtime_ns,
        perm=(mode & 0o7777) if mode is not None else d.perm(kind),
        uid=uid if uid is not None else d.uid,
        gid=gid if gid is not None else d.gid,
        target=unquote(target) if target is not None else None,
        etag=info.etag,
        user_meta={k: v for k, v in meta.items() if k not in OUR_META},
        content_type=info.content_type,
        full=info.meta is not None,
        fetched=now,
        marker=kind == DIR,
        server_s=info.mtime_ns // 1_000_000_000 if info.meta is not None else -1,
    )


def unchanged(info: ObjectInfo, a: Attrs) -> bool:
    """A listing entry shows the same object these (HEAD-read) attributes came from."""
    return (a.full and a.server_s >= 0 and info.mtime_ns // 1_000_000_000 == a.server_s
            and info.etag == a.etag and info.size == a.size)


def meta_of(inode: Inode) -> dict[str, str]:
    a = inode.attrs
    meta = dict(a.user_meta)
    meta["mode"] = str(TYPE_BITS[inode.kind] | a.perm)
    meta["uid"] = str(a.uid)
    meta["gid"] = str(a.gid)
    meta["mtime"] = format_time_ns(a.mtime_ns)
    if a.atime_ns is not None:
        meta["atime"] = format_time_ns(a.atime_ns)
    if inode.kind == LINK and a.target is not None:
        meta["symlink"] = quote(a.target, safe="/")
    return meta


def entry_of(inode: Inode, entry_timeout: float, attr_timeout: float) -> pyfuse3.EntryAttributes:
    a = inode.attrs
    e = pyfuse3.EntryAttributes()
    e.st_ino = pyfuse3.InodeT(inode.ino)
    e.generation = 0
    e.entry_timeout = entry_timeout
    e.attr_timeout = attr_timeout
    e.st_mode = pyfuse3.ModeT(TYPE_BITS[inode.kind] | a.perm)
    e.st_nlink = 1
    e.st_uid = a.uid
    e.st_gid = a.gid
    e.st_rdev = 0
    e.st_size = a.size
    e.st_blksize = 1 << 17
    e.st_blocks = (a.size + 511) // 512
    e.st_mtime_ns = a.mtime_ns
    e.st_atime_ns = a.atime_ns if a.atime_ns is not None else a.mtime_ns
    e.st_ctime_ns = max(a.ctime_ns, a.mtime_ns)
    return e


def negative_entry(timeout: float) -> pyfuse3.EntryAttributes:
    e = pyfuse3.EntryAttributes()
    e.st_ino = pyfuse3.InodeT(0)
    e.entry_timeout = timeout
    e.attr_timeout = timeout
    return e


class InodeTable:
    """ino -> Inode and path -> Inode for the live inodes."""

    PRUNE_AT = 50_000

    def __init__(self, root_attrs: Attrs) -> None:
        self.by_ino: dict[int, Inode] = {}
        self.by_path: dict[str, Inode] = {}
        self.next_ino = pyfuse3.ROOT_INODE + 1
        root = Inode(pyfuse3.ROOT_INODE, DIR, "", root_attrs)
        root.lookups = 1
        self.root = root
        self.by_ino[root.ino] = root
        self.by_path[""] = root

    def __getitem__(self, ino: int) -> Inode:
        try:
            return self.by_ino[ino]
        except KeyError:
            raise pyfuse3.FUSEError(errno.ESTALE) from None

    def find(self, path: str) -> Inode | None:
        return self.by_path.get(path)

    def add(self, path: str, kind: str, attrs: Attrs) -> Inode:
        old = self.by_path.get(path)
        if old is not None:
            self.detach(old)
        if len(self.by_ino) > self.PRUNE_AT:
            self.prune()
        inode = Inode(self.next_ino, kind, path, attrs)
        self.next_ino += 1
        self.by_ino[inode.ino] = inode
        self.by_path[path] = inode
        return inode

    def detach(self, inode: Inode) -> None:
        if inode.path is not None and self.by_path.get(inode.path) is inode:
            del self.by_path[inode.path]
        inode.path = None
        self._maybe_drop(inode)

    def move(self, inode: Inode, new_path: str) -> None:
        """Give `inode` (and, for a directory, everything below it) a new path."""
        old_path = inode.path
        assert old_path is not None
        displaced = self.by_path.get(new_path)
        if displaced is not None and displaced is not inode:
            self.detach(displaced)
        moves = [(old_path, inode)]
        if inode.kind == DIR:
            pre = old_path + "/"
            moves += [(p, i) for p, i in self.by_path.items() if p.startswith(pre)]
        for p, _ in moves:
            del self.by_path[p]
        for p, i in moves:
            np = new_path + p[len(old_path):]
            gone = self.by_path.pop(np, None)
            if gone is not None:
                gone.path = None
            i.path = np
            self.by_path[np] = i

    def forget(self, ino: int, n: int) -> None:
        inode = self.by_ino.get(ino)
        if inode is None or inode.ino == pyfuse3.ROOT_INODE:
            return
        inode.lookups = max(0, inode.lookups - n)
        self._maybe_drop(inode)

    def _maybe_drop(self, inode: Inode) -> None:
        if inode.lookups == 0 and inode.opens == 0 and inode.stage is None:
            self.by_ino.pop(inode.ino, None)
            if inode.path is not None and self.by_path.get(inode.path) is inode:
                del self.by_path[inode.path]

    def prune(self) -> None:
        for inode in [i for i in self.by_ino.values() if i.lookups == 0]:
            self._maybe_drop(inode)

    def staged_below(self, path: str) -> list[Inode]:
        pre = path + "/" if path else ""
        return [i for i in self.by_ino.values()
                if i.stage is not None and i.path is not None and i.path.startswith(pre)]


def may_access(st_mode: int, st_uid: int, st_gid: int, uid: int, gid: int, want: int) -> bool:
    """POSIX's check of ``want`` (os.R_OK | os.W_OK | os.X_OK bits) for a caller: root may
    do anything but execute a non-directory with no x bit; others get the owner's, the
    group's or everyone's bits, the first class they are in."""
    want &= 0o7
    if uid == 0:
        return not (want & 1 and not stat.S_ISDIR(st_mode) and not st_mode & 0o111)
    if uid == st_uid:
        bits = (st_mode >> 6) & 0o7
    elif gid == st_gid:
        bits = (st_mode >> 3) & 0o7
    else:
        bits = st_mode & 0o7
    return want & bits == want
