"""Smoke test of the same-run BaGPipe measurement (``bench/bagpipe_attach.py``): the real
bagpipe-bgp (networking-bagpipe's venv, as ``make deps`` installs it) takes 100 E-VPN and 100
IP VPN attachments through its REST API, and its bgpvpn peer receives every route they make.
Rates are printed by the bench, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAGPIPE_BGP = Path(sys.prefix) / "bagpipe" / "bin" / "bagpipe-bgp"


@pytest.mark.slow
@pytest.mark.skipif(not BAGPIPE_BGP.exists(), reason="networking-bagpipe not installed")
def test_bagpipe_attach_bench_quick_with_peer() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bagpipe_attach.py"),
            "--quick",
            "--peer",
            "--runs",
            "1",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    (run,) = doc["runs"]
    evpn, ipvpn = run["evpn"], run["ipvpn"]
    assert evpn["calls"] == ipvpn["calls"] == 100
    # every attachment's route reached the peer (E-VPN: one type-2 each and the type-3)
    assert evpn["peer_received"] == 101 and ipvpn["peer_received"] == 100
    # BaGPipe's one thread per VRF, as the issue says
    assert ipvpn["threads"] >= 100
    assert doc["median"]["evpn"]["calls_per_s"] > 0
