"""Two bgpvpn VPN hosts through a route reflector, end to end (issue 4 section 6).

Hosts A and B are ``bgpvpn daemon``s in their own namespaces, with the ``dummy`` E-VPN and IP
VPN drivers (what they record is what a real data plane would be given), ``[dataplane] vtep``
their link address and an intent store in the lab directory. They peer only with R, a route
reflector, over iBGP (vpnv4, evpn, rtc). R is, per parameter:

* ``bgpvpn``: a third bgpvpn daemon, both hosts ``rr_client`` peers, ``cluster_id`` set;
* ``gobgp``: gobgpd, both hosts route-reflector clients for l2vpn-evpn, l3vpn-ipv4-unicast, rtc;
* ``frr``: FRR bgpd, route-reflector-client for ``l2vpn evpn`` and ``ipv4 vpn`` (FRR has no
  RTC: the hosts offer it, it is not negotiated, and routes flow without it).

Ports are attached on A with the ``bgpvpn attach`` CLI (bagpipe-rest-attach's options) and on
B through ``POST /v1/attach``; what B imported is read from ``GET /v1/instances`` (the
instance's imported routes and its dummy data-plane state) and from its Adj-RIB-In
(``GET /v1/rib?table=in``).

Address plan: A 192.0.2.9 (R 192.0.2.10), B 192.0.2.5 (R 192.0.2.6); router id = VTEP = the
host's address; R's router id and cluster id 192.0.2.254. A's router id is the *higher* one on
purpose: the RT-membership route of the host with the lowest router id wins at R, and R does
not send a best path back to where it came from; ``test_routes_flow_both_ways`` checks that
B's routes still reach A (a bgpvpn reflector advertises the default membership to its
clients, RFC4684 3.3).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from harness import (
    FRR,
    GoBGP,
    Lab,
    VpnHost,
    bgpvpn_host_config,
    gobgp_config,
    gobgp_neighbor,
    require,
    wait_until,
)

pytestmark = [pytest.mark.interop, pytest.mark.slow]

ASN = 64512
A, RA = "192.0.2.9", "192.0.2.10"
B, RB = "192.0.2.5", "192.0.2.6"
RID = "192.0.2.254"
FAMILIES = ["vpnv4", "evpn", "rtc"]
HOLD = 9
MAC_A, MAC_B = "52:54:00:00:0a:01", "52:54:00:00:0b:01"
IP_A, IP_B = "198.51.100.10", "198.51.100.20"
RT_EV, RT_IP, RT_OTHER = "64512:100", "64512:200", "64512:300"
VNI_A, VNI_B = 5010, 5020
WAIT = 30


@dataclass
class Env:
    kind: str
    lab: Lab
    a: VpnHost
    b: VpnHost
    rr: Any

    @property
    def rtc(self) -> bool:
        return self.kind != "frr"


def _frr_rr_conf() -> str:
    lines = [
        "hostname rr",
        "router bgp 64512",
        f" bgp router-id {RID}",
        f" bgp cluster-id {RID}",
        " no bgp default ipv4-unicast",
        " no bgp network import-check",
    ]
    for h in (A, B):
        lines += [
            f" neighbor {h} remote-as {ASN}",
            f" neighbor {h} timers connect 1",
            f" neighbor {h} timers 3 {HOLD}",
        ]
    for af in ("ipv4 vpn", "l2vpn evpn"):
        lines.append(f" address-family {af}")
        for h in (A, B):
            lines += [f"  neighbor {h} activate", f"  neighbor {h} route-reflector-client"]
        lines.append(" exit-address-family")
    return "\n".join(lines) + "\n"


def build_env(kind: str, name: str, store: bool = True) -> Env:
    """Namespaces A, B, R, the reflector of ``kind`` in R and the two hosts (established)."""
    lab = Lab(name)
    try:
        na, nb, nr = lab.ns("A"), lab.ns("B"), lab.ns("R")
        lab.link(na, "vAR", [f"{A}/30"], nr, "vRA", [f"{RA}/30"])
        lab.link(nb, "vBR", [f"{B}/30"], nr, "vRB", [f"{RB}/30"])
        rr: Any
        if kind == "bgpvpn":
            peers = [
                {
                    "address": h,
                    "asn": ASN,
                    "families": FAMILIES,
                    "passive": True,
                    "rr_client": True,
                    "hold_time": HOLD,
                }
                for h in (A, B)
            ]
            rr = VpnHost(
                lab,
                nr,
                "R",
                bgpvpn_host_config(ASN, RID, peers, store="", extra=f'cluster_id = "{RID}"'),
            )
        elif kind == "gobgp":
            fams = ["l2vpn-evpn", "l3vpn-ipv4-unicast", "rtc"]
            rr = GoBGP(
                lab,
                nr,
                "rr",
                gobgp_config(
                    ASN,
                    RID,
                    [gobgp_neighbor(h, ASN, fams, passive=True, rr_client=RID) for h in (A, B)],
                    [RA, RB],
                ),
            )
        else:
            rr = FRR(lab, nr, "rr", _frr_rr_conf())
        hosts = []
        for ns, tag, me, rr_addr in ((na, "A", A, RA), (nb, "B", B, RB)):
            peer = {"address": rr_addr, "asn": ASN, "families": FAMILIES, "hold_time": HOLD}
            path = str(lab.tmp / f"{tag}.db") if store else ""
            hosts.append(
                VpnHost(lab, ns, tag, bgpvpn_host_config(ASN, me, [peer], store=path, vtep=me))
            )
        a, b = hosts
        wait_until(
            "A and B established with R",
            lambda: a.established(RA) and b.established(RB),
            60,
            detail=lambda: (a.peers(), b.peers()),
        )
        return Env(kind, lab, a, b, rr)
    except BaseException:
        lab.close()
        raise


@pytest.fixture(scope="module", params=["bgpvpn", "gobgp", "frr"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    kind = request.param
    if kind == "gobgp":
        require("gobgpd", "gobgp")
    elif kind == "frr":
        require("/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh")
    else:
        require()
    e = build_env(kind, f"vpnhosts-{kind}")
    try:
        yield e
    finally:
        e.lab.close()


# ------------------------------------------------------------------------------- helpers


def attach_cli(h: VpnHost, *args: str) -> None:
    res = h.cli("attach", *args)
    assert res.returncode == 0, res.stderr + res.stdout


def detach_cli(h: VpnHost, iid: str, port: str) -> None:
    res = h.cli("detach", "--vpn-instance-id", iid, "--port", port)
    assert res.returncode == 0, res.stderr + res.stdout


def attach_api(
    h: VpnHost, iid: str, itype: str, port: str, mac: str, ip: str, *rts: str, **more: Any
) -> dict[str, Any]:
    body = {
        "instance_id": iid,
        "instance_type": itype,
        "port": port,
        "mac": mac,
        "ips": [ip],
        "route_targets": list(rts),
        **more,
    }
    return dict(h.api("POST", "/v1/attach", body))


def detach_api(h: VpnHost, iid: str, port: str) -> None:
    h.api("POST", "/v1/detach", {"instance_id": iid, "port": port})


def imported(h: VpnHost, iid: str) -> dict[str, list[dict[str, Any]]]:
    """destination ("mac" text, prefix, "flood") -> its imported paths."""
    inst = h.instance(iid)
    if inst is None:
        return {}
    return {d["destination"]: d["paths"] for d in inst["imported_routes"]}


def programmed(h: VpnHost, iid: str) -> dict[str, Any]:
    inst = h.instance(iid)
    assert inst is not None, f"no instance {iid} on {h.tag}"
    assert inst["dataplane"]["driver"] == "dummy"
    return dict(inst["dataplane"]["programmed"] or {})


def paths_from(paths: list[dict[str, Any]], vtep: str) -> list[dict[str, Any]]:
    return [p for p in paths if p["next_hop"] == vtep]


def rib_in(h: VpnHost, rr_addr: str, family: str, rt: str | None = None) -> list[dict[str, Any]]:
    routes = h.rib_in(rr_addr, family)
    if rt is None:
        return routes
    return [r for r in routes if f"target:{rt}" in r["attributes"].get("extended_communities", [])]


def b_view(env: Env, iid: str) -> Any:
    return lambda: (env.b.instance(iid), env.b.rib_in(RB, "evpn"), env.b.rib_in(RB, "vpnv4"))


def check_reflected(env: Env, route: dict[str, Any], originator: str) -> None:
    """What R did to a route it reflected (RFC4456): ORIGINATOR_ID and CLUSTER_LIST."""
    attrs = route["attributes"]
    assert attrs.get("originator_id") == originator, route
    assert attrs.get("cluster_list") == [RID], route
    assert route["next_hop"] == originator, route  # a reflector keeps the next hop


# ---------------------------------------------------------------------------------- tests


def test_rtc_negotiated_with_the_reflector(env: Env) -> None:
    for h, rr_addr in ((env.a, RA), (env.b, RB)):
        fams = set(h.peers()[rr_addr]["families"])
        assert {"vpnv4", "evpn"} <= fams
        # FRR has no RTC: offered by the host, not negotiated (the session still comes up)
        assert ("rtc" in fams) is env.rtc, fams


def test_evpn_attach_imported_then_detach_withdrawn(env: Env) -> None:
    a, b = env.a, env.b
    attach_cli(
        a,
        "--vpn-instance-id",
        "ev1",
        "--network-type",
        "evpn",
        "--port",
        "tapA",
        "--mac",
        MAC_A,
        "--ip",
        f"{IP_A}/24",
        "--rt",
        RT_EV,
        "--vni",
        str(VNI_A),
    )
    attach_api(b, "ev1", "evpn", "tapB", MAC_B, f"{IP_B}/24", RT_EV, vni=VNI_B)
    inst_a = a.instance("ev1")
    assert inst_a is not None and inst_a["vni"] == VNI_A and inst_a["rd"].startswith(f"{A}:")

    # B's instance imports A's MAC (MAC-only and MAC/IP routes) with A's VTEP and VNI ...
    macs = wait_until(
        "A's MAC imported in B's ev1",
        lambda: paths_from(imported(b, "ev1").get(MAC_A, []), A),
        WAIT,
        0.2,
        detail=b_view(env, "ev1"),
    )
    assert {p["ip"] for p in macs} == {None, IP_A}, macs
    for p in macs:
        assert p["vni"] == VNI_A and p["rd"] == inst_a["rd"] and p["mac"] == MAC_A, p
        assert p["encapsulation"] == "vxlan" and p["peer"] == RB, p
    flood = wait_until(
        "A's VTEP in B's ev1 flood list (type-3)",
        lambda: paths_from(imported(b, "ev1").get("flood", []), A),
        WAIT,
        0.2,
        detail=b_view(env, "ev1"),
    )
    assert flood[0]["vni"] == VNI_A, flood
    # ... and its data plane: remote MAC -> A's VTEP with A's VNI, A's VTEP in the flood list
    dp = wait_until(
        "A's MAC in B's dummy data plane",
        lambda: (lambda d: d if A in d["flood"] and d["remote_macs"] else None)(
            programmed(b, "ev1")
        ),
        WAIT,
        0.2,
        detail=b_view(env, "ev1"),
    )
    assert {"mac": MAC_A, "ip": IP_A, "vtep": A, "vni": VNI_A} in dp["remote_macs"], dp
    assert all(m["vtep"] == A and m["vni"] == VNI_A for m in dp["remote_macs"]), dp
    assert dp["flood"] == [A] and dp["config"]["vni"] == VNI_B and dp["config"]["vtep"] == B, dp
    assert [p["name"] for p in dp["ports"]] == ["tapB"], dp
    # the routes as B received them from R
    t2 = [r for r in rib_in(b, RB, "evpn", RT_EV) if r.get("mac") == MAC_A]
    assert {r.get("ip") for r in t2} == {None, IP_A}, t2
    for r in t2:
        assert r["route_type"] == 2 and r["labels"] == [VNI_A] and r["rd"] == inst_a["rd"], r
        assert "encap:vxlan" in r["attributes"]["extended_communities"], r
        check_reflected(env, r, A)
    # and A imported B's MAC too? (not asserted here: see test_routes_flow_both_ways)

    detach_cli(a, "ev1", "tapA")
    assert a.instance("ev1") is None  # the last port took the instance with it
    wait_until(
        "A's MAC and VTEP withdrawn from B's ev1 and its data plane",
        lambda: (
            MAC_A not in imported(b, "ev1")
            and not paths_from(imported(b, "ev1").get("flood", []), A)
            and (lambda d: not d["remote_macs"] and not d["flood"])(programmed(b, "ev1"))
        ),
        WAIT,
        0.2,
        detail=b_view(env, "ev1"),
    )
    assert not [r for r in rib_in(b, RB, "evpn") if r.get("rd") == inst_a["rd"]]
    detach_api(b, "ev1", "tapB")


def test_ipvpn_attach_imported_then_detach_withdrawn(env: Env) -> None:
    a, b = env.a, env.b
    attach_cli(
        a,
        "--vpn-instance-id",
        "ip1",
        "--network-type",
        "ipvpn",
        "--port",
        "tapA2",
        "--mac",
        "52:54:00:00:0a:02",
        "--ip",
        "203.0.113.10/24",
        "--rt",
        RT_IP,
    )
    attach_api(b, "ip1", "ipvpn", "tapB2", "52:54:00:00:0b:02", "203.0.113.20/24", RT_IP)
    inst_a = a.instance("ip1")
    assert inst_a is not None
    label = inst_a["vni"]
    assert [r["route"] for r in inst_a["advertised_routes"]] == [
        f"{inst_a['rd']}:203.0.113.10/32 label {label}"
    ]
    paths = wait_until(
        "A's host route imported in B's VRF",
        lambda: paths_from(imported(b, "ip1").get("203.0.113.10/32", []), A),
        WAIT,
        0.2,
        detail=b_view(env, "ip1"),
    )
    assert len(paths) == 1 and paths[0]["vni"] == label and paths[0]["rd"] == inst_a["rd"]
    assert paths[0]["chosen"] is True, paths
    routes = wait_until(
        "A's host route in B's dummy data plane",
        lambda: [r for r in programmed(b, "ip1")["routes"] if r["prefix"] == "203.0.113.10/32"],
        WAIT,
        0.2,
        detail=b_view(env, "ip1"),
    )
    hops = routes[0]["next_hops"]
    assert len(hops) == 1 and hops[0]["vtep"] == A and hops[0]["vni"] == label, hops
    assert hops[0]["local"] is False, hops
    vpn = [r for r in rib_in(b, RB, "vpnv4") if r["prefix"] == "203.0.113.10/32"]
    assert len(vpn) == 1 and vpn[0]["rd"] == inst_a["rd"] and vpn[0]["labels"] == [label], vpn
    assert f"target:{RT_IP}" in vpn[0]["attributes"]["extended_communities"], vpn
    check_reflected(env, vpn[0], A)

    detach_cli(a, "ip1", "tapA2")
    wait_until(
        "A's host route withdrawn from B's VRF and data plane",
        lambda: (
            "203.0.113.10/32" not in imported(b, "ip1")
            and not [r for r in programmed(b, "ip1")["routes"] if r["prefix"].startswith("203.")]
        ),
        WAIT,
        0.2,
        detail=b_view(env, "ip1"),
    )
    assert not [r for r in rib_in(b, RB, "vpnv4") if r["rd"] == inst_a["rd"]]
    detach_api(b, "ip1", "tapB2")


def test_import_rt_change_moves_routes_out_and_back(env: Env) -> None:
    a, b = env.a, env.b
    attach_api(a, "ev2", "evpn", "tapA3", "52:54:00:00:0a:03", "198.51.100.30/24", "64512:110")
    attach_api(b, "ev2", "evpn", "tapB3", "52:54:00:00:0b:03", "198.51.100.40/24", "64512:110")

    def has_a() -> bool:
        dp = programmed(b, "ev2")
        return bool(
            paths_from(imported(b, "ev2").get("52:54:00:00:0a:03", []), A)
            and any(m["vtep"] == A for m in dp["remote_macs"])
            and A in dp["flood"]
        )

    def has_none_of_a() -> bool:
        dp = programmed(b, "ev2")
        return not (
            "52:54:00:00:0a:03" in imported(b, "ev2")
            or any(m["vtep"] == A for m in dp["remote_macs"])
            or A in dp["flood"]
        )

    wait_until("A's ev2 routes at B", has_a, WAIT, 0.2, detail=b_view(env, "ev2"))
    # B imports another RT only: A's routes leave its instance and data plane
    res = b.api("PATCH", "/v1/instances/ev2", {"import_rts": ["64512:111"]})
    assert res["instance"]["import_rts"] == ["64512:111"], res
    wait_until("A's ev2 routes out of B", has_none_of_a, WAIT, 0.2, detail=b_view(env, "ev2"))
    if env.rtc:  # and B no longer asks for 64512:110: R stops sending them to B at all
        wait_until(
            "A's 64512:110 routes withdrawn from B's Adj-RIB-In (RTC)",
            lambda: not rib_in(b, RB, "evpn", "64512:110"),
            WAIT,
            0.2,
            detail=lambda: rib_in(b, RB, "evpn"),
        )
    # and back
    b.api("PATCH", "/v1/instances/ev2", {"import_rts": ["64512:111", "64512:110"]})
    wait_until("A's ev2 routes back at B", has_a, WAIT, 0.2, detail=b_view(env, "ev2"))
    detach_api(a, "ev2", "tapA3")
    detach_api(b, "ev2", "tapB3")


def test_rtc_host_without_the_rt_receives_none_of_its_routes(env: Env) -> None:
    """A exports 64512:300, which no instance of B imports: with RTC (bgpvpn and GoBGP
    reflectors) R sends B none of those routes; once B imports it, they come, and go again when
    B stops. Without RTC (FRR) they reach B's Adj-RIB-In but not its instances."""
    a, b = env.a, env.b
    attach_api(a, "ev3", "evpn", "tapA4", "52:54:00:00:0a:04", "198.51.100.50/24", RT_OTHER)
    # a marker in an RT B does import, attached after: when it is at B, so would be the other
    attach_api(b, "evm", "evpn", "tapB5", "52:54:00:00:0b:05", "198.51.100.61/24", "64512:120")
    attach_api(a, "evm", "evpn", "tapA5", "52:54:00:00:0a:05", "198.51.100.60/24", "64512:120")
    wait_until(
        "A's marker route at B",
        lambda: paths_from(imported(b, "evm").get("52:54:00:00:0a:05", []), A),
        WAIT,
        0.2,
        detail=b_view(env, "evm"),
    )
    time.sleep(1.0)  # margin for anything still in flight
    held = rib_in(b, RB, "evpn", RT_OTHER)
    if env.rtc:
        assert held == [], held
        assert not any(r.get("mac") == "52:54:00:00:0a:04" for r in rib_in(b, RB, "evpn"))
    else:
        assert {r.get("mac") for r in held} >= {"52:54:00:00:0a:04"}, held
    assert all("52:54:00:00:0a:04" not in imported(b, iid) for iid in ("evm",))

    # B creates an instance importing 64512:300: A's routes arrive (RTC held them back)
    b.api(
        "POST",
        "/v1/instances",
        {"instance_id": "ev3", "instance_type": "evpn", "import_rts": [RT_OTHER]},
    )
    wait_until(
        "A's 64512:300 MAC in B's new instance",
        lambda: paths_from(imported(b, "ev3").get("52:54:00:00:0a:04", []), A),
        WAIT,
        0.2,
        detail=b_view(env, "ev3"),
    )
    assert {r.get("mac") for r in rib_in(b, RB, "evpn", RT_OTHER)} >= {"52:54:00:00:0a:04"}
    # B deletes it: with RTC the routes leave B's Adj-RIB-In again
    b.api("DELETE", "/v1/instances/ev3")
    if env.rtc:
        wait_until(
            "A's 64512:300 routes withdrawn from B's Adj-RIB-In (RTC)",
            lambda: not rib_in(b, RB, "evpn", RT_OTHER),
            WAIT,
            0.2,
            detail=lambda: rib_in(b, RB, "evpn"),
        )
    for h, iid, port in ((a, "ev3", "tapA4"), (a, "evm", "tapA5"), (b, "evm", "tapB5")):
        detach_api(h, iid, port)


def test_routes_flow_both_ways(env: Env) -> None:
    """The same RT on both hosts: B's (lower router id) routes reach A too (with the bgpvpn
    reflector, through the default RT membership it advertises to its clients)."""
    a, b = env.a, env.b
    attach_api(a, "ev4", "evpn", "tapA6", "52:54:00:00:0a:06", "198.51.100.70/24", "64512:130")
    attach_api(b, "ev4", "evpn", "tapB6", "52:54:00:00:0b:06", "198.51.100.80/24", "64512:130")
    try:
        wait_until(
            "A's ev4 MAC at B",
            lambda: paths_from(imported(b, "ev4").get("52:54:00:00:0a:06", []), A),
            WAIT,
            0.2,
            detail=b_view(env, "ev4"),
        )
        wait_until(
            "B's ev4 MAC at A",
            lambda: paths_from(imported(a, "ev4").get("52:54:00:00:0b:06", []), B),
            15,
            0.2,
            detail=lambda: (a.instance("ev4"), a.rib_in(RA, "rtc"), a.rib_in(RA, "evpn")),
        )
    finally:
        detach_api(a, "ev4", "tapA6")
        detach_api(b, "ev4", "tapB6")
