"""The dummy driver: records batches, answers reconcile with what it had to fix."""

from __future__ import annotations

from bgpvpn.dataplane.dummy import DummyDriver
from bgpvpn.dataplane.model import (
    FloodListChanged,
    InstanceConfig,
    InstanceCreated,
    InstanceRemoved,
    InstanceState,
    LocalPort,
    NextHop,
    PortAttached,
    PortDetached,
    RemoteMac,
    RemoteMacAdded,
    RemoteMacRemoved,
    RemoteRoute,
    RemoteRouteRemoved,
    RemoteRouteSet,
)
from bgpvpn.vpn.model import Encapsulation, InstanceType

CFG = InstanceConfig(
    "evi", InstanceType.EVPN, 1000, Encapsulation.VXLAN, "192.0.2.1", "02:00:00:00:00:01", 1
)
PORT = LocalPort("tap1", "52:54:00:00:00:01", ("10.0.0.5/24",))
MAC = RemoteMac("52:54:00:00:00:02", "192.0.2.2", 1000, "10.0.0.6")
ROUTE = RemoteRoute("10.9.0.0/24", (NextHop("192.0.2.2", 1000),))


def test_apply_records_and_counts() -> None:
    d = DummyDriver()
    d.apply([InstanceCreated(CFG), PortAttached("evi", PORT), RemoteMacAdded("evi", MAC)])
    d.apply([RemoteRouteSet("evi", ROUTE), FloodListChanged("evi", frozenset({"192.0.2.2"}))])
    assert (d.batches, d.changes, d.errors) == (2, 5, 0)
    assert d.snapshot() == {
        "evi": InstanceState(CFG, (PORT,), (MAC,), (ROUTE,), frozenset({"192.0.2.2"}))
    }
    j = d.state()["instances"]["evi"]
    assert j["config"]["vni"] == 1000 and j["flood"] == ["192.0.2.2"]
    assert j["remote_macs"] == [
        {"mac": MAC.mac, "ip": "10.0.0.6", "vtep": "192.0.2.2", "vni": 1000}
    ]
    assert j["routes"][0]["next_hops"][0]["vtep"] == "192.0.2.2"
    d.apply(
        [
            RemoteMacRemoved("evi", MAC),
            RemoteRouteRemoved("evi", ROUTE.prefix),
            PortDetached("evi", PORT),
        ]
    )
    assert d.snapshot()["evi"] == InstanceState(CFG, (), (), (), frozenset({"192.0.2.2"}))
    # a change for an unknown instance is counted, not raised
    d.apply([PortAttached("nope", PORT)])
    assert d.errors == 1
    d.apply([InstanceRemoved("evi")])
    assert d.snapshot() == {}


def test_reconcile_replaces_and_reports() -> None:
    d = DummyDriver()
    d.apply([InstanceCreated(CFG), PortAttached("evi", PORT), RemoteMacAdded("evi", MAC)])
    other = RemoteMac("52:54:00:00:00:03", "192.0.2.3", 1000)
    desired = {"evi": InstanceState(CFG, (PORT,), (other,), (ROUTE,), frozenset())}
    report = d.reconcile(desired)
    assert report.changed
    assert report.removed == {"fdb": ["evi 52:54:00:00:00:02 10.0.0.6 vni 1000 dst 192.0.2.2"]}
    assert report.added == {
        "fdb": ["evi 52:54:00:00:00:03 vni 1000 dst 192.0.2.3"],
        "route": ["evi 10.9.0.0/24 via 192.0.2.2 vni 1000"],
    }
    assert d.snapshot() == desired
    assert not d.reconcile(desired).changed
    assert d.reconcile({}).removed["instance"] == ["evi vni 1000"]
    d.close(remove=True)
    assert d.closed and d.snapshot() == {}
