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
    remote_mac,
)
from bgpvpn.vpn.model import Encapsulation, InstanceType

CFG = InstanceConfig(
    "evi", InstanceType.EVPN, 1000, Encapsulation.VXLAN, "192.0.2.1", "02:00:00:00:00:01", 1
)
PORT = LocalPort("tap1", "52:54:00:00:00:01", ("10.0.0.5/24",))
MAC = RemoteMac("52:54:00:00:00:02", "192.0.2.2", 1000, "10.0.0.6")
MAC_FIELDS = ("52:54:00:00:00:02", "10.0.0.6", "192.0.2.2", 1000)
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
    assert d.instance_state("evi") == j and d.instance_state("nope") is None
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


def test_remote_mac_from_a_route_key_equals_its_text_form() -> None:
    """A RemoteMac made from a type-2 route's wire key (what the vpn layer gives) renders MAC and
    IP when read, and equals the one made from text whatever the route's RD and tag."""
    key = (
        b"\x02"
        + bytes((0, 1, 203, 0, 113, 1, 0, 7))  # RD 203.0.113.1:7
        + bytes((0, 0, 0, 5))  # Ethernet tag 5
        + b"\x30"
        + bytes.fromhex("525400000002")
        + b"\x20"
        + bytes((10, 0, 0, 6))
    )
    entry = remote_mac(key, "192.0.2.2", 1000)
    assert (entry.mac, entry.ip, entry.vtep, entry.vni) == MAC_FIELDS
    assert entry.route_key is key
    assert entry == MAC and hash(entry) == hash(MAC) and repr(entry) == repr(MAC)
    assert entry != RemoteMac("52:54:00:00:00:02", "192.0.2.2", 1001, "10.0.0.6")
    assert entry != RemoteMac("52:54:00:00:00:02", "192.0.2.2", 1000)
    mac_only = remote_mac(key[:20] + b"\x00", "192.0.2.2", 1000)
    assert mac_only.ip is None and mac_only == RemoteMac("52:54:00:00:00:02", "192.0.2.2", 1000)
    v6 = RemoteMac("52:54:00:00:00:02", "192.0.2.2", 1000, "2001:db8::6")
    assert v6.ip == "2001:db8::6" and v6 != MAC
    assert RemoteMac("52:54:00:00:00:2", "192.0.2.2", 1000, "10.0.0.6") == MAC  # canonical text
    d = DummyDriver()
    d.apply([InstanceCreated(CFG), RemoteMacAdded("evi", entry)])
    d.apply([RemoteMacRemoved("evi", MAC)])  # an equal entry removes it
    assert d.snapshot()["evi"].remote_macs == ()
