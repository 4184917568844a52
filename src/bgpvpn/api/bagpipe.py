"""The BaGPipe-BGP compatible REST API: ``POST /attach_localport``, ``POST /detach_localport``,
``GET /ping`` (the looking glass is ``bgpvpn.api.lookingglass``).

Clients written for bagpipe-bgp (networking-bagpipe's OpenStack agent, ``bagpipe-rest-attach``)
work unchanged: same paths, same JSON fields, same answers where they rely on them:

- success is ``200`` with a JSON body (bagpipe-bgp answers ``null``; we answer what was done,
  which those clients ignore);
- a refused request is ``400`` (bagpipe-bgp answers 400 for all its API errors, missing
  parameters and unknown instances included) with ``{"code", "title", "message"}`` as
  bagpipe-bgp's web framework writes them, plus our ``{"error": {"field", "reason"}}`` naming the
  field with its BaGPipe name;
- ``GET /ping`` answers a JSON value that changes when the daemon restarts (the agent re-sends
  all its attachments when it changes): our boot id, a JSON string.

Field mapping (docs/bagpipe.md): ``vpn_instance_id`` -> instance id, ``vpn_type`` -> instance
type, ``local_port`` (a string or ``{"linuxif": ...}``) -> port, ``mac_address`` -> mac,
``ip_address`` -> ips, ``gateway_ip``, ``import_rt``/``export_rt`` (list or comma-separated
string), ``readvertise {from_rt, to_rt}``, ``local_pref``, ``advertise_subnet``, ``description``,
``instance_description`` and ``vni`` (0: allocated) map to bgpvpn's intent. Accepted and recorded
in the attachment's ``extra`` but not acted on: ``direction``, ``attract_traffic``,
``lb_consistent_hash_order``, ``fallback``, ``linuxbr``, ``local_port.ovs``, ``local_port.vlan``
and any other field. Refused: ``local_port.evpn`` (an E-VPN plugged into an IP VPN).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bgpvpn.api.fastpath import FastAnswer, FastHandler, parse_json
from bgpvpn.api.vpn import RouterContext, change_json
from bgpvpn.vpn.model import (
    Encapsulation,
    InstanceSpec,
    InstanceType,
    PortAttachment,
    Readvertise,
    VpnError,
    parse_interface_address,
    parse_ip,
    parse_mac,
    parse_route_targets,
)

log = logging.getLogger("bgpvpn.api.bagpipe")

DIRECTIONS = ("both", "to-port", "from-port")

# bgpvpn's field names (in VpnError.field) -> BaGPipe's
_FIELD_TO_BAGPIPE = {
    "instance_id": "vpn_instance_id",
    "instance_type": "vpn_type",
    "port": "local_port",
    "mac": "mac_address",
    "ips": "ip_address",
    "import_rts": "import_rt",
    "export_rts": "export_rt",
    "readvertise.from_rts": "readvertise.from_rt",
    "readvertise.to_rts": "readvertise.to_rt",
    "description": "instance_description",
}


def bagpipe_field(field: str) -> str:
    """The BaGPipe name of a bgpvpn field (``ips[0]`` -> ``ip_address``)."""
    base = field.split("[", 1)[0]
    if base == "ips":
        return "ip_address"
    if base in _FIELD_TO_BAGPIPE:
        return _FIELD_TO_BAGPIPE[base] + field[len(base) :]
    return field


@dataclass(frozen=True, slots=True)
class BagpipeAttach:
    attachment: PortAttachment
    instance: InstanceSpec  # used when the instance does not exist yet


@dataclass(frozen=True, slots=True)
class BagpipeDetach:
    instance_id: str
    instance_type: InstanceType
    port: str
    mac: str
    ip: str | None  # None: all of the port's addresses


def _require(params: dict[str, Any], *names: str) -> None:
    for name in names:
        if name not in params:
            raise VpnError(name, f"Missing parameter: '{name}'")


def _vpn_type(params: dict[str, Any]) -> InstanceType:
    if "vpn_type" not in params:
        raise VpnError("vpn_type", "missing instance_type")
    try:
        return InstanceType(params["vpn_type"])
    except ValueError:
        raise VpnError("vpn_type", f"unknown vpn_type: {params['vpn_type']}") from None


def _instance_id(params: dict[str, Any]) -> str:
    value = params["vpn_instance_id"]
    if not isinstance(value, str) or not value.strip():
        raise VpnError("vpn_instance_id", "must be a non-empty string")
    return value


def _local_port(params: dict[str, Any], extra: dict[str, str]) -> str:
    lp = params["local_port"]
    if isinstance(lp, str):
        return lp
    if not isinstance(lp, dict):
        raise VpnError("local_port", "must be an interface name or an object with 'linuxif'")
    if "evpn" in lp:
        raise VpnError(
            "local_port.evpn",
            "plugging an E-VPN instance into an IP VPN is not supported by bgpvpn",
        )
    if "linuxif" not in lp:
        raise VpnError(
            "local_port", "Mandatory key is missing in local_port parameter (linuxif, or evpn)"
        )
    name = lp["linuxif"]
    if not isinstance(name, str) or not name:
        raise VpnError("local_port.linuxif", "must be a non-empty interface name")
    for k, v in lp.items():
        if k != "linuxif":
            extra[f"local_port.{k}"] = _text(v)
    return name


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _mac(params: dict[str, Any]) -> str:
    try:
        return parse_mac(params["mac_address"], "mac_address")
    except VpnError:
        raise VpnError("mac_address", f"MAC address {params['mac_address']} is not valid") from None


def _ip(params: dict[str, Any]) -> str | None:
    value = params.get("ip_address")
    if value is None:
        return None
    if not isinstance(value, str):
        raise VpnError("ip_address", f"IP address {value} is not valid")
    try:
        return parse_interface_address(value, "ip_address")
    except VpnError:
        raise VpnError("ip_address", f"IP address {value} is not valid") from None


def _int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise VpnError(name, f"{value!r} is not an integer") from None
    return value


_MAPPED = {
    "vpn_instance_id",
    "vpn_type",
    "local_port",
    "mac_address",
    "ip_address",
    "gateway_ip",
    "import_rt",
    "export_rt",
    "readvertise",
    "local_pref",
    "advertise_subnet",
    "description",
    "instance_description",
    "vni",
}


def parse_attach(params: Any) -> BagpipeAttach:
    """BaGPipe's ``attach_localport`` body -> bgpvpn intent (raises ``VpnError`` naming the
    BaGPipe field)."""
    if not isinstance(params, dict):
        raise VpnError("body", "No local port details received")
    itype = _vpn_type(params)
    _require(params, "vpn_instance_id", "mac_address", "local_port", "import_rt", "export_rt")
    iid = _instance_id(params)
    extra: dict[str, str] = {}
    port = _local_port(params, extra)
    mac = _mac(params)
    ip = _ip(params)
    import_rts = parse_route_targets(params.get("import_rt"), "import_rt")
    export_rts = parse_route_targets(params.get("export_rt"), "export_rt")
    advertise_subnet = params.get("advertise_subnet", False)
    if not isinstance(advertise_subnet, bool):
        raise VpnError("advertise_subnet", "'advertise_subnet' must be a boolean")
    direction = params.get("direction") or "both"
    if direction not in DIRECTIONS:
        raise VpnError("direction", "direction should be one of: " + ", ".join(DIRECTIONS))
    gateway = params.get("gateway_ip")
    gateway_ip = parse_ip(gateway, "gateway_ip") if gateway else None
    readv = params.get("readvertise")
    readvertise = None
    if readv:
        if not isinstance(readv, dict):
            raise VpnError("readvertise", "must be an object with from_rt and to_rt")
        _require_sub(readv, "readvertise", "from_rt", "to_rt")
        readvertise = Readvertise(
            parse_route_targets(readv["from_rt"], "readvertise.from_rt"),
            parse_route_targets(readv["to_rt"], "readvertise.to_rt"),
        )
    local_pref = _int(params, "local_pref")
    if local_pref is not None and not 0 <= local_pref <= 0xFFFFFFFF:
        raise VpnError("local_pref", f"{local_pref} is not a 32-bit number")
    vni = _int(params, "vni") or None
    description = params.get("description")
    instance_description = params.get("instance_description")
    extra["direction"] = direction
    for k, v in params.items():
        if k not in _MAPPED and k != "direction" and v not in (None, {}, [], ""):
            extra[k] = _text(v)
    att = PortAttachment(
        instance_id=iid,
        instance_type=itype,
        port=port,
        mac=mac,
        ips=(ip,) if ip else (),
        gateway_ip=gateway_ip,
        import_rts=import_rts,
        export_rts=export_rts,
        local_pref=local_pref,
        advertise_subnet=advertise_subnet,
        readvertise=readvertise,
        description=_text(description) if description is not None else "",
        extra=extra,
    )
    spec = InstanceSpec(
        instance_id=iid,
        instance_type=itype,
        import_rts=import_rts,
        export_rts=export_rts,
        vni=vni,
        description=_text(instance_description) if instance_description is not None else "",
    )
    return BagpipeAttach(att, spec)


def _require_sub(obj: dict[str, Any], prefix: str, *names: str) -> None:
    for name in names:
        if name not in obj:
            raise VpnError(f"{prefix}.{name}", f"Wrong '{prefix}' parameters: '{name}'")


def parse_detach(params: Any) -> BagpipeDetach:
    """BaGPipe's ``detach_localport`` body."""
    if not isinstance(params, dict):
        raise VpnError("body", "No local port details received")
    itype = _vpn_type(params)
    _require(params, "vpn_instance_id", "mac_address", "local_port")
    extra: dict[str, str] = {}
    return BagpipeDetach(
        instance_id=_instance_id(params),
        instance_type=itype,
        port=_local_port(params, extra),
        mac=_mac(params),
        ip=_ip(params),
    )


# ---------------------------------------------------------------- the router


def bagpipe_error(status: int, field: str, reason: str) -> FastAnswer:
    titles = {400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
    title = titles.get(status, "Error")
    return FastAnswer(
        status,
        {
            "code": f"{status} {title}",
            "title": title,
            "message": f"API error: {field}: {reason}" if status == 400 else reason,
            "error": {"field": field, "reason": reason},
        },
    )


class BagpipeOps:
    """``attach_localport`` and ``detach_localport`` on a raw body: shared by the FastAPI
    routes and the fast path (``fastpath``)."""

    def __init__(self, ctx: RouterContext) -> None:
        self.vpn = ctx.vpn

    def run(self, what: str, body: bytes, fn: Callable[[Any], Any]) -> FastAnswer:
        try:
            ok, params = parse_json(body)
            if not ok:
                raise VpnError("body", "No local port details received")
            log.info("%s received: %s", what, params)
            return FastAnswer(200, change_json(fn(params)))
        except VpnError as e:
            log.warning("%s: API error: %s: %s", what, e.field, e.reason)
            return bagpipe_error(400, bagpipe_field(e.field), e.reason)

    def attach_params(self, params: Any) -> Any:
        parsed = parse_attach(params)
        return self.vpn.attach(parsed.attachment, parsed.instance)

    def detach_params(self, params: Any) -> Any:
        return detach_endpoint(self.vpn, parse_detach(params))

    def attach(self, body: bytes) -> FastAnswer:
        return self.run("attach_localport", body, self.attach_params)

    def detach(self, body: bytes) -> FastAnswer:
        return self.run("detach_localport", body, self.detach_params)


def bagpipe_fast_routes(
    ctx: RouterContext, ops: BagpipeOps | None = None
) -> dict[str, FastHandler]:
    ops = ops or BagpipeOps(ctx)
    return {"/attach_localport": ops.attach, "/detach_localport": ops.detach}


def bagpipe_router(ctx: RouterContext, ops: BagpipeOps | None = None) -> APIRouter:
    router = APIRouter(tags=["BaGPipe-compatible"])
    ops = ops or BagpipeOps(ctx)

    def respond(got: FastAnswer) -> JSONResponse:
        return JSONResponse(status_code=got.status, content=got.content)

    @router.get("/ping", summary="The daemon's boot id (changes when it restarts)")
    async def ping() -> str:
        return ctx.boot_id

    @router.get("/attach_localport", include_in_schema=False)
    async def attach_get() -> dict[str, Any]:
        return {}

    @router.get("/detach_localport", include_in_schema=False)
    async def detach_get() -> dict[str, Any]:
        return {}

    @router.post(
        "/attach_localport",
        summary="Attach a port to a VPN instance (bagpipe-bgp's attach_localport)",
    )
    async def attach_localport(request: Request) -> Any:
        return respond(ops.attach(await request.body()))

    @router.post(
        "/detach_localport",
        summary="Detach a port from a VPN instance (bagpipe-bgp's detach_localport)",
    )
    async def detach_localport(request: Request) -> Any:
        return respond(ops.detach(await request.body()))

    return router


# ---------------------------------------------------------------- BaGPipe's endpoints
#
# bagpipe-bgp keeps endpoints (MAC, IP) per port: attaching the same port and MAC again with
# another IP adds an address (VpnManager.attach does the same), and a detach naming an IP
# removes only that one. bgpvpn holds one attachment per (instance, port, MAC) with its list of
# addresses: removing one address of several is a detach and an attach of the rest.


@dataclass(frozen=True)
class NetChange:
    routes_added: tuple[str, ...]
    routes_removed: tuple[str, ...]
    instances_created: tuple[str, ...]
    instances_removed: tuple[str, ...]


def _net(first: Any, second: Any) -> NetChange:
    removed = [r for r in first.routes_removed if r not in second.routes_added]
    added = [r for r in second.routes_added if r not in first.routes_removed]
    gone = [i for i in first.instances_removed if i not in second.instances_created]
    made = [i for i in second.instances_created if i not in first.instances_removed]
    return NetChange(tuple(added), tuple(removed), tuple(made), tuple(gone))


def detach_endpoint(vpn: Any, d: BagpipeDetach) -> Any:
    try:
        view = vpn.instance(d.instance_id).to_json()
    except VpnError:
        raise VpnError("vpn_instance_id", f"VPN {d.instance_id} could not be found") from None
    if view["instance_type"] != d.instance_type.value:
        raise VpnError("vpn_type", f"instance {d.instance_id} is of type {view['instance_type']}")
    cur = next((p for p in view["ports"] if p["port"] == d.port and p["mac"] == d.mac), None)
    if cur is None:
        raise VpnError("mac_address", f"Endpoint ({d.mac}, {d.ip}) not plugged yet, can't unplug")
    ips: list[str] = list(cur["ips"])
    if d.ip is not None and ips and d.ip not in ips:
        raise VpnError("ip_address", f"Endpoint ({d.mac}, {d.ip}) not plugged yet, can't unplug")
    if d.ip is None or not ips or ips == [d.ip]:
        return vpn.detach(d.instance_id, d.port, d.mac)
    rest = attachment_from_view(d, cur, tuple(ip for ip in ips if ip != d.ip))
    spec = InstanceSpec(
        instance_id=d.instance_id,
        instance_type=d.instance_type,
        import_rts=tuple(view["import_rts"]),
        export_rts=tuple(view["export_rts"]),
        rd=view["rd"],
        vni=view["vni"],
        encapsulation=Encapsulation(view["encapsulation"]),
        advertise_type5=view["advertise_type5"],
        advertise_learned=view["advertise_learned"],
        local_pref=view["local_pref"],
        description=view["description"],
    )
    first = vpn.detach(d.instance_id, d.port, d.mac)
    return _net(first, vpn.attach(rest, spec))


def attachment_from_view(
    d: BagpipeDetach, cur: dict[str, Any], ips: tuple[str, ...]
) -> PortAttachment:
    readv = cur.get("readvertise")
    return PortAttachment(
        instance_id=d.instance_id,
        instance_type=d.instance_type,
        port=d.port,
        mac=d.mac,
        ips=ips,
        gateway_ip=cur.get("gateway_ip"),
        import_rts=tuple(cur.get("import_rts", ())),
        export_rts=tuple(cur.get("export_rts", ())),
        local_pref=cur.get("local_pref"),
        advertise_subnet=bool(cur.get("advertise_subnet", False)),
        readvertise=Readvertise(tuple(readv["from_rts"]), tuple(readv["to_rts"]))
        if readv
        else None,
        description=cur.get("description", ""),
        extra=dict(cur.get("extra") or {}),
    )
