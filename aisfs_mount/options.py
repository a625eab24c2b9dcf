"""Mount settings: typed once, filled from the command line and `-o a,b=c` lists."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ENDPOINT = "http://localhost:8080/s3"

# fstab/mount(8) words that mean nothing to us (or that fusermount applies by itself)
IGNORED = {
    "_netdev", "defaults", "auto", "noauto", "user", "users", "nouser", "nofail", "rw",
    "dev", "nodev", "suid", "nosuid", "exec", "noexec", "async", "atime", "noatime",
    "relatime", "default_permissions",
}


class OptionError(ValueError):
    """A bad -o option or argument; printed as one line."""


def default_cache_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/cache/aisfs")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aisfs"


def default_state_dir() -> Path:
    """$XDG_STATE_HOME/aisfs, else ~/.local/state/aisfs (logs of background mounts)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                            "state")
    return Path(base) / "aisfs"


def default_endpoint() -> str:
    ais = os.environ.get("AIS_ENDPOINT")
    if ais:
        return ais.rstrip("/") + "/s3"
    return DEFAULT_ENDPOINT


@dataclass
class MountOptions:
    endpoint: str = field(default_factory=default_endpoint)
    bucket: str = ""  # empty with all_buckets
    prefix: str = ""  # "" or "some/prefix/"
    all_buckets: bool = False
    mountpoint: Path = Path()
    foreground: bool = False
    read_only: bool = False
    allow_other: bool = False
    allow_root: bool = False
    uid: int = field(default_factory=os.getuid)
    gid: int = field(default_factory=os.getgid)
    umask: int = 0o022
    attr_timeout: float = 1.0
    # against our node: follow the bucket's change feed and trust what was read for
    # notify_timeout while it is live (aisfs_mount/notify.py; with --all a feed per
    # bucket looked into, aisfs_mount/feeds.py)
    notify: bool = True
    notify_timeout: float = 300.0
    cache_dir: Path = field(default_factory=default_cache_dir)
    cache_limit: int = 0  # bytes of staged data at once; 0 = until the cache disk is full
    timeout: float = 20.0  # seconds for one request (or one read/write of a transfer)
    connect_timeout: float = 3.0
    retry_window: float = 4.0
    region: str = ""
    log_file: str = ""
    debug: bool = False
    fsname: str = ""
    backend: str = "auto"  # auto | s3 | node
    # the kernel's read-ahead for this mount (its BDI's read_ahead_kb): past 1 MiB the
    # kernel sends 1 MiB reads instead of 128 KiB ones; 0 = leave the kernel's default
    read_ahead: int = 4 << 20
    # read the chunk files of our node on this host directly (aisfs_mount/localread.py):
    # auto (mapping whole-chunk blocks) | copy (always pread) | off
    local_read: str = "auto"
    # send the parts of a big file written in order while it is written (against aisfs;
    # aisfs_mount/writebehind.py): on | off
    write_behind: bool = True

    def apply(self, opts: str) -> None:
        for item in filter(None, (o.strip() for o in opts.split(","))):
            name, eq, value = item.partition("=")
            if name in IGNORED or name.startswith(("x-systemd.", "x-", "comment")):
                continue
            self._apply_one(name, value if eq else None)

    def _apply_one(self, name: str, value: str | None) -> None:
        def need() -> str:
            if value is None or value == "":
                raise OptionError(f"option {name!r} needs a value ({name}=...)")
            return value

        def number(kind: type = int, base: int = 10) -> float:
            v = need()
            try:
                return int(v, base) if kind is int else float(v)
            except ValueError:
                raise OptionError(f"option {name}={v!r}: not a number") from None

        flags = {"ro": "read_only", "allow_other": "allow_other", "allow_root": "allow_root",
                 "debug": "debug"}
        if name in flags:
            if value is not None:
                raise OptionError(f"option {name!r} takes no value")
            setattr(self, flags[name], True)
        elif name in ("uid", "gid"):
            setattr(self, name, int(number()))
        elif name == "umask":
            self.umask = int(number(int, 8)) & 0o777
        elif name == "notify":
            if need() not in ("0", "1", "on", "off"):
                raise OptionError(f"option notify={value!r}: 1 or 0 (on or off)")
            self.notify = need() in ("1", "on")
        elif name in ("attr_timeout", "timeout", "connect_timeout", "retry_window",
                      "notify_timeout"):
            v = float(number(float))
            if v < 0:
                raise OptionError(f"option {name} must be >= 0")
            setattr(self, name, v)
        elif name == "cache_dir":
            self.cache_dir = Path(need())
        elif name == "cache_limit":
            self.cache_limit = parse_size(need())
        elif name == "read_ahead":
            self.read_ahead = parse_size(need())
        elif name in ("endpoint", "region", "fsname"):
            setattr(self, name, need())
        elif name == "backend":
            if need() not in ("auto", "s3", "node"):
                raise OptionError(f"option backend={value!r}: auto, s3 or node")
            self.backend = need()
        elif name == "local_read":
            if need() not in ("auto", "copy", "off"):
                raise OptionError(f"option local_read={value!r}: auto, copy or off")
            self.local_read = need()
        elif name == "write_behind":
            if need() not in ("on", "off"):
                raise OptionError(f"option write_behind={value!r}: on or off")
            self.write_behind = need() == "on"
        elif name == "log":
            self.log_file = need()
        else:
            raise OptionError(f"unknown option {name!r}")

    def set_source(self, source: str) -> None:
        scheme, sep, rest = source.partition("://")
        if sep and scheme.lower() in ("ais", "s3", "aws"):
            # the node's S3 API names a bucket by name (docs/backends.md): ais://B if the
            # node has one, else the backend's s3://B
            source = rest
        bucket, _, prefix = source.strip("/").partition("/")
        if not bucket:
            raise OptionError("missing BUCKET")
        self.bucket = bucket
        prefix = prefix.strip("/")
        self.prefix = prefix + "/" if prefix else ""

    def kernel_checks_permissions(self) -> bool:
        """Whether the kernel checks each access against mode and owner
        (``default_permissions``).

        Not when only root can use the mount (root mounted it, without ``allow_other``):
        the kernel lets only the mounting user in, and root may read, write and search
        anything, so every check would pass - but each would first fetch the attributes
        that a create, write or unlink made stale: two extra GETATTR round trips per small
        file written. Root's one limit, exec of a file with no x bit, the kernel still
        checks by itself; ``access(2)`` and chdir come to ``Fs.access``.
        """
        return not (os.geteuid() == 0 and not self.allow_other)

    def fuse_options(self) -> set[str]:
        src = self.fsname or ("aisfs" if self.all_buckets else
                              f"{self.bucket}/{self.prefix}".rstrip("/"))
        opts = {f"fsname={src}", "subtype=aisfs"}
        if self.kernel_checks_permissions():
            opts.add("default_permissions")
        if self.read_only:
            opts.add("ro")
        if self.allow_other:
            opts.add("allow_other")
        elif self.allow_root:
            opts.add("allow_root")
        if self.debug:
            opts.add("debug")
        return opts


def parse_size(text: str) -> int:
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    num, unit = (t[:-1], t[-1]) if t and t[-1] in units else (t, "")
    try:
        return int(float(num) * units[unit])
    except ValueError:
        raise OptionError(f"not a size: {text!r}") from None
