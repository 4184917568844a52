"""One configured peer over asyncio TCP: drives its sans-IO ``Session`` (connect, read, write,
one timer), hands incoming connections to it, resolves connection collisions (RFC4271 6.8) and
reports the session's events to the owner (the speaker).

Back-pressure: ``send_updates`` queues pre-encoded UPDATEs; the owner asks ``can_send`` before
draining more routes, so a slow peer holds back only its own Adj-RIB-Out. Reading and timers of
every peer stay on the event loop, so keepalives never wait behind another peer's work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass

from bgpvpn.runtime.sockets import gtsm_admits, set_gtsm, set_md5_key
from bgpvpn.session import (
    CloseRequested,
    ConnectRequested,
    Session,
    SessionConfig,
    SessionEvent,
    State,
    StateChanged,
    resolve_collision,
)

READ_SIZE = 1 << 14
HIGH_WATER = 1 << 20  # octets queued to a peer before the owner stops draining routes to it

log = logging.getLogger("bgpvpn.peer")


@dataclass(frozen=True, slots=True)
class Transport:
    """How to reach the peer."""

    port: int = 179
    local_address: str | None = None
    md5_key: bytes = b""
    ttl_security: int = 0  # GTSM hops, 0 = off


EventHandler = Callable[["PeerRunner", SessionEvent], None]


class _Connection:
    """One TCP connection and the Session that runs on it."""

    def __init__(self, runner: PeerRunner, session: Session, incoming: bool) -> None:
        self.runner = runner
        self.session = session
        self.incoming = incoming
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.connect_task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False

    def attach(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.reader_task = asyncio.get_running_loop().create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                self.session.receive_bytes(data, self.runner.now())
                self.runner.pump(self)
                # reader.read() does not suspend while its buffer holds data: give the loop
                # (other peers, timers, the API) a turn after every read, or a backlog of
                # several reads would run as one step
                await asyncio.sleep(0)
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            return
        if not self.closed:
            self.close_socket()
            self.session.connection_failed(self.runner.now())
            self.runner.pump(self)

    def close_socket(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
            self.writer = None
        task = self.reader_task
        self.reader_task = None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def shutdown(self) -> None:
        self.closed = True
        self.close_socket()
        if self.connect_task is not None:
            self.connect_task.cancel()
        if self.timer is not None:
            self.timer.cancel()


class PeerRunner:
    """Runs one peer. ``session`` is the peer's current main session."""

    def __init__(
        self,
        config: SessionConfig,
        transport: Transport,
        on_event: EventHandler,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.on_event = on_event
        self.loop = asyncio.get_running_loop()
        self.rng = rng or random.Random()
        self.main = _Connection(self, Session(config, self.now(), self.rng), incoming=False)
        self.extra: _Connection | None = None  # a colliding incoming connection
        self.stopped = True

    @property
    def session(self) -> Session:
        return self.main.session

    @property
    def state(self) -> State:
        return self.main.session.state

    def now(self) -> float:
        return self.loop.time()

    # ----------------------------------------------------------------- commands

    def start(self) -> None:
        self.stopped = False
        self.main.session.start(self.now())
        self.pump(self.main)

    def stop(self, message: str = "") -> None:
        self.stopped = True
        for conn in (self.main, self.extra):
            if conn is not None:
                conn.session.stop(self.now(), message)
                self.pump(conn)

    def close(self) -> None:
        """Forget everything (daemon exit): no NOTIFICATION, sockets closed."""
        for conn in (self.main, self.extra):
            if conn is not None:
                conn.shutdown()

    def send_updates(self, messages: list[bytes]) -> None:
        if messages and self.state is State.ESTABLISHED:
            self.main.session.send_update_bytes(messages)
            self.pump(self.main)

    @property
    def can_send(self) -> bool:
        """Whether the owner may queue more UPDATEs now (the socket buffer is not full)."""
        w = self.main.writer
        return (
            self.state is State.ESTABLISHED
            and w is not None
            and w.transport.get_write_buffer_size() < HIGH_WATER
        )

    # -------------------------------------------------------- incoming connection

    def incoming(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A TCP connection from the peer's address (the listener found us)."""
        sock = writer.get_extra_info("socket")
        hops = self.transport.ttl_security
        if hops and (sock is None or not gtsm_admits(sock, hops)):
            log.warning(
                "peer %s: connection refused by GTSM: its SYN came from more than %d hop(s)",
                self.config.peer_address,
                hops,
            )
            writer.close()
            return
        self._tune(sock)
        state = self.state
        if state in (State.CONNECT, State.ACTIVE):
            conn = self.main
            if conn.connect_task is not None:
                conn.connect_task.cancel()
                conn.connect_task = None
            conn.close_socket()
            conn.attach(reader, writer)
            conn.session.connection_made(self.now())
            self.pump(conn)
            return
        if state is State.IDLE or self.extra is not None:
            writer.close()
            return
        # OpenSent, OpenConfirm or Established: a second session for this connection
        session = Session(self.config, self.now(), self.rng)
        conn = _Connection(self, session, incoming=True)
        self.extra = conn
        conn.attach(reader, writer)
        session.accept_incoming(self.now())
        self.pump(conn)

    # ------------------------------------------------------------------- pumping

    def pump(self, conn: _Connection) -> None:
        """Act on what the connection's session produced: bytes, events, the next timer."""
        session = conn.session
        data = session.bytes_to_send()
        if data and conn.writer is not None:
            conn.writer.write(data)
        for event in session.events():
            if isinstance(event, ConnectRequested):
                conn.close_socket()
                if conn.connect_task is not None:
                    conn.connect_task.cancel()
                conn.connect_task = self.loop.create_task(self._connect(conn))
            elif isinstance(event, CloseRequested):
                if conn.connect_task is not None:
                    conn.connect_task.cancel()
                    conn.connect_task = None
                conn.close_socket()
            else:
                if isinstance(event, StateChanged):
                    self._check_collision(conn, event)
                if conn is self.main:
                    self.on_event(self, event)
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        deadline = session.next_timer()
        if deadline is not None and not conn.closed:
            conn.timer = self.loop.call_at(deadline, self._timer, conn)

    def _timer(self, conn: _Connection) -> None:
        conn.timer = None
        conn.session.handle_timer(self.now())
        self.pump(conn)

    def _check_collision(self, conn: _Connection, event: StateChanged) -> None:
        extra = self.extra
        if extra is None:
            return
        main = self.main
        if main.session.state is State.ESTABLISHED and extra.session.state is State.OPENCONFIRM:
            extra.session.cease_collision(self.now())  # RFC4271 6.8: Established wins
            self._drop_extra()
            return
        states = {main.session.state, extra.session.state}
        if State.OPENCONFIRM not in states or not states <= {State.OPENCONFIRM, State.OPENSENT}:
            if extra.session.state is State.IDLE:
                self._drop_extra()
            return
        who = conn.session.negotiated or main.session.negotiated or extra.session.negotiated
        if who is None:
            return
        verdict = resolve_collision(
            self.config.router_id, who.peer_router_id, self.config.local_asn, self.config.peer_asn
        )
        if verdict == "keep_local_initiated":
            extra.session.cease_collision(self.now())
            self.pump(extra)
            self._drop_extra()
        else:
            main.session.cease_collision(self.now())
            old = self.main
            self.main, self.extra = extra, None
            self.pump(old)
            old.shutdown()
            self.on_event(self, StateChanged(State.IDLE, self.main.session.state))

    def _drop_extra(self) -> None:
        extra = self.extra
        self.extra = None
        if extra is not None:
            self.pump(extra)
            extra.shutdown()

    def _tune(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        if self.transport.ttl_security:
            with contextlib.suppress(OSError):
                set_gtsm(sock, self.transport.ttl_security)

    async def _connect(self, conn: _Connection) -> None:
        t = self.transport
        host = self.config.peer_address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if t.md5_key:
                set_md5_key(sock, host, t.md5_key)
            if t.ttl_security:
                set_gtsm(sock, t.ttl_security)
            if t.local_address:
                sock.bind((t.local_address, 0))
            await asyncio.wait_for(
                self.loop.sock_connect(sock, (host, t.port)), timeout=self.config.connect_retry
            )
            reader, writer = await asyncio.open_connection(sock=sock)
        except asyncio.CancelledError:
            sock.close()
            raise
        except (OSError, TimeoutError):
            sock.close()
            conn.connect_task = None
            conn.session.connection_failed(self.now())
            self.pump(conn)
            return
        conn.connect_task = None
        conn.attach(reader, writer)
        conn.session.connection_made(self.now())
        self.pump(conn)
