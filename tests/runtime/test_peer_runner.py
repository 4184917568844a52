"""Two PeerRunners over real TCP on loopback: sessions come up, keepalives flow, a shutdown
message arrives, a reconnect follows, and TCP MD5 protects the session."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
import socket

import pytest

from bgpvpn.runtime.peer import READ_SIZE, PeerRunner, Transport
from bgpvpn.runtime.sockets import set_md5_key
from bgpvpn.session import (
    Established,
    SessionConfig,
    SessionDown,
    SessionEvent,
    State,
    UpdateReceived,
)
from bgpvpn.wire import AsPath, PathAttributes, pack_updates
from bgpvpn.wire.family import IPV4_UNICAST, VPNV4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(asn: int, rid: str, peer_asn: int, peer: str, passive: bool) -> SessionConfig:
    return SessionConfig(
        local_asn=asn,
        router_id=socket.inet_aton(rid),
        peer_asn=peer_asn,
        peer_address=peer,
        hold_time=9,
        connect_retry=0.2,
        passive=passive,
        families=(IPV4_UNICAST, VPNV4),
    )


class Recorder:
    def __init__(self) -> None:
        self.events: list[SessionEvent] = []
        self.changed = asyncio.Event()

    def __call__(self, runner: PeerRunner, event: SessionEvent) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait_for(self, kind: type, timeout: float = 5.0) -> SessionEvent:
        async def loop() -> SessionEvent:
            while True:
                for e in self.events:
                    if isinstance(e, kind):
                        return e
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(loop(), timeout)


async def _pair(
    md5_a: bytes = b"", md5_b: bytes = b""
) -> tuple[PeerRunner, PeerRunner, Recorder, Recorder, asyncio.Server]:
    port = _free_port()
    rec_a, rec_b = Recorder(), Recorder()
    a = PeerRunner(
        _config(64512, "192.0.2.1", 64513, "127.0.0.2", False),
        Transport(port=port, local_address="127.0.0.1", md5_key=md5_a),
        rec_a,
        random.Random(1),
    )
    b = PeerRunner(
        _config(64513, "192.0.2.2", 64512, "127.0.0.1", True),
        Transport(port=port, md5_key=md5_b),
        rec_b,
        random.Random(2),
    )
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if md5_b:
        set_md5_key(lsock, "127.0.0.1", md5_b)
    lsock.bind(("127.0.0.2", port))
    server = await asyncio.start_server(b.incoming, sock=lsock)
    b.start()
    a.start()
    return a, b, rec_a, rec_b, server


async def test_sessions_come_up_and_shut_down_with_a_message() -> None:
    a, b, rec_a, rec_b, server = await _pair()
    try:
        est = await rec_a.wait_for(Established)
        await rec_b.wait_for(Established)
        assert isinstance(est, Established)
        assert est.negotiated.families == frozenset({IPV4_UNICAST, VPNV4})
        assert a.state is State.ESTABLISHED and b.state is State.ESTABLISHED
        a.stop("maintenance window")
        down = await rec_b.wait_for(SessionDown)
        assert isinstance(down, SessionDown)
        assert down.notification_received is not None
        assert down.notification_received.shutdown_message == "maintenance window"
    finally:
        a.close()
        b.close()
        server.close()


async def test_reconnects_after_the_connection_drops() -> None:
    a, b, rec_a, _rec_b, server = await _pair()
    try:
        await rec_a.wait_for(Established)
        b.main.close_socket()  # the TCP connection breaks under both
        b.main.session.connection_failed(b.now())
        b.pump(b.main)
        await rec_a.wait_for(SessionDown)
        rec_a.events.clear()
        await rec_a.wait_for(Established, timeout=10)
    finally:
        a.close()
        b.close()
        server.close()


async def test_md5_mismatch_keeps_the_session_down() -> None:
    a, b, rec_a, _rec_b, server = await _pair(md5_a=b"right", md5_b=b"wrong")
    try:
        with pytest.raises(TimeoutError):
            await rec_a.wait_for(Established, timeout=1.5)
    finally:
        a.close()
        b.close()
        server.close()


async def test_md5_match_brings_the_session_up() -> None:
    a, b, rec_a, _rec_b, server = await _pair(md5_a=b"s3cret", md5_b=b"s3cret")
    try:
        await rec_a.wait_for(Established)
    finally:
        a.close()
        b.close()
        server.close()


async def test_a_backlog_of_updates_is_applied_one_read_per_loop_turn() -> None:
    """``StreamReader.read`` does not suspend while its buffer holds data; the runner must still
    give the loop a turn after every read, or a flood would block timers and the API for as
    long as the backlog takes (measured: 40-100 ms steps at a million routes)."""
    a, b, rec_a, rec_b, server = await _pair()
    try:
        await rec_a.wait_for(Established)
        await rec_b.wait_for(Established)
        neg = a.session.negotiated
        assert neg is not None
        keys = [bytes((24, 10, (n >> 8) & 0xFF, n & 0xFF)) for n in range(60_000)]
        attrs = PathAttributes(origin=0, as_path=AsPath.sequence(64512), next_hop=bytes(4))
        ctx = dataclasses.replace(neg.tx_context, extended_message=False)  # 4096-octet UPDATEs
        msgs = pack_updates(IPV4_UNICAST, keys, None, None, attrs, ctx)
        assert len(msgs) > 40
        size = max(map(len, msgs))
        per_read = -(-READ_SIZE // size) + 1  # UPDATEs one read can complete
        seen: list[int] = []

        def updates() -> int:
            return sum(isinstance(e, UpdateReceived) for e in rec_b.events)

        async def ticker() -> None:
            while updates() < len(msgs):
                seen.append(updates())
                await asyncio.sleep(0)
            seen.append(updates())

        tick = asyncio.create_task(ticker())
        a.send_updates(msgs)
        await asyncio.wait_for(tick, 10)
        steps = [y - x for x, y in itertools.pairwise(seen)]
        assert len(steps) >= len(msgs) // per_read
        assert max(steps) <= per_read, (max(steps), per_read)
    finally:
        a.close()
        b.close()
        server.close()
