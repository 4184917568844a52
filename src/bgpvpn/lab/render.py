"""The configuration files ``lab up`` writes for each host's daemon: the bgpvpn daemon's TOML,
gobgpd's TOML and FRR's bgpd.conf, all derived from the topology's plan. Pure functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bgpvpn.lab.topology import HostSpec, SessionSide, Topology

API_PORT = 8082  # the bgpvpn daemon's REST API, on 127.0.0.1 inside the host's namespace
GOBGP_API_PORT = 50051  # gobgpd's gRPC API, on 127.0.0.1 inside the host's namespace

GOBGP_FAMILIES = {
    "ipv4": "ipv4-unicast",
    "ipv6": "ipv6-unicast",
    "vpnv4": "l3vpn-ipv4-unicast",
    "vpnv6": "l3vpn-ipv6-unicast",
    "evpn": "l2vpn-evpn",
    "rtc": "rtc",
}
FRR_FAMILIES = {
    "ipv4": "ipv4 unicast",
    "ipv6": "ipv6 unicast",
    "vpnv4": "ipv4 vpn",
    "vpnv6": "ipv6 vpn",
    "evpn": "l2vpn evpn",
}


def daemon_supports_kernel() -> bool:
    """Whether this bgpvpn's configuration has the ``[kernel]`` section (programming learned
    unicast routes into the kernel's main table)."""
    from bgpvpn.config import Config

    return "kernel" in Config.model_fields


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def bgpvpn_config_dict(
    topo: Topology, host: HostSpec, run_dir: Path, driver: str | None
) -> dict[str, Any]:
    """The bgpvpn daemon's configuration (as the TOML's dict) for ``host``."""
    plan = topo.plan()
    peers = []
    for side in plan.sessions_of(host.name):
        peer = topo.host(side.peer)
        p: dict[str, Any] = {
            "address": side.peer_address,
            "asn": peer.asn,
            "families": list(side.session.families),
            "description": f"lab {side.peer}",
        }
        if side.via_loopback:
            p["local_address"] = side.local_address
        if side.peer_is_client:
            p["rr_client"] = True
        if host.next_hop_self:
            p["next_hop_self"] = True
        if side.passive:
            p["passive"] = True
        peers.append(p)
    drv = driver or host.dataplane or topo.lab.dataplane
    bgp: dict[str, Any] = {
        "asn": host.asn,
        "router_id": host.bgp_router_id,
        "listen": "::",
        "peers": peers,
    }
    if host.route_reflector:
        bgp["cluster_id"] = host.bgp_router_id
    cfg: dict[str, Any] = {
        "bgp": bgp,
        "api": {"listen": "127.0.0.1", "port": API_PORT},
        "dataplane": {"evpn": drv, "ipvpn": drv},
        "store": {"path": str(run_dir / host.name / "store.db")},
    }
    if host.kernel_routes and daemon_supports_kernel():
        cfg["kernel"] = {"ipv4": True, "ipv6": True}
    return deep_merge(cfg, host.config)


def toml_dumps(data: dict[str, Any]) -> str:
    """A small TOML writer for configuration dicts (tables, arrays of tables, scalars, lists)."""
    lines: list[str] = []
    _toml_table(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} in TOML")


def _toml_key(k: str) -> str:
    return k if k.replace("-", "").replace("_", "").isalnum() else json.dumps(k)


def _is_table_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, dict) for x in v)


def _toml_table(data: dict[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) and not _is_table_list(v)}
    for k, v in scalars.items():
        lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            sub = [*path, _toml_key(k)]
            lines += ["", f"[{'.'.join(sub)}]"]
            _toml_table(v, sub, lines)
        elif _is_table_list(v):
            sub = [*path, _toml_key(k)]
            for item in v:
                lines += ["", f"[[{'.'.join(sub)}]]"]
                _toml_table(item, sub, lines)


# ------------------------------------------------------------------------------ GoBGP


def gobgp_config_dict(topo: Topology, host: HostSpec) -> dict[str, Any]:
    plan = topo.plan()
    sides = plan.sessions_of(host.name)
    local = sorted({s.local_address for s in sides})
    glob: dict[str, Any] = {"as": host.asn, "router-id": host.bgp_router_id}
    if local:
        glob["local-address-list"] = local
    neighbors = [_gobgp_neighbor(topo, host, s) for s in sides]
    cfg: dict[str, Any] = {"global": {"config": glob}}
    if neighbors:
        cfg["neighbors"] = neighbors
    return deep_merge(cfg, host.config)


def _gobgp_neighbor(topo: Topology, host: HostSpec, side: SessionSide) -> dict[str, Any]:
    peer = topo.host(side.peer)
    n: dict[str, Any] = {
        "config": {
            "neighbor-address": side.peer_address,
            "peer-as": peer.asn,
            "description": f"lab {side.peer}",
        },
        "timers": {"config": {"connect-retry": 1, "hold-time": 30, "keepalive-interval": 10}},
        "transport": {"config": {"passive-mode": side.passive}},
    }
    if side.via_loopback:
        n["transport"]["config"]["local-address"] = side.local_address
        if peer.asn != host.asn:
            n["ebgp-multihop"] = {"config": {"enabled": True, "multihop-ttl": 16}}
    if side.peer_is_client:
        n["route-reflector"] = {
            "config": {
                "route-reflector-client": True,
                "route-reflector-cluster-id": host.bgp_router_id,
            }
        }
    n["afi-safis"] = [
        {"config": {"afi-safi-name": GOBGP_FAMILIES[f]}} for f in side.session.families
    ]
    return n


# -------------------------------------------------------------------------------- FRR


def frr_bgpd_conf(topo: Topology, host: HostSpec) -> str:
    plan = topo.plan()
    sides = plan.sessions_of(host.name)
    rid = host.bgp_router_id
    out = [
        "frr defaults traditional",
        f"hostname {topo.lab.name}-{host.name}",
        "!",
        f"router bgp {host.asn}",
        f" bgp router-id {rid}",
        " no bgp ebgp-requires-policy",
        " no bgp default ipv4-unicast",
        " no bgp network import-check",
    ]
    if host.route_reflector:
        out.append(f" bgp cluster-id {rid}")
    for s in sides:
        peer = topo.host(s.peer)
        out += [
            f" neighbor {s.peer_address} remote-as {peer.asn}",
            f" neighbor {s.peer_address} description lab {s.peer}",
            f" neighbor {s.peer_address} timers connect 1",
        ]
        if s.via_loopback:
            out.append(f" neighbor {s.peer_address} update-source {s.local_address}")
            if peer.asn != host.asn:
                out.append(f" neighbor {s.peer_address} ebgp-multihop 16")
        if s.passive:
            out.append(f" neighbor {s.peer_address} passive")
    for fam, afi in FRR_FAMILIES.items():
        lines = []
        if fam in ("ipv4", "ipv6"):
            version = 4 if fam == "ipv4" else 6
            for p in host.announce:
                if (":" in p) == (version == 6):
                    lines.append(f"  network {p}")
        for s in sides:
            if fam not in s.session.families:
                continue
            lines.append(f"  neighbor {s.peer_address} activate")
            if s.peer_is_client:
                lines.append(f"  neighbor {s.peer_address} route-reflector-client")
            if host.next_hop_self and fam in ("ipv4", "ipv6"):
                lines.append(f"  neighbor {s.peer_address} next-hop-self force")
        if lines:
            out += [f" address-family {afi}", *lines, " exit-address-family"]
    out += ["exit", "!"]
    if host.frr_config.strip():
        out += [host.frr_config.rstrip(), "!"]
    out.append("end")
    return "\n".join(out) + "\n"
