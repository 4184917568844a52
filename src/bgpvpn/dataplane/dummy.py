"""The ``dummy`` driver: programs nothing, records the state it is given. The default driver, and
the one every test above the kernel uses: ``state()`` shows what a real driver would have
programmed, ``reconcile`` reports what it had to fix to match the desired state, and the
counters say how many batches and changes came in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bgpvpn.dataplane.model import (
    Change,
    FloodListChanged,
    InstanceConfig,
    InstanceCreated,
    InstanceRemoved,
    InstanceState,
    LocalPort,
    PortAttached,
    PortDetached,
    ReconcileReport,
    RemoteMac,
    RemoteMacAdded,
    RemoteMacRemoved,
    RemoteRoute,
    RemoteRouteRemoved,
    RemoteRouteSet,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Programmed:
    config: InstanceConfig
    ports: dict[tuple[str, str], LocalPort] = field(default_factory=dict)
    macs: set[RemoteMac] = field(default_factory=set)
    routes: dict[str, RemoteRoute] = field(default_factory=dict)
    flood: frozenset[str] = frozenset()

    def freeze(self) -> InstanceState:
        return InstanceState(
            self.config,
            tuple(self.ports.values()),
            tuple(sorted(self.macs, key=_mac_order)),
            tuple(self.routes[p] for p in sorted(self.routes)),
            self.flood,
        )


def _mac_order(m: RemoteMac) -> tuple[str, str, str]:
    return (m.mac, m.ip or "", m.vtep)


def _port_text(p: LocalPort) -> str:
    extra = f" netns {p.netns}" if p.netns else ""
    ips = f" {' '.join(p.ips)}" if p.ips else ""
    return f"{p.name} {p.mac}{ips}{extra}"


def _mac_text(m: RemoteMac) -> str:
    ip = f" {m.ip}" if m.ip else ""
    return f"{m.mac}{ip} vni {m.vni} dst {m.vtep}"


def _route_text(r: RemoteRoute) -> str:
    hops = ", ".join(f"{h.vtep} vni {h.vni}" + (" local" if h.local else "") for h in r.next_hops)
    return f"{r.prefix} via {hops}"


class DummyDriver:
    """Records desired state; see the module docstring."""

    def __init__(self, name: str = "dummy") -> None:
        self.name = name
        self._state: dict[str, _Programmed] = {}
        self.batches = 0
        self.changes = 0
        self.errors = 0
        self.reconciles = 0
        self.closed = False

    # ---------------------------------------------------------------- Driver

    def apply(self, changes: Sequence[Change]) -> None:
        self.batches += 1
        self.changes += len(changes)
        st = self._state
        for change in changes:
            # remote MACs (one change per imported route) here, the rest in _apply_one
            t = type(change)
            try:
                if t is RemoteMacAdded:
                    st[change.instance_id].macs.add(change.entry)  # type: ignore[union-attr]
                elif t is RemoteMacRemoved:
                    st[change.instance_id].macs.discard(change.entry)  # type: ignore[union-attr]
                else:
                    self._apply_one(change)
            except KeyError as exc:  # a change for an instance it does not have
                self.errors += 1
                log.warning("dummy driver %s: %r: unknown %s", self.name, change, exc)

    def _apply_one(self, c: Change) -> None:
        st = self._state
        if isinstance(c, InstanceCreated):
            old = st.get(c.config.instance_id)
            if old is None:
                st[c.config.instance_id] = _Programmed(c.config)
            else:
                old.config = c.config
        elif isinstance(c, InstanceRemoved):
            del st[c.instance_id]
        elif isinstance(c, PortAttached):
            st[c.instance_id].ports[(c.port.name, c.port.mac)] = c.port
        elif isinstance(c, PortDetached):
            del st[c.instance_id].ports[(c.port.name, c.port.mac)]
        elif isinstance(c, RemoteRouteSet):
            st[c.instance_id].routes[c.route.prefix] = c.route
        elif isinstance(c, RemoteRouteRemoved):
            del st[c.instance_id].routes[c.prefix]
        elif isinstance(c, FloodListChanged):
            st[c.instance_id].flood = c.vteps

    def reconcile(self, desired: Mapping[str, InstanceState]) -> ReconcileReport:
        """Replace the recorded state with ``desired``; the report lists what differed."""
        self.reconciles += 1
        report = ReconcileReport()
        have = self.snapshot()

        def note(kind: str, added: set[str], removed: set[str]) -> None:
            if added:
                report.added.setdefault(kind, []).extend(sorted(added))
            if removed:
                report.removed.setdefault(kind, []).extend(sorted(removed))

        for iid in sorted(set(have) | set(desired)):
            h = have.get(iid)
            d = desired.get(iid)
            if h is None or d is None or h.config != d.config:
                note(
                    "instance",
                    {f"{iid} vni {d.config.vni}"} if d is not None else set(),
                    {f"{iid} vni {h.config.vni}"} if h is not None else set(),
                )
            hp = {_port_text(p) for p in h.ports} if h else set()
            dp = {_port_text(p) for p in d.ports} if d else set()
            note("port", {f"{iid} {t}" for t in dp - hp}, {f"{iid} {t}" for t in hp - dp})
            hm = {_mac_text(m) for m in h.remote_macs} if h else set()
            dm = {_mac_text(m) for m in d.remote_macs} if d else set()
            note("fdb", {f"{iid} {t}" for t in dm - hm}, {f"{iid} {t}" for t in hm - dm})
            hr = {_route_text(r) for r in h.routes} if h else set()
            dr = {_route_text(r) for r in d.routes} if d else set()
            note("route", {f"{iid} {t}" for t in dr - hr}, {f"{iid} {t}" for t in hr - dr})
            hf = set(h.flood) if h else set()
            df = set(d.flood) if d else set()
            note("flood", {f"{iid} {t}" for t in df - hf}, {f"{iid} {t}" for t in hf - df})
        self._state = {}
        for iid, s in desired.items():
            prog = _Programmed(s.config, flood=s.flood)
            prog.ports = {(p.name, p.mac): p for p in s.ports}
            prog.macs = set(s.remote_macs)
            prog.routes = {r.prefix: r for r in s.routes}
            self._state[iid] = prog
        return report

    def state(self) -> dict[str, Any]:
        return {
            "driver": self.name,
            "batches": self.batches,
            "changes": self.changes,
            "errors": self.errors,
            "reconciles": self.reconciles,
            "instances": {iid: _instance_json(s) for iid, s in sorted(self.snapshot().items())},
        }

    def instance_state(self, instance_id: str) -> dict[str, Any] | None:
        """One instance's entry of ``state()["instances"]``."""
        prog = self._state.get(instance_id)
        return None if prog is None else _instance_json(prog.freeze())

    def close(self, remove: bool) -> None:
        self.closed = True
        if remove:
            self._state.clear()

    # ---------------------------------------------------------------- for tests

    def snapshot(self) -> dict[str, InstanceState]:
        """The recorded state in the form of ``VpnManager.desired_state`` (lists sorted)."""
        return {iid: p.freeze() for iid, p in self._state.items()}


def _instance_json(s: InstanceState) -> dict[str, Any]:
    c = s.config
    return {
        "config": {
            "instance_id": c.instance_id,
            "instance_type": c.instance_type.value,
            "vni": c.vni,
            "encapsulation": c.encapsulation.value,
            "vtep": c.vtep,
            "router_mac": c.router_mac,
            "index": c.index,
        },
        "ports": [
            {
                "name": p.name,
                "mac": p.mac,
                "ips": list(p.ips),
                "gateway_ip": p.gateway_ip,
                "netns": p.netns,
            }
            for p in s.ports
        ],
        "remote_macs": [
            {"mac": m.mac, "ip": m.ip, "vtep": m.vtep, "vni": m.vni} for m in s.remote_macs
        ],
        "flood": sorted(s.flood),
        "routes": [
            {
                "prefix": r.prefix,
                "next_hops": [
                    {
                        "vtep": h.vtep,
                        "vni": h.vni,
                        "router_mac": h.router_mac,
                        "encapsulation": h.encapsulation.value,
                        "local": h.local,
                    }
                    for h in r.next_hops
                ],
            }
            for r in s.routes
        ],
    }
