"""Graceful restart per family (RFC4724 4.2, receiving side): ``peer_down`` keeps stale only
the families the peer listed in its Graceful Restart capability and withdraws the others at
once; each kept family is swept by its own End-of-RIB or by the restart-time deadline."""

from __future__ import annotations

from bgpvpn.rib import ChangeKind, PeerInfo, Rib, RouteChange
from bgpvpn.wire import UpdateMessage, decode_message, end_of_rib
from bgpvpn.wire.family import IPV4_UNICAST, IPV6_UNICAST, VPNV4, Family

from .helpers import announced, attrs, drain, new_rib, peer, prefix, rt, send, withdrawn

LABEL = b"\x00\x01\x01"
V4_V6_VPN = frozenset({IPV4_UNICAST, IPV6_UNICAST, VPNV4})


def v6(n: int) -> bytes:
    return bytes((64, 0x20, 0x01, 0x0D, 0xB8, 0, n, 0, 0))  # 2001:db8:0:n::/64


def vpn(n: int) -> bytes:
    return bytes((24,)) + bytes((0, 0, 0xFD, 0xE8, 0, 0, 0, 1)) + bytes((10, 1, n))  # 10.1.n/24


def eor(family: Family) -> UpdateMessage:
    msg = decode_message(end_of_rib(family))
    assert isinstance(msg, UpdateMessage)
    return msg


def _rib_with_three_families() -> tuple[Rib, PeerInfo, PeerInfo]:
    rib = new_rib()
    src, dst = peer(1, 65001), peer(2, 65002)
    rib.peer_up(src, V4_V6_VPN)
    rib.peer_up(dst, V4_V6_VPN)
    send(rib, src, [prefix(1), prefix(2)], attrs(65001))
    v6attrs = attrs(65001, next_hop=bytes(15) + b"\x01")
    send(rib, src, [v6(1)], v6attrs, IPV6_UNICAST)
    vpn_attrs = attrs(65001, next_hop=bytes(8) + bytes((192, 0, 2, 100)), rts=(rt(1),))
    send(rib, src, [vpn(1)], vpn_attrs, VPNV4, [LABEL])
    drain(rib, dst)
    return rib, src, dst


def test_only_the_listed_families_stay_stale_the_others_go_at_once() -> None:
    rib, _src, dst = _rib_with_three_families()
    changes: list[RouteChange] = []
    rib.subscribe(VPNV4, None, changes.append, replay=False)
    rib.peer_down("p1", now=5.0, keep_stale={IPV4_UNICAST, IPV6_UNICAST}, restart_time=90)
    v4 = list(rib.adj_rib_in("p1", IPV4_UNICAST))
    assert len(v4) == 2 and all(e.stale for e in v4)
    assert [e.stale for e in rib.adj_rib_in("p1", IPV6_UNICAST)] == [True]
    assert list(rib.adj_rib_in("p1", VPNV4)) == []
    assert rib.lookup(VPNV4, vpn(1)) is None
    assert [c.kind for c in changes] == [ChangeKind.REMOVED]
    out = drain(rib, dst)
    assert withdrawn(out) == {vpn(1)}  # only the family outside the capability
    assert rib.next_deadline() == 95.0


def test_each_kept_family_is_swept_by_its_own_end_of_rib() -> None:
    rib, src, dst = _rib_with_three_families()
    rib.peer_down("p1", now=0.0, keep_stale={IPV4_UNICAST, IPV6_UNICAST}, restart_time=60)
    drain(rib, dst)
    rib.peer_up(src, V4_V6_VPN)
    send(rib, src, [prefix(1)], attrs(65001))
    rib.receive("p1", eor(IPV4_UNICAST), 1.0)
    assert {e.key for e in rib.adj_rib_in("p1", IPV4_UNICAST)} == {prefix(1)}
    assert not any(e.stale for e in rib.adj_rib_in("p1", IPV4_UNICAST))
    # ipv6 has not had its End-of-RIB: still there, still stale, the deadline still runs
    assert [e.stale for e in rib.adj_rib_in("p1", IPV6_UNICAST)] == [True]
    assert rib.next_deadline() == 60.0
    assert withdrawn(drain(rib, dst)) == {prefix(2)}
    assert rib.expire_stale(60.0) == 1
    assert list(rib.adj_rib_in("p1", IPV6_UNICAST)) == []
    assert rib.next_deadline() is None


def test_nothing_kept_withdraws_everything_and_sets_no_deadline() -> None:
    rib, _src, dst = _rib_with_three_families()
    rib.peer_down("p1", now=0.0, keep_stale=(), restart_time=60)
    for fam in V4_V6_VPN:
        assert rib.prefix_count("p1", fam) == 0
    assert withdrawn(drain(rib, dst)) == {prefix(1), prefix(2), v6(1), vpn(1)}
    assert rib.next_deadline() is None


def test_a_second_drop_before_end_of_rib_keeps_the_routes_stale_again() -> None:
    rib, src, dst = _rib_with_three_families()
    rib.peer_down("p1", now=0.0, keep_stale={IPV4_UNICAST}, restart_time=60)
    rib.peer_up(src, V4_V6_VPN)
    send(rib, src, [prefix(3)], attrs(65001))
    rib.peer_down("p1", now=30.0, keep_stale={IPV4_UNICAST}, restart_time=60)
    entries = list(rib.adj_rib_in("p1", IPV4_UNICAST))
    assert {e.key for e in entries} == {prefix(1), prefix(2), prefix(3)}
    assert all(e.stale for e in entries)
    assert rib.next_deadline() == 90.0
    assert set(announced(drain(rib, dst))) == {prefix(3)}
