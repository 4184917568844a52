"""What both Linux drivers share: the netlink connection, the batch of pending requests (and
sysctls), the links looked up during a batch, error accounting, VXLAN devices, netns ports (a
namespace and a veth pair) and their MTU."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from bgpvpn.dataplane.linux import tags
from bgpvpn.dataplane.linux.netlink import (
    Hop,
    Link,
    Netlink,
    Request,
    link_request,
    netns_create,
    netns_exists,
    netns_path,
    netns_remove,
    route_request,
)
from bgpvpn.dataplane.model import LocalPort, ReconcileReport

log = logging.getLogger(__name__)

IFA_F_NODAD = 0x02
DEFAULT_MTU = 1500


class LinuxDriverBase:
    """Owns one ``Netlink`` (to the namespace ``netns``, None: the daemon's own) unless one is
    given. Requests queue in ``_pending`` and sysctls in ``_sysctls``; both go to the kernel in
    one batch at ``_flush``. Links are looked up once per batch (``_link``): the cache follows
    the changes the driver queues itself and is dropped at the end of each ``apply``."""

    name = "linux"
    kind_tag = ""  # "evpn" / "ipvpn": in the aliases, so each driver only sees its own

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

    def _run_report(
        self, requests: Iterable[tuple[Request, str, str, bool]], report: ReconcileReport
    ) -> None:
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
                extra = {"flags": IFA_F_NODAD} if iface.version == 6 else {}
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
        assert port.netns is not None
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

    def _remove_stale_port(self, link: Link, report: ReconcileReport, kind: str) -> None:
        assert link.alias is not None
        ns = link.alias.removeprefix(self._port_alias(""))
        self.nl.ipr.link("del", index=link.index)
        if ns and netns_exists(ns):
            netns_remove(ns)
        report.removed.setdefault("port", []).append(f"{link.name} ({kind}, netns {ns})")

    def close_netlink(self) -> None:
        if self._own_netlink:
            self.nl.close()
