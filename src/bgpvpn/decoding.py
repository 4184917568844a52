"""Decoding recorded BGP (``bgpvpn decode``): messages from a capture, an MRT file or a raw
stream, each decoded with the context its session negotiated, into JSON records and statistics.

The OPENs seen on a TCP connection decide how the rest of it is read (4-octet AS numbers,
ADD-PATH per family, extended messages), per direction, as a real session would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bgpvpn.sources import (
    Connection,
    MessageRecord,
    PeerIndexRecord,
    Record,
    RibEntryRecord,
    SourceError,
    StateChangeRecord,
)
from bgpvpn.wire.attributes import parse_attributes
from bgpvpn.wire.capabilities import FourOctetAs
from bgpvpn.wire.context import WireContext, negotiate
from bgpvpn.wire.errors import MessageError
from bgpvpn.wire.family import Family
from bgpvpn.wire.jsonform import attributes_to_json, message_to_json, next_hop_to_text
from bgpvpn.wire.messages import Message, OpenMessage, decode_message
from bgpvpn.wire.nlri import SPLITTERS, NlriError
from bgpvpn.wire.routes import OpaqueRoute, route_from_wire
from bgpvpn.wire.update import UpdateMessage

_ALL_FAMILIES = frozenset(Family(afi, safi) for afi, safi in SPLITTERS)
_STATES = {1: "idle", 2: "connect", 3: "active", 4: "opensent", 5: "openconfirm", 6: "established"}


@dataclass
class DecodeStats:
    messages: Counter[str] = field(default_factory=Counter)
    announced: Counter[str] = field(default_factory=Counter)
    withdrawn: Counter[str] = field(default_factory=Counter)
    end_of_rib: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    octets: int = 0

    @property
    def routes(self) -> int:
        return sum(self.announced.values()) + sum(self.withdrawn.values())


class RecordDecoder:
    """Turns source records into decoded messages, tracking each connection's negotiation.

    ``as4``/``add_path`` force the context of sources that carry no OPEN (a raw stream cut
    from the middle of a session)."""

    def __init__(self, as4: bool | None = None, add_path: frozenset[Family] | None = None) -> None:
        self.force_as4 = as4
        self.force_add_path = add_path
        self.stats = DecodeStats()
        self._opens: dict[Connection | None, OpenMessage] = {}
        self._contexts: dict[Connection | None, WireContext] = {}

    def context_for(self, rec: MessageRecord) -> WireContext:
        if rec.as4 is not None or rec.add_path is not None:  # MRT says it
            return WireContext(
                as4=rec.as4 if rec.as4 is not None else True,
                add_path=_ALL_FAMILIES if rec.add_path else frozenset(),
                extended_message=True,
            )
        ctx = self._contexts.get(rec.connection)
        if ctx is None:
            ctx = self._default_context(rec.connection)
        return ctx

    def _default_context(self, conn: Connection | None) -> WireContext:
        as4 = True if self.force_as4 is None else self.force_as4
        sender_open = self._opens.get(conn)
        if self.force_as4 is None and sender_open is not None:
            as4 = any(isinstance(c, FourOctetAs) for c in sender_open.capabilities)
        return WireContext(
            as4=as4, add_path=self.force_add_path or frozenset(), extended_message=True
        )

    def _learn_open(self, conn: Connection | None, msg: OpenMessage) -> None:
        self._opens[conn] = msg
        self._contexts.pop(conn, None)
        if conn is None:
            return
        back = conn.reversed()
        other = self._opens.get(back)
        if other is None:
            return
        # messages sent by conn.src are received by conn.dst: negotiate from the receiver's side
        rx_of_dst, rx_of_src = (
            negotiate(other.capabilities, msg.capabilities)[0],
            negotiate(msg.capabilities, other.capabilities)[0],
        )
        if self.force_as4 is not None:
            rx_of_dst = WireContext(self.force_as4, rx_of_dst.add_path, True)
            rx_of_src = WireContext(self.force_as4, rx_of_src.add_path, True)
        self._contexts[conn] = WireContext(rx_of_dst.as4, rx_of_dst.add_path, True)
        self._contexts[back] = WireContext(rx_of_src.as4, rx_of_src.add_path, True)

    def decode(self, rec: MessageRecord) -> Message | MessageError:
        stats = self.stats
        stats.octets += len(rec.data)
        try:
            msg = decode_message(rec.data, self.context_for(rec))
        except MessageError as err:
            stats.errors += 1
            return err
        stats.messages[msg.type.name] += 1
        if isinstance(msg, UpdateMessage):
            if msg.problems:
                stats.errors += 1
            for b in msg.announced:
                stats.announced[b.family.name] += len(b.keys) if b.opaque is None else 1
            for b in msg.withdrawn:
                stats.withdrawn[b.family.name] += len(b.keys) if b.opaque is None else 1
            eor = msg.end_of_rib
            if eor is not None:
                stats.end_of_rib[eor.name] += 1
        elif isinstance(msg, OpenMessage):
            self._learn_open(rec.connection, msg)
        return msg

    def records_json(self, records: Iterator[Record]) -> Iterator[dict[str, Any]]:
        """One JSON object per record, in order."""
        for rec in records:
            if isinstance(rec, MessageRecord):
                yield self.message_json(rec)
            elif isinstance(rec, RibEntryRecord):
                self.stats.messages["TABLE_DUMP_V2"] += 1
                yield rib_entry_json(rec, self.stats)
            elif isinstance(rec, PeerIndexRecord):
                self.stats.messages["PEER_INDEX_TABLE"] += 1
                yield {
                    "type": "PEER_INDEX_TABLE",
                    "offset": rec.offset,
                    "timestamp": rec.timestamp,
                    "collector_id": rec.collector_id,
                    "view_name": rec.view_name,
                    "peers": [
                        {"bgp_id": p.bgp_id, "address": p.address, "asn": p.asn} for p in rec.peers
                    ],
                }
            elif isinstance(rec, StateChangeRecord):
                self.stats.messages["STATE_CHANGE"] += 1
                yield {
                    "type": "STATE_CHANGE",
                    "offset": rec.offset,
                    "timestamp": rec.timestamp,
                    **_connection_json(rec.connection),
                    "peer_as": rec.peer_as,
                    "local_as": rec.local_as,
                    "old_state": _STATES.get(rec.old_state, str(rec.old_state)),
                    "new_state": _STATES.get(rec.new_state, str(rec.new_state)),
                }
            else:
                yield source_error_json(rec, self.stats)

    def message_json(self, rec: MessageRecord) -> dict[str, Any]:
        result = self.decode(rec)
        meta: dict[str, Any] = {"offset": rec.offset, "timestamp": rec.timestamp}
        meta.update(_connection_json(rec.connection))
        if rec.peer_as is not None:
            meta["peer_as"] = rec.peer_as
            meta["local_as"] = rec.local_as
        if isinstance(result, MessageError):
            return {
                "type": "ERROR",
                **meta,
                "offset": rec.offset + result.offset,
                "message_offset": rec.offset,
                "field": result.field,
                "reason": result.reason,
                "notification": {"code": result.code, "subcode": result.subcode},
            }
        out = message_to_json(result)
        out.update(meta)
        return out


def _connection_json(conn: Connection | None) -> dict[str, Any]:
    if conn is None:
        return {}
    return {"from": f"{conn.src}:{conn.sport}", "to": f"{conn.dst}:{conn.dport}"}


def source_error_json(rec: SourceError, stats: DecodeStats) -> dict[str, Any]:
    stats.errors += 1
    return {"type": "ERROR", "offset": rec.offset, "field": rec.field, "reason": rec.reason}


def rib_entry_json(rec: RibEntryRecord, stats: DecodeStats) -> dict[str, Any]:
    """A TABLE_DUMP_V2 RIB entry: its route and each peer's path (RFC6396 4.3.4: AS numbers are
    4 octets; MP_REACH_NLRI holds only the next hop)."""
    family = Family(rec.afi, rec.safi)
    split = SPLITTERS.get((rec.afi, rec.safi))
    out: dict[str, Any] = {
        "type": "TABLE_DUMP_V2",
        "subtype": rec.subtype,
        "offset": rec.offset,
        "timestamp": rec.timestamp,
        "sequence": rec.sequence,
        "family": family.name,
    }
    route: dict[str, Any]
    try:
        if split is None:
            raise NlriError(0, "family not known")
        keys, datas, _ = split(rec.nlri, 0, len(rec.nlri), False, False)
        if len(keys) != 1:
            raise NlriError(0, f"{len(keys)} prefixes in one RIB entry")
        route = route_from_wire(family, keys[0], datas[0] if datas else None).to_json()
    except NlriError as e:
        stats.errors += 1
        route = OpaqueRoute(family, rec.nlri).to_json()
        out["problems"] = [{"field": "prefix", "offset": rec.offset, "reason": e.reason}]
    out["route"] = route
    paths = []
    for path in rec.entries:
        stats.announced[family.name] += 1
        attrs, spans, problems = parse_attributes(
            path.attributes, 0, len(path.attributes), True, None, check_flags=False
        )
        next_hop = attrs.nexthop_attr
        for span in spans:
            value = path.attributes[span.start : span.end]
            if span.type == 14 and value:
                if value[0] == len(value) - 1:  # abbreviated form of RFC6396 4.3.4
                    next_hop = value[1:]
                elif len(value) >= 4:  # some writers keep the full attribute
                    next_hop = value[4 : 4 + value[3]]
        p: dict[str, Any] = {
            "peer_index": path.peer_index,
            "peer_address": path.peer_address,
            "peer_as": path.peer_as,
            "originated": path.originated,
            "next_hop": next_hop_to_text(next_hop),
            "attributes": attributes_to_json(attrs),
        }
        if path.path_id is not None:
            p["path_id"] = path.path_id
        if problems:
            stats.errors += 1
            p["problems"] = [
                {
                    "action": pr.action.name.lower(),
                    "field": pr.field,
                    "offset": pr.offset,
                    "reason": pr.reason,
                }
                for pr in problems
            ]
        paths.append(p)
    out["paths"] = paths
    # the same routes in the shape of an UPDATE's, one per path, for tools that read both
    out["announced"] = [
        {
            **route,
            "next_hop": p["next_hop"],
            "peer_address": p["peer_address"],
            "attributes": p["attributes"],
            **({"path_id": p["path_id"]} if "path_id" in p else {}),
        }
        for p in paths
    ]
    out["withdrawn"] = []
    return out
