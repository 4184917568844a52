"""``kill -9`` of a bgpvpn VPN host and its restart with the same configuration (issue 4
section 6).

Hosts A (192.0.2.9) and B (192.0.2.5), each with the dummy drivers and an intent store that is
a real SQLite file in the lab directory, are route-reflector clients of R, a third bgpvpn daemon
(cluster id 192.0.2.254); all sessions have graceful restart (``[bgp] graceful_restart``), so R
is the receiving speaker that keeps A's routes while A is away.

The hosts' E-VPN and IP VPN import each other's export RT (A exports 64512:11/21, B imports
them, and the other way round) rather than sharing one: with one shared RT the bgpvpn reflector
never sends the host with the lowest router id any RT membership (see
``test_vpn_hosts.test_routes_flow_both_ways``), and B's routes would never reach A.

What is checked: after ``kill -9`` and a restart, A's ``GET /v1/instances`` (instances, ports,
RD, VNI, static routes, advertised routes, imported routes and dummy data-plane state) is what
it was before, ``GET /ping`` answers the same boot id, and B's ``GET /v1/instances`` never
changes, not while A is down (R keeps A's routes stale) nor after A is back. Deleting the store
before the restart gives a new boot id and an empty host, and B then loses A's routes (R drops
the stale ones at A's End-of-RIB).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from harness import Lab, NsHttp, VpnHost, bgpvpn_host_config, require, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.slow]

ASN = 64512
A, RA = "192.0.2.9", "192.0.2.10"
B, RB = "192.0.2.5", "192.0.2.6"
RID = "192.0.2.254"
FAMILIES = ["vpnv4", "evpn", "rtc"]
GR_TIME = 60
HOLD = 9
WAIT = 40
MAC_A, MAC_A2, MAC_B = "52:54:00:00:0a:01", "52:54:00:00:0a:02", "52:54:00:00:0b:01"


@dataclass
class Env:
    lab: Lab
    a: VpnHost
    b: VpnHost
    r: VpnHost
    store_a: Path
    extra: dict[str, Any] = field(default_factory=dict)


def _host_conf(me: str, rr_addr: str, store: str) -> str:
    peer = {"address": rr_addr, "asn": ASN, "families": FAMILIES, "hold_time": HOLD}
    return bgpvpn_host_config(
        ASN, me, [peer], store=store, vtep=me, extra=f"graceful_restart = {GR_TIME}"
    )


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    require()
    lab = Lab("vpnrestart")
    try:
        na, nb, nr = lab.ns("A"), lab.ns("B"), lab.ns("R")
        lab.link(na, "vAR", [f"{A}/30"], nr, "vRA", [f"{RA}/30"])
        lab.link(nb, "vBR", [f"{B}/30"], nr, "vRB", [f"{RB}/30"])
        peers = [
            {
                "address": h,
                "asn": ASN,
                "families": FAMILIES,
                "passive": True,
                "rr_client": True,
                "hold_time": HOLD,
            }
            for h in (A, B)
        ]
        r = VpnHost(
            lab,
            nr,
            "R",
            bgpvpn_host_config(
                ASN,
                RID,
                peers,
                store="",
                extra=f'cluster_id = "{RID}"\ngraceful_restart = {GR_TIME}',
            ),
        )
        store_a = lab.tmp / "A.db"
        a = VpnHost(lab, na, "A", _host_conf(A, RA, str(store_a)))
        b = VpnHost(lab, nb, "B", _host_conf(B, RB, str(lab.tmp / "B.db")))
        wait_until(
            "A and B established with R",
            lambda: a.established(RA) and b.established(RB),
            60,
            detail=lambda: (a.peers(), b.peers()),
        )
        _populate(a, b)
        yield Env(lab, a, b, r, store_a)
    finally:
        lab.close()


def _attach(h: VpnHost, body: dict[str, Any]) -> None:
    h.api("POST", "/v1/attach", body)


def _populate(a: VpnHost, b: VpnHost) -> None:
    """Two instances on each host, each importing what the other host exports."""
    for h, me, other, port, macs in (
        (a, "a", "b", "tapA", (MAC_A, MAC_A2)),
        (b, "b", "a", "tapB", (MAC_B,)),
    ):
        ev_exp, ev_imp = ("64512:11", "64512:12") if me == "a" else ("64512:12", "64512:11")
        ip_exp, ip_imp = ("64512:21", "64512:22") if me == "a" else ("64512:22", "64512:21")
        n = 10 if me == "a" else 20
        for i, mac in enumerate(macs):
            _attach(
                h,
                {
                    "instance_id": "ev1",
                    "instance_type": "evpn",
                    "port": f"{port}{i}",
                    "mac": mac,
                    "ips": [f"198.51.100.{n + i}/24"],
                    "import_rts": [ev_imp],
                    "export_rts": [ev_exp],
                    "description": f"{me} port {i}",
                },
            )
        _attach(
            h,
            {
                "instance_id": "ip1",
                "instance_type": "ipvpn",
                "port": f"{port}ip",
                "mac": f"52:54:00:00:{n:02x}:99",
                "ips": [f"203.0.113.{n}/24"],
                "import_rts": [ip_imp],
                "export_rts": [ip_exp],
            },
        )
        del other
    a.api(
        "POST",
        "/v1/instances/ip1/routes",
        {"prefix": "203.0.113.128/25", "next_hop": "203.0.113.11"},
    )


def normalized(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``GET /v1/instances`` without what may legitimately differ between two equal states:
    the order of lists of unordered things."""
    out = copy.deepcopy(instances)

    def key(x: Any) -> str:
        return json.dumps(x, sort_keys=True)

    for inst in out:
        for k in ("ports", "static_routes", "advertised_routes"):
            inst[k] = sorted(inst[k], key=key)
        for d in inst["imported_routes"]:
            d["paths"] = sorted(d["paths"], key=key)
        inst["imported_routes"] = sorted(inst["imported_routes"], key=key)
        prog = inst["dataplane"]["programmed"]
        if prog:
            for k in ("ports", "remote_macs", "routes"):
                prog[k] = sorted(prog[k], key=key)
    return sorted(out, key=lambda i: i["instance_id"])


def imports_ready(env: Env) -> bool:
    """Each host imported the other's routes (MACs, flood, host routes) into both instances."""
    a, b = env.a, env.b
    ia = {i["instance_id"]: i for i in a.instances()}
    ib = {i["instance_id"]: i for i in b.instances()}

    def dests(inst: dict[str, Any], vtep: str) -> set[str]:
        return {
            d["destination"]
            for d in inst["imported_routes"]
            if any(p["next_hop"] == vtep for p in d["paths"])
        }

    return (
        dests(ib["ev1"], A) >= {MAC_A, MAC_A2, "flood"}
        and dests(ib["ip1"], A) >= {"203.0.113.10/32", "203.0.113.128/25"}
        and dests(ia["ev1"], B) >= {MAC_B, "flood"}
        and dests(ia["ip1"], B) >= {"203.0.113.20/32"}
        and len(ib["ev1"]["dataplane"]["programmed"]["remote_macs"]) == 4
        and len(ia["ev1"]["dataplane"]["programmed"]["remote_macs"]) == 2
    )


class Watch:
    """Polls B's ``/v1/instances`` from a thread (its own connection) and records every answer
    that differs from ``expected``."""

    def __init__(self, ns: str, expected: list[dict[str, Any]]) -> None:
        self.api = NsHttp(ns)
        self.expected = expected
        self.polls = 0
        self.diffs: list[tuple[float, Any]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                got = normalized(self.api("GET", "/v1/instances"))
            except Exception as exc:  # recorded, the test fails on it
                self.errors.append(repr(exc))
            else:
                self.polls += 1
                if got != self.expected and len(self.diffs) < 5:
                    self.diffs.append((round(time.monotonic() - self._t0, 2), got))
            self._stop.wait(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)
        self.api.close()


def _stale_from_a(r: VpnHost) -> list[bool]:
    return [x["stale"] for f in ("evpn", "vpnv4") for x in r.rib_in(A, f)]


def test_kill9_and_restart_keeps_state_and_peer_view(env: Env) -> None:
    a, b, r = env.a, env.b, env.r
    wait_until(
        "both hosts imported each other's routes",
        lambda: imports_ready(env),
        WAIT,
        0.2,
        detail=lambda: (a.instances(), b.instances()),
    )
    boot = a.api("GET", "/ping")
    assert isinstance(boot, str) and boot == a.api("GET", "/v1/status")["boot_id"]
    before_a = normalized(a.instances())
    before_b = normalized(b.instances())
    assert [i["instance_id"] for i in before_a] == ["ev1", "ip1"]
    assert sum(len(i["advertised_routes"]) for i in before_a) == 7  # 2 MACs x2, type-3, 2 IP
    routes_r = sorted(json.dumps(x, sort_keys=True) for x in r.rib_in(A, "evpn"))
    assert len(routes_r) == 5

    watch = Watch(b.ns, before_b)
    try:
        a.kill9()
        # R keeps A's routes, stale (graceful restart), and B keeps seeing them
        wait_until(
            "A down at R, its routes kept stale",
            lambda: not r.established(A) and (lambda s: s and all(s))(_stale_from_a(r)),
            20,
            0.1,
            detail=lambda: (r.peers(), r.rib_in(A, "evpn")),
        )
        time.sleep(1.0)  # B is watched while A is away
        a.restart()
        wait_until(
            "A back and its state as before",
            lambda: a.established(RA) and normalized(a.instances()) == before_a,
            WAIT,
            0.2,
            detail=lambda: (a.peers(), json.dumps(a.instances())[:3000]),
        )
        wait_until(
            "A's routes at R fresh again",
            lambda: (lambda s: s and not any(s))(_stale_from_a(r)),
            WAIT,
            0.2,
            detail=lambda: r.rib_in(A, "evpn"),
        )
        time.sleep(1.0)  # and a little after the reconvergence
    finally:
        watch.stop()
    assert not watch.errors, watch.errors
    assert watch.polls > 20, watch.polls
    assert not watch.diffs, f"B's view changed while A restarted: {watch.diffs[:2]}"
    assert normalized(b.instances()) == before_b
    assert sorted(json.dumps(x, sort_keys=True) for x in r.rib_in(A, "evpn")) == routes_r
    # the same boot id: the agents need not re-send their attachments
    assert a.api("GET", "/ping") == boot
    assert normalized(a.instances()) == before_a


def test_store_deleted_gives_new_boot_id_and_empty_host(env: Env) -> None:
    a = env.a
    wait_until("both hosts imported each other's routes", lambda: imports_ready(env), WAIT, 0.2)
    boot = a.api("GET", "/ping")
    a.kill9()
    for p in env.store_a.parent.glob(env.store_a.name + "*"):  # the file, its -wal and -shm
        p.unlink()
    a.restart()
    new = a.api("GET", "/ping")
    assert isinstance(new, str) and new != boot
    assert a.instances() == []
    wait_until("A re-established", lambda: a.established(RA), WAIT, 0.2)
    # R swept A's stale routes at A's End-of-RIB (A re-announced nothing)
    wait_until(
        "A's routes gone from R",
        lambda: not env.r.rib_in(A, "evpn") and not env.r.rib_in(A, "vpnv4"),
        WAIT,
        0.2,
    )


def test_swept_stale_routes_withdrawn_at_the_other_host(env: Env) -> None:
    b = env.b
    # after test_store_deleted_gives_new_boot_id_and_empty_host: A came back with nothing, its
    # End-of-RIB ended the stale routes at R, and B must lose them too
    assert env.a.instances() == [] and not env.r.rib_in(A, "evpn")
    wait_until(
        "A's routes gone from B",
        lambda: (
            not any(
                p["next_hop"] == A
                for i in b.instances()
                for d in i["imported_routes"]
                for p in d["paths"]
            )
            and not any(
                A in i["dataplane"]["programmed"]["flood"]
                or any(m["vtep"] == A for m in i["dataplane"]["programmed"]["remote_macs"])
                or any(
                    h["vtep"] == A
                    for x in i["dataplane"]["programmed"]["routes"]
                    for h in x["next_hops"]
                )
                for i in b.instances()
            )
        ),
        WAIT,
        0.2,
        detail=b.instances,
    )
    assert not b.rib_in(RB, "evpn") or all(x["next_hop"] != A for x in b.rib_in(RB, "evpn"))
