"""MRT (RFC6396 / RFC8050) reading."""

from __future__ import annotations

import struct

import pytest
from srcbuild import KEEPALIVE, UPDATE, bgp4mp, mrt, open_msg, peer_index, rib

from bgpvpn.sources import (
    Connection,
    MessageRecord,
    MrtPeer,
    PeerIndexRecord,
    RibEntryRecord,
    SourceError,
    StateChangeRecord,
    read_mrt,
    read_records,
)

ATTRS = bytes.fromhex("40010100" + "4002060201" + "0000fde9" + "400304c0000201")
PEERS = [
    ("192.0.2.1", "192.0.2.1", 65001),
    ("192.0.2.2", "2001:db8::2", 4200000000),
]


def table_dump() -> bytes:
    return (
        mrt(1000, 13, 1, peer_index("10.0.0.1", "main", PEERS))
        + mrt(1000, 13, 2, rib(0, b"\x18\xc6\x33\x64", [(0, 900, ATTRS), (1, 901, ATTRS)]))
        + mrt(1000, 13, 4, rib(1, b"\x20\x20\x01\x0d\xb8", [(1, 902, ATTRS)]))
    )


def test_peer_index_and_ribs_with_peers_resolved() -> None:
    recs = list(read_records(table_dump()))
    assert [type(r) for r in recs] == [PeerIndexRecord, RibEntryRecord, RibEntryRecord]
    pit, v4, v6 = recs
    assert isinstance(pit, PeerIndexRecord)
    assert pit.collector_id == "10.0.0.1" and pit.view_name == "main"
    assert pit.peers == (
        MrtPeer("192.0.2.1", "192.0.2.1", 65001),
        MrtPeer("192.0.2.2", "2001:db8::2", 4200000000),
    )
    assert pit.offset == 0 and pit.timestamp == 1000.0
    assert isinstance(v4, RibEntryRecord) and isinstance(v6, RibEntryRecord)
    assert (v4.subtype, v4.afi, v4.safi, v4.sequence) == ("RIB_IPV4_UNICAST", 1, 1, 0)
    assert v4.nlri == b"\x18\xc6\x33\x64"
    assert [(e.peer_index, e.peer_address, e.peer_as, e.peer_bgp_id) for e in v4.entries] == [
        (0, "192.0.2.1", 65001, "192.0.2.1"),
        (1, "2001:db8::2", 4200000000, "192.0.2.2"),
    ]
    assert v4.entries[0].originated == 900 and v4.entries[0].attributes == ATTRS
    assert v4.entries[0].path_id is None
    assert (v6.subtype, v6.afi, v6.safi, v6.nlri) == (
        "RIB_IPV6_UNICAST",
        2,
        1,
        b"\x20\x20\x01\x0d\xb8",
    )
    assert v6.entries[0].peer_address == "2001:db8::2"
    assert v6.offset == len(table_dump()) - (12 + 4 + 1 + 4 + 2 + 8 + len(ATTRS))


def test_rib_without_peer_table_or_bad_index() -> None:
    recs = list(read_mrt(mrt(5, 13, 3, rib(7, b"\x08\xe0", [(3, 1, ATTRS)]))))
    assert isinstance(recs[0], RibEntryRecord)
    assert recs[0].subtype == "RIB_IPV4_MULTICAST" and recs[0].safi == 2
    assert recs[0].entries[0].peer_address is None and recs[0].entries[0].peer_as is None


def test_rib_addpath_subtypes() -> None:
    data = mrt(1, 13, 1, peer_index("10.0.0.1", "", PEERS))
    data += mrt(1, 13, 8, rib(0, b"\x10\x0a\x01", [(0, 1, ATTRS), (0, 1, ATTRS)], [7, 8]))
    data += mrt(1, 13, 10, rib(1, b"\x00", [(1, 1, ATTRS)], [9]))
    recs = list(read_mrt(data))
    v4, v6 = recs[1], recs[2]
    assert isinstance(v4, RibEntryRecord) and isinstance(v6, RibEntryRecord)
    assert v4.subtype == "RIB_IPV4_UNICAST_ADDPATH"
    assert [e.path_id for e in v4.entries] == [7, 8]
    assert v6.subtype == "RIB_IPV6_UNICAST_ADDPATH" and v6.nlri == b"\x00"
    assert v6.entries[0].path_id == 9


@pytest.mark.parametrize(
    ("afi", "safi", "nlri"),
    [
        (
            1,
            128,
            bytes([88 + 24])
            + b"\x00\x01\x11"
            + b"\x00\x01\xfd\xe9\x00\x00\x00\x01"
            + b"\x0a\x01\x02",
        ),
        (25, 70, bytes([3, 17]) + bytes(17)),
        (1, 133, bytes([3, 1, 24, 10])),
    ],
    ids=["vpnv4", "evpn", "flowspec"],
)
def test_rib_generic(afi: int, safi: int, nlri: bytes) -> None:
    data = mrt(1, 13, 6, rib(3, nlri, [(0, 1, ATTRS)], generic=(afi, safi)))
    data += mrt(1, 13, 12, rib(4, nlri, [(0, 1, ATTRS)], [5], generic=(afi, safi)))
    recs = list(read_mrt(data))
    assert [type(r) for r in recs] == [RibEntryRecord, RibEntryRecord]
    a, b = recs
    assert isinstance(a, RibEntryRecord) and isinstance(b, RibEntryRecord)
    assert (a.subtype, a.afi, a.safi, a.nlri) == ("RIB_GENERIC", afi, safi, nlri)
    assert b.subtype == "RIB_GENERIC_ADDPATH" and b.entries[0].path_id == 5
    assert a.entries[0].attributes == ATTRS


def test_bgp4mp_message_as4_and_two_octet() -> None:
    data = mrt(2000, 16, 4, bgp4mp(4200000000, 65000, "192.0.2.2", "192.0.2.1", UPDATE, True))
    first = len(data)
    data += mrt(2001, 16, 1, bgp4mp(65002, 65000, "2001:db8::2", "2001:db8::1", KEEPALIVE, False))
    recs = list(read_records(data))
    a, b = recs
    assert isinstance(a, MessageRecord) and isinstance(b, MessageRecord)
    assert a.data == UPDATE and a.offset == 0 and a.timestamp == 2000.0
    assert (a.peer_as, a.local_as, a.as4, a.add_path) == (4200000000, 65000, True, False)
    assert a.connection == Connection("192.0.2.2", 0, "192.0.2.1", 0)
    assert b.data == KEEPALIVE and b.as4 is False and b.peer_as == 65002
    assert b.connection == Connection("2001:db8::2", 0, "2001:db8::1", 0)
    assert b.offset == first


def test_bgp4mp_et_timestamps() -> None:
    body = bgp4mp(65002, 65000, "192.0.2.2", "192.0.2.1", open_msg(), True)
    recs = list(read_mrt(mrt(1_700_000_000, 17, 4, body, usec=250_000)))
    assert isinstance(recs[0], MessageRecord)
    assert recs[0].timestamp == pytest.approx(1_700_000_000.25)
    assert recs[0].data == open_msg()


@pytest.mark.parametrize(
    ("subtype", "as4", "local", "add_path"),
    [
        (6, False, True, False),
        (7, True, True, False),
        (8, False, False, True),
        (9, True, False, True),
        (10, False, True, True),
        (11, True, True, True),
    ],
)
def test_bgp4mp_local_and_addpath(subtype: int, as4: bool, local: bool, add_path: bool) -> None:
    body = bgp4mp(65002, 65000, "192.0.2.2", "192.0.2.1", UPDATE, as4)
    (rec,) = read_mrt(mrt(1, 16, subtype, body))
    assert isinstance(rec, MessageRecord)
    assert (rec.as4, rec.add_path) == (as4, add_path)
    src = "192.0.2.1" if local else "192.0.2.2"
    assert rec.connection is not None and rec.connection.src == src
    assert (rec.peer_as, rec.local_as) == (65002, 65000)


def test_state_change() -> None:
    data = mrt(3, 16, 0, bgp4mp(65002, 65000, "192.0.2.2", "192.0.2.1", b"\x00\x01\x00\x02", False))
    data += mrt(
        4, 17, 5, bgp4mp(70000, 65000, "192.0.2.2", "192.0.2.1", b"\x00\x05\x00\x06", True), 9
    )
    a, b = read_mrt(data)
    assert a == StateChangeRecord(
        0, 3.0, Connection("192.0.2.2", 0, "192.0.2.1", 0), 65002, 65000, 1, 2
    )
    assert isinstance(b, StateChangeRecord)
    assert (b.peer_as, b.old_state, b.new_state) == (70000, 5, 6)
    assert b.timestamp == pytest.approx(4.000009)


def test_unknown_and_unsupported_types_are_skipped() -> None:
    ka = mrt(9, 16, 1, bgp4mp(1, 2, "192.0.2.2", "192.0.2.1", KEEPALIVE, False))
    data = mrt(1, 99, 0, b"abc") + mrt(1, 12, 1, b"x" * 30) + mrt(1, 13, 7, b"") + ka
    recs = list(read_mrt(data))
    assert [type(r) for r in recs] == [SourceError, SourceError, SourceError, MessageRecord]
    assert "unknown MRT type 99" in recs[0].reason  # type: ignore[union-attr]
    assert "TABLE_DUMP" in recs[1].reason  # type: ignore[union-attr]


def test_malformed_records_become_errors() -> None:
    bad_msg = mrt(1, 16, 1, bgp4mp(1, 2, "192.0.2.2", "192.0.2.1", KEEPALIVE[:-1] + b"", False))
    bad_len = mrt(1, 16, 1, bgp4mp(1, 2, "192.0.2.2", "192.0.2.1", KEEPALIVE + b"x", False))
    bad_afi = mrt(1, 16, 1, struct.pack(">HHHH", 1, 2, 0, 9) + bytes(8) + KEEPALIVE)
    short_rib = mrt(1, 13, 2, rib(0, b"\x18\xc6\x33\x64", [(0, 1, ATTRS)])[:-3])
    long_prefix = mrt(1, 13, 2, rib(0, b"\x21" + bytes(5), []))
    ok = mrt(1, 16, 1, bgp4mp(1, 2, "192.0.2.2", "192.0.2.1", KEEPALIVE, False))
    recs = list(read_mrt(bad_msg + bad_len + bad_afi + short_rib + long_prefix + ok))
    assert [type(r) for r in recs] == [SourceError] * 5 + [MessageRecord]
    offsets = [r.offset for r in recs]
    assert offsets == sorted(offsets) and offsets[0] == 0


def test_truncated_file() -> None:
    data = table_dump()
    for cut in (5, len(data) - 1, 12 + 4):
        recs = list(read_mrt(data[:cut]))
        assert isinstance(recs[-1], SourceError) and "truncated" in recs[-1].reason
        assert all(not isinstance(r, SourceError) for r in recs[:-1])
