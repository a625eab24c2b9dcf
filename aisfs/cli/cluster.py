"""`aisfs config cluster ...` and the cluster views: `aisfs show cluster|node`,
`aisfs cluster show` (one node is the whole cluster)."""

from __future__ import annotations

import argparse
from typing import Any

from aisfs.cli import node
from aisfs.cli.args import (
    Subparsers,
    UsageError,
    add_command,
    add_subcommands,
    client,
    complete_with,
    json_flag,
)
from aisfs.cli.output import fmt, print_json, print_table
from aisfs.client.native import NativeClient
from aisfs.client.props import (
    AIS_BUCKET_FEATURES,
    BUCKET_PROPS,
    RESET_TOKEN,
    bitmask_to_features,
    flatten,
    parse_assignments,
)
from aisfs.config import FEATURE_FLAGS


def _flat(conf: dict[str, Any]) -> dict[str, Any]:
    flat = flatten({k: v for k, v in conf.items() if k != "feature_names"})
    names = conf.get("feature_names") or bitmask_to_features(str(conf.get("features", "0")))
    flat["features"] = ",".join(names) if names else "none"
    return flat


def _set_features(c: NativeClient, ns: argparse.Namespace, flags: list[str]) -> int:
    conf = c.set_cluster_config({"features": ",".join(flags)})
    names = conf.get("feature_names") or []
    if ns.json:
        print_json(conf)
    else:
        print("cluster features: " + (", ".join(names) if names else "none"))
    return 0


def _set(c: NativeClient, ns: argparse.Namespace, sets: list[str]) -> int:
    items = parse_assignments(sets)
    conf = c.set_cluster_config(items)
    if ns.json:
        print_json(conf)
        return 0
    flat = _flat(conf)
    print("cluster config updated")
    print_table(["PROPERTY", "VALUE"], [[k, fmt(flat.get(k, v))] for k, v in items.items()])
    return 0


def _show(ns: argparse.Namespace, conf: dict[str, Any], section: str | None) -> int:
    flat = _flat(conf)
    if section:
        flat = {k: v for k, v in flat.items() if k == section or k.startswith(section + ".")}
        if not flat:
            raise UsageError(f"no cluster config section {section!r}")
    if ns.json:
        print_json(flat if section else conf)
        return 0
    print_table(["PROPERTY", "VALUE"], [[k, fmt(v)] for k, v in sorted(flat.items())])
    if section == "features":
        print(f"\nvalid cluster features: {', '.join(FEATURE_FLAGS)}")
        print(f"bucket-scope features: {', '.join(AIS_BUCKET_FEATURES)}")
    return 0


def cmd_config_cluster(ns: argparse.Namespace) -> int:
    args = list(ns.args)
    sets = [a for a in args if "=" in a]
    if sets and len(sets) != len(args):
        raise UsageError("expected KEY=VALUE pairs, or one section name to show")
    with client(ns) as c:
        if args[:1] == ["features"] and len(args) > 1:
            return _set_features(c, ns, args[1:])
        if sets:
            return _set(c, ns, sets)
        conf = c.cluster_config()
    return _show(ns, conf, args[0] if args else None)


def register(sub: Subparsers, conn: argparse.ArgumentParser) -> None:
    csub = add_subcommands(add_command(sub, "config", None, "show or set the cluster config"))
    p = json_flag(add_command(
        csub, "cluster", cmd_config_cluster,
        "show the cluster config (or one section), set KEY=VALUE, or "
        "`features FLAG...` (replaces the set; `features none` clears it)", [conn]))
    action = p.add_argument("args", nargs="*", metavar="KEY=VALUE|SECTION|features FLAG")
    complete_with(action, [f"{k}=" for k in BUCKET_PROPS if k != "features"] + ["features"],
                  {"features": [*FEATURE_FLAGS, RESET_TOKEN]})

    show = add_command(sub, "show", None, "show node or cluster (ais show cluster)")
    ssub = add_subcommands(show, "what")
    json_flag(add_command(ssub, "cluster", node.cmd_show, "the cluster (one node)", [conn]))
    json_flag(add_command(ssub, "node", node.cmd_show, "the node", [conn]))
    clsub = add_subcommands(add_command(sub, "cluster", None, "cluster commands (show)"))
    json_flag(add_command(clsub, "show", node.cmd_show, "the cluster (one node)", [conn]))
