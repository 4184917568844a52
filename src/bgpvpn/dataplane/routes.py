"""Programming routes received from peers (IPv4/IPv6 unicast) into a kernel routing table.

``KernelRouteTable`` owns the routes of one table that carry its protocol number (186 by
default, configurable: a host also running FRR, whose routes are "proto bgp" = 186 too, gives
bgpvpn another number). It never touches a route with another protocol number, so reconcile and
``remove_all`` are safe on the main table.

Changes queue and go to the kernel in one batch at ``commit`` (many requests per netlink
datagram, see ``bgpvpn.dataplane.linux.netlink``)::

    table = KernelRouteTable(table=254, protocol=186)
    table.set_route("192.0.2.0/24", ("198.51.100.2", "198.51.100.3"))  # ECMP: multipath
    table.remove_route("203.0.113.0/24")
    failures = table.commit()       # text of each request the kernel refused
    table.reconcile({"192.0.2.0/24": ("198.51.100.2",)})   # at start: exactly these routes
    table.remove_all()              # e.g. at shutdown

Next hops are addresses the kernel resolves to an interface (a next hop not on a connected
network is refused with "Network is unreachable" and counted). An IPv4 prefix may have an IPv6
next hop (RFC 8950, encoded with RTA_VIA).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bgpvpn.dataplane.linux import tags
from bgpvpn.dataplane.linux.netlink import Hop, Netlink, Request, route_request
from bgpvpn.dataplane.model import ReconcileReport

log = logging.getLogger(__name__)

NextHops = tuple[str, ...]


def _canon(prefix: str) -> str:
    return str(ipaddress.ip_network(prefix, strict=False))


def _canon_hops(next_hops: Iterable[str]) -> NextHops:
    addrs = sorted({ipaddress.ip_address(nh) for nh in next_hops}, key=lambda a: (a.version, a))
    return tuple(str(a) for a in addrs)


class KernelRouteTable:
    """``table``: the kernel table (254: main); ``protocol``: the route protocol number that
    marks our routes; ``metric``: the route priority (None: the kernel's 0); ``netns``: the
    namespace (None: the daemon's own); ``netlink``: share a connection."""

    def __init__(
        self,
        *,
        table: int = 254,
        protocol: int = tags.PROTO,
        metric: int | None = None,
        netns: str | None = None,
        netlink: Netlink | None = None,
    ) -> None:
        if not 1 <= table <= 0xFFFFFFFF or table == 255:
            raise ValueError(f"table {table}: not a table routes can be programmed into")
        if not 1 <= protocol <= 255 or protocol in (1, 2, 3):  # redirect, kernel, boot
            raise ValueError(f"protocol {protocol}: use a number that only bgpvpn uses (186)")
        self.table = table
        self.protocol = protocol
        self.metric = metric
        self.nl = netlink if netlink is not None else Netlink(netns)
        self._own_netlink = netlink is None
        self._routes: dict[str, NextHops] = {}  # what we programmed
        self._pending: dict[str, NextHops | None] = {}  # prefix -> next hops, None: remove
        self.errors = 0
        self.last_errors: deque[str] = deque(maxlen=50)

    # ------------------------------------------------------------ changes

    def set_route(self, prefix: str, next_hops: Sequence[str]) -> None:
        """Queue: ``prefix`` via ``next_hops`` (several: one multipath route). Empty next hops
        mean remove."""
        key = _canon(prefix)
        hops = _canon_hops(next_hops)
        self._pending[key] = hops or None

    def remove_route(self, prefix: str) -> None:
        """Queue the removal of ``prefix`` (withdrawn, or its session went down)."""
        self._pending[_canon(prefix)] = None

    def commit(self) -> list[str]:
        """Send the queued changes in one batch; return what the kernel refused."""
        pending, self._pending = self._pending, {}
        requests: list[Request] = []
        added: dict[int, str] = {}
        for prefix, hops in pending.items():
            if hops is None:
                if self._routes.pop(prefix, None) is not None:
                    requests.append(self._request(prefix, None))
            elif self._routes.get(prefix) != hops:
                self._routes[prefix] = hops
                req = self._request(prefix, hops)
                added[id(req)] = prefix
                requests.append(req)
        out = []
        for failure in self.nl.run(requests):
            refused = added.get(id(failure.request))
            if refused is not None:  # not programmed: a later identical set_route retries
                self._routes.pop(refused, None)
            self._error(str(failure))
            out.append(str(failure))
        return out

    def update(
        self, set_routes: Mapping[str, Sequence[str]] | None = None, remove: Iterable[str] = ()
    ) -> list[str]:
        """``set_route`` each of ``set_routes``, ``remove_route`` each of ``remove``, commit."""
        for prefix in remove:
            self.remove_route(prefix)
        for prefix, hops in (set_routes or {}).items():
            self.set_route(prefix, hops)
        return self.commit()

    def remove_all(self) -> int:
        """Remove every route of our protocol in the table (also ones a previous run left);
        return how many went."""
        self._pending.clear()
        have = self.kernel_routes()
        self._routes.clear()
        failures = self.nl.run([self._request(prefix, None) for prefix in have])
        for failure in failures:
            self._error(str(failure))
        return len(have) - len(failures)

    def reconcile(self, desired: Mapping[str, Sequence[str]]) -> ReconcileReport:
        """Make the table hold exactly ``desired`` among the routes of our protocol."""
        self._pending.clear()
        want = {_canon(p): _canon_hops(h) for p, h in desired.items() if h}
        have = self.kernel_routes()
        report = ReconcileReport()
        todo: list[tuple[Request, str, str]] = []
        for prefix in sorted(have.keys() - want.keys()):
            todo.append((self._request(prefix, None), "removed", prefix))
        for prefix, hops in want.items():
            if have.get(prefix) != hops:
                todo.append((self._request(prefix, hops), "added", prefix))
        failed = {id(f.request) for f in self.nl.run([r for r, _, _ in todo])}
        for req, what, _prefix in todo:
            if id(req) in failed:
                self._error(f"{req.what}: refused")
                continue
            target = report.added if what == "added" else report.removed
            target.setdefault("route", []).append(req.what)
        self._routes = dict(want)
        return report

    # ------------------------------------------------------------ views

    def kernel_routes(self) -> dict[str, NextHops]:
        """Our routes in the table as the kernel has them: prefix -> sorted next hops."""
        out: dict[str, NextHops] = {}
        for family in (socket.AF_INET, socket.AF_INET6):
            for route in self.nl.routes(family):
                if route.table != self.table or route.protocol != self.protocol:
                    continue
                if self.metric is not None and route.priority != self.metric:
                    continue
                gws = [gw for gw, _oif in route.hops if gw]
                # the kernel's text is canonical already; sorting needs parsing only for ECMP
                out[route.prefix] = tuple(gws) if len(gws) < 2 else _canon_hops(gws)
        return out

    def state(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "protocol": self.protocol,
            "routes": len(self._routes),
            "pending": len(self._pending),
            "errors": self.errors,
            "last_errors": list(self.last_errors),
        }

    def close(self, remove: bool) -> None:
        try:
            if remove:
                self.remove_all()
        finally:
            if self._own_netlink:
                self.nl.close()

    # ------------------------------------------------------------ internals

    def _request(self, prefix: str, hops: NextHops | None) -> Request:
        if hops is None:
            return route_request(
                False,
                prefix,
                table=self.table,
                protocol=self.protocol,
                metric=self.metric,
                what=f"{prefix} table {self.table}",
            )
        return route_request(
            True,
            prefix,
            table=self.table,
            protocol=self.protocol,
            metric=self.metric,
            hops=[Hop(nh) for nh in hops],
            what=f"{prefix} " + " ".join(f"via {nh}" for nh in hops) + f" table {self.table}",
        )

    def _error(self, text: str) -> None:
        self.errors += 1
        self.last_errors.append(text)
        log.warning("kernel routes: %s", text)
