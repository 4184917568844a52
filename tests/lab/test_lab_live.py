"""``bgpvpn lab`` for real: namespaces, a GoBGP or FRR route reflector and bgpvpn daemons
(dummy data plane), driven through the CLI in subprocesses as a user would. Each test uses its
own lab name and state directory; whatever a test leaves is removed by the lab's own ``down``
in the fixture's finalizer (documentation addresses only, nothing routed outside)."""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import subprocess
import time
import tomllib
from typing import Any

import pytest
from labtest import BGPVPN, ROOT, LabEnv, assert_gone, need, small

from bgpvpn.lab import system
from bgpvpn.lab.state import LabState

pytestmark = pytest.mark.slow


def test_up_status_exec_ping_down(labenv: LabEnv) -> None:
    need("gobgpd", "gobgp")
    name = labenv.name()
    f = labenv.write(small(name))
    out = labenv.ok("up", str(f))
    assert "BGP sessions established" in out and f"lab {name} is up" in out

    st = labenv.state(name)
    assert st.complete
    assert sorted(st.namespaces) == sorted(f"{name}-{h}" for h in ("rr", "h1", "h2"))
    assert {(p.node, p.role) for p in st.processes} == {
        ("rr", "gobgpd"), ("h1", "bgpvpn"), ("h2", "bgpvpn"),
    }  # fmt: skip

    doc = labenv.status(name)
    assert all(h["present"] and h["running"] for h in doc["hosts"])
    sessions = {(s["host"], s["peer"]): s["state"] for s in doc["sessions"]}
    assert sessions == {
        ("h1", "rr"): "established",
        ("h2", "rr"): "established",
        ("rr", "h1"): "established",
        ("rr", "h2"): "established",
    }
    table = labenv.ok("status", str(f))
    assert "BGP sessions" in table and "established" in table

    # exec: in the host's namespace, with the command's exit status
    addrs = labenv.ok("exec", "h1", "--", "ip", "-br", "addr")
    assert "192.0.2.1/30" in addrs and "203.0.113.1/32" in addrs
    assert labenv.cli("exec", "--name", name, "h2", "--", "sh", "-c", "exit 3").returncode == 3
    assert labenv.cli("exec", "nope", "--", "true").returncode == 1

    # ping: loopback to loopback through the reflector; an unreachable address gives 1
    res = labenv.cli("ping", "h1", "h2", "--count", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "reachable" in res.stdout
    assert labenv.cli("ping", "h1", "198.51.100.99", "-c", "1").returncode == 1

    # a second `up` of the same lab is refused and changes nothing
    again = labenv.cli("up", str(f))
    assert again.returncode == 1 and "already up" in again.stderr
    assert all(system.proc_alive(p.pid, p.start_time) for p in st.processes)

    out = labenv.ok("down", str(f))
    assert f"lab {name} is down" in out
    assert_gone(st)
    assert not (labenv.root / name).exists()
    assert "not up" in labenv.ok("down", str(f))  # idempotent
    assert "not up" in labenv.ok("down", "--name", name)


def test_down_after_daemons_crashed(labenv: LabEnv) -> None:
    need("gobgpd", "gobgp")
    name = labenv.name()
    f = labenv.write(small(name))
    labenv.ok("up", str(f), "--wait", "0")
    st = labenv.state(name)
    for p in st.processes:
        if p.role in ("bgpvpn", "gobgpd") and p.node in ("h1", "rr"):
            os.kill(p.pid, signal.SIGKILL)
    doc = labenv.status(name)
    dead = {h["name"] for h in doc["hosts"] if not h["running"]}
    assert dead == {"h1", "rr"}
    out = labenv.ok("down", "--name", name)
    assert "is down" in out
    assert_gone(st)


@pytest.mark.parametrize("when", ["namespaces", "processes", "still-running"])
def test_down_after_up_was_killed_midway(labenv: LabEnv, when: str) -> None:
    """kill -9 of `lab up` while it builds (once it made namespaces; once daemons run), or a
    `lab up` still building: `lab down FILE` removes everything."""
    need("gobgpd", "gobgp")
    name = labenv.name()
    f = labenv.write(small(name))
    up = subprocess.Popen(
        [BGPVPN, "lab", "up", str(f)], env=labenv.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    state_file = labenv.root / name / "state.json"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
                st = LabState.load(labenv.root / name) if state_file.exists() else None
                if st and when == "namespaces" and any(map(system.netns_exists, st.namespaces)):
                    break
                if st and when != "namespaces" and st.processes:
                    break
            assert up.poll() is None, "lab up ended before it could be stopped"
            time.sleep(0.01)
        else:
            pytest.fail(f"lab up recorded no {when} in time")
        if when != "still-running":
            up.kill()
            up.wait(10)
        st = labenv.state(name)
        assert not st.complete
        assert any(system.netns_exists(ns) for ns in st.namespaces)  # it did leave something
        out = labenv.ok("down", str(f))
        assert "is down" in out
        assert up.wait(10) is not None  # down stopped a `lab up` still building
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
    st = LabState(name=name, dir="", namespaces=st.namespaces, processes=st.processes)
    assert_gone(st)
    assert not (labenv.root / name).exists()


def test_a_namespace_the_lab_did_not_create_is_never_touched(labenv: LabEnv) -> None:
    need("gobgpd", "gobgp")
    name = labenv.name()
    f = labenv.write(small(name))
    foreign = f"{name}-h1"
    system.ip("netns", "add", foreign)
    try:
        res = labenv.cli("up", str(f))
        assert res.returncode == 1
        assert foreign in res.stderr and "not this lab's" in res.stderr
        assert system.netns_exists(foreign)
        assert "not up" in labenv.ok("down", str(f))
        assert system.netns_exists(foreign)
        assert not system.netns_exists(f"{name}-rr")
    finally:
        system.ip("netns", "del", foreign, check=False)


def test_failed_up_removes_what_it_built(labenv: LabEnv) -> None:
    """A daemon that cannot start makes `lab up` fail with its log, and clean up."""
    need("gobgpd", "gobgp")
    name = labenv.name()
    topo = small(name)
    topo["hosts"][1]["config"] = {"bgp": {"listen": "192.0.2.77"}}  # not an address of h1
    f = labenv.write(topo)
    res = labenv.cli("up", str(f), "--wait", "5")
    assert res.returncode == 1, res.stdout
    assert "bgpvpn on h1 exited" in res.stderr
    assert "removing what was built" in res.stdout
    assert not any(ns.startswith(f"{name}-") for ns in system.netns_list())


def sp_lab(name: str) -> dict[str, Any]:
    """examples/sp-l3vpn.toml without its customer sites (they need the attach API)."""
    data = tomllib.loads((ROOT / "examples" / "sp-l3vpn.toml").read_text())
    data = copy.deepcopy(data)
    data["lab"]["name"] = name
    data["lab"]["dataplane"] = "dummy"
    data.pop("vms", None)
    return data


def test_sp_l3vpn_underlay_with_frr_p_router(labenv: LabEnv) -> None:
    """SP1 - SP2 (FRR, IPv4 unicast only) - SP3: the PEs' loopbacks are announced in BGP and
    installed by zebra in the P router's kernel, so the PEs' VPNv4 session between loopbacks
    comes up through SP2, which has no VPN session."""
    need("/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "vtysh")
    name = labenv.name()
    f = labenv.write(sp_lab(name))
    labenv.ok("up", str(f))
    doc = labenv.status(name)
    sessions = {(s["host"], s["peer"]): s["state"] for s in doc["sessions"]}
    assert sessions[("sp1", "sp3")] == sessions[("sp3", "sp1")] == "established"
    assert sessions[("sp2", "sp1")] == sessions[("sp2", "sp3")] == "established"
    fams = {(s["host"], s["peer"]): s["families"] for s in doc["sessions"]}
    assert fams[("sp1", "sp2")] == ["ipv4"]
    assert "vpnv4" in fams[("sp1", "sp3")]
    sp2_routes = labenv.ok("exec", "sp2", "--", "ip", "route").splitlines()
    for lo, via in (("203.0.113.1", "192.0.2.1"), ("203.0.113.3", "192.0.2.6")):
        line = next((r for r in sp2_routes if r.startswith(f"{lo} ")), "")
        assert f"via {via} " in line and "proto bgp" in line, sp2_routes
    vty = str(labenv.root / name / "sp2")
    vpn = labenv.ok("exec", "sp2", "--", "vtysh", "--vty_socket", vty, "-c",
                    "show bgp ipv4 vpn json")  # fmt: skip
    assert "203.0.113" not in vpn and "198.51.100" not in vpn  # no VPN state on the P router
    res = labenv.cli("ping", "sp1", "sp3", "-c", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    labenv.ok("down", str(f))
    assert not any(ns.startswith(f"{name}-") for ns in system.netns_list())
