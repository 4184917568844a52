"""Typed views of routes, for people and APIs: built from the wire-form (key, data) pairs the
decoder yields (``route_from_wire``), and turned back into them (``Route.to_wire``).

The hot path never builds these: the RIB holds keys. They render JSON (``to_json``: fixed keys,
values in the text forms of ``bgpvpn.wire.text``) and parse what users type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bgpvpn.wire.communities import ext_community_to_text
from bgpvpn.wire.constants import AFI, EvpnRouteType
from bgpvpn.wire.family import (
    EVPN,
    IPV4_LU,
    IPV4_UNICAST,
    IPV6_LU,
    IPV6_UNICAST,
    RTC,
    VPNV4,
    VPNV6,
    Family,
)
from bgpvpn.wire.nlri import LEN_OCTET
from bgpvpn.wire.text import Prefix, RouteDistinguisher, esi_to_text, ip_to_text, mac_to_text

EVPN_NAMES = {
    1: "ethernet-ad",
    2: "mac-ip",
    3: "inclusive-multicast",
    4: "ethernet-segment",
    5: "ip-prefix",
}


def labels_from_field(raw: bytes) -> tuple[int, ...]:
    """MPLS label values (20 bits) of a label stack field."""
    return tuple(int.from_bytes(raw[k : k + 3], "big") >> 4 for k in range(0, len(raw), 3))


def labels_to_field(labels: tuple[int, ...]) -> bytes:
    """A label stack field with the bottom-of-stack bit on the last label."""
    out = bytearray()
    for n, label in enumerate(labels):
        if not 0 <= label <= 0xFFFFF:
            raise ValueError(f"MPLS label {label} is outside 0..1048575")
        out += ((label << 4) | (1 if n == len(labels) - 1 else 0)).to_bytes(3, "big")
    return bytes(out)


@dataclass(frozen=True, slots=True)
class IPRoute:
    prefix: Prefix

    @property
    def family(self) -> Family:
        return IPV4_UNICAST if self.prefix.afi == AFI.IPV4 else IPV6_UNICAST

    def to_wire(self) -> tuple[bytes, bytes | None]:
        return self.prefix.to_wire(), None

    def to_json(self) -> dict[str, Any]:
        return {"family": self.family.name, "prefix": str(self.prefix)}

    def __str__(self) -> str:
        return str(self.prefix)


@dataclass(frozen=True, slots=True)
class LabeledRoute:
    prefix: Prefix
    labels: tuple[int, ...]

    @property
    def family(self) -> Family:
        return IPV4_LU if self.prefix.afi == AFI.IPV4 else IPV6_LU

    def to_wire(self) -> tuple[bytes, bytes | None]:
        return self.prefix.to_wire(), labels_to_field(self.labels)

    def to_json(self) -> dict[str, Any]:
        return {"family": self.family.name, "prefix": str(self.prefix), "labels": list(self.labels)}

    def __str__(self) -> str:
        return f"{self.prefix} label {','.join(map(str, self.labels))}"


@dataclass(frozen=True, slots=True)
class VpnRoute:
    rd: RouteDistinguisher
    prefix: Prefix
    labels: tuple[int, ...]

    @property
    def family(self) -> Family:
        return VPNV4 if self.prefix.afi == AFI.IPV4 else VPNV6

    def to_wire(self) -> tuple[bytes, bytes | None]:
        return (
            LEN_OCTET[self.prefix.length] + self.rd.raw + self.prefix.body(),
            labels_to_field(self.labels),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family.name,
            "rd": str(self.rd),
            "prefix": str(self.prefix),
            "labels": list(self.labels),
        }

    def __str__(self) -> str:
        return f"{self.rd}:{self.prefix} label {','.join(map(str, self.labels))}"


def _ip_or_none(raw: bytes) -> str | None:
    return ip_to_text(raw) if raw else None


@dataclass(frozen=True, slots=True)
class EvpnRoute:
    """An E-VPN route of any type (RFC7432 7, RFC9136 3). Fields a type lacks stay empty.
    ``labels`` are the raw 24-bit label fields: a VNI with VXLAN (RFC8365 5.1.3), an MPLS label
    shifted left by 4 with MPLS encapsulation."""

    route_type: int
    rd: RouteDistinguisher
    esi: bytes = bytes(10)
    ethernet_tag: int = 0
    mac: bytes = b""
    ip: bytes = b""  # MAC/IP address, originator IP (types 3, 4)
    prefix: Prefix | None = None  # type 5
    gateway: bytes = b""  # type 5 gateway IP
    labels: tuple[int, ...] = ()
    body: bytes = b""  # unknown route types: the route as received

    family = EVPN

    def to_wire(self) -> tuple[bytes, bytes | None]:
        t = LEN_OCTET[self.route_type]
        tag = self.ethernet_tag.to_bytes(4, "big")
        label_field = b"".join(v.to_bytes(3, "big") for v in self.labels)
        ip_part = LEN_OCTET[len(self.ip) * 8] + self.ip
        if self.route_type == EvpnRouteType.MAC_IP_ADVERTISEMENT:
            key = t + self.rd.raw + tag + LEN_OCTET[48] + self.mac + ip_part
            return key, self.esi + label_field
        if self.route_type == EvpnRouteType.IP_PREFIX:
            pfx = self.prefix or Prefix(AFI.IPV4, 0, bytes(4))
            size = 4 if pfx.afi == AFI.IPV4 else 16
            gw = self.gateway or bytes(size)
            key = t + self.rd.raw + tag + LEN_OCTET[pfx.length] + pfx.address
            return key, self.esi + gw + (label_field or bytes(3))
        if self.route_type == EvpnRouteType.ETHERNET_AUTO_DISCOVERY:
            return t + self.rd.raw + self.esi + tag, label_field or bytes(3)
        if self.route_type == EvpnRouteType.INCLUSIVE_MULTICAST_ETHERNET_TAG:
            return t + self.rd.raw + tag + ip_part, b""
        if self.route_type == EvpnRouteType.ETHERNET_SEGMENT:
            return t + self.rd.raw + self.esi + ip_part, b""
        return t + self.body, b""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "family": "evpn",
            "route_type": self.route_type,
            "name": EVPN_NAMES.get(self.route_type, "unknown"),
            "rd": str(self.rd),
        }
        t = self.route_type
        if t in (1, 2, 4, 5):
            out["esi"] = esi_to_text(self.esi)
        if t in (1, 2, 3, 5):
            out["ethernet_tag"] = self.ethernet_tag
        if t == 2:
            out["mac"] = mac_to_text(self.mac)
            out["ip"] = _ip_or_none(self.ip)
        if t in (3, 4):
            out["originator"] = _ip_or_none(self.ip)
        if t == 5:
            out["prefix"] = str(self.prefix)
            out["gateway"] = _ip_or_none(self.gateway)
        if t in (1, 2, 5):
            out["labels"] = list(self.labels)
        if t not in EVPN_NAMES:
            out["body"] = self.body.hex()
        return out

    def __str__(self) -> str:
        j = self.to_json()
        parts = [f"[type-{self.route_type}]", j["rd"]]
        for k in ("esi", "ethernet_tag", "mac", "ip", "originator", "prefix", "gateway", "labels"):
            if k in j and j[k] not in (None, [], "00:00:00:00:00:00:00:00:00:00"):
                parts.append(f"{k}={j[k]}")
        return " ".join(str(p) for p in parts)


def _evpn_from_wire(key: bytes, data: bytes | None) -> EvpnRoute:
    t = key[0]
    data = data or b""
    rd = RouteDistinguisher(key[1:9])
    if t == EvpnRouteType.MAC_IP_ADVERTISEMENT:
        iplen = key[20] >> 3
        labels = tuple(int.from_bytes(data[k : k + 3], "big") for k in range(10, len(data), 3))
        return EvpnRoute(
            t,
            rd,
            data[:10],
            int.from_bytes(key[9:13], "big"),
            key[14:20],
            key[21 : 21 + iplen],
            labels=labels,
        )
    if t == EvpnRouteType.IP_PREFIX:
        size = len(key) - 14
        afi = AFI.IPV4 if size == 4 else AFI.IPV6
        prefix = Prefix(afi, key[13], key[14:])
        return EvpnRoute(
            t,
            rd,
            data[:10],
            int.from_bytes(key[9:13], "big"),
            prefix=prefix,
            gateway=data[10 : 10 + size],
            labels=(int.from_bytes(data[10 + size : 13 + size], "big"),),
        )
    if t == EvpnRouteType.ETHERNET_AUTO_DISCOVERY:
        return EvpnRoute(
            t,
            rd,
            key[9:19],
            int.from_bytes(key[19:23], "big"),
            labels=(int.from_bytes(data[:3], "big"),),
        )
    if t == EvpnRouteType.INCLUSIVE_MULTICAST_ETHERNET_TAG:
        return EvpnRoute(t, rd, ethernet_tag=int.from_bytes(key[9:13], "big"), ip=key[14:])
    if t == EvpnRouteType.ETHERNET_SEGMENT:
        return EvpnRoute(t, rd, key[9:19], ip=key[20:])
    return EvpnRoute(t, RouteDistinguisher(bytes(8)), body=key[1:])


@dataclass(frozen=True, slots=True)
class RtMembershipRoute:
    """RFC4684 4: origin AS and route target (prefix length 0: the default, all targets;
    32..96: a prefix of the route target)."""

    length: int
    origin_as: int | None = None
    route_target: bytes = b""  # up to 8 octets

    family = RTC

    def to_wire(self) -> tuple[bytes, bytes | None]:
        if self.length == 0:
            return b"\x00", None
        body = (self.origin_as or 0).to_bytes(4, "big") + self.route_target
        return LEN_OCTET[self.length] + body[: (self.length + 7) >> 3], None

    def to_json(self) -> dict[str, Any]:
        if self.length == 0:
            return {"family": "rtc", "default": True}
        rt = self.route_target
        text = ext_community_to_text(rt) if len(rt) == 8 else "0x" + rt.hex()
        return {
            "family": "rtc",
            "origin_as": self.origin_as,
            "route_target": text,
            "length": self.length,
        }

    def __str__(self) -> str:
        if self.length == 0:
            return "default"
        j = self.to_json()
        return f"{j['origin_as']}:{j['route_target']}"


@dataclass(frozen=True, slots=True)
class OpaqueRoute:
    """A route of a family the codec does not break into fields (e.g. FlowSpec, RFC8955):
    its NLRI octets."""

    family: Family
    nlri: bytes

    def to_wire(self) -> tuple[bytes, bytes | None]:
        return self.nlri, None

    def to_json(self) -> dict[str, Any]:
        return {"family": self.family.name, "nlri": self.nlri.hex()}

    def __str__(self) -> str:
        return f"{self.family.name} {self.nlri.hex()}"


Route = IPRoute | LabeledRoute | VpnRoute | EvpnRoute | RtMembershipRoute | OpaqueRoute


def route_from_wire(family: Family, key: bytes, data: bytes | None = None) -> Route:
    afi, safi = family.afi, family.safi
    if family in (IPV4_UNICAST, IPV6_UNICAST) or safi == 2:
        return IPRoute(Prefix.from_bits(afi, key[0], key[1:]))
    if family in (IPV4_LU, IPV6_LU):
        return LabeledRoute(Prefix.from_bits(afi, key[0], key[1:]), labels_from_field(data or b""))
    if family in (VPNV4, VPNV6):
        return VpnRoute(
            RouteDistinguisher(key[1:9]),
            Prefix.from_bits(afi, key[0], key[9:]),
            labels_from_field(data or b""),
        )
    if family == EVPN:
        return _evpn_from_wire(key, data)
    if family == RTC:
        length = key[0]
        if length == 0:
            return RtMembershipRoute(0)
        body = key[1:]
        origin = int.from_bytes(body[:4], "big") if len(body) >= 4 else None
        return RtMembershipRoute(length, origin, body[4:])
    return OpaqueRoute(family, key)
