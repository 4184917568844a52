"""UPDATE messages (RFC4271 4.3, RFC4760, RFC7911): decode with the RFC7606 verdict, encode
exactly, and pack many routes into as few UPDATEs as fit.

Decoding never raises. The attribute block is parsed once and interned (``AttributeCache``); all
routes of the UPDATE share that one ``PathAttributes`` object (per family: MP routes get the same
set with the MP_REACH next hop). Routes are kept in wire form: see ``bgpvpn.wire.nlri``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bgpvpn.wire.attributes import MpSpan, PathAttributes, encode_attributes, parse_attributes
from bgpvpn.wire.constants import AFI, SAFI, AttrType, ErrorCode, MessageType, UpdateError
from bgpvpn.wire.context import DEFAULT_CONTEXT, WireContext
from bgpvpn.wire.errors import ErrorAction, UpdateProblem
from bgpvpn.wire.family import IPV4_UNICAST, Family
from bgpvpn.wire.nlri import JOINERS, LEN_OCTET, SPLITTERS, NlriError, encode_nlri, split_prefixes

HEADER_UPDATE = b"\xff" * 16


@dataclass(frozen=True, slots=True)
class NlriBlock:
    """The routes of one family in one UPDATE, in wire form (see ``bgpvpn.wire.nlri``).

    ``keys[n]`` (with ``data[n]`` and ``path_ids[n]`` where present) is one route. ``attributes``
    is the attribute set of announced routes (None for withdrawals). ``mp`` says whether the
    routes travel in MP_REACH/MP_UNREACH (else in the IPv4 NLRI / withdrawn routes fields).
    ``opaque`` holds the NLRI octets of a family the codec cannot split into routes.
    """

    family: Family
    keys: tuple[bytes, ...] = ()
    data: tuple[bytes, ...] | None = None
    path_ids: tuple[int, ...] | None = None
    attributes: PathAttributes | None = None
    mp: bool = True
    opaque: bytes | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def nlri_octets(self) -> bytes:
        if self.opaque is not None:
            return self.opaque
        return encode_nlri(self.family.afi, self.family.safi, self.keys, self.data, self.path_ids)


@dataclass(frozen=True, slots=True)
class UpdateMessage:
    withdrawn: tuple[NlriBlock, ...] = ()
    announced: tuple[NlriBlock, ...] = ()
    attributes: PathAttributes | None = None
    problems: tuple[UpdateProblem, ...] = ()
    type: ClassVar[MessageType] = MessageType.UPDATE

    @property
    def action(self) -> ErrorAction:
        """The strongest RFC7606 action the problems call for (NONE when there are none)."""
        return max((p.action for p in self.problems), default=ErrorAction.NONE)

    @property
    def reset_problem(self) -> UpdateProblem | None:
        """The problem whose NOTIFICATION to send when the action is a session reset."""
        for p in self.problems:
            if p.action == ErrorAction.SESSION_RESET:
                return p
        return None

    @property
    def end_of_rib(self) -> Family | None:
        """The family this UPDATE is the End-of-RIB marker of (RFC4724 2), else None."""
        if self.announced or self.problems:
            return None
        if not self.withdrawn and self.attributes is None:
            return IPV4_UNICAST
        attrs = self.attributes
        if (
            len(self.withdrawn) == 1
            and attrs is not None
            and len(attrs.layout) == 1
            and attrs.layout[0][0] == AttrType.MP_UNREACH_NLRI
        ):
            block = self.withdrawn[0]
            if block.mp and not block.keys and not block.opaque:
                return block.family
        return None

    def route_count(self) -> tuple[int, int]:
        """(announced, withdrawn) route counts."""
        return (sum(len(b) for b in self.announced), sum(len(b) for b in self.withdrawn))


# ------------------------------------------------------------------------------- decoding

# Valid MP_REACH next hop lengths per family (RFC4760, RFC4364 4.3.2, RFC4659 3.2.1,
# RFC8950, RFC7432 7, RFC4684 4, RFC8955 4); inconsistent lengths are a session reset (RFC7606
# 7.11). Families not listed accept any length.
_NEXT_HOP_LENGTHS: dict[tuple[int, int], tuple[int, ...]] = {
    (AFI.IPV4, SAFI.UNICAST): (4, 16, 32),
    (AFI.IPV4, SAFI.MULTICAST): (4, 16, 32),
    (AFI.IPV6, SAFI.UNICAST): (16, 32, 4),
    (AFI.IPV6, SAFI.MULTICAST): (16, 32, 4),
    (AFI.IPV4, SAFI.LABELED_UNICAST): (4, 16, 32),
    (AFI.IPV6, SAFI.LABELED_UNICAST): (16, 32, 4),
    (AFI.IPV4, SAFI.MPLS_VPN): (12, 24, 48),
    (AFI.IPV6, SAFI.MPLS_VPN): (24, 48, 12),
    (AFI.L2VPN, SAFI.EVPN): (4, 16, 32),
    (AFI.IPV4, SAFI.RTC): (4, 16, 32),
    (AFI.IPV4, SAFI.FLOWSPEC): (0, 4, 16),
    (AFI.IPV6, SAFI.FLOWSPEC): (0, 16, 32),
}

_FAMILIES: dict[tuple[int, int], Family] = {}


def _family(afi: int, safi: int) -> Family:
    fam = _FAMILIES.get((afi, safi))
    if fam is None:
        fam = _FAMILIES[(afi, safi)] = Family(afi, safi)
    return fam


def _scan(msg: bytes, start: int, end: int) -> tuple[bytes, list[MpSpan]] | None:
    """Locate MP attributes; the cache key is the block with their values left out. None when
    the block cannot be framed (the full parser reports why)."""
    i = start
    spans: list[MpSpan] | None = None
    while i < end:
        if end - i < 3:
            return None
        flags = msg[i]
        atype = msg[i + 1]
        if flags & 0x10:
            if end - i < 4:
                return None
            v = i + 4
            e = v + ((msg[i + 2] << 8) | msg[i + 3])
        else:
            v = i + 3
            e = v + msg[i + 2]
        if e > end:
            return None
        if atype == 14 or atype == 15:
            if spans is None:
                spans = []
            spans.append(MpSpan(atype, flags, v, e, i))
        i = e
    if spans is None:
        return msg[start:end], []
    parts = []
    pos = start
    for s in spans:
        parts.append(msg[pos : s.header_offset])
        parts.append(bytes((s.flags, s.type, 0)))
        pos = s.end
    parts.append(msg[pos:end])
    return b"".join(parts), spans


def _reset(subcode: int, offset: int, field: str, reason: str, data: bytes = b"") -> UpdateProblem:
    return UpdateProblem(
        ErrorAction.SESSION_RESET, ErrorCode.UPDATE_MESSAGE, subcode, offset, field, reason, data
    )


def decode_update(msg: bytes, ctx: WireContext = DEFAULT_CONTEXT) -> UpdateMessage:
    """Decode an UPDATE (``msg`` includes the 19-octet header). Never raises."""
    n = len(msg)
    if n < 23:
        return UpdateMessage(
            problems=(
                _reset(
                    UpdateError.MALFORMED_ATTRIBUTE_LIST,
                    19,
                    "length",
                    f"UPDATE of {n} octets is below 23",
                ),
            )
        )
    wlen = (msg[19] << 8) | msg[20]
    wend = 21 + wlen
    if wend + 2 > n:
        return UpdateMessage(
            problems=(
                _reset(
                    UpdateError.MALFORMED_ATTRIBUTE_LIST,
                    19,
                    "withdrawn routes length",
                    f"{wlen} overruns the message",
                ),
            )
        )
    alen = (msg[wend] << 8) | msg[wend + 1]
    astart = wend + 2
    aend = astart + alen
    if aend > n:
        return UpdateMessage(
            problems=(
                _reset(
                    UpdateError.MALFORMED_ATTRIBUTE_LIST,
                    wend,
                    "total path attribute length",
                    f"{alen} overruns the message",
                ),
            )
        )
    add_path = ctx.add_path
    withdrawn: list[NlriBlock] = []
    announced: list[NlriBlock] = []
    problems: list[UpdateProblem] = []
    if wlen:
        try:
            keys, _, ids = split_prefixes(msg, 21, wend, 32, IPV4_UNICAST in add_path)
            withdrawn.append(NlriBlock(IPV4_UNICAST, keys, None, ids, None, False))
        except NlriError as e:
            problems.append(
                _reset(UpdateError.MALFORMED_ATTRIBUTE_LIST, e.offset, "withdrawn routes", e.reason)
            )
    attrs: PathAttributes | None = None
    spans: list[MpSpan] = []
    if alen:
        cache = ctx.attribute_cache
        scanned = _scan(msg, astart, aend)
        if scanned is not None:
            key, spans = scanned
            attrs = cache.get(key)
            if attrs is not None:
                cache.hits += 1
        if attrs is None:
            cache.misses += 1
            attrs, spans, attr_problems = parse_attributes(msg, astart, aend, ctx.as4, ctx.ibgp)
            if attr_problems:
                problems.extend(attr_problems)
            elif scanned is not None:
                cache.put(scanned[0], attrs)
        for span in spans:
            _decode_mp(msg, span, attrs, ctx, withdrawn, announced, problems)
    if aend < n:
        try:
            keys, _, ids = split_prefixes(msg, aend, n, 32, IPV4_UNICAST in add_path)
            announced.append(NlriBlock(IPV4_UNICAST, keys, None, ids, attrs, False))
        except NlriError as e:
            problems.append(_reset(UpdateError.INVALID_NETWORK_FIELD, e.offset, "NLRI", e.reason))
    if any(b.keys or b.opaque for b in announced):
        reported = {p.field for p in problems}
        needed = ["ORIGIN", "AS_PATH"]
        if aend < n:
            needed.append("NEXT_HOP")
        present = {
            "ORIGIN": attrs is not None and attrs.origin is not None,
            "AS_PATH": attrs is not None and attrs.as_path is not None,
            "NEXT_HOP": attrs is not None and attrs.nexthop_attr is not None,
        }
        for name in needed:
            if not present[name] and name not in reported:
                problems.append(_missing(astart, name))
    return UpdateMessage(tuple(withdrawn), tuple(announced), attrs, tuple(problems))


def _missing(offset: int, name: str) -> UpdateProblem:
    return UpdateProblem(
        ErrorAction.TREAT_AS_WITHDRAW,
        ErrorCode.UPDATE_MESSAGE,
        UpdateError.MISSING_WELL_KNOWN_ATTRIBUTE,
        offset,
        name,
        "missing well-known mandatory attribute (RFC7606 3.d)",
        bytes((AttrType[name].value,)),
    )


def _decode_mp(
    msg: bytes,
    span: MpSpan,
    attrs: PathAttributes,
    ctx: WireContext,
    withdrawn: list[NlriBlock],
    announced: list[NlriBlock],
    problems: list[UpdateProblem],
) -> None:
    v, end = span.start, span.end
    name = "MP_REACH_NLRI" if span.type == 14 else "MP_UNREACH_NLRI"
    data = msg[span.header_offset : end]
    if span.type == AttrType.MP_UNREACH_NLRI:
        if end - v < 3:
            problems.append(
                _reset(
                    UpdateError.OPTIONAL_ATTRIBUTE_ERROR,
                    span.header_offset,
                    name,
                    f"length {end - v} is below 3",
                    data,
                )
            )
            return
        afi = (msg[v] << 8) | msg[v + 1]
        safi = msg[v + 2]
        nlri_start = v + 3
        next_hop = b""
    else:
        if end - v < 5:
            problems.append(
                _reset(
                    UpdateError.OPTIONAL_ATTRIBUTE_ERROR,
                    span.header_offset,
                    name,
                    f"length {end - v} is below 5",
                    data,
                )
            )
            return
        afi = (msg[v] << 8) | msg[v + 1]
        safi = msg[v + 2]
        nhlen = msg[v + 3]
        nlri_start = v + 4 + nhlen + 1
        if nlri_start > end:
            problems.append(
                _reset(
                    UpdateError.OPTIONAL_ATTRIBUTE_ERROR,
                    v + 3,
                    name,
                    f"next hop length {nhlen} overruns the attribute",
                    data,
                )
            )
            return
        allowed = _NEXT_HOP_LENGTHS.get((afi, safi))
        if allowed is not None and nhlen not in allowed:
            problems.append(
                _reset(
                    UpdateError.OPTIONAL_ATTRIBUTE_ERROR,
                    v + 3,
                    name,
                    f"next hop length {nhlen} is not valid for AFI {afi} SAFI "
                    f"{safi} (expected one of {allowed})",
                    data,
                )
            )
            return
        next_hop = msg[v + 4 : v + 4 + nhlen]
    family = _family(afi, safi)
    split = SPLITTERS.get((afi, safi))
    is_withdraw = span.type == AttrType.MP_UNREACH_NLRI
    if split is None:
        block = NlriBlock(family, (), None, None, None, True, msg[nlri_start:end])
    else:
        try:
            keys, datas, ids = split(msg, nlri_start, end, family in ctx.add_path, is_withdraw)
        except NlriError as e:
            problems.append(
                _reset(
                    UpdateError.OPTIONAL_ATTRIBUTE_ERROR,
                    e.offset,
                    name,
                    f"{family.name} NLRI: {e.reason}",
                    data,
                )
            )
            return
        block = NlriBlock(family, keys, datas, ids, None, True)
    if is_withdraw:
        withdrawn.append(block)
    else:
        nh_attrs = ctx.attribute_cache.with_next_hop(attrs, next_hop)
        announced.append(
            NlriBlock(
                block.family, block.keys, block.data, block.path_ids, nh_attrs, True, block.opaque
            )
        )


# ------------------------------------------------------------------------------- encoding


def _message(body: bytes) -> bytes:
    length = 19 + len(body)
    return HEADER_UPDATE + bytes((length >> 8, length & 0xFF, MessageType.UPDATE)) + body


def _mp_reach_value(block: NlriBlock) -> bytes:
    nh = (block.attributes.next_hop if block.attributes else None) or b""
    fam = block.family
    return (
        bytes((fam.afi >> 8, fam.afi & 0xFF, fam.safi, len(nh)))
        + nh
        + b"\x00"
        + block.nlri_octets()
    )


def _mp_unreach_value(block: NlriBlock) -> bytes:
    fam = block.family
    return bytes((fam.afi >> 8, fam.afi & 0xFF, fam.safi)) + block.nlri_octets()


def encode_update(msg: UpdateMessage, ctx: WireContext = DEFAULT_CONTEXT) -> bytes:
    """The octets of an UPDATE. Raises ValueError when it cannot be one message (more than one
    MP family per direction, or over the negotiated maximum length)."""
    withdrawn_field = b"".join(b.nlri_octets() for b in msg.withdrawn if not b.mp)
    nlri_field = b"".join(b.nlri_octets() for b in msg.announced if not b.mp)
    mp_values: dict[int, bytes] = {}
    unreach = [b for b in msg.withdrawn if b.mp]
    reach = [b for b in msg.announced if b.mp]
    if len(unreach) > 1 or len(reach) > 1:
        raise ValueError("an UPDATE carries at most one MP_REACH_NLRI and one MP_UNREACH_NLRI")
    if unreach:
        mp_values[AttrType.MP_UNREACH_NLRI] = _mp_unreach_value(unreach[0])
    if reach:
        mp_values[AttrType.MP_REACH_NLRI] = _mp_reach_value(reach[0])
    attrs = msg.attributes
    if attrs is None:
        for b in msg.announced:
            if b.attributes is not None:
                attrs = b.attributes
                break
    if attrs is None and mp_values:
        attrs = PathAttributes()
    attr_block = encode_attributes(attrs, ctx.as4, mp_values) if attrs is not None else b""
    body = (
        len(withdrawn_field).to_bytes(2, "big")
        + withdrawn_field
        + len(attr_block).to_bytes(2, "big")
        + attr_block
        + nlri_field
    )
    if 19 + len(body) > ctx.max_message_len:
        raise ValueError(
            f"UPDATE of {19 + len(body)} octets exceeds the maximum {ctx.max_message_len}"
        )
    return _message(body)


def end_of_rib(family: Family) -> bytes:
    """The End-of-RIB marker of a family (RFC4724 2)."""
    if family == IPV4_UNICAST:
        return _message(b"\x00\x00\x00\x00")
    value = bytes((family.afi >> 8, family.afi & 0xFF, family.safi))
    attr = bytes((0x80, AttrType.MP_UNREACH_NLRI, len(value))) + value
    return _message(b"\x00\x00" + len(attr).to_bytes(2, "big") + attr)


def _nlri_items(
    family: Family,
    keys: tuple[bytes, ...] | list[bytes],
    data: tuple[bytes, ...] | list[bytes] | None,
    path_ids: tuple[int, ...] | list[int] | None,
) -> list[bytes]:
    """The wire octets of each route (path identifier first where given)."""
    safi = family.safi
    if safi in (SAFI.LABELED_UNICAST, SAFI.MPLS_VPN):
        # inline join_labeled: length octet (labels and RD included), labels, RD, prefix
        rd_bits = 64 if safi == SAFI.MPLS_VPN else 0
        lens = LEN_OCTET
        compat = b"\x80\x00\x00"
        if data is None:
            items = [lens[k[0] + 24 + rd_bits] + compat + k[1:] for k in keys]
        else:
            items = [
                lens[k[0] + len(d or compat) * 8 + rd_bits] + (d or compat) + k[1:]
                for k, d in zip(keys, data, strict=True)
            ]
    else:
        join = JOINERS.get((family.afi, safi))
        if join is None:
            items = list(keys)
        elif data is None:
            items = [join(k, None) for k in keys]
        else:
            items = [join(k, d) for k, d in zip(keys, data, strict=True)]
    if path_ids is not None:
        items = [pid.to_bytes(4, "big") + item for pid, item in zip(path_ids, items, strict=True)]
    return items


def _chunks(items: list[bytes], room: int) -> list[bytes]:
    """Cut the items into runs of at most ``room`` octets, each as full as it can be."""
    if room <= 0:
        raise ValueError("the attributes leave no room for NLRI in one UPDATE")
    out: list[bytes] = []
    start = 0
    size = 0
    for n, length in enumerate(map(len, items)):
        if size + length > room:
            if length > room:
                raise ValueError(f"one NLRI of {length} octets does not fit in an UPDATE")
            out.append(b"".join(items[start:n]))
            start, size = n, 0
        size += length
    if start < len(items):
        out.append(b"".join(items[start:]))
    return out


_RD_ZERO = bytes(8)
_V4_MAPPED = bytes(10) + b"\xff\xff"


def mp_next_hop(family: Family, next_hop: bytes) -> bytes:
    """The MP_REACH next hop field of ``family`` for a plain address: VPN families carry an
    all-zero RD before each address (RFC4364 4.3.2, RFC4659 3.2.1); IPv6 families carry an IPv4
    address as IPv4-mapped IPv6 (RFC4798). Already well-formed fields pass unchanged."""
    n = len(next_hop)
    if family.safi == SAFI.MPLS_VPN:
        if n in (12, 24, 48):
            return next_hop
        if family.afi == AFI.IPV6 and n == 4:
            next_hop, n = _V4_MAPPED + next_hop, 16
        if n == 32:
            return _RD_ZERO + next_hop[:16] + _RD_ZERO + next_hop[16:]
        return _RD_ZERO + next_hop
    if family.afi == AFI.IPV6 and family.safi in (SAFI.UNICAST, SAFI.LABELED_UNICAST) and n == 4:
        return _V4_MAPPED + next_hop
    return next_hop


def pack_updates(
    family: Family,
    keys: tuple[bytes, ...] | list[bytes],
    data: tuple[bytes, ...] | list[bytes] | None = None,
    path_ids: tuple[int, ...] | list[int] | None = None,
    attributes: PathAttributes | None = None,
    ctx: WireContext = DEFAULT_CONTEXT,
    mp: bool | None = None,
) -> list[bytes]:
    """UPDATEs announcing (``attributes`` given) or withdrawing (``attributes`` None) the routes,
    each packed with as many NLRI as fit in the negotiated maximum message length."""
    if mp is None:
        mp = family != IPV4_UNICAST
    if attributes is None and family.safi in (SAFI.LABELED_UNICAST, SAFI.MPLS_VPN):
        data = None  # a withdrawal carries one compatibility label 0x800000 (RFC8277 2.4)
    items = _nlri_items(family, keys, data, path_ids)
    max_len = ctx.max_message_len
    fam_head = bytes((family.afi >> 8, family.afi & 0xFF, family.safi))
    out: list[bytes] = []
    if attributes is None:
        if not mp:
            for chunk in _chunks(items, max_len - 23):
                out.append(_message(len(chunk).to_bytes(2, "big") + chunk + b"\x00\x00"))
            return out
        for chunk in _chunks(items, max_len - 23 - 4 - 3):
            value = fam_head + chunk
            attr = bytes((0x90, AttrType.MP_UNREACH_NLRI)) + len(value).to_bytes(2, "big") + value
            out.append(_message(b"\x00\x00" + len(attr).to_bytes(2, "big") + attr))
        return out
    if not mp:
        if attributes.nexthop_attr is None and attributes.next_hop is not None:
            attributes = attributes.replace(nexthop_attr=attributes.next_hop[-4:])
        block = encode_attributes(attributes, ctx.as4)
        head = b"\x00\x00" + len(block).to_bytes(2, "big") + block
        for chunk in _chunks(items, max_len - 19 - len(head)):
            out.append(_message(head + chunk))
        return out
    nh = mp_next_hop(family, attributes.next_hop or b"")
    base = (
        attributes
        if attributes.nexthop_attr is None and not attributes.layout
        else attributes.replace(nexthop_attr=None, layout=())
    )
    block = encode_attributes(base, ctx.as4)
    mp_head = fam_head + bytes((len(nh),)) + nh + b"\x00"
    room = max_len - 23 - len(block) - 4 - len(mp_head)
    for chunk in _chunks(items, room):
        value = mp_head + chunk
        attr = bytes((0x90, AttrType.MP_REACH_NLRI)) + len(value).to_bytes(2, "big") + value
        full = attr + block
        out.append(_message(b"\x00\x00" + len(full).to_bytes(2, "big") + full))
    return out
