"""Smoke test of the codec benchmark: ``bench/codec.py --quick --json`` runs, covers the three
route sets with positive rates, and its correctness checks pass. Speed targets are reported by
the bench itself, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "codec.py"


@pytest.mark.slow
def test_codec_bench_quick_json() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)

    assert doc["quick"] is True
    assert doc["checks_passed"] is True
    assert doc["checks"] and all(c["ok"] for c in doc["checks"]), [
        c for c in doc["checks"] if not c["ok"]
    ]
    sets = {s["name"]: s for s in doc["sets"]}
    assert set(sets) == {"ipv4", "vpnv4", "evpn-type2"}
    for name, s in sets.items():
        assert s["routes"] > 0, name
        assert s["updates"] > 0, name
        assert s["decode"]["routes_per_s"] > 0, name
        assert s["decode"]["gc_frozen_routes_per_s"] > 0, name
        assert s["encode"]["routes_per_s"] > 0, name
        assert s["memory"]["tracemalloc_bytes_per_route"] > 0, name
    assert {"cpu", "cores", "python", "date"} <= set(doc["machine"])
