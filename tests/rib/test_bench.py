"""A small RIB benchmark (no timed assertions): ingest VPNv4 routes from one peer, then build one
peer's Adj-RIB-Out. ``python -m tests.rib.test_bench [routes]`` prints the rates."""

from __future__ import annotations

import sys
import time

from bgpvpn.rib import Rib
from bgpvpn.wire import UpdateMessage, WireContext, decode_message, pack_updates
from bgpvpn.wire.family import VPNV4

from .helpers import attrs, new_rib, peer, rt


def make_updates(n: int, sets: int = 50) -> tuple[list[UpdateMessage], int]:
    ctx = WireContext(ibgp=False)
    per_set = max(1, n // sets)
    msgs: list[UpdateMessage] = []
    made = 0
    for s in range(sets):
        a = attrs(65001, s, next_hop=bytes(8) + bytes((192, 0, 2, 100)), rts=(rt(s),))
        keys = []
        for i in range(s * per_set, min(n, (s + 1) * per_set)):
            rd = b"\x00\x00" + (65000).to_bytes(2, "big") + (i >> 16).to_bytes(4, "big")
            keys.append(bytes((24,)) + rd + bytes((10, (i >> 8) & 0xFF, i & 0xFF)))
        made += len(keys)
        for raw in pack_updates(VPNV4, keys, [b"\x00\x01\x01"] * len(keys), None, a, ctx):
            m = decode_message(raw, ctx)
            assert isinstance(m, UpdateMessage)
            msgs.append(m)
    return msgs, made


def run(n: int) -> dict[str, float]:
    msgs, made = make_updates(n)
    rib: Rib = new_rib()
    src, dst = peer(1, 65001), peer(2)
    rib.peer_up(src, frozenset({VPNV4}))
    rib.peer_up(dst, frozenset({VPNV4}))
    t0 = time.perf_counter()
    for m in msgs:
        rib.receive("p1", m, 0.0)
    t1 = time.perf_counter()
    out = rib.outbound("p2", WireContext())
    t2 = time.perf_counter()
    assert rib.prefix_count("p1", VPNV4) == made
    return {
        "routes": made,
        "ingest_routes_per_s": made / (t1 - t0),
        "adj_rib_out_routes_per_s": made / (t2 - t1),
        "updates_out": len(out),
    }


def test_bench_runs() -> None:
    result = run(5_000)
    assert result["routes"] == 5_000
    assert result["updates_out"] > 1


if __name__ == "__main__":
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000))
