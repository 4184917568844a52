"""One VPN instance (an IP VPN VRF or an E-VPN EVI) once the manager has accepted it: its ports,
static routes, the routes it advertises (announced to the RIB, grouped by what caused them so
that each is withdrawn with the exact key it was advertised with), its RIB subscriptions (one per
import RT and family) and the ``ImportTable`` of what it imported.

No validation here: the manager checks everything before calling in.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import replace

from bgpvpn.dataplane.model import (
    Change,
    InstanceConfig,
    InstanceCreated,
    InstanceRemoved,
    InstanceState,
    LocalPort,
    PortAttached,
    PortDetached,
)
from bgpvpn.rib.decision import PathSource
from bgpvpn.rib.table import RawCallback, Rib, Subscription
from bgpvpn.vpn.advertise import (
    Advert,
    AdvertContext,
    evpn_imet_route,
    evpn_port_routes,
    ipvpn_port_routes,
    readvertised,
    static_advert,
)
from bgpvpn.vpn.imports import T_IMET, T_MAC_IP, T_PREFIX, AttrInfo, ImportTable, attr_info
from bgpvpn.vpn.model import (
    InstanceSpec,
    InstanceType,
    PortAttachment,
    StaticRoute,
    netns_port_names,
    rt_raw,
)
from bgpvpn.vpn.validate import iface
from bgpvpn.wire.attributes import PathAttributes
from bgpvpn.wire.family import EVPN, VPNV4, VPNV6, Family
from bgpvpn.wire.text import RouteDistinguisher, mac_from_text

# ("imet",), ("port", port, mac), ("learned", mac), ("static", prefix), ("readv", prefix)
Owner = tuple[str, ...]
FamilyKey = tuple[Family, bytes]
Journal = Callable[[FamilyKey, Advert | None, Advert | None], None]


@functools.lru_cache(maxsize=4096)
@functools.lru_cache(maxsize=64)
def _packed_address(text: str) -> bytes:
    """The VTEP's packed form (the same few addresses for every instance)."""
    return ipaddress.ip_address(text).packed


def local_port(instance_id: str, att: PortAttachment) -> LocalPort:
    if att.port == "netns":
        name, ns = netns_port_names(instance_id, att.mac)
        return LocalPort(name, att.mac, att.ips, att.gateway_ip, ns)
    return LocalPort(att.port, att.mac, att.ips, att.gateway_ip)


class Instance:
    def __init__(
        self,
        spec: InstanceSpec,
        index: int,
        rd: str,
        vni: int,
        router_mac: str,
        *,
        vtep: str,
        rib: Rib,
        now: Callable[[], float],
        emit: Callable[[Change], None],
        journal: Journal,
        source_of: Callable[[str], PathSource],
        on_imports: Callable[[str], None],
    ) -> None:
        self.on_imports = on_imports
        self.spec = spec
        self.index = index
        self.rd = rd
        self.vni = vni
        self.router_mac = router_mac
        self.vtep = vtep
        self.rib = rib
        self.now = now
        self.emit = emit
        self.journal = journal
        self.evpn = spec.instance_type == InstanceType.EVPN
        rd_obj = RouteDistinguisher.parse(rd)
        self.ctx = AdvertContext(
            rd=rd_obj,
            vni=vni,
            encap=spec.encapsulation,
            vtep=_packed_address(vtep),
            router_mac=mac_from_text(router_mac),
            export_rts=tuple(rt_raw(t) for t in spec.export_rts),
            local_pref=spec.local_pref,
        )
        self.config = InstanceConfig(
            spec.instance_id, spec.instance_type, vni, spec.encapsulation, vtep, router_mac, index
        )
        self.table = ImportTable(
            spec.instance_id,
            rd_obj.raw,
            vtep,
            emit,
            source_of,
            rib.policy,
            frozenset({T_MAC_IP, T_IMET, T_PREFIX}) if self.evpn else frozenset({T_PREFIX}),
            on_local_mac=self._local_mac_changed,
            on_best=self._best_changed,
        )
        self.ports: dict[tuple[str, str], PortAttachment] = {}
        self.mac_port: dict[str, str] = {}
        # MACs the data plane learned on a local port (advertise_learned): mac -> port; not
        # intent (never stored), rebuilt from the kernel
        self.learned: dict[str, str] = {}
        # every MAC the data plane reported learned (mac -> port), advertised or not
        self._heard: dict[str, str] = {}
        self.ip_owner: dict[str, tuple[str, str]] = {}
        self.statics: dict[str, StaticRoute] = {}
        self._owned: dict[Owner, dict[FamilyKey, Advert]] = {}
        self._owner_of: dict[FamilyKey, Owner] = {}
        self._subs: dict[str, list[Subscription]] = {}
        self._import_raw: frozenset[bytes] = frozenset()
        self._readv: dict[str, tuple[bytes, ...]] = {}  # prefix -> to_rts readvertised
        self._readv_rules: list[tuple[frozenset[bytes], tuple[bytes, ...]]] = []

    @property
    def instance_id(self) -> str:
        return self.spec.instance_id

    # ---------------------------------------------------------------- life cycle

    def start(self) -> None:
        self.emit(InstanceCreated(self.config))
        if self.evpn:
            self._set_owned(("imet",), [evpn_imet_route(self.ctx)])
        self._subscribe(self.spec.import_rts)

    def stop(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                self.rib.unsubscribe(sub)
        self._subs.clear()
        for owner in list(self._owned):
            self._set_owned(owner, [])
        self.table.clear()
        # the table's callbacks are bound methods of this instance: without them no reference
        # cycle is left, so a removed instance is freed at once even when the GC policy has
        # frozen it (a frozen cycle is never collected)
        self.table.on_local_mac = self.table.on_best = None
        self.learned.clear()
        self._heard.clear()
        self.emit(InstanceRemoved(self.instance_id))

    def _subscribe(self, rts: Iterable[str]) -> None:
        table = self.table
        fams: list[tuple[Family, RawCallback]] = [(EVPN, table.raw_evpn)]
        if not self.evpn:
            fams = [(VPNV4, table.raw_vpnv4), (VPNV6, table.raw_vpnv6), *fams]
        for rt in rts:
            if rt in self._subs:
                continue
            raw = rt_raw(rt)
            self._import_raw = self._import_raw | {raw}
            self.on_imports(self.spec.instance_id)
            self._subs[rt] = [self.rib.subscribe_raw(fam, raw, cb) for fam, cb in fams]

    # ---------------------------------------------------------------- intent changes

    def set_route_targets(self, imports: tuple[str, ...], exports: tuple[str, ...]) -> None:
        old = self.spec
        self.spec = replace(old, import_rts=imports, export_rts=exports)
        gone = [rt for rt in old.import_rts if rt not in imports]
        if gone:
            for rt in gone:
                for sub in self._subs.pop(rt, ()):
                    self.rib.unsubscribe(sub)
            keep = frozenset(rt_raw(t) for t in imports)
            self._import_raw = keep
            self.on_imports(self.spec.instance_id)

            def wanted(info: AttrInfo) -> bool:
                return bool(info.rts & keep)

            self.table.purge(wanted)
        self._subscribe(imports)
        if exports != old.export_rts:
            self.ctx = replace(self.ctx, export_rts=tuple(rt_raw(t) for t in exports))
            self._refresh_all()

    def set_local_pref(self, local_pref: int | None) -> None:
        if local_pref == self.spec.local_pref:
            return
        self.spec = replace(self.spec, local_pref=local_pref)
        self.ctx = replace(self.ctx, local_pref=local_pref)
        self._refresh_all()

    def set_description(self, description: str) -> None:
        self.spec = replace(self.spec, description=description)

    def attach(self, att: PortAttachment) -> None:
        """Attach a port, or update an attached (port, MAC) (``att`` is the merged one)."""
        pk = (att.port, att.mac)
        old = self.ports.get(pk)
        if old is not None:
            for ip in old.ips:
                self.ip_owner.pop(iface(ip).ip, None)
        self.ports[pk] = att
        if self.learned.pop(att.mac, None) is not None:  # attached now: its port's route
            self._set_owned(("learned", att.mac), [])
        self.mac_port[att.mac] = att.port
        for ip in att.ips:
            self.ip_owner[iface(ip).ip] = pk
        if self.evpn:
            self.table.claim_local(mac_from_text(att.mac), fresh=old is None)
        self._advertise_port(att)
        port = local_port(self.instance_id, att)
        if old is None or local_port(self.instance_id, old) != port:
            self.emit(PortAttached(self.instance_id, port))
        if att.readvertise is not None and (old is None or old.readvertise != att.readvertise):
            self._readvertise_rules_changed()

    def detach(self, port: str, mac: str) -> PortAttachment:
        att = self.ports.pop((port, mac))
        self.mac_port.pop(mac, None)
        for ip in att.ips:
            self.ip_owner.pop(iface(ip).ip, None)
        self._set_owned(("port", port, mac), [])
        if self.evpn:
            self.table.release_local(mac_from_text(mac))
        self.emit(PortDetached(self.instance_id, local_port(self.instance_id, att)))
        if att.readvertise is not None:
            self._readvertise_rules_changed()
        return att

    def learn(self, port: str, mac: str, added: bool) -> bool:
        """A MAC the data plane learned (``added``) or forgot on local ``port``: with
        ``advertise_learned``, a MAC-only type-2 route for it, its MAC Mobility sequence handled
        as for an attached MAC. Never for a MAC attached here. True when something changed."""
        if not self.evpn:
            return False
        if added:  # heard whatever advertise_learned says: it may be turned on later
            self._heard[mac] = port
        else:
            self._heard.pop(mac, None)
        if not self.spec.advertise_learned or mac in self.mac_port:
            return False
        raw = mac_from_text(mac)
        if not added:
            if self.learned.pop(mac, None) is None:
                return False
            self._set_owned(("learned", mac), [])
            self.table.release_local(raw)
            return True
        old = self.learned.get(mac)
        if old == port:
            return False
        self.learned[mac] = port
        if old is None:
            self.table.claim_local(raw, fresh=True)
        self._advertise_learned(mac)
        return True

    def set_advertise_learned(self, on: bool) -> None:
        """Turn the advertisement of learned MACs on (the MACs heard so far are advertised) or
        off (their routes are withdrawn; the MACs stay heard)."""
        if on == self.spec.advertise_learned:
            return
        self.spec = replace(self.spec, advertise_learned=on)
        if on:
            for mac, port in list(self._heard.items()):
                self.learn(port, mac, True)
            return
        for mac in list(self.learned):
            self._set_owned(("learned", mac), [])
            self.table.release_local(mac_from_text(mac))
        self.learned.clear()

    def _advertise_learned(self, mac: str) -> None:
        att = PortAttachment(self.instance_id, InstanceType.EVPN, self.learned[mac], mac)
        raw = mac_from_text(mac)
        routes = evpn_port_routes(self.ctx, att, self.table.local_sequence(raw), False)
        if not self.table.local_wins(raw):
            routes = []
        self._set_owned(("learned", mac), routes)

    def _readvertise_rules_changed(self) -> None:
        self._readv_rules = [
            (frozenset(rt_raw(t) for t in rv.from_rts), tuple(rt_raw(t) for t in rv.to_rts))
            for att in self.ports.values()
            if (rv := att.readvertise) is not None
        ]
        self.table.rebest_all()

    def add_static(self, static: StaticRoute) -> None:
        self.statics[static.prefix] = static
        self._set_owned(("static", static.prefix), [static_advert(self.ctx, static, self.evpn)])

    def remove_static(self, prefix: str) -> None:
        del self.statics[prefix]
        self._set_owned(("static", prefix), [])

    # ---------------------------------------------------------------- advertisement

    def _advertise_port(self, att: PortAttachment) -> None:
        owner = ("port", att.port, att.mac)
        if not self.evpn:
            self._set_owned(owner, ipvpn_port_routes(self.ctx, att))
            return
        mac = mac_from_text(att.mac)
        routes = evpn_port_routes(
            self.ctx, att, self.table.local_sequence(mac), self.spec.advertise_type5
        )
        if not self.table.local_wins(mac):  # a remote route with a higher sequence holds it
            routes = [r for r in routes if r.key[0] != T_MAC_IP]
        self._set_owned(owner, routes)

    def _refresh_all(self) -> None:
        if self.evpn:
            self._set_owned(("imet",), [evpn_imet_route(self.ctx)])
        for att in self.ports.values():
            self._advertise_port(att)
        for mac in self.learned:
            self._advertise_learned(mac)
        for static in self.statics.values():
            self.add_static(static)
        for prefix, to_rts in self._readv.items():
            self._set_owned(("readv", prefix), [readvertised(self.ctx, prefix, to_rts, self.evpn)])

    def _set_owned(self, owner: Owner, adverts: list[Advert]) -> None:
        """Make ``owner``'s advertised routes exactly ``adverts``: withdraw the others with the
        key they were advertised with, announce new and changed ones."""
        old = self._owned.get(owner, {})
        new = {(a.family, a.key): a for a in adverts}
        rib = self.rib
        owner_of = self._owner_of
        for fk, a in old.items():
            if fk not in new and owner_of.get(fk) == owner:
                rib.withdraw(a.family, a.key)
                del owner_of[fk]
                self.journal(fk, a, None)
        now = self.now()
        for fk, a in new.items():
            holder = owner_of.get(fk)
            if holder is not None and holder != owner:
                continue  # another cause advertises the same route; it stays theirs
            o = old.get(fk)
            if o is not None and o.attrs is a.attrs and o.data == a.data:
                continue
            rib.announce(a.family, a.key, a.data, a.attrs, now)
            owner_of[fk] = owner
            self.journal(fk, o, a)
        if new:
            self._owned[owner] = new
        else:
            self._owned.pop(owner, None)

    def advertised(self) -> list[Advert]:
        return [self._owned[o][fk] for fk, o in self._owner_of.items()]

    # ---------------------------------------------------------------- import callbacks

    def _local_mac_changed(self, mac: bytes, winning: bool) -> None:
        """MAC mobility: a remote route took one of our MACs (withdraw our type-2) or let it go
        (advertise it again)."""
        text = ":".join(f"{b:02x}" for b in mac)
        port = self.mac_port.get(text)
        if port is not None:
            self._advertise_port(self.ports[(port, text)])
        elif text in self.learned:
            self._advertise_learned(text)

    def _best_changed(self, prefix: str, chosen: tuple[PathAttributes, ...] | None) -> None:
        """BaGPipe readvertise: a prefix imported with a ``from_rts`` RT is advertised again with
        the ``to_rts``, our RD, label and next hop."""
        if not self._readv_rules and prefix not in self._readv:
            return
        to_rts: list[bytes] = []
        if chosen:
            rts: set[bytes] = set()
            for a in chosen:
                rts |= attr_info(a).rts
            for from_rts, to in self._readv_rules:
                if from_rts & rts:
                    to_rts.extend(to)
        owner = ("readv", prefix)
        if to_rts:
            rts_t = tuple(dict.fromkeys(to_rts))
            self._readv[prefix] = rts_t
            self._set_owned(owner, [readvertised(self.ctx, prefix, rts_t, self.evpn)])
        elif prefix in self._readv:
            del self._readv[prefix]
            self._set_owned(owner, [])

    # ---------------------------------------------------------------- state

    def desired_state(self) -> InstanceState:
        t = self.table
        return InstanceState(
            self.config,
            tuple(local_port(self.instance_id, a) for a in self.ports.values()),
            tuple(t.remote_macs()),
            tuple(t.routes.values()),
            t.flood(),
        )
