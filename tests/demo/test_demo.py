"""The README's main command: ``scripts/demo.py``. The loopback scenario (what a non-root user
gets: two daemons, dummy data plane) must hold every check; the namespace scenario (root) is the
same as tests/lab's end-to-end pings over the two-host example, run here whole as users run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts" / "demo.py"

pytestmark = pytest.mark.slow


def test_loopback_demo_holds_every_check() -> None:
    res = subprocess.run(
        [sys.executable, str(DEMO), "--loopback"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert "every check held" in out
    for what in (
        "host1's blue VM MAC is in host2's E-VPN",
        "host1's red VM route is in host2's VRF",
        "isolation: no red route in blue",
        "isolation: no blue MAC in red",
    ):
        assert f"ok: {what}" in out


@pytest.mark.interop
@pytest.mark.skipif(os.geteuid() != 0, reason="the namespace demo needs root")
def test_namespace_demo_pings_across_and_not_between() -> None:
    res = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=400, check=False
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert "vm-blue1 -> vm-blue2 (198.51.100.12): reachable" in out
    assert "vm-red1 -> vm-red2 (198.51.100.131): reachable" in out
    assert "vm-blue1 -> vm-red2 (198.51.100.131): unreachable" in out
    assert "bvx-" in out and "proto bgp" in out  # kernel objects bgpvpn programmed were shown
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert not any(line.startswith("demo-") for line in listed.stdout.splitlines())
