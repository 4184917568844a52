"""The records the capture-file readers yield (pcap, pcapng, MRT, raw BGP streams)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Connection:
    """One direction of a TCP connection; addresses as text, ports 0 when unknown (MRT)."""

    src: str
    sport: int
    dst: str
    dport: int

    def reversed(self) -> Connection:
        return Connection(self.dst, self.dport, self.src, self.sport)

    def __str__(self) -> str:
        return f"{_fmt(self.src, self.sport)} -> {_fmt(self.dst, self.dport)}"


def _fmt(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One whole BGP message, header included.

    ``offset`` is the byte offset in the file (raw stream; MRT: the record start) or, for pcaps,
    in the reassembled TCP direction (0 = first byte after the SYN). ``connection`` is the
    direction the message travelled (MRT BGP4MP: peer -> local, or local -> peer for the
    ``*_LOCAL`` subtypes). ``as4``/``add_path`` come from the MRT subtype; ``None`` when the
    source does not say (derive them from the OPENs).
    """

    data: bytes
    offset: int
    timestamp: float | None
    connection: Connection | None
    peer_as: int | None = None
    local_as: int | None = None
    as4: bool | None = None
    add_path: bool | None = None


@dataclass(frozen=True, slots=True)
class MrtPeer:
    """One entry of an MRT PEER_INDEX_TABLE."""

    bgp_id: str
    address: str
    asn: int


@dataclass(frozen=True, slots=True)
class RibPath:
    """One path of a TABLE_DUMP_V2 RIB entry; the peer fields are resolved through the last
    PEER_INDEX_TABLE (``None`` when the index is out of range or no table came first)."""

    peer_index: int
    peer_address: str | None
    peer_as: int | None
    peer_bgp_id: str | None
    originated: int
    path_id: int | None
    attributes: bytes


@dataclass(frozen=True, slots=True)
class RibEntryRecord:
    """An MRT TABLE_DUMP_V2 RIB record (RFC6396 4.3.4): one prefix with its paths."""

    offset: int
    timestamp: float | None
    subtype: str
    sequence: int
    afi: int
    safi: int
    nlri: bytes
    entries: tuple[RibPath, ...]


@dataclass(frozen=True, slots=True)
class PeerIndexRecord:
    """An MRT PEER_INDEX_TABLE (RFC6396 4.3.1)."""

    offset: int
    timestamp: float | None
    collector_id: str
    view_name: str
    peers: tuple[MrtPeer, ...]


@dataclass(frozen=True, slots=True)
class StateChangeRecord:
    """An MRT BGP4MP_STATE_CHANGE(_AS4) record; ``connection`` is peer -> local."""

    offset: int
    timestamp: float | None
    connection: Connection | None
    peer_as: int
    local_as: int
    old_state: int
    new_state: int


@dataclass(frozen=True, slots=True)
class SourceError:
    """Something in the file that could not be read; the reader carries on after it when it can.

    ``offset`` is in the file, except for errors inside a reassembled TCP stream (pcap), where it
    is the offset in that direction of the connection (the reason names the connection).
    """

    offset: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"offset {self.offset}: {self.field}: {self.reason}"


Record = MessageRecord | RibEntryRecord | PeerIndexRecord | StateChangeRecord | SourceError
