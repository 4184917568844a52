"""Static routes, bulk attach, restore from the store, reconcile, close, and the manager's cost."""

from __future__ import annotations

import gc

from bgpvpn.vpn.manager import StoredInstance
from bgpvpn.vpn.model import InstanceSpec, InstanceType
from bgpvpn.wire.family import EVPN, VPNV4

from .helpers import (
    FakeStore,
    evpn_att,
    ext,
    host,
    in_sync,
    local,
    norm,
    peer,
    peer_attrs,
    rib_snapshot,
    send,
    up,
    vpn_wire,
    vrf_att,
)


def test_static_routes_with_attributes() -> None:
    h = host()
    h.vpn.attach(vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24"))
    res = h.vpn.add_static_route(
        "vrf", "10.20.0.7/16", "10.1.0.1", local_pref=300, med=5, communities=("64512:7",)
    )
    assert res.routes_added == ("10.255.0.1:1:10.20.0.0/16 label 1000",)
    mine = {str(r.prefix): a for r, a, _ in local(h.rib, VPNV4).values()}
    a = mine["10.20.0.0/16"]
    assert (a.local_pref, a.med, a.communities) == (300, 5, ((64512 << 16) | 7,))
    assert {"target:64512:1", "encap:vxlan"} <= ext(a)
    assert h.store.statics[("vrf", "10.20.0.0/16")][3]["next_hop"] == "10.1.0.1"
    assert [s.prefix for s in h.vpn.instance("vrf").static_routes] == ["10.20.0.0/16"]
    # E-VPN: a type-5
    h.vpn.create_instance(InstanceSpec("evi", InstanceType.EVPN, (), ("64512:5",)))
    h.vpn.add_static_route("evi", "2001:db8:7::/48", "2001:db8::1")
    t5 = [r for r, _, _ in local(h.rib, EVPN).values() if r.route_type == 5]
    assert [str(r.prefix) for r in t5] == ["2001:db8:7::/48"]
    res = h.vpn.remove_static_route("vrf", "10.20.0.0/16")
    assert res.routes_removed == ("10.255.0.1:1:10.20.0.0/16 label 1000",)
    assert ("vrf", "10.20.0.0/16") not in h.store.statics


def test_attach_many_one_transaction_one_batch() -> None:
    h = host()
    atts = [
        evpn_att(
            f"tap{i}", f"52:54:00:00:{i >> 8:02x}:{i & 255:02x}", f"10.{i >> 8}.{i & 255}.1/16"
        )
        for i in range(1000)
    ]
    batches = h.driver.batches
    res = h.vpn.attach_many(atts)  # its speed: bench/vpn_import.py and bench/attach.py
    assert res.instances_created == ("evi",)
    assert len(res.routes_added) == 2001  # MAC-only + MAC/IP per port, one type-3
    assert h.store.transactions == 1
    assert h.driver.batches == batches + 1
    assert len(h.driver.snapshot()["evi"].ports) == 1000


def test_restore_rebuilds_routes_and_state_without_writes() -> None:
    store = FakeStore()
    a = host(store=store)
    a.vpn.attach(evpn_att("tap1", "52:54:00:00:00:01", "10.0.0.5/24"))
    a.vpn.create_instance(InstanceSpec("vrf", InstanceType.IPVPN, ("64512:2",), (), rd="64512:9"))
    a.vpn.attach(vrf_att("tap2", "52:54:00:00:00:02", "10.1.0.5/24", rts=("64512:2",)))
    a.vpn.add_static_route("vrf", "10.20.0.0/16", "10.1.0.1", med=5)
    a.vpn.detach("evi", "tap1")  # gone: its index 1 is free, vrf keeps 2
    a.vpn.attach(evpn_att("tap3", "52:54:00:00:00:03", instance="evi2"))
    p1 = peer(1)
    up(a.rib, p1)
    send(
        a.rib,
        p1,
        VPNV4,
        [vpn_wire("1:1", "10.9.0.0/24", 77)],
        peer_attrs("203.0.113.1", "target:64512:2"),
    )
    writes = len(store.calls)

    b = host(store=store)  # a restart: same store, fresh RIB
    # the data plane still holds something stale from before the crash
    b.driver.apply([])
    up(b.rib, p1)
    send(
        b.rib,
        p1,
        VPNV4,
        [vpn_wire("1:1", "10.9.0.0/24", 77)],
        peer_attrs("203.0.113.1", "target:64512:2"),
    )
    b.vpn.restore(
        list(store.instances.values()),
        list(store.attachments.values()),
        [(k[0], k[1], v[3]) for k, v in store.statics.items()],
    )
    assert len(store.calls) == writes
    assert b.vpn.restore_errors == []
    assert rib_snapshot_keys(b) == rib_snapshot_keys(a)
    assert norm(b.vpn.desired_state()) == norm(a.vpn.desired_state())
    assert in_sync(b) and b.driver.reconciles == 1
    views = {v.spec.instance_id: (v.index, v.rd, v.vni) for v in b.vpn.instances()}
    assert views == {v.spec.instance_id: (v.index, v.rd, v.vni) for v in a.vpn.instances()}
    # restored numbers stay taken
    new = b.vpn.create_instance(InstanceSpec("x", InstanceType.EVPN))
    assert new.index not in {i for i, _, _ in views.values()}


def rib_snapshot_keys(h: object) -> dict[object, set[tuple[bytes, bytes | None]]]:
    snap = rib_snapshot(h.rib)  # type: ignore[attr-defined]
    return {f: {(k, d) for k, d, _ in v} for f, v in snap.items()}


def test_restore_skips_conflicts_and_reconcile_reports_fixes() -> None:
    h = host()
    spec = InstanceSpec("a", InstanceType.EVPN)
    h.vpn.restore(
        [
            StoredInstance(spec, 1, "10.255.0.1:1", 5000),
            StoredInstance(InstanceSpec("b", InstanceType.EVPN), 2, "10.255.0.1:2", 5000),
        ],
        [evpn_att("tap1", "52:54:00:00:00:01", instance="a"), evpn_att("tap2", "zz", instance="a")],
    )
    assert len(h.vpn.restore_errors) == 2
    assert [v.spec.instance_id for v in h.vpn.instances()] == ["a"]
    # something changed behind our back: reconcile puts it back and says what it fixed
    h.driver._state.clear()
    (report,) = h.vpn.reconcile().values()
    assert report.changed and "instance" in report.added and "port" in report.added
    assert in_sync(h)
    (again,) = h.vpn.reconcile().values()
    assert not again.changed


def test_close_withdraws_and_closes_drivers() -> None:
    h = host()
    h.vpn.attach(evpn_att("tap1", "52:54:00:00:00:01"))
    h.vpn.close(remove=False)
    assert local(h.rib, EVPN) == {} and rib_snapshot_keys(h)[list(rib_snapshot(h.rib))[3]] == set()
    assert h.driver.closed and "evi" in h.driver.snapshot()  # kept: not asked to remove


def test_a_removed_instance_leaves_no_reference_cycle() -> None:
    """The GC policy freezes long-lived objects; a frozen reference cycle is never collected, so
    a removed instance must be freed by reference counting alone (no cycle left behind)."""
    h = host()
    gc.collect()
    gc.disable()
    try:
        for n in range(3):
            h.vpn.attach(vrf_att(f"tap{n}", f"52:54:00:00:00:0{n}", f"10.1.0.{n + 5}/24"))
            h.vpn.attach(evpn_att(f"tapE{n}", f"52:54:00:00:01:0{n}", f"10.2.0.{n + 5}/24"))
        h.vpn.detach("vrf", "tap0")
        h.vpn.delete_instance("evi")
        h.vpn.detach("vrf", "tap1")
        h.vpn.detach("vrf", "tap2")
        assert h.vpn.instances() == []
        assert gc.collect() == 0
    finally:
        gc.enable()
