#!/usr/bin/env python3
"""Capture golden BGP wire vectors from real BGP implementations.

Each scenario builds its own network namespaces (named ``gcap-<scenario>-A``/``-B``/``-C``,
joined by veths, with only documentation addresses and no route outside), starts real BGP
daemons in them (GoBGP, FRR, BIRD, OpenBGPD, ExaBGP), records the TCP port 179 traffic with
tcpdump, triggers extra events (route refresh, withdrawals, shutdown NOTIFICATION with a
message) and stores under ``<out>/<scenario>/``:

* ``session.pcap``     - the BGP sessions as seen on one veth (or bridge) of namespace A
* ``scenario.json``    - implementations/versions, ASNs, addresses, families, routes, events
* ``peer-views/*``     - what the daemons themselves report (JSON where they can)

MRT scenarios (``mrt-*``) store GoBGP MRT dumps under ``<mrt-out>`` instead
(default ``<out>/../mrt``).

Usage::

    python3 scripts/capture_golden.py --out tests/fixtures/captures [--scenario NAME ...]
    python3 scripts/capture_golden.py --list

Needs root, iproute2, tcpdump and the Debian packages gobgpd, frr, bird2, openbgpd, exabgp
(tshark for the pcapng copy).  Everything it starts is stopped by PID and every namespace it
creates is deleted at the end, also on errors and Ctrl-C.  Exit status 0 = all requested
scenarios captured; 1 = at least one failed (with a message on stderr); 2 = usage/environment.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nsproc  # scripts/nsproc.py and peerd.py, shared with the interop tests' harness
import peerd
from nsproc import CommandError
from peerd import gobgp_global, gobgp_neighbor

NS_PREFIX = "gcap-"
DEFAULT_TIMEOUT = 60.0


class CaptureError(CommandError):
    """A scenario could not be captured."""


# --------------------------------------------------------------------------------------------
# process and namespace bookkeeping (global, so atexit/signal handlers can clean up)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    stop_signal: int = signal.SIGTERM


@dataclass
class Resources:
    procs: list[Proc] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    def stop_proc(self, proc: Proc, timeout: float = 8.0) -> None:
        nsproc.stop(proc.popen, proc.stop_signal, timeout)
        if proc in self.procs:
            self.procs.remove(proc)

    def cleanup(self) -> None:
        for proc in reversed(list(self.procs)):
            try:
                self.stop_proc(proc)
            except Exception as exc:  # keep cleaning up
                print(f"warning: stopping {proc.name}: {exc}", file=sys.stderr)
        for ns in reversed(list(self.namespaces)):
            nsproc.delete_namespace(ns)
            self.namespaces.remove(ns)


RES = Resources()


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# --------------------------------------------------------------------------------------------
# small helpers


def run(
    argv: Sequence[str],
    ns: str | None = None,
    check: bool = True,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> str:
    return nsproc.run(argv, ns, check, timeout, env, error=CaptureError)


def wait_until(
    what: str,
    pred: Callable[[], bool],
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.5,
    detail: Callable[[], str] | None = None,
) -> None:
    nsproc.wait_until(what, pred, timeout, interval, detail, error=CaptureError)


def wait_counts(
    what: str,
    counts: Callable[[], dict[str, int]],
    minimum: dict[str, int],
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Wait until every counter reaches its minimum; report all counters on timeout."""
    wait_until(
        what,
        lambda: all(v >= minimum[k] for k, v in counts().items()),
        timeout,
        detail=lambda: f"have {counts()}, want {minimum}",
    )


def tool_version(argv: Sequence[str], pattern: str) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(pattern, out.stdout + out.stderr)
    return m.group(1) if m else "unknown"


VERSIONS: dict[str, tuple[list[str], str]] = {
    "gobgp": (["gobgpd", "--version"], r"version (\S+)"),
    "frr": (["/usr/lib/frr/bgpd", "--version"], r"bgpd version (\S+)"),
    "bird": (["bird", "--version"], r"BIRD version (\S+)"),
    "openbgpd": (["bgpctl", "-V"], r"OpenBGPD (\S+)"),
    "exabgp": (["exabgp", "--version"], r"ExaBGP : (\S+)"),
    "tcpdump": (["tcpdump", "--version"], r"tcpdump version (\S+)"),
}
_version_cache: dict[str, str] = {}


def version_of(impl: str) -> str:
    if impl not in _version_cache:
        argv, pat = VERSIONS[impl]
        _version_cache[impl] = tool_version(argv, pat)
    return _version_cache[impl]


# --------------------------------------------------------------------------------------------
# scenario context: namespaces, links, processes, capture, outputs


@dataclass
class Scenario:
    name: str
    description: str
    func: Callable[[Ctx], None]
    default: bool = True
    kind: str = "capture"  # or "mrt"


class Ctx:
    def __init__(self, scenario: Scenario, out_dir: Path, run_dir: Path, mrt_dir: Path) -> None:
        self.scenario = scenario
        self.out_dir = out_dir
        self.run_dir = run_dir
        self.mrt_dir = mrt_dir
        self.views_dir = out_dir / "peer-views"
        self.meta: dict[str, Any] = {
            "scenario": scenario.name,
            "description": scenario.description,
            "captured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "implementations": {},
            "namespaces": {},
            "sessions": [],
            "originated": [],
            "events": [],
        }
        self._capture: Proc | None = None
        self._t0 = time.monotonic()

    # ---- topology
    def ns(self, tag: str) -> str:
        name = f"{NS_PREFIX}{self.scenario.name}-{tag}"
        if len(name) > 60:
            raise CaptureError(f"namespace name too long: {name}")
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        run(["ip", "netns", "add", name])
        RES.namespaces.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        run(
            [
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=0",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.all.accept_dad=0",
            ],
            ns=name,
            check=False,
        )
        self.meta["namespaces"][tag] = {"name": name, "addresses": []}
        return name

    def veth(self, ns1: str, if1: str, ns2: str, if2: str) -> None:
        nsproc.veth(ns1, if1, ns2, if2, CaptureError)

    def addr(self, ns: str, dev: str, *addrs: str) -> None:
        nsproc.add_addresses(ns, dev, addrs, CaptureError)
        for info in self.meta["namespaces"].values():
            if info["name"] == ns:
                info["addresses"] += [f"{a} dev {dev}" for a in addrs]

    def pair(
        self, ns1: str, if1: str, addrs1: Sequence[str], ns2: str, if2: str, addrs2: Sequence[str]
    ) -> None:
        self.veth(ns1, if1, ns2, if2)
        self.addr(ns1, if1, *addrs1)
        self.addr(ns2, if2, *addrs2)

    def wait_addresses(self, ns: str) -> None:
        """Wait until no IPv6 address is tentative any more (nodad should make this instant)."""
        wait_until(
            f"IPv6 addresses in {ns}",
            lambda: "tentative" not in run(["ip", "-n", ns, "-6", "addr"]),
            10,
            0.2,
        )

    # ---- processes
    def subdir(self, name: str, mode: int = 0o755) -> Path:
        d = self.run_dir / name
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(mode)
        return d

    def start(
        self,
        name: str,
        ns: str,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        stderr_pipe: bool = False,
    ) -> Proc:
        proc = Proc(name, nsproc.start(ns, argv, log, env, stderr_pipe), stop_signal)
        RES.procs.append(proc)
        return proc

    def check_alive(self, *procs: Proc) -> None:
        for p in procs:
            if p.popen.poll() is not None:
                raise CaptureError(
                    f"{p.name} exited early with status {p.popen.returncode}"
                    f" (see logs in {self.run_dir})"
                )

    # ---- capture
    def start_capture(self, ns: str, iface: str) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        pcap = self.out_dir / "session.pcap"
        pcap.unlink(missing_ok=True)
        proc = self.start(
            "tcpdump",
            ns,
            ["tcpdump", "-i", iface, "-w", str(pcap), "-U", "-s", "0", "-n", "tcp port 179"],
            self.run_dir / "tcpdump.log",
            stop_signal=signal.SIGINT,
            stderr_pipe=True,
        )
        assert proc.popen.stderr is not None
        deadline = time.monotonic() + 10
        buf = b""
        while b"listening on" not in buf:
            if time.monotonic() > deadline or proc.popen.poll() is not None:
                raise CaptureError(f"tcpdump did not start: {buf.decode(errors='replace')}")
            ready, _, _ = select.select([proc.popen.stderr], [], [], 0.2)
            if ready:
                chunk = os.read(proc.popen.stderr.fileno(), 4096)
                buf += chunk
        self._capture = proc
        self.meta["capture"] = {
            "namespace": ns,
            "interface": iface,
            "filter": "tcp port 179",
            "tool": f"tcpdump {version_of('tcpdump')}",
        }

    def stop_capture(self, pause: float = 1.0) -> None:
        if self._capture is None:
            return
        time.sleep(pause)  # let the last segments and their ACKs pass
        proc = self._capture
        RES.stop_proc(proc, timeout=10)
        assert proc.popen.stderr is not None
        tail = proc.popen.stderr.read().decode(errors="replace")
        m = re.search(r"(\d+) packets? captured", tail)
        self.meta["capture"]["packets"] = int(m.group(1)) if m else None
        self._capture = None

    # ---- outputs
    def event(self, what: str, **details: Any) -> None:
        ev = {"t": round(time.monotonic() - self._t0, 1), "event": what, **details}
        self.meta["events"].append(ev)
        print(f"  [{self.scenario.name}] {what}", file=sys.stderr)

    def originated(self, by: str, family: str, route: str, **attrs: Any) -> None:
        self.meta["originated"].append({"by": by, "family": family, "route": route, **attrs})

    def impl(self, tag: str, impl: str, ns: str, **info: Any) -> None:
        self.meta["implementations"][tag] = {
            "implementation": impl,
            "version": version_of(impl),
            "namespace": ns,
            **info,
        }

    def session(self, a: str, b: str, kind: str, families: Sequence[str], **info: Any) -> None:
        self.meta["sessions"].append(
            {"between": [a, b], "type": kind, "families": list(families), **info}
        )

    def view(self, name: str, content: str) -> None:
        self.views_dir.mkdir(parents=True, exist_ok=True)
        name = name.replace(":", "_").replace("/", "_")
        if name.endswith(".json"):
            try:
                content = json.dumps(json.loads(content), indent=1, sort_keys=True) + "\n"
            except ValueError:
                name = name[:-5] + ".txt"
        (self.views_dir / name).write_text(content)

    def view_cmd(self, name: str, fn: Callable[[], str]) -> None:
        try:
            self.view(name, fn())
        except CaptureError as exc:
            self.view(name.rsplit(".", 1)[0] + ".error.txt", str(exc) + "\n")

    def finish(self) -> None:
        self.meta["duration_s"] = round(time.monotonic() - self._t0, 1)
        (self.out_dir / "scenario.json").write_text(
            json.dumps(self.meta, indent=2, sort_keys=False) + "\n"
        )


# --------------------------------------------------------------------------------------------
# daemons (scripts/peerd.py), with what only the captures need: peer views, noted routes


class _CtxHost:
    """What peerd's daemons need, from a scenario's ``Ctx``: run directories, processes in
    ``RES`` (stopped at the scenario's end), ``CaptureError`` for failed commands."""

    error: type[CommandError] = CaptureError

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    def rundir(self, name: str) -> Path:
        return self.ctx.subdir(name)

    def start(
        self,
        name: str,
        ns: str,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
    ) -> Proc:
        return self.ctx.start(name, ns, argv, log, env)

    def wait(self, what: str, fn: Callable[[], Any], timeout: float) -> Any:
        return wait_until(what, fn, timeout, 0.2)

    def check_alive(self, what: str, *procs: Proc) -> None:
        self.ctx.check_alive(*procs)

    def stop(self, proc: Proc, sig: int) -> None:
        proc.stop_signal = sig
        RES.stop_proc(proc)


class GoBGP(peerd.GoBGPd[Proc]):
    """gobgpd in the foreground inside a namespace; the gRPC API on the namespace's loopback."""

    def __init__(self, ctx: Ctx, ns: str, tag: str, config: str, hostname: str) -> None:
        self.ctx, self.hostname = ctx, hostname
        super().__init__(_CtxHost(ctx), ns, tag, config)

    def argv(self, *extra: str) -> list[str]:
        # a private UTS namespace gives the FQDN capability a stable host name
        wrapper = ["unshare", "--uts", "sh", "-c", 'hostname "$0"; exec "$@"', self.hostname]
        return [*wrapper, *super().argv(*extra)]

    def adj_in(self, addr: str, family: str) -> int:
        return sum(len(v) for v in self.adj_in_table(addr, family).values())

    def add(self, family: str, *args: str, by: str | None = None, **note: Any) -> None:
        super().add(family, *args)
        self.ctx.originated(by or f"gobgp-{self.tag}", family, " ".join(args), **note)

    def save_views(
        self, neighbors: dict[str, Sequence[str]], families: Sequence[str], suffix: str = ""
    ) -> None:
        """neighbors: address -> families negotiated with it (for adj-in/adj-out views)."""
        t = f"gobgp-{self.tag}"
        self.ctx.view_cmd(f"{t}-neighbors{suffix}.json", lambda: self.cli("-j", "neighbor"))
        for fam in families:
            self.ctx.view_cmd(
                f"{t}-global-rib-{fam}{suffix}.json",
                lambda fam=fam: self.cli("-j", "global", "rib", "-a", fam),
            )
            self.ctx.view_cmd(
                f"{t}-global-rib-{fam}{suffix}.txt",
                lambda fam=fam: self.cli("global", "rib", "-a", fam),
            )
        for nb, nb_families in neighbors.items():
            for fam in nb_families:
                for d in ("adj-in", "adj-out"):
                    self.ctx.view_cmd(
                        f"{t}-{nb}-{d}-{fam}{suffix}.json",
                        lambda nb=nb, fam=fam, d=d: self.cli("-j", "neighbor", nb, d, "-a", fam),
                    )


class FRR(peerd.FRRd[Proc]):
    """FRR zebra + bgpd (no kernel install), vtysh over the run directory's sockets."""

    def __init__(self, ctx: Ctx, ns: str, tag: str, bgpd_conf: str) -> None:
        self.ctx = ctx
        super().__init__(_CtxHost(ctx), ns, tag, bgpd_conf)

    def neighbor(self, addr: str) -> dict[str, Any]:
        data = json.loads(self.vtysh(f"show bgp neighbors {addr} json"))
        return dict(data[addr])

    def accepted(self, addr: str, af: str) -> int:
        afi = self.neighbor(addr).get("addressFamilyInfo", {}).get(af, {})
        return int(afi.get("acceptedPrefixCounter", 0))

    def save_views(self, cmds: dict[str, str], suffix: str = "") -> None:
        for name, cmd in cmds.items():
            ext = "json" if cmd.endswith(" json") else "txt"
            self.ctx.view_cmd(
                f"frr-{self.tag}-{name}{suffix}.{ext}", lambda cmd=cmd: self.vtysh(cmd)
            )


class Bird(peerd.Birdd[Proc]):
    def __init__(self, ctx: Ctx, ns: str, tag: str, conf: str) -> None:
        self.ctx = ctx
        super().__init__(_CtxHost(ctx), ns, tag, conf)


class OpenBGPD(peerd.OpenBGPDd[Proc]):
    def __init__(self, ctx: Ctx, ns: str, tag: str, conf: str) -> None:
        self.ctx = ctx
        super().__init__(_CtxHost(ctx), ns, tag, conf)


class ExaBGP(peerd.ExaBGPd[Proc]):
    def __init__(self, ctx: Ctx, ns: str, tag: str, conf: str, bind: str) -> None:
        self.ctx = ctx
        super().__init__(_CtxHost(ctx), ns, tag, conf, bind)


# --------------------------------------------------------------------------------------------
# topologies

A4, B4, C4 = "192.0.2.1", "192.0.2.2", "192.0.2.3"
A6, B6, C6 = "2001:db8::1", "2001:db8::2", "2001:db8::3"


def two_namespaces(ctx: Ctx) -> tuple[str, str]:
    """A (192.0.2.1, 2001:db8::1) vAB <-> vBA B (192.0.2.2, 2001:db8::2)."""
    a, b = ctx.ns("A"), ctx.ns("B")
    ctx.pair(a, "vAB", [f"{A4}/24", f"{A6}/64"], b, "vBA", [f"{B4}/24", f"{B6}/64"])
    ctx.wait_addresses(a)
    ctx.wait_addresses(b)
    return a, b


def three_namespaces(ctx: Ctx) -> tuple[str, str, str]:
    """A hub with a bridge br0 (192.0.2.1) joining veths to B (.2) and C (.3): one subnet,
    so one capture on br0 sees both sessions with Ethernet framing."""
    a, b, c = ctx.ns("A"), ctx.ns("B"), ctx.ns("C")
    run(["ip", "-n", a, "link", "add", "br0", "type", "bridge"])
    for peer, ifa, ifp, a4, a6 in ((b, "vAB", "vBA", B4, B6), (c, "vAC", "vCA", C4, C6)):
        ctx.veth(a, ifa, peer, ifp)
        run(["ip", "-n", a, "link", "set", ifa, "master", "br0"])
        run(["ip", "-n", a, "link", "set", ifa, "up"])
        ctx.addr(peer, ifp, f"{a4}/24", f"{a6}/64")
    ctx.addr(a, "br0", f"{A4}/24", f"{A6}/64")
    for n in (a, b, c):
        ctx.wait_addresses(n)
    return a, b, c


# --------------------------------------------------------------------------------------------
# scenarios


def scn_gobgp_frr_ibgp(ctx: Ctx) -> None:
    a, b = two_namespaces(ctx)
    nsproc.evpn_vni_setup(
        b, B4, "02:00:00:00:02:01", "203.0.113.202", "203.0.113.210/28", CaptureError
    )
    ctx.start_capture(a, "vAB")
    fam4 = ["ipv4-unicast", "l3vpn-ipv4-unicast", "l2vpn-evpn"]
    fam6 = ["ipv6-unicast", "l3vpn-ipv6-unicast"]
    g = GoBGP(
        ctx,
        a,
        "A",
        gobgp_global(65000, A4) + gobgp_neighbor(B4, 65000, fam4) + gobgp_neighbor(B6, 65000, fam6),
        "gobgp-A",
    )
    frr_conf = f"""frr defaults traditional
hostname frr-B
service integrated-vtysh-config
!
route-map SET-RT permit 10
 set extcommunity rt 65000:100
 set extcommunity soo 65000:7
exit
route-map SET-ATTRS permit 10
 set community 65000:20 65000:21 no-export
 set large-community 65000:2:1 65000:2:2
 set metric 30
 set local-preference 150
 set origin egp
exit
route-map SET-V6 permit 10
 set community 65000:60
 set large-community 65000:6:1
 set metric 60
exit
!
router bgp 65000
 bgp router-id {B4}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor {A4} remote-as 65000
 neighbor {A4} timers connect 1
 neighbor {A6} remote-as 65000
 neighbor {A6} timers connect 1
 address-family ipv4 unicast
  network 203.0.113.32/28 route-map SET-ATTRS
  network 203.0.113.48/28
  neighbor {A4} activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:100:2::/64 route-map SET-V6
  neighbor {A6} activate
 exit-address-family
 address-family ipv4 vpn
  network 203.0.113.160/28 rd 65000:102 label 102 route-map SET-RT
  network 203.0.113.176/28 rd 192.0.2.2:103 label 103 route-map SET-RT
  neighbor {A4} activate
 exit-address-family
 address-family ipv6 vpn
  network 2001:db8:200:2::/64 rd 65000:102 label 102 route-map SET-RT
  neighbor {A6} activate
 exit-address-family
 address-family l2vpn evpn
  advertise-all-vni
  vni 100
   route-target import 65000:100
   route-target export 65000:100
  exit-vni
  network 203.0.113.96/28 rd 65000:302 ethtag 0 label 500 esi 00:00:00:00:00:00:00:00:00:00 \
gwip 0.0.0.0 routermac 02:00:00:00:02:00
  neighbor {A4} activate
 exit-address-family
exit
!
end
""".replace("\\\n", "")
    f = FRR(ctx, b, "B", frr_conf)
    ctx.impl("A", "gobgp", a, asn=65000, router_id=A4)
    ctx.impl(
        "B",
        "frr",
        b,
        asn=65000,
        router_id=B4,
        notes="E-VPN type-2/3 from zebra (VNI 100 on vxlan100/br100), type-5 static",
    )
    ctx.session("A", "B", "ibgp", fam4, transport=f"{A4} <-> {B4}")
    ctx.session("A", "B", "ibgp", fam6, transport=f"{A6} <-> {B6}")

    g.add(
        "ipv4",
        "203.0.113.16/28",
        "origin",
        "igp",
        "nexthop",
        A4,
        "med",
        "10",
        "local-pref",
        "200",
        "community",
        "65000:10,no-advertise",
        "large-community",
        "65000:1:1,65000:1:2",
    )
    g.add("ipv4", "203.0.113.0/28", "nexthop", A4, "aggregator", "65000:192.0.2.1")
    g.add("ipv6", "2001:db8:100:1::/64", "nexthop", A6, "community", "65000:61")
    g.add("ipv6", "2001:db8:100:3::/64", "nexthop", A6)
    g.add(
        "vpnv4",
        "203.0.113.144/28",
        "label",
        "101",
        "rd",
        "65000:101",
        "rt",
        "65000:100",
        "nexthop",
        A4,
        "med",
        "5",
    )
    g.add(
        "vpnv4",
        "203.0.113.128/28",
        "label",
        "104",
        "rd",
        "192.0.2.1:104",
        "rt",
        "65000:100",
        "nexthop",
        A4,
    )
    g.add(
        "vpnv4",
        "203.0.113.112/28",
        "label",
        "105",
        "rd",
        "4200000001:105",
        "rt",
        "65000:100",
        "nexthop",
        A4,
    )
    g.add(
        "vpnv6",
        "2001:db8:200:1::/64",
        "label",
        "101",
        "rd",
        "65000:101",
        "rt",
        "65000:100",
        "nexthop",
        A6,
    )
    g.add(
        "evpn",
        "macadv",
        "02:00:00:00:01:01",
        "203.0.113.201",
        "etag",
        "0",
        "label",
        "100",
        "rd",
        "65000:201",
        "rt",
        "65000:100",
        "encap",
        "vxlan",
    )
    g.add(
        "evpn",
        "macadv",
        "02:00:00:00:01:02",
        "0.0.0.0",
        "etag",
        "0",
        "label",
        "100",
        "rd",
        "65000:201",
        "rt",
        "65000:100",
        "encap",
        "vxlan",
    )
    g.add(
        "evpn", "multicast", A4, "etag", "0", "rd", "65000:201", "rt", "65000:100", "encap", "vxlan"
    )
    g.add(
        "evpn",
        "prefix",
        "203.0.113.80/28",
        "gw",
        "0.0.0.0",
        "etag",
        "0",
        "label",
        "500",
        "rd",
        "65000:301",
        "rt",
        "65000:100",
        "encap",
        "vxlan",
        "router-mac",
        "02:00:00:00:01:00",
    )
    for r in (
        "203.0.113.32/28 (community 65000:20 65000:21 no-export, large-community, "
        "med 30, local-pref 150, origin egp)",
        "203.0.113.48/28",
    ):
        ctx.originated("frr-B", "ipv4", r)
    ctx.originated("frr-B", "ipv6", "2001:db8:100:2::/64 (community, large-community, med)")
    ctx.originated(
        "frr-B", "vpnv4", "203.0.113.160/28 rd 65000:102 label 102 rt 65000:100 soo 65000:7"
    )
    ctx.originated("frr-B", "vpnv4", "203.0.113.176/28 rd 192.0.2.2:103 label 103")
    ctx.originated("frr-B", "vpnv6", "2001:db8:200:2::/64 rd 65000:102 label 102")
    ctx.originated(
        "frr-B",
        "evpn",
        "type-2 MAC 02:00:00:00:02:01 (+IP 203.0.113.202), "
        "type-3 192.0.2.2 VNI 100 (zebra); type-5 203.0.113.96/28 rd 65000:302",
    )

    wait_until("sessions Established", lambda: g.established(B4) and g.established(B6), 60)
    ctx.event("established", sessions=[B4, B6])
    wait_until(
        "FRR routes at GoBGP",
        lambda: (
            g.adj_in(B4, "ipv4") >= 2
            and g.adj_in(B4, "vpnv4") >= 2
            and g.adj_in(B6, "ipv6") >= 1
            and g.adj_in(B6, "vpnv6") >= 1
            and g.adj_in(B4, "evpn") >= 4
        ),
        60,
    )
    wait_until(
        "GoBGP routes at FRR",
        lambda: (
            f.accepted(A4, "ipv4Unicast") >= 2
            and f.accepted(A4, "ipv4Vpn") >= 3
            and f.accepted(A6, "ipv6Unicast") >= 2
            and f.accepted(A6, "ipv6Vpn") >= 1
            and f.accepted(A4, "l2VpnEvpn") >= 4
        ),
        60,
    )
    ctx.event("routes exchanged")
    families = ["ipv4", "ipv6", "vpnv4", "vpnv6", "evpn"]
    nbs = {B4: ["ipv4", "vpnv4", "evpn"], B6: ["ipv6", "vpnv6"]}
    g.save_views(nbs, families)
    frr_views = {
        "summary": "show bgp summary json",
        "neighbors": "show bgp neighbors json",
        "ipv4": "show bgp ipv4 unicast json",
        "ipv6": "show bgp ipv6 unicast json",
        "ipv4-vpn": "show bgp ipv4 vpn json",
        "ipv6-vpn": "show bgp ipv6 vpn json",
        "evpn": "show bgp l2vpn evpn json",
        "evpn-text": "show bgp l2vpn evpn",
        "ipv4-vpn-text": "show bgp ipv4 vpn",
    }
    f.save_views(frr_views)

    # route refresh (FRR sends one per family; GoBGP's softresetin stays local)
    f.vtysh("clear bgp * soft in")
    ctx.event("FRR: clear bgp * soft in (FRR sends ROUTE-REFRESH)")
    time.sleep(2)
    g.cli("neighbor", B4, "softresetin")
    g.cli("neighbor", B6, "softresetin")
    ctx.event(
        "GoBGP: neighbor softresetin (GoBGP 3.10 re-applies its import policy from its "
        "Adj-RIB-In: it sends no ROUTE-REFRESH)"
    )
    time.sleep(2)
    # withdrawals
    g.delete("ipv4", "203.0.113.0/28")
    g.delete("vpnv4", "203.0.113.128/28", "label", "104", "rd", "192.0.2.1:104")
    g.delete(
        "evpn",
        "macadv",
        "02:00:00:00:01:02",
        "0.0.0.0",
        "etag",
        "0",
        "label",
        "100",
        "rd",
        "65000:201",
    )
    g.delete("ipv6", "2001:db8:100:3::/64")
    ctx.event(
        "GoBGP withdraws ipv4 203.0.113.0/28, vpnv4 203.0.113.128/28 rd 192.0.2.1:104, "
        "evpn macadv 02:00:00:00:01:02, ipv6 2001:db8:100:3::/64"
    )
    f.vtysh(
        "configure terminal",
        "router bgp 65000",
        "address-family ipv4 unicast",
        "no network 203.0.113.48/28",
        "exit-address-family",
        "address-family ipv4 vpn",
        "no network 203.0.113.176/28 rd 192.0.2.2:103 label 103",
    )
    ctx.event("FRR withdraws ipv4 203.0.113.48/28 and vpnv4 203.0.113.176/28 rd 192.0.2.2:103")
    wait_until(
        "withdrawals seen",
        lambda: (
            g.adj_in(B4, "ipv4") == 1
            and g.adj_in(B4, "vpnv4") == 1
            and f.accepted(A4, "ipv4Unicast") == 1
            and f.accepted(A6, "ipv6Unicast") == 1
        ),
        30,
    )
    g.save_views(nbs, families, suffix="-after-withdraw")
    f.save_views(
        {
            "ipv4": "show bgp ipv4 unicast json",
            "ipv4-vpn": "show bgp ipv4 vpn json",
            "evpn": "show bgp l2vpn evpn json",
        },
        suffix="-after-withdraw",
    )
    # administrative shutdown with an RFC 9003 communication, one from each side
    msg_g = "gcap: planned maintenance (GoBGP)"
    g.cli("neighbor", B4, "shutdown", "--reason", msg_g)
    ctx.event("GoBGP shuts down the IPv4 session (Cease/Administrative Shutdown)", message=msg_g)
    msg_f = "gcap: FRR going down for maintenance"
    f.vtysh("configure terminal", "router bgp 65000", f"neighbor {A6} shutdown message {msg_f}")
    ctx.event("FRR shuts down the IPv6 session (Cease/Administrative Shutdown)", message=msg_f)
    wait_until("sessions down", lambda: not g.established(B4) and not g.established(B6), 20)
    f.save_views({"neighbors": "show bgp neighbors json"}, suffix="-after-shutdown")
    ctx.stop_capture()


def scn_gobgp_frr_ebgp(ctx: Ctx) -> None:
    a, b = two_namespaces(ctx)
    ctx.start_capture(a, "vAB")
    asn_a, asn_b = 4200000001, 4200000002
    fams = ["ipv4-unicast", "ipv6-unicast", "l3vpn-ipv4-unicast"]
    gr = (
        "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = 120\n"
        "    long-lived-enabled = true\n"
    )
    afi_gr = (
        "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n"
        "    [neighbors.afi-safis.long-lived-graceful-restart.config]\n"
        "      enabled = true\n      restart-time = 3600\n"
    )
    g = GoBGP(
        ctx,
        a,
        "A",
        gobgp_global(asn_a, A4)
        + gobgp_neighbor(B4, asn_b, fams, extra=gr, afi_extra=dict.fromkeys(fams, afi_gr)),
        "gobgp-A",
    )
    frr_conf = f"""frr defaults traditional
hostname frr-B
!
route-map PREPEND permit 10
 set as-path prepend {asn_b} {asn_b} 65555
 set community 65000:77 graceful-shutdown
 set large-community {asn_b}:1:1
exit
route-map SET-RT permit 10
 set extcommunity rt {asn_b}:100
exit
!
router bgp {asn_b}
 bgp router-id {B4}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 bgp graceful-restart
 bgp graceful-restart restart-time 120
 bgp long-lived-graceful-restart stale-time 3600
 neighbor {A4} remote-as {asn_a}
 neighbor {A4} timers connect 1
 neighbor {A4} capability extended-nexthop
 address-family ipv4 unicast
  network 203.0.113.224/28 route-map PREPEND
  network 203.0.113.240/28
  neighbor {A4} activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:500::/48 route-map PREPEND
  neighbor {A4} activate
 exit-address-family
 address-family ipv4 vpn
  network 203.0.113.160/28 rd {asn_b}:102 label 102 route-map SET-RT
  neighbor {A4} activate
 exit-address-family
exit
!
end
"""
    f = FRR(ctx, b, "B", frr_conf)
    ctx.impl(
        "A",
        "gobgp",
        a,
        asn=asn_a,
        router_id=A4,
        notes="graceful restart + long-lived graceful restart configured for all families",
    )
    ctx.impl(
        "B",
        "frr",
        b,
        asn=asn_b,
        router_id=B4,
        notes="graceful restart, LLGR stale-time, extended-nexthop, sends FQDN and "
        "extended message capabilities",
    )
    ctx.session(
        "A",
        "B",
        "ebgp",
        fams,
        transport=f"{A4} <-> {B4}",
        notes="IPv6 unicast over the IPv4 session",
    )
    g.add(
        "ipv4",
        "203.0.113.64/28",
        "aspath",
        "4200000010,65020,4200000011",
        "nexthop",
        A4,
        "community",
        "65000:1,no-export",
        "large-community",
        f"{asn_a}:7:7",
        "med",
        "3",
    )
    g.add("ipv4", "203.0.113.72/29", "origin", "incomplete", "nexthop", A4)
    g.add("ipv6", "2001:db8:600::/48", "aspath", "65030", "nexthop", A6)
    g.add(
        "vpnv4",
        "203.0.113.144/28",
        "label",
        "101",
        "rd",
        f"{asn_a}:101",
        "rt",
        f"{asn_b}:100",
        "nexthop",
        A4,
    )
    ctx.originated(
        "frr-B",
        "ipv4",
        f"203.0.113.224/28 (as-path prepend {asn_b} {asn_b} 65555, "
        "community 65000:77 graceful-shutdown, large-community)",
    )
    ctx.originated("frr-B", "ipv4", "203.0.113.240/28")
    ctx.originated("frr-B", "ipv6", "2001:db8:500::/48 (prepend, communities)")
    ctx.originated("frr-B", "vpnv4", f"203.0.113.160/28 rd {asn_b}:102 label 102 rt {asn_b}:100")
    wait_until("session Established", lambda: g.established(B4), 60)
    ctx.event("established")
    wait_until(
        "routes exchanged",
        lambda: (
            g.adj_in(B4, "ipv4") >= 2
            and g.adj_in(B4, "ipv6") >= 1
            and g.adj_in(B4, "vpnv4") >= 1
            and f.accepted(A4, "ipv4Unicast") >= 2
            and f.accepted(A4, "ipv6Unicast") >= 1
            and f.accepted(A4, "ipv4Vpn") >= 1
        ),
        60,
    )
    ctx.event("routes exchanged (End-of-RIB markers follow from the graceful restart cap)")
    time.sleep(2)  # let the End-of-RIB markers pass
    g.save_views({B4: ["ipv4", "ipv6", "vpnv4"]}, ["ipv4", "ipv6", "vpnv4"])
    f.save_views(
        {
            "summary": "show bgp summary json",
            "neighbors": "show bgp neighbors json",
            "ipv4": "show bgp ipv4 unicast json",
            "ipv6": "show bgp ipv6 unicast json",
            "ipv4-vpn": "show bgp ipv4 vpn json",
            "graceful-restart": "show bgp neighbors graceful-restart json",
        }
    )
    g.delete("ipv4", "203.0.113.72/29")
    ctx.event("GoBGP withdraws 203.0.113.72/29")
    wait_until("withdrawal", lambda: f.accepted(A4, "ipv4Unicast") == 1, 30)
    ctx.stop_capture()


def bird_attr_conf(rundir_hint: str = "RUNDIR") -> str:
    return f"""log "{rundir_hint}/bird.log" all;
router id {B4};
ipv4 table master4;
ipv6 table master6;
vpn4 table vpntab4;
vpn6 table vpntab6;

protocol device {{}}
protocol direct {{ ipv4; ipv6; }}

protocol static s4 {{
  ipv4;
  route 203.0.113.32/28 blackhole {{ igp_metric = 100; }};
  route 203.0.113.48/28 blackhole;
}}
protocol static s6 {{ ipv6; route 2001:db8:100:2::/64 blackhole; }}
protocol static sv4 {{ vpn4; route 65000:102 203.0.113.160/28 blackhole;
  route 192.0.2.2:103 203.0.113.176/28 blackhole; }}
protocol static sv6 {{ vpn6; route 65000:102 2001:db8:200:2::/64 blackhole; }}

filter ex4 {{
  bgp_origin = ORIGIN_INCOMPLETE;
  bgp_med = 20;
  bgp_local_pref = 250;
  bgp_community.add((65000, 42));
  bgp_community.add((65535, 65281));
  bgp_large_community.add((65000, 1, 2));
  bgp_ext_community.add((rt, 65000, 100));
  bgp_ext_community.add((ro, 65000, 7));
  accept;
}}
filter ex_vpn {{
  bgp_ext_community.add((rt, 65000, 100));
  bgp_ext_community.add((rt, 192.0.2.2, 100));
  bgp_ext_community.add((rt, 4200000001, 100));
  bgp_large_community.add((65000, 9, 9));
  accept;
}}
filter ex6 {{
  bgp_med = 60;
  bgp_community.add((65001, 6));
  accept;
}}

protocol bgp p4 {{
  local {B4} as 65000;
  neighbor {A4} as 65000;
  connect delay time 1; connect retry time 2;
  ipv4 {{ import all; export filter ex4; next hop self; aigp on; aigp originate; }};
  vpn4 mpls {{ import all; export filter ex_vpn; next hop self; igp table master4; }};
}}
protocol bgp p6 {{
  local {B6} as 65001;
  neighbor {A6} as 65000;
  local role provider;
  connect delay time 1; connect retry time 2;
  ipv6 {{ import all; export filter ex6; }};
  vpn6 mpls {{ import all; export filter ex_vpn; igp table master6; }};
}}
"""


def scn_gobgp_bird(ctx: Ctx) -> None:
    a, b = two_namespaces(ctx)
    ctx.start_capture(a, "vAB")
    fam4 = ["ipv4-unicast", "l3vpn-ipv4-unicast"]
    fam6 = ["ipv6-unicast", "l3vpn-ipv6-unicast"]
    g = GoBGP(
        ctx,
        a,
        "A",
        gobgp_global(65000, A4) + gobgp_neighbor(B4, 65000, fam4) + gobgp_neighbor(B6, 65001, fam6),
        "gobgp-A",
    )
    bird = Bird(ctx, b, "B", bird_attr_conf())
    ctx.impl("A", "gobgp", a, asn=65000, router_id=A4)
    ctx.impl(
        "B",
        "bird",
        b,
        asn={"p4": 65000, "p6": 65001},
        router_id=B4,
        notes="p4: iBGP with AIGP (aigp originate); p6: eBGP with RFC 9234 "
        "'local role provider' (role capability, OTC attribute on export)",
    )
    ctx.session("A", "B", "ibgp", fam4, transport=f"{A4} <-> {B4}")
    ctx.session("A", "B", "ebgp", fam6, transport=f"{A6} <-> {B6}")
    g.add("ipv4", "203.0.113.16/28", "nexthop", A4, "community", "65000:10", "aigp", "metric", "50")
    g.add("ipv6", "2001:db8:100:1::/64", "nexthop", A6)
    g.add(
        "vpnv4",
        "203.0.113.144/28",
        "label",
        "101",
        "rd",
        "65000:101",
        "rt",
        "65000:100",
        "nexthop",
        A4,
    )
    g.add(
        "vpnv6",
        "2001:db8:200:1::/64",
        "label",
        "101",
        "rd",
        "65000:101",
        "rt",
        "65000:100",
        "nexthop",
        A6,
    )
    ctx.originated(
        "bird-B",
        "ipv4",
        "203.0.113.32/28 (igp_metric 100 -> AIGP), 203.0.113.48/28;"
        " export filter: origin incomplete, MED 20, local-pref 250, communities "
        "65000:42 + no-export, large community 65000:1:2, ext communities "
        "rt 65000:100 + ro 65000:7",
    )
    ctx.originated(
        "bird-B",
        "ipv6",
        "2001:db8:100:2::/64 (eBGP, MED 60, community 65001:6, OTC added by role provider)",
    )
    ctx.originated(
        "bird-B",
        "vpnv4",
        "65000:102 203.0.113.160/28, 192.0.2.2:103 "
        "203.0.113.176/28 (blackhole -> label 3), RTs of 3 types, large community",
    )
    ctx.originated("bird-B", "vpnv6", "65000:102 2001:db8:200:2::/64 (label 3)")
    wait_until("sessions Established", lambda: g.established(B4) and g.established(B6), 60)
    ctx.event("established")
    wait_until(
        "routes exchanged",
        lambda: (
            g.adj_in(B4, "ipv4") >= 2
            and g.adj_in(B4, "vpnv4") >= 2
            and g.adj_in(B6, "ipv6") >= 1
            and g.adj_in(B6, "vpnv6") >= 1
            and "Routes:         4 imported" not in bird.birdc("show", "route", "count")
            and bird.birdc("show", "route", "count").strip() != ""
        ),
        60,
    )
    wait_until(
        "GoBGP routes in BIRD",
        lambda: all(
            p in bird.birdc("show", "route", "all")
            for p in (
                "203.0.113.16/28",
                "2001:db8:100:1::/64",
                "203.0.113.144/28",
                "2001:db8:200:1::/64",
            )
        ),
        30,
    )
    ctx.event("routes exchanged")
    g.save_views({B4: ["ipv4", "vpnv4"], B6: ["ipv6", "vpnv6"]}, ["ipv4", "ipv6", "vpnv4", "vpnv6"])
    ctx.view_cmd("bird-B-protocols.txt", lambda: bird.birdc("show", "protocols", "all"))
    for t in ("master4", "master6", "vpntab4", "vpntab6"):
        ctx.view_cmd(
            f"bird-B-route-{t}.txt", lambda t=t: bird.birdc("show", "route", "table", t, "all")
        )
    bird.birdc("reload", "in", "p4")
    ctx.event("BIRD: reload in p4 (BIRD sends ROUTE-REFRESH)")
    time.sleep(2)
    bird.birdc("disable", "p6", '"gcap: BIRD disables p6"')
    ctx.event(
        "BIRD: disable p6 with a message (Cease/Administrative Shutdown)",
        message="gcap: BIRD disables p6",
    )
    wait_until("p6 down", lambda: not g.established(B6), 20)
    ctx.stop_capture()


def scn_gobgp_bird_bulk(ctx: Ctx) -> None:
    a, b = two_namespaces(ctx)
    ctx.start_capture(a, "vAB")
    prefixes = [
        f"{net}.{i << (32 - plen) & 0xFF}/{plen}"
        for net in ("192.0.2", "198.51.100", "203.0.113")
        for plen in range(24, 33)
        for i in range(1 << (plen - 24))
    ]
    routes = "\n".join(f"  route {p} blackhole;" for p in prefixes)
    conf = f"""log "RUNDIR/bird.log" all;
router id {B4};
protocol device {{}}
protocol static bulk {{ ipv4;
{routes}
}}
filter ex {{
  if net.len >= 30 then bgp_community.add((65001, 30));
  if net.len = 32 then bgp_large_community.add((65001, 32, 32));
  accept;
}}
protocol bgp p4 {{
  local {B4} as 65001;
  neighbor {A4} as 65000;
  connect delay time 1; connect retry time 2;
  ipv4 {{ import none; export filter ex; }};
}}
"""
    g = GoBGP(
        ctx,
        a,
        "A",
        gobgp_global(65000, A4) + gobgp_neighbor(B4, 65001, ["ipv4-unicast"]),
        "gobgp-A",
    )
    Bird(ctx, b, "B", conf)
    ctx.impl("A", "gobgp", a, asn=65000, router_id=A4)
    ctx.impl("B", "bird", b, asn=65001, router_id=B4)
    ctx.session("A", "B", "ebgp", ["ipv4-unicast"], transport=f"{A4} <-> {B4}")
    ctx.originated(
        "bird-B",
        "ipv4",
        f"{len(prefixes)} prefixes: every /24../32 inside "
        "192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; community 65001:30 on "
        "/30-/32, large community 65001:32:32 on /32 (3 attribute sets)",
        count=len(prefixes),
    )
    wait_until("session Established", lambda: g.established(B4), 60)
    ctx.event("established")
    wait_until(
        f"{len(prefixes)} routes at GoBGP", lambda: g.adj_in(B4, "ipv4") == len(prefixes), 60, 1.0
    )
    ctx.event(f"{len(prefixes)} routes received")
    ctx.view_cmd("gobgp-A-neighbors.json", lambda: g.cli("-j", "neighbor"))
    ctx.view_cmd(
        "gobgp-A-global-rib-ipv4-summary.txt",
        lambda: g.cli("global", "rib", "-a", "ipv4", "summary"),
    )
    ctx.view_cmd("gobgp-A-global-rib-ipv4.txt", lambda: g.cli("global", "rib", "-a", "ipv4"))
    ctx.stop_capture()


def scn_gobgp_openbgpd(ctx: Ctx) -> None:
    a, b = two_namespaces(ctx)
    ctx.start_capture(a, "vAB")
    fam4 = ["ipv4-unicast", "l3vpn-ipv4-unicast"]
    fam6 = ["ipv6-unicast", "l3vpn-ipv6-unicast"]
    g = GoBGP(
        ctx,
        a,
        "A",
        gobgp_global(65000, A4) + gobgp_neighbor(B4, 65000, fam4) + gobgp_neighbor(B6, 65000, fam6),
        "gobgp-A",
    )
    conf = f"""AS 65000
router-id {B4}
socket "RUNDIR/bgpd.sock"
fib-update no
listen on {B4}
listen on {B6}
network 203.0.113.32/28 set {{ community 65000:30 large-community 65000:3:1 \
ext-community rt 65000:100 ext-community soo 65000:7 med 40 localpref 160 }}
network 203.0.113.48/28 set {{ community NO_EXPORT community 65000:31 }}
network 2001:db8:100:2::/64 set {{ large-community 65000:6:1 med 61 }}
neighbor {A4} {{
  remote-as 65000
  descr "gobgp-v4"
  announce IPv4 unicast
  announce IPv4 vpn
  announce refresh yes
  announce enhanced refresh yes
  announce add-path recv yes
}}
neighbor {A6} {{
  remote-as 65000
  descr "gobgp-v6"
  announce IPv6 unicast
  announce IPv6 vpn
}}
allow from any
allow to any
""".replace("\\\n", "")
    o = OpenBGPD(ctx, b, "B", conf)
    ctx.impl("A", "gobgp", a, asn=65000, router_id=A4)
    ctx.impl(
        "B",
        "openbgpd",
        b,
        asn=65000,
        router_id=B4,
        notes="VPN is receive-only on Linux (no mpe interface); announces enhanced "
        "refresh and add-path receive on the IPv4 session",
    )
    ctx.session("A", "B", "ibgp", fam4, transport=f"{A4} <-> {B4}")
    ctx.session("A", "B", "ibgp", fam6, transport=f"{A6} <-> {B6}")
    g.add(
        "ipv4",
        "203.0.113.16/28",
        "nexthop",
        A4,
        "community",
        "65000:10",
        "large-community",
        "65000:1:1",
        "local-pref",
        "120",
    )
    g.add("ipv6", "2001:db8:100:1::/64", "nexthop", A6)
    g.add(
        "vpnv4",
        "203.0.113.144/28",
        "label",
        "101",
        "rd",
        "65000:101",
        "rt",
        "65000:100",
        "nexthop",
        A4,
    )
    g.add(
        "vpnv6",
        "2001:db8:200:1::/64",
        "label",
        "101",
        "rd",
        "65000:101",
        "rt",
        "65000:100",
        "nexthop",
        A6,
    )
    ctx.originated(
        "openbgpd-B",
        "ipv4",
        "203.0.113.32/28 (community 65000:30, large-community "
        "65000:3:1, ext-community rt 65000:100 + soo 65000:7, MED 40, localpref 160)",
    )
    ctx.originated("openbgpd-B", "ipv4", "203.0.113.48/28 (community NO_EXPORT 65000:31)")
    ctx.originated("openbgpd-B", "ipv6", "2001:db8:100:2::/64 (large-community, MED 61)")
    wait_until("sessions Established", lambda: g.established(B4) and g.established(B6), 60)
    ctx.event("established")
    wait_until(
        "routes exchanged",
        lambda: (
            g.adj_in(B4, "ipv4") >= 2
            and g.adj_in(B6, "ipv6") >= 1
            and "203.0.113.144/28" in o.bgpctl("show", "rib", "vpnv4")
            and "2001:db8:200:1::/64" in o.bgpctl("show", "rib", "vpnv6")
            and "203.0.113.16/28" in o.bgpctl("show", "rib", "inet")
        ),
        60,
    )
    ctx.event("routes exchanged")
    g.save_views({B4: ["ipv4", "vpnv4"], B6: ["ipv6", "vpnv6"]}, ["ipv4", "ipv6", "vpnv4", "vpnv6"])
    for name, args in {
        "summary": ["show"],
        "neighbors": ["show", "neighbor"],
        "rib-detail": ["show", "rib", "detail"],
        "rib-inet": ["show", "rib", "inet"],
        "rib-inet6": ["show", "rib", "inet6"],
        "rib-vpnv4": ["show", "rib", "vpnv4", "detail"],
        "rib-vpnv6": ["show", "rib", "vpnv6", "detail"],
    }.items():
        ctx.view_cmd(f"openbgpd-B-{name}.txt", lambda args=args: o.bgpctl(*args))
        ctx.view_cmd(f"openbgpd-B-{name}.json", lambda args=args: o.bgpctl("-j", *args))
    o.bgpctl("neighbor", A4, "refresh")
    ctx.event("OpenBGPD: bgpctl neighbor refresh (ROUTE-REFRESH)")
    time.sleep(2)
    msg = "gcap: OpenBGPD neighbor down"
    o.bgpctl("neighbor", A6, "down", msg)
    ctx.event("OpenBGPD: bgpctl neighbor down with a message", message=msg)
    wait_until("v6 session down", lambda: not g.established(B6), 20)
    ctx.stop_capture()


def scn_gobgp_exabgp(ctx: Ctx) -> None:
    a, b = two_namespaces(ctx)
    ctx.start_capture(a, "vAB")
    asn = 4200000001
    fam1 = [
        "ipv4-unicast",
        "ipv6-unicast",
        "ipv4-labelled-unicast",
        "l3vpn-ipv4-unicast",
        "l3vpn-ipv6-unicast",
        "ipv4-flowspec",
        "l2vpn-evpn",
    ]
    fam2 = ["ipv4-unicast", "ipv6-unicast"]
    addpath = "  [neighbors.add-paths.config]\n    send-max = 4\n    receive = true\n"
    g = GoBGP(
        ctx,
        a,
        "A",
        gobgp_global(asn, A4)
        + gobgp_neighbor(B4, asn, fam1)
        + gobgp_neighbor(B6, 65002, fam2, extra=addpath),
        "gobgp-A",
    )
    rich = (
        "origin egp as-path [ 65001 65002 ( 65003 65004 ) ] med 50 local-preference 300 "
        "atomic-aggregate aggregator ( 65002:192.0.2.2 ) "
        "community [ 65000:10 no-export no-advertise no-export-subconfed ] "
        f"large-community [ {asn}:1:2 65000:0:4294967295 ] "
        "extended-community [ target:65000:100 origin:65000:7 target:192.0.2.2:5 "
        "target:4200000002L:6 ] originator-id 192.0.2.9 cluster-list [ 192.0.2.8 192.0.2.7 ]"
    )
    conf = f"""process recv {{
  run /usr/bin/python3 RUNDIR/recv.py RUNDIR/recv.jsonl;
  encoder json;
}}

neighbor {A4} {{
  router-id {B4};
  local-address {B4};
  local-as {asn};
  peer-as {asn};
  hold-time 90;
  family {{
    ipv4 unicast;
    ipv6 unicast;
    ipv4 nlri-mpls;
    ipv4 mpls-vpn;
    ipv6 mpls-vpn;
    ipv4 flow;
    l2vpn evpn;
  }}
  capability {{ route-refresh; graceful-restart 120; }}
  api {{
    processes [ recv ];
    receive {{ parsed; update; open; notification; refresh; }}
  }}
  static {{
    route 203.0.113.64/28 next-hop {B4} {rich};
    route 203.0.113.80/28 next-hop {B4} attribute [ 0xfe 0xc0 0xdeadbeef ];
    route 203.0.113.96/28 next-hop {B4} label 200 community [ 65000:200 ];
    route 203.0.113.112/28 next-hop {B4} label [ 300 301 ];
    route 203.0.113.160/28 rd 65000:102 label 102 next-hop {B4} \
extended-community [ target:65000:100 ];
    route 203.0.113.176/28 rd 192.0.2.2:103 label 103 next-hop {B4} med 7 \
extended-community [ target:65000:100 ];
    route 2001:db8:100:2::/64 next-hop {B6} med 60 community [ 65000:60 ];
    route 2001:db8:200:2::/64 rd 65000:102 label 102 next-hop {B6} \
extended-community [ target:65000:100 ];
  }}
  flow {{
    route fs1 {{
      match {{ destination 203.0.113.0/24; source 198.51.100.0/24; protocol tcp; \
destination-port =80; packet-length >200&<1000; }}
      then {{ rate-limit 9600; }}
    }}
    route fs2 {{
      match {{ destination 203.0.113.128/25; protocol udp; source-port >=1024; }}
      then {{ discard; }}
    }}
    route fs3 {{
      match {{ source 192.0.2.0/24; }}
      then {{ redirect 65000:300; }}
    }}
  }}
}}

neighbor {A6} {{
  router-id {B4};
  local-address {B6};
  local-as 65002;
  peer-as 23456;
  hold-time 90;
  family {{
    ipv4 unicast;
    ipv6 unicast;
  }}
  capability {{ asn4 disable; add-path send/receive; route-refresh; }}
  api {{
    processes [ recv ];
    receive {{ parsed; update; open; notification; refresh; }}
  }}
  static {{
    route 203.0.113.192/28 next-hop {B4} path-information 0.0.0.1 as-path [ 65002 65003 ];
    route 203.0.113.192/28 next-hop {B4} path-information 0.0.0.2 \
as-path [ 65002 65004 65005 ];
    route 2001:db8:400::/48 next-hop {B6} path-information 0.0.0.7 as-path [ 65002 ];
  }}
}}
""".replace("\\\n", "")
    exa = ExaBGP(ctx, b, "B", conf, f"{B4} {B6}")
    ctx.impl("A", "gobgp", a, asn=asn, router_id=A4)
    ctx.impl(
        "B",
        "exabgp",
        b,
        asn={B4: asn, B6: 65002},
        router_id=B4,
        notes="neighbor over IPv6: 'asn4 disable' (2-octet AS, GoBGP uses AS_TRANS 23456 "
        "and AS4_PATH) and add-path send/receive",
    )
    ctx.session("A", "B", "ibgp", fam1, transport=f"{A4} <-> {B4}")
    ctx.session(
        "A",
        "B",
        "ebgp",
        fam2,
        transport=f"{A6} <-> {B6}",
        notes="ExaBGP without the 4-octet AS capability; ADD-PATH both ways",
    )
    ctx.originated("exabgp-B", "ipv4", f"203.0.113.64/28 {rich}")
    ctx.originated(
        "exabgp-B",
        "ipv4",
        "203.0.113.80/28 with an unknown optional transitive attribute type 0xfe = 0xdeadbeef",
    )
    ctx.originated(
        "exabgp-B",
        "ipv4-labelled-unicast",
        "203.0.113.96/28 label 200; 203.0.113.112/28 label stack [300 301]",
    )
    ctx.originated(
        "exabgp-B",
        "vpnv4",
        "203.0.113.160/28 rd 65000:102 label 102; 203.0.113.176/28 rd 192.0.2.2:103 label 103",
    )
    ctx.originated("exabgp-B", "ipv6", "2001:db8:100:2::/64 (over the IPv4 session)")
    ctx.originated("exabgp-B", "vpnv6", "2001:db8:200:2::/64 rd 65000:102 label 102")
    ctx.originated(
        "exabgp-B",
        "ipv4-flowspec",
        "fs1 dst 203.0.113.0/24 src 198.51.100.0/24 "
        "proto tcp dport =80 len >200&<1000 -> rate-limit 9600; fs2 dst "
        "203.0.113.128/25 udp sport >=1024 -> discard; fs3 src 192.0.2.0/24 -> "
        "redirect 65000:300",
    )
    ctx.originated(
        "exabgp-B",
        "ipv4",
        "over the IPv6 session with add-path: 203.0.113.192/28 "
        "path-id 1 and 2; ipv6 2001:db8:400::/48 path-id 7",
    )
    g.add("ipv4", "203.0.113.208/28", "identifier", "1", "aspath", "4200000005", "nexthop", A4)
    g.add(
        "ipv4", "203.0.113.208/28", "identifier", "2", "aspath", "65010,4200000006", "nexthop", A4
    )
    g.add("ipv6", "2001:db8:100:1::/64", "nexthop", A6, "aspath", "4200000007")
    g.add(
        "evpn",
        "macadv",
        "02:00:00:00:01:01",
        "203.0.113.201",
        "etag",
        "0",
        "label",
        "100",
        "rd",
        "65000:201",
        "rt",
        "65000:100",
        "encap",
        "vxlan",
    )
    g.add(
        "vpnv4",
        "203.0.113.144/28",
        "label",
        "101",
        "rd",
        "65000:101",
        "rt",
        "65000:100",
        "nexthop",
        A4,
    )

    def exa_alive() -> bool:
        ctx.check_alive(exa.proc)
        return True

    wait_until(
        "sessions Established", lambda: exa_alive() and g.established(B4) and g.established(B6), 60
    )
    ctx.event("established")
    wait_until(
        "routes exchanged",
        lambda: (
            g.adj_in(B4, "ipv4") >= 2
            and g.adj_in(B4, "ipv4-mpls") >= 2
            and g.adj_in(B4, "vpnv4") >= 2
            and g.adj_in(B4, "vpnv6") >= 1
            and g.adj_in(B4, "ipv4-flowspec") >= 3
            and g.adj_in(B6, "ipv4") >= 2
            and sum(1 for m in exa.messages() if m.get("type") == "update") >= 4
        ),
        60,
    )
    time.sleep(2)
    ctx.event("routes exchanged")
    g.save_views(
        {
            B4: ["ipv4", "ipv6", "ipv4-mpls", "vpnv4", "vpnv6", "ipv4-flowspec", "evpn"],
            B6: ["ipv4", "ipv6"],
        },
        ["ipv4", "ipv6", "ipv4-mpls", "vpnv4", "vpnv6", "ipv4-flowspec", "evpn"],
    )
    ctx.stop_capture()
    ctx.view("exabgp-B-received.jsonl", exa.recv.read_text() if exa.recv.exists() else "")


def scn_gobgp_gobgp_rr(ctx: Ctx) -> None:
    a, b, c = three_namespaces(ctx)
    ctx.start_capture(a, "br0")
    fams = ["l3vpn-ipv4-unicast", "l3vpn-ipv6-unicast", "l2vpn-evpn", "rtc"]
    rr = (
        "  [neighbors.route-reflector.config]\n    route-reflector-client = true\n"
        f'    route-reflector-cluster-id = "{A4}"\n'
    )
    ap = {
        "l3vpn-ipv4-unicast": "    [neighbors.afi-safis.add-paths.config]\n"
        "      send-max = 4\n      receive = true\n"
    }
    ga = GoBGP(
        ctx,
        a,
        "A",
        gobgp_global(65000, A4)
        + gobgp_neighbor(B4, 65000, fams, extra=rr, afi_extra=ap)
        + gobgp_neighbor(C4, 65000, fams, extra=rr, afi_extra=ap),
        "gobgp-A-rr",
    )
    gb = GoBGP(
        ctx,
        b,
        "B",
        gobgp_global(65000, B4) + gobgp_neighbor(A4, 65000, fams, afi_extra=ap),
        "gobgp-B",
    )
    gc = GoBGP(
        ctx,
        c,
        "C",
        gobgp_global(65000, C4) + gobgp_neighbor(A4, 65000, fams, afi_extra=ap),
        "gobgp-C",
    )
    ctx.impl(
        "A",
        "gobgp",
        a,
        asn=65000,
        router_id=A4,
        role=f"route reflector, cluster-id {A4}, add-path send-max 4 on vpnv4",
    )
    ctx.impl("B", "gobgp", b, asn=65000, router_id=B4, role="RR client")
    ctx.impl("C", "gobgp", c, asn=65000, router_id=C4, role="RR client")
    ctx.session("A", "B", "ibgp", fams, transport=f"{A4} <-> {B4}", notes="RR client")
    ctx.session("A", "C", "ibgp", fams, transport=f"{A4} <-> {C4}", notes="RR client")
    for g, vrf_rd in ((gb, "65000:92"), (gc, "65000:93")):
        g.cli(
            "vrf",
            "add",
            "v1",
            "rd",
            vrf_rd,
            "rt",
            "import",
            "65000:100",
            "65000:901",
            "export",
            "65000:100",
        )
        ctx.originated(
            f"gobgp-{g.tag}",
            "rtc",
            "vrf v1 import RTs 65000:100 65000:901 -> RTC "
            "membership NLRI 65000:65000:100, 65000:65000:901",
        )
    rt = ["rt", "65000:100"]
    for g, nh in ((ga, A4), (gb, B4), (gc, C4)):
        g.add(
            "vpnv4",
            "203.0.113.144/28",
            "label",
            "101",
            "rd",
            "65000:101",
            *rt,
            "nexthop",
            nh,
            note="same prefix+RD from A, B and C -> ADD-PATH from the RR",
        )
    gb.add("vpnv6", "2001:db8:200:1::/64", "label", "102", "rd", "65000:102", *rt, "nexthop", B6)
    gb.add(
        "evpn",
        "a-d",
        "esi",
        "LACP",
        "02:00:00:00:00:0b",
        "11",
        "etag",
        "0",
        "label",
        "0",
        "rd",
        "192.0.2.2:1",
        *rt,
        "encap",
        "vxlan",
        "esi-label",
        "400",
    )
    gb.add(
        "evpn",
        "a-d",
        "esi",
        "ARBITRARY",
        "11:22:33:44:55:66:77:88:99",
        "etag",
        "100",
        "label",
        "200",
        "rd",
        "192.0.2.2:2",
        *rt,
        "encap",
        "vxlan",
    )
    gb.add(
        "evpn",
        "esi",
        B4,
        "esi",
        "LACP",
        "02:00:00:00:00:0b",
        "11",
        "rd",
        "192.0.2.2:3",
        *rt,
        "encap",
        "vxlan",
    )
    gb.add(
        "evpn",
        "macadv",
        "02:00:00:00:02:01",
        "203.0.113.202",
        "esi",
        "AS",
        "65000",
        "10",
        "etag",
        "0",
        "label",
        "100",
        "rd",
        "192.0.2.2:4",
        *rt,
        "default-gateway",
        "encap",
        "vxlan",
        note="GoBGP 3.10 puts the default-gateway ext community twice",
    )
    gb.add(
        "evpn",
        "multicast",
        B4,
        "etag",
        "0",
        "rd",
        "192.0.2.2:5",
        *rt,
        "encap",
        "vxlan",
        "pmsi",
        "ingress-repl",
        "100",
        B4,
    )
    gb.add(
        "evpn",
        "prefix",
        "203.0.113.80/28",
        "gw",
        "192.0.2.2",
        "esi",
        "MAC",
        "02:00:00:00:00:0b",
        "12",
        "etag",
        "0",
        "label",
        "500",
        "rd",
        "192.0.2.2:6",
        *rt,
        "encap",
        "vxlan",
        "router-mac",
        "02:00:00:00:02:00",
    )
    gc.add(
        "evpn",
        "prefix",
        "2001:db8:300::/48",
        "gw",
        "::",
        "etag",
        "0",
        "label",
        "501",
        "rd",
        "192.0.2.3:6",
        *rt,
        "encap",
        "vxlan",
        "router-mac",
        "02:00:00:00:03:00",
    )
    gc.add(
        "evpn",
        "macadv",
        "02:00:00:00:03:01",
        "2001:db8::33",
        "etag",
        "0",
        "label",
        "100",
        "rd",
        "192.0.2.3:4",
        *rt,
        "encap",
        "vxlan",
    )
    wait_until("sessions Established", lambda: ga.established(B4) and ga.established(C4), 60)
    ctx.event("established")
    # GoBGP's RR sends 2 paths of 203.0.113.144/28 to one client, 1 to the other (which one
    # varies from run to run), hence the sum
    want = {"B+C vpnv4": 3, "C evpn": 6, "B evpn": 2, "C vpnv6": 1, "A rtc": 2}
    wait_counts(
        "routes reflected",
        lambda: {
            "B+C vpnv4": gc.adj_in(A4, "vpnv4") + gb.adj_in(A4, "vpnv4"),
            "C evpn": gc.adj_in(A4, "evpn"),
            "B evpn": gb.adj_in(A4, "evpn"),
            "C vpnv6": gc.adj_in(A4, "vpnv6"),
            "A rtc": ga.adj_in(B4, "rtc"),
        },
        want,
        30,
    )
    time.sleep(2)
    ctx.event("routes reflected (ORIGINATOR_ID/CLUSTER_LIST added by the RR)")
    fam = ["vpnv4", "vpnv6", "evpn", "rtc"]
    ga.save_views({B4: fam, C4: fam}, fam)
    gb.save_views({A4: fam}, fam)
    gc.save_views({A4: fam}, fam)
    gb.delete(
        "evpn",
        "a-d",
        "esi",
        "ARBITRARY",
        "11:22:33:44:55:66:77:88:99",
        "etag",
        "100",
        "label",
        "200",
        "rd",
        "192.0.2.2:2",
    )
    gc.cli("vrf", "del", "v1")
    ctx.event("B withdraws one E-VPN A-D route; C deletes its VRF (RTC withdrawal)")
    wait_until(
        "withdrawals reflected",
        lambda: gc.adj_in(A4, "evpn") <= 5 and ga.adj_in(C4, "rtc") == 0,
        30,
    )
    time.sleep(1)
    ctx.stop_capture()


def mrt_gobgp(ctx: Ctx) -> None:
    """GoBGP A dumps MRT (updates = BGP4MP, table = TABLE_DUMP_V2) while FRR B sends routes."""
    a, b = two_namespaces(ctx)
    mdir = ctx.subdir("mrt")
    upd, table = mdir / "updates.mrt", mdir / "table.mrt"
    mrt_conf = (
        f'[[mrt-dump]]\n  [mrt-dump.config]\n    dump-type = "updates"\n'
        f'    file-name = "{upd}"\n\n'
        f'[[mrt-dump]]\n  [mrt-dump.config]\n    dump-type = "table"\n'
        f'    file-name = "{table}"\n    dump-interval = 3\n\n'
    )
    fams = ["ipv4-unicast", "ipv6-unicast"]
    g = GoBGP(
        ctx, a, "A", gobgp_global(65000, A4) + gobgp_neighbor(B4, 65001, fams) + mrt_conf, "gobgp-A"
    )
    frr_conf = f"""frr defaults traditional
hostname frr-B
!
route-map ATTRS permit 10
 set community 65001:1
 set large-community 65001:2:3
 set metric 11
exit
!
router bgp 65001
 bgp router-id {B4}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor {A4} remote-as 65000
 neighbor {A4} timers connect 1
 address-family ipv4 unicast
  network 203.0.113.32/28 route-map ATTRS
  network 198.51.100.0/24
  neighbor {A4} activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:100:2::/64 route-map ATTRS
  network 2001:db8:100:3::/64
  neighbor {A4} activate
 exit-address-family
exit
!
end
"""
    f = FRR(ctx, b, "B", frr_conf)
    g.add("ipv4", "203.0.113.16/28", "nexthop", A4, "community", "65000:1")
    g.add("ipv6", "2001:db8:100:1::/64", "nexthop", A6)
    wait_until("session Established", lambda: g.established(B4), 60)
    wait_until(
        "routes received", lambda: g.adj_in(B4, "ipv4") >= 2 and g.adj_in(B4, "ipv6") >= 2, 60
    )
    t_routes = time.time()
    f.vtysh(
        "configure terminal",
        "router bgp 65001",
        "address-family ipv4 unicast",
        "no network 198.51.100.0/24",
    )
    wait_until(
        "withdrawal received",
        lambda: g.adj_in(B4, "ipv4") == 1,
        30,
        detail=lambda: g.cli("neighbor", B4, "adj-in", "-a", "ipv4"),
    )
    wait_until(
        "a table dump taken after the routes arrived",
        lambda: (
            table.exists() and table.stat().st_mtime > t_routes + 1 and table.stat().st_size > 200
        ),
        30,
        0.5,
    )
    time.sleep(1)
    rib4 = g.cli("-j", "global", "rib", "-a", "ipv4")
    rib6 = g.cli("-j", "global", "rib", "-a", "ipv6")
    g.cli("neighbor", B4, "shutdown", "--reason", "gcap: end of MRT recording")
    wait_until("session down", lambda: not g.established(B4), 20)
    time.sleep(1)
    ctx.mrt_dir.mkdir(parents=True, exist_ok=True)
    # stop gobgpd so the dumps are flushed and closed
    g.stop()
    shutil.copyfile(table, ctx.mrt_dir / "gobgp-table-dump-v2.mrt")
    shutil.copyfile(upd, ctx.mrt_dir / "gobgp-bgp4mp-updates.mrt")
    common = {
        "recorded_by": "scripts/capture_golden.py --scenario mrt-gobgp",
        "implementation": f"gobgp {version_of('gobgp')}",
        "peer": f"frr {version_of('frr')} AS 65001 at {B4}",
        "local": f"gobgp AS 65000 at {A4}",
    }
    (ctx.mrt_dir / "gobgp-table-dump-v2.json").write_text(
        json.dumps(
            {
                **common,
                "format": "RFC 6396 TABLE_DUMP_V2 (type 13): PEER_INDEX_TABLE, "
                "RIB_IPV4_UNICAST, RIB_IPV6_UNICAST",
                "config": "[[mrt-dump]] dump-type = table, "
                "dump-interval = 3 (the last dump of the global RIB is kept)",
                "content": "GoBGP's global RIB after the withdrawal of 198.51.100.0/24",
                "expected_ipv4": json.loads(rib4),
                "expected_ipv6": json.loads(rib6),
            },
            indent=1,
        )
        + "\n"
    )
    (ctx.mrt_dir / "gobgp-bgp4mp-updates.json").write_text(
        json.dumps(
            {
                **common,
                "format": "RFC 6396 BGP4MP (type 16) / BGP4MP_ET: messages and state "
                "changes GoBGP recorded for its peer",
                "config": "[[mrt-dump]] dump-type = updates",
                "content": "the UPDATEs received from FRR (ipv4 203.0.113.32/28 with community "
                "65001:1, large community 65001:2:3, MED 11; 198.51.100.0/24; ipv6 "
                "2001:db8:100:2::/64, 2001:db8:100:3::/64; End-of-RIB), then the withdrawal of "
                "198.51.100.0/24",
            },
            indent=1,
        )
        + "\n"
    )
    ctx.event("MRT files written")


def mrt_bird(ctx: Ctx) -> None:
    """BIRD B records BGP4MP (mrtdump messages/states) and TABLE_DUMP_V2 (protocol mrt) of
    the ipv4/ipv6 routes it has, while GoBGP A sends it routes."""
    a, b = two_namespaces(ctx)
    fams = ["ipv4-unicast", "ipv6-unicast"]
    g = GoBGP(ctx, a, "A", gobgp_global(65000, A4) + gobgp_neighbor(B4, 65001, fams), "gobgp-A")
    conf = f"""log "RUNDIR/bird.log" all;
router id {B4};
mrtdump "RUNDIR/bgp4mp.mrt";
mrtdump protocols {{ states, messages }};
ipv4 table master4;
ipv6 table master6;
protocol device {{}}
protocol static s4 {{ ipv4; route 203.0.113.32/28 blackhole; route 198.51.100.0/24 blackhole; }}
protocol static s6 {{ ipv6; route 2001:db8:100:2::/64 blackhole; }}
filter ex {{ bgp_community.add((65001, 1)); bgp_large_community.add((65001, 2, 3)); accept; }}
protocol bgp p4 {{
  local {B4} as 65001;
  neighbor {A4} as 65000;
  connect delay time 1; connect retry time 2;
  mrtdump all;
  ipv4 {{ import all; export filter ex; }};
  ipv6 {{ import all; export filter ex; }};
}}
protocol mrt m1 {{ disabled; table "master*"; filename "RUNDIR/table.mrt"; period 2; }}
"""
    bird = Bird(ctx, b, "B", conf)
    g.add(
        "ipv4",
        "203.0.113.16/28",
        "nexthop",
        A4,
        "community",
        "65000:1",
        "med",
        "7",
        "large-community",
        "65000:7:7",
    )
    g.add("ipv4", "203.0.113.64/26", "nexthop", A4, "aspath", "4200000001,65010")
    g.add("ipv6", "2001:db8:100:1::/64", "nexthop", A6, "community", "65000:6")
    g.add("ipv6", "2001:db8:300::/48", "nexthop", A6)
    wait_until("session Established", lambda: g.established(B4), 60)
    wait_until(
        "routes at BIRD",
        lambda: all(
            p in bird.birdc("show", "route")
            for p in (
                "203.0.113.16/28",
                "203.0.113.64/26",
                "2001:db8:100:1::/64",
                "2001:db8:300::/48",
            )
        ),
        30,
    )
    wait_until(
        "routes at GoBGP", lambda: g.adj_in(B4, "ipv4") >= 2 and g.adj_in(B4, "ipv6") >= 1, 30
    )
    g.delete("ipv4", "203.0.113.64/26")
    wait_until(
        "withdrawal at BIRD", lambda: "203.0.113.64/26" not in bird.birdc("show", "route"), 30
    )
    # few table dumps: enable the mrt protocol and disable it as soon as a dump is there
    bird.birdc("enable", "m1")
    wait_until(
        "table dump",
        lambda: (bird.dir / "table.mrt").exists() and (bird.dir / "table.mrt").stat().st_size > 300,
        10,
        0.1,
    )
    time.sleep(0.5)
    bird.birdc("disable", "m1")
    routes = bird.birdc("show", "route", "all")
    g.cli("neighbor", B4, "shutdown", "--reason", "gcap: end of MRT recording")
    wait_until("session down", lambda: not g.established(B4), 20)
    time.sleep(0.5)
    bird.birdc("down")
    ctx.mrt_dir.mkdir(parents=True, exist_ok=True)
    table, upd = bird.dir / "table.mrt", bird.dir / "bgp4mp.mrt"
    if not table.exists() or table.stat().st_size == 0 or not upd.exists():
        raise CaptureError("BIRD wrote no MRT files")
    shutil.copyfile(table, ctx.mrt_dir / "bird-table-dump-v2.mrt")
    shutil.copyfile(upd, ctx.mrt_dir / "bird-bgp4mp-updates.mrt")
    (ctx.mrt_dir / "bird-routes.txt").write_text(routes)
    common = {
        "recorded_by": "scripts/capture_golden.py --scenario mrt-bird",
        "implementation": f"bird {version_of('bird')} (router id {B4}, AS 65001)",
        "peer": f"gobgp {version_of('gobgp')} AS 65000 at {A4} (ipv4 + ipv6 unicast over "
        "one IPv4 session)",
        "peer_view": "bird-routes.txt = birdc show route all at dump time",
    }
    (ctx.mrt_dir / "bird-table-dump-v2.json").write_text(
        json.dumps(
            {
                **common,
                "format": "RFC 6396 TABLE_DUMP_V2 (type 13): PEER_INDEX_TABLE then "
                "RIB_IPV4_UNICAST / RIB_IPV6_UNICAST records; BIRD writes one dump per table "
                "(master4, master6) into the same file, each with its own PEER_INDEX_TABLE",
                "config": 'protocol mrt { disabled; table "master*"; period 2; } enabled after the '
                "routes converged and disabled right after its first dump; BIRD may still "
                "append a second dump: expect one or more (PEER_INDEX_TABLE + RIB records) "
                "groups per table, all with the same routes",
                "content": {
                    "ipv4": [
                        "198.51.100.0/24 (static, BIRD)",
                        "203.0.113.32/28 (static, BIRD)",
                        "203.0.113.16/28 from GoBGP (community 65000:1, MED 7, large "
                        "community 65000:7:7)",
                    ],
                    "ipv6": [
                        "2001:db8:100:2::/64 (static, BIRD)",
                        "2001:db8:100:1::/64 from GoBGP (community 65000:6)",
                        "2001:db8:300::/48 from GoBGP",
                    ],
                },
            },
            indent=1,
        )
        + "\n"
    )
    (ctx.mrt_dir / "bird-bgp4mp-updates.json").write_text(
        json.dumps(
            {
                **common,
                "format": "RFC 6396 BGP4MP (type 16): BGP4MP_STATE_CHANGE_AS4 and "
                "BGP4MP_MESSAGE_AS4 records (messages sent and received by BIRD)",
                "config": "mrtdump protocols { states, messages }; "
                "protocol bgp ... { mrtdump all; }",
                "content": "the whole session: state changes, OPENs, KEEPALIVEs, UPDATEs both ways "
                "(GoBGP: 203.0.113.16/28, 203.0.113.64/26 AS_PATH 65000 4200000001 65010, "
                "2001:db8:100:1::/64, 2001:db8:300::/48; BIRD: its statics with community 65001:1 "
                "and large community 65001:2:3), End-of-RIB markers, the withdrawal of "
                "203.0.113.64/26 and GoBGP's Cease/Administrative Shutdown NOTIFICATION with the "
                "message 'gcap: end of MRT recording'",
            },
            indent=1,
        )
        + "\n"
    )
    ctx.event("MRT files written")


# --------------------------------------------------------------------------------------------
# driver

SCENARIOS: dict[str, Scenario] = {}


def register(
    name: str,
    description: str,
    func: Callable[[Ctx], None],
    default: bool = True,
    kind: str = "capture",
) -> None:
    SCENARIOS[name] = Scenario(name, description, func, default, kind)


register(
    "gobgp-frr-ibgp",
    "GoBGP <-> FRR iBGP over IPv4 (ipv4, vpnv4, evpn) and IPv6 (ipv6, vpnv6) transport; "
    "routes with communities/large communities/MED/local-pref both ways; E-VPN type 2/3/5 "
    "both ways; ROUTE-REFRESH from FRR; withdrawals both ways; administrative shutdown "
    "with an RFC 9003 message from each side.",
    scn_gobgp_frr_ibgp,
)
register(
    "gobgp-frr-ebgp",
    "GoBGP (AS 4200000001) <-> FRR (AS 4200000002) eBGP: 4-octet ASNs, multi-AS AS_PATHs "
    "and prepends, graceful restart + long-lived graceful restart, FQDN/extended message "
    "capabilities from FRR, IPv6 unicast over the IPv4 session, End-of-RIB markers.",
    scn_gobgp_frr_ebgp,
)
register(
    "gobgp-bird",
    "GoBGP <-> BIRD: iBGP over IPv4 (ipv4 with AIGP, MED, local-pref, communities, large "
    "and extended communities; vpnv4 with label 3) and eBGP over IPv6 with the RFC 9234 "
    "role capability and OTC (ipv6, vpnv6); ROUTE-REFRESH from BIRD; shutdown message.",
    scn_gobgp_bird,
)
register(
    "gobgp-bird-bulk",
    "BIRD sends 1533 IPv4 prefixes (every /24../32 in the three documentation /24s) to "
    "GoBGP over eBGP: many NLRI packed per UPDATE.",
    scn_gobgp_bird_bulk,
)
register(
    "gobgp-openbgpd",
    "GoBGP <-> OpenBGPD iBGP over IPv4 (ipv4, vpnv4) and IPv6 (ipv6, vpnv6): OpenBGPD "
    "network statements with communities/large/ext communities, MED, localpref; VPN "
    "received by OpenBGPD; ROUTE-REFRESH and a shutdown message from OpenBGPD.",
    scn_gobgp_openbgpd,
)
register(
    "gobgp-exabgp",
    "GoBGP <-> ExaBGP: iBGP (4-octet AS) with attribute-rich routes (AS_SET, atomic "
    "aggregate, aggregator, originator id, cluster list, unknown transitive attribute), "
    "labeled unicast, vpnv4/vpnv6, flowspec; plus an eBGP session over IPv6 without the "
    "4-octet AS capability (AS_TRANS + AS4_PATH) and with ADD-PATH both ways.",
    scn_gobgp_exabgp,
)
register(
    "gobgp-gobgp-rr",
    "Three GoBGPs, A the route reflector of B and C (one bridge, one capture): RTC "
    "membership NLRI, reflected routes with ORIGINATOR_ID/CLUSTER_LIST, ADD-PATH on "
    "vpnv4, E-VPN types 1/2/3/4/5 with ESI label, default gateway, router MAC, PMSI "
    "tunnel; withdrawals incl. RTC.",
    scn_gobgp_gobgp_rr,
)
register(
    "mrt-bird",
    "BIRD MRT recording while GoBGP sends ipv4/ipv6 routes: TABLE_DUMP_V2 (protocol mrt) "
    "and BGP4MP messages (mrtdump) written to the MRT output directory (no pcap).",
    mrt_bird,
    kind="mrt",
)
# Not in the default set: GoBGP 3.10 enforces a 60 s minimum dump interval ("use minimum mrt
# dump interval") and, here, never created the "updates" dump file at all; BIRD is used instead.
register(
    "mrt-gobgp",
    "GoBGP MRT dumps while FRR sends ipv4/ipv6 routes (TABLE_DUMP_V2 + BGP4MP updates).",
    mrt_gobgp,
    default=False,
    kind="mrt",
)


def check_environment(selected: Sequence[Scenario]) -> None:
    if os.geteuid() != 0:
        raise SystemExit("capture_golden.py: needs root (network namespaces, tcpdump)")
    need = {"ip", "tcpdump", "unshare"}
    for sc in selected:
        need |= set(REQUIRED_TOOLS.get(sc.name, ()))
    missing = sorted(t for t in need if shutil.which(t) is None and not Path(t).exists())
    if missing:
        raise SystemExit(f"capture_golden.py: missing tools: {' '.join(missing)} (run `make debs`)")


_GOBGP = ("gobgpd", "gobgp")
_FRR = ("/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh")
REQUIRED_TOOLS: dict[str, tuple[str, ...]] = {
    "gobgp-frr-ibgp": (*_GOBGP, *_FRR, "bridge"),
    "gobgp-frr-ebgp": (*_GOBGP, *_FRR),
    "gobgp-bird": (*_GOBGP, "bird", "birdc"),
    "gobgp-bird-bulk": (*_GOBGP, "bird", "birdc"),
    "gobgp-openbgpd": (*_GOBGP, "/usr/sbin/bgpd", "bgpctl"),
    "gobgp-exabgp": (*_GOBGP, "/usr/sbin/exabgp"),
    "gobgp-gobgp-rr": _GOBGP,
    "mrt-gobgp": (*_GOBGP, *_FRR),
    "mrt-bird": (*_GOBGP, "bird", "birdc"),
}


@contextlib.contextmanager
def scenario_run(sc: Scenario, out: Path, mrt_out: Path, keep: bool) -> Iterator[Ctx]:
    run_dir = Path(tempfile.mkdtemp(prefix=f"gcap-{sc.name}-"))
    run_dir.chmod(0o755)
    # captures are written to a staging directory and moved in place only on success
    out_dir = out / f".{sc.name}.partial" if sc.kind == "capture" else run_dir / "out"
    ctx = Ctx(sc, out_dir, run_dir, mrt_out)
    ok = False
    try:
        yield ctx
        ok = True
    finally:
        RES.cleanup()
        if ok and sc.kind == "capture":
            final = out / sc.name
            if final.exists():
                shutil.rmtree(final)
            out_dir.rename(final)
        else:
            shutil.rmtree(out_dir, ignore_errors=True)
        if ok and not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        elif not ok:
            print(f"  [{sc.name}] logs kept in {run_dir}", file=sys.stderr)


def capture_one(sc: Scenario, out: Path, mrt_out: Path, keep: bool, pcapng: bool) -> None:
    with scenario_run(sc, out, mrt_out, keep) as ctx:
        if ctx.out_dir.exists():
            shutil.rmtree(ctx.out_dir)
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        sc.func(ctx)
        ctx.stop_capture()
        if sc.kind == "capture":
            if pcapng and shutil.which("tshark"):
                run(
                    [
                        "tshark",
                        "-r",
                        str(ctx.out_dir / "session.pcap"),
                        "-F",
                        "pcapng",
                        "-w",
                        str(ctx.out_dir / "session.pcapng"),
                    ]
                )
                ctx.meta["pcapng"] = "session.pcapng (tshark -F pcapng of session.pcap)"
            ctx.finish()


PCAPNG_SCENARIOS = {"gobgp-openbgpd"}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("tests/fixtures/captures"),
        help="output directory for captures (default: %(default)s)",
    )
    ap.add_argument(
        "--mrt-out",
        type=Path,
        default=None,
        help="output directory for MRT scenarios (default: <out>/../mrt)",
    )
    ap.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="capture only this scenario (repeatable; default: all default ones)",
    )
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument(
        "--keep-run-dir",
        action="store_true",
        help="keep the temporary run directories (configs, daemon logs)",
    )
    args = ap.parse_args(argv)

    if args.list:
        for sc in SCENARIOS.values():
            flag = "" if sc.default else " (not in the default set)"
            print(f"{sc.name:22} {sc.description}{flag}")
        return 0
    unknown = [n for n in args.scenario if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    selected = (
        [SCENARIOS[n] for n in args.scenario]
        if args.scenario
        else [s for s in SCENARIOS.values() if s.default]
    )
    check_environment(selected)
    mrt_out = args.mrt_out or args.out.resolve().parent / "mrt"

    atexit.register(RES.cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    failed: list[str] = []
    for sc in selected:
        print(f"== {sc.name}", file=sys.stderr)
        t0 = time.monotonic()
        try:
            capture_one(
                sc, args.out, mrt_out, args.keep_run_dir, pcapng=sc.name in PCAPNG_SCENARIOS
            )
        except CaptureError as exc:
            print(f"FAILED {sc.name}: {exc}", file=sys.stderr)
            failed.append(sc.name)
            continue
        except KeyboardInterrupt:
            print(f"interrupted during {sc.name}; cleaned up", file=sys.stderr)
            return 130
        print(f"   ok {sc.name} ({time.monotonic() - t0:.0f}s)", file=sys.stderr)
    left = [n for n in run(["ip", "netns", "list"]).split() if n.startswith(NS_PREFIX)]
    if left:
        print(f"warning: namespaces left behind: {left}", file=sys.stderr)
        failed.append("cleanup")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
