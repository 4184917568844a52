"""The intent the vpn layer is driven by: VPN instances and port attachments, as users state them.

These are plain immutable values, validated once at the edge (``parse_*`` helpers raise
``VpnError`` naming the field), stored as they are by ``bgpvpn.store`` and given back on restart.
Text forms are canonical (route targets ``64512:79``, MACs lowercase ``52:54:00:00:00:01``,
interface addresses ``198.51.100.1/24``) so that equal intent compares equal.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum

from bgpvpn.wire.communities import ext_community_to_text, route_target_from_text
from bgpvpn.wire.errors import TextFormError
from bgpvpn.wire.text import RouteDistinguisher, mac_from_text, mac_to_text

MAX_VNI = 0xFFFFFF
MAX_LABEL = 0xFFFFF


class InstanceType(StrEnum):
    IPVPN = "ipvpn"  # a VRF: VPNv4/VPNv6 routes
    EVPN = "evpn"  # an EVI: E-VPN type-2/3 (and type-5 when asked) routes


class Encapsulation(StrEnum):
    VXLAN = "vxlan"
    MPLS = "mpls"
    MPLS_GRE = "mpls-gre"
    MPLS_UDP = "mpls-udp"


class VpnError(ValueError):
    """A request the vpn layer refuses; nothing was changed. ``status`` is the HTTP status the
    API answers with: 400 malformed, 404 unknown instance/port, 409 conflicts with the state."""

    def __init__(self, field: str, reason: str, status: int = 400) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class Readvertise:
    """BaGPipe's readvertise option: routes imported with ``from_rts`` are re-advertised with
    ``to_rts`` (next hop self)."""

    from_rts: tuple[str, ...]
    to_rts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """A VPN instance as configured. ``rd`` None: derived (type 1, ``router-id:N``, unique per
    instance, kept across restarts by the store). ``vni`` is the VXLAN VNI (E-VPN) or the
    label/VNI of an IP VPN; None: allocated."""

    instance_id: str
    instance_type: InstanceType
    import_rts: tuple[str, ...] = ()
    export_rts: tuple[str, ...] = ()
    rd: str | None = None
    vni: int | None = None
    encapsulation: Encapsulation = Encapsulation.VXLAN
    advertise_type5: bool = False  # E-VPN: also type-5 routes for port subnets (RFC9136)
    # E-VPN: MACs the bridge learned on a local port (not attached) are advertised as type-2
    advertise_learned: bool = False
    local_pref: int | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class PortAttachment:
    """One port in one instance, with the fields BaGPipe's attach_localport takes. ``port`` is an
    interface name, or ``netns`` to have the data plane create a namespace and a veth pair (see
    ``netns_port_names``). ``ips`` are interface addresses with prefix length."""

    instance_id: str
    instance_type: InstanceType
    port: str
    mac: str
    ips: tuple[str, ...] = ()
    gateway_ip: str | None = None
    import_rts: tuple[str, ...] = ()
    export_rts: tuple[str, ...] = ()
    local_pref: int | None = None
    advertise_subnet: bool = False
    readvertise: Readvertise | None = None
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class StaticRoute:
    """A static route added into an instance (``VpnManager.add_static_route``): advertised with
    the instance's export RTs and its RD, next hop this host's VTEP (IP VPN: VPNv4/VPNv6; E-VPN:
    type-5). ``next_hop`` is where this host forwards the traffic (kept with the intent)."""

    instance_id: str
    prefix: str  # canonical network, "203.0.113.0/24"
    next_hop: str
    local_pref: int | None = None
    med: int | None = None
    communities: tuple[str, ...] = ()


# ---------------------------------------------------------------- validation helpers


@functools.lru_cache(maxsize=65536)
def rt_raw(text: str) -> bytes:
    """A route target's wire form (``TextFormError`` if it is not one), cached: the same texts
    come back in every call that names them (validation, the export and import lists)."""
    return route_target_from_text(text.removeprefix("target:"))


def parse_route_target(text: str, field: str) -> str:
    """``64512:79``, ``target:64512:79``, ``192.0.2.1:5``, ``4200000000L:7`` -> canonical."""
    try:
        raw = rt_raw(str(text))
    except TextFormError as exc:
        raise VpnError(field, exc.reason) from None
    return ext_community_to_text(raw).removeprefix("target:")


def parse_route_targets(values: object, field: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [v for v in values.replace(",", " ").split() if v]
    if not isinstance(values, (list, tuple)):
        raise VpnError(field, "expected a list of route targets")
    out: list[str] = []
    for i, v in enumerate(values):
        rt = parse_route_target(v, f"{field}[{i}]")
        if rt not in out:
            out.append(rt)
    return tuple(out)


def parse_rd(text: str, field: str) -> str:
    try:
        return str(RouteDistinguisher.parse(str(text), field))
    except TextFormError as exc:
        raise VpnError(field, exc.reason) from None


def parse_mac(text: str, field: str) -> str:
    try:
        return mac_to_text(mac_from_text(str(text), field))
    except TextFormError as exc:
        raise VpnError(field, exc.reason) from None


def parse_interface_address(text: str, field: str) -> str:
    """``198.51.100.1/24`` (a host address with the subnet's length; no length means /32 or
    /128) -> canonical."""
    try:
        iface = ipaddress.ip_interface(str(text).strip())
    except ValueError:
        raise VpnError(field, f"{text!r} is not an IP address with a prefix length") from None
    return str(iface)


def parse_ip(text: str, field: str) -> str:
    try:
        return str(ipaddress.ip_address(str(text).strip()))
    except ValueError:
        raise VpnError(field, f"{text!r} is not an IPv4 or IPv6 address") from None


def parse_vni(value: object, field: str, maximum: int = MAX_VNI) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise VpnError(field, f"{value!r} is not an integer") from None
    if not 1 <= value <= maximum:
        raise VpnError(field, f"{value} is out of range 1..{maximum}")
    return value


def netns_port_names(instance_id: str, mac: str) -> tuple[str, str]:
    """For ``port = "netns"``: the (host-side veth name, namespace name) bgpvpn creates, derived
    from the instance and MAC so that detach finds them again. Names fit IFNAMSIZ (15)."""
    digest = hashlib.sha1(f"{instance_id}|{mac}".encode()).hexdigest()[:8]
    return f"bvp{digest}", f"bvns-{digest}"
