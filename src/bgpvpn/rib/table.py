"""The RIB: Adj-RIB-In per peer, Loc-RIB with best path per destination, Adj-RIB-Out per peer.

Storage (no object per route): per (source, family) an ``_AdjIn`` holding two parallel tables,
wire-form key -> interned ``PathAttributes`` and key -> data; the Loc-RIB of a family maps each
key to the ``_AdjIn`` its best path lives in. A peer that sends ADD-PATH (RFC7911) path
identifiers for a family gets "lanes" instead: ``_AdjIn`` tables that also map each key to its
path identifier, at most one path of a key in each lane, so every (path id, key) is a path of
its own and the decision process needs no change. Adj-RIB-Out is lazy: the Loc-RIB appends changed
keys to one change log per family, shared by every peer; each peer keeps a cursor in it and
computes its exports only when the session asks (``outbound``).

Every per-route table is ``SHARDS`` dicts: a dict that grows past its size rehashes all its
entries in one go (tens of milliseconds at a million, with the event loop blocked), so no dict
here holds more than a shard's share of a table. A key's shard comes from its last octet (for
E-VPN the last two, as a MAC-only type-2 key ends in a zero IP length), folded from 256 to
``SHARDS`` values: ``hash(key)`` would spread as well but costs ~100 ns a route more (a 64-bit
int made and masked), a fifth of the RIB's per-route time. A table is a list of 256 references
(one per octet value) to its ``SHARDS`` dicts, so the hot loops index it with the octet directly;
its first ``SHARDS`` entries are the dicts themselves, each once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from bgpvpn.rib.decision import MULTIPATH_LAST_STEP, Policy, Reason, compare
from bgpvpn.rib.rtc import DEFAULT, Memberships, Value, matches_any, membership_key
from bgpvpn.wire.attributes import AsPath, PathAttributes
from bgpvpn.wire.constants import AsPathSegmentType
from bgpvpn.wire.context import WireContext
from bgpvpn.wire.errors import ErrorAction
from bgpvpn.wire.family import (
    EVPN,
    IPV4_LU,
    IPV6_LU,
    RTC,
    VPNV4,
    VPNV4_FLOWSPEC,
    VPNV6,
    VPNV6_FLOWSPEC,
    Family,
)
from bgpvpn.wire.update import UpdateMessage, end_of_rib, pack_updates

PeerId = str
LOCAL_PEER: PeerId = "local"

# Families whose routes a peer that negotiated RTC only gets for route targets it asked for.
RTC_FILTERED: frozenset[Family] = frozenset({VPNV4, VPNV6, EVPN, VPNV4_FLOWSPEC, VPNV6_FLOWSPEC})
# Families whose NLRI carry a data part besides the key (labels, ESI...).
_DATA_FAMILIES: frozenset[Family] = frozenset({VPNV4, VPNV6, EVPN, IPV4_LU, IPV6_LU})
_CACHE_MAX = 100_000
SHARDS = 16  # dicts per per-route table (a power of two, at most 16)
# routes of a down peer withdrawn per ``withdraw_dying`` call (~13 ms of a loop step)
DYING_SLICE = 20_000
_FOLD = tuple((b ^ (b >> 4)) & (SHARDS - 1) for b in range(256))  # octet -> shard; b < 16 -> b
_WIDE: frozenset[Family] = frozenset({EVPN})  # families whose shard octet is last ^ last-but-one
_MISS = PathAttributes()  # sentinel: not in a cache


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A peer as the RIB sees it. ``address`` and ``local_address`` are 4 or 16 octets;
    ``local_address`` is our address on that session (the next hop we put on next-hop-self)."""

    peer_id: PeerId
    address: bytes
    asn: int
    router_id: bytes
    ibgp: bool
    local_address: bytes
    rr_client: bool = False
    next_hop_self: bool = False


@dataclass(frozen=True, slots=True)
class RouteEntry:
    """A view of one route (built on demand for the API; the RIB holds no such object)."""

    family: Family
    key: bytes
    data: bytes | None
    attributes: PathAttributes
    peer_id: PeerId
    best: bool = False
    reason: str = ""
    stale: bool = False
    multipath: bool = False
    path_id: int | None = None  # the ADD-PATH path identifier the peer gave it (RFC7911)


class ChangeKind(Enum):
    ADDED = "added"
    REPLACED = "replaced"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class RouteChange:
    """A best-path change given to subscribers: ``route`` is the new best (None when removed),
    ``previous`` the one it replaces (None when added), ``paths`` the ECMP set when the RIB does
    multipath (else just ``route``)."""

    kind: ChangeKind
    family: Family
    key: bytes
    route: RouteEntry | None
    previous: RouteEntry | None
    paths: tuple[RouteEntry, ...] = ()


Callback = Callable[[RouteChange], None]
# subscribe_raw: (kind, key, attributes, data, peer id, previous attributes, previous data,
# previous peer id); the new route's fields are None when removed, the previous's when added
RawCallback = Callable[
    [
        ChangeKind,
        bytes,
        PathAttributes | None,
        bytes | None,
        PeerId | None,
        PathAttributes | None,
        bytes | None,
        PeerId | None,
    ],
    None,
]


@dataclass(eq=False, slots=True)
class Subscription:
    family: Family
    route_target: bytes | None
    callback: Callback
    raw: RawCallback | None = None  # set by subscribe_raw (then ``callback`` is unused)


_ADDED = ChangeKind.ADDED


def _no_callback(change: RouteChange) -> None:  # a raw subscription's ``callback``
    raise AssertionError("raw subscription")


class _Peer:
    """A source of routes (a peer, or ``local`` for routes we originate) and, for peers, the
    session state of its Adj-RIB-Out."""

    __slots__ = (
        "add_path_tx",
        "address",
        "adj_in",
        "export_cache",
        "families",
        "ibgp",
        "info",
        "interned",
        "lanes",
        "local",
        "memberships",
        "out",
        "peer_id",
        "router_id",
        "rr_client",
        "rtc_wait",
        "stale_deadline",
        "up",
    )

    def __init__(self, peer_id: PeerId, local: bool = False) -> None:
        self.peer_id = peer_id
        self.local = local
        self.ibgp = False
        self.rr_client = False
        self.router_id = b""
        self.address = b""
        self.info: PeerInfo | None = None
        self.up = False
        self.families: frozenset[Family] = frozenset()
        self.add_path_tx: frozenset[Family] = frozenset()
        self.adj_in: dict[Family, _AdjIn] = {}  # routes without path identifiers
        self.lanes: dict[Family, list[_AdjIn]] = {}  # ADD-PATH routes: see _receive_paths
        self.out: dict[Family, _AdjOut] = {}
        self.memberships: Memberships | None = None
        # RFC4684 6: until the peer's RT membership End-of-RIB, the End-of-RIB of the families
        # it filters by RT waits (their routes go out as memberships arrive); else a restarted
        # peer would sweep our stale routes before the memberships let them through
        self.rtc_wait = False
        self.export_cache: dict[_Peer, dict[PathAttributes, PathAttributes | None]] = {}
        self.interned: dict[PathAttributes, PathAttributes] = {}
        self.stale_deadline: float | None = None


_T = TypeVar("_T")
Shards = list[dict[bytes, _T]]


def _shards() -> list[dict[bytes, Any]]:
    """A per-route table: 256 references (indexed by a key's shard octet) to ``SHARDS`` dicts."""
    dicts: list[dict[bytes, Any]] = [{} for _ in range(SHARDS)]
    return [dicts[f] for f in _FOLD]


def _octet(key: bytes, wide: bool) -> int:
    """The index of ``key`` in a table of its family (``wide``: the family is in ``_WIDE``)."""
    if wide and len(key) > 1:
        return key[-1] ^ key[-2]
    return key[-1]


def _present(keys: Iterable[bytes], adj: _AdjIn, present: bool) -> list[bytes]:
    """The distinct ``keys`` that ``adj`` holds (``present``) or does not hold."""
    return [k for k in dict.fromkeys(keys) if (k in adj) is present]


def _keys(shards: Shards[_T]) -> list[bytes]:
    out: list[bytes] = []
    for d in shards[:SHARDS]:
        out.extend(d)
    return out


def _size(shards: Shards[_T]) -> int:
    return sum(map(len, shards[:SHARDS]))


class _AdjIn:
    __slots__ = ("attrs", "data", "peer", "pids", "stale", "wide")

    def __init__(self, peer: _Peer, wide: bool, lane: bool = False) -> None:
        self.peer = peer
        self.wide = wide
        self.attrs: Shards[PathAttributes] = _shards()
        self.data: Shards[bytes] = _shards()
        self.stale: set[bytes] | None = None
        # ADD-PATH lane: key -> the path identifier of its path in this lane
        self.pids: Shards[int] | None = _shards() if lane else None

    def path_id(self, key: bytes) -> int | None:
        pids = self.pids
        return pids[_octet(key, self.wide)].get(key) if pids is not None else None

    def get(self, key: bytes) -> PathAttributes | None:
        return self.attrs[_octet(key, self.wide)].get(key)

    def attrs_of(self, key: bytes) -> PathAttributes:
        return self.attrs[_octet(key, self.wide)][key]

    def data_of(self, key: bytes) -> bytes | None:
        return self.data[_octet(key, self.wide)].get(key)

    def __contains__(self, key: bytes) -> bool:
        return key in self.attrs[_octet(key, self.wide)]

    def __len__(self) -> int:
        return _size(self.attrs)

    def key_list(self) -> list[bytes]:
        return _keys(self.attrs)

    def values(self) -> Iterator[PathAttributes]:
        for d in self.attrs[:SHARDS]:
            yield from d.values()


# what was sent of one destination to an ADD-PATH peer: path identifier -> (attributes, data)
SentPaths = dict[int, tuple[PathAttributes, bytes | None]]


class _AdjOut:
    """What was sent to a peer in one family: the best path of each destination (``attrs``,
    ``data``), or with ADD-PATH send (``paths`` not None) every path, by path identifier."""

    __slots__ = ("attrs", "cursor", "data", "eor_sent", "paths", "sync", "sync_pos", "wide")

    def __init__(self, cursor: int, sync: list[bytes], wide: bool, all_paths: bool = False) -> None:
        self.wide = wide
        self.attrs: Shards[PathAttributes] = _shards()
        self.data: Shards[bytes] = _shards()
        self.paths: Shards[SentPaths] | None = _shards() if all_paths else None
        self.cursor = cursor
        self.sync: list[bytes] | None = sync
        self.sync_pos = 0
        self.eor_sent = False

    def clear(self) -> None:
        for a in self.attrs[:SHARDS]:
            a.clear()
        for d in self.data[:SHARDS]:
            d.clear()
        for p in self.paths[:SHARDS] if self.paths is not None else ():
            p.clear()

    def sent_keys(self) -> list[bytes]:
        return _keys(self.attrs) if self.paths is None else _keys(self.paths)

    def sent_attrs(self) -> Iterator[tuple[bytes, PathAttributes]]:
        """(destination, attributes) of every path sent (several per destination with
        ADD-PATH)."""
        if self.paths is None:
            for shard in self.attrs[:SHARDS]:
                yield from shard.items()
            return
        for pshard in self.paths[:SHARDS]:
            for key, sent in pshard.items():
                for attrs, _data in sent.values():
                    yield key, attrs


class _LocRib:
    __slots__ = (
        "all_paths",
        "base",
        "best",
        "last_attrs",
        "log",
        "next_path_id",
        "path_ids",
        "readers",
        "rts_seen",
        "sources",
        "subs",
        "subs_version",
        "wide",
    )

    def __init__(self, wide: bool) -> None:
        self.wide = wide
        self.best: Shards[_AdjIn] = _shards()
        self.sources: list[_AdjIn] = []
        self.log: list[bytes] = []
        self.base = 0
        self.readers: list[_AdjOut] = []
        # readers that take every path (ADD-PATH send): while there are any, a change of a path
        # that is not the best is logged too
        self.all_paths = 0
        # the path identifier each source's paths are sent with to ADD-PATH peers (stable for
        # the source's life; a source is a peer's table, or one ADD-PATH lane of it)
        self.path_ids: dict[_AdjIn, int] = {}
        self.next_path_id = 1
        self.subs: dict[bytes | None, list[Subscription]] = {}
        self.subs_version = 0  # counts the changes of ``subs`` (what was derived from it is old)
        # every route target a route of this family has carried (only grows): a subscription
        # to one never seen has nothing to replay, so it skips the scan of the table. Kept per
        # block of routes (an UPDATE's routes share one attribute set), not per route.
        self.rts_seen: set[bytes] = set()
        self.last_attrs: PathAttributes | None = None

    def saw(self, rts: tuple[bytes, ...]) -> None:
        self.rts_seen.update(rts)

    def may_hold(self, route_target: bytes | None) -> bool:
        """Whether a best path may carry ``route_target`` (None: any route)."""
        return route_target is None or route_target in self.rts_seen

    def best_of(self, key: bytes) -> _AdjIn | None:
        return self.best[_octet(key, self.wide)].get(key)

    def best_items(self) -> list[tuple[bytes, _AdjIn]]:
        out: list[tuple[bytes, _AdjIn]] = []
        for d in self.best[:SHARDS]:
            out.extend(d.items())
        return out


def _tables(peer: _Peer) -> list[tuple[Family, _AdjIn]]:
    """Every Adj-RIB-In table of a peer: the plain one and the ADD-PATH lanes of each family."""
    out = list(peer.adj_in.items())
    for fam, lanes in peer.lanes.items():
        out.extend((fam, lane) for lane in lanes)
    return out


def _path_id_wins(a: _AdjIn, b: _AdjIn, h: int, key: bytes) -> bool:
    """The tie-break of two equal paths from the same peer (ADD-PATH lanes): the lower path
    identifier wins (a path without one counts as 0)."""
    pa, pb = a.pids, b.pids
    return (pa[h].get(key, 0) if pa is not None else 0) < (
        pb[h].get(key, 0) if pb is not None else 0
    )


def _may_export(peer: _Peer, src: _Peer) -> bool:
    """Whether any route from ``src`` can be sent to ``peer`` (the same rule as ``_export_attrs``:
    iBGP-learned routes go to iBGP peers only through route reflection)."""
    return not (src.ibgp and peer.ibgp and not (src.rr_client or peer.rr_client))


def _strip_confed(path: AsPath | None) -> AsPath:
    if path is None:
        return AsPath()
    segs = tuple(
        s
        for s in path.segments
        if s[0] not in (AsPathSegmentType.AS_CONFED_SEQUENCE, AsPathSegmentType.AS_CONFED_SET)
    )
    return path if len(segs) == len(path.segments) else AsPath(segs)


class Rib:
    """See the package docstring for the API."""

    def __init__(
        self,
        local_asn: int,
        router_id: bytes,
        cluster_id: bytes | None = None,
        rtc: bool = True,
        multipath: bool = False,
        default_local_pref: int = 100,
        always_compare_med: bool = False,
        advertise_default_membership: bool = False,
    ) -> None:
        self.local_asn = local_asn
        self.router_id = router_id
        self.cluster_id = cluster_id if cluster_id is not None else router_id
        self.rtc = rtc
        self.multipath = multipath
        self.policy = Policy(default_local_pref, always_compare_med)
        self.advertise_default_membership = advertise_default_membership
        self._peers: dict[PeerId, _Peer] = {}
        self._local = _Peer(LOCAL_PEER, local=True)
        self._local.router_id = router_id
        self._loc: dict[Family, _LocRib] = {}
        # big withdrawals done a slice at a time (``withdraw_dying``): the tables of peers that
        # went down (``peer_down(defer=True)``) and stale sweeps (``sweep``: the table stays,
        # only keys still stale go): (family, table, its keys, position, sweep)
        self._dying: list[tuple[Family, _AdjIn, list[bytes], int, bool]] = []
        # set by a caller that runs ``withdraw_dying`` (the speaker): peer_down's default, and
        # whether big stale sweeps (End-of-RIB, expiry) are left to it
        self.slice_withdrawals = False
        self._accept_cache: dict[PathAttributes, bool] = {}
        self._rt_cache: dict[PathAttributes, tuple[bytes, ...]] = {}
        self._rt_last: tuple[PathAttributes, tuple[bytes, ...]] = (_MISS, ())
        self._leases: dict[tuple[Family, bytes], float] = {}
        self._local_rts: set[bytes | None] = set()
        self._rtc_attrs = PathAttributes(origin=0, as_path=AsPath())
        if rtc and advertise_default_membership:
            self.set_local_memberships(())

    # ---------------------------------------------------------------- plumbing

    def _locrib(self, family: Family) -> _LocRib:
        loc = self._loc.get(family)
        if loc is None:
            loc = self._loc[family] = _LocRib(family in _WIDE)
        return loc

    def _adj(self, peer: _Peer, family: Family) -> _AdjIn:
        adj = peer.adj_in.get(family)
        if adj is None:
            adj = peer.adj_in[family] = _AdjIn(peer, family in _WIDE)
            self._locrib(family).sources.append(adj)
        return adj

    def _accept(self, attrs: PathAttributes) -> bool:
        """Loop checks of a received attribute set: our AS in the AS_PATH (RFC4271 9.1.2), our
        router id as ORIGINATOR_ID or our cluster id in CLUSTER_LIST (RFC4456 8)."""
        ok = self._accept_cache.get(attrs)
        if ok is None:
            path = attrs.as_path
            ok = not (
                (path is not None and self.local_asn in path.asns())
                or attrs.originator_id == self.router_id
                or self.cluster_id in attrs.cluster_list
            )
            if len(self._accept_cache) >= _CACHE_MAX:
                self._accept_cache.clear()
            self._accept_cache[attrs] = ok
        return ok

    def _route_targets(self, attrs: PathAttributes) -> tuple[bytes, ...]:
        last = self._rt_last  # the routes of an UPDATE share one attribute set
        if last[0] is attrs:
            return last[1]
        rts = self._rt_cache.get(attrs)
        if rts is None:
            rts = attrs.route_targets
            if len(self._rt_cache) >= _CACHE_MAX:
                self._rt_cache.clear()
            self._rt_cache[attrs] = rts
        self._rt_last = (attrs, rts)
        return rts

    # ---------------------------------------------------------------- peers

    def peer_up(
        self,
        info: PeerInfo,
        families: frozenset[Family],
        add_path_tx: frozenset[Family] = frozenset(),
    ) -> None:
        """The session with ``info.peer_id`` is established with these negotiated families:
        its Adj-RIB-Out starts the initial sync of each (End-of-RIB follows it). Stale routes
        kept from a graceful restart stay until ``end_of_rib`` or ``expire_stale``; those of a
        family no longer negotiated go now."""
        peer = self._peers.get(info.peer_id)
        if peer is None:
            peer = self._peers[info.peer_id] = _Peer(info.peer_id)
        elif peer.up:
            self.peer_down(info.peer_id, 0.0)
        self._finish_dying(peer)  # its previous session's routes never meet its new ones
        peer.info = info
        peer.ibgp = info.ibgp
        peer.rr_client = info.rr_client
        peer.router_id = info.router_id
        peer.address = info.address
        peer.families = families
        peer.add_path_tx = add_path_tx
        peer.up = True
        for p in self._peers.values():  # router ids feed ORIGINATOR_ID: recompute exports
            p.export_cache.clear()
            p.interned.clear()
        for fam, adj in _tables(peer):
            if fam not in families and adj.stale is not None:
                self._sweep(peer, fam, adj)
        peer.memberships = None
        peer.rtc_wait = False
        if self.rtc and RTC in families:
            peer.memberships = Memberships(self._rtc_keys(peer))
            peer.rtc_wait = True
        peer.out = {}
        for fam in sorted(families, key=lambda f: (f != RTC, f)):  # RT memberships first
            loc = self._locrib(fam)
            all_paths = fam in add_path_tx
            ao = _AdjOut(loc.base + len(loc.log), _keys(loc.best), fam in _WIDE, all_paths)
            peer.out[fam] = ao
            loc.readers.append(ao)
            loc.all_paths += all_paths

    def peer_down(
        self,
        peer_id: PeerId,
        now: float,
        keep_stale: Iterable[Family] = (),
        restart_time: float = 0,
        defer: bool | None = None,
    ) -> None:
        """The session went down. Its routes of the families in ``keep_stale`` stay in use,
        marked stale, until the peer comes back and sends End-of-RIB for the family, or
        ``now + restart_time`` passes (``expire_stale``); its routes of every other family are
        withdrawn now. RFC4724 4.2, receiving side: after a session ended without a
        NOTIFICATION, ``keep_stale`` is the families the peer listed in its Graceful Restart
        capability (empty otherwise: everything goes).

        ``defer`` (None: ``slice_withdrawals``): the withdrawal of a table of more than
        ``DYING_SLICE`` routes is left to
        ``withdraw_dying`` (a slice per call, so that a caller in an event loop serves others
        between slices: a million routes take ~0.3 s in all); until then they still count in the
        decision, as the routes of a big withdrawal not read yet would. The peer is down at once:
        its tables are not its own any more, and ``peer_up`` finishes them first."""
        peer = self._peers[peer_id]
        if defer is None:
            defer = self.slice_withdrawals
        self._finish_dying(peer)  # a sweep under way ends before its table is marked stale again
        self._drop_out(peer)
        peer.up = False
        peer.memberships = None
        keep = frozenset(keep_stale)
        for fam, adj in _tables(peer):
            if fam in keep:
                adj.stale = set(adj.key_list())
                continue
            if defer and len(adj) > DYING_SLICE:
                self._dying.append((fam, adj, adj.key_list(), 0, False))
                continue
            self._withdraw_keys(adj, fam, adj.key_list())
            self._forget_source(fam, adj)
        for tables in (peer.adj_in, peer.lanes):
            for fam in [f for f in tables if f not in keep]:
                del tables[fam]
        peer.stale_deadline = now + restart_time if peer.adj_in or peer.lanes else None

    def _forget_source(self, fam: Family, adj: _AdjIn) -> None:
        loc = self._locrib(fam)
        loc.sources.remove(adj)
        loc.path_ids.pop(adj, None)

    @property
    def dying(self) -> bool:
        """Whether routes of peers that went down wait for ``withdraw_dying``."""
        return bool(self._dying)

    def withdraw_dying(self, limit: int = DYING_SLICE) -> int:
        """Withdraw up to ``limit`` routes of the tables ``peer_down(defer=True)`` left; the
        number withdrawn."""
        done = 0
        while self._dying and done < limit:
            fam, adj, keys, pos, sweep = self._dying[0]
            end = min(len(keys), pos + limit - done)
            self._withdraw_slice(fam, adj, keys[pos:end], sweep)
            done += end - pos
            if end < len(keys):
                self._dying[0] = (fam, adj, keys, end, sweep)
            else:
                self._dying.pop(0)
                self._dead(fam, adj, sweep)
        return done

    def _withdraw_slice(self, fam: Family, adj: _AdjIn, keys: list[bytes], sweep: bool) -> None:
        if sweep:  # a key announced again since the sweep began is not stale any more
            stale = adj.stale or ()
            keys = [k for k in keys if k in stale]
        self._withdraw_keys(adj, fam, keys)

    def _dead(self, fam: Family, adj: _AdjIn, sweep: bool) -> None:
        """The end of a sliced withdrawal: a down peer's table leaves the decision; a swept
        one has no stale route left."""
        if not sweep:
            self._forget_source(fam, adj)
            return
        adj.stale = None
        peer = adj.peer
        if fam == RTC:
            self._memberships_changed(peer)
        if all(a.stale is None for _, a in _tables(peer)):
            peer.stale_deadline = None

    def _finish_dying(self, peer: _Peer) -> None:
        """Withdraw now what is left of ``peer``'s sliced withdrawals."""
        left = []
        for fam, adj, keys, pos, sweep in self._dying:
            if adj.peer is peer:
                self._withdraw_slice(fam, adj, keys[pos:], sweep)
                self._dead(fam, adj, sweep)
            else:
                left.append((fam, adj, keys, pos, sweep))
        self._dying = left

    def _drop_out(self, peer: _Peer) -> None:
        for fam, ao in peer.out.items():
            loc = self._locrib(fam)
            loc.readers.remove(ao)
            loc.all_paths -= ao.paths is not None
            self._trim(loc)
        peer.out = {}

    def remove_peer(self, peer_id: PeerId) -> None:
        """Forget a peer entirely (its routes withdrawn, stale or not)."""
        if peer_id in self._peers:
            self.peer_down(peer_id, 0.0)
            gone = self._peers.pop(peer_id)
            self._finish_dying(gone)
            gone.export_cache.clear()
            gone.interned.clear()
            for p in self._peers.values():  # no reference cycle is left behind (GcPolicy)
                p.export_cache.pop(gone, None)

    # ---------------------------------------------------------------- receiving

    def receive(self, peer_id: PeerId, update: UpdateMessage, now: float) -> None:
        """Apply a decoded UPDATE from a peer. RFC7606: treat-as-withdraw withdraws every route
        it announces; an UPDATE calling for a session reset is ignored (the session resets)."""
        peer = self._peers[peer_id]
        action = update.action
        if action == ErrorAction.SESSION_RESET:
            return
        eor = update.end_of_rib
        if eor is not None:
            self.end_of_rib(peer_id, eor)
            return
        for block in update.withdrawn:
            if block.keys:
                if block.path_ids is not None:
                    self._receive_paths(peer, block.family, block.keys, None, block.path_ids, None)
                    if block.family == RTC:
                        self._memberships_changed(peer)
                    continue
                adj = self._adj(peer, block.family)
                gone = _present(block.keys, adj, True) if block.family == RTC else []
                self._withdraw_keys(adj, block.family, block.keys)
                if gone:
                    self._memberships_delta(peer, (), gone)
        for block in update.announced:
            if not block.keys:
                continue
            fam = block.family
            attrs = block.attributes
            if action == ErrorAction.TREAT_AS_WITHDRAW or attrs is None or not self._accept(attrs):
                attrs = None
            if block.path_ids is not None:
                self._receive_paths(peer, fam, block.keys, block.data, block.path_ids, attrs)
                if fam == RTC:
                    self._memberships_changed(peer)
                continue
            adj = self._adj(peer, fam)
            if fam == RTC:  # the membership routes that appear or go (a re-announce is neither)
                if attrs is None:
                    old, new = _present(block.keys, adj, True), []
                else:
                    old, new = [], _present(block.keys, adj, False)
            if attrs is None:
                self._withdraw_keys(adj, fam, block.keys)
            else:
                self._announce_keys(adj, fam, block.keys, block.data, attrs)
            if fam == RTC and (old or new):
                self._memberships_delta(peer, new, old)

    def _receive_paths(
        self,
        peer: _Peer,
        family: Family,
        keys: tuple[bytes, ...],
        datas: tuple[bytes, ...] | None,
        path_ids: tuple[int, ...],
        attrs: PathAttributes | None,
    ) -> None:
        """ADD-PATH routes (RFC7911): announce (``attrs``) or withdraw (None) each (path id,
        key) as a path of its own. The peer's paths of a family live in lanes, each an
        ``_AdjIn`` source of the Loc-RIB holding at most one path per key: a path stays in the
        lane that holds its (key, path id); a new one goes to the first lane without that key
        (a new lane when every lane has one). Withdrawing a path id touches only its lane."""
        lanes = peer.lanes.get(family)
        if lanes is None:
            lanes = peer.lanes[family] = []
        wide = family in _WIDE
        groups: dict[int, tuple[list[bytes], list[bytes]]] = {}
        for i, key in enumerate(keys):
            pid = path_ids[i]
            h = _octet(key, wide)
            target = -1
            free = -1
            for n, lane in enumerate(lanes):
                held = lane.pids[h].get(key)  # type: ignore[index]
                if held == pid:
                    target = n
                    break
                if held is None and free < 0:
                    free = n
            if target < 0:
                if attrs is None:
                    continue  # a path we do not hold
                if free < 0:
                    free = len(lanes)
                    lane = _AdjIn(peer, wide, lane=True)
                    lanes.append(lane)
                    self._locrib(family).sources.append(lane)
                target = free
                lanes[target].pids[h][key] = pid  # type: ignore[index]
            group = groups.get(target)
            if group is None:
                group = groups[target] = ([], [])
            group[0].append(key)
            if datas is not None:
                group[1].append(datas[i])
        for n, (gkeys, gdata) in groups.items():
            if attrs is None:
                self._withdraw_keys(lanes[n], family, gkeys)
            else:
                self._announce_keys(
                    lanes[n], family, gkeys, tuple(gdata) if datas is not None else None, attrs
                )

    def end_of_rib(self, peer_id: PeerId, family: Family) -> None:
        """The peer finished sending ``family``: stale routes it did not re-announce go."""
        peer = self._peers[peer_id]
        if family == RTC:
            peer.rtc_wait = False  # our End-of-RIBs of the RT-filtered families can go
        tables = _tables(peer)
        for fam, adj in tables:
            if fam == family and adj.stale is not None:
                self._sweep(peer, family, adj)
        if all(a.stale is None for _, a in tables):
            peer.stale_deadline = None

    def expire_stale(self, now: float) -> int:
        """Sweep the stale routes of peers whose restart time has passed; the number removed."""
        n = 0
        for peer in list(self._peers.values()):
            if peer.stale_deadline is not None and peer.stale_deadline <= now:
                for fam, adj in _tables(peer):
                    if adj.stale is not None:
                        n += len(adj.stale)
                        self._sweep(peer, fam, adj)
                peer.stale_deadline = None
        return n

    def _sweep(self, peer: _Peer, family: Family, adj: _AdjIn) -> None:
        stale = adj.stale
        if any(d[1] is adj for d in self._dying):
            return  # already being swept
        if self.slice_withdrawals and stale and len(stale) > DYING_SLICE:
            # a slice at a time (``withdraw_dying``); the routes stay stale until their slice
            self._dying.append((family, adj, list(stale), 0, True))
            return
        adj.stale = None
        if stale:
            self._withdraw_keys(adj, family, list(stale))
            if family == RTC:
                self._memberships_changed(peer)

    # ---------------------------------------------------------------- the hot path

    def _announce_keys(
        self,
        adj: _AdjIn,
        family: Family,
        keys: tuple[bytes, ...] | list[bytes],
        datas: tuple[bytes, ...] | tuple[bytes | None, ...] | None,
        attrs: PathAttributes,
    ) -> None:
        loc = self._locrib(family)
        if loc.last_attrs is not attrs:
            loc.last_attrs = attrs
            loc.saw(self._route_targets(attrs))
        bests = loc.best
        attr_shards = adj.attrs
        data_shards = adj.data
        stale = adj.stale
        peer = adj.peer
        policy = self.policy
        log = loc.log if loc.readers else None
        log_all = log if loc.all_paths else None  # ADD-PATH readers: every path's change
        notify = bool(loc.subs)
        multi = len(loc.sources) > 1
        wide = loc.wide
        pid = peer.peer_id
        # the raw callbacks of a new destination (derived once per block, see _added_callbacks)
        added: list[RawCallback] | None = None
        added_version = -1
        d: bytes | None = None
        for i, key in enumerate(keys):
            if datas is not None:
                d = datas[i]
            if stale:
                stale.discard(key)
            h = key[-1]  # _octet(), inlined
            if wide and len(key) > 1:
                h ^= key[-2]
            best = bests[h]
            a_attrs = attr_shards[h]
            a_data = data_shards[h]
            cur = best.get(key)
            if cur is None:
                a_attrs[key] = attrs
                if d is not None:
                    a_data[key] = d
                elif a_data:
                    a_data.pop(key, None)
                best[key] = adj
                if log is not None:
                    log.append(key)
                if notify:
                    if added_version != loc.subs_version:
                        added_version = loc.subs_version
                        added = self._added_callbacks(loc, attrs)
                    if added is None:
                        self._notify(loc, family, key, None, None, None)
                    else:
                        for raw in added:
                            raw(_ADDED, key, attrs, d, pid, None, None, None)
            elif cur is adj:
                old = a_attrs[key]
                old_d = a_data.get(key)
                if old is attrs and old_d == d:
                    continue
                a_attrs[key] = attrs
                if d is not None:
                    a_data[key] = d
                elif a_data:
                    a_data.pop(key, None)
                if multi:
                    self._recompute(loc, key)
                if log is not None:
                    log.append(key)
                if notify:
                    self._notify(loc, family, key, adj, old, old_d)
            else:
                a_attrs[key] = attrs
                if d is not None:
                    a_data[key] = d
                elif a_data:
                    a_data.pop(key, None)
                c_attrs = cur.attrs[h][key]
                c = compare(attrs, peer, c_attrs, cur.peer, policy)[0]
                if c < 0 or (c == 0 and cur.peer is peer and _path_id_wins(adj, cur, h, key)):
                    best[key] = adj
                    if log is not None:
                        log.append(key)
                    if notify:
                        self._notify(loc, family, key, cur, c_attrs, cur.data[h].get(key))
                else:
                    if log_all is not None:
                        log_all.append(key)
                    if notify and self.multipath:
                        self._notify(loc, family, key, cur, c_attrs, cur.data[h].get(key))

    def _withdraw_keys(
        self, adj: _AdjIn, family: Family, keys: tuple[bytes, ...] | list[bytes]
    ) -> None:
        loc = self._locrib(family)
        bests = loc.best
        attr_shards = adj.attrs
        data_shards = adj.data
        stale = adj.stale
        log = loc.log if loc.readers else None
        log_all = log if loc.all_paths else None
        notify = bool(loc.subs)
        multi = len(loc.sources) > 1
        wide = loc.wide
        for key in keys:
            h = key[-1]  # _octet(), inlined
            if wide and len(key) > 1:
                h ^= key[-2]
            old = attr_shards[h].pop(key, None)
            if old is None:
                continue
            old_d = data_shards[h].pop(key, None)
            if stale:
                stale.discard(key)
            best = bests[h]
            if best.get(key) is adj:
                if multi:
                    self._recompute(loc, key)
                else:
                    del best[key]
                if log is not None:
                    log.append(key)
                if notify:
                    self._notify(loc, family, key, adj, old, old_d)
            else:
                if log_all is not None:
                    log_all.append(key)
                if notify and self.multipath:
                    cur = best[key]
                    self._notify(loc, family, key, cur, cur.attrs[h][key], cur.data[h].get(key))
        pids = adj.pids
        if pids is not None:  # an ADD-PATH lane: the withdrawn keys free their place in it
            for key in keys:
                if key not in adj:
                    pids[_octet(key, wide)].pop(key, None)

    def _recompute(self, loc: _LocRib, key: bytes) -> None:
        winner: _AdjIn | None = None
        wa = _MISS
        policy = self.policy
        h = _octet(key, loc.wide)
        for src in loc.sources:
            a = src.attrs[h].get(key)
            if a is None:
                continue
            if winner is None:
                winner, wa = src, a
                continue
            c = compare(a, src.peer, wa, winner.peer, policy)[0]
            if c < 0 or (c == 0 and src.peer is winner.peer and _path_id_wins(src, winner, h, key)):
                winner, wa = src, a
        if winner is None:
            loc.best[h].pop(key, None)
        else:
            loc.best[h][key] = winner

    # ---------------------------------------------------------------- explanations (API)

    def _candidates(self, loc: _LocRib, key: bytes) -> list[_AdjIn]:
        return [s for s in loc.sources if key in s]

    def _explain(self, loc: _LocRib, key: bytes, adj: _AdjIn) -> tuple[Reason, bool]:
        """Why the best path won (the step that beat the runner-up), or for another path the step
        it lost at; and whether it is an equal-cost multipath of the best."""
        best = loc.best_of(key)
        if best is None:
            return Reason.ONLY_PATH, False
        ba = best.attrs_of(key)
        if adj is not best:
            _, step = compare(adj.attrs_of(key), adj.peer, ba, best.peer, self.policy)
            if step == Reason.EQUAL and adj.peer is best.peer:
                step = Reason.PATH_ID
            return step, self.multipath and step > MULTIPATH_LAST_STEP
        step = Reason.ONLY_PATH
        for src in loc.sources:
            if src is best or key not in src:
                continue
            _, s = compare(ba, best.peer, src.attrs_of(key), src.peer, self.policy)
            if s == Reason.EQUAL and src.peer is best.peer:
                s = Reason.PATH_ID
            step = max(step, s)
        return step, self.multipath

    def _entry(
        self, family: Family, loc: _LocRib, key: bytes, adj: _AdjIn, with_reason: bool = True
    ) -> RouteEntry:
        reason, mp = self._explain(loc, key, adj) if with_reason else (Reason.ONLY_PATH, False)
        is_best = loc.best_of(key) is adj
        return RouteEntry(
            family,
            key,
            adj.data_of(key),
            adj.attrs_of(key),
            adj.peer.peer_id,
            is_best,
            reason.text if with_reason else "",
            adj.stale is not None and key in adj.stale,
            mp and (is_best or reason > MULTIPATH_LAST_STEP),
            adj.path_id(key),
        )

    def multipath_set(self, family: Family, key: bytes) -> tuple[RouteEntry, ...]:
        """The best path and (with ``multipath``) the paths from other sources equal to it up
        to and including the IGP-cost step."""
        loc = self._loc.get(family)
        best = loc.best_of(key) if loc is not None else None
        if loc is None or best is None:
            return ()
        out = [self._entry(family, loc, key, best)]
        if self.multipath:
            ba = best.attrs_of(key)
            for src in loc.sources:
                if src is best or key not in src:
                    continue
                _, step = compare(src.attrs_of(key), src.peer, ba, best.peer, self.policy)
                if step > MULTIPATH_LAST_STEP:
                    out.append(self._entry(family, loc, key, src))
        return tuple(out)

    # ---------------------------------------------------------------- views

    def loc_rib(self, family: Family) -> Iterator[RouteEntry]:
        """The best path of each destination of ``family``."""
        loc = self._loc.get(family)
        if loc is None:
            return
        for key, adj in loc.best_items():
            yield self._entry(family, loc, key, adj)

    def lookup(self, family: Family, key: bytes) -> RouteEntry | None:
        """The best path of one destination."""
        loc = self._loc.get(family)
        best = loc.best_of(key) if loc is not None else None
        if loc is None or best is None:
            return None
        return self._entry(family, loc, key, best)

    def paths(self, family: Family, key: bytes) -> list[RouteEntry]:
        """Every path of one destination (from every source), best first."""
        loc = self._loc.get(family)
        if loc is None:
            return []
        out = [self._entry(family, loc, key, s) for s in self._candidates(loc, key)]
        out.sort(key=lambda e: not e.best)
        return out

    def adj_rib_in(self, peer_id: PeerId, family: Family) -> Iterator[RouteEntry]:
        """The routes received from a peer (every ADD-PATH path, with its ``path_id``)."""
        peer = self._local if peer_id == LOCAL_PEER else self._peers.get(peer_id)
        if peer is None:
            return
        tables = [adj for fam, adj in _tables(peer) if fam == family]
        if not tables:
            return
        loc = self._locrib(family)
        for adj in tables:
            for key in adj.key_list():
                yield self._entry(family, loc, key, adj)

    def adj_rib_out(self, peer_id: PeerId, family: Family) -> Iterator[RouteEntry]:
        """What was sent to the peer (``outbound`` updates it; pending changes are not in it)."""
        peer = self._peers.get(peer_id)
        ao = peer.out.get(family) if peer is not None else None
        if ao is None:
            return
        loc = self._locrib(family)
        if ao.paths is not None:  # ADD-PATH: every path sent, with its identifier
            by_id = {pid: src for src, pid in loc.path_ids.items()}
            sent: list[tuple[bytes, SentPaths]] = []
            for p in ao.paths[:SHARDS]:
                sent.extend(p.items())
            for key, paths in sent:
                best = loc.best_of(key)
                for pid, (attrs, data) in sorted(paths.items()):
                    src = by_id.get(pid)
                    yield RouteEntry(
                        family,
                        key,
                        data,
                        attrs,
                        src.peer.peer_id if src is not None else "",
                        src is not None and src is best,
                        path_id=pid,
                    )
            return
        items: list[tuple[bytes, PathAttributes]] = []
        for d in ao.attrs[:SHARDS]:
            items.extend(d.items())
        for key, attrs in items:
            src = loc.best_of(key)
            yield RouteEntry(
                family,
                key,
                ao.data[_octet(key, ao.wide)].get(key),
                attrs,
                src.peer.peer_id if src is not None else "",
                True,
            )

    def prefix_count(self, peer_id: PeerId, family: Family) -> int:
        """The routes received from a peer (ADD-PATH: the paths, each path id counted)."""
        peer = self._local if peer_id == LOCAL_PEER else self._peers.get(peer_id)
        if peer is None:
            return 0
        adj = peer.adj_in.get(family)
        n = len(adj) if adj is not None else 0
        return n + sum(map(len, peer.lanes.get(family, ())))

    def families(self) -> list[Family]:
        return sorted(self._loc)

    def peer_ids(self) -> list[PeerId]:
        return list(self._peers)

    # ---------------------------------------------------------------- publish / subscribe

    def subscribe(
        self,
        family: Family,
        route_target: bytes | None,
        callback: Callback,
        replay: bool = True,
    ) -> Subscription:
        """Call ``callback`` (synchronously) with each best-path change of ``family`` routes
        carrying ``route_target`` (None: every route). ``replay`` first gives the current
        matching best paths as additions."""
        sub = Subscription(family, route_target, callback)
        loc = self._locrib(family)
        loc.subs.setdefault(route_target, []).append(sub)
        loc.subs_version += 1
        if replay and loc.may_hold(route_target):
            for key, adj in loc.best_items():
                attrs = adj.attrs_of(key)
                if route_target is None or route_target in self._route_targets(attrs):
                    route = self._entry(family, loc, key, adj, with_reason=False)
                    callback(
                        RouteChange(
                            ChangeKind.ADDED,
                            family,
                            key,
                            route,
                            None,
                            self._paths_for(family, key, route),
                        )
                    )
        return sub

    def subscribe_raw(
        self,
        family: Family,
        route_target: bytes | None,
        callback: RawCallback,
        replay: bool = True,
    ) -> Subscription:
        """Like ``subscribe``, without building ``RouteChange``/``RouteEntry`` objects: the
        callback gets ``(kind, key, attributes, data, peer_id, previous attributes, previous
        data, previous peer_id)`` (no ECMP set, no path id). For hot subscribers (the vpn layer).
        """
        sub = Subscription(family, route_target, _no_callback, callback)
        loc = self._locrib(family)
        loc.subs.setdefault(route_target, []).append(sub)
        loc.subs_version += 1
        if replay and loc.may_hold(route_target):
            added = ChangeKind.ADDED
            for key, adj in loc.best_items():
                attrs = adj.attrs_of(key)
                if route_target is None or route_target in self._route_targets(attrs):
                    callback(
                        added, key, attrs, adj.data_of(key), adj.peer.peer_id, None, None, None
                    )
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        loc = self._loc.get(sub.family)
        if loc is None:
            return
        subs = loc.subs.get(sub.route_target)
        if subs and sub in subs:
            subs.remove(sub)
            loc.subs_version += 1
            if not subs:
                del loc.subs[sub.route_target]

    def _paths_for(self, family: Family, key: bytes, route: RouteEntry) -> tuple[RouteEntry, ...]:
        return self.multipath_set(family, key) if self.multipath else (route,)

    def _added_callbacks(self, loc: _LocRib, attrs: PathAttributes) -> list[RawCallback] | None:
        """The callbacks ``_notify`` calls, in order, for a new destination whose only path has
        ``attrs``: each subscription to every route and to one of its route targets gets it as
        ADDED. None when one of them is not raw (``_notify`` builds its ``RouteChange``). The
        routes of an UPDATE share one attribute set: derived once for all of them."""
        subs = loc.subs
        out: list[RawCallback] = []
        for rt in (None, *dict.fromkeys(self._route_targets(attrs))):
            for sub in subs.get(rt, ()):
                if sub.raw is None:
                    return None
                out.append(sub.raw)
        return out

    def _notify(
        self,
        loc: _LocRib,
        family: Family,
        key: bytes,
        prev_src: _AdjIn | None,
        prev_attrs: PathAttributes | None,
        prev_data: bytes | None,
    ) -> None:
        h = key[-1]  # _octet(), inlined
        if loc.wide and len(key) > 1:
            h ^= key[-2]
        cur = loc.best[h].get(key)
        if cur is not None:
            new_attrs: PathAttributes | None = cur.attrs[h][key]
            new_data = cur.data[h].get(key)
            if (
                cur is prev_src
                and new_attrs is prev_attrs
                and new_data == prev_data
                and not self.multipath
            ):
                return
        else:
            new_attrs = new_data = None
        new_rts = self._route_targets(new_attrs) if new_attrs is not None else ()
        old_rts = self._route_targets(prev_attrs) if prev_attrs is not None else ()
        all_subs = loc.subs
        subs: list[Subscription] = list(all_subs.get(None, ()))
        if len(new_rts) == 1 and (new_rts is old_rts or not old_rts):
            for rt in new_rts:
                got = all_subs.get(rt)
                if got:
                    subs.extend(got)
        else:
            for rt in {*new_rts, *old_rts}:
                got = all_subs.get(rt)
                if got:
                    subs.extend(got)
        if not subs:
            return
        has_new = cur is not None and new_attrs is not None
        has_prev = prev_src is not None and prev_attrs is not None
        route: RouteEntry | None = None
        previous: RouteEntry | None = None
        paths: tuple[RouteEntry, ...] = ()
        built = False
        for sub in subs:
            want = sub.route_target
            was = has_prev and (want is None or want in old_rts)
            now = has_new and (want is None or want in new_rts)
            if was and now:
                kind = ChangeKind.REPLACED
            elif now:
                kind = ChangeKind.ADDED
            elif was:
                kind = ChangeKind.REMOVED
            else:
                continue
            raw = sub.raw
            if raw is not None:
                if now:
                    assert cur is not None
                    pid: PeerId | None = cur.peer.peer_id
                else:
                    pid = None
                raw(
                    kind,
                    key,
                    new_attrs if now else None,
                    new_data if now else None,
                    pid,
                    prev_attrs if was else None,
                    prev_data if was else None,
                    prev_src.peer.peer_id if was and prev_src is not None else None,
                )
                continue
            if not built:
                built = True
                if has_new:
                    assert cur is not None and new_attrs is not None
                    route = RouteEntry(
                        family,
                        key,
                        new_data,
                        new_attrs,
                        cur.peer.peer_id,
                        True,
                        path_id=cur.path_id(key),
                    )
                    paths = self._paths_for(family, key, route)
                if has_prev:
                    assert prev_src is not None and prev_attrs is not None
                    previous = RouteEntry(
                        family,
                        key,
                        prev_data,
                        prev_attrs,
                        prev_src.peer.peer_id,
                        True,
                        path_id=prev_src.path_id(key),
                    )
            sub.callback(
                RouteChange(
                    kind,
                    family,
                    key,
                    route if now else None,
                    previous if was else None,
                    paths if now else (),
                )
            )

    # ---------------------------------------------------------------- local routes

    def announce(
        self,
        family: Family,
        key: bytes,
        data: bytes | None,
        attributes: PathAttributes,
        now: float,
        lease: float | None = None,
    ) -> None:
        """Originate a route (wire-form key and data). With ``lease`` it is withdrawn by
        ``expire_leases`` unless announced again before ``now + lease``. A route without a next
        hop gets the session's local address on export."""
        adj = self._adj(self._local, family)
        self._announce_keys(adj, family, (key,), (data,), attributes)
        if lease is not None:
            self._leases[(family, key)] = now + lease
        else:
            self._leases.pop((family, key), None)

    def withdraw(self, family: Family, key: bytes) -> bool:
        """Withdraw a locally originated route; False when there was none."""
        self._leases.pop((family, key), None)
        adj = self._local.adj_in.get(family)
        if adj is None or key not in adj:
            return False
        self._withdraw_keys(adj, family, (key,))
        return True

    def expire_leases(self, now: float) -> list[tuple[Family, bytes]]:
        """Withdraw the local routes whose lease ran out; they are returned."""
        gone = [fk for fk, deadline in self._leases.items() if deadline <= now]
        for family, key in gone:
            self.withdraw(family, key)
        return gone

    def next_deadline(self) -> float | None:
        """The earliest lease or stale-route deadline (when to call the expire methods)."""
        times = list(self._leases.values())
        times.extend(p.stale_deadline for p in self._peers.values() if p.stale_deadline)
        return min(times, default=None)

    def local_routes(self, family: Family) -> Iterator[RouteEntry]:
        return self.adj_rib_in(LOCAL_PEER, family)

    # ---------------------------------------------------------------- RT constraint

    def set_local_memberships(self, route_targets: Iterable[bytes]) -> None:
        """Advertise one RT membership route per route target (origin AS: ours), plus the
        default membership when ``advertise_default_membership`` is set; withdraw the rest."""
        wanted: set[bytes | None] = set(route_targets)
        if self.advertise_default_membership:
            wanted.add(None)
        for rt in self._local_rts - wanted:
            self.withdraw(RTC, membership_key(self.local_asn, rt))
        for rt in wanted - self._local_rts:
            self.announce(RTC, membership_key(self.local_asn, rt), None, self._rtc_attrs, 0.0)
        self._local_rts = wanted

    def change_local_memberships(
        self, added: Iterable[bytes] = (), removed: Iterable[bytes] = ()
    ) -> None:
        """``set_local_memberships`` by difference: advertise the membership routes of
        ``added``, withdraw those of ``removed``; the cost is what changed, not the whole set."""
        local = self._local_rts
        for rt in removed:
            if rt in local:
                local.discard(rt)
                self.withdraw(RTC, membership_key(self.local_asn, rt))
        for rt in added:
            if rt not in local:
                local.add(rt)
                self.announce(RTC, membership_key(self.local_asn, rt), None, self._rtc_attrs, 0.0)

    def memberships(self, peer_id: PeerId) -> Memberships | None:
        """The RT memberships a peer advertised (None: it did not negotiate RTC)."""
        peer = self._peers.get(peer_id)
        return peer.memberships if peer is not None else None

    @staticmethod
    def _rtc_keys(peer: _Peer) -> list[bytes]:
        return [key for fam, adj in _tables(peer) if fam == RTC for key in adj.key_list()]

    def _memberships_changed(self, peer: _Peer) -> None:
        """The peer's RT membership routes changed in a way not tracked route by route (ADD-PATH
        lanes, a stale sweep): rebuild its memberships and, if they differ, review everything
        of the RT-filtered families for it."""
        if peer.memberships is None:
            return
        fresh = Memberships(self._rtc_keys(peer))
        if fresh == peer.memberships:
            return
        peer.memberships = fresh
        self._review(peer, None)

    def _memberships_delta(
        self, peer: _Peer, added: Iterable[bytes], removed: Iterable[bytes]
    ) -> None:
        """Membership routes ``added`` to the peer's Adj-RIB-In and ``removed`` from it: update
        its memberships by difference and review, for it, only the routes that a membership
        value which appeared or went can concern. With many VRFs on a peer, one VRF more costs
        what it concerns, not a rebuild and a review of everything."""
        members = peer.memberships
        if members is None:
            return
        if sum(1 for fam, _ in _tables(peer) if fam == RTC) > 1:  # ADD-PATH lanes too
            self._memberships_changed(peer)
            return
        new = [v for k in added if (v := members.add(k)) is not None]
        gone = [v for k in removed if (v := members.discard(k)) is not None]
        if DEFAULT in new or DEFAULT in gone:
            self._review(peer, None)
        elif new or gone:
            self._review(peer, (new, gone))

    def _review(self, peer: _Peer, values: tuple[list[Value], list[Value]] | None) -> None:
        """Queue for the peer the destinations of its RT-filtered families that membership
        values concern (None: all of them): for the ``new`` values of ``values``, the best
        routes carrying a route target they ask for (maybe sent now); for the ``gone`` ones,
        the routes sent to the peer that carry one (maybe withdrawn now)."""
        rts_of = self._route_targets
        for fam, ao in peer.out.items():
            if fam not in RTC_FILTERED:
                continue
            loc = self._locrib(fam)
            if values is None:
                keys = _keys(loc.best)
                keys.extend(ao.sent_keys())  # withdraw what no membership asks for any more
            else:
                new, gone = values
                keys = []
                exact = [rt for bits, rt in new if bits == 64]
                if len(exact) < len(new) or any(loc.may_hold(rt) for rt in exact):
                    for key, adj in loc.best_items():
                        if matches_any(new, rts_of(adj.attrs_of(key))):
                            keys.append(key)
                if gone:
                    for key, attrs in ao.sent_attrs():
                        if matches_any(gone, rts_of(attrs)):
                            keys.append(key)
            if not keys:
                continue
            if ao.sync is None:
                ao.sync, ao.sync_pos = keys, 0
            else:
                ao.sync.extend(keys)

    # ---------------------------------------------------------------- export

    def _export(self, peer: _Peer, src: _Peer, attrs: PathAttributes) -> PathAttributes | None:
        cache = peer.export_cache.get(src)
        if cache is None:
            cache = peer.export_cache[src] = {}
        out = cache.get(attrs, _MISS)
        if out is _MISS:
            out = self._export_attrs(peer, src, attrs)
            if out is not None:
                out = peer.interned.setdefault(out, out)
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            if len(peer.interned) >= _CACHE_MAX:
                peer.interned.clear()
            cache[attrs] = out
        return out

    def _export_attrs(self, peer: _Peer, src: _Peer, a: PathAttributes) -> PathAttributes | None:
        """The attributes ``peer`` gets for a path from ``src`` (None: not sent at all)."""
        info = peer.info
        assert info is not None
        reflect = False
        if src.ibgp and peer.ibgp:
            if not (src.rr_client or peer.rr_client):
                return None  # iBGP split horizon (RFC4271 9.2); RR rules (RFC4456 6)
            reflect = True
        if not peer.ibgp:
            return a.replace(
                as_path=_strip_confed(a.as_path).prepend(self.local_asn),
                wire_as_path=None,
                as4_path=None,
                local_pref=None,
                med=a.med if src.local else None,
                originator_id=None,
                cluster_list=(),
                next_hop=info.local_address,
                nexthop_attr=None,
                layout=(),
            )
        changes: dict[str, object] = {
            "layout": (),
            "wire_as_path": None,
            "as4_path": None,
            "as_path": a.as_path if a.as_path is not None else AsPath(),
        }
        if a.local_pref is None or not (src.ibgp or src.local):
            changes["local_pref"] = (
                a.local_pref
                if src.local and a.local_pref is not None
                else self.policy.default_local_pref
            )
        if info.next_hop_self or a.next_hop is None:
            changes["next_hop"] = info.local_address
            changes["nexthop_attr"] = None
        elif len(a.next_hop) in (32, 48):
            # RFC2545 3: a link-local next hop is only for peers on that link; the route came
            # from another peer (never sent back), so only the global address goes on
            changes["next_hop"] = a.next_hop[: len(a.next_hop) // 2]
        if reflect:
            changes["originator_id"] = a.originator_id or src.router_id
            changes["cluster_list"] = (self.cluster_id, *a.cluster_list)
        return a.replace(**changes)

    # ---------------------------------------------------------------- outbound

    def _trim(self, loc: _LocRib) -> None:
        end = loc.base + len(loc.log)
        if not loc.readers or all(ao.cursor == end for ao in loc.readers):
            loc.base = end
            loc.log.clear()

    def refresh(self, peer_id: PeerId, family: Family) -> None:
        """A ROUTE-REFRESH from the peer (RFC2918): send it the whole Adj-RIB-Out of ``family``
        again (no second End-of-RIB)."""
        peer = self._peers.get(peer_id)
        ao = peer.out.get(family) if peer is not None and peer.up else None
        if ao is None:
            return
        ao.clear()
        ao.sync = _keys(self._locrib(family).best)
        ao.sync_pos = 0

    def pending(self, peer_id: PeerId) -> bool:
        """Whether ``outbound`` has anything to send to the peer."""
        peer = self._peers.get(peer_id)
        if peer is None or not peer.up:
            return False
        for fam, ao in peer.out.items():
            loc = self._locrib(fam)
            if ao.sync is not None or ao.cursor < loc.base + len(loc.log):
                return True
            if not ao.eor_sent and not (peer.rtc_wait and fam in RTC_FILTERED):
                return True
        return False

    def rtc_wait_over(self, peer_id: PeerId) -> bool:
        """Stop waiting for the peer's RT membership End-of-RIB (it sent none in time): the
        End-of-RIBs held back go out. True when one was held back."""
        peer = self._peers.get(peer_id)
        if peer is None or not peer.up or not peer.rtc_wait:
            return False
        peer.rtc_wait = False
        return any(not ao.eor_sent for f, ao in peer.out.items() if f in RTC_FILTERED)

    def outbound(self, peer_id: PeerId, ctx: WireContext, limit: int | None = None) -> list[bytes]:
        """The UPDATEs the session must send now, packed (grouped by attribute set), and the
        End-of-RIB of each family whose initial sync is done. Drains the pending changes, or at
        most ``limit`` destinations of them (call again while ``pending``)."""
        peer = self._peers[peer_id]
        if not peer.up:
            return []
        msgs: list[bytes] = []
        budget = limit
        for fam, ao in peer.out.items():
            if budget is not None and budget <= 0:
                break
            loc = self._locrib(fam)
            keys: list[bytes] = []
            if ao.sync is not None:
                n = len(ao.sync)
                end = n if budget is None else min(n, ao.sync_pos + budget)
                keys = ao.sync[ao.sync_pos : end]
                ao.sync_pos = end
                if end == n:
                    ao.sync, ao.sync_pos = None, 0
                if budget is not None:
                    budget -= len(keys)
            if budget is None or budget > 0:
                start = ao.cursor - loc.base
                n = len(loc.log)
                end = n if budget is None else min(n, start + budget)
                keys.extend(loc.log[start:end])
                ao.cursor = loc.base + end
                if budget is not None:
                    budget -= end - start
                self._trim(loc)
            if keys:
                msgs.extend(self._updates(peer, fam, ao, loc, keys, ctx))
            if ao.sync is None and not ao.eor_sent:
                if peer.rtc_wait and fam in RTC_FILTERED:
                    continue  # after the peer's RT memberships (RFC4684 6)
                msgs.append(end_of_rib(fam))
                ao.eor_sent = True
        return msgs

    def _updates(
        self,
        peer: _Peer,
        fam: Family,
        ao: _AdjOut,
        loc: _LocRib,
        keys: list[bytes],
        ctx: WireContext,
    ) -> list[bytes]:
        if ao.paths is not None:
            return self._path_updates(peer, fam, ao.paths, loc, keys, ctx)
        bests = loc.best
        o_attr_shards = ao.attrs
        o_data_shards = ao.data
        # per source: may anything of it go to this peer at all (iBGP split horizon)
        allowed = {s.peer: s.peer is not peer and _may_export(peer, s.peer) for s in loc.sources}
        if not any(allowed.values()) and not any(o_attr_shards[:SHARDS]):
            return []  # nothing to send and nothing sent before: the keys change nothing here
        filtered = peer.memberships is not None and fam in RTC_FILTERED
        members = peer.memberships
        has_data = fam in _DATA_FAMILIES
        gone: list[bytes] = []
        gone_data: list[bytes] = []
        groups: dict[PathAttributes, tuple[list[bytes], list[bytes]]] = {}
        export = self._export
        wide = loc.wide
        for key in keys:
            h = key[-1]  # _octet(), inlined
            if wide and len(key) > 1:
                h ^= key[-2]
            src = bests[h].get(key)
            new: PathAttributes | None = None
            d: bytes | None = None
            if src is not None and allowed[src.peer]:
                a = src.attrs[h][key]
                new = export(peer, src.peer, a)
                if (
                    new is not None
                    and filtered
                    and members is not None
                    and not members.matches(self._route_targets(a))
                ):
                    new = None
                d = src.data[h].get(key)
            o_attrs = o_attr_shards[h]
            old = o_attrs.get(key)
            if new is None:
                if old is not None:
                    del o_attrs[key]
                    gone.append(key)
                    gone_data.append(o_data_shards[h].pop(key, b""))
                continue
            o_data = o_data_shards[h]
            if old is new and o_data.get(key) == d:
                continue
            o_attrs[key] = new
            if d is not None:
                o_data[key] = d
            elif has_data:
                o_data.pop(key, None)
            group = groups.get(new)
            if group is None:
                group = groups[new] = ([], [])
            group[0].append(key)
            group[1].append(d if d is not None else b"")
        add_path = fam in ctx.add_path
        out: list[bytes] = []
        if gone:
            out.extend(
                pack_updates(
                    fam,
                    gone,
                    gone_data if has_data else None,
                    [1] * len(gone) if add_path else None,
                    None,
                    ctx,
                )
            )
        for attrs, (gkeys, gdata) in groups.items():
            out.extend(
                pack_updates(
                    fam,
                    gkeys,
                    gdata if has_data else None,
                    [1] * len(gkeys) if add_path else None,
                    attrs,
                    ctx,
                )
            )
        return out

    def _path_updates(
        self,
        peer: _Peer,
        fam: Family,
        sent_shards: Shards[SentPaths],
        loc: _LocRib,
        keys: list[bytes],
        ctx: WireContext,
    ) -> list[bytes]:
        """``_updates`` for a peer with ADD-PATH send (RFC7911): every path of each destination
        that may go to the peer (the same export rules and RT filter as a best path), each with
        its source's path identifier; a path no longer there is withdrawn by its identifier."""
        allowed = {s.peer: s.peer is not peer and _may_export(peer, s.peer) for s in loc.sources}
        filtered = peer.memberships is not None and fam in RTC_FILTERED
        members = peer.memberships
        has_data = fam in _DATA_FAMILIES
        export = self._export
        rts_of = self._route_targets
        path_ids = loc.path_ids
        sources = [s for s in loc.sources if allowed[s.peer]]
        gone: tuple[list[bytes], list[bytes], list[int]] = ([], [], [])
        groups: dict[PathAttributes, tuple[list[bytes], list[bytes], list[int]]] = {}
        wide = loc.wide
        for key in keys:
            h = _octet(key, wide)
            want: SentPaths = {}
            for src in sources:
                a = src.attrs[h].get(key)
                if a is None:
                    continue
                new = export(peer, src.peer, a)
                if new is None or (
                    filtered and members is not None and not members.matches(rts_of(a))
                ):
                    continue
                pid = path_ids.get(src)
                if pid is None:
                    pid = path_ids[src] = loc.next_path_id
                    loc.next_path_id = pid % 0xFFFFFFFF + 1
                want[pid] = (new, src.data[h].get(key))
            sent = sent_shards[h]
            old = sent.get(key)
            if old:
                for pid, (_attrs, d) in old.items():
                    if pid not in want:
                        gone[0].append(key)
                        gone[1].append(d if d is not None else b"")
                        gone[2].append(pid)
            for pid, (attrs, d) in want.items():
                prev = old.get(pid) if old else None
                if prev is not None and prev[0] is attrs and prev[1] == d:
                    continue
                group = groups.get(attrs)
                if group is None:
                    group = groups[attrs] = ([], [], [])
                group[0].append(key)
                group[1].append(d if d is not None else b"")
                group[2].append(pid)
            if want:
                sent[key] = want
            elif old is not None:
                del sent[key]
        out: list[bytes] = []
        if gone[0]:
            out.extend(
                pack_updates(fam, gone[0], gone[1] if has_data else None, gone[2], None, ctx)
            )
        for attrs, (gkeys, gdata, gpids) in groups.items():
            out.extend(pack_updates(fam, gkeys, gdata if has_data else None, gpids, attrs, ctx))
        return out
