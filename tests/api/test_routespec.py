"""Routes as users write them become the wire form, or a clear error naming the field."""

from __future__ import annotations

import pytest

from bgpvpn.api.routespec import RouteSpec, RouteSpecError, build_route
from bgpvpn.wire import pack_updates
from bgpvpn.wire.family import EVPN, IPV4_UNICAST, RTC, VPNV4, VPNV6
from bgpvpn.wire.jsonform import attributes_to_json
from bgpvpn.wire.routes import route_from_wire

ASN = 64512


def test_ipv4_with_attributes() -> None:
    spec = RouteSpec(
        prefix="203.0.113.0/24",
        next_hop="192.0.2.1",
        local_pref=300,
        med=200,
        communities=["100:400", "no-export"],
        large_communities=["64512:1:2"],
        extended_communities=["encap:vxlan"],
        as_path_prepend=2,
        origin="egp",
    )
    built = build_route(spec, ASN)
    assert built.family == IPV4_UNICAST
    assert str(route_from_wire(built.family, built.key, built.data)) == "203.0.113.0/24"
    j = attributes_to_json(built.attributes)
    assert j["as_path"] == "64512 64512" and j["origin"] == "egp"
    assert j["communities"] == ["100:400", "no-export"] and j["large_communities"] == ["64512:1:2"]
    assert j["next_hop"] == "192.0.2.1" and j["local_pref"] == 300 and j["med"] == 200
    # it packs into a valid UPDATE
    assert pack_updates(built.family, [built.key], None, None, built.attributes)


def test_next_hop_self_is_left_to_the_session() -> None:
    built = build_route(RouteSpec(prefix="203.0.113.0/24"), ASN)
    assert built.attributes.next_hop is None


def test_vpnv4_and_vpnv6() -> None:
    built = build_route(
        RouteSpec(
            family="vpnv4",
            prefix="203.0.113.0/24",
            rd="64512:1",
            labels=[100],
            route_targets=["64512:77"],
        ),
        ASN,
    )
    assert built.family == VPNV4
    assert str(route_from_wire(VPNV4, built.key, built.data)) == "64512:1:203.0.113.0/24 label 100"
    assert attributes_to_json(built.attributes)["extended_communities"] == ["target:64512:77"]
    built6 = build_route(
        RouteSpec(family="vpnv6", prefix="2001:db8::/64", rd="192.0.2.1:7", labels=[16]), ASN
    )
    assert built6.family == VPNV6


def test_evpn_routes() -> None:
    t2 = build_route(
        RouteSpec(
            family="evpn",
            route_type="mac-ip",
            rd="192.0.2.1:1",
            mac="52:54:00:00:01:01",
            ip="198.51.100.10",
            vni=100,
            l3_vni=0xABCDEF,
        ),
        ASN,
    )
    r = route_from_wire(EVPN, t2.key, t2.data).to_json()
    assert r["labels"] == [100, 0xABCDEF] and r["mac"] == "52:54:00:00:01:01"
    t3 = build_route(
        RouteSpec(family="evpn", route_type=3, rd="192.0.2.1:1", originator="192.0.2.1"), ASN
    )
    assert route_from_wire(EVPN, t3.key, t3.data).to_json()["originator"] == "192.0.2.1"
    t5 = build_route(
        RouteSpec(
            family="evpn",
            route_type="ip-prefix",
            rd="192.0.2.1:1",
            prefix="203.0.113.0/24",
            vni=500,
        ),
        ASN,
    )
    assert route_from_wire(EVPN, t5.key, t5.data).to_json()["prefix"] == "203.0.113.0/24"


def test_rtc_membership() -> None:
    built = build_route(RouteSpec(family="rtc", route_target="64512:77"), ASN)
    assert built.family == RTC
    assert route_from_wire(RTC, built.key).to_json()["route_target"] == "target:64512:77"
    assert build_route(RouteSpec(family="rtc"), ASN).key == b"\x00"


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (RouteSpec(prefix="203.0.113.0/33"), "prefix", "0..32"),
        (RouteSpec(prefix="not-a-prefix"), "prefix", "not an IPv4 or IPv6 prefix"),
        (RouteSpec(prefix="2001:db8::/32"), "prefix", "not an IPv4 prefix"),
        (RouteSpec(family="ipv5", prefix="203.0.113.0/24"), "family", "unknown address family"),
        (
            RouteSpec(family="ipv4-flowspec", prefix="203.0.113.0/24"),
            "family",
            "cannot be announced",
        ),
        (RouteSpec(prefix="203.0.113.0/24", communities=["100:70000"]), "communities", "16-bit"),
        (RouteSpec(prefix="203.0.113.0/24", communities=["bogus"]), "communities", "AS:VALUE"),
        (
            RouteSpec(prefix="203.0.113.0/24", large_communities=["1:2"]),
            "large_communities",
            "GLOBAL",
        ),
        (
            RouteSpec(prefix="203.0.113.0/24", extended_communities=["encap:warp"]),
            "extended_communities",
            "tunnel type",
        ),
        (
            RouteSpec(prefix="203.0.113.0/24", next_hop="192.0.2.300"),
            "next_hop",
            "not an IPv4 or IPv6",
        ),
        (RouteSpec(family="vpnv4", prefix="203.0.113.0/24", labels=[100]), "rd", "required"),
        (
            RouteSpec(family="vpnv4", prefix="203.0.113.0/24", rd="1:2:3", labels=[100]),
            "rd",
            "administrator",
        ),
        (
            RouteSpec(family="vpnv4", prefix="203.0.113.0/24", rd="64512:1"),
            "labels",
            "at least one label",
        ),
        (
            RouteSpec(family="vpnv4", prefix="203.0.113.0/24", rd="64512:1", labels=[2**20]),
            "labels",
            "outside",
        ),
        (
            RouteSpec(family="evpn", route_type=2, rd="64512:1", mac="52:54:00:00:01", vni=1),
            "mac",
            "MAC",
        ),
        (
            RouteSpec(
                family="evpn", route_type=2, rd="64512:1", mac="52:54:00:00:01:01", vni=2**24
            ),
            "vni",
            "24 bits",
        ),
        (RouteSpec(family="evpn", route_type=9, rd="64512:1"), "route_type", "1-5"),
        (RouteSpec(family="rtc", route_target="target"), "route_target", "ADMIN:NUMBER"),
        (RouteSpec(prefix="203.0.113.0/24", as_path="65001 {65002"), "as_path", "unbalanced"),
    ],
)
def test_errors_name_the_field(spec: RouteSpec, field: str, words: str) -> None:
    with pytest.raises(RouteSpecError) as info:
        build_route(spec, ASN)
    assert info.value.field == field
    assert words in info.value.reason, info.value.reason
