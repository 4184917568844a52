"""BGP capabilities (RFC5492) carried in OPEN: decode and encode.

Every capability is an immutable object with ``code`` and ``encode_value()``; capabilities the
codec does not know are kept as ``UnknownCapability`` with their raw octets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bgpvpn.wire.constants import CapabilityCode
from bgpvpn.wire.family import Family


@dataclass(frozen=True, slots=True)
class Multiprotocol:  # RFC4760 8
    family: Family
    reserved: int = 0
    code: int = CapabilityCode.MULTIPROTOCOL

    def encode_value(self) -> bytes:
        return struct.pack("!HBB", self.family.afi, self.reserved, self.family.safi)


@dataclass(frozen=True, slots=True)
class RouteRefresh:  # RFC2918 (code 2) or the pre-standard code 128
    code: int = CapabilityCode.ROUTE_REFRESH

    def encode_value(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class EnhancedRouteRefresh:  # RFC7313
    code: int = CapabilityCode.ENHANCED_ROUTE_REFRESH

    def encode_value(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class ExtendedMessage:  # RFC8654
    code: int = CapabilityCode.EXTENDED_MESSAGE

    def encode_value(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class FourOctetAs:  # RFC6793
    asn: int
    code: int = CapabilityCode.FOUR_OCTET_AS

    def encode_value(self) -> bytes:
        return self.asn.to_bytes(4, "big")


@dataclass(frozen=True, slots=True)
class GracefulRestartFamily:
    family: Family
    forwarding_preserved: bool  # the F bit


@dataclass(frozen=True, slots=True)
class GracefulRestart:  # RFC4724 3, RFC8538 (N bit)
    restart_time: int  # seconds, 12 bits
    restarting: bool = False  # the R bit
    notification: bool = False  # the N bit (RFC8538)
    families: tuple[GracefulRestartFamily, ...] = ()
    other_flags: int = 0  # the remaining 2 flag bits, kept as received
    code: int = CapabilityCode.GRACEFUL_RESTART

    def encode_value(self) -> bytes:
        flags = (0x8 if self.restarting else 0) | (0x4 if self.notification else 0)
        flags |= self.other_flags & 0x3
        out = bytearray(struct.pack("!H", (flags << 12) | (self.restart_time & 0xFFF)))
        for f in self.families:
            out += struct.pack(
                "!HBB", f.family.afi, f.family.safi, 0x80 if f.forwarding_preserved else 0
            )
        return bytes(out)


@dataclass(frozen=True, slots=True)
class LongLivedGracefulRestartFamily:
    family: Family
    forwarding_preserved: bool
    stale_time: int  # seconds, 24 bits


@dataclass(frozen=True, slots=True)
class LongLivedGracefulRestart:  # RFC9494
    families: tuple[LongLivedGracefulRestartFamily, ...] = ()
    code: int = CapabilityCode.LONG_LIVED_GRACEFUL_RESTART

    def encode_value(self) -> bytes:
        out = bytearray()
        for f in self.families:
            out += struct.pack(
                "!HBB", f.family.afi, f.family.safi, 0x80 if f.forwarding_preserved else 0
            )
            out += f.stale_time.to_bytes(3, "big")
        return bytes(out)


ADD_PATH_RECEIVE = 1
ADD_PATH_SEND = 2
ADD_PATH_BOTH = 3


@dataclass(frozen=True, slots=True)
class AddPathFamily:
    family: Family
    send_receive: int  # 1 receive, 2 send, 3 both


@dataclass(frozen=True, slots=True)
class AddPath:  # RFC7911 4
    families: tuple[AddPathFamily, ...] = ()
    code: int = CapabilityCode.ADD_PATH

    def encode_value(self) -> bytes:
        return b"".join(
            struct.pack("!HBB", f.family.afi, f.family.safi, f.send_receive) for f in self.families
        )


@dataclass(frozen=True, slots=True)
class ExtendedNextHopEntry:
    family: Family  # the NLRI AFI/SAFI (SAFI is 16-bit on the wire)
    next_hop_afi: int


@dataclass(frozen=True, slots=True)
class ExtendedNextHop:  # RFC8950 3
    entries: tuple[ExtendedNextHopEntry, ...] = ()
    code: int = CapabilityCode.EXTENDED_NEXT_HOP

    def encode_value(self) -> bytes:
        return b"".join(
            struct.pack("!HHH", e.family.afi, e.family.safi, e.next_hop_afi) for e in self.entries
        )


@dataclass(frozen=True, slots=True)
class Fqdn:  # draft-walton-bgp-hostname-capability
    hostname: str
    domain: str = ""
    code: int = CapabilityCode.FQDN

    def encode_value(self) -> bytes:
        h = self.hostname.encode()[:255]
        d = self.domain.encode()[:255]
        return bytes((len(h),)) + h + bytes((len(d),)) + d


@dataclass(frozen=True, slots=True)
class UnknownCapability:
    code: int
    value: bytes = b""

    def encode_value(self) -> bytes:
        return self.value


Capability = (
    Multiprotocol
    | RouteRefresh
    | EnhancedRouteRefresh
    | ExtendedMessage
    | FourOctetAs
    | GracefulRestart
    | LongLivedGracefulRestart
    | AddPath
    | ExtendedNextHop
    | Fqdn
    | UnknownCapability
)


class CapabilityError(ValueError):
    pass


def _families4(v: bytes, step: int) -> list[tuple[Family, bytes]]:
    if len(v) % step:
        raise CapabilityError(f"length {len(v)} is not a multiple of {step}")
    return [
        (Family((v[k] << 8) | v[k + 1], v[k + 2]), v[k + 3 : k + step])
        for k in range(0, len(v), step)
    ]


def decode_capability(code: int, v: bytes) -> Capability:
    """One capability from its code and value; malformed known ones raise CapabilityError."""
    if code == CapabilityCode.MULTIPROTOCOL:
        if len(v) != 4:
            raise CapabilityError(f"multiprotocol capability length {len(v)}, expected 4")
        return Multiprotocol(Family((v[0] << 8) | v[1], v[3]), v[2])
    if code in (CapabilityCode.ROUTE_REFRESH, CapabilityCode.ROUTE_REFRESH_OLD) and not v:
        return RouteRefresh(code)
    if code == CapabilityCode.ENHANCED_ROUTE_REFRESH and not v:
        return EnhancedRouteRefresh()
    if code == CapabilityCode.EXTENDED_MESSAGE and not v:
        return ExtendedMessage()
    if code == CapabilityCode.FOUR_OCTET_AS:
        if len(v) != 4:
            raise CapabilityError(f"4-octet AS capability length {len(v)}, expected 4")
        return FourOctetAs(int.from_bytes(v, "big"))
    if code == CapabilityCode.GRACEFUL_RESTART:
        if len(v) < 2 or (len(v) - 2) % 4:
            raise CapabilityError(f"graceful restart capability length {len(v)} is invalid")
        head = (v[0] << 8) | v[1]
        flags = head >> 12
        fams = tuple(
            GracefulRestartFamily(fam, bool(rest[0] & 0x80)) for fam, rest in _families4(v[2:], 4)
        )
        return GracefulRestart(
            head & 0xFFF, bool(flags & 0x8), bool(flags & 0x4), fams, flags & 0x3
        )
    if code == CapabilityCode.LONG_LIVED_GRACEFUL_RESTART:
        entries = _families4(v, 7)
        return LongLivedGracefulRestart(
            tuple(
                LongLivedGracefulRestartFamily(
                    fam, bool(rest[0] & 0x80), int.from_bytes(rest[1:4], "big")
                )
                for fam, rest in entries
            )
        )
    if code == CapabilityCode.ADD_PATH:
        entries = _families4(v, 4)
        for _, rest in entries:
            if rest[0] not in (1, 2, 3):
                raise CapabilityError(f"ADD-PATH send/receive value {rest[0]} is not 1, 2 or 3")
        return AddPath(tuple(AddPathFamily(fam, rest[0]) for fam, rest in entries))
    if code == CapabilityCode.EXTENDED_NEXT_HOP:
        if len(v) % 6:
            raise CapabilityError(f"extended next hop capability length {len(v)} is invalid")
        return ExtendedNextHop(
            tuple(
                ExtendedNextHopEntry(
                    Family(*struct.unpack("!HH", v[k : k + 4])),
                    int.from_bytes(v[k + 4 : k + 6], "big"),
                )
                for k in range(0, len(v), 6)
            )
        )
    if code == CapabilityCode.FQDN and v:
        hl = v[0]
        if 1 + hl > len(v):
            raise CapabilityError("FQDN hostname overruns the capability")
        host = v[1 : 1 + hl]
        rest = v[1 + hl :]
        dom = b""
        if rest:
            dl = rest[0]
            if 1 + dl > len(rest):
                raise CapabilityError("FQDN domain name overruns the capability")
            dom = rest[1 : 1 + dl]
            if 1 + dl != len(rest):
                raise CapabilityError("FQDN capability has trailing octets")
        cap = Fqdn(host.decode("utf-8", "replace"), dom.decode("utf-8", "replace"))
        if cap.encode_value() != v:
            return UnknownCapability(code, v)  # not representable exactly: keep raw
        return cap
    return UnknownCapability(code, v)


def encode_capability(cap: Capability) -> bytes:
    value = cap.encode_value()
    return bytes((cap.code, len(value))) + value
