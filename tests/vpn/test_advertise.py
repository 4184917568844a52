"""What instances advertise: decoded back from the RIB's wire form."""

from __future__ import annotations

from bgpvpn.rib import membership_key
from bgpvpn.vpn.model import Encapsulation, InstanceSpec, InstanceType
from bgpvpn.wire.communities import route_target_from_text
from bgpvpn.wire.family import EVPN, RTC, VPNV4, VPNV6
from bgpvpn.wire.routes import EvpnRoute, VpnRoute
from bgpvpn.wire.text import ip_from_text

from .helpers import ASN, evpn_att, ext, host, local, vrf_att


def test_ipvpn_host_routes_with_vni_as_label() -> None:
    h = host()
    res = h.vpn.attach(
        vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24", "2001:db8::5/64", local_pref=200),
        InstanceSpec("vrf", InstanceType.IPVPN, ("64512:1",), ("64512:2",), vni=5010),
    )
    assert res.instances_created == ("vrf",)
    v4 = local(h.rib, VPNV4)
    v6 = local(h.rib, VPNV6)
    assert len(v4) == 1 and len(v6) == 1
    ((route, attrs, data),) = v4.values()
    assert isinstance(route, VpnRoute)
    assert str(route.rd) == "10.255.0.1:1"  # type 1, router-id:index
    assert str(route.prefix) == "10.1.0.5/32"
    # a label stack (RFC8277): the VNI as the label value, bottom of stack set, so that any
    # receiver parses the NLRI (a raw even VNI would have no bottom-of-stack bit)
    assert route.labels == (5010,) and data == ((5010 << 4) | 1).to_bytes(3, "big")
    assert attrs.next_hop == ip_from_text("192.0.2.1")
    assert attrs.local_pref == 200
    view = h.vpn.instance("vrf")
    # export RTs of the spec and of the attachment; never the import-only ones
    assert ext(attrs) == {
        "target:64512:1",
        "target:64512:2",
        "encap:vxlan",
        f"router-mac:{view.router_mac}",
    }
    assert view.router_mac.startswith("02:")
    ((route6, _, data6),) = v6.values()
    assert str(route6.prefix) == "2001:db8::5/128" and data6 == data
    assert sorted(res.routes_added) == sorted(
        ["10.255.0.1:1:10.1.0.5/32 label 5010", "10.255.0.1:1:2001:db8::5/128 label 5010"]
    )


def test_ipvpn_advertise_subnet_and_mpls_label() -> None:
    h = host()
    h.vpn.create_instance(
        InstanceSpec(
            "vrf",
            InstanceType.IPVPN,
            ("64512:1",),
            ("64512:1",),
            rd="64512:77",
            vni=300,
            encapsulation=Encapsulation.MPLS,
        )
    )
    h.vpn.attach(vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24", advertise_subnet=True))
    v4 = local(h.rib, VPNV4)
    prefixes = {str(r.prefix): (r, a, d) for r, a, d in v4.values()}
    assert set(prefixes) == {"10.1.0.5/32", "10.1.0.0/24"}
    route, attrs, data = prefixes["10.1.0.0/24"]
    assert str(route.rd) == "64512:77"
    assert route.labels == (300,)  # MPLS: a real label, bottom of stack
    assert data == bytes.fromhex("0012c1")
    assert ext(attrs) == {"target:64512:1", "encap:mpls"}  # no router MAC without VXLAN


def test_evpn_type2_type3_and_pmsi() -> None:
    h = host()
    h.vpn.attach(evpn_att("tap1", "52:54:00:00:00:01", "10.0.0.5/24"))
    vni = h.vpn.instance("evi").vni
    assert vni == 1000  # allocated, lowest free from 1000
    routes = local(h.rib, EVPN)
    by_type: dict[int, list[tuple[EvpnRoute, object]]] = {}
    for r, a, _ in routes.values():
        assert isinstance(r, EvpnRoute)
        by_type.setdefault(r.route_type, []).append((r, a))
    assert sorted(len(v) for v in by_type.values()) == [1, 2] and set(by_type) == {2, 3}
    macs = {(r.mac.hex(), r.ip) for r, _ in by_type[2]}
    assert macs == {("525400000001", b""), ("525400000001", ip_from_text("10.0.0.5"))}
    for r, a in by_type[2]:
        assert r.esi == bytes(10) and r.ethernet_tag == 0 and r.labels == (vni,)
        assert str(r.rd) == "10.255.0.1:1"
        assert ext(a) == {"target:64512:1", "encap:vxlan"}  # first advertisement: no sequence
        assert a.next_hop == ip_from_text("192.0.2.1")
    ((imet, a3),) = by_type[3]
    assert imet.ip == ip_from_text("192.0.2.1")
    assert a3.pmsi_tunnel is not None
    assert (a3.pmsi_tunnel.tunnel_type, a3.pmsi_tunnel.label) == (6, vni)
    assert a3.pmsi_tunnel.tunnel_id == ip_from_text("192.0.2.1")
    assert ext(a3) == {"target:64512:1", "encap:vxlan"}


def test_evpn_type5_for_port_subnets() -> None:
    h = host()
    h.vpn.create_instance(
        InstanceSpec("evi", InstanceType.EVPN, ("64512:1",), ("64512:1",), advertise_type5=True)
    )
    h.vpn.attach(evpn_att("tap1", "52:54:00:00:00:01", "10.0.0.5/24"))
    t5 = [(r, a) for r, a, _ in local(h.rib, EVPN).values() if r.route_type == 5]
    ((r, a),) = t5
    assert str(r.prefix) == "10.0.0.0/24" and r.labels == (1000,)
    assert "encap:vxlan" in ext(a) and any(e.startswith("router-mac:") for e in ext(a))


def test_rtc_memberships_from_import_rts_only() -> None:
    h = host()
    h.vpn.create_instance(InstanceSpec("a", InstanceType.IPVPN, ("64512:1",), ("64512:9",)))
    h.vpn.create_instance(InstanceSpec("b", InstanceType.EVPN, ("64512:2", "64512:1"), ()))

    def members() -> set[bytes]:
        return {e.key for e in h.rib.local_routes(RTC)}

    def key(rt: str) -> bytes:
        return membership_key(ASN, route_target_from_text(rt))

    assert members() == {key("64512:1"), key("64512:2")}
    h.vpn.update_instance("b", import_rts=("64512:3",))
    assert members() == {key("64512:1"), key("64512:3")}
    h.vpn.delete_instance("a")
    assert members() == {key("64512:3")}
    h.vpn.delete_instance("b")
    assert members() == set()


def test_export_rt_change_reannounces() -> None:
    h = host()
    h.vpn.attach(vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24"))
    res = h.vpn.update_instance("vrf", export_rts=("64512:5",), local_pref=50)
    assert res.routes_updated == ("10.255.0.1:1:10.1.0.5/32 label 1000",)
    assert res.routes_added == () and res.routes_removed == ()
    ((_, attrs, _),) = local(h.rib, VPNV4).values()
    assert "target:64512:5" in ext(attrs) and "target:64512:1" not in ext(attrs)
    assert attrs.local_pref == 50
    assert h.store.instances["vrf"].spec.export_rts == ("64512:5",)


def test_detach_last_port_removes_instance_and_routes() -> None:
    h = host()
    h.vpn.attach(evpn_att("tap1", "52:54:00:00:00:01", "10.0.0.5/24"))
    h.vpn.attach(evpn_att("tap2", "52:54:00:00:00:02"))
    res = h.vpn.detach("evi", "tap1")
    assert len(res.routes_removed) == 2 and res.instances_removed == ()
    res = h.vpn.detach("evi", "tap2", "52:54:00:00:00:02")
    assert res.instances_removed == ("evi",)
    assert any("type-3" in r for r in res.routes_removed)
    assert local(h.rib, EVPN) == {} and h.vpn.instances() == []
    assert h.driver.snapshot() == {}
    assert h.store.instances == {} and h.store.attachments == {}
    # the numbers are free again
    h.vpn.attach(evpn_att("tap3", "52:54:00:00:00:03"))
    assert (h.vpn.instance("evi").index, h.vpn.instance("evi").vni) == (1, 1000)
