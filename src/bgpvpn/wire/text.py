"""Text forms users know, both ways: IP addresses, prefixes, MAC addresses, route
distinguishers (``100:1``, ``192.0.2.1:7``, ``4200000000:7``) and Ethernet segment identifiers.

Values are kept in wire form (``bytes``) inside the codec; these classes and functions render
them for people and parse what people type. Every parser raises ``TextFormError`` naming the
field and the reason.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from bgpvpn.wire.constants import AFI
from bgpvpn.wire.errors import TextFormError


def ip_to_text(raw: bytes) -> str:
    """4 or 16 octets as an address; 32 octets (IPv6 global + link-local next hop) as 'a,b'."""
    n = len(raw)
    if n == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if n == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    if n == 32:
        return ip_to_text(raw[:16]) + "," + ip_to_text(raw[16:])
    if n == 0:
        return ""
    return raw.hex()


def ip_from_text(text: str, field: str = "address") -> bytes:
    """An IPv4 or IPv6 address as 4 or 16 octets."""
    text = text.strip()
    if ":" not in text:
        try:  # see ipv4_from_text
            return socket.inet_pton(socket.AF_INET, text)
        except (OSError, ValueError):
            pass
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        raise TextFormError(field, text, "not an IPv4 or IPv6 address") from None


def ipv4_from_text(text: str, field: str = "address") -> bytes:
    text = text.strip()
    try:  # glibc's strict dotted quad accepts only what ipaddress accepts, much faster
        return socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        pass
    try:
        return ipaddress.IPv4Address(text).packed
    except ValueError:
        raise TextFormError(field, text, "not an IPv4 address") from None


@dataclass(frozen=True, slots=True, order=True)
class Prefix:
    """An IPv4 or IPv6 prefix; ``address`` is the full 4 or 16 octets (bits past the length are
    kept as received)."""

    afi: int
    length: int
    address: bytes

    @property
    def max_length(self) -> int:
        return 32 if self.afi == AFI.IPV4 else 128

    def __str__(self) -> str:
        return f"{ip_to_text(self.address)}/{self.length}"

    @staticmethod
    def parse(text: str, field: str = "prefix") -> Prefix:
        text = text.strip()
        addr, sep, plen = text.partition("/")
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            raise TextFormError(field, text, "not an IPv4 or IPv6 prefix") from None
        max_len = 32 if ip.version == 4 else 128
        if not sep:
            length = max_len
        else:
            if not plen.isdigit() or int(plen) > max_len:
                raise TextFormError(field, text, f"prefix length must be 0..{max_len}")
            length = int(plen)
        afi = AFI.IPV4 if ip.version == 4 else AFI.IPV6
        return Prefix(afi, length, ip.packed)

    def to_wire(self) -> bytes:
        """Length octet and the significant octets (RFC4271 4.3)."""
        return bytes((self.length,)) + self.address[: (self.length + 7) >> 3]

    def body(self) -> bytes:
        """The significant octets only."""
        return self.address[: (self.length + 7) >> 3]

    @staticmethod
    def from_bits(afi: int, length: int, body: bytes) -> Prefix:
        size = 4 if afi == AFI.IPV4 else 16
        return Prefix(afi, length, body[:size].ljust(size, b"\x00"))


def mac_to_text(raw: bytes) -> str:
    return raw.hex(":")


# six octets of two hex digits separated by ':' (the form bgpvpn writes; any case)
_MAC_COLONS = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")


def mac_from_text(text: str, field: str = "mac") -> bytes:
    if len(text) == 17 and _MAC_COLONS.fullmatch(text) is not None:
        return bytes.fromhex(text.replace(":", ""))
    parts = text.strip().replace("-", ":").split(":")
    try:
        if len(parts) != 6 or any(len(p) not in (1, 2) for p in parts):
            raise ValueError
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise TextFormError(field, text, "not a MAC address (six hex octets)") from None


def esi_to_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def esi_from_text(text: str, field: str = "esi") -> bytes:
    """An Ethernet Segment Identifier: ten hex octets separated by ':', or '0' for none."""
    text = text.strip()
    if text in ("0", "", "single-homed"):
        return bytes(10)
    parts = text.split(":")
    try:
        if len(parts) != 10:
            raise ValueError
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise TextFormError(field, text, "not an ESI (ten hex octets or 0)") from None


def _asn_and_number(text: str, field: str) -> tuple[str, int]:
    admin, sep, num = text.strip().rpartition(":")
    if not sep or not admin:
        raise TextFormError(field, text, "expected ADMIN:NUMBER (e.g. 64512:1 or 192.0.2.1:7)")
    if not num.isdigit():
        raise TextFormError(field, text, "the assigned number after ':' must be a decimal integer")
    return admin, int(num)


@dataclass(frozen=True, slots=True, order=True)
class RouteDistinguisher:
    """RFC4364 4.2 route distinguisher, 8 octets: type 0 (2-octet AS:32-bit, ``64512:1``),
    type 1 (IPv4:16-bit, ``192.0.2.1:7``), type 2 (4-octet AS:16-bit, ``4200000000:7``, or
    ``65000L:7`` for an AS below 65536)."""

    raw: bytes

    @property
    def type(self) -> int:
        return (self.raw[0] << 8) | self.raw[1]

    def __str__(self) -> str:
        raw = self.raw
        rd_type = self.type
        if rd_type == 0:
            return f"{int.from_bytes(raw[2:4], 'big')}:{int.from_bytes(raw[4:8], 'big')}"
        if rd_type == 1:
            return f"{ip_to_text(raw[2:6])}:{int.from_bytes(raw[6:8], 'big')}"
        if rd_type == 2:
            asn = int.from_bytes(raw[2:6], "big")
            mark = "L" if asn <= 0xFFFF else ""  # a small AS in a type-2 RD: '65000L:7'
            return f"{asn}{mark}:{int.from_bytes(raw[6:8], 'big')}"
        return f"{rd_type}:{raw[2:].hex()}"

    @staticmethod
    def parse(text: str, field: str = "rd") -> RouteDistinguisher:
        admin, num = _asn_and_number(text, field)
        if "." in admin:
            ip = ipv4_from_text(admin, field)
            if num > 0xFFFF:
                raise TextFormError(field, text, "with an IPv4 administrator the number is 16-bit")
            return RouteDistinguisher(b"\x00\x01" + ip + num.to_bytes(2, "big"))
        force4 = admin.upper().endswith("L")
        if force4:
            admin = admin[:-1]
        if not admin.isdigit():
            raise TextFormError(field, text, "administrator must be an AS number or IPv4 address")
        asn = int(admin)
        if asn <= 0xFFFF and not force4:
            if num > 0xFFFFFFFF:
                raise TextFormError(field, text, "with a 2-octet AS the number is 32-bit")
            return RouteDistinguisher(b"\x00\x00" + asn.to_bytes(2, "big") + num.to_bytes(4, "big"))
        if asn > 0xFFFFFFFF:
            raise TextFormError(field, text, "AS number must be at most 4294967295")
        if num > 0xFFFF:
            raise TextFormError(field, text, "with a 4-octet AS the number is 16-bit")
        return RouteDistinguisher(b"\x00\x02" + asn.to_bytes(4, "big") + num.to_bytes(2, "big"))


def parse_admin_number(text: str, field: str) -> tuple[str, int]:
    """Split 'ADMIN:NUMBER' (shared by route distinguishers and route targets)."""
    return _asn_and_number(text, field)
