"""Adj-RIB-Out: iBGP/eBGP rules, route reflection, packing and End-of-RIB."""

from __future__ import annotations

from bgpvpn.rib import LOCAL_PEER
from bgpvpn.wire import AsPath, WireContext
from bgpvpn.wire.constants import AsPathSegmentType
from bgpvpn.wire.family import IPV4_UNICAST, IPV6_UNICAST, VPNV4, VPNV6

from .helpers import (
    LOCAL_ADDR,
    LOCAL_ASN,
    ROUTER_ID,
    announced,
    attrs,
    drain,
    eors,
    new_rib,
    peer,
    prefix,
    send,
    withdrawn,
)

V4 = frozenset({IPV4_UNICAST})
K = prefix(1)


def test_initial_sync_packs_and_ends_with_eor() -> None:
    rib = new_rib()
    src, dst = peer(1, 65001), peer(2, 65002)
    rib.peer_up(src, V4)
    keys = [prefix(n, m) for m in range(4) for n in range(250)]
    send(rib, src, keys[:500], attrs(65001))
    send(rib, src, keys[500:], attrs(65001, 65009))
    rib.peer_up(dst, V4)
    msgs = drain(rib, dst)
    assert eors(msgs) == [IPV4_UNICAST]
    assert msgs[-1].end_of_rib == IPV4_UNICAST
    got = announced(msgs)
    assert set(got) == set(keys)
    # many NLRI per UPDATE: 1000 routes in two attribute groups fit in a handful of messages
    assert len(msgs) - 1 <= 4
    assert all(len(m.announced[0]) > 100 for m in msgs[:-1])
    assert drain(rib, dst) == []  # nothing more, EoR only once
    assert not rib.pending(dst.peer_id)
    assert len(list(rib.adj_rib_out(dst.peer_id, IPV4_UNICAST))) == 1000


def test_eor_for_empty_family_and_incremental_changes() -> None:
    rib = new_rib()
    src, dst = peer(1, 65001), peer(2, 65002)
    rib.peer_up(src, V4)
    rib.peer_up(dst, frozenset({IPV4_UNICAST, VPNV4}))
    msgs = drain(rib, dst)
    assert sorted(eors(msgs)) == sorted([IPV4_UNICAST, VPNV4])
    send(rib, src, [K], attrs(65001))
    msgs = drain(rib, dst)
    assert list(announced(msgs)) == [K] and not eors(msgs)
    send(rib, src, [K], None)
    assert withdrawn(drain(rib, dst)) == {K}
    assert list(rib.adj_rib_out(dst.peer_id, IPV4_UNICAST)) == []


def test_limit_slices_outbound() -> None:
    rib = new_rib()
    src, dst = peer(1, 65001), peer(2, 65002)
    rib.peer_up(src, V4)
    send(rib, src, [prefix(n) for n in range(100)], attrs(65001))
    rib.peer_up(dst, V4)
    ctx = WireContext()
    first = rib.outbound(dst.peer_id, ctx, limit=30)
    assert rib.pending(dst.peer_id)
    total = [first]
    while rib.pending(dst.peer_id):
        total.append(rib.outbound(dst.peer_id, ctx, limit=30))
    assert len(total) == 4
    from bgpvpn.wire import decode_message

    msgs = [decode_message(m) for batch in total for m in batch]
    assert len(announced(msgs)) == 100  # type: ignore[arg-type]
    assert eors(msgs) == [IPV4_UNICAST]  # type: ignore[arg-type]


def test_never_sent_back_to_its_peer() -> None:
    rib = new_rib()
    p1 = peer(1, 65001)
    rib.peer_up(p1, V4)
    send(rib, p1, [K], attrs(65001))
    assert announced(drain(rib, p1)) == {}


def test_ibgp_split_horizon() -> None:
    rib = new_rib()
    i1, i2, e3 = peer(1), peer(2), peer(3, 65003)
    for p in (i1, i2, e3):
        rib.peer_up(p, V4)
    for p in (i1, i2, e3):
        drain(rib, p)
    send(rib, i1, [K], attrs(local_pref=120))
    assert announced(drain(rib, i2)) == {}
    assert K in announced(drain(rib, e3))


def test_as_loop_not_accepted_and_replaces_previous() -> None:
    rib = new_rib()
    e1 = peer(1, 65001)
    rib.peer_up(e1, V4)
    send(rib, e1, [K], attrs(65001))
    assert rib.prefix_count("p1", IPV4_UNICAST) == 1
    send(rib, e1, [K], attrs(65001, LOCAL_ASN, 65009))  # implicit withdraw, then dropped
    assert rib.prefix_count("p1", IPV4_UNICAST) == 0
    assert rib.lookup(IPV4_UNICAST, K) is None


def test_ebgp_export_rewrites() -> None:
    rib = new_rib()
    i1, e2, e3 = peer(1), peer(2, 65002), peer(3, 65003)
    for p in (i1, e2, e3):
        rib.peer_up(p, V4)
        drain(rib, p)
    send(rib, i1, [K], attrs(65010, local_pref=300, med=20))
    a = announced(drain(rib, e2))[K]
    assert a.as_path == AsPath.sequence(LOCAL_ASN, 65010)
    assert a.local_pref is None
    assert a.next_hop == LOCAL_ADDR
    assert a.med is None
    # eBGP-learned MED is not sent to another eBGP peer; iBGP gets it with local pref added
    k2 = prefix(2)
    send(rib, e2, [k2], attrs(65002, med=7))
    a3 = announced(drain(rib, e3))[k2]
    assert a3.med is None and a3.as_path == AsPath.sequence(LOCAL_ASN, 65002)
    a1 = announced(drain(rib, i1))[k2]
    assert a1.med == 7 and a1.local_pref == 100
    assert a1.next_hop == bytes((192, 0, 2, 100))  # iBGP keeps the next hop
    assert a1.as_path == AsPath.sequence(65002)


def test_confed_segments_stripped_on_ebgp_export() -> None:
    rib = new_rib()
    i1, e2 = peer(1), peer(2, 65002)
    for p in (i1, e2):
        rib.peer_up(p, V4)
        drain(rib, p)
    send(rib, i1, [K], attrs(65010).replace(as_path=AsPath.parse("(65100) 65010")))
    a = announced(drain(rib, e2))[K]
    assert all(s[0] == AsPathSegmentType.AS_SEQUENCE for s in a.as_path.segments)  # type: ignore[union-attr]


def test_ibgp_next_hop_self_and_local_routes() -> None:
    rib = new_rib()
    e1, i2, i3 = peer(1, 65001), peer(2, next_hop_self=True), peer(3)
    for p in (e1, i2, i3):
        rib.peer_up(p, V4)
        drain(rib, p)
    send(rib, e1, [K], attrs(65001))
    assert announced(drain(rib, i2))[K].next_hop == LOCAL_ADDR
    assert announced(drain(rib, i3))[K].next_hop == bytes((192, 0, 2, 100))
    # a local route without next hop gets the session's address, local pref kept
    k2 = prefix(2)
    rib.announce(IPV4_UNICAST, k2, None, attrs().replace(next_hop=None, local_pref=250), 0.0)
    a = announced(drain(rib, i3))[k2]
    assert a.next_hop == LOCAL_ADDR and a.local_pref == 250
    assert rib.lookup(IPV4_UNICAST, k2).peer_id == LOCAL_PEER  # type: ignore[union-attr]


def test_ibgp_keeps_only_the_global_ipv6_next_hop() -> None:
    """A link-local next hop (RFC2545 3) is only valid on the link it was learned on."""
    rib = new_rib()
    e1, i2 = peer(1, 65001), peer(2)
    fams = frozenset({IPV6_UNICAST, VPNV6})
    for p in (e1, i2):
        rib.peer_up(p, fams)
        drain(rib, p)
    glob = bytes.fromhex("20010db8000100000000000000000002")
    link = bytes.fromhex("fe800000000000000000000000000002")
    k6 = bytes((64,)) + glob[:8]
    send(rib, e1, [k6], attrs(65001, next_hop=glob + link), IPV6_UNICAST)
    assert announced(drain(rib, i2))[k6].next_hop == glob
    kv = bytes((64,)) + bytes(8) + glob[:8]  # RD 0:0, label in the data
    nh = bytes(8) + glob + bytes(8) + link
    send(rib, e1, [kv], attrs(65001, next_hop=nh), VPNV6, [bytes((0, 6, 0x41))])
    nh = announced(drain(rib, i2))[kv].next_hop
    assert nh is not None and nh[-16:] == glob and len(nh) in (16, 24)


def test_route_reflection_client_to_all() -> None:
    rib = new_rib(cluster_id=bytes((1, 1, 1, 1)))
    c1, c2, n3 = peer(1, rr_client=True), peer(2, rr_client=True), peer(3)
    for p in (c1, c2, n3):
        rib.peer_up(p, V4)
        drain(rib, p)
    send(rib, c1, [K], attrs())
    for dst in (c2, n3):
        a = announced(drain(rib, dst))[K]
        assert a.originator_id == c1.router_id
        assert a.cluster_list == (bytes((1, 1, 1, 1)),)
    assert announced(drain(rib, c1)) == {}


def test_route_reflection_non_client_to_clients_only() -> None:
    rib = new_rib()
    c1, n2, n3 = peer(1, rr_client=True), peer(2), peer(3)
    for p in (c1, n2, n3):
        rib.peer_up(p, V4)
        drain(rib, p)
    oid = bytes((10, 7, 7, 7))
    send(rib, n2, [K], attrs(originator_id=oid, cluster_list=(bytes((9, 9, 9, 9)),)))
    a = announced(drain(rib, c1))[K]
    assert a.originator_id == oid  # kept when present
    assert a.cluster_list == (ROUTER_ID, bytes((9, 9, 9, 9)))  # cluster id defaults to router id
    assert announced(drain(rib, n3)) == {}


def test_reflection_loops_dropped() -> None:
    rib = new_rib(cluster_id=bytes((1, 1, 1, 1)))
    c1 = peer(1, rr_client=True)
    rib.peer_up(c1, V4)
    send(rib, c1, [K], attrs(originator_id=ROUTER_ID))
    send(rib, c1, [prefix(2)], attrs(cluster_list=(bytes(4), bytes((1, 1, 1, 1)))))
    assert rib.prefix_count("p1", IPV4_UNICAST) == 0


def test_best_change_replaces_advertisement() -> None:
    rib = new_rib()
    e1, e2, i3 = peer(1, 65001), peer(2, 65002), peer(3)
    for p in (e1, e2, i3):
        rib.peer_up(p, V4)
        drain(rib, p)
    send(rib, e1, [K], attrs(65001, 5))
    assert announced(drain(rib, i3))[K].as_path == AsPath.sequence(65001, 5)
    assert K in announced(drain(rib, e2))
    send(rib, e2, [K], attrs(65002))
    assert announced(drain(rib, i3))[K].as_path == AsPath.sequence(65002)
    # e2 now holds the best path: e2 gets a withdrawal of what it was sent (e1's path)
    msgs = drain(rib, e2)
    assert withdrawn(msgs) == {K}
    send(rib, e2, [K], None)
    assert announced(drain(rib, i3))[K].as_path == AsPath.sequence(65001, 5)
    assert announced(drain(rib, e2))[K].as_path == AsPath.sequence(LOCAL_ASN, 65001, 5)


def test_add_path_send_context_gets_path_ids() -> None:
    rib = new_rib()
    src, dst = peer(1, 65001), peer(2, 65002)
    rib.peer_up(src, V4)
    send(rib, src, [K, prefix(2)], attrs(65001))
    rib.peer_up(dst, V4, add_path_tx=V4)
    ctx = WireContext(add_path=V4)
    msgs = drain(rib, dst, ctx)
    blocks = [b for m in msgs for b in m.announced]
    assert blocks and all(b.path_ids == (1,) * len(b.keys) for b in blocks)


def test_change_log_shared_and_trimmed() -> None:
    rib = new_rib()
    src, d1, d2 = peer(1, 65001), peer(2, 65002), peer(3, 65003)
    for p in (src, d1, d2):
        rib.peer_up(p, V4)
        drain(rib, p)
    send(rib, src, [prefix(n) for n in range(10)], attrs(65001))
    loc = rib._loc[IPV4_UNICAST]
    assert len(loc.log) == 10  # one entry per change, not one per peer
    drain(rib, d1)
    assert len(loc.log) == 10
    drain(rib, d2)
    drain(rib, src)
    assert loc.log == []
