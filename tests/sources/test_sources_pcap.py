"""pcap/pcapng reading, link layers and TCP reassembly."""

from __future__ import annotations

import pytest
from srcbuild import (
    ACK,
    KEEPALIVE,
    SYN,
    UPDATE,
    Flow,
    big_update,
    ether,
    ip,
    ipv4,
    null,
    open_msg,
    pcap,
    pcapng,
    sll,
    sll2,
    tcp,
)

from bgpvpn.sources import (
    Connection,
    MessageRecord,
    SourceError,
    read_pcap,
    read_records,
)
from bgpvpn.sources.tcp import TcpReassembler


def frames(packets: list[bytes], start: float = 1_700_000_000.0, link=ether) -> list:
    return [(start + i * 0.25, link(p)) for i, p in enumerate(packets)]


def messages(data: bytes, **kw) -> list[MessageRecord]:
    recs = list(read_pcap(data, **kw))
    errors = [r for r in recs if isinstance(r, SourceError)]
    assert not errors, errors
    return [r for r in recs if isinstance(r, MessageRecord)]


def session(flow: Flow | None = None) -> tuple[Flow, list[bytes]]:
    f = flow or Flow()
    pkts = f.handshake()
    pkts.append(f.seg(True, open_msg(65002, "192.0.2.2")))
    pkts.append(f.seg(False, open_msg(65001, "192.0.2.1")))
    pkts.append(f.seg(True, KEEPALIVE))
    pkts.append(f.seg(False, KEEPALIVE + UPDATE))
    return f, pkts


CLIENT = Connection("192.0.2.2", 40000, "192.0.2.1", 179)
SERVER = CLIENT.reversed()


def check_session(msgs: list[MessageRecord]) -> None:
    assert [(m.connection, m.data[18]) for m in msgs] == [
        (CLIENT, 1),
        (SERVER, 1),
        (CLIENT, 4),
        (SERVER, 4),
        (SERVER, 2),
    ]
    assert msgs[0].offset == 0 and msgs[1].offset == 0
    assert msgs[2].offset == len(msgs[0].data)
    assert msgs[4].offset == len(msgs[1].data) + 19
    assert msgs[4].data == UPDATE


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_nanoseconds(endian: str, nano: bool) -> None:
    _, pkts = session()
    data = pcap(frames(pkts, 1_700_000_000.123456), endian=endian, nano=nano)
    msgs = messages(data)
    check_session(msgs)
    # OPEN from client is packet 2 -> 1_700_000_000.123456 + 0.5
    assert msgs[0].timestamp == pytest.approx(1_700_000_000.623456, abs=1e-6)
    assert msgs[4].timestamp == pytest.approx(1_700_000_001.373456, abs=1e-6)


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("tsresol", [None, 9, 0x80 | 20])
def test_pcapng(endian: str, tsresol: int | None) -> None:
    _, pkts = session()
    data = pcapng(frames(pkts, 1_600_000_000.5), endian=endian, tsresol=tsresol)
    msgs = messages(data)
    check_session(msgs)
    assert msgs[0].timestamp == pytest.approx(1_600_000_001.0, abs=1e-5)


def test_pcapng_simple_packet_blocks_have_no_timestamp() -> None:
    _, pkts = session()
    msgs = messages(pcapng(frames(pkts), simple=True))
    check_session(msgs)
    assert all(m.timestamp is None for m in msgs)


def test_pcap_and_pcapng_agree() -> None:
    _, pkts = session()
    a = list(read_records(pcap(frames(pkts))))
    b = list(read_records(pcapng(frames(pkts))))
    assert [(r.data, r.offset, r.connection) for r in a if isinstance(r, MessageRecord)] == [
        (r.data, r.offset, r.connection) for r in b if isinstance(r, MessageRecord)
    ]


@pytest.mark.parametrize(
    ("linktype", "link"),
    [
        (1, ether),
        (1, lambda p: ether(p, vlans=(100,))),
        (1, lambda p: ether(p, vlans=(100, 200))),
        (113, sll),
        (276, sll2),
        (101, lambda p: p),
        (228, lambda p: p),
        (0, null),
    ],
    ids=["ether", "vlan", "qinq", "sll", "sll2", "raw", "ipv4", "null"],
)
def test_link_types(linktype: int, link) -> None:
    _, pkts = session()
    check_session(messages(pcap(frames(pkts, link=link), linktype=linktype)))


@pytest.mark.parametrize("ext", [False, True])
@pytest.mark.parametrize(("linktype", "link"), [(1, ether), (229, lambda p: p), (276, sll2)])
def test_ipv6(ext: bool, linktype: int, link) -> None:
    f = Flow(client="2001:db8::2", server="2001:db8::1", ext=ext)
    _, pkts = session(f)
    msgs = messages(pcap(frames(pkts, link=link), linktype=linktype))
    assert [m.data[18] for m in msgs] == [1, 1, 4, 4, 2]
    assert msgs[0].connection == Connection("2001:db8::2", 40000, "2001:db8::1", 179)


def test_message_split_across_three_segments() -> None:
    f = Flow()
    msg = big_update(200)  # 19 + 4 + 18 + 800 bytes
    pkts = f.handshake()
    parts = [msg[:10], msg[10:500], msg[500:]]
    pkts += [f.seg(True, p) for p in parts]
    pkts.append(f.seg(True, KEEPALIVE))
    recs = messages(pcap(frames(pkts)))
    assert [r.data for r in recs] == [msg, KEEPALIVE]
    # the message is timestamped with the packet that completed it (the 3rd data segment)
    assert recs[0].timestamp == pytest.approx(1_700_000_000.0 + 4 * 0.25)
    assert recs[1].offset == len(msg)


def test_retransmission_and_overlap_are_ignored() -> None:
    f = Flow()
    msg = big_update(50)
    pkts = f.handshake()
    first = f.seg(True, msg[:100])
    pkts += [first, first]  # exact duplicate
    pkts.append(f.seg(True, msg[50:150], at=50))  # overlaps the delivered bytes
    pkts.append(f.seg(True, msg[150:], at=150))
    pkts.append(f.seg(True, msg[150:], at=150))  # retransmission after delivery
    pkts.append(f.seg(True, KEEPALIVE, at=len(msg)))
    recs = messages(pcap(frames(pkts)))
    assert [r.data for r in recs] == [msg, KEEPALIVE]


def test_out_of_order_segments_wait_for_the_gap() -> None:
    f = Flow()
    stream = open_msg() + UPDATE + KEEPALIVE
    a, b, c = stream[:30], stream[30:70], stream[70:]
    pkts = [*f.handshake(), f.seg(True, c, at=70), f.seg(True, b, at=30), f.seg(True, a, at=0)]
    recs = messages(pcap(frames(pkts)))
    assert [r.data for r in recs] == [open_msg(), UPDATE, KEEPALIVE]
    # all completed by the last packet (the one that filled the gap)
    assert {r.timestamp for r in recs} == {1_700_000_000.0 + 4 * 0.25}
    assert [r.offset for r in recs] == [0, len(open_msg()), len(open_msg()) + len(UPDATE)]


def test_two_directions_interleaved_and_split() -> None:
    f = Flow()
    oc, os_ = open_msg(65002), open_msg(65001)
    pkts = [
        *f.handshake(),
        f.seg(True, oc[:20]),
        f.seg(False, os_[:5]),
        f.seg(True, oc[20:]),
        f.seg(False, os_[5:] + KEEPALIVE[:3]),
        f.seg(True, KEEPALIVE),
        f.seg(False, KEEPALIVE[3:]),
    ]
    recs = messages(pcap(frames(pkts)))
    assert [(r.connection, r.data) for r in recs] == [
        (CLIENT, oc),
        (SERVER, os_),
        (CLIENT, KEEPALIVE),
        (SERVER, KEEPALIVE),
    ]


def test_two_connections() -> None:
    f1 = Flow()
    f2 = Flow(client="192.0.2.3", cport=50000, cseq=77, sseq=99)
    pkts = [*f1.handshake(), *f2.handshake()]
    pkts += [f1.seg(True, open_msg(1)[:25]), f2.seg(True, open_msg(2)[:25])]
    pkts += [f2.seg(True, open_msg(2)[25:]), f1.seg(True, open_msg(1)[25:])]
    recs = messages(pcap(frames(pkts)))
    assert [(r.connection.src if r.connection else None, r.data) for r in recs] == [
        ("192.0.2.3", open_msg(2)),
        ("192.0.2.2", open_msg(1)),
    ]


def test_new_syn_on_the_same_four_tuple_starts_a_new_stream() -> None:
    f = Flow()
    pkts = [*f.handshake(), f.seg(True, KEEPALIVE), f.seg(True, KEEPALIVE[:10])]
    f.cseq = 123456
    pkts += [f.syn(True), f.seg(True, open_msg())]
    recs = list(read_pcap(pcap(frames(pkts))))
    assert [type(r) for r in recs] == [MessageRecord, SourceError, MessageRecord]
    assert isinstance(recs[1], SourceError) and "inside a message" in recs[1].reason
    assert isinstance(recs[2], MessageRecord) and recs[2].offset == 0
    assert recs[2].data == open_msg()


def test_sequence_number_wraparound() -> None:
    f = Flow(cseq=(1 << 32) - 30)
    stream = open_msg() + UPDATE
    pkts = [*f.handshake(), f.seg(True, stream[:20]), f.seg(True, stream[20:])]
    assert [r.data for r in messages(pcap(frames(pkts)))] == [open_msg(), UPDATE]


def test_capture_started_mid_connection() -> None:
    f = Flow()
    f.handshake()  # not captured
    f.seg(True, open_msg())
    pkts = [f.seg(True, KEEPALIVE), f.seg(True, UPDATE)]
    recs = messages(pcap(frames(pkts)))
    assert [r.data for r in recs] == [KEEPALIVE, UPDATE]
    assert recs[0].offset == 0  # relative to the first byte seen


def test_lost_segment_is_reported_and_later_messages_are_salvaged() -> None:
    f = Flow()
    pkts = [*f.handshake(), f.seg(True, open_msg())]
    f.seg(True, UPDATE[:30])  # lost by the capture
    pkts += [f.seg(True, UPDATE[30:]), f.seg(True, KEEPALIVE)]
    recs = list(read_pcap(pcap(frames(pkts))))
    assert isinstance(recs[0], MessageRecord) and recs[0].data == open_msg()
    errors = [r for r in recs if isinstance(r, SourceError)]
    assert errors and "missing" in errors[0].reason
    assert isinstance(recs[-1], MessageRecord) and recs[-1].data == KEEPALIVE
    assert recs[-1].offset == len(open_msg()) + len(UPDATE)


def test_segment_cut_by_snaplen() -> None:
    f = Flow()
    pkts = [*f.handshake(), f.seg(True, UPDATE), f.seg(True, KEEPALIVE)]
    cut = ether(pkts[2])[:70]
    data = pcap([(1.0, ether(pkts[0])), (2.0, cut), (3.0, ether(pkts[3]))])
    recs = list(read_pcap(data))
    assert isinstance(recs[0], SourceError) and "snaplen" in recs[0].reason
    assert [r.data for r in recs if isinstance(r, MessageRecord)] == [KEEPALIVE]


def test_port_filter() -> None:
    f = Flow(sport=1179)
    _, pkts = session(f)
    assert messages(pcap(frames(pkts))) == []
    assert len(messages(pcap(frames(pkts)), ports={1179})) == 5
    assert len(messages(pcap(frames(pkts)), ports=None)) == 5


def test_non_tcp_and_non_ip_are_ignored() -> None:
    _, pkts = session()
    udp = ipv4("192.0.2.9", "192.0.2.8", b"\x00\xb3\x00\xb3\x00\x08\x00\x00", proto=17)
    arp = b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + b"\x00" * 28
    data = pcap([(0.0, ether(udp)), (0.0, arp), *frames(pkts)])
    check_session(messages(data))


def test_truncated_file_ends_with_an_error() -> None:
    _, pkts = session()
    for data in (pcap(frames(pkts)), pcapng(frames(pkts))):
        for cut in (10, 24 + 8, len(data) - 5):
            recs = list(read_pcap(data[:cut]))
            assert isinstance(recs[-1], SourceError)
            assert "truncated" in recs[-1].reason
        # the last packet (server KEEPALIVE + UPDATE) is lost: three messages remain
        recs = list(read_pcap(data[:-7]))
        assert [type(r) for r in recs] == [MessageRecord] * 3 + [SourceError]


def test_captured_length_beyond_snaplen_is_skipped() -> None:
    _, pkts = session()
    data = pcap(frames(pkts), snaplen=70)  # the OPENs and the last packet exceed it
    recs = list(read_pcap(data))
    assert any("exceeds snaplen" in r.reason for r in recs if isinstance(r, SourceError))


def test_unsupported_link_type_reported_once() -> None:
    _, pkts = session()
    recs = list(read_pcap(pcap(frames(pkts), linktype=147)))
    assert len(recs) == 1 and isinstance(recs[0], SourceError)
    assert "link type 147" in recs[0].reason


def test_not_a_pcap() -> None:
    recs = list(read_pcap(b"hello world"))
    assert len(recs) == 1 and isinstance(recs[0], SourceError)


def test_syn_with_data_and_retransmitted_syn() -> None:
    f = Flow()
    src, dst = f.client, f.server
    syn = ip(src, dst, tcp(40000, 179, f.cseq, SYN, KEEPALIVE))
    recs = messages(pcap(frames([syn, syn, f.seg(True, KEEPALIVE, at=19)])))
    assert [r.offset for r in recs] == [0, 19]


def test_many_tiny_reversed_segments_are_fast() -> None:
    """Hostile ordering: a long message in 1-byte segments, last byte first."""
    f = Flow()
    msg = big_update(2000)
    segments = [f.seg(True, msg[i : i + 1], at=i) for i in range(len(msg))]
    pkts = [f.syn(True), *reversed(segments)]
    reasm = TcpReassembler()
    out = []
    for p in pkts:
        out += reasm.packet(p, None, 0)
    out += reasm.finish()
    assert [r.data for r in out if isinstance(r, MessageRecord)] == [msg]
    assert not [r for r in out if isinstance(r, SourceError)]


def test_pending_limit_skips_the_gap() -> None:
    f = Flow()
    reasm = TcpReassembler(max_pending=100)
    out = reasm.packet(f.syn(True), None, 0)
    f.seg(True, KEEPALIVE)  # lost
    for _ in range(8):
        out += reasm.packet(f.seg(True, KEEPALIVE), None, 0)
    kinds = [type(r) for r in out]
    assert kinds[0] is SourceError
    assert kinds.count(MessageRecord) == 8
    assert isinstance(out[0], SourceError) and "too much data" in out[0].reason


def test_ack_only_and_fin_packets() -> None:
    f = Flow()
    _, pkts = session(f)
    src, dst = f.client, f.server
    ack = ip(src, dst, tcp(40000, 179, f.cseq + 1 + f.sent[True], ACK))
    fin = ip(src, dst, tcp(40000, 179, f.cseq + 1 + f.sent[True], ACK | 0x01))
    check_session(messages(pcap(frames([*pkts, ack, fin]))))
