"""Helpers of the lab tests: a state directory and lab names of their own per test, the CLI run
as a user would (a subprocess), and checks that nothing the lab recorded is left."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from bgpvpn.lab import runner, system
from bgpvpn.lab.render import toml_dumps
from bgpvpn.lab.state import LabState

BGPVPN = str(Path(sys.executable).parent / "bgpvpn")
ROOT = Path(__file__).resolve().parents[2]
_names = itertools.count()


def need(*binaries: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    missing = [b for b in ("ip", "ping", *binaries) if not system.which(b)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


class LabEnv:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bgpvpn-lab-test-"))
        self.root.chmod(0o755)  # FRR's daemons run as user frr
        self.env = dict(os.environ, BGPVPN_LAB_DIR=str(self.root))
        self.names: list[str] = []

    def name(self) -> str:
        n = f"t{os.getpid() % 100000}x{next(_names)}"
        self.names.append(n)
        return n

    def write(self, topo: dict[str, Any]) -> Path:
        f = self.root / f"{topo['lab']['name']}.toml"
        f.write_text(toml_dumps(topo))
        return f

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BGPVPN, "lab", *args],
            capture_output=True, text=True, env=self.env, timeout=timeout, check=False,
        )  # fmt: skip

    def ok(self, *args: str) -> str:
        res = self.cli(*args)
        assert res.returncode == 0, f"lab {' '.join(args)}: {res.stdout}\n{res.stderr}"
        return res.stdout

    def status(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self.ok("status", "--name", name, "--json")))

    def state(self, name: str) -> LabState:
        return LabState.load(self.root / name)

    def close(self) -> None:
        for n in self.names:
            with contextlib.suppress(Exception):
                runner.down(self.root, n)
        shutil.rmtree(self.root, ignore_errors=True)


def small(name: str, rr_kind: str = "gobgp") -> dict[str, Any]:
    """Two bgpvpn hosts and a route reflector; the reflector also forwards between the
    hosts' loopbacks."""
    return {
        "lab": {"name": name, "dataplane": "dummy"},
        "hosts": [
            {"name": "rr", "kind": rr_kind, "asn": 64512, "loopback": "203.0.113.254/32",
             "route_reflector": True,
             "routes": ["203.0.113.1/32 via 192.0.2.1", "203.0.113.2/32 via 192.0.2.5"]},
            {"name": "h1", "kind": "bgpvpn", "asn": 64512, "loopback": "203.0.113.1/32",
             "route_reflectors": ["rr"],
             "routes": ["203.0.113.2/32 via 192.0.2.2 src 203.0.113.1"]},
            {"name": "h2", "kind": "bgpvpn", "asn": 64512, "loopback": "203.0.113.2/32",
             "route_reflectors": ["rr"],
             "routes": ["203.0.113.1/32 via 192.0.2.6 src 203.0.113.2"]},
        ],
        "links": [
            {"a": "h1:192.0.2.1/30", "b": "rr:192.0.2.2/30"},
            {"a": "h2:192.0.2.5/30", "b": "rr:192.0.2.6/30"},
        ],
    }  # fmt: skip


def assert_gone(st: LabState) -> None:
    """Nothing the lab recorded still exists."""
    left_ns = [ns for ns in st.namespaces if system.netns_exists(ns)]
    left_procs = [p for p in st.processes if system.proc_alive(p.pid, p.start_time)]
    assert not left_ns, f"namespaces left: {left_ns}"
    assert not left_procs, f"processes left: {left_procs}"
    assert not any(ns.startswith(f"{st.name}-") for ns in system.netns_list())
