"""A peer going down with a big table, ``peer_down(defer=True)``: its routes are withdrawn a
slice at a time by ``withdraw_dying`` (so that an event loop serves others between slices), with
the same end result as the immediate withdrawal; the peer is down at once, and its next session
never meets routes of the previous one."""

from __future__ import annotations

from bgpvpn.rib import Rib
from bgpvpn.rib.table import DYING_SLICE
from bgpvpn.wire.family import IPV4_UNICAST

from .helpers import attrs, drain, new_rib, peer, prefix, send, withdrawn

V4 = frozenset({IPV4_UNICAST})
N = 2 * DYING_SLICE + 5_000


def keys(n: int) -> list[bytes]:
    return [prefix(i & 255, i >> 8) for i in range(n)]


def _setup() -> tuple[Rib, list[bytes]]:
    rib = new_rib()
    src, dst = peer(1, 65001), peer(2, 65002)
    rib.peer_up(src, V4)
    rib.peer_up(dst, V4)
    all_keys = keys(N)
    for i in range(0, N, 1000):
        send(rib, src, all_keys[i : i + 1000], attrs(65001))
    drain(rib, dst)
    return rib, all_keys


def test_a_big_table_is_withdrawn_a_slice_at_a_time() -> None:
    rib, all_keys = _setup()
    assert len(list(rib.loc_rib(IPV4_UNICAST))) == N
    rib.peer_down("p1", 0.0, defer=True)
    assert rib.dying
    assert rib.prefix_count("p1", IPV4_UNICAST) == 0  # not the peer's any more
    assert rib.lookup(IPV4_UNICAST, all_keys[-1]) is not None  # still in the decision
    assert [rib.withdraw_dying() for _ in range(3)] == [DYING_SLICE, DYING_SLICE, 5_000]
    assert not rib.dying and rib.withdraw_dying() == 0
    assert list(rib.loc_rib(IPV4_UNICAST)) == []
    assert withdrawn(drain(rib, peer(2, 65002))) == set(all_keys)


def test_a_small_table_goes_at_once_and_without_defer_everything_does() -> None:
    rib = new_rib()
    src = peer(1, 65001)
    rib.peer_up(src, V4)
    send(rib, src, keys(100), attrs(65001))
    rib.peer_down("p1", 0.0, defer=True)
    assert not rib.dying and list(rib.loc_rib(IPV4_UNICAST)) == []
    rib2, _ = _setup()
    rib2.peer_down("p1", 0.0)
    assert not rib2.dying and list(rib2.loc_rib(IPV4_UNICAST)) == []


def test_the_next_session_finishes_what_is_left_first() -> None:
    rib, all_keys = _setup()
    rib.peer_down("p1", 0.0, defer=True)
    rib.withdraw_dying()
    src = peer(1, 65001)
    rib.peer_up(src, V4)  # back before the slices are done: the rest goes now
    assert not rib.dying
    assert list(rib.loc_rib(IPV4_UNICAST)) == []
    send(rib, src, all_keys[:10], attrs(65001, 65100))
    assert len(list(rib.loc_rib(IPV4_UNICAST))) == 10
    assert rib.prefix_count("p1", IPV4_UNICAST) == 10


def test_removing_the_peer_finishes_too() -> None:
    rib, _ = _setup()
    rib.peer_down("p1", 0.0, defer=True)
    rib.remove_peer("p1")
    assert not rib.dying and list(rib.loc_rib(IPV4_UNICAST)) == []


def _restarted(rib: Rib, all_keys: list[bytes], again: int) -> None:
    """p1 restarts gracefully (its routes kept stale), comes back and sends ``again`` of them."""
    rib.slice_withdrawals = True
    rib.peer_down("p1", 0.0, keep_stale=V4, restart_time=60)
    assert not rib.dying  # kept: nothing to withdraw
    src = peer(1, 65001)
    rib.peer_up(src, V4)
    send(rib, src, all_keys[:again], attrs(65001, 65100))


def test_a_big_stale_sweep_is_sliced_and_spares_what_comes_back_meanwhile() -> None:
    rib, all_keys = _setup()
    _restarted(rib, all_keys, 10)
    rib.end_of_rib("p1", IPV4_UNICAST)  # the rest is stale: swept a slice at a time
    assert rib.dying
    stale = [e for e in rib.adj_rib_in("p1", IPV4_UNICAST) if e.stale]
    assert len(stale) == N - 10  # still there, still stale, until their slice
    rib.withdraw_dying()
    # announced again between two slices: no longer stale, so no slice withdraws it
    late = all_keys[-1]
    send(rib, peer(1, 65001), [late], attrs(65001, 65100))
    while rib.dying:
        rib.withdraw_dying()
    left = {e.key for e in rib.loc_rib(IPV4_UNICAST)}
    assert left == {*all_keys[:10], late}
    assert not [e for e in rib.adj_rib_in("p1", IPV4_UNICAST) if e.stale]
    assert rib.next_deadline() is None  # the restart is over
    assert len(withdrawn(drain(rib, peer(2, 65002)))) == N - 11


def test_the_restart_time_running_out_sweeps_in_slices_too() -> None:
    rib, all_keys = _setup()
    _restarted(rib, all_keys, 5)
    assert rib.expire_stale(61.0) == N - 5
    assert rib.dying
    rib.expire_stale(62.0)  # nothing more to start: the sweep is under way
    while rib.dying:
        rib.withdraw_dying()
    assert {e.key for e in rib.loc_rib(IPV4_UNICAST)} == set(all_keys[:5])


def test_going_down_again_ends_a_sweep_under_way_first() -> None:
    rib, all_keys = _setup()
    _restarted(rib, all_keys, 10)
    rib.end_of_rib("p1", IPV4_UNICAST)
    rib.withdraw_dying()
    # a second graceful restart: the first sweep ends now, then what is left is kept stale
    rib.peer_down("p1", 0.0, keep_stale=V4, restart_time=60)
    assert not rib.dying
    entries = list(rib.adj_rib_in("p1", IPV4_UNICAST))
    assert {e.key for e in entries} == set(all_keys[:10]) and all(e.stale for e in entries)
