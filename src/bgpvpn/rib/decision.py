"""The BGP decision process (RFC4271 9.1.2.2 with the RFC4456 9 tie-breaks) between two paths.

A path is an attribute set plus the source it came from. ``compare`` returns which of two paths
wins and the step that decided it, so the API can say why the best path won (as GoBGP's
``BestPathReason``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol

from bgpvpn.wire.attributes import PathAttributes
from bgpvpn.wire.constants import AsPathSegmentType


class Reason(IntEnum):
    """The decision step that separated two paths, in the order the steps run."""

    ONLY_PATH = 0
    LOCAL_PREF = 1
    LOCALLY_ORIGINATED = 2
    AS_PATH_LENGTH = 3
    ORIGIN = 4
    MED = 5
    EBGP_OVER_IBGP = 6
    # IGP cost would be here; paths equal up to this point are ECMP candidates
    ORIGINATOR_ID = 7
    CLUSTER_LIST_LENGTH = 8
    ROUTER_ID = 9
    PEER_ADDRESS = 10
    PATH_ID = 11  # two paths of one peer (ADD-PATH): the RIB prefers the lower path identifier
    EQUAL = 12

    @property
    def text(self) -> str:
        return _TEXT[self]


_TEXT = {
    Reason.ONLY_PATH: "only path",
    Reason.LOCAL_PREF: "local preference",
    Reason.LOCALLY_ORIGINATED: "locally originated",
    Reason.AS_PATH_LENGTH: "AS path length",
    Reason.ORIGIN: "origin",
    Reason.MED: "MED",
    Reason.EBGP_OVER_IBGP: "eBGP over iBGP",
    Reason.ORIGINATOR_ID: "originator ID",
    Reason.CLUSTER_LIST_LENGTH: "cluster list length",
    Reason.ROUTER_ID: "router ID",
    Reason.PEER_ADDRESS: "peer address",
    Reason.PATH_ID: "path identifier",
    Reason.EQUAL: "equal",
}

# Paths that tie through this step are equal-cost multipaths (ECMP).
MULTIPATH_LAST_STEP = Reason.EBGP_OVER_IBGP


class PathSource(Protocol):
    """What the decision process needs to know of where a path came from."""

    @property
    def local(self) -> bool: ...
    @property
    def ibgp(self) -> bool: ...
    @property
    def router_id(self) -> bytes: ...
    @property
    def address(self) -> bytes: ...


class Policy:
    """The RIB-wide settings the decision process depends on."""

    __slots__ = ("always_compare_med", "default_local_pref")

    def __init__(self, default_local_pref: int = 100, always_compare_med: bool = False) -> None:
        self.default_local_pref = default_local_pref
        self.always_compare_med = always_compare_med


def _neighbour_as(attrs: PathAttributes) -> int | None:
    """The leftmost AS of the path's first AS_SEQUENCE (None when the path has none: the route
    was originated inside our AS or confederation)."""
    path = attrs.as_path
    if path is None:
        return None
    for seg_type, asns in path.segments:
        if seg_type == AsPathSegmentType.AS_SEQUENCE:
            return asns[0] if asns else None
        if seg_type == AsPathSegmentType.AS_SET:
            return None
    return None


def local_pref(attrs: PathAttributes, src: PathSource, policy: Policy) -> int:
    """LOCAL_PREF counts for iBGP-learned and locally originated routes that carry one; others
    get the default (RFC4271 5.1.5: LOCAL_PREF received from eBGP is ignored)."""
    lp = attrs.local_pref
    if lp is None or not (src.ibgp or src.local):
        return policy.default_local_pref
    return lp


def compare(
    a: PathAttributes, sa: PathSource, b: PathAttributes, sb: PathSource, policy: Policy
) -> tuple[int, Reason]:
    """(-1 when ``a`` wins, 1 when ``b`` wins, 0 when equal; the step that decided)."""
    x = local_pref(a, sa, policy)
    y = local_pref(b, sb, policy)
    if x != y:
        return (-1 if x > y else 1), Reason.LOCAL_PREF
    if sa.local != sb.local:
        return (-1 if sa.local else 1), Reason.LOCALLY_ORIGINATED
    x = a.as_path.length if a.as_path is not None else 0
    y = b.as_path.length if b.as_path is not None else 0
    if x != y:
        return (-1 if x < y else 1), Reason.AS_PATH_LENGTH
    x = a.origin if a.origin is not None else 2
    y = b.origin if b.origin is not None else 2
    if x != y:
        return (-1 if x < y else 1), Reason.ORIGIN
    if policy.always_compare_med or _neighbour_as(a) == _neighbour_as(b):
        x = a.med or 0
        y = b.med or 0
        if x != y:
            return (-1 if x < y else 1), Reason.MED
    ea = not sa.ibgp and not sa.local
    eb = not sb.ibgp and not sb.local
    if ea != eb:
        return (-1 if ea else 1), Reason.EBGP_OVER_IBGP
    oa = a.originator_id or sa.router_id
    ob = b.originator_id or sb.router_id
    if oa != ob:
        # RFC4456 9: the ORIGINATOR_ID stands in for the router id; say which one decided
        step = Reason.ORIGINATOR_ID if a.originator_id or b.originator_id else Reason.ROUTER_ID
        return (-1 if oa < ob else 1), step
    x = len(a.cluster_list)
    y = len(b.cluster_list)
    if x != y:
        return (-1 if x < y else 1), Reason.CLUSTER_LIST_LENGTH
    if sa.router_id != sb.router_id:
        return (-1 if sa.router_id < sb.router_id else 1), Reason.ROUTER_ID
    if sa.address != sb.address:
        return (-1 if sa.address < sb.address else 1), Reason.PEER_ADDRESS
    return 0, Reason.EQUAL
