"""The BGP session: the RFC4271 finite state machine, sans-IO (no sockets, no asyncio).

``Session`` is driven by method calls carrying ``now``; it queues bytes to send, reports
``SessionEvent`` values and names its next timer deadline. ``SessionConfig`` holds its settings,
``Negotiated`` what the OPEN exchange agreed, ``resolve_collision`` decides connection
collisions (RFC4271 6.8).
"""

from bgpvpn.session.config import SessionConfig
from bgpvpn.session.fsm import (
    CloseRequested,
    ConnectRequested,
    EndOfRibReceived,
    Established,
    MaxPrefixExceeded,
    RouteRefreshReceived,
    Session,
    SessionDown,
    SessionEvent,
    SessionUsageError,
    State,
    StateChanged,
    UpdateReceived,
    describe_notification,
)
from bgpvpn.session.negotiation import (
    CollisionVerdict,
    Negotiated,
    build_open,
    check_open,
    local_capabilities,
    negotiate_session,
    resolve_collision,
)

__all__ = [
    "CloseRequested",
    "CollisionVerdict",
    "ConnectRequested",
    "EndOfRibReceived",
    "Established",
    "MaxPrefixExceeded",
    "Negotiated",
    "RouteRefreshReceived",
    "Session",
    "SessionConfig",
    "SessionDown",
    "SessionEvent",
    "SessionUsageError",
    "State",
    "StateChanged",
    "UpdateReceived",
    "build_open",
    "check_open",
    "describe_notification",
    "local_capabilities",
    "negotiate_session",
    "resolve_collision",
]
