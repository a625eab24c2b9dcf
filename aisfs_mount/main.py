"""Run one mount: check the endpoint, mount, serve requests on trio, unmount.

`run` is what `aisfs mount` calls (in the daemon child when backgrounded). It reports
readiness through `ready(error)`: called once with None when the mount is live, or with
an error message when it could not be made - so the parent can exit 0 or print it and
exit 1. Under systemd (Type=notify) it also sends READY=1.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pyfuse3
import trio

from aisfs.errors import S3Error
from aisfs.systemd import sd_notify
from aisfs_mount import fuseloop
from aisfs_mount.backend import Backend, Unreachable
from aisfs_mount.fs import Fs
from aisfs_mount.options import MountOptions
from aisfs_mount.remote.node import NodeBackend, probe_node
from aisfs_mount.remote.s3 import S3Backend
from aisfs_mount.remote.transport import Timeouts
from aisfs_mount.writecache import WriteCache

log = logging.getLogger("mount")

ReadyFn = Callable[[str | None], None]


class MountError(Exception):
    """The mount could not be made; the message is for the user."""


async def open_backend(opts: MountOptions) -> Backend:
    """Our node's backend when the endpoint is a node (or -o backend=node), else plain S3."""
    t = Timeouts(connect=opts.connect_timeout, request=opts.timeout,
                 retry_window=opts.retry_window)
    region = opts.region or None
    if opts.backend in ("auto", "node"):
        base = await probe_node(opts.endpoint, t, region)
        if base is not None:
            return NodeBackend(opts.endpoint, base, opts.local_read, region=region,
                               timeouts=t)
        if opts.backend == "node":
            raise MountError(f"{opts.endpoint} is not an aisfs node's S3 endpoint (<node>/s3)")
    return S3Backend(opts.endpoint, region=region, timeouts=t)


async def check_endpoint(opts: MountOptions) -> None:
    backend = await open_backend(opts)
    try:
        with trio.fail_after(opts.timeout + opts.retry_window + 1):
            if opts.all_buckets:
                await backend.list_buckets()
            else:
                await backend.check_bucket(opts.bucket)
    except S3Error as e:
        raise MountError(f"{opts.endpoint}: bucket {opts.bucket!r}: {e.code}: {e.message}") from e
    except (Unreachable, trio.TooSlowError) as e:
        raise MountError(f"cannot reach {opts.endpoint}: {e}") from e
    finally:
        await backend.aclose()


def run(opts: MountOptions, ready: ReadyFn) -> int:
    """Mount, serve until unmounted or signalled, clean up. Returns the exit code."""
    try:
        mp = opts.mountpoint
        if not os.path.lexists(mp):
            raise MountError(f"mount point {mp} does not exist (mkdir -p {mp})")
        if not mp.is_dir():
            raise MountError(f"mount point {mp} is not a directory")
        trio.run(check_endpoint, opts)
        try:
            cache = WriteCache(opts.cache_dir, opts.cache_limit)
        except OSError as e:
            raise MountError(f"cache directory {str(opts.cache_dir)!r}: {e.strerror}") from e
        fs = Fs(opts, cache)
        where = os.path.realpath(mp)  # before the mount: after it, a stat would wait on us
        try:
            pyfuse3.init(fs, str(mp), opts.fuse_options())
        except RuntimeError as e:
            cache.close()
            raise MountError(f"cannot mount on {str(mp)!r}: {e}") from e
        if opts.read_ahead:
            # after INIT: the kernel sets the read-ahead from its answer
            fs.after_init = lambda: set_read_ahead(where, opts.read_ahead)
    except MountError as e:
        ready(str(e))
        return 1
    clean = False
    try:
        trio.run(_serve, fs, opts, ready)
        clean = True
    finally:
        pyfuse3.close(unmount=True)
        cache.close()
        log.info("unmounted %s%s", mp, "" if clean else " after an error")
    return 0


def set_read_ahead(where: str, nbytes: int) -> None:
    """Raise the kernel's read-ahead of this mount (root only; else a debug line).

    A FUSE mount starts at 128 KiB, so a sequential reader gets 128 KiB reads; with a
    larger window the kernel sends reads up to max_pages (1 MiB with libfuse 3): 8 times
    fewer round trips through the mount. Found through /proc/self/mountinfo, not stat():
    the file system does not answer until it is served (`where` is resolved already).
    """
    try:
        with open("/proc/self/mountinfo") as f:
            devs = [line.split()[2] for line in f if line.split()[4] == where]
        if not devs:
            return
        Path(f"/sys/class/bdi/{devs[-1]}/read_ahead_kb").write_text(f"{nbytes >> 10}\n")
        log.debug("read_ahead_kb of %s set to %d", devs[-1], nbytes >> 10)
    except OSError as e:
        log.debug("read-ahead left as the kernel has it: %s", e)


EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


async def _serve(fs: Fs, opts: MountOptions, ready: ReadyFn) -> None:
    backend = await open_backend(opts)
    log.info("backend: %s", type(backend).__name__)
    # the exit signals are ours until the process ends: the first unmounts, and one that
    # comes after the unmount (`fusermount -u` and then a kill) waits for what is still on
    # its way (uploads, markers, DELETEs) rather than ending the process
    try:
        with trio.open_signal_receiver(*EXIT_SIGNALS) as sigs:
            async with trio.open_nursery() as nursery:
                fs.start(backend, nursery)
                nursery.start_soon(_signals, sigs)
                ready(None)
                sd_notify("READY=1")
                log.info("mounted %s at %s", opts.endpoint, opts.mountpoint)
                waits = fuseloop.install()
                await pyfuse3.main()
                log.info("FUSE device waits: %d without trio's scheduler, %d with it",
                         waits.fast, waits.slow)
                nursery.cancel_scope.cancel()
            with trio.CancelScope(shield=True):
                await fs.flush_all()
    finally:
        with trio.CancelScope(shield=True):
            await backend.aclose()


async def _signals(sigs: AsyncIterator[int]) -> None:
    async for sig in sigs:
        log.info("signal %s: unmounting", signal.Signals(sig).name)
        sd_notify("STOPPING=1")
        pyfuse3.terminate()
        return


__all__ = ["run", "MountError", "errno"]
