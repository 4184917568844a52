"""The RIB: routes from peers and from us, best path, and what each peer is sent. Sans-IO: no
sockets, no asyncio, no clock; the caller passes ``now`` where time matters.

Routes are wire-form keys and data (see ``bgpvpn.wire.nlri``) with interned ``PathAttributes``;
no object exists per route (``RouteEntry`` views are built on demand for the API).

API (``Rib``)::

    rib = Rib(local_asn, router_id, cluster_id=None, rtc=True, multipath=False,
              default_local_pref=100, always_compare_med=False,
              advertise_default_membership=False)

    # sessions
    rib.peer_up(PeerInfo(peer_id, address, asn, router_id, ibgp, local_address,
                         rr_client=False, next_hop_self=False),
                families, add_path_tx=frozenset())      # starts the initial sync
    rib.peer_down(peer_id, now, keep_stale=(), restart_time=0)   # GR: families kept stale
    rib.receive(peer_id, update, now)                   # a decoded UpdateMessage
    rib.end_of_rib(peer_id, family)                     # also done by receive() on EoR
    rib.expire_stale(now) -> int                        # graceful-restart deadline sweep
    rib.outbound(peer_id, ctx, limit=None) -> list[bytes]   # UPDATEs + End-of-RIB to send
    rib.pending(peer_id) -> bool
    rib.remove_peer(peer_id)

    # locally originated routes
    rib.announce(family, key, data, attributes, now, lease=None)
    rib.withdraw(family, key) -> bool
    rib.expire_leases(now) -> list[(family, key)]
    rib.next_deadline() -> float | None                 # earliest lease / stale deadline
    rib.set_local_memberships(route_targets)            # our RTC routes, one per RT

    # views (RouteEntry: family, key, data, attributes, peer_id, best, reason, stale, multipath,
    # path_id)
    rib.loc_rib(family); rib.lookup(family, key); rib.paths(family, key)
    rib.multipath_set(family, key); rib.adj_rib_in(peer_id, family)
    rib.adj_rib_out(peer_id, family); rib.prefix_count(peer_id, family)
    rib.memberships(peer_id) -> Memberships | None

    # publish / subscribe (synchronous callbacks with RouteChange: kind added/replaced/removed,
    # family, key, route, previous, paths)
    sub = rib.subscribe(family, route_target_or_None, callback, replay=True)
    # the same without RouteChange objects (for hot subscribers): callback(kind, key,
    # attributes, data, peer_id, previous attributes, previous data, previous peer_id)
    sub = rib.subscribe_raw(family, route_target_or_None, callback, replay=True)
    rib.unsubscribe(sub)

Decision process (``decision.compare``): highest LOCAL_PREF (default for eBGP-learned and local
routes without one), locally originated, shortest AS_PATH, lowest ORIGIN, lowest MED (same
neighbour AS unless ``always_compare_med``; missing = 0), eBGP over iBGP, [IGP cost skipped;
ECMP cut], lowest ORIGINATOR_ID (else the peer's router id), shortest CLUSTER_LIST, lowest peer
router id, lowest peer address, and between two paths of one peer (ADD-PATH) the lower path
identifier. ``RouteEntry.reason`` says which step beat the runner-up.

ADD-PATH receive (RFC7911): a peer's UPDATEs with path identifiers keep every (path id, key) as
a path of its own (``RouteEntry.path_id``); withdrawing a path id removes that path only.

Not done yet: ADD-PATH send sends the best path only (identifier 1); RFC4684 deferral of VPN
routes until the peer's RTC End-of-RIB.
"""

from bgpvpn.rib.decision import Policy, Reason, compare
from bgpvpn.rib.rtc import Memberships, membership_key
from bgpvpn.rib.table import (
    LOCAL_PEER,
    RTC_FILTERED,
    ChangeKind,
    PeerId,
    PeerInfo,
    RawCallback,
    Rib,
    RouteChange,
    RouteEntry,
    Subscription,
)

__all__ = [
    "LOCAL_PEER",
    "RTC_FILTERED",
    "ChangeKind",
    "Memberships",
    "PeerId",
    "PeerInfo",
    "Policy",
    "RawCallback",
    "Reason",
    "Rib",
    "RouteChange",
    "RouteEntry",
    "Subscription",
    "compare",
    "membership_key",
]
