"""MACs the data plane learned on a local port (``advertise_learned``): MAC-only type-2 routes,
MAC mobility as for attached MACs, never for attached MACs, never stored."""

from __future__ import annotations

import dataclasses

import pytest

from bgpvpn.vpn.model import InstanceSpec, InstanceType, VpnError
from bgpvpn.wire.family import EVPN

from .helpers import Mesh, evpn_att, ext, host, local

LEARNED = "52:54:00:00:00:77"
PORT_MAC = "52:54:00:00:00:01"


def _spec(learn: bool = True) -> InstanceSpec:
    return InstanceSpec(
        "evi", InstanceType.EVPN, ("64512:1",), ("64512:1",), advertise_learned=learn
    )


def _type2(h: object, mac: str) -> dict[str, set[str]]:
    """h's announced type-2 routes for ``mac``: text -> extended communities."""
    return {
        text: ext(a)
        for text, (r, a, _) in local(h.rib, EVPN).items()  # type: ignore[attr-defined]
        if r.route_type == 2 and r.mac.hex(":") == mac
    }


def test_learned_mac_announced_and_withdrawn_not_stored() -> None:
    h = host(1)
    h.vpn.attach(evpn_att("tap1", PORT_MAC), _spec())
    calls = len(h.store.calls)
    with h.vpn.batch():
        assert h.vpn.mac_learned("evi", "tap1", LEARNED.upper(), True)
    (text,) = _type2(h, LEARNED)
    assert f"mac={LEARNED}" in text and " ip=" not in text
    assert not any(e.startswith("mac-mobility") for e in _type2(h, LEARNED)[text])
    # learned again (same port): nothing; on another port: the same route
    assert not h.vpn.mac_learned("evi", "tap1", LEARNED, True)
    assert h.vpn.mac_learned("evi", "tap2", LEARNED, True)
    assert len(_type2(h, LEARNED)) == 1
    assert h.vpn.mac_learned("evi", "tap2", LEARNED, False)
    assert _type2(h, LEARNED) == {}
    assert not h.vpn.mac_learned("evi", "tap2", LEARNED, False)
    assert len(h.store.calls) == calls  # never stored
    assert not h.vpn.mac_learned("nope", "tap1", LEARNED, True)


def test_not_without_advertise_learned_nor_for_attached_macs() -> None:
    h = host(1)
    h.vpn.attach(evpn_att("tap1", PORT_MAC), _spec(False))
    assert not h.vpn.mac_learned("evi", "tap1", LEARNED, True)
    assert _type2(h, LEARNED) == {}

    g = host(2)
    g.vpn.attach(evpn_att("tap1", PORT_MAC), _spec())
    assert not g.vpn.mac_learned("evi", "tap1", PORT_MAC, True)  # attached there
    assert len(_type2(g, PORT_MAC)) == 1
    # learned, then attached: the port's route only; the detach withdraws it
    assert g.vpn.mac_learned("evi", "tap1", LEARNED, True)
    g.vpn.attach(evpn_att("tap1", LEARNED, "10.0.0.7/24"))
    assert len(_type2(g, LEARNED)) == 2  # MAC-only and MAC/IP of the port
    assert not g.vpn.mac_learned("evi", "tap1", LEARNED, False)
    g.vpn.detach("evi", "tap1", LEARNED)
    assert _type2(g, LEARNED) == {}


def test_learned_mac_mobility() -> None:
    a, b = host(1), host(2)
    mesh = Mesh(a, b)
    a.vpn.attach(evpn_att("tapa", "52:54:00:00:00:0a"), _spec())
    b.vpn.attach(evpn_att("tapb", "52:54:00:00:00:0b"), _spec())
    a.vpn.mac_learned("evi", "tapa", LEARNED, True)
    mesh.pump()
    assert len(_type2(a, LEARNED)) == 1
    # the MAC shows up behind B: B advertises it with sequence 1, A withdraws its route
    b.vpn.mac_learned("evi", "tapb", LEARNED, True)
    mesh.pump()
    (comms,) = _type2(b, LEARNED).values()
    assert "mac-mobility:1" in comms
    assert _type2(a, LEARNED) == {}
    # it ages out on A, then B; comes back on A with sequence 2
    a.vpn.mac_learned("evi", "tapa", LEARNED, False)
    mesh.pump()
    a.vpn.mac_learned("evi", "tapa", LEARNED, True)
    mesh.pump()
    (comms,) = _type2(a, LEARNED).values()
    assert "mac-mobility:2" in comms
    assert _type2(b, LEARNED) == {}


def test_advertise_learned_is_evpn_only() -> None:
    h = host(1)
    spec = InstanceSpec("vrf", InstanceType.IPVPN, ("64512:2",), ("64512:2",))
    with pytest.raises(VpnError) as err:
        h.vpn.create_instance(dataclasses.replace(spec, advertise_learned=True))
    assert err.value.field == "advertise_learned" and err.value.status == 400
    view = h.vpn.create_instance(_spec())
    assert view.to_json()["advertise_learned"] is True


def test_advertise_learned_changed_live() -> None:
    """Off: MACs learned meanwhile are heard, not advertised; on: they are advertised (not an
    attached one); off again: withdrawn; the change is stored; an IP VPN refuses it."""
    h = host(1)
    h.vpn.attach(evpn_att("tap1", PORT_MAC), _spec(False))
    other = "52:54:00:00:00:78"
    assert not h.vpn.mac_learned("evi", "tap1", LEARNED, True)
    assert not h.vpn.mac_learned("evi", "tap1", other, True)
    assert not h.vpn.mac_learned("evi", "tap1", other, False)  # aged out while off
    assert not h.vpn.mac_learned("evi", "tap1", PORT_MAC, True)  # the attached one
    assert _type2(h, LEARNED) == {}
    result = h.vpn.update_instance("evi", advertise_learned=True)
    assert len(result.routes_added) == 1 and "52:54:00:00:00:77" in result.routes_added[0]
    assert len(_type2(h, LEARNED)) == 1 and _type2(h, other) == {}
    assert len(_type2(h, PORT_MAC)) == 1  # the port's own route, not a second one
    assert h.vpn.instance("evi").to_json()["advertise_learned"] is True
    stored = [c for c in h.store.calls if c[0] == "put_instance"]
    assert stored[-1][1].advertise_learned is True
    result = h.vpn.update_instance("evi", advertise_learned=False)
    assert len(result.routes_removed) == 1 and _type2(h, LEARNED) == {}
    # heard still: on again advertises it again
    h.vpn.update_instance("evi", advertise_learned=True)
    assert len(_type2(h, LEARNED)) == 1

    h.vpn.create_instance(InstanceSpec("vrf", InstanceType.IPVPN, ("64512:2",), ("64512:2",)))
    with pytest.raises(VpnError) as err:
        h.vpn.update_instance("vrf", advertise_learned=True)
    assert err.value.field == "advertise_learned" and err.value.status == 400
