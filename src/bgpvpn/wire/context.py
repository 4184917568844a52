"""What a decoder or encoder must know of the session: the negotiated capabilities.

Passed explicitly to every call, never global (as holo's ``DecodeCxt``). ``negotiate`` derives the
receive and send contexts of a session from the two OPEN messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bgpvpn.wire.attributes import AttributeCache
from bgpvpn.wire.capabilities import (
    ADD_PATH_RECEIVE,
    ADD_PATH_SEND,
    AddPath,
    ExtendedMessage,
    FourOctetAs,
    Multiprotocol,
)
from bgpvpn.wire.constants import MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN
from bgpvpn.wire.family import IPV4_UNICAST, Family

_SHARED_CACHES: dict[tuple[bool, bool | None], AttributeCache] = {}


def shared_cache(as4: bool, ibgp: bool | None) -> AttributeCache:
    """The attribute cache shared by every session decoding in this mode."""
    key = (as4, ibgp)
    cache = _SHARED_CACHES.get(key)
    if cache is None:
        cache = _SHARED_CACHES[key] = AttributeCache()
    return cache


@dataclass(frozen=True, slots=True)
class WireContext:
    """``as4``: AS numbers are 4 octets (RFC6793 negotiated). ``add_path``: families whose NLRI
    carry path identifiers in this direction (RFC7911). ``extended_message``: RFC8654 negotiated.
    ``ibgp``: the peer is internal (True), external (False) or unknown (None, e.g. a capture
    file): it decides what LOCAL_PREF from the peer means (RFC7606 7.5)."""

    as4: bool = True
    add_path: frozenset[Family] = frozenset()
    extended_message: bool = False
    ibgp: bool | None = None
    cache: AttributeCache | None = field(default=None, compare=False)

    @property
    def max_message_len(self) -> int:
        return MAX_EXTENDED_MESSAGE_LEN if self.extended_message else MAX_MESSAGE_LEN

    @property
    def attribute_cache(self) -> AttributeCache:
        return self.cache if self.cache is not None else shared_cache(self.as4, self.ibgp)


DEFAULT_CONTEXT = WireContext()


def open_families(caps: tuple[object, ...]) -> frozenset[Family]:
    fams = frozenset(c.family for c in caps if isinstance(c, Multiprotocol))
    return fams or frozenset({IPV4_UNICAST})  # RFC4760: no MP capability means IPv4 unicast


def negotiate(
    local_caps: tuple[object, ...], remote_caps: tuple[object, ...], ibgp: bool | None = None
) -> tuple[WireContext, WireContext]:
    """The (receive, send) contexts of a session from both sides' capabilities."""
    as4 = any(isinstance(c, FourOctetAs) for c in local_caps) and any(
        isinstance(c, FourOctetAs) for c in remote_caps
    )
    ext = any(isinstance(c, ExtendedMessage) for c in local_caps) and any(
        isinstance(c, ExtendedMessage) for c in remote_caps
    )

    def add_path_modes(caps: tuple[object, ...]) -> dict[Family, int]:
        modes: dict[Family, int] = {}
        for c in caps:
            if isinstance(c, AddPath):
                for f in c.families:
                    modes[f.family] = f.send_receive
        return modes

    local, remote = add_path_modes(local_caps), add_path_modes(remote_caps)
    rx = frozenset(
        f for f, m in local.items() if m & ADD_PATH_RECEIVE and remote.get(f, 0) & ADD_PATH_SEND
    )
    tx = frozenset(
        f for f, m in local.items() if m & ADD_PATH_SEND and remote.get(f, 0) & ADD_PATH_RECEIVE
    )
    return (
        WireContext(as4=as4, add_path=rx, extended_message=ext, ibgp=ibgp),
        WireContext(as4=as4, add_path=tx, extended_message=ext, ibgp=ibgp),
    )
