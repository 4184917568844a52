"""bgpvpn receiving ADD-PATH (RFC7911) from GoBGP 3.10: every path GoBGP sends for one prefix is
kept in bgpvpn's Adj-RIB-In, and withdrawing one path identifier leaves the other path.

Lab ``addpath``: A bgpvpn (AS 65000, ``add_path_receive = ["ipv4"]``) <- eBGP -> B gobgp-ap
(AS 65001, ADD-PATH send-max 8 for ipv4-unicast) <- eBGP -> C gobgp-src (AS 65002). B originates
203.0.113.0/28 and learns the same prefix from C, so it holds two paths and sends both to A,
each with its own path identifier (AS paths "65001" and "65001 65002").
"""

from __future__ import annotations

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
    gobgp_add_paths,
    gobgp_config,
    gobgp_neighbor,
    require,
    wait_until,
)

pytestmark = [pytest.mark.interop, pytest.mark.slow]

A4, B4 = "192.0.2.1", "192.0.2.2"
BC4, C4 = "198.51.100.1", "198.51.100.2"
PREFIX = "203.0.113.0/28"
HOLD = 9


@dataclass
class ApEnv:
    lab: Lab
    bv: Bgpvpn
    ap: GoBGP
    src: GoBGP


@pytest.fixture(scope="module")
def ap_env() -> Iterator[ApEnv]:
    require("gobgpd", "gobgp")
    with lab_env("addpath") as lab:
        a, b, c = lab.ns("A"), lab.ns("B"), lab.ns("C")
        lab.link(a, "vAB", [f"{A4}/24"], b, "vBA", [f"{B4}/24"])
        lab.link(b, "vBC", [f"{BC4}/24"], c, "vCB", [f"{C4}/24"])
        peer = bgpvpn_peer(
            B4, 65001, ["ipv4"], add_path_receive=["ipv4"], passive=True, hold_time=HOLD
        )
        bv = Bgpvpn(lab, a, "A", bgpvpn_config(65000, A4, [peer]))
        ap = GoBGP(
            lab,
            b,
            "ap",
            gobgp_config(
                65001,
                B4,
                [
                    gobgp_add_paths(gobgp_neighbor(A4, 65000, ["ipv4-unicast"]), send_max=8),
                    gobgp_neighbor(C4, 65002, ["ipv4-unicast"], passive=True),
                ],
                [B4, BC4],
            ),
        )
        src = GoBGP(
            lab,
            c,
            "src",
            gobgp_config(65002, C4, [gobgp_neighbor(BC4, 65001, ["ipv4-unicast"])], [C4]),
        )
        wait_established(bv, (B4,), 40, "bgpvpn <-> gobgp-ap")
        wait_until("gobgp-ap <-> gobgp-src", lambda: ap.established(C4), 40)
        yield ApEnv(lab, bv, ap, src)


def _paths(bv: Bgpvpn) -> list[dict[str, Any]]:
    return [r for r in bv.rib("ipv4", B4) if r.get("prefix") == PREFIX]


def _as_paths(bv: Bgpvpn) -> list[str]:
    return sorted(r["attributes"].get("as_path", "") for r in _paths(bv))


def test_both_paths_are_kept_and_one_path_id_is_withdrawn_alone(ap_env: ApEnv) -> None:
    bv, ap, src = ap_env.bv, ap_env.ap, ap_env.src
    neighbor = ap.json("neighbor", A4)
    assert "add-path" in str(neighbor).lower() or "add_path" in str(neighbor).lower()
    src.add("ipv4", PREFIX, "nexthop", C4)
    ap.add("ipv4", PREFIX, "nexthop", B4)
    wait_until(
        "two paths of one prefix at bgpvpn",
        lambda: len(_paths(bv)) == 2,
        20,
        detail=lambda: (bv.rib("ipv4", B4), ap.cli("neighbor", A4, "adj-out", "-a", "ipv4")),
    )
    assert _as_paths(bv) == ["65001", "65001 65002"]
    best = [r for r in _paths(bv) if r["best"]]
    assert len(best) == 1 and best[0]["attributes"]["as_path"] == "65001"
    assert bv.peers()[B4]["received"]["ipv4"] == 2

    # GoBGP withdraws its own path (one path identifier): the path from AS 65002 stays
    ap.delete("ipv4", PREFIX)
    wait_until(
        "one path left at bgpvpn",
        lambda: _as_paths(bv) == ["65001 65002"],
        20,
        detail=lambda: bv.rib("ipv4", B4),
    )
    (left,) = _paths(bv)
    assert left["best"] is True
    loc = [r for r in bv.rib("ipv4") if r.get("prefix") == PREFIX]
    assert len(loc) == 1 and loc[0]["attributes"]["as_path"] == "65001 65002"

    # and the last path goes with its own withdrawal
    src.delete("ipv4", PREFIX)
    wait_until("no path left", lambda: _paths(bv) == [], 20, detail=lambda: bv.rib("ipv4", B4))
    assert not [r for r in bv.rib("ipv4") if r.get("prefix") == PREFIX]
