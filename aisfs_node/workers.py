"""``[net] workers = N``: N processes serve the node's listeners; one of them writes.

Process 0 is the node as it is with one worker (the primary): every write, every
background job, LRU, lifecycle, remote fills, metrics. With N > 1 it binds its listeners
with SO_REUSEPORT, listens on a Unix socket too (0600 in a 0700 directory), and starts
N-1 read workers (``main`` in a new interpreter, children that die with it). A read
worker binds the same addresses (the kernel spreads new connections over the processes),
opens the store read only (``Store.open_read_only_sync``: no lock, reconcile, journal or
background work; its SQLite connections are query_only) and serves itself only what is
a pure read of local data: S3 GetObject, HeadObject, HeadBucket, ListObjects(V2) of an
``ais://`` bucket without a backend. Everything else goes to the primary over the Unix
socket (aisfs_node/forward.py), the client's address with it.

What a worker caches that the primary can change is checked per request: SQLite's
``PRAGMA data_version`` (a counter every commit of another connection bumps) clears the
bucket cache when the index changed, and the run-time users file is stat'ed (a changed
one is read again). Its other memories (chunk verifications keyed by the file's
device/inode/size/mtime/ctime, the inline cache keyed by generation and xxh3) are safe
across processes as they are (docs/workers.md).

A worker that exits is started again (after 1 s, longer if it keeps failing); SIGHUP
restarts the workers with the reloaded config; SIGTERM stops them before the primary's
Unix socket closes. docs/workers.md has the measurements.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from aisfs import __version__
from aisfs.backend.provider import backend_bck
from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from aisfs.s3.request import route
from aisfs.store.store import StoreConfig, open_store
from aisfs_node.features import FeatureFlags
from aisfs_node.forward import Forwarder
from aisfs_node.h1server import H1Server, server_ssl_context
from aisfs_node.http import Request
from aisfs_node.metrics import Metrics
from aisfs_node.native.wire import node_id_of
from aisfs_node.s3.api import S3Api
from aisfs_node.s3_auth import AUTH_DIR

log = logging.getLogger("aisfs.workers")

LOCAL_OPERATIONS = frozenset(
    ("GetObject", "HeadObject", "HeadBucket", "ListObjects", "ListObjectsV2"))
READY = b"ready\n"
# (not -m: a Spec unpickled in ``__main__`` would be another class than this module's)
WORKER_MAIN = "import sys; from aisfs_node.workers import main; sys.exit(main())"
START_TIMEOUT = 120.0
RESTART_DELAY = 1.0
RESTART_DELAY_MAX = 30.0
PR_SET_PDEATHSIG = 1
# aisfs/store/reader.py's answer when a chunk went with an overwrite or delete mid-read
CHANGED = b"The object changed while it was being read"
Bind = tuple[int, str, int, bool]  # family, host, port, tls


# == listeners ===========================================================================


async def reuse_port_listeners(
    binds: list[tuple[str, int, bool]],
) -> list[tuple[trio.SocketListener, bool]]:
    """TCP listeners on (host, port, tls) with SO_REUSEPORT, as trio.open_tcp_listeners
    binds them otherwise (every address the host resolves to)."""
    out: list[tuple[trio.SocketListener, bool]] = []
    for host, port, tls in binds:
        infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                              flags=socket.AI_PASSIVE)
        for family, kind, proto, _, addr in infos:
            sock = trio.socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                await sock.bind(addr)
                sock.listen(socket.SOMAXCONN)
            except BaseException:
                sock.close()
                raise
            out.append((trio.SocketListener(sock), tls))
    return out


def bound(listeners: list[tuple[trio.SocketListener, bool]]) -> list[Bind]:
    """What the workers bind: the primary's actual addresses (a port 0 resolved)."""
    out: list[Bind] = []
    for listener, tls in listeners:
        sock = listener.socket
        host, port = sock.getsockname()[:2]
        out.append((int(sock.family), str(host), int(port), tls))
    return out


async def unix_listener(path: str) -> trio.SocketListener:
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(socket.SOMAXCONN)
    except BaseException:
        sock.close()
        raise
    return trio.SocketListener(sock)


def socket_dir() -> str:
    """A private (0700) directory for the primary's Unix socket: systemd's
    RuntimeDirectory when given, else a new one under the temp directory."""
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if runtime and os.path.isdir(runtime):
        return tempfile.mkdtemp(prefix="aisfs-", dir=runtime)
    return tempfile.mkdtemp(prefix="aisfs-node-")


def remove_socket_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


# == the primary's side: start, watch, restart, stop ======================================


@dataclass
class Spec:
    """What a worker is started with (pickled on its stdin)."""

    cfg: NodeConfig
    binds: list[Bind]
    socket: str
    number: int


class Pool:
    """The primary's read workers: started, restarted when they exit, stopped."""

    def __init__(self, count: int, config: Callable[[], NodeConfig], binds: list[Bind],
                 path: str, graceful_timeout: float) -> None:
        self.count = count
        self.config = config
        self.binds = binds
        self.path = path
        self.graceful_timeout = graceful_timeout
        self.procs: dict[int, trio.Process] = {}
        self.stopping = False
        self.stopped = trio.Event()
        self._stop = trio.Event()
        self.restarts = 0

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start every worker (started() once all listen), keep them running until
        ``stop``."""
        try:
            async with trio.open_nursery() as nursery:
                starting = [trio.Event() for _ in range(1, self.count)]
                for number, started in enumerate(starting, 1):  # started side by side
                    nursery.start_soon(self._slot, number, started)
                for started in starting:
                    await started.wait()
                task_status.started()
        finally:
            with trio.CancelScope(shield=True):
                for proc in self.procs.values():
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()
            self.stopped.set()

    async def _slot(self, number: int, ready: trio.Event) -> None:
        """Worker ``number``, started (``ready`` set once it listens), started again
        each time it exits until the pool stops; a first start that fails raises."""
        delay = RESTART_DELAY
        while not self.stopping:
            started = time.monotonic()
            try:
                proc = await self._start(number)
            except Exception as e:
                if not ready.is_set():
                    raise  # the node's start fails with it
                if self.stopping:
                    return
                log.error("worker %d did not start again: %s; next try in %.0f s",
                          number, e, delay)
                await self._pause(delay)
                delay = min(delay * 2, RESTART_DELAY_MAX)
                continue
            ready.set()
            code = await proc.wait()
            self.procs.pop(number, None)
            if self.stopping:
                return
            if code in (-signal.SIGTERM, 0):  # a restart we asked for (SIGHUP)
                delay = RESTART_DELAY
                continue
            self.restarts += 1
            if time.monotonic() - started > 60:  # it ran a while: not a crash loop
                delay = RESTART_DELAY
            log.warning("worker %d (pid %d) exited with %s: starting it again in %.0f s",
                        number, proc.pid, code, delay)
            await self._pause(delay)
            delay = min(delay * 2, RESTART_DELAY_MAX)

    async def _pause(self, seconds: float) -> None:
        """Wait before a restart; a stop ends the wait."""
        with trio.move_on_after(seconds):
            await self._stop.wait()

    async def _start(self, number: int) -> trio.Process:
        spec = pickle.dumps(Spec(self.config(), self.binds, self.path, number))
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-c", WORKER_MAIN],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.procs[number] = proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            await proc.stdin.send_all(struct.pack(">Q", len(spec)) + spec)
            got = b""
            with trio.move_on_after(START_TIMEOUT):
                while not got.endswith(READY):
                    data = await proc.stdout.receive_some(64)
                    if not data:
                        break
                    got += data
            if not got.endswith(READY):
                raise RuntimeError(f"worker {number} did not start (exit status "
                                   f"{proc.poll()}; its log is above)")
        except BaseException:
            if proc.returncode is None:
                proc.kill()
            with trio.CancelScope(shield=True):
                await proc.wait()
            self.procs.pop(number, None)
            raise
        log.info("worker %d listening (pid %d)", number, proc.pid)
        # stdin stays open: the worker stops when it reads its end (the primary is gone)
        return proc

    def restart(self) -> None:
        """SIGHUP: every worker stops gracefully and starts with the reloaded config."""
        for proc in list(self.procs.values()):
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)

    async def stop(self) -> None:
        """Stop every worker gracefully (their requests in flight finish, up to
        ``graceful_timeout``), then kill what is left."""
        self.stopping = True
        self._stop.set()
        for proc in list(self.procs.values()):
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        with trio.move_on_after(self.graceful_timeout + 5):
            for proc in list(self.procs.values()):
                await proc.wait()
        for proc in list(self.procs.values()):
            if proc.returncode is None:
                log.warning("worker pid %d did not stop in time: killed", proc.pid)
                proc.kill()


# == the worker's side ===================================================================


class WorkerApp:
    """A read worker's ASGI app: local reads served here, the rest forwarded."""

    def __init__(self, cfg: NodeConfig, store: Any, forward: Forwarder) -> None:
        self.cfg = cfg
        self.store = store
        self.forward = forward
        self.s3 = S3Api(cfg, store, FeatureFlags(cfg), Metrics(node_id_of(cfg), __version__))
        self.base = cfg.net.s3_path
        self.vhost = bool(self.s3.vhost_domain)
        self.data_version = -1
        state = cfg.state_dir or cfg.store.index_dir
        self.users_file = str(Path(state) / AUTH_DIR / "users.json")
        self.users_stat: tuple[int, int, int, int] | None = None
        self._id_prefix = secrets.token_hex(3).upper()
        self._ids = itertools.count(1)
        self.local = 0
        self.forwarded = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if self._serves(request):
            request_id = f"{self._id_prefix}{next(self._ids):010X}"
            unless_failed = _UnlessFailed(send)
            await self.s3.handle(request, unless_failed.send, request_id, base_path=self.base)
            await unless_failed.finish()
            if not unless_failed.failed:
                self.local += 1
                return
            # a 5xx here (no good copy, the index busy) or an object changed under the
            # read (its chunks gone with an overwrite): the primary, which pins what it
            # reads and repairs, answers
        self.forwarded += 1
        await self.forward(scope, receive, send)

    def _serves(self, request: Request) -> bool:
        """True for a pure read of a local bucket (decided on the event loop: one SQLite
        pragma, a stat, and a point read of the bucket after the index changed)."""
        if request.method not in ("GET", "HEAD"):
            return False
        path = request.raw_path
        if not path.startswith(self.base + "/"):
            return False
        if self.vhost and self.s3.is_virtual_host(request.host):
            return False
        try:
            s3 = route(request.method, path, request.query, request.host, base_path=self.base,
                       virtual_host_domain=self.s3.vhost_domain,
                       headers=request.headers)  # type: ignore[arg-type]
        except S3Error:
            return False  # the primary answers with the error
        if s3.operation not in LOCAL_OPERATIONS or not s3.bucket:
            return False
        self._fresh()
        try:
            info = self.store.buckets.load(s3.bucket)
        except S3Error:
            return False  # no such ais:// bucket: maybe an s3:// one (the primary's)
        return backend_bck(info.props) is None

    def _fresh(self) -> None:
        """Forget what the primary may have changed since the last request."""
        version = self.store.index.r.execute("PRAGMA data_version").fetchone()[0]
        if version != self.data_version:
            self.data_version = version
            self.store.buckets.changed()
        users = None
        if os.access(self.users_file, os.F_OK):  # no exception when there is none (~4 us)
            try:
                st = os.stat(self.users_file)
                users = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            except OSError:
                pass
        if users != self.users_stat:
            self.users_stat = users
            self.s3.authenticator.refresh()


class _UnlessFailed:
    """An ASGI send that drops (and says so) a 5xx answer, and the 404 of an object
    whose chunks an overwrite or delete removed while this worker read it (the primary
    pins the chunks it reads: it serves one version or the other whole)."""

    __slots__ = ("_send", "failed", "_held")

    def __init__(self, send: Any) -> None:
        self._send = send
        self.failed = False
        self._held: MutableMapping[str, Any] | None = None  # a 404 head, until its body

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if self.failed:
            return
        if self._held is not None:
            head, self._held = self._held, None
            if message["type"] == "http.response.body" and CHANGED in message.get("body", b""):
                self.failed = True
                return
            await self._send(head)
        if message["type"] == "http.response.start":
            if message["status"] >= 500:
                self.failed = True
                return
            if message["status"] == 404:
                self._held = message
                return
        await self._send(message)

    async def finish(self) -> None:
        if self._held is not None and not self.failed:
            head, self._held = self._held, None
            await self._send(head)


def _set_pdeathsig() -> None:
    """Be sent SIGTERM when the primary dies (Linux); the stdin watch covers the rest."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _read_spec() -> Spec:
    def exactly(n: int) -> bytes:
        out = b""
        while len(out) < n:
            data = os.read(0, n - len(out))
            if not data:
                raise SystemExit("aisfs worker: the primary closed the pipe before the spec")
            out += data
        return out

    (size,) = struct.unpack(">Q", exactly(8))
    spec = pickle.loads(exactly(size))
    assert isinstance(spec, Spec)
    return spec


async def run_worker(spec: Spec, ready_fd: int) -> int:
    cfg = spec.cfg
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async with open_store(StoreConfig.from_settings(cfg.store), read_only=True) as store:
            app = WorkerApp(cfg, store, Forwarder(spec.socket))
            tls = None
            if cfg.net.https_listen:
                tls = server_ssl_context(cfg.net.certfile, cfg.net.keyfile or None)
            server = H1Server(app, keep_alive_timeout=cfg.net.keep_alive_timeout,
                              graceful_timeout=cfg.net.graceful_timeout, ssl_context=tls,
                              header_timeout=cfg.net.header_timeout,
                              read_timeout=cfg.net.read_timeout)
            listeners = await reuse_port_listeners([(h, p, t) for _, h, p, t in spec.binds])
            stop = trio.Event()
            async with trio.open_nursery() as nursery:

                async def serve(task_status: trio.TaskStatus[list[str]]) -> None:
                    await server.serve([], stop.wait, task_status=task_status,
                                       opened=listeners)
                    nursery.cancel_scope.cancel()

                async def watch_primary() -> None:
                    while True:  # the primary holds our stdin open while it lives
                        await trio.lowlevel.wait_readable(0)
                        if not os.read(0, 4096):
                            log.warning("worker %d: the primary is gone: stopping", spec.number)
                            stop.set()
                            return

                await nursery.start(serve)
                os.write(ready_fd, READY)
                os.close(ready_fd)
                nursery.start_soon(watch_primary)
                async for signum in signals:
                    if signum == signal.SIGHUP:
                        continue  # the primary restarts its workers with the new config
                    if stop.is_set():
                        nursery.cancel_scope.cancel()
                        break
                    stop.set()
            log.info("worker %d stopped (%d requests served here, %d forwarded)",
                     spec.number, app.local, app.forwarded)
    return 0


def main() -> int:
    _set_pdeathsig()
    if os.getppid() == 1:
        return 1  # the primary died before the prctl
    spec = _read_spec()
    from aisfs_node.logs import setup_logging
    from aisfs_node.memory import limit_malloc_arenas

    setup_logging(spec.cfg.log.level, spec.cfg.log.json)
    limit_malloc_arenas()
    # stdout is the readiness pipe: written once, then stdout goes where stderr goes
    ready_fd = os.dup(1)
    os.dup2(2, 1)
    os.set_blocking(0, False)
    return int(trio.run(run_worker, spec, ready_fd) or 0)

