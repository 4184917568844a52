"""Max-prefix (RFC4486 Cease subcode 1): warn, teardown, restart after the delay."""

from __future__ import annotations

import pytest
from sessionutil import (
    RID_B,
    attrs,
    config,
    decode_all,
    established,
    pair_configs,
    prefixes,
    roundtrip,
)

from bgpvpn.session import (
    ConnectRequested,
    MaxPrefixExceeded,
    Session,
    SessionDown,
    State,
    UpdateReceived,
)
from bgpvpn.wire import pack_updates
from bgpvpn.wire.capabilities import AddPath, AddPathFamily, FourOctetAs, Multiprotocol
from bgpvpn.wire.family import IPV4_UNICAST, VPNV4
from bgpvpn.wire.messages import KeepaliveMessage, NotificationMessage, OpenMessage, encode_message

LIMIT_DATA = b"\x00\x01\x01\x00\x00\x00\x02"  # AFI 1, SAFI 1, limit 2


def announce(sender: Session, keys: list[bytes], now: float) -> None:
    assert sender.negotiated is not None
    ctx = sender.negotiated.tx_context
    sender.send_update_bytes(
        pack_updates(IPV4_UNICAST, keys, attributes=attrs(), ctx=ctx, mp=False), now
    )


def withdraw(sender: Session, keys: list[bytes], now: float) -> None:
    assert sender.negotiated is not None
    ctx = sender.negotiated.tx_context
    sender.send_update_bytes(pack_updates(IPV4_UNICAST, keys, ctx=ctx, mp=False), now)


def pair(action: str) -> tuple[Session, Session]:
    return established(*pair_configs(a={"max_prefix": 2, "max_prefix_action": action}))


def test_counts_follow_announcements_and_withdrawals() -> None:
    a, b = pair("warn")
    announce(b, prefixes(2), 1.0)
    announce(b, prefixes(1), 1.0)  # the same route again: still 2
    withdraw(b, prefixes(1), 1.0)
    roundtrip(a, b, 1.0)
    assert a.prefix_count(IPV4_UNICAST) == 1
    assert [type(e) for e in a.events()] == [UpdateReceived] * 3
    assert a.prefix_count(VPNV4) == 0


def test_warn_reports_once_and_keeps_the_session() -> None:
    a, b = pair("warn")
    announce(b, prefixes(3), 1.0)
    announce(b, prefixes(1, 3), 1.0)
    roundtrip(a, b, 1.0)
    ev = a.events()
    assert ev[0] == MaxPrefixExceeded(IPV4_UNICAST, 3, 2, "warn")
    assert [type(e) for e in ev[1:]] == [UpdateReceived, UpdateReceived]
    assert a.state is State.ESTABLISHED and a.prefix_count(IPV4_UNICAST) == 4
    # back under the limit, then over again: a new warning
    withdraw(b, prefixes(3), 2.0)
    announce(b, prefixes(2, 10), 2.0)
    roundtrip(a, b, 2.0)
    ev = a.events()
    assert MaxPrefixExceeded(IPV4_UNICAST, 3, 2, "warn") in ev


@pytest.mark.parametrize("action", ["teardown", "restart"])
def test_teardown_and_restart(action: str) -> None:
    a, b = pair(action)
    announce(b, prefixes(2), 1.0)
    roundtrip(a, b, 1.0)
    assert [type(e) for e in a.events()] == [UpdateReceived]
    announce(b, prefixes(1, 2), 5.0)
    b_data = b.bytes_to_send()
    a.receive_bytes(b_data, 5.0)
    assert decode_all(a.bytes_to_send()) == [NotificationMessage(6, 1, LIMIT_DATA)]
    ev = a.events()
    assert ev[0] == MaxPrefixExceeded(IPV4_UNICAST, 3, 2, action)
    assert not any(isinstance(e, UpdateReceived) for e in ev)
    (down,) = [e for e in ev if isinstance(e, SessionDown)]
    assert down.notification_sent == NotificationMessage(6, 1, LIMIT_DATA)
    assert not down.graceful and "maximum number of prefixes" in down.reason
    assert a.state is State.IDLE and a.prefix_count(IPV4_UNICAST) == 0
    if action == "teardown":
        assert a.next_timer() is None
        a.handle_timer(1000.0)
        assert a.state is State.IDLE
        a.start(1000.0)
        assert a.state is State.CONNECT
    else:
        assert a.next_timer() == 65.0
        a.handle_timer(64.9)
        assert a.state is State.IDLE
        a.handle_timer(65.0)
        assert a.state is State.CONNECT and a.events()[-1] == ConnectRequested()


def test_treat_as_withdraw_removes_routes_from_the_count() -> None:
    a, b = pair("teardown")
    announce(b, prefixes(2), 1.0)
    roundtrip(a, b, 1.0)
    # the same route again, without AS_PATH: treat-as-withdraw
    bad = (
        b"\xff" * 16
        + (19 + 4 + 4 + 7 + 7 + 4).to_bytes(2, "big")
        + b"\x02\x00\x00\x00\x12"
        + b"\x40\x01\x01\x00"
        + b"\x40\x03\x04\xc0\x00\x02\x02"
        + b"\x40\x05\x04\x00\x00\x00\x64"
        + prefixes(1)[0]
    )
    a.events()
    a.receive_bytes(bad, 2.0)
    (ev,) = a.events()
    assert isinstance(ev, UpdateReceived) and ev.message.action.name == "TREAT_AS_WITHDRAW"
    assert a.prefix_count(IPV4_UNICAST) == 1


def test_add_path_routes_count_per_path_identifier() -> None:

    cfg = config(families=(VPNV4,), add_path_receive=(VPNV4,), max_prefix=2)
    a = Session(cfg, 0.0)
    a.start(0.0)
    a.connection_made(0.0)
    peer = OpenMessage.build(
        65001,
        90,
        RID_B,
        (Multiprotocol(VPNV4), FourOctetAs(65001), AddPath((AddPathFamily(VPNV4, 2),))),
    )
    a.receive_bytes(encode_message(peer) + encode_message(KeepaliveMessage()), 0.0)
    assert a.state is State.ESTABLISHED and a.negotiated is not None
    assert a.negotiated.add_path_rx == frozenset({VPNV4})
    a.events()
    key = bytes((24,)) + bytes((0, 0, 0xFD, 0xE9, 0, 0, 0, 1)) + bytes((10, 1, 2))
    ctx = a.negotiated.rx_context  # what the peer encodes with: path identifiers for VPNv4
    msgs = pack_updates(
        VPNV4, [key, key], [b"\x00\x01\x01"] * 2, [1, 2], attributes=attrs(), ctx=ctx
    )
    a.receive_bytes(b"".join(msgs), 1.0)
    assert [type(e) for e in a.events()] == [UpdateReceived]
    assert a.prefix_count(VPNV4) == 2
    a.receive_bytes(
        b"".join(pack_updates(VPNV4, [key], [b"\x00\x01\x01"], [3], attributes=attrs(), ctx=ctx)),
        2.0,
    )
    assert a.events()[0] == MaxPrefixExceeded(VPNV4, 3, 2, "teardown")
    assert decode_all(a.bytes_to_send())[-1] == NotificationMessage(
        6, 1, b"\x00\x01\x80\x00\x00\x00\x02"
    )
