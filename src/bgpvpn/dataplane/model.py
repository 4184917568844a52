"""Desired data-plane state, as the vpn layer computes it and drivers program it.

The vpn layer never talks to the kernel: it gives drivers batches of ``Change`` values (one
batch per API call or per received UPDATE, so a driver can program them in one netlink round
trip) and, at start or on demand, the whole ``InstanceState`` of every instance to reconcile
against. All values are immutable; addresses and MACs are canonical text (``RemoteMac`` keeps
its route's wire key and renders them when read).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bgpvpn.vpn.model import Encapsulation, InstanceType
from bgpvpn.wire.text import ip_from_text, ip_to_text, mac_from_text


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    """What a driver needs to create an instance. ``router_mac`` is the MAC this host uses as
    the inner destination of routed VXLAN traffic (RFC9136 symmetric model; advertised in the
    Router's MAC extended community): the driver gives it to the instance's VXLAN device."""

    instance_id: str
    instance_type: InstanceType
    vni: int
    encapsulation: Encapsulation
    vtep: str
    router_mac: str
    index: int  # small number unique per instance on this host, stable across restarts


@dataclass(frozen=True, slots=True)
class LocalPort:
    """An attached local port. ``netns`` set: the driver creates that namespace and a veth pair
    whose host side is ``name`` and whose namespace side carries ``mac`` and ``ips`` (with a
    default route via ``gateway_ip``)."""

    name: str
    mac: str
    ips: tuple[str, ...] = ()  # "198.51.100.1/24"
    gateway_ip: str | None = None
    netns: str | None = None


# a type-2 route key with RD and Ethernet tag zero, up to the MAC (see bgpvpn.wire.nlri)
_TYPE2_HEAD = b"\x02" + bytes(12) + b"\x30"
_ADDRESS = 14  # where the MAC starts in a type-2 key; the MAC, the IP length and the IP follow
_new_object = object.__new__


class RemoteMac:
    """E-VPN type-2: ``mac`` (and ``ip`` when the route has one) is behind ``vtep``.

    Held as the wire key of the type-2 route it comes from (``route_key``: route type, RD,
    Ethernet tag, MAC length, MAC, IP length in bits, IP; see ``bgpvpn.wire.nlri``), the object
    the RIB holds: an imported MAC costs no text, ``mac`` and ``ip`` are rendered when read. Built
    from text (``RemoteMac(mac, vtep, vni, ip)``, canonical or not) its key has RD and tag zero.
    Two entries are equal when their MAC, IP, VTEP and VNI are, whatever the RD and tag of their
    routes. Immutable: the fields are read-only properties.
    """

    __slots__ = ("_key", "_vni", "_vtep")

    def __init__(self, mac: str, vtep: str, vni: int, ip: str | None = None) -> None:
        raw_ip = ip_from_text(ip) if ip is not None else b""
        self._key = _TYPE2_HEAD + mac_from_text(mac) + bytes((len(raw_ip) * 8,)) + raw_ip
        self._vtep = vtep
        self._vni = vni

    @property
    def mac(self) -> str:
        return self._key[_ADDRESS : _ADDRESS + 6].hex(":")

    @property
    def ip(self) -> str | None:
        key = self._key
        return ip_to_text(key[_ADDRESS + 7 :]) if key[_ADDRESS + 6] else None

    @property
    def vtep(self) -> str:
        return self._vtep

    @property
    def vni(self) -> int:
        return self._vni

    @property
    def route_key(self) -> bytes:
        return self._key

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not RemoteMac:
            return NotImplemented
        return (
            self._vni == other._vni
            and self._vtep == other._vtep
            and self._key[_ADDRESS:] == other._key[_ADDRESS:]
        )

    def __hash__(self) -> int:
        return hash(self._key[_ADDRESS:]) ^ self._vni

    def __repr__(self) -> str:
        return (
            f"RemoteMac(mac={self.mac!r}, vtep={self._vtep!r}, vni={self._vni!r}, ip={self.ip!r})"
        )


def remote_mac(route_key: bytes, vtep: str, vni: int) -> RemoteMac:
    """The entry of a received type-2 route (``route_key`` its wire key), without text."""
    entry: RemoteMac = _new_object(RemoteMac)
    entry._key = route_key
    entry._vtep = vtep
    entry._vni = vni
    return entry


@dataclass(frozen=True, slots=True)
class NextHop:
    """One path of a remote IP route: the remote VTEP, the VNI/label to use, and the remote
    router MAC (VXLAN) when the route carried one. ``local`` is a route leaked from another
    instance on this host (``vtep`` is then ours)."""

    vtep: str
    vni: int
    router_mac: str | None = None
    encapsulation: Encapsulation = Encapsulation.VXLAN
    local: bool = False


@dataclass(frozen=True, slots=True)
class RemoteRoute:
    """An IP VPN (or E-VPN type-5) prefix and its ECMP set of next hops (never empty)."""

    prefix: str  # "198.51.100.20/32"
    next_hops: tuple[NextHop, ...]


# ---------------------------------------------------------------- changes


@dataclass(frozen=True, slots=True)
class InstanceCreated:
    config: InstanceConfig


@dataclass(frozen=True, slots=True)
class InstanceRemoved:
    instance_id: str


@dataclass(frozen=True, slots=True)
class PortAttached:
    instance_id: str
    port: LocalPort


@dataclass(frozen=True, slots=True)
class PortDetached:
    instance_id: str
    port: LocalPort


@dataclass(frozen=True, slots=True)
class _RemoteMacChange:
    """What RemoteMacAdded and RemoteMacRemoved hold. One is made per imported MAC: ``__init__``
    sets the two slots through their descriptors, 1.5x faster than the generated one of a frozen
    dataclass (object.__setattr__ per field); the rest (frozen, eq, hash, repr) is the
    dataclass's."""

    instance_id: str
    entry: RemoteMac

    def __init__(self, instance_id: str, entry: RemoteMac) -> None:
        _set_instance_id(self, instance_id)
        _set_entry(self, entry)


_set_instance_id = _RemoteMacChange.__dict__["instance_id"].__set__
_set_entry = _RemoteMacChange.__dict__["entry"].__set__


@dataclass(frozen=True, slots=True, init=False)
class RemoteMacAdded(_RemoteMacChange):
    pass


@dataclass(frozen=True, slots=True, init=False)
class RemoteMacRemoved(_RemoteMacChange):
    pass


@dataclass(frozen=True, slots=True)
class RemoteRouteSet:
    """Add or replace the route for ``route.prefix`` (the whole ECMP set)."""

    instance_id: str
    route: RemoteRoute


@dataclass(frozen=True, slots=True)
class RemoteRouteRemoved:
    instance_id: str
    prefix: str


@dataclass(frozen=True, slots=True)
class FloodListChanged:
    """E-VPN type-3: the remote VTEPs broadcast/unknown/multicast traffic goes to."""

    instance_id: str
    vteps: frozenset[str]


Change = (
    InstanceCreated
    | InstanceRemoved
    | PortAttached
    | PortDetached
    | RemoteMacAdded
    | RemoteMacRemoved
    | RemoteRouteSet
    | RemoteRouteRemoved
    | FloodListChanged
)


@dataclass(frozen=True, slots=True)
class InstanceState:
    """The whole desired state of one instance (for reconcile and the looking glass)."""

    config: InstanceConfig
    ports: tuple[LocalPort, ...] = ()
    remote_macs: tuple[RemoteMac, ...] = ()
    routes: tuple[RemoteRoute, ...] = ()
    flood: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class LearnedMac:
    """A MAC the data plane learned (``added``) or forgot (removed, aged out) on local ``port``
    of an E-VPN instance, without it being attached (what ``advertise_learned`` advertises)."""

    instance_id: str
    port: str
    mac: str
    added: bool


@dataclass(slots=True)
class ReconcileReport:
    """What a reconcile found and did: text lines per kind of object, e.g.
    ``removed["fdb"] = ["52:54:00:00:02:01 dev vx-100 dst 203.0.113.2"]``."""

    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.added.values()) or any(self.removed.values())
