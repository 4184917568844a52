"""Decoding mistakes seen in other Python BGP libraries on this machine kind, each tested here:
ExaBGP and os-ken drop the second label (the L3 VNI) of E-VPN type-2 routes, yabgp corrupts the
VNI and has a sign bug in large communities, scapy keeps only the first community, os-ken guesses
the AS_PATH width. A VNI fills all 24 bits of the label field (RFC8365 5.1.3)."""

from __future__ import annotations

from bgpvpn.wire import PathAttributes, WireContext, decode_message, pack_updates
from bgpvpn.wire.attributes import AsPath
from bgpvpn.wire.communities import ext_community_from_text
from bgpvpn.wire.family import EVPN, IPV4_UNICAST, VPNV4
from bgpvpn.wire.jsonform import message_to_json
from bgpvpn.wire.routes import EvpnRoute, VpnRoute, route_from_wire
from bgpvpn.wire.text import Prefix, RouteDistinguisher, ip_from_text, mac_from_text
from bgpvpn.wire.update import UpdateMessage

ATTRS = PathAttributes(
    origin=0,
    as_path=AsPath.sequence(64512),
    next_hop=ip_from_text("192.0.2.1"),
    ext_communities=(
        ext_community_from_text("target:64512:77"),
        ext_community_from_text("encap:vxlan"),
    ),
)


def _decode(data: bytes, ctx: WireContext | None = None) -> UpdateMessage:
    msg = decode_message(data, ctx or WireContext())
    assert isinstance(msg, UpdateMessage)
    assert msg.problems == ()
    return msg


def test_evpn_type2_keeps_both_labels_as_full_24_bit_vnis() -> None:
    route = EvpnRoute(
        2,
        RouteDistinguisher.parse("192.0.2.1:7"),
        mac=mac_from_text("52:54:00:00:01:01"),
        ip=ip_from_text("198.51.100.10"),
        labels=(0xFFFFFF, 0xABCDEF),
    )
    key, data = route.to_wire()
    (wire,) = pack_updates(EVPN, [key], [data], None, ATTRS)
    # the label fields end the NLRI: 24-bit values, not shifted MPLS labels
    assert b"\xc6\x33\x64\x0a\xff\xff\xff\xab\xcd\xef" in wire
    msg = _decode(wire)
    (block,) = msg.announced
    decoded = route_from_wire(EVPN, block.keys[0], block.data[0] if block.data else None)
    assert decoded == route
    assert message_to_json(msg)["announced"][0]["labels"] == [0xFFFFFF, 0xABCDEF]


def test_vni_is_not_shifted_like_an_mpls_label() -> None:
    route = EvpnRoute(2, RouteDistinguisher.parse("64512:1"), mac=bytes(6), labels=(100,))
    _, data = route.to_wire()
    assert data is not None and data.endswith(b"\x00\x00\x64")  # VNI 100, not 100 << 4


def test_every_community_is_kept() -> None:
    comms = (0x00640190, 0xFFFFFF01, 0xFDE80001, 0x0001FFFF)
    attrs = ATTRS.replace(communities=comms, ext_communities=())
    (wire,) = pack_updates(
        IPV4_UNICAST, [Prefix.parse("203.0.113.0/24").to_wire()], None, None, attrs
    )
    msg = _decode(wire)
    assert msg.attributes is not None and msg.attributes.communities == comms
    assert message_to_json(msg)["attributes"]["communities"] == [
        "100:400",
        "no-export",
        "65000:1",
        "1:65535",
    ]


def test_large_communities_are_unsigned_32_bit() -> None:
    large = ((4294967295, 2147483648, 1), (64512, 0, 4294967294))
    attrs = ATTRS.replace(large_communities=large, ext_communities=())
    (wire,) = pack_updates(
        IPV4_UNICAST, [Prefix.parse("203.0.113.0/24").to_wire()], None, None, attrs
    )
    msg = _decode(wire)
    assert msg.attributes is not None and msg.attributes.large_communities == large
    assert message_to_json(msg)["attributes"]["large_communities"] == [
        "4294967295:2147483648:1",
        "64512:0:4294967294",
    ]


def test_as_path_width_comes_from_the_session_not_a_guess() -> None:
    attrs = ATTRS.replace(as_path=AsPath.sequence(1, 2), ext_communities=())
    nlri = [Prefix.parse("203.0.113.0/24").to_wire()]
    (two_octet,) = pack_updates(IPV4_UNICAST, nlri, None, None, attrs, WireContext(as4=False))
    msg = _decode(two_octet, WireContext(as4=False))
    assert msg.attributes is not None and str(msg.attributes.as_path) == "1 2"


def test_vpnv4_label_and_rd_types() -> None:
    routes = [
        VpnRoute(RouteDistinguisher.parse(rd), Prefix.parse("203.0.113.0/25"), (label,))
        for rd, label in (("64512:1", 16), ("192.0.2.1:7", 1048575), ("4200000000:9", 3))
    ]
    wire = [r.to_wire() for r in routes]
    (msg_bytes,) = pack_updates(
        VPNV4, [k for k, _ in wire], [d or b"" for _, d in wire], None, ATTRS
    )
    msg = _decode(msg_bytes)
    (block,) = msg.announced
    got = [route_from_wire(VPNV4, k, d) for k, d in zip(block.keys, block.data or (), strict=True)]
    assert got == routes
    assert [str(r.rd) for r in got] == ["64512:1", "192.0.2.1:7", "4200000000:9"]
