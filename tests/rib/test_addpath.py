"""ADD-PATH receive (RFC7911): every (path identifier, key) a peer sends is a path of its own in
its Adj-RIB-In; the decision process chooses among all paths of all peers (paths of one peer
that tie go to the lower path identifier); withdrawing a path identifier removes that path only.
ADD-PATH send: a peer that negotiated it gets every path of a destination, each with its
source's path identifier, and the changes of paths that are not the best."""

from __future__ import annotations

from bgpvpn.rib import PeerInfo, Rib
from bgpvpn.wire import PathAttributes, UpdateMessage, WireContext, decode_message, pack_updates
from bgpvpn.wire.family import IPV4_UNICAST, VPNV4, Family

from .helpers import announced, attrs, drain, new_rib, peer, prefix, send, withdrawn

V4 = frozenset({IPV4_UNICAST})
KEY = prefix(1)


def ap_update(
    info: PeerInfo,
    keys: list[bytes],
    path_ids: list[int],
    a: PathAttributes | None,
    family: Family = IPV4_UNICAST,
    data: list[bytes] | None = None,
) -> UpdateMessage:
    """What a session that negotiated ADD-PATH receive for ``family`` delivers."""
    ctx = WireContext(ibgp=info.ibgp, add_path=frozenset({family}))
    (raw,) = pack_updates(family, keys, data, path_ids, a, ctx)
    msg = decode_message(raw, ctx)
    assert isinstance(msg, UpdateMessage) and not msg.problems, msg
    return msg


def ap_send(rib: Rib, info: PeerInfo, keys: list[bytes], ids: list[int], a: PathAttributes) -> None:
    rib.receive(info.peer_id, ap_update(info, keys, ids, a), 0.0)


def ap_withdraw(rib: Rib, info: PeerInfo, keys: list[bytes], ids: list[int]) -> None:
    rib.receive(info.peer_id, ap_update(info, keys, ids, None), 0.0)


def _setup() -> tuple[Rib, PeerInfo, PeerInfo]:
    rib = new_rib()
    src, dst = peer(1, 65001), peer(2, 65002)
    rib.peer_up(src, V4)
    rib.peer_up(dst, V4)
    drain(rib, dst)
    return rib, src, dst


def test_two_path_ids_of_one_key_are_two_paths() -> None:
    rib, src, _ = _setup()
    ap_send(rib, src, [KEY], [1], attrs(65001, 65100))
    ap_send(rib, src, [KEY], [2], attrs(65001))
    entries = sorted(rib.adj_rib_in("p1", IPV4_UNICAST), key=lambda e: e.path_id or 0)
    assert [(e.key, e.path_id) for e in entries] == [(KEY, 1), (KEY, 2)]
    assert rib.prefix_count("p1", IPV4_UNICAST) == 2
    best = rib.lookup(IPV4_UNICAST, KEY)
    assert best is not None and best.path_id == 2  # the shorter AS path
    assert best.reason == "AS path length"
    paths = rib.paths(IPV4_UNICAST, KEY)
    assert [(p.path_id, p.best) for p in paths] == [(2, True), (1, False)]


def test_withdrawing_one_path_id_keeps_the_other_path() -> None:
    rib, src, dst = _setup()
    a1, a2 = attrs(65001), attrs(65001, 65100)
    ap_send(rib, src, [KEY], [1], a1)
    ap_send(rib, src, [KEY], [2], a2)
    assert set(announced(drain(rib, dst))) == {KEY}
    ap_withdraw(rib, src, [KEY], [1])  # the best path goes, path 2 remains
    best = rib.lookup(IPV4_UNICAST, KEY)
    assert best is not None and best.path_id == 2
    assert [e.path_id for e in rib.adj_rib_in("p1", IPV4_UNICAST)] == [2]
    out = drain(rib, dst)
    assert withdrawn(out) == set()
    (sent,) = announced(out).values()
    assert sent.as_path is not None and sent.as_path.asns() == [65000, 65001, 65100]
    ap_withdraw(rib, src, [KEY], [7])  # a path id never sent: nothing happens
    assert rib.prefix_count("p1", IPV4_UNICAST) == 1
    ap_withdraw(rib, src, [KEY], [2])
    assert rib.lookup(IPV4_UNICAST, KEY) is None
    assert withdrawn(drain(rib, dst)) == {KEY}


def test_equal_paths_of_one_peer_go_to_the_lower_path_id_whatever_the_order() -> None:
    for order in ([9, 3, 5], [3, 5, 9], [5, 9, 3]):
        rib, src, _ = _setup()
        for pid in order:
            ap_send(rib, src, [KEY], [pid], attrs(65001))
        best = rib.lookup(IPV4_UNICAST, KEY)
        assert best is not None and best.path_id == 3, order
        assert best.reason == "path identifier"
        ap_withdraw(rib, src, [KEY], [3])
        best = rib.lookup(IPV4_UNICAST, KEY)
        assert best is not None and best.path_id == 5, order


def test_the_decision_runs_over_all_paths_of_all_peers() -> None:
    rib, src, _ = _setup()
    other = peer(3, 65003)
    rib.peer_up(other, V4)
    rib.receive("p3", ap_update(other, [KEY], [1], attrs(65003, 65100)), 0.0)  # AS path 2
    ap_send(rib, src, [KEY], [1], attrs(65001, 65100, 65200))  # 3
    lookup = rib.lookup(IPV4_UNICAST, KEY)
    assert lookup is not None and lookup.peer_id == "p3"
    ap_send(rib, src, [KEY], [2], attrs(65001))  # 1: the best of all
    lookup = rib.lookup(IPV4_UNICAST, KEY)
    assert lookup is not None and (lookup.peer_id, lookup.path_id) == ("p1", 2)
    assert len(rib.paths(IPV4_UNICAST, KEY)) == 3
    ap_send(rib, src, [KEY], [2], attrs(65001, 65100, 65200, 65300))  # path 2 replaced: worse
    lookup = rib.lookup(IPV4_UNICAST, KEY)
    assert lookup is not None and lookup.peer_id == "p3"
    assert rib.prefix_count("p1", IPV4_UNICAST) == 2


def test_many_keys_and_path_ids_in_one_update_then_peer_down() -> None:
    rib, src, dst = _setup()
    keys = [prefix(n) for n in range(50)]
    ap_send(rib, src, keys + keys, [1] * 50 + [2] * 50, attrs(65001))
    assert rib.prefix_count("p1", IPV4_UNICAST) == 100
    assert all(rib.lookup(IPV4_UNICAST, k).path_id == 1 for k in keys)  # type: ignore[union-attr]
    drain(rib, dst)
    ap_withdraw(rib, src, keys[:10], [1] * 10)
    assert rib.prefix_count("p1", IPV4_UNICAST) == 90
    assert all(rib.lookup(IPV4_UNICAST, k).path_id == 2 for k in keys[:10])  # type: ignore[union-attr]
    ap_send(rib, src, keys[:10], [4] * 10, attrs(65001))  # fill the freed places again
    assert rib.prefix_count("p1", IPV4_UNICAST) == 100
    sources = len(rib._loc[IPV4_UNICAST].sources)
    assert sources <= 4  # lanes are reused: p1's two lanes, p2's none, no lane per path id
    rib.peer_down("p1", 0.0)
    assert rib.prefix_count("p1", IPV4_UNICAST) == 0
    assert rib._loc[IPV4_UNICAST].sources == []
    assert withdrawn(drain(rib, dst)) == set(keys)


def test_graceful_restart_keeps_every_path_stale_and_end_of_rib_sweeps_per_path() -> None:
    rib, src, _ = _setup()
    ap_send(rib, src, [KEY], [1], attrs(65001))
    ap_send(rib, src, [KEY], [2], attrs(65001, 65100))
    rib.peer_down("p1", 0.0, keep_stale=V4, restart_time=60)
    assert [e.stale for e in rib.adj_rib_in("p1", IPV4_UNICAST)] == [True, True]
    rib.peer_up(src, V4)
    ap_send(rib, src, [KEY], [2], attrs(65001, 65100))  # only path 2 comes back
    rib.end_of_rib("p1", IPV4_UNICAST)
    entries = list(rib.adj_rib_in("p1", IPV4_UNICAST))
    assert [(e.path_id, e.stale) for e in entries] == [(2, False)]
    assert rib.next_deadline() is None


def test_vpn_paths_keep_their_labels_per_path() -> None:
    rib = new_rib()
    src = peer(1, 65001)
    rib.peer_up(src, frozenset({VPNV4}))
    key = bytes((24,)) + bytes((0, 0, 0xFD, 0xE8, 0, 0, 0, 1)) + bytes((10, 1, 1))
    nh = bytes(8) + bytes((192, 0, 2, 100))
    for pid, label in ((1, b"\x00\x01\x01"), (2, b"\x00\x02\x01")):
        msg = ap_update(src, [key], [pid], attrs(65001, next_hop=nh), VPNV4, [label])
        rib.receive("p1", msg, 0.0)
    entries = {e.path_id: e.data for e in rib.adj_rib_in("p1", VPNV4)}
    assert entries == {1: b"\x00\x01\x01", 2: b"\x00\x02\x01"}


def _paths_sent(
    msgs: list[UpdateMessage],
) -> tuple[dict[tuple[bytes, int], str], set[tuple[bytes, int]]]:
    """What ADD-PATH UPDATEs announce ((key, path id) -> AS path) and withdraw."""
    ann: dict[tuple[bytes, int], str] = {}
    gone: set[tuple[bytes, int]] = set()
    for m in msgs:
        for b in m.announced:
            assert b.path_ids is not None and b.attributes is not None
            for k, pid in zip(b.keys, b.path_ids, strict=True):
                ann[(k, pid)] = str(b.attributes.as_path)
        for b in m.withdrawn:
            assert b.path_ids is not None
            gone.update(zip(b.keys, b.path_ids, strict=True))
    return ann, gone


def test_add_path_send_gives_every_path_and_each_change_of_one() -> None:
    rib = new_rib()
    p1, ap, p3, plain = peer(1, 65001), peer(2, 65002), peer(3, 65003), peer(4, 65004)
    for info in (p1, p3, plain):
        rib.peer_up(info, V4)
    rib.peer_up(ap, V4, add_path_tx=V4)
    ctx = WireContext(add_path=V4)
    drain(rib, ap, ctx)
    drain(rib, plain)
    send(rib, p1, [KEY], attrs(65001))
    send(rib, p3, [KEY], attrs(65003, 65100))  # a longer AS path: not the best
    ann, gone = _paths_sent(drain(rib, ap, ctx))
    assert sorted(ann.values()) == ["65000 65001", "65000 65003 65100"] and not gone
    ids = {as_path: key_pid[1] for key_pid, as_path in ann.items()}
    assert len(set(ids.values())) == 2
    assert {str(a.as_path) for a in announced(drain(rib, plain)).values()} == {"65000 65001"}
    out = sorted(rib.adj_rib_out("p2", IPV4_UNICAST), key=lambda e: e.path_id or 0)
    assert [(e.path_id, e.peer_id, e.best) for e in out] == sorted(
        [(ids["65000 65001"], "p1", True), (ids["65000 65003 65100"], "p3", False)]
    )

    # the path that is not the best changes: the ADD-PATH peer gets it, the other peer nothing
    send(rib, p3, [KEY], attrs(65003, 65101))
    ann, gone = _paths_sent(drain(rib, ap, ctx))
    assert ann == {(KEY, ids["65000 65003 65100"]): "65000 65003 65101"} and not gone
    assert drain(rib, plain) == []

    # the best path goes: withdrawn by its identifier, the other stays as it was sent
    send(rib, p1, [KEY], None)
    ann, gone = _paths_sent(drain(rib, ap, ctx))
    assert ann == {} and gone == {(KEY, ids["65000 65001"])}
    assert {str(a.as_path) for a in announced(drain(rib, plain)).values()} == {"65000 65003 65101"}

    # the ADD-PATH peer's own path is not sent back to it; the last path's peer goes down
    send(rib, ap, [KEY], attrs(65002))
    ann, gone = _paths_sent(drain(rib, ap, ctx))
    assert ann == {} and not gone
    rib.peer_down("p3", 0.0)
    ann, gone = _paths_sent(drain(rib, ap, ctx))
    assert ann == {} and gone == {(KEY, ids["65000 65003 65100"])}
    assert list(rib.adj_rib_out("p2", IPV4_UNICAST)) == []


def test_add_path_send_initial_sync_and_route_refresh() -> None:
    rib = new_rib()
    p1, p3, ap = peer(1, 65001), peer(3, 65003), peer(2, 65002)
    rib.peer_up(p1, V4)
    rib.peer_up(p3, V4)
    keys = [prefix(i) for i in range(1, 40)]
    send(rib, p1, keys, attrs(65001))
    send(rib, p3, keys, attrs(65003))
    rib.peer_up(ap, V4, add_path_tx=V4)
    ctx = WireContext(add_path=V4)
    ann, _ = _paths_sent(drain(rib, ap, ctx))
    assert len(ann) == 2 * len(keys)
    rib.refresh("p2", IPV4_UNICAST)
    again, _ = _paths_sent(drain(rib, ap, ctx))
    assert again == ann
