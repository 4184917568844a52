"""End to end across the Linux data plane: the shipped example topologies come up with the
``linux`` drivers and their "VM" namespaces ping each other through E-VPN and IP VPN.

These tests wait for the Linux drivers (``bgpvpn.dataplane.linux``) and the daemon's attach API:
they skip, saying which is missing, until both are there, and run from the day they land."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from typing import Any

import pytest
from labtest import ROOT, LabEnv, need

pytestmark = pytest.mark.slow


def linux_dataplane_or_skip() -> None:
    if importlib.util.find_spec("bgpvpn.dataplane.linux") is None:
        pytest.skip("the Linux data plane (bgpvpn.dataplane.linux) is not there yet")


def example(name: str, lab: str) -> dict[str, Any]:
    data = tomllib.loads((ROOT / "examples" / name).read_text())
    data["lab"]["name"] = lab
    data["lab"]["dataplane"] = "linux"
    return data


def up_or_skip(labenv: LabEnv, f: Path) -> None:
    res = labenv.cli("up", str(f), "--wait", "90")
    if res.returncode != 0 and "has no attach API" in res.stderr:
        pytest.skip("the bgpvpn daemon does not serve the attach API yet")
    assert res.returncode == 0, res.stdout + res.stderr


def ping(labenv: LabEnv, name: str, a: str, b: str) -> None:
    """Up to ~10 s for routes to be imported and programmed, then it must answer."""
    for _ in range(10):
        if labenv.cli("ping", "--name", name, a, b, "-c", "1", "-q").returncode == 0:
            return
    res = labenv.cli("ping", "--name", name, a, b, "-c", "3")
    assert res.returncode == 0, f"{a} -> {b}: {res.stdout}{res.stderr}\n" + labenv.ok(
        "status", "--name", name
    )


def test_two_hosts_rr_evpn_and_ipvpn(labenv: LabEnv) -> None:
    need("gobgpd", "gobgp")
    linux_dataplane_or_skip()
    name = labenv.name()
    f = labenv.write(example("two-hosts-rr.toml", name))
    up_or_skip(labenv, f)
    doc = labenv.status(name)
    assert all(a["attached"] for a in doc["attachments"])
    ping(labenv, name, "vm-blue1", "vm-blue2")  # E-VPN, VXLAN VNI 100
    ping(labenv, name, "vm-blue2", "vm-blue1")
    ping(labenv, name, "vm-red1", "vm-red2")  # IP VPN
    # the two VPNs are separate
    assert labenv.cli("ping", "--name", name, "vm-blue1", "vm-red2", "-c", "1").returncode == 1
    labenv.ok("down", str(f))


def test_sp_l3vpn_hq_to_branch(labenv: LabEnv) -> None:
    """HQ pings BRANCH through VRF CUST-A; the PEs reach each other's loopbacks with routes
    their bgpvpn learned over IPv4 unicast BGP and programmed into the kernel (proto 186)."""
    need("/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "vtysh")
    linux_dataplane_or_skip()
    name = labenv.name()
    f = labenv.write(example("sp-l3vpn.toml", name))
    up_or_skip(labenv, f)
    ping(labenv, name, "hq", "branch")
    ping(labenv, name, "branch", "hq")
    for pe, other in (("sp1", "203.0.113.3"), ("sp3", "203.0.113.1")):
        routes = labenv.ok("exec", "--name", name, pe, "--", "ip", "route", "show", other)
        # the daemon's kernel routes carry protocol 186 (RTPROT_BGP: iproute2 says "bgp")
        learned = [r for r in routes.splitlines() if " proto bgp " in r or " proto 186 " in r]
        assert learned and " metric 20" in learned[0], f"{pe}: {routes}"
    labenv.ok("down", str(f))
