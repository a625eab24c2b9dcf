"""Run the node: open the store, bind the HTTP server, serve until a signal.

The HTTP/1.1 server is node.h1server (``net.http_server = "aisfs"``, the default) or
Hypercorn's trio worker (``"hypercorn"``); both call the same ASGI app.

Readiness is announced once the store is open and every listener is bound: a line on
stderr, the optional ``--ready-file`` (JSON with the bound URLs, for tests and scripts),
and READY=1 to systemd when NOTIFY_SOCKET is set (with STATUS= lines while starting,
WATCHDOG=1 pings from the event loop, RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM; see
``aisfs_node.daemon`` and docs/daemon.md).

SIGTERM/SIGINT stop gracefully: the listeners close, requests in flight get
``net.graceful_timeout`` seconds to finish, the store is closed, and the exit status is 0.
SIGHUP reloads auth, feature flags and the log level from the config file in place.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve, tcp_server

from aisfs.config import ConfigError, NodeConfig, parse_listen
from aisfs.errors import only
from aisfs.store import acls as stored_acls
from aisfs.store.store import StoreConfig, open_store
from aisfs_node.app import NodeApp
from aisfs_node.daemon import Daemon, Notifier, reload_config
from aisfs_node.forward import StripClient, TrustedClient
from aisfs_node.h1server import H1Server, server_ssl_context
from aisfs_node.workers import (
    Pool,
    bound,
    remove_socket_dir,
    reuse_port_listeners,
    socket_dir,
    unix_listener,
)

log = logging.getLogger("aisfs.node")

# Hypercorn reads at most 64 KiB per socket read; a big PUT then costs one h11 event, one
# ASGI message and one store step per 64 KiB on the event loop (~1 ms/MiB). 1 MiB reads
# cut that per-piece overhead on bulk bodies (a read returns what is there, so small
# requests are unaffected).
tcp_server.MAX_RECV = 1 << 20


def store_config(cfg: NodeConfig) -> StoreConfig:
    return StoreConfig.from_settings(cfg.store)


def hypercorn_config(cfg: NodeConfig) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [_bind(a) for a in cfg.net.listen]
    if cfg.net.https_listen:
        hc.insecure_bind = hc.bind
        hc.bind = [_bind(a) for a in cfg.net.https_listen]
        hc.certfile = cfg.net.certfile
        hc.keyfile = cfg.net.keyfile
    hc.keep_alive_timeout = cfg.net.keep_alive_timeout
    # never Hypercorn's own: it also fires on an idle keep-alive connection and then
    # leaves the socket open, unread, until keep_alive_timeout (a client's next request
    # on it hung 60 s). H11Guard bounds each wait for body bytes instead.
    hc.read_timeout = None
    hc.graceful_timeout = cfg.net.graceful_timeout
    hc.h11_max_incomplete_size = 64 * 1024
    # Hypercorn closes a keep-alive connection after 1,000 requests by default: the mount
    # and SDK pools would reconnect every 1,000 small requests for nothing
    hc.keep_alive_max_requests = 1_000_000
    hc.wsgi_max_body_size = 0
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.include_server_header = False
    return hc


def _bind(addr: str) -> str:
    host, port = parse_listen(addr)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def h1_binds(cfg: NodeConfig) -> list[tuple[str, int, bool]]:
    """(host, port, tls) of every listener, HTTPS first (as Hypercorn orders them)."""
    binds = [(*parse_listen(a), True) for a in cfg.net.https_listen]
    return binds + [(*parse_listen(a), False) for a in cfg.net.listen]


def h1_server(cfg: NodeConfig, app: Any) -> H1Server:
    tls = None
    if cfg.net.https_listen:
        tls = server_ssl_context(cfg.net.certfile, cfg.net.keyfile or None)
    return H1Server(app, keep_alive_timeout=cfg.net.keep_alive_timeout,
                    graceful_timeout=cfg.net.graceful_timeout, ssl_context=tls,
                    header_timeout=cfg.net.header_timeout,
                    read_timeout=cfg.net.read_timeout)


def sd_notify(message: str) -> None:
    """Send one systemd notification when NOTIFY_SOCKET is set (no-op otherwise)."""
    Notifier().notify(message)


class InFlight:
    """ASGI wrapper that counts HTTP requests in flight (for STATUS= and the stop log)."""

    def __init__(self, app: NodeApp) -> None:
        self.app = app
        self.count = 0
        self.cut = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.count += 1
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            if only(exc, trio.Cancelled):
                self.cut += 1
            raise
        finally:
            self.count -= 1


class H11Guard:
    """ASGI wrapper for Hypercorn: a request with both Transfer-Encoding and Content-Length
    is answered 400 and the connection closed; a chunked request is served and then the
    connection closed (h11 frames some chunked bodies llhttp refuses).

    h11 frames such a request by its chunked coding and keeps the connection open, so a
    front end that went by the length passes a request hidden in the body (CL.TE
    smuggling; the wire corpus in tests/wire shows it). RFC 9112 6.3 allows processing
    it only if the connection is closed afterwards; node.h1server refuses it outright,
    and so does this guard, before the app reads a byte of the body.

    It also bounds each wait for request-body bytes by ``net.read_timeout`` (as
    node.h1server does): a client that stops mid-body reads as gone to the app (nothing
    is stored) and gets 408 with the connection closed.
    """

    def __init__(self, app: Any, read_timeout: float | None = None) -> None:
        self.app = app
        self.read_timeout = read_timeout

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.read_timeout:
            deadline = _BodyDeadline(receive, send, self.read_timeout)
            await self._guarded(scope, deadline.receive, deadline.send)
            await deadline.finish()
            return
        await self._guarded(scope, receive, send)

    async def _guarded(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            names = {k.lower() for k, _ in scope["headers"]}
            if b"transfer-encoding" in names and b"content-length" in names:
                # read what h11 frames as the body first (up to 1 MiB): answering with it
                # unread races Hypercorn's own close (BusyResourceError in its log)
                seen = 0
                while seen < 1 << 20:
                    message = await receive()
                    if message["type"] != "http.request":
                        break
                    seen += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        break
                body = b"both Transfer-Encoding and Content-Length\n"
                await send({"type": "http.response.start", "status": 400, "headers": [
                    (b"content-type", b"text/plain"), (b"connection", b"close"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            if b"transfer-encoding" in names:
                # h11 reads a chunked body more leniently than llhttp (a trailer line
                # ending in a bare LF passes): whatever h11 took for the end of the body,
                # nothing after it on this connection is served - the answer closes it
                await self.app(scope, receive, _closing(send))
                return
        await self.app(scope, receive, send)


class _BodyDeadline:
    """An ASGI receive/send pair whose body reads time out after ``timeout`` seconds.

    Only while the body is incomplete: after its last piece, a ``receive()`` (an app
    watching for a disconnect while it streams a response) waits as long as it likes.
    """

    def __init__(self, receive: Any, send: Any, timeout: float) -> None:
        self._receive = receive
        self._send = send
        self.timeout = timeout
        self.body_done = False
        self.timed_out = False
        self.started = False

    async def receive(self) -> dict[str, Any]:
        if self.timed_out:
            return {"type": "http.disconnect"}
        if self.body_done:
            message: dict[str, Any] = await self._receive()
            return message
        with trio.move_on_after(self.timeout):
            message = await self._receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                self.body_done = True
            return message
        self.timed_out = True
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if self.timed_out:
                await _closing(self._send)(message)
                return
        await self._send(message)

    async def finish(self) -> None:
        """After the app: a timed-out request it did not answer gets 408 and a close."""
        if self.timed_out and not self.started:
            body = b"request body timed out\n"
            await self._send({"type": "http.response.start", "status": 408, "headers": [
                (b"content-type", b"text/plain"), (b"connection", b"close"),
                (b"content-length", str(len(body)).encode())]})
            await self._send({"type": "http.response.body", "body": body})


def _closing(send: Any) -> Any:
    """An ASGI send that adds ``connection: close`` to the response head."""

    async def closing_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", [])
                       if bytes(k).lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)

    return closing_send


def prepare_first_start(cfg: NodeConfig) -> None:
    """On the very first start (no index yet) create the mountpath directories.

    Later a missing mountpath is never recreated: it may be a disk that failed to mount,
    and the store serves from the others (and from mirror copies) instead.
    """
    if Path(cfg.store.index_dir).exists():
        return
    for mp in cfg.store.mountpaths:
        Path(mp).mkdir(parents=True, exist_ok=True)


async def run_node(
    cfg: NodeConfig,
    ready_file: Path | None = None,
    reload: Callable[[], NodeConfig] | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT (graceful stop, exit 0); SIGHUP reloads via ``reload``.

    Signals are caught from the very start, so a SIGHUP while the store opens does not
    kill the process and a SIGTERM then stops it as soon as it is up. A second
    SIGTERM/SIGINT during the grace period stops at once.
    """
    daemon = Daemon()
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async with trio.open_nursery() as top:
            top.start_soon(daemon.run_watchdog)
            try:
                await _serve(cfg, ready_file, reload, daemon, signals)
            finally:
                top.cancel_scope.cancel()
    daemon.notifier.close()
    log.info("aisfs node stopped")
    return 0


# long: the node's life in order - store, app, bind, ready, the signal loop, the stop; the
# nested nurseries and ``stop`` tie the steps together
async def _serve(
    cfg: NodeConfig,
    ready_file: Path | None,
    reload: Callable[[], NodeConfig] | None,
    daemon: Daemon,
    signals: AsyncIterator[int],
) -> None:
    stop = trio.Event()
    prepare_first_start(cfg)
    daemon.status(
        f"opening the store ({len(cfg.store.mountpaths)} mountpaths, "
        f"index {cfg.store.index_dir})"
    )
    async with open_store(store_config(cfg)) as store, trio.open_nursery() as background:
        app = NodeApp(cfg, store)
        await app.startup(background)
        hc = hypercorn_config(cfg)
        counted = InFlight(app)
        feed = store.publisher.changes  # (its parked long polls contend with nothing)
        store.uncontended = lambda: counted.count - feed.waiting <= 1
        daemon.status("binding " + ", ".join(cfg.net.https_listen + cfg.net.listen))

        async def shutdown_trigger() -> None:
            await stop.wait()
            store.publisher.changes.close()  # the change feed's long polls answer now

        pool: Pool | None = None
        sock_dir = ""
        async with trio.open_nursery() as servers:

            async def serve_then_stop(task_status: trio.TaskStatus[list[str]]) -> None:
                if cfg.net.http_server == "hypercorn":
                    await serve(H11Guard(counted, cfg.net.read_timeout), hc,
                                shutdown_trigger=shutdown_trigger, task_status=task_status)
                elif pool is not None:
                    await h1_server(cfg, StripClient(counted)).serve(
                        [], shutdown_trigger, task_status=task_status, opened=tcp)
                    await pool.stopped.wait()  # the workers' forwarded requests are done
                else:
                    await h1_server(cfg, counted).serve(
                        h1_binds(cfg), shutdown_trigger, task_status=task_status)
                servers.cancel_scope.cancel()  # served out: end the signal handler too

            try:
                if cfg.net.workers > 1:  # aisfs_node/workers.py
                    # the tables made on first use, made now: a worker never writes
                    await trio.to_thread.run_sync(stored_acls.of, store.index)
                    tcp = await reuse_port_listeners(h1_binds(cfg))
                    sock_dir = socket_dir()
                    path = os.path.join(sock_dir, "primary.sock")
                    unix = await unix_listener(path)
                    pool = Pool(cfg.net.workers, lambda: app.cfg, bound(tcp), path,
                                cfg.net.graceful_timeout)
                    servers.start_soon(functools.partial(
                        h1_server(cfg, TrustedClient(counted)).serve, [],
                        pool.stopped.wait, opened=[(unix, False)]))
                binds = await servers.start(serve_then_stop)
                if pool is not None:
                    daemon.status(f"starting {cfg.net.workers - 1} read worker(s)")
                    await servers.start(pool.run)
            except BaseException:
                if sock_dir:
                    remove_socket_dir(sock_dir)
                raise
            # every listener is bound and listening: connections are queued from here on
            app.ready = True
            log.info("aisfs node ready: %s (S3 at %s)", ", ".join(binds), cfg.net.s3_path)
            if ready_file is not None:
                tmp = ready_file.with_suffix(".tmp")
                tmp.write_text(json.dumps({"urls": list(binds), "pid": os.getpid()}))
                os.replace(tmp, ready_file)
            serving = "serving on " + ", ".join(binds)
            daemon.ready(serving)

            async for signum in signals:
                name = signal.Signals(signum).name
                if signum == signal.SIGHUP:
                    if stop.is_set():
                        continue
                    await _reload(app, reload, daemon, serving)
                    if pool is not None:
                        pool.restart()  # the workers start again with the new config
                    continue
                if stop.is_set():
                    log.warning("received %s again: stopping now, cutting %d request(s)",
                                name, counted.count)
                    servers.cancel_scope.cancel()
                    break
                log.info("received %s: stopping (%d request(s) in flight, grace %.0fs)",
                         name, counted.count, cfg.net.graceful_timeout)
                daemon.stopping(f"stopping: {counted.count} request(s) in flight")
                app.ready = False
                if pool is not None:
                    servers.start_soon(pool.stop)
                # Hypercorn closes the listeners, closes idle keep-alive connections and
                # lets requests in flight finish until net.graceful_timeout, then cancels
                # them (a cancelled PUT publishes nothing).
                stop.set()
        if sock_dir:
            remove_socket_dir(sock_dir)
        if counted.cut:
            log.warning("%d request(s) were cut at the grace deadline", counted.cut)
        daemon.status("stopping: closing the store")
        background.cancel_scope.cancel()


async def _reload(
    app: NodeApp, reload: Callable[[], NodeConfig] | None, daemon: Daemon, serving: str
) -> None:
    if reload is None:
        log.info("received SIGHUP: no config source to reload")
        return
    log.info("received SIGHUP: reloading the config")
    daemon.reloading()
    try:
        changed = await reload_config(app, reload)
    except (ConfigError, OSError) as e:
        log.error("reload refused, keeping the running config: %s", e)
        daemon.ready(f"{serving}; last reload failed: {e}")
        return
    log.info("config reloaded: %s", "; ".join(changed) if changed else "no live changes")
    daemon.ready(serving)
