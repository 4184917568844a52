"""Smoke test of the ingest benchmark: a real bgpvpn daemon on loopback takes 100,000 IPv4 routes
from the project's own sender over one session, holds all of them, and the idle 9 s-hold session
beside it stays up. Rates are printed by the bench, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ingest_bench_quick() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "ingest.py"),
            "--quick",
            "--no-gobgp",
            "--sets",
            "ipv4",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (result,) = json.loads(proc.stdout)
    assert result["receiver"] == "bgpvpn" and result["set"] == "ipv4"
    assert result["held"] == result["routes"] == 100_000
    assert result["seconds"] and result["rate"] > 0
    assert result["hold_timer_expired"] is False
    assert result["api_max_ms"] is not None
