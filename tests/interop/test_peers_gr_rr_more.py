"""Graceful restart (bgpvpn as receiving speaker) and route reflection (bgpvpn as RR) against
FRR 8.4, BIRD 2.0.12, OpenBGPD 7.7 and ExaBGP 4.2 (test_peers_gr_rr.py does the same against
GoBGP 3.10).

Two labs (module-scoped, built when first used; documentation addresses only):

* ``gr``: A bgpvpn (AS 65000) with four iBGP peers that it treats as GR-capable, each in its own
  namespace: FRR (``bgp graceful-restart``, ``preserve-fw-state``), BIRD (``graceful restart
  on``; restarted with ``-R`` it sets the R and F bits), ExaBGP (``graceful-restart``,
  ``manual-eor``: it sends End-of-RIB only when told, which shows that bgpvpn keeps the stale
  routes *until* End-of-RIB and sweeps per family) and OpenBGPD (``announce restart yes``); plus
  O, a GoBGP eBGP peer (AS 65001) that watches what bgpvpn advertises. Restart time 60 s, so a
  reconnect under CI load is never mistaken for the stale timer's expiry.
* ``rr``: R bgpvpn (AS 65010, cluster id 192.0.2.254) with three iBGP RR clients: F1 and F2
  (FRR) and B (BIRD), ipv4 + vpnv4; each client routes 192.0.2.0/24 via R so that the next
  hops of reflected routes resolve.

OpenBGPD 7.7 implements only the receiving side of graceful restart: "announce restart yes"
sends the capability with the R bit, restart time 0 and no address family (2 octets; tshark:
"supported in Helper mode only"), so it cannot be a restarting speaker: its test checks that
bgpvpn does not keep its routes when it dies.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from checks import bgpvpn_peer, lab_env, wait_established
from harness import (
    FRR,
    Bgpvpn,
    Bird,
    ExaBGPCtl,
    GoBGP,
    Lab,
    OpenBGPD,
    bgpvpn_config,
    frr_paths,
    gobgp_config,
    gobgp_find,
    gobgp_neighbor,
    require,
    run,
    wait_until,
)

pytestmark = [pytest.mark.interop, pytest.mark.slow]

HOLD = 6  # a session is "stable" (bgpvpn's reconnect back-off resets) after a hold time up
GR_TIME = 60  # long enough that a reconnect back-off under load never looks like expiry
AS = 65000
RT = "65000:100"

# gr lab: bgpvpn's address towards each peer, and the peer's
A_F, F = "192.0.2.1", "192.0.2.2"  # FRR
A_B, B = "192.0.2.5", "192.0.2.6"  # BIRD
A_E, E = "192.0.2.9", "192.0.2.10"  # ExaBGP
A_D, D = "192.0.2.13", "192.0.2.14"  # OpenBGPD
A_O, O = "198.51.100.1", "198.51.100.2"  # GoBGP observer (eBGP)


@dataclass(frozen=True)
class Route:
    family: str  # "ipv4" or "vpnv4"
    prefix: str
    rd: str | None = None
    label: int = 0
    keep: bool = True  # re-announced after the restart

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.family, self.prefix, self.rd)

    @property
    def obs_dest(self) -> str:
        """GoBGP's text for the destination."""
        return self.prefix if self.rd is None else f"{self.rd}:{self.prefix}"


# ------------------------------------------------------------------ the restarting peers


class GrPeer:
    """A real peer that the tests crash (SIGKILL) and start again with other routes."""

    name = ""

    def __init__(self, addr: str, routes: Sequence[Route]) -> None:
        self.addr = addr
        self.routes = tuple(routes)
        self.announced: tuple[Route, ...] = self.routes
        self.gr = True

    def conf(self, routes: Sequence[Route], gr: bool) -> str:
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def kill(self, sig: int = signal.SIGKILL) -> None:
        raise NotImplementedError

    def _start(self, conf: str, recovery: bool) -> None:
        raise NotImplementedError

    def start(self, routes: Sequence[Route], gr: bool, recovery: bool = True) -> None:
        """Start again (after ``kill``) announcing ``routes``; ``gr``: with the graceful
        restart capability; ``recovery``: as a restarting speaker (where that is an option)."""
        self.announced, self.gr = tuple(routes), gr
        self._start(self.conf(routes, gr), recovery)

    def announce(self, routes: Sequence[Route]) -> None:
        """Announce exactly ``routes`` from now on, without restarting."""
        self._announce([r for r in routes if r not in self.announced], self.announced, routes)
        self.announced = tuple(routes)

    def _announce(
        self, add: Sequence[Route], before: Sequence[Route], after: Sequence[Route]
    ) -> None:
        raise NotImplementedError

    def end_of_rib(self, *families: str) -> None:
        """Nothing to do for peers that send End-of-RIB by themselves."""

    def state(self) -> str:
        return ""


class FrrGr(GrPeer):
    name = "frr"

    def __init__(self, lab: Lab, ns: str) -> None:
        super().__init__(
            F,
            (
                Route("ipv4", "203.0.113.0/28"),
                Route("ipv4", "203.0.113.16/28", keep=False),
                Route("vpnv4", "203.0.113.32/28", "65000:2", 201),
                Route("vpnv4", "203.0.113.48/28", "65000:2", 202, keep=False),
            ),
        )
        self.frr = FRR(lab, ns, "gr", self.conf(self.routes, True))

    def conf(self, routes: Sequence[Route], gr: bool) -> str:
        if gr:
            gr_lines = (
                " bgp graceful-restart\n bgp graceful-restart preserve-fw-state\n"
                f" bgp graceful-restart restart-time {GR_TIME}\n"
            )
        else:
            gr_lines = " bgp graceful-restart-disable\n"
        v4 = "".join(f"  {self._network(r)}\n" for r in routes if r.family == "ipv4")
        vpn = "".join(f"  {self._network(r)}\n" for r in routes if r.family == "vpnv4")
        return f"""frr defaults traditional
hostname frr-gr
!
route-map SET-RT permit 10
 set extcommunity rt {RT}
exit
!
router bgp {AS}
 bgp router-id {F}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
{gr_lines} neighbor {A_F} remote-as {AS}
 neighbor {A_F} timers connect 1
 address-family ipv4 unicast
{v4}  neighbor {A_F} activate
 exit-address-family
 address-family ipv4 vpn
{vpn}  neighbor {A_F} activate
 exit-address-family
exit
!
end
"""

    def alive(self) -> bool:
        return self.frr.bgpd.alive()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.frr.kill_bgpd(sig)

    def _start(self, conf: str, recovery: bool) -> None:
        self.frr.restart_bgpd(conf)

    def _announce(
        self, add: Sequence[Route], before: Sequence[Route], after: Sequence[Route]
    ) -> None:
        lines = [f"router bgp {AS}"]
        for fam, afi in (("ipv4", "ipv4 unicast"), ("vpnv4", "ipv4 vpn")):
            lines.append(f"address-family {afi}")
            for r in before:
                if r.family == fam and r not in after:  # ("no network" takes no route-map)
                    lines.append(f"no {self._network(r).removesuffix(' route-map SET-RT')}")
            lines += [self._network(r) for r in add if r.family == fam]
            lines.append("exit-address-family")
        self.frr.configure(*lines)

    @staticmethod
    def _network(r: Route) -> str:
        if r.rd is None:
            return f"network {r.prefix}"
        return f"network {r.prefix} rd {r.rd} label {r.label} route-map SET-RT"

    def state(self) -> str:
        try:
            return self.frr.vtysh(f"show bgp neighbors {A_F}", check=False)[-2500:]
        except Exception as exc:
            return f"(vtysh: {exc})"


class BirdGr(GrPeer):
    name = "bird"

    def __init__(self, lab: Lab, ns: str) -> None:
        super().__init__(
            B,
            (
                Route("ipv4", "203.0.113.64/28"),
                Route("ipv4", "203.0.113.80/28", keep=False),
                Route("vpnv4", "203.0.113.96/28", "65000:3", 3),  # blackhole: label 3 (B2)
                Route("vpnv4", "203.0.113.112/28", "65000:3", 3, keep=False),
            ),
        )
        self.bird = Bird(lab, ns, "gr", self.conf(self.routes, True))

    def conf(self, routes: Sequence[Route], gr: bool) -> str:
        v4 = " ".join(f"route {r.prefix} blackhole;" for r in routes if r.family == "ipv4")
        vpn = " ".join(f"route {r.rd} {r.prefix} blackhole;" for r in routes if r.rd)
        gr_lines = (
            f"graceful restart on; graceful restart time {GR_TIME};"
            if gr
            else ("graceful restart off;")
        )
        return f"""log "RUNDIR/bird.log" all;
router id {B};
ipv4 table master4;
vpn4 table vpntab4;
protocol device {{}}
protocol direct {{ ipv4; }}
protocol static s4 {{ ipv4; {v4} }}
protocol static sv4 {{ vpn4; {vpn} }}
filter ex {{
  if proto = "sv4" then {{ bgp_ext_community.add((rt, 65000, 100)); accept; }}
  if proto = "s4" then accept;
  reject;
}}
protocol bgp p4 {{
  local {B} as {AS};
  neighbor {A_B} as {AS};
  connect delay time 1; connect retry time 2;
  {gr_lines}
  ipv4 {{ import all; export filter ex; next hop self; }};
  vpn4 mpls {{ import all; export filter ex; next hop self; igp table master4; }};
}}
"""

    def alive(self) -> bool:
        return self.bird.proc.alive()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.bird.kill(sig)

    def _start(self, conf: str, recovery: bool) -> None:
        self.bird.restart(conf, *(["-R"] if recovery else []))

    def _announce(
        self, add: Sequence[Route], before: Sequence[Route], after: Sequence[Route]
    ) -> None:
        self.bird.reconfigure(self.conf(after, self.gr))  # only the static protocols change

    def state(self) -> str:
        try:
            return self.bird.birdc("show", "protocols", "all", "p4")
        except Exception as exc:
            return f"(birdc: {exc})"


class ExaGr(GrPeer):
    """ExaBGP with ``manual-eor``: End-of-RIB goes out only through ``end_of_rib``."""

    name = "exabgp"

    def __init__(self, lab: Lab, ns: str) -> None:
        super().__init__(
            E,
            (
                Route("ipv4", "203.0.113.160/28"),
                Route("ipv4", "203.0.113.176/28", keep=False),
                Route("vpnv4", "203.0.113.192/28", "65000:5", 501),
                Route("vpnv4", "203.0.113.208/28", "65000:5", 502, keep=False),
            ),
        )
        self.exa = ExaBGPCtl(lab, ns, "gr", self.conf(self.routes, True), E)

    def conf(self, routes: Sequence[Route], gr: bool) -> str:
        statics = "".join(f"    route {self._route(r)};\n" for r in routes)
        cap = f"  capability {{\n    graceful-restart {GR_TIME};\n  }}\n" if gr else ""
        return f"""process ctl {{
  run PYTHON RUNDIR/recv.py RUNDIR/recv.jsonl RUNDIR/commands;
  encoder json;
}}
neighbor {A_E} {{
  router-id {E};
  local-address {E};
  local-as {AS};
  peer-as {AS};
  hold-time 9;
  manual-eor true;
  family {{
    ipv4 unicast;
    ipv4 mpls-vpn;
  }}
{cap}  api {{
    processes [ ctl ];
    receive {{ parsed; update; }}
  }}
  static {{
{statics}  }}
}}
"""

    def alive(self) -> bool:
        return self.exa.proc.alive()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.exa.kill(sig)

    def _start(self, conf: str, recovery: bool) -> None:
        self.exa.restart(conf)

    def _announce(
        self, add: Sequence[Route], before: Sequence[Route], after: Sequence[Route]
    ) -> None:
        """Through the API (gone at the next restart, as routes of the configuration that
        is then written are not)."""
        cmds = [f"withdraw route {self._route(r)}" for r in before if r not in after]
        self.exa.send(*cmds, *(f"announce route {self._route(r)}" for r in add))

    @staticmethod
    def _route(r: Route) -> str:
        if r.rd is None:
            return f"{r.prefix} next-hop {E}"
        return (
            f"{r.prefix} rd {r.rd} label {r.label} next-hop {E} extended-community [ target:{RT} ]"
        )

    def end_of_rib(self, *families: str) -> None:
        self.exa.send(*(f"announce eor {f}" for f in families))

    def state(self) -> str:
        log = self.exa.dir / "exabgp.log"
        return log.read_text(errors="replace")[-2500:] if log.exists() else ""


# --------------------------------------------------------------------------- the gr lab

OBGP_ROUTES = (Route("ipv4", "203.0.113.128/28"), Route("ipv4", "203.0.113.144/28"))

OPENBGPD_CONF = f"""AS {AS}
router-id {D}
socket "RUNDIR/bgpd.sock"
fib-update no
listen on {D}
{"".join(f"network {r.prefix}{chr(10)}" for r in OBGP_ROUTES)}neighbor {A_D} {{
  remote-as {AS}
  passive
  announce IPv4 unicast
  announce restart yes
}}
allow from any
allow to any
"""


@dataclass
class GrEnv:
    lab: Lab
    bv: Bgpvpn
    obs: GoBGP
    peers: dict[str, GrPeer]
    obgp: OpenBGPD


@pytest.fixture(scope="module")
def gr_env() -> Iterator[GrEnv]:
    require(
        "gobgpd",
        "gobgp",
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/zebra",
        "vtysh",
        "bird",
        "birdc",
        "/usr/sbin/exabgp",
        "/usr/sbin/bgpd",
        "bgpctl",
    )
    with lab_env("grmore") as lab:
        a, nf, nb, ne, nd, no = (lab.ns(t) for t in ("A", "F", "B", "E", "D", "O"))
        for ns, (mine, theirs) in zip(
            (nf, nb, ne, nd), ((A_F, F), (A_B, B), (A_E, E), (A_D, D)), strict=True
        ):
            tag = ns.rsplit("-", 1)[1]
            lab.link(a, f"vA{tag}", [f"{mine}/30"], ns, f"v{tag}A", [f"{theirs}/30"])
        lab.link(a, "vAO", [f"{A_O}/24"], no, "vOA", [f"{O}/24"])
        fams = ["ipv4", "vpnv4"]
        peers_cfg = [
            *(bgpvpn_peer(addr, AS, fams, passive=True, hold_time=HOLD) for addr in (F, B, E)),
            bgpvpn_peer(D, AS, fams, local_address=A_D, hold_time=HOLD),  # OpenBGPD is passive
            bgpvpn_peer(O, 65001, fams, passive=True, hold_time=None),
        ]
        bv = Bgpvpn(lab, a, "A", bgpvpn_config(AS, A_F, peers_cfg))
        obs = GoBGP(
            lab,
            no,
            "obs",
            gobgp_config(
                65001,
                O,
                [gobgp_neighbor(A_O, AS, ["ipv4-unicast", "l3vpn-ipv4-unicast"])],
                [O],
            ),
        )
        peers: dict[str, GrPeer] = {}
        peers["frr"] = FrrGr(lab, nf)
        peers["bird"] = BirdGr(lab, nb)
        peers["exabgp"] = ExaGr(lab, ne)
        obgp = OpenBGPD(lab, nd, "gr", OPENBGPD_CONF)
        wait_established(bv, (F, B, E, D, O), 60, "GR lab sessions Established")
        yield GrEnv(lab, bv, obs, peers, obgp)


# ------------------------------------------------------------------------------ checks


def _rib(bv: Bgpvpn, peer: str) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    """bgpvpn's Adj-RIB-In from ``peer``, all families, by (family, prefix, rd)."""
    out = {}
    for r in bv.json("rib", "--peer", peer):
        fam = "vpnv4" if r.get("rd") else "ipv4"
        out[(fam, r["prefix"], r.get("rd"))] = r
    return out


def _at_obs(obs: GoBGP, r: Route) -> bool:
    fam = "ipv4" if r.family == "ipv4" else "vpnv4"
    return gobgp_find(obs.adj_in(A_O, fam), r.obs_dest) is not None


def _wait_rib(
    bv: Bgpvpn,
    peer: GrPeer,
    what: str,
    check: Callable[[dict[tuple[str, str, str | None], dict[str, Any]]], bool],
    timeout: float = 20,
) -> None:
    wait_until(
        what,
        lambda: check(_rib(bv, peer.addr)),
        timeout,
        detail=lambda: (
            bv.peers().get(peer.addr),
            list(_rib(bv, peer.addr).values()),
            peer.state(),
        ),
    )


def _fresh(routes: Sequence[Route], others_absent: Sequence[Route] = ()) -> Callable[..., bool]:
    def check(rib: dict[tuple[str, str, str | None], dict[str, Any]]) -> bool:
        return all(r.key in rib and not rib[r.key]["stale"] for r in routes) and not any(
            r.key in rib for r in others_absent
        )

    return check


def _stale(routes: Sequence[Route]) -> Callable[..., bool]:
    def check(rib: dict[tuple[str, str, str | None], dict[str, Any]]) -> bool:
        return all(r.key in rib and rib[r.key]["stale"] and rib[r.key]["best"] for r in routes)

    return check


def _settle(bv: Bgpvpn, addr: str) -> None:
    """Wait until the session has been up for longer than its hold time, so that bgpvpn's
    reconnect back-off starts again from its first step (5 s) when it goes down."""
    wait_until(
        f"session with {addr} up for {HOLD} s",
        lambda: (p := bv.peers()[addr])["state"] == "established" and p["uptime"] > HOLD + 0.5,
        HOLD + 30,
        0.5,
        detail=lambda: bv.peers()[addr],
    )


def _ensure(env: GrEnv, peer: GrPeer, routes: Sequence[Route]) -> None:
    """The peer up with graceful restart, announcing exactly ``routes`` (changed live, or
    restarted cleanly when the test before left it without graceful restart), they fresh at
    bgpvpn and at the observer."""
    bv = env.bv
    if peer.alive() and peer.gr:
        if set(peer.announced) != set(routes):
            peer.announce(routes)
    else:
        if peer.alive():
            if bv.established(peer.addr):
                _settle(bv, peer.addr)
            peer.kill(signal.SIGTERM)
        peer.start(routes, gr=True, recovery=False)
        if isinstance(peer, ExaGr):
            wait_until(f"{peer.name} back", lambda: bv.established(peer.addr), 40)
            peer.end_of_rib("ipv4 unicast", "ipv4 mpls-vpn")
    others = [r for r in peer.routes if r not in routes]
    wait_until(f"{peer.name} Established", lambda: bv.established(peer.addr), 40, detail=bv.peers)
    _wait_rib(bv, peer, f"{peer.name}'s routes fresh at bgpvpn", _fresh(routes, others), 30)
    for r in routes:
        wait_until(f"{r.obs_dest} at the observer", lambda r=r: _at_obs(env.obs, r), 20)


def _kill_and_see_stale(env: GrEnv, peer: GrPeer) -> None:
    bv = env.bv
    _settle(bv, peer.addr)
    peer.kill()
    wait_until(
        f"bgpvpn sees {peer.name} down",
        lambda: bv.peers()[peer.addr]["state"] != "established",
        HOLD + 5,
    )
    _wait_rib(bv, peer, f"{peer.name}'s routes stale at bgpvpn", _stale(peer.announced), 5)


GR_PEERS = ["frr", "bird", "exabgp"]


@pytest.mark.parametrize("name", GR_PEERS)
def test_gr_restart_keeps_routes_until_end_of_rib(gr_env: GrEnv, name: str) -> None:
    """SIGKILL: the routes stay (stale, still best, still advertised to the eBGP observer);
    the peer comes back with R/F bits announcing only part of them: after its End-of-RIB the
    re-announced ones are fresh and the others are gone, at bgpvpn and at the observer."""
    env, peer = gr_env, gr_env.peers[name]
    bv, obs = env.bv, env.obs
    _ensure(env, peer, peer.routes)
    _kill_and_see_stale(env, peer)
    time.sleep(1.0)  # a withdrawal, if bgpvpn sent one, would have reached the observer
    for r in peer.routes:
        assert _at_obs(obs, r), f"{r.obs_dest} withdrawn from the observer during the restart"

    kept = [r for r in peer.routes if r.keep]
    gone = [r for r in peer.routes if not r.keep]
    down_at = time.monotonic()
    peer.start(kept, gr=True)
    wait_until(
        f"{name} back",
        lambda: bv.established(peer.addr),
        40,
        detail=lambda: (bv.peers(), peer.state()),
    )
    assert time.monotonic() - down_at < GR_TIME - 15, "too slow to tell End-of-RIB from expiry"
    if isinstance(peer, BirdGr):  # bird -R: R bit and F bits
        local = peer.state().split("Local capabilities", 1)[1].split("Neighbor capabilities")[0]
        assert "Restart recovery" in local and "AF preserved: ipv4 vpn4-mpls" in local, local
    if isinstance(peer, ExaGr):
        # no End-of-RIB yet: the re-announced routes are fresh, the others still stale
        _wait_rib(bv, peer, "re-announced routes fresh", _fresh(kept))
        time.sleep(1.5)
        rib = _rib(bv, peer.addr)
        for r in gone:
            assert r.key in rib and rib[r.key]["stale"], (r, list(rib.values()))
            assert _at_obs(obs, r), r
        # End-of-RIB per family, alone and late: each sweeps its own family only, and the
        # withdrawals of what it sweeps go downstream at once (until c058c9d they waited for
        # some other event to wake bgpvpn's Adj-RIB-Out drain)
        peer.end_of_rib("ipv4 unicast")
        v4_gone = [r for r in gone if r.family == "ipv4"]
        vpn_gone = [r for r in gone if r.family == "vpnv4"]
        _wait_rib(bv, peer, "ipv4 stale routes swept", _fresh(kept, v4_gone), 10)
        for r in v4_gone:
            wait_until(
                f"{r.obs_dest} withdrawn at the observer", lambda r=r: not _at_obs(obs, r), 10
            )
        rib = _rib(bv, peer.addr)
        assert all(r.key in rib and rib[r.key]["stale"] for r in vpn_gone), list(rib.values())
        assert all(_at_obs(obs, r) for r in vpn_gone), vpn_gone
        peer.end_of_rib("ipv4 mpls-vpn")
    _wait_rib(bv, peer, "re-announced routes fresh, the others gone", _fresh(kept, gone))
    for r in peer.routes:
        wait_until(
            f"{r.obs_dest} {'kept' if r.keep else 'withdrawn'} at the observer",
            lambda r=r: _at_obs(obs, r) == r.keep,
            20,
        )
    rib = _rib(bv, peer.addr)
    for r in kept:
        if r.rd:
            assert rib[r.key]["labels"] == [r.label], rib[r.key]
            assert rib[r.key]["attributes"]["extended_communities"] == [f"target:{RT}"]
        assert rib[r.key]["next_hop"] == peer.addr, rib[r.key]


@pytest.mark.parametrize("name", GR_PEERS)
def test_gr_peer_back_without_graceful_restart_flushes(gr_env: GrEnv, name: str) -> None:
    """RFC4724 4.2: the peer comes back without the capability: its stale routes go when the
    session is up (ExaBGP here sends no End-of-RIB at all), not after the restart time."""
    env, peer = gr_env, gr_env.peers[name]
    bv, obs = env.bv, env.obs
    kept = [r for r in peer.routes if r.keep]
    _ensure(env, peer, kept)
    _kill_and_see_stale(env, peer)
    down_at = time.monotonic()
    peer.start((), gr=False)
    wait_until(
        f"{name} back without GR",
        lambda: bv.established(peer.addr),
        40,
        detail=lambda: (bv.peers(), peer.state()),
    )
    assert time.monotonic() - down_at < GR_TIME - 15, "too slow to tell flush from expiry"
    _wait_rib(bv, peer, "stale routes flushed at once", lambda rib: not rib, 3)
    for r in kept:
        wait_until(f"{r.obs_dest} withdrawn at the observer", lambda r=r: not _at_obs(obs, r), 10)


def test_gr_bird_restart_without_forwarding_state_flushes(gr_env: GrEnv) -> None:
    """BIRD restarted without ``-R`` keeps the capability and its families but clears their
    F bits (forwarding state not preserved): the stale routes must go at once (RFC4724 4.2)."""
    env, peer = gr_env, gr_env.peers["bird"]
    assert isinstance(peer, BirdGr)
    bv = env.bv
    kept = [r for r in peer.routes if r.keep]
    _ensure(env, peer, kept)
    _kill_and_see_stale(env, peer)
    down_at = time.monotonic()
    peer.start((), gr=True, recovery=False)
    wait_until("bird back", lambda: bv.established(peer.addr), 40, detail=bv.peers)
    assert time.monotonic() - down_at < GR_TIME - 15, "too slow to tell flush from expiry"
    caps = peer.state()
    local = caps.split("Local capabilities", 1)[1].split("Neighbor capabilities", 1)[0]
    assert "AF supported: ipv4 vpn4-mpls" in local, caps
    assert re.search(r"AF preserved:[ \t]*$", local, re.M), caps  # no family: F bits clear
    _wait_rib(bv, peer, "stale routes flushed at once", lambda rib: not rib, 3)
    for r in kept:
        wait_until(
            f"{r.obs_dest} withdrawn at the observer", lambda r=r: not _at_obs(env.obs, r), 10
        )


def test_gr_openbgpd_is_not_a_restarting_speaker(gr_env: GrEnv) -> None:
    """OpenBGPD's restart capability lists no address family (it implements only the
    receiving side): when it dies (SIGKILL, no NOTIFICATION) bgpvpn does not keep its routes
    stale but drops them at once (RFC4724 4.2), also downstream; they come back with it."""
    env, o = gr_env, gr_env.obgp
    bv = env.bv
    if not o.proc.alive():
        o.restart()
    wait_until("OpenBGPD Established", lambda: bv.established(D), 40, detail=bv.peers)

    def present(rib: dict[tuple[str, str, str | None], dict[str, Any]]) -> bool:
        return all(r.key in rib and not rib[r.key]["stale"] for r in OBGP_ROUTES)

    wait_until("OpenBGPD's routes at bgpvpn", lambda: present(_rib(bv, D)), 30)
    for r in OBGP_ROUTES:
        wait_until(f"{r.prefix} at the observer", lambda r=r: _at_obs(env.obs, r), 20)
    _settle(bv, D)
    o.kill()
    wait_until("bgpvpn sees OpenBGPD down", lambda: not bv.established(D), HOLD + 5)
    wait_until(
        "OpenBGPD's routes dropped, not kept stale",
        lambda: not _rib(bv, D),
        3,
        detail=lambda: list(_rib(bv, D).values()),
    )
    for r in OBGP_ROUTES:
        wait_until(f"{r.prefix} withdrawn at the observer", lambda r=r: not _at_obs(env.obs, r), 10)
    o.restart()
    wait_until("OpenBGPD back", lambda: bv.established(D), 40, detail=bv.peers)
    wait_until("OpenBGPD's routes back at bgpvpn", lambda: present(_rib(bv, D)), 30)


# =============================================================== bgpvpn as route reflector

RR_AS = 65010
CLUSTER = "192.0.2.254"
R_F1, F1 = "192.0.2.1", "192.0.2.2"
R_F2, F2 = "192.0.2.5", "192.0.2.6"
R_B, BR = "192.0.2.9", "192.0.2.10"
RR_RT = "65010:100"


@dataclass(frozen=True)
class RrRoute:
    origin: str  # the client's router id (= its address here)
    family: str
    prefix: str
    rd: str | None = None
    label: int = 0
    local_pref: int = 150

    @property
    def frr_cmd(self) -> tuple[str, tuple[str, ...]]:
        """The vtysh command that shows it, and the keys to its dict in the answer."""
        if self.rd is None:
            return f"show bgp ipv4 unicast {self.prefix} json", ()
        return f"show bgp ipv4 vpn rd {self.rd} {self.prefix} json", (self.rd,)

    @property
    def bird_key(self) -> tuple[str, str]:
        """BIRD's table, and the start of the route's line in ``show route``."""
        if self.rd is None:
            return "master4", self.prefix
        return "vpntab4", f"{self.rd} {self.prefix}"


RR_ROUTES = {
    F1: (
        RrRoute(F1, "ipv4", "203.0.113.0/28"),
        RrRoute(F1, "vpnv4", "203.0.113.16/28", "65010:1", 101),
    ),
    F2: (
        RrRoute(F2, "ipv4", "203.0.113.32/28"),
        RrRoute(F2, "vpnv4", "203.0.113.48/28", "65010:2", 102),
    ),
    BR: (
        RrRoute(BR, "ipv4", "203.0.113.64/28"),
        RrRoute(BR, "vpnv4", "203.0.113.80/28", "65010:3", 3, 100),  # blackhole: label 3
    ),
}


def rr_frr_conf(rid: str, rr: str, routes: Sequence[RrRoute]) -> str:
    v4 = "".join(f"  network {r.prefix}\n" for r in routes if r.family == "ipv4")
    vpn = "".join(
        f"  network {r.prefix} rd {r.rd} label {r.label} route-map SET-RT\n" for r in routes if r.rd
    )
    return f"""frr defaults traditional
hostname frr-{rid}
!
route-map SET-RT permit 10
 set extcommunity rt {RR_RT}
exit
route-map LP permit 10
 set local-preference 150
exit
!
router bgp {RR_AS}
 bgp router-id {rid}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor {rr} remote-as {RR_AS}
 neighbor {rr} timers connect 1
 address-family ipv4 unicast
{v4}  neighbor {rr} activate
  neighbor {rr} route-map LP out
 exit-address-family
 address-family ipv4 vpn
{vpn}  neighbor {rr} activate
  neighbor {rr} route-map LP out
 exit-address-family
exit
!
end
"""


def rr_bird_conf(routes: Sequence[RrRoute]) -> str:
    v4 = " ".join(f"route {r.prefix} blackhole;" for r in routes if r.family == "ipv4")
    vpn = " ".join(f"route {r.rd} {r.prefix} blackhole;" for r in routes if r.rd)
    return f"""log "RUNDIR/bird.log" all;
router id {BR};
ipv4 table master4;
vpn4 table vpntab4;
protocol device {{}}
protocol static snh {{ ipv4; route 192.0.2.0/24 via {R_B}; }}
protocol static s4 {{ ipv4; {v4} }}
protocol static sv4 {{ vpn4; {vpn} }}
filter ex {{
  if proto = "sv4" then {{ bgp_ext_community.add((rt, 65010, 100)); accept; }}
  if proto = "s4" then {{ bgp_local_pref = 150; accept; }}
  reject;
}}
protocol bgp torr {{
  local {BR} as {RR_AS};
  neighbor {R_B} as {RR_AS};
  connect delay time 1; connect retry time 2;
  ipv4 {{ import all; export filter ex; next hop self; }};
  vpn4 mpls {{ import all; export filter ex; next hop self; igp table master4; }};
}}
"""


@dataclass
class RrEnv:
    lab: Lab
    bv: Bgpvpn
    f1: FRR
    f2: FRR
    bird: Bird


@pytest.fixture(scope="module")
def rr_env() -> Iterator[RrEnv]:
    require("/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh", "bird", "birdc")
    with lab_env("rrmore") as lab:
        r, n1, n2, nb = lab.ns("R"), lab.ns("F1"), lab.ns("F2"), lab.ns("B")
        for ns, tag, mine, theirs in ((n1, "1", R_F1, F1), (n2, "2", R_F2, F2), (nb, "B", R_B, BR)):
            lab.link(r, f"vR{tag}", [f"{mine}/30"], ns, f"v{tag}R", [f"{theirs}/30"])
            # the reflected routes' next hops (other clients) resolve through R
            run(["ip", "-n", ns, "route", "add", "192.0.2.0/24", "via", mine])
        peers = [
            bgpvpn_peer(addr, RR_AS, ["ipv4", "vpnv4"], passive=True, hold_time=9, rr_client=True)
            for addr in (F1, F2, BR)
        ]
        bv = Bgpvpn(
            lab, r, "R", bgpvpn_config(RR_AS, R_F1, peers, extra=f'cluster_id = "{CLUSTER}"')
        )
        f1 = FRR(lab, n1, "c1", rr_frr_conf(F1, R_F1, RR_ROUTES[F1]))
        f2 = FRR(lab, n2, "c2", rr_frr_conf(F2, R_F2, RR_ROUTES[F2]))
        bird = Bird(lab, nb, "c3", rr_bird_conf(RR_ROUTES[BR]))
        wait_established(bv, (F1, F2, BR), 60, "RR sessions Established")
        yield RrEnv(lab, bv, f1, f2, bird)


def _frr_has(f: FRR, r: RrRoute) -> list[dict[str, Any]]:
    cmd, keys = r.frr_cmd
    return frr_paths(f, cmd, *keys)


def _frr_reflected(f: FRR, r: RrRoute) -> dict[str, Any]:
    paths: list[dict[str, Any]] = wait_until(
        f"{r.family} {r.prefix} from {r.origin} at FRR {f.tag}",
        lambda: _frr_has(f, r),
        20,
        detail=lambda: f.vtysh(r.frr_cmd[0].removesuffix(" json"), check=False),
    )
    assert len(paths) == 1, paths
    return paths[0]


def _check_frr(p: dict[str, Any], r: RrRoute) -> None:
    assert p.get("originatorId") == r.origin, p
    assert p.get("clusterList", {}).get("list") == [CLUSTER], p
    assert p["nexthops"][0]["ip"] == r.origin, p
    assert p.get("locPrf") == r.local_pref, p
    assert p.get("valid") is True, p  # the next hop resolves (192.0.2.0/24 via R)
    if r.rd:
        assert p.get("remoteLabel") == r.label, p
        assert p.get("extendedCommunity", {}).get("string") == f"RT:{RR_RT}", p


def _bird_reflected(bird: Bird, r: RrRoute) -> str:
    table, needle = r.bird_key
    block: str = wait_until(
        f"{r.family} {r.prefix} from {r.origin} at BIRD",
        lambda: bird.route(table, needle),
        20,
        detail=lambda: bird.birdc("show", "route", "table", table, "all"),
    )
    return block


def _check_bird(block: str, r: RrRoute) -> None:
    for s in (
        f"BGP.originator_id: {r.origin}",
        f"BGP.cluster_list: {CLUSTER}",
        f"BGP.next_hop: {r.origin}",
        f"BGP.local_pref: {r.local_pref}",
    ):
        assert s in block, block
    if r.rd:
        assert f"mpls {r.label}" in block and "(rt, 65010, 100)" in block, block


@pytest.mark.parametrize("family", ["ipv4", "vpnv4"])
def test_rr_reflects_between_two_frr_clients(rr_env: RrEnv, family: str) -> None:
    """Each FRR client's route reaches the other with ORIGINATOR_ID = its router id,
    CLUSTER_LIST = [bgpvpn's cluster id], next hop and LOCAL_PREF unchanged (label and RT for
    VPN), and is not sent back to the client it came from."""
    bv = rr_env.bv
    for src, dst in ((F1, rr_env.f2), (F2, rr_env.f1)):
        (r,) = [x for x in RR_ROUTES[src] if x.family == family]
        _check_frr(_frr_reflected(dst, r), r)
        assert bv.rib(family, src, table="out", prefix=r.prefix) == []


@pytest.mark.parametrize("family", ["ipv4", "vpnv4"])
def test_rr_reflects_between_frr_and_bird(rr_env: RrEnv, family: str) -> None:
    """FRR -> BIRD and BIRD -> both FRR clients, checked on the receivers."""
    (from_frr,) = [x for x in RR_ROUTES[F1] if x.family == family]
    _check_bird(_bird_reflected(rr_env.bird, from_frr), from_frr)
    (from_bird,) = [x for x in RR_ROUTES[BR] if x.family == family]
    for f in (rr_env.f1, rr_env.f2):
        _check_frr(_frr_reflected(f, from_bird), from_bird)
    assert rr_env.bv.rib(family, BR, table="out", prefix=from_bird.prefix) == []


def test_rr_withdrawals_propagate(rr_env: RrEnv) -> None:
    """F1 removes its routes (vtysh) and BIRD its own (reconfigured): the reflected copies
    go at the other clients; F2's routes stay."""
    f1, f2, bird = rr_env.f1, rr_env.f2, rr_env.bird
    for r in RR_ROUTES[F1]:  # everything there first (when run alone)
        _frr_reflected(f2, r)
        _bird_reflected(bird, r)
    for r in RR_ROUTES[BR]:
        _frr_reflected(f1, r)
        _frr_reflected(f2, r)
    v4, vpn = RR_ROUTES[F1]
    f1.configure(
        f"router bgp {RR_AS}",
        "address-family ipv4 unicast",
        f"no network {v4.prefix}",
        "exit-address-family",
        "address-family ipv4 vpn",
        f"no network {vpn.prefix} rd {vpn.rd} label {vpn.label}",
    )
    bird.reconfigure(rr_bird_conf(()))
    for r in RR_ROUTES[F1]:
        wait_until(f"{r.prefix} from F1 withdrawn at FRR c2", lambda r=r: not _frr_has(f2, r), 20)
        wait_until(
            f"{r.prefix} from F1 withdrawn at BIRD",
            lambda r=r: bird.route(*r.bird_key) is None,
            20,
        )
    for r in RR_ROUTES[BR]:
        for f in (f1, f2):
            wait_until(
                f"{r.prefix} from BIRD withdrawn at FRR {f.tag}",
                lambda f=f, r=r: not _frr_has(f, r),
                20,
            )
    # what was not withdrawn stays
    for r in RR_ROUTES[F2]:
        _check_frr(_frr_reflected(f1, r), r)
        _check_bird(_bird_reflected(bird, r), r)
