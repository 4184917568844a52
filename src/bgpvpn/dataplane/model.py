"""Desired data-plane state, as the vpn layer computes it and drivers program it.

The vpn layer never talks to the kernel: it gives drivers batches of ``Change`` values (one
batch per API call or per received UPDATE, so a driver can program them in one netlink round
trip) and, at start or on demand, the whole ``InstanceState`` of every instance to reconcile
against. All values are immutable; addresses and MACs are canonical text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bgpvpn.vpn.model import Encapsulation, InstanceType


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


@dataclass(frozen=True, slots=True)
class RemoteMac:
    """E-VPN type-2: ``mac`` (and ``ip`` when the route has one) is behind ``vtep``."""

    mac: str
    vtep: str
    vni: int
    ip: str | None = None


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
class RemoteMacAdded:
    instance_id: str
    entry: RemoteMac


@dataclass(frozen=True, slots=True)
class RemoteMacRemoved:
    instance_id: str
    entry: RemoteMac


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
