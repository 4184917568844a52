"""bgpvpn sending ADD-PATH (RFC7911) to GoBGP 3.10: with ``add_path_send = ["ipv4"]`` towards a
peer that asked to receive several paths, every path of a prefix goes to it, each with its own
path identifier, and a path that goes is withdrawn by its identifier alone.

Lab ``addpathtx``: B gobgp-rx (AS 65001, ADD-PATH receive for ipv4-unicast) <- eBGP -> A bgpvpn
(AS 65000) <- eBGP -> C gobgp-src (AS 65002). A announces 203.0.113.0/28 itself and learns the
same prefix from C: two paths (AS paths "65000" and "65000 65002" at B). bgpvpn's Adj-RIB-Out
towards B (``bgpvpn rib --peer B --table out``) lists both, with their identifiers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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
AC4, C4 = "198.51.100.1", "198.51.100.2"
PREFIX = "203.0.113.0/28"


@dataclass
class TxEnv:
    lab: Lab
    bv: Bgpvpn
    rx: GoBGP
    src: GoBGP


@pytest.fixture(scope="module")
def tx_env() -> Iterator[TxEnv]:
    require("gobgpd", "gobgp")
    with lab_env("addpathtx") as lab:
        a, b, c = lab.ns("A"), lab.ns("B"), lab.ns("C")
        lab.link(a, "vAB", [f"{A4}/24"], b, "vBA", [f"{B4}/24"])
        lab.link(a, "vAC", [f"{AC4}/24"], c, "vCA", [f"{C4}/24"])
        peers = [
            bgpvpn_peer(B4, 65001, ["ipv4"], add_path_send=["ipv4"], passive=True),
            bgpvpn_peer(C4, 65002, ["ipv4"], passive=True),
        ]
        bv = Bgpvpn(lab, a, "A", bgpvpn_config(65000, A4, peers))
        rx = GoBGP(
            lab,
            b,
            "rx",
            gobgp_config(
                65001, B4, [gobgp_add_paths(gobgp_neighbor(A4, 65000, ["ipv4-unicast"]))], [B4]
            ),
        )
        src = GoBGP(
            lab,
            c,
            "src",
            gobgp_config(65002, C4, [gobgp_neighbor(AC4, 65000, ["ipv4-unicast"])], [C4]),
        )
        wait_established(bv, (B4, C4), 40, "bgpvpn <-> gobgp-rx, gobgp-src")
        yield TxEnv(lab, bv, rx, src)


def _as_paths_at_rx(rx: GoBGP) -> list[str]:
    """The AS paths of the paths of PREFIX that gobgp-rx received from bgpvpn."""
    out = []
    for path in rx.adj_in(A4, "ipv4"):
        if path["dest"] != PREFIX:
            continue
        segments = path["attr"].get("2", {}).get("as_paths", [])
        out.append(" ".join(str(asn) for seg in segments for asn in seg.get("asns", [])))
    return sorted(out)


def test_every_path_goes_with_its_own_identifier(tx_env: TxEnv) -> None:
    bv, rx, src = tx_env.bv, tx_env.rx, tx_env.src
    neighbor = str(rx.json("neighbor", A4)).lower()
    assert "add" in neighbor and "path" in neighbor
    bv.announce(PREFIX, next_hop=A4)
    src.add("ipv4", PREFIX, "nexthop", C4)
    wait_until(
        "two paths of one prefix at gobgp-rx",
        lambda: _as_paths_at_rx(rx) == ["65000", "65000 65002"],
        20,
        detail=lambda: (rx.cli("neighbor", A4, "adj-in", "-a", "ipv4"), bv.rib("ipv4")),
    )
    sent = [r for r in bv.rib("ipv4", B4, table="out") if r.get("prefix") == PREFIX]
    assert len({r["path_id"] for r in sent}) == 2, sent

    # C's path goes: withdrawn at B by its identifier, bgpvpn's own path stays
    src.delete("ipv4", PREFIX)
    wait_until(
        "one path left at gobgp-rx",
        lambda: _as_paths_at_rx(rx) == ["65000"],
        20,
        detail=lambda: rx.cli("neighbor", A4, "adj-in", "-a", "ipv4"),
    )
    # C's path comes back, then bgpvpn withdraws its own (the best): C's stays
    src.add("ipv4", PREFIX, "nexthop", C4)
    wait_until("two paths again", lambda: len(_as_paths_at_rx(rx)) == 2, 20)
    bv.withdraw(PREFIX)
    wait_until(
        "C's path only",
        lambda: _as_paths_at_rx(rx) == ["65000 65002"],
        20,
        detail=lambda: rx.cli("neighbor", A4, "adj-in", "-a", "ipv4"),
    )
    src.delete("ipv4", PREFIX)
    wait_until("no path left", lambda: _as_paths_at_rx(rx) == [], 20)
