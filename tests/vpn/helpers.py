"""Builders for vpn tests: a manager over a fresh RIB with the dummy driver, a fake intent store,
peers feeding the RIB routes through the real codec, and RIBs wired together in memory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bgpvpn.dataplane.dummy import DummyDriver
from bgpvpn.rib import PeerInfo, Rib
from bgpvpn.vpn.manager import StoredInstance, VpnManager
from bgpvpn.vpn.model import InstanceSpec, InstanceType, PortAttachment
from bgpvpn.wire import PathAttributes, UpdateMessage, WireContext, decode_message, pack_updates
from bgpvpn.wire.attributes import AsPath, PmsiTunnel
from bgpvpn.wire.communities import ext_community_from_text
from bgpvpn.wire.family import EVPN, RTC, VPNV4, VPNV6, Family
from bgpvpn.wire.routes import EvpnRoute, VpnRoute, route_from_wire
from bgpvpn.wire.text import Prefix, RouteDistinguisher, ip_from_text, mac_from_text

ASN = 65000
ALL = frozenset({VPNV4, VPNV6, EVPN, RTC})


class FakeStore:
    """An in-memory IntentStore: records committed operations; ``fail`` makes the next
    transaction raise at commit."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.transactions = 0
        self.fail = False
        self.instances: dict[str, StoredInstance] = {}
        self.attachments: dict[tuple[str, str, str], PortAttachment] = {}
        self.statics: dict[tuple[str, str], tuple[Any, ...]] = {}

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Tx]:
        tx = _Tx()
        yield tx
        if self.fail:
            raise OSError("disk full")
        self.transactions += 1
        for call in tx.ops:
            self.calls.append(call)
            op = call[0]
            if op == "put_instance":
                _, spec, index, rd, vni = call
                self.instances[spec.instance_id] = StoredInstance(spec, index, rd, vni)
            elif op == "delete_instance":
                self.instances.pop(call[1], None)
                for k in [k for k in self.attachments if k[0] == call[1]]:
                    del self.attachments[k]
            elif op == "put_attachment":
                a = call[1]
                self.attachments[(a.instance_id, a.port, a.mac)] = a
            elif op == "delete_attachment":
                self.attachments.pop(call[1:], None)
            elif op == "put_static_route":
                self.statics[(call[1], call[2])] = call
            elif op == "delete_static_route":
                self.statics.pop(call[1:], None)


@dataclass
class _Tx:
    ops: list[tuple[Any, ...]] = field(default_factory=list)

    def put_instance(self, spec: InstanceSpec, index: int, rd: str, vni: int) -> None:
        self.ops.append(("put_instance", spec, index, rd, vni))

    def delete_instance(self, instance_id: str) -> None:
        self.ops.append(("delete_instance", instance_id))

    def put_attachment(self, att: PortAttachment) -> None:
        self.ops.append(("put_attachment", att))

    def delete_attachment(self, instance_id: str, port: str, mac: str) -> None:
        self.ops.append(("delete_attachment", instance_id, port, mac))

    def put_static_route(self, instance_id: str, prefix: str, spec: dict[str, Any]) -> None:
        self.ops.append(("put_static_route", instance_id, prefix, spec))

    def delete_static_route(self, instance_id: str, prefix: str) -> None:
        self.ops.append(("delete_static_route", instance_id, prefix))


@dataclass
class Host:
    rib: Rib
    vpn: VpnManager
    driver: DummyDriver
    store: FakeStore
    vtep: str
    router_id: str


def host(
    n: int = 1, *, store: FakeStore | None = None, multipath: bool = False, rib: Rib | None = None
) -> Host:
    router_id = f"10.255.0.{n}"
    vtep = f"192.0.2.{n}"
    rib = rib or Rib(ASN, ip_from_text(router_id), multipath=multipath)
    driver = DummyDriver()
    store = store if store is not None else FakeStore()
    vpn = VpnManager(
        rib,
        local_asn=ASN,
        router_id=router_id,
        vtep=vtep,
        drivers={InstanceType.EVPN: driver, InstanceType.IPVPN: driver},
        now=lambda: 0.0,
        store=store,
    )
    return Host(rib, vpn, driver, store, vtep, router_id)


def att(
    instance: str,
    kind: InstanceType,
    port: str,
    mac: str,
    *ips: str,
    rts: tuple[str, ...] = ("64512:1",),
    **kw: Any,
) -> PortAttachment:
    return PortAttachment(
        instance, kind, port, mac, tuple(ips), import_rts=rts, export_rts=rts, **kw
    )


def evpn_att(port: str, mac: str, *ips: str, instance: str = "evi", **kw: Any) -> PortAttachment:
    return att(instance, InstanceType.EVPN, port, mac, *ips, **kw)


def vrf_att(port: str, mac: str, *ips: str, instance: str = "vrf", **kw: Any) -> PortAttachment:
    return att(instance, InstanceType.IPVPN, port, mac, *ips, **kw)


# ---------------------------------------------------------------- what the RIB holds


def local(rib: Rib, family: Family) -> dict[str, tuple[Any, PathAttributes, bytes | None]]:
    """Our announced routes of a family: text -> (typed route, attributes, data)."""
    out = {}
    for e in rib.local_routes(family):
        r = route_from_wire(family, e.key, e.data)
        out[str(r)] = (r, e.attributes, e.data)
    return out


def rib_snapshot(rib: Rib) -> dict[Family, set[tuple[bytes, bytes | None, int]]]:
    return {
        f: {(e.key, e.data, id(e.attributes)) for e in rib.local_routes(f)}
        for f in (VPNV4, VPNV6, EVPN, RTC)
    }


def ext(attrs: PathAttributes) -> set[str]:
    from bgpvpn.wire.communities import ext_community_to_text

    return {ext_community_to_text(e) for e in attrs.ext_communities}


# ---------------------------------------------------------------- peers feeding routes


def peer(n: int, *, asn: int = ASN) -> PeerInfo:
    return PeerInfo(
        peer_id=f"p{n}",
        address=bytes((198, 51, 100, n)),
        asn=asn,
        router_id=bytes((10, 0, 0, n)),
        ibgp=asn == ASN,
        local_address=bytes((198, 51, 100, 254)),
    )


def up(rib: Rib, *infos: PeerInfo) -> None:
    for info in infos:
        rib.peer_up(info, ALL)


def peer_attrs(
    next_hop: str,
    *ecs: str,
    local_pref: int | None = 100,
    pmsi: PmsiTunnel | None = None,
    as_path: tuple[int, ...] = (),
) -> PathAttributes:
    return PathAttributes(
        origin=0,
        as_path=AsPath.sequence(*as_path),
        next_hop=ip_from_text(next_hop),
        local_pref=local_pref,
        ext_communities=tuple(ext_community_from_text(e) for e in ecs),
        pmsi_tunnel=pmsi,
    )


def send(
    rib: Rib,
    info: PeerInfo,
    family: Family,
    routes: list[tuple[bytes, bytes | None]],
    attrs: PathAttributes | None,
) -> None:
    ctx = WireContext(ibgp=info.ibgp)
    keys = [k for k, _ in routes]
    data = [d or b"" for _, d in routes] if family in (VPNV4, VPNV6, EVPN) else None
    for msg in pack_updates(family, keys, data, None, attrs, ctx):
        upd = decode_message(msg, ctx)
        assert isinstance(upd, UpdateMessage) and not upd.problems, upd
        rib.receive(info.peer_id, upd, 0.0)


def vpn_wire(rd: str, prefix: str, vni: int) -> tuple[bytes, bytes | None]:
    """A VPN route whose label (bottom of stack) is ``vni``."""
    return VpnRoute(RouteDistinguisher.parse(rd), Prefix.parse(prefix), (vni,)).to_wire()


def mac_ip_wire(rd: str, mac: str, ip: str | None, vni: int) -> tuple[bytes, bytes | None]:
    r = EvpnRoute(
        2,
        RouteDistinguisher.parse(rd),
        mac=mac_from_text(mac),
        ip=ip_from_text(ip) if ip else b"",
        labels=(vni,),
    )
    return r.to_wire()


def imet_wire(rd: str, originator: str) -> tuple[bytes, bytes | None]:
    return EvpnRoute(3, RouteDistinguisher.parse(rd), ip=ip_from_text(originator)).to_wire()


# ---------------------------------------------------------------- RIBs wired together


class Mesh:
    """iBGP full mesh between hosts, in memory: ``pump`` moves UPDATEs until all are quiet."""

    def __init__(self, *hosts: Host) -> None:
        self.hosts = hosts
        self.ctx = WireContext(ibgp=True)
        for i, a in enumerate(hosts):
            for j in range(len(hosts)):
                if i != j:
                    a.rib.peer_up(self.info(j), ALL)
        self.pump()

    def info(self, j: int) -> PeerInfo:
        h = self.hosts[j]
        addr = ip_from_text(h.vtep)
        return PeerInfo(f"h{j}", addr, ASN, ip_from_text(h.router_id), True, addr)

    def pump(self) -> None:
        for _ in range(50):
            moved = False
            for i, a in enumerate(self.hosts):
                for j, b in enumerate(self.hosts):
                    if i == j:
                        continue
                    msgs = a.rib.outbound(f"h{j}", self.ctx)
                    for raw in msgs:
                        upd = decode_message(raw, self.ctx)
                        assert isinstance(upd, UpdateMessage)
                        with b.vpn.batch():
                            b.rib.receive(f"h{i}", upd, 0.0)
                        moved = True
            if not moved:
                return
        raise AssertionError("the mesh does not settle")


def norm(states: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Desired/recorded states compared as sets (order does not matter)."""
    return {
        iid: (s.config, frozenset(s.ports), frozenset(s.remote_macs), frozenset(s.routes), s.flood)
        for iid, s in states.items()
    }


def in_sync(h: Host) -> bool:
    return norm(h.driver.snapshot()) == norm(h.vpn.desired_state())
