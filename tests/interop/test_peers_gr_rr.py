"""bgpvpn against GoBGP 3.10: graceful restart (bgpvpn receiving), bgpvpn as route reflector,
and bgpvpn hosts as RTC clients of a GoBGP route reflector.

Three labs, one per scenario (each module-scoped, built when first used):

* ``gr``: A bgpvpn (AS 65000) <- iBGP ipv4+vpnv4 -> B gobgp-gr (GR, restart time 30 s);
  A <- eBGP ipv4+vpnv4 -> C gobgp-obs (AS 65001), which watches what bgpvpn advertises.
* ``rr``: R bgpvpn (AS 65010, cluster id 192.0.2.254) with two iBGP RR clients, C1 gobgp-c1
  (192.0.2.2) and C2 gobgp-c2 (198.51.100.2), ipv4+vpnv4.
* ``rtc``: R gobgp-rr (AS 65020) with two bgpvpn hosts HA (192.0.2.1) and HB (198.51.100.1)
  as RR clients, vpnv4+rtc; R2 gobgp-rr2 (cluster 203.0.113.242) with the same two clients
  over other links, for redundancy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from checks import bgpvpn_peer, lab_env, wait_established
from harness import (
    Bgpvpn,
    GoBGP,
    Lab,
    bgpvpn_config,
    gobgp_attrs,
    gobgp_config,
    gobgp_find,
    gobgp_neighbor,
    require,
    wait_until,
)

pytestmark = [pytest.mark.interop, pytest.mark.slow]

A4, B4 = "192.0.2.1", "192.0.2.2"
AC4, C4 = "198.51.100.1", "198.51.100.2"
HOLD = 9
GR_TIME = 60  # long enough that a reconnect back-off under load never looks like expiry


def _bv_find(bv: Bgpvpn, family: str, peer: str | None, prefix: str) -> dict[str, Any] | None:
    for r in bv.rib(family, peer):
        if r.get("prefix") == prefix:
            return r
    return None


def _gobgp_has(g: GoBGP, neighbor: str, family: str, dest: str) -> bool:
    return gobgp_find(g.adj_in(neighbor, family), dest) is not None


# ===================================================================== graceful restart


@dataclass
class GrEnv:
    lab: Lab
    bv: Bgpvpn
    gr: GoBGP
    obs: GoBGP


GR_ROUTES = {
    # family, prefix, gobgp args, kept after the restart
    "v4keep": ("ipv4", "203.0.113.0/28", ("nexthop", B4), True),
    "v4drop": ("ipv4", "203.0.113.16/28", ("nexthop", B4), False),
    "vpnkeep": (
        "vpnv4",
        "203.0.113.32/28",
        ("label", "101", "rd", "65000:1", "rt", "65000:100", "nexthop", B4),
        True,
    ),
    "vpndrop": (
        "vpnv4",
        "203.0.113.48/28",
        ("label", "102", "rd", "65000:1", "rt", "65000:100", "nexthop", B4),
        False,
    ),
}


def _obs_dest(family: str, prefix: str) -> str:
    return prefix if family == "ipv4" else f"65000:1:{prefix}"


def _gr_neighbor(admin_down: bool) -> str:
    s = gobgp_neighbor(A4, 65000, ["ipv4-unicast", "l3vpn-ipv4-unicast"], graceful_restart=GR_TIME)
    if admin_down:
        s = s.replace(
            f'neighbor-address = "{A4}"', f'neighbor-address = "{A4}"\n    admin-down = true'
        )
    return s


@pytest.fixture(scope="module")
def gr_env() -> Iterator[GrEnv]:
    require("gobgpd", "gobgp")
    with lab_env("gr") as lab:
        a, b, c = lab.ns("A"), lab.ns("B"), lab.ns("C")
        lab.link(a, "vAB", [f"{A4}/24"], b, "vBA", [f"{B4}/24"])
        lab.link(a, "vAC", [f"{AC4}/24"], c, "vCA", [f"{C4}/24"])
        peers = [
            bgpvpn_peer(B4, 65000, ["ipv4", "vpnv4"], passive=True, hold_time=HOLD),
            bgpvpn_peer(C4, 65001, ["ipv4", "vpnv4"], passive=True, hold_time=HOLD),
        ]
        bv = Bgpvpn(lab, a, "A", bgpvpn_config(65000, A4, peers))
        gr = GoBGP(lab, b, "gr", gobgp_config(65000, B4, [_gr_neighbor(False)], [B4]))
        obs = GoBGP(
            lab,
            c,
            "obs",
            gobgp_config(
                65001,
                C4,
                [gobgp_neighbor(AC4, 65000, ["ipv4-unicast", "l3vpn-ipv4-unicast"])],
                [C4],
            ),
        )
        wait_established(bv, (B4, C4), 40, "GR sessions Established")
        yield GrEnv(lab, bv, gr, obs)


def test_gr_stale_routes_kept_then_refreshed(gr_env: GrEnv) -> None:
    bv, gr, obs = gr_env.bv, gr_env.gr, gr_env.obs
    for fam, prefix, args, _ in GR_ROUTES.values():
        gr.add(fam, prefix, *args)
    for fam, prefix, _, _ in GR_ROUTES.values():
        wait_until(
            f"{fam} {prefix} at bgpvpn",
            lambda fam=fam, prefix=prefix: _bv_find(bv, fam, B4, prefix),
            20,
            detail=lambda fam=fam: bv.rib(fam, B4),
        )
        wait_until(
            f"{fam} {prefix} at gobgp-obs",
            lambda fam=fam, prefix=prefix: _gobgp_has(obs, AC4, fam, _obs_dest(fam, prefix)),
            20,
        )
        assert _bv_find(bv, fam, B4, prefix)["stale"] is False  # type: ignore[index]
    peer = bv.peers()[B4]
    assert peer["state"] == "established"

    # SIGKILL: the TCP connection closes without a NOTIFICATION
    gr.kill()
    wait_until(
        "bgpvpn sees the GR peer down",
        lambda: bv.peers()[B4]["state"] != "established",
        HOLD + 5,
    )
    for fam, prefix, _, _ in GR_ROUTES.values():
        r = wait_until(
            f"{fam} {prefix} stale at bgpvpn",
            lambda fam=fam, prefix=prefix: (
                (r := _bv_find(bv, fam, B4, prefix)) is not None and r["stale"] and r
            ),
            5,
            detail=lambda fam=fam: bv.rib(fam, B4),
        )
        assert r["stale"] is True
    # still advertised to the other peer, not withdrawn there
    time.sleep(2.0)
    for fam, prefix, _, _ in GR_ROUTES.values():
        assert _gobgp_has(obs, AC4, fam, _obs_dest(fam, prefix)), (fam, prefix)

    # restart (R and F bits: -r) with only part of the routes; the session stays admin-down
    # until they are in, so the End-of-RIB follows exactly them
    gr.conf.write_text(gobgp_config(65000, B4, [_gr_neighbor(True)], [B4]))
    gr.restart("-r")
    for fam, prefix, args, keep in GR_ROUTES.values():
        if keep:
            gr.add(fam, prefix, *args)
    gr.cli("neighbor", A4, "enable")
    wait_until("GR session back", lambda: bv.established(B4), 40, detail=bv.peers)

    def settled() -> bool:
        for fam, prefix, _, keep in GR_ROUTES.values():
            r = _bv_find(bv, fam, B4, prefix)
            if keep and (r is None or r["stale"]):
                return False
            if not keep and r is not None:
                return False
        return True

    wait_until(
        "re-announced routes fresh, the others gone, at bgpvpn",
        settled,
        20,
        detail=lambda: (
            bv.rib("ipv4", B4),
            bv.rib("vpnv4", B4),
            (gr.dir / "gobgpd.log").read_text()[-3000:],
        ),
    )
    for fam, prefix, _, keep in GR_ROUTES.values():
        dest = _obs_dest(fam, prefix)
        wait_until(
            f"{fam} {prefix} {'kept' if keep else 'withdrawn'} at gobgp-obs",
            lambda fam=fam, dest=dest, keep=keep: _gobgp_has(obs, AC4, fam, dest) == keep,
            20,
        )


def test_gr_peer_back_without_graceful_restart_flushes_stale_routes(gr_env: GrEnv) -> None:
    """RFC4724 4.2: the peer comes back without the capability (GoBGP then sends no
    End-of-RIB): the stale routes go when the session is up, not after the restart time."""
    bv, gr, obs = gr_env.bv, gr_env.gr, gr_env.obs
    kept = [(f, p) for f, p, _, keep in GR_ROUTES.values() if keep]
    for fam, prefix in kept:  # left by the test before (or announced now)
        if _bv_find(bv, fam, B4, prefix) is None:
            gr.add(fam, prefix, *next(a for f, p, a, _ in GR_ROUTES.values() if p == prefix))
    for fam, prefix in kept:
        wait_until(
            f"{prefix} fresh", lambda fam=fam, prefix=prefix: _bv_find(bv, fam, B4, prefix), 20
        )
    gr.kill()
    wait_until(
        "stale routes",
        lambda: all((r := _bv_find(bv, f, B4, p)) and r["stale"] for f, p in kept),
        HOLD + 5,
        detail=lambda: bv.rib("ipv4", B4),
    )
    nb = gobgp_neighbor(A4, 65000, ["ipv4-unicast", "l3vpn-ipv4-unicast"])
    gr.conf.write_text(gobgp_config(65000, B4, [nb], [B4]))
    down_at = time.monotonic()
    gr.restart()
    wait_until("session back without GR", lambda: bv.established(B4), 40, detail=bv.peers)
    assert time.monotonic() - down_at < GR_TIME - 8, "too slow to tell flush from expiry"
    wait_until(
        "stale routes flushed at once",
        lambda: not any(_bv_find(bv, f, B4, p) for f, p in kept),
        3,
        detail=lambda: (bv.rib("ipv4", B4), bv.rib("vpnv4", B4)),
    )
    for fam, prefix in kept:
        dest = _obs_dest(fam, prefix)
        wait_until(
            f"{dest} withdrawn at gobgp-obs",
            lambda fam=fam, dest=dest: not _gobgp_has(obs, AC4, fam, dest),
            10,
        )


# ======================================================================= bgpvpn as RR

RR_AS = 65010
CLUSTER = "192.0.2.254"


@dataclass
class RrEnv:
    lab: Lab
    bv: Bgpvpn
    c1: GoBGP
    c2: GoBGP


@pytest.fixture(scope="module")
def rr_env() -> Iterator[RrEnv]:
    require("gobgpd", "gobgp")
    with lab_env("rr") as lab:
        r, n1, n2 = lab.ns("R"), lab.ns("C1"), lab.ns("C2")
        lab.link(r, "vR1", [f"{A4}/24"], n1, "v1R", [f"{B4}/24"])
        lab.link(r, "vR2", [f"{AC4}/24"], n2, "v2R", [f"{C4}/24"])
        peers = [
            bgpvpn_peer(
                addr, RR_AS, ["ipv4", "vpnv4"], passive=True, hold_time=HOLD, rr_client=True
            )
            for addr in (B4, C4)
        ]
        bv = Bgpvpn(lab, r, "R", bgpvpn_config(RR_AS, A4, peers, extra=f'cluster_id = "{CLUSTER}"'))
        fams = ["ipv4-unicast", "l3vpn-ipv4-unicast"]
        c1 = GoBGP(lab, n1, "c1", gobgp_config(RR_AS, B4, [gobgp_neighbor(A4, RR_AS, fams)], [B4]))
        c2 = GoBGP(lab, n2, "c2", gobgp_config(RR_AS, C4, [gobgp_neighbor(AC4, RR_AS, fams)], [C4]))
        wait_established(bv, (B4, C4), 40, "RR sessions Established")
        yield RrEnv(lab, bv, c1, c2)


@pytest.mark.parametrize("family", ["ipv4", "vpnv4"])
def test_rr_reflects_between_clients(rr_env: RrEnv, family: str) -> None:
    # (sender = its router id, the RR's address towards it, receiver, the RR's towards it)
    cases = (
        (rr_env.c1, B4, A4, rr_env.c2, AC4, "203.0.113.64/28"),
        (rr_env.c2, C4, AC4, rr_env.c1, A4, "203.0.113.80/28"),
    )
    for src, src_addr, src_rr, dst, rr_addr, prefix in cases:
        if family == "ipv4":
            src.add("ipv4", prefix, "nexthop", src_addr, "local-pref", "150", "med", "7")
            dest = prefix
        else:
            src.add(
                "vpnv4",
                prefix,
                "label",
                "300",
                "rd",
                "65010:3",
                "rt",
                "65010:300",
                "nexthop",
                src_addr,
                "local-pref",
                "150",
            )
            dest = f"65010:3:{prefix}"
        p = wait_until(
            f"{family} {dest} reflected to gobgp-{dst.tag}",
            lambda dst=dst, rr_addr=rr_addr, dest=dest: gobgp_find(
                dst.adj_in(rr_addr, family), dest
            ),
            20,
            detail=lambda dst=dst, rr_addr=rr_addr: dst.adj_in(rr_addr, family),
        )
        a = gobgp_attrs(p)
        assert a["originator_id"] == src_addr  # the client's router id
        assert a["cluster_list"] == [CLUSTER]
        assert a["next_hop"] == src_addr and a["local_pref"] == 150 and a["as_path"] == ""
        if family == "ipv4":
            assert a["med"] == 7
        else:
            assert p["nlri"]["labels"] == [300] and a["route_targets"] == ["65010:300"]
        # and in the receiver's Loc-RIB too
        assert gobgp_find(dst.rib(family), dest) is not None
        # not reflected back to its originator
        assert gobgp_find(src.adj_in(src_rr, family), dest) is None


# ============================================ bgpvpn hosts as RTC clients of a GoBGP RR

RTC_AS = 65020
RT_X, RT_Y = "65020:10", "65020:20"
# the second RR's links (documentation addresses outside the announced prefixes)
HA_R2, R2_A = "203.0.113.241", "203.0.113.242"
HB_R2, R2_B = "203.0.113.245", "203.0.113.246"


@dataclass
class RtcEnv:
    lab: Lab
    rr: GoBGP
    rr2: GoBGP
    ha: Bgpvpn
    hb: Bgpvpn


@pytest.fixture(scope="module")
def rtc_env() -> Iterator[RtcEnv]:
    require("gobgpd", "gobgp")
    with lab_env("rtc") as lab:
        r, r2, na, nb = lab.ns("R"), lab.ns("R2"), lab.ns("HA"), lab.ns("HB")
        lab.link(r, "vRA", [f"{B4}/24"], na, "vAR", [f"{A4}/24"])
        lab.link(r, "vRB", [f"{C4}/24"], nb, "vBR", [f"{AC4}/24"])
        lab.link(r2, "vSA", [f"{R2_A}/30"], na, "vAS", [f"{HA_R2}/30"])
        lab.link(r2, "vSB", [f"{R2_B}/30"], nb, "vBS", [f"{HB_R2}/30"])
        hosts = []
        for ns, tag, me, rrs in ((na, "HA", A4, (B4, R2_A)), (nb, "HB", AC4, (C4, R2_B))):
            peers = [
                bgpvpn_peer(rr_addr, RTC_AS, ["vpnv4", "rtc"], passive=True, hold_time=HOLD)
                for rr_addr in rrs
            ]
            hosts.append(Bgpvpn(lab, ns, tag, bgpvpn_config(RTC_AS, me, peers)))
        fams = ["l3vpn-ipv4-unicast", "rtc"]
        rr = GoBGP(
            lab,
            r,
            "rr",
            gobgp_config(
                RTC_AS,
                B4,
                [
                    gobgp_neighbor(A4, RTC_AS, fams, rr_client=B4),
                    gobgp_neighbor(AC4, RTC_AS, fams, rr_client=B4),
                ],
                [B4, C4],
            ),
        )
        rr2 = GoBGP(
            lab,
            r2,
            "rr2",
            gobgp_config(
                RTC_AS,
                R2_A,
                [
                    gobgp_neighbor(HA_R2, RTC_AS, fams, rr_client=R2_A),
                    gobgp_neighbor(HB_R2, RTC_AS, fams, rr_client=R2_A),
                ],
                [R2_A, R2_B],
            ),
        )
        ha, hb = hosts
        wait_established(ha, (B4, R2_A), 40, "host A Established")
        wait_established(hb, (C4, R2_B), 40, "host B Established")
        yield RtcEnv(lab, rr, rr2, ha, hb)


def test_rtc_membership_through_gobgp_rr(rtc_env: RtcEnv) -> None:
    rr, ha, hb = rtc_env.rr, rtc_env.ha, rtc_env.hb
    prefix = "203.0.113.112/28"
    ha.announce("--family", "rtc", "--route-target", RT_Y)  # A wants Y, not X
    ha.announce(prefix, "--family", "vpnv4", "--rd", "65020:1", "--label", "110", "--rt", RT_X)
    hb.announce("--family", "rtc", "--route-target", RT_Y)
    # B's membership for Y reaches A through the RR (RTC works end to end) ...
    wait_until(
        "B's RTC route for Y at host A",
        lambda: [r for r in ha.rib("rtc", B4) if r["route_target"] == f"target:{RT_Y}"],
        20,
        detail=lambda: ha.rib("rtc", B4),
    )
    # ... but nobody asked for X: A's route does not reach B
    time.sleep(2.0)
    assert _bv_find(hb, "vpnv4", C4, prefix) is None
    # B asks for X: the route arrives, reflected (ORIGINATOR_ID = A, CLUSTER_LIST = [RR])
    hb.announce("--family", "rtc", "--route-target", RT_X)
    r = wait_until(
        "A's X route at host B",
        lambda: _bv_find(hb, "vpnv4", C4, prefix),
        20,
        detail=lambda: (hb.rib("vpnv4", C4), hb.rib("rtc", C4), rr.rib("rtc")),
    )
    assert r["rd"] == "65020:1" and r["labels"] == [110] and r["next_hop"] == A4
    assert f"target:{RT_X}" in r["attributes"]["extended_communities"]
    assert r["attributes"].get("originator_id") == A4
    assert r["attributes"].get("cluster_list") == [B4]
    # B withdraws its membership for X: the route goes away again
    hb.withdraw("--family", "rtc", "--route-target", RT_X)
    wait_until(
        "A's X route withdrawn at host B",
        lambda: _bv_find(hb, "vpnv4", C4, prefix) is None,
        20,
        detail=lambda: (hb.rib("vpnv4", C4), rr.rib("rtc")),
    )
    assert [r for r in hb.rib("rtc", C4) if r["route_target"] == f"target:{RT_Y}"]
    wait_until(
        "A's X route withdrawn at host B (second RR)",
        lambda: _bv_find(hb, "vpnv4", R2_B, prefix) is None,
        20,
    )


def test_rtc_second_rr_keeps_the_route_when_the_first_dies(rtc_env: RtcEnv) -> None:
    rr, ha, hb = rtc_env.rr, rtc_env.ha, rtc_env.hb
    prefix = "203.0.113.112/28"  # announced by A with RT X in the test before
    if _bv_find(ha, "vpnv4", None, prefix) is None:  # (when run alone)
        ha.announce(prefix, "--family", "vpnv4", "--rd", "65020:1", "--label", "110", "--rt", RT_X)
    hb.announce("--family", "rtc", "--route-target", RT_X)
    for rr_addr, cluster in ((C4, B4), (R2_B, R2_A)):
        r = wait_until(
            f"A's X route at host B from the RR at {rr_addr}",
            lambda rr_addr=rr_addr: _bv_find(hb, "vpnv4", rr_addr, prefix),
            20,
            detail=lambda rr_addr=rr_addr: (hb.rib("vpnv4", rr_addr), hb.rib("rtc", rr_addr)),
        )
        assert r["attributes"].get("originator_id") == A4
        assert r["attributes"].get("cluster_list") == [cluster]
        assert r["next_hop"] in (A4, HA_R2)
    rr.kill()
    wait_until("the first RR down at B", lambda: not hb.established(C4), HOLD + 5)
    wait_until("its path gone at B", lambda: _bv_find(hb, "vpnv4", C4, prefix) is None, 10)
    r = _bv_find(hb, "vpnv4", R2_B, prefix)
    assert r is not None and r["best"], hb.rib("vpnv4")
