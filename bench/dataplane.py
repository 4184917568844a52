"""Data-plane benchmark: the Linux drivers programming a kernel in a throwaway namespace.

Prints, for ``LinuxEvpnDriver``:
- the time to program 1,000 remote MACs (one ``apply`` of 1,000 ``RemoteMacAdded`` with IPs:
  a VXLAN FDB entry, a bridge FDB entry and a neighbour each) - goal under 1 s;
- the latency of one ``apply([RemoteMacAdded])`` (median, 99th percentile, worst over 1,000
  single applies) - the driver's part of the 50 ms end-to-end goal;
and, for ``LinuxIpvpnDriver`` and ``KernelRouteTable``, the same for 1,000 VPN routes and 10,000
global routes; then bulk attaches, one ``apply`` of ``--ports`` ``PortAttached`` each: E-VPN with
that many existing interfaces (veth pairs, so twice as many links in the namespace), E-VPN with
that many MACs on one interface (a bulk attach of VMs behind one tap), IP VPN with that many
interfaces (an IPv6 address and gateway each: host route, proxy NDP entry, rules, sysctls).
``round trips`` counts sendmsg calls on the batched netlink path.

Needs root (it creates and deletes namespaces ``bvbench-<pid>``; nothing leaves them).

    .venv/bin/python bench/dataplane.py [--macs 1000] [--singles 1000] [--ports 1000]
        [--only attach] [--json]
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
    Change,
    InstanceConfig,
    InstanceCreated,
    LocalPort,
    NextHop,
    PortAttached,
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


def make_dummies(ns: str, names: list[str]) -> None:
    """Existing interfaces to attach (veth pairs; set up outside the measure)."""
    from pyroute2 import IPRoute

    with IPRoute(netns=ns, flags=0, groups=0) as ipr:
        for name in names:
            ipr.link("add", ifname=name, kind="veth", peer=f"{name}p")


def remove_links(ns: str, names: list[str]) -> None:
    from pyroute2 import IPRoute

    with IPRoute(netns=ns, flags=0, groups=0) as ipr:
        for name in names:
            found = ipr.link_lookup(ifname=name)
            if found:
                ipr.link("del", index=found[0])


def timed_apply(d: LinuxEvpnDriver | LinuxIpvpnDriver, changes: list[Change]) -> dict[str, Any]:
    trips = d.nl.round_trips
    start = time.perf_counter()
    d.apply(changes)
    elapsed = time.perf_counter() - start
    assert d.errors == 0, list(d.last_errors)[:3]
    return {"bulk_s": round(elapsed, 4), "round_trips": d.nl.round_trips - trips}


def bench_attach(ns: str, n: int) -> dict[str, Any]:
    """One apply of ``n`` PortAttached: E-VPN ports, E-VPN MACs on one port, IP VPN ports."""
    names = [f"bp{i}" for i in range(n)]
    make_dummies(ns, [*names, "bpone"])
    out: dict[str, Any] = {"ports": n}
    try:
        evpn = LinuxEvpnDriver(netns=ns)
        try:
            cfg = InstanceConfig(
                "evi", InstanceType.EVPN, 100, Encapsulation.VXLAN, VTEP, "02:00:00:00:00:01", 1
            )
            evpn.apply([InstanceCreated(cfg)])
            out["evpn_ports"] = timed_apply(
                evpn, [PortAttached("evi", LocalPort(names[i], mac(i))) for i in range(n)]
            )
            out["evpn_macs_one_port"] = timed_apply(
                evpn, [PortAttached("evi", LocalPort("bpone", mac(n + i))) for i in range(n)]
            )
        finally:
            evpn.close(remove=True)
        ipvpn = LinuxIpvpnDriver(netns=ns)
        try:
            cfg = InstanceConfig(
                "vrf", InstanceType.IPVPN, 1000, Encapsulation.VXLAN, VTEP, "02:00:00:00:01:01", 1
            )
            ipvpn.apply([InstanceCreated(cfg)])
            ports = [
                LocalPort(names[i], mac(i), (f"2001:db8:1::{i + 16:x}/64",), "2001:db8:1::1")
                for i in range(n)
            ]
            out["ipvpn_ports"] = timed_apply(ipvpn, [PortAttached("vrf", p) for p in ports])
        finally:
            ipvpn.close(remove=True)
    finally:
        remove_links(ns, [*names, "bpone"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--macs", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=1000)
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--only", choices=["attach"], help="run only the bulk attach cases")
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
        result: dict[str, Any] = {}
        if args.only is None:
            result["evpn"] = bench_evpn(ns, args.macs, args.singles)
            result["ipvpn"] = bench_ipvpn(ns, args.macs, args.singles)
            result["global"] = bench_global(ns, 10_000)
        result["attach"] = bench_attach(ns, args.ports)
    finally:
        netns_remove(ns)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    a = result["attach"]
    for key, what in (
        ("evpn_ports", "E-VPN: {n} PortAttached (one interface each)"),
        ("evpn_macs_one_port", "E-VPN: {n} PortAttached (MACs on one interface)"),
        ("ipvpn_ports", "IP VPN: {n} PortAttached (one interface each, IPv6)"),
    ):
        r = a[key]
        print(
            f"{what.format(n=a['ports'])} in one apply: {r['bulk_s'] * 1000:.1f} ms "
            f"({r['round_trips']} round trips)"
        )
    if args.only is not None:
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
