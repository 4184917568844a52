"""Issue 5, end to end with real kernel objects and real packets.

bgpvpn daemons run with ``[dataplane] evpn = ipvpn = "linux"``, each in its own host namespace
(b1, b2), peering with a GoBGP route reflector; F is an FRR host (zebra + bgpd,
``advertise-all-vni``) with a Linux bridge and a VXLAN device (VNI 100) made by the test. VMs
are namespaces whose veth peer is attached through the daemon's CLI (``bgpvpn attach`` /
``bgpvpn detach``) or REST API (``POST /v1/attach``). See ``e2elab.py`` for the lab.
"""

from __future__ import annotations

import json

import pytest
from e2elab import (
    ADDR,
    FRR_VM_IP,
    FRR_VM_MAC,
    Daemon,
    Net,
    Vm,
    bridge_json,
    diff,
    ip_json,
    no_ping,
    our_leftovers,
    pings,
    run,
    snapshot,
    sysctl,
    wait_equal,
    wait_until,
)

pytestmark = [pytest.mark.interop, pytest.mark.slow]

RT_BLUE, RT_RED, RT_GREEN, RT_BLACK = "64512:100", "64512:200", "64512:300", "64512:400"
WAIT = 45  # seconds for anything that crosses BGP (a loaded 2-core machine)


def fdb_macs(ns: str, dev_prefix: str = "bvx-") -> dict[str, set[str]]:
    """MAC -> the VTEPs (``dst``) of the FDB entries on our VXLAN devices."""
    out: dict[str, set[str]] = {}
    for e in bridge_json(ns, "fdb", "show"):
        if str(e.get("ifname", "")).startswith(dev_prefix) and e.get("dst"):
            out.setdefault(e["mac"], set()).add(e["dst"])
    return out


def vrf_routes(ns: str) -> set[str]:
    return {r["dst"] for r in ip_json(ns, "route", "show", "table", "all", "proto", "186")}


def start(*daemons: Daemon) -> None:
    for d in daemons:
        d.start(wait=False)
    for d in daemons:
        d.wait_api()
    for d in daemons:
        d.wait_established(WAIT)


# ------------------------------------------------------------------------ 1. FRR interop


def test_bgpvpn_and_frr_host_in_the_same_evpn(lab: Net) -> None:
    """A VM on bgpvpn host b1 and the VM on FRR host F share E-VPN VNI 100 (RT 64512:100 =
    FRR's auto RT): FRR holds b1's type-2 (the VM's MAC and MAC/IP) and type-3 (b1's VTEP),
    b1's kernel FDB sends FRR's VM MAC to F's VTEP, and they ping each other both ways."""
    assert lab.frr is not None and lab.fvm is not None
    b1 = lab.daemon("b1")
    vm = lab.vm("blue1", "b1", "52:54:00:00:01:01", "198.51.100.11/25")
    start(b1)
    b1.attach(vm, "blue", "evpn", [RT_BLUE], vni=100, cli=True)
    wait_until("FRR session with the RR", lab.frr.established, WAIT)

    # FRR has bgpvpn's type-2 (MAC and MAC/IP) and type-3 with b1's VTEP as next hop
    def frr_has_bgpvpn_routes() -> bool:
        routes = lab.frr.evpn_routes() if lab.frr else {}
        t2 = [k for k in routes if k.startswith("[2]") and vm.mac in k]
        t3 = [k for k in routes if k.startswith("[3]") and ADDR["b1"] in k]
        hops = {
            n.get("ip")
            for k in t2 + t3
            for p in routes[k]["paths"]
            for n in (p[0] if isinstance(p, list) else p).get("nexthops", [])
        }
        return len(t2) >= 2 and bool(t3) and hops == {ADDR["b1"]}

    wait_until(
        "FRR holds b1's type-2 (MAC, MAC/IP) and type-3",
        frr_has_bgpvpn_routes,
        WAIT,
        detail=lambda: lab.frr.vtysh("show bgp l2vpn evpn") if lab.frr else "",
    )
    # FRR programmed them into F's kernel (zebra): the VM's MAC and the flood entry to b1
    wait_until(
        "F's kernel FDB: bgpvpn's VM MAC and the flood entry towards b1",
        lambda: (
            {vm.mac, "00:00:00:00:00:00"}
            <= {
                e["mac"]
                for e in bridge_json(lab.hosts["f"], "fdb", "show", "dev", "vxlan100")
                if e.get("dst") == ADDR["b1"]
            }
        ),
        WAIT,
    )
    # bgpvpn's kernel FDB: FRR's VM MAC towards F's VTEP, and F in the flood list
    wait_until(
        "b1's kernel FDB has FRR's VM MAC towards F's VTEP",
        lambda: fdb_macs(lab.hosts["b1"]).get(FRR_VM_MAC) == {ADDR["f"]},
        WAIT,
        detail=lambda: run(["bridge", "-n", lab.hosts["b1"], "fdb", "show"]),
    )
    assert ADDR["f"] in fdb_macs(lab.hosts["b1"]).get("00:00:00:00:00:00", set())
    b1_state = b1.instance("blue")
    assert b1_state["vni"] == 100
    pings(vm.ns, FRR_VM_IP, WAIT)
    pings(lab.fvm.ns, vm.addr, WAIT)


# --------------------------------------------------------------------- two bgpvpn hosts


def two_hosts(lab: Net) -> tuple[Daemon, Daemon, dict[str, Vm]]:
    """b1 and b2, each with a VM in E-VPN blue (VNI 100) and one in IP VPN red; not started."""
    b1, b2 = lab.daemon("b1"), lab.daemon("b2")
    vms = {
        "blue1": lab.vm("blue1", "b1", "52:54:00:00:01:01", "198.51.100.11/25"),
        "blue2": lab.vm("blue2", "b2", "52:54:00:00:02:01", "198.51.100.12/25"),
        "red1": lab.vm("red1", "b1", "52:54:00:00:01:02", "198.51.100.130/25", "198.51.100.254"),
        "red2": lab.vm("red2", "b2", "52:54:00:00:02:02", "198.51.100.131/25", "198.51.100.254"),
    }
    return b1, b2, vms


def attach_two_hosts(b1: Daemon, b2: Daemon, vms: dict[str, Vm], cli: bool = False) -> None:
    b1.attach(vms["blue1"], "blue", "evpn", [RT_BLUE], vni=100, cli=cli)
    b2.attach(vms["blue2"], "blue", "evpn", [RT_BLUE], vni=100, cli=cli)
    b1.attach(vms["red1"], "red", "ipvpn", [RT_RED], cli=cli)
    b2.attach(vms["red2"], "red", "ipvpn", [RT_RED], cli=cli)


def ping_two_hosts(vms: dict[str, Vm]) -> None:
    pings(vms["blue1"].ns, vms["blue2"].addr, WAIT)  # E-VPN
    pings(vms["blue2"].ns, vms["blue1"].addr, WAIT)
    pings(vms["red1"].ns, vms["red2"].addr, WAIT)  # IP VPN
    pings(vms["red2"].ns, vms["red1"].addr, WAIT)


# ------------------------------------------------------------- 2. detach and shutdown


def test_detach_and_shutdown_stop_traffic_and_leave_no_kernel_object(lab: Net) -> None:
    """``bgpvpn detach`` of the last port of an instance stops its traffic and removes every
    kernel object bgpvpn made for it (the host goes back to exactly what it was before the
    daemon started: links, FDB, permanent neighbours, proto-186 routes, rules 1860-1862); the
    remote host drops what it had programmed for it; SIGTERM does the same for everything."""
    b1, b2, vms = two_hosts(lab)
    h1, h2 = lab.hosts["b1"], lab.hosts["b2"]
    before1, before2 = snapshot(h1), snapshot(h2)
    start(b1, b2)
    attach_two_hosts(b1, b2, vms, cli=True)
    ping_two_hosts(vms)
    assert sysctl(h1, f"net.ipv4.conf.{vms['red1'].tap}.proxy_arp") == "1"
    assert snapshot(h1) != before1

    # detach the E-VPN's only port on b1: traffic stops, its bridge and VXLAN device go,
    # and b2 forgets b1's VM MAC and b1's VTEP in the flood list
    out = b1.detach_cli(vms["blue1"], "blue")
    assert out["instances_removed"] == ["blue"], out
    assert no_ping(vms["blue2"].ns, vms["blue1"].addr)
    assert no_ping(vms["blue1"].ns, vms["blue2"].addr)
    names = {link["ifname"] for link in ip_json(h1, "link", "show")}
    assert not [n for n in names if n.startswith(("bvbr-", "bvx-"))], names
    assert "master" not in ip_json(h1, "link", "show", "dev", vms["blue1"].tap)[0]
    wait_until(
        "b2 drops b1's VM MAC and b1's VTEP",
        lambda: (
            vms["blue1"].mac not in (m := fdb_macs(h2))
            and ADDR["b1"] not in m.get("00:00:00:00:00:00", set())
        ),
        WAIT,
    )
    pings(vms["red1"].ns, vms["red2"].addr, WAIT)  # the IP VPN still works

    # detach the IP VPN's only port on b1: nothing of bgpvpn is left on b1
    out = b1.detach_cli(vms["red1"], "red")
    assert out["instances_removed"] == ["red"], out
    assert no_ping(vms["red1"].ns, vms["red2"].addr)
    assert no_ping(vms["red2"].ns, vms["red1"].addr)
    assert our_leftovers(h1) == []
    assert snapshot(h1) == before1, diff(before1, snapshot(h1))
    assert sysctl(h1, f"net.ipv4.conf.{vms['red1'].tap}.proxy_arp") == "0"
    wait_until(
        "b2 drops the route to b1's VM",
        lambda: (
            vms["red1"].addr + "/32" not in vrf_routes(h2)
            and vms["red1"].addr not in vrf_routes(h2)
        ),
        WAIT,
    )
    assert b1.alive()

    # SIGTERM on b2 (ports still attached): it exits 0 and leaves nothing either
    assert our_leftovers(h2) != []
    assert b2.terminate() == 0
    assert our_leftovers(h2) == []
    assert snapshot(h2) == before2, diff(before2, snapshot(h2))
    assert no_ping(vms["blue2"].ns, vms["blue1"].addr)
    assert b1.terminate() == 0
    assert snapshot(h1) == before1, diff(before1, snapshot(h1))


# ---------------------------------------------------------------- 3. kill -9, restart


def vxlan_of(ns: str, prefix: str) -> str:
    names = [lk["ifname"] for lk in ip_json(ns, "link", "show") if lk["ifname"].startswith(prefix)]
    assert len(names) == 1, names
    return str(names[0])


def test_kill9_then_restart_resumes_traffic_and_reconciles_exactly(lab: Net) -> None:
    """``kill -9`` of b1 (store on a file), stale objects planted while it is dead, a start
    with the same configuration: traffic resumes across the E-VPN and the IP VPN, the kernel
    objects are exactly those before the kill (names and numbers), the planted stale FDB
    entry and proto-186 route are gone, and a bridge bgpvpn did not create is untouched."""
    b1, b2, vms = two_hosts(lab)
    h1 = lab.hosts["b1"]
    start(b1, b2)
    attach_two_hosts(b1, b2, vms)
    ping_two_hosts(vms)
    before = snapshot(h1)
    bvx, bvr = vxlan_of(h1, "bvx-"), vxlan_of(h1, "bvr-")
    table = next(
        r["table"]
        for r in ip_json(h1, "route", "show", "table", "all", "proto", "186")
        if r.get("dev") == bvr
    )
    assert fdb_macs(h1).get(vms["blue2"].mac) == {ADDR["b2"]}, before["fdb"]

    b1.kill9()
    assert snapshot(h1) == before, "the kernel state lives on after the daemon's death"
    # planted while the daemon is dead: stale objects on bgpvpn's devices and table, and
    # objects of a user: a bridge with a VXLAN device and an FDB entry, a route of another
    # protocol in bgpvpn's VRF table
    stale_mac, stale_prefix = "52:54:00:00:09:09", "198.51.100.200/32"
    run(["bridge", "-n", h1, "fdb", "add", stale_mac, "dev", bvx, "dst", "192.0.2.9",
         "self", "static"])  # fmt: skip
    run(["ip", "-n", h1, "route", "add", stale_prefix, "via", "192.0.2.9", "dev", bvr,
         "onlink", "table", str(table), "proto", "186"])  # fmt: skip
    n = ["ip", "-n", h1]
    run([*n, "link", "add", "userbr0", "type", "bridge"])
    run([*n, "link", "add", "uservx0", "type", "vxlan", "id", "4000", "local", ADDR["b1"],
         "dstport", "4790", "nolearning"])  # fmt: skip
    run([*n, "link", "set", "uservx0", "master", "userbr0"])
    for dev in ("userbr0", "uservx0"):
        run([*n, "link", "set", dev, "up"])
    run(["bridge", "-n", h1, "fdb", "add", "52:54:00:00:0e:0e", "dev", "uservx0", "dst",
         "192.0.2.9", "self", "static"])  # fmt: skip
    user_route = ["198.51.100.201/32", "dev", bvr, "table", str(table), "proto", "static"]
    run([*n, "route", "add", *user_route])

    def user_objects() -> list[str]:
        s = snapshot(h1)
        return [x for x in s["links"] + s["fdb"] if "userbr0" in x or "uservx0" in x]

    user_before = user_objects()
    assert len(user_before) >= 3, user_before

    b1.start()
    b1.wait_established(WAIT)
    ping_two_hosts(vms)

    def ours() -> dict[str, list[str]]:
        s = snapshot(h1)
        return {
            k: [x for x in v if "userbr0" not in x and "uservx0" not in x] for k, v in s.items()
        }

    wait_equal("b1's kernel objects after the restart equal those before the kill", ours,
               before, WAIT)  # fmt: skip
    assert stale_mac not in fdb_macs(h1)
    assert stale_prefix.split("/")[0] not in vrf_routes(h1)
    assert user_objects() == user_before
    assert run([*n, "route", "show", *user_route]).strip(), "the user's route is gone"
    # traffic still crosses once reconciled (and from b2's side too)
    ping_two_hosts(vms)


# ---------------------------------------------------------------------- 4. isolation


def test_vms_of_other_vpns_on_the_same_hosts_cannot_ping(lab: Net) -> None:
    """E-VPN green (VNI 200) shares the subnet of E-VPN blue (VNI 100), IP VPN black the
    subnet of IP VPN red, on the same two hosts: each VPN works, and no VM reaches a VM of
    another VPN, on the other host or its own."""
    b1, b2, vms = two_hosts(lab)
    vms["green1"] = lab.vm("green1", "b1", "52:54:00:00:01:03", "198.51.100.21/25")
    vms["green2"] = lab.vm("green2", "b2", "52:54:00:00:02:03", "198.51.100.22/25")
    gw = "198.51.100.254"
    vms["black1"] = lab.vm("black1", "b1", "52:54:00:00:01:04", "198.51.100.140/25", gw)
    vms["black2"] = lab.vm("black2", "b2", "52:54:00:00:02:04", "198.51.100.141/25", gw)
    start(b1, b2)
    attach_two_hosts(b1, b2, vms)
    b1.attach(vms["green1"], "green", "evpn", [RT_GREEN], vni=200)
    b2.attach(vms["green2"], "green", "evpn", [RT_GREEN], vni=200)
    b1.attach(vms["black1"], "black", "ipvpn", [RT_BLACK])
    b2.attach(vms["black2"], "black", "ipvpn", [RT_BLACK])
    ping_two_hosts(vms)
    pings(vms["green1"].ns, vms["green2"].addr, WAIT)
    pings(vms["green2"].ns, vms["green1"].addr, WAIT)
    pings(vms["black1"].ns, vms["black2"].addr, WAIT)
    pings(vms["black2"].ns, vms["black1"].addr, WAIT)
    blocked = [
        ("green1", "blue2"), ("green1", "blue1"), ("blue1", "green2"), ("blue2", "green1"),
        ("black1", "red2"), ("black1", "red1"), ("red1", "black2"), ("red2", "black1"),
        ("blue1", "red2"), ("red1", "blue2"), ("black2", "green1"),
    ]  # fmt: skip
    reached = [f"{a} -> {b}" for a, b in blocked if not no_ping(vms[a].ns, vms[b].addr)]
    assert reached == []


# ------------------------------------------------------------- a port with several MACs


def two_macs_on_one_port(lab: Net) -> tuple[Daemon, Daemon, dict[str, Vm]]:
    """b1's port ``tap-blue1`` carries two VMs: blue1 (eth0, 52:54:00:00:01:01) and blue5 (a
    macvlan of blue1's eth0 moved into its own namespace, 52:54:00:00:01:05); both MACs are
    attached to E-VPN blue on that one port; blue2 is on b2."""
    b1, b2 = lab.daemon("b1"), lab.daemon("b2")
    blue1 = lab.vm("blue1", "b1", "52:54:00:00:01:01", "198.51.100.11/25")
    blue2 = lab.vm("blue2", "b2", "52:54:00:00:02:01", "198.51.100.12/25")
    ns5 = lab.lab.ns("vm-blue5")
    lab.vms.append(blue5 := Vm("blue5", ns5, "b1", blue1.tap, "52:54:00:00:01:05",
                               "198.51.100.15/25"))  # fmt: skip
    run(["ip", "-n", blue1.ns, "link", "add", "mv0", "link", "eth0", "type", "macvlan",
         "mode", "bridge"])  # fmt: skip
    run(["ip", "-n", blue1.ns, "link", "set", "mv0", "netns", ns5])
    run(["ip", "-n", ns5, "link", "set", "mv0", "address", blue5.mac])
    run(["ip", "-n", ns5, "addr", "add", blue5.ip, "dev", "mv0"])
    run(["ip", "-n", ns5, "link", "set", "mv0", "up"])
    start(b1, b2)
    for d, vm in ((b1, blue1), (b1, blue5), (b2, blue2)):
        d.attach(vm, "blue", "evpn", [RT_BLUE], vni=100)
    assert len(b1.instance("blue")["ports"]) == 2
    for vm in (blue1, blue5):
        pings(vm.ns, blue2.addr, WAIT)
        pings(blue2.ns, vm.addr, WAIT)
    return b1, b2, {"blue1": blue1, "blue5": blue5, "blue2": blue2}


def port_fdb(ns: str, tap: str) -> set[str]:
    """The static FDB entries on ``tap`` that point to a bridge (``MAC master bvbr-N``)."""
    return {
        e["mac"]
        for e in bridge_json(ns, "fdb", "show", "dev", tap)
        if e.get("state") == "static" or "static" in str(e.get("flags", ""))
    }


def test_detaching_one_mac_of_a_two_mac_port_keeps_the_other(lab: Net) -> None:
    b1, _b2, vms = two_macs_on_one_port(lab)
    h1 = lab.hosts["b1"]
    out = json.loads(
        b1.cli("detach", "--port", vms["blue5"].tap, "--vpn-instance-id", "blue",
               "--mac", vms["blue5"].mac, "--json")
    )  # fmt: skip
    assert out["instances_removed"] == [], out
    assert [p["mac"] for p in b1.instance("blue")["ports"]] == [vms["blue1"].mac]
    master = ip_json(h1, "link", "show", "dev", vms["blue1"].tap)[0].get("master")
    assert master is not None and str(master).startswith("bvbr-"), (
        f"{vms['blue1'].tap} left the bridge (master {master}) though {vms['blue1'].mac} is "
        "still attached on it"
    )
    pings(vms["blue1"].ns, vms["blue2"].addr, 10)


def test_restart_keeps_both_static_fdb_entries_of_a_two_mac_port(lab: Net) -> None:
    b1, _b2, vms = two_macs_on_one_port(lab)
    h1, tap = lab.hosts["b1"], vms["blue1"].tap
    macs = {vms["blue1"].mac, vms["blue5"].mac}
    assert port_fdb(h1, tap) >= macs, bridge_json(h1, "fdb", "show", "dev", tap)
    before = snapshot(h1)
    b1.kill9()
    b1.start()
    b1.wait_established(WAIT)
    for vm in (vms["blue1"], vms["blue5"]):
        pings(vm.ns, vms["blue2"].addr, WAIT)
    wait_until("b2's MAC back in b1's FDB", lambda: vms["blue2"].mac in fdb_macs(h1), WAIT)
    missing = macs - port_fdb(h1, tap)
    assert not missing, (
        f"static FDB entries of {sorted(missing)} on {tap} gone after the restart:\n"
        f"{diff(before, snapshot(h1))}"
    )
    wait_equal("b1's kernel objects after the restart", lambda: snapshot(h1), before, 10)
