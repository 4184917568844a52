"""A route as users describe it (REST body, CLI options), validated and turned into the wire form
the RIB holds: ``(family, key, data, attributes)``.

Text forms are the ones users know: ``203.0.113.0/24``, ``rd 64512:1``, ``rt 64512:77``,
``community 100:400`` or ``no-export``, ``large community 64512:1:2``,
``extended community encap:vxlan``. Every error is a ``RouteSpecError`` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from bgpvpn.wire.attributes import AsPath, PathAttributes
from bgpvpn.wire.communities import (
    community_from_text,
    ext_community_from_text,
    large_community_from_text,
    route_target_from_text,
)
from bgpvpn.wire.constants import AFI, Origin
from bgpvpn.wire.errors import TextFormError
from bgpvpn.wire.family import (
    IPV4_LU,
    IPV4_UNICAST,
    IPV6_LU,
    IPV6_UNICAST,
    RTC,
    VPNV4,
    VPNV6,
    Family,
)
from bgpvpn.wire.routes import (
    EvpnRoute,
    IPRoute,
    LabeledRoute,
    Route,
    RtMembershipRoute,
    VpnRoute,
)
from bgpvpn.wire.text import (
    Prefix,
    RouteDistinguisher,
    esi_from_text,
    ip_from_text,
    mac_from_text,
)

ANNOUNCEABLE = ("ipv4", "ipv6", "vpnv4", "vpnv6", "evpn", "rtc", "ipv4-lu", "ipv6-lu")
_ORIGINS = {"igp": Origin.IGP, "egp": Origin.EGP, "incomplete": Origin.INCOMPLETE}
_EVPN_TYPES = {
    "ethernet-ad": 1,
    "mac-ip": 2,
    "inclusive-multicast": 3,
    "ethernet-segment": 4,
    "ip-prefix": 5,
}
T = TypeVar("T")
MAX_LABEL = 0xFFFFF
MAX_VNI = 0xFFFFFF


class RouteSpecError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RouteSpec(BaseModel):
    """A route to announce or withdraw (the REST body of /v1/routes, the CLI's options)."""

    model_config = ConfigDict(extra="forbid")

    family: str = "ipv4"
    prefix: str | None = None
    rd: str | None = None
    labels: list[int] = Field(
        default_factory=list, description="MPLS labels (VPN, labeled unicast)"
    )
    vni: int | None = Field(default=None, description="E-VPN: the VNI in the label field")
    l3_vni: int | None = Field(default=None, description="E-VPN type-2: second label (L3 VNI)")
    route_type: str | int | None = Field(default=None, description="E-VPN route type, 1-5 or name")
    mac: str | None = None
    ip: str | None = None
    esi: str | None = None
    ethernet_tag: int = 0
    gateway: str | None = None
    originator: str | None = None
    route_target: str | None = Field(default=None, description="RT membership (rtc) target")
    origin_as: int | None = None
    next_hop: str = "self"
    local_pref: int | None = None
    med: int | None = None
    origin: Literal["igp", "egp", "incomplete"] = "igp"
    as_path: str | None = None
    as_path_prepend: int = Field(default=0, ge=0, le=32)
    communities: list[str] = Field(default_factory=list)
    large_communities: list[str] = Field(default_factory=list)
    extended_communities: list[str] = Field(default_factory=list)
    route_targets: list[str] = Field(
        default_factory=list, description="added as target: ext communities"
    )
    lease: float | None = Field(default=None, gt=0, description="seconds; withdrawn unless renewed")


@dataclass(frozen=True, slots=True)
class BuiltRoute:
    family: Family
    key: bytes
    data: bytes | None
    attributes: PathAttributes  # next_hop None means "self" (the session's local address)
    route: Route


def _need(value: str | None, field: str, family: str) -> str:
    if value is None or value == "":
        raise RouteSpecError(field, f"required for family {family}")
    return value


def _text(fn: Callable[[str, str], T], value: str, field: str) -> T:
    try:
        return fn(value, field)
    except TextFormError as e:
        raise RouteSpecError(field, e.reason) from None


def _prefix(spec: RouteSpec, afi: int | None) -> Prefix:
    p: Prefix = _text(Prefix.parse, _need(spec.prefix, "prefix", spec.family), "prefix")
    if afi is not None and p.afi != afi:
        raise RouteSpecError(
            "prefix",
            f"{spec.prefix} is not an {'IPv4' if afi == 1 else 'IPv6'} prefix "
            f"(family {spec.family})",
        )
    return p


def _labels(spec: RouteSpec) -> tuple[int, ...]:
    if not spec.labels:
        raise RouteSpecError("labels", f"at least one label is required for family {spec.family}")
    for label in spec.labels:
        if not 0 <= label <= MAX_LABEL:
            raise RouteSpecError("labels", f"MPLS label {label} is outside 0..{MAX_LABEL}")
    return tuple(spec.labels)


def _vni(value: int | None, field: str) -> int:
    if value is None:
        raise RouteSpecError(field, "required")
    if not 0 <= value <= MAX_VNI:
        raise RouteSpecError(field, f"{value} is outside 0..{MAX_VNI} (24 bits)")
    return value


def build_route(spec: RouteSpec, local_asn: int) -> BuiltRoute:
    """Validate ``spec`` and build its wire form. Raises RouteSpecError naming the field."""
    try:
        family = Family.parse(spec.family)
    except TextFormError as e:
        raise RouteSpecError("family", e.reason) from None
    if family.name not in ANNOUNCEABLE:
        raise RouteSpecError(
            "family", f"{spec.family!r} cannot be announced; use one of {', '.join(ANNOUNCEABLE)}"
        )
    route = _route(spec, family, local_asn)
    key, data = route.to_wire()
    return BuiltRoute(family, key, data, _attributes(spec, family, local_asn), route)


def _route(spec: RouteSpec, family: Family, local_asn: int) -> Route:
    if family in (IPV4_UNICAST, IPV6_UNICAST):
        return IPRoute(_prefix(spec, family.afi))
    if family in (IPV4_LU, IPV6_LU):
        return LabeledRoute(_prefix(spec, family.afi), _labels(spec))
    if family in (VPNV4, VPNV6):
        rd = _text(RouteDistinguisher.parse, _need(spec.rd, "rd", spec.family), "rd")
        return VpnRoute(rd, _prefix(spec, family.afi), _labels(spec))
    if family == RTC:
        if spec.route_target is None:
            return RtMembershipRoute(0)
        rt = _text(route_target_from_text, spec.route_target, "route_target")
        origin = local_asn if spec.origin_as is None else spec.origin_as
        if not 0 <= origin <= 0xFFFFFFFF:
            raise RouteSpecError("origin_as", f"{origin} is not an AS number")
        return RtMembershipRoute(96, origin, rt)
    return _evpn(spec)


def _evpn(spec: RouteSpec) -> EvpnRoute:
    rtype_raw = (
        spec.route_type
        if spec.route_type is not None
        else ("mac-ip" if spec.mac else "ip-prefix" if spec.prefix else None)
    )
    if rtype_raw is None:
        raise RouteSpecError(
            "route_type", "required for evpn (1-5 or " + ", ".join(_EVPN_TYPES) + ")"
        )
    if isinstance(rtype_raw, int) or str(rtype_raw).isdigit():
        rtype = int(rtype_raw)
    else:
        if rtype_raw not in _EVPN_TYPES:
            raise RouteSpecError("route_type", f"unknown E-VPN route type {rtype_raw!r}")
        rtype = _EVPN_TYPES[rtype_raw]
    if not 1 <= rtype <= 5:
        raise RouteSpecError("route_type", f"{rtype} is not an E-VPN route type (1-5)")
    rd = _text(RouteDistinguisher.parse, _need(spec.rd, "rd", "evpn"), "rd")
    esi = _text(esi_from_text, spec.esi, "esi") if spec.esi else bytes(10)
    if not 0 <= spec.ethernet_tag <= 0xFFFFFFFF:
        raise RouteSpecError("ethernet_tag", "must be a 32-bit number")
    tag = spec.ethernet_tag
    if rtype == 2:
        mac = _text(mac_from_text, _need(spec.mac, "mac", "evpn type 2"), "mac")
        ip = _text(ip_from_text, spec.ip, "ip") if spec.ip else b""
        labels: tuple[int, ...] = (_vni(spec.vni, "vni"),)
        if spec.l3_vni is not None:
            labels += (_vni(spec.l3_vni, "l3_vni"),)
        return EvpnRoute(2, rd, esi, tag, mac, ip, labels=labels)
    if rtype == 3:
        orig = _text(
            ip_from_text, _need(spec.originator, "originator", "evpn type 3"), "originator"
        )
        return EvpnRoute(3, rd, ethernet_tag=tag, ip=orig)
    if rtype == 4:
        orig = _text(
            ip_from_text, _need(spec.originator, "originator", "evpn type 4"), "originator"
        )
        return EvpnRoute(4, rd, esi, ip=orig)
    if rtype == 1:
        return EvpnRoute(1, rd, esi, tag, labels=(_vni(spec.vni, "vni"),))
    prefix = _prefix(spec, None)
    size = 4 if prefix.afi == AFI.IPV4 else 16
    gw = _text(ip_from_text, spec.gateway, "gateway") if spec.gateway else bytes(size)
    if len(gw) != size:
        raise RouteSpecError("gateway", "must be of the same address family as the prefix")
    return EvpnRoute(5, rd, esi, tag, prefix=prefix, gateway=gw, labels=(_vni(spec.vni, "vni"),))


def _attributes(spec: RouteSpec, family: Family, local_asn: int) -> PathAttributes:
    next_hop = None
    if spec.next_hop != "self":
        next_hop = _text(ip_from_text, spec.next_hop, "next_hop")
    if spec.local_pref is not None and not 0 <= spec.local_pref <= 0xFFFFFFFF:
        raise RouteSpecError("local_pref", "must be a 32-bit number")
    if spec.med is not None and not 0 <= spec.med <= 0xFFFFFFFF:
        raise RouteSpecError("med", "must be a 32-bit number")
    try:
        path = AsPath.parse(spec.as_path) if spec.as_path else AsPath()
    except ValueError as e:
        raise RouteSpecError("as_path", str(e)) from None
    if spec.as_path_prepend:
        path = path.prepend(local_asn, spec.as_path_prepend)
    communities = tuple(_text(community_from_text, c, "communities") for c in spec.communities)
    large = tuple(
        _text(large_community_from_text, c, "large_communities") for c in spec.large_communities
    )
    ext = [
        _text(ext_community_from_text, c, "extended_communities") for c in spec.extended_communities
    ]
    ext += [_text(route_target_from_text, rt, "route_targets") for rt in spec.route_targets]
    return PathAttributes(
        origin=_ORIGINS[spec.origin],
        as_path=path,
        next_hop=next_hop,
        nexthop_attr=next_hop
        if family == IPV4_UNICAST and next_hop and len(next_hop) == 4
        else None,
        med=spec.med,
        local_pref=spec.local_pref,
        communities=communities,
        large_communities=large,
        ext_communities=tuple(dict.fromkeys(ext)),
    )
