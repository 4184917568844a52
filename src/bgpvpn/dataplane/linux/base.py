"""What both Linux drivers share: the netlink connection, the batch of pending requests (and
sysctls), the links looked up during a batch, error accounting, the instances by id and the
changes routed to them, VXLAN devices, netns ports (a namespace and a veth pair) and their MTU,
and the frame of reconcile: which desired instances to program, our stale links and netns ports
removed, the instances and their ports rebuilt, our FDB and neighbour entries listed and the
kernel objects compared with the desired ones."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections import deque
from collections.abc import Callable, Container, Hashable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from bgpvpn.dataplane.linux import tags
from bgpvpn.dataplane.linux.netlink import (
    NTF_SELF,
    NUD_NOARP,
    NUD_PERMANENT,
    Hop,
    Link,
    Netlink,
    Request,
    ip_canonical,
    link_request,
    netns_create,
    netns_exists,
    netns_path,
    netns_remove,
    route_request,
)
from bgpvpn.dataplane.model import (
    Change,
    InstanceConfig,
    InstanceCreated,
    InstanceRemoved,
    InstanceState,
    LocalPort,
    ReconcileReport,
)
from bgpvpn.vpn.model import InstanceType

log = logging.getLogger(__name__)

IFA_F_NODAD = 0x02
IFA_F_NOPREFIXROUTE = 0x200
DEFAULT_MTU = 1500

# One step of a reconcile: (request, kind of object, text for the report, whether it adds)
ReconcileStep = tuple[Request, str, str, bool]
# An FDB entry as reconcile compares them: (ifindex, MAC, remote VTEP; None: a bridge port's)
FdbKey = tuple[int, str, str | None]
# A neighbour entry as reconcile compares them: (ifindex, IP address)
NeighKey = tuple[int, str]

KeyT = TypeVar("KeyT", bound=Hashable)


class DriverInstance(Protocol):
    """What the base knows of a driver's per-instance state (an EVI, a VRF)."""

    config: InstanceConfig


InstanceT = TypeVar("InstanceT", bound=DriverInstance)


class LinuxDriverBase(Generic[InstanceT]):
    """Owns one ``Netlink`` (to the namespace ``netns``, None: the daemon's own) unless one is
    given. Requests queue in ``_pending`` and sysctls in ``_sysctls``; both go to the kernel in
    one batch at ``_flush``. Links are looked up once per batch (``_link``): the cache follows
    the changes the driver queues itself and is dropped at the end of each ``apply``.

    ``_instances`` are the driver's instances of its ``instance_type`` by instance id; changes
    for the other type are counted in ``ignored``. A driver supplies the ``_new_instance``,
    ``_ensure_instance``, ``_remove``, ``_attach``, ``_detach``, ``_apply_change``,
    ``_link_names``, ``_is_ours`` and ``_reconcile`` of its kind."""

    name = "linux"
    kind_tag = ""  # "evpn" / "ipvpn": in the aliases, so each driver only sees its own
    # a netns port's IPv6 subnet on-link in the VM (a layer-2 segment: E-VPN); False: none, so
    # that the VM sends all to its gateway (IP VPN: proxy NDP answers for the gateway only)
    netns_ipv6_onlink = True
    instance_type: ClassVar[InstanceType]
    # the changes that only concern the other driver (counted in ``ignored``)
    foreign_changes: ClassVar[tuple[type, ...]] = ()

    def _port_alias(self, netns: str) -> str:
        return f"{tags.PORT_ALIAS_PREFIX}{self.kind_tag}:{netns}"

    def __init__(
        self,
        *,
        netns: str | None = None,
        dstport: int = 4789,
        mtu: int | None = None,
        netlink: Netlink | None = None,
    ) -> None:
        self.nl = netlink if netlink is not None else Netlink(netns)
        self._own_netlink = netlink is None
        self.dstport = dstport
        self.mtu = mtu  # None: the VTEP's interface MTU minus the VXLAN overhead
        self._pending: list[Request] = []
        self._sysctls: dict[tuple[str, ...], str] = {}  # written at the next flush, in order
        self._link_cache: dict[str, Link] = {}
        self.errors = 0
        self.last_errors: deque[str] = deque(maxlen=50)
        self.warnings: list[str] = []
        self.ignored = 0  # changes for instances of the other kind
        self.applied = 0
        self._instances: dict[str, InstanceT] = {}

    # ------------------------------------------------------------ Driver

    def apply(self, changes: Sequence[Change]) -> None:
        self._forget_link()
        try:
            for change in changes:
                try:
                    self._apply_one(change)
                except Exception as exc:  # one bad entry never stops the batch
                    self._error(f"{type(change).__name__}: {exc}")
            self._finish_batch()
            self._flush()
        finally:
            self._forget_link()

    def reconcile(self, desired: Mapping[str, InstanceState]) -> ReconcileReport:
        self._flush()
        self._forget_link()
        try:
            return self._reconcile(desired)
        finally:
            self._finish_reconcile()
            self._forget_link()

    def close(self, remove: bool) -> None:
        try:
            if remove:
                self.reconcile({})
        finally:
            self._release()
            self.close_netlink()

    def _finish_batch(self) -> None:
        """What the driver does once at the end of an ``apply`` batch, before the flush."""

    def _finish_reconcile(self) -> None:
        """What the driver does at the end of a reconcile, also after a failure."""

    def _release(self) -> None:
        """Close what the driver holds besides its netlink connection (at ``close``)."""

    # ------------------------------------------------------------ changes

    def _apply_one(self, change: Change) -> None:
        if isinstance(change, InstanceCreated):
            if change.config.instance_type != self.instance_type:
                self.ignored += 1
                return
            self._create(change.config)
            return
        if isinstance(change, self.foreign_changes):
            self.ignored += 1
            return
        instance = self._instances.get(change.instance_id)
        if instance is None:
            self.ignored += 1
            return
        if isinstance(change, InstanceRemoved):
            self._remove(instance)
        else:
            self._apply_change(instance, change)
        self.applied += 1

    def _create(self, config: InstanceConfig) -> InstanceT | None:
        """Create (or replace, its config changed) the instance of ``config``; None when it is
        already there as configured."""
        old = self._instances.get(config.instance_id)
        if old is not None:
            if old.config == config:
                return None
            self._remove(old)
        for other in self._instances.values():
            conflict = self._conflict(config, other.config)
            if conflict is not None:
                raise ValueError(conflict)
        instance = self._new_instance(config)
        self._ensure_instance(instance, None)
        self._instances[config.instance_id] = instance
        return instance

    def _conflict(self, config: InstanceConfig, other: InstanceConfig) -> str | None:
        """Why ``config`` cannot be created next to the existing ``other`` (None: it can)."""
        if other.vni == config.vni:
            return (
                f"VNI {config.vni} of {config.instance_id} is already used by {other.instance_id}"
            )
        return None

    def _new_instance(self, config: InstanceConfig) -> InstanceT:
        raise NotImplementedError

    def _ensure_instance(self, instance: InstanceT, report: ReconcileReport | None) -> None:
        """Create (or repair) the kernel objects of ``instance`` itself; idempotent."""
        raise NotImplementedError

    def _remove(self, instance: InstanceT) -> None:
        raise NotImplementedError

    def _attach(self, instance: InstanceT, port: LocalPort, report: ReconcileReport | None) -> None:
        raise NotImplementedError

    def _detach(self, instance: InstanceT, port: LocalPort) -> None:
        raise NotImplementedError

    def _apply_change(self, instance: InstanceT, change: Change) -> None:
        """Apply a change for ``instance`` other than its creation or removal."""
        raise NotImplementedError

    def _instance_state(self, instance: InstanceT) -> dict[str, Any]:
        """One instance as in ``state()["instances"]``."""
        raise NotImplementedError

    def instance_state(self, instance_id: str) -> dict[str, Any] | None:
        """One instance's entry of ``state()["instances"]`` (None: no such instance)."""
        instance = self._instances.get(instance_id)
        return None if instance is None else self._instance_state(instance)

    def _instance_alias(self, config: InstanceConfig) -> str:
        """The alias that tags the links of an instance."""
        return f"{tags.ALIAS_PREFIX}{self.kind_tag}:{config.instance_id}"

    # ------------------------------------------------------------ batching and errors

    def _queue(self, req: Request) -> None:
        self._pending.append(req)

    def _flush(self) -> None:
        if self._sysctls:
            values, self._sysctls = list(self._sysctls.items()), {}
            for key in self.nl.sysctl_set(values):
                self._error(f"sysctl {key} could not be set")
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        for failure in self.nl.run(pending):
            self._error(str(failure))

    def _error(self, text: str) -> None:
        self.errors += 1
        self.last_errors.append(text)
        log.warning("%s: %s", self.name, text)

    def _run_report(self, requests: Iterable[ReconcileStep], report: ReconcileReport) -> None:
        """Run reconcile requests ``(request, kind, text, added)``; record in ``report`` those
        the kernel accepted."""
        items = list(requests)
        failed = {id(f.request) for f in self._failures([r for r, *_ in items])}
        for req, kind, text, added in items:
            if id(req) in failed:
                continue
            target = report.added if added else report.removed
            target.setdefault(kind, []).append(text)

    def _failures(self, requests: list[Request]) -> list[Any]:
        failures = self.nl.run(requests)
        for f in failures:
            self._error(str(f))
        return failures

    def _queue_sysctls(self, values: Sequence[tuple[Sequence[str], str]]) -> None:
        """Set sysctls at the next flush (the last value given for a key wins; one thread
        entering the namespace for the whole batch)."""
        for key, value in values:
            self._sysctls.pop(tuple(key), None)
            self._sysctls[tuple(key)] = value

    # ------------------------------------------------------------ links

    def _link(self, name: str) -> Link | None:
        """The link ``name`` as this batch knows it: looked up once, then kept up to date by
        ``_set_link`` and ``_forget_link``."""
        link = self._link_cache.get(name)
        if link is None:
            link = self.nl.link(name)
            if link is not None:
                self._link_cache[name] = link
        return link

    def _forget_link(self, name: str | None = None) -> None:
        """After a link was created, deleted or changed behind the cache (None: all of them)."""
        if name is None:
            self._link_cache.clear()
        else:
            self._link_cache.pop(name, None)

    def _set_link(
        self, link: Link, *, master: int | None = None, up: bool | None = None, what: str = ""
    ) -> None:
        """Queue enslaving / releasing (``master`` 0) / setting up ``link``, and note it."""
        self._queue(link_request(link.index, master=master, up=up, what=what or link.name))
        if master is not None:
            link.master = master
        if up is not None:
            link.up = up

    def _vxlan_mtu(self, vtep: str) -> int:
        if self.mtu is not None:
            return self.mtu
        version = ipaddress.ip_address(vtep).version
        underlay = DEFAULT_MTU
        try:
            family = socket.AF_INET6 if version == 6 else socket.AF_INET
            addrs = self.nl.ipr.get_addr(family=family, address=vtep)
            if addrs:
                link = self.nl.ipr.get_links(addrs[0]["index"])
                if link:
                    underlay = int(link[0].get("IFLA_MTU") or DEFAULT_MTU)
        except Exception as exc:  # the VTEP may not be configured yet
            log.debug("MTU of VTEP %s: %s", vtep, exc)
        return underlay - tags.VXLAN_OVERHEAD[version]

    def _addrgenmode_none(self, index: int) -> None:
        spec = {"attrs": [("AF_INET6", {"attrs": [("IFLA_INET6_ADDR_GEN_MODE", 1)]})]}
        self.nl.ipr.link("set", index=index, IFLA_AF_SPEC=spec)

    def _vxlan_matches(self, link: Link, vni: int, vtep: str) -> bool:
        return (
            link.kind == "vxlan"
            and link.vni == vni
            and link.vxlan_local == vtep
            and link.vxlan_port == self.dstport
            and link.vxlan_learning is False
        )

    def _create_vxlan(
        self,
        name: str,
        *,
        vni: int,
        vtep: str,
        alias: str,
        master: int | None = None,
        address: str | None = None,
    ) -> int:
        local_key = "vxlan_local6" if ":" in vtep else "vxlan_local"
        kwargs: dict[str, Any] = {
            "ifname": name,
            "kind": "vxlan",
            "vxlan_id": vni,
            local_key: vtep,
            "vxlan_port": self.dstport,
            "vxlan_learning": 0,
            "mtu": self._vxlan_mtu(vtep),
        }
        if address is not None:
            kwargs["address"] = address
        if master is not None:
            kwargs["master"] = master
        self.nl.ipr.link("add", **kwargs)
        index = self.nl.index(name)
        assert index is not None
        self._addrgenmode_none(index)
        self.nl.ipr.link("set", index=index, ifalias=alias)
        return index

    def _ensure_vxlan(
        self,
        name: str,
        config: InstanceConfig,
        report: ReconcileReport | None,
        *,
        master: int | None = None,
        address: str | None = None,
    ) -> tuple[Link, bool]:
        """The VXLAN device ``name`` of ``config``: made (enslaved to ``master``, with the MAC
        ``address``) unless it is there; one whose VNI, local VTEP, port or learning differ is
        deleted first (reported). Returns it and whether it was made here."""
        vx = self.nl.link(name)
        if vx is not None and not self._vxlan_matches(vx, config.vni, config.vtep):
            self.nl.ipr.link("del", index=vx.index)
            if report is not None:
                report.removed.setdefault("link", []).append(f"{name} (vxlan, changed)")
            vx = None
        if vx is not None:
            return vx, False
        index = self._create_vxlan(
            name,
            vni=config.vni,
            vtep=config.vtep,
            alias=self._instance_alias(config),
            master=master,
            address=address,
        )
        vx = self.nl.link(name)
        assert vx is not None and vx.index == index
        return vx, True

    def _delete_link(self, name: str) -> bool:
        index = self.nl.index(name)
        if index is None:
            return False
        self.nl.ipr.link("del", index=index)
        self._forget_link()  # its ports lost their master
        return True

    # ------------------------------------------------------------ netns ports

    def _ensure_netns_port(self, port: LocalPort, mtu: int) -> int:
        """The namespace, the veth pair (host side ``port.name``, tagged), the namespace side
        with the port's MAC, addresses and default route. Idempotent; returns the host index."""
        assert port.netns is not None
        netns_create(port.netns)
        alias = self._port_alias(port.netns)
        link = self._link(port.name)
        if link is not None and link.alias != alias:
            raise ValueError(f"{port.name} exists and is not a bgpvpn netns port")
        if link is None:
            fd = os.open(netns_path(port.netns), os.O_RDONLY)
            try:
                peer = {
                    "ifname": tags.PEER_IFNAME,
                    "net_ns_fd": fd,
                    "address": port.mac,
                    "mtu": mtu,
                }
                self.nl.ipr.link("add", ifname=port.name, kind="veth", peer=peer, mtu=mtu)
            finally:
                os.close(fd)
            index = self.nl.index(port.name)
            assert index is not None
            self.nl.ipr.link("set", index=index, ifalias=alias)
            self._forget_link(port.name)
        else:
            index = link.index
        if link is None or not link.up:
            self.nl.ipr.link("set", index=index, state="up")
            self._forget_link(port.name)
        self._configure_inside(port, mtu)
        return index

    def _attach_netns_port(
        self, port: LocalPort, config: InstanceConfig, vxlan: str, report: ReconcileReport | None
    ) -> tuple[int, bool]:
        """``_ensure_netns_port`` with the MTU of the instance's VXLAN device ``vxlan`` (the
        one it will have when it is not there); a port made here is reported. Returns the host
        index and whether the port was made here."""
        created = self._link(port.name) is None
        vx = self._link(vxlan)
        mtu = vx.mtu if vx is not None else self._vxlan_mtu(config.vtep)
        index = self._ensure_netns_port(port, mtu)
        if created and report is not None:
            report.added.setdefault("port", []).append(f"{port.name} (netns {port.netns})")
        return index, created

    def _configure_inside(self, port: LocalPort, mtu: int) -> None:
        assert port.netns is not None
        inside = Netlink(port.netns)
        try:
            lo = inside.index("lo")
            if lo is not None:
                inside.ipr.link("set", index=lo, state="up")
            index = inside.index(tags.PEER_IFNAME)
            if index is None:
                raise ValueError(f"{port.netns} has no {tags.PEER_IFNAME}")
            inside.ipr.link("set", index=index, address=port.mac, mtu=mtu, state="up")
            present = {
                (a.get("IFA_ADDRESS"), a["prefixlen"]) for a in inside.ipr.get_addr(index=index)
            }
            for text in port.ips:
                iface = ipaddress.ip_interface(text)
                key = (str(iface.ip), iface.network.prefixlen)
                if key in present:
                    continue
                # IPv6 in an IP VPN: no on-link prefix route either, so that the VM sends every
                # packet, also to its own subnet, to its gateway (proxy NDP answers only for
                # that one address, where proxy ARP answers for every routed one)
                flags = IFA_F_NODAD | (0 if self.netns_ipv6_onlink else IFA_F_NOPREFIXROUTE)
                extra = {"IFA_FLAGS": flags} if iface.version == 6 else {}
                inside.ipr.addr(
                    "add", index=index, address=str(iface.ip), prefixlen=key[1], **extra
                )
            if port.gateway_ip is not None:
                gw = ipaddress.ip_address(port.gateway_ip)
                default = "::/0" if gw.version == 6 else "0.0.0.0/0"
                req = route_request(
                    True,
                    default,
                    table=254,
                    protocol=4,  # static
                    hops=[Hop(str(gw), index, onlink=True)],
                    what=f"default via {gw} in {port.netns}",
                )
                for failure in inside.run([req]):
                    self._error(str(failure))
        finally:
            inside.close()

    def _remove_netns_port(self, port: LocalPort) -> None:
        """Delete the netns port and its namespace, after sending what is queued (which may
        still name the port)."""
        assert port.netns is not None
        self._flush()
        link = self._link(port.name)
        if link is not None and link.alias == self._port_alias(port.netns):
            self.nl.ipr.link("del", index=link.index)
        self._forget_link(port.name)
        netns_remove(port.netns)

    def _stale_netns_ports(self, links: list[Link], wanted: set[str]) -> list[Link]:
        """Host sides of netns ports we created (alias tag) that no desired port names."""
        return [
            link
            for link in links
            if link.alias is not None
            and link.alias.startswith(self._port_alias(""))
            and link.name not in wanted
        ]

    def _remove_stale_port(self, link: Link, report: ReconcileReport) -> None:
        assert link.alias is not None
        ns = link.alias.removeprefix(self._port_alias(""))
        self.nl.ipr.link("del", index=link.index)
        if ns and netns_exists(ns):
            netns_remove(ns)
        report.removed.setdefault("port", []).append(f"{link.name} ({self.kind_tag}, netns {ns})")

    # ------------------------------------------------------------ reconcile

    def _reconcile(self, desired: Mapping[str, InstanceState]) -> ReconcileReport:
        raise NotImplementedError

    def _link_names(self, config: InstanceConfig) -> tuple[str, ...]:
        """The links of the instance ``config``."""
        raise NotImplementedError

    @staticmethod
    def _is_ours(link: Link) -> bool:
        """Whether ``link`` is an instance link of this driver's kind (by name and kind)."""
        raise NotImplementedError

    def _wanted(self, desired: Mapping[str, InstanceState]) -> dict[str, InstanceState]:
        """The desired instances of this driver's type, but those that clash with an earlier
        one (``_reconcile_clash``, an error each)."""
        want: dict[str, InstanceState] = {}
        by_vni: dict[int, str] = {}
        by_index: dict[int, str] = {}
        for iid, st in desired.items():
            if st.config.instance_type != self.instance_type:
                continue
            clash = self._reconcile_clash(st.config, by_vni, by_index)
            if clash is not None:
                self._error(f"{iid}: {clash}")
                continue
            by_vni[st.config.vni] = by_index[st.config.index] = iid
            want[iid] = st
        return want

    def _reconcile_clash(
        self, config: InstanceConfig, by_vni: Mapping[int, str], by_index: Mapping[int, str]
    ) -> str | None:
        """Why a desired ``config`` is left out, given the instances already kept by VNI and by
        index (None: it is kept)."""
        other = by_vni.get(config.vni)
        return None if other is None else f"VNI {config.vni} already used by {other}"

    def _remove_stale_links(
        self, want: Mapping[str, InstanceState], wanted_ports: set[str], report: ReconcileReport
    ) -> None:
        """Delete our instance links that no instance of ``want`` names (VXLAN devices before
        bridges) and the netns ports we made that ``wanted_ports`` does not name."""
        wanted_links = {name for st in want.values() for name in self._link_names(st.config)}
        links = self.nl.links()
        stale = [ln for ln in links if self._is_ours(ln) and ln.name not in wanted_links]
        for link in sorted(stale, key=lambda ln: ln.kind != "vxlan"):
            self.nl.ipr.link("del", index=link.index)
            report.removed.setdefault("link", []).append(f"{link.name} ({link.kind})")
        for link in self._stale_netns_ports(links, wanted_ports):
            self._remove_stale_port(link, report)
        self._forget_link()

    def _rebuild_instances(
        self, want: Mapping[str, InstanceState], report: ReconcileReport
    ) -> None:
        """``_instances`` made anew from ``want``: each instance's links and ports ensured (an
        instance that fails is left out, a port that fails is an error), then a flush."""
        self._instances = {}
        for iid, st in want.items():
            instance = self._new_instance(st.config)
            try:
                self._ensure_instance(instance, report)
            except Exception as exc:
                self._error(f"{iid}: {exc}")
                continue
            self._instances[iid] = instance
            for port in st.ports:
                try:
                    self._attach(instance, port, report)
                except Exception as exc:
                    self._error(f"{iid} port {port.name}: {exc}")
        self._flush()

    def _dump_fdb(
        self, vx_indexes: Container[int], bridges: Container[int] = ()
    ) -> dict[FdbKey, Any]:
        """Our FDB entries with their dump messages: those with a remote VTEP (``self``) on the
        VXLAN devices ``vx_indexes`` and the static ones (NUD_NOARP) of ports of ``bridges``."""
        have: dict[FdbKey, Any] = {}
        for msg in self.nl.ipr.fdb("dump"):
            ifindex = int(msg["ifindex"])
            mac = str(msg.get("NDA_LLADDR"))
            if ifindex in vx_indexes and msg["flags"] & NTF_SELF and msg.get("NDA_DST"):
                have[(ifindex, mac, str(msg.get("NDA_DST")))] = msg
            elif msg.get("NDA_MASTER") in bridges and msg["state"] == NUD_NOARP:
                have[(ifindex, mac, None)] = msg
        return have

    def _dump_neighbours(self, ifindexes: Container[int]) -> dict[NeighKey, str | None]:
        """The permanent neighbour entries on ``ifindexes`` and their MAC, keyed by the
        address in ``ip_canonical`` form (the form the drivers' desired keys use)."""
        have: dict[NeighKey, str | None] = {}
        for msg in self.nl.ipr.neigh("dump"):
            if msg["ifindex"] in ifindexes and msg["state"] & NUD_PERMANENT and msg.get("NDA_DST"):
                ip = ip_canonical(str(msg.get("NDA_DST")))
                have[(int(msg["ifindex"]), ip)] = msg.get("NDA_LLADDR")
        return have

    @staticmethod
    def _removals(
        kind: str,
        have: Iterable[KeyT],
        want: Container[KeyT],
        delete: Callable[[KeyT], Request],
        *,
        text: Callable[[KeyT], str] | None = None,
        order: Callable[[list[KeyT]], Iterable[KeyT]] | None = None,
    ) -> list[ReconcileStep]:
        """Steps deleting the kernel objects ``have`` that ``want`` lacks (in the ``order``
        given, else as found): ``delete(key)`` the request, ``text(key)`` the report's line (by
        default the request's text)."""
        stale = [key for key in have if key not in want]
        steps: list[ReconcileStep] = []
        for key in stale if order is None else order(stale):
            req = delete(key)
            steps.append((req, kind, req.what if text is None else text(key), False))
        return steps

    @staticmethod
    def _additions(
        kind: str,
        want: Mapping[KeyT, Request],
        have: Container[KeyT],
        differs: Callable[[KeyT, Request], bool] | None = None,
    ) -> list[ReconcileStep]:
        """Steps sending the desired requests ``want`` whose object the kernel lacks or, with
        ``differs``, has otherwise."""
        return [
            (req, kind, req.what, True)
            for key, req in want.items()
            if key not in have or (differs is not None and differs(key, req))
        ]

    def close_netlink(self) -> None:
        if self._own_netlink:
            self.nl.close()
