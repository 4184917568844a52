"""KernelRouteTable against the real kernel, in a namespace: a router namespace R reaches
192.0.2.1 (on a peer namespace P, behind 198.51.100.2) only through the routes it programs."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from nslab import Lab, no_ping, pings
from pyroute2 import IPRoute  # type: ignore[import-untyped]

from bgpvpn.dataplane.linux.base import IFA_F_NODAD
from bgpvpn.dataplane.linux.netlink import netns_create, netns_path
from bgpvpn.dataplane.routes import KernelRouteTable


@pytest.fixture
def router(lab: Lab) -> Iterator[str]:
    """Host A of the lab gets two links to a namespace P (198.51.100.2 and .130 on P's side,
    2001:db8:ff::2 on the first) where 192.0.2.1 lives on lo."""
    peer = lab.ns("rtp")
    netns_create(peer)
    with IPRoute(netns=lab.a, flags=0, groups=0) as ipr:
        for i in (1, 2):
            fd = os.open(netns_path(peer), os.O_RDONLY)
            try:
                ipr.link(
                    "add", ifname=f"rt{i}", kind="veth", peer={"ifname": f"rt{i}", "net_ns_fd": fd}
                )
            finally:
                os.close(fd)
    for ns, host in ((lab.a, 1), (peer, 2)):
        with IPRoute(netns=ns, flags=0, groups=0) as ipr:
            for i in (1, 2):
                idx = ipr.link_lookup(ifname=f"rt{i}")[0]
                ipr.link("set", index=idx, state="up")
                ipr.addr(
                    "add", index=idx, address=f"198.51.100.{host + (i - 1) * 128}", prefixlen=25
                )
                if i == 1:
                    ipr.addr(
                        "add",
                        index=idx,
                        address=f"2001:db8:ff::{host}",
                        prefixlen=64,
                        flags=IFA_F_NODAD,
                    )
            if ns == peer:
                lo = ipr.link_lookup(ifname="lo")[0]
                ipr.link("set", index=lo, state="up")
                ipr.addr("add", index=lo, address="192.0.2.1", prefixlen=32)
                idx = ipr.link_lookup(ifname="rt1")[0]
                ipr.route("add", dst="203.0.113.0/24", gateway="198.51.100.1", oif=idx)
    yield peer


def test_routes_programmed_and_removed(lab: Lab, router: str) -> None:
    t = KernelRouteTable(netns=lab.a)
    try:
        assert no_ping(lab.a, "192.0.2.1")
        assert t.update({"192.0.2.0/24": ("198.51.100.2",)}) == []
        assert pings(lab.a, "192.0.2.1")
        assert t.kernel_routes() == {"192.0.2.0/24": ("198.51.100.2",)}
        t.set_route("192.0.2.0/24", ("198.51.100.130", "198.51.100.2"))  # ECMP: multipath
        t.set_route("2001:db8:5::/48", ("2001:db8:ff::2",))
        assert t.commit() == []
        assert t.kernel_routes() == {
            "192.0.2.0/24": ("198.51.100.2", "198.51.100.130"),
            "2001:db8:5::/48": ("2001:db8:ff::2",),
        }
        assert pings(lab.a, "192.0.2.1")
        t.remove_route("192.0.2.0/24")
        t.commit()
        assert no_ping(lab.a, "192.0.2.1")
        assert "192.0.2.0/24" not in t.kernel_routes()
    finally:
        t.close(remove=True)


def test_unreachable_next_hop_is_counted_and_retried(lab: Lab, router: str) -> None:
    t = KernelRouteTable(netns=lab.a)
    try:
        failures = t.update({"192.0.2.0/24": ("192.0.2.254",)})
        assert len(failures) == 1 and "unreachable" in failures[0]
        assert t.errors == 1 and t.kernel_routes() == {}
    finally:
        t.close(remove=True)


def test_reconcile_and_remove_all_touch_only_our_protocol(lab: Lab, router: str) -> None:
    with IPRoute(netns=lab.a, flags=0, groups=0) as ipr:
        ipr.route("add", dst="192.0.2.128/25", gateway="198.51.100.2", proto=4)  # static: not ours
        ipr.route("add", dst="192.0.2.64/26", gateway="198.51.100.2", proto=186)  # a crash left it
        ipr.route("add", dst="192.0.2.32/27", gateway="198.51.100.130", proto=186)  # wrong next hop
    t = KernelRouteTable(netns=lab.a)
    try:
        desired = {
            "192.0.2.32/27": ("198.51.100.2",),
            "192.0.2.0/28": ("198.51.100.2", "198.51.100.130"),
        }
        report = t.reconcile(desired)
        assert report.removed == {"route": ["192.0.2.64/26 table 254"]}
        assert sorted(report.added["route"]) == [
            "192.0.2.0/28 via 198.51.100.2 via 198.51.100.130 table 254",
            "192.0.2.32/27 via 198.51.100.2 table 254",
        ]
        assert t.kernel_routes() == {
            "192.0.2.32/27": ("198.51.100.2",),
            "192.0.2.0/28": ("198.51.100.2", "198.51.100.130"),
        }
        assert not t.reconcile(desired).changed
        assert t.remove_all() == 2
        with IPRoute(netns=lab.a, flags=0, groups=0) as ipr:
            left = [
                r.get("RTA_DST")
                for r in ipr.route("dump", table=254)
                if r.get("RTA_DST", "").startswith("192.0.2")
            ]
        assert left == ["192.0.2.128"]
    finally:
        t.close(remove=True)


def test_ten_thousand_routes_in_one_batch(lab: Lab, router: str) -> None:
    t = KernelRouteTable(netns=lab.a, table=1234)
    try:
        for i in range(10_000):
            t.set_route(f"2001:db8:{i:x}::/64", ("2001:db8:ff::2",))
        start = time.perf_counter()
        assert t.commit() == []
        elapsed = time.perf_counter() - start
        assert len(t.kernel_routes()) == 10_000
        assert elapsed < 2.0, elapsed
        assert t.remove_all() == 10_000
    finally:
        t.close(remove=True)
