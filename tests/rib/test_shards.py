"""The RIB's per-route tables are split into ``SHARDS`` dicts so that no single dict resize
stalls the event loop at a million routes: keys must spread over the shards (including aligned
prefixes and MAC-only E-VPN keys), every view must see every shard, and the split-horizon
short cut of the Adj-RIB-Out must not swallow a withdrawal."""

from __future__ import annotations

from bgpvpn.rib.table import SHARDS
from bgpvpn.wire.family import EVPN, IPV4_UNICAST

from .helpers import attrs, drain, new_rib, peer, send, withdrawn

V4 = frozenset({IPV4_UNICAST})


def _largest_shard(tables: list[dict[bytes, object]]) -> int:
    return max(len(d) for d in tables[:SHARDS])


def test_aligned_prefixes_spread_over_the_shards() -> None:
    rib = new_rib()
    src = peer(1, 65001)
    rib.peer_up(src, V4)
    # /20s: the last octet of every key is a multiple of 16 (one value of its low nibble)
    keys = [bytes((20, 10, n >> 4, (n & 15) << 4)) for n in range(4096)]
    for i in range(0, len(keys), 500):
        send(rib, src, keys[i : i + 500], attrs(65001))
    loc = rib._loc[IPV4_UNICAST]
    assert sum(len(d) for d in loc.best[:SHARDS]) == len(keys)
    assert _largest_shard(loc.best) <= 2 * len(keys) // SHARDS
    assert rib.prefix_count("p1", IPV4_UNICAST) == len(keys)
    assert sorted(e.key for e in rib.loc_rib(IPV4_UNICAST)) == sorted(keys)
    assert all(rib.lookup(IPV4_UNICAST, k) is not None for k in keys[::97])


def _mac_only_key(n: int) -> bytes:
    # type 2 | RD | tag | MAC length | MAC | IP length 0: every key ends in a zero octet
    mac = bytes((0x02, 0, 0, 0, n >> 8, n & 0xFF))
    return b"\x02" + bytes(8) + bytes(4) + b"\x30" + mac + b"\x00"


def test_mac_only_evpn_keys_spread_and_short_keys_work() -> None:
    rib = new_rib()
    a = attrs(next_hop=bytes((192, 0, 2, 9)))
    keys = [_mac_only_key(n) for n in range(2048)]
    for k in keys:
        rib.announce(EVPN, k, bytes(13), a, 0.0)
    loc = rib._loc[EVPN]
    assert _largest_shard(loc.best) <= 2 * len(keys) // SHARDS
    odd = b"\x09"  # an unknown route type with no body: a one-octet key
    rib.announce(EVPN, odd, b"", a, 0.0)
    assert rib.lookup(EVPN, odd) is not None
    assert rib.withdraw(EVPN, odd) and rib.lookup(EVPN, odd) is None
    assert len(list(rib.local_routes(EVPN))) == len(keys)


def test_ibgp_peer_gets_the_withdrawal_when_only_ibgp_paths_are_left() -> None:
    """The drain skips key slices that cannot produce anything for a peer (all sources iBGP,
    the peer iBGP, no reflection) only when nothing was sent to it before."""
    rib = new_rib()
    ext, intl, dst = peer(1, 65001), peer(2), peer(3)
    for p in (ext, intl, dst):
        rib.peer_up(p, V4)
        drain(rib, p)
    key = bytes((24, 10, 0, 1))
    send(rib, intl, [key], attrs(local_pref=50))
    send(rib, ext, [key], attrs(65001))  # eBGP path wins (default LOCAL_PREF 100 > 50)
    assert key in {k for m in drain(rib, dst) for b in m.announced for k in b.keys}
    rib.peer_down("p1", 0.0)  # best is now the iBGP path: not for an iBGP peer
    assert withdrawn(drain(rib, dst)) == {key}
    assert list(rib.adj_rib_out("p3", IPV4_UNICAST)) == []
