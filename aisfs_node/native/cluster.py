"""``/v1/daemon`` and ``/v1/cluster``: the cluster map (one node that is both proxy and
target, pointing at the URL the client used), config get/set including ``features``
(kept in ``cluster-config.json`` under the state directory), node stats; ``/metrics``
and ``/v1/health``."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import trio
import xxhash

from aisfs import __version__
from aisfs.client.props import (
    BUCKET_PROPS,
    DEFAULT_CHECKSUM,
    PropError,
    bucket_props_json,
    features_to_bitmask,
    flatten,
    normalize_patch,
    parse_feature_list,
)
from aisfs.config import FEATURE_FLAGS, NodeConfig
from aisfs.errors import S3Error
from aisfs_node.http import Response
from aisfs_node.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from aisfs_node.native.wire import MAX_CONTROL_BODY, Ctx, Node, action_msg, json_response

log = logging.getLogger("aisfs.native")

CLUSTER_CONFIG_FILE = "cluster-config.json"


# ---- cluster config persistence ---------------------------------------------------------


def _state_file(cfg: NodeConfig) -> Path:
    return Path(cfg.state_dir) / CLUSTER_CONFIG_FILE


def load_cluster_config(cfg: NodeConfig) -> None:
    """The bucket defaults saved by a set-config, into ``cfg`` (a bad file is logged)."""
    state = _state_file(cfg)
    try:
        saved = json.loads(state.read_text())
    except FileNotFoundError:
        return
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable %s: %s", state, e)
        return
    defaults = saved.get("bucket_defaults") if isinstance(saved, dict) else None
    if isinstance(defaults, dict):
        try:
            cfg.bucket_defaults.update(normalize_patch(defaults))
        except PropError as e:
            log.warning("ignoring %s: %s", state, e)


def _save_cluster_config(cfg: NodeConfig) -> None:
    state = _state_file(cfg)
    state.parent.mkdir(parents=True, exist_ok=True)
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps({"bucket_defaults": cfg.bucket_defaults}, indent=1))
    os.replace(tmp, state)


# ---- probes ------------------------------------------------------------------------------


async def metrics_response(node: Node) -> Response:
    stats: dict[str, Any] | None = None
    try:
        stats = await node.store.stats()
    except Exception as e:
        log.warning("metrics: store stats failed: %s", e)
    # prometheus_client's exposition is ~10 ms for a node's series: off the event loop
    # (render is thread-safe; the counters are copied under their lock)
    text = await trio.to_thread.run_sync(node.metrics.render, stats, node.ready())
    return Response(200, [("content-type", METRICS_CONTENT_TYPE)], text.encode())


def health(node: Node) -> Response:
    if node.ready():
        return Response(200, [("content-type", "text/plain")], b"ok\n")
    return Response(503, [("content-type", "text/plain")], b"starting\n")


# ---- the cluster map -----------------------------------------------------------------------


def snode(node: Node, ctx: Ctx, daemon_type: str) -> dict[str, Any]:
    req = ctx.http
    host = req.host or ""
    if not host:
        server = req.scope.get("server") or ("127.0.0.1", 8080)
        host = f"{server[0]}:{server[1]}"
    hostname, _, port = host.rpartition(":")
    if not hostname or not port.isdigit():
        hostname, port = host, "443" if req.scheme == "https" else "80"
    url = f"{req.scheme}://{host}"
    net = {"node_hostname": hostname.strip("[]"), "daemon_port": port, "direct_url": url}
    daemon_id = node.node_id + ("p" if daemon_type == "proxy" else "t")
    return {
        "daemon_id": daemon_id,
        "daemon_type": daemon_type,
        "public_net": net,
        "intra_control_net": net,
        "intra_data_net": net,
        "flags": 0,
        "id_digest": xxhash.xxh64_intdigest(daemon_id.encode()) & 0x7FFFFFFFFFFFFFFF,
    }


def _smap(node: Node, ctx: Ctx) -> dict[str, Any]:
    proxy = snode(node, ctx, "proxy")
    target = snode(node, ctx, "target")
    return {
        "tmap": {target["daemon_id"]: target},
        "pmap": {proxy["daemon_id"]: proxy},
        "proxy_si": proxy,
        "version": 1,
        "uuid": node.cluster_uuid,
        "creation_time": node.created,
    }


def cluster_config(node: Node) -> dict[str, Any]:
    cfg = node.cfg
    d = cfg.bucket_defaults
    names = node.features.names()
    copies = int(d.get("mirror.copies", cfg.store.default_copies) or 1)
    return {
        "checksum": {
            "type": str(d.get("checksum.type", DEFAULT_CHECKSUM)),
            "validate_warm_get": bool(d.get("checksum.validate_warm_get", True)),
            "validate_cold_get": False,
            "validate_obj_move": False,
            "enable_read_range": False,
        },
        "mirror": {"enabled": copies > 1, "copies": copies, "burst_buffer": 128},
        "versioning": {
            "enabled": bool(d.get("versioning.enabled", False)),
            "validate_warm_get": False,
            "synchronize": False,
        },
        "features": features_to_bitmask(names),
        "feature_names": names,
        "auth": {"enabled": cfg.auth.mode != "open", "mode": cfg.auth.mode},
        "net": {
            "http": {"use_https": bool(cfg.net.https_listen)},
            "s3_path": cfg.net.s3_path,
        },
        "chunks": {"chunk_size": cfg.store.chunk_size},
    }


async def _node_stats(node: Node, ctx: Ctx) -> dict[str, Any]:
    stats = await node.store.stats()
    mps = stats.get("mountpaths") or []
    total = sum(int(m.get("total", 0) or 0) for m in mps)
    used = sum(int(m.get("used", 0) or 0) for m in mps)
    return {
        "snode": snode(node, ctx, "target"),
        "status": "online" if node.ready() else "starting",
        "version": __version__,
        "build_time": "",
        "uptime": str(time.time_ns() - node.started_ns),
        "capacity": {"total": total, "used": used,
                     "pct_used": round(100 * used / total, 2) if total else 0},
        "store": stats,
        "requests": node.metrics.request_count(),
    }


async def _bmd(node: Node) -> dict[str, Any]:
    buckets = await node.store.list_buckets()
    defaults = node.cfg.bucket_defaults
    return {
        "uuid": node.cluster_uuid,
        "version": len(buckets),
        "providers": {"ais": {"#": {
            b.name: bucket_props_json(b.name, b.props, b.created_ns, defaults) for b in buckets
        }}},
    }


async def get_info(node: Node, ctx: Ctx, where: str) -> Response:
    """``GET /v1/cluster?what=...`` (``where`` "cluster") or ``/v1/daemon?what=...``."""
    await ctx.http.read_body(MAX_CONTROL_BODY)
    what = ctx.http.query_dict().get("what", "")
    if what == "smap":
        return json_response(_smap(node, ctx))
    if what == "snode":
        return json_response(snode(node, ctx, "target"))
    if what == "config":
        conf = cluster_config(node)
        if where == "daemon":
            conf["local"] = {
                "confdir": node.cfg.state_dir,
                "host_net": {"listen": list(node.cfg.net.listen)},
                "fspaths": {"paths": {p: "" for p in node.cfg.store.mountpaths}},
            }
        return json_response(conf)
    if what == "bmd":
        return json_response(await _bmd(node))
    if what in ("stats", "node_status", "status"):
        stats = await _node_stats(node, ctx)
        if where == "cluster":
            return json_response({stats["snode"]["daemon_id"]: stats})
        return json_response(stats)
    if what == "mountpaths":
        mps = (await node.store.stats()).get("mountpaths") or []
        return json_response(
            {
                "available": [m["path"] for m in mps if m.get("enabled", True)],
                "disabled": [m["path"] for m in mps if not m.get("enabled", True)],
                "details": mps,
            }
        )
    if what == "software_version":
        return json_response(__version__)
    if what in ("status_all", "running_all"):
        return json_response([])
    raise S3Error(
        "InvalidArgument",
        f"unknown what={what!r}; supported: smap, snode, config, bmd, stats, node_status, "
        "mountpaths, software_version",
    )


# ---- config changes ------------------------------------------------------------------------


async def set_config(node: Node, ctx: Ctx, sub: str) -> Response:
    """``PUT /v1/cluster/set-config?k=v`` or ``PUT /v1/cluster {"action":"set-config"}``."""
    msg = await action_msg(ctx)
    action = str(msg.get("action") or "")
    if sub == "set-config" or (not sub and action in ("", "set-config")):
        items: dict[str, Any] = {
            k: v for k, v in ctx.http.query if k not in ("transient", "provider")
        }
        value = msg.get("value")
        if isinstance(value, dict):
            items.update(flatten(value))
        if not items:
            raise S3Error("InvalidArgument", "set-config: nothing to set")
        return json_response(await _apply_config(node, items))
    if not sub and action == "reset-config":
        node.cfg.bucket_defaults.clear()
        await trio.to_thread.run_sync(_save_cluster_config, node.cfg)
        node.features.set([])
        return json_response(cluster_config(node))
    raise S3Error("InvalidArgument", f"unsupported config request {sub or action!r}")


async def _apply_config(node: Node, items: dict[str, Any]) -> dict[str, Any]:
    features: list[str] | None = None
    patch: dict[str, Any] = {}
    others: dict[str, Any] = {}
    for key, value in items.items():
        if key in ("features", "feature_names"):
            try:
                features = parse_feature_list(value, FEATURE_FLAGS)
            except PropError as e:
                raise S3Error("InvalidArgument", str(e)) from None
        elif key in BUCKET_PROPS and key != "features":
            others[key] = value
        else:
            valid = ["features", *(k for k in BUCKET_PROPS if k != "features")]
            raise S3Error(
                "InvalidArgument",
                f"unknown or read-only config key {key!r}; settable: {', '.join(valid)}",
            )
    if others:
        try:
            patch = normalize_patch(others, node.cfg.bucket_defaults)
        except PropError as e:
            raise S3Error("InvalidArgument", str(e)) from None
    if features is not None:
        node.features.set(features)
    if patch:
        node.cfg.bucket_defaults.update(patch)
        await trio.to_thread.run_sync(_save_cluster_config, node.cfg)
    return cluster_config(node)
