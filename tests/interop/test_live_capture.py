"""Live interop: run real BGP implementations (from Debian packages) in network namespaces this
test creates, capture their session, and decode it with bgpvpn: every message decodes without a
problem, re-encodes to the same octets, and the routes match GoBGP's own view. Runs the same
script that recorded the golden fixtures (scripts/capture_golden.py), which deletes its
namespaces and stops its daemons by PID, also on failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bgpvpn.decoding import RecordDecoder
from bgpvpn.sources import MessageRecord, read_records
from bgpvpn.wire import UpdateMessage, encode_message

ROOT = Path(__file__).resolve().parents[2]
NEEDED = ("gobgpd", "gobgp", "tcpdump", "ip", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh")

pytestmark = [pytest.mark.interop, pytest.mark.slow]


def _missing() -> list[str]:
    return [n for n in NEEDED if not (shutil.which(n) or Path(n).exists())]


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
@pytest.mark.parametrize("scenario", ["gobgp-frr-ibgp", "gobgp-exabgp"])
def test_live_session_decodes_exactly(scenario: str, tmp_path: Path) -> None:
    missing = _missing()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (make deps installs them)")
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "capture_golden.py"),
            "--scenario",
            scenario,
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    pcap = tmp_path / scenario / "session.pcap"
    decoder = RecordDecoder()
    types: set[str] = set()
    routes = 0
    for rec in read_records(pcap.read_bytes()):
        assert isinstance(rec, MessageRecord), rec
        ctx = decoder.context_for(rec)
        msg = decoder.decode(rec)
        assert not isinstance(msg, Exception), msg
        if isinstance(msg, UpdateMessage):
            assert msg.problems == ()
            routes += msg.route_count()[0]
        assert encode_message(msg, ctx) == rec.data
        types.add(msg.type.name)
    assert {"OPEN", "UPDATE", "KEEPALIVE"} <= types
    assert routes >= 10
