"""Import by route target, per-instance best path and ECMP, live RT changes, leaking, E-VPN
remote MACs and flood list, readvertise."""

from __future__ import annotations

from bgpvpn.dataplane.model import NextHop, RemoteMac
from bgpvpn.vpn.model import InstanceSpec, InstanceType, PortAttachment, Readvertise
from bgpvpn.wire.attributes import PmsiTunnel
from bgpvpn.wire.family import EVPN, VPNV4, VPNV6
from bgpvpn.wire.text import ip_from_text

from .helpers import (
    evpn_att,
    ext,
    host,
    imet_wire,
    in_sync,
    local,
    mac_ip_wire,
    peer,
    peer_attrs,
    send,
    up,
    vpn_wire,
    vrf_att,
)

RMAC = "router-mac:02:00:00:00:00:aa"


def routes(h: object, iid: str = "vrf") -> dict[str, tuple[NextHop, ...]]:
    snap = h.driver.snapshot()[iid]  # type: ignore[attr-defined]
    return {r.prefix: r.next_hops for r in snap.routes}


def test_vpn_route_imported_only_with_matching_rt() -> None:
    h = host()
    h.vpn.attach(vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24"))
    p1 = peer(1)
    up(h.rib, p1)
    a_in = peer_attrs("203.0.113.1", "target:64512:1", "encap:vxlan", RMAC)
    a_out = peer_attrs("203.0.113.1", "target:64512:99", "encap:vxlan")
    send(h.rib, p1, VPNV4, [vpn_wire("203.0.113.1:5", "10.9.0.0/24", 7000)], a_in)
    send(h.rib, p1, VPNV4, [vpn_wire("203.0.113.1:5", "10.8.0.0/24", 7000)], a_out)
    send(h.rib, p1, VPNV6, [vpn_wire("203.0.113.1:5", "2001:db8:9::/48", 7000)], a_in)
    assert routes(h) == {
        "10.9.0.0/24": (NextHop("203.0.113.1", 7000, "02:00:00:00:00:aa"),),
        "2001:db8:9::/48": (NextHop("203.0.113.1", 7000, "02:00:00:00:00:aa"),),
    }
    assert in_sync(h)
    view = h.vpn.instance("vrf")
    dests = {d.destination: d for d in view.imported}
    p = dests["10.9.0.0/24"].paths[0]
    assert (p.rd, p.next_hop, p.vni, p.peer, p.chosen, p.ecmp) == (
        "203.0.113.1:5",
        "203.0.113.1",
        7000,
        "p1",
        True,
        False,
    )
    # withdrawn: removed from the data plane
    send(h.rib, p1, VPNV4, [vpn_wire("203.0.113.1:5", "10.9.0.0/24", 7000)], None)
    assert set(routes(h)) == {"2001:db8:9::/48"}


def test_mpls_label_imported_shifted() -> None:
    h = host()
    h.vpn.attach(vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24"))
    p1 = peer(1)
    up(h.rib, p1)
    key, _ = vpn_wire("1:1", "10.9.0.0/24", 0)
    label = bytes.fromhex("0012c1")  # label 300, bottom of stack
    send(h.rib, p1, VPNV4, [(key, label)], peer_attrs("203.0.113.1", "target:64512:1"))
    (hop,) = routes(h)["10.9.0.0/24"]
    assert (hop.vni, hop.encapsulation.value) == (300, "mpls")


def test_ecmp_across_rds_and_best_path() -> None:
    h = host()
    h.vpn.attach(vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24"))
    p1, p2 = peer(1), peer(2)
    up(h.rib, p1, p2)
    a1 = peer_attrs("203.0.113.1", "target:64512:1", "encap:vxlan")
    a2 = peer_attrs("203.0.113.2", "target:64512:1", "encap:vxlan")
    send(h.rib, p1, VPNV4, [vpn_wire("203.0.113.1:5", "10.9.0.0/24", 7001)], a1)
    send(h.rib, p2, VPNV4, [vpn_wire("203.0.113.2:5", "10.9.0.0/24", 7002)], a2)
    hops = routes(h)["10.9.0.0/24"]
    assert {(x.vtep, x.vni) for x in hops} == {("203.0.113.1", 7001), ("203.0.113.2", 7002)}
    (dest,) = [d for d in h.vpn.instance("vrf").imported if d.destination == "10.9.0.0/24"]
    assert all(p.chosen and p.ecmp for p in dest.paths)
    # a higher local preference on one: no more ECMP
    a2b = peer_attrs("203.0.113.2", "target:64512:1", "encap:vxlan", local_pref=200)
    send(h.rib, p2, VPNV4, [vpn_wire("203.0.113.2:5", "10.9.0.0/24", 7002)], a2b)
    assert routes(h)["10.9.0.0/24"] == (NextHop("203.0.113.2", 7002),)
    # a longer AS path loses too
    send(h.rib, p2, VPNV4, [vpn_wire("203.0.113.2:5", "10.9.0.0/24", 7002)], a2)
    a1b = peer_attrs("203.0.113.1", "target:64512:1", "encap:vxlan", as_path=(65001,))
    send(h.rib, p1, VPNV4, [vpn_wire("203.0.113.1:5", "10.9.0.0/24", 7001)], a1b)
    assert routes(h)["10.9.0.0/24"] == (NextHop("203.0.113.2", 7002),)


def test_live_import_rt_change_moves_routes_in_and_out() -> None:
    h = host()
    h.vpn.attach(vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24"))
    p1 = peer(1)
    up(h.rib, p1)
    send(
        h.rib,
        p1,
        VPNV4,
        [vpn_wire("1:1", "10.7.0.0/24", 1)],
        peer_attrs("203.0.113.1", "target:64512:7", "encap:vxlan"),
    )
    send(
        h.rib,
        p1,
        VPNV4,
        [vpn_wire("1:1", "10.1.9.0/24", 1)],
        peer_attrs("203.0.113.1", "target:64512:1", "encap:vxlan"),
    )
    assert set(routes(h)) == {"10.1.9.0/24"}
    h.vpn.update_instance("vrf", import_rts=("64512:1", "64512:7"))
    assert set(routes(h)) == {"10.1.9.0/24", "10.7.0.0/24"}
    h.vpn.update_instance("vrf", import_rts=("64512:7",))
    assert set(routes(h)) == {"10.7.0.0/24"}
    assert in_sync(h)


def test_route_with_two_imported_rts_replaced_by_one() -> None:
    """The RIB reports such a route once per RT; the stale removal must not drop it."""
    h = host()
    h.vpn.create_instance(
        InstanceSpec("vrf", InstanceType.IPVPN, ("64512:1", "64512:2"), ("64512:1",))
    )
    p1 = peer(1)
    up(h.rib, p1)
    w = vpn_wire("1:1", "10.7.0.0/24", 5)
    for _ in range(3):
        send(
            h.rib,
            p1,
            VPNV4,
            [w],
            peer_attrs("203.0.113.1", "target:64512:1", "target:64512:2", "encap:vxlan"),
        )
        assert set(routes(h)) == {"10.7.0.0/24"}
        send(h.rib, p1, VPNV4, [w], peer_attrs("203.0.113.1", "target:64512:2", "encap:vxlan"))
        assert set(routes(h)) == {"10.7.0.0/24"}
        send(h.rib, p1, VPNV4, [w], peer_attrs("203.0.113.1", "target:64512:1", "encap:vxlan"))
        assert set(routes(h)) == {"10.7.0.0/24"}
    send(h.rib, p1, VPNV4, [w], peer_attrs("203.0.113.1", "target:64512:3", "encap:vxlan"))
    assert routes(h) == {}


def test_own_routes_not_imported_and_leaking_between_local_instances() -> None:
    h = host()
    h.vpn.attach(
        vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24", instance="red", rts=("64512:1",))
    )
    assert routes(h, "red") == {}  # its own route, same RD from the local peer
    h.vpn.attach(
        PortAttachment(
            "blue",
            InstanceType.IPVPN,
            "tap2",
            "52:54:00:00:00:02",
            ("10.2.0.5/24",),
            import_rts=("64512:1",),
            export_rts=("64512:2",),
        )
    )
    red, blue = h.vpn.instance("red"), h.vpn.instance("blue")
    assert routes(h, "blue") == {
        "10.1.0.5/32": (NextHop("192.0.2.1", red.vni, red.router_mac, local=True),)
    }
    assert routes(h, "red") == {}  # red does not import 64512:2
    h.vpn.update_instance("red", import_rts=("64512:1", "64512:2"))
    assert routes(h, "red") == {
        "10.2.0.5/32": (NextHop("192.0.2.1", blue.vni, blue.router_mac, local=True),)
    }
    h.vpn.detach("red", "tap1")
    assert routes(h, "blue") == {}


def test_evpn_remote_macs_and_flood_list() -> None:
    h = host()
    h.vpn.attach(evpn_att("tap1", "52:54:00:00:00:01", "10.0.0.5/24"))
    p1, p2 = peer(1), peer(2)
    up(h.rib, p1, p2)
    a = peer_attrs("203.0.113.1", "target:64512:1", "encap:vxlan")
    send(
        h.rib,
        p1,
        EVPN,
        [
            mac_ip_wire("203.0.113.1:3", "52:54:00:aa:00:01", None, 5000),
            mac_ip_wire("203.0.113.1:3", "52:54:00:aa:00:01", "10.0.0.9", 5000),
        ],
        a,
    )
    pmsi = PmsiTunnel(0, 6, 5000, ip_from_text("203.0.113.11"))
    send(
        h.rib,
        p1,
        EVPN,
        [imet_wire("203.0.113.1:3", "203.0.113.1")],
        peer_attrs("203.0.113.1", "target:64512:1", "encap:vxlan", pmsi=pmsi),
    )
    send(
        h.rib,
        p2,
        EVPN,
        [imet_wire("203.0.113.2:3", "203.0.113.2")],
        peer_attrs("203.0.113.2", "target:64512:1", "encap:vxlan"),
    )
    # a type-3 with another RT does not enter
    send(
        h.rib,
        p2,
        EVPN,
        [imet_wire("203.0.113.2:4", "203.0.113.3")],
        peer_attrs("203.0.113.3", "target:64512:9", "encap:vxlan"),
    )
    snap = h.driver.snapshot()["evi"]
    assert set(snap.remote_macs) == {
        RemoteMac("52:54:00:aa:00:01", "203.0.113.1", 5000),
        RemoteMac("52:54:00:aa:00:01", "203.0.113.1", 5000, "10.0.0.9"),
    }
    assert snap.flood == frozenset({"203.0.113.11", "203.0.113.2"})  # PMSI id, else originator
    send(h.rib, p2, EVPN, [imet_wire("203.0.113.2:3", "203.0.113.2")], None)
    send(h.rib, p1, EVPN, [mac_ip_wire("203.0.113.1:3", "52:54:00:aa:00:01", None, 5000)], None)
    snap = h.driver.snapshot()["evi"]
    assert snap.flood == frozenset({"203.0.113.11"})
    assert set(snap.remote_macs) == {
        RemoteMac("52:54:00:aa:00:01", "203.0.113.1", 5000, "10.0.0.9")
    }
    assert in_sync(h)


def test_type5_imported_into_vrf() -> None:
    h = host()
    h.vpn.attach(vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24"))
    other = host(2)
    other.vpn.create_instance(InstanceSpec("evi", InstanceType.EVPN, (), ("64512:1",), vni=6000))
    other.vpn.add_static_route("evi", "10.50.0.0/16", "10.0.0.1")
    ((route, attrs, _data),) = [v for v in local(other.rib, EVPN).values() if v[0].route_type == 5]
    p1 = peer(1)
    up(h.rib, p1)
    send(h.rib, p1, EVPN, [route.to_wire()], attrs)
    (hop,) = routes(h)["10.50.0.0/16"]
    assert (hop.vtep, hop.vni, hop.local) == ("192.0.2.2", 6000, False)
    assert hop.router_mac == other.vpn.instance("evi").router_mac


def test_readvertise() -> None:
    h = host()
    h.vpn.attach(
        vrf_att(
            "tap1",
            "52:54:00:00:00:01",
            "10.1.0.5/24",
            readvertise=Readvertise(("64512:1",), ("64512:50",)),
        )
    )
    p1 = peer(1)
    up(h.rib, p1)
    w = vpn_wire("1:1", "10.9.0.0/24", 9)
    send(h.rib, p1, VPNV4, [w], peer_attrs("203.0.113.1", "target:64512:1", "encap:vxlan"))
    mine = {str(r.prefix): a for r, a, _ in local(h.rib, VPNV4).values()}
    assert set(mine) == {"10.1.0.5/32", "10.9.0.0/24"}
    assert ext(mine["10.9.0.0/24"]) >= {"target:64512:50", "encap:vxlan"}
    assert "target:64512:1" not in ext(mine["10.9.0.0/24"])
    assert mine["10.9.0.0/24"].next_hop == ip_from_text("192.0.2.1")
    send(h.rib, p1, VPNV4, [w], None)
    assert {str(r.prefix) for r, _, _ in local(h.rib, VPNV4).values()} == {"10.1.0.5/32"}


def test_one_mac_several_routes_added_and_withdrawn_one_by_one() -> None:
    """A MAC's routes (MAC only, MAC+IP, from two RDs): the entries follow each step, the driver
    and the desired state agree, and the imported view lists every path of the MAC."""
    h = host()
    h.vpn.attach(evpn_att("tap1", "52:54:00:00:00:01"))
    p1 = peer(1)
    up(h.rib, p1)
    a1 = peer_attrs("203.0.113.1", "target:64512:1", "encap:vxlan")
    a2 = peer_attrs("203.0.113.2", "target:64512:1", "encap:vxlan")
    m = "52:54:00:aa:bb:cc"
    r_mac = mac_ip_wire("203.0.113.1:1", m, None, 5000)
    r_ip = mac_ip_wire("203.0.113.1:1", m, "10.0.0.7", 5000)
    r_other = mac_ip_wire("203.0.113.2:1", m, "10.0.0.8", 5001)

    def macs() -> set[RemoteMac]:
        assert in_sync(h)
        return set(h.driver.snapshot()["evi"].remote_macs)

    send(h.rib, p1, EVPN, [r_mac], a1)
    assert macs() == {RemoteMac(m, "203.0.113.1", 5000)}
    send(h.rib, p1, EVPN, [r_ip], a1)
    both = {RemoteMac(m, "203.0.113.1", 5000), RemoteMac(m, "203.0.113.1", 5000, "10.0.0.7")}
    assert macs() == both
    send(h.rib, p1, EVPN, [r_other], a2)  # same sequence: the lowest VTEP keeps it
    assert macs() == both
    dests = {d.destination: d for d in h.vpn.instance("evi").imported}
    assert len(dests[m].paths) == 3 and sum(p.chosen for p in dests[m].paths) == 2
    send(h.rib, p1, EVPN, [r_mac], None)
    assert macs() == {RemoteMac(m, "203.0.113.1", 5000, "10.0.0.7")}
    send(h.rib, p1, EVPN, [r_ip], None)
    assert macs() == {RemoteMac(m, "203.0.113.2", 5001, "10.0.0.8")}
    send(h.rib, p1, EVPN, [r_other], a1)  # its attributes change: the VTEP with it
    assert macs() == {RemoteMac(m, "203.0.113.1", 5001, "10.0.0.8")}
    send(h.rib, p1, EVPN, [r_other], None)
    assert macs() == set()
    assert h.vpn._instances["evi"].table.macs == {}  # neither routes nor entries left
