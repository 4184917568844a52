"""LinuxIpvpnDriver against the real kernel: a routing table per VRF selected by policy rules,
VXLAN with router MACs between two namespaced hosts, real ICMP between VM namespaces."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from nslab import (
    VTEP_A,
    VTEP_B,
    KernelEvents,
    Lab,
    no_ping,
    pings,
    proxy_entries,
    run,
    two_mac_port,
)
from pyroute2 import IPRoute  # type: ignore[import-untyped]

from bgpvpn.dataplane.linux import LinuxIpvpnDriver
from bgpvpn.dataplane.linux.ipvpn import _onlink_proxies
from bgpvpn.dataplane.linux.netlink import (
    AF_BRIDGE,
    NTF_PROXY,
    RTM_DELNEIGH,
    RTM_DELROUTE,
    RTM_DELRULE,
    RTM_NEWNEIGH,
    RTM_NEWROUTE,
    RTM_NEWRULE,
    netns_exists,
    parse_route,
)
from bgpvpn.dataplane.model import (
    Change,
    InstanceConfig,
    InstanceCreated,
    InstanceRemoved,
    InstanceState,
    LocalPort,
    NextHop,
    PortAttached,
    PortDetached,
    RemoteRoute,
    RemoteRouteRemoved,
    RemoteRouteSet,
)
from bgpvpn.vpn.model import Encapsulation, InstanceType

RMAC_A = "02:00:00:aa:00:01"
RMAC_B = "02:00:00:bb:00:01"


def vrf(iid: str, vni: int, vtep: str, index: int) -> InstanceConfig:
    return InstanceConfig(
        instance_id=iid,
        instance_type=InstanceType.IPVPN,
        vni=vni,
        encapsulation=Encapsulation.VXLAN,
        vtep=vtep,
        router_mac=(RMAC_A if vtep == VTEP_A else RMAC_B)[:-2] + f"{index:02x}",
        index=index,
    )


def via(cfg: InstanceConfig, prefix: str) -> RemoteRoute:
    """The route the other host receives for ``prefix`` of ``cfg``'s host."""
    return RemoteRoute(prefix, (NextHop(cfg.vtep, cfg.vni, cfg.router_mac),))


def port(name: str, ns: str, ip: str, gw: str, n: int) -> LocalPort:
    return LocalPort(name, f"52:54:00:00:0{n}:01", (ip,), gateway_ip=gw, netns=ns)


def snapshot(ns: str) -> dict[str, Any]:
    """Links, our routes (every table but local), rules, permanent neighbours and VXLAN FDB."""
    with IPRoute(netns=ns, flags=0, groups=0) as ipr:
        names = {int(m["index"]): m.get("IFLA_IFNAME") for m in ipr.get_links()}
        routes = sorted(
            (
                (
                    fam,
                    m.get("RTA_TABLE"),
                    m.get("RTA_DST"),
                    m["dst_len"],
                    m["proto"],
                    m.get("RTA_GATEWAY"),
                    names.get(m.get("RTA_OIF")),
                    repr(m.get("RTA_MULTIPATH")),
                )
                for fam in (socket.AF_INET, socket.AF_INET6)
                for m in ipr.route("dump", family=fam)
                if m.get("RTA_TABLE") != 255 and not str(m.get("RTA_DST")).startswith("fe80")
                if m.get("RTA_DST") != "ff00::"
            ),
            key=repr,
        )
        rules = sorted(
            (
                (
                    fam,
                    m.get("FRA_PRIORITY"),
                    m.get("FRA_IIFNAME"),
                    m.get("FRA_DST"),
                    m.get("FRA_TABLE"),
                    m.get("FRA_PROTOCOL"),
                )
                for fam in (socket.AF_INET, socket.AF_INET6)
                for m in ipr.get_rules(family=fam)
            ),
            key=repr,
        )
        neigh = sorted(
            (names.get(m["ifindex"]), m.get("NDA_DST"), m.get("NDA_LLADDR"))
            for m in ipr.neigh("dump")
            if m["state"] & 0x80
        )
        fdb = sorted(
            (names.get(m["ifindex"]), m.get("NDA_LLADDR"), m.get("NDA_DST"))
            for m in ipr.fdb("dump")
            if m.get("NDA_DST")
        )
        links = sorted(str(n) for n in names.values())
    return {"links": links, "routes": routes, "rules": rules, "neigh": neigh, "fdb": fdb}


@pytest.fixture
def drivers(lab: Lab) -> Iterator[tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]]:
    a = LinuxIpvpnDriver(netns=lab.a)
    b = LinuxIpvpnDriver(netns=lab.b)
    try:
        yield a, b
    finally:
        for d in (a, b):
            d.close(remove=True)


def setup_vrf1(lab: Lab, a: LinuxIpvpnDriver, b: LinuxIpvpnDriver) -> dict[str, Any]:
    """VRF 1 (VNI 1000) on both hosts: VM A 198.51.100.10/24, VM B 198.51.100.20/24 (the same
    subnet, as in DATAPLANE.md) and VM B2 192.0.2.20/24 (another subnet)."""
    cfg_a, cfg_b = vrf("vrf1", 1000, VTEP_A, 1), vrf("vrf1", 1000, VTEP_B, 1)
    vm_a, vm_b, vm_b2 = lab.ns("ipa1"), lab.ns("ipb1"), lab.ns("ipb2")
    pa = port("tapa1", vm_a, "198.51.100.10/24", "198.51.100.1", 1)
    pb = port("tapb1", vm_b, "198.51.100.20/24", "198.51.100.1", 2)
    pb2 = port("tapb2", vm_b2, "192.0.2.20/24", "192.0.2.1", 3)
    changes_a: list[Change] = [
        InstanceCreated(cfg_a),
        PortAttached("vrf1", pa),
        RemoteRouteSet("vrf1", via(cfg_b, "198.51.100.20/32")),
        RemoteRouteSet("vrf1", via(cfg_b, "192.0.2.20/32")),
    ]
    changes_b: list[Change] = [
        InstanceCreated(cfg_b),
        PortAttached("vrf1", pb),
        PortAttached("vrf1", pb2),
        RemoteRouteSet("vrf1", via(cfg_a, "198.51.100.10/32")),
    ]
    a.apply(changes_a)
    b.apply(changes_b)
    assert a.errors == 0 and b.errors == 0, (list(a.last_errors), list(b.last_errors))
    return {
        "cfg_a": cfg_a,
        "cfg_b": cfg_b,
        "vm_a": vm_a,
        "vm_b": vm_b,
        "vm_b2": vm_b2,
        "pa": pa,
        "pb": pb,
    }


def test_ping_across_hosts_same_and_other_subnet(
    lab: Lab, drivers: tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]
) -> None:
    a, b = drivers
    t = setup_vrf1(lab, a, b)
    assert pings(t["vm_a"], "198.51.100.20")  # same /24: proxy ARP answers, routed over VXLAN
    assert pings(t["vm_a"], "192.0.2.20")  # another subnet: via the gateway (proxy ARP)
    assert pings(t["vm_b2"], "198.51.100.10")
    snap = snapshot(lab.a)
    table = 100_001
    assert (2, 1861, "tapa1", None, table, 186) in snap["rules"]
    assert (2, 1862, "bvr-1", None, table, 186) in snap["rules"]
    assert ("bvr-1", VTEP_B, t["cfg_b"].router_mac) in snap["neigh"]
    assert ("bvr-1", t["cfg_b"].router_mac, VTEP_B) in snap["fdb"]
    # nothing in the main table: the host itself does not route into the VRF
    assert not [
        r for r in snap["routes"] if r[1] == 254 and r[2] in ("198.51.100.20", "192.0.2.20")
    ]


def test_isolation_between_vrfs(
    lab: Lab, drivers: tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]
) -> None:
    """A VM in VRF 2 (same addresses plan, its own table) reaches neither VRF 1's VMs."""
    a, b = drivers
    t = setup_vrf1(lab, a, b)
    cfg2 = vrf("vrf2", 2000, VTEP_A, 2)
    vm2 = lab.ns("ipa2")
    a.apply(
        [
            InstanceCreated(cfg2),
            PortAttached("vrf2", port("tapa2", vm2, "198.51.100.30/24", "198.51.100.1", 4)),
        ]
    )
    assert a.errors == 0, list(a.last_errors)
    assert no_ping(vm2, "198.51.100.20")
    assert no_ping(vm2, "198.51.100.10")  # the VRF 1 VM on the same host
    assert no_ping(vm2, "192.0.2.20")
    assert no_ping(vm2, VTEP_A)  # nor the host's underlay address
    assert pings(t["vm_a"], "198.51.100.20")


def test_ecmp_route_is_multipath(
    lab: Lab, drivers: tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]
) -> None:
    a, b = drivers
    t = setup_vrf1(lab, a, b)
    other = NextHop("203.0.113.3", 1000, "02:00:00:cc:00:01")
    a.apply(
        [
            RemoteRouteSet(
                "vrf1", RemoteRoute("198.51.100.20/32", (*via(t["cfg_b"], "x").next_hops, other))
            )
        ]
    )
    assert a.errors == 0, list(a.last_errors)
    with IPRoute(netns=lab.a, flags=0, groups=0) as ipr:
        (route,) = [
            r for r in ipr.route("dump", table=100_001) if r.get("RTA_DST") == "198.51.100.20"
        ]
        gws = sorted(nh.get("RTA_GATEWAY") for nh in route.get("RTA_MULTIPATH"))
    assert gws == [VTEP_B, "203.0.113.3"]
    assert ("bvr-1", "203.0.113.3", "02:00:00:cc:00:01") in snapshot(lab.a)["neigh"]
    # back to one path: the other next hop's neighbour and FDB entries go
    a.apply([RemoteRouteSet("vrf1", via(t["cfg_b"], "198.51.100.20/32"))])
    snap = snapshot(lab.a)
    assert not [n for n in snap["neigh"] if n[1] == "203.0.113.3"]
    assert not [f for f in snap["fdb"] if f[2] == "203.0.113.3"]
    assert pings(t["vm_a"], "198.51.100.20")


def test_route_leaking_between_local_vrfs(lab: Lab) -> None:
    """VRF 1 and VRF 3 on one host leak each other's VM prefix (NextHop.local): the VMs ping
    each other; a VRF 4 VM that has no leak cannot reach either."""
    d = LinuxIpvpnDriver(netns=lab.a)
    try:
        c1, c3, c4 = (
            vrf("vrf1", 1000, VTEP_A, 1),
            vrf("vrf3", 3000, VTEP_A, 3),
            vrf("vrf4", 4000, VTEP_A, 4),
        )
        vm1, vm3, vm4 = lab.ns("lk1"), lab.ns("lk3"), lab.ns("lk4")
        d.apply(
            [
                InstanceCreated(c1),
                InstanceCreated(c3),
                InstanceCreated(c4),
                PortAttached("vrf1", port("tap1", vm1, "198.51.100.10/24", "198.51.100.1", 1)),
                PortAttached("vrf3", port("tap3", vm3, "192.0.2.10/24", "192.0.2.1", 3)),
                PortAttached("vrf4", port("tap4", vm4, "192.0.2.11/24", "192.0.2.1", 4)),
                RemoteRouteSet(
                    "vrf1", RemoteRoute("192.0.2.10/32", (NextHop(VTEP_A, 3000, local=True),))
                ),
                RemoteRouteSet(
                    "vrf3", RemoteRoute("198.51.100.10/32", (NextHop(VTEP_A, 1000, local=True),))
                ),
            ]
        )
        assert d.errors == 0, list(d.last_errors)
        assert pings(vm1, "192.0.2.10")
        assert pings(vm3, "198.51.100.10")
        assert no_ping(vm4, "198.51.100.10")
        d.apply([RemoteRouteRemoved("vrf1", "192.0.2.10/32")])
        assert no_ping(vm1, "192.0.2.10")
        rules = snapshot(lab.a)["rules"]
        assert [r for r in rules if r[1] == 1860] == [
            (2, 1860, "bvr-3", "198.51.100.10", 100_001, 186),
            (2, 1860, "tap3", "198.51.100.10", 100_001, 186),
        ]
    finally:
        d.close(remove=True)


def test_detach_stops_traffic_and_removal_leaves_nothing(
    lab: Lab, drivers: tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]
) -> None:
    a, b = drivers
    before = snapshot(lab.a)
    t = setup_vrf1(lab, a, b)
    assert pings(t["vm_a"], "198.51.100.20")
    b.apply([PortDetached("vrf1", t["pb"])])
    assert not netns_exists(t["vm_b"])
    assert no_ping(t["vm_a"], "198.51.100.20")
    a.apply([PortDetached("vrf1", t["pa"])])
    assert not netns_exists(t["vm_a"])
    a.apply(
        [
            RemoteRouteRemoved("vrf1", "198.51.100.20/32"),
            RemoteRouteRemoved("vrf1", "192.0.2.20/32"),
        ]
    )
    a.apply([InstanceRemoved("vrf1")])
    assert a.errors == 0, list(a.last_errors)
    assert snapshot(lab.a) == before


def test_close_removes_only_tagged_objects(lab: Lab) -> None:
    with IPRoute(netns=lab.a, flags=0, groups=0) as ipr:
        ipr.link("add", ifname="usertap0", kind="veth", peer="usertap1")
        ipr.rule("add", iifname="usertap0", table=100_001, priority=1861)  # our range, no proto
        ipr.rule("add", iifname="usertap1", table=500, priority=1000)
        idx = ipr.link_lookup(ifname="usertap0")[0]
        ipr.link("set", index=idx, state="up")
        ipr.route("add", dst="192.0.2.99/32", oif=idx, table=100_001, proto=4)  # static
    before = snapshot(lab.a)
    d = LinuxIpvpnDriver(netns=lab.a)
    cfg = vrf("vrf1", 1000, VTEP_A, 1)
    d.apply(
        [
            InstanceCreated(cfg),
            PortAttached(
                "vrf1", port("tapa1", lab.ns("ipa1"), "198.51.100.10/24", "198.51.100.1", 1)
            ),
            PortAttached(
                "vrf1",
                LocalPort("usertap1", "52:54:00:00:09:01", ("198.51.100.11/24",), "198.51.100.1"),
            ),
            RemoteRouteSet("vrf1", via(vrf("vrf1", 1000, VTEP_B, 1), "198.51.100.20/32")),
        ]
    )
    assert d.errors == 0, list(d.last_errors)
    d.close(remove=True)
    assert snapshot(lab.a) == before


def test_reconcile_after_a_crash_gives_exactly_the_desired_state(
    lab: Lab, drivers: tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]
) -> None:
    a, b = drivers
    t = setup_vrf1(lab, a, b)
    want = snapshot(lab.a)
    desired = {
        "vrf1": InstanceState(
            config=t["cfg_a"],
            ports=(t["pa"],),
            routes=(via(t["cfg_b"], "198.51.100.20/32"), via(t["cfg_b"], "192.0.2.20/32")),
        )
    }
    with IPRoute(netns=lab.a, flags=0, groups=0) as ipr:
        vx = ipr.link_lookup(ifname="bvr-1")[0]
        ipr.neigh("del", ifindex=vx, dst=VTEP_B)  # lost
        ipr.route("del", dst="192.0.2.20/32", table=100_001)  # lost
        ipr.route(
            "add", dst="203.0.113.77/32", gateway=VTEP_B, oif=vx, flags=4, table=100_001, proto=186
        )  # stale
        ipr.route("add", dst="192.0.2.50/32", oif=vx, table=100_009, proto=186)  # a stale VRF's
        ipr.rule("add", iifname="bvr-9", table=100_009, priority=1862, protocol=186)  # stale
        ipr.link(
            "add", ifname="bvr-9", kind="vxlan", vxlan_id=9000, vxlan_local=VTEP_A, vxlan_port=4789
        )
        ipr.neigh("add", ifindex=vx, dst="203.0.113.88", lladdr="02:00:00:00:88:88", state=0x80)
    fresh = LinuxIpvpnDriver(netns=lab.a)
    try:
        report = fresh.reconcile(desired)
        assert fresh.errors == 0, list(fresh.last_errors)
        assert report.removed["link"] == ["bvr-9 (vxlan)"]
        assert report.removed["rule"] == ["iif bvr-9 lookup 100009 pref 1862"]
        assert sorted(report.removed["route"]) == [
            "192.0.2.50/32 table 100009",
            "203.0.113.77/32 table 100001",
        ]
        assert report.removed["neigh"] == ["203.0.113.88 dev bvr-1"]
        assert report.added["neigh"] == [f"{VTEP_B} lladdr {t['cfg_b'].router_mac} dev bvr-1"]
        assert report.added["route"] == [
            f"192.0.2.20/32 via {VTEP_B} dev bvr-1 onlink table 100001"
        ]
        assert snapshot(lab.a) == want
        assert pings(t["vm_a"], "198.51.100.20")
        again = fresh.reconcile(desired)
        assert not again.changed, again
    finally:
        fresh.close(remove=False)


def test_a_port_with_two_macs(lab: Lab, drivers: tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]) -> None:
    """Two VMs behind one tap (a veth and a macvlan of its peer) with one gateway, attached as
    two (port, MAC) pairs: a host route each, one rule for the port; a restarted driver's
    reconcile changes nothing; detaching one MAC removes only its host route (the port's rule,
    proxy ARP and the shared gateway route stay, the other VM still pings); the last MAC takes
    them all."""
    a, b = drivers
    cfg_a, cfg_b = vrf("vrf1", 1000, VTEP_A, 1), vrf("vrf1", 1000, VTEP_B, 1)
    vm1, vm5 = two_mac_port(
        lab,
        "tapa1",
        [("ipa1", "52:54:00:00:01:01", "198.51.100.10/24"),
         ("ipa5", "52:54:00:00:01:05", "198.51.100.15/24")],
    )  # fmt: skip
    gw = "198.51.100.1"
    p1 = LocalPort("tapa1", "52:54:00:00:01:01", ("198.51.100.10/24",), gateway_ip=gw)
    p5 = LocalPort("tapa1", "52:54:00:00:01:05", ("198.51.100.15/24",), gateway_ip=gw)
    pb = port("tapb1", lab.ns("ipb1"), "198.51.100.20/24", gw, 2)
    a.apply(
        [
            InstanceCreated(cfg_a),
            PortAttached("vrf1", p1),
            PortAttached("vrf1", p5),
            RemoteRouteSet("vrf1", via(cfg_b, "198.51.100.20/32")),
        ]
    )
    b.apply(
        [
            InstanceCreated(cfg_b),
            PortAttached("vrf1", pb),
            RemoteRouteSet("vrf1", via(cfg_a, "198.51.100.10/32")),
            RemoteRouteSet("vrf1", via(cfg_a, "198.51.100.15/32")),
        ]
    )
    assert a.errors == 0 and b.errors == 0, (list(a.last_errors), list(b.last_errors))
    assert pings(vm1, "198.51.100.20") and pings(vm5, "198.51.100.20")
    table = 100_001

    def ours() -> tuple[set[str], set[str]]:
        snap = snapshot(lab.a)
        routes = {f"{r[2]} {r[6]}" for r in snap["routes"] if r[1] == table and r[4] == 186}
        rules = {f"{r[0]} {r[2]}" for r in snap["rules"] if r[1] == 1861}
        return routes, rules

    def proxy_arp() -> str:
        return run(
            "ip", "netns", "exec", lab.a, "cat", "/proc/sys/net/ipv4/conf/tapa1/proxy_arp"
        ).stdout.strip()  # fmt: skip

    rules = {f"{socket.AF_INET} tapa1", f"{socket.AF_INET6} tapa1"}
    assert ours() == (
        {"198.51.100.10 tapa1", "198.51.100.15 tapa1", f"{gw} bvr-1", "198.51.100.20 bvr-1"},
        rules,
    )
    assert a.state()["instances"]["vrf1"]["ports"] == ["tapa1"]
    assert a.instance_state("vrf1") == a.state()["instances"]["vrf1"]
    assert a.instance_state("vrf9") is None

    want = snapshot(lab.a)
    desired = {"vrf1": InstanceState(cfg_a, (p1, p5), routes=(via(cfg_b, "198.51.100.20/32"),))}
    fresh = LinuxIpvpnDriver(netns=lab.a)
    try:
        report = fresh.reconcile(desired)
        assert fresh.errors == 0, list(fresh.last_errors)
        assert not report.changed, report
        assert snapshot(lab.a) == want

        fresh.apply([PortDetached("vrf1", p5)])
        assert fresh.errors == 0, list(fresh.last_errors)
        assert ours() == ({"198.51.100.10 tapa1", f"{gw} bvr-1", "198.51.100.20 bvr-1"}, rules)
        assert proxy_arp() == "1"
        assert pings(vm1, "198.51.100.20")
        assert no_ping(vm5, "198.51.100.20")
        fresh.apply([PortDetached("vrf1", p1)])
        assert fresh.errors == 0, list(fresh.last_errors)
        assert ours() == ({"198.51.100.20 bvr-1"}, set())
        assert proxy_arp() == "0"
        assert fresh.state()["instances"]["vrf1"]["ports"] == []
    finally:
        fresh.close(remove=False)


def setup_vrf6(lab: Lab, a: LinuxIpvpnDriver, b: LinuxIpvpnDriver) -> dict[str, Any]:
    """VRF 6 (VNI 6000) with IPv6 VMs over the IPv4 underlay: VM A 2001:db8:6::10/64 and VM B
    2001:db8:6::20/64 (one subnet, gateway 2001:db8:6::1), VM B2 2001:db8:7::20/64 (another
    subnet, gateway 2001:db8:7::1); the remote routes are /128s via the other host's IPv4
    VTEP (next hop ``::ffff:VTEP``)."""
    cfg_a, cfg_b = vrf("vrf6", 6000, VTEP_A, 6), vrf("vrf6", 6000, VTEP_B, 6)
    vm_a, vm_b, vm_b2 = lab.ns("v6a"), lab.ns("v6b"), lab.ns("v6b2")
    pa = port("tapa6", vm_a, "2001:db8:6::10/64", "2001:db8:6::1", 1)
    pb = port("tapb6", vm_b, "2001:db8:6::20/64", "2001:db8:6::1", 2)
    pb2 = port("tapb7", vm_b2, "2001:db8:7::20/64", "2001:db8:7::1", 3)
    routes_a = (via(cfg_b, "2001:db8:6::20/128"), via(cfg_b, "2001:db8:7::20/128"))
    routes_b = (via(cfg_a, "2001:db8:6::10/128"),)
    a.apply(
        [
            InstanceCreated(cfg_a),
            PortAttached("vrf6", pa),
            *(RemoteRouteSet("vrf6", r) for r in routes_a),
        ]
    )
    b.apply(
        [
            InstanceCreated(cfg_b),
            PortAttached("vrf6", pb),
            PortAttached("vrf6", pb2),
            *(RemoteRouteSet("vrf6", r) for r in routes_b),
        ]
    )
    assert a.errors == 0 and b.errors == 0, (list(a.last_errors), list(b.last_errors))
    return {
        "cfg_a": cfg_a,
        "cfg_b": cfg_b,
        "vm_a": vm_a,
        "vm_b": vm_b,
        "vm_b2": vm_b2,
        "pa": pa,
        "routes_a": routes_a,
    }


def test_ipv6_vms_ping_over_an_ipv4_underlay(
    lab: Lab, drivers: tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]
) -> None:
    """IPv6 VMs of one VRF on the two hosts ping each other through the gateway (proxy NDP on
    the port, a device with IPv6 forwarding on) in another subnet and in their own (a netns
    port's address has no on-link prefix route: the gateway carries that traffic too); the
    routes go via the IPv4-mapped VTEP. A VM of another VRF with the same plan reaches none."""
    a, b = drivers
    t = setup_vrf6(lab, a, b)
    assert pings(t["vm_a"], "2001:db8:7::20")  # another subnet, via the gateway
    assert pings(t["vm_b2"], "2001:db8:6::10")
    assert pings(t["vm_a"], "2001:db8:6::20")  # the same /64 on the other host
    assert pings(t["vm_b"], "2001:db8:6::10")
    table = 100_006
    snap = snapshot(lab.a)
    mapped_b = f"::ffff:{VTEP_B}"
    assert ("bvr-6", mapped_b, t["cfg_b"].router_mac) in snap["neigh"]
    assert ("bvr-6", t["cfg_b"].router_mac, VTEP_B) in snap["fdb"]
    assert (10, table, "2001:db8:6::20", 128, 186, mapped_b, "bvr-6", "None") in snap["routes"]
    assert (10, 1861, "tapa6", None, table, 186) in snap["rules"]
    assert (10, 1862, "bvr-6", None, table, 186) in snap["rules"]
    assert proxy_entries(lab.a) == {
        "2001:db8:6::1 dev tapa6 proxy proto bgp",  # the gateway
        "2001:db8:6::20 dev tapa6 proxy proto bgp",  # VM B, in VM A's /64 (on-link, below)
    }
    # inside the VM: the address, no /64 on-link route, the default via the gateway
    vm_routes = run("ip", "-n", t["vm_a"], "-6", "route", "show").stdout
    assert "2001:db8:6::/64" not in vm_routes and "default via 2001:db8:6::1" in vm_routes

    cfg7 = vrf("vrf7", 7000, VTEP_A, 7)
    vm7 = lab.ns("v6c")
    a.apply(
        [
            InstanceCreated(cfg7),
            PortAttached("vrf7", port("tapa7", vm7, "2001:db8:6::30/64", "2001:db8:6::1", 4)),
        ]
    )
    assert a.errors == 0, list(a.last_errors)
    assert no_ping(vm7, "2001:db8:6::20")
    assert no_ping(vm7, "2001:db8:6::10")  # the VRF 6 VM on the same host
    assert no_ping(vm7, "2001:db8:7::20")
    assert pings(t["vm_a"], "2001:db8:6::20")


def onlink(vm: str, prefix: str) -> None:
    """Make ``prefix`` on-link in the VM, as an ordinary VM has its /64 (the netns ports bgpvpn
    makes are configured without it)."""
    proc = run("ip", "-n", vm, "-6", "route", "add", prefix, "dev", "eth0")
    assert proc.returncode == 0, proc.stderr
    run("ip", "-n", vm, "-6", "neigh", "flush", "dev", "eth0")


def test_ipv6_vms_with_an_onlink_prefix_reach_that_prefix_on_other_ports(
    lab: Lab, drivers: tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]
) -> None:
    """A VM whose /64 is on-link asks for its neighbours in it by NDP: the port answers for
    the VRF's other hosts of that /64 (remote /128 routes, addresses on other local ports)
    from one proxy entry each, added and removed as those routes and ports come and go. An
    address outside the port's /64, or on the port's own interface, gets none."""
    a, b = drivers
    t = setup_vrf6(lab, a, b)
    onlink(t["vm_a"], "2001:db8:6::/64")
    onlink(t["vm_b"], "2001:db8:6::/64")
    assert pings(t["vm_a"], "2001:db8:6::20")  # through NDP, answered by tapa6 on host A
    assert pings(t["vm_b"], "2001:db8:6::10")  # and by tapb6 on host B
    neigh = run("ip", "-n", t["vm_a"], "-6", "neigh", "show", "2001:db8:6::20").stdout
    tapa6_mac = run("ip", "-n", lab.a, "-br", "link", "show", "tapa6").stdout.split()[2]
    assert f"lladdr {tapa6_mac}" in neigh, (neigh, tapa6_mac)
    assert pings(t["vm_a"], "2001:db8:7::20")  # another subnet: still via the gateway

    # a second port on host A in the same /64 (another interface): each answers for the other
    vm_a2 = lab.ns("v6a2")
    pa2 = port("tapa6b", vm_a2, "2001:db8:6::11/64", "2001:db8:6::1", 5)
    a.apply([PortAttached("vrf6", pa2)])
    b.apply([RemoteRouteSet("vrf6", via(t["cfg_a"], "2001:db8:6::11/128"))])  # what BGP brings
    assert a.errors == 0 and b.errors == 0, (list(a.last_errors), list(b.last_errors))
    onlink(vm_a2, "2001:db8:6::/64")
    assert proxy_entries(lab.a) == {
        "2001:db8:6::1 dev tapa6 proxy proto bgp",
        "2001:db8:6::1 dev tapa6b proxy proto bgp",
        "2001:db8:6::11 dev tapa6 proxy proto bgp",
        "2001:db8:6::10 dev tapa6b proxy proto bgp",
        "2001:db8:6::20 dev tapa6 proxy proto bgp",
        "2001:db8:6::20 dev tapa6b proxy proto bgp",
    }
    assert pings(vm_a2, "2001:db8:6::10")
    assert pings(vm_a2, "2001:db8:6::20")

    # the remote route goes: so do its entries (the VM's cached neighbour forgotten, it asks
    # again and gets no answer); it comes back: so do they
    a.apply([RemoteRouteRemoved("vrf6", "2001:db8:6::20/128")])
    assert a.errors == 0, list(a.last_errors)
    assert "2001:db8:6::20 dev tapa6 proxy proto bgp" not in proxy_entries(lab.a)
    assert "2001:db8:6::20 dev tapa6b proxy proto bgp" not in proxy_entries(lab.a)
    run("ip", "-n", t["vm_a"], "-6", "neigh", "flush", "dev", "eth0")
    assert no_ping(t["vm_a"], "2001:db8:6::20")
    a.apply([RemoteRouteSet("vrf6", t["routes_a"][0])])
    assert a.errors == 0, list(a.last_errors)
    assert pings(t["vm_a"], "2001:db8:6::20")
    # a route changes only its own entries (no pass over the VRF); what that left is what a
    # full computation gives, after many routes in batches of one, some of them removed again
    for i in range(40):
        a.apply([RemoteRouteSet("vrf6", via(t["cfg_b"], f"2001:db8:6::{0x100 + i:x}/128"))])
    a.apply([RemoteRouteRemoved("vrf6", f"2001:db8:6::{0x100 + i:x}/128") for i in range(0, 40, 3)])
    assert a.errors == 0, list(a.last_errors)
    vrf6 = a._instances["vrf6"]
    assert vrf6.onlink == _onlink_proxies(vrf6)
    kept = {f"2001:db8:6::{0x100 + i:x}" for i in range(40) if i % 3}
    added = {e.split()[0] for e in proxy_entries(lab.a) if e.startswith("2001:db8:6::1") and
             int(e.split()[0].rsplit(":", 1)[1], 16) >= 0x100}  # fmt: skip
    assert added == kept
    assert len(proxy_entries(lab.a)) == 6 + 2 * len(kept)  # both ports answer for each

    # the second port goes (its veth with it): the entry for its address on tapa6 goes too
    a.apply([PortDetached("vrf6", pa2)])
    assert a.errors == 0, list(a.last_errors)
    assert proxy_entries(lab.a) == {
        "2001:db8:6::1 dev tapa6 proxy proto bgp",
        "2001:db8:6::20 dev tapa6 proxy proto bgp",
        *(f"{ip} dev tapa6 proxy proto bgp" for ip in kept),
    }
    # the instance goes: every entry of ours with it
    a.apply([InstanceRemoved("vrf6")])
    assert a.errors == 0, list(a.last_errors)
    assert not proxy_entries(lab.a)


def our_events(events: KernelEvents, vx_index: int) -> list[str]:
    """The notifications of ``events`` about our kind of objects: neighbours on the VXLAN
    device ``vx_index``, proxy entries, routes in the VRF tables, rules."""
    out = []
    for mtype, body in events.messages():
        if mtype in (RTM_NEWNEIGH, RTM_DELNEIGH):
            family, ifindex, _state, flags = struct.unpack_from("=BxxxiHB", body)
            if family != AF_BRIDGE and (ifindex == vx_index or flags & NTF_PROXY):
                out.append(f"neigh {mtype} {ifindex} {body.hex()}")
            elif family == AF_BRIDGE and ifindex == vx_index:
                out.append(f"fdb {mtype} {body.hex()}")
        elif mtype in (RTM_NEWROUTE, RTM_DELROUTE):
            route = parse_route(body)
            if route.table >= 100_000:
                out.append(f"route {mtype} {route}")
        elif mtype in (RTM_NEWRULE, RTM_DELRULE):
            out.append(f"rule {mtype} {body.hex()}")
    return out


def test_reconcile_is_idempotent_for_ipv6_routes_over_an_ipv4_vtep(
    lab: Lab, drivers: tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]
) -> None:
    """A restarted driver's reconcile of the unchanged desired state of an IPv6 VRF over IPv4
    VTEPs (next hop and neighbour ``::ffff:203.0.113.2``) changes nothing, and neither does a
    second one: empty reports, no netlink notification for any of our objects, the same
    kernel state, and the VMs still ping."""
    a, b = drivers
    t = setup_vrf6(lab, a, b)
    assert pings(t["vm_a"], "2001:db8:7::20")
    want = snapshot(lab.a)
    desired = {"vrf6": InstanceState(t["cfg_a"], (t["pa"],), routes=t["routes_a"])}
    vx_index = next(ln.index for ln in a.nl.links() if ln.name == "bvr-6")
    events = KernelEvents(lab.a)
    fresh = LinuxIpvpnDriver(netns=lab.a)
    try:
        first = fresh.reconcile(desired)
        assert fresh.errors == 0, list(fresh.last_errors)
        assert not first.changed, first
        assert our_events(events, vx_index) == []
        second = fresh.reconcile(desired)
        assert fresh.errors == 0, list(fresh.last_errors)
        assert not second.changed, second
        assert our_events(events, vx_index) == []
        assert snapshot(lab.a) == want
        assert pings(t["vm_a"], "2001:db8:7::20")
    finally:
        events.close()
        fresh.close(remove=False)


def test_reconcile_removes_stale_proxy_ndp_entries(
    lab: Lab, drivers: tuple[LinuxIpvpnDriver, LinuxIpvpnDriver]
) -> None:
    """Proxy NDP entries are tagged with our protocol (186, ``proto bgp``). Planted while no
    driver runs: a stale entry of ours on the port and one on a device that is no longer ours
    are removed by a restarted driver's reconcile, the lost gateway entry is added back (the
    VM pings again), and entries without our protocol (none, or ``static``) stay."""
    a, b = drivers
    t = setup_vrf6(lab, a, b)
    assert pings(t["vm_a"], "2001:db8:7::20")
    desired = {"vrf6": InstanceState(t["cfg_a"], (t["pa"],), routes=t["routes_a"])}
    ours = "2001:db8:6::1 dev tapa6 proxy proto bgp"
    not_ours = {
        "2001:db8:6::98 dev tapa6 proxy",
        "2001:db8:9::2 dev ul0 proxy proto static",
    }
    for argv in (
        ("del", "proxy", "2001:db8:6::1", "dev", "tapa6"),  # lost
        ("add", "proxy", "2001:db8:6::99", "dev", "tapa6", "protocol", "bgp"),  # stale
        ("add", "proxy", "2001:db8:9::1", "dev", "ul0", "protocol", "bgp"),  # stale
        ("add", "proxy", "2001:db8:6::98", "dev", "tapa6"),  # not ours: no protocol
        ("add", "proxy", "2001:db8:9::2", "dev", "ul0", "protocol", "static"),  # not ours
    ):
        proc = run("ip", "-n", lab.a, "-6", "neigh", *argv)
        assert proc.returncode == 0, proc.stderr
    assert ours not in proxy_entries(lab.a)
    run("ip", "-n", t["vm_a"], "-6", "neigh", "flush", "dev", "eth0")
    assert no_ping(t["vm_a"], "2001:db8:7::20")  # the gateway is not answered any more
    fresh = LinuxIpvpnDriver(netns=lab.a)
    try:
        report = fresh.reconcile(desired)
        assert fresh.errors == 0, list(fresh.last_errors)
        assert list(report.removed) == ["proxy"]
        assert sorted(report.removed["proxy"]) == [
            "proxy 2001:db8:6::99 dev tapa6",
            "proxy 2001:db8:9::1 dev ul0",
        ]
        assert report.added == {"proxy": ["proxy 2001:db8:6::1 dev tapa6"]}
        onlink = "2001:db8:6::20 dev tapa6 proxy proto bgp"  # VM B, in VM A's /64: kept
        assert proxy_entries(lab.a) == {ours, onlink, *not_ours}
        assert pings(t["vm_a"], "2001:db8:7::20")
        again = fresh.reconcile(desired)
        assert not again.changed, again
        # removing everything keeps the entries that are not ours (those of the netns port
        # go with its veth)
        fresh.reconcile({})
        assert fresh.errors == 0, list(fresh.last_errors)
        assert proxy_entries(lab.a) == {"2001:db8:9::2 dev ul0 proxy proto static"}
    finally:
        fresh.close(remove=False)
