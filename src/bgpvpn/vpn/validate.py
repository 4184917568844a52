"""Checking intent at the edge of the vpn layer: each function returns the canonical form of what
the user gave or raises ``VpnError`` naming the field as the user wrote it (400). Conflicts with
the current state (409, 404) are the manager's business, not this module's."""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Sequence

from bgpvpn.vpn.model import (
    MAX_LABEL,
    MAX_VNI,
    Encapsulation,
    InstanceSpec,
    InstanceType,
    PortAttachment,
    Readvertise,
    StaticRoute,
    VpnError,
    parse_ip,
    parse_mac,
    parse_rd,
    parse_route_target,
    parse_route_targets,
    parse_vni,
)
from bgpvpn.wire.communities import community_from_text
from bgpvpn.wire.errors import TextFormError

MAX_ID = 200


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Iface:
    """An interface address, parsed once (cached by text): its canonical text, the address as
    text and packed, the prefix length; the ``ipaddress`` networks are made when first asked
    for (``ipaddress`` is slow, and an attach needs them only for IP VPN routes)."""

    __slots__ = ("_host", "_network", "ip", "length", "packed", "text")

    def __init__(self, ip: str, packed: bytes, length: int, text: str | None = None) -> None:
        self.ip = ip  # "198.51.100.1"
        self.packed = packed
        self.length = length
        self.text = text or f"{ip}/{length}"  # canonical "198.51.100.1/24"
        self._network: IpNetwork | None = None
        self._host: IpNetwork | None = None

    def _net(self, length: int) -> IpNetwork:
        n = int.from_bytes(self.packed, "big")
        if len(self.packed) == 4:
            return ipaddress.IPv4Network((n, length), strict=False)
        return ipaddress.IPv6Network((n, length), strict=False)

    @property
    def network(self) -> IpNetwork:
        """The subnet (198.51.100.0/24)."""
        if self._network is None:
            self._network = self._net(self.length)
        return self._network

    @property
    def host(self) -> IpNetwork:
        """The address as a host prefix (198.51.100.1/32)."""
        if self._host is None:
            self._host = self._net(len(self.packed) * 8)
        return self._host


def _dotted_quad(text: str) -> Iface | None:
    """``a.b.c.d[/n]`` the quick way (what ``ipaddress`` accepts: four decimal octets without
    leading zeros, a decimal length up to 32); None for anything else."""
    addr, slash, length = text.partition("/")
    try:
        packed = socket.inet_pton(socket.AF_INET, addr)  # glibc: strict dotted quad
    except OSError:
        return None
    if not slash:
        return Iface(addr, packed, 32)
    if not (0 < len(length) <= 2 and length.isascii() and length.isdigit()):
        return None
    n = int(length)
    return Iface(addr, packed, n) if n <= 32 else None


@functools.lru_cache(maxsize=65536)
def _iface(text: str) -> Iface | None:
    text = text.strip()
    quick = _dotted_quad(text) if ":" not in text else None
    if quick is not None:
        return quick
    try:
        i = ipaddress.ip_interface(text)
    except ValueError:
        return None
    return Iface(str(i.ip), i.ip.packed, i.network.prefixlen, str(i))


@functools.lru_cache(maxsize=65536)
def _rt(text: str) -> str | None:
    try:
        return parse_route_target(text, "")
    except VpnError:
        return None


def route_targets(values: object, field: str) -> tuple[str, ...]:
    """``parse_route_targets`` with each text's canonical form cached."""
    if isinstance(values, (list, tuple)) and all(isinstance(v, str) for v in values):
        out: list[str] = []
        for i, v in enumerate(values):
            rt = _rt(v)
            if rt is None:
                parse_route_target(v, f"{field}[{i}]")  # raises, naming the field
            elif rt not in out:
                out.append(rt)
        return tuple(out)
    return parse_route_targets(values, field)


def iface(text: str, field: str = "ips") -> Iface:
    """``198.51.100.1/24`` (no length: /32 or /128) parsed, or VpnError naming ``field``."""
    got = _iface(str(text))
    if got is None:
        raise VpnError(field, f"{text!r} is not an IP address with a prefix length")
    return got


def instance_id(value: object, field: str = "instance_id") -> str:
    if not isinstance(value, str) or not value.strip():
        raise VpnError(field, "must be a non-empty string")
    if len(value) > MAX_ID:
        raise VpnError(field, f"longer than {MAX_ID} characters")
    return value


def instance_type(value: object, field: str = "instance_type") -> InstanceType:
    if isinstance(value, InstanceType):
        return value
    try:
        return InstanceType(str(value))
    except ValueError:
        names = ", ".join(t.value for t in InstanceType)
        raise VpnError(field, f"{value!r} is not an instance type ({names})") from None


def encapsulation(value: object, field: str = "encapsulation") -> Encapsulation:
    if isinstance(value, Encapsulation):
        return value
    try:
        return Encapsulation(str(value))
    except ValueError:
        names = ", ".join(e.value for e in Encapsulation)
        raise VpnError(field, f"{value!r} is not an encapsulation ({names})") from None


def u32(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise VpnError(field, f"{value!r} is not a 32-bit number")
    return value


def max_vni(encap: Encapsulation, kind: InstanceType) -> int:
    """An E-VPN VXLAN VNI has 24 bits; an MPLS label, and the VNI of an IP VPN (carried as a
    label in the VPN label stack, see ``vpn.advertise``), 20."""
    if kind == InstanceType.EVPN and encap == Encapsulation.VXLAN:
        return MAX_VNI
    return MAX_LABEL


def spec(s: InstanceSpec) -> InstanceSpec:
    """The canonical form of an instance spec."""
    encap = encapsulation(s.encapsulation)
    kind = instance_type(s.instance_type)
    if s.advertise_learned and kind != InstanceType.EVPN:
        raise VpnError("advertise_learned", "only an E-VPN instance advertises learned MACs")
    return InstanceSpec(
        instance_id=instance_id(s.instance_id),
        instance_type=kind,
        import_rts=route_targets(s.import_rts, "import_rts"),
        export_rts=route_targets(s.export_rts, "export_rts"),
        rd=parse_rd(s.rd, "rd") if s.rd is not None else None,
        vni=parse_vni(s.vni, "vni", max_vni(encap, kind)) if s.vni is not None else None,
        encapsulation=encap,
        advertise_type5=bool(s.advertise_type5),
        advertise_learned=bool(s.advertise_learned),
        local_pref=u32(s.local_pref, "local_pref"),
        description=str(s.description or ""),
    )


def _port(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise VpnError("port", "must be a non-empty interface name (or 'netns')")
    if value != "netns" and (len(value) > 15 or "/" in value or any(c.isspace() for c in value)):
        raise VpnError("port", f"{value!r} is not a valid interface name (at most 15 characters)")
    return value


def attachment(a: PortAttachment) -> PortAttachment:
    """The canonical form of a port attachment (addresses, MAC, route targets)."""
    return attachment_of(
        a.instance_id,
        a.instance_type,
        a.port,
        a.mac,
        a.ips,
        gateway_ip=a.gateway_ip,
        import_rts=a.import_rts,
        export_rts=a.export_rts,
        local_pref=a.local_pref,
        advertise_subnet=a.advertise_subnet,
        readvertise=a.readvertise,
        description=a.description,
        extra=a.extra,
    )


def attachment_of(
    instance_id_: str,
    instance_type_: InstanceType | str,
    port: str,
    mac: str,
    ips: Sequence[str],
    *,
    gateway_ip: str | None = None,
    import_rts: object = (),
    export_rts: object = (),
    local_pref: object = None,
    advertise_subnet: object = False,
    readvertise: Readvertise | None = None,
    description: object = "",
    extra: dict[str, str] | None = None,
) -> PortAttachment:
    """``attachment`` from the fields themselves (one object built, not two)."""
    canonical: list[str] = []
    for i, text in enumerate(ips):
        ip = iface(text, f"ips[{i}]").text
        if ip not in canonical:
            canonical.append(ip)
    if readvertise is not None:
        readvertise = Readvertise(
            parse_route_targets(readvertise.from_rts, "readvertise.from_rts"),
            parse_route_targets(readvertise.to_rts, "readvertise.to_rts"),
        )
    return PortAttachment(
        instance_id=instance_id(instance_id_),
        instance_type=instance_type(instance_type_),
        port=_port(port),
        mac=parse_mac(mac, "mac"),
        ips=tuple(canonical),
        gateway_ip=parse_ip(gateway_ip, "gateway_ip") if gateway_ip else None,
        import_rts=route_targets(import_rts, "import_rts"),
        export_rts=route_targets(export_rts, "export_rts"),
        local_pref=u32(local_pref, "local_pref"),
        advertise_subnet=bool(advertise_subnet),
        readvertise=readvertise,
        description=str(description or ""),
        extra=extra if extra is not None else {},
    )


def static_route(
    instance: str,
    prefix: str,
    next_hop: str,
    local_pref: int | None,
    med: int | None,
    communities: tuple[str, ...],
) -> StaticRoute:
    try:
        net = ipaddress.ip_network(str(prefix).strip(), strict=False)
    except ValueError:
        raise VpnError("prefix", f"{prefix!r} is not an IPv4 or IPv6 prefix") from None
    nh = parse_ip(next_hop, "next_hop")
    comms: list[str] = []
    for i, c in enumerate(communities):
        try:
            community_from_text(str(c), f"communities[{i}]")
        except TextFormError as exc:
            raise VpnError(f"communities[{i}]", exc.reason) from None
        comms.append(str(c).strip().lower())
    return StaticRoute(
        instance_id=instance,
        prefix=str(net),
        next_hop=nh,
        local_pref=u32(local_pref, "local_pref"),
        med=u32(med, "med"),
        communities=tuple(comms),
    )
