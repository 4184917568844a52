"""``[kernel]``: routes a real peer (GoBGP) sends in IPv4 unicast are installed by a bgpvpn
daemon into a kernel table of its namespace (protocol 186), as one multipath route when two
peers send the same prefix and the daemon does ECMP, removed when withdrawn and when the
session goes down, and the daemon's own routes are never installed. A real packet follows the
installed route."""

from __future__ import annotations

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

TABLE = 100


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require("gobgpd", "gobgp")
    lab = Lab("kernel")
    try:
        yield lab
    finally:
        lab.close()


def kernel_routes(ns: str) -> dict[str, list[str]]:
    """prefix -> sorted next hops of the proto-186 routes of TABLE."""
    out: dict[str, list[str]] = {}
    text = sh(["ip", "-n", ns, "-4", "route", "show", "table", str(TABLE), "proto", "186"])
    current = ""
    for line in text.splitlines():
        if not line.startswith((" ", "\t")):
            parts = line.split()
            current = parts[0]
            out[current] = [parts[i + 1] for i, w in enumerate(parts) if w == "via"]
        else:
            parts = line.split()
            out[current].extend(parts[i + 1] for i, w in enumerate(parts) if w == "via")
    return {k: sorted(v) for k, v in out.items()}


def test_peer_routes_are_programmed_into_the_kernel_table(lab: Lab) -> None:
    host, r1, r2 = lab.ns("host"), lab.ns("r1"), lab.ns("r2")
    lab.link(host, "h1", ["192.0.2.1/24"], r1, "r1", ["192.0.2.2/24"])
    lab.link(host, "h2", ["198.51.100.1/24"], r2, "r2", ["198.51.100.2/24"])
    # a target behind both peers, for a real packet along the installed route
    sh(["ip", "-n", r1, "addr", "add", "203.0.113.1/32", "dev", "lo"])
    sh(["ip", "-n", r1, "route", "add", "198.51.100.0/24", "via", "192.0.2.1"])
    gobgps = []
    for ns, me, rid, other in (
        (r1, "192.0.2.2", "192.0.2.2", "192.0.2.1"),
        (r2, "198.51.100.2", "198.51.100.2", "198.51.100.1"),
    ):
        conf = gobgp_config(65001, rid, [gobgp_neighbor(other, 64512, ["ipv4-unicast"])], [me])
        gobgps.append(GoBGP(lab, ns, f"gobgp-{ns[-2:]}", conf))
    config = (
        bgpvpn_config(
            64512,
            "192.0.2.1",
            [
                {"address": "192.0.2.2", "asn": 65001, "families": ["ipv4"], "hold_time": 9},
                {"address": "198.51.100.2", "asn": 65001, "families": ["ipv4"], "hold_time": 9},
            ],
            listen="0.0.0.0",
            extra="multipath = true",
        )
        + f"[kernel]\nipv4 = true\ntable = {TABLE}\n"
    )
    bv = Bgpvpn(lab, host, "bgpvpn", config)
    wait_until("sessions", lambda: bv.established("192.0.2.2", "198.51.100.2"), 30)

    g1, g2 = gobgps
    g1.add("ipv4", "203.0.113.1/32", "nexthop", "192.0.2.2")
    g1.add("ipv4", "203.0.113.64/26", "nexthop", "192.0.2.2")
    g2.add("ipv4", "203.0.113.64/26", "nexthop", "198.51.100.2")
    bv.announce("203.0.113.128/25")  # ours: never installed
    want = {
        "203.0.113.1": ["192.0.2.2"],
        "203.0.113.64/26": ["192.0.2.2", "198.51.100.2"],
    }
    wait_until("routes installed", lambda: kernel_routes(host) == want, 15)
    # a packet follows the installed route (policy rule: the host looks up TABLE first)
    sh(
        [
            "ip",
            "-n",
            host,
            "rule",
            "add",
            "to",
            "203.0.113.0/24",
            "lookup",
            str(TABLE),
            "pref",
            "100",
        ]
    )
    sh(["ip", "netns", "exec", host, "ping", "-c", "1", "-W", "2", "203.0.113.1"])

    g1.delete("ipv4", "203.0.113.1/32")
    wait_until(
        "withdrawal removes it",
        lambda: kernel_routes(host) == {"203.0.113.64/26": ["192.0.2.2", "198.51.100.2"]},
        15,
    )
    g2.kill()  # the session goes down: that peer's next hop leaves the multipath route
    wait_until(
        "session down removes its paths",
        lambda: kernel_routes(host) == {"203.0.113.64/26": ["192.0.2.2"]},
        30,
    )
    bv.proc.stop()  # shutdown removes everything the daemon installed
    assert kernel_routes(host) == {}
