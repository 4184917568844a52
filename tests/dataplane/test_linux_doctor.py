"""``bgpvpn doctor``: kernel features tried in a throwaway namespace, the VTEP looked up, the
verdict per driver, the exit status."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bgpvpn.cli.main import app

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def doctor(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(app, ["doctor", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def test_features_are_tried_and_nothing_is_left() -> None:
    before = set(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else set()
    code, out = doctor("--vtep", "127.0.0.1")
    checks = {c["name"]: c for c in out["checks"]}
    # this machine kind: bridge, VXLAN and policy routing yes; VRF devices and MPLS no
    assert checks["kernel.bridge"]["status"] == "ok"
    assert checks["kernel.vxlan"]["status"] == "ok"
    assert checks["kernel.policy_routing"]["status"] == "ok"
    assert checks["kernel.vrf"]["status"] in ("ok", "info")
    assert checks["vtep"]["status"] == "ok"
    assert out["drivers"]["linux-ipvpn"]["variant"].startswith(("tables+rules", "vrf-devices"))
    assert code == (0 if out["ok"] else 1)
    after = set(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else set()
    assert not {n for n in after - before if n.startswith("bvdoctor")}


def test_missing_vtep_fails_with_the_fix(tmp_path: Path) -> None:
    code, out = doctor("--vtep", "203.0.113.250", "--driver", "linux-evpn")
    vtep = next(c for c in out["checks"] if c["name"] == "vtep")
    assert vtep["status"] == "fail" and "ip address add" in vtep["fix"]
    assert out["drivers"]["linux-evpn"] == {"can_run": False, "blocked_by": ["vtep"]}
    assert code == 1
    config = tmp_path / "bgpvpn.toml"
    config.write_text('[dataplane]\nvtep = "127.0.0.1"\n')
    code, out = doctor("-c", str(config), "--driver", "linux-evpn")
    assert next(c for c in out["checks"] if c["name"] == "vtep")["status"] == "ok"
    assert code == (0 if out["drivers"]["linux-evpn"]["can_run"] else 1)
