"""Hypothesis strategies shared by the wire property and fuzz tests.

Everything here builds *valid* objects of the codec (typed routes, attribute sets, capabilities,
messages) plus the small models the tests compare decoded values against.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, fields

from hypothesis import strategies as st

from bgpvpn.wire.attributes import Aggregator, AsPath, PathAttributes, PmsiTunnel, RawAttribute
from bgpvpn.wire.capabilities import (
    AddPath,
    AddPathFamily,
    EnhancedRouteRefresh,
    ExtendedMessage,
    ExtendedNextHop,
    ExtendedNextHopEntry,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    GracefulRestartFamily,
    LongLivedGracefulRestart,
    LongLivedGracefulRestartFamily,
    Multiprotocol,
    RouteRefresh,
    UnknownCapability,
)
from bgpvpn.wire.communities import WELL_KNOWN_COMMUNITIES
from bgpvpn.wire.constants import AFI, AS_TRANS, AttrType, TunnelType
from bgpvpn.wire.context import WireContext
from bgpvpn.wire.family import (
    EVPN,
    IPV4_FLOWSPEC,
    IPV4_LU,
    IPV4_MULTICAST,
    IPV4_UNICAST,
    IPV6_FLOWSPEC,
    IPV6_LU,
    IPV6_UNICAST,
    RTC,
    VPNV4,
    VPNV6,
    Family,
)
from bgpvpn.wire.messages import (
    CapabilitiesParameter,
    KeepaliveMessage,
    NotificationMessage,
    OpenMessage,
    RouteRefreshMessage,
    UnknownParameter,
    encode_message,
)
from bgpvpn.wire.routes import (
    EvpnRoute,
    IPRoute,
    LabeledRoute,
    OpaqueRoute,
    RtMembershipRoute,
    VpnRoute,
)
from bgpvpn.wire.text import Prefix, RouteDistinguisher
from bgpvpn.wire.update import pack_updates

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u24 = st.integers(0, 0xFFFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)
ipv4 = st.binary(min_size=4, max_size=4)
ipv6 = st.binary(min_size=16, max_size=16)
mac = st.binary(min_size=6, max_size=6)
esi = st.one_of(st.just(bytes(10)), st.binary(min_size=10, max_size=10))
label20 = st.integers(0, 0xFFFFF)
asn2 = st.integers(1, 0xFFFF)
asn4 = st.integers(0x10000, 0xFFFFFFFF)
any_asn = st.one_of(asn2, asn4)

# ------------------------------------------------------------------------------ contexts

ALL_FAMILIES = (
    IPV4_UNICAST,
    IPV6_UNICAST,
    IPV4_MULTICAST,
    IPV4_LU,
    IPV6_LU,
    VPNV4,
    VPNV6,
    EVPN,
    RTC,
    IPV4_FLOWSPEC,
    IPV6_FLOWSPEC,
)


def contexts(family: Family | None = None) -> st.SearchStrategy[WireContext]:
    fams = st.just(family) if family is not None else st.sampled_from(ALL_FAMILIES)
    return st.builds(
        WireContext,
        as4=st.booleans(),
        add_path=st.one_of(st.just(frozenset()), fams.map(lambda f: frozenset({f}))),
        extended_message=st.booleans(),
    )


# ------------------------------------------------------------------------- text-form values


def masked_prefix(afi: int, length: int, address: bytes) -> Prefix:
    """A prefix whose bits past the length are zero (what the decoder hands back)."""
    n = int.from_bytes(address, "big")
    bits = len(address) * 8
    mask = ((1 << length) - 1) << (bits - length) if length else 0
    return Prefix(afi, length, (n & mask).to_bytes(len(address), "big"))


@st.composite
def prefixes(draw: st.DrawFn, afi: int | None = None, masked: bool = True) -> Prefix:
    if afi is None:
        afi = draw(st.sampled_from((AFI.IPV4, AFI.IPV6)))
    size = 4 if afi == AFI.IPV4 else 16
    length = draw(st.integers(0, size * 8))
    address = draw(st.binary(min_size=size, max_size=size))
    if masked:
        return masked_prefix(afi, length, address)
    return Prefix(afi, length, address)


def rd_type0() -> st.SearchStrategy[RouteDistinguisher]:
    return st.builds(
        lambda a, n: RouteDistinguisher(b"\x00\x00" + a.to_bytes(2, "big") + n.to_bytes(4, "big")),
        u16,
        u32,
    )


def rd_type1() -> st.SearchStrategy[RouteDistinguisher]:
    return st.builds(
        lambda ip, n: RouteDistinguisher(b"\x00\x01" + ip + n.to_bytes(2, "big")), ipv4, u16
    )


def rd_type2(asns: st.SearchStrategy[int] = asn4) -> st.SearchStrategy[RouteDistinguisher]:
    return st.builds(
        lambda a, n: RouteDistinguisher(b"\x00\x02" + a.to_bytes(4, "big") + n.to_bytes(2, "big")),
        asns,
        u16,
    )


route_distinguishers = st.one_of(rd_type0(), rd_type1(), rd_type2())
wire_rds = st.one_of(
    route_distinguishers, st.binary(min_size=8, max_size=8).map(RouteDistinguisher)
)

communities = st.one_of(u32, st.sampled_from(sorted(WELL_KNOWN_COMMUNITIES)))
large_communities = st.tuples(u32, u32, u32)

_TUNNEL_NAMES = [t.name.lower().replace("_", "-") for t in TunnelType]


def _mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


@st.composite
def ext_community_texts(draw: st.DrawFn) -> str:
    """Text forms of extended communities that ``ext_community_from_text`` accepts."""
    kind = draw(
        st.sampled_from(
            (
                "rt",
                "encap",
                "router-mac",
                "mac-mobility",
                "esi-label",
                "es-import",
                "color",
                "default-gateway",
                "raw",
            )
        )
    )
    if kind == "rt":
        name = draw(st.sampled_from(("target", "origin", "target-nt", "origin-nt", "rt", "soo")))
        form = draw(st.sampled_from(("as2", "ip", "as4", "as4L")))
        if form == "as2":
            return f"{name}:{draw(u16)}:{draw(u32)}"
        if form == "ip":
            ip = ".".join(str(b) for b in draw(ipv4))
            return f"{name}:{ip}:{draw(u16)}"
        if form == "as4":
            return f"{name}:{draw(asn4)}:{draw(u16)}"
        return f"{name}:{draw(u16)}L:{draw(u16)}"
    if kind == "encap":
        return "encap:" + draw(st.one_of(st.sampled_from(_TUNNEL_NAMES), u16.map(str)))
    if kind in ("router-mac", "es-import"):
        return f"{kind}:{_mac_text(draw(mac))}"
    if kind == "mac-mobility":
        return f"mac-mobility:{draw(u32)}" + draw(st.sampled_from(("", ":sticky")))
    if kind == "esi-label":
        return f"esi-label:{draw(u24)}" + draw(st.sampled_from(("", ":single-active")))
    if kind == "color":
        return f"color:{draw(u32)}"
    if kind == "default-gateway":
        return "default-gateway"
    return "0x" + draw(st.binary(min_size=8, max_size=8)).hex()


def _ext_from_text(text: str) -> bytes:
    from bgpvpn.wire.communities import ext_community_from_text

    return ext_community_from_text(text)


ext_communities = st.one_of(
    st.binary(min_size=8, max_size=8), ext_community_texts().map(_ext_from_text)
)

# --------------------------------------------------------------------------------- routes

MAX_BITS = {AFI.IPV4: 32, AFI.IPV6: 128}


def labels(count_max: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(label20, min_size=1, max_size=count_max).map(tuple)


@st.composite
def ip_routes(draw: st.DrawFn, afi: int) -> IPRoute:
    return IPRoute(draw(prefixes(afi)))


@st.composite
def labeled_routes(draw: st.DrawFn, afi: int) -> LabeledRoute:
    pfx = draw(prefixes(afi))
    most = min(3, (255 - MAX_BITS[afi]) // 24)
    return LabeledRoute(pfx, draw(labels(most)))


@st.composite
def vpn_routes(draw: st.DrawFn, afi: int) -> VpnRoute:
    pfx = draw(prefixes(afi))
    most = min(3, (255 - 64 - MAX_BITS[afi]) // 24)
    return VpnRoute(draw(wire_rds), pfx, draw(labels(most)))


@st.composite
def evpn_routes(draw: st.DrawFn) -> EvpnRoute:
    t = draw(st.sampled_from((1, 2, 3, 4, 5, 5, 2, 0, 6, 200)))
    rd = draw(wire_rds)
    if t == 1:
        return EvpnRoute(1, rd, draw(esi), draw(u32), labels=(draw(u24),))
    if t == 2:
        ip = draw(st.sampled_from((b"", b"4", b"6")))
        ipb = b"" if not ip else draw(ipv4 if ip == b"4" else ipv6)
        lbls = draw(st.lists(u24, min_size=1, max_size=2).map(tuple))
        return EvpnRoute(2, rd, draw(esi), draw(u32), draw(mac), ipb, labels=lbls)
    if t == 3:
        return EvpnRoute(3, rd, ethernet_tag=draw(u32), ip=draw(st.one_of(ipv4, ipv6)))
    if t == 4:
        return EvpnRoute(4, rd, draw(esi), ip=draw(st.one_of(ipv4, ipv6)))
    if t == 5:
        afi = draw(st.sampled_from((AFI.IPV4, AFI.IPV6)))
        pfx = draw(prefixes(afi, masked=draw(st.booleans())))
        gw = draw(ipv4 if afi == AFI.IPV4 else ipv6)
        return EvpnRoute(5, rd, draw(esi), draw(u32), prefix=pfx, gateway=gw, labels=(draw(u24),))
    # a route type the codec does not break into fields: kept whole
    return EvpnRoute(t, RouteDistinguisher(bytes(8)), body=draw(st.binary(max_size=60)))


@st.composite
def rtc_routes(draw: st.DrawFn) -> RtMembershipRoute:
    if draw(st.integers(0, 5)) == 0:
        return RtMembershipRoute(0)
    length = draw(st.one_of(st.integers(32, 96), st.sampled_from((32, 64, 96))))
    rt = draw(st.binary(min_size=((length + 7) >> 3) - 4, max_size=((length + 7) >> 3) - 4))
    return RtMembershipRoute(length, draw(u32), rt)


@st.composite
def flowspec_routes(draw: st.DrawFn, family: Family) -> OpaqueRoute:
    if draw(st.integers(0, 4)):
        body = draw(st.binary(min_size=1, max_size=40))
        return OpaqueRoute(family, bytes((len(body),)) + body)
    # RFC8955 4.1: the 2-octet length form (0xfnnn), mandatory from 240 octets
    body = draw(st.binary(min_size=1, max_size=300))
    return OpaqueRoute(family, bytes((0xF0 | (len(body) >> 8), len(body) & 0xFF)) + body)


def routes_for(family: Family) -> st.SearchStrategy[object]:
    if family in (IPV4_UNICAST, IPV4_MULTICAST):
        return ip_routes(AFI.IPV4)
    if family == IPV6_UNICAST:
        return ip_routes(AFI.IPV6)
    if family in (IPV4_LU, IPV6_LU):
        return labeled_routes(family.afi)
    if family in (VPNV4, VPNV6):
        return vpn_routes(family.afi)
    if family == EVPN:
        return evpn_routes()
    if family == RTC:
        return rtc_routes()
    return flowspec_routes(family)


# Valid MP_REACH next hops per family (the lengths the decoder accepts).
NEXT_HOP_SIZES: dict[Family, tuple[int, ...]] = {
    IPV4_UNICAST: (4,),
    IPV4_MULTICAST: (4, 16, 32),
    IPV6_UNICAST: (16, 32),
    IPV4_LU: (4, 16),
    IPV6_LU: (16, 32),
    VPNV4: (12, 24),
    VPNV6: (24, 48),
    EVPN: (4, 16),
    RTC: (4, 16),
    IPV4_FLOWSPEC: (0, 4),
    IPV6_FLOWSPEC: (0, 16),
}


def next_hops(family: Family) -> st.SearchStrategy[bytes]:
    return st.sampled_from(NEXT_HOP_SIZES[family]).flatmap(
        lambda n: st.binary(min_size=n, max_size=n)
    )


# ----------------------------------------------------------------------------- attributes


@st.composite
def as_paths(draw: st.DrawFn, confed: bool = True, big: bool = True) -> AsPath:
    """AS paths: optional leading confederation segments (2-octet member ASes), then
    sequences and sets; ``big`` allows 4-octet AS numbers outside confederation segments."""
    asn = any_asn if big else asn2
    segs: list[tuple[int, tuple[int, ...]]] = []
    if confed:
        for _ in range(draw(st.integers(0, 2))):
            segs.append(
                (draw(st.sampled_from((3, 4))), tuple(draw(st.lists(asn2, min_size=1, max_size=4))))
            )
    last = 0
    for _ in range(draw(st.integers(0, 4))):
        t = draw(st.sampled_from((1, 2)))
        if t == 2 and last == 2:
            t = 1
        segs.append((t, tuple(draw(st.lists(asn, min_size=1, max_size=20)))))
        last = t
    return AsPath(tuple(segs))


KNOWN_ATTR_TYPES = {int(t) for t in AttrType} - {int(AttrType.TUNNEL_ENCAPSULATION)}
unknown_attr_types = st.integers(19, 255).filter(lambda t: t not in KNOWN_ATTR_TYPES)


@st.composite
def unknown_attributes(draw: st.DrawFn) -> tuple[RawAttribute, ...]:
    types = draw(st.lists(unknown_attr_types, max_size=3, unique=True))
    out = []
    for t in sorted(types):
        flags = draw(st.sampled_from((0xC0, 0xE0, 0x80)))
        size = draw(st.sampled_from((0, 5, 40, 255, 256, 300)))
        out.append(RawAttribute(flags, t, draw(st.binary(min_size=size, max_size=size))))
    return tuple(out)


def _opt(s: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.none(), s)


@st.composite
def path_attributes(
    draw: st.DrawFn, next_hop: st.SearchStrategy[bytes] | None = None, as4: bool = True
) -> PathAttributes:
    """A random attribute set with ORIGIN and AS_PATH (mandatory for announcements)."""
    path = draw(as_paths(big=draw(st.booleans())))
    n_comm = draw(st.sampled_from((0, 1, 3, 70)))
    return PathAttributes(
        origin=draw(st.integers(0, 2)),
        as_path=path,
        next_hop=draw(next_hop) if next_hop is not None else None,
        med=draw(_opt(u32)),
        local_pref=draw(_opt(u32)),
        atomic_aggregate=draw(st.booleans()),
        aggregator=draw(_opt(st.builds(Aggregator, st.one_of(any_asn, st.just(AS_TRANS)), ipv4))),
        communities=tuple(draw(st.lists(communities, min_size=n_comm, max_size=n_comm))),
        originator_id=draw(_opt(ipv4)),
        cluster_list=tuple(draw(st.lists(ipv4, max_size=4))),
        ext_communities=tuple(draw(st.lists(ext_communities, max_size=8))),
        large_communities=tuple(draw(st.lists(large_communities, max_size=4))),
        pmsi_tunnel=draw(_opt(st.builds(PmsiTunnel, u8, u8, u24, st.binary(max_size=20)))),
        aigp=draw(_opt(u64)),
        unknown=draw(unknown_attributes()),
    )


ATTR_FIELDS = tuple(f.name for f in fields(PathAttributes) if f.name not in ("layout", "_hash"))


def attr_fields(attrs: PathAttributes) -> dict[str, object]:
    return {name: getattr(attrs, name) for name in ATTR_FIELDS}


def _as_trans(path: AsPath) -> AsPath:
    return AsPath(
        tuple((t, tuple(a if a <= 0xFFFF else AS_TRANS for a in asns)) for t, asns in path.segments)
    )


def expected_attributes(given: PathAttributes, ctx: WireContext, mp: bool) -> dict[str, object]:
    """What the decoder must hand back (field by field) for ``given`` sent with ``ctx``."""
    exp = attr_fields(given)
    if mp:
        exp["nexthop_attr"] = None
    else:
        nh = given.nexthop_attr if given.nexthop_attr is not None else given.next_hop
        assert nh is not None
        exp["nexthop_attr"] = exp["next_hop"] = nh[-4:]
    exp["unknown"] = tuple(
        RawAttribute(r.flags | (0x10 if len(r.value) > 255 else 0), r.type, r.value)
        for r in sorted(given.unknown, key=lambda r: r.type)
    )
    if not ctx.as4:
        path = given.as_path
        agg = given.aggregator
        wire_agg_asn = None
        if agg is not None and agg.asn > 0xFFFF:
            exp["aggregator"] = Aggregator(AS_TRANS, agg.address)
            exp["as4_aggregator"] = agg
            wire_agg_asn = AS_TRANS
        elif agg is not None:
            wire_agg_asn = agg.asn
        if path is not None and any(a > 0xFFFF for a in path.asns()):
            exp["as4_path"] = AsPath(tuple(s for s in path.segments if s[0] in (1, 2)))
            if wire_agg_asn is None or wire_agg_asn == AS_TRANS:
                exp["wire_as_path"] = _as_trans(path)  # merged back: as_path is the original
            else:  # RFC6793 4.2.3: AGGREGATOR not AS_TRANS, AS4_PATH ignored
                exp["as_path"] = _as_trans(path)
    return exp


# ------------------------------------------------------------------------------ OPEN etc.

families_any = st.builds(Family, u16, u8)


def _fqdn_ok(c: Fqdn) -> bool:
    return len(c.hostname.encode()) + len(c.domain.encode()) <= 200


short_text = st.text(max_size=40).filter(lambda s: len(s.encode()) <= 100)

KNOWN_CAP_CODES = {1, 2, 5, 6, 64, 65, 69, 70, 71, 73, 128}

capabilities = st.one_of(
    st.builds(Multiprotocol, families_any, u8),
    st.sampled_from(
        (RouteRefresh(2), RouteRefresh(128), EnhancedRouteRefresh(), ExtendedMessage())
    ),
    st.builds(FourOctetAs, u32),
    st.builds(
        GracefulRestart,
        st.integers(0, 0xFFF),
        st.booleans(),
        st.booleans(),
        st.lists(st.builds(GracefulRestartFamily, families_any, st.booleans()), max_size=4).map(
            tuple
        ),
        st.integers(0, 3),
    ),
    st.builds(
        LongLivedGracefulRestart,
        st.lists(
            st.builds(LongLivedGracefulRestartFamily, families_any, st.booleans(), u24),
            max_size=4,
        ).map(tuple),
    ),
    st.builds(
        AddPath,
        st.lists(st.builds(AddPathFamily, families_any, st.integers(1, 3)), max_size=4).map(tuple),
    ),
    st.builds(
        ExtendedNextHop,
        st.lists(st.builds(ExtendedNextHopEntry, st.builds(Family, u16, u16), u16), max_size=4).map(
            tuple
        ),
    ),
    st.builds(Fqdn, short_text, short_text).filter(_fqdn_ok),
    st.builds(
        UnknownCapability,
        u8.filter(lambda c: c not in KNOWN_CAP_CODES),
        st.binary(max_size=30),
    ),
)


def _cap_size(c: object) -> int:
    return 2 + len(c.encode_value())  # type: ignore[attr-defined]


@st.composite
def open_messages(draw: st.DrawFn) -> OpenMessage:
    caps = draw(st.lists(capabilities, max_size=12))
    # group the capabilities into parameters several ways
    params: list[CapabilitiesParameter | UnknownParameter] = []
    i = 0
    while i < len(caps):
        n = draw(st.integers(1, len(caps) - i))
        params.append(CapabilitiesParameter(tuple(caps[i : i + n])))
        i += n
    if draw(st.booleans()):
        params.append(CapabilitiesParameter(()))
    for _ in range(draw(st.integers(0, 2))):
        ptype = draw(u8.filter(lambda t: t not in (2, 255)))
        params.insert(
            draw(st.integers(0, len(params))),
            UnknownParameter(ptype, draw(st.binary(max_size=20))),
        )
    sizes = [
        (sum(_cap_size(c) for c in p.capabilities) if isinstance(p, CapabilitiesParameter) else 0)
        + (len(p.value) if isinstance(p, UnknownParameter) else 0)
        for p in params
    ]
    fits = all(s <= 255 for s in sizes) and sum(2 + s for s in sizes) <= 255
    extended = (not fits) or draw(st.booleans())
    return OpenMessage(draw(u16), draw(u16), draw(ipv4), tuple(params), 4, extended)


notifications = st.builds(NotificationMessage, u8, u8, st.binary(max_size=100))


@st.composite
def route_refreshes(draw: st.DrawFn) -> RouteRefreshMessage:
    subtype = draw(st.sampled_from((0, 1, 2, 0, 3, 255)))
    orf = b"" if subtype in (1, 2) else draw(st.binary(max_size=30))
    return RouteRefreshMessage(draw(families_any), subtype, orf)


# ---------------------------------------------------------------------------- UPDATE bytes


COMPAT_LABEL = b"\x80\x00\x00"
COMPAT_LABEL_VALUE = 0x80000


@dataclass(frozen=True)
class UpdateCase:
    family: Family
    routes: tuple[object, ...]
    path_ids: tuple[int, ...] | None
    attributes: PathAttributes | None
    ctx: WireContext
    mp: bool | None = None  # None: pack_updates decides (MP for all but IPv4 unicast)

    @property
    def uses_mp(self) -> bool:
        return self.mp if self.mp is not None else self.family != IPV4_UNICAST

    def wire(self) -> tuple[list[bytes], list[bytes | None]]:
        pairs = [r.to_wire() for r in self.routes]  # type: ignore[attr-defined]
        return [k for k, _ in pairs], [d for _, d in pairs]

    @property
    def compat_withdrawal(self) -> bool:
        """Labeled/VPN withdrawals carry the label 0x800000 instead of the routes' own stacks
        (RFC8277 2.4)."""
        return self.attributes is None and self.family in (IPV4_LU, IPV6_LU, VPNV4, VPNV6)

    def received(self) -> tuple[list[bytes], list[bytes | None]]:
        """The (keys, data) the receiver must decode."""
        keys, data = self.wire()
        if self.compat_withdrawal:
            data = [COMPAT_LABEL] * len(data)
        return keys, data

    def received_route(self, n: int) -> object:
        """The typed route the receiver must see for route ``n``."""
        route = self.routes[n]
        if self.compat_withdrawal:
            return dataclasses.replace(route, labels=(COMPAT_LABEL_VALUE,))  # type: ignore[type-var]
        return route

    def pack(self) -> list[bytes]:
        keys, data = self.wire()
        return pack_updates(
            self.family,
            keys,
            data if any(d is not None for d in data) else None,
            self.path_ids,
            self.attributes,
            self.ctx,
            self.mp,
        )


@st.composite
def update_cases(
    draw: st.DrawFn,
    family: Family | None = None,
    withdraw: bool | None = None,
    max_routes: int = 20,
    repeat: bool = True,
) -> UpdateCase:
    """Routes of one family with attributes (or a withdrawal), a context and path ids; the
    routes are repeated to fill several UPDATEs when ``repeat``."""
    if family is None:
        family = draw(st.sampled_from(ALL_FAMILIES))
    if withdraw is None:
        withdraw = draw(st.booleans())
    ctx = draw(contexts(family))
    base = draw(st.lists(routes_for(family), min_size=1, max_size=max_routes))
    ids = draw(st.lists(u32, min_size=len(base), max_size=len(base)))
    copies = 1
    if repeat:
        size = sum(
            len(k) + len(d or b"") + 4
            for k, d in (r.to_wire() for r in base)  # type: ignore[attr-defined]
        )
        copies = draw(st.integers(1, max(1, (3 * ctx.max_message_len) // size)))
    routes = tuple(base) * copies
    path_ids = None
    if family in ctx.add_path:
        path_ids = tuple(
            (ids[n % len(base)] + n // len(base)) & 0xFFFFFFFF for n in range(len(routes))
        )
    # IPv4 unicast also travels in MP_REACH/MP_UNREACH, with an IPv6 next hop (RFC8950)
    mp = draw(st.sampled_from((None, True))) if family == IPV4_UNICAST else None
    attrs = None
    if not withdraw:
        nh = next_hops(IPV4_MULTICAST) if mp else next_hops(family)
        attrs = draw(path_attributes(next_hop=nh, as4=ctx.as4))
    return UpdateCase(family, routes, path_ids, attrs, ctx, mp)


@st.composite
def valid_messages(draw: st.DrawFn, ctx: WireContext) -> bytes:
    """The octets of one valid message of any type, fit for ``ctx``."""
    kind = draw(
        st.sampled_from(("open", "keepalive", "notification", "refresh", "update", "update"))
    )
    if kind == "open":
        msg = draw(open_messages())
        return encode_message(msg)
    if kind == "keepalive":
        return encode_message(KeepaliveMessage())
    if kind == "notification":
        return encode_message(draw(notifications))
    if kind == "refresh":
        return encode_message(draw(route_refreshes()))
    fam = draw(st.sampled_from(ALL_FAMILIES))
    case = draw(update_cases(family=fam, max_routes=6, repeat=False))
    case = UpdateCase(
        case.family,
        case.routes,
        case.path_ids if fam in ctx.add_path else None,
        case.attributes,
        ctx,
    )
    if case.path_ids is None and fam in ctx.add_path:
        ids = tuple(draw(st.lists(u32, min_size=len(case.routes), max_size=len(case.routes))))
        case = UpdateCase(case.family, case.routes, ids, case.attributes, ctx)
    return draw(st.sampled_from(case.pack()))


def header(mtype: int, body: bytes) -> bytes:
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), mtype) + body
