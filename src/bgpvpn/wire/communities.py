"""Communities (RFC1997), extended communities (RFC4360, RFC7432, RFC9012, RFC5701) and large
communities (RFC8092): wire form <-> text form.

Wire forms: a community is an ``int``; an extended community is 8 ``bytes``; a large community
is a ``(global_admin, local1, local2)`` tuple of ints.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bgpvpn.wire.constants import TunnelType
from bgpvpn.wire.errors import TextFormError
from bgpvpn.wire.text import (
    ip_to_text,
    ipv4_from_text,
    mac_from_text,
    mac_to_text,
    parse_admin_number,
)

# RFC1997 and IANA well-known communities
WELL_KNOWN_COMMUNITIES: dict[int, str] = {
    0xFFFF0000: "graceful-shutdown",  # RFC8326
    0xFFFF0001: "accept-own",  # RFC7611
    0xFFFF0006: "llgr-stale",  # RFC9494
    0xFFFF0007: "no-llgr",  # RFC9494
    0xFFFF029A: "blackhole",  # RFC7999
    0xFFFFFF01: "no-export",
    0xFFFFFF02: "no-advertise",
    0xFFFFFF03: "no-export-subconfed",
    0xFFFFFF04: "no-peer",  # RFC3765
}
_COMMUNITY_BY_NAME = {v: k for k, v in WELL_KNOWN_COMMUNITIES.items()}


def community_to_text(value: int) -> str:
    name = WELL_KNOWN_COMMUNITIES.get(value)
    if name is not None:
        return name
    return f"{value >> 16}:{value & 0xFFFF}"


def community_from_text(text: str, field: str = "community") -> int:
    text = text.strip().lower()
    if text in _COMMUNITY_BY_NAME:
        return _COMMUNITY_BY_NAME[text]
    high, sep, low = text.partition(":")
    if not sep or not high.isdigit() or not low.isdigit():
        raise TextFormError(
            field, text, "expected AS:VALUE (two 16-bit numbers) or a well-known name"
        )
    hi, lo = int(high), int(low)
    if hi > 0xFFFF or lo > 0xFFFF:
        raise TextFormError(field, text, "both halves of a community are 16-bit (0..65535)")
    return (hi << 16) | lo


LargeCommunity = tuple[int, int, int]


def large_community_to_text(value: LargeCommunity) -> str:
    return f"{value[0]}:{value[1]}:{value[2]}"


def large_community_from_text(text: str, field: str = "large_community") -> LargeCommunity:
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise TextFormError(field, text, "expected GLOBAL:LOCAL1:LOCAL2 (three 32-bit numbers)")
    a, b, c = (int(p) for p in parts)
    if max(a, b, c) > 0xFFFFFFFF:
        raise TextFormError(field, text, "each part of a large community is 32-bit")
    return (a, b, c)


# Extended community type/subtype octets
EC_TRANSITIVE_2OCTET_AS = 0x00
EC_TRANSITIVE_IPV4 = 0x01
EC_TRANSITIVE_4OCTET_AS = 0x02
EC_TRANSITIVE_OPAQUE = 0x03
EC_EVPN = 0x06
SUB_ROUTE_TARGET = 0x02
SUB_ROUTE_ORIGIN = 0x03
SUB_COLOR = 0x0B
SUB_ENCAPSULATION = 0x0C
SUB_DEFAULT_GATEWAY = 0x0D
SUB_MAC_MOBILITY = 0x00
SUB_ESI_LABEL = 0x01
SUB_ES_IMPORT = 0x02
SUB_ROUTER_MAC = 0x03

_TUNNEL_NAMES: dict[int, str] = {int(t): t.name.lower().replace("_", "-") for t in TunnelType}
_TUNNEL_BY_NAME: dict[str, int] = {v: k for k, v in _TUNNEL_NAMES.items()}
_AS_TYPES = {
    EC_TRANSITIVE_2OCTET_AS,
    EC_TRANSITIVE_IPV4,
    EC_TRANSITIVE_4OCTET_AS,
    0x40,
    0x41,
    0x42,
}
_AS_SUBTYPE_NAMES = {SUB_ROUTE_TARGET: "target", SUB_ROUTE_ORIGIN: "origin"}


@dataclass(frozen=True, slots=True, order=True)
class ExtendedCommunity:
    """One extended community, 8 octets on the wire."""

    raw: bytes

    @property
    def type(self) -> int:
        return self.raw[0]

    @property
    def subtype(self) -> int:
        return self.raw[1]

    @property
    def is_route_target(self) -> bool:
        return self.raw[0] in (0x00, 0x01, 0x02) and self.raw[1] == SUB_ROUTE_TARGET

    def __str__(self) -> str:
        return ext_community_to_text(self.raw)

    @staticmethod
    def parse(text: str, field: str = "extended_community") -> ExtendedCommunity:
        return ExtendedCommunity(ext_community_from_text(text, field))


def _admin_value_to_text(raw: bytes) -> str:
    t = raw[0] & 0xBF
    if t == EC_TRANSITIVE_2OCTET_AS:
        return f"{int.from_bytes(raw[2:4], 'big')}:{int.from_bytes(raw[4:8], 'big')}"
    if t == EC_TRANSITIVE_IPV4:
        return f"{ip_to_text(raw[2:6])}:{int.from_bytes(raw[6:8], 'big')}"
    return f"{int.from_bytes(raw[2:6], 'big')}:{int.from_bytes(raw[6:8], 'big')}"


def ext_community_to_text(raw: bytes) -> str:
    """Text form: ``target:64512:77``, ``origin:192.0.2.1:7``, ``encap:vxlan``,
    ``router-mac:02:00:00:00:00:01``, ``mac-mobility:5[:sticky]``,
    ``esi-label:100[:single-active]``, ``es-import:02:00:..``, ``default-gateway``, ``color:10``;
    anything else ``0x`` + 16 hex digits."""
    if len(raw) != 8:
        return "0x" + raw.hex()
    t, sub = raw[0], raw[1]
    if t in _AS_TYPES and sub in _AS_SUBTYPE_NAMES:
        prefix = _AS_SUBTYPE_NAMES[sub]
        if t & 0x40:
            prefix += "-nt"  # non-transitive variant
        if t & 0xBF == EC_TRANSITIVE_4OCTET_AS:
            # 4-octet AS: mark it so that small AS numbers do not read as type 0
            asn = int.from_bytes(raw[2:6], "big")
            if asn <= 0xFFFF:
                return f"{prefix}:{asn}L:{int.from_bytes(raw[6:8], 'big')}"
        return f"{prefix}:{_admin_value_to_text(raw)}"
    if t == EC_TRANSITIVE_OPAQUE:
        if sub == SUB_ENCAPSULATION and raw[2:6] == b"\x00\x00\x00\x00":
            tunnel = int.from_bytes(raw[6:8], "big")
            return "encap:" + _TUNNEL_NAMES.get(tunnel, str(tunnel))
        if sub == SUB_DEFAULT_GATEWAY and raw[2:8] == bytes(6):
            return "default-gateway"
        if sub == SUB_COLOR and raw[2:4] == b"\x00\x00":
            return f"color:{int.from_bytes(raw[4:8], 'big')}"
    if t == EC_EVPN:
        if sub == SUB_ROUTER_MAC:
            return "router-mac:" + mac_to_text(raw[2:8])
        if sub == SUB_MAC_MOBILITY and raw[2] in (0, 1) and raw[3] == 0:
            seq = int.from_bytes(raw[4:8], "big")
            return f"mac-mobility:{seq}" + (":sticky" if raw[2] & 0x01 else "")
        if sub == SUB_ESI_LABEL and raw[2] in (0, 1) and raw[3:5] == b"\x00\x00":
            label = int.from_bytes(raw[5:8], "big")
            return f"esi-label:{label}" + (":single-active" if raw[2] & 0x01 else "")
        if sub == SUB_ES_IMPORT:
            return "es-import:" + mac_to_text(raw[2:8])
    return "0x" + raw.hex()


def route_target_from_text(text: str, field: str = "route_target") -> bytes:
    """A route target, with or without the ``target:`` prefix: ``64512:77``,
    ``192.0.2.1:7``, ``4200000000:7`` or ``64512L:7`` (4-octet AS form)."""
    text = text.strip()
    if text.lower().startswith(("target:", "rt:")):
        text = text.split(":", 1)[1]
    return _as_specific(SUB_ROUTE_TARGET, text, field, 0x00)


def _as_specific(subtype: int, text: str, field: str, transitive_bit: int) -> bytes:
    admin, num = parse_admin_number(text, field)
    if "." in admin:
        ip = ipv4_from_text(admin, field)
        if num > 0xFFFF:
            raise TextFormError(field, text, "with an IPv4 administrator the number is 16-bit")
        return bytes((EC_TRANSITIVE_IPV4 | transitive_bit, subtype)) + ip + num.to_bytes(2, "big")
    force4 = admin.upper().endswith("L")
    if force4:
        admin = admin[:-1]
    if not admin.isdigit():
        raise TextFormError(field, text, "administrator must be an AS number or an IPv4 address")
    asn = int(admin)
    if asn <= 0xFFFF and not force4:
        if num > 0xFFFFFFFF:
            raise TextFormError(field, text, "with a 2-octet AS the number is 32-bit")
        return (
            bytes((EC_TRANSITIVE_2OCTET_AS | transitive_bit, subtype))
            + asn.to_bytes(2, "big")
            + num.to_bytes(4, "big")
        )
    if asn > 0xFFFFFFFF:
        raise TextFormError(field, text, "AS number must be at most 4294967295")
    if num > 0xFFFF:
        raise TextFormError(field, text, "with a 4-octet AS the number is 16-bit")
    return (
        bytes((EC_TRANSITIVE_4OCTET_AS | transitive_bit, subtype))
        + asn.to_bytes(4, "big")
        + num.to_bytes(2, "big")
    )


def ext_community_from_text(text: str, field: str = "extended_community") -> bytes:
    text = text.strip()
    kind, sep, rest = text.partition(":")
    kind = kind.lower()
    if text.lower().startswith("0x") and not sep:
        try:
            raw = bytes.fromhex(text[2:])
        except ValueError:
            raw = b""
        if len(raw) != 8:
            raise TextFormError(field, text, "a raw extended community is 0x + 16 hex digits")
        return raw
    if kind == "default-gateway" and not sep:
        return bytes((EC_TRANSITIVE_OPAQUE, SUB_DEFAULT_GATEWAY)) + bytes(6)
    if not sep:
        raise TextFormError(
            field,
            text,
            "expected KIND:VALUE, KIND one of target, origin, encap, router-mac, mac-mobility, "
            "esi-label, es-import, color, default-gateway (or 0x + 16 hex digits)",
        )
    if kind in ("target", "rt", "origin", "soo", "target-nt", "origin-nt"):
        subtype = SUB_ROUTE_TARGET if kind in ("target", "rt", "target-nt") else SUB_ROUTE_ORIGIN
        return _as_specific(subtype, rest, field, 0x40 if kind.endswith("-nt") else 0x00)
    if kind == "encap":
        name = rest.lower()
        tunnel = _TUNNEL_BY_NAME.get(name)
        if tunnel is None:
            if not name.isdigit() or int(name) > 0xFFFF:
                raise TextFormError(
                    field, text, f"unknown tunnel type; known: {', '.join(_TUNNEL_BY_NAME)}"
                )
            tunnel_num = int(name)
        else:
            tunnel_num = int(tunnel)
        return bytes((EC_TRANSITIVE_OPAQUE, SUB_ENCAPSULATION, 0, 0, 0, 0)) + tunnel_num.to_bytes(
            2, "big"
        )
    if kind == "router-mac":
        return bytes((EC_EVPN, SUB_ROUTER_MAC)) + mac_from_text(rest, field)
    if kind == "es-import":
        return bytes((EC_EVPN, SUB_ES_IMPORT)) + mac_from_text(rest, field)
    if kind == "mac-mobility":
        seq, _, flag = rest.partition(":")
        if not seq.isdigit() or int(seq) > 0xFFFFFFFF or flag not in ("", "sticky"):
            raise TextFormError(field, text, "expected mac-mobility:SEQUENCE[:sticky]")
        return struct.pack("!BBBBI", EC_EVPN, SUB_MAC_MOBILITY, 1 if flag else 0, 0, int(seq))
    if kind == "esi-label":
        label, _, flag = rest.partition(":")
        if not label.isdigit() or int(label) > 0xFFFFFF or flag not in ("", "single-active"):
            raise TextFormError(field, text, "expected esi-label:LABEL[:single-active]")
        return bytes((EC_EVPN, SUB_ESI_LABEL, 1 if flag else 0, 0, 0)) + int(label).to_bytes(
            3, "big"
        )
    if kind == "color":
        if not rest.isdigit() or int(rest) > 0xFFFFFFFF:
            raise TextFormError(field, text, "expected color:N (32-bit)")
        return bytes((EC_TRANSITIVE_OPAQUE, SUB_COLOR, 0, 0)) + int(rest).to_bytes(4, "big")
    raise TextFormError(field, text, f"unknown extended community kind {kind!r}")
