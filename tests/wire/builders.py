"""Small builders of raw BGP octets for tests (independent of the codec's encoders)."""

from __future__ import annotations

import struct

MARKER = b"\xff" * 16


def message(mtype: int, body: bytes) -> bytes:
    return MARKER + struct.pack("!HB", 19 + len(body), mtype) + body


def attr(flags: int, atype: int, value: bytes) -> bytes:
    if flags & 0x10:
        return bytes((flags, atype)) + struct.pack("!H", len(value)) + value
    return bytes((flags, atype, len(value))) + value


def update(withdrawn: bytes = b"", attrs: bytes = b"", nlri: bytes = b"") -> bytes:
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs
    return message(2, body + nlri)


ORIGIN_IGP = attr(0x40, 1, b"\x00")
AS_PATH_4 = attr(0x40, 2, b"\x02\x02" + struct.pack("!II", 65001, 4200000001))
AS_PATH_EMPTY = attr(0x40, 2, b"")
NEXT_HOP = attr(0x40, 3, bytes((192, 0, 2, 1)))
BASE = ORIGIN_IGP + AS_PATH_4 + NEXT_HOP
NLRI_24 = bytes((24, 203, 0, 113))


def mp_reach(afi: int, safi: int, next_hop: bytes, nlri: bytes, flags: int = 0x90) -> bytes:
    value = struct.pack("!HBB", afi, safi, len(next_hop)) + next_hop + b"\x00" + nlri
    return attr(flags, 14, value)


def mp_unreach(afi: int, safi: int, nlri: bytes) -> bytes:
    return attr(0x90, 15, struct.pack("!HB", afi, safi) + nlri)
