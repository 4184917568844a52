"""Every refusal names the field as the user wrote it, with its status, and changes nothing:
not the RIB, not the drivers, not the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from bgpvpn.vpn.manager import VpnManager
from bgpvpn.vpn.model import InstanceSpec, InstanceType, PortAttachment, VpnError

from .helpers import Host, evpn_att, host, rib_snapshot, vrf_att


def setup() -> Host:
    h = host()
    h.vpn.attach(evpn_att("tap1", "52:54:00:00:00:01", "10.0.0.5/24"))
    h.vpn.create_instance(InstanceSpec("vrf", InstanceType.IPVPN, ("64512:2",), (), vni=2000))
    h.vpn.attach(vrf_att("tap2", "52:54:00:00:00:02", "10.1.0.5/24", rts=("64512:2",)))
    return h


def state(h: Host) -> tuple[Any, ...]:
    views = [v.to_json() for v in h.vpn.instances()]
    return (rib_snapshot(h.rib), h.driver.snapshot(), h.driver.batches, views)


E = InstanceType.EVPN
V = InstanceType.IPVPN
CASES: list[tuple[str, Callable[[VpnManager], object], str, int]] = [
    (
        "bad import rt",
        lambda m: m.create_instance(InstanceSpec("x", E, ("64512:1", "nope"))),
        "import_rts[1]",
        400,
    ),
    (
        "bad export rt",
        lambda m: m.update_instance("evi", export_rts=("1:2", "x:y")),
        "export_rts[1]",
        400,
    ),
    ("bad type", lambda m: m.create_instance(InstanceSpec("x", "l2vpn")), "instance_type", 400),  # type: ignore[arg-type]
    ("empty id", lambda m: m.create_instance(InstanceSpec("", E)), "instance_id", 400),
    ("vni range", lambda m: m.create_instance(InstanceSpec("x", E, vni=0x1000000)), "vni", 400),
    (
        "ipvpn vni is a label",
        lambda m: m.create_instance(InstanceSpec("x", V, vni=0x100000)),
        "vni",
        400,
    ),
    ("bad rd", lambda m: m.create_instance(InstanceSpec("x", E, rd="1:2:3")), "rd", 400),
    ("vni taken", lambda m: m.create_instance(InstanceSpec("x", E, vni=2000)), "vni", 409),
    ("rd taken", lambda m: m.create_instance(InstanceSpec("x", E, rd="10.255.0.1:1")), "rd", 409),
    ("other type", lambda m: m.create_instance(InstanceSpec("evi", V)), "instance_type", 409),
    ("other vni", lambda m: m.create_instance(InstanceSpec("vrf", V, vni=2001)), "vni", 409),
    ("bad local_pref", lambda m: m.update_instance("vrf", local_pref=-1), "local_pref", 400),
    ("update unknown", lambda m: m.update_instance("nope", import_rts=()), "instance_id", 404),
    ("delete unknown", lambda m: m.delete_instance("nope"), "instance_id", 404),
    ("get unknown", lambda m: m.instance("nope"), "instance_id", 404),
    ("bad mac", lambda m: m.attach(evpn_att("tap9", "52:54:zz:00:00:01")), "mac", 400),
    (
        "bad ip",
        lambda m: m.attach(evpn_att("tap9", "52:54:00:00:00:09", "10.0.0.9/24", "10.0.0.999")),
        "ips[1]",
        400,
    ),
    (
        "bad port",
        lambda m: m.attach(evpn_att("a-very-long-interface-name", "52:54:00:00:00:09")),
        "port",
        400,
    ),
    (
        "bad gateway",
        lambda m: m.attach(evpn_att("tap9", "52:54:00:00:00:09", gateway_ip="x")),
        "gateway_ip",
        400,
    ),
    (
        "attach type mismatch",
        lambda m: m.attach(vrf_att("tap9", "52:54:00:00:00:09", instance="evi")),
        "instance_type",
        409,
    ),
    ("mac on other port", lambda m: m.attach(evpn_att("tap9", "52:54:00:00:00:01")), "mac", 409),
    (
        "ip on other port",
        lambda m: m.attach(evpn_att("tap9", "52:54:00:00:00:09", "10.0.0.9/24", "10.0.0.5/24")),
        "ips[1]",
        409,
    ),
    (
        "attach rt",
        lambda m: m.attach(evpn_att("tap9", "52:54:00:00:00:09", rts=("bad",))),
        "import_rts[0]",
        400,
    ),
    (
        "spec id mismatch",
        lambda m: m.attach(
            evpn_att("tap9", "52:54:00:00:00:09", instance="new"), InstanceSpec("other", E)
        ),
        "instance_id",
        400,
    ),
    (
        "new instance vni taken",
        lambda m: m.attach(
            evpn_att("tap9", "52:54:00:00:00:09", instance="new"), InstanceSpec("new", E, vni=1000)
        ),
        "vni",
        409,
    ),
    (
        "bulk: second bad",
        lambda m: m.attach_many(
            [evpn_att("tap8", "52:54:00:00:00:08", instance="new"), evpn_att("tap9", "bad")]
        ),
        "[1].mac",
        400,
    ),
    (
        "bulk: conflict inside",
        lambda m: m.attach_many(
            [evpn_att("tap8", "52:54:00:00:00:08"), evpn_att("tap9", "52:54:00:00:00:08")]
        ),
        "[1].mac",
        409,
    ),
    (
        "bulk: type inside",
        lambda m: m.attach_many(
            [
                evpn_att("tap8", "52:54:00:00:00:08", instance="n"),
                vrf_att("tap9", "52:54:00:00:00:09", instance="n"),
            ]
        ),
        "[1].instance_type",
        409,
    ),
    ("detach unknown instance", lambda m: m.detach("nope", "tap1"), "instance_id", 404),
    ("detach unknown port", lambda m: m.detach("evi", "tap7"), "port", 404),
    ("detach unknown mac", lambda m: m.detach("evi", "tap1", "52:54:00:00:00:07"), "mac", 404),
    ("detach bad mac", lambda m: m.detach("evi", "tap1", "zz"), "mac", 400),
    (
        "static unknown instance",
        lambda m: m.add_static_route("nope", "10.9.0.0/16", "10.0.0.1"),
        "instance_id",
        404,
    ),
    (
        "static bad prefix",
        lambda m: m.add_static_route("vrf", "10.9.0.0/33", "10.0.0.1"),
        "prefix",
        400,
    ),
    (
        "static bad next hop",
        lambda m: m.add_static_route("vrf", "10.9.0.0/16", "x"),
        "next_hop",
        400,
    ),
    (
        "static bad med",
        lambda m: m.add_static_route("vrf", "10.9.0.0/16", "10.0.0.1", med=2**32),
        "med",
        400,
    ),
    (
        "static bad community",
        lambda m: m.add_static_route("vrf", "10.9.0.0/16", "10.0.0.1", communities=("1:1", "x")),
        "communities[1]",
        400,
    ),
    ("remove unknown static", lambda m: m.remove_static_route("vrf", "10.9.0.0/16"), "prefix", 404),
]


@pytest.mark.parametrize(("name", "call", "field", "status"), CASES, ids=[c[0] for c in CASES])
def test_refused_calls_change_nothing(
    name: str, call: Callable[[VpnManager], object], field: str, status: int
) -> None:
    h = setup()
    before = state(h)
    calls = len(h.store.calls)
    transactions = h.store.transactions
    with pytest.raises(VpnError) as exc:
        call(h.vpn)
    assert (exc.value.field, exc.value.status) == (field, status), exc.value
    assert state(h) == before
    assert len(h.store.calls) == calls and h.store.transactions == transactions
    # the numbers a refused call took are free: the next instance gets the next ones
    view = h.vpn.create_instance(InstanceSpec("after", InstanceType.EVPN))
    assert (view.index, view.vni) == (3, 1001)


def test_store_failure_changes_nothing() -> None:
    h = setup()
    before = state(h)
    h.store.fail = True
    with pytest.raises(OSError):
        h.vpn.attach(evpn_att("tap9", "52:54:00:00:00:09", instance="new"))
    with pytest.raises(OSError):
        h.vpn.delete_instance("evi")
    assert state(h) == before
    h.store.fail = False
    assert h.vpn.attach(evpn_att("tap9", "52:54:00:00:00:09", instance="new")).instances_created


def test_same_spec_again_is_a_no_op() -> None:
    h = setup()
    before = state(h)
    calls = len(h.store.calls)
    spec = InstanceSpec("vrf", InstanceType.IPVPN, ("64512:2",), (), vni=2000)
    assert h.vpn.create_instance(spec).vni == 2000
    assert state(h) == before and len(h.store.calls) == calls


def test_reattach_adds_addresses() -> None:
    h = setup()
    a = evpn_att("tap1", "52:54:00:00:00:01", "10.0.0.6/24")
    res = h.vpn.attach(a)
    assert res.routes_added == (
        "[type-2] 10.255.0.1:1 ethernet_tag=0 mac=52:54:00:00:00:01 ip=10.0.0.6 labels=[1000]",
    )
    (port,) = h.vpn.instance("evi").ports
    assert port.ips == ("10.0.0.5/24", "10.0.0.6/24")
    assert h.store.attachments[("evi", "tap1", "52:54:00:00:00:01")].ips == port.ips
    # the same port in another instance works
    h.vpn.attach(replace(a, instance_id="evi2", import_rts=("64512:3",), export_rts=("64512:3",)))
    assert [p.port for p in h.vpn.instance("evi2").ports] == ["tap1"]
    # an existing instance gets the attachment's route targets added
    h.vpn.attach(
        PortAttachment(
            "vrf",
            InstanceType.IPVPN,
            "tap3",
            "52:54:00:00:00:03",
            ("10.1.0.7/24",),
            import_rts=("64512:8",),
            export_rts=("64512:9",),
        )
    )
    spec = h.vpn.instance("vrf").spec
    assert (spec.import_rts, spec.export_rts) == (("64512:2", "64512:8"), ("64512:2", "64512:9"))
