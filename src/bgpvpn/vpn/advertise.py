"""Building the routes an instance advertises, in the wire form the RIB takes.

Label fields. E-VPN: with VXLAN the VNI fills the whole 24-bit field (RFC8365 5.1.3), with an
MPLS encapsulation the field is a label (value << 4, bottom of stack); the PMSI tunnel label
likewise. VPNv4/VPNv6: the NLRI carries a label *stack* (RFC8277) that receivers parse up to the
bottom-of-stack bit, so a raw 24-bit VNI there would be misparsed whenever its low bit is 0 (the
prefix would start inside the label: checked against our own codec); GoBGP and FRR parse VPN
labels as MPLS labels whatever the encapsulation. So an IP VPN carries its VNI as the 20-bit
label value with the bottom-of-stack bit, with VXLAN as with MPLS, and its VNI is at most
1048575 (the encapsulation community tells the receiver how to use it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from bgpvpn.vpn.model import Encapsulation, PortAttachment, StaticRoute
from bgpvpn.vpn.validate import iface
from bgpvpn.wire.attributes import AsPath, PathAttributes, PmsiTunnel
from bgpvpn.wire.communities import (
    EC_EVPN,
    EC_TRANSITIVE_OPAQUE,
    SUB_ENCAPSULATION,
    SUB_MAC_MOBILITY,
    SUB_ROUTER_MAC,
    community_from_text,
)
from bgpvpn.wire.constants import AFI, EvpnRouteType, TunnelType
from bgpvpn.wire.family import EVPN, VPNV4, VPNV6, Family
from bgpvpn.wire.routes import EvpnRoute, VpnRoute, labels_to_field
from bgpvpn.wire.text import Prefix, RouteDistinguisher

PMSI_INGRESS_REPLICATION = 6  # RFC6514 5 tunnel type
ZERO_ESI = bytes(10)

TUNNEL_OF: dict[Encapsulation, int] = {
    Encapsulation.VXLAN: TunnelType.VXLAN,
    Encapsulation.MPLS: TunnelType.MPLS,
    Encapsulation.MPLS_GRE: TunnelType.MPLS_IN_GRE,
    Encapsulation.MPLS_UDP: TunnelType.MPLS_IN_UDP,
}
ENCAP_OF: dict[int, Encapsulation] = {v: k for k, v in TUNNEL_OF.items()}


def encap_community(encap: Encapsulation) -> bytes:
    """RFC9012 4.1 / RFC8365 5.1.3 encapsulation extended community."""
    return bytes((EC_TRANSITIVE_OPAQUE, SUB_ENCAPSULATION, 0, 0, 0, 0)) + TUNNEL_OF[encap].to_bytes(
        2, "big"
    )


def router_mac_community(mac: bytes) -> bytes:
    return bytes((EC_EVPN, SUB_ROUTER_MAC)) + mac


def mac_mobility_community(seq: int) -> bytes:
    return bytes((EC_EVPN, SUB_MAC_MOBILITY, 0, 0)) + seq.to_bytes(4, "big")


def label_value(vni: int, encap: Encapsulation) -> int:
    """The raw 24-bit label field carrying ``vni``."""
    return vni if encap == Encapsulation.VXLAN else (vni << 4) | 1


def vpn_label_field(vni: int) -> bytes:
    """A VPN route's label stack: one label, the VNI/label value (see the module docstring)."""
    return labels_to_field((vni,))


@dataclass(frozen=True, slots=True)
class Advert:
    """One route this host advertises for an instance."""

    family: Family
    key: bytes
    data: bytes | None
    attrs: PathAttributes
    route: VpnRoute | EvpnRoute
    text: str = ""  # str(route); builders give it directly where that is cheaper

    def __post_init__(self) -> None:
        if not self.text:
            object.__setattr__(self, "text", str(self.route))

    def to_json(self) -> dict[str, Any]:
        out = self.route.to_json()
        out["route"] = self.text
        return out


@dataclass(slots=True)
class AdvertContext:
    """What an instance's routes are built from (changes with the instance's export RTs and
    local preference); attribute sets are interned per context, so all MAC routes of an EVI
    share one object."""

    rd: RouteDistinguisher
    vni: int
    encap: Encapsulation
    vtep: bytes
    router_mac: bytes
    export_rts: tuple[bytes, ...]
    local_pref: int | None
    rd_text: str = ""
    _attrs: dict[tuple[object, ...], PathAttributes] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.rd_text = str(self.rd)

    def attrs(
        self,
        *,
        router_mac: bool,
        seq: int = 0,
        local_pref: int | None = None,
        med: int | None = None,
        communities: tuple[int, ...] = (),
        rts: tuple[bytes, ...] | None = None,
        pmsi: bool = False,
    ) -> PathAttributes:
        lp = local_pref if local_pref is not None else self.local_pref
        k = (router_mac, seq, lp, med, communities, rts, pmsi)
        a = self._attrs.get(k)
        if a is None:
            ext = list(self.export_rts if rts is None else rts)
            ext.append(encap_community(self.encap))
            if router_mac and self.encap == Encapsulation.VXLAN:
                ext.append(router_mac_community(self.router_mac))
            if seq:
                ext.append(mac_mobility_community(seq))
            a = PathAttributes(
                origin=0,
                as_path=AsPath(),
                next_hop=self.vtep,
                med=med,
                local_pref=lp,
                communities=communities,
                ext_communities=tuple(dict.fromkeys(ext)),
                pmsi_tunnel=PmsiTunnel(
                    0, PMSI_INGRESS_REPLICATION, label_value(self.vni, self.encap), self.vtep
                )
                if pmsi
                else None,
            )
            self._attrs[k] = a
        return a


def _prefix(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Prefix:
    afi = AFI.IPV4 if net.version == 4 else AFI.IPV6
    return Prefix(afi, net.prefixlen, net.network_address.packed)


def vpn_route(
    ctx: AdvertContext, net: ipaddress.IPv4Network | ipaddress.IPv6Network, attrs: PathAttributes
) -> Advert:
    return vpn_prefix_route(ctx, _prefix(net), attrs)


def vpn_prefix_route(ctx: AdvertContext, prefix: Prefix, attrs: PathAttributes) -> Advert:
    route = VpnRoute(ctx.rd, prefix, (ctx.vni,))
    key = bytes((prefix.length,)) + ctx.rd.raw + prefix.body()
    return Advert(
        VPNV4 if prefix.afi == AFI.IPV4 else VPNV6,
        key,
        vpn_label_field(ctx.vni),
        attrs,
        route,
        f"{ctx.rd_text}:{prefix} label {ctx.vni}",  # str(route), without formatting the RD
    )


def type5_route(
    ctx: AdvertContext, net: ipaddress.IPv4Network | ipaddress.IPv6Network, attrs: PathAttributes
) -> Advert:
    route = EvpnRoute(
        EvpnRouteType.IP_PREFIX,
        ctx.rd,
        ZERO_ESI,
        0,
        prefix=_prefix(net),
        labels=(label_value(ctx.vni, ctx.encap),),
    )
    key, data = route.to_wire()
    return Advert(EVPN, key, data, attrs, route)


def _port_prefixes(att: PortAttachment, subnets: bool) -> list[Prefix]:
    """A host prefix per port address, and with ``subnets`` the address's subnet, each once."""
    out: dict[Prefix, None] = {}
    for text in att.ips:
        i = iface(text)
        size = len(i.packed)
        afi = AFI.IPV4 if size == 4 else AFI.IPV6
        out[Prefix(afi, size * 8, i.packed)] = None
        if subnets and i.length < size * 8:
            bits = size * 8
            mask = ((1 << bits) - 1) ^ ((1 << (bits - i.length)) - 1)
            net = (int.from_bytes(i.packed, "big") & mask).to_bytes(size, "big")
            out[Prefix(afi, i.length, net)] = None
    return list(out)


def ipvpn_port_routes(ctx: AdvertContext, att: PortAttachment) -> list[Advert]:
    """A VPNv4/VPNv6 host route per port address, and its subnet with ``advertise_subnet``."""
    attrs = ctx.attrs(router_mac=True, local_pref=att.local_pref)
    return [vpn_prefix_route(ctx, p, attrs) for p in _port_prefixes(att, att.advertise_subnet)]


def evpn_port_routes(
    ctx: AdvertContext, att: PortAttachment, seq: int, type5: bool
) -> list[Advert]:
    """Type-2 MAC-only and one MAC/IP per address (ESI 0, tag 0, the VNI in the label field),
    with the MAC Mobility sequence when not 0 (RFC7432 15: a first advertisement carries none);
    with ``type5`` also a type-5 per port subnet (RFC9136)."""
    attrs = ctx.attrs(router_mac=False, seq=seq, local_pref=att.local_pref)
    mac = bytes.fromhex(att.mac.replace(":", ""))
    label = (label_value(ctx.vni, ctx.encap),)
    out: list[Advert] = []
    head = f"[type-2] {ctx.rd_text} ethernet_tag=0 mac={att.mac}"
    tail = f" labels=[{label[0]}]"
    ips = {b"": ""}
    for t in att.ips:
        i = iface(t)
        ips.setdefault(i.packed, f" ip={i.ip}")
    for ip, ip_text in ips.items():
        route = EvpnRoute(
            EvpnRouteType.MAC_IP_ADVERTISEMENT, ctx.rd, ZERO_ESI, 0, mac, ip, labels=label
        )
        key, data = route.to_wire()
        out.append(Advert(EVPN, key, data, attrs, route, head + ip_text + tail))
    if type5:
        t5 = ctx.attrs(router_mac=True, local_pref=att.local_pref)
        for text in att.ips:
            net = iface(text).network
            if net.prefixlen != net.max_prefixlen:
                out.append(type5_route(ctx, net, t5))
    return out


def evpn_imet_route(ctx: AdvertContext) -> Advert:
    """Type-3 inclusive multicast route: originator our VTEP, PMSI tunnel attribute for ingress
    replication to our VTEP with the VNI (RFC7432 11, RFC8365 5.1.3)."""
    route = EvpnRoute(EvpnRouteType.INCLUSIVE_MULTICAST_ETHERNET_TAG, ctx.rd, ip=ctx.vtep)
    key, data = route.to_wire()
    return Advert(EVPN, key, data, ctx.attrs(router_mac=False, pmsi=True), route)


def static_advert(ctx: AdvertContext, static: StaticRoute, evpn: bool) -> Advert:
    net = ipaddress.ip_network(static.prefix)
    comms = tuple(community_from_text(c) for c in static.communities)
    attrs = ctx.attrs(
        router_mac=True, local_pref=static.local_pref, med=static.med, communities=comms
    )
    return type5_route(ctx, net, attrs) if evpn else vpn_route(ctx, net, attrs)


def readvertised(ctx: AdvertContext, prefix: str, to_rts: tuple[bytes, ...], evpn: bool) -> Advert:
    """A route imported with a readvertise ``from_rts`` RT, re-advertised with ``to_rts``, our
    RD, label and next hop (BaGPipe's readvertise)."""
    net = ipaddress.ip_network(prefix)
    attrs = ctx.attrs(router_mac=True, rts=to_rts)
    return type5_route(ctx, net, attrs) if evpn else vpn_route(ctx, net, attrs)
