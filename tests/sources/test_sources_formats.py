"""Format detection, raw streams, compression, garbage input and the golden fixtures."""

from __future__ import annotations

import bz2
import gzip
import ipaddress
import json
import lzma
import random
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from srcbuild import KEEPALIVE, UPDATE, Flow, bgp4mp, ether, mrt, open_msg, pcap, pcapng

from bgpvpn.sources import (
    FORMATS,
    MessageRecord,
    PeerIndexRecord,
    RibEntryRecord,
    SourceError,
    StateChangeRecord,
    detect_format,
    read_raw_stream,
    read_records,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def sample_pcap() -> bytes:
    f = Flow()
    pkts = [*f.handshake(), f.seg(True, open_msg()), f.seg(False, open_msg(65001) + KEEPALIVE)]
    return pcap([(float(i), ether(p)) for i, p in enumerate(pkts)])


def sample_mrt() -> bytes:
    return mrt(1, 16, 4, bgp4mp(65002, 65000, "192.0.2.2", "192.0.2.1", KEEPALIVE, True))


# -- raw streams -----------------------------------------------------------------------


def test_raw_stream() -> None:
    data = open_msg() + KEEPALIVE + UPDATE
    recs = list(read_raw_stream(data))
    assert [(r.offset, r.data) for r in recs if isinstance(r, MessageRecord)] == [
        (0, open_msg()),
        (len(open_msg()), KEEPALIVE),
        (len(open_msg()) + 19, UPDATE),
    ]
    assert all(isinstance(r, MessageRecord) and r.timestamp is None for r in recs)


def test_raw_stream_garbage_and_trailing_partial() -> None:
    data = KEEPALIVE + b"junk!" + KEEPALIVE + KEEPALIVE[:7]
    recs = list(read_raw_stream(data))
    assert [type(r) for r in recs] == [MessageRecord, SourceError, MessageRecord, SourceError]
    assert recs[1].offset == 19 and recs[2].offset == 24
    assert recs[3].offset == 43 and "truncated" in recs[3].reason  # type: ignore[union-attr]


# -- detection and compression ---------------------------------------------------------


def test_detect_format() -> None:
    assert detect_format(sample_pcap()) == "pcap"
    assert detect_format(pcapng([(0.0, b"")])) == "pcapng"
    assert detect_format(sample_mrt()) == "mrt"
    assert detect_format(KEEPALIVE) == "bgp"
    assert detect_format(gzip.compress(sample_mrt())) == "mrt"
    assert detect_format(bz2.compress(sample_pcap())) == "pcap"
    for junk in (b"", b"hello, world, this is text", b"\x1f\x8bnot gzip"):
        with pytest.raises(ValueError, match="cannot detect"):
            detect_format(junk)


def test_unknown_format_name() -> None:
    with pytest.raises(ValueError, match="unknown capture format"):
        read_records(b"", "tar")


def test_undetectable_yields_one_error() -> None:
    recs = list(read_records(b"certainly not a capture file"))
    assert len(recs) == 1 and isinstance(recs[0], SourceError) and recs[0].field == "format"


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_input(compress) -> None:
    for raw in (sample_pcap(), sample_mrt(), KEEPALIVE * 3):
        plain = list(read_records(raw))
        assert list(read_records(compress(raw))) == plain
        assert all(not isinstance(r, SourceError) for r in plain)
    # two concatenated members, as `cat a.gz b.gz` makes
    assert len(list(read_records(compress(sample_mrt()) + compress(sample_mrt())))) == 2


def test_truncated_compressed_input() -> None:
    data = gzip.compress(sample_mrt() * 50)
    recs = list(read_records(data[: len(data) // 2]))
    assert isinstance(recs[-1], SourceError) and "gzip" in recs[-1].field


# -- garbage never raises --------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000), fmt=st.sampled_from([None, *FORMATS]))
def test_random_bytes_never_raise(data: bytes, fmt: str | None) -> None:
    list(read_records(data, fmt))


def _mutations(seed: bytes, n: int) -> list[bytes]:
    rng = random.Random(1234)
    out = []
    for _ in range(n):
        b = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            op = rng.random()
            i = rng.randrange(len(b)) if b else 0
            if op < 0.6 and b:
                b[i] = rng.randrange(256)
            elif op < 0.8:
                del b[i : i + rng.randint(1, 20)]
            else:
                b[i:i] = rng.randbytes(rng.randint(1, 20))
        out.append(bytes(b))
    return out


@pytest.mark.parametrize(
    "seed",
    [
        sample_pcap(),
        pcapng([(float(i), b) for i, b in enumerate([ether(open_msg())])]),
        sample_mrt(),
        KEEPALIVE * 2,
    ],
    ids=["pcap", "pcapng", "mrt", "bgp"],
)
def test_mutated_files_never_raise(seed: bytes) -> None:
    for data in _mutations(seed, 400):
        for fmt in (None, *FORMATS):
            for rec in read_records(data, fmt):
                assert isinstance(
                    rec,
                    MessageRecord
                    | SourceError
                    | RibEntryRecord
                    | PeerIndexRecord
                    | StateChangeRecord,
                )


@given(st.data())
@settings(max_examples=50, deadline=None)
def test_mutated_pcap_segments_never_raise(data: st.DataObject) -> None:
    """Valid pcap framing around random link/IP/TCP bytes."""
    f = Flow()
    pkts = [ether(p) for p in (*f.handshake(), f.seg(True, open_msg()))]
    frames = [data.draw(st.sampled_from([*pkts, b""])) for _ in range(3)]
    frames = [
        fr[: data.draw(st.integers(0, len(fr)))] + data.draw(st.binary(max_size=60))
        for fr in frames
    ]
    for linktype in (0, 1, 101, 113, 276):
        list(read_records(pcap([(0.0, fr) for fr in frames], linktype=linktype)))


# -- golden fixtures -------------------------------------------------------------------

CAPTURES = sorted(FIXTURES.glob("captures/*/session.pcap*"))
MRTS = sorted(
    {
        p
        for pat in ("*.mrt", "*.mrt.gz", "*.mrt.bz2", "*.gz", "*.bz2")
        for p in FIXTURES.glob(f"mrt/{pat}")
    }
)


@pytest.mark.skipif(not CAPTURES, reason="no capture fixtures")
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_capture_fixture(path: Path) -> None:
    recs = list(read_records(path.read_bytes()))
    errors = [r for r in recs if isinstance(r, SourceError)]
    assert not errors, errors[:5]
    assert all(isinstance(r, MessageRecord) for r in recs)
    by_direction: dict[object, list[int]] = defaultdict(list)
    for r in recs:
        assert isinstance(r, MessageRecord)
        assert r.connection is not None and r.timestamp is not None
        by_direction[r.connection].append(r.data[18])
    assert len(by_direction) >= 2
    for conn, types in by_direction.items():
        assert 1 in types, f"no OPEN from {conn}"
        assert conn.reversed() in by_direction, f"{conn}: no messages the other way"


@pytest.mark.skipif(not CAPTURES, reason="no capture fixtures")
def test_pcap_and_pcapng_fixtures_agree() -> None:
    pairs = 0
    for directory in {p.parent for p in CAPTURES}:
        a, b = directory / "session.pcap", directory / "session.pcapng"
        if not (a.exists() and b.exists()):
            continue
        pairs += 1
        ra = [r for r in read_records(a.read_bytes()) if isinstance(r, MessageRecord)]
        rb = [r for r in read_records(b.read_bytes()) if isinstance(r, MessageRecord)]
        assert [(r.data, r.connection) for r in ra] == [(r.data, r.connection) for r in rb]
    if not pairs:
        pytest.skip("no session with both a pcap and a pcapng")


@pytest.mark.skipif(not MRTS, reason="no MRT fixtures")
@pytest.mark.parametrize("path", MRTS, ids=lambda p: p.name)
def test_mrt_fixture(path: Path) -> None:
    recs = list(read_records(path.read_bytes()))
    assert recs
    errors = [r for r in recs if isinstance(r, SourceError)]
    assert not errors, errors[:5]
    for r in recs:
        assert isinstance(r, MessageRecord | RibEntryRecord | PeerIndexRecord | StateChangeRecord)


def _prefix_text(afi: int, nlri: bytes) -> str:
    bits = nlri[0]
    size = 4 if afi == 1 else 16
    addr = ipaddress.ip_address(nlri[1:].ljust(size, b"\x00"))
    return f"{addr}/{bits}"


@pytest.mark.skipif(not MRTS, reason="no MRT fixtures")
def test_mrt_table_dump_fixture_prefixes() -> None:
    """The RIB prefixes of a TABLE_DUMP_V2 fixture match the routes its description lists."""
    checked = 0
    for path in MRTS:
        meta = path.with_suffix(".json")
        if not meta.exists():
            continue
        content = json.loads(meta.read_text()).get("content")
        if not isinstance(content, dict):
            continue
        expected = {item.split()[0] for routes in content.values() for item in routes}
        recs = list(read_records(path.read_bytes()))
        ribs = [r for r in recs if isinstance(r, RibEntryRecord)]
        assert {_prefix_text(r.afi, r.nlri) for r in ribs} == expected
        for r in ribs:
            for e in r.entries:
                assert e.peer_as is not None and e.peer_address is not None
        checked += 1
    if not checked:
        pytest.skip("no TABLE_DUMP_V2 fixture with a route list")


def test_mrt_timestamp_that_looks_like_bz2() -> None:
    """0x425A6839 = 'BZh9' = 2005-04-11 12:05:13 UTC: an MRT file, not a bz2 archive."""
    data = mrt(0x425A6839, 16, 4, bgp4mp(1, 2, "192.0.2.2", "192.0.2.1", KEEPALIVE, True))
    assert data.startswith(b"BZh9")
    assert detect_format(data) == "mrt"
    recs = list(read_records(data))
    assert len(recs) == 1 and isinstance(recs[0], MessageRecord)
    assert recs[0].timestamp == 0x425A6839
