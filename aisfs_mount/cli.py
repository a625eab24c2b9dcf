"""`aisfs mount` and `aisfs umount`.

    aisfs mount [--endpoint URL] [-f] [-o OPTS] BUCKET[/PREFIX] DIR
    aisfs mount [--endpoint URL] [-f] [-o OPTS] --all DIR
    aisfs umount [-z] DIR

In the background (the default) the command forks, and the parent waits until the mount
is live: it exits 0 then, or prints why it failed and exits 1. Mistakes print one line.
Before anything is forked or imported, `preflight` checks what a user most often gets
wrong (a mount point that is missing, not a directory, or mounted already; /dev/fuse out
of reach; pyfuse3 not installed) and says in one line what to do.

A background mount logs to syslog (/dev/log); without one, to a file under the user's
state directory ($XDG_STATE_HOME/aisfs/ or ~/.local/state/aisfs/), and says where.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from aisfs_mount.options import MountOptions, OptionError, default_endpoint, default_state_dir

# mount.main.run: mount, report readiness through the callback, serve; the exit code
RunFn = Callable[[MountOptions, Callable[[str | None], None]], int]

READY_TIMEOUT = 120.0

INSTALL_HINT = ("the FUSE mount needs pyfuse3: pip install 'aisfs[mount]' (building it needs "
                "apt install fuse3 libfuse3-dev pkg-config gcc python3-dev)")


class PreflightError(Exception):
    """Why the mount cannot be made, found before trying; one line for the user."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aisfs mount",
        usage="aisfs mount [--endpoint URL] [-f] [-o OPTS] BUCKET[/PREFIX] DIR\n"
              "       aisfs mount [--endpoint URL] [-f] [-o OPTS] --all DIR",
        description="Mount a bucket (or a prefix of one, or every bucket) as a directory.",
        epilog="Documentation: docs/mount.md",
    )
    p.add_argument("--endpoint", help="S3 endpoint URL (default $AIS_ENDPOINT/s3 or "
                   "http://localhost:8080/s3)")
    p.add_argument("--all", action="store_true", help="show every bucket as a directory")
    p.add_argument("-f", "--foreground", action="store_true", help="stay in the foreground")
    p.add_argument("-o", dest="options", action="append", default=[],
                   metavar="OPTS", help="ro,allow_other,uid=,gid=,umask=,attr_timeout=,"
                   "cache_dir=,cache_limit=,read_ahead=,timeout=,endpoint=,backend=,log=,debug")
    p.add_argument("-d", "--debug", action="store_true", help="log every request (implies -f)")
    p.add_argument("args", nargs="+", metavar="ARG", help="BUCKET[/PREFIX] DIR, or DIR with --all")
    return p


def parse(argv: list[str]) -> MountOptions:
    p = _parser()
    ns = p.parse_args(argv)
    opts = MountOptions()
    opts.endpoint = default_endpoint()
    for o in ns.options:
        opts.apply(o)
    if ns.endpoint:
        opts.endpoint = ns.endpoint
    opts.foreground = ns.foreground or ns.debug
    opts.debug = opts.debug or ns.debug
    opts.all_buckets = ns.all
    if ns.all:
        if len(ns.args) != 1:
            raise OptionError("with --all give only the mount directory")
        mp = ns.args[0]
    else:
        if len(ns.args) != 2:
            raise OptionError("give BUCKET[/PREFIX] and the mount directory")
        opts.set_source(ns.args[0])
        mp = ns.args[1]
    opts.mountpoint = Path(mp).absolute()
    return opts


def _setup_logging(opts: MountOptions, to_stderr: bool) -> None:
    root = logging.getLogger()
    root.handlers.clear()
    level = logging.DEBUG if opts.debug else logging.INFO
    fmt = logging.Formatter("%(asctime)s aisfs-mount[%(process)d] %(levelname)s %(name)s: "
                            "%(message)s")
    handler: logging.Handler
    if opts.log_file:
        handler = logging.FileHandler(opts.log_file)
    elif to_stderr:
        handler = logging.StreamHandler(sys.stderr)
    elif os.path.exists("/dev/log"):
        handler = logging.handlers.SysLogHandler("/dev/log")
        fmt = logging.Formatter("aisfs-mount[%(process)d]: %(levelname)s %(message)s")
    else:
        handler = logging.FileHandler(background_log_file(opts))
    handler.setFormatter(fmt)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "pyfuse3", "botocore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if opts.debug else logging.WARNING)


def background_log_file(opts: MountOptions) -> Path:
    """Where a background mount logs without syslog: one file per mount point, e.g.
    ~/.local/state/aisfs/mount-mnt-demo.log for /mnt/demo."""
    name = str(opts.mountpoint).strip("/").replace("/", "-") or "root"
    return default_state_dir() / f"mount-{name}.log"


def _log_target(opts: MountOptions) -> str | None:
    """The file a background mount will log to when it is not syslog (made here, so a
    directory that cannot be made is an error before the fork); None for syslog."""
    if opts.log_file:
        return opts.log_file
    if os.path.exists("/dev/log"):
        return None
    path = background_log_file(opts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as e:
        raise PreflightError(f"cannot write the log file {path}: {e.strerror} "
                             "(give another with -o log=FILE)") from e
    return str(path)


def mounted_at(path: str) -> bool:
    """Whether `path` (absolute, symlinks resolved) is a mount point of this namespace."""
    return _is_mounted(path)


def preflight(opts: MountOptions) -> None:
    """The mount point's mistakes, named before mounting, one line each (PreflightError)."""
    mp = str(opts.mountpoint)
    # mountinfo first: a dead FUSE mount fails stat() with ENOTCONN, and is still a mount
    real = mp
    if not mounted_at(mp):
        try:
            os.lstat(mp)
        except FileNotFoundError:
            raise PreflightError(f"mount point {mp} does not exist (mkdir -p {mp})") from None
        except OSError as e:
            raise PreflightError(f"mount point {mp}: {e.strerror}") from e
        try:
            real = os.path.realpath(mp, strict=True)
        except OSError as e:
            raise PreflightError(f"mount point {mp}: {e.strerror}") from e
    if mounted_at(real):
        raise PreflightError(f"{mp} is already a mount point (aisfs umount {mp} first, "
                             "or mount on another directory)")
    if not os.path.isdir(real):
        raise PreflightError(f"mount point {mp} is not a directory")


def _check_fuse_device() -> None:
    if not os.path.exists("/dev/fuse"):
        raise PreflightError("no /dev/fuse: load the fuse module (modprobe fuse); in a "
                             "container, start it with --device /dev/fuse")
    if os.geteuid() == 0:
        return
    if not (shutil.which("fusermount3") or shutil.which("fusermount")):
        raise PreflightError("fusermount3 is not installed: apt install fuse3 (it lets "
                             "users mount), or mount as root")
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        import pwd

        user = pwd.getpwuid(os.geteuid()).pw_name
        raise PreflightError(f"/dev/fuse is not accessible to {user}: mount as root (sudo "
                             "aisfs mount ...), or let users open it (chmod 0666 /dev/fuse, "
                             "as the fuse3 package sets it)")


def _import_run() -> RunFn:
    try:
        from aisfs_mount.main import run
    except ModuleNotFoundError as e:
        if e.name == "pyfuse3":
            raise PreflightError(INSTALL_HINT) from None
        raise
    return run


def main(argv: list[str]) -> int:
    try:
        opts = parse(argv)
    except OptionError as e:
        print(f"aisfs mount: {e}", file=sys.stderr)
        return 2
    try:
        preflight(opts)
        run = _import_run()  # pyfuse3 is imported only once the arguments are good
        _check_fuse_device()
        log_target = None if opts.foreground else _log_target(opts)
    except PreflightError as e:
        print(f"aisfs mount: {e}", file=sys.stderr)
        return 1

    if opts.foreground:
        _setup_logging(opts, to_stderr=True)

        def ready_fg(error: str | None) -> None:
            if error:
                print(f"aisfs mount: {error}", file=sys.stderr)

        return run(opts, ready_fg)
    code = _daemonize(opts, run)
    if log_target is not None and log_target != opts.log_file:
        print(f"aisfs mount: no /dev/log: the mount logs to {log_target}", file=sys.stderr)
    return code


def _daemonize(opts: MountOptions, run: RunFn) -> int:
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid > 0:
        os.close(w)
        return _wait_ready(r, pid)
    # the child: a session of its own, then mount and report through the pipe
    os.close(r)
    os.setsid()
    os.chdir("/")
    _setup_logging(opts, to_stderr=False)
    reported = False

    def ready(error: str | None) -> None:
        nonlocal reported
        if reported:
            return
        reported = True
        os.write(w, (error or "OK").encode()[:4000])
        os.close(w)
        if error is None:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.close(devnull)

    code = 1
    try:
        code = run(opts, ready)
    except BaseException as e:  # noqa: BLE001 - the parent must hear of any failure
        logging.getLogger("mount").exception("mount failed")
        ready(f"{type(e).__name__}: {e}")
    finally:
        ready("the mount process exited before the mount was ready")
        os._exit(code)


def _wait_ready(r: int, pid: int) -> int:
    chunks: list[bytes] = []
    while True:
        readable, _, _ = select.select([r], [], [], READY_TIMEOUT)
        if not readable:
            print(f"aisfs mount: no answer from the mount process ({pid}) in "
                  f"{READY_TIMEOUT:.0f}s", file=sys.stderr)
            return 1
        data = os.read(r, 4096)
        if not data:
            break
        chunks.append(data)
    os.close(r)
    msg = b"".join(chunks).decode(errors="replace")
    if msg == "OK":
        return 0
    print(f"aisfs mount: {msg or 'the mount process died'}", file=sys.stderr)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    return 1


# -- umount ------------------------------------------------------------------------------


def _is_mounted(path: str) -> bool:
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and _unescape(fields[4]) == path:
                    return True
    except OSError:
        pass
    return False


def _unescape(s: str) -> str:
    return s.encode().decode("unicode_escape") if "\\" in s else s


def umount_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="aisfs umount", description="Unmount an aisfs mount.")
    p.add_argument("-z", "--lazy", action="store_true", help="detach now even if busy")
    p.add_argument("dir")
    ns = p.parse_args(argv)
    path = os.path.abspath(ns.dir)
    if not _is_mounted(path):
        print(f"aisfs umount: {path} is not mounted", file=sys.stderr)
        return 1
    fusermount = shutil.which("fusermount3") or shutil.which("fusermount")
    attempts: list[list[str]] = []
    if fusermount:
        if not ns.lazy:
            attempts.append([fusermount, "-u", path])
        attempts.append([fusermount, "-u", "-z", path])
    if os.geteuid() == 0 and shutil.which("umount"):
        attempts.append(["umount", "-l", path])
    last = ""
    for cmd in attempts:
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            last = str(e)
            continue
        if res.returncode == 0 and not _is_mounted(path):
            return 0
        last = (res.stderr or res.stdout).strip()
    print(f"aisfs umount: {path}: {last or 'could not unmount'}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    prog = os.path.basename(sys.argv[0])
    if len(sys.argv) > 1 and sys.argv[1] == "umount":
        sys.exit(umount_main(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
