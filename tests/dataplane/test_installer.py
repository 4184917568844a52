"""Routes received from peers installed into a kernel table: best path or ECMP set, never our
own routes, removed on withdrawal and when the session goes down (against a recording table;
tests/dataplane/test_installer_kernel.py does it on a real kernel table)."""

from __future__ import annotations

from typing import Any

from bgpvpn.dataplane.installer import RouteInstaller, next_hop_address
from bgpvpn.dataplane.model import ReconcileReport
from bgpvpn.wire.family import IPV4_UNICAST
from rib.helpers import attrs, new_rib, peer, prefix, send

NH1, NH2 = bytes((192, 0, 2, 101)), bytes((192, 0, 2, 102))


class RecordingTable:
    """The kernel table as a dict; ``commits`` counts the batches."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, ...]] = {}
        self.pending: dict[str, tuple[str, ...] | None] = {}
        self.commits = 0
        self.reconciled: dict[str, tuple[str, ...]] | None = None

    def set_route(self, prefix: str, next_hops: tuple[str, ...]) -> None:
        self.pending[prefix] = next_hops

    def remove_route(self, prefix: str) -> None:
        self.pending[prefix] = None

    def commit(self) -> list[str]:
        self.commits += 1
        for p, hops in self.pending.items():
            if hops is None:
                self.routes.pop(p, None)
            else:
                self.routes[p] = hops
        self.pending.clear()
        return []

    def reconcile(self, desired: dict[str, tuple[str, ...]]) -> ReconcileReport:
        self.reconciled = dict(desired)
        self.pending.clear()
        self.routes = dict(desired)
        return ReconcileReport()

    def state(self) -> dict[str, Any]:
        return {"routes": len(self.routes)}

    def close(self, remove: bool) -> None:
        if remove:
            self.routes.clear()


def test_best_path_installed_withdrawn_and_flushed_on_session_down() -> None:
    rib = new_rib()
    p1 = peer(1, 65001)
    rib.peer_up(p1, frozenset({IPV4_UNICAST}))
    table = RecordingTable()
    scheduled: list[object] = []
    inst = RouteInstaller(rib, table, (IPV4_UNICAST,), scheduled.append)
    inst.start()
    assert table.reconciled == {}  # a previous run's routes go at start

    send(rib, p1, [prefix(1), prefix(2)], attrs(65001, next_hop=NH1))
    assert len(scheduled) == 1  # one commit scheduled for the whole UPDATE
    inst.commit()
    assert table.routes == {"10.0.1.0/24": ("192.0.2.101",), "10.0.2.0/24": ("192.0.2.101",)}

    send(rib, p1, [prefix(1)], None)  # withdrawal
    inst.commit()
    assert table.routes == {"10.0.2.0/24": ("192.0.2.101",)}

    rib.peer_down(p1.peer_id, 0.0)
    inst.commit()
    assert table.routes == {}


def test_local_routes_are_not_installed_and_replay_at_start() -> None:
    rib = new_rib()
    p1 = peer(1, 65001)
    rib.peer_up(p1, frozenset({IPV4_UNICAST}))
    send(rib, p1, [prefix(3)], attrs(65001, next_hop=NH2))
    rib.announce(IPV4_UNICAST, prefix(4), None, attrs(next_hop=NH1), 0.0)
    table = RecordingTable()
    RouteInstaller(rib, table, (IPV4_UNICAST,)).start()
    assert table.reconciled == {"10.0.3.0/24": ("192.0.2.102",)}


def test_ecmp_set_becomes_one_multipath_route() -> None:
    rib = new_rib(multipath=True)
    p1, p2 = peer(1, 65001), peer(2, 65001)
    for p in (p1, p2):
        rib.peer_up(p, frozenset({IPV4_UNICAST}))
    table = RecordingTable()
    inst = RouteInstaller(rib, table, (IPV4_UNICAST,))
    inst.start()
    send(rib, p1, [prefix(5)], attrs(65001, next_hop=NH1))
    send(rib, p2, [prefix(5)], attrs(65001, next_hop=NH2))
    inst.commit()
    assert table.routes == {"10.0.5.0/24": ("192.0.2.101", "192.0.2.102")}
    rib.peer_down(p2.peer_id, 0.0)
    inst.commit()
    assert table.routes == {"10.0.5.0/24": ("192.0.2.101",)}


def test_next_hop_address_forms() -> None:
    assert next_hop_address(bytes((192, 0, 2, 1))) == "192.0.2.1"
    glob = bytes.fromhex("20010db8000000000000000000000001")
    link = bytes.fromhex("fe800000000000000000000000000001")
    assert next_hop_address(glob + link) == "2001:db8::1"
    assert next_hop_address(bytes(4)) is None
    assert next_hop_address(None) is None
