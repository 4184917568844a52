"""vpn layer benchmark: the manager's cost per attach, bulk attach, and importing received
E-VPN type-2 routes (rate and memory per route).

Run from the repository root::

    .venv/bin/python bench/vpn_import.py [--routes N]

Figures printed:

- sequential attach: 1,000 ports into one E-VPN; 1,000 ports each creating its own IP VPN (the
  part spent in ``Rib.subscribe``'s replay scan is shown apart: it walks the family's whole
  Loc-RIB, the RIB having no index by route target);
- ``attach_many`` of 1,000 ports;
- import: N type-2 routes (distinct MACs, one attribute set) received from a peer through
  ``Rib.receive`` in UPDATEs of 500, once with no instance importing them (the RIB alone) and
  once into an EVI (``with manager.batch()`` per UPDATE, dummy driver): routes/s of each (wall
  clock, and per CPU-second: steadier when other jobs share the machine), the vpn layer's share,
  and the traced memory per imported route (the RIB, the EVI's import table and what the dummy
  driver records).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bgpvpn.rib import Rib
from bgpvpn.wire import UpdateMessage, WireContext, decode_message, pack_updates
from bgpvpn.wire.family import EVPN
from vpn.helpers import evpn_att, host, mac_ip_wire, peer, peer_attrs, up, vrf_att


def mac(i: int) -> str:
    return f"52:54:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def sequential() -> None:
    h = host()
    t = time.perf_counter()
    for i in range(1000):
        h.vpn.attach(evpn_att(f"tap{i}", mac(i), f"10.0.{i >> 8}.{i & 255}/16"))
    evi = (time.perf_counter() - t) / 1000
    h = host()
    sub_time = 0.0
    real = Rib.subscribe

    def timed(self: Rib, *a: object, **kw: object) -> object:
        nonlocal sub_time
        t0 = time.perf_counter()
        try:
            return real(self, *a, **kw)  # type: ignore[arg-type]
        finally:
            sub_time += time.perf_counter() - t0

    Rib.subscribe = timed  # type: ignore[assignment,method-assign]
    try:
        t = time.perf_counter()
        for i in range(1000):
            h.vpn.attach(
                vrf_att("tap", mac(i), "10.1.0.1/24", instance=f"vrf{i}", rts=(f"64512:{i + 10}",))
            )
        vrfs = (time.perf_counter() - t) / 1000
    finally:
        Rib.subscribe = real  # type: ignore[method-assign]
    print(f"attach, 1,000 ports into one E-VPN:        {evi * 1e6:8.0f} us each")
    print(
        f"attach, 1,000 ports creating 1,000 IP VPNs: {vrfs * 1e6:8.0f} us each "
        f"({sub_time / 1000 * 1e6:.0f} us of it in Rib.subscribe replay, "
        f"{(vrfs - sub_time / 1000) * 1e6:.0f} us the rest)"
    )
    h = host()
    atts = [evpn_att(f"tap{i}", mac(i), f"10.{i >> 8}.{i & 255}.1/16") for i in range(1000)]
    t = time.perf_counter()
    h.vpn.attach_many(atts)
    print(f"attach_many, 1,000 ports:                  {(time.perf_counter() - t) * 1e3:8.1f} ms")


def updates(n: int) -> list[UpdateMessage]:
    ctx = WireContext(ibgp=True)
    attrs = peer_attrs("203.0.113.1", "target:64512:1", "encap:vxlan")
    out = []
    for start in range(0, n, 500):
        routes = [
            mac_ip_wire("203.0.113.1:1", mac(i), None, 5000)
            for i in range(start, min(n, start + 500))
        ]
        for raw in pack_updates(
            EVPN, [k for k, _ in routes], [d or b"" for _, d in routes], None, attrs, ctx
        ):
            msg = decode_message(raw, ctx)
            assert isinstance(msg, UpdateMessage)
            out.append(msg)
    return out


def import_rate(n: int) -> None:
    msgs = updates(n)
    p1 = peer(1)
    # the RIB alone
    h = host()
    up(h.rib, p1)
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    for m in msgs:
        h.rib.receive(p1.peer_id, m, 0.0)
    rib_alone, rib_cpu = time.perf_counter() - t, time.process_time() - c
    # into an EVI
    h = host()
    h.vpn.attach(evpn_att("tap1", "52:54:ff:00:00:01"))
    up(h.rib, p1)
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    for m in msgs:
        with h.vpn.batch():
            h.rib.receive(p1.peer_id, m, 0.0)
    with_vpn, vpn_cpu = time.perf_counter() - t, time.process_time() - c
    table = h.vpn._instances["evi"].table
    assert len(table.paths) == n and len(h.driver.snapshot()["evi"].remote_macs) == n
    # memory, traced in a second run (tracemalloc slows allocation down many times)
    h = host()
    h.vpn.attach(evpn_att("tap1", "52:54:ff:00:00:01"))
    up(h.rib, p1)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for m in msgs:
        with h.vpn.batch():
            h.rib.receive(p1.peer_id, m, 0.0)
    snap_mem = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    print(
        f"import {n:,} type-2, RIB alone:            {n / rib_alone:10,.0f} routes/s "
        f"({n / rib_cpu:,.0f} per CPU-second)"
    )
    print(
        f"import {n:,} type-2 into an EVI:           {n / with_vpn:10,.0f} routes/s "
        f"({n / vpn_cpu:,.0f} per CPU-second; "
        f"vpn layer + dummy driver: {(with_vpn - rib_alone) / n * 1e6:.1f} us/route)"
    )
    print(f"traced memory per imported route (RIB + EVI + dummy driver): {snap_mem / n:,.0f} bytes")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--routes", type=int, default=100_000)
    args = ap.parse_args()
    sequential()
    import_rate(args.routes)


if __name__ == "__main__":
    main()
