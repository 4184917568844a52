"""Test helpers: build BGP messages, IP/TCP packets, pcap/pcapng and MRT files with struct."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

MARKER = b"\xff" * 16
KEEPALIVE = MARKER + b"\x00\x13\x04"


def bgp(msg_type: int, body: bytes) -> bytes:
    return MARKER + struct.pack(">HB", 19 + len(body), msg_type) + body


def open_msg(asn: int = 65001, bgp_id: str = "192.0.2.1", hold: int = 90) -> bytes:
    # capabilities: MP ipv4/unicast, 4-octet AS
    caps = bytes.fromhex("0206010400010001") + b"\x02\x06\x41\x04" + struct.pack(">I", asn)
    body = struct.pack(">BHH", 4, min(asn, 23456), hold)
    body += ipaddress.IPv4Address(bgp_id).packed + bytes([len(caps)]) + caps
    return bgp(1, body)


# UPDATE: ORIGIN IGP, AS_PATH [65001] (4-octet), NEXT_HOP 192.0.2.1, NLRI 10.0.0.0/8
UPDATE = bgp(
    2,
    bytes.fromhex("0000" + "0014" + "40010100" + "4002060201" + "0000fde9" + "400304c0000201")
    + bytes.fromhex("080a"),
)


def big_update(n_prefixes: int) -> bytes:
    """An UPDATE with many /24 NLRI, to make a message span several segments."""
    attrs = bytes.fromhex("40010100" + "4002060201" + "0000fde9" + "400304c0000201")
    nlri = b"".join(bytes([24, 10, i >> 8, i & 0xFF]) for i in range(n_prefixes))
    return bgp(2, b"\x00\x00" + struct.pack(">H", len(attrs)) + attrs + nlri)


# -- IP / TCP ------------------------------------------------------------------------------

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def tcp(sport: int, dport: int, seq: int, flags: int, payload: bytes = b"", ack: int = 0) -> bytes:
    return struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


def ipv4(src: str, dst: str, payload: bytes, proto: int = 6, frag: int = 0) -> bytes:
    hdr = struct.pack(
        ">BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        1,
        frag,
        64,
        proto,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return hdr + payload


def ipv6(src: str, dst: str, payload: bytes, ext: bool = False) -> bytes:
    nh = 6
    if ext:  # hop-by-hop options (8 bytes of PadN) then destination options, then TCP
        payload = bytes([60, 0, 1, 4, 0, 0, 0, 0]) + bytes([6, 0, 1, 4, 0, 0, 0, 0]) + payload
        nh = 0
    return (
        struct.pack(">IHBB", 0x60000000, len(payload), nh, 64)
        + ipaddress.IPv6Address(src).packed
        + ipaddress.IPv6Address(dst).packed
        + payload
    )


def ip(src: str, dst: str, payload: bytes, ext: bool = False) -> bytes:
    if ":" in src:
        return ipv6(src, dst, payload, ext)
    return ipv4(src, dst, payload)


def ether(packet: bytes, vlans: tuple[int, ...] = (), pad: bool = True) -> bytes:
    etype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
    hdr = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    for vid in vlans:
        hdr += struct.pack(">HH", 0x8100, vid)
    frame = hdr + struct.pack(">H", etype) + packet
    if pad and len(frame) < 60:
        frame += b"\x00" * (60 - len(frame))  # Ethernet minimum frame padding
    return frame


def sll(packet: bytes) -> bytes:
    etype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
    return struct.pack(">HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\0\0", etype) + packet


def sll2(packet: bytes) -> bytes:
    etype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
    return struct.pack(">HHIHBB8s", etype, 0, 2, 1, 0, 6, b"\x02" * 6 + b"\0\0") + packet


def null(packet: bytes) -> bytes:
    family = 30 if packet[0] >> 4 == 6 else 2
    return struct.pack("<I", family) + packet


@dataclass
class Flow:
    """One TCP connection; makes the IP packets of both directions with running sequences."""

    client: str = "192.0.2.2"
    server: str = "192.0.2.1"
    cport: int = 40000
    sport: int = 179
    cseq: int = 1000
    sseq: int = 5000
    ext: bool = False
    sent: dict[bool, int] = field(default_factory=dict)

    def _addr(self, from_client: bool) -> tuple[str, int, str, int]:
        if from_client:
            return self.client, self.cport, self.server, self.sport
        return self.server, self.sport, self.client, self.cport

    def handshake(self) -> list[bytes]:
        return [self.syn(True), self.syn(False)]

    def syn(self, from_client: bool) -> bytes:
        isn = self.cseq if from_client else self.sseq
        self.sent[from_client] = 0
        src, sp, dst, dp = self._addr(from_client)
        return ip(src, dst, tcp(sp, dp, isn, SYN | (0 if from_client else ACK)), self.ext)

    def seg(self, from_client: bool, data: bytes, at: int | None = None, flags: int = ACK) -> bytes:
        """A data segment; ``at`` is the stream offset (default: the next byte)."""
        isn = self.cseq if from_client else self.sseq
        pos = self.sent.get(from_client, 0) if at is None else at
        if at is None:
            self.sent[from_client] = pos + len(data)
        src, sp, dst, dp = self._addr(from_client)
        seq = (isn + 1 + pos) % (1 << 32)
        return ip(src, dst, tcp(sp, dp, seq, flags | PSH, data), self.ext)


# -- capture files -------------------------------------------------------------------------


def pcap(
    frames: list[tuple[float, bytes]],
    linktype: int = 1,
    endian: str = "<",
    nano: bool = False,
    snaplen: int = 262144,
) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)
    units = 1_000_000_000 if nano else 1_000_000
    for ts, frame in frames:
        sec = int(ts)
        frac = round((ts - sec) * units)
        out += struct.pack(endian + "IIII", sec, frac, len(frame), len(frame)) + frame
    return out


def _block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)


def pcapng(
    frames: list[tuple[float, bytes]],
    linktype: int = 1,
    endian: str = "<",
    tsresol: int | None = None,
    simple: bool = False,
) -> bytes:
    shb = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    out = _block(endian, 0x0A0D0D0A, shb)
    opts = b""
    units = 1_000_000
    if tsresol is not None:
        opts = struct.pack(endian + "HH", 9, 1) + bytes([tsresol, 0, 0, 0])
        opts += struct.pack(endian + "HH", 0, 0)
        units = 2 ** (tsresol & 0x7F) if tsresol & 0x80 else 10**tsresol
    out += _block(endian, 1, struct.pack(endian + "HHI", linktype, 0, 0) + opts)
    out += _block(endian, 5, b"\x00" * 12)  # an Interface Statistics Block, to be ignored
    for ts, frame in frames:
        if simple:
            out += _block(endian, 3, struct.pack(endian + "I", len(frame)) + frame)
            continue
        raw = round(ts * units)
        body = struct.pack(endian + "IIIII", 0, raw >> 32, raw & 0xFFFFFFFF, len(frame), len(frame))
        out += _block(endian, 6, body + frame)
    return out


# -- MRT -----------------------------------------------------------------------------------


def mrt(ts: int, mtype: int, subtype: int, body: bytes, usec: int | None = None) -> bytes:
    if usec is not None:
        body = struct.pack(">I", usec) + body
    return struct.pack(">IHHI", ts, mtype, subtype, len(body)) + body


def peer_index(collector: str, view: str, peers: list[tuple[str, str, int]]) -> bytes:
    """PEER_INDEX_TABLE body; peers are (bgp_id, address, asn)."""
    body = ipaddress.IPv4Address(collector).packed + struct.pack(">H", len(view)) + view.encode()
    body += struct.pack(">H", len(peers))
    for bgp_id, addr, asn in peers:
        a = ipaddress.ip_address(addr)
        ptype = (1 if a.version == 6 else 0) | (2 if asn > 0xFFFF else 0)
        body += bytes([ptype]) + ipaddress.IPv4Address(bgp_id).packed + a.packed
        body += struct.pack(">I" if asn > 0xFFFF else ">H", asn)
    return body


def rib(
    seq: int,
    nlri: bytes,
    entries: list[tuple[int, int, bytes]],
    path_ids: list[int] | None = None,
    generic: tuple[int, int] | None = None,
) -> bytes:
    """RIB_* body; entries are (peer_index, originated, attributes)."""
    body = struct.pack(">I", seq)
    if generic:
        body += struct.pack(">HB", *generic)
    body += nlri + struct.pack(">H", len(entries))
    for i, (index, originated, attrs) in enumerate(entries):
        body += struct.pack(">HI", index, originated)
        if path_ids is not None:
            body += struct.pack(">I", path_ids[i])
        body += struct.pack(">H", len(attrs)) + attrs
    return body


def bgp4mp(peer_as: int, local_as: int, peer: str, local: str, tail: bytes, as4: bool) -> bytes:
    a = ipaddress.ip_address(peer)
    fmt = ">IIHH" if as4 else ">HHHH"
    return (
        struct.pack(fmt, peer_as, local_as, 0, 1 if a.version == 4 else 2)
        + a.packed
        + ipaddress.ip_address(local).packed
        + tail
    )
