"""Robustness of the wire codec on hostile input: random bodies, mutated valid messages, random
byte streams for the framer, the JSON renderer on whatever decodes, and a linear-time check."""

from __future__ import annotations

import json
import os
import struct
import time

import strategies as S
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgpvpn.wire.context import WireContext
from bgpvpn.wire.errors import ErrorAction, MessageError
from bgpvpn.wire.family import EVPN, IPV4_UNICAST
from bgpvpn.wire.framing import FramedMessage, FramingError, MessageFramer, split_messages
from bgpvpn.wire.jsonform import message_to_json
from bgpvpn.wire.messages import decode_message, encode_message
from bgpvpn.wire.update import UpdateMessage

# BGPVPN_FUZZ_EXAMPLES=20000 for a longer hunt than CI affords
FUZZ = settings(
    max_examples=int(os.environ.get("BGPVPN_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CTX_VARIANTS = [
    WireContext(as4=a, extended_message=e, add_path=p)
    for a in (True, False)
    for e in (False, True)
    for p in (frozenset(), frozenset(S.ALL_FAMILIES))
]
ctx_variants = st.sampled_from(CTX_VARIANTS)


def check_decode(data: bytes, ctx: WireContext) -> None:
    """decode_message raises nothing but MessageError (UPDATEs nothing at all); what decodes
    renders as JSON, and a clean UPDATE re-encodes to an equal message."""
    is_update = len(data) >= 19 and data[18] == 2 and 23 <= len(data) <= ctx.max_message_len
    try:
        msg = decode_message(data, ctx)
    except MessageError as e:
        assert not is_update, f"UPDATE raised {e}"
        assert isinstance(e.field, str) and e.field
        assert 0 <= e.offset <= len(data)
        return
    json.dumps(message_to_json(msg))
    if isinstance(msg, UpdateMessage):
        for p in msg.problems:
            assert isinstance(p.action, ErrorAction)
            assert p.action != ErrorAction.NONE
            assert isinstance(p.field, str) and p.field
            assert 0 <= p.offset < len(data), p
        if not msg.problems:
            again = encode_message(msg, ctx)
            assert decode_message(again, ctx) == msg
        return
    again = encode_message(msg, ctx)
    assert decode_message(again, ctx) == msg


# ------------------------------------------------------------------------ random bodies


@FUZZ
@given(
    st.one_of(st.integers(1, 5), st.integers(0, 255)),
    st.binary(max_size=300),
    ctx_variants,
)
def test_random_body(mtype: int, body: bytes, ctx: WireContext) -> None:
    check_decode(S.header(mtype, body), ctx)


@st.composite
def update_bodies(draw: st.DrawFn) -> bytes:
    """UPDATE bodies that get past the length fields more often than random octets do."""
    withdrawn = draw(st.binary(max_size=20))
    attrs = b""
    for _ in range(draw(st.integers(0, 6))):
        flags = draw(st.sampled_from((0x40, 0x80, 0xC0, 0x90, 0x50, 0xE0, 0x00)))
        atype = draw(
            st.sampled_from((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 22, 26, 32, 99))
        )
        value = draw(st.binary(max_size=40))
        if atype in (14, 15) and draw(st.booleans()):
            fam = draw(st.sampled_from(S.ALL_FAMILIES))
            head = struct.pack("!HB", fam.afi, fam.safi)
            if atype == 14:
                nh = bytes(draw(st.sampled_from(S.NEXT_HOP_SIZES[fam])))
                head += bytes((len(nh),)) + nh + b"\x00"
            value = head + value
        if flags & 0x10:
            attrs += bytes((flags, atype)) + struct.pack("!H", len(value)) + value
        else:
            attrs += bytes((flags, atype, len(value))) + value
    nlri = draw(st.binary(max_size=20))
    return (
        struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri
    )


@FUZZ
@given(update_bodies(), ctx_variants)
def test_structured_update_body(body: bytes, ctx: WireContext) -> None:
    check_decode(S.header(2, body), ctx)


# --------------------------------------------------------------------- mutated messages

mutations = st.lists(
    st.tuples(
        st.sampled_from(("flip", "set", "insert", "delete", "truncate")),
        st.integers(0, 1 << 16),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, ops: list[tuple[str, int, int]], max_len: int) -> bytes:
    body = bytearray(data[19:])
    for op, pos, val in ops:
        at = pos % (len(body) + 1)
        if op == "flip" and body:
            body[at % len(body)] ^= 1 << (val & 7)
        elif op == "set" and body:
            body[at % len(body)] = val
        elif op == "insert":
            body[at:at] = bytes((val,)) * (1 + (val & 3))
        elif op == "delete":
            del body[at : at + 1 + (val & 3)]
        elif op == "truncate":
            del body[at:]
    del body[max_len - 19 :]
    return S.header(data[18], bytes(body))


@FUZZ
@given(st.data(), ctx_variants, mutations)
def test_mutated_messages(data: st.DataObject, ctx: WireContext, ops: list) -> None:
    raw = data.draw(S.valid_messages(ctx))
    check_decode(raw, ctx)  # the valid original first
    check_decode(mutate(raw, ops, ctx.max_message_len), ctx)


# ------------------------------------------------------------------------------ framing

stream_parts = st.one_of(
    st.binary(max_size=40),
    st.just(b"\xff" * 16),
    st.builds(lambda n, t: b"\xff" * 16 + struct.pack("!HB", n, t), st.integers(0, 0xFFFF), S.u8),
    st.builds(lambda b: S.header(2, b), st.binary(max_size=60)),
    st.just(S.header(4, b"")),
)


def check_framed(out: list[FramedMessage | FramingError], max_length: int) -> None:
    for item in out:
        if isinstance(item, FramedMessage):
            assert 19 <= len(item.data) <= max_length
            assert item.data[:16] == b"\xff" * 16
            assert (item.data[16] << 8) | item.data[17] == len(item.data)
        else:
            assert isinstance(item, FramingError)
            assert item.offset >= 0


@FUZZ
@given(
    st.lists(stream_parts, max_size=12).map(b"".join),
    st.lists(st.integers(1, 80), max_size=10),
    st.sampled_from((4096, 65535, 100)),
    st.booleans(),
)
def test_framer_never_raises(stream: bytes, cuts: list[int], max_length: int, resync: bool) -> None:
    framer = MessageFramer(max_length=max_length, resync=resync)
    pos = 0
    got: list[FramedMessage | FramingError] = []
    for n in [*cuts, len(stream)]:
        framer.feed(stream[pos : pos + n])
        pos += n
        got += framer.messages()
    check_framed(got, max_length)
    assert framer.buffered >= 0
    whole, rest = split_messages(stream)
    check_framed(whole, 65535)
    assert 0 <= rest <= len(stream)
    # a framer fed all at once hands out the same messages as one fed in pieces (a session
    # framer the same errors too; a resyncing one may report a garbage run once per piece)
    one = MessageFramer(max_length=max_length, resync=resync)
    one.feed(stream)
    all_at_once = one.messages()
    if resync:
        assert [m for m in all_at_once if isinstance(m, FramedMessage)] == [
            m for m in got if isinstance(m, FramedMessage)
        ]
    else:
        assert all_at_once == got


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), ctx_variants)
def test_framer_on_valid_messages(data: st.DataObject, ctx: WireContext) -> None:
    msgs = [data.draw(S.valid_messages(ctx)) for _ in range(3)]
    out, rest = split_messages(b"".join(msgs), ctx.max_message_len)
    assert rest == 0
    assert [m.data for m in out if isinstance(m, FramedMessage)] == msgs


# -------------------------------------------------------------------------- linear time


def _timed_decode(raw: bytes, ctx: WireContext) -> UpdateMessage:
    start = time.perf_counter()
    msg = decode_message(raw, ctx)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"decoding a {len(raw)}-octet UPDATE took {elapsed:.2f} s"
    assert isinstance(msg, UpdateMessage)
    return msg


BASE_ATTRS = (
    b"\x40\x01\x01\x00"  # ORIGIN IGP
    + b"\x40\x02\x00"  # empty AS_PATH
    + b"\x40\x03\x04\xc0\x00\x02\x01"  # NEXT_HOP
)


def test_linear_time_prefixes() -> None:
    ctx = WireContext(extended_message=True)
    n = 65535 - 23 - len(BASE_ATTRS)
    raw = S.header(2, b"\x00\x00" + struct.pack("!H", len(BASE_ATTRS)) + BASE_ATTRS + bytes(n))
    assert len(raw) == 65535
    msg = _timed_decode(raw, ctx)
    assert msg.problems == ()
    assert msg.route_count() == (n, 0)
    wd = S.header(2, struct.pack("!H", 65535 - 23) + bytes(65535 - 23) + b"\x00\x00")
    assert _timed_decode(wd, ctx).route_count() == (0, 65535 - 23)


def test_linear_time_evpn() -> None:
    ctx = WireContext(extended_message=True, add_path=frozenset({EVPN}))
    route = bytes((3, 17)) + bytes(8) + bytes(4) + b"\x20" + bytes(4)  # type-3, IPv4 originator
    item = bytes(4) + route
    head_len = 23 + len(BASE_ATTRS) + 4 + 5 + 4
    count = (65535 - head_len) // len(item)
    value = struct.pack("!HBB", 25, 70, 4) + bytes(4) + b"\x00" + item * count
    mp = b"\x90\x0e" + struct.pack("!H", len(value)) + value
    attrs = mp + BASE_ATTRS
    raw = S.header(2, b"\x00\x00" + struct.pack("!H", len(attrs)) + attrs)
    assert len(raw) <= 65535
    msg = _timed_decode(raw, ctx)
    assert msg.problems == ()
    assert msg.route_count() == (count, 0)


def test_linear_time_packed_ipv4() -> None:
    ctx = WireContext(extended_message=True)
    from bgpvpn.wire.attributes import AsPath, PathAttributes
    from bgpvpn.wire.update import pack_updates

    attrs = PathAttributes(origin=0, as_path=AsPath(), next_hop=bytes(4))
    (raw, *_) = pack_updates(IPV4_UNICAST, [b"\x00"] * 70000, None, None, attrs, ctx)
    assert len(raw) == 65535
    _timed_decode(raw, ctx)
