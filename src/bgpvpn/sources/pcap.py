"""pcap and pcapng capture files: packets -> link layer -> IP/TCP -> BGP messages.

pcap: both byte orders, microsecond and nanosecond magic. pcapng: section header blocks of either
byte order, interface description blocks (link type, ``if_tsresol``, ``if_tsoffset``), enhanced,
simple and (obsolete) packet blocks; other blocks are skipped. Link types: null/loopback (0, 108),
Ethernet (1, 802.1Q/802.1ad tags, MPLS), raw IP (101, 228, 229, and the DLT_RAW values 12/14),
Linux cooked captures SLL (113) and SLL2 (276).
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from bgpvpn.sources.records import MessageRecord, SourceError
from bgpvpn.sources.tcp import DEFAULT_PORTS, TcpReassembler

PCAP_MAGICS: dict[bytes, tuple[str, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
_RAW_LINKTYPES = frozenset({LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, 12, 14})

_ETH_IPV4 = 0x0800
_ETH_IPV6 = 0x86DD
_ETH_VLAN = frozenset({0x8100, 0x88A8, 0x9100})
_ETH_MPLS = frozenset({0x8847, 0x8848})

_BLOCK_IDB = 1
_BLOCK_PB = 2  # obsolete Packet Block
_BLOCK_SPB = 3
_BLOCK_EPB = 6
_OPT_IF_TSRESOL = 9
_OPT_IF_TSOFFSET = 14


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured packet: where its record starts in the file, its link-layer bytes."""

    offset: int
    timestamp: float | None
    linktype: int
    data: bytes


@dataclass(frozen=True, slots=True)
class _Interface:
    linktype: int
    snaplen: int
    units: int  # timestamp units per second
    tsoffset: int  # seconds added to every timestamp


def iter_frames(data: bytes) -> Iterator[Frame | SourceError]:
    """The packets of a pcap or pcapng file, in file order."""
    magic = data[:4]
    if magic in PCAP_MAGICS:
        return _pcap_frames(data)
    if magic == PCAPNG_SHB:
        return _pcapng_frames(data)
    shown = magic.hex() or "none"
    return iter([SourceError(0, "pcap header", f"not a pcap or pcapng file (magic {shown})")])


def _pcap_frames(data: bytes) -> Iterator[Frame | SourceError]:
    endian, units = PCAP_MAGICS[data[:4]]
    if len(data) < 24:
        yield SourceError(0, "pcap header", f"truncated: {len(data)} of 24 bytes")
        return
    snaplen, network = struct.unpack_from(endian + "II", data, 16)
    linktype = network & 0xFFFF  # the upper bits may carry FCS information
    hdr = struct.Struct(endian + "IIII")
    pos = 24
    n = len(data)
    while pos < n:
        if n - pos < 16:
            yield SourceError(pos, "pcap record", f"truncated header: {n - pos} of 16 bytes")
            return
        sec, frac, incl, _orig = hdr.unpack_from(data, pos)
        if incl > n - pos - 16:
            yield SourceError(
                pos, "pcap record", f"truncated: captured length {incl}, {n - pos - 16} bytes left"
            )
            return
        if snaplen and incl > snaplen:
            yield SourceError(
                pos, "pcap record", f"captured length {incl} exceeds snaplen {snaplen}"
            )
        else:
            ts = sec + frac / units
            yield Frame(pos, ts, linktype, data[pos + 16 : pos + 16 + incl])
        pos += 16 + incl


def _parse_idb(body: bytes, endian: str) -> _Interface | str:
    if len(body) < 8:
        return f"interface description block too short ({len(body)} bytes)"
    linktype, _, snaplen = struct.unpack_from(endian + "HHI", body, 0)
    units = 1_000_000
    tsoffset = 0
    pos = 8
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(endian + "HH", body, pos)
        value = body[pos + 4 : pos + 4 + length]
        if code == 0:
            break
        if len(value) < length:
            return "interface option runs past the block"
        if code == _OPT_IF_TSRESOL and length >= 1:
            v = value[0]
            units = 2 ** (v & 0x7F) if v & 0x80 else 10**v
        elif code == _OPT_IF_TSOFFSET and length >= 8:
            (tsoffset,) = struct.unpack_from(endian + "q", value, 0)
        pos += 4 + ((length + 3) & ~3)
    return _Interface(linktype, snaplen, units, tsoffset)


def _pcapng_frames(data: bytes) -> Iterator[Frame | SourceError]:
    n = len(data)
    pos = 0
    endian = "<"
    interfaces: list[_Interface] = []
    while pos < n:
        if n - pos < 12:
            yield SourceError(pos, "pcapng block", f"truncated header: {n - pos} bytes left")
            return
        if data[pos : pos + 4] == PCAPNG_SHB:
            bom = data[pos + 8 : pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                yield SourceError(pos, "pcapng section header", f"bad byte-order magic {bom.hex()}")
                return
            interfaces = []
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if blen < 12 or blen % 4:
            yield SourceError(pos, "pcapng block", f"bad block length {blen}")
            return
        if blen > n - pos:
            yield SourceError(
                pos, "pcapng block", f"truncated: block length {blen}, {n - pos} bytes left"
            )
            return
        (trailer,) = struct.unpack_from(endian + "I", data, pos + blen - 4)
        if trailer != blen:
            yield SourceError(
                pos, "pcapng block", f"block length {blen} and trailing length {trailer} differ"
            )
            return
        body = data[pos + 8 : pos + blen - 4]
        if btype == _BLOCK_IDB:
            idb = _parse_idb(body, endian)
            if isinstance(idb, str):
                yield SourceError(pos, "pcapng interface", idb)
                # keep the numbering of the following interfaces
                idb = _Interface(-1, 0, 1_000_000, 0)
            interfaces.append(idb)
        elif btype in (_BLOCK_EPB, _BLOCK_PB):
            yield _packet_block(pos, btype, body, endian, interfaces)
        elif btype == _BLOCK_SPB:
            yield _simple_block(pos, body, endian, interfaces)
        pos += blen


def _packet_block(
    pos: int, btype: int, body: bytes, endian: str, interfaces: list[_Interface]
) -> Frame | SourceError:
    if len(body) < 20:
        return SourceError(pos, "pcapng packet", f"block body too short ({len(body)} bytes)")
    if btype == _BLOCK_EPB:
        iface, tshi, tslo, caplen, _orig = struct.unpack_from(endian + "IIIII", body, 0)
    else:
        iface, _drops, tshi, tslo, caplen, _orig = struct.unpack_from(endian + "HHIIII", body, 0)
    if iface >= len(interfaces):
        return SourceError(pos, "pcapng packet", f"unknown interface {iface}")
    if caplen > len(body) - 20:
        return SourceError(
            pos, "pcapng packet", f"captured length {caplen} exceeds the block ({len(body) - 20})"
        )
    ifc = interfaces[iface]
    ts = ((tshi << 32) | tslo) / ifc.units + ifc.tsoffset
    return Frame(pos, ts, ifc.linktype, body[20 : 20 + caplen])


def _simple_block(
    pos: int, body: bytes, endian: str, interfaces: list[_Interface]
) -> Frame | SourceError:
    if len(body) < 4:
        return SourceError(pos, "pcapng simple packet", "block body too short")
    if not interfaces:
        return SourceError(pos, "pcapng simple packet", "no interface described before it")
    (orig,) = struct.unpack_from(endian + "I", body, 0)
    ifc = interfaces[0]
    caplen = min(orig, len(body) - 4)
    if ifc.snaplen:
        caplen = min(caplen, ifc.snaplen)
    return Frame(pos, None, ifc.linktype, body[4 : 4 + caplen])


def link_payload(linktype: int, frame: bytes) -> bytes | str | None:
    """The IP packet inside a link-layer frame; a reason string when the frame is malformed or
    the link type unsupported; ``None`` when the frame carries no IP."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return f"Ethernet header truncated ({len(frame)} bytes)"
        return _ethertype_payload(frame, (frame[12] << 8) | frame[13], 14)
    if linktype in _RAW_LINKTYPES:
        return frame
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return f"Linux cooked (SLL) header truncated ({len(frame)} bytes)"
        return _ethertype_payload(frame, (frame[14] << 8) | frame[15], 16)
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return f"Linux cooked (SLL2) header truncated ({len(frame)} bytes)"
        return _ethertype_payload(frame, (frame[0] << 8) | frame[1], 20)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return "loopback header truncated"
        return frame[4:]  # the address family follows no fixed byte order; use the IP version
    return f"unsupported link type {linktype}"


def _ethertype_payload(frame: bytes, etype: int, pos: int) -> bytes | str | None:
    while etype in _ETH_VLAN:
        if len(frame) < pos + 4:
            return "VLAN tag truncated"
        etype = (frame[pos + 2] << 8) | frame[pos + 3]
        pos += 4
    if etype in (_ETH_IPV4, _ETH_IPV6):
        return frame[pos:]
    if etype in _ETH_MPLS:
        while True:
            if len(frame) < pos + 4:
                return "MPLS label stack truncated"
            bottom = frame[pos + 2] & 1
            pos += 4
            if bottom:
                return frame[pos:]
    return None


def read_pcap(
    data: bytes, *, ports: Collection[int] | None = DEFAULT_PORTS
) -> Iterator[MessageRecord | SourceError]:
    """The BGP messages of a pcap or pcapng capture, reassembled per TCP direction.

    ``ports``: TCP ports whose segments are reassembled (either end; default 179; ``None``:
    all TCP). Messages come in capture order of the packet that completed them.
    """
    reassembler = TcpReassembler(ports)
    bad_links: set[int] = set()
    for frame in iter_frames(data):
        if isinstance(frame, SourceError):
            yield frame
            continue
        ip = link_payload(frame.linktype, frame.data)
        if ip is None:
            continue
        if isinstance(ip, str):
            if ip.startswith("unsupported"):
                if frame.linktype in bad_links:
                    continue
                bad_links.add(frame.linktype)
            yield SourceError(frame.offset, "link layer", ip)
            continue
        yield from reassembler.packet(ip, frame.timestamp, frame.offset)
    yield from reassembler.finish()
