"""RT constraint, publish/subscribe, graceful restart, RFC7606 treat-as-withdraw, leases."""

from __future__ import annotations

import random
from dataclasses import replace

from bgpvpn.rib import ChangeKind, Rib, RouteChange, membership_key
from bgpvpn.rib.rtc import Memberships
from bgpvpn.wire import UpdateMessage, decode_message, end_of_rib
from bgpvpn.wire.errors import ErrorAction, UpdateProblem
from bgpvpn.wire.family import IPV4_UNICAST, RTC, VPNV4

from .helpers import (
    LOCAL_ASN,
    announced,
    attrs,
    drain,
    new_rib,
    peer,
    prefix,
    rt,
    send,
    update,
    withdrawn,
)

V4 = frozenset({IPV4_UNICAST})
VPN_RTC = frozenset({VPNV4, RTC})
LABEL = b"\x00\x01\x01"


def vpn_key(n: int) -> bytes:
    """vpnv4 key: length 24 | RD 0:65000:1 | 10.0.n"""
    return (
        bytes((24,))
        + b"\x00\x00"
        + (65000).to_bytes(2, "big")
        + (1).to_bytes(4, "big")
        + bytes((10, 0, n))
    )


def vpn_attrs(*rts: bytes) -> object:
    return attrs(65001, next_hop=bytes(8) + bytes((192, 0, 2, 100)), rts=rts)


def setup_rtc() -> tuple:  # type: ignore[type-arg]
    rib = new_rib()
    src, dst = peer(1, 65001), peer(2)
    rib.peer_up(src, frozenset({VPNV4}))
    rib.peer_up(dst, VPN_RTC)
    send(rib, src, [vpn_key(1)], vpn_attrs(rt(1)), VPNV4, [LABEL])  # type: ignore[arg-type]
    send(rib, src, [vpn_key(2)], vpn_attrs(rt(2)), VPNV4, [LABEL])  # type: ignore[arg-type]
    return rib, src, dst


def _eors(msgs: list[UpdateMessage]) -> list[str]:
    return sorted(f.name for m in msgs if (f := m.end_of_rib))


def test_rtc_filters_routes_nobody_asked_for() -> None:
    rib, _, dst = setup_rtc()
    msgs = drain(rib, dst)
    assert announced(msgs) == {}
    # RFC4684 6: vpnv4's End-of-RIB waits for the peer's RT membership End-of-RIB
    assert _eors(msgs) == ["rtc"]
    assert not rib.pending(dst.peer_id)
    # a membership for rt(1) arrives: route 1 appears, route 2 does not
    send(rib, dst, [membership_key(65000, rt(1))], attrs(), RTC)
    msgs = drain(rib, dst)
    got = announced(msgs)
    assert set(got) == {vpn_key(1)}
    assert got[vpn_key(1)].route_targets == (rt(1),)
    assert _eors(msgs) == []
    rib.end_of_rib(dst.peer_id, RTC)  # the peer's memberships are complete
    assert rib.pending(dst.peer_id)
    assert _eors(drain(rib, dst)) == ["vpnv4"]
    assert not rib.pending(dst.peer_id)
    # the membership goes: route 1 is withdrawn
    send(rib, dst, [membership_key(65000, rt(1))], None, RTC)
    assert withdrawn(drain(rib, dst)) == {vpn_key(1)}


def test_vpn_end_of_rib_goes_when_the_wait_is_over() -> None:
    """A peer that sends no RT membership End-of-RIB: ours of the VPN families go when the
    speaker gives up waiting (``rtc_wait_over``); a peer without RTC never waits."""
    rib, _, dst = setup_rtc()
    assert _eors(drain(rib, dst)) == ["rtc"]
    assert rib.rtc_wait_over(dst.peer_id)
    assert _eors(drain(rib, dst)) == ["vpnv4"]
    assert not rib.rtc_wait_over(dst.peer_id)  # nothing held back any more
    plain = peer(3)
    rib.peer_up(plain, frozenset({VPNV4}))
    assert _eors(drain(rib, plain)) == ["vpnv4"]


def test_rtc_default_membership_and_prefix() -> None:
    rib, _, dst = setup_rtc()
    drain(rib, dst)
    send(rib, dst, [membership_key(0, None)], attrs(), RTC)
    assert set(announced(drain(rib, dst))) == {vpn_key(1), vpn_key(2)}
    # prefix match (RFC4684 4.3): 32 + 48 bits covers type, subtype and AS 65000
    rib2, _, dst2 = setup_rtc()
    drain(rib2, dst2)
    key = bytes((80,)) + (65099).to_bytes(4, "big") + rt(0)[:6]
    send(rib2, dst2, [key], attrs(), RTC)
    assert set(announced(drain(rib2, dst2))) == {vpn_key(1), vpn_key(2)}


def test_memberships_change_route_by_route() -> None:
    """Memberships are counted per value (two origin ASes may ask for the same route target):
    the route goes only when the last membership asking for it does. A new membership makes
    the RIB review only the routes it concerns, not every route of the family."""
    rib, src, dst = setup_rtc()
    drain(rib, dst)
    a, b = membership_key(65000, rt(1)), membership_key(65099, rt(1))
    send(rib, dst, [a, b], attrs(), RTC)
    assert set(announced(drain(rib, dst))) == {vpn_key(1)}
    send(rib, dst, [a], attrs(), RTC)  # announced again: nothing changes
    assert drain(rib, dst) == []
    send(rib, dst, [a], None, RTC)
    assert drain(rib, dst) == []  # b still asks for rt(1)
    for n in range(3, 50):
        send(rib, src, [vpn_key(n)], vpn_attrs(rt(n)), VPNV4, [LABEL])  # type: ignore[arg-type]
    drain(rib, dst)
    send(rib, dst, [membership_key(65000, rt(7))], attrs(), RTC)
    queued = rib._peers[dst.peer_id].out[VPNV4].sync
    assert queued == [vpn_key(7)]  # reviewed: that route only
    assert set(announced(drain(rib, dst))) == {vpn_key(7)}
    send(rib, dst, [membership_key(65000, rt(1000))], attrs(), RTC)  # no route carries it
    assert rib._peers[dst.peer_id].out[VPNV4].sync is None
    send(rib, dst, [b], None, RTC)
    assert withdrawn(drain(rib, dst)) == {vpn_key(1)}


def test_memberships_by_difference_equal_a_rebuild() -> None:
    """Random runs of membership routes announced, announced again and withdrawn (exact,
    prefix and default, several origin ASes): the peer's memberships are those built from its
    Adj-RIB-In, and it holds exactly the routes they ask for."""
    for seed in range(30):
        rng = random.Random(seed)
        rib, src, dst = setup_rtc()
        for n in range(3, 12):
            send(rib, src, [vpn_key(n)], vpn_attrs(rt(n)), VPNV4, [LABEL])  # type: ignore[arg-type]
        held: dict[bytes, object] = {}
        drain(rib, dst)
        pool = [membership_key(asn, rt(n)) for asn in (65000, 65099) for n in range(1, 12)]
        pool += [membership_key(0, None), bytes((80,)) + (65099).to_bytes(4, "big") + rt(0)[:6]]
        present: set[bytes] = set()
        for _ in range(40):
            keys = rng.sample(pool, rng.randint(1, 3))
            keys += keys[:1] if rng.random() < 0.2 else []  # a key twice in one UPDATE
            if rng.random() < 0.5:
                send(rib, dst, keys, attrs(), RTC)
                present |= set(keys)
            else:
                send(rib, dst, keys, None, RTC)
                present -= set(keys)
            msgs = drain(rib, dst)
            for k in withdrawn(msgs):
                held.pop(k, None)
            held.update(announced(msgs))
            members = rib.memberships(dst.peer_id)
            assert members == Memberships(present), seed
            want = {vpn_key(n) for n in range(1, 12) if members.matches((rt(n),))}
            assert set(held) == want, seed


def test_peer_without_rtc_gets_everything() -> None:
    rib, _src, _ = setup_rtc()
    other = peer(3)
    rib.peer_up(other, frozenset({VPNV4}))
    assert set(announced(drain(rib, other))) == {vpn_key(1), vpn_key(2)}
    assert rib.memberships("p3") is None


def test_local_memberships_advertised() -> None:
    rib = new_rib(advertise_default_membership=True)
    dst = peer(2)
    rib.peer_up(dst, VPN_RTC)
    got = announced(drain(rib, dst))
    assert set(got) == {b"\x00"}
    rib.set_local_memberships([rt(5), rt(6)])
    got = announced(drain(rib, dst))
    assert set(got) == {membership_key(LOCAL_ASN, rt(5)), membership_key(LOCAL_ASN, rt(6))}
    rib.set_local_memberships([rt(6)])
    assert withdrawn(drain(rib, dst)) == {membership_key(LOCAL_ASN, rt(5))}


def test_local_memberships_by_difference() -> None:
    rib = new_rib()
    dst = peer(2)
    rib.peer_up(dst, VPN_RTC)
    drain(rib, dst)
    rib.change_local_memberships(added=[rt(5), rt(6)])
    got = announced(drain(rib, dst))
    assert set(got) == {membership_key(LOCAL_ASN, rt(5)), membership_key(LOCAL_ASN, rt(6))}
    rib.change_local_memberships(added=[rt(7)], removed=[rt(5), rt(8)])  # rt(8): never had
    out = drain(rib, dst)
    assert set(announced(out)) == {membership_key(LOCAL_ASN, rt(7))}
    assert withdrawn(out) == {membership_key(LOCAL_ASN, rt(5))}
    rib.set_local_memberships([rt(6), rt(7)])  # the same set: nothing to send
    assert drain(rib, dst) == []


def test_replay_of_a_route_target_no_route_carried() -> None:
    """A subscription to a route target no route ever carried replays nothing (and skips the
    table scan); one a route carries, even after a withdrawal and a new route, replays it."""
    rib = new_rib()
    src = peer(1, 65001)
    rib.peer_up(src, frozenset({VPNV4}))
    send(rib, src, [vpn_key(1), vpn_key(2)], vpn_attrs(rt(1)), VPNV4, [LABEL, LABEL])  # type: ignore[arg-type]
    send(rib, src, [vpn_key(3)], vpn_attrs(rt(2), rt(3)), VPNV4, [LABEL])  # type: ignore[arg-type]
    for want, keys in ((rt(9), set()), (rt(1), {vpn_key(1), vpn_key(2)}), (rt(3), {vpn_key(3)})):
        seen: list[RouteChange] = []
        rib.subscribe(VPNV4, want, seen.append)
        assert {c.key for c in seen} == keys
        raw: list[tuple[object, ...]] = []
        rib.subscribe_raw(VPNV4, want, lambda *a, out=raw: out.append(a))  # type: ignore[misc]
        assert {r[1] for r in raw} == keys


def test_subscribe_by_route_target() -> None:
    rib = new_rib()
    src = peer(1, 65001)
    rib.peer_up(src, frozenset({VPNV4}))
    send(rib, src, [vpn_key(9)], vpn_attrs(rt(1)), VPNV4, [LABEL])  # type: ignore[arg-type]
    seen: list[RouteChange] = []
    everything: list[RouteChange] = []
    rib.subscribe(VPNV4, rt(1), seen.append)
    sub_all = rib.subscribe(VPNV4, None, everything.append, replay=False)
    assert [(c.kind, c.key) for c in seen] == [(ChangeKind.ADDED, vpn_key(9))]  # replay
    seen.clear()
    send(rib, src, [vpn_key(1)], vpn_attrs(rt(1)), VPNV4, [LABEL])  # type: ignore[arg-type]
    send(rib, src, [vpn_key(2)], vpn_attrs(rt(2)), VPNV4, [LABEL])  # type: ignore[arg-type]
    assert [(c.kind, c.key) for c in seen] == [(ChangeKind.ADDED, vpn_key(1))]
    assert seen[0].route is not None and seen[0].route.data == LABEL
    # the route target changes from 1 to 2: removed for rt(1)'s subscriber
    send(rib, src, [vpn_key(1)], vpn_attrs(rt(2)), VPNV4, [LABEL])  # type: ignore[arg-type]
    assert seen[-1].kind == ChangeKind.REMOVED and seen[-1].previous is not None
    # a new label is a replacement for the catch-all subscriber
    send(rib, src, [vpn_key(1)], vpn_attrs(rt(2)), VPNV4, [b"\x00\x02\x01"])  # type: ignore[arg-type]
    assert everything[-1].kind == ChangeKind.REPLACED
    assert everything[-1].route is not None and everything[-1].route.data == b"\x00\x02\x01"
    send(rib, src, [vpn_key(1)], None, VPNV4)
    assert everything[-1].kind == ChangeKind.REMOVED and everything[-1].route is None
    n = len(everything)
    rib.unsubscribe(sub_all)
    send(rib, src, [vpn_key(3)], vpn_attrs(rt(1)), VPNV4, [LABEL])  # type: ignore[arg-type]
    assert len(everything) == n


def test_subscribe_raw_delivers_what_subscribe_does() -> None:
    """``subscribe_raw`` gets each change ``subscribe`` gets, as plain fields (replay too)."""
    rib = new_rib()
    src, other = peer(1, 65001), peer(3, 65003)
    rib.peer_up(src, frozenset({VPNV4}))
    rib.peer_up(other, frozenset({VPNV4}))
    send(rib, src, [vpn_key(9)], vpn_attrs(rt(1)), VPNV4, [LABEL])  # type: ignore[arg-type]
    subs: dict[bytes | None, tuple[list[tuple[object, ...]], list[tuple[object, ...]]]] = {}

    def flat(c: RouteChange) -> tuple[object, ...]:
        r, p = c.route, c.previous
        return (
            c.kind,
            c.key,
            r and r.attributes,
            r and r.data,
            r and r.peer_id,
            p and p.attributes,
            p and p.data,
            p and p.peer_id,
        )

    for want in (rt(1), rt(2), None):
        rich: list[tuple[object, ...]] = []
        raw: list[tuple[object, ...]] = []
        rib.subscribe(VPNV4, want, lambda c, out=rich: out.append(flat(c)))
        rib.subscribe_raw(VPNV4, want, lambda *a, out=raw: out.append(a))
        subs[want] = (rich, raw)
    a1, a2, a12 = vpn_attrs(rt(1)), vpn_attrs(rt(2)), vpn_attrs(rt(1), rt(2))
    send(rib, src, [vpn_key(1), vpn_key(2)], a1, VPNV4, [LABEL, LABEL])  # type: ignore[arg-type]
    send(rib, src, [vpn_key(1)], a12, VPNV4, [LABEL])  # type: ignore[arg-type]
    send(rib, src, [vpn_key(1)], a2, VPNV4, [b"\x00\x02\x01"])  # type: ignore[arg-type]
    send(rib, other, [vpn_key(2)], a2, VPNV4, [LABEL])  # type: ignore[arg-type]
    send(rib, src, [vpn_key(1), vpn_key(2), vpn_key(9)], None, VPNV4)
    for want, (rich, raw) in subs.items():
        assert rich == raw, want
        assert rich
    kinds = [c[0] for c in subs[rt(1)][1]]
    assert ChangeKind.ADDED in kinds and ChangeKind.REMOVED in kinds
    assert ChangeKind.REPLACED in [c[0] for c in subs[None][1]]


def test_raw_subscribers_of_new_destinations_with_several_route_targets() -> None:
    """Only raw subscriptions (new destinations take a short path, derived once per UPDATE): a
    route carrying two route targets (one twice) reaches each matching subscription once, as
    ``subscribe`` delivers it on a twin RIB; a subscription made by a callback in the middle of
    an UPDATE gets that UPDATE's later routes."""
    got: dict[str, dict[bytes | None, list[tuple[object, ...]]]] = {"rich": {}, "raw": {}}
    late: list[tuple[object, ...]] = []
    a12 = vpn_attrs(rt(1), rt(2), rt(1))
    a2 = vpn_attrs(rt(2))
    keys = [vpn_key(1), vpn_key(2), vpn_key(3)]
    for kind, out in got.items():
        rib = new_rib()
        src = peer(1, 65001)
        rib.peer_up(src, frozenset({VPNV4}))
        for want in (rt(1), rt(2), rt(3), None):
            seen = out[want] = []
            if kind == "rich":
                rib.subscribe(VPNV4, want, lambda c, o=seen: o.append((c.kind, c.key)))
            else:
                rib.subscribe_raw(VPNV4, want, lambda *a, o=seen: o.append((a[0], a[1])))
        if kind == "raw":

            def subscribe_late(*a: object, r: Rib = rib) -> None:
                if a[1] == vpn_key(1) and not late:
                    late.append(a)
                    r.subscribe_raw(VPNV4, rt(2), lambda *b: late.append(b), replay=False)

            rib.subscribe_raw(VPNV4, rt(1), subscribe_late)
        send(rib, src, keys, a12, VPNV4, [LABEL] * 3)  # type: ignore[arg-type]
        send(rib, src, [vpn_key(4)], a2, VPNV4, [LABEL])  # type: ignore[arg-type]
    assert got["raw"] == got["rich"]
    added = ChangeKind.ADDED
    assert got["raw"][rt(1)] == [(added, k) for k in keys]
    assert got["raw"][rt(2)] == [(added, k) for k in [*keys, vpn_key(4)]]
    assert got["raw"][rt(3)] == []
    assert got["raw"][None] == got["raw"][rt(2)]
    assert [(c[0], c[1]) for c in late[1:]] == [(added, k) for k in [*keys[1:], vpn_key(4)]]


def test_graceful_restart_stale_and_sweep() -> None:
    rib = new_rib()
    src, dst = peer(1, 65001), peer(2, 65002)
    rib.peer_up(src, V4)
    rib.peer_up(dst, V4)
    send(rib, src, [prefix(1), prefix(2)], attrs(65001))
    drain(rib, dst)
    rib.peer_down("p1", now=10.0, keep_stale=V4, restart_time=120)
    entries = list(rib.adj_rib_in("p1", IPV4_UNICAST))
    assert all(e.stale for e in entries) and len(entries) == 2
    assert rib.lookup(IPV4_UNICAST, prefix(1)) is not None  # still used
    assert drain(rib, dst) == []  # nothing withdrawn
    assert rib.next_deadline() == 130.0
    rib.peer_up(src, V4)
    send(rib, src, [prefix(1)], attrs(65001))
    assert not rib.lookup(IPV4_UNICAST, prefix(1)).stale  # type: ignore[union-attr]
    eor = decode_message(end_of_rib(IPV4_UNICAST))
    assert isinstance(eor, UpdateMessage)
    rib.receive("p1", eor, 20.0)
    assert rib.lookup(IPV4_UNICAST, prefix(2)) is None
    assert withdrawn(drain(rib, dst)) == {prefix(2)}
    assert rib.next_deadline() is None


def test_graceful_restart_deadline() -> None:
    rib = new_rib()
    src = peer(1, 65001)
    rib.peer_up(src, V4)
    send(rib, src, [prefix(1)], attrs(65001))
    rib.peer_down("p1", now=0.0, keep_stale=V4, restart_time=60)
    assert rib.expire_stale(59.0) == 0
    assert rib.expire_stale(60.0) == 1
    assert rib.lookup(IPV4_UNICAST, prefix(1)) is None


def test_non_graceful_down_withdraws() -> None:
    rib = new_rib()
    src, dst = peer(1, 65001), peer(2, 65002)
    rib.peer_up(src, V4)
    rib.peer_up(dst, V4)
    send(rib, src, [prefix(1)], attrs(65001))
    drain(rib, dst)
    rib.peer_down("p1", now=0.0)
    assert withdrawn(drain(rib, dst)) == {prefix(1)}
    assert rib.prefix_count("p1", IPV4_UNICAST) == 0


def test_treat_as_withdraw() -> None:
    rib = new_rib()
    src = peer(1, 65001)
    rib.peer_up(src, V4)
    send(rib, src, [prefix(1)], attrs(65001))
    msg = update(src, [prefix(1)], attrs(65001, 7))
    problem = UpdateProblem(ErrorAction.TREAT_AS_WITHDRAW, 3, 1, 0, "AS_PATH", "bad")
    bad = replace(msg, problems=(problem,))
    assert isinstance(bad, UpdateMessage) and bad.action == ErrorAction.TREAT_AS_WITHDRAW
    rib.receive("p1", bad, 0.0)
    assert rib.prefix_count("p1", IPV4_UNICAST) == 0


def test_leases() -> None:
    rib = new_rib()
    dst = peer(2, 65002)
    rib.peer_up(dst, V4)
    drain(rib, dst)
    a = attrs()
    rib.announce(IPV4_UNICAST, prefix(1), None, a, now=0.0, lease=30)
    rib.announce(IPV4_UNICAST, prefix(2), None, a, now=0.0)
    assert set(announced(drain(rib, dst))) == {prefix(1), prefix(2)}
    rib.announce(IPV4_UNICAST, prefix(1), None, a, now=20.0, lease=30)  # renewed
    assert rib.expire_leases(40.0) == []
    assert drain(rib, dst) == []  # a renewal with the same route sends nothing
    assert rib.expire_leases(50.0) == [(IPV4_UNICAST, prefix(1))]
    assert withdrawn(drain(rib, dst)) == {prefix(1)}
    assert rib.withdraw(IPV4_UNICAST, prefix(2))
    assert not rib.withdraw(IPV4_UNICAST, prefix(2))
