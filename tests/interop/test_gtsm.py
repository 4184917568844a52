"""GTSM (RFC5082, ``ttl_security``) across a router: bgpvpn and GoBGP two hops apart.

    bgpvpn (ns a) 192.0.2.1 --- 192.0.2.2 router (ns r, forwarding) 198.51.100.1 --- 198.51.100.2
    GoBGP (ns b)

Each hop takes one from the TTL, so what GoBGP sends with TTL 255 (its ``ttl-security``) reaches
bgpvpn with 254:
- bgpvpn ``ttl_security = 1`` (only a directly connected peer: minimum TTL 255) drops it, and no
  session comes up, while the same pair without GTSM at all comes up at once (checked first);
- ``ttl_security = 2`` accepts it, whichever side connects: the session comes up and routes
  cross;
- ``ttl_security = 2`` against a GoBGP without ttl-security (eBGP multihop, TTL 64) drops it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from harness import (
    Bgpvpn,
    GoBGP,
    Lab,
    bgpvpn_config,
    gobgp_config,
    gobgp_neighbor,
    require,
    wait_until,
)
from harness import run as sh

pytestmark = [pytest.mark.interop, pytest.mark.slow]

ASN, PEER_ASN = 64512, 65001
A, B = "192.0.2.1", "198.51.100.2"
QUIET = 8.0  # seconds a refused pair is watched: GoBGP retries every second


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require("gobgpd", "gobgp")
    lab = Lab("gtsm")
    try:
        yield lab
    finally:
        lab.close()


def _gobgp_conf(ttl_min: int | None) -> str:
    """GoBGP (AS 65001, eBGP) with ttl-security (it sends with TTL 255 and takes ``ttl_min``),
    or without: then eBGP multihop with TTL 64, as a peer not using GTSM sends."""
    neighbor = gobgp_neighbor(A, ASN, ["ipv4-unicast"]).rstrip("\n")
    if ttl_min is not None:
        neighbor += (
            f"\n  [neighbors.ttl-security.config]\n    enabled = true\n    ttl-min = {ttl_min}"
        )
    else:
        neighbor += (
            "\n  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = 64"
        )
    return gobgp_config(PEER_ASN, B, [neighbor + "\n\n"], [B])


def _bgpvpn_conf(hops: int, passive: bool = False) -> str:
    peer = {
        "address": B,
        "asn": PEER_ASN,
        "families": ["ipv4"],
        "hold_time": 9,
        "passive": passive,
    }
    if hops:
        peer["ttl_security"] = hops
    return bgpvpn_config(ASN, A, [peer], listen="0.0.0.0")


def _never_up(bv: Bgpvpn, gobgp: GoBGP) -> None:
    deadline = time.monotonic() + QUIET
    while time.monotonic() < deadline:
        assert not bv.established(B), f"{bv.tag}: session up despite GTSM"
        assert not gobgp.established(A), f"{bv.tag}: GoBGP's session up despite GTSM"
        time.sleep(0.5)


def test_gtsm_two_hops_apart(lab: Lab) -> None:
    a, r, b = lab.ns("a"), lab.ns("r"), lab.ns("b")
    lab.link(a, "a0", [f"{A}/30"], r, "r0", ["192.0.2.2/30"])
    lab.link(r, "r1", ["198.51.100.1/30"], b, "b0", [f"{B}/30"])
    sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"], ns=r)
    sh(["ip", "-n", a, "route", "add", "198.51.100.0/30", "via", "192.0.2.2"])
    sh(["ip", "-n", b, "route", "add", "192.0.2.0/30", "via", "198.51.100.1"])
    # the TTL really drops by one on the way (a ping's reply TTL: 64 - 1)
    assert "ttl=63" in sh(["ping", "-c", "1", "-W", "2", B], ns=a)

    runs: list[tuple[Bgpvpn, GoBGP]] = []

    def start(
        tag: str, hops: int, ttl_min: int | None, passive: bool = False
    ) -> tuple[Bgpvpn, GoBGP]:
        for bv, gobgp in runs:  # one pair at a time
            bv.proc.stop()
            gobgp.proc.stop()
        pair = (
            Bgpvpn(lab, a, tag, _bgpvpn_conf(hops, passive)),
            GoBGP(lab, b, tag, _gobgp_conf(ttl_min)),
        )
        runs.append(pair)
        return pair

    # without GTSM the pair comes up: what follows fails for GTSM's reason alone
    bv, gobgp = start("plain", 0, None)
    wait_until("session without GTSM", lambda: bv.established(B), 30, 0.3)

    # GoBGP sends with TTL 255 (it accepts 254: one hop); bgpvpn wants a direct neighbour
    bv, gobgp = start("one-hop", 1, 254)
    _never_up(bv, gobgp)

    # bgpvpn accepts two hops, both ways: connecting out (its socket's minimum TTL), and
    # passive (the SYN of GoBGP's connection came with TTL 254): up, and a route crosses
    bv, gobgp = start("two-hops", 2, 254)
    wait_until("session with GTSM for 2 hops", lambda: bv.established(B), 30, 0.3)
    bv, gobgp = start("two-hops-passive", 2, 254, passive=True)
    wait_until("passive session with GTSM for 2 hops", lambda: bv.established(B), 30, 0.3)
    assert gobgp.established(A)
    gobgp.add("ipv4", "203.0.113.0/24", "nexthop", B)
    wait_until(
        "route from GoBGP",
        lambda: any(r["prefix"] == "203.0.113.0/24" for r in bv.rib("ipv4", B)),
        15,
        0.3,
    )

    # GoBGP without ttl-security sends with TTL 64: 63 here, below 254: refused
    bv, gobgp = start("no-gtsm-peer", 2, None)
    _never_up(bv, gobgp)
    # and when it is the one connecting (bgpvpn passive): refused on its SYN's TTL, checked
    # before anything is read (an OPEN may have arrived before a minimum TTL could be set on
    # the accepted socket)
    bv, gobgp = start("no-gtsm-peer-passive", 2, None, passive=True)
    _never_up(bv, gobgp)
    # a connection from the peer's address sent with TTL 64 (63 here): accepted by the kernel,
    # then closed by bgpvpn before anything is read
    probe = (
        "import socket; s = socket.socket(); "
        "s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64); s.settimeout(5); "
        f"s.bind(('{B}', 0)); s.connect(('{A}', 179)); "
        "print('closed' if s.recv(100) == b'' else 'open')"
    )
    assert sh(["python3", "-c", probe], ns=b).strip() == "closed"
    wait_until(
        "the connection refused by GTSM",
        lambda: "connection refused by GTSM" in bv.tail(),
        10,
        0.2,
        detail=bv.tail,
    )
