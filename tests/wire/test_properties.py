"""Property-based round trips of the wire codec: every message type, every family and route
type, random attribute sets, and the text forms users type."""

from __future__ import annotations

import pytest
import strategies as S
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bgpvpn.wire.attributes import AsPath, PathAttributes
from bgpvpn.wire.capabilities import FourOctetAs
from bgpvpn.wire.communities import (
    community_from_text,
    community_to_text,
    ext_community_from_text,
    ext_community_to_text,
    large_community_from_text,
    large_community_to_text,
)
from bgpvpn.wire.constants import CeaseSubcode, ErrorCode
from bgpvpn.wire.context import WireContext, negotiate
from bgpvpn.wire.family import EVPN, IPV4_UNICAST, Family
from bgpvpn.wire.messages import (
    KeepaliveMessage,
    NotificationMessage,
    OpenMessage,
    RouteRefreshMessage,
    decode_message,
    encode_message,
)
from bgpvpn.wire.nlri import joiner
from bgpvpn.wire.routes import IPRoute, route_from_wire
from bgpvpn.wire.text import (
    Prefix,
    RouteDistinguisher,
    esi_from_text,
    esi_to_text,
    mac_from_text,
    mac_to_text,
)
from bgpvpn.wire.update import UpdateMessage, encode_update, end_of_rib, pack_updates

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DEFAULT_CTX = WireContext()
CTX_VARIANTS = [
    WireContext(as4=a, extended_message=e) for a in (True, False) for e in (False, True)
]


def roundtrip(msg: object, ctx: WireContext = DEFAULT_CTX) -> bytes:
    data = encode_message(msg, ctx)  # type: ignore[arg-type]
    back = decode_message(data, ctx)
    assert back == msg
    assert encode_message(back, ctx) == data
    return data


# ------------------------------------------------------------------------- simple messages


@SETTINGS
@given(S.open_messages())
def test_open_roundtrip(msg: OpenMessage) -> None:
    data = roundtrip(msg)
    assert len(data) <= 4096
    assert decode_message(data).capabilities == msg.capabilities


@SETTINGS
@given(st.lists(S.capabilities, max_size=30), S.u32, S.u16, S.ipv4)
def test_open_build_roundtrip(caps: list[object], asn: int, hold: int, bgp_id: bytes) -> None:
    msg = OpenMessage.build(asn, hold, bgp_id, tuple(caps))  # type: ignore[arg-type]
    data = encode_message(msg)
    assume(len(data) <= 4096)
    back = decode_message(data)
    assert back == msg
    assert isinstance(back, OpenMessage)
    assert back.capabilities == tuple(caps)


def test_keepalive_roundtrip() -> None:
    data = roundtrip(KeepaliveMessage())
    assert len(data) == 19


@SETTINGS
@given(S.notifications)
def test_notification_roundtrip(msg: NotificationMessage) -> None:
    roundtrip(msg)


def _cut_utf8(text: str, limit: int = 255) -> str:
    out, size = [], 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            break
        out.append(ch)
        size += n
    return "".join(out)


@SETTINGS
@given(
    st.one_of(st.text(max_size=300), st.text(alphabet="é€😀a", min_size=80, max_size=300)),
    st.sampled_from((CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, CeaseSubcode.ADMINISTRATIVE_RESET)),
)
def test_shutdown_communication(text: str, subcode: int) -> None:
    msg = NotificationMessage.shutdown(text, subcode)
    assert msg.code == ErrorCode.CEASE
    expected = _cut_utf8(text)
    assert msg.shutdown_message == expected
    back = decode_message(roundtrip(msg))
    assert isinstance(back, NotificationMessage)
    assert back.shutdown_message == expected
    assert len(back.data) == 1 + len(expected.encode("utf-8")) <= 256


@SETTINGS
@given(S.route_refreshes())
def test_route_refresh_roundtrip(msg: RouteRefreshMessage) -> None:
    roundtrip(msg)


# ------------------------------------------------------------------------------- UPDATEs

FAMILIES = [pytest.param(f, id=f.name) for f in S.ALL_FAMILIES]


def _item_len(case: S.UpdateCase, n: int) -> int:
    keys, data = case.received()
    item = joiner(case.family.afi, case.family.safi)(keys[n], data[n])
    return len(item) + (4 if case.path_ids is not None else 0)


def check_update_case(case: S.UpdateCase) -> None:
    ctx = case.ctx
    keys, data = case.received()
    has_data = any(d is not None for d in data)
    msgs = case.pack()
    assert msgs
    got_keys: list[bytes] = []
    got_data: list[bytes] = []
    got_ids: list[int] = []
    mp = case.uses_mp
    withdraw = case.attributes is None
    consumed = 0
    for n, raw in enumerate(msgs):
        assert len(raw) <= ctx.max_message_len
        msg = decode_message(raw, ctx)
        assert isinstance(msg, UpdateMessage)
        assert msg.problems == ()
        assert encode_update(msg, ctx) == raw
        blocks = msg.withdrawn if withdraw else msg.announced
        other = msg.announced if withdraw else msg.withdrawn
        assert other == ()
        assert len(blocks) == 1
        block = blocks[0]
        assert block.family == case.family
        assert block.mp == mp
        assert block.opaque is None
        got_keys += block.keys
        if has_data:
            assert block.data is not None
            got_data += block.data
        else:
            assert block.data is None
        if case.path_ids is None:
            assert block.path_ids is None
        else:
            assert block.path_ids is not None
            got_ids += block.path_ids
        if withdraw:
            assert block.attributes is None
        else:
            assert block.attributes is not None
            assert case.attributes is not None
            assert S.attr_fields(block.attributes) == S.expected_attributes(
                case.attributes, ctx, mp
            )
        consumed += len(block.keys)
        if n < len(msgs) - 1:  # dense: the next route would not have fitted
            assert len(raw) + _item_len(case, consumed) > ctx.max_message_len
    assert got_keys == keys
    if has_data:
        assert got_data == data
    if case.path_ids is not None:
        assert tuple(got_ids) == case.path_ids
    datas = got_data or [None] * len(got_keys)
    for n, (key, d) in enumerate(zip(got_keys, datas, strict=True)):
        assert route_from_wire(case.family, key, d) == case.received_route(n)


@FEW
@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_update_announce_roundtrip(family: Family, data: st.DataObject) -> None:
    check_update_case(data.draw(S.update_cases(family, withdraw=False)))


@FEW
@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_update_withdraw_roundtrip(family: Family, data: st.DataObject) -> None:
    check_update_case(data.draw(S.update_cases(family, withdraw=True)))


@SETTINGS
@given(S.update_cases(max_routes=5, repeat=False))
def test_update_decode_encode_identity(case: S.UpdateCase) -> None:
    for raw in case.pack():
        msg = decode_message(raw, case.ctx)
        assert encode_message(msg, case.ctx) == raw
        assert decode_message(encode_message(msg, case.ctx), case.ctx) == msg


@SETTINGS
@given(S.path_attributes(next_hop=S.ipv4), st.sampled_from(CTX_VARIANTS))
def test_attributes_ipv4_unicast(attrs: PathAttributes, ctx: WireContext) -> None:
    case = S.UpdateCase(IPV4_UNICAST, (IPRoute(Prefix.parse("192.0.2.0/24")),), None, attrs, ctx)
    check_update_case(case)


@settings(max_examples=30, deadline=None)
@given(st.lists(S.evpn_routes(), min_size=1, max_size=30), S.contexts(EVPN))
def test_evpn_types_roundtrip(routes: list[object], ctx: WireContext) -> None:
    attrs = PathAttributes(origin=0, as_path=AsPath(), next_hop=bytes(4))
    ids = tuple(range(len(routes))) if EVPN in ctx.add_path else None
    check_update_case(S.UpdateCase(EVPN, tuple(routes), ids, attrs, ctx))


def test_as4_merge_keeps_leading_confed_segments() -> None:
    """Regression: RFC6793 4.2.3 merge kept only AS4_PATH when both counted alike."""
    path = AsPath(((3, (65001,)), (2, (4200000001, 65002))))
    attrs = PathAttributes(origin=0, as_path=path, next_hop=bytes((192, 0, 2, 1)))
    ctx = WireContext(as4=False)
    (raw,) = pack_updates(IPV4_UNICAST, [b"\x18\xc0\x00\x02"], None, None, attrs, ctx)
    msg = decode_message(raw, ctx)
    assert isinstance(msg, UpdateMessage)
    assert msg.attributes is not None
    assert msg.attributes.as_path == path


# ------------------------------------------------------------------------------ text forms


@SETTINGS
@given(st.one_of(S.rd_type0(), S.rd_type1(), S.rd_type2(S.any_asn)))
def test_rd_text(rd: RouteDistinguisher) -> None:
    assert RouteDistinguisher.parse(str(rd)) == rd


def test_rd_type2_small_as_text() -> None:
    """Regression: a type-2 RD with a small AS read back as type 0."""
    rd = RouteDistinguisher(b"\x00\x02" + (65000).to_bytes(4, "big") + (7).to_bytes(2, "big"))
    assert RouteDistinguisher.parse(str(rd)) == rd


@SETTINGS
@given(S.prefixes(masked=False))
def test_prefix_text(p: Prefix) -> None:
    assert Prefix.parse(str(p)) == p


@SETTINGS
@given(S.mac, S.esi)
def test_mac_esi_text(m: bytes, e: bytes) -> None:
    assert mac_from_text(mac_to_text(m)) == m
    assert esi_from_text(esi_to_text(e)) == e


@SETTINGS
@given(S.communities, S.large_communities)
def test_community_text(c: int, lc: tuple[int, int, int]) -> None:
    assert community_from_text(community_to_text(c)) == c
    assert large_community_from_text(large_community_to_text(lc)) == lc


@SETTINGS
@given(S.ext_community_texts())
def test_ext_community_text_forms(text: str) -> None:
    raw = ext_community_from_text(text)
    assert len(raw) == 8
    assert ext_community_from_text(ext_community_to_text(raw)) == raw


@SETTINGS
@given(st.binary(min_size=8, max_size=8))
def test_ext_community_any_octets(raw: bytes) -> None:
    assert ext_community_from_text(ext_community_to_text(raw)) == raw
    assert ext_community_from_text("0x" + raw.hex()) == raw


@pytest.mark.parametrize(
    "raw",
    [
        "030c000000010008",  # encap:vxlan with a non-zero reserved octet
        "030d000000000001",  # default-gateway with non-zero value
        "030b00010000000a",  # color:10 with non-zero flags
        "0600020000000005",  # mac-mobility:5 with an unknown flag bit
        "0601000100000064",  # esi-label:100 with a non-zero reserved octet
    ],
)
def test_ext_community_lossy_text(raw: str) -> None:
    """Regression: reserved/flag octets of known kinds were dropped by the text form."""
    value = bytes.fromhex(raw)
    assert ext_community_from_text(ext_community_to_text(value)) == value


@SETTINGS
@given(S.as_paths())
def test_as_path_text(path: AsPath) -> None:
    assert AsPath.parse(str(path)) == path


def test_as_path_confed_set_text() -> None:
    """Regression: '[..]' (AS_CONFED_SET) did not parse."""
    path = AsPath(((4, (65001, 65002)), (2, (65003,))))
    assert AsPath.parse(str(path)) == path


# --------------------------------------------------------------- End-of-RIB, negotiation


@SETTINGS
@given(st.one_of(st.sampled_from(S.ALL_FAMILIES), S.families_any), st.sampled_from(CTX_VARIANTS))
def test_end_of_rib(family: Family, ctx: WireContext) -> None:
    raw = end_of_rib(family)
    msg = decode_message(raw, ctx)
    assert isinstance(msg, UpdateMessage)
    assert msg.problems == ()
    assert msg.end_of_rib == family
    assert msg.route_count() == (0, 0)
    assert encode_message(msg, ctx) == raw


@SETTINGS
@given(st.lists(S.capabilities, max_size=8), st.lists(S.capabilities, max_size=8))
def test_negotiate_is_symmetric(local: list[object], remote: list[object]) -> None:
    a_rx, a_tx = negotiate(tuple(local), tuple(remote))
    b_rx, b_tx = negotiate(tuple(remote), tuple(local))
    assert a_rx == b_tx
    assert a_tx == b_rx
    both4 = any(isinstance(c, FourOctetAs) for c in local) and any(
        isinstance(c, FourOctetAs) for c in remote
    )
    assert a_rx.as4 == a_tx.as4 == both4
