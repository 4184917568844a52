"""JSON form of messages (the documented schema of ``bgpvpn decode``, reused by the API).

Every object has fixed keys; data (prefixes, communities, families) only ever appears in values,
so the shape is stable. Values use the text forms users know (``bgpvpn.wire.text``).
"""

from __future__ import annotations

from typing import Any

from bgpvpn.wire import capabilities as caps
from bgpvpn.wire.attributes import PathAttributes
from bgpvpn.wire.communities import (
    community_to_text,
    ext_community_to_text,
    large_community_to_text,
)
from bgpvpn.wire.constants import (
    AsPathSegmentType,
    CapabilityCode,
    CeaseSubcode,
    ErrorCode,
    FsmError,
    HeaderError,
    OpenError,
    Origin,
    PmsiTunnelType,
    RouteRefreshSubtype,
    UpdateError,
)
from bgpvpn.wire.messages import (
    KeepaliveMessage,
    Message,
    NotificationMessage,
    OpenMessage,
    RouteRefreshMessage,
    UnknownParameter,
)
from bgpvpn.wire.routes import OpaqueRoute, route_from_wire
from bgpvpn.wire.text import ip_to_text
from bgpvpn.wire.update import NlriBlock, UpdateMessage

_SUBCODES: dict[int, type] = {
    ErrorCode.MESSAGE_HEADER: HeaderError,
    ErrorCode.OPEN_MESSAGE: OpenError,
    ErrorCode.UPDATE_MESSAGE: UpdateError,
    ErrorCode.FSM: FsmError,
    ErrorCode.CEASE: CeaseSubcode,
}


def _enum_name(enum: type, value: int) -> str | None:
    try:
        return str(enum(value).name.lower().replace("_", "-"))
    except ValueError:
        return None


def next_hop_to_text(raw: bytes | None) -> str | None:
    """Next hop octets as text; VPN next hops (RD + address) lose their all-zero RD."""
    if raw is None:
        return None
    if len(raw) in (12, 24):
        return ip_to_text(raw[8:])
    if len(raw) == 48:
        return ip_to_text(raw[8:24]) + "," + ip_to_text(raw[32:48])
    return ip_to_text(raw)


def attributes_to_json(attrs: PathAttributes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if attrs.origin is not None:
        out["origin"] = _enum_name(Origin, attrs.origin) or str(attrs.origin)
    if attrs.as_path is not None:
        out["as_path"] = str(attrs.as_path)
        out["as_path_segments"] = [
            {
                "type": _enum_name(AsPathSegmentType, t) or str(t),
                "asns": list(asns),
            }
            for t, asns in attrs.as_path.segments
        ]
    if attrs.as4_path is not None:
        out["as4_path"] = str(attrs.as4_path)
    if attrs.nexthop_attr is not None:
        out["next_hop"] = ip_to_text(attrs.nexthop_attr)
    if attrs.med is not None:
        out["med"] = attrs.med
    if attrs.local_pref is not None:
        out["local_pref"] = attrs.local_pref
    if attrs.atomic_aggregate:
        out["atomic_aggregate"] = True
    if attrs.aggregator is not None:
        out["aggregator"] = {
            "asn": attrs.aggregator.asn,
            "address": ip_to_text(attrs.aggregator.address),
        }
    if attrs.as4_aggregator is not None:
        out["as4_aggregator"] = {
            "asn": attrs.as4_aggregator.asn,
            "address": ip_to_text(attrs.as4_aggregator.address),
        }
    if attrs.communities:
        out["communities"] = [community_to_text(c) for c in attrs.communities]
    if attrs.large_communities:
        out["large_communities"] = [large_community_to_text(c) for c in attrs.large_communities]
    if attrs.ext_communities:
        out["extended_communities"] = [ext_community_to_text(c) for c in attrs.ext_communities]
    if attrs.originator_id is not None:
        out["originator_id"] = ip_to_text(attrs.originator_id)
    if attrs.cluster_list:
        out["cluster_list"] = [ip_to_text(c) for c in attrs.cluster_list]
    if attrs.pmsi_tunnel is not None:
        p = attrs.pmsi_tunnel
        out["pmsi_tunnel"] = {
            "tunnel_type": _enum_name(PmsiTunnelType, p.tunnel_type) or str(p.tunnel_type),
            "flags": p.flags,
            "label": p.label,
            "tunnel_id": ip_to_text(p.tunnel_id)
            if len(p.tunnel_id) in (4, 16)
            else p.tunnel_id.hex(),
        }
    if attrs.aigp is not None:
        out["aigp"] = attrs.aigp
    if attrs.unknown:
        out["unknown"] = [
            {"type": u.type, "flags": u.flags, "value": u.value.hex()} for u in attrs.unknown
        ]
    return out


def block_routes_json(block: NlriBlock, announced: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    nh = next_hop_to_text(block.attributes.next_hop) if announced and block.attributes else None
    if block.opaque is not None:
        route = OpaqueRoute(block.family, block.opaque).to_json()
        if nh is not None:
            route["next_hop"] = nh
        return [route]
    fam = block.family
    data = block.data
    ids = block.path_ids
    for n, key in enumerate(block.keys):
        route = route_from_wire(fam, key, data[n] if data is not None else None).to_json()
        if ids is not None:
            route["path_id"] = ids[n]
        if nh is not None:
            route["next_hop"] = nh
        out.append(route)
    return out


def capability_to_json(cap: caps.Capability) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": cap.code,
        "name": _enum_name(CapabilityCode, cap.code) or "unknown",
    }
    if isinstance(cap, caps.Multiprotocol):
        out["family"] = cap.family.name
    elif isinstance(cap, caps.FourOctetAs):
        out["asn"] = cap.asn
    elif isinstance(cap, caps.GracefulRestart):
        out.update(
            restart_time=cap.restart_time,
            restarting=cap.restarting,
            notification=cap.notification,
            families=[
                {"family": f.family.name, "forwarding_preserved": f.forwarding_preserved}
                for f in cap.families
            ],
        )
    elif isinstance(cap, caps.LongLivedGracefulRestart):
        out["families"] = [
            {
                "family": f.family.name,
                "forwarding_preserved": f.forwarding_preserved,
                "stale_time": f.stale_time,
            }
            for f in cap.families
        ]
    elif isinstance(cap, caps.AddPath):
        modes = {1: "receive", 2: "send", 3: "send-receive"}
        out["families"] = [
            {"family": f.family.name, "mode": modes.get(f.send_receive, str(f.send_receive))}
            for f in cap.families
        ]
    elif isinstance(cap, caps.ExtendedNextHop):
        out["entries"] = [
            {"family": e.family.name, "next_hop_afi": e.next_hop_afi} for e in cap.entries
        ]
    elif isinstance(cap, caps.Fqdn):
        out.update(hostname=cap.hostname, domain=cap.domain)
    elif isinstance(cap, caps.UnknownCapability):
        out["value"] = cap.value.hex()
    return out


def message_to_json(msg: Message) -> dict[str, Any]:
    if isinstance(msg, UpdateMessage):
        eor = msg.end_of_rib
        return {
            "type": "UPDATE",
            "attributes": attributes_to_json(msg.attributes) if msg.attributes else {},
            "announced": [r for b in msg.announced for r in block_routes_json(b, True)],
            "withdrawn": [r for b in msg.withdrawn for r in block_routes_json(b, False)],
            "end_of_rib": eor.name if eor is not None else None,
            "action": msg.action.name.lower().replace("_", "-"),
            "problems": [
                {
                    "action": p.action.name.lower().replace("_", "-"),
                    "code": p.code,
                    "subcode": p.subcode,
                    "offset": p.offset,
                    "field": p.field,
                    "reason": p.reason,
                }
                for p in msg.problems
            ],
        }
    if isinstance(msg, KeepaliveMessage):
        return {"type": "KEEPALIVE"}
    if isinstance(msg, NotificationMessage):
        sub_enum = _SUBCODES.get(msg.code)
        return {
            "type": "NOTIFICATION",
            "code": msg.code,
            "subcode": msg.subcode,
            "error": _enum_name(ErrorCode, msg.code),
            "suberror": _enum_name(sub_enum, msg.subcode) if sub_enum else None,
            "data": msg.data.hex(),
            "shutdown_message": msg.shutdown_message,
        }
    if isinstance(msg, RouteRefreshMessage):
        return {
            "type": "ROUTE_REFRESH",
            "family": msg.family.name,
            "subtype": _enum_name(RouteRefreshSubtype, msg.subtype) or str(msg.subtype),
            "orf": msg.orf.hex() if msg.orf else None,
        }
    assert isinstance(msg, OpenMessage)
    return {
        "type": "OPEN",
        "version": msg.version,
        "asn": msg.four_octet_asn,
        "my_as_field": msg.asn,
        "hold_time": msg.hold_time,
        "router_id": msg.router_id,
        "extended_parameters": msg.extended_parameters,
        "capabilities": [capability_to_json(c) for c in msg.capabilities],
        "unknown_parameters": [
            {"type": p.type, "value": p.value.hex()}
            for p in msg.parameters
            if isinstance(p, UnknownParameter)
        ],
    }
