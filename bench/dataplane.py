"""Data-plane benchmark: the Linux drivers programming a kernel in a throwaway namespace.

Prints, for ``LinuxEvpnDriver``:
- the time to program 1,000 remote MACs (one ``apply`` of 1,000 ``RemoteMacAdded`` with IPs:
  a VXLAN FDB entry, a bridge FDB entry and a neighbour each) - goal under 1 s;
- the latency of one ``apply([RemoteMacAdded])`` (median, 99th percentile, worst over 1,000
  single applies) - the driver's part of the 50 ms end-to-end goal;
and, for ``LinuxIpvpnDriver`` and ``KernelRouteTable``, the same for 1,000 VPN routes and 10,000
global routes. ``round trips`` counts sendmsg calls on the batched netlink path.

Needs root (it creates and deletes namespaces ``bvbench-<pid>``; nothing leaves them).

    .venv/bin/python bench/dataplane.py [--macs 1000] [--singles 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from bgpvpn.dataplane.linux import LinuxEvpnDriver, LinuxIpvpnDriver
from bgpvpn.dataplane.linux.netlink import netns_create, netns_remove
from bgpvpn.dataplane.model import (
    InstanceConfig,
    InstanceCreated,
    NextHop,
    RemoteMac,
    RemoteMacAdded,
    RemoteRoute,
    RemoteRouteSet,
)
from bgpvpn.dataplane.routes import KernelRouteTable
from bgpvpn.vpn.model import Encapsulation, InstanceType

VTEP = "203.0.113.1"


def mac(i: int) -> str:
    return f"52:54:00:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return {
        "median_ms": round(statistics.median(values) * 1000, 3),
        "p99_ms": round(p99 * 1000, 3),
        "max_ms": round(values[-1] * 1000, 3),
    }


def bench_evpn(ns: str, n: int, singles: int) -> dict[str, Any]:
    d = LinuxEvpnDriver(netns=ns)
    try:
        cfg = InstanceConfig(
            "evi", InstanceType.EVPN, 100, Encapsulation.VXLAN, VTEP, "02:00:00:00:00:01", 1
        )
        d.apply([InstanceCreated(cfg)])
        changes = [
            RemoteMacAdded(
                "evi",
                RemoteMac(mac(i), "203.0.113.2", 100, f"198.51.{100 + (i >> 8) % 2}.{i & 255}"),
            )
            for i in range(n)
        ]
        trips = d.nl.round_trips
        start = time.perf_counter()
        d.apply(changes)
        bulk = time.perf_counter() - start
        bulk_trips = d.nl.round_trips - trips
        lat = []
        for i in range(singles):
            change = RemoteMacAdded("evi", RemoteMac(mac(n + i), "203.0.113.3", 100))
            start = time.perf_counter()
            d.apply([change])
            lat.append(time.perf_counter() - start)
        assert d.errors == 0, list(d.last_errors)
        return {
            "macs": n,
            "bulk_s": round(bulk, 4),
            "bulk_round_trips": bulk_trips,
            "single_apply": ms(lat),
        }
    finally:
        d.close(remove=True)


def bench_ipvpn(ns: str, n: int, singles: int) -> dict[str, Any]:
    d = LinuxIpvpnDriver(netns=ns)
    try:
        cfg = InstanceConfig(
            "vrf", InstanceType.IPVPN, 1000, Encapsulation.VXLAN, VTEP, "02:00:00:00:01:01", 1
        )
        d.apply([InstanceCreated(cfg)])

        def route(i: int) -> RemoteRoute:
            vtep = f"203.0.113.{2 + i % 8}"
            return RemoteRoute(
                f"2001:db8:{i:x}::/64", (NextHop(vtep, 1000, f"02:00:00:00:02:{i % 8:02x}"),)
            )

        start = time.perf_counter()
        d.apply([RemoteRouteSet("vrf", route(i)) for i in range(n)])
        bulk = time.perf_counter() - start
        lat = []
        for i in range(singles):
            change = RemoteRouteSet("vrf", route(n + i))
            start = time.perf_counter()
            d.apply([change])
            lat.append(time.perf_counter() - start)
        assert d.errors == 0, list(d.last_errors)
        return {"routes": n, "bulk_s": round(bulk, 4), "single_apply": ms(lat)}
    finally:
        d.close(remove=True)


def bench_global(ns: str, n: int) -> dict[str, Any]:
    """``n`` IPv6 routes (documentation prefixes) via one next hop into table 1000."""
    from pyroute2 import IPRoute  # type: ignore[import-untyped]

    from bgpvpn.dataplane.linux.base import IFA_F_NODAD

    with IPRoute(netns=ns, flags=0, groups=0) as ipr:
        ipr.link("add", ifname="bench0", kind="veth", peer="bench1")
        idx = ipr.link_lookup(ifname="bench0")[0]
        ipr.link("set", index=idx, state="up")
        ipr.addr("add", index=idx, address="2001:db8:ff::1", prefixlen=64, flags=IFA_F_NODAD)
    t = KernelRouteTable(netns=ns, table=1000)
    try:
        for i in range(n):
            t.set_route(f"2001:db8:{i:x}::/64", ("2001:db8:ff::2",))
        start = time.perf_counter()
        failures = t.commit()
        elapsed = time.perf_counter() - start
        assert not failures, failures[:3]
        start = time.perf_counter()
        removed = t.remove_all()
        return {
            "routes": removed,
            "commit_s": round(elapsed, 4),
            "remove_all_s": round(time.perf_counter() - start, 4),
        }
    finally:
        t.close(remove=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--macs", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ns = f"bvbench-{os.getpid()}"
    netns_create(ns)
    try:
        from pyroute2 import IPRoute

        with IPRoute(netns=ns, flags=0, groups=0) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            ipr.link("add", ifname="ul0", kind="veth", peer="ul1")
            idx = ipr.link_lookup(ifname="ul0")[0]
            ipr.link("set", index=idx, state="up")
            ipr.addr("add", index=idx, address=VTEP, prefixlen=24)
        result = {
            "evpn": bench_evpn(ns, args.macs, args.singles),
            "ipvpn": bench_ipvpn(ns, args.macs, args.singles),
            "global": bench_global(ns, 10_000),
        }
    finally:
        netns_remove(ns)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    e, v, g = result["evpn"], result["ipvpn"], result["global"]
    print(
        f"E-VPN: {e['macs']} remote MACs in one apply: {e['bulk_s'] * 1000:.1f} ms "
        f"({e['bulk_round_trips']} round trips; goal < 1000 ms)"
    )
    s = e["single_apply"]
    print(
        f"E-VPN: one RemoteMacAdded apply: median {s['median_ms']} ms, p99 {s['p99_ms']} ms, "
        f"max {s['max_ms']} ms (goal p99 < 50 ms end to end)"
    )
    s = v["single_apply"]
    print(
        f"IP VPN: {v['routes']} routes in one apply: {v['bulk_s'] * 1000:.1f} ms; one "
        f"RemoteRouteSet: median {s['median_ms']} ms, p99 {s['p99_ms']} ms"
    )
    print(
        f"Global table: {g['routes']} routes committed in {g['commit_s'] * 1000:.1f} ms, "
        f"removed in {g['remove_all_s'] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
