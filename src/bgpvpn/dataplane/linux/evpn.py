"""E-VPN over VXLAN on Linux: one bridge and one VXLAN device per EVI (see docs/dataplane.md).

Per EVI (index N, VNI V, local VTEP L):

- bridge ``bvbr-N`` (MAC: the instance's router MAC, so it never takes a port's; no IPv6
  link-local: addrgenmode none), VXLAN device ``bvx-N`` (id V, local L, dstport 4789,
  nolearning) enslaved to it as a port with ``neigh_suppress on`` and ``learning off``;
- local ports enslaved, each with a static FDB entry per attached MAC (never flooded for); a
  port may carry several MACs (VMs behind one tap): it is enslaved with its first MAC and
  released when its last MAC is detached;
- E-VPN type-2 routes: ``MAC dst VTEP self static`` on ``bvx-N`` (with the VNI when it is not
  the EVI's) and, with an IP, a permanent neighbour ``IP -> MAC`` on ``bvbr-N`` that the bridge
  answers ARP / NS from (neigh_suppress);
- E-VPN type-3 routes: one all-zero MAC entry per remote VTEP, appended (ingress replication).

MAC learning (``advertise_learned``): local ports keep bridge learning on, the VXLAN port has it
off. ``learning_socket`` is a netlink socket of the namespace subscribed to RTNLGRP_NEIGH;
``read_learned`` turns its bridge FDB notifications into ``LearnedMac`` values: a dynamic entry
(neither NUD_PERMANENT nor NUD_NOARP, no ``self`` / extern_learn flag) on a port of an EVI
bridge other than its VXLAN device, for a MAC not attached there.
"""

from __future__ import annotations

import errno
import logging
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bgpvpn.dataplane.linux import tags
from bgpvpn.dataplane.linux.base import FdbKey, LinuxDriverBase, NeighKey
from bgpvpn.dataplane.linux.netlink import (
    AF_BRIDGE,
    NDA_LLADDR,
    NTF_SELF,
    NUD_NOARP,
    NUD_PERMANENT,
    RTM_DELNEIGH,
    RTM_GETNEIGH,
    RTM_NEWNEIGH,
    SO_RCVBUFFORCE,
    Link,
    Netlink,
    Request,
    fdb_request,
    in_netns,
    neigh_request,
    parse_attrs,
)
from bgpvpn.dataplane.model import (
    Change,
    FloodListChanged,
    InstanceConfig,
    InstanceState,
    LearnedMac,
    LocalPort,
    PortAttached,
    PortDetached,
    ReconcileReport,
    RemoteMac,
    RemoteMacAdded,
    RemoteMacRemoved,
    RemoteRouteRemoved,
    RemoteRouteSet,
)
from bgpvpn.vpn.model import InstanceType

log = logging.getLogger(__name__)

ZERO_MAC = "00:00:00:00:00:00"
RTNLGRP_NEIGH = 3
NDA_MASTER = 9
NTF_EXT_LEARNED = 0x10


def _open_learning_socket() -> socket.socket:
    """A rtnetlink socket of the calling thread's namespace subscribed to neighbour (and so
    bridge FDB) notifications; nonblocking."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((0, 1 << (RTNLGRP_NEIGH - 1)))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass(slots=True)
class _Evi:
    config: InstanceConfig
    br_index: int = 0
    vx_index: int = 0
    # interface name -> MAC -> the attached (port, MAC): one interface may carry several MACs
    ports: dict[str, dict[str, LocalPort]] = field(default_factory=dict)
    # mac -> ip (None: the MAC-only route) -> entry; the FDB entry follows the newest entry
    macs: dict[str, dict[str | None, RemoteMac]] = field(default_factory=dict)
    fdb_vtep: dict[str, str] = field(default_factory=dict)  # mac -> VTEP programmed
    flood: frozenset[str] = frozenset()

    @property
    def bridge(self) -> str:
        return f"{tags.EVPN_BRIDGE_PREFIX}{self.config.index}"

    @property
    def vxlan(self) -> str:
        return f"{tags.EVPN_VXLAN_PREFIX}{self.config.index}"

    def vni_attr(self, entry: RemoteMac) -> int | None:
        return None if entry.vni in (0, self.config.vni) else entry.vni

    def all_ports(self) -> list[LocalPort]:
        return [port for by_mac in self.ports.values() for port in by_mac.values()]


def _bridge_name(index: int) -> str:
    return f"{tags.EVPN_BRIDGE_PREFIX}{tags.check_index(index)}"


def _vxlan_name(index: int) -> str:
    return f"{tags.EVPN_VXLAN_PREFIX}{tags.check_index(index)}"


class LinuxEvpnDriver(LinuxDriverBase[_Evi]):
    """The E-VPN driver. ``netns``: the namespace to program (None: the daemon's own);
    ``dstport``: the VXLAN UDP port; ``mtu``: of the VXLAN devices and netns ports (None: the
    VTEP interface's MTU minus 50/70); ``netlink``: share a connection with another driver.
    Changes for IP VPN instances are ignored (counted)."""

    name = "linux-evpn"
    kind_tag = "evpn"
    instance_type = InstanceType.EVPN
    foreign_changes = (RemoteRouteSet, RemoteRouteRemoved)  # type-5 routes: the IP VPN side

    def __init__(
        self,
        *,
        netns: str | None = None,
        dstport: int = 4789,
        mtu: int | None = None,
        netlink: Netlink | None = None,
    ) -> None:
        super().__init__(netns=netns, dstport=dstport, mtu=mtu, netlink=netlink)
        self._learn_sock: socket.socket | None = None
        self._learned: dict[tuple[str, str], str] = {}  # (instance, MAC) -> port, reported
        self._port_names: dict[int, str] = {}  # ifindex -> name, for learned entries

    # ------------------------------------------------------------ Driver

    def _reconcile(self, desired: Mapping[str, InstanceState]) -> ReconcileReport:
        report = ReconcileReport()
        want = self._wanted(desired)
        # 1. links of ours nobody wants (VXLAN before bridge), and stale netns ports
        self._remove_stale_links(want, {p.name for st in want.values() for p in st.ports}, report)

        # 2. the instances and their ports, then the remote MACs and flood lists they want
        self._rebuild_instances(want, report)  # flushed: the ports' enslaving
        for iid, evi in self._instances.items():
            for entry in want[iid].remote_macs:
                evi.macs.setdefault(entry.mac, {})[entry.ip] = entry
                evi.fdb_vtep[entry.mac] = entry.vtep
            evi.flood = frozenset(want[iid].flood)

        # 3. ports enslaved to our bridges that are not desired there
        links = self.nl.links()
        names = {ln.index: ln.name for ln in links}
        bridges = {evi.br_index: evi for evi in self._instances.values()}
        for link in links:
            evi_of = bridges.get(link.master)
            if evi_of is None or link.index == evi_of.vx_index or evi_of.ports.get(link.name):
                continue
            self.nl.ipr.link("set", index=link.index, master=0)
            report.removed.setdefault("port", []).append(f"{link.name} from {evi_of.bridge}")

        # 4. FDB and neighbour entries: exactly the desired ones
        want_fdb: dict[FdbKey, Request] = {}
        want_neigh: dict[NeighKey, Request] = {}
        index_of = {ln.name: ln.index for ln in links}
        for evi in self._instances.values():
            for mac, by_ip in evi.macs.items():
                entry = next(reversed(by_ip.values()))
                want_fdb[(evi.vx_index, mac, entry.vtep)] = self._mac_fdb(evi, entry, True)
                want_fdb[(evi.vx_index, mac, None)] = self._mac_bridge_fdb(evi, mac, True)
                for ip, e in by_ip.items():
                    if ip is not None:
                        want_neigh[(evi.br_index, ip)] = neigh_request(
                            True,
                            evi.br_index,
                            ip,
                            e.mac,
                            what=f"{ip} lladdr {e.mac} dev {evi.bridge}",
                        )
            for vtep in evi.flood:
                want_fdb[(evi.vx_index, ZERO_MAC, vtep)] = self._flood_fdb(evi, vtep, True)
            for port in evi.all_ports():
                pidx = index_of.get(port.name)
                if pidx is not None:
                    want_fdb[(pidx, port.mac, None)] = self._port_fdb(evi, port, pidx, True)
        vx_indexes = {evi.vx_index for evi in self._instances.values()}
        have_fdb = self._dump_fdb(vx_indexes, bridges)
        have_neigh = self._dump_neighbours(bridges)

        def delete_neigh(key: NeighKey) -> Request:
            ifindex, ip = key
            return neigh_request(False, ifindex, ip, what=f"{ip} dev {names.get(ifindex)}")

        def delete_fdb(key: FdbKey) -> Request:
            ifindex, mac, dst = key
            text = f"{mac} dev {names.get(ifindex)}" + (f" dst {dst}" if dst else "")
            if dst is None:
                return fdb_request(False, ifindex, mac, master=True, what=text)
            vni = have_fdb[key].get("NDA_VNI")
            return fdb_request(False, ifindex, mac, dst=dst, vni=vni, what=text)

        steps = [
            *self._removals("neigh", have_neigh, want_neigh, delete_neigh),
            *self._removals("fdb", have_fdb, want_fdb, delete_fdb),
            *self._additions("fdb", want_fdb, have_fdb),
            *self._additions("neigh", want_neigh, have_neigh),
        ]
        self._run_report(steps, report)
        return report

    def _instance_state(self, evi: _Evi) -> dict[str, Any]:
        return {
            "vni": evi.config.vni,
            "bridge": evi.bridge,
            "vxlan": evi.vxlan,
            "ports": sorted(evi.ports),
            "port_macs": {name: sorted(by_mac) for name, by_mac in sorted(evi.ports.items())},
            "remote_macs": sum(len(v) for v in evi.macs.values()),
            "flood": sorted(evi.flood),
        }

    def state(self) -> dict[str, Any]:
        return {
            "driver": self.name,
            "netns": self.nl.netns,
            "instances": {
                iid: self._instance_state(evi) for iid, evi in sorted(self._instances.items())
            },
            "errors": self.errors,
            "last_errors": list(self.last_errors),
            "ignored_changes": self.ignored,
        }

    def _release(self) -> None:
        if self._learn_sock is not None:
            self._learn_sock.close()
            self._learn_sock = None

    # ------------------------------------------------------------ MAC learning

    def learning_socket(self) -> socket.socket | None:
        """The nonblocking netlink socket whose readability means ``read_learned`` has news."""
        if self._learn_sock is None:
            self._learn_sock = in_netns(self.nl.netns, _open_learning_socket)
        return self._learn_sock

    def read_learned(self, dump: bool = False) -> list[LearnedMac]:
        """The MACs learned or forgotten since the last call. ``dump`` (or a notification
        lost: ENOBUFS): the bridges' FDB is dumped and compared with what was reported."""
        sock = self.learning_socket()
        assert sock is not None
        events: list[tuple[bool, bytes]] = []
        while True:
            try:
                buf = sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                dump = True
                continue
            if not buf:
                break
            off = 0
            while off + 16 <= len(buf):
                length, mtype, _flags, _seq, _pid = struct.unpack_from("=IHHII", buf, off)
                if length < 16:
                    break
                if mtype in (RTM_NEWNEIGH, RTM_DELNEIGH):
                    events.append((mtype == RTM_NEWNEIGH, bytes(buf[off + 16 : off + length])))
                off += (length + 3) & ~3
        if dump:
            return self._learned_dump()
        out: list[LearnedMac] = []
        for new, body in events:
            parsed = self._parse_fdb(body)
            if parsed is None:
                continue
            key, ifindex, learned = parsed
            reported = self._learned.get(key)
            if new and learned:
                port = self._port_name(ifindex)
                if port is None or port == reported:
                    continue
                self._learned[key] = port
                out.append(LearnedMac(key[0], port, key[1], True))
            elif reported is not None:
                if not new and self._port_names.get(ifindex, reported) != reported:
                    continue  # an entry of the MAC's previous port
                del self._learned[key]
                out.append(LearnedMac(key[0], reported, key[1], False))
        return out

    def _learned_dump(self) -> list[LearnedMac]:
        self._port_names = {}
        body = struct.pack("=BxxxiHBB", AF_BRIDGE, 0, 0, 0, 0)
        now: dict[tuple[str, str], str] = {}
        for mtype, msg in self.nl.dump(RTM_GETNEIGH, body):
            parsed = self._parse_fdb(msg) if mtype == RTM_NEWNEIGH else None
            if parsed is None or not parsed[2]:
                continue
            port = self._port_name(parsed[1])
            if port is not None:
                now[parsed[0]] = port
        out = [
            LearnedMac(iid, port, mac, False)
            for (iid, mac), port in self._learned.items()
            if (iid, mac) not in now
        ]
        out.extend(
            LearnedMac(iid, port, mac, True)
            for (iid, mac), port in now.items()
            if self._learned.get((iid, mac)) != port
        )
        self._learned = now
        return out

    def _parse_fdb(self, body: bytes) -> tuple[tuple[str, str], int, bool] | None:
        """A bridge FDB message of one of our bridges: ((instance, MAC), port ifindex, whether
        it is a learned entry we report); None for anything else."""
        if len(body) < 12:
            return None
        family, ifindex, state, flags, _type = struct.unpack_from("=BxxxiHBB", body)
        if family != AF_BRIDGE:
            return None
        attrs = parse_attrs(body[12:])
        lladdr = attrs.get(NDA_LLADDR)
        master = attrs.get(NDA_MASTER)
        if lladdr is None or len(lladdr) != 6 or master is None or len(master) != 4:
            return None
        (br_index,) = struct.unpack("=I", master)
        evi = next((e for e in self._instances.values() if e.br_index == br_index), None)
        if evi is None:
            return None
        mac = lladdr.hex(":")
        learned = not (
            state & (NUD_PERMANENT | NUD_NOARP)
            or flags & (NTF_SELF | NTF_EXT_LEARNED)
            or ifindex == evi.vx_index
            or lladdr[0] & 1
            or any(mac in by_mac for by_mac in evi.ports.values())
        )
        return (evi.config.instance_id, mac), ifindex, learned

    def _port_name(self, ifindex: int) -> str | None:
        name = self._port_names.get(ifindex)
        if name is None:
            self._port_names = {ln.index: ln.name for ln in self.nl.links()}
            name = self._port_names.get(ifindex)
        return name

    def _forget_learned(self, instance_id: str) -> None:
        for key in [k for k in self._learned if k[0] == instance_id]:
            del self._learned[key]

    # ------------------------------------------------------------ changes

    def _apply_change(self, evi: _Evi, change: Change) -> None:
        if isinstance(change, PortAttached):
            self._attach(evi, change.port, None)
        elif isinstance(change, PortDetached):
            self._detach(evi, change.port)
        elif isinstance(change, RemoteMacAdded):
            self._add_mac(evi, change.entry)
        elif isinstance(change, RemoteMacRemoved):
            self._remove_mac(evi, change.entry)
        elif isinstance(change, FloodListChanged):
            self._set_flood(evi, change.vteps)

    def _new_instance(self, config: InstanceConfig) -> _Evi:
        return _Evi(config)

    def _remove(self, evi: _Evi) -> None:
        self._flush()
        for port in evi.all_ports():
            self._detach(evi, port)
        self._flush()
        self._delete_link(evi.vxlan)
        self._delete_link(evi.bridge)
        self._instances.pop(evi.config.instance_id, None)
        self._forget_learned(evi.config.instance_id)

    # ------------------------------------------------------------ links

    def _link_names(self, config: InstanceConfig) -> tuple[str, str]:
        return _bridge_name(config.index), _vxlan_name(config.index)

    @staticmethod
    def _is_ours(link: Link) -> bool:
        return (
            tags.index_of(link.name, tags.EVPN_BRIDGE_PREFIX) is not None and link.kind == "bridge"
        ) or (tags.index_of(link.name, tags.EVPN_VXLAN_PREFIX) is not None and link.kind == "vxlan")

    def _ensure_instance(self, evi: _Evi, report: ReconcileReport | None) -> None:
        """Create (or repair) the bridge and the VXLAN device of ``evi``; idempotent."""
        self._flush()
        cfg = evi.config
        alias = self._instance_alias(cfg)
        added: list[str] = []
        br = self.nl.link(evi.bridge)
        if br is not None and br.kind != "bridge":
            self.nl.ipr.link("del", index=br.index)
            br = None
        if br is None:
            self.nl.ipr.link("add", ifname=evi.bridge, kind="bridge", address=cfg.router_mac)
            br = self.nl.link(evi.bridge)
            assert br is not None
            self._addrgenmode_none(br.index)
            self.nl.ipr.link("set", index=br.index, ifalias=alias)
            added.append(f"{evi.bridge} (bridge)")
        elif br.address != cfg.router_mac:
            self.nl.ipr.link("set", index=br.index, address=cfg.router_mac)
        if not br.up:
            self.nl.ipr.link("set", index=br.index, state="up")
        evi.br_index = br.index

        vx, created = self._ensure_vxlan(evi.vxlan, cfg, report, master=br.index)
        if created:
            added.append(f"{evi.vxlan} (vxlan {cfg.vni})")
        elif vx.master != br.index:
            self.nl.ipr.link("set", index=vx.index, master=br.index)
        if vx.brport.get("neigh_suppress") != 1 or vx.brport.get("learning") != 0:
            self.nl.ipr.brport("set", index=vx.index, neigh_suppress=1, learning=0)
        if not vx.up:
            self.nl.ipr.link("set", index=vx.index, state="up")
        evi.vx_index = vx.index
        self._forget_link()
        if report is not None and added:
            report.added.setdefault("link", []).extend(added)

    # ------------------------------------------------------------ ports

    def _attach(self, evi: _Evi, port: LocalPort, report: ReconcileReport | None) -> None:
        """Attach one (port, MAC): the interface is enslaved (queued, with the link looked up
        once per batch) unless it already is, and the MAC gets its static FDB entry."""
        link = self._link(port.name)
        created = False
        if port.netns is not None:
            _index, created = self._attach_netns_port(port, evi.config, evi.vxlan, report)
            link = self._link(port.name)
        if link is None:
            raise ValueError(f"no interface {port.name}")
        index = link.index
        if link.master == evi.br_index and link.brport.get("learning") == 0:
            self.nl.ipr.brport("set", index=index, learning=1)  # local ports learn
            link.brport["learning"] = 1
        if link.master != evi.br_index or not link.up:
            self._set_link(
                link, master=evi.br_index, up=True, what=f"{port.name} master {evi.bridge} up"
            )
            if report is not None and not created:
                report.added.setdefault("port", []).append(f"{port.name} to {evi.bridge}")
        evi.ports.setdefault(port.name, {})[port.mac] = port
        if report is None:
            self._queue(self._port_fdb(evi, port, index, True))

    def _detach(self, evi: _Evi, port: LocalPort) -> None:
        """Detach one (port, MAC): its static FDB entry goes; the interface leaves the bridge
        (or, a netns port, is deleted) only with its last MAC."""
        by_mac = evi.ports.get(port.name, {})
        known = by_mac.pop(port.mac, port)
        if not by_mac:
            evi.ports.pop(port.name, None)
        link = self._link(port.name)
        if link is None:
            return
        if link.master == evi.br_index:
            self._queue(self._port_fdb(evi, known, link.index, False))
        if by_mac:
            return  # other MACs of this interface are still attached
        if known.netns is not None:
            self._remove_netns_port(known)
        elif link.master == evi.br_index:
            self._set_link(link, master=0, what=f"{port.name} nomaster")

    def _port_fdb(self, evi: _Evi, port: LocalPort, index: int, add: bool) -> Request:
        text = f"{port.mac} dev {port.name} master {evi.bridge} static"
        return fdb_request(add, index, port.mac, master=True, what=text)

    # ------------------------------------------------------------ remote MACs, flooding

    def _mac_fdb(self, evi: _Evi, entry: RemoteMac, add: bool) -> Request:
        """``MAC dst VTEP self static`` on the VXLAN device: where the VXLAN driver sends."""
        text = f"{entry.mac} dev {evi.vxlan} dst {entry.vtep}"
        return fdb_request(
            add, evi.vx_index, entry.mac, dst=entry.vtep, vni=evi.vni_attr(entry), what=text
        )

    def _mac_bridge_fdb(self, evi: _Evi, mac: str, add: bool) -> Request:
        """``MAC dev VXLAN master static``: the bridge forwards the MAC to the VXLAN port
        instead of flooding it, and ARP/ND suppression finds the port (it answers only for
        MACs behind a port with neigh_suppress)."""
        text = f"{mac} dev {evi.vxlan} master {evi.bridge} static"
        return fdb_request(add, evi.vx_index, mac, master=True, what=text)

    def _flood_fdb(self, evi: _Evi, vtep: str, add: bool) -> Request:
        text = f"{ZERO_MAC} dev {evi.vxlan} dst {vtep}"
        return fdb_request(add, evi.vx_index, ZERO_MAC, dst=vtep, append=True, what=text)

    def _neigh(self, evi: _Evi, entry: RemoteMac, add: bool) -> Request:
        assert entry.ip is not None
        text = f"{entry.ip} lladdr {entry.mac} dev {evi.bridge}"
        return neigh_request(add, evi.br_index, entry.ip, entry.mac if add else None, what=text)

    def _add_mac(self, evi: _Evi, entry: RemoteMac) -> None:
        by_ip = evi.macs.setdefault(entry.mac, {})
        by_ip.pop(entry.ip, None)
        by_ip[entry.ip] = entry  # newest last
        old_vtep = evi.fdb_vtep.get(entry.mac)
        if old_vtep is not None and old_vtep != entry.vtep:
            self._queue(fdb_request(False, evi.vx_index, entry.mac, dst=old_vtep, what=""))
        self._queue(self._mac_fdb(evi, entry, True))
        if old_vtep is None:
            self._queue(self._mac_bridge_fdb(evi, entry.mac, True))
        evi.fdb_vtep[entry.mac] = entry.vtep
        if entry.ip is not None:
            self._queue(self._neigh(evi, entry, True))

    def _remove_mac(self, evi: _Evi, entry: RemoteMac) -> None:
        by_ip = evi.macs.get(entry.mac)
        if by_ip is None:
            return
        current = by_ip.get(entry.ip)
        if current is None or current.vtep != entry.vtep:
            return  # an older route for an entry that moved since
        del by_ip[entry.ip]
        if entry.ip is not None:
            self._queue(self._neigh(evi, entry, False))
        if not by_ip:
            del evi.macs[entry.mac]
            vtep = evi.fdb_vtep.pop(entry.mac, entry.vtep)
            self._queue(
                fdb_request(
                    False,
                    evi.vx_index,
                    entry.mac,
                    dst=vtep,
                    vni=evi.vni_attr(entry),
                    what=f"{entry.mac} dev {evi.vxlan} dst {vtep}",
                )
            )
            self._queue(self._mac_bridge_fdb(evi, entry.mac, False))
            return
        newest = next(reversed(by_ip.values()))
        if newest.vtep != evi.fdb_vtep.get(entry.mac):
            self._add_mac(evi, newest)

    def _set_flood(self, evi: _Evi, vteps: frozenset[str]) -> None:
        for vtep in sorted(evi.flood - vteps):
            self._queue(self._flood_fdb(evi, vtep, False))
        for vtep in sorted(vteps - evi.flood):
            self._queue(self._flood_fdb(evi, vtep, True))
        evi.flood = frozenset(vteps)
