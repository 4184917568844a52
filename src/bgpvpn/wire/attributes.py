"""Path attributes (RFC4271 5, RFC4456, RFC4360, RFC6793, RFC8092, RFC6514, RFC7311): the
immutable, interned attribute set shared by every route of an UPDATE, its decoder with the
RFC7606 verdict of each check, and its encoder.

An UPDATE's attribute block is parsed once; ``AttributeCache`` maps the block's octets (with the
MP_REACH/MP_UNREACH contents left out, since they carry NLRI) to one ``PathAttributes`` object,
so identical attributes across UPDATEs are one object and compare by identity.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from bgpvpn.wire.constants import AS_TRANS, AsPathSegmentType, AttrType, ErrorCode, UpdateError
from bgpvpn.wire.errors import ErrorAction, UpdateProblem

# --------------------------------------------------------------------------- value types

Segment = tuple[int, tuple[int, ...]]  # (AsPathSegmentType, AS numbers)


_GROUP_TYPES = {
    "{": AsPathSegmentType.AS_SET,
    "(": AsPathSegmentType.AS_CONFED_SEQUENCE,
    "[": AsPathSegmentType.AS_CONFED_SET,
}


@dataclass(frozen=True, slots=True)
class AsPath:
    segments: tuple[Segment, ...] = ()

    def __str__(self) -> str:
        out = []
        for seg_type, asns in self.segments:
            text = " ".join(str(a) for a in asns)
            if seg_type == AsPathSegmentType.AS_SET:
                text = "{" + ",".join(str(a) for a in asns) + "}"
            elif seg_type == AsPathSegmentType.AS_CONFED_SEQUENCE:
                text = "(" + text + ")"
            elif seg_type == AsPathSegmentType.AS_CONFED_SET:
                text = "[" + ",".join(str(a) for a in asns) + "]"
            out.append(text)
        return " ".join(out)

    @property
    def length(self) -> int:
        """Path length for best-path selection (RFC4271 9.1.2.2, RFC5065 5.3)."""
        n = 0
        for seg_type, asns in self.segments:
            if seg_type == AsPathSegmentType.AS_SEQUENCE:
                n += len(asns)
            elif seg_type == AsPathSegmentType.AS_SET:
                n += 1
        return n

    def asns(self) -> list[int]:
        return [a for _, asns in self.segments for a in asns]

    @staticmethod
    def sequence(*asns: int) -> AsPath:
        return AsPath(((AsPathSegmentType.AS_SEQUENCE, tuple(asns)),) if asns else ())

    def prepend(self, asn: int, count: int = 1) -> AsPath:
        segs = list(self.segments)
        if segs and segs[0][0] == AsPathSegmentType.AS_SEQUENCE and len(segs[0][1]) + count <= 255:
            segs[0] = (AsPathSegmentType.AS_SEQUENCE, (asn,) * count + segs[0][1])
        else:
            segs.insert(0, (AsPathSegmentType.AS_SEQUENCE, (asn,) * count))
        return AsPath(tuple(segs))

    @staticmethod
    def parse(text: str) -> AsPath:
        """'65001 65002 {65003,65004}': AS sets in {}, confederation sequences in (),
        confederation sets in []."""
        segs: list[Segment] = []
        seq: list[int] = []
        spaced = text
        for ch in "{}()[]":
            spaced = spaced.replace(ch, f" {ch} ")
        tokens = spaced.replace(",", " ").split()
        group: list[int] | None = None
        group_type = 0
        for tok in tokens:
            if tok in ("{", "(", "["):
                if seq:
                    segs.append((AsPathSegmentType.AS_SEQUENCE, tuple(seq)))
                    seq = []
                group = []
                group_type = _GROUP_TYPES[tok]
            elif tok in ("}", ")", "]"):
                if group is None:
                    raise ValueError(f"unbalanced {tok!r} in AS path")
                segs.append((group_type, tuple(group)))
                group = None
            else:
                if not tok.isdigit() or int(tok) > 0xFFFFFFFF:
                    raise ValueError(f"{tok!r} is not an AS number")
                (group if group is not None else seq).append(int(tok))
        if group is not None:
            raise ValueError("unbalanced group in AS path")
        if seq:
            segs.append((AsPathSegmentType.AS_SEQUENCE, tuple(seq)))
        return AsPath(tuple(segs))


@dataclass(frozen=True, slots=True)
class Aggregator:
    asn: int
    address: bytes  # 4 octets


@dataclass(frozen=True, slots=True)
class PmsiTunnel:
    """RFC6514 5: flags, tunnel type, the 24-bit label field (a VNI for VXLAN, RFC8365 5.1.3),
    tunnel identifier (the replication endpoint for ingress replication)."""

    flags: int
    tunnel_type: int
    label: int
    tunnel_id: bytes


@dataclass(frozen=True, slots=True)
class RawAttribute:
    """An attribute kept as received (unknown, or optional transitive passed through)."""

    flags: int
    type: int
    value: bytes


# Expected (optional, transitive) bits per known attribute; RFC4271 4.3 / the defining RFCs.
WELL_KNOWN = 0x40
OPT_TRANS = 0xC0
OPT_NON_TRANS = 0x80
EXPECTED_FLAGS: dict[int, int] = {
    AttrType.ORIGIN: WELL_KNOWN,
    AttrType.AS_PATH: WELL_KNOWN,
    AttrType.NEXT_HOP: WELL_KNOWN,
    AttrType.MULTI_EXIT_DISC: OPT_NON_TRANS,
    AttrType.LOCAL_PREF: WELL_KNOWN,
    AttrType.ATOMIC_AGGREGATE: WELL_KNOWN,
    AttrType.AGGREGATOR: OPT_TRANS,
    AttrType.COMMUNITIES: OPT_TRANS,
    AttrType.ORIGINATOR_ID: OPT_NON_TRANS,
    AttrType.CLUSTER_LIST: OPT_NON_TRANS,
    AttrType.MP_REACH_NLRI: OPT_NON_TRANS,
    AttrType.MP_UNREACH_NLRI: OPT_NON_TRANS,
    AttrType.EXTENDED_COMMUNITIES: OPT_TRANS,
    AttrType.AS4_PATH: OPT_TRANS,
    AttrType.AS4_AGGREGATOR: OPT_TRANS,
    AttrType.PMSI_TUNNEL: OPT_TRANS,
    AttrType.AIGP: OPT_NON_TRANS,
    AttrType.LARGE_COMMUNITIES: OPT_TRANS,
}


@dataclass(frozen=True, slots=True, eq=False)
class PathAttributes:
    """One immutable set of path attributes.

    ``as_path`` is the effective AS path (AS4_PATH merged per RFC6793 4.2.3 where the peer is
    2-octet); ``wire_as_path`` and ``as4_path`` keep what was received, for exact re-encoding.
    ``next_hop`` is the next hop of the routes this set is attached to: the NEXT_HOP attribute for
    IPv4 unicast NLRI, the MP_REACH_NLRI next hop (raw octets, RD included for VPN families)
    otherwise; ``nexthop_attr`` is the NEXT_HOP attribute itself. ``layout`` records the
    (type, flags) of each attribute in received order, MP_REACH/MP_UNREACH included, so encoding
    reproduces the received octets; an empty layout means canonical order.
    """

    origin: int | None = None
    as_path: AsPath | None = None
    as4_path: AsPath | None = None
    wire_as_path: AsPath | None = None
    nexthop_attr: bytes | None = None
    next_hop: bytes | None = None
    med: int | None = None
    local_pref: int | None = None
    atomic_aggregate: bool = False
    aggregator: Aggregator | None = None
    as4_aggregator: Aggregator | None = None
    communities: tuple[int, ...] = ()
    originator_id: bytes | None = None
    cluster_list: tuple[bytes, ...] = ()
    ext_communities: tuple[bytes, ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()
    pmsi_tunnel: PmsiTunnel | None = None
    aigp: int | None = None
    unknown: tuple[RawAttribute, ...] = ()
    layout: tuple[tuple[int, int], ...] = ()
    _hash: list[int] = field(default_factory=list, repr=False)

    def _values(self) -> tuple[Any, ...]:
        return (
            self.origin,
            self.as_path,
            self.as4_path,
            self.wire_as_path,
            self.nexthop_attr,
            self.next_hop,
            self.med,
            self.local_pref,
            self.atomic_aggregate,
            self.aggregator,
            self.as4_aggregator,
            self.communities,
            self.originator_id,
            self.cluster_list,
            self.ext_communities,
            self.large_communities,
            self.pmsi_tunnel,
            self.aigp,
            self.unknown,
            self.layout,
        )

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PathAttributes):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        cached = self._hash
        if not cached:
            cached.append(hash(self._values()))
        return cached[0]

    def replace(self, **changes: Any) -> PathAttributes:
        """A copy with some fields changed (and a fresh hash)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.pop("_hash")
        values.update(changes)
        return PathAttributes(**values)

    @property
    def route_targets(self) -> tuple[bytes, ...]:
        return tuple(ec for ec in self.ext_communities if ec[0] in (0, 1, 2) and ec[1] == 2)


# ------------------------------------------------------------------------------- decoding


class _Problem(Exception):
    def __init__(self, action: ErrorAction, subcode: int, reason: str) -> None:
        self.action = action
        self.subcode = subcode
        self.reason = reason


_TAW = ErrorAction.TREAT_AS_WITHDRAW
_DISCARD = ErrorAction.ATTRIBUTE_DISCARD
_RESET = ErrorAction.SESSION_RESET
_LEN = UpdateError.ATTRIBUTE_LENGTH_ERROR
_OPT = UpdateError.OPTIONAL_ATTRIBUTE_ERROR

# RFC7606 section 7: the action taken when each attribute is malformed.
MALFORMED_ACTION: dict[int, ErrorAction] = {
    AttrType.ORIGIN: _TAW,
    AttrType.AS_PATH: _TAW,
    AttrType.NEXT_HOP: _TAW,
    AttrType.MULTI_EXIT_DISC: _TAW,
    AttrType.LOCAL_PREF: _TAW,
    AttrType.ATOMIC_AGGREGATE: _DISCARD,
    AttrType.AGGREGATOR: _DISCARD,
    AttrType.COMMUNITIES: _TAW,
    AttrType.ORIGINATOR_ID: _TAW,
    AttrType.CLUSTER_LIST: _TAW,
    AttrType.MP_REACH_NLRI: _RESET,
    AttrType.MP_UNREACH_NLRI: _RESET,
    AttrType.EXTENDED_COMMUNITIES: _TAW,
    AttrType.AS4_PATH: _DISCARD,  # RFC6793 6
    AttrType.AS4_AGGREGATOR: _DISCARD,  # RFC6793 6
    AttrType.PMSI_TUNNEL: _TAW,
    AttrType.AIGP: _DISCARD,  # RFC7311 3
    AttrType.LARGE_COMMUNITIES: _TAW,  # RFC8092 6
}


def decode_as_path(value: bytes, asn_size: int) -> AsPath:
    segs: list[Segment] = []
    i = 0
    n = len(value)
    fmt = "!%dH" if asn_size == 2 else "!%dI"
    while i < n:
        if i + 2 > n:
            raise _Problem(_TAW, UpdateError.MALFORMED_AS_PATH, "truncated AS path segment header")
        seg_type = value[i]
        count = value[i + 1]
        if seg_type not in (1, 2, 3, 4):
            raise _Problem(_TAW, UpdateError.MALFORMED_AS_PATH, f"unknown segment type {seg_type}")
        if count == 0:
            raise _Problem(_TAW, UpdateError.MALFORMED_AS_PATH, "AS path segment of length zero")
        j = i + 2 + count * asn_size
        if j > n:
            raise _Problem(
                _TAW, UpdateError.MALFORMED_AS_PATH, "AS path segment overruns the attribute"
            )
        segs.append((seg_type, struct.unpack(fmt % count, value[i + 2 : j])))
        i = j
    return AsPath(tuple(segs))


def merge_as4_path(as_path: AsPath, as4_path: AsPath) -> AsPath:
    """RFC6793 4.2.3: rebuild the path of a 2-octet speaker from AS_PATH and AS4_PATH."""
    # confederation segments in AS4_PATH are discarded (RFC6793 6)
    as4_segs = [s for s in as4_path.segments if s[0] in (1, 2)]
    n_as = AsPath(as_path.segments).length
    n_as4 = AsPath(tuple(as4_segs)).length
    if n_as < n_as4:
        return as_path
    keep = n_as - n_as4
    head: list[Segment] = []
    for seg_type, asns in as_path.segments:
        if seg_type in (AsPathSegmentType.AS_CONFED_SEQUENCE, AsPathSegmentType.AS_CONFED_SET):
            head.append((seg_type, asns))  # not counted, and absent from AS4_PATH: keep them
        elif keep <= 0:
            break
        elif seg_type == AsPathSegmentType.AS_SEQUENCE:
            take = asns[:keep]
            head.append((seg_type, take))
            keep -= len(take)
        else:
            head.append((seg_type, asns))
            keep -= 1
    return AsPath(tuple(head + as4_segs))


class AttributeCache:
    """Interns parsed attribute sets by their octets. One cache per decoding mode (AS number
    size, iBGP or eBGP) is shared by every session in that mode; it is cleared when it grows past
    ``max_entries`` (held routes keep their objects)."""

    __slots__ = ("_sets", "_with_nh", "hits", "max_entries", "misses")

    def __init__(self, max_entries: int = 200_000) -> None:
        self._sets: dict[bytes, PathAttributes] = {}
        self._with_nh: dict[tuple[PathAttributes, bytes], PathAttributes] = {}
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> PathAttributes | None:
        return self._sets.get(key)

    def put(self, key: bytes, attrs: PathAttributes) -> PathAttributes:
        if len(self._sets) >= self.max_entries:
            self._sets.clear()
            self._with_nh.clear()
        self._sets[key] = attrs
        return attrs

    def with_next_hop(self, base: PathAttributes, next_hop: bytes) -> PathAttributes:
        """The attribute set of MP routes: ``base`` with the MP_REACH next hop."""
        k = (base, next_hop)
        found = self._with_nh.get(k)
        if found is None:
            found = base.replace(next_hop=next_hop)
            if len(self._with_nh) >= self.max_entries:
                self._with_nh.clear()
            self._with_nh[k] = found
        return found

    def __len__(self) -> int:
        return len(self._sets)


@dataclass(frozen=True, slots=True)
class MpSpan:
    """Where an MP_REACH_NLRI / MP_UNREACH_NLRI value lies in the message."""

    type: int
    flags: int
    start: int  # offset of the value in the message
    end: int
    header_offset: int


def parse_attributes(
    msg: bytes, start: int, end: int, as4: bool, ibgp: bool | None, check_flags: bool = True
) -> tuple[PathAttributes, list[MpSpan], list[UpdateProblem]]:
    """Parse the attribute block ``msg[start:end]`` (MP_REACH/MP_UNREACH are located, not
    parsed). Never raises: problems come back with their RFC7606 action. ``check_flags=False``
    skips the optional/transitive flag checks, for stored tables (some MRT writers, BIRD's
    among them, store attributes with their flags cleared)."""
    problems: list[UpdateProblem] = []
    mp: list[MpSpan] = []
    layout: list[tuple[int, int]] = []
    seen: set[int] = set()
    vals: dict[str, Any] = {}
    unknown: list[RawAttribute] = []
    i = start
    while i < end:
        hdr = i
        if end - i < 3:
            problems.append(
                _problem(
                    _TAW,
                    UpdateError.MALFORMED_ATTRIBUTE_LIST,
                    hdr,
                    "attributes",
                    f"{end - i} octets left, too few for an attribute header",
                )
            )
            break
        flags = msg[i]
        atype = msg[i + 1]
        if flags & 0x10:
            if end - i < 4:
                problems.append(
                    _problem(
                        _TAW,
                        UpdateError.MALFORMED_ATTRIBUTE_LIST,
                        hdr,
                        "attributes",
                        "truncated extended-length attribute header",
                    )
                )
                break
            alen = (msg[i + 2] << 8) | msg[i + 3]
            i += 4
        else:
            alen = msg[i + 2]
            i += 3
        vend = i + alen
        name = _attr_name(atype)
        if vend > end:
            problems.append(
                _problem(
                    _TAW,
                    UpdateError.ATTRIBUTE_LENGTH_ERROR,
                    hdr,
                    name,
                    f"length {alen} overruns the path attributes by {vend - end} octets",
                    msg[hdr:end],
                )
            )
            break
        value = msg[i:vend]
        i = vend
        if atype == AttrType.MP_REACH_NLRI or atype == AttrType.MP_UNREACH_NLRI:
            if atype in seen:
                problems.append(
                    _problem(
                        _RESET,
                        UpdateError.MALFORMED_ATTRIBUTE_LIST,
                        hdr,
                        name,
                        "appears more than once (RFC7606 3.g)",
                    )
                )
                continue
            seen.add(atype)
            if check_flags and flags & 0xC0 != OPT_NON_TRANS:
                problems.append(
                    _problem(
                        _RESET,
                        UpdateError.ATTRIBUTE_FLAGS_ERROR,
                        hdr,
                        name,
                        f"flags 0x{flags:02x} conflict with an optional non-transitive attribute",
                        msg[hdr:vend],
                    )
                )
            layout.append((atype, flags))
            mp.append(MpSpan(atype, flags, vend - alen, vend, hdr))
            continue
        if atype in seen:
            problems.append(
                _problem(
                    _DISCARD,
                    UpdateError.MALFORMED_ATTRIBUTE_LIST,
                    hdr,
                    name,
                    "appears more than once; later copies discarded (RFC7606 3.g)",
                )
            )
            continue
        seen.add(atype)
        expected = EXPECTED_FLAGS.get(atype)
        if expected is None:
            if check_flags and not flags & 0x80:
                problems.append(
                    _problem(
                        _RESET,
                        UpdateError.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                        hdr,
                        name,
                        "unrecognized well-known attribute",
                        msg[hdr:vend],
                    )
                )
                continue
            unknown.append(RawAttribute(flags, atype, value))
            layout.append((atype, flags))
            continue
        try:
            if check_flags and flags & 0xC0 != expected:
                raise _Problem(
                    MALFORMED_ACTION[atype],
                    UpdateError.ATTRIBUTE_FLAGS_ERROR,
                    f"flags 0x{flags:02x} conflict with the attribute type",
                )
            _DECODERS[atype](value, as4, ibgp, vals)
        except _Problem as p:
            problems.append(_problem(p.action, p.subcode, hdr, name, p.reason, msg[hdr:vend]))
            continue
        except (struct.error, IndexError, ValueError) as exc:  # defensive: never raise
            action = MALFORMED_ACTION[atype]
            problems.append(_problem(action, _LEN, hdr, name, f"malformed: {exc}", msg[hdr:vend]))
            continue
        layout.append((atype, flags))
    as_path = vals.get("as_path")
    as4_path = vals.get("as4_path")
    wire_as_path = None
    if as4_path is not None:
        if as4:
            # RFC6793 4.1: a NEW speaker ignores AS4_PATH from another NEW speaker
            pass
        elif as_path is not None:
            agg = vals.get("aggregator")
            if agg is None or agg.asn == AS_TRANS:
                wire_as_path = as_path
                as_path = merge_as4_path(as_path, as4_path)
    attrs = PathAttributes(
        origin=vals.get("origin"),
        as_path=as_path,
        as4_path=as4_path,
        wire_as_path=wire_as_path,
        nexthop_attr=vals.get("next_hop"),
        next_hop=vals.get("next_hop"),
        med=vals.get("med"),
        local_pref=vals.get("local_pref"),
        atomic_aggregate=vals.get("atomic_aggregate", False),
        aggregator=vals.get("aggregator"),
        as4_aggregator=vals.get("as4_aggregator"),
        communities=vals.get("communities", ()),
        originator_id=vals.get("originator_id"),
        cluster_list=vals.get("cluster_list", ()),
        ext_communities=vals.get("ext_communities", ()),
        large_communities=vals.get("large_communities", ()),
        pmsi_tunnel=vals.get("pmsi_tunnel"),
        aigp=vals.get("aigp"),
        unknown=tuple(unknown),
        layout=tuple(layout),
    )
    return attrs, mp, problems


def _problem(
    action: ErrorAction, subcode: int, offset: int, name: str, reason: str, data: bytes = b""
) -> UpdateProblem:
    return UpdateProblem(action, ErrorCode.UPDATE_MESSAGE, subcode, offset, name, reason, data)


_ATTR_NAMES: dict[int, str] = {int(t): t.name for t in AttrType}


def _attr_name(atype: int) -> str:
    return _ATTR_NAMES.get(atype) or f"attribute {atype}"


def _dec_origin(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if len(v) != 1:
        raise _Problem(_TAW, _LEN, f"length {len(v)}, expected 1")
    if v[0] > 2:
        raise _Problem(_TAW, UpdateError.INVALID_ORIGIN_ATTRIBUTE, f"undefined origin {v[0]}")
    out["origin"] = v[0]


def _dec_as_path(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    out["as_path"] = decode_as_path(v, 4 if as4 else 2)


def _dec_as4_path(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    try:
        out["as4_path"] = decode_as_path(v, 4)
    except _Problem as p:
        raise _Problem(_DISCARD, p.subcode, p.reason) from None


def _dec_next_hop(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if len(v) != 4:
        raise _Problem(_TAW, _LEN, f"length {len(v)}, expected 4")
    out["next_hop"] = v


def _dec_u32(name: str, action: ErrorAction) -> Any:
    def dec(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
        if len(v) != 4:
            raise _Problem(action, _LEN, f"length {len(v)}, expected 4")
        out[name] = int.from_bytes(v, "big")

    return dec


_dec_med = _dec_u32("med", _TAW)
_dec_originator = _dec_u32("originator_id", _TAW)


def _dec_local_pref(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if ibgp is False:
        raise _Problem(_DISCARD, _OPT, "LOCAL_PREF received from an external peer (RFC7606 7.5)")
    if len(v) != 4:
        raise _Problem(_TAW, _LEN, f"length {len(v)}, expected 4")
    out["local_pref"] = int.from_bytes(v, "big")


def _dec_originator_id(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if len(v) != 4:
        raise _Problem(_TAW, _LEN, f"length {len(v)}, expected 4")
    out["originator_id"] = v


def _dec_atomic(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if v:
        raise _Problem(_DISCARD, _LEN, f"length {len(v)}, expected 0")
    out["atomic_aggregate"] = True


def _dec_aggregator(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    size = 8 if as4 else 6
    if len(v) != size:
        raise _Problem(_DISCARD, _LEN, f"length {len(v)}, expected {size}")
    out["aggregator"] = Aggregator(int.from_bytes(v[: size - 4], "big"), v[size - 4 :])


def _dec_as4_aggregator(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if len(v) != 8:
        raise _Problem(_DISCARD, _LEN, f"length {len(v)}, expected 8")
    out["as4_aggregator"] = Aggregator(int.from_bytes(v[:4], "big"), v[4:])


def _dec_communities(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if not v or len(v) % 4:
        raise _Problem(_TAW, _OPT, f"length {len(v)} is not a positive multiple of 4")
    out["communities"] = struct.unpack("!%dI" % (len(v) // 4), v)


def _dec_cluster_list(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if not v or len(v) % 4:
        raise _Problem(_TAW, _LEN, f"length {len(v)} is not a positive multiple of 4")
    out["cluster_list"] = tuple(v[k : k + 4] for k in range(0, len(v), 4))


def _dec_ext_communities(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if not v or len(v) % 8:
        raise _Problem(_TAW, _OPT, f"length {len(v)} is not a positive multiple of 8")
    out["ext_communities"] = tuple(v[k : k + 8] for k in range(0, len(v), 8))


def _dec_large_communities(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if not v or len(v) % 12:
        raise _Problem(_TAW, _OPT, f"length {len(v)} is not a positive multiple of 12")
    flat = struct.unpack("!%dI" % (len(v) // 4), v)
    out["large_communities"] = tuple(
        (flat[k], flat[k + 1], flat[k + 2]) for k in range(0, len(flat), 3)
    )


def _dec_pmsi(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    if len(v) < 5:
        raise _Problem(_TAW, _OPT, f"length {len(v)} is below the minimum 5")
    out["pmsi_tunnel"] = PmsiTunnel(v[0], v[1], int.from_bytes(v[2:5], "big"), v[5:])


def _dec_aigp(v: bytes, as4: bool, ibgp: bool | None, out: dict[str, Any]) -> None:
    # RFC7311 3: a sequence of TLVs; we read the AIGP TLV (type 1, length 11)
    i = 0
    metric = None
    while i < len(v):
        if i + 3 > len(v):
            raise _Problem(_DISCARD, _OPT, "truncated AIGP TLV")
        tlv_type = v[i]
        tlv_len = (v[i + 1] << 8) | v[i + 2]
        if tlv_len < 3 or i + tlv_len > len(v):
            raise _Problem(_DISCARD, _OPT, f"AIGP TLV length {tlv_len} is invalid")
        if tlv_type == 1:
            if tlv_len != 11 or metric is not None:
                raise _Problem(_DISCARD, _OPT, "AIGP TLV must appear once with length 11")
            metric = int.from_bytes(v[i + 3 : i + 11], "big")
        i += tlv_len
    if metric is None or len(v) != 11:
        # valid but unusual: pass it through untouched
        raise _Problem(_DISCARD, _OPT, "AIGP attribute without a single AIGP TLV")
    out["aigp"] = metric


_DECODERS: dict[int, Any] = {
    AttrType.ORIGIN: _dec_origin,
    AttrType.AS_PATH: _dec_as_path,
    AttrType.NEXT_HOP: _dec_next_hop,
    AttrType.MULTI_EXIT_DISC: _dec_med,
    AttrType.LOCAL_PREF: _dec_local_pref,
    AttrType.ATOMIC_AGGREGATE: _dec_atomic,
    AttrType.AGGREGATOR: _dec_aggregator,
    AttrType.COMMUNITIES: _dec_communities,
    AttrType.ORIGINATOR_ID: _dec_originator_id,
    AttrType.CLUSTER_LIST: _dec_cluster_list,
    AttrType.EXTENDED_COMMUNITIES: _dec_ext_communities,
    AttrType.AS4_PATH: _dec_as4_path,
    AttrType.AS4_AGGREGATOR: _dec_as4_aggregator,
    AttrType.PMSI_TUNNEL: _dec_pmsi,
    AttrType.AIGP: _dec_aigp,
    AttrType.LARGE_COMMUNITIES: _dec_large_communities,
}

# ------------------------------------------------------------------------------- encoding


def _header(flags: int, atype: int, value: bytes) -> bytes:
    n = len(value)
    if n > 255:
        flags |= 0x10
    if flags & 0x10:
        return bytes((flags, atype, n >> 8, n & 0xFF)) + value
    return bytes((flags, atype, n)) + value


def encode_as_path(path: AsPath, asn_size: int) -> bytes:
    out = bytearray()
    for seg_type, asns in path.segments:
        for k in range(0, max(len(asns), 1), 255):
            chunk = asns[k : k + 255]
            out += bytes((seg_type, len(chunk)))
            if asn_size == 4:
                out += struct.pack("!%dI" % len(chunk), *chunk)
            else:
                out += struct.pack(
                    "!%dH" % len(chunk), *(a if a <= 0xFFFF else AS_TRANS for a in chunk)
                )
    return bytes(out)


def attribute_values(attrs: PathAttributes, as4: bool) -> dict[int, tuple[int, bytes]]:
    """Default flags and value octets of each attribute present (MP attributes excluded)."""
    out: dict[int, tuple[int, bytes]] = {}
    if attrs.origin is not None:
        out[AttrType.ORIGIN] = (WELL_KNOWN, bytes((attrs.origin,)))
    path = attrs.wire_as_path if attrs.wire_as_path is not None else attrs.as_path
    if path is not None:
        out[AttrType.AS_PATH] = (WELL_KNOWN, encode_as_path(path, 4 if as4 else 2))
    as4_path = attrs.as4_path
    if as4_path is None and not as4 and path is not None and any(a > 0xFFFF for a in path.asns()):
        as4_path = AsPath(tuple(s for s in path.segments if s[0] in (1, 2)))
    if as4_path is not None:
        out[AttrType.AS4_PATH] = (OPT_TRANS, encode_as_path(as4_path, 4))
    if attrs.nexthop_attr is not None:
        out[AttrType.NEXT_HOP] = (WELL_KNOWN, attrs.nexthop_attr)
    if attrs.med is not None:
        out[AttrType.MULTI_EXIT_DISC] = (OPT_NON_TRANS, attrs.med.to_bytes(4, "big"))
    if attrs.local_pref is not None:
        out[AttrType.LOCAL_PREF] = (WELL_KNOWN, attrs.local_pref.to_bytes(4, "big"))
    if attrs.atomic_aggregate:
        out[AttrType.ATOMIC_AGGREGATE] = (WELL_KNOWN, b"")
    agg = attrs.aggregator
    if agg is not None:
        if as4:
            out[AttrType.AGGREGATOR] = (OPT_TRANS, agg.asn.to_bytes(4, "big") + agg.address)
        else:
            asn2 = agg.asn if agg.asn <= 0xFFFF else AS_TRANS
            out[AttrType.AGGREGATOR] = (OPT_TRANS, asn2.to_bytes(2, "big") + agg.address)
    agg4 = attrs.as4_aggregator
    if agg4 is None and agg is not None and not as4 and agg.asn > 0xFFFF:
        agg4 = agg
    if agg4 is not None:
        out[AttrType.AS4_AGGREGATOR] = (OPT_TRANS, agg4.asn.to_bytes(4, "big") + agg4.address)
    if attrs.communities:
        out[AttrType.COMMUNITIES] = (
            OPT_TRANS,
            struct.pack("!%dI" % len(attrs.communities), *attrs.communities),
        )
    if attrs.originator_id is not None:
        out[AttrType.ORIGINATOR_ID] = (OPT_NON_TRANS, attrs.originator_id)
    if attrs.cluster_list:
        out[AttrType.CLUSTER_LIST] = (OPT_NON_TRANS, b"".join(attrs.cluster_list))
    if attrs.ext_communities:
        out[AttrType.EXTENDED_COMMUNITIES] = (OPT_TRANS, b"".join(attrs.ext_communities))
    if attrs.pmsi_tunnel is not None:
        p = attrs.pmsi_tunnel
        out[AttrType.PMSI_TUNNEL] = (
            OPT_TRANS,
            bytes((p.flags, p.tunnel_type)) + p.label.to_bytes(3, "big") + p.tunnel_id,
        )
    if attrs.aigp is not None:
        out[AttrType.AIGP] = (OPT_NON_TRANS, b"\x01\x00\x0b" + attrs.aigp.to_bytes(8, "big"))
    if attrs.large_communities:
        flat = [x for lc in attrs.large_communities for x in lc]
        out[AttrType.LARGE_COMMUNITIES] = (OPT_TRANS, struct.pack("!%dI" % len(flat), *flat))
    for raw in attrs.unknown:
        out[raw.type] = (raw.flags, raw.value)
    return out


def encode_attributes(
    attrs: PathAttributes, as4: bool, mp_values: dict[int, bytes] | None = None
) -> bytes:
    """The attribute block. ``mp_values`` gives the MP_REACH/MP_UNREACH values to place: where
    the layout recorded them, else first (RFC7606 5.1)."""
    values = attribute_values(attrs, as4)
    mp_values = mp_values or {}
    parts: list[bytes] = []
    done: set[int] = set()
    layout_types = {t for t, _ in attrs.layout}
    for t in (AttrType.MP_UNREACH_NLRI, AttrType.MP_REACH_NLRI):
        if t in mp_values and t not in layout_types:
            parts.append(_header(OPT_NON_TRANS | 0x10, t, mp_values[t]))
            done.add(t)
    for atype, flags in attrs.layout:
        if atype in (AttrType.MP_REACH_NLRI, AttrType.MP_UNREACH_NLRI):
            if atype in mp_values:
                parts.append(_header(flags, atype, mp_values[atype]))
                done.add(atype)
            continue
        found = values.get(atype)
        if found is not None and atype not in done:
            # keep the received flags (extended-length and partial bits included)
            value = found[1]
            if len(value) > 255:
                flags |= 0x10
            parts.append(_header(flags, atype, value))
            done.add(atype)
    for atype in sorted(values):
        if atype not in done:
            flags, value = values[atype]
            parts.append(_header(flags, atype, value))
    return b"".join(parts)
