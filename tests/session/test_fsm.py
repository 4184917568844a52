"""The session FSM driven in memory: OPEN exchange, timers, errors, shutdown, collisions."""

from __future__ import annotations

import random

import pytest
from sessionutil import (
    EXT,
    RID_A,
    RID_B,
    attrs,
    config,
    connect,
    decode_all,
    established,
    pair_configs,
    prefixes,
    roundtrip,
    sent,
)

from bgpvpn.session import (
    CloseRequested,
    ConnectRequested,
    EndOfRibReceived,
    Established,
    RouteRefreshReceived,
    Session,
    SessionDown,
    SessionUsageError,
    State,
    StateChanged,
    UpdateReceived,
    resolve_collision,
)
from bgpvpn.wire import end_of_rib, pack_updates
from bgpvpn.wire.capabilities import (
    AddPath,
    AddPathFamily,
    FourOctetAs,
    GracefulRestart,
    GracefulRestartFamily,
    Multiprotocol,
)
from bgpvpn.wire.constants import AS_TRANS
from bgpvpn.wire.errors import ErrorAction
from bgpvpn.wire.family import EVPN, IPV4_UNICAST, IPV6_UNICAST, VPNV4
from bgpvpn.wire.messages import (
    KeepaliveMessage,
    NotificationMessage,
    OpenMessage,
    RouteRefreshMessage,
    encode_message,
)

# ------------------------------------------------------------------------- OPEN exchange


def test_ibgp_session_reaches_established() -> None:
    a, b, ev_a, ev_b = connect(*pair_configs())
    assert a.state is State.ESTABLISHED and b.state is State.ESTABLISHED
    assert [e for e in ev_a if isinstance(e, StateChanged)] == [
        StateChanged(State.IDLE, State.CONNECT),
        StateChanged(State.CONNECT, State.OPENSENT),
        StateChanged(State.OPENSENT, State.OPENCONFIRM),
        StateChanged(State.OPENCONFIRM, State.ESTABLISHED),
    ]
    assert ev_a[1] == ConnectRequested()
    assert [type(e) for e in ev_b if not isinstance(e, StateChanged)] == [Established]
    assert ev_b[0] == StateChanged(State.IDLE, State.ACTIVE)
    neg = a.negotiated
    assert neg is not None and isinstance(ev_a[-1], Established) and ev_a[-1].negotiated == neg
    assert neg.peer_router_id == RID_B and neg.peer_asn == 65001
    assert neg.rx_context.ibgp is True and neg.tx_context.ibgp is True
    assert neg.as4 and neg.route_refresh and neg.enhanced_route_refresh and neg.extended_message
    assert neg.families == frozenset({IPV4_UNICAST})
    assert (neg.hold_time, neg.keepalive_time) == (90, 30)
    assert State.OPENCONFIRM.name.lower() == "openconfirm"


def test_ebgp_with_four_octet_asns() -> None:
    ca, cb = pair_configs(4200000001, 4200000002, hostname="pe2.example.net")
    a, b = established(ca, cb)
    assert a.negotiated is not None and b.negotiated is not None
    assert a.negotiated.peer_asn == 4200000002 and b.negotiated.peer_asn == 4200000001
    assert a.negotiated.rx_context.ibgp is False
    assert a.negotiated.peer_open.asn == AS_TRANS
    assert a.negotiated.peer_hostname == "pe2.example.net"


def test_capability_negotiation_families_intersection_and_add_path() -> None:
    ca, cb = pair_configs(
        a={"families": (IPV4_UNICAST, VPNV4, EVPN), "add_path_receive": (VPNV4,)},
        families=(VPNV4, EVPN, IPV6_UNICAST),
        add_path_receive=(VPNV4,),
    )
    a, b = established(ca, cb)
    assert a.negotiated is not None and b.negotiated is not None
    assert a.negotiated.families == frozenset({VPNV4, EVPN}) == b.negotiated.families
    # both only receive: neither sends path identifiers
    assert a.negotiated.add_path_rx == frozenset()
    # a peer that sends paths for VPNv4 (and EVPN, which we did not ask for)
    s = Session(ca, 0.0, random.Random(1))
    s.start(0.0)
    s.connection_made(0.0)
    ours = sent(s)[0]
    assert isinstance(ours, OpenMessage)
    assert AddPath((AddPathFamily(VPNV4, 1),)) in ours.capabilities
    peer = OpenMessage.build(
        65001,
        90,
        RID_B,
        (
            Multiprotocol(VPNV4),
            Multiprotocol(EVPN),
            FourOctetAs(65001),
            AddPath((AddPathFamily(VPNV4, 2), AddPathFamily(EVPN, 3))),
        ),
    )
    s.receive_bytes(encode_message(peer), 0.0)
    assert s.state is State.OPENCONFIRM
    assert s.negotiated is not None
    assert s.negotiated.add_path_rx == frozenset({VPNV4})
    assert s.negotiated.rx_context.add_path == frozenset({VPNV4})
    assert s.negotiated.tx_context.add_path == frozenset()
    assert not s.negotiated.extended_message and not s.negotiated.route_refresh
    assert s.negotiated.graceful_restart is None


def test_add_path_send_is_offered_and_used_where_the_peer_receives() -> None:
    """``add_path_send``: offered per family (with receive where both are configured: mode 3);
    the UPDATEs we send carry path identifiers in a family where the peer asked to receive."""
    ca, cb = pair_configs(
        a={
            "families": (IPV4_UNICAST, VPNV4, EVPN),
            "add_path_send": (VPNV4, EVPN),
            "add_path_receive": (EVPN,),
        },
        families=(IPV4_UNICAST, VPNV4, EVPN),
        add_path_receive=(VPNV4,),
    )
    a, b = established(ca, cb)
    assert a.negotiated is not None and b.negotiated is not None
    a_caps = b.negotiated.peer_open.capabilities  # what a offered, as b received it
    assert AddPath((AddPathFamily(VPNV4, 2), AddPathFamily(EVPN, 3))) in a_caps, a_caps
    # a sends several VPNv4 paths (b receives them); EVPN: b does not ask, none either way
    assert a.negotiated.tx_context.add_path == frozenset({VPNV4})
    assert b.negotiated.rx_context.add_path == frozenset({VPNV4})
    assert a.negotiated.rx_context.add_path == frozenset()


def big_update(session: Session, routes: int = 1500) -> list[bytes]:
    assert session.negotiated is not None
    return pack_updates(
        IPV4_UNICAST, prefixes(routes), attributes=attrs(), ctx=session.negotiated.tx_context
    )


def test_extended_message_raises_the_maximum_length() -> None:
    a, b = established(*pair_configs())
    msgs = big_update(b)
    assert len(msgs) == 1 and len(msgs[0]) > 4096
    b.send_update_bytes(msgs)
    roundtrip(a, b, 1.0)
    (ev,) = a.events()
    assert isinstance(ev, UpdateReceived) and ev.message.route_count() == (1500, 0)
    assert a.state is State.ESTABLISHED


def test_without_extended_message_a_long_message_is_a_header_error() -> None:
    a, b = established(*pair_configs(a={"extended_message": False}))
    assert a.negotiated is not None and not a.negotiated.extended_message
    assert len(big_update(b)) > 1  # the sender packs within 4096 octets
    long = pack_updates(IPV4_UNICAST, prefixes(1500), attributes=attrs(), ctx=EXT)
    b.send_update_bytes(long)
    a.receive_bytes(b.bytes_to_send(), 1.0)
    (note,) = decode_all(a.bytes_to_send())
    assert note == NotificationMessage(1, 2, len(long[0]).to_bytes(2, "big"))
    assert a.state is State.IDLE


@pytest.mark.parametrize(
    ("hold_a", "hold_b", "hold", "keepalive"), [(90, 30, 30, 10), (0, 90, 0, 0), (3, 90, 3, 1)]
)
def test_hold_time_is_the_minimum(hold_a: int, hold_b: int, hold: int, keepalive: int) -> None:
    a, b = established(*pair_configs(a={"hold_time": hold_a}, hold_time=hold_b))
    for s in (a, b):
        assert s.negotiated is not None
        assert (s.negotiated.hold_time, s.negotiated.keepalive_time) == (hold, keepalive)
    if hold == 0:
        assert a.next_timer() is None and b.next_timer() is None
    else:
        t = a.next_timer()
        assert t is not None and keepalive * 0.75 <= t <= keepalive


# ------------------------------------------------------------------------------- timers


def test_hold_timer_expiry_sends_notification() -> None:
    a, b = established(*pair_configs())
    now = 0.0
    keepalives = 0
    while a.state is State.ESTABLISHED:
        t = a.next_timer()
        assert t is not None
        now = t
        a.handle_timer(now)
        for m in sent(a):
            if isinstance(m, KeepaliveMessage):
                keepalives += 1
            else:
                last = m
    assert now == pytest.approx(90.0)
    assert keepalives >= 3
    assert last == NotificationMessage(4, 0)
    down = [e for e in a.events() if isinstance(e, SessionDown)]
    assert down == [SessionDown("hold timer expired", NotificationMessage(4, 0), None, False, True)]
    b.receive_bytes(encode_message(NotificationMessage(4, 0)), now)
    (down_b,) = [e for e in b.events() if isinstance(e, SessionDown)]
    assert down_b.notification_received == NotificationMessage(4, 0)
    assert not down_b.graceful


def test_hold_timer_in_opensent_is_four_minutes() -> None:
    s = Session(config(), 0.0, random.Random(1))
    s.start(0.0)
    s.connection_made(1.0)
    assert s.next_timer() == 241.0
    s.handle_timer(241.0)
    assert decode_all(s.bytes_to_send())[1] == NotificationMessage(4, 0)
    assert s.state is State.IDLE


def test_keepalive_cadence_and_updates_count_as_keepalives() -> None:
    a, b = established(*pair_configs())
    times: list[float] = []
    now = 0.0
    while now < 600:
        now += 0.25
        for s in (a, b):
            t = s.next_timer()
            if t is not None and t <= now:
                s.handle_timer(now)
        data = a.bytes_to_send()
        if data:
            assert decode_all(data) == [KeepaliveMessage()]
            times.append(now)
            b.receive_bytes(data, now)
        a.receive_bytes(b.bytes_to_send(), now)
    assert a.state is State.ESTABLISHED and b.state is State.ESTABLISHED
    gaps = [y - x for x, y in zip([0.0, *times], times, strict=False)]
    assert len(gaps) >= 20
    assert all(22.5 <= g <= 30.25 for g in gaps), gaps
    assert len({round(g, 2) for g in gaps}) > 1  # jittered
    # an UPDATE sent restarts the keepalive timer
    b.send_update_bytes([end_of_rib(IPV4_UNICAST)], now)
    t = b.next_timer()
    assert t is not None and t >= now + 22.5


def test_connect_retry_back_off_with_jitter() -> None:
    s = Session(config(connect_retry=5.0), 0.0, random.Random(7))
    s.start(0.0)
    assert s.events() == [StateChanged(State.IDLE, State.CONNECT), ConnectRequested()]
    t = s.next_timer()
    assert t is not None and 3.75 <= t <= 6.25
    now = 0.0
    delays = []
    for failure in range(1, 10):
        s.connection_failed(now)
        assert s.state is State.ACTIVE
        t = s.next_timer()
        assert t is not None
        base = min(5.0 * 2 ** (failure - 1), 120.0)
        assert 0.75 * base <= t - now <= 1.25 * base
        delays.append(t - now)
        now = t
        s.handle_timer(now)
        assert s.state is State.CONNECT
        assert s.events()[-1] == ConnectRequested()
    assert max(delays) > 120 or min(delays[-3:]) < 120  # jitter around the ceiling
    # a connection attempt that never completes counts as a failure too
    t = s.next_timer()
    assert t is not None
    s.handle_timer(t)
    assert s.state is State.CONNECT and s.events()[-1] == ConnectRequested()


def test_back_off_resets_after_a_stable_session() -> None:
    ca, cb = pair_configs(hold_time=30)
    a, _b = established(ca, cb, now=0.0)
    a.connection_failed(10.0)  # short session: back-off grows
    t = a.next_timer()
    assert t is not None and 3.75 <= t - 10.0 <= 6.25
    a.handle_timer(t)
    a.connection_made(t)
    b2 = Session(cb, t, random.Random(3))
    b2.start(t)
    b2.connection_made(t)
    roundtrip(a, b2, t)
    assert a.state is State.ESTABLISHED
    a.connection_failed(t + 5)  # second failure, less than the hold time later
    t2 = a.next_timer()
    assert t2 is not None and 7.5 <= t2 - (t + 5) <= 12.5
    a.handle_timer(t2)
    a.connection_made(t2)
    b3 = Session(cb, t2, random.Random(4))
    b3.start(t2)
    b3.connection_made(t2)
    roundtrip(a, b3, t2)
    a.connection_failed(t2 + 100)  # stable for more than the hold time
    t3 = a.next_timer()
    assert t3 is not None and 3.75 <= t3 - (t2 + 100) <= 6.25


def test_passive_session_waits_for_a_connection() -> None:
    s = Session(config(passive=True), 0.0, random.Random(1))
    s.start(0.0)
    assert s.state is State.ACTIVE
    assert s.events() == [StateChanged(State.IDLE, State.ACTIVE)]
    assert s.next_timer() is None and s.bytes_to_send() == b""
    s.handle_timer(1000.0)
    assert s.state is State.ACTIVE
    s.connection_made(1000.0)
    assert s.state is State.OPENSENT
    assert isinstance(sent(s)[0], OpenMessage)


def test_connection_lost_in_opensent_goes_active_and_retries() -> None:
    s = Session(config(), 0.0, random.Random(1))
    s.start(0.0)
    s.connection_made(0.0)
    s.events()
    s.connection_failed(1.0)
    ev = s.events()
    assert ev[0] == CloseRequested() and s.state is State.ACTIVE
    assert isinstance(ev[-1], SessionDown) and not ev[-1].was_established
    t = s.next_timer()
    assert t is not None and 1.0 + 3.75 <= t <= 1.0 + 6.25


def test_incoming_connection_refused_while_idle() -> None:
    s = Session(config(), 0.0)
    s.connection_made(0.0)
    assert s.events() == [CloseRequested()] and s.state is State.IDLE
    with pytest.raises(SessionUsageError):
        s.send_update_bytes([end_of_rib(IPV4_UNICAST)])


# ----------------------------------------------------------------------- OPEN errors


def opensent(cfg_kw: dict[str, object] | None = None) -> Session:
    s = Session(config(**(cfg_kw or {})), 0.0, random.Random(1))  # type: ignore[arg-type]
    s.start(0.0)
    s.connection_made(0.0)
    s.bytes_to_send()
    s.events()
    return s


def open_bytes(
    asn: int = 65001,
    hold: int = 90,
    bgp_id: bytes = RID_B,
    caps: tuple[object, ...] | None = None,
) -> bytes:
    if caps is None:
        caps = (Multiprotocol(IPV4_UNICAST), FourOctetAs(asn))
    return encode_message(OpenMessage.build(asn, hold, bgp_id, caps))  # type: ignore[arg-type]


def with_version(data: bytes, version: int) -> bytes:
    return data[:19] + bytes((version,)) + data[20:]


def malformed_capability() -> bytes:
    body = bytes((4, 0xFD, 0xE9, 0, 90)) + RID_B + bytes((5, 2, 3, 65, 1, 0))
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x01" + body


def unknown_parameter() -> bytes:
    body = bytes((4, 0xFD, 0xE9, 0, 90)) + RID_B + bytes((3, 9, 1, 0))
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x01" + body


@pytest.mark.parametrize(
    ("cfg_kw", "data", "note"),
    [
        ({}, with_version(open_bytes(), 3), NotificationMessage(2, 1, b"\x00\x04")),
        ({}, open_bytes(asn=65009), NotificationMessage(2, 2)),
        # a 4-octet peer AS, but the peer sends no 4-octet AS capability: it shows AS_TRANS
        (
            {"peer_asn": 4200000002},
            open_bytes(asn=AS_TRANS, caps=(Multiprotocol(IPV4_UNICAST),)),
            NotificationMessage(2, 2),
        ),
        # the capability wins over My Autonomous System
        (
            {"peer_asn": 4200000002, "local_asn": 65001},
            open_bytes(asn=AS_TRANS, caps=(FourOctetAs(4200000003),)),
            NotificationMessage(2, 2),
        ),
        ({}, open_bytes(bgp_id=bytes(4)), NotificationMessage(2, 3)),
        ({}, open_bytes(bgp_id=RID_A), NotificationMessage(2, 3)),  # iBGP, our own identifier
        ({}, open_bytes(hold=1), NotificationMessage(2, 6)),
        ({}, open_bytes(hold=2), NotificationMessage(2, 6)),
        ({}, malformed_capability(), NotificationMessage(2, 0)),
        ({}, unknown_parameter(), NotificationMessage(2, 4)),
    ],
    ids=[
        "version",
        "peer-as",
        "peer-as-trans",
        "peer-as-capability",
        "bgp-id-zero",
        "bgp-id-ours",
        "hold-1",
        "hold-2",
        "malformed-capability",
        "unknown-parameter",
    ],
)
def test_open_errors_send_the_notification(
    cfg_kw: dict[str, object], data: bytes, note: NotificationMessage
) -> None:
    s = opensent(cfg_kw)
    s.receive_bytes(data, 1.0)
    assert decode_all(s.bytes_to_send()) == [note]
    assert s.state is State.IDLE
    ev = s.events()
    assert CloseRequested() in ev
    (down,) = [e for e in ev if isinstance(e, SessionDown)]
    assert down.notification_sent == note and down.notification_received is None
    assert not down.graceful and not down.was_established
    t = s.next_timer()
    assert t is not None and 1.0 + 3.75 <= t <= 1.0 + 6.25  # restarts after the back-off


def test_ebgp_peer_may_share_our_identifier_and_as_trans_is_accepted() -> None:
    s = opensent({"local_asn": 65001, "peer_asn": 4200000002})
    s.receive_bytes(open_bytes(asn=AS_TRANS, bgp_id=RID_A, caps=(FourOctetAs(4200000002),)), 1.0)
    assert s.state is State.OPENCONFIRM
    assert decode_all(s.bytes_to_send()) == [KeepaliveMessage()]


# -------------------------------------------------------------------- message errors


def test_update_in_opensent_is_an_fsm_error() -> None:
    s = opensent()
    s.receive_bytes(end_of_rib(IPV4_UNICAST), 1.0)
    assert decode_all(s.bytes_to_send()) == [NotificationMessage(5, 1, b"\x02")]
    assert s.state is State.IDLE


def test_open_in_openconfirm_and_established_is_an_fsm_error() -> None:
    s = opensent()
    s.receive_bytes(open_bytes(), 1.0)
    s.bytes_to_send()
    s.receive_bytes(open_bytes(), 1.0)
    assert decode_all(s.bytes_to_send()) == [NotificationMessage(5, 2, b"\x01")]
    a, _ = established(*pair_configs())
    a.receive_bytes(open_bytes(), 1.0)
    assert decode_all(a.bytes_to_send()) == [NotificationMessage(5, 3, b"\x01")]
    assert a.state is State.IDLE


@pytest.mark.parametrize(
    ("data", "note"),
    [
        (b"\xfe" + b"\xff" * 15 + b"\x00\x13\x04", NotificationMessage(1, 1)),
        (b"\xff" * 16 + b"\x00\x05\x04", NotificationMessage(1, 2, b"\x00\x05")),
        (b"\xff" * 16 + b"\x13\x88\x02", NotificationMessage(1, 2, b"\x13\x88")),
        (b"\xff" * 16 + b"\x00\x14\x04\x00", NotificationMessage(1, 2, b"\x00\x14")),
        (b"\xff" * 16 + b"\x00\x13\x09", NotificationMessage(1, 3, b"\x09")),
    ],
    ids=["marker", "short", "too-long", "keepalive-length", "type"],
)
def test_header_errors(data: bytes, note: NotificationMessage) -> None:
    a, _ = established(*pair_configs(a={"extended_message": False}))
    a.receive_bytes(data, 1.0)
    assert decode_all(a.bytes_to_send()) == [note]
    assert a.state is State.IDLE
    (down,) = [e for e in a.events() if isinstance(e, SessionDown)]
    assert down.notification_sent == note and down.was_established


def raw_update(withdrawn: bytes = b"", attributes: bytes = b"", nlri: bytes = b"") -> bytes:
    body = (
        len(withdrawn).to_bytes(2, "big")
        + withdrawn
        + len(attributes).to_bytes(2, "big")
        + attributes
        + nlri
    )
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body


ORIGIN = b"\x40\x01\x01\x00"
AS_PATH = b"\x40\x02\x06\x02\x01\x00\x00\xfd\xea"
NEXT_HOP = b"\x40\x03\x04\xc0\x00\x02\x02"
LOCAL_PREF = b"\x40\x05\x04\x00\x00\x00\x64"


def test_update_session_reset_sends_the_problem_notification() -> None:
    a, _ = established(*pair_configs())
    bad = raw_update(attributes=ORIGIN + AS_PATH + NEXT_HOP + LOCAL_PREF, nlri=b"\x21\x0a\0\0\0\0")
    a.receive_bytes(bad, 1.0)
    (note,) = decode_all(a.bytes_to_send())
    assert isinstance(note, NotificationMessage) and (note.code, note.subcode) == (3, 10)
    ev = a.events()
    assert not any(isinstance(e, UpdateReceived) for e in ev)
    (down,) = [e for e in ev if isinstance(e, SessionDown)]
    assert down.notification_sent == note and down.reason.startswith("UPDATE error")


def test_treat_as_withdraw_is_delivered_with_its_action() -> None:
    a, _ = established(*pair_configs())
    a.receive_bytes(
        raw_update(attributes=ORIGIN + NEXT_HOP + LOCAL_PREF, nlri=b"\x18\x0a\0\0"), 1.0
    )
    (ev,) = a.events()
    assert isinstance(ev, UpdateReceived)
    assert ev.message.action is ErrorAction.TREAT_AS_WITHDRAW
    assert a.state is State.ESTABLISHED and a.bytes_to_send() == b""


def test_notification_received_goes_idle_and_restarts_after_back_off() -> None:
    a, _ = established(*pair_configs(a={"idle_hold": 30.0}))
    note = NotificationMessage(6, 4)
    a.receive_bytes(encode_message(note), 5.0)
    ev = a.events()
    assert a.state is State.IDLE and a.bytes_to_send() == b""
    (down,) = [e for e in ev if isinstance(e, SessionDown)]
    assert down.notification_received == note and down.notification_sent is None
    assert not down.graceful
    assert "administrative reset" in down.reason
    t = a.next_timer()
    assert t is not None and 5.0 + 22.5 <= t <= 5.0 + 37.5  # idle_hold, jittered
    a.handle_timer(t)
    assert a.state is State.CONNECT and a.events()[-1] == ConnectRequested()


def test_administrative_shutdown_message_reaches_the_peer() -> None:
    a, b = established(*pair_configs())
    a.stop(3.0, "maintenance until 14:00 🔧")
    data = a.bytes_to_send()
    (note,) = decode_all(data)
    assert isinstance(note, NotificationMessage) and (note.code, note.subcode) == (6, 2)
    assert a.state is State.IDLE and a.next_timer() is None
    b.receive_bytes(data, 3.0)
    (down,) = [e for e in b.events() if isinstance(e, SessionDown)]
    assert down.notification_received is not None
    assert down.notification_received.shutdown_message == "maintenance until 14:00 🔧"
    assert "maintenance until 14:00" in down.reason
    a.handle_timer(10_000.0)
    assert a.state is State.IDLE  # no restart until start()
    a.start(10_000.0)
    assert a.state is State.CONNECT


def test_stop_while_connecting_abandons_the_attempt() -> None:
    s = Session(config(), 0.0)
    s.start(0.0)
    s.events()
    s.stop(1.0)
    assert s.events() == [CloseRequested(), StateChanged(State.CONNECT, State.IDLE)]
    assert s.next_timer() is None and s.bytes_to_send() == b""


# ------------------------------------------------------------------ collision (RFC4271 6.8)


def test_resolve_collision_keeps_the_higher_identifier() -> None:
    assert resolve_collision(RID_A, RID_B) == "keep_remote_initiated"
    assert resolve_collision(RID_B, RID_A) == "keep_local_initiated"
    assert resolve_collision(b"\x80\0\0\0", b"\x7f\0\0\0") == "keep_local_initiated"
    assert resolve_collision(RID_A, RID_A, 65002, 65001) == "keep_local_initiated"
    assert resolve_collision(RID_A, RID_A, 65001, 65002) == "keep_remote_initiated"


def test_collision_both_sides_agree_and_one_connection_survives() -> None:
    ca, cb = pair_configs(65001, 65002)
    a_main = Session(ca, 0.0, random.Random(1))
    b_main = Session(cb, 0.0, random.Random(2))
    a_main.start(0.0)
    b_main.start(0.0)
    # conn1: A -> B; conn2: B -> A; each side also accepts the other's connection
    a_main.connection_made(0.0)
    b_main.connection_made(0.0)
    a_in = Session(ca, 0.0, random.Random(3))
    b_in = Session(cb, 0.0, random.Random(4))
    a_in.accept_incoming(0.0)
    b_in.accept_incoming(0.0)
    # exchange OPENs only: conn1 = (a_main, b_in), conn2 = (b_main, a_in)
    opens = {s: s.bytes_to_send() for s in (a_main, b_main, a_in, b_in)}
    b_in.receive_bytes(opens[a_main], 0.1)
    a_main.receive_bytes(opens[b_in], 0.1)
    a_in.receive_bytes(opens[b_main], 0.1)
    b_main.receive_bytes(opens[a_in], 0.1)
    for s in (a_main, b_main, a_in, b_in):
        assert s.state is State.OPENCONFIRM
        assert StateChanged(State.OPENSENT, State.OPENCONFIRM) in s.events()
    for local, main, incoming in ((ca, a_main, a_in), (cb, b_main, b_in)):
        assert main.negotiated is not None
        verdict = resolve_collision(
            local.router_id, main.negotiated.peer_router_id, local.local_asn, local.peer_asn
        )
        (incoming if verdict == "keep_local_initiated" else main).cease_collision(0.2)
    # A has the lower identifier: the connection A initiated (conn1) is closed by both sides
    assert a_main.state is State.IDLE and b_in.state is State.IDLE
    for s in (a_main, b_in):
        msgs = decode_all(s.bytes_to_send())
        assert msgs[-1] == NotificationMessage(6, 7)
        ev = s.events()
        assert CloseRequested() in ev
        (down,) = [e for e in ev if isinstance(e, SessionDown)]
        assert down.notification_sent == NotificationMessage(6, 7)
        assert s.next_timer() is None  # never reconnects by itself
    roundtrip(b_main, a_in, 0.3)
    assert b_main.state is State.ESTABLISHED and a_in.state is State.ESTABLISHED
    # the survivor of an incoming connection reconnects actively after a failure
    a_in.connection_failed(1.0)
    t = a_in.next_timer()
    assert t is not None
    a_in.handle_timer(t)
    assert a_in.state is State.CONNECT and ConnectRequested() in a_in.events()


# ----------------------------------------------------- route refresh and End-of-RIB


def test_route_refresh_request_and_receive() -> None:
    ca, cb = pair_configs(a={"families": (IPV4_UNICAST, VPNV4)}, families=(IPV4_UNICAST, VPNV4))
    a, b = established(ca, cb)
    a.request_route_refresh(VPNV4)
    a.request_route_refresh(VPNV4, 1)
    data = a.bytes_to_send()
    assert decode_all(data) == [RouteRefreshMessage(VPNV4, 0), RouteRefreshMessage(VPNV4, 1)]
    b.receive_bytes(data, 1.0)
    assert b.events() == [RouteRefreshReceived(VPNV4, 0), RouteRefreshReceived(VPNV4, 1)]
    # a family that was not negotiated is ignored (RFC2918 4)
    b.receive_bytes(encode_message(RouteRefreshMessage(EVPN)), 1.0)
    assert b.events() == [] and b.state is State.ESTABLISHED
    with pytest.raises(SessionUsageError):
        a.request_route_refresh(EVPN)


def test_route_refresh_needs_the_capability() -> None:
    a, _ = established(*pair_configs(route_refresh=False))
    assert a.negotiated is not None and not a.negotiated.route_refresh
    with pytest.raises(SessionUsageError):
        a.request_route_refresh(IPV4_UNICAST)


def test_end_of_rib_is_an_event() -> None:
    ca, cb = pair_configs(a={"families": (IPV4_UNICAST, VPNV4)}, families=(IPV4_UNICAST, VPNV4))
    a, b = established(ca, cb)
    b.send_update_bytes([end_of_rib(IPV4_UNICAST), end_of_rib(VPNV4)])
    roundtrip(a, b, 1.0)
    assert a.events() == [EndOfRibReceived(IPV4_UNICAST), EndOfRibReceived(VPNV4)]


# ------------------------------------------------------------------- graceful restart


def test_graceful_restart_capability_contents() -> None:
    ca, cb = pair_configs(a={"families": (IPV4_UNICAST, VPNV4)}, families=(VPNV4,))
    _a, b = established(ca, cb)
    assert b.negotiated is not None
    assert b.negotiated.graceful_restart == GracefulRestart(
        120,
        False,
        False,
        (GracefulRestartFamily(IPV4_UNICAST, True), GracefulRestartFamily(VPNV4, True)),
    )
    assert b.negotiated.graceful_families == frozenset({VPNV4})
    s2 = Session(config(graceful_restart=300, restarting=True), 0.0)
    s2.start(0.0)
    s2.connection_made(0.0)
    (ours,) = sent(s2)
    assert isinstance(ours, OpenMessage)
    assert (
        GracefulRestart(300, True, False, (GracefulRestartFamily(IPV4_UNICAST, True),))
        in ours.capabilities
    )
    s3 = Session(config(graceful_restart=0), 0.0)
    s3.start(0.0)
    s3.connection_made(0.0)
    (ours,) = sent(s3)
    assert isinstance(ours, OpenMessage)
    assert not any(isinstance(c, GracefulRestart) for c in ours.capabilities)


def test_connection_drop_with_graceful_restart_is_graceful() -> None:
    a, _ = established(*pair_configs())
    a.connection_failed(5.0)
    (down,) = [e for e in a.events() if isinstance(e, SessionDown)]
    assert down.graceful and down.was_established and down.reason == "connection lost"
    assert a.negotiated is not None  # kept for the RIB's stale handling
    # no graceful restart from the peer: not graceful
    a, _ = established(*pair_configs(graceful_restart=0))
    a.connection_failed(5.0)
    (down,) = [e for e in a.events() if isinstance(e, SessionDown)]
    assert not down.graceful
    # a NOTIFICATION is never graceful (no RFC8538 N bit announced)
    a, _ = established(*pair_configs())
    a.receive_bytes(encode_message(NotificationMessage(6, 6)), 5.0)
    (down,) = [e for e in a.events() if isinstance(e, SessionDown)]
    assert not down.graceful


def test_session_events_never_include_established_before_openconfirm() -> None:
    _a, _b, ev_a, _ = connect(*pair_configs())
    states = [e.new for e in ev_a if isinstance(e, StateChanged)]
    assert states.index(State.OPENCONFIRM) < states.index(State.ESTABLISHED)


def test_big_update_helper_sanity() -> None:
    a, b = established(*pair_configs())
    assert sum(len(m) for m in big_update(b, 10)) < 200
    assert a.bytes_to_send() == b""
