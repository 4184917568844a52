"""The two-host lab of the Linux data-plane tests: two "hosts" as network namespaces joined by a
veth (underlay 203.0.113.0/24, VTEPs .1 and .2), commands and pings run in namespaces, a host
interface carrying several MACs. A module of its own (not conftest.py) so that the test modules
import it by a name no other test directory uses; the ``lab`` fixture is in conftest.py."""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass, field

import pytest

NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.isdir("/proc/self/ns"), reason="needs root and netns"
)

VTEP_A = "203.0.113.1"
VTEP_B = "203.0.113.2"


def uniq(tag: str) -> str:
    """A namespace or interface name unique to this test process (fits IFNAMSIZ)."""
    return f"{tag}{os.getpid() % 100000}"


@dataclass
class Lab:
    a: str
    b: str
    namespaces: list[str] = field(default_factory=list)

    def ns(self, tag: str) -> str:
        """The name of a namespace the test (or a driver) will create; deleted at teardown."""
        name = f"bvt{tag}-{os.getpid() % 100000}"
        self.namespaces.append(name)
        return name


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def pings(ns: str, ip: str, count: int = 3, deadline: int = 4) -> bool:
    """True when ``ip`` answers at least one ping sent from namespace ``ns``."""
    proc = run(
        "ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", str(count), "-i", "0.2",
        "-w", str(deadline), ip,
    )  # fmt: skip
    return proc.returncode == 0


def no_ping(ns: str, ip: str) -> bool:
    """True when ``ip`` does not answer from ``ns`` (two pings, one second)."""
    proc = run("ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-w", "1", ip)
    return proc.returncode != 0


def make_underlay(a: str, b: str) -> None:
    from pyroute2 import IPRoute  # type: ignore[import-untyped]

    from bgpvpn.dataplane.linux.netlink import netns_create, netns_path

    for ns in (a, b):
        netns_create(ns)
    with IPRoute(netns=a, flags=0, groups=0) as ipa:
        fd = os.open(netns_path(b), os.O_RDONLY)
        try:
            ipa.link("add", ifname="ul0", kind="veth", peer={"ifname": "ul0", "net_ns_fd": fd})
        finally:
            os.close(fd)
    for ns, vtep in ((a, VTEP_A), (b, VTEP_B)):
        with IPRoute(netns=ns, flags=0, groups=0) as ipr:
            for name in ("lo", "ul0"):
                ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
            idx = ipr.link_lookup(ifname="ul0")[0]
            ipr.addr("add", index=idx, address=vtep, prefixlen=24)


def remove_namespaces(names: list[str]) -> None:
    from bgpvpn.dataplane.linux.netlink import netns_remove

    for ns in names:
        with contextlib.suppress(OSError):
            netns_remove(ns)


def two_mac_port(lab: Lab, tap: str, vms: list[tuple[str, str, str]]) -> list[str]:
    """One host interface ``tap`` (in host A) carrying several MACs, as a tap with VMs behind
    it: ``vms`` are (tag, MAC, address/len); the first VM's namespace holds the veth peer
    ``eth0``, each other VM a macvlan of that ``eth0`` moved into its own namespace. Returns
    the VM namespaces (created here, deleted by the lab)."""
    from bgpvpn.dataplane.linux.netlink import netns_create

    names = [lab.ns(tag) for tag, _, _ in vms]
    for ns in names:
        netns_create(ns)
    first = names[0]
    run("ip", "-n", lab.a, "link", "add", tap, "type", "veth", "peer", "name", "eth0",
        "netns", first)  # fmt: skip
    for i, (ns, (_tag, mac, addr)) in enumerate(zip(names, vms, strict=True)):
        dev = "eth0" if i == 0 else f"mv{i}"
        if i:
            run("ip", "-n", first, "link", "add", dev, "link", "eth0", "type", "macvlan",
                "mode", "bridge")  # fmt: skip
            run("ip", "-n", first, "link", "set", dev, "netns", ns)
        run("ip", "-n", ns, "link", "set", dev, "address", mac)
        run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
        run("ip", "-n", ns, "link", "set", dev, "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
    return names


def proxy_entries(ns: str) -> set[str]:
    """The IPv6 proxy neighbour entries of namespace ``ns`` as iproute2 lists them
    (``2001:db8:6::1 dev tapa6 proxy proto bgp``)."""
    out = run("ip", "-n", ns, "-6", "neigh", "show", "proxy").stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


# rtnetlink multicast groups (linux/rtnetlink.h): neighbours, IPv4 routes and rules, IPv6 routes
RTMGRP_NEIGH, RTMGRP_IPV4_ROUTE, RTMGRP_IPV4_RULE, RTMGRP_IPV6_ROUTE = 0x4, 0x40, 0x80, 0x400
RTNLGRP_IPV6_RULE = 19


class KernelEvents:
    """A netlink socket in namespace ``ns`` that receives every neighbour, route and rule
    notification from its creation on: ``messages()`` drains what arrived as (message type,
    body) pairs, so a test can tell "nothing was touched" from "deleted and added again"."""

    def __init__(self, ns: str) -> None:
        import socket

        from bgpvpn.dataplane.linux.netlink import in_netns

        def open_socket() -> socket.socket:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            groups = RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_RULE | RTMGRP_IPV6_ROUTE
            sock.bind((0, groups))
            sock.setsockopt(270, 1, RTNLGRP_IPV6_RULE)  # SOL_NETLINK, NETLINK_ADD_MEMBERSHIP
            sock.setblocking(False)
            return sock

        self.sock = in_netns(ns, open_socket)

    def messages(self) -> list[tuple[int, bytes]]:
        import struct

        out: list[tuple[int, bytes]] = []
        while True:
            try:
                buf = self.sock.recv(1 << 20)
            except BlockingIOError:
                return out
            off = 0
            while off + 16 <= len(buf):
                length, mtype = struct.unpack_from("=IH", buf, off)
                if length < 16:
                    break
                out.append((mtype, bytes(buf[off + 16 : off + length])))
                off += (length + 3) & ~3

    def close(self) -> None:
        self.sock.close()
