"""Helpers for session tests: configs, two sessions wired back to back, decoded output."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from bgpvpn.session import Session, SessionConfig, SessionEvent, State
from bgpvpn.wire import WireContext, decode_message, split_messages
from bgpvpn.wire.attributes import AsPath, PathAttributes
from bgpvpn.wire.messages import Message

RID_A = bytes((10, 0, 0, 1))
RID_B = bytes((10, 0, 0, 2))
EXT = WireContext(extended_message=True)


def config(
    local_asn: int = 65001, peer_asn: int = 65001, router_id: bytes = RID_A, **kw: Any
) -> SessionConfig:
    return SessionConfig(
        local_asn=local_asn,
        router_id=router_id,
        peer_asn=peer_asn,
        peer_address="192.0.2.2",
        **kw,
    )


def pair_configs(
    a_asn: int = 65001, b_asn: int = 65001, a: dict[str, Any] | None = None, **b: Any
) -> tuple[SessionConfig, SessionConfig]:
    ca = config(a_asn, b_asn, RID_A, **(a or {}))
    cb = config(b_asn, a_asn, RID_B, **b)
    return ca, cb


def decode_all(data: bytes, ctx: WireContext = EXT) -> list[Message]:
    framed, rest = split_messages(data)
    assert rest == 0
    out: list[Message] = []
    for f in framed:
        assert not hasattr(f, "reason"), f
        out.append(decode_message(f.data, ctx))  # type: ignore[union-attr]
    return out


def sent(session: Session) -> list[Message]:
    return decode_all(session.bytes_to_send())


def roundtrip(a: Session, b: Session, now: float) -> None:
    """Move bytes both ways until both sides are quiet (aioquic's roundtrip())."""
    for _ in range(100):
        da, db = a.bytes_to_send(), b.bytes_to_send()
        if not da and not db:
            return
        if da:
            b.receive_bytes(da, now)
        if db:
            a.receive_bytes(db, now)
    raise AssertionError("sessions never went quiet")


def connect(
    ca: SessionConfig, cb: SessionConfig, now: float = 0.0, seed: int = 1
) -> tuple[Session, Session, list[SessionEvent], list[SessionEvent]]:
    """A (active) and B (passive) started and connected, OPENs exchanged to the end."""
    a = Session(ca, now, random.Random(seed))
    b = Session(dataclasses.replace(cb, passive=True), now, random.Random(seed + 1))
    a.start(now)
    b.start(now)
    a.connection_made(now)
    b.connection_made(now)
    roundtrip(a, b, now)
    return a, b, a.events(), b.events()


def established(ca: SessionConfig, cb: SessionConfig, now: float = 0.0) -> tuple[Session, Session]:
    a, b, _, _ = connect(ca, cb, now)
    assert a.state is State.ESTABLISHED and b.state is State.ESTABLISHED
    return a, b


def attrs(local_pref: int | None = 100) -> PathAttributes:
    return PathAttributes(
        origin=0,
        as_path=AsPath(((2, (65002,)),)),
        next_hop=bytes((192, 0, 2, 2)),
        local_pref=local_pref,
    )


def prefixes(n: int, first: int = 0) -> list[bytes]:
    """n distinct IPv4 /24 keys (wire form: length octet, 3 address octets)."""
    return [bytes((24, 10, (i >> 8) & 0xFF, i & 0xFF)) for i in range(first, first + n)]
