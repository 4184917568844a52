"""Routes peers send in IPv4/IPv6 unicast, installed into a kernel routing table (``[kernel]``
in the config): the job people write ExaBGP + pyroute2 scripts for.

``RouteInstaller`` subscribes to the RIB's best-path changes of the enabled families and queues
them on a ``KernelRouteTable``: the best path's next hop, or the whole ECMP set when the RIB does
multipath; routes we originate ourselves are not installed; a withdrawal, or the session going
down (the RIB withdraws that peer's routes then), removes the route. ``commit`` sends what is
queued in one netlink batch; the service calls it once per turn of the event loop.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any, Protocol

from bgpvpn.dataplane.model import ReconcileReport
from bgpvpn.rib import LOCAL_PEER, ChangeKind, Rib, RouteChange, RouteEntry
from bgpvpn.rib.table import Subscription
from bgpvpn.wire.family import IPV4_UNICAST, IPV6_UNICAST, Family
from bgpvpn.wire.routes import IPRoute, route_from_wire

log = logging.getLogger(__name__)


class RouteTable(Protocol):
    def set_route(self, prefix: str, next_hops: tuple[str, ...]) -> None: ...
    def remove_route(self, prefix: str) -> None: ...
    def commit(self) -> list[str]: ...
    def reconcile(self, desired: dict[str, tuple[str, ...]]) -> ReconcileReport: ...
    def state(self) -> dict[str, Any]: ...
    def close(self, remove: bool) -> None: ...


def next_hop_address(raw: bytes | None) -> str | None:
    """The address to route through: IPv4, or the global IPv6 address (a link-local one only
    when nothing else is given); None when the route has no usable next hop."""
    if raw is None or len(raw) not in (4, 16, 32):
        return None
    addr = ipaddress.ip_address(raw[:16] if len(raw) == 32 else raw)
    if addr.is_unspecified:
        return None
    return str(addr)


class RouteInstaller:
    """``schedule(fn)`` is called once when changes start to queue up; it must call ``fn``
    (``commit``) soon, e.g. ``loop.call_soon``. None: the caller commits."""

    def __init__(
        self,
        rib: Rib,
        table: RouteTable,
        families: tuple[Family, ...],
        schedule: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.rib = rib
        self.table = table
        self.families = families
        self.schedule = schedule
        self.dirty = False
        self.installed: dict[str, tuple[str, ...]] = {}
        self._subs: list[Subscription] = []

    def start(self) -> ReconcileReport:
        """Subscribe (replaying what the RIB holds) and make the table hold exactly that."""
        self._subs = [self.rib.subscribe(f, None, self._on_change) for f in self.families]
        self.dirty = False
        return self.table.reconcile(dict(self.installed))

    def _on_change(self, change: RouteChange) -> None:
        route = route_from_wire(change.family, change.key, None)
        if not isinstance(route, IPRoute):
            return
        prefix = str(route.prefix)
        hops = self._next_hops(change) if change.kind is not ChangeKind.REMOVED else ()
        if hops:
            if self.installed.get(prefix) == hops:
                return
            self.installed[prefix] = hops
            self.table.set_route(prefix, hops)
        elif self.installed.pop(prefix, None) is not None:
            self.table.remove_route(prefix)
        else:
            return
        if not self.dirty:
            self.dirty = True
            if self.schedule is not None:
                self.schedule(self.commit)

    @staticmethod
    def _next_hops(change: RouteChange) -> tuple[str, ...]:
        paths: tuple[RouteEntry, ...] = change.paths or (
            (change.route,) if change.route is not None else ()
        )
        hops = {
            nh
            for p in paths
            if p.peer_id != LOCAL_PEER
            and (nh := next_hop_address(p.attributes.next_hop)) is not None
        }
        return tuple(sorted(hops))

    def commit(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        for failure in self.table.commit():
            log.warning("kernel refused a route: %s", failure)

    def state(self) -> dict[str, Any]:
        return {
            "families": [f.name for f in self.families],
            "installed": len(self.installed),
            "table": self.table.state(),
        }

    def close(self, remove: bool) -> None:
        for sub in self._subs:
            self.rib.unsubscribe(sub)
        self._subs.clear()
        self.table.close(remove)


def enabled_families(ipv4: bool, ipv6: bool) -> tuple[Family, ...]:
    return tuple(f for f, on in ((IPV4_UNICAST, ipv4), (IPV6_UNICAST, ipv6)) if on)
