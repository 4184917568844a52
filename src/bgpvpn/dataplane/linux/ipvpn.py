"""IP VPN over VXLAN on Linux without VRF devices or MPLS: a routing table per VRF selected by
policy rules, VXLAN with router MACs between hosts (the RFC9136 symmetric model). See
docs/dataplane.md for the recipe, the numbering and the limits.

Per VRF (index N, VNI V, table T = 100000 + N):

- VXLAN device ``bvr-N`` (id V, local VTEP, dstport 4789, nolearning, MAC = router MAC) and the
  rules ``iif bvr-N lookup T`` (IPv4 and IPv6, priority 1862): decapsulated traffic is routed
  in the VRF;
- per port: ``iif PORT lookup T`` (priority 1861), ``IP/32 dev PORT`` in T per port address,
  proxy ARP on the port (and, for the gateway address, ``GW/32 dev bvr-N`` in T so that proxy
  ARP answers for it while nothing on the host owns that address), proxy NDP entries for an
  IPv6 gateway and, on a port whose IPv6 prefix is on-link in its VM, for the VRF's other
  hosts in that prefix (protocol 186, reconciled like the routes; the port's IPv6
  ``forwarding`` on, which the kernel requires to answer from its proxy table), per-device
  forwarding on and rp_filter off;
- per remote route: ``PREFIX via VTEP dev bvr-N onlink`` in T (multipath for ECMP; IPv6
  prefixes use the IPv4-mapped VTEP), a permanent neighbour ``VTEP -> remote router MAC`` on
  bvr-N and ``RMAC dst VTEP self permanent`` in its FDB (with the next hop's VNI when it is
  not ours);
- a route leaked from another local VRF (``NextHop.local``): rules ``iif <each ingress of this
  VRF> to PREFIX lookup <the other VRF's table>`` (priority 1860), so the lookup continues in
  the other VRF's own table with its own ports and remote routes, and follows their changes.

A variant with VRF devices (l3mdev) or MPLS would replace the rules with enslavement to a VRF
device and the VXLAN next hops with MPLS encapsulation; ``features.detect()`` says whether the
kernel has them (this one does not).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bgpvpn.dataplane.linux import netlink as nlm
from bgpvpn.dataplane.linux import tags
from bgpvpn.dataplane.linux.base import FdbKey, LinuxDriverBase, NeighKey
from bgpvpn.dataplane.linux.netlink import (
    Hop,
    Link,
    Netlink,
    Request,
    fdb_request,
    ip_canonical,
    ip_text,
    neigh_request,
    parse_attrs,
    route_request,
    rule_request,
)
from bgpvpn.dataplane.model import (
    Change,
    FloodListChanged,
    InstanceConfig,
    InstanceState,
    LocalPort,
    PortAttached,
    PortDetached,
    ReconcileReport,
    RemoteMacAdded,
    RemoteMacRemoved,
    RemoteRoute,
    RemoteRouteRemoved,
    RemoteRouteSet,
)
from bgpvpn.vpn.model import InstanceType

log = logging.getLogger(__name__)

# (family, priority, iif, dst prefix, table)
RuleKey = tuple[int, int, str, str | None, int]
# (family, table, prefix)
RouteKey = tuple[int, int, str]
# (ifindex, address in ip_canonical form): a proxy NDP entry
ProxyKey = tuple[int, str]
# (kind, sorted (gateway, oif) pairs): what a route in a VRF table does, to compare with a dump
Signature = tuple[int, tuple[tuple[str | None, int], ...]]


def _host_prefix(ip: str) -> str:
    addr = ipaddress.ip_address(ip)
    return f"{addr}/{addr.max_prefixlen}"


def _norm_prefix(prefix: str) -> str:
    return str(ipaddress.ip_network(prefix, strict=False))


def _nh_address(prefix: str, vtep: str) -> str:
    """The gateway a route to ``prefix`` uses for ``vtep``: the IPv4-mapped address of an IPv4
    VTEP for an IPv6 prefix (and the neighbour entry is made for that address), written as
    the kernel writes it (``::ffff:203.0.113.2``, see ``ip_canonical``) so that the desired
    neighbours and the dumped ones compare equal."""
    if ":" in prefix and ":" not in vtep:
        return ip_canonical(f"::ffff:{vtep}")
    return vtep


@dataclass(slots=True)
class _Vrf:
    config: InstanceConfig
    vx_index: int = 0
    # interface name -> MAC -> the attached (port, MAC): one interface may carry several MACs
    ports: dict[str, dict[str, LocalPort]] = field(default_factory=dict)
    port_index: dict[str, int] = field(default_factory=dict)  # interface name -> ifindex
    routes: dict[str, RemoteRoute] = field(default_factory=dict)  # remote and leaked
    gateways: Counter[str] = field(default_factory=Counter)  # IPv4 gateway -> ports using it
    proxies: Counter[tuple[str, str]] = field(default_factory=Counter)  # (port, IPv6 gw) -> users
    # (port, IPv6 address) -> the port's ifindex: the proxy entries that answer, on a port whose
    # IPv6 prefix is on-link in its VM, for the VRF's other hosts in that prefix
    onlink: dict[tuple[str, str], int] = field(default_factory=dict)
    # the ports' IPv6 prefixes as of the last full computation of ``onlink``: prefix length ->
    # network number -> ports with an address in it; and the ports' own addresses -> port
    v6nets: dict[int, dict[int, list[str]]] = field(default_factory=dict)
    v6local: dict[int, str] = field(default_factory=dict)
    neigh_refs: dict[str, Counter[str]] = field(default_factory=dict)  # ip -> rmac -> routes
    neigh_mac: dict[str, str] = field(default_factory=dict)  # ip -> rmac programmed
    fdb_refs: dict[str, Counter[tuple[str, int | None]]] = field(default_factory=dict)
    fdb_dst: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # rmac -> programmed
    rules: set[RuleKey] = field(default_factory=set)

    @property
    def table(self) -> int:
        return tags.vrf_table(self.config.index)

    @property
    def vxlan(self) -> str:
        return f"{tags.IPVPN_VXLAN_PREFIX}{self.config.index}"

    def vni_attr(self, vni: int) -> int | None:
        return None if vni in (0, self.config.vni) else vni

    def all_ports(self) -> list[LocalPort]:
        return [port for by_mac in self.ports.values() for port in by_mac.values()]


def _count(counter: Counter[Any], key: Any, add: bool) -> bool:
    """Count one more (``add``) or one fewer user of ``key``; True when that was the first user
    (program the object) or the last one (remove it)."""
    before = counter[key]
    if add:
        counter[key] = before + 1
        return before == 0
    if before <= 1:
        counter.pop(key, None)
        return before == 1
    counter[key] = before - 1
    return False


def _gateway_keys(vrf: _Vrf) -> set[tuple[str, str]]:
    """The (port, address) proxy entries the ports' IPv6 gateways hold."""
    return {(name, str(ipaddress.ip_address(gw))) for name, gw in vrf.proxies}


def _onlink_proxies(vrf: _Vrf) -> dict[tuple[str, str], int]:
    """The proxy entries ``(port, address) -> ifindex`` that let a VM keep its IPv6 prefix
    on-link (an ordinary VM does: its /64 from SLAAC or its configuration): for each port
    address ``A/L`` (L < 128), every other IPv6 host of the VRF inside ``A/L``, a /128 route
    (remote or leaked) or an address of another local interface, is answered for on the port.
    Linux has no "any routed address" for IPv6 as proxy ARP has for IPv4, so each address is
    an entry. A port's own interface is not answered for (its VMs share that segment), nor an
    address the port's gateway entry already covers. Computes ``vrf.v6nets`` and
    ``vrf.v6local`` on the way, for ``_onlink_of`` (one address)."""
    nets: dict[int, dict[int, list[str]]] = {}
    local: dict[int, str] = {}
    for name, by_mac in vrf.ports.items():
        for port in by_mac.values():
            for text in port.ips:
                if ":" not in text:
                    continue
                iface = ipaddress.IPv6Interface(text)
                addr = int(iface.ip)
                local[addr] = name
                plen = iface.network.prefixlen
                if plen < 128:
                    ports = nets.setdefault(plen, {}).setdefault(addr >> (128 - plen), [])
                    if name not in ports:
                        ports.append(name)
    vrf.v6nets, vrf.v6local = nets, local
    if not nets:
        return {}
    hosts: dict[int, str | None] = dict(local)
    for prefix in vrf.routes:
        if prefix.endswith("/128") and ":" in prefix:
            hosts.setdefault(int(ipaddress.IPv6Address(prefix[:-4])), None)
    gateways = _gateway_keys(vrf)
    out: dict[tuple[str, str], int] = {}
    for addr, holder in hosts.items():
        out.update(_onlink_of(vrf, addr, holder, gateways))
    return out


def _onlink_of(
    vrf: _Vrf, addr: int, holder: str | None, gateways: set[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """``_onlink_proxies``' entries for one address (``holder``: the local interface that has
    it, if any), from ``vrf.v6nets``."""
    out: dict[tuple[str, str], int] = {}
    text = ""
    for plen, by_net in vrf.v6nets.items():
        for name in by_net.get(addr >> (128 - plen), ()):
            index = vrf.port_index.get(name)  # None: detached since (the batch's end redoes it)
            if name == holder or index is None:
                continue
            text = text or str(ipaddress.IPv6Address(addr))
            if (name, text) not in gateways:
                out[(name, text)] = index
    return out


class LinuxIpvpnDriver(LinuxDriverBase[_Vrf]):
    """The IP VPN driver. ``netns``: the namespace to program (None: the daemon's own);
    ``dstport``: the VXLAN UDP port; ``protocol``: the route protocol number that tags our
    routes and rules (186); ``mtu``: of the VXLAN devices and netns ports (None: the VTEP
    interface's MTU minus 50/70); ``netlink``: share a connection with another driver.
    Changes for E-VPN instances are ignored (counted)."""

    name = "linux-ipvpn"
    kind_tag = "ipvpn"
    netns_ipv6_onlink = False
    instance_type = InstanceType.IPVPN
    foreign_changes = (RemoteMacAdded, RemoteMacRemoved, FloodListChanged)

    def __init__(
        self,
        *,
        netns: str | None = None,
        dstport: int = 4789,
        protocol: int = tags.PROTO,
        mtu: int | None = None,
        netlink: Netlink | None = None,
    ) -> None:
        super().__init__(netns=netns, dstport=dstport, mtu=mtu, netlink=netlink)
        self.protocol = protocol
        self._rules_dirty: set[str] = set()  # VRFs whose rules are recomputed at batch end
        self._onlink_dirty: set[str] = set()  # VRFs whose on-link proxy entries are, likewise
        rp = self.nl.sysctl_get("ipv4", "conf", "all", "rp_filter")
        if rp not in (None, "0"):
            self.warnings.append(
                f"net.ipv4.conf.all.rp_filter={rp}: the kernel uses the larger of 'all' and the "
                "device's value, and the reverse-path lookup ignores the VRF rules; set it to 0"
            )
            log.warning("%s", self.warnings[-1])

    # ------------------------------------------------------------ Driver

    def _finish_batch(self) -> None:
        """The rules of the VRFs whose ports or leaks changed in this batch, computed once per
        batch (a port's rule is per interface, a leak's per ingress: both depend on them all)."""
        dirty, self._rules_dirty = self._rules_dirty, set()
        for iid in sorted(dirty):
            vrf = self._instances.get(iid)
            if vrf is not None:
                self._sync_rules(vrf)
        dirty, self._onlink_dirty = self._onlink_dirty, set()
        for iid in sorted(dirty):
            vrf = self._instances.get(iid)
            if vrf is not None:
                self._sync_onlink(vrf)

    def _finish_reconcile(self) -> None:
        self._rules_dirty.clear()  # reconcile sets every VRF's rules and proxy entries itself
        self._onlink_dirty.clear()

    def _instance_state(self, vrf: _Vrf) -> dict[str, Any]:
        return {
            "vni": vrf.config.vni,
            "table": vrf.table,
            "vxlan": vrf.vxlan,
            "router_mac": vrf.config.router_mac,
            "ports": sorted(vrf.ports),
            "port_macs": {name: sorted(by_mac) for name, by_mac in sorted(vrf.ports.items())},
            "routes": len(vrf.routes),
            "rules": len(vrf.rules),
            "onlink_proxies": len(vrf.onlink),
        }

    def state(self) -> dict[str, Any]:
        return {
            "driver": self.name,
            "netns": self.nl.netns,
            "instances": {
                iid: self._instance_state(vrf) for iid, vrf in sorted(self._instances.items())
            },
            "errors": self.errors,
            "last_errors": list(self.last_errors),
            "warnings": list(self.warnings),
            "ignored_changes": self.ignored,
        }

    # ------------------------------------------------------------ changes

    def _apply_change(self, vrf: _Vrf, change: Change) -> None:
        iid = vrf.config.instance_id
        if isinstance(change, PortAttached):
            self._attach(vrf, change.port, None)
            self._rules_dirty.add(iid)
            self._onlink_dirty.add(iid)
        elif isinstance(change, PortDetached):
            self._detach(vrf, change.port)
            self._rules_dirty.add(iid)
            self._onlink_dirty.add(iid)
        elif isinstance(change, RemoteRouteSet):
            self._set_route(vrf, change.route)
            if vrf.v6nets:  # no port with an on-link IPv6 prefix: not even the prefix parsed
                self._onlink_route(vrf, _norm_prefix(change.route.prefix), present=True)
        elif isinstance(change, RemoteRouteRemoved):
            prefix = _norm_prefix(change.prefix)
            self._remove_route(vrf, prefix)
            self._onlink_route(vrf, prefix, present=False)

    def _create(self, config: InstanceConfig) -> _Vrf | None:
        vrf = super()._create(config)
        if vrf is not None:
            self._rules_dirty.update(self._instances)  # leaks towards it may now be programmable
        return vrf

    def _conflict(self, config: InstanceConfig, other: InstanceConfig) -> str | None:
        conflict = super()._conflict(config, other)
        if conflict is None and other.index == config.index:
            return f"index {config.index} is already used by {other.instance_id}"
        return conflict

    def _new_instance(self, config: InstanceConfig) -> _Vrf:
        return _Vrf(config)

    def _remove(self, vrf: _Vrf) -> None:
        for prefix in list(vrf.routes):
            self._remove_route(vrf, prefix)
        for port in vrf.all_ports():
            self._detach(vrf, port)
        self._sync_onlink(vrf)  # no port left: the entries on ordinary ports go
        self._flush()
        del self._instances[vrf.config.instance_id]
        vrf.ports.clear()
        vrf.routes.clear()
        self._sync_rules(vrf)  # drops all of its rules
        self._flush()
        self._delete_link(vrf.vxlan)
        self._rules_dirty.update(self._instances)  # leaks into the removed VRF

    # ------------------------------------------------------------ the VRF device

    def _ensure_instance(self, vrf: _Vrf, report: ReconcileReport | None) -> None:
        """Create (or repair) the VXLAN device of ``vrf``; idempotent."""
        self._flush()
        cfg = vrf.config
        vx, created = self._ensure_vxlan(vrf.vxlan, cfg, report, address=cfg.router_mac)
        if created:
            if report is not None:
                report.added.setdefault("link", []).append(f"{vrf.vxlan} (vxlan {cfg.vni})")
        elif vx.address != cfg.router_mac:
            self.nl.ipr.link("set", index=vx.index, address=cfg.router_mac)
        vrf.vx_index = vx.index
        self._set_sysctls(vrf.vxlan, proxy=False, ipv6=True)
        if not vx.up:
            self.nl.ipr.link("set", index=vx.index, state="up")
        self._forget_link()

    def _set_sysctls(self, dev: str, *, proxy: bool, ipv6: bool) -> None:
        values: list[tuple[Sequence[str], str]] = [
            (("ipv4", "conf", dev, "forwarding"), "1"),
            (("ipv4", "conf", dev, "rp_filter"), "0"),
        ]
        if proxy:
            values.append((("ipv4", "conf", dev, "proxy_arp"), "1"))
        if ipv6:
            values.append((("ipv6", "conf", dev, "force_forwarding"), "1"))
            if proxy:
                # the kernel answers a solicitation from its proxy table only on a device
                # whose IPv6 "forwarding" is on (force_forwarding is not enough)
                values.append((("ipv6", "conf", dev, "forwarding"), "1"))
                values.append((("ipv6", "conf", dev, "proxy_ndp"), "1"))
        self._queue_sysctls(values)

    # ------------------------------------------------------------ ports

    def _attach(self, vrf: _Vrf, port: LocalPort, report: ReconcileReport | None) -> None:
        """Attach one (port, MAC): the link looked up once per batch, set up and its sysctls
        written at the flush, the MAC's host routes queued (the rules at the end of the batch)."""
        link = self._link(port.name)
        if port.netns is not None:
            index, _created = self._attach_netns_port(port, vrf.config, vrf.vxlan, report)
        elif link is None:
            raise ValueError(f"no interface {port.name}")
        else:
            index = link.index
            if not link.up:
                self._set_link(link, up=True, what=f"{port.name} up")
        has_v6 = any(":" in ip for ip in port.ips) or ":" in (port.gateway_ip or "")
        self._set_sysctls(port.name, proxy=True, ipv6=has_v6)
        by_mac = vrf.ports.setdefault(port.name, {})
        old = by_mac.get(port.mac)
        if old is not None and old != port:
            self._port_objects(vrf, old, vrf.port_index[port.name], add=False)
        by_mac[port.mac] = port
        vrf.port_index[port.name] = index
        if report is None and old != port:
            self._port_objects(vrf, port, index, add=True)

    def _detach(self, vrf: _Vrf, port: LocalPort) -> None:
        """Detach one (port, MAC): its host routes (and its share of the gateway objects) go;
        the port's rules, sysctls and netns go only with its last MAC."""
        by_mac = vrf.ports.get(port.name)
        known = by_mac.pop(port.mac, None) if by_mac is not None else None
        index = vrf.port_index.get(port.name)
        if known is None or index is None:
            return
        self._port_objects(vrf, known, index, add=False)
        if by_mac:
            return  # other MACs of this interface are still attached
        del vrf.ports[port.name]
        del vrf.port_index[port.name]
        if known.netns is not None:
            # the proxy entries on its veth go with it
            for key in [key for key in vrf.onlink if key[0] == port.name]:
                del vrf.onlink[key]
            self._remove_netns_port(known)
        else:
            self._queue_sysctls([(("ipv4", "conf", known.name, "proxy_arp"), "0")])

    def _port_objects(self, vrf: _Vrf, port: LocalPort, index: int, *, add: bool) -> None:
        """Queue the host routes of ``port`` and, for its first user or after its last, the
        gateway route (IPv4) or the proxy entry on the port (IPv6)."""
        for req in self._port_requests(vrf, port, index, add=add):
            self._queue(req)
        gw = port.gateway_ip
        if gw is None:
            return
        if ":" in gw:
            if _count(vrf.proxies, (port.name, gw), add):
                what = f"proxy {gw} dev {port.name}"
                self._queue(
                    neigh_request(add, index, gw, proxy=True, protocol=self.protocol, what=what)
                )
        elif _count(vrf.gateways, gw, add):
            self._queue(self._gateway_route(vrf, gw, add))

    def _port_requests(self, vrf: _Vrf, port: LocalPort, index: int, *, add: bool) -> list[Request]:
        out = []
        for text in port.ips:
            ip = str(ipaddress.ip_interface(text).ip)
            prefix = _host_prefix(ip)
            out.append(
                route_request(
                    add,
                    prefix,
                    table=vrf.table,
                    protocol=self.protocol,
                    hops=[Hop(None, index)],
                    what=f"{prefix} dev {port.name} table {vrf.table}",
                )
            )
        return out

    def _gateway_route(self, vrf: _Vrf, gw: str, add: bool) -> Request:
        prefix = _host_prefix(gw)
        return route_request(
            add,
            prefix,
            table=vrf.table,
            protocol=self.protocol,
            hops=[Hop(None, vrf.vx_index)],
            what=f"{prefix} dev {vrf.vxlan} table {vrf.table} (gateway)",
        )

    # ------------------------------------------------------------ rules

    def _rules_for(self, vrf: _Vrf) -> set[RuleKey]:
        if vrf.config.instance_id not in self._instances:
            return set()
        ingress = [vrf.vxlan, *sorted(vrf.ports)]
        rules: set[RuleKey] = set()
        for family in (socket.AF_INET, socket.AF_INET6):
            rules.add((family, tags.RULE_PREF_VXLAN, vrf.vxlan, None, vrf.table))
            for name in vrf.ports:  # one rule per interface, whatever its number of MACs
                rules.add((family, tags.RULE_PREF_PORT, name, None, vrf.table))
        by_vni = {v.config.vni: v for v in self._instances.values()}
        for prefix, route in vrf.routes.items():
            local = [nh for nh in route.next_hops if nh.local]
            if not local:
                continue
            target = by_vni.get(local[0].vni)
            if target is None or target is vrf:
                continue
            family = socket.AF_INET6 if ":" in prefix else socket.AF_INET
            for iif in ingress:
                rules.add((family, tags.RULE_PREF_LEAK, iif, prefix, target.table))
        return rules

    def _rule_request(self, key: RuleKey, add: bool) -> Request:
        family, pref, iif, dst, table = key
        text = f"{'to ' + dst + ' ' if dst else ''}iif {iif} lookup {table} pref {pref}"
        if family == socket.AF_INET6:
            text = "-6 " + text
        return rule_request(
            add,
            family=family,
            priority=pref,
            table=table,
            iifname=iif,
            dst=dst,
            protocol=self.protocol,
            what=text,
        )

    def _sync_rules(self, vrf: _Vrf) -> None:
        want = self._rules_for(vrf)
        for key in sorted(vrf.rules - want, key=repr):
            self._queue(self._rule_request(key, False))
        for key in sorted(want - vrf.rules, key=repr):
            self._queue(self._rule_request(key, True))
        vrf.rules = want

    def _onlink_route(self, vrf: _Vrf, prefix: str, *, present: bool) -> None:
        """A /128 IPv6 route came or went: only its own proxy entries change (a route costs
        what its address concerns, not a pass over the VRF). A change of ports recomputes them
        all at the end of the batch (``_sync_onlink``), which also corrects this."""
        if not vrf.v6nets or not prefix.endswith("/128") or ":" not in prefix:
            return
        addr = int(ipaddress.IPv6Address(prefix[:-4]))
        if addr in vrf.v6local:
            return  # a local port holds it: its entries are there either way
        keys = _onlink_of(vrf, addr, None, _gateway_keys(vrf))
        for (name, ip), index in sorted(keys.items()):
            what = f"proxy {ip} dev {name} (on-link)"
            if present and (name, ip) not in vrf.onlink:
                req = neigh_request(True, index, ip, proxy=True, protocol=self.protocol, what=what)
                self._queue(req)
                vrf.onlink[(name, ip)] = index
            elif not present and (name, ip) in vrf.onlink:
                self._queue(
                    neigh_request(False, vrf.onlink.pop((name, ip)), ip, proxy=True, what=what)
                )

    def _sync_onlink(self, vrf: _Vrf) -> None:
        """Queue the on-link proxy entries ``vrf`` now needs and the removal of those it no
        longer needs (``_onlink_proxies``); an entry a gateway took over stays."""
        want = _onlink_proxies(vrf)
        gateways = _gateway_keys(vrf) if vrf.onlink else set()
        for (name, ip), index in sorted(vrf.onlink.items()):
            if (name, ip) not in want and (name, ip) not in gateways:
                what = f"proxy {ip} dev {name} (on-link)"
                self._queue(neigh_request(False, index, ip, proxy=True, what=what))
        for (name, ip), index in sorted(want.items()):
            if vrf.onlink.get((name, ip)) != index:
                what = f"proxy {ip} dev {name} (on-link)"
                req = neigh_request(True, index, ip, proxy=True, protocol=self.protocol, what=what)
                self._queue(req)
        vrf.onlink = want

    # ------------------------------------------------------------ remote routes

    def _usable_hops(self, vrf: _Vrf, route: RemoteRoute) -> list[tuple[str, str, int | None]]:
        """(VTEP, router MAC, VNI attribute) of the remote next hops, deduplicated."""
        out: dict[str, tuple[str, str, int | None]] = {}
        for nh in route.next_hops:
            if nh.local:
                continue
            if nh.router_mac is None:
                self._error(f"{route.prefix} via {nh.vtep}: no router MAC, next hop skipped")
                continue
            out.setdefault(nh.vtep, (nh.vtep, nh.router_mac, vrf.vni_attr(nh.vni)))
        return list(out.values())

    def _route_request(
        self, vrf: _Vrf, prefix: str, hops: list[tuple[str, str, int | None]]
    ) -> Request:
        gws = [_nh_address(prefix, vtep) for vtep, _, _ in hops]
        text = f"{prefix} " + " ".join(f"via {gw}" for gw in gws)
        return route_request(
            True,
            prefix,
            table=vrf.table,
            protocol=self.protocol,
            hops=[Hop(gw, vrf.vx_index, onlink=True) for gw in gws],
            what=f"{text} dev {vrf.vxlan} onlink table {vrf.table}",
        )

    def _set_route(self, vrf: _Vrf, route: RemoteRoute) -> None:
        prefix = _norm_prefix(route.prefix)
        old = vrf.routes.get(prefix)
        route = RemoteRoute(prefix, route.next_hops)
        vrf.routes[prefix] = route
        hops = self._usable_hops(vrf, route)
        for vtep, rmac, vni in hops:
            self._ref_nexthop(vrf, _nh_address(prefix, vtep), vtep, rmac, vni, +1)
        was_remote = old is not None and bool(self._usable_hops(vrf, old))
        if hops:
            self._queue(self._route_request(vrf, prefix, hops))
        elif was_remote:
            self._queue(self._route_delete(vrf, prefix))
        if old is not None:
            for vtep, rmac, vni in self._usable_hops(vrf, old):
                self._ref_nexthop(vrf, _nh_address(prefix, vtep), vtep, rmac, vni, -1)
        if any(nh.local for nh in route.next_hops) or (
            old is not None and any(nh.local for nh in old.next_hops)
        ):
            self._rules_dirty.add(vrf.config.instance_id)

    def _route_delete(self, vrf: _Vrf, prefix: str) -> Request:
        return route_request(
            False,
            prefix,
            table=vrf.table,
            protocol=self.protocol,
            what=f"{prefix} table {vrf.table}",
        )

    def _remove_route(self, vrf: _Vrf, prefix: str) -> None:
        old = vrf.routes.pop(prefix, None)
        if old is None:
            return
        hops = self._usable_hops(vrf, old)
        if hops:
            self._queue(self._route_delete(vrf, prefix))
            for vtep, rmac, vni in hops:
                self._ref_nexthop(vrf, _nh_address(prefix, vtep), vtep, rmac, vni, -1)
        if any(nh.local for nh in old.next_hops):
            self._rules_dirty.add(vrf.config.instance_id)

    def _ref_nexthop(
        self, vrf: _Vrf, nh_ip: str, vtep: str, rmac: str, vni: int | None, delta: int
    ) -> None:
        """Count the routes using ``nh_ip -> rmac`` (neighbour) and ``rmac -> vtep`` (FDB);
        program on the first user and remove after the last."""
        refs = vrf.neigh_refs.setdefault(nh_ip, Counter())
        refs[rmac] += delta
        if refs[rmac] <= 0:
            del refs[rmac]
        mac = vrf.neigh_mac.get(nh_ip)
        if not refs:
            del vrf.neigh_refs[nh_ip]
            if mac is not None:
                del vrf.neigh_mac[nh_ip]
                self._queue(self._neigh_request(vrf, nh_ip, None, False))
        elif delta > 0 and mac != rmac:  # the newest router MAC wins
            vrf.neigh_mac[nh_ip] = rmac
            self._queue(self._neigh_request(vrf, nh_ip, rmac, True))
        elif mac not in refs:
            other = next(iter(refs))
            vrf.neigh_mac[nh_ip] = other
            self._queue(self._neigh_request(vrf, nh_ip, other, True))
        frefs = vrf.fdb_refs.setdefault(rmac, Counter())
        frefs[(vtep, vni)] += delta
        if frefs[(vtep, vni)] <= 0:
            del frefs[(vtep, vni)]
        current = vrf.fdb_dst.get(rmac)
        if not frefs:
            del vrf.fdb_refs[rmac]
            if current is not None:
                del vrf.fdb_dst[rmac]
                self._queue(self._fdb_request(vrf, rmac, current, False))
        elif delta > 0 and current != (vtep, vni):
            vrf.fdb_dst[rmac] = (vtep, vni)
            self._queue(self._fdb_request(vrf, rmac, (vtep, vni), True))
        elif current not in frefs:
            dst = next(iter(frefs))
            vrf.fdb_dst[rmac] = dst
            self._queue(self._fdb_request(vrf, rmac, dst, True))

    def _neigh_request(self, vrf: _Vrf, ip: str, rmac: str | None, add: bool) -> Request:
        text = f"{ip} lladdr {rmac} dev {vrf.vxlan}" if add else f"{ip} dev {vrf.vxlan}"
        return neigh_request(add, vrf.vx_index, ip, rmac, what=text)

    def _fdb_request(self, vrf: _Vrf, rmac: str, dst: tuple[str, int | None], add: bool) -> Request:
        vtep, vni = dst
        text = f"{rmac} dev {vrf.vxlan} dst {vtep}" + (f" vni {vni}" if vni else "")
        return fdb_request(add, vrf.vx_index, rmac, dst=vtep, permanent=True, vni=vni, what=text)

    # ------------------------------------------------------------ reconcile

    def _link_names(self, config: InstanceConfig) -> tuple[str]:
        return (f"{tags.IPVPN_VXLAN_PREFIX}{config.index}",)

    @staticmethod
    def _is_ours(link: Link) -> bool:
        return (
            tags.index_of(link.name, tags.IPVPN_VXLAN_PREFIX) is not None and link.kind == "vxlan"
        )

    def _reconcile_clash(
        self, config: InstanceConfig, by_vni: Mapping[int, str], by_index: Mapping[int, str]
    ) -> str | None:
        other = by_vni.get(config.vni) or by_index.get(config.index)
        return None if other is None else f"VNI or index already used by {other}"

    def _reconcile(self, desired: Mapping[str, InstanceState]) -> ReconcileReport:
        report = ReconcileReport()
        want = self._wanted(desired)
        wanted_ports = {p.name for st in want.values() for p in st.ports if p.netns is not None}
        self._remove_stale_links(want, wanted_ports, report)

        # the devices and ports, then the in-memory state from the desired one
        self._rebuild_instances(want, report)  # flushed: the ports' links and sysctls
        for iid, vrf in self._instances.items():
            for port in want[iid].ports:
                if port.mac in vrf.ports.get(port.name, {}):
                    self._port_objects(vrf, port, vrf.port_index[port.name], add=True)
            for route in want[iid].routes:
                self._set_route(vrf, route)
            vrf.rules = self._rules_for(vrf)
            vrf.onlink = {}
            self._sync_onlink(vrf)  # queued with the rest, compared below
        # what that state means in the kernel, from the queued requests (not sent)
        queued, self._pending = self._pending, []
        want_routes: dict[RouteKey, Request] = {}
        want_signatures: dict[RouteKey, Signature] = {}
        want_neigh: dict[NeighKey, Request] = {}
        want_fdb: dict[FdbKey, Request] = {}
        want_proxy: dict[ProxyKey, Request] = {}
        for req in queued:
            key, sig = _describe(req)
            if key[0] == "route":
                want_routes[key[1]] = req
                want_signatures[key[1]] = sig
            elif key[0] == "neigh":
                want_neigh[key[1]] = req
            elif key[0] == "fdb":
                want_fdb[key[1]] = req
            elif key[0] == "proxy":
                want_proxy[key[1]] = req
        want_rules = {
            key: self._rule_request(key, True)
            for vrf in self._instances.values()
            for key in vrf.rules
        }

        # what the kernel has
        names = {ln.index: ln.name for ln in self.nl.links()}
        vx_indexes = {vrf.vx_index for vrf in self._instances.values()}
        have_routes = self._dump_routes()
        have_rules = self._dump_rules()
        have_neigh = self._dump_neighbours(vx_indexes)
        have_fdb = self._dump_fdb(vx_indexes)
        have_proxy = self._dump_proxies()

        def delete_route(key: RouteKey) -> Request:
            _family, table, prefix = key
            return route_request(False, prefix, table=table, protocol=self.protocol)

        steps = [
            *self._removals(
                "rule",
                have_rules,
                want_rules,
                lambda key: self._rule_request(key, False),
                order=lambda keys: sorted(keys, key=repr),
            ),
            *self._removals(
                "route",
                have_routes,
                want_routes,
                delete_route,
                text=lambda key: f"{key[2]} table {key[1]}",
                order=sorted,
            ),
            *self._removals(
                "neigh",
                have_neigh,
                want_neigh,
                lambda key: neigh_request(False, key[0], key[1]),
                text=lambda key: f"{key[1]} dev {names.get(key[0])}",
                order=sorted,
            ),
            *self._removals(
                "fdb",
                have_fdb,
                want_fdb,
                lambda key: fdb_request(False, key[0], key[1], dst=key[2]),
                text=lambda key: f"{key[1]} dev {names.get(key[0])} dst {key[2]}",
                order=sorted,
            ),
            *self._removals(
                "proxy",
                have_proxy,
                want_proxy,
                lambda key: neigh_request(False, key[0], key[1], proxy=True),
                text=lambda key: f"proxy {key[1]} dev {names.get(key[0])}",
                order=sorted,
            ),
            *self._additions(
                "neigh", want_neigh, have_neigh, lambda key, req: have_neigh[key] != _neigh_mac(req)
            ),
            *self._additions("fdb", want_fdb, have_fdb),
            *self._additions("proxy", want_proxy, have_proxy),
            *self._additions(
                "route",
                want_routes,
                have_routes,
                lambda key, _req: have_routes[key] != want_signatures[key],
            ),
            *self._additions("rule", dict(sorted(want_rules.items(), key=repr)), have_rules),
        ]
        self._run_report(steps, report)
        return report

    def _dump_routes(self) -> dict[RouteKey, Signature]:
        """The routes with our protocol in the VRF tables and what they do."""
        have: dict[RouteKey, Signature] = {}
        for family in (socket.AF_INET, socket.AF_INET6):
            for kroute in self.nl.routes(family):
                if kroute.protocol != self.protocol or not (
                    tags.TABLE_BASE <= kroute.table <= tags.TABLE_BASE + tags.MAX_INDEX
                ):
                    continue
                have[(int(family), kroute.table, kroute.prefix)] = (kroute.rtype, kroute.hops)
        return have

    def _dump_proxies(self) -> set[ProxyKey]:
        """The proxy NDP entries with our protocol (on any device: a port that is no longer
        ours may still carry one)."""
        return {
            (entry.ifindex, entry.ip)
            for entry in self.nl.proxy_neighbours()
            if entry.family == socket.AF_INET6 and entry.protocol == self.protocol
        }

    def _dump_rules(self) -> set[RuleKey]:
        """The policy rules with our protocol at our priorities."""
        have: set[RuleKey] = set()
        for family in (socket.AF_INET, socket.AF_INET6):
            for msg in self.nl.ipr.get_rules(family=family):
                pref = msg.get("FRA_PRIORITY")
                if pref not in tags.RULE_PREFS or msg.get("FRA_PROTOCOL") != self.protocol:
                    continue
                dst = msg.get("FRA_DST")
                have.add(
                    (
                        family,
                        int(pref),
                        str(msg.get("FRA_IIFNAME")),
                        _norm_prefix(f"{dst}/{msg['dst_len']}") if dst else None,
                        int(msg.get("FRA_TABLE") or msg["table"]),
                    )
                )
        return have


# ---------------------------------------------------------------- decoding our own requests


def _describe(req: Request) -> tuple[tuple[str, Any], Signature]:
    """The identity of an encoded add request (as a dump would show it) and, for routes, its
    signature. Reconcile builds the desired state with the very code ``apply`` uses, queues the
    requests without sending them, and compares them with the kernel's dump through this."""
    body = req.body
    attrs = parse_attrs(body[12:])
    if req.msg_type == nlm.RTM_NEWROUTE:
        family, dst_len, _s, _t, _tb, _p, _sc, rtype, _f = struct.unpack_from("=BBBBBBBBI", body)
        (table,) = struct.unpack("=I", attrs[nlm.RTA_TABLE])
        dst = _addr(family, attrs[nlm.RTA_DST])
        prefix = f"{dst}/{dst_len}"
        hops: list[tuple[str | None, int]] = []
        if nlm.RTA_MULTIPATH in attrs:
            data = attrs[nlm.RTA_MULTIPATH]
            off = 0
            while off < len(data):
                length, _fl, _h, oif = struct.unpack_from("=HBBi", data, off)
                sub = parse_attrs(data[off + 8 : off + length])
                gw = _addr(family, sub[nlm.RTA_GATEWAY]) if nlm.RTA_GATEWAY in sub else None
                hops.append((gw, oif))
                off += (length + 3) & ~3
        else:
            gw = _addr(family, attrs[nlm.RTA_GATEWAY]) if nlm.RTA_GATEWAY in attrs else None
            (oif,) = struct.unpack("=I", attrs[nlm.RTA_OIF]) if nlm.RTA_OIF in attrs else (0,)
            hops.append((gw, oif))
        return ("route", (family, table, prefix)), (rtype, tuple(sorted(hops, key=repr)))
    if req.msg_type == nlm.RTM_NEWNEIGH:
        family, ifindex, _state, flags = struct.unpack_from("=BxxxiHB", body)
        if family == nlm.AF_BRIDGE:
            mac = ":".join(f"{b:02x}" for b in attrs[nlm.NDA_LLADDR])
            dst = _addr(
                socket.AF_INET6 if len(attrs[nlm.NDA_DST]) == 16 else socket.AF_INET,
                attrs[nlm.NDA_DST],
            )
            return ("fdb", (ifindex, mac, dst)), (0, ())
        if flags & nlm.NTF_PROXY:
            return ("proxy", (ifindex, ip_text(attrs[nlm.NDA_DST]))), (0, ())
        return ("neigh", (ifindex, _addr(family, attrs[nlm.NDA_DST]))), (0, ())
    return ("other", None), (0, ())


def _neigh_mac(req: Request) -> str | None:
    mac = parse_attrs(req.body[12:]).get(nlm.NDA_LLADDR)
    return None if mac is None else ":".join(f"{b:02x}" for b in mac)


def _addr(family: int, raw: bytes) -> str:
    """An address of an encoded request, in the text form of the kernel's dumps (``ip_text``)."""
    return ip_text(raw) if family in (socket.AF_INET, socket.AF_INET6) else raw.hex()


__all__ = ["LinuxIpvpnDriver"]
