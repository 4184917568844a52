"""The BGP finite state machine (RFC4271 8) of one session, sans-IO.

A ``Session`` is driven by three kinds of input, each given the current time ``now`` (seconds,
any monotonic origin): the RFC4271 8.1 events as method calls (``start`` = ManualStart,
``stop`` = ManualStop, ``connection_made`` = Tcp_CR_Acked / TcpConnectionConfirmed,
``connection_failed`` = TcpConnectionFails), the bytes received (``receive_bytes``) and the
timers (``handle_timer``). Its outputs are polled: ``bytes_to_send()``, ``next_timer()`` (the
earliest deadline) and ``events()``. Randomness (jitter) comes from an injected
``random.Random``. No sockets, no asyncio, no logging.

The transport must, after every input: write ``bytes_to_send()``, act on ``events()`` in order
(``ConnectRequested``: open a TCP connection to the peer, abandoning any attempt in progress;
``CloseRequested``: flush what was queued, then close the connection or abandon the attempt) and
re-arm one timer at ``next_timer()`` that calls ``handle_timer``. See
``bgpvpn.session.negotiation.resolve_collision`` for connection collisions.

Timers: ConnectRetry (Connect and Active; the first value is ``connect_retry``, doubling per
consecutive failure up to 120 s, jittered +-25%), Hold (240 s in OpenSent, then the negotiated
hold time), Keepalive (a third of the hold time, jittered 0.75..1, RFC4271 10) and the Idle
restart delay (the same back-off after a connection dropped; ``max_prefix_restart`` after a
max-prefix "restart"). The back-off resets when a session ends after staying Established for
longer than its hold time, and on ``start``.

Max-prefix accounting: the session counts the routes of each family itself, from the UPDATEs it
delivers (a set of route keys per family, path identifier included for ADD-PATH families, kept
only when ``max_prefix`` is set; the keys are the UPDATE's own ``bytes`` objects, shared with the
RIB). Treat-as-withdraw UPDATEs remove their routes from the count.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable
from dataclasses import dataclass

from bgpvpn.session.config import SessionConfig
from bgpvpn.session.negotiation import (
    OPENSENT_HOLD_TIME,
    Negotiated,
    build_open,
    check_open,
    negotiate_session,
)
from bgpvpn.wire.constants import (
    MAX_EXTENDED_MESSAGE_LEN,
    CeaseSubcode,
    ErrorCode,
    FsmError,
    MessageType,
    RouteRefreshSubtype,
)
from bgpvpn.wire.context import DEFAULT_CONTEXT, WireContext
from bgpvpn.wire.errors import ErrorAction, MessageError
from bgpvpn.wire.family import Family
from bgpvpn.wire.framing import FramingError, MessageFramer
from bgpvpn.wire.messages import (
    KeepaliveMessage,
    Message,
    NotificationMessage,
    OpenMessage,
    RouteRefreshMessage,
    decode_message,
    encode_message,
)
from bgpvpn.wire.update import NlriBlock, UpdateMessage

MAX_BACKOFF = 120.0  # seconds, the back-off ceiling before jitter
BACKOFF_JITTER = 0.25  # +-25%
KEEPALIVE_JITTER = 0.25  # keepalive intervals are 75..100% of keepalive_time (RFC4271 10)


class State(enum.Enum):
    IDLE = enum.auto()
    CONNECT = enum.auto()
    ACTIVE = enum.auto()
    OPENSENT = enum.auto()
    OPENCONFIRM = enum.auto()
    ESTABLISHED = enum.auto()


# The transitions the FSM makes (RFC4271 8.2.2); anything else is a bug and raises.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.IDLE: frozenset({State.CONNECT, State.ACTIVE}),
    State.CONNECT: frozenset({State.IDLE, State.ACTIVE, State.OPENSENT}),
    State.ACTIVE: frozenset({State.IDLE, State.CONNECT, State.OPENSENT}),
    State.OPENSENT: frozenset({State.IDLE, State.ACTIVE, State.OPENCONFIRM}),
    State.OPENCONFIRM: frozenset({State.IDLE, State.ESTABLISHED}),
    State.ESTABLISHED: frozenset({State.IDLE}),
}

CONNECTED = frozenset({State.OPENSENT, State.OPENCONFIRM, State.ESTABLISHED})


class SessionUsageError(Exception):
    """The session was driven wrongly by its caller (e.g. UPDATEs sent before Established)."""


# ------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class StateChanged:
    old: State
    new: State


@dataclass(frozen=True, slots=True)
class ConnectRequested:
    """Open a TCP connection to the peer (abandon any attempt still in progress)."""


@dataclass(frozen=True, slots=True)
class CloseRequested:
    """Flush ``bytes_to_send()``, then close the TCP connection (or abandon the attempt)."""


@dataclass(frozen=True, slots=True)
class Established:
    negotiated: Negotiated


@dataclass(frozen=True, slots=True)
class UpdateReceived:
    """An UPDATE to apply; ``message.action`` is NONE, ATTRIBUTE_DISCARD or TREAT_AS_WITHDRAW
    (then its announced routes must be handled as withdrawn, RFC7606 2)."""

    message: UpdateMessage


@dataclass(frozen=True, slots=True)
class EndOfRibReceived:
    family: Family


@dataclass(frozen=True, slots=True)
class RouteRefreshReceived:
    family: Family
    subtype: int  # RouteRefreshSubtype: NORMAL, BORR or EORR (RFC7313)


@dataclass(frozen=True, slots=True)
class SessionDown:
    """A connection that reached OpenSent ended. ``graceful``: the session was Established,
    both sides announced graceful restart (the peer with at least one family) and it dropped
    without a NOTIFICATION: keep the peer's routes of ``negotiated.graceful_families`` as stale
    (RFC4724 4.2). ``was_established``: routes had been exchanged."""

    reason: str
    notification_sent: NotificationMessage | None
    notification_received: NotificationMessage | None
    graceful: bool
    was_established: bool = False


@dataclass(frozen=True, slots=True)
class MaxPrefixExceeded:
    family: Family
    count: int
    limit: int
    action: str  # "warn", "teardown" or "restart"


SessionEvent = (
    StateChanged
    | ConnectRequested
    | CloseRequested
    | Established
    | UpdateReceived
    | EndOfRibReceived
    | RouteRefreshReceived
    | SessionDown
    | MaxPrefixExceeded
)


def describe_notification(n: NotificationMessage) -> str:
    """A short human text for a NOTIFICATION (code and subcode names, RFC9003 message)."""
    try:
        code = ErrorCode(n.code).name.lower().replace("_", " ")
    except ValueError:
        code = f"code {n.code}"
    text = f"{code} (subcode {n.subcode})"
    if n.code == ErrorCode.CEASE and n.subcode in CeaseSubcode._value2member_map_:
        text = f"cease: {CeaseSubcode(n.subcode).name.lower().replace('_', ' ')}"
    msg = n.shutdown_message
    if msg:
        text += f': "{msg}"'
    return text


_PRE_OPEN_CONTEXT = DEFAULT_CONTEXT


class Session:
    """The FSM of one BGP session. See the module docstring for the driving contract.

    ``negotiated`` is set when the peer's OPEN is accepted (OpenConfirm) and kept after the
    session goes down (so the RIB can read ``graceful_families`` on ``SessionDown``) until the
    next connection starts.
    """

    def __init__(self, config: SessionConfig, now: float, rng: random.Random | None = None) -> None:
        self.config = config
        self.state = State.IDLE
        self.negotiated: Negotiated | None = None
        self._rng = rng if rng is not None else random.Random()
        self._now = now
        self._out = bytearray()
        self._events: list[SessionEvent] = []
        self._framer = MessageFramer()
        self._local_open: OpenMessage = build_open(config)
        self._rx_ctx: WireContext = _PRE_OPEN_CONTEXT
        self._tx_ctx: WireContext = _PRE_OPEN_CONTEXT
        self._connect_retry_at: float | None = None
        self._hold_at: float | None = None
        self._keepalive_at: float | None = None
        self._restart_at: float | None = None
        self._auto_start = False  # restart by itself after a failure (ManualStart given)
        self._failures = 0  # consecutive failures, for the back-off
        self._established_at: float | None = None
        self._prefixes: dict[Family, set[bytes]] = {}
        self._over_limit: set[Family] = set()

    # ------------------------------------------------------------------------ outputs

    def bytes_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def events(self) -> list[SessionEvent]:
        out = self._events
        self._events = []
        return out

    def next_timer(self) -> float | None:
        deadlines = [
            t
            for t in (self._connect_retry_at, self._hold_at, self._keepalive_at, self._restart_at)
            if t is not None
        ]
        return min(deadlines) if deadlines else None

    def prefix_count(self, family: Family) -> int:
        """Routes of ``family`` accepted from the peer (counted only when max_prefix is set)."""
        return len(self._prefixes.get(family, ()))

    # ------------------------------------------------------------------------- inputs

    def start(self, now: float) -> None:
        """ManualStart (ManualStart_with_PassiveTcpEstablishment for a passive config); ignored
        unless Idle."""
        self._now = now
        if self.state is not State.IDLE:
            return
        self._auto_start = True
        self._failures = 0
        self._restart_at = None
        self._automatic_start(now)

    def accept_incoming(self, now: float) -> None:
        """ManualStart_with_PassiveTcpEstablishment then TcpConnectionConfirmed at once: a new
        session for an incoming connection that collides with the peer's main session (see
        ``resolve_collision``). Later restarts follow the config."""
        self._now = now
        if self.state is not State.IDLE:
            raise SessionUsageError("accept_incoming needs an Idle session")
        self._auto_start = True
        self._failures = 0
        self._restart_at = None
        self._set_state(State.ACTIVE)
        self._open_connection(now)

    def stop(self, now: float, message: str = "") -> None:
        """ManualStop: Cease / Administrative Shutdown with the RFC9003 ``message`` when a
        connection is up; the session stays Idle until ``start``."""
        self._now = now
        self._auto_start = False
        self._failures = 0
        self._restart_at = None
        if self.state in CONNECTED:
            reason = "administrative shutdown" + (f': "{message}"' if message else "")
            self._drop(now, reason, sent=NotificationMessage.shutdown(message), restart=False)
        elif self.state is not State.IDLE:
            self._go_idle_unconnected()

    def cease_collision(self, now: float) -> None:
        """Close this connection as the loser of a collision (Cease / Connection Collision
        Resolution); the session stays Idle for good (see ``resolve_collision``)."""
        self._now = now
        self._auto_start = False
        self._restart_at = None
        if self.state in CONNECTED:
            note = NotificationMessage(
                ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION
            )
            self._drop(now, "connection collision resolution", sent=note, restart=False)
        elif self.state is not State.IDLE:
            self._go_idle_unconnected()

    def connection_made(self, now: float) -> None:
        """Tcp_CR_Acked (our connection) or TcpConnectionConfirmed (the peer's): send OPEN.
        In Idle the connection is refused (``CloseRequested``)."""
        self._now = now
        if self.state in (State.CONNECT, State.ACTIVE):
            self._open_connection(now)
        elif self.state is State.IDLE:
            self._events.append(CloseRequested())
        else:
            raise SessionUsageError(
                f"connection_made in {self.state.name.lower()}: a second connection needs its "
                "own Session (see resolve_collision)"
            )

    def connection_failed(self, now: float) -> None:
        """TcpConnectionFails: the connection attempt failed or the connection was lost."""
        self._now = now
        if self.state is State.CONNECT:
            self._failures += 1
            self._set_state(State.ACTIVE)
            self._connect_retry_at = now + self._backoff(self.config.connect_retry)
        elif self.state in CONNECTED:
            self._drop(now, "connection lost")

    def receive_bytes(self, data: bytes, now: float) -> None:
        """Bytes from the peer's connection (ignored unless a connection is up)."""
        self._now = now
        if self.state not in CONNECTED:
            return
        self._framer.feed(data)
        for item in self._framer.messages():
            if self.state not in CONNECTED:
                break
            if isinstance(item, FramingError):
                note = NotificationMessage(item.code, item.subcode, item.data)
                self._drop(now, f"message header error: {item}", sent=note)
                break
            try:
                msg = decode_message(item.data, self._rx_ctx)
            except MessageError as e:
                if item.data[18] == MessageType.NOTIFICATION:
                    # never answer a NOTIFICATION with a NOTIFICATION (RFC4271 6.4)
                    self._drop(now, f"malformed NOTIFICATION received: {e}")
                else:
                    note = NotificationMessage(e.code, e.subcode, e.data)
                    self._drop(now, f"malformed message: {e}", sent=note)
                break
            self._handle_message(msg, now)

    def handle_timer(self, now: float) -> None:
        """Fire every timer whose deadline is at or before ``now``, earliest first."""
        self._now = now
        while True:
            timers = [
                (t, name)
                for t, name in (
                    (self._hold_at, "hold"),
                    (self._keepalive_at, "keepalive"),
                    (self._connect_retry_at, "connect_retry"),
                    (self._restart_at, "restart"),
                )
                if t is not None and t <= now
            ]
            if not timers:
                return
            _, name = min(timers, key=lambda x: x[0])
            if name == "hold":
                self._hold_at = None
                note = NotificationMessage(ErrorCode.HOLD_TIMER_EXPIRED, 0)
                self._drop(now, "hold timer expired", sent=note)
            elif name == "keepalive":
                self._send(KeepaliveMessage())
                self._schedule_keepalive(now)
            elif name == "connect_retry":
                self._connect_retry_at = None
                if self.state is State.CONNECT:
                    self._failures += 1  # the attempt did not complete in time
                self._connect(now)
            else:
                self._restart_at = None
                if self.state is State.IDLE and self._auto_start:
                    self._automatic_start(now)

    def send_update_bytes(self, messages: list[bytes], now: float | None = None) -> None:
        """Queue pre-encoded UPDATEs (encoded with ``negotiated.tx_context``); they restart
        the keepalive timer (from ``now``, else from the time of the latest input)."""
        if now is not None:
            self._now = now
        if self.state is not State.ESTABLISHED:
            raise SessionUsageError(f"UPDATEs cannot be sent in {self.state.name.lower()}")
        if not messages:
            return
        for m in messages:
            self._out += m
        self._schedule_keepalive(self._now)

    def request_route_refresh(
        self, family: Family, subtype: int = RouteRefreshSubtype.NORMAL
    ) -> None:
        """Ask the peer to send ``family`` again (RFC2918; BoRR/EoRR subtypes per RFC7313 when
        enhanced route refresh was negotiated)."""
        neg = self.negotiated
        if self.state is not State.ESTABLISHED or neg is None:
            raise SessionUsageError("route refresh needs an Established session")
        if not neg.route_refresh or family not in neg.families:
            raise SessionUsageError(f"route refresh of {family} was not negotiated")
        if subtype != RouteRefreshSubtype.NORMAL and not neg.enhanced_route_refresh:
            raise SessionUsageError("enhanced route refresh was not negotiated")
        self._send(RouteRefreshMessage(family, subtype))

    # ---------------------------------------------------------------------- internals

    def _set_state(self, new: State) -> None:
        old = self.state
        if new is old:
            return
        if new not in TRANSITIONS[old]:
            raise AssertionError(f"illegal transition {old.name} -> {new.name}")
        self.state = new
        self._events.append(StateChanged(old, new))

    def _send(self, msg: Message) -> None:
        self._out += encode_message(msg, self._tx_ctx)

    def _backoff(self, base: float) -> float:
        """``base`` doubled per consecutive failure beyond the first, capped, jittered."""
        exp = min(max(self._failures - 1, 0), 16)
        delay = min(base * 2.0**exp, max(MAX_BACKOFF, base))
        return delay * self._rng.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)

    def _automatic_start(self, now: float) -> None:
        if self.config.passive:
            self._set_state(State.ACTIVE)
        else:
            self._connect(now)

    def _connect(self, now: float) -> None:
        self._set_state(State.CONNECT)
        self._events.append(ConnectRequested())
        self._connect_retry_at = now + self._backoff(self.config.connect_retry)

    def _go_idle_unconnected(self) -> None:
        if self.state is State.CONNECT:
            self._events.append(CloseRequested())
        self._connect_retry_at = self._hold_at = self._keepalive_at = None
        self._set_state(State.IDLE)

    def _open_connection(self, now: float) -> None:
        self._connect_retry_at = None
        self._framer = MessageFramer()
        self._rx_ctx = self._tx_ctx = _PRE_OPEN_CONTEXT
        self.negotiated = None
        self._local_open = build_open(self.config)
        self._send(self._local_open)
        self._hold_at = now + OPENSENT_HOLD_TIME
        self._set_state(State.OPENSENT)

    def _schedule_keepalive(self, now: float) -> None:
        neg = self.negotiated
        if neg is None or not neg.keepalive_time or self.state not in CONNECTED:
            self._keepalive_at = None
            return
        jitter = self._rng.uniform(1 - KEEPALIVE_JITTER, 1.0)
        self._keepalive_at = now + neg.keepalive_time * jitter

    def _restart_hold(self, now: float) -> None:
        neg = self.negotiated
        self._hold_at = now + neg.hold_time if neg is not None and neg.hold_time else None

    def _drop(
        self,
        now: float,
        reason: str,
        *,
        sent: NotificationMessage | None = None,
        received: NotificationMessage | None = None,
        restart: bool = True,
        delay: float | None = None,
    ) -> None:
        """End the connection: optionally send ``sent``, request the close, report
        ``SessionDown`` and go Idle (Active after a TCP failure in OpenSent). ``restart``:
        restart automatically after ``delay`` (default: the back-off)."""
        old = self.state
        was_established = old is State.ESTABLISHED
        neg = self.negotiated
        graceful = (
            was_established
            and sent is None
            and received is None
            and self.config.graceful_restart > 0
            and neg is not None
            and bool(neg.graceful_families)
        )
        if sent is not None:
            self._send(sent)
        self._events.append(CloseRequested())
        self._hold_at = self._keepalive_at = self._connect_retry_at = None
        if was_established and self._established_at is not None:
            stable = (neg.hold_time if neg is not None else 0) or self.config.hold_time
            if now - self._established_at > stable:
                self._failures = 0
        self._established_at = None
        self._prefixes.clear()
        self._over_limit.clear()
        if not restart:
            self._auto_start = False
        tcp_failure = sent is None and received is None
        if old is State.OPENSENT and tcp_failure and self._auto_start:
            # RFC4271 8.2.2 OpenSent, TcpConnectionFails: back to Active, keep listening
            self._failures += 1
            self._set_state(State.ACTIVE)
            if not self.config.passive:
                self._connect_retry_at = now + self._backoff(self.config.connect_retry)
        else:
            self._set_state(State.IDLE)
            if self._auto_start:
                if delay is None:
                    self._failures += 1
                    base = self.config.connect_retry
                    if not tcp_failure:
                        base = max(base, self.config.idle_hold)
                    delay = self._backoff(base)
                self._restart_at = now + delay
        self._events.append(SessionDown(reason, sent, received, graceful, was_established))

    def _handle_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, NotificationMessage):
            self._drop(now, "NOTIFICATION received: " + describe_notification(msg), received=msg)
            return
        state = self.state
        if state is State.OPENSENT:
            if isinstance(msg, OpenMessage):
                self._receive_open(msg, now)
            else:
                self._fsm_error(FsmError.UNEXPECTED_MESSAGE_IN_OPENSENT, msg, now)
        elif state is State.OPENCONFIRM:
            if isinstance(msg, KeepaliveMessage):
                self._establish(now)
            else:
                self._fsm_error(FsmError.UNEXPECTED_MESSAGE_IN_OPENCONFIRM, msg, now)
        elif isinstance(msg, OpenMessage):
            self._fsm_error(FsmError.UNEXPECTED_MESSAGE_IN_ESTABLISHED, msg, now)
        else:
            self._restart_hold(now)
            if isinstance(msg, UpdateMessage):
                self._receive_update(msg, now)
            elif isinstance(msg, RouteRefreshMessage):
                self._receive_route_refresh(msg)

    def _fsm_error(self, subcode: int, msg: Message, now: float) -> None:
        # RFC6608 3: the data is the type of the unexpected message
        note = NotificationMessage(ErrorCode.FSM, subcode, bytes((msg.type,)))
        name = MessageType(msg.type).name
        self._drop(now, f"unexpected {name} in {self.state.name.lower()}", sent=note)

    def _receive_open(self, peer: OpenMessage, now: float) -> None:
        problem = check_open(self.config, peer)
        if problem is not None:
            self._drop(now, "OPEN refused: " + describe_notification(problem), sent=problem)
            return
        neg = negotiate_session(self.config, self._local_open, peer)
        self.negotiated = neg
        self._rx_ctx, self._tx_ctx = neg.rx_context, neg.tx_context
        if neg.extended_message:
            self._framer.max_length = MAX_EXTENDED_MESSAGE_LEN
        self._send(KeepaliveMessage())
        self._set_state(State.OPENCONFIRM)
        self._restart_hold(now)
        self._schedule_keepalive(now)

    def _establish(self, now: float) -> None:
        neg = self.negotiated
        assert neg is not None
        self._restart_hold(now)
        self._established_at = now
        self._set_state(State.ESTABLISHED)
        self._events.append(Established(neg))

    def _receive_update(self, msg: UpdateMessage, now: float) -> None:
        if msg.action is ErrorAction.SESSION_RESET:
            p = msg.reset_problem
            assert p is not None
            note = NotificationMessage(p.code, p.subcode, p.data)
            self._drop(now, f"UPDATE error: {p}", sent=note)
            return
        eor = msg.end_of_rib
        if eor is not None:
            self._events.append(EndOfRibReceived(eor))
            return
        if self.config.max_prefix and not self._count_prefixes(msg, now):
            return
        self._events.append(UpdateReceived(msg))

    def _receive_route_refresh(self, msg: RouteRefreshMessage) -> None:
        neg = self.negotiated
        if neg is None or not neg.route_refresh or msg.family not in neg.families:
            return  # RFC2918 4: ignore a family that was not negotiated
        if msg.subtype in (RouteRefreshSubtype.BORR, RouteRefreshSubtype.EORR):
            if not neg.enhanced_route_refresh:
                return
        elif msg.subtype != RouteRefreshSubtype.NORMAL:
            return  # RFC7313 5: ignore unknown subtypes
        self._events.append(RouteRefreshReceived(msg.family, msg.subtype))

    def _count_prefixes(self, msg: UpdateMessage, now: float) -> bool:
        """Account the UPDATE's routes; False when the session was torn down for it."""
        counts = self._prefixes
        touched: set[Family] = set()
        for block in msg.withdrawn:
            keys = counts.get(block.family)
            if keys is not None:
                keys.difference_update(_route_keys(block))
                touched.add(block.family)
        withdraw = msg.action is ErrorAction.TREAT_AS_WITHDRAW
        for block in msg.announced:
            keys = counts.setdefault(block.family, set())
            if withdraw:
                keys.difference_update(_route_keys(block))
            else:
                keys.update(_route_keys(block))
            touched.add(block.family)
        limit = self.config.max_prefix
        action = self.config.max_prefix_action
        for family in sorted(touched):
            count = len(counts[family])
            if count <= limit:
                self._over_limit.discard(family)
                continue
            if family in self._over_limit:
                continue  # warned already
            self._over_limit.add(family)
            self._events.append(MaxPrefixExceeded(family, count, limit, action))
            if action == "warn":
                continue
            data = (
                family.afi.to_bytes(2, "big")
                + bytes((family.safi,))
                + min(limit, 0xFFFFFFFF).to_bytes(4, "big")
            )
            note = NotificationMessage(ErrorCode.CEASE, CeaseSubcode.MAXIMUM_PREFIXES_REACHED, data)
            reason = f"maximum number of prefixes reached: {count} {family} routes > {limit}"
            if action == "teardown":
                self._drop(now, reason, sent=note, restart=False)
            else:
                self._drop(now, reason, sent=note, delay=self.config.max_prefix_restart)
            return False
        return True


def _route_keys(block: NlriBlock) -> Iterable[bytes]:
    if block.path_ids is None:
        return block.keys
    return [
        pid.to_bytes(4, "big") + key for pid, key in zip(block.path_ids, block.keys, strict=True)
    ]
