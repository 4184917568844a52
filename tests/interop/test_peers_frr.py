"""bgpvpn against FRR 8.4 in network namespaces (FRR has no RTC: bgpvpn, configured with rtc,
must still send its VPN routes since the session did not negotiate it).

Topology: namespace A runs bgpvpn (AS 65000, 192.0.2.1); B runs FRR (AS 65000, iBGP, with a
VXLAN VNI 100 so zebra originates E-VPN type 2/3) and C another FRR (AS 65001, eBGP).
Sessions: iBGP 192.0.2.1-192.0.2.2 (ipv4, vpnv4, evpn; bgpvpn active), iBGP 2001:db8::1-::2
(ipv6, vpnv6; bgpvpn passive), eBGP 198.51.100.1-.2 (ipv4, vpnv4, evpn; bgpvpn passive) and
eBGP 2001:db8:1::1-::2 (ipv6, vpnv6; bgpvpn active).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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
    lab_env,
    two_neighbours,
    wait_established,
)
from harness import FRR, Bgpvpn, Lab, evpn_vni_setup, require, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.slow]

RT = "65000:100"


def frr_conf(
    asn: int, rid: str, peer4: str, peer6: str, peer_as: int, n: int, evpn_vni: bool
) -> str:
    vni = (
        f"  advertise-all-vni\n  vni 100\n   route-target import {RT}\n   route-target export {RT}\n  exit-vni\n"
        if evpn_vni
        else ""
    )
    return f"""frr defaults traditional
hostname frr-{n}
!
route-map SET-RT permit 10
 set extcommunity rt {RT}
exit
route-map SET-ATTRS permit 10
 set community {asn}:{n}0 {asn}:{n}1
 set large-community {asn}:{n}:1
 set metric {n}5
 set local-preference {n}50
exit
!
router bgp {asn}
 bgp router-id {rid}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor {peer4} remote-as {peer_as}
 neighbor {peer4} timers connect 1
 neighbor {peer4} timers 10 30
 neighbor {peer6} remote-as {peer_as}
 neighbor {peer6} timers connect 1
 neighbor {peer6} timers 10 30
 address-family ipv4 unicast
  network 203.0.113.{n}0/32 route-map SET-ATTRS
  network 203.0.113.{n}1/32
  neighbor {peer4} activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:{n}::/64 route-map SET-ATTRS
  neighbor {peer6} activate
 exit-address-family
 address-family ipv4 vpn
  network 203.0.113.{n}2/32 rd {asn}:{n} label {n}02 route-map SET-RT
  neighbor {peer4} activate
 exit-address-family
 address-family ipv6 vpn
  network 2001:db8:{n}:1::/64 rd {asn}:{n} label {n}03 route-map SET-RT
  neighbor {peer6} activate
 exit-address-family
 address-family l2vpn evpn
{vni}  network 203.0.113.{n}4/32 rd {asn}:{n}5 ethtag 0 label {n}05 esi 00:00:00:00:00:00:00:00:00:00 gwip 0.0.0.0 routermac 02:00:00:00:0{n}:00
  neighbor {peer4} activate
 exit-address-family
exit
!
end
"""


@dataclass
class Env:
    lab: Lab
    bv: Bgpvpn
    fi: FRR
    fe: FRR


def build(lab: Lab) -> Env:
    vpn = ["rtc"]  # configured, not negotiated: FRR has no RTC
    bv, b, c = two_neighbours(
        lab,
        ["ipv4", "vpnv4", "evpn", *vpn],
        ["ipv6", "vpnv6", *vpn],
        ["ipv4", "vpnv4", "evpn", *vpn],
        ["ipv6", "vpnv6", *vpn],
    )
    evpn_vni_setup(b, B4, "02:00:00:00:02:01", "203.0.113.202", "203.0.113.210/28")
    fi = FRR(lab, b, "i", frr_conf(65000, B4, A4, A6, 65000, 2, True))
    fe = FRR(lab, c, "e", frr_conf(65001, C4, AC4, AC6, 65000, 3, False))
    return Env(lab, bv, fi, fe)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    require("/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh", "bridge")
    with lab_env("frr") as lab:
        e = build(lab)
        wait_established(e.bv, (B4, B6, C4, C6), 60)
        yield e


def test_sessions_established_without_rtc(env: Env) -> None:
    peers = env.bv.peers()
    assert set(peers[B4]["families"]) == {"ipv4", "vpnv4", "evpn"}
    assert set(peers[C4]["families"]) == {"ipv4", "vpnv4", "evpn"}
    assert set(peers[B6]["families"]) == {"ipv6", "vpnv6"}
    assert set(peers[C6]["families"]) == {"ipv6", "vpnv6"}
    assert env.fi.established(A4) and env.fe.established(AC6)


# ------------------------------------------------------------------------------- routes


def frr_path(f: FRR, cmd: str, *keys: str) -> dict[str, Any] | None:
    """The first path FRR shows for a route (``keys`` lead to the route's dict)."""
    try:
        data: Any = f.json(cmd)
    except ValueError:
        return None
    for k in keys:
        if not isinstance(data, dict) or k not in data:
            return None
        data = data[k]
    paths = data.get("paths") if isinstance(data, dict) else None
    if not paths:
        return None
    p = paths[0]
    return p[0] if isinstance(p, list) else p


def wait_frr(f: FRR, cmd: str, *keys: str) -> dict[str, Any]:
    return wait_until(f"{cmd} at FRR {f.tag}", lambda: frr_path(f, cmd, *keys), 20)


def frr_facts(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "as_path": "" if p["aspath"]["string"] == "Local" else p["aspath"]["string"],
        "next_hop": p["nexthops"][0]["ip"],
        "med": p.get("metric"),
        "local_pref": p.get("locPrf"),
        "communities": p.get("community", {}).get("list", []),
        "large_communities": p.get("largeCommunity", {}).get("list", []),
        "ext": p.get("extendedCommunity", {}).get("string", "").split(),
        "label": p.get("remoteLabel"),
        "vni": p.get("vni"),
        "from": p["peer"]["peerId"],
    }


MAC2 = "[2]:[0]:[48]:[02:00:00:00:0a:01]:[32]:[203.0.113.33]"
MCAST = "[3]:[0]:[32]:[192.0.2.1]"
PFX5 = "[5]:[0]:[28]:[203.0.113.48]"


@pytest.fixture(scope="module")
def routes(env: Env) -> Env:
    bv = env.bv
    bv.announce(
        "203.0.113.100/32",
        med=10,
        local_pref=300,
        community="65000:1",
        large_community="65000:1:1",
    )
    bv.announce(
        "2001:db8:10::/64",
        family="ipv6",
        local_pref=310,
        med=20,
        community="65000:2",
        large_community="65000:2:2",
    )
    bv.announce(
        "203.0.113.101/32",
        family="vpnv4",
        rd="65000:1",
        label=1001,
        rt=RT,
        local_pref=250,
        med=5,
        community="65000:3",
    )
    bv.announce("2001:db8:11::/64", family="vpnv6", rd="65000:1", label=1002, rt=RT, local_pref=260)
    announce_evpn_routes(bv, RT, A4)
    return env


def test_ip_bgpvpn_to_frr(routes: Env) -> None:
    fi, fe = routes.fi, routes.fe
    a = frr_facts(wait_frr(fi, "show bgp ipv4 unicast 203.0.113.100/32 json"))
    assert a["next_hop"] == A4 and a["as_path"] == "" and a["med"] == 10 and a["local_pref"] == 300
    assert a["communities"] == ["65000:1"] and a["large_communities"] == ["65000:1:1"]
    a = frr_facts(wait_frr(fe, "show bgp ipv4 unicast 203.0.113.100/32 json"))
    assert a["next_hop"] == AC4 and a["as_path"] == "65000" and a["med"] == 10
    assert a["communities"] == ["65000:1"] and a["large_communities"] == ["65000:1:1"]
    a = frr_facts(wait_frr(fi, "show bgp ipv6 unicast 2001:db8:10::/64 json"))
    assert a["next_hop"] == A6 and a["local_pref"] == 310 and a["med"] == 20
    assert a["communities"] == ["65000:2"] and a["large_communities"] == ["65000:2:2"]
    a = frr_facts(wait_frr(fe, "show bgp ipv6 unicast 2001:db8:10::/64 json"))
    assert a["next_hop"] == AC6 and a["as_path"] == "65000"


def test_vpn_bgpvpn_to_frr_without_rtc(routes: Env) -> None:
    for f, nh, asp in ((routes.fi, A4, ""), (routes.fe, AC4, "65000")):
        a = frr_facts(wait_frr(f, "show bgp ipv4 vpn rd 65000:1 203.0.113.101/32 json", "65000:1"))
        assert a["label"] == 1001 and a["next_hop"] == nh and a["as_path"] == asp
        assert a["ext"] == [f"RT:{RT}"] and a["communities"] == ["65000:3"]
        assert a["local_pref"] == (250 if f is routes.fi else None)
    for f, nh in ((routes.fi, A6), (routes.fe, AC6)):
        a = frr_facts(wait_frr(f, "show bgp ipv6 vpn rd 65000:1 2001:db8:11::/64 json", "65000:1"))
        assert a["label"] == 1002 and a["next_hop"] == nh and a["ext"] == [f"RT:{RT}"]


def test_evpn_bgpvpn_to_frr(routes: Env) -> None:
    for f, nh in ((routes.fi, A4), (routes.fe, AC4)):
        cmd = "show bgp l2vpn evpn route rd 192.0.2.1:1 json"
        a = frr_facts(wait_frr(f, cmd, "192.0.2.1:1", MAC2))
        assert a["vni"] == "100" and a["next_hop"] == nh and set(a["ext"]) == {f"RT:{RT}", "ET:8"}
        a = frr_facts(wait_frr(f, cmd, "192.0.2.1:1", MCAST))
        assert a["next_hop"] == nh and f"RT:{RT}" in a["ext"]
        a = frr_facts(wait_frr(f, cmd, "192.0.2.1:1", PFX5))
        assert a["next_hop"] == nh and a["vni"] == "500"


def test_frr_routes_reach_bgpvpn(routes: Env) -> None:
    bv = routes.bv
    r = bv_route(bv, "ipv4", B4, prefix="203.0.113.20/32")
    a = r["attributes"]
    assert r["next_hop"] == B4 and a["med"] == 25 and a["local_pref"] == 250 and a["as_path"] == ""
    assert a["communities"] == ["65000:20", "65000:21"] and a["large_communities"] == ["65000:2:1"]
    r = bv_route(bv, "ipv6", B6, prefix="2001:db8:2::/64")
    assert r["next_hop"].split(",")[0] == B6 and r["attributes"]["local_pref"] == 250
    r = bv_route(bv, "vpnv4", B4, prefix="203.0.113.22/32")
    assert r["rd"] == "65000:2" and r["labels"] == [202] and r["next_hop"] == B4
    assert r["attributes"]["extended_communities"] == [f"target:{RT}"]
    r = bv_route(bv, "vpnv6", B6, prefix="2001:db8:2:1::/64")
    assert r["labels"] == [203] and r["next_hop"].split(",")[0] == B6
    r = bv_route(bv, "evpn", B4, route_type=2, mac="02:00:00:00:02:01", ip="203.0.113.202")
    assert r["labels"] == [100] and r["next_hop"] == B4
    assert set(r["attributes"]["extended_communities"]) == {"encap:vxlan", f"target:{RT}"}
    r = bv_route(bv, "evpn", B4, route_type=3, originator=B4)
    assert r["attributes"]["pmsi_tunnel"]["label"] == 100
    r = bv_route(bv, "evpn", B4, route_type=5, prefix="203.0.113.24/32")
    assert r["labels"] == [205 << 4 | 1]  # quirk F5: the label as an MPLS label
    assert r["attributes"]["extended_communities"] == ["router-mac:02:00:00:00:02:00"]
    # eBGP
    r = bv_route(bv, "ipv4", C4, prefix="203.0.113.30/32")
    a = r["attributes"]
    assert (
        r["next_hop"] == C4 and a["as_path"] == "65001" and a["med"] == 35 and "local_pref" not in a
    )
    assert a["communities"] == ["65001:30", "65001:31"] and a["large_communities"] == ["65001:3:1"]
    r = bv_route(bv, "ipv6", C6, prefix="2001:db8:3::/64")
    assert r["attributes"]["as_path"] == "65001"
    r = bv_route(bv, "vpnv4", C4, prefix="203.0.113.32/32")
    assert r["labels"] == [302] and r["attributes"]["as_path"] == "65001"
    r = bv_route(bv, "vpnv6", C6, prefix="2001:db8:3:1::/64")
    assert r["labels"] == [303]
    r = bv_route(bv, "evpn", C4, route_type=5, prefix="203.0.113.34/32")
    assert r["attributes"]["as_path"] == "65001"


def test_ibgp_gets_only_the_global_ipv6_next_hop(routes: Env) -> None:
    """The eBGP IPv6 route carries FRR's link-local next hop too; it must not reach FRR-i."""
    r = bv_route(routes.bv, "ipv6", C6, prefix="2001:db8:3::/64")
    assert "," in r["next_hop"]  # global + link-local from FRR-e
    p = wait_frr(routes.fi, "show bgp ipv6 unicast 2001:db8:3::/64 json")
    assert [n["ip"] for n in p["nexthops"]] == [C6]


def test_withdrawals_cross_both_ways(routes: Env) -> None:
    bv, fi, fe = routes.bv, routes.fi, routes.fe
    bv.withdraw("203.0.113.100/32")
    bv.withdraw("203.0.113.101/32", family="vpnv4", rd="65000:1")
    bv.withdraw("2001:db8:11::/64", family="vpnv6", rd="65000:1")
    bv.withdraw(**EVPN_MAC_IP)
    bv.withdraw(EVPN_PREFIX, **EVPN_PREFIX_KEY)
    fi.configure(
        "router bgp 65000",
        "address-family ipv4 unicast",
        "no network 203.0.113.20/32 route-map SET-ATTRS",
        "exit-address-family",
        "address-family ipv4 vpn",
        "no network 203.0.113.22/32 rd 65000:2 label 202",
    )
    fe.configure(
        "router bgp 65001",
        "address-family ipv6 unicast",
        "no network 2001:db8:3::/64 route-map SET-ATTRS",
    )
    for f in (fi, fe):
        for cmd, keys in (
            ("show bgp ipv4 unicast 203.0.113.100/32 json", ()),
            ("show bgp ipv4 vpn rd 65000:1 203.0.113.101/32 json", ("65000:1",)),
            ("show bgp l2vpn evpn route rd 192.0.2.1:1 json", ("192.0.2.1:1", MAC2)),
            ("show bgp l2vpn evpn route rd 192.0.2.1:1 json", ("192.0.2.1:1", PFX5)),
        ):
            wait_until(
                f"{cmd} {keys} withdrawn at FRR {f.tag}",
                lambda f=f, cmd=cmd, keys=keys: frr_path(f, cmd, *keys) is None,
                20,
            )
    wait_until(
        "vpnv6 withdrawn at FRR i",
        lambda: (
            frr_path(fi, "show bgp ipv6 vpn rd 65000:1 2001:db8:11::/64 json", "65000:1") is None
        ),
        20,
    )
    for fam, peer, prefix in (
        ("ipv4", B4, "203.0.113.20/32"),
        ("vpnv4", B4, "203.0.113.22/32"),
        ("ipv6", C6, "2001:db8:3::/64"),
    ):
        wait_until(
            f"{fam} {prefix} withdrawn at bgpvpn",
            lambda fam=fam, peer=peer, prefix=prefix: not bv.rib(fam, peer, prefix=prefix),
            20,
        )
    # the type-3 route stays, and so does what FRR did not withdraw
    assert frr_path(fi, "show bgp l2vpn evpn route rd 192.0.2.1:1 json", "192.0.2.1:1", MCAST)
    assert bv.rib("ipv4", B4, prefix="203.0.113.21/32")
