"""What one instance imported from the RIB, and its own best path: the routes the RIB's
subscriptions give it (by import RT), grouped into destinations, turned into the desired
data-plane state and handed to the driver as ``Change`` values.

Held compactly, with no object and no text per route: each route's wire key (the RIB's own
``bytes``) maps to a ``Path`` shared by every route with the same attributes (the RIB's interned
objects), peer and data, which also holds what they mean (VTEP, encapsulation, router MAC, MAC
Mobility sequence, route targets: ``AttrInfo``, computed once per attribute set; the VNI or
label). A MAC with one route is held as the ``RemoteMac`` given to the driver, which keeps the
route's key and renders MAC and IP text only when read (the API, the looking glass).

- IP destinations (VPNv4/VPNv6 and E-VPN type-5, keyed by the prefix without the RD): the
  RFC4271 decision process (``rib.decision.compare``) between the routes of different RDs, and
  the ECMP set of those equal to the best up to ``MULTIPATH_LAST_STEP``.
- E-VPN type-2, by MAC: RFC7432 15 MAC mobility. The highest sequence number wins, ties go to the
  lowest VTEP address; a MAC attached here competes with its own sequence (``claim_local``).
- E-VPN type-3: the flood list (PMSI tunnel endpoint, else the originator address).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bgpvpn.dataplane.model import (
    Change,
    FloodListChanged,
    NextHop,
    RemoteMac,
    RemoteMacAdded,
    RemoteMacRemoved,
    RemoteRoute,
    RemoteRouteRemoved,
    RemoteRouteSet,
    remote_mac,
)
from bgpvpn.rib.decision import MULTIPATH_LAST_STEP, PathSource, Policy, compare
from bgpvpn.rib.table import LOCAL_PEER, ChangeKind, PeerId
from bgpvpn.vpn.advertise import ENCAP_OF, PMSI_INGRESS_REPLICATION
from bgpvpn.vpn.model import Encapsulation
from bgpvpn.wire.attributes import PathAttributes
from bgpvpn.wire.communities import EC_EVPN, EC_TRANSITIVE_OPAQUE, SUB_ENCAPSULATION
from bgpvpn.wire.family import EVPN, VPNV4, VPNV6
from bgpvpn.wire.routes import EvpnRoute, VpnRoute, route_from_wire
from bgpvpn.wire.text import ip_from_text, ip_to_text, mac_to_text

T_MAC_IP = 2
T_IMET = 3
T_PREFIX = 5
T_VPN = 0  # the route kind of a VPNv4/VPNv6 route (E-VPN kinds are their route types)
_V4_MAPPED = bytes(10) + b"\xff\xff"
_CACHE_MAX = 50_000


@dataclass(frozen=True, slots=True)
class AttrInfo:
    """What an attribute set says to the vpn layer."""

    vtep: str
    vtep_raw: bytes
    encap: Encapsulation | None  # None: no encapsulation community (MPLS per RFC4364/7432)
    router_mac: str | None
    seq: int
    sticky: bool
    rts: frozenset[bytes]


def next_hop_address(nh: bytes) -> bytes:
    """The address in a next hop field: plain (4, 16), VPN with its zero RD (12, 24), IPv6
    global + link-local (32, 48: the global one), IPv4-mapped IPv6 -> IPv4."""
    n = len(nh)
    if n in (12, 24, 48):
        nh = nh[8:] if n == 12 else nh[8:24]
    elif n == 32:
        nh = nh[:16]
    if len(nh) == 16 and nh[:12] == _V4_MAPPED:
        nh = nh[12:]
    return nh


# keyed by id(): the entry holds the attribute set, so its id cannot be reused while cached
_info_cache: dict[int, tuple[PathAttributes, AttrInfo]] = {}


def attr_info(attrs: PathAttributes) -> AttrInfo:
    hit = _info_cache.get(id(attrs))
    if hit is not None:
        return hit[1]
    vtep_raw = next_hop_address(attrs.next_hop or b"")
    encap: Encapsulation | None = None
    router_mac = None
    seq = 0
    sticky = False
    for ec in attrs.ext_communities:
        t, sub = ec[0], ec[1]
        if t == EC_TRANSITIVE_OPAQUE and sub == SUB_ENCAPSULATION:
            encap = ENCAP_OF.get(int.from_bytes(ec[6:8], "big"), encap)
        elif t == EC_EVPN and sub == 3:
            router_mac = mac_to_text(ec[2:8])
        elif t == EC_EVPN and sub == 0:
            seq = int.from_bytes(ec[4:8], "big")
            sticky = bool(ec[2] & 1)
    info = AttrInfo(
        ip_to_text(vtep_raw),
        vtep_raw,
        encap,
        router_mac,
        seq,
        sticky,
        frozenset(attrs.route_targets),
    )
    if len(_info_cache) >= _CACHE_MAX:
        _info_cache.clear()
    _info_cache[id(attrs)] = (attrs, info)
    return info


_VXLAN = Encapsulation.VXLAN
_REMOVED = ChangeKind.REMOVED
_ADDED = ChangeKind.ADDED


def label_to_vni(field: bytes, encap: Encapsulation | None) -> int:
    """A 24-bit label field: the VNI itself with VXLAN, else an MPLS label (>> 4)."""
    raw = int.from_bytes(field, "big")
    return raw if encap is _VXLAN else raw >> 4


class Path:
    """An imported route's attributes (the RIB's interned set), peer and data (the NLRI's label,
    ESI...), with what they mean: ``info`` (of the attributes) and ``vni``, the VNI or label the
    route gives (type-2: label 1; type-5: its label field; type-3: the PMSI tunnel's; VPN: the
    first label). One object for every route with the same ones (``shared_path``)."""

    __slots__ = ("attrs", "data", "info", "peer", "vni")

    def __init__(self, attrs: PathAttributes, peer: PeerId, data: bytes, kind: int) -> None:
        info = attr_info(attrs)
        self.attrs = attrs
        self.peer = peer
        self.data = data
        self.info = info
        if kind == T_MAC_IP:
            self.vni = label_to_vni(data[10:13], info.encap)
        elif kind == T_PREFIX:
            self.vni = label_to_vni(data[-3:], info.encap)
        elif kind == T_IMET:
            pmsi = attrs.pmsi_tunnel
            self.vni = label_to_vni(pmsi.label.to_bytes(3, "big"), info.encap) if pmsi else 0
        else:
            self.vni = label_to_vni(data[:3], None)

    def same(self, attrs: PathAttributes, peer: PeerId, data: bytes) -> bool:
        return self.attrs is attrs and self.peer == peer and self.data == data


# (id of the attributes, peer, data, route kind) -> the shared Path (which holds the attributes,
# so the id is not reused while cached)
_path_cache: dict[tuple[int, PeerId, bytes, int], Path] = {}


def shared_path(attrs: PathAttributes, peer: PeerId, data: bytes, kind: int) -> Path:
    """The ``Path`` of a route of ``kind`` (an E-VPN route type, or ``T_VPN``)."""
    ck = (id(attrs), peer, data, kind)
    path = _path_cache.get(ck)
    if path is None:
        path = Path(attrs, peer, data, kind)
        if len(_path_cache) >= _CACHE_MAX:
            _path_cache.clear()
        _path_cache[ck] = path
    return path


def _mac_entry(key: bytes, path: Path) -> RemoteMac:
    """The data-plane entry of a type-2 route: its MAC (and IP) behind the route's VTEP."""
    return remote_mac(key, path.info.vtep, path.vni)


class _MacRoutes:
    """A MAC that is not simply one route programmed as its entry: the keys of its routes and
    the entries given to the driver (none while a MAC attached here wins)."""

    __slots__ = ("entries", "keys")

    def __init__(self, keys: tuple[bytes, ...], entries: tuple[RemoteMac, ...]) -> None:
        self.keys = keys
        self.entries = entries


# what ImportTable.macs holds per MAC: its only route, programmed as this entry; or _MacRoutes
MacState = RemoteMac | _MacRoutes


def _keys_of(state: MacState | None) -> tuple[bytes, ...]:
    if state is None:
        return ()
    if type(state) is RemoteMac:
        return (state.route_key,)
    assert isinstance(state, _MacRoutes)
    return state.keys


def _entries_of(state: MacState | None) -> tuple[RemoteMac, ...]:
    if state is None:
        return ()
    if type(state) is RemoteMac:
        return (state,)
    assert isinstance(state, _MacRoutes)
    return state.entries


def _dest_text(dest: bytes) -> str:
    v4 = dest[0] == 4
    addr = dest[2:].ljust(4 if v4 else 16, b"\x00")
    net = ipaddress.ip_network((ipaddress.ip_address(addr), dest[1]), strict=False)
    return str(net)


def _is_evpn(ik: bytes) -> bool:
    return ik[0] != 0xFF and len(ik) >= 18


def _vpn_dest(ik: bytes) -> bytes:
    """Destination of a VPN route: address family, prefix length, significant octets (the
    prefix without the RD)."""
    if ik[0] == 0xFF:
        return bytes((6, ik[1])) + ik[10:]
    return bytes((4, ik[0])) + ik[9:]


def _t5_dest(key: bytes) -> bytes:
    plen = key[13]
    addr = key[14:]
    return bytes((4 if len(addr) == 4 else 6, plen)) + addr[: (plen + 7) >> 3]


def _mac_of(key: bytes) -> bytes:
    """The MAC (6 octets) of a type-2 key."""
    return key[14:20]


@dataclass(frozen=True, slots=True)
class ImportedPath:
    """One imported route of a destination, for the API."""

    route: str
    rd: str
    next_hop: str
    vni: int
    peer: str
    encapsulation: str | None
    router_mac: str | None = None
    mac: str | None = None
    ip: str | None = None
    sequence: int | None = None
    chosen: bool = False
    ecmp: bool = False
    local: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "route": self.route,
            "rd": self.rd,
            "next_hop": self.next_hop,
            "vni": self.vni,
            "peer": self.peer,
            "encapsulation": self.encapsulation,
            "router_mac": self.router_mac,
            "mac": self.mac,
            "ip": self.ip,
            "sequence": self.sequence,
            "chosen": self.chosen,
            "ecmp": self.ecmp,
            "local": self.local,
        }


@dataclass(frozen=True, slots=True)
class ImportedDestination:
    """A prefix (IP), a MAC (E-VPN type-2) or ``flood`` (type-3) and its imported paths."""

    kind: str  # "prefix" | "mac" | "flood"
    destination: str
    paths: tuple[ImportedPath, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "destination": self.destination,
            "paths": [p.to_json() for p in self.paths],
        }


class ImportTable:
    """The imported routes of one instance and the desired state derived from them."""

    def __init__(
        self,
        instance_id: str,
        own_rd: bytes,
        vtep: str,
        emit: Callable[[Change], None],
        source_of: Callable[[str], PathSource],
        policy: Policy,
        evpn_types: frozenset[int],
        on_local_mac: Callable[[bytes, bool], None] | None = None,
        on_best: Callable[[str, tuple[PathAttributes, ...] | None], None] | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.own_rd = own_rd
        self.vtep = vtep
        self.vtep_raw = ip_from_text(vtep)
        self.emit = emit
        self.source_of = source_of
        self.policy = policy
        self.evpn_types = evpn_types
        self.on_local_mac = on_local_mac
        self.on_best = on_best
        self.paths: dict[bytes, Path] = {}
        self.dests: dict[bytes, tuple[bytes, ...]] = {}
        self.routes: dict[bytes, RemoteRoute] = {}
        # by MAC (6 octets): its routes and the entries given to the driver (see MacState)
        self.macs: dict[bytes, MacState] = {}
        self.local_seq: dict[bytes, int] = {}
        self.local_winning: dict[bytes, bool] = {}
        self.flood_keys: dict[bytes, str] = {}
        self.flood_count: dict[str, int] = {}

    # ---------------------------------------------------------------- RIB callbacks
    # For ``Rib.subscribe_raw``. Internal keys: the wire key, with VPNv6 keys tagged 0xff in
    # front (a VPNv4 and a VPNv6 /32 can have the same wire key). E-VPN keys (types 2, 3, 5) are
    # at least 18 octets, VPNv4 keys at most 13, so the kind of an internal key is known from its
    # shape.

    def raw_vpnv4(
        self,
        kind: ChangeKind,
        key: bytes,
        attrs: PathAttributes | None,
        data: bytes | None,
        peer: PeerId | None,
        p_attrs: PathAttributes | None,
        p_data: bytes | None,
        p_peer: PeerId | None,
    ) -> None:
        self._on_change(key, False, kind, key, attrs, data, peer, p_attrs, p_data, p_peer)

    def raw_vpnv6(
        self,
        kind: ChangeKind,
        key: bytes,
        attrs: PathAttributes | None,
        data: bytes | None,
        peer: PeerId | None,
        p_attrs: PathAttributes | None,
        p_data: bytes | None,
        p_peer: PeerId | None,
    ) -> None:
        self._on_change(b"\xff" + key, False, kind, key, attrs, data, peer, p_attrs, p_data, p_peer)

    def raw_evpn(
        self,
        kind: ChangeKind,
        key: bytes,
        attrs: PathAttributes | None,
        data: bytes | None,
        peer: PeerId | None,
        p_attrs: PathAttributes | None,
        p_data: bytes | None,
        p_peer: PeerId | None,
    ) -> None:
        t = key[0]
        if t not in self.evpn_types:
            return
        if t == T_MAC_IP and kind is _ADDED and attrs is not None and peer is not None:
            # the common cases, kept short: the same route again (a route carrying several of
            # our RTs is reported once per RT), and a remote route of a MAC not seen yet (what
            # _on_change and _mac_changed do for it)
            if data is None:
                data = b""
            cur = self.paths.get(key)
            if cur is not None:
                if cur.same(attrs, peer, data):
                    return
            elif peer != LOCAL_PEER:
                mac = key[14:20]
                macs = self.macs
                if mac not in macs and mac not in self.local_seq:
                    path = shared_path(attrs, peer, data, T_MAC_IP)
                    self.paths[key] = path
                    entry = macs[mac] = _mac_entry(key, path)
                    self.emit(RemoteMacAdded(self.instance_id, entry))
                    return
        self._on_change(key, True, kind, key, attrs, data, peer, p_attrs, p_data, p_peer)

    def _on_change(
        self,
        ik: bytes,
        evpn: bool,
        kind: ChangeKind,
        key: bytes,
        attrs: PathAttributes | None,
        data: bytes | None,
        peer: PeerId | None,
        p_attrs: PathAttributes | None,
        p_data: bytes | None,
        p_peer: PeerId | None,
    ) -> None:
        paths = self.paths
        cur = paths.get(ik)
        if kind is _REMOVED:
            # a route carrying several of our RTs is reported once per RT: a removal under one
            # RT after the replacement under another is stale
            if (
                cur is None
                or p_attrs is None
                or p_peer is None
                or not cur.same(p_attrs, p_peer, p_data or b"")
            ):
                return
            del paths[ik]
            self._gone(ik)
            return
        if attrs is None or peer is None:
            return
        if peer == LOCAL_PEER and (key[1:9] == self.own_rd or (evpn and key[0] != T_PREFIX)):
            # our own routes; and E-VPN L2 routes of other instances here (no VXLAN to ourselves)
            if cur is not None:
                del paths[ik]
                self._gone(ik)
            return
        if data is None:
            data = b""
        if cur is not None and cur.same(attrs, peer, data):
            return
        paths[ik] = shared_path(attrs, peer, data, key[0] if evpn else T_VPN)
        if not evpn:
            self._ip_touched(_vpn_dest(ik), ik, True)
            return
        t = key[0]
        if t == T_MAC_IP:
            mac = _mac_of(key)
            keys = _keys_of(self.macs.get(mac))
            self._mac_changed(mac, keys if key in keys else (*keys, key))
        elif t == T_IMET:
            self._flood_set(key, attrs)
        elif t == T_PREFIX:
            self._ip_touched(_t5_dest(key), key, True)

    def _gone(self, ik: bytes) -> None:
        if not _is_evpn(ik):
            self._ip_touched(_vpn_dest(ik), ik, False)
            return
        t = ik[0]
        if t == T_MAC_IP:
            mac = _mac_of(ik)
            self._mac_changed(mac, tuple(k for k in _keys_of(self.macs.get(mac)) if k != ik))
        elif t == T_IMET:
            self._flood_unset(ik)
        elif t == T_PREFIX:
            self._ip_touched(_t5_dest(ik), ik, False)

    def purge(self, keep: Callable[[AttrInfo], bool]) -> None:
        """Drop the routes whose attributes ``keep`` refuses (an import RT was removed)."""
        for ik, path in list(self.paths.items()):
            if not keep(path.info):
                del self.paths[ik]
                self._gone(ik)

    # ---------------------------------------------------------------- IP destinations

    def _ip_touched(self, dest: bytes, key: bytes, present: bool) -> None:
        keys = self.dests.get(dest, ())
        if present and key not in keys:
            keys = (*keys, key)
        elif not present:
            keys = tuple(k for k in keys if k != key)
        if keys:
            self.dests[dest] = keys
        else:
            self.dests.pop(dest, None)
        self._ip_best(dest)

    def rebest_all(self) -> None:
        """Run the best path of every IP destination again (readvertise rules changed)."""
        for dest in list(self.dests):
            self._ip_best(dest)

    def _ecmp(self, keys: tuple[bytes, ...]) -> list[bytes]:
        """The keys of the best path and of those equal to it up to the ECMP cut."""
        if len(keys) == 1:
            return [keys[0]]
        policy = self.policy
        src = self.source_of
        paths = self.paths
        best = keys[0]
        ba = paths[best]
        bs = src(ba.peer)
        for k in keys[1:]:
            p = paths[k]
            s = src(p.peer)
            if compare(p.attrs, s, ba.attrs, bs, policy)[0] < 0:
                best, ba, bs = k, p, s
        out = [best]
        for k in keys:
            if k is best:
                continue
            p = paths[k]
            if compare(p.attrs, src(p.peer), ba.attrs, bs, policy)[1] > MULTIPATH_LAST_STEP:
                out.append(k)
        return out

    def _next_hop(self, key: bytes) -> NextHop:
        path = self.paths[key]
        info = path.info
        return NextHop(
            info.vtep,
            path.vni,
            info.router_mac,
            info.encap or Encapsulation.MPLS,
            path.peer == LOCAL_PEER,
        )

    def _ip_best(self, dest: bytes) -> None:
        keys = self.dests.get(dest)
        old = self.routes.get(dest)
        prefix = old.prefix if old is not None else _dest_text(dest)
        if not keys:
            if old is not None:
                del self.routes[dest]
                self.emit(RemoteRouteRemoved(self.instance_id, prefix))
                if self.on_best is not None:
                    self.on_best(prefix, None)
            return
        chosen = self._ecmp(keys)
        hops = tuple(dict.fromkeys(self._next_hop(k) for k in chosen))
        new = RemoteRoute(prefix, hops)
        if new != old:
            self.routes[dest] = new
            self.emit(RemoteRouteSet(self.instance_id, new))
        if self.on_best is not None:
            self.on_best(prefix, tuple(self.paths[k].attrs for k in chosen))

    # ---------------------------------------------------------------- E-VPN MACs

    def local_sequence(self, raw: bytes) -> int:
        """The sequence number of a MAC attached here (0 when not claimed)."""
        return self.local_seq.get(raw, 0)

    def claim_local(self, raw: bytes, fresh: bool) -> int:
        """A MAC attached here (``fresh``) or attached again: its sequence number, S+1 when a
        remote route with sequence S holds it (RFC7432 15.1: the MAC moved here)."""
        keys = _keys_of(self.macs.get(raw))
        seqs = [self.paths[k].info.seq for k in keys]
        seq = self.local_seq.get(raw, 0)
        if seqs and (fresh or not self.local_winning.get(raw, True)):
            seq = max(seq, max(seqs) + 1)
        self.local_seq[raw] = seq
        self.local_winning[raw] = True
        self._mac_changed(raw, keys, notify=False)
        return self.local_seq[raw]

    def release_local(self, raw: bytes) -> None:
        self.local_seq.pop(raw, None)
        self.local_winning.pop(raw, None)
        self._mac_changed(raw, _keys_of(self.macs.get(raw)), notify=False)

    def local_wins(self, raw: bytes) -> bool:
        return self.local_winning.get(raw, False)

    def _mac_changed(self, mac: bytes, keys: tuple[bytes, ...], notify: bool = True) -> None:
        """``keys`` are now the routes of ``mac``: program the winner's entries (RFC7432 15)."""
        paths = self.paths
        win_seq = -1
        win_ip = b""
        for k in keys:
            info = paths[k].info
            if info.seq > win_seq or (info.seq == win_seq and info.vtep_raw < win_ip):
                win_seq, win_ip = info.seq, info.vtep_raw
        local = self.local_seq.get(mac)
        local_wins = local is not None and (
            not keys or local > win_seq or (local == win_seq and self.vtep_raw < win_ip)
        )
        entries: tuple[RemoteMac, ...] = ()
        if not local_wins:
            entries = tuple(
                _mac_entry(k, p) for k in keys if (p := paths[k]).info.vtep_raw == win_ip
            )
        state = self.macs.get(mac)
        old = _entries_of(state)
        if not keys:
            self.macs.pop(mac, None)
        elif len(keys) == 1 and len(entries) == 1:
            self.macs[mac] = entries[0]
        else:
            self.macs[mac] = _MacRoutes(keys, entries)
        if entries != old:
            iid = self.instance_id
            for e in old:
                if e not in entries:
                    self.emit(RemoteMacRemoved(iid, e))
            for e in entries:
                if e not in old:
                    self.emit(RemoteMacAdded(iid, e))
        if local is not None and self.local_winning.get(mac) != local_wins:
            self.local_winning[mac] = local_wins
            if notify and self.on_local_mac is not None:
                self.on_local_mac(mac, local_wins)

    # ---------------------------------------------------------------- flood list

    def _flood_set(self, key: bytes, attrs: PathAttributes) -> None:
        pmsi = attrs.pmsi_tunnel
        if pmsi is not None and pmsi.tunnel_type == PMSI_INGRESS_REPLICATION and pmsi.tunnel_id:
            vtep = ip_to_text(next_hop_address(pmsi.tunnel_id))
        else:
            vtep = ip_to_text(key[14:])
        old = self.flood_keys.get(key)
        if old == vtep:
            return
        changed = False
        if old is not None:
            changed |= self._flood_dec(old)
        self.flood_keys[key] = vtep
        n = self.flood_count.get(vtep, 0)
        self.flood_count[vtep] = n + 1
        if changed or n == 0:
            self.emit(FloodListChanged(self.instance_id, frozenset(self.flood_count)))

    def _flood_dec(self, vtep: str) -> bool:
        n = self.flood_count[vtep] - 1
        if n:
            self.flood_count[vtep] = n
            return False
        del self.flood_count[vtep]
        return True

    def _flood_unset(self, key: bytes) -> None:
        old = self.flood_keys.pop(key, None)
        if old is not None and self._flood_dec(old):
            self.emit(FloodListChanged(self.instance_id, frozenset(self.flood_count)))

    # ---------------------------------------------------------------- views

    def remote_macs(self) -> Iterator[RemoteMac]:
        for state in self.macs.values():
            yield from _entries_of(state)

    def flood(self) -> frozenset[str]:
        return frozenset(self.flood_count)

    def destinations(self) -> list[ImportedDestination]:
        out: list[ImportedDestination] = []
        for dest, keys in self.dests.items():
            chosen = self._ecmp(keys)
            ecmp = len(chosen) > 1
            paths = [self._path_view(k, k in chosen, ecmp and k in chosen) for k in keys]
            paths.sort(key=lambda p: not p.chosen)
            out.append(ImportedDestination("prefix", _dest_text(dest), tuple(paths)))
        for mac, state in self.macs.items():
            chosen_hops = {(e.vtep, e.ip) for e in _entries_of(state)}
            views = [self._path_view(k, False, False) for k in _keys_of(state)]
            paths = [
                dataclasses.replace(p, chosen=(p.next_hop, p.ip) in chosen_hops) for p in views
            ]
            paths.sort(key=lambda p: not p.chosen)
            out.append(ImportedDestination("mac", mac_to_text(mac), tuple(paths)))
        if self.flood_keys:
            out.append(
                ImportedDestination(
                    "flood",
                    "flood",
                    tuple(self._path_view(k, True, False) for k in self.flood_keys),
                )
            )
        return out

    def _path_view(self, ik: bytes, chosen: bool, ecmp: bool) -> ImportedPath:
        path = self.paths[ik]
        info = path.info
        mac = ip = None
        seq = None
        if _is_evpn(ik):
            evpn = route_from_wire(EVPN, ik, path.data)
            assert isinstance(evpn, EvpnRoute)
            route: VpnRoute | EvpnRoute = evpn
            if ik[0] == T_MAC_IP:
                mac = mac_to_text(evpn.mac)
                ip = ip_to_text(evpn.ip) if evpn.ip else None
                seq = info.seq
        else:
            fam, key = (VPNV6, ik[1:]) if ik[0] == 0xFF else (VPNV4, ik)
            vpn = route_from_wire(fam, key, path.data)
            assert isinstance(vpn, VpnRoute)
            route = VpnRoute(vpn.rd, vpn.prefix, (path.vni,))
        return ImportedPath(
            route=str(route),
            rd=str(route.rd),
            next_hop=info.vtep,
            vni=path.vni,
            peer=path.peer,
            encapsulation=info.encap.value if info.encap else None,
            router_mac=info.router_mac,
            mac=mac,
            ip=ip,
            sequence=seq,
            chosen=chosen,
            ecmp=ecmp,
            local=path.peer == LOCAL_PEER,
        )

    def clear(self) -> None:
        self.paths.clear()
        self.dests.clear()
        self.routes.clear()
        self.macs.clear()
        self.flood_keys.clear()
        self.flood_count.clear()
