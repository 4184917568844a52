"""What the test_peers_* modules share besides the lab itself (harness.py): the addresses and
bgpvpn side of the two-neighbour topology, bgpvpn's E-VPN routes, and waiting for a route to
reach bgpvpn or GoBGP.

The two-neighbour topology: namespace A runs bgpvpn; B an iBGP neighbour (A4-B4, A6-B6) and C an
eBGP neighbour (AC4-C4, AC6-C6).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from harness import Bgpvpn, GoBGP, Lab, bgpvpn_config, gobgp_find, wait_until

A4, B4, C4 = "192.0.2.1", "192.0.2.2", "198.51.100.2"
A6, B6 = "2001:db8::1", "2001:db8::2"
AC4, AC6, C6 = "198.51.100.1", "2001:db8:1::1", "2001:db8:1::2"


def bgpvpn_peer(
    address: str,
    asn: int,
    families: Sequence[str],
    *,
    passive: bool = False,
    local_address: str | None = None,
    hold_time: int | None = 30,
    **more: Any,
) -> dict[str, Any]:
    """One ``[[bgp.peers]]`` entry of ``bgpvpn_config`` (``hold_time=None``: the default)."""
    p: dict[str, Any] = {"address": address, "asn": asn, "families": list(families)}
    if passive:
        p["passive"] = True
    if local_address:
        p["local_address"] = local_address
    if hold_time is not None:
        p["hold_time"] = hold_time
    p.update(more)
    return p


def two_neighbours(
    lab: Lab,
    ibgp4: Sequence[str],
    ibgp6: Sequence[str],
    ebgp4: Sequence[str],
    ebgp6: Sequence[str],
) -> tuple[Bgpvpn, str, str]:
    """Namespaces A, B, C linked A-B and A-C, and bgpvpn (AS 65000) in A with its four sessions
    (families given per session): iBGP to B4 (bgpvpn active) and B6 (passive), eBGP (AS 65001)
    to C4 (passive) and C6 (active). Returns bgpvpn and the namespaces B and C."""
    a, b, c = lab.ns("A"), lab.ns("B"), lab.ns("C")
    lab.link(a, "vAB", [f"{A4}/24", f"{A6}/64"], b, "vBA", [f"{B4}/24", f"{B6}/64"])
    lab.link(a, "vAC", [f"{AC4}/24", f"{AC6}/64"], c, "vCA", [f"{C4}/24", f"{C6}/64"])
    peers = [
        bgpvpn_peer(B4, 65000, ibgp4, local_address=A4),
        bgpvpn_peer(B6, 65000, ibgp6, passive=True),
        bgpvpn_peer(C4, 65001, ebgp4, passive=True),
        bgpvpn_peer(C6, 65001, ebgp6, local_address=AC6),
    ]
    return Bgpvpn(lab, a, "A", bgpvpn_config(65000, A4, peers)), b, c


@contextmanager
def lab_env(name: str) -> Iterator[Lab]:
    """A ``Lab`` closed when the block (a module fixture's whole life) ends."""
    lab = Lab(name)
    try:
        yield lab
    finally:
        lab.close()


def wait_established(
    bv: Bgpvpn,
    addresses: Sequence[str],
    timeout: float,
    what: str = "all sessions Established",
) -> None:
    wait_until(what, lambda: bv.established(*addresses), timeout, detail=bv.peers)


# ------------------------------------------------------------------ bgpvpn's E-VPN routes

EVPN_RD = "192.0.2.1:1"
EVPN_MAC_IP = {
    "family": "evpn",
    "route_type": "mac-ip",
    "rd": EVPN_RD,
    "mac": "02:00:00:00:0a:01",
    "ip": "203.0.113.33",
}
EVPN_PREFIX = "203.0.113.48/28"
EVPN_PREFIX_KEY = {"family": "evpn", "route_type": "ip-prefix", "rd": EVPN_RD}


def evpn_multicast(originator: str) -> dict[str, str]:
    return {
        "family": "evpn",
        "route_type": "inclusive-multicast",
        "rd": EVPN_RD,
        "originator": originator,
    }


def announce_evpn_routes(bv: Bgpvpn, rt: str, originator: str, **mac_ip_more: Any) -> None:
    """A MAC/IP route (VNI 100), an inclusive multicast route and an IP prefix route (VNI 500,
    ``EVPN_PREFIX``), all of RD ``EVPN_RD``, route target ``rt`` and VXLAN encapsulation."""
    common = {"rt": rt, "ext_community": "encap:vxlan"}
    bv.announce(**EVPN_MAC_IP, vni=100, **common, **mac_ip_more)
    bv.announce(**evpn_multicast(originator), **common)
    bv.announce(EVPN_PREFIX, **EVPN_PREFIX_KEY, vni=500, **common)


# --------------------------------------------------------------------- waiting for routes


def bv_route(
    bv: Bgpvpn, family: str, peer: str, timeout: float = 20, **match: Any
) -> dict[str, Any]:
    """The first route from ``peer`` in bgpvpn's RIB whose fields equal ``match``, once there."""

    def find() -> dict[str, Any] | None:
        for r in bv.rib(family, peer):
            if all(r.get(k) == v for k, v in match.items()):
                return r
        return None

    return wait_until(
        f"{family} {match} from {peer} at bgpvpn",
        find,
        timeout,
        detail=lambda: bv.rib(family, peer),
    )


def gobgp_route(g: GoBGP, neighbor: str, family: str, dest: str) -> dict[str, Any]:
    """GoBGP's path from ``neighbor`` whose destination is (or contains) ``dest``, once there."""
    path: dict[str, Any] = wait_until(
        f"{family} {dest} from {neighbor} at gobgp-{g.tag}",
        lambda: gobgp_find(g.adj_in(neighbor, family), dest),
        20,
        detail=lambda: [p["dest"] for p in g.adj_in(neighbor, family)],
    )
    return path


def gobgp_gone(g: GoBGP, neighbor: str, family: str, dest: str) -> bool:
    return gobgp_find(g.adj_in(neighbor, family), dest) is None
