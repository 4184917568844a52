"""MRT routing information export files (RFC6396, RFC8050 additional paths).

Decoded: TABLE_DUMP_V2 (PEER_INDEX_TABLE, RIB_IPV4/IPV6_UNICAST/MULTICAST, RIB_GENERIC and the
``*_ADDPATH`` variants), BGP4MP and BGP4MP_ET (state changes and messages, 2- and 4-octet AS,
``*_LOCAL``, ``*_ADDPATH``). Everything else (legacy TABLE_DUMP, OSPF, IS-IS, deprecated BGP4MP
subtypes) is reported as a ``SourceError`` and skipped by its length.

RIB_GENERIC_ADDPATH is read the way GoBGP and OpenBGPD write it (the path identifier in each
RIB entry, like the other ADDPATH subtypes), not with the path identifier inside the NLRI.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator

from bgpvpn.sources.records import (
    Connection,
    MessageRecord,
    MrtPeer,
    PeerIndexRecord,
    Record,
    RibEntryRecord,
    RibPath,
    SourceError,
    StateChangeRecord,
)
from bgpvpn.wire.constants import HEADER_LEN, MARKER

MRT_OSPFV2 = 11
MRT_TABLE_DUMP = 12
MRT_TABLE_DUMP_V2 = 13
MRT_BGP4MP = 16
MRT_BGP4MP_ET = 17
MRT_ISIS = 32
MRT_ISIS_ET = 33
MRT_OSPFV3 = 48
MRT_OSPFV3_ET = 49
MRT_TYPES = frozenset(
    {
        MRT_OSPFV2,
        MRT_TABLE_DUMP,
        MRT_TABLE_DUMP_V2,
        MRT_BGP4MP,
        MRT_BGP4MP_ET,
        MRT_ISIS,
        MRT_ISIS_ET,
        MRT_OSPFV3,
        MRT_OSPFV3_ET,
    }
)
_ET_TYPES = frozenset({MRT_BGP4MP_ET, MRT_ISIS_ET, MRT_OSPFV3_ET})
_TYPE_NAMES = {
    MRT_OSPFV2: "OSPFv2",
    MRT_TABLE_DUMP: "TABLE_DUMP",
    MRT_ISIS: "ISIS",
    MRT_ISIS_ET: "ISIS_ET",
    MRT_OSPFV3: "OSPFv3",
    MRT_OSPFV3_ET: "OSPFv3_ET",
}

PEER_INDEX_TABLE = 1
RIB_GENERIC = 6
RIB_GENERIC_ADDPATH = 12
# subtype -> (name, afi, safi, add_path)
_RIB_SUBTYPES: dict[int, tuple[str, int, int, bool]] = {
    2: ("RIB_IPV4_UNICAST", 1, 1, False),
    3: ("RIB_IPV4_MULTICAST", 1, 2, False),
    4: ("RIB_IPV6_UNICAST", 2, 1, False),
    5: ("RIB_IPV6_MULTICAST", 2, 2, False),
    8: ("RIB_IPV4_UNICAST_ADDPATH", 1, 1, True),
    9: ("RIB_IPV4_MULTICAST_ADDPATH", 1, 2, True),
    10: ("RIB_IPV6_UNICAST_ADDPATH", 2, 1, True),
    11: ("RIB_IPV6_MULTICAST_ADDPATH", 2, 2, True),
}
TABLE_DUMP_V2_SUBTYPES = frozenset({PEER_INDEX_TABLE, RIB_GENERIC, RIB_GENERIC_ADDPATH}) | set(
    _RIB_SUBTYPES
)

BGP4MP_STATE_CHANGE = 0
BGP4MP_STATE_CHANGE_AS4 = 5
# message subtype -> (name, as4, local, add_path)
_BGP4MP_MESSAGES: dict[int, tuple[str, bool, bool, bool]] = {
    1: ("BGP4MP_MESSAGE", False, False, False),
    4: ("BGP4MP_MESSAGE_AS4", True, False, False),
    6: ("BGP4MP_MESSAGE_LOCAL", False, True, False),
    7: ("BGP4MP_MESSAGE_AS4_LOCAL", True, True, False),
    8: ("BGP4MP_MESSAGE_ADDPATH", False, False, True),
    9: ("BGP4MP_MESSAGE_AS4_ADDPATH", True, False, True),
    10: ("BGP4MP_MESSAGE_LOCAL_ADDPATH", False, True, True),
    11: ("BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH", True, True, True),
}
BGP4MP_SUBTYPES = frozenset({BGP4MP_STATE_CHANGE, BGP4MP_STATE_CHANGE_AS4}) | set(_BGP4MP_MESSAGES)

_AFI_IPV4 = 1
_AFI_IPV6 = 2
_AFI_L2VPN = 25
_AFI_BGP_LS = 16388
_SAFI_EVPN = 70
_SAFI_FLOWSPEC = (133, 134)

_HEADER = struct.Struct(">IHHI")


class _Malformed(Exception):
    """Internal: a record does not parse; becomes a SourceError."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class _Cursor:
    """Bounds-checked reads from one record body."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.buf) - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.buf) - self.pos:
            raise _Malformed(what, f"needs {n} bytes, {len(self.buf) - self.pos} left")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "big")

    def rest(self) -> bytes:
        out = self.buf[self.pos :]
        self.pos = len(self.buf)
        return out


def _ip(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def read_mrt(data: bytes) -> Iterator[Record]:
    """The records of an MRT file (uncompressed), in file order."""
    peers: tuple[MrtPeer, ...] | None = None
    n = len(data)
    pos = 0
    while pos < n:
        if n - pos < 12:
            yield SourceError(pos, "mrt header", f"truncated: {n - pos} of 12 bytes")
            return
        ts, mtype, subtype, length = _HEADER.unpack_from(data, pos)
        if length > n - pos - 12:
            yield SourceError(
                pos, "mrt record", f"truncated: length {length}, {n - pos - 12} bytes left"
            )
            return
        body = data[pos + 12 : pos + 12 + length]
        try:
            timestamp: float = float(ts)
            if mtype in _ET_TYPES:
                if length < 4:
                    raise _Malformed("mrt header", "extended timestamp missing")
                timestamp = ts + int.from_bytes(body[:4], "big") / 1_000_000
                body = body[4:]
            cur = _Cursor(body)
            if mtype == MRT_TABLE_DUMP_V2:
                if subtype == PEER_INDEX_TABLE:
                    rec = _peer_index(cur, pos, timestamp)
                    peers = rec.peers
                    yield rec
                elif subtype in _RIB_SUBTYPES or subtype in (RIB_GENERIC, RIB_GENERIC_ADDPATH):
                    yield _rib(cur, pos, timestamp, subtype, peers)
                else:
                    raise _Malformed("mrt subtype", f"unsupported TABLE_DUMP_V2 subtype {subtype}")
            elif mtype in (MRT_BGP4MP, MRT_BGP4MP_ET):
                yield _bgp4mp(cur, pos, timestamp, subtype)
            elif mtype in _TYPE_NAMES:
                raise _Malformed("mrt type", f"unsupported MRT type {_TYPE_NAMES[mtype]}")
            else:
                raise _Malformed("mrt type", f"unknown MRT type {mtype}")
        except _Malformed as exc:
            yield SourceError(pos, exc.field, exc.reason)
        pos += 12 + length


def _peer_index(cur: _Cursor, pos: int, timestamp: float) -> PeerIndexRecord:
    collector = _ip(cur.take(4, "collector BGP ID"))
    name_len = cur.uint(2, "view name length")
    view = cur.take(name_len, "view name").decode("utf-8", errors="replace")
    count = cur.uint(2, "peer count")
    peers: list[MrtPeer] = []
    for _ in range(count):
        ptype = cur.uint(1, "peer type")
        bgp_id = _ip(cur.take(4, "peer BGP ID"))
        addr = _ip(cur.take(16 if ptype & 1 else 4, "peer address"))
        asn = cur.uint(4 if ptype & 2 else 2, "peer AS")
        peers.append(MrtPeer(bgp_id, addr, asn))
    return PeerIndexRecord(pos, timestamp, collector, view, tuple(peers))


def _generic_nlri(cur: _Cursor, afi: int, safi: int) -> bytes:
    start = cur.pos
    if afi == _AFI_L2VPN and safi == _SAFI_EVPN:
        cur.take(1, "EVPN route type")
        cur.take(cur.uint(1, "EVPN route length"), "EVPN route")
    elif safi in _SAFI_FLOWSPEC:
        first = cur.uint(1, "flowspec length")
        size = ((first & 0x0F) << 8 | cur.uint(1, "flowspec length")) if first >= 0xF0 else first
        cur.take(size, "flowspec NLRI")
    elif afi == _AFI_BGP_LS:
        cur.take(2, "BGP-LS NLRI type")
        cur.take(cur.uint(2, "BGP-LS NLRI length"), "BGP-LS NLRI")
    else:  # prefix-shaped: length in bits, then the octets (labels and RD included)
        bits = cur.uint(1, "prefix length")
        cur.take((bits + 7) // 8, "prefix")
    return cur.buf[start : cur.pos]


def _rib(
    cur: _Cursor, pos: int, timestamp: float, subtype: int, peers: tuple[MrtPeer, ...] | None
) -> RibEntryRecord:
    sequence = cur.uint(4, "sequence number")
    if subtype in (RIB_GENERIC, RIB_GENERIC_ADDPATH):
        add_path = subtype == RIB_GENERIC_ADDPATH
        name = "RIB_GENERIC_ADDPATH" if add_path else "RIB_GENERIC"
        afi = cur.uint(2, "AFI")
        safi = cur.uint(1, "SAFI")
        nlri = _generic_nlri(cur, afi, safi)
    else:
        name, afi, safi, add_path = _RIB_SUBTYPES[subtype]
        bits = cur.uint(1, "prefix length")
        if bits > (32 if afi == _AFI_IPV4 else 128):
            raise _Malformed("prefix length", f"{bits} bits is too long for {name}")
        nlri = bytes([bits]) + cur.take((bits + 7) // 8, "prefix")
    count = cur.uint(2, "entry count")
    entries: list[RibPath] = []
    for _ in range(count):
        index = cur.uint(2, "peer index")
        originated = cur.uint(4, "originated time")
        path_id = cur.uint(4, "path identifier") if add_path else None
        attrs = cur.take(cur.uint(2, "attribute length"), "attributes")
        peer = peers[index] if peers is not None and index < len(peers) else None
        entries.append(
            RibPath(
                index,
                peer.address if peer else None,
                peer.asn if peer else None,
                peer.bgp_id if peer else None,
                originated,
                path_id,
                attrs,
            )
        )
    return RibEntryRecord(pos, timestamp, name, sequence, afi, safi, nlri, tuple(entries))


def _bgp4mp(cur: _Cursor, pos: int, timestamp: float, subtype: int) -> Record:
    if subtype in (BGP4MP_STATE_CHANGE, BGP4MP_STATE_CHANGE_AS4):
        as4 = subtype == BGP4MP_STATE_CHANGE_AS4
        local = add_path = False
    elif subtype in _BGP4MP_MESSAGES:
        _, as4, local, add_path = _BGP4MP_MESSAGES[subtype]
    else:
        raise _Malformed("mrt subtype", f"unsupported BGP4MP subtype {subtype}")
    peer_as = cur.uint(4 if as4 else 2, "peer AS")
    local_as = cur.uint(4 if as4 else 2, "local AS")
    cur.take(2, "interface index")
    afi = cur.uint(2, "address family")
    if afi not in (_AFI_IPV4, _AFI_IPV6):
        raise _Malformed("address family", f"unknown address family {afi}")
    size = 4 if afi == _AFI_IPV4 else 16
    peer_ip = _ip(cur.take(size, "peer address"))
    local_ip = _ip(cur.take(size, "local address"))
    if subtype in (BGP4MP_STATE_CHANGE, BGP4MP_STATE_CHANGE_AS4):
        old = cur.uint(2, "old state")
        new = cur.uint(2, "new state")
        return StateChangeRecord(
            pos, timestamp, Connection(peer_ip, 0, local_ip, 0), peer_as, local_as, old, new
        )
    msg = cur.rest()
    if len(msg) < HEADER_LEN:
        raise _Malformed("bgp message", f"{len(msg)} bytes is shorter than a BGP header")
    if msg[:16] != MARKER:
        raise _Malformed("bgp message", "the 16-octet marker is not all ones")
    declared = (msg[16] << 8) | msg[17]
    if declared != len(msg):
        raise _Malformed(
            "bgp message", f"header length {declared} but the record holds {len(msg)} bytes"
        )
    conn = Connection(local_ip, 0, peer_ip, 0) if local else Connection(peer_ip, 0, local_ip, 0)
    return MessageRecord(msg, pos, timestamp, conn, peer_as, local_as, as4, add_path)
