"""IPv4/IPv6 + TCP decoding and per-direction TCP stream reassembly, feeding a BGP framer.

Each direction of each TCP connection is reassembled by sequence number: the SYN gives the
initial sequence number (a new SYN with another ISN on the same 4-tuple starts a new stream),
bytes already delivered are ignored (retransmissions, duplicates, overlaps), segments ahead of
the next expected byte wait until the gap fills. A gap that never fills (packet lost by the
capture, or a segment cut by the snaplen) is skipped with a ``SourceError`` at the end of the
capture (or once too much data waits behind it), and framing restarts on the next marker.

Messages are yielded in the capture order of the packet that completed them, with its timestamp.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Collection
from dataclasses import dataclass, field

from bgpvpn.sources.records import Connection, MessageRecord, SourceError
from bgpvpn.wire.constants import MAX_EXTENDED_MESSAGE_LEN
from bgpvpn.wire.framing import FramingError, MessageFramer

BGP_PORT = 179
DEFAULT_PORTS: frozenset[int] = frozenset({BGP_PORT})
# Bytes allowed to wait behind a gap in one direction before the gap is declared lost.
MAX_PENDING = 8 << 20

_PROTO_TCP = 6
_IPV6_EXT_HEADERS = frozenset({0, 43, 60, 135, 139, 140, 253, 254})  # hop, routing, dst, ...
_IPV6_FRAGMENT = 44
_IPV6_AH = 51

_TCP_FIN = 0x01
_TCP_SYN = 0x02

_MOD = 1 << 32
_HALF = 1 << 31


@dataclass(frozen=True, slots=True)
class TcpSegment:
    """A TCP segment out of one IP packet.

    ``claimed`` is the payload length according to the IP header; it exceeds ``len(payload)``
    when the capture cut the packet (snaplen). ``problem`` is set when the segment cannot be
    used (header truncated, first fragment of a fragmented datagram).
    """

    src: bytes
    dst: bytes
    sport: int
    dport: int
    seq: int
    flags: int
    payload: bytes
    claimed: int
    problem: str | None = None


def _u16(b: bytes, i: int) -> int:
    return (b[i] << 8) | b[i + 1]


def _u32(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 4], "big")


def parse_ip(packet: bytes) -> TcpSegment | str | None:
    """Decode an IPv4 or IPv6 packet down to TCP.

    Returns the segment, a reason string when the IP header is malformed, or ``None`` for
    packets that carry no TCP (other protocols, non-first fragments).
    """
    if not packet:
        return "empty IP packet"
    version = packet[0] >> 4
    if version == 4:
        return _parse_ipv4(packet)
    if version == 6:
        return _parse_ipv6(packet)
    return None


def _parse_ipv4(pkt: bytes) -> TcpSegment | str | None:
    if len(pkt) < 20:
        return f"IPv4 header truncated ({len(pkt)} bytes)"
    ihl = (pkt[0] & 0x0F) * 4
    if ihl < 20:
        return f"IPv4 header length {ihl} is below 20"
    if pkt[9] != _PROTO_TCP:
        return None
    total = _u16(pkt, 2)
    if total == 0:  # TCP segmentation offload: the length is left for the NIC to fill in
        total = len(pkt)
    if total < ihl:
        return f"IPv4 total length {total} is below the header length {ihl}"
    frag = _u16(pkt, 6)
    if frag & 0x1FFF:
        return None  # not the first fragment: no TCP header
    if len(pkt) < ihl:
        return "IPv4 options truncated"
    end = min(total, len(pkt))
    return _parse_tcp(
        pkt[12:16], pkt[16:20], pkt[ihl:end], total - ihl, fragmented=bool(frag & 0x2000)
    )


def _parse_ipv6(pkt: bytes) -> TcpSegment | str | None:
    if len(pkt) < 40:
        return f"IPv6 header truncated ({len(pkt)} bytes)"
    plen = _u16(pkt, 4)
    total = 40 + plen if plen else len(pkt)  # 0: jumbogram (or TSO); use what was captured
    nh = pkt[6]
    pos = 40
    fragmented = False
    while nh != _PROTO_TCP:
        if nh in _IPV6_EXT_HEADERS or nh == _IPV6_AH:
            if pos + 2 > len(pkt):
                return "IPv6 extension header truncated"
            nxt = pkt[pos]
            size = (pkt[pos + 1] + 2) * 4 if nh == _IPV6_AH else (pkt[pos + 1] + 1) * 8
        elif nh == _IPV6_FRAGMENT:
            if pos + 8 > len(pkt):
                return "IPv6 fragment header truncated"
            nxt = pkt[pos]
            size = 8
            if _u16(pkt, pos + 2) >> 3:
                return None  # not the first fragment
            fragmented = bool(pkt[pos + 3] & 1)
        else:
            return None  # UDP, ICMPv6, ESP, no next header...
        nh = nxt
        pos += size
        if pos > total:
            return "IPv6 extension headers run past the payload length"
    end = min(total, len(pkt))
    return _parse_tcp(pkt[8:24], pkt[24:40], pkt[pos:end], total - pos, fragmented=fragmented)


def _parse_tcp(
    src: bytes, dst: bytes, tcp: bytes, claimed: int, *, fragmented: bool
) -> TcpSegment | str:
    if len(tcp) < 4:
        return "TCP header truncated before the ports"
    sport = _u16(tcp, 0)
    dport = _u16(tcp, 2)
    if len(tcp) < 20:
        return TcpSegment(src, dst, sport, dport, 0, 0, b"", 0, "TCP header truncated")
    seq = _u32(tcp, 4)
    doff = (tcp[12] >> 4) * 4
    flags = tcp[13]
    if doff < 20:
        return TcpSegment(src, dst, sport, dport, seq, flags, b"", 0, f"TCP data offset {doff}")
    if fragmented:
        return TcpSegment(
            src, dst, sport, dport, seq, flags, b"", 0, "IP fragments are not reassembled"
        )
    if claimed < doff:
        return TcpSegment(
            src, dst, sport, dport, seq, flags, b"", 0, "TCP header longer than the IP payload"
        )
    if len(tcp) < doff:
        # The snaplen cut the TCP options: the whole payload is missing.
        return TcpSegment(src, dst, sport, dport, seq, flags, b"", claimed - doff)
    return TcpSegment(src, dst, sport, dport, seq, flags, tcp[doff:], claimed - doff)


def _address(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


@dataclass(slots=True)
class _Stream:
    """Reassembly state of one direction of one TCP connection."""

    connection: Connection
    base: int  # sequence number of stream offset 0
    isn: int | None  # from the SYN; None when the capture started mid-connection
    framer: MessageFramer
    nxt: int = 0  # stream offset of the next byte to hand to the framer
    framer_base: int = 0  # stream offset of the framer's offset 0
    pending: list[tuple[int, int, bytes, int, float | None]] = field(default_factory=list)
    pending_bytes: int = 0


def _new_framer() -> MessageFramer:
    return MessageFramer(max_length=MAX_EXTENDED_MESSAGE_LEN, resync=True)


Output = list[MessageRecord | SourceError]


class TcpReassembler:
    """Feed it IP packets in capture order; it returns the BGP messages each packet completes.

    ``ports``: only segments with the source or destination port in it are reassembled
    (``None``: every TCP segment). Call ``finish()`` at the end of the capture.
    """

    __slots__ = ("_counter", "_streams", "max_pending", "ports")

    def __init__(
        self, ports: Collection[int] | None = DEFAULT_PORTS, max_pending: int = MAX_PENDING
    ) -> None:
        self.ports = frozenset(ports) if ports is not None else None
        self.max_pending = max_pending
        self._streams: dict[tuple[bytes, int, bytes, int], _Stream] = {}
        self._counter = 0

    def packet(self, ip: bytes, timestamp: float | None, file_offset: int) -> Output:
        """Process one IP packet (``file_offset``: where its record starts in the file)."""
        seg = parse_ip(ip)
        if seg is None:
            return []
        if isinstance(seg, str):
            return [SourceError(file_offset, "ip", seg)]
        return self.segment(seg, timestamp, file_offset)

    def segment(self, seg: TcpSegment, timestamp: float | None, file_offset: int) -> Output:
        ports = self.ports
        if ports is not None and seg.sport not in ports and seg.dport not in ports:
            return []
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        st = self._streams.get(key)
        if seg.problem is not None:
            conn = (
                st.connection
                if st is not None
                else Connection(_address(seg.src), seg.sport, _address(seg.dst), seg.dport)
            )
            return [SourceError(file_offset, "tcp segment", f"{conn}: {seg.problem}")]
        out: Output = []
        seq = seg.seq
        if seg.flags & _TCP_SYN:
            if st is None or st.isn != seq:
                if st is not None:
                    out.extend(self._close(st))
                conn = (
                    st.connection
                    if st is not None
                    else Connection(_address(seg.src), seg.sport, _address(seg.dst), seg.dport)
                )
                st = _Stream(conn, (seq + 1) % _MOD, seq, _new_framer())
                self._streams[key] = st
            seq = (seq + 1) % _MOD  # the SYN takes one sequence number; data (if any) follows
        elif st is None:
            conn = Connection(_address(seg.src), seg.sport, _address(seg.dst), seg.dport)
            st = _Stream(conn, seq, None, _new_framer())
            self._streams[key] = st
        if seg.claimed <= 0:
            return out
        rel = (seq - st.base) % _MOD
        off = st.nxt + ((rel - st.nxt + _HALF) % _MOD) - _HALF
        end = off + seg.claimed
        if end <= st.nxt:
            return out  # retransmission of bytes already delivered
        if off <= st.nxt:
            self._take(st, off, seg.payload, seg.claimed, timestamp, out)
            self._drain(st, timestamp, out)
        else:
            self._counter += 1
            heapq.heappush(st.pending, (off, self._counter, seg.payload, seg.claimed, timestamp))
            st.pending_bytes += len(seg.payload)
            if st.pending_bytes > self.max_pending:
                self._skip(st, st.pending[0][0], "too much data waiting behind it", out)
                self._drain(st, timestamp, out)
        return out

    def finish(self) -> Output:
        """End of capture: skip the gaps that never filled, report partial messages."""
        out: Output = []
        for st in self._streams.values():
            out.extend(self._close(st))
        self._streams.clear()
        return out

    # -- internals -------------------------------------------------------------------------

    def _close(self, st: _Stream) -> Output:
        out: Output = []
        while st.pending:
            self._skip(st, st.pending[0][0], "the capture never saw them", out)
            self._drain(st, None, out)
        if st.framer.buffered:
            out.append(
                SourceError(
                    st.nxt - st.framer.buffered,
                    "tcp stream",
                    f"{st.connection}: the stream ends inside a message "
                    f"({st.framer.buffered} bytes of it captured)",
                )
            )
        st.framer = _new_framer()
        st.framer_base = st.nxt
        return out

    def _take(
        self,
        st: _Stream,
        off: int,
        payload: bytes,
        claimed: int,
        timestamp: float | None,
        out: Output,
    ) -> None:
        """Deliver a segment that starts at or before ``st.nxt`` and ends after it."""
        skip = st.nxt - off
        if skip < len(payload):
            self._deliver(st, payload[skip:] if skip else payload, timestamp, out)
        if off + claimed > st.nxt:
            self._skip(st, off + claimed, "the capture cut the packet (snaplen)", out)

    def _drain(self, st: _Stream, timestamp: float | None, out: Output) -> None:
        """Deliver waiting segments that the stream has reached. ``timestamp`` is the packet
        that filled the gap; ``None`` keeps each segment's own (end of capture)."""
        pending = st.pending
        while pending and pending[0][0] <= st.nxt:
            off, _, payload, claimed, ts = heapq.heappop(pending)
            st.pending_bytes -= len(payload)
            if off + claimed > st.nxt:
                self._take(st, off, payload, claimed, ts if timestamp is None else timestamp, out)

    def _deliver(self, st: _Stream, data: bytes, timestamp: float | None, out: Output) -> None:
        st.framer.feed(data)
        st.nxt += len(data)
        base = st.framer_base
        for item in st.framer.messages():
            if isinstance(item, FramingError):
                out.append(
                    SourceError(base + item.offset, item.field, f"{st.connection}: {item.reason}")
                )
            else:
                out.append(MessageRecord(item.data, base + item.offset, timestamp, st.connection))

    def _skip(self, st: _Stream, to: int, why: str, out: Output) -> None:
        """Bytes ``st.nxt..to`` are lost: drop the partial message, restart framing at ``to``."""
        partial = st.framer.buffered
        lost = f"bytes {st.nxt}..{to} of the stream are missing ({why})"
        if partial:
            lost += f"; dropping the {partial}-byte partial message before them"
        out.append(SourceError(st.nxt - partial, "tcp stream", f"{st.connection}: {lost}"))
        st.nxt = to
        st.framer = _new_framer()
        st.framer_base = to
