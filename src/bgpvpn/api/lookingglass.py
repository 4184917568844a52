"""The looking glass, browsable like BaGPipe-BGP's: ``GET /looking-glass/<path...>``.

Every level is a JSON object (or list) whose sub-objects are either given inline (cheap values)
or as ``{"href": URL}`` to follow; collections (peers, VPN instances, drivers) are lists of
``{"id": ..., "href": ...}``. A path may also go down into the keys of a plain JSON object
(``/looking-glass/summary/route_counts``), as BaGPipe's does. An unknown path answers 404.

The tree (BaGPipe's names where BaGPipe has the item)::

    summary                     BGP_established_peers, route_counts, vpn_instances_count,
                                warnings_and_errors, start_time, version (+ boot_id, router_id)
    config                      the daemon's configuration
    bgp/peers[/ADDRESS]         the peers, with their session state
    bgp/routes                  routes per family (Loc-RIB and locally originated)
    bgp/workers[/NAME]          BaGPipe's workers: the peers and the VPN instances
    bgp/route_counts
    vpns/instances[/ID[/...]]   the VPN instances: ports, advertised/imported/static routes,
                                desired data-plane state
    vpns/dataplane/drivers[/TYPE]   the data-plane driver of each VPN type and its state
    vpns/instances_per_vni
    logs                        recent log records, newest first

The tree is built from small node objects (``Branch``, ``Collection``, ``Leaf``) walked by
``resolve``; the content functions below read the speaker and the VPN manager on demand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bgpvpn import __version__
from bgpvpn.api.vpn import RouterContext, view_json
from bgpvpn.rib import LOCAL_PEER, RouteEntry
from bgpvpn.vpn.model import VpnError
from bgpvpn.wire.jsonform import attributes_to_json, next_hop_to_text
from bgpvpn.wire.routes import route_from_wire

BASE = "looking-glass"


# ---------------------------------------------------------------- the tree


@dataclass
class Leaf:
    """A JSON value computed on demand; deeper path segments index into its objects."""

    value: Callable[[], Any]
    inline: bool = False  # shown in the parent's answer instead of an href


@dataclass
class Collection:
    """A list of objects with an ``id``: listing answers ``[{id, ..., href}]``; a path segment
    picks one by id."""

    items: Callable[[], list[dict[str, Any]]]
    get: Callable[[str], Node | None]
    inline: bool = False


@dataclass
class Branch:
    """An object: ``local`` values plus ``children``, each inline or as an href."""

    children: Mapping[str, Node] = field(default_factory=dict)
    local: Callable[[], dict[str, Any]] | None = None
    inline: bool = False


Node = Leaf | Collection | Branch


class NotFound(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def href(prefix: str, *items: str) -> str:
    return "/".join([prefix, *(quote(i, safe="") for i in items)])


def _render(node: Node, url: str) -> Any:
    if isinstance(node, Leaf):
        return node.value()
    if isinstance(node, Collection):
        out = []
        for item in node.items():
            item = dict(item)
            item["href"] = href(url, str(item["id"]))
            out.append(item)
        return out
    info: dict[str, Any] = node.local() if node.local is not None else {}
    for name, child in node.children.items():
        if child.inline:
            info[name] = _render(child, href(url, name))
        else:
            info[name] = {"href": href(url, name)}
    return info


def _lookup(value: Any, path: list[str], url: str) -> Any:
    for seg in path:
        url = href(url, seg)
        if isinstance(value, dict) and seg in value:
            value = value[seg]
        elif isinstance(value, list) and seg.isdigit() and int(seg) < len(value):
            value = value[int(seg)]
        else:
            raise NotFound(url)
    return value


def resolve(node: Node, path: list[str], url: str) -> Any:
    """The JSON at ``path`` below ``node`` (whose own URL is ``url``)."""
    if not path:
        return _render(node, url)
    seg, rest = path[0], path[1:]
    if isinstance(node, Branch):
        child = node.children.get(seg)
        if child is not None:
            return resolve(child, rest, href(url, seg))
        return _lookup(_render(node, url), path, url)
    if isinstance(node, Collection):
        target = node.get(seg)
        if target is None:
            raise NotFound(href(url, seg))
        return resolve(target, rest, href(url, seg))
    return _lookup(node.value(), path, url)


# ---------------------------------------------------------------- bgpvpn's content


WARNINGS = ("WARNING", "ERROR", "CRITICAL")


def log_record_json(record: Any) -> dict[str, Any]:
    """One record as BaGPipe's looking glass shows it: ``level``, ``time``, ``name``,
    ``message`` (from the daemon's log buffer entries, or ``logging.LogRecord``)."""
    if isinstance(record, logging.LogRecord):
        return {
            "level": record.levelname,
            "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created)),
            "name": record.name,
            "message": record.getMessage(),
        }
    if isinstance(record, dict):
        out = dict(record)
        out.setdefault("name", out.get("logger", ""))
        return out
    return {"level": "", "time": "", "name": "", "message": str(record)}


def _route_json(entry: RouteEntry) -> dict[str, Any]:
    out = route_from_wire(entry.family, entry.key, entry.data).to_json()
    out["next_hop"] = (
        next_hop_to_text(entry.attributes.next_hop) if entry.attributes.next_hop else "self"
    )
    out["attributes"] = attributes_to_json(entry.attributes)
    out["peer"] = entry.peer_id
    out["best"] = entry.best
    if entry.path_id is not None:
        out["path_id"] = entry.path_id
    return out


class LookingGlass:
    """bgpvpn's looking-glass tree over an ``ApiContext``."""

    def __init__(self, ctx: RouterContext) -> None:
        self.ctx = ctx
        self.root = Branch(
            {
                "summary": Leaf(self.summary, inline=True),
                "config": Leaf(self.config),
                "bgp": Branch(
                    {
                        "peers": Collection(self.peer_list, self.peer_node),
                        "routes": Leaf(self.routes),
                        "workers": Collection(self.worker_list, self.worker_node),
                        "route_counts": Leaf(self.route_counts, inline=True),
                    }
                ),
                "vpns": Branch(
                    {
                        "instances": Collection(self.instance_list, self.instance_node),
                        "dataplane": Branch(
                            {"drivers": Collection(self.driver_list, self.driver_node)}
                        ),
                        "instances_per_vni": Leaf(self.instances_per_vni, inline=True),
                    }
                ),
                "logs": Leaf(self.logs),
            }
        )

    # -- summary, config, logs

    def _log_records(self) -> list[dict[str, Any]]:
        """Newest first, as BaGPipe's."""
        logs = self.ctx.logs
        records: Iterable[Any] = getattr(logs, "records", logs)
        return [log_record_json(r) for r in reversed(list(records))]

    def summary(self) -> dict[str, Any]:
        speaker = self.ctx.speaker
        return {
            "BGP_established_peers": sum(
                1 for p in speaker.peers.values() if p.established_at is not None
            ),
            "route_counts": self.route_counts(),
            "vpn_instances_count": len(self.ctx.vpn.instances()),
            "warnings_and_errors": sum(
                1 for r in self._log_records() if r.get("level") in WARNINGS
            ),
            "start_time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(speaker.started_at)),
            "version": __version__,
            "boot_id": self.ctx.boot_id,
            "router_id": speaker.config.bgp.router_id,
            "asn": speaker.config.bgp.asn,
        }

    def config(self) -> dict[str, Any]:
        out: dict[str, Any] = self.ctx.speaker.config.model_dump(mode="json")
        return out

    def logs(self) -> list[dict[str, Any]]:
        return self._log_records()

    # -- bgp

    def route_counts(self) -> dict[str, int]:
        rib = self.ctx.speaker.rib
        local = sum(sum(1 for _ in rib.local_routes(f)) for f in rib.families())
        received = sum(
            rib.prefix_count(p, f)
            for p in rib.peer_ids()
            if p != LOCAL_PEER
            for f in rib.families()
        )
        return {"local_routes_count": local, "received_routes_count": received}

    def peer_list(self) -> list[dict[str, Any]]:
        return [{"id": a, "state": self._peer_state(a)} for a in self.ctx.speaker.peers]

    def _peer_state(self, address: str) -> str:
        runner = self.ctx.speaker.peers[address].runner
        return runner.state.name.lower() if runner is not None else "idle"

    def peer_node(self, address: str) -> Node | None:
        if address not in self.ctx.speaker.peers:
            return None
        return Leaf(lambda: self.peer_info(address))

    def peer_info(self, address: str) -> dict[str, Any]:
        speaker = self.ctx.speaker
        status = speaker.peers[address]
        cfg = status.config
        state = self._peer_state(address)
        up = status.established_at
        rib = speaker.rib
        received = (
            {f.name: rib.prefix_count(address, f) for f in sorted(status.families)}
            if address in rib.peer_ids()
            else {}
        )
        return {
            "id": address,
            "protocol": {
                "state": state,
                "hold_time": cfg.hold_time,
                "uptime": round(time.time() - up, 1)
                if up is not None and state == "established"
                else None,
                "last_down_reason": status.last_down_reason,
                "last_error": status.last_error,
            },
            "peeringAddresses": {"peer_address": address, "local_address": status.local_address},
            "asn": cfg.asn,
            "families": [f.name for f in sorted(status.families)] if state == "established" else [],
            "received": received,
            "updates_received": status.updates_received,
            "updates_sent": status.updates_sent,
            "flaps": status.flaps,
            "description": cfg.description,
        }

    def routes(self) -> dict[str, list[dict[str, Any]]]:
        rib = self.ctx.speaker.rib
        out: dict[str, list[dict[str, Any]]] = {}
        for fam in rib.families():
            seen = [_route_json(e) for e in rib.loc_rib(fam)]
            if seen:
                out[fam.name] = seen
        return out

    def worker_list(self) -> list[dict[str, Any]]:
        peers = [{"id": f"BGPPeer-{a}", "type": "peer"} for a in self.ctx.speaker.peers]
        vpns = [
            {"id": f"{v['instance_type']}-{v['instance_id']}", "type": "vpn_instance"}
            for v in self._instances()
        ]
        return peers + vpns

    def worker_node(self, name: str) -> Node | None:
        if name.startswith("BGPPeer-"):
            return self.peer_node(name.removeprefix("BGPPeer-"))
        for v in self._instances():
            if name == f"{v['instance_type']}-{v['instance_id']}":
                return self.instance_node(v["instance_id"])
        return None

    # -- vpns

    def _instances(self) -> list[dict[str, Any]]:
        return [view_json(v) for v in self.ctx.vpn.instances()]

    def instance_list(self) -> list[dict[str, Any]]:
        out = []
        for v in self._instances():
            item = {"id": v["instance_id"], "name": f"{v['instance_type']}-{v['instance_id']}"}
            if v.get("description"):
                item["description"] = v["description"]
            out.append(item)
        return out

    def _instance(self, instance_id: str) -> dict[str, Any]:
        try:
            view = self.ctx.vpn.instance(instance_id)
        except VpnError:
            raise NotFound(instance_id) from None
        return view_json(view)

    def instance_node(self, instance_id: str) -> Node | None:
        try:
            self.ctx.vpn.instance(instance_id)
        except VpnError:
            return None

        def local() -> dict[str, Any]:
            return instance_lg(self._instance(instance_id))

        def part(name: str, default: Any) -> Leaf:
            return Leaf(lambda: self._instance(instance_id).get(name, default))

        return Branch(
            {
                "ports": Leaf(lambda: ports_lg(self._instance(instance_id))),
                "advertised_routes": part("advertised_routes", []),
                "imported_routes": part("imported_routes", []),
                "static_routes": part("static_routes", []),
                "dataplane": Leaf(lambda: self.instance_dataplane(instance_id)),
            },
            local,
        )

    def instance_dataplane(self, instance_id: str) -> Any:
        desired = self.ctx.vpn.instance_desired_state(instance_id)
        if desired is None:
            raise NotFound(instance_id)
        driver = self.ctx.vpn.drivers[desired.config.instance_type]
        return {"driver": driver.name, "desired": instance_state_json(desired)}

    def instances_per_vni(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for iid, st in self.ctx.vpn.desired_state().items():
            out[str(st.config.vni)] = {
                "name": f"{st.config.instance_type.value}-{iid}",
                "external_instance_id": iid,
            }
        return out

    def _drivers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind, driver in self.ctx.vpn.drivers.items():
            out.setdefault(kind.value, driver)
        return out

    def driver_list(self) -> list[dict[str, Any]]:
        return [{"id": kind, "name": d.name} for kind, d in self._drivers().items()]

    def driver_node(self, kind: str) -> Node | None:
        driver = self._drivers().get(kind)
        if driver is None:
            return None
        return Leaf(lambda: {"id": kind, "name": driver.name, "state": driver.state()})


def instance_state_json(st: Any) -> dict[str, Any]:
    c = st.config
    return {
        "vni": c.vni,
        "encapsulation": c.encapsulation.value,
        "vtep": c.vtep,
        "router_mac": c.router_mac,
        "ports": [
            {"name": p.name, "mac": p.mac, "ips": list(p.ips), "gateway_ip": p.gateway_ip}
            | ({"netns": p.netns} if p.netns else {})
            for p in st.ports
        ],
        "remote_macs": [
            {"mac": m.mac, "ip": m.ip, "vtep": m.vtep, "vni": m.vni} for m in st.remote_macs
        ],
        "routes": [
            {
                "prefix": r.prefix,
                "next_hops": [
                    {"vtep": n.vtep, "vni": n.vni, "router_mac": n.router_mac, "local": n.local}
                    for n in r.next_hops
                ],
            }
            for r in st.routes
        ],
        "flood": sorted(st.flood),
    }


def instance_lg(v: dict[str, Any]) -> dict[str, Any]:
    """BaGPipe's per-instance fields, from the native instance JSON."""
    ports = v.get("ports", [])
    gateway = next((p.get("gateway_ip") for p in ports if p.get("gateway_ip")), None)
    plen = None
    for p in ports:
        for ip in p.get("ips", []):
            plen = int(str(ip).rsplit("/", 1)[1]) if "/" in str(ip) else plen
            break
    return {
        "instance_type": v.get("instance_type"),
        "external_instance_id": v.get("instance_id"),
        "name": f"{v.get('instance_type')}-{v.get('instance_id')}",
        "description": v.get("description", ""),
        "route_targets": {"import": v.get("import_rts", []), "export": v.get("export_rts", [])},
        "rd": v.get("rd"),
        "gateway_ip": gateway,
        "subnet_prefix_length": plen,
        "instance_dataplane_id": v.get("vni"),
        "local_pref": v.get("local_pref"),
        "readvertise": next(
            (
                {"from": p["readvertise"]["from_rts"], "to": p["readvertise"]["to_rts"]}
                for p in ports
                if p.get("readvertise")
            ),
            {},
        ),
        "attract_traffic": {},
        "fallback": None,
    }


def ports_lg(v: dict[str, Any]) -> dict[str, Any]:
    """BaGPipe's ``ports`` subtree: ``{port: {"endpoints": [...]}}``."""
    out: dict[str, Any] = {}
    for p in v.get("ports", []):
        ips = p.get("ips") or [None]
        eps = out.setdefault(p["port"], {"endpoints": []})["endpoints"]
        for ip in ips:
            eps.append(
                {
                    "label": v.get("vni"),
                    "mac_address": p.get("mac"),
                    "ip_address": ip,
                    "local_pref": p.get("local_pref"),
                    "rd": v.get("rd"),
                    "description": p.get("description"),
                    "direction": (p.get("extra") or {}).get("direction", "both"),
                }
            )
    return out


def looking_glass_router(ctx: RouterContext) -> APIRouter:
    router = APIRouter(tags=["looking glass"])
    lg = LookingGlass(ctx)

    async def browse(request: Request, path: str = "") -> Any:
        base = f"{request.url.scheme}://{request.url.netloc}/{BASE}"
        segments = [s for s in path.split("/") if s]
        try:
            return resolve(lg.root, segments, base)
        except NotFound as e:
            return JSONResponse(
                status_code=404,
                content={
                    "error": {
                        "field": "path",
                        "reason": f"no such looking glass object: {e.path}",
                    }
                },
            )

    router.add_api_route(
        f"/{BASE}",
        browse,
        methods=["GET"],
        summary="Looking glass root (BaGPipe-compatible)",
    )
    router.add_api_route(
        f"/{BASE}/{{path:path}}",
        browse,
        methods=["GET"],
        summary="Looking glass object at PATH",
    )
    return router
