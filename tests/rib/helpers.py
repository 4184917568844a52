"""Builders for RIB tests: peers, UPDATEs through the real codec, decoding of outbound."""

from __future__ import annotations

from bgpvpn.rib import PeerInfo, Rib
from bgpvpn.wire import (
    DEFAULT_CONTEXT,
    AsPath,
    PathAttributes,
    UpdateMessage,
    WireContext,
    decode_message,
    pack_updates,
)
from bgpvpn.wire.family import IPV4_UNICAST, Family

LOCAL_ASN = 65000
ROUTER_ID = bytes((10, 255, 0, 1))
ADDR = {n: bytes((192, 0, 2, n)) for n in range(1, 255)}
LOCAL_ADDR = bytes((192, 0, 2, 254))


def peer(
    n: int,
    asn: int = LOCAL_ASN,
    *,
    router_id: bytes | None = None,
    rr_client: bool = False,
    next_hop_self: bool = False,
) -> PeerInfo:
    return PeerInfo(
        peer_id=f"p{n}",
        address=ADDR[n],
        asn=asn,
        router_id=router_id if router_id is not None else bytes((10, 0, 0, n)),
        ibgp=asn == LOCAL_ASN,
        local_address=LOCAL_ADDR,
        rr_client=rr_client,
        next_hop_self=next_hop_self,
    )


def prefix(n: int, m: int = 0) -> bytes:
    """Wire key of 10.m.n.0/24."""
    return bytes((24, 10, m, n))


def attrs(
    *asns: int,
    next_hop: bytes = bytes((192, 0, 2, 100)),
    origin: int = 0,
    med: int | None = None,
    local_pref: int | None = None,
    originator_id: bytes | None = None,
    cluster_list: tuple[bytes, ...] = (),
    rts: tuple[bytes, ...] = (),
) -> PathAttributes:
    return PathAttributes(
        origin=origin,
        as_path=AsPath.sequence(*asns),
        next_hop=next_hop,
        med=med,
        local_pref=local_pref,
        originator_id=originator_id,
        cluster_list=cluster_list,
        ext_communities=rts,
    )


def rt(n: int, asn: int = 65000) -> bytes:
    """Route target asn:n (type 0)."""
    return b"\x00\x02" + asn.to_bytes(2, "big") + n.to_bytes(4, "big")


def ctx_for(info: PeerInfo) -> WireContext:
    return WireContext(ibgp=info.ibgp)


def update(
    info: PeerInfo,
    keys: list[bytes],
    a: PathAttributes | None,
    family: Family = IPV4_UNICAST,
    data: list[bytes] | None = None,
) -> UpdateMessage:
    """The UpdateMessage a session would deliver: encoded then decoded by the codec."""
    ctx = ctx_for(info)
    (msg,) = pack_updates(family, keys, data, None, a, ctx)
    out = decode_message(msg, ctx)
    assert isinstance(out, UpdateMessage), out
    assert not out.problems, out.problems
    return out


def send(
    rib: Rib,
    info: PeerInfo,
    keys: list[bytes],
    a: PathAttributes | None,
    family: Family = IPV4_UNICAST,
    data: list[bytes] | None = None,
) -> None:
    rib.receive(info.peer_id, update(info, keys, a, family, data), 0.0)


def drain(rib: Rib, info: PeerInfo, ctx: WireContext = DEFAULT_CONTEXT) -> list[UpdateMessage]:
    """Decode what ``outbound`` gives for a peer."""
    out = []
    for raw in rib.outbound(info.peer_id, ctx):
        msg = decode_message(raw, ctx)
        assert isinstance(msg, UpdateMessage)
        out.append(msg)
    return out


def announced(msgs: list[UpdateMessage]) -> dict[bytes, PathAttributes]:
    out: dict[bytes, PathAttributes] = {}
    for m in msgs:
        for b in m.announced:
            for k in b.keys:
                assert b.attributes is not None
                out[k] = b.attributes
    return out


def withdrawn(msgs: list[UpdateMessage]) -> set[bytes]:
    return {k for m in msgs for b in m.withdrawn for k in b.keys}


def eors(msgs: list[UpdateMessage]) -> list[Family]:
    return [f for m in msgs if (f := m.end_of_rib) is not None]


def new_rib(**kw: object) -> Rib:
    return Rib(LOCAL_ASN, ROUTER_ID, **kw)  # type: ignore[arg-type]
