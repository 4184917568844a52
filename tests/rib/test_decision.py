"""The decision process (RFC4271 9.1.2.2, RFC4456 9): each step in order, with its reason."""

from __future__ import annotations

import pytest

from bgpvpn.rib import LOCAL_PEER
from bgpvpn.wire import AsPath, PathAttributes
from bgpvpn.wire.family import IPV4_UNICAST

from .helpers import attrs, new_rib, peer, prefix, send

K = prefix(1)


def best(rib, key=K):  # type: ignore[no-untyped-def]
    entry = rib.lookup(IPV4_UNICAST, key)
    assert entry is not None
    return entry


@pytest.mark.parametrize("order", [0, 1])
def test_local_pref(order: int) -> None:
    rib = new_rib()
    p1, p2 = peer(1), peer(2)
    rib.peer_up(p1, frozenset({IPV4_UNICAST}))
    rib.peer_up(p2, frozenset({IPV4_UNICAST}))
    sends = [(p1, attrs(65010, local_pref=200)), (p2, attrs(local_pref=100))]
    for info, a in sends[:: 1 if order else -1]:
        send(rib, info, [K], a)
    e = best(rib)
    assert e.peer_id == "p1"
    assert e.reason == "local preference"


def test_ebgp_local_pref_ignored_default_used() -> None:
    rib = new_rib(default_local_pref=150)
    ebgp, ibgp = peer(1, 65001), peer(2)
    rib.peer_up(ebgp, frozenset({IPV4_UNICAST}))
    rib.peer_up(ibgp, frozenset({IPV4_UNICAST}))
    send(rib, ibgp, [K], attrs(local_pref=140))
    send(rib, ebgp, [K], attrs(65001, 65002, 65003))
    e = best(rib)
    assert (e.peer_id, e.reason) == ("p1", "local preference")


def test_locally_originated() -> None:
    rib = new_rib()
    p1 = peer(1)
    rib.peer_up(p1, frozenset({IPV4_UNICAST}))
    send(rib, p1, [K], attrs())
    rib.announce(IPV4_UNICAST, K, None, attrs(65009, 65009), 0.0)
    e = best(rib)
    assert (e.peer_id, e.reason) == (LOCAL_PEER, "locally originated")


def test_as_path_length_set_counts_one_confed_zero() -> None:
    rib = new_rib()
    p1, p2 = peer(1, 65001), peer(2, 65002)
    rib.peer_up(p1, frozenset({IPV4_UNICAST}))
    rib.peer_up(p2, frozenset({IPV4_UNICAST}))
    # p1: 65001 {1,2,3} (65100 65101) -> length 2; p2: 65002 65003 65004 -> 3
    send(
        rib,
        p1,
        [K],
        PathAttributes(
            origin=0, as_path=AsPath.parse("65001 {1,2,3} (65100 65101)"), next_hop=bytes(4)
        ),
    )
    send(rib, p2, [K], attrs(65002, 65003, 65004))
    e = best(rib)
    assert (e.peer_id, e.reason) == ("p1", "AS path length")


def test_origin() -> None:
    rib = new_rib()
    p1, p2 = peer(1, 65001), peer(2, 65002)
    rib.peer_up(p1, frozenset({IPV4_UNICAST}))
    rib.peer_up(p2, frozenset({IPV4_UNICAST}))
    send(rib, p1, [K], attrs(65001, origin=2))
    send(rib, p2, [K], attrs(65002, origin=1))
    e = best(rib)
    assert (e.peer_id, e.reason) == ("p2", "origin")


def test_med_same_neighbour_as_only() -> None:
    rib = new_rib()
    p1, p2, p3 = peer(1, 65001), peer(2, 65001), peer(3, 65003)
    for p in (p1, p2, p3):
        rib.peer_up(p, frozenset({IPV4_UNICAST}))
    send(rib, p1, [K], attrs(65001, med=50))
    send(rib, p2, [K], attrs(65001, med=10))
    e = best(rib)
    assert (e.peer_id, e.reason) == ("p2", "MED")
    # a different neighbour AS: MED not compared; router id decides (p3 10.0.0.3 > p2's)
    k2 = prefix(2)
    send(rib, p3, [k2], attrs(65003, med=0))
    send(rib, p2, [k2], attrs(65001, med=99))
    e = best(rib, k2)
    assert (e.peer_id, e.reason) == ("p2", "router ID")


def test_missing_med_is_zero_and_always_compare() -> None:
    rib = new_rib(always_compare_med=True)
    p2, p3 = peer(2, 65001), peer(3, 65003)
    for p in (p2, p3):
        rib.peer_up(p, frozenset({IPV4_UNICAST}))
    send(rib, p2, [K], attrs(65001, med=5))
    send(rib, p3, [K], attrs(65003))  # no MED = 0
    e = best(rib)
    assert (e.peer_id, e.reason) == ("p3", "MED")


def test_ebgp_over_ibgp() -> None:
    rib = new_rib()
    ebgp, ibgp = peer(5, 65005), peer(1)
    rib.peer_up(ebgp, frozenset({IPV4_UNICAST}))
    rib.peer_up(ibgp, frozenset({IPV4_UNICAST}))
    send(rib, ibgp, [K], attrs(65005))
    send(rib, ebgp, [K], attrs(65005))
    e = best(rib)
    assert (e.peer_id, e.reason) == ("p5", "eBGP over iBGP")


def test_originator_id_then_cluster_list() -> None:
    rib = new_rib()
    p1, p2 = peer(1), peer(2)
    rib.peer_up(p1, frozenset({IPV4_UNICAST}))
    rib.peer_up(p2, frozenset({IPV4_UNICAST}))
    # p2 has the higher router id but the lower originator id
    send(rib, p1, [K], attrs(originator_id=bytes((10, 9, 9, 9))))
    send(rib, p2, [K], attrs(originator_id=bytes((10, 1, 1, 1)), cluster_list=(bytes(4),)))
    e = best(rib)
    assert (e.peer_id, e.reason) == ("p2", "originator ID")
    k2 = prefix(2)
    oid = bytes((10, 1, 1, 1))
    send(rib, p1, [k2], attrs(originator_id=oid, cluster_list=(bytes(4), bytes(4))))
    send(rib, p2, [k2], attrs(originator_id=oid, cluster_list=(bytes(4),)))
    e = best(rib, k2)
    assert (e.peer_id, e.reason) == ("p2", "cluster list length")


def test_router_id_then_peer_address() -> None:
    rib = new_rib()
    p1, p2 = peer(1, 65001, router_id=bytes((10, 0, 0, 9))), peer(2, 65001)
    rib.peer_up(p1, frozenset({IPV4_UNICAST}))
    rib.peer_up(p2, frozenset({IPV4_UNICAST}))
    send(rib, p1, [K], attrs(65001))
    send(rib, p2, [K], attrs(65001))
    e = best(rib)
    assert (e.peer_id, e.reason) == ("p2", "router ID")
    rib2 = new_rib()
    rid = bytes((10, 0, 0, 7))
    q1, q2 = peer(1, 65001, router_id=rid), peer(2, 65001, router_id=rid)
    rib2.peer_up(q2, frozenset({IPV4_UNICAST}))
    rib2.peer_up(q1, frozenset({IPV4_UNICAST}))
    send(rib2, q2, [K], attrs(65001))
    send(rib2, q1, [K], attrs(65001))
    e = best(rib2)
    assert (e.peer_id, e.reason) == ("p1", "peer address")


def test_only_path_and_withdraw_falls_back() -> None:
    rib = new_rib()
    p1, p2 = peer(1, 65001), peer(2, 65002)
    rib.peer_up(p1, frozenset({IPV4_UNICAST}))
    rib.peer_up(p2, frozenset({IPV4_UNICAST}))
    send(rib, p2, [K], attrs(65002, 1, 2))
    assert best(rib).reason == "only path"
    send(rib, p1, [K], attrs(65001))
    assert best(rib).peer_id == "p1"
    send(rib, p1, [K], None)
    assert best(rib).peer_id == "p2"
    # the best path's own update makes it worse: the other wins
    send(rib, p1, [K], attrs(65001))
    send(rib, p1, [K], attrs(65001, 5, 6, 7))
    assert best(rib).peer_id == "p2"
    send(rib, p2, [K], None)
    send(rib, p1, [K], None)
    assert rib.lookup(IPV4_UNICAST, K) is None
    paths = rib.paths(IPV4_UNICAST, K)
    assert paths == []


def test_non_best_path_reason_says_where_it_lost() -> None:
    rib = new_rib()
    p1, p2 = peer(1, 65001), peer(2, 65002)
    rib.peer_up(p1, frozenset({IPV4_UNICAST}))
    rib.peer_up(p2, frozenset({IPV4_UNICAST}))
    send(rib, p1, [K], attrs(65001))
    send(rib, p2, [K], attrs(65002, 9))
    paths = rib.paths(IPV4_UNICAST, K)
    assert [(e.peer_id, e.best, e.reason) for e in paths] == [
        ("p1", True, "AS path length"),
        ("p2", False, "AS path length"),
    ]


def test_ecmp_sets() -> None:
    rib = new_rib(multipath=True)
    p1, p2, p3 = peer(1, 65001), peer(2, 65002), peer(3, 65003)
    for p in (p1, p2, p3):
        rib.peer_up(p, frozenset({IPV4_UNICAST}))
    send(rib, p1, [K], attrs(65001, 7))
    send(rib, p2, [K], attrs(65002, 7))
    send(rib, p3, [K], attrs(65003, 7, 8))
    mp = rib.multipath_set(IPV4_UNICAST, K)
    assert {e.peer_id for e in mp} == {"p1", "p2"}
    assert mp[0].peer_id == "p1" and mp[0].reason == "router ID"
    assert all(e.multipath for e in mp)
    rib_single = new_rib()
    for p in (p1, p2):
        rib_single.peer_up(p, frozenset({IPV4_UNICAST}))
    send(rib_single, p1, [K], attrs(65001, 7))
    send(rib_single, p2, [K], attrs(65002, 7))
    assert len(rib_single.multipath_set(IPV4_UNICAST, K)) == 1
