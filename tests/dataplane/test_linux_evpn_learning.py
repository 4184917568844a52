"""LinuxEvpnDriver MAC learning against the real kernel: a VM namespace behind an attached port
sends traffic from a second, unattached MAC (a macvlan moved into its own namespace); the
driver reports the MAC the bridge learned (netlink notifications, and a dump after a restart),
and the vpn layer advertises it as a type-2 route."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator

import pytest
from nslab import VTEP_B, Lab, pings, run
from test_linux_evpn import MAC_A1, two_hosts

from bgpvpn.dataplane.linux import LinuxEvpnDriver
from bgpvpn.dataplane.model import InstanceState, LearnedMac
from bgpvpn.rib import Rib
from bgpvpn.vpn.manager import VpnManager
from bgpvpn.vpn.model import InstanceSpec, InstanceType, PortAttachment
from bgpvpn.wire.family import EVPN
from bgpvpn.wire.routes import EvpnRoute, route_from_wire
from bgpvpn.wire.text import ip_from_text

MAC_A5 = "52:54:00:00:01:05"


@pytest.fixture
def drivers(lab: Lab) -> Iterator[tuple[LinuxEvpnDriver, LinuxEvpnDriver]]:
    a = LinuxEvpnDriver(netns=lab.a)
    b = LinuxEvpnDriver(netns=lab.b)
    try:
        yield a, b
    finally:
        for d in (a, b):
            d.close(remove=True)


def learned_within(driver: LinuxEvpnDriver, seconds: float = 3.0) -> list[LearnedMac]:
    """What the driver reports, waiting for its socket to be readable (as the event loop does)."""
    sock = driver.learning_socket()
    assert sock is not None
    out: list[LearnedMac] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 0.2)
        if ready:
            out += driver.read_learned()
        if out:
            return out
    return out


def type2_macs(rib: Rib) -> set[str]:
    routes = (route_from_wire(EVPN, e.key, e.data) for e in rib.local_routes(EVPN))
    return {r.mac.hex(":") for r in routes if isinstance(r, EvpnRoute) and r.route_type == 2}


def second_mac(lab: Lab, vm: str) -> str:
    """A macvlan of ``vm``'s eth0 with MAC_A5 and 198.51.100.5, in a namespace of its own."""
    ns5 = lab.ns("vma5")
    assert run("ip", "netns", "add", ns5).returncode == 0
    for argv in (
        ("ip", "-n", vm, "link", "add", "mv0", "link", "eth0", "type", "macvlan", "mode", "bridge"),
        ("ip", "-n", vm, "link", "set", "mv0", "netns", ns5),
        ("ip", "-n", ns5, "link", "set", "mv0", "address", MAC_A5),
        ("ip", "-n", ns5, "addr", "add", "198.51.100.5/24", "dev", "mv0"),
        ("ip", "-n", ns5, "link", "set", "mv0", "up"),
        ("ip", "-n", ns5, "link", "set", "lo", "up"),
    ):
        proc = run(*argv)
        assert proc.returncode == 0, (argv, proc.stderr)
    return ns5


def test_learned_mac_reported_and_advertised(
    lab: Lab, drivers: tuple[LinuxEvpnDriver, LinuxEvpnDriver]
) -> None:
    a, b = drivers
    sock_a, sock_b = a.learning_socket(), b.learning_socket()
    assert sock_a is not None and sock_b is not None and not sock_a.getblocking()
    t = two_hosts(lab, a, b)
    # local ports learn; the VXLAN port does not
    tap, vx = a.nl.link("tapa1"), a.nl.link("bvx-1")
    assert tap is not None and tap.brport.get("learning") == 1
    assert vx is not None and vx.brport.get("learning") == 0
    assert learned_within(a, 0.5) == []  # the attached MAC is static: never reported

    ns5 = second_mac(lab, t["vm_a"])
    assert pings(ns5, "198.51.100.2")  # from MAC_A5, over VXLAN to B's VM and back
    got = learned_within(a)
    assert LearnedMac("evi1", "tapa1", MAC_A5, True) in got
    assert all(m.mac != MAC_A1 for m in got)
    assert b.read_learned() == []  # B saw MAC_A5 only through its VXLAN port

    # a restart: a new driver reconciles, then one dump finds the learned MAC
    c = LinuxEvpnDriver(netns=lab.a)
    try:
        st = InstanceState(t["cfg_a"], (t["port_a"],), (t["mac_b"],), (), frozenset({VTEP_B}))
        report = c.reconcile({"evi1": st})
        assert not report.removed, report
        assert c.read_learned(dump=True) == [LearnedMac("evi1", "tapa1", MAC_A5, True)]
        assert c.read_learned(dump=True) == []
    finally:
        c.close(remove=False)

    # the vpn layer announces a type-2 route for it
    rib = Rib(65000, ip_from_text("10.255.0.1"))
    vpn = VpnManager(
        rib, local_asn=65000, router_id="10.255.0.1", vtep="203.0.113.1", drivers={}, now=time.time
    )
    spec = InstanceSpec(
        "evi1", InstanceType.EVPN, ("64512:1",), ("64512:1",), vni=100, advertise_learned=True
    )
    vpn.attach(PortAttachment("evi1", InstanceType.EVPN, "tapa1", MAC_A1), spec)
    with vpn.batch():
        for m in got:
            vpn.mac_learned(m.instance_id, m.port, m.mac, m.added)
    macs = type2_macs(rib)
    assert macs == {MAC_A1, MAC_A5}

    # forgotten (deleted, as when it ages out): reported removed, the route withdrawn
    proc = run("ip", "netns", "exec", lab.a, "bridge", "fdb", "del", MAC_A5, "dev", "tapa1",
               "master")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    gone = learned_within(a)
    assert gone == [LearnedMac("evi1", "tapa1", MAC_A5, False)]
    with vpn.batch():
        for m in gone:
            vpn.mac_learned(m.instance_id, m.port, m.mac, m.added)
    macs = type2_macs(rib)
    assert macs == {MAC_A1}
