"""bgpvpn against GoBGP 3.10 in network namespaces, driven through both CLIs.

Topology: namespace A runs bgpvpn (AS 65000, 192.0.2.1); B runs gobgp-i (AS 65000, iBGP) and C
gobgp-e (AS 65001, eBGP). Sessions:

* iBGP 192.0.2.1 - 192.0.2.2, vpnv4 + evpn + rtc, bgpvpn active (GoBGP passive)
* iBGP 2001:db8::1 - 2001:db8::2, ipv6 + vpnv6, bgpvpn passive
* eBGP 198.51.100.1 - 198.51.100.2, ipv4 + vpnv4 + evpn (no rtc: quirk G1), bgpvpn passive
* eBGP 2001:db8:1::1 - 2001:db8:1::2, ipv6 + vpnv6, bgpvpn active
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from checks import (
    A4,
    A6,
    AC4,
    AC6,
    B4,
    B6,
    C4,
    C6,
    EVPN_MAC_IP,
    EVPN_PREFIX,
    EVPN_PREFIX_KEY,
    announce_evpn_routes,
    bv_route,
    evpn_multicast,
    gobgp_gone,
    gobgp_route,
    lab_env,
    two_neighbours,
    wait_established,
)
from harness import (
    Bgpvpn,
    GoBGP,
    Lab,
    gobgp_attrs,
    gobgp_config,
    gobgp_find,
    gobgp_neighbor,
    require,
    wait_until,
)

pytestmark = [pytest.mark.interop, pytest.mark.slow]


@dataclass
class Env:
    lab: Lab
    bv: Bgpvpn
    gi: GoBGP
    ge: GoBGP


def build(lab: Lab) -> Env:
    bv, b, c = two_neighbours(
        lab,
        ["vpnv4", "evpn", "rtc"],
        ["ipv6", "vpnv6"],
        ["ipv4", "vpnv4", "evpn"],
        ["ipv6", "vpnv6"],
    )
    gi = GoBGP(
        lab,
        b,
        "i",
        gobgp_config(
            65000,
            B4,
            [
                gobgp_neighbor(
                    A4, 65000, ["l3vpn-ipv4-unicast", "l2vpn-evpn", "rtc"], passive=True
                ),
                gobgp_neighbor(A6, 65000, ["ipv6-unicast", "l3vpn-ipv6-unicast"]),
            ],
            [B4, B6],
        ),
    )
    ge = GoBGP(
        lab,
        c,
        "e",
        gobgp_config(
            65001,
            C4,
            [
                gobgp_neighbor(AC4, 65000, ["ipv4-unicast", "l3vpn-ipv4-unicast", "l2vpn-evpn"]),
                gobgp_neighbor(AC6, 65000, ["ipv6-unicast", "l3vpn-ipv6-unicast"], passive=True),
            ],
            [C4, C6],
        ),
    )
    return Env(lab, bv, gi, ge)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    require("gobgpd", "gobgp")
    with lab_env("gobgp") as lab:
        e = build(lab)
        wait_established(e.bv, (B4, B6, C4, C6), 40)
        yield e


def test_sessions_established(env: Env) -> None:
    peers = env.bv.peers()
    assert set(peers[B4]["families"]) == {"vpnv4", "evpn", "rtc"}
    assert set(peers[C4]["families"]) == {"ipv4", "vpnv4", "evpn"}
    assert set(peers[B6]["families"]) == {"ipv6", "vpnv6"}
    assert env.gi.established(A4) and env.gi.established(A6)
    assert env.ge.established(AC4) and env.ge.established(AC6)


# ------------------------------------------------------------------------------- routes

RT_OUT = "65000:100"  # what gobgp-i imports (its VRF v1): bgpvpn's routes carry it
RT_IN = "65000:200"  # what bgpvpn asks for (RTC): gobgp's routes carry it


@pytest.fixture(scope="module")
def routes(env: Env) -> Env:
    """Routes of every family announced once on both sides."""
    bv, gi, ge = env.bv, env.gi, env.ge
    gi.cli("vrf", "add", "v1", "rd", "65000:91", "rt", "import", RT_OUT, "export", RT_OUT)
    bv.announce(family="rtc", route_target=RT_IN)
    bv.announce("203.0.113.0/28", med=10, community="65000:1", large_community="65000:1:1")
    bv.announce(
        "2001:db8:10::/64",
        family="ipv6",
        local_pref=300,
        med=20,
        community="65000:2",
        large_community="65000:2:2",
    )
    bv.announce(
        "203.0.113.16/28",
        family="vpnv4",
        rd="65000:1",
        label=1001,
        rt=RT_OUT,
        local_pref=250,
        med=5,
        community="65000:3",
        large_community="65000:3:3",
    )
    bv.announce(
        "2001:db8:11::/64", family="vpnv6", rd="65000:1", label=1002, rt=RT_OUT, local_pref=260
    )
    announce_evpn_routes(bv, RT_OUT, A4, local_pref=270)
    gi.add(
        "vpnv4",
        "203.0.113.128/28",
        "label",
        "2001",
        "rd",
        "65000:2",
        "rt",
        RT_IN,
        "nexthop",
        B4,
        "med",
        "7",
        "local-pref",
        "170",
        "community",
        "65000:7",
        "large-community",
        "65000:7:7",
    )
    gi.add(
        "evpn",
        "macadv",
        "02:00:00:00:0b:01",
        "203.0.113.201",
        "etag",
        "0",
        "label",
        "200",
        "rd",
        "65000:2",
        "rt",
        RT_IN,
        "encap",
        "vxlan",
    )
    gi.add("evpn", "multicast", B4, "etag", "0", "rd", "65000:2", "rt", RT_IN, "encap", "vxlan")
    gi.add(
        "evpn",
        "prefix",
        "203.0.113.80/28",
        "gw",
        "0.0.0.0",
        "etag",
        "0",
        "label",
        "600",
        "rd",
        "65000:2",
        "rt",
        RT_IN,
        "encap",
        "vxlan",
        "router-mac",
        "02:00:00:00:0b:00",
    )
    gi.add(
        "ipv6",
        "2001:db8:21::/64",
        "nexthop",
        B6,
        "local-pref",
        "150",
        "med",
        "3",
        "community",
        "65000:21",
        "large-community",
        "65000:21:1",
    )
    gi.add(
        "vpnv6",
        "2001:db8:20::/64",
        "label",
        "2002",
        "rd",
        "65000:2",
        "rt",
        RT_IN,
        "nexthop",
        B6,
        "local-pref",
        "180",
    )
    ge.add(
        "ipv4",
        "203.0.113.144/28",
        "med",
        "9",
        "community",
        "65001:9",
        "large-community",
        "65001:9:9",
    )
    ge.add("ipv6", "2001:db8:22::/64", "med", "11", "community", "65001:11")
    ge.add("vpnv4", "203.0.113.160/28", "label", "3001", "rd", "65001:3", "rt", RT_IN)
    ge.add(
        "evpn",
        "macadv",
        "02:00:00:00:0c:01",
        "203.0.113.202",
        "etag",
        "0",
        "label",
        "300",
        "rd",
        "65001:3",
        "rt",
        RT_IN,
        "encap",
        "vxlan",
    )
    return env


def test_ipv4_bgpvpn_to_gobgp_ebgp(routes: Env) -> None:
    p = gobgp_route(routes.ge, AC4, "ipv4", "203.0.113.0/28")
    a = gobgp_attrs(p)
    assert a["next_hop"] == AC4 and a["as_path"] == "65000" and a["med"] == 10
    assert a["communities"] == ["65000:1"] and a["large_communities"] == ["65000:1:1"]
    assert "local_pref" not in a  # eBGP


def test_ipv6_bgpvpn_to_gobgp(routes: Env) -> None:
    a = gobgp_attrs(gobgp_route(routes.gi, A6, "ipv6", "2001:db8:10::/64"))
    assert a["next_hop"] == A6 and a["as_path"] == "" and a["local_pref"] == 300 and a["med"] == 20
    assert a["communities"] == ["65000:2"] and a["large_communities"] == ["65000:2:2"]
    a = gobgp_attrs(gobgp_route(routes.ge, AC6, "ipv6", "2001:db8:10::/64"))
    assert a["next_hop"] == AC6 and a["as_path"] == "65000" and a["med"] == 20
    assert "local_pref" not in a


def test_vpn_bgpvpn_to_gobgp(routes: Env) -> None:
    p = gobgp_route(routes.gi, A4, "vpnv4", "65000:1:203.0.113.16/28")
    a = gobgp_attrs(p)
    assert p["nlri"]["labels"] == [1001]
    assert a["next_hop"] == A4 and a["local_pref"] == 250 and a["med"] == 5 and a["as_path"] == ""
    assert a["route_targets"] == [RT_OUT] and a["communities"] == ["65000:3"]
    assert a["large_communities"] == ["65000:3:3"]
    p = gobgp_route(routes.ge, AC4, "vpnv4", "65000:1:203.0.113.16/28")
    a = gobgp_attrs(p)
    assert p["nlri"]["labels"] == [1001] and a["next_hop"] == AC4 and a["as_path"] == "65000"
    assert a["route_targets"] == [RT_OUT]
    for g, nb, nh, lp in ((routes.gi, A6, A6, 260), (routes.ge, AC6, AC6, None)):
        p = gobgp_route(g, nb, "vpnv6", "65000:1:2001:db8:11::/64")
        a = gobgp_attrs(p)
        assert p["nlri"]["labels"] == [1002] and a["next_hop"] == nh
        assert a.get("local_pref") == lp and a["route_targets"] == [RT_OUT]


def test_evpn_bgpvpn_to_gobgp(routes: Env) -> None:
    for g, nb in ((routes.gi, A4), (routes.ge, AC4)):
        p = gobgp_route(
            g,
            nb,
            "evpn",
            "[type:macadv][rd:192.0.2.1:1][etag:0][mac:02:00:00:00:0a:01][ip:203.0.113.33]",
        )
        v = p["nlri"]["value"]
        assert v["labels"] == [100] and v["esi"] == "single-homed"
        a = gobgp_attrs(p)
        assert a["next_hop"] == nb and a["route_targets"] == [RT_OUT]
        assert {"type": 3, "subtype": 12, "tunnel_type": 8} in a["ext"]  # encap vxlan
        if g is routes.gi:
            assert a["local_pref"] == 270
        p = gobgp_route(g, nb, "evpn", "[type:multicast][rd:192.0.2.1:1][etag:0][ip:192.0.2.1]")
        assert gobgp_attrs(p)["route_targets"] == [RT_OUT]
        p = gobgp_route(
            g, nb, "evpn", "[type:Prefix][rd:192.0.2.1:1][etag:0][prefix:203.0.113.48/28]"
        )
        assert p["nlri"]["value"]["label"] == 500 and p["nlri"]["value"]["gateway"] == "0.0.0.0"
        assert gobgp_attrs(p)["route_targets"] == [RT_OUT]


def test_rtc_bgpvpn_to_gobgp(routes: Env) -> None:
    p = gobgp_route(routes.gi, A4, "rtc", f"65000:{RT_IN}")
    assert gobgp_attrs(p)["next_hop"] == A4


def test_gobgp_routes_reach_bgpvpn(routes: Env) -> None:
    bv = routes.bv
    r = bv_route(bv, "vpnv4", B4, prefix="203.0.113.128/28")
    assert r["rd"] == "65000:2" and r["labels"] == [2001] and r["next_hop"] == B4
    a = r["attributes"]
    assert a["med"] == 7 and a["local_pref"] == 170 and a["as_path"] == ""
    assert a["communities"] == ["65000:7"] and a["large_communities"] == ["65000:7:7"]
    assert a["extended_communities"] == [f"target:{RT_IN}"]
    r = bv_route(bv, "ipv6", B6, prefix="2001:db8:21::/64")
    a = r["attributes"]
    assert r["next_hop"] == B6 and a["local_pref"] == 150 and a["med"] == 3
    assert a["communities"] == ["65000:21"] and a["large_communities"] == ["65000:21:1"]
    r = bv_route(bv, "vpnv6", B6, prefix="2001:db8:20::/64")
    assert r["labels"] == [2002] and r["next_hop"] == B6 and r["attributes"]["local_pref"] == 180
    r = bv_route(bv, "evpn", B4, route_type=2, mac="02:00:00:00:0b:01")
    assert r["ip"] == "203.0.113.201" and r["labels"] == [200] and r["rd"] == "65000:2"
    assert set(r["attributes"]["extended_communities"]) == {f"target:{RT_IN}", "encap:vxlan"}
    r = bv_route(bv, "evpn", B4, route_type=3, originator=B4)
    assert r["next_hop"] == B4
    r = bv_route(bv, "evpn", B4, route_type=5, prefix="203.0.113.80/28")
    assert (
        r["labels"] == [600]
        and "router-mac:02:00:00:00:0b:00" in r["attributes"]["extended_communities"]
    )
    r = bv_route(bv, "rtc", B4, route_target=f"target:{RT_OUT}")
    assert r["origin_as"] == 65000
    # eBGP
    r = bv_route(bv, "ipv4", C4, prefix="203.0.113.144/28")
    a = r["attributes"]
    assert r["next_hop"] == C4 and a["as_path"] == "65001" and a["med"] == 9
    assert a["communities"] == ["65001:9"] and a["large_communities"] == ["65001:9:9"]
    assert "local_pref" not in a
    r = bv_route(bv, "ipv6", C6, prefix="2001:db8:22::/64")
    assert (
        r["next_hop"] == C6
        and r["attributes"]["as_path"] == "65001"
        and r["attributes"]["med"] == 11
    )
    r = bv_route(bv, "vpnv4", C4, prefix="203.0.113.160/28")
    assert r["labels"] == [3001] and r["attributes"]["as_path"] == "65001" and r["next_hop"] == C4
    r = bv_route(bv, "evpn", C4, route_type=2, mac="02:00:00:00:0c:01")
    assert r["labels"] == [300] and r["attributes"]["as_path"] == "65001"


def test_routes_learned_from_one_gobgp_reach_the_other(routes: Env) -> None:
    """iBGP-learned (gobgp-i) goes to the eBGP peer with our AS prepended, MED dropped."""
    p = gobgp_route(routes.ge, AC4, "vpnv4", "65000:2:203.0.113.128/28")
    a = gobgp_attrs(p)
    assert a["as_path"] == "65000" and a["next_hop"] == AC4 and "med" not in a
    assert a["communities"] == ["65000:7"] and a["route_targets"] == [RT_IN]
    # eBGP-learned goes to the iBGP peer (it asked for RT_IN? no: gobgp-i imports RT_OUT only)
    p = gobgp_route(routes.gi, A6, "ipv6", "2001:db8:22::/64")
    a = gobgp_attrs(p)
    assert a["as_path"] == "65001" and a["local_pref"] == 100


def test_rtc_holds_back_unrequested_vpn_routes(routes: Env) -> None:
    bv, gi, ge = routes.bv, routes.gi, routes.ge
    bv.announce("203.0.113.64/28", family="vpnv4", rd="65000:9", label=1009, rt="65000:999")
    bv.announce(
        family="evpn",
        route_type="mac-ip",
        rd="192.0.2.1:9",
        mac="02:00:00:00:0a:09",
        vni=109,
        rt="65000:999",
    )
    # the eBGP session has no rtc: the routes go there (and prove bgpvpn processed them)
    gobgp_route(ge, AC4, "vpnv4", "65000:9:203.0.113.64/28")
    gobgp_route(ge, AC4, "evpn", "[mac:02:00:00:00:0a:09]")
    time.sleep(1.0)
    assert gobgp_find(gi.adj_in(A4, "vpnv4"), "65000:9:203.0.113.64/28") is None
    assert gobgp_find(gi.adj_in(A4, "evpn"), "[mac:02:00:00:00:0a:09]") is None
    gi.cli("vrf", "add", "v9", "rd", "65000:99", "rt", "import", "65000:999", "export", "65000:999")
    bv_route(bv, "rtc", B4, route_target="target:65000:999")
    p = gobgp_route(gi, A4, "vpnv4", "65000:9:203.0.113.64/28")
    assert p["nlri"]["labels"] == [1009] and gobgp_attrs(p)["route_targets"] == ["65000:999"]
    gobgp_route(gi, A4, "evpn", "[mac:02:00:00:00:0a:09]")
    # and GoBGP holds back its route with an RT bgpvpn did not ask for, until it does
    gi.add(
        "vpnv4",
        "203.0.113.96/28",
        "label",
        "2009",
        "rd",
        "65000:8",
        "rt",
        "65000:888",
        "nexthop",
        B4,
    )
    time.sleep(1.5)
    assert not [r for r in bv.rib("vpnv4", B4) if r["prefix"] == "203.0.113.96/28"]
    bv.announce(family="rtc", route_target="65000:888")
    bv_route(bv, "vpnv4", B4, prefix="203.0.113.96/28")


def test_withdrawals_cross_both_ways(routes: Env) -> None:
    bv, gi, ge = routes.bv, routes.gi, routes.ge
    bv.withdraw("203.0.113.0/28")
    bv.withdraw("203.0.113.16/28", family="vpnv4", rd="65000:1")
    bv.withdraw("2001:db8:11::/64", family="vpnv6", rd="65000:1")
    bv.withdraw(**EVPN_MAC_IP)
    bv.withdraw(**evpn_multicast(A4))
    bv.withdraw(EVPN_PREFIX, **EVPN_PREFIX_KEY)
    gi.delete("vpnv4", "203.0.113.128/28", "label", "2001", "rd", "65000:2")
    gi.delete("ipv6", "2001:db8:21::/64")
    gi.delete(
        "evpn",
        "macadv",
        "02:00:00:00:0b:01",
        "203.0.113.201",
        "etag",
        "0",
        "label",
        "200",
        "rd",
        "65000:2",
    )
    ge.delete("ipv4", "203.0.113.144/28")

    for g, nb, fam, dest in (
        (ge, AC4, "ipv4", "203.0.113.0/28"),
        (gi, A4, "vpnv4", "65000:1:203.0.113.16/28"),
        (ge, AC4, "vpnv4", "65000:1:203.0.113.16/28"),
        (gi, A6, "vpnv6", "65000:1:2001:db8:11::/64"),
        (gi, A4, "evpn", "[mac:02:00:00:00:0a:01]"),
        (ge, AC4, "evpn", "[mac:02:00:00:00:0a:01]"),
        (gi, A4, "evpn", "[type:multicast][rd:192.0.2.1:1]"),
        (gi, A4, "evpn", "[type:Prefix][rd:192.0.2.1:1]"),
        (ge, AC4, "vpnv4", "65000:2:203.0.113.128/28"),
    ):
        wait_until(
            f"{fam} {dest} withdrawn at gobgp-{g.tag}",
            lambda g=g, nb=nb, fam=fam, dest=dest: gobgp_gone(g, nb, fam, dest),
            20,
        )
    for fam, peer, key, value in (
        ("vpnv4", B4, "prefix", "203.0.113.128/28"),
        ("ipv6", B6, "prefix", "2001:db8:21::/64"),
        ("evpn", B4, "mac", "02:00:00:00:0b:01"),
        ("ipv4", C4, "prefix", "203.0.113.144/28"),
    ):
        wait_until(
            f"{fam} {value} withdrawn at bgpvpn",
            lambda fam=fam, peer=peer, key=key, value=value: (
                not [r for r in bv.rib(fam, peer) if r.get(key) == value]
            ),
            20,
        )
    # what was not withdrawn stays
    assert bv_route(bv, "evpn", B4, route_type=3, originator=B4)
    assert gobgp_find(ge.adj_in(AC6, "ipv6"), "2001:db8:10::/64") is not None
    # withdrawing the RT membership: GoBGP withdraws what it sent for it
    bv.withdraw(family="rtc", route_target=RT_IN)
    wait_until(
        "RTC route withdrawn at gobgp-i", lambda: gobgp_gone(gi, A4, "rtc", f"65000:{RT_IN}"), 20
    )
    wait_until(
        "gobgp-i's RT_IN routes gone from bgpvpn",
        lambda: not [r for r in bv.rib("evpn", B4) if r["rd"] == "65000:2"],
        20,
        detail=lambda: bv.rib("evpn", B4),
    )
    assert bv_route(bv, "evpn", C4, route_type=2, mac="02:00:00:00:0c:01")
