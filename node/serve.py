"""Run the node: open the store, bind Hypercorn (trio worker), serve until a signal.

Readiness is announced once the store is open and every listener is bound: a line on
stderr, the optional ``--ready-file`` (JSON with the bound URLs, for tests and scripts),
and READY=1 to systemd when NOTIFY_SOCKET is set.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
from pathlib import Path

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from aisfs.config import NodeConfig, parse_listen
from aisfs.store.store import StoreConfig, open_store
from node.app import NodeApp

log = logging.getLogger("aisfs.node")


def store_config(cfg: NodeConfig) -> StoreConfig:
    s = cfg.store
    return StoreConfig(
        mountpaths=[Path(p) for p in s.mountpaths],
        index_dir=Path(s.index_dir),
        chunk_size=s.chunk_size,
        fsync=s.fsync,
        default_copies=s.default_copies,
        gc_grace_seconds=s.gc_grace_seconds,
        min_part_size=s.min_part_size,
    )


def hypercorn_config(cfg: NodeConfig) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [_bind(a) for a in cfg.net.listen]
    if cfg.net.https_listen:
        hc.insecure_bind = hc.bind
        hc.bind = [_bind(a) for a in cfg.net.https_listen]
        hc.certfile = cfg.net.certfile
        hc.keyfile = cfg.net.keyfile
    hc.keep_alive_timeout = cfg.net.keep_alive_timeout
    hc.read_timeout = cfg.net.read_timeout  # None: a slow multi-GiB upload is never cut
    hc.graceful_timeout = cfg.net.graceful_timeout
    hc.h11_max_incomplete_size = 64 * 1024
    hc.wsgi_max_body_size = 0
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.include_server_header = False
    return hc


def _bind(addr: str) -> str:
    host, port = parse_listen(addr)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def sd_notify(message: str) -> None:
    """Send one systemd notification when NOTIFY_SOCKET is set (no-op otherwise)."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(path)
            sock.sendall(message.encode())
    except OSError as e:
        log.warning("systemd notify failed: %s", e)


def prepare_first_start(cfg: NodeConfig) -> None:
    """On the very first start (no index yet) create the mountpath directories.

    Later a missing mountpath is never recreated: it may be a disk that failed to mount,
    and the store serves from the others (and from mirror copies) instead.
    """
    if Path(cfg.store.index_dir).exists():
        return
    for mp in cfg.store.mountpaths:
        Path(mp).mkdir(parents=True, exist_ok=True)


async def run_node(cfg: NodeConfig, ready_file: Path | None = None) -> int:
    stop = trio.Event()
    prepare_first_start(cfg)
    sd_notify("STATUS=opening the store")
    async with open_store(store_config(cfg)) as store, trio.open_nursery() as background:
        app = NodeApp(cfg, store)
        await app.startup(background)
        hc = hypercorn_config(cfg)

        async def shutdown_trigger() -> None:
            await stop.wait()

        async with trio.open_nursery() as servers:
            binds = await servers.start(
                lambda task_status: serve(
                    app, hc, shutdown_trigger=shutdown_trigger, task_status=task_status
                )
            )
            app.ready = True
            log.info("aisfs node ready: %s (S3 at %s)", ", ".join(binds), cfg.net.s3_path)
            if ready_file is not None:
                tmp = ready_file.with_suffix(".tmp")
                tmp.write_text(json.dumps({"urls": list(binds), "pid": os.getpid()}))
                os.replace(tmp, ready_file)
            sd_notify("READY=1\nSTATUS=serving")

            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    log.info("received %s: stopping", signal.Signals(signum).name)
                    sd_notify("STOPPING=1")
                    break
            app.ready = False
            stop.set()
            # Hypercorn stops accepting and lets in-flight requests finish (graceful_timeout)
        background.cancel_scope.cancel()
    log.info("aisfs node stopped")
    return 0
