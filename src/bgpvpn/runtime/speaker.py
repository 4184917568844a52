"""The BGP speaker: the configured peers (one ``PeerRunner`` each), the listener that hands
incoming connections to them, and the RIB between them.

Work is sliced so that no peer and no flood starves the event loop: received UPDATEs are applied
as they arrive (one read at a time), and outbound routes are drained by one task in slices of
``SLICE`` destinations per peer, yielding to the loop in between and skipping peers whose socket
buffer is full (``PeerRunner.can_send``). Keepalives and the API are served between slices.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from bgpvpn.config import Config, PeerConfig
from bgpvpn.rib import PeerInfo, Rib
from bgpvpn.runtime.gcpolicy import GcPolicy
from bgpvpn.runtime.peer import PeerRunner, Transport
from bgpvpn.runtime.sockets import gtsm_listener, set_md5_key
from bgpvpn.session import (
    EndOfRibReceived,
    Established,
    MaxPrefixExceeded,
    RouteRefreshReceived,
    SessionConfig,
    SessionDown,
    SessionEvent,
    State,
    StateChanged,
    UpdateReceived,
)
from bgpvpn.wire.capabilities import GracefulRestart
from bgpvpn.wire.family import RTC, Family

log = logging.getLogger("bgpvpn.speaker")
SLICE = 2000  # destinations drained per peer before yielding to the event loop
# seconds a peer has to send its RT membership End-of-RIB before ours of the VPN families go
# anyway (RFC4684 6 waits for it; a peer that never sends one must not stall them forever)
RTC_EOR_WAIT = 10


def _packed(address: str) -> bytes:
    return ipaddress.ip_address(address).packed


def stale_families_to_flush(
    kept: frozenset[Family], graceful_restart: GracefulRestart | None
) -> frozenset[Family]:
    """RFC4724 4.2, receiving side, when the restarted peer's session is re-established: of the
    families whose routes were kept stale, those the peer's new OPEN does not keep (no Graceful
    Restart capability, the family not in it, or its F bit clear). Their stale routes must go
    at once, not wait for an End-of-RIB that such a peer need not send."""
    if graceful_restart is None:
        return kept
    preserved = {f.family for f in graceful_restart.families if f.forwarding_preserved}
    return frozenset(f for f in kept if f not in preserved)


@dataclass
class PeerStatus:
    """What the API shows of a peer beyond its session state."""

    config: PeerConfig
    runner: PeerRunner | None = None
    established_at: float | None = None
    last_down_reason: str = ""
    last_error: str = ""
    updates_received: int = 0
    updates_sent: int = 0
    flaps: int = 0
    families: frozenset[Family] = field(default_factory=frozenset)
    local_address: str | None = None
    stale_families: frozenset[Family] = field(default_factory=frozenset)  # kept across a GR


class Speaker:
    """Owns the RIB and the peers; the REST API and the CLI talk to it."""

    def __init__(self, config: Config, manage_gc: bool = True) -> None:
        """``manage_gc``: freeze the garbage collector's view of the RIB as it grows
        (``GcPolicy``; turn off when the process is not the daemon's own)."""
        self.config = config
        self.gc = GcPolicy(enabled=manage_gc)
        bgp = config.bgp
        self.boot_id = uuid.uuid4().hex
        self.started_at = time.time()
        self.rib = Rib(
            bgp.asn,
            _packed(bgp.router_id),
            _packed(bgp.cluster_id) if bgp.cluster_id else None,
            rtc=bgp.rtc,
            multipath=bgp.multipath,
            default_local_pref=bgp.default_local_pref,
            # a route reflector wants every VPN route of its clients (it reflects them to whoever
            # asked, RFC4684 3.3): it advertises the default RT membership. Without it a client
            # whose membership path is the reflector's best for an RT never learns that another
            # client wants that RT (the best is not sent back to where it came from).
            advertise_default_membership=any(p.rr_client for p in bgp.peers),
        )
        # a session's end or a stale sweep with a big table is withdrawn by the drain task, a
        # slice per turn of the loop (``Rib.withdraw_dying``)
        self.rib.slice_withdrawals = True
        self.peers: dict[str, PeerStatus] = {p.address: PeerStatus(p) for p in bgp.peers}
        self._servers: list[asyncio.base_events.Server] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        # wraps each batch of RIB changes the speaker makes (one received UPDATE, a session
        # going down, expiries): the daemon groups the data-plane changes they cause
        self.around_changes: Callable[[], AbstractContextManager[object]] = nullcontext

    # ---------------------------------------------------------------- lifecycle

    def now(self) -> float:
        assert self.loop is not None
        return self.loop.time()

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        bgp = self.config.bgp
        for status in self.peers.values():
            status.runner = self._make_runner(status.config)
        if bgp.listen != "":
            await self._listen(bgp.listen, bgp.port)
        for status in self.peers.values():
            if status.config.enabled and status.runner is not None:
                status.runner.start()
        self._tasks.append(self.loop.create_task(self._drain_loop(), name="bgp-drain"))
        self._tasks.append(self.loop.create_task(self._deadline_loop(), name="bgp-deadlines"))
        self.gc.start()

    async def stop(self, message: str = "") -> None:
        for status in self.peers.values():
            if status.runner is not None:
                status.runner.stop(message or "bgpvpn is shutting down")
        await asyncio.sleep(0.05)  # let the NOTIFICATIONs go out
        for status in self.peers.values():
            if status.runner is not None:
                status.runner.close()
        for server in self._servers:
            server.close()
        for task in self._tasks:
            task.cancel()

    def _make_runner(self, p: PeerConfig) -> PeerRunner:
        bgp = self.config.bgp
        sc = SessionConfig(
            local_asn=bgp.asn,
            router_id=_packed(bgp.router_id),
            peer_asn=p.asn,
            peer_address=p.address,
            hold_time=p.hold_time,
            passive=p.passive,
            families=tuple(sorted(p.family_set)),
            graceful_restart=bgp.graceful_restart,
            add_path_receive=tuple(Family.parse(f) for f in p.add_path_receive),
            add_path_send=tuple(Family.parse(f) for f in p.add_path_send),
            max_prefix=p.max_prefix,
            max_prefix_action=p.max_prefix_action,
            max_prefix_restart=p.max_prefix_restart,
            hostname=socket.gethostname()[:64],
        )
        key = b""
        if p.md5_password_file:
            key = Path(p.md5_password_file).read_bytes().strip()
        transport = Transport(p.port, p.local_address, key, p.ttl_security)
        return PeerRunner(sc, transport, self._on_event)

    async def _listen(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        for status in self.peers.values():
            if status.config.md5_password_file:
                key = Path(status.config.md5_password_file).read_bytes().strip()
                try:
                    set_md5_key(sock, status.config.address, key)
                except OSError as e:
                    status.last_error = str(e)
        if any(status.config.ttl_security for status in self.peers.values()):
            gtsm_listener(sock)  # SYN-ACKs with TTL 255; incoming SYNs' TTL checked per peer
        sock.bind((host, port))
        sock.setblocking(False)
        server = await asyncio.start_server(self._incoming, sock=sock)
        self._servers.append(server)

    def _incoming(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        address = str(ipaddress.ip_address(peername[0].removeprefix("::ffff:"))) if peername else ""
        status = self.peers.get(address)
        if status is None or status.runner is None:
            writer.close()  # not a configured peer
            return
        status.runner.incoming(reader, writer)

    # -------------------------------------------------------------- peer events

    def _on_event(self, runner: PeerRunner, event: SessionEvent) -> None:
        with self.around_changes():
            self._handle_event(runner, event)

    def _handle_event(self, runner: PeerRunner, event: SessionEvent) -> None:
        peer_id = runner.config.peer_address
        status = self.peers[peer_id]
        now = self.now()
        if isinstance(event, UpdateReceived):
            status.updates_received += 1
            msg = event.message
            self.rib.receive(peer_id, msg, now)
            self.gc.routes_received(sum(len(b.keys) for b in msg.announced))
            self._wake.set()
        elif isinstance(event, Established):
            neg = event.negotiated
            writer = runner.main.writer
            sockname = writer.get_extra_info("sockname") if writer is not None else None
            local = sockname[0] if sockname else (status.config.local_address or "0.0.0.0")
            local = local.removeprefix("::ffff:")
            status.local_address = local
            status.established_at = time.time()
            status.families = neg.families
            status.last_error = ""
            self.rib.peer_up(
                PeerInfo(
                    peer_id,
                    _packed(peer_id),
                    neg.peer_asn,
                    neg.peer_router_id,
                    neg.peer_asn == self.config.bgp.asn,
                    _packed(local),
                    rr_client=status.config.rr_client,
                    next_hop_self=status.config.next_hop_self,
                ),
                neg.families,
                add_path_tx=neg.tx_context.add_path,
            )
            for fam in sorted(stale_families_to_flush(status.stale_families, neg.graceful_restart)):
                self.rib.end_of_rib(peer_id, fam)  # sweeps that family's stale routes now
            status.stale_families = frozenset()
            self.gc.session_up()
            if RTC in neg.families and self.loop is not None:
                up = status.established_at
                self.loop.call_later(RTC_EOR_WAIT, self._rtc_wait_over, peer_id, up)
            self._wake.set()
        elif isinstance(event, EndOfRibReceived):
            self.rib.end_of_rib(peer_id, event.family)  # sweeps the stale routes of a restart
            self._wake.set()  # their withdrawals go to the other peers now
        elif isinstance(event, RouteRefreshReceived):
            self.rib.refresh(peer_id, event.family)
            self._wake.set()
        elif isinstance(event, SessionDown):
            if status.established_at is not None:
                status.flaps += 1
            status.established_at = None
            status.last_down_reason = event.reason
            last = runner.session.negotiated
            restart = 0
            if event.graceful and last is not None and last.graceful_restart is not None:
                restart = last.graceful_restart.restart_time
            if not event.was_established:
                # a reconnection attempt that failed before Established: the RIB has no
                # session to end, and stale routes kept from a graceful restart stay
                self._wake.set()
                return
            # RFC4724 4.2: only the families the peer listed in its capability stay (stale)
            keep = last.graceful_families if event.graceful and last is not None else frozenset()
            status.stale_families = frozenset()
            if peer_id in self.rib.peer_ids():
                # a big table is withdrawn a slice at a time by the drain task (slice_withdrawals)
                self.rib.peer_down(peer_id, now, keep_stale=keep, restart_time=restart)
                status.stale_families = keep
            self._wake.set()
        elif isinstance(event, MaxPrefixExceeded):
            status.last_error = (
                f"max-prefix {event.limit} exceeded for {event.family.name} "
                f"({event.count} routes, action {event.action})"
            )
            log.warning("peer %s: %s", peer_id, status.last_error)
        elif isinstance(event, StateChanged):
            log.info("peer %s: %s -> %s", peer_id, event.old.name, event.new.name)

    # -------------------------------------------------------------- background

    async def _drain_loop(self) -> None:
        """Send every peer what its Adj-RIB-Out has pending, a slice at a time."""
        coalesce = self.config.bgp.coalesce_time
        while True:
            await self._wake.wait()
            if coalesce:  # what changes meanwhile goes out in the same UPDATEs
                await asyncio.sleep(coalesce)
            self._wake.clear()
            while True:
                # the routes of a peer that went down, a slice per round (DYING_SLICE), between
                # the other peers' slices and whatever else the loop has to do
                progress = False
                if self.rib.dying:
                    with self.around_changes():
                        progress = bool(self.rib.withdraw_dying())
                for peer_id, status in self.peers.items():
                    runner = status.runner
                    if runner is None or not runner.can_send or not self.rib.pending(peer_id):
                        continue
                    neg = runner.session.negotiated
                    if neg is None:
                        continue
                    msgs = self.rib.outbound(peer_id, neg.tx_context, limit=SLICE)
                    if msgs:
                        status.updates_sent += len(msgs)
                        runner.send_updates(msgs)
                    progress = True
                if not progress:
                    break
                await asyncio.sleep(0)
            # peers whose buffer was full: look again shortly
            if any(
                s.runner is not None and s.runner.state is State.ESTABLISHED and self.rib.pending(p)
                for p, s in self.peers.items()
            ):
                await asyncio.sleep(0.01)
                self._wake.set()

    async def _deadline_loop(self) -> None:
        """Leases of announced routes and graceful-restart stale deadlines."""
        while True:
            deadline = self.rib.next_deadline()
            delay = 1.0 if deadline is None else max(0.0, min(1.0, deadline - self.now()))
            await asyncio.sleep(delay)
            now = self.now()
            with self.around_changes():
                changed = bool(self.rib.expire_leases(now)) | bool(self.rib.expire_stale(now))
            if changed:
                self._wake.set()

    def _rtc_wait_over(self, peer_id: str, established_at: float | None) -> None:
        """The peer sent no RT membership End-of-RIB within ``RTC_EOR_WAIT`` of this session's
        start: send the End-of-RIBs held back for it."""
        status = self.peers.get(peer_id)
        if status is None or status.established_at != established_at:
            return  # another session by now
        if self.rib.rtc_wait_over(peer_id):
            log.info("peer %s: no RT membership End-of-RIB after %d s", peer_id, RTC_EOR_WAIT)
            self._wake.set()

    def wake(self) -> None:
        """Something changed in the RIB: drain to the peers."""
        self._wake.set()

    # --------------------------------------------------------------- commands

    def enable_peer(self, address: str) -> None:
        status = self.peers[address]
        if status.runner is not None:
            status.runner.start()

    def disable_peer(self, address: str, message: str = "") -> None:
        status = self.peers[address]
        if status.runner is not None:
            status.runner.stop(message)
