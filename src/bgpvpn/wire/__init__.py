"""The BGP wire codec: bytes <-> immutable message objects, sans-IO (no sockets, no asyncio).

Entry points: ``decode_message`` / ``encode_message`` for whole messages, ``MessageFramer`` to cut
a byte stream into messages, ``pack_updates`` / ``end_of_rib`` to build UPDATEs, ``WireContext``
and ``negotiate`` for what the session negotiated, ``route_from_wire`` for typed route views.
"""

from bgpvpn.wire.attributes import AsPath, AttributeCache, PathAttributes
from bgpvpn.wire.context import DEFAULT_CONTEXT, WireContext, negotiate
from bgpvpn.wire.errors import ErrorAction, MessageError, TextFormError, UpdateProblem
from bgpvpn.wire.family import Family
from bgpvpn.wire.framing import FramedMessage, FramingError, MessageFramer, split_messages
from bgpvpn.wire.messages import (
    KeepaliveMessage,
    Message,
    NotificationMessage,
    OpenMessage,
    RouteRefreshMessage,
    decode_message,
    encode_message,
)
from bgpvpn.wire.routes import Route, route_from_wire
from bgpvpn.wire.update import NlriBlock, UpdateMessage, decode_update, end_of_rib, pack_updates

__all__ = [
    "DEFAULT_CONTEXT",
    "AsPath",
    "AttributeCache",
    "ErrorAction",
    "Family",
    "FramedMessage",
    "FramingError",
    "KeepaliveMessage",
    "Message",
    "MessageError",
    "MessageFramer",
    "NlriBlock",
    "NotificationMessage",
    "OpenMessage",
    "PathAttributes",
    "Route",
    "RouteRefreshMessage",
    "TextFormError",
    "UpdateMessage",
    "UpdateProblem",
    "WireContext",
    "decode_message",
    "decode_update",
    "encode_message",
    "end_of_rib",
    "negotiate",
    "pack_updates",
    "route_from_wire",
    "split_messages",
]
