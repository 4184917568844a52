"""OPEN messages: what we announce, the checks of the peer's OPEN (RFC4271 6.2, RFC6793,
RFC6286, RFC5492), what both sides agreed (``Negotiated``), and connection collision resolution
(RFC4271 6.8). Pure functions, no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bgpvpn.session.config import SessionConfig
from bgpvpn.wire.capabilities import (
    ADD_PATH_RECEIVE,
    ADD_PATH_SEND,
    AddPath,
    AddPathFamily,
    Capability,
    EnhancedRouteRefresh,
    ExtendedMessage,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    GracefulRestartFamily,
    Multiprotocol,
    RouteRefresh,
)
from bgpvpn.wire.constants import ErrorCode, OpenError
from bgpvpn.wire.context import WireContext, negotiate, open_families
from bgpvpn.wire.family import Family
from bgpvpn.wire.messages import NotificationMessage, OpenMessage, UnknownParameter

OPENSENT_HOLD_TIME = 240  # RFC4271 8.2.2: "a large value", 4 minutes suggested


def local_capabilities(config: SessionConfig) -> tuple[Capability, ...]:
    """The capabilities we announce, in a stable order."""
    caps: list[Capability] = [Multiprotocol(f) for f in config.families]
    if config.route_refresh:
        caps.append(RouteRefresh())
        if config.enhanced_route_refresh:
            caps.append(EnhancedRouteRefresh())
    if config.extended_message:
        caps.append(ExtendedMessage())
    caps.append(FourOctetAs(config.local_asn))
    if config.graceful_restart:
        caps.append(
            GracefulRestart(
                config.graceful_restart,
                restarting=config.restarting,
                families=tuple(GracefulRestartFamily(f, True) for f in config.families),
            )
        )
    modes: dict[Family, int] = {}
    for f in config.add_path_receive:
        modes[f] = modes.get(f, 0) | ADD_PATH_RECEIVE
    for f in config.add_path_send:
        modes[f] = modes.get(f, 0) | ADD_PATH_SEND
    add_path = tuple(AddPathFamily(f, modes[f]) for f in config.families if f in modes)
    if add_path:
        caps.append(AddPath(add_path))
    if config.hostname:
        host, _, domain = config.hostname.partition(".")
        caps.append(Fqdn(host, domain))
    return tuple(caps)


def build_open(config: SessionConfig) -> OpenMessage:
    """Our OPEN (AS_TRANS in My Autonomous System for a 4-octet AS, RFC6793)."""
    return OpenMessage.build(
        config.local_asn, config.hold_time, config.router_id, local_capabilities(config)
    )


def _open_notification(subcode: int, data: bytes = b"") -> NotificationMessage:
    return NotificationMessage(ErrorCode.OPEN_MESSAGE, subcode, data)


def check_open(config: SessionConfig, peer: OpenMessage) -> NotificationMessage | None:
    """The NOTIFICATION the peer's OPEN deserves (RFC4271 6.2), or None when it is acceptable.

    The version and malformed parameters or capabilities are refused by the decoder already
    (``MessageError``); this checks the rest:
    - the peer AS: the 4-octet AS capability when present, else My Autonomous System (a peer
      without the capability shows AS_TRANS when its AS is 4-octet, which then does not match);
    - the BGP identifier: 0 is invalid; for iBGP it must differ from ours (RFC6286 2.1);
    - the hold time: 1 or 2 is unacceptable;
    - optional parameters other than capabilities are unsupported.
    """
    if peer.version != 4:
        return _open_notification(OpenError.UNSUPPORTED_VERSION, b"\x00\x04")
    for p in peer.parameters:
        if isinstance(p, UnknownParameter):
            return _open_notification(OpenError.UNSUPPORTED_OPTIONAL_PARAMETER)
    if peer.four_octet_asn != config.peer_asn:
        return _open_notification(OpenError.BAD_PEER_AS)
    if peer.bgp_id == bytes(4) or (config.ibgp and peer.bgp_id == config.router_id):
        return _open_notification(OpenError.BAD_BGP_IDENTIFIER)
    if peer.hold_time in (1, 2):
        return _open_notification(OpenError.UNACCEPTABLE_HOLD_TIME)
    return None


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What both OPENs agreed.

    ``families``: announced by both (IPv4 unicast when a side sends no multiprotocol
    capability, RFC4760). ``hold_time``: the smaller of both, 0 meaning no keepalives and no
    hold timer; ``keepalive_time`` is a third of it. ``add_path_rx``: families whose received
    NLRI carry path identifiers. ``graceful_restart``: the peer's capability (restart time, R
    bit, per-family forwarding bits), None when it sent none. ``rx_context`` decodes what the
    peer sends, ``tx_context`` encodes what we send.
    """

    families: frozenset[Family]
    as4: bool
    route_refresh: bool
    enhanced_route_refresh: bool
    extended_message: bool
    hold_time: int
    keepalive_time: int
    peer_router_id: bytes
    peer_asn: int
    add_path_rx: frozenset[Family]
    graceful_restart: GracefulRestart | None
    peer_open: OpenMessage
    rx_context: WireContext
    tx_context: WireContext
    peer_hostname: str | None = None

    @property
    def graceful_families(self) -> frozenset[Family]:
        """Families the peer asked us to keep (stale) across its restart."""
        gr = self.graceful_restart
        if gr is None:
            return frozenset()
        return frozenset(f.family for f in gr.families) & self.families


def negotiate_session(config: SessionConfig, local: OpenMessage, peer: OpenMessage) -> Negotiated:
    """The agreement of an accepted OPEN exchange (``check_open`` returned None)."""
    local_caps = local.capabilities
    peer_caps = peer.capabilities
    rx, tx = negotiate(local_caps, peer_caps, ibgp=config.ibgp)

    def has(caps: tuple[Capability, ...], kind: type) -> bool:
        return any(isinstance(c, kind) for c in caps)

    hold = min(local.hold_time, peer.hold_time)
    route_refresh = has(local_caps, RouteRefresh) and has(peer_caps, RouteRefresh)
    gr = next((c for c in peer_caps if isinstance(c, GracefulRestart)), None)
    fqdn = next((c for c in peer_caps if isinstance(c, Fqdn)), None)
    hostname = None
    if fqdn is not None:
        hostname = fqdn.hostname + ("." + fqdn.domain if fqdn.domain else "")
    return Negotiated(
        families=open_families(local_caps) & open_families(peer_caps),
        as4=rx.as4,
        route_refresh=route_refresh,
        enhanced_route_refresh=route_refresh
        and has(local_caps, EnhancedRouteRefresh)
        and has(peer_caps, EnhancedRouteRefresh),
        extended_message=rx.extended_message,
        hold_time=hold,
        keepalive_time=hold // 3,
        peer_router_id=peer.bgp_id,
        peer_asn=peer.four_octet_asn,
        add_path_rx=rx.add_path,
        graceful_restart=gr,
        peer_open=peer,
        rx_context=rx,
        tx_context=tx,
        peer_hostname=hostname,
    )


CollisionVerdict = Literal["keep_local_initiated", "keep_remote_initiated"]


def resolve_collision(
    local_router_id: bytes, peer_router_id: bytes, local_asn: int = 0, peer_asn: int = 0
) -> CollisionVerdict:
    """Which of two connections with the same peer survives (RFC4271 6.8).

    The connection initiated by the speaker with the higher BGP identifier (compared as 4-octet
    unsigned integers) is kept; with equal identifiers (possible for eBGP, RFC6286 2.3) the one
    initiated by the speaker with the higher AS number.

    How the transport uses it (one ``Session`` per TCP connection):

    1. The peer's main session initiates connections (``ConnectRequested``). An incoming
       connection while the main session is Connect or Active is simply given to it
       (``connection_made``; abandon the pending outgoing attempt). While it is Idle, refuse the
       connection. While it is OpenSent or OpenConfirm, start a second session for the incoming
       connection: ``Session(config, now, rng)`` then ``accept_incoming(now)``. While it is
       Established, accept the connection and call ``cease_collision`` on a session made for it
       as soon as its OPEN arrived (RFC4271 6.8: the Established connection wins).
    2. When either session reports ``StateChanged(new=OPENCONFIRM)`` and the other one is in
       OpenConfirm too, or in OpenSent, call ``resolve_collision(config.router_id,
       session.negotiated.peer_router_id, config.local_asn, config.peer_asn)`` and call
       ``cease_collision(now)`` on the loser: the session of the incoming connection when the
       answer is ``keep_local_initiated``, the one that asked for the connection otherwise.
    3. ``cease_collision`` sends Cease / Connection Collision Resolution, requests the close and
       leaves that session Idle for good (it never reconnects by itself): forget it and keep the
       other one as the peer's session. It reconnects per its own config after later failures.
    """
    local = int.from_bytes(local_router_id, "big")
    remote = int.from_bytes(peer_router_id, "big")
    if local != remote:
        return "keep_local_initiated" if local > remote else "keep_remote_initiated"
    return "keep_local_initiated" if local_asn > peer_asn else "keep_remote_initiated"
