"""The end-to-end lab of tests/e2e: bgpvpn daemons with the Linux data plane, each in its own
"host" namespace, a GoBGP route reflector and an FRR host (zebra + bgpd) in the same E-VPN, and
"VM" namespaces attached through the daemons' API and CLI.

Underlay: one layer-2 segment 192.0.2.0/24, a bridge ``sw0`` in the namespace ``sw`` (which
also runs gobgpd, the route reflector, 192.0.2.254); each host has ``eth0`` on it and its
address is its router id and VTEP::

    b1 (bgpvpn) 192.0.2.1    b2 (bgpvpn) 192.0.2.2    f (FRR) 192.0.2.3
            \\                       |                      /
             +-------------- sw0 (sw, gobgpd RR 192.0.2.254) +

F has a bridge ``br100`` with a VXLAN device ``vxlan100`` (VNI 100, local 192.0.2.3,
nolearning) and the VM ``fvm`` (52:54:00:00:03:01, 198.51.100.13/25) on it; FRR advertises
it with ``advertise-all-vni`` (auto RT 64512:100).

A VM is a namespace with ``eth0`` whose veth peer (``tap-...``) sits in its host's namespace;
the test creates both and attaches the tap. Nothing is routed outside: only the namespaces of
``harness.Lab`` (deleted at the end, also on failure) and documentation addresses.

Kernel objects are listed with iproute2 (``ip -j``, ``bridge -j``) in the host namespace.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

from harness import (
    GoBGP,
    Lab,
    LabError,
    Proc,
    gobgp_config,
    gobgp_neighbor,
    run,
    wait_until,
)

from bgpvpn.lab import system

BGPVPN = str(Path(sys.executable).parent / "bgpvpn")
API_PORT = 8082
API = f"http://127.0.0.1:{API_PORT}"
FRR_ZEBRA = "/usr/lib/frr/zebra"
FRR_BGPD = "/usr/lib/frr/bgpd"
ASN = 64512
RR = "192.0.2.254"
ADDR = {"b1": "192.0.2.1", "b2": "192.0.2.2", "f": "192.0.2.3"}
FRR_VNI = 100
FRR_VM_MAC = "52:54:00:00:03:01"
FRR_VM_IP = "198.51.100.13"
RULE_PREFS = (1860, 1861, 1862)
PROTO = 186
OUR_LINKS = ("bvbr-", "bvx-", "bvr-")


# --------------------------------------------------------------------------- shell helpers


def ip_json(ns: str, *args: str) -> Any:
    out = run(["ip", "-n", ns, "-j", *args])
    return json.loads(out) if out.strip() else []


def bridge_json(ns: str, *args: str) -> Any:
    out = run(["bridge", "-n", ns, "-j", *args])
    return json.loads(out) if out.strip() else []


def ping_once(ns: str, ip: str, wait: int = 1) -> bool:
    cp = subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "1", "-W", str(wait), ip],
        capture_output=True,
        check=False,
        timeout=wait + 10,
    )
    return cp.returncode == 0


def pings(ns: str, ip: str, timeout: float = 30.0) -> None:
    """``ip`` answers a ping from ``ns`` within ``timeout`` seconds (polled)."""
    wait_until(f"{ns} -> {ip} answers", lambda: ping_once(ns, ip), timeout, 0.2)


def no_ping(ns: str, ip: str) -> bool:
    """True when ``ip`` answers none of three pings from ``ns`` (in 2 s)."""
    cp = subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "3", "-i", "0.3", "-w", "2", ip],
        capture_output=True,
        check=False,
        timeout=15,
    )
    return cp.returncode != 0


def sysctl(ns: str, key: str) -> str:
    return run(["sysctl", "-n", key], ns=ns).strip()


# ----------------------------------------------------------------------- kernel snapshot


def _canon(d: dict[str, Any], drop: Iterable[str] = ()) -> str:
    return json.dumps({k: v for k, v in d.items() if k not in drop}, sort_keys=True)


def snapshot(ns: str) -> dict[str, list[str]]:
    """The kernel objects of a host namespace that bgpvpn programs, as sorted text lines (from
    ``ip -j`` / ``bridge -j``): links (name, kind, master, MAC, MTU, alias, VXLAN id/local/port/
    learning), FDB entries (multicast ones left out), permanent/noarp neighbours, proto-186
    routes in every table (IPv4 and IPv6) and the rules of priority 1860-1862."""
    links = []
    for link in ip_json(ns, "-d", "link", "show"):
        info = link.get("linkinfo") or {}
        data = info.get("info_data") or {}
        vx = (
            {k: data.get(k) for k in ("id", "local", "port", "learning")}
            if info.get("info_kind") == "vxlan"
            else {}
        )
        links.append(
            _canon(
                {
                    "name": link["ifname"],
                    "kind": info.get("info_kind"),
                    "master": link.get("master"),
                    "mac": link.get("address"),
                    "mtu": link.get("mtu"),
                    "alias": link.get("ifalias"),
                    **vx,
                }
            )
        )
    fdb = [
        _canon(e)
        for e in bridge_json(ns, "fdb", "show")
        if not str(e.get("mac", "")).startswith(("33:33", "01:00:5e"))
    ]
    neigh = []
    for fam in ("-4", "-6"):
        for n in ip_json(ns, fam, "neigh", "show"):
            state = n.get("state") or []
            if "PERMANENT" in state or "NOARP" in state:
                neigh.append(_canon(n))
    routes = []
    rules = []
    for fam in ("-4", "-6"):
        routes += [
            _canon(r) for r in ip_json(ns, fam, "route", "show", "table", "all", "proto", "186")
        ]
        rules += [
            _canon(r, ("flags",))
            for r in ip_json(ns, fam, "rule", "show")
            if r.get("priority") in RULE_PREFS
        ]
    return {
        "links": sorted(links),
        "fdb": sorted(fdb),
        "neigh": sorted(neigh),
        "routes": sorted(routes),
        "rules": sorted(rules),
    }


def diff(a: dict[str, list[str]], b: dict[str, list[str]]) -> str:
    """What differs between two snapshots (empty when they are equal)."""
    out = []
    for k in sorted(set(a) | set(b)):
        sa, sb = set(a.get(k, [])), set(b.get(k, []))
        out += [f"  {k} only before: {x}" for x in sorted(sa - sb)]
        out += [f"  {k} only after:  {x}" for x in sorted(sb - sa)]
    return "\n".join(out)


def our_leftovers(ns: str) -> list[str]:
    """bgpvpn-tagged objects in ``ns``: links named bvbr-/bvx-/bvr- or aliased bgpvpn:,
    proto-186 routes, rules of priority 1860-1862."""
    left = []
    for link in ip_json(ns, "link", "show"):
        if link["ifname"].startswith(OUR_LINKS) or str(link.get("ifalias", "")).startswith(
            "bgpvpn:"
        ):
            left.append(f"link {link['ifname']}")
        if str(link.get("master", "")).startswith("bvbr-"):
            left.append(f"port {link['ifname']} master {link['master']}")
    for fam in ("-4", "-6"):
        for r in ip_json(ns, fam, "route", "show", "table", "all", "proto", "186"):
            left.append(f"route {_canon(r)}")
        for r in ip_json(ns, fam, "rule", "show"):
            if r.get("priority") in RULE_PREFS:
                left.append(f"rule {_canon(r)}")
    return left


# ------------------------------------------------------------------------------- daemons


@dataclass
class Vm:
    name: str
    ns: str
    host: str  # host tag
    tap: str
    mac: str
    ip: str  # with its length
    gateway: str | None = None

    @property
    def addr(self) -> str:
        return self.ip.split("/")[0]


class Daemon:
    """``bgpvpn daemon`` on a host namespace with the Linux data plane and a store file."""

    def __init__(self, net: Net, tag: str, run_dir: Path) -> None:
        self.net, self.tag, self.ns = net, tag, net.hosts[tag]
        self.addr = ADDR[tag]
        self.dir = run_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "bgpvpn.toml"
        self.store = self.dir / "store.db"
        self.log = self.dir / "bgpvpn.log"
        self.conf.write_text(
            "\n".join(
                [
                    "[bgp]",
                    f"asn = {ASN}",
                    f'router_id = "{self.addr}"',
                    'listen = "0.0.0.0"',
                    "[[bgp.peers]]",
                    f'address = "{RR}"',
                    f"asn = {ASN}",
                    'families = ["vpnv4", "evpn", "rtc"]',
                    "[api]",
                    'listen = "127.0.0.1"',
                    f"port = {API_PORT}",
                    "[dataplane]",
                    'evpn = "linux"',
                    'ipvpn = "linux"',
                    f'vtep = "{self.addr}"',
                    "[store]",
                    f'path = "{self.store}"',
                    "",
                ]
            )
        )
        self.proc: Proc | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self, wait: bool = True) -> Daemon:
        if self.proc is not None and self.proc.alive():
            raise LabError(f"bgpvpn {self.tag} still runs")
        self.proc = self.net.lab.start(
            f"bgpvpn-{self.tag}", self.ns, [BGPVPN, "daemon", "-c", str(self.conf)], self.log
        )
        if wait:
            self.wait_api()
        return self

    def wait_api(self) -> None:
        wait_until(f"bgpvpn {self.tag} API", self._api_up, 60, 0.2, detail=self.tail)

    def _api_up(self) -> bool:
        if self.proc is None or not self.proc.alive():
            raise AssertionError(f"bgpvpn {self.tag} exited:\n{self.tail()}")
        try:
            return bool(self.api("GET", "/v1/status", timeout=2))
        except system.HttpError:
            return False

    def established(self) -> bool:
        peers = self.api("GET", "/v1/peers")
        return all(p["state"] == "established" for p in peers) and bool(peers)

    def wait_established(self, timeout: float = 60) -> None:
        wait_until(f"bgpvpn {self.tag} session with the RR", self.established, timeout, 0.2)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self._forget()

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM and wait for the exit; returns the exit status."""
        assert self.proc is not None
        p = self.proc.popen
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"bgpvpn {self.tag} did not stop on SIGTERM:\n{self.tail()}"
            ) from None
        self._forget()
        return rc

    def _forget(self) -> None:
        if self.proc in self.net.lab.procs:
            self.net.lab.procs.remove(self.proc)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    # ---------------------------------------------------------------- API and CLI

    def api(self, method: str, path: str, body: Any = None, timeout: float = 20) -> Any:
        return system.http_json(self.ns, API_PORT, method, path, body, timeout=timeout)

    def cli(self, *args: str) -> str:
        """``bgpvpn --api ... ARGS`` run in the host namespace; must succeed."""
        return run([BGPVPN, "--api", API, *args], ns=self.ns, timeout=60)

    def attach(self, vm: Vm, instance: str, kind: str, rts: Iterable[str], vni: int | None = None,
               cli: bool = False) -> Any:  # fmt: skip
        """Attach ``vm``'s tap to ``instance`` (created if needed), through ``bgpvpn attach``
        when ``cli``, else ``POST /v1/attach``."""
        rts = list(rts)
        if cli:
            args = ["attach", "--port", vm.tap, "--vpn-instance-id", instance,
                    "--network-type", kind, "--mac", vm.mac, "--ip", vm.ip, "--json"]  # fmt: skip
            for rt in rts:
                args += ["--rt", rt]
            if vm.gateway:
                args += ["--gateway-ip", vm.gateway]
            if vni is not None:
                args += ["--vni", str(vni)]
            return json.loads(self.cli(*args))
        body: dict[str, Any] = {
            "instance_id": instance,
            "instance_type": kind,
            "port": vm.tap,
            "mac": vm.mac,
            "ips": [vm.ip],
            "route_targets": rts,
        }
        if vm.gateway:
            body["gateway_ip"] = vm.gateway
        if vni is not None:
            body["vni"] = vni
        return self.api("POST", "/v1/attach", body)

    def detach_cli(self, vm: Vm, instance: str) -> Any:
        return json.loads(
            self.cli("detach", "--port", vm.tap, "--vpn-instance-id", instance, "--json")
        )

    def instance(self, iid: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/v1/instances/{iid}"))


# --------------------------------------------------------------------------------- FRR


def frr_conf() -> str:
    f = ADDR["f"]
    return "\n".join(
        [
            "hostname f",
            "router bgp 64512",
            f" bgp router-id {f}",
            " no bgp default ipv4-unicast",
            " no bgp network import-check",
            f" neighbor {RR} remote-as 64512",
            f" neighbor {RR} timers connect 1",
            " address-family l2vpn evpn",
            f"  neighbor {RR} activate",
            "  advertise-all-vni",
            " exit-address-family",
            "",
        ]
    )


class Frr:
    """zebra + bgpd on F (bgpd without ``-n``: zebra installs the remote MACs and flood list
    FRR learns into F's kernel, as on a real FRR host)."""

    def __init__(self, lab: Lab, ns: str) -> None:
        self.lab, self.ns = lab, ns
        self.dir = lab.dir("frr-f")
        (self.dir / "bgpd.conf").write_text(frr_conf())
        (self.dir / "zebra.conf").write_text("hostname f\n")
        run(["chown", "-R", "frr:frr", str(self.dir)])
        common = ["--vty_socket", str(self.dir), "-z", str(self.dir / "zserv.api"), "-P", "0"]
        self.zebra = lab.start(
            "zebra-f", ns,
            [FRR_ZEBRA, "-f", str(self.dir / "zebra.conf"), "-i", str(self.dir / "zebra.pid"),
             *common, "--log", f"file:{self.dir}/zebra.log"],
            self.dir / "zebra.out",
        )  # fmt: skip
        wait_until("zebra socket", lambda: (self.dir / "zserv.api").exists(), 30, 0.1)
        self.bgpd = lab.start(
            "bgpd-f", ns,
            [FRR_BGPD, "-f", str(self.dir / "bgpd.conf"), "-i", str(self.dir / "bgpd.pid"),
             *common, "--log", f"file:{self.dir}/bgpd.log"],
            self.dir / "bgpd.out",
        )  # fmt: skip
        wait_until("FRR bgpd vty", lambda: (self.dir / "bgpd.vty").exists(), 30, 0.1)

    def vtysh(self, *cmds: str) -> str:
        if not (self.zebra.alive() and self.bgpd.alive()):
            raise LabError("FRR on f exited")
        argv = ["vtysh", "--vty_socket", str(self.dir)]
        for c in cmds:
            argv += ["-c", c]
        return run(argv)

    def json(self, cmd: str) -> Any:
        return json.loads(self.vtysh(cmd))

    def established(self) -> bool:
        data = self.json(f"show bgp neighbors {RR} json")
        return bool(data.get(RR, {}).get("bgpState") == "Established")

    def evpn_routes(self) -> dict[str, dict[str, Any]]:
        """``show bgp l2vpn evpn json`` flattened: route text -> {rd, paths}."""
        data = self.json("show bgp l2vpn evpn json")
        out: dict[str, dict[str, Any]] = {}
        for rd, routes in data.items():
            if not isinstance(routes, dict) or "rd" not in routes:
                continue
            for key, val in routes.items():
                if isinstance(val, dict) and "paths" in val:
                    out[key] = {"rd": rd, "paths": val["paths"]}
        return out


# --------------------------------------------------------------------------------- Net


@dataclass
class Net:
    lab: Lab
    sw: str
    hosts: dict[str, str]  # tag -> namespace
    rr: Any = None
    frr: Frr | None = None
    fvm: Vm | None = None
    vms: list[Vm] = field(default_factory=list)
    daemons: list[Daemon] = field(default_factory=list)
    _runs: int = 0

    @classmethod
    def build(cls, with_frr: bool = True) -> Net:
        lab = Lab("e2e")
        try:
            sw = lab.ns("sw")
            run(["ip", "-n", sw, "link", "add", "sw0", "type", "bridge"])
            run(["ip", "-n", sw, "addr", "add", f"{RR}/24", "dev", "sw0"])
            run(["ip", "-n", sw, "link", "set", "sw0", "up"])
            net = cls(lab, sw, {})
            for tag in ("b1", "b2", "f") if with_frr else ("b1", "b2"):
                net._host(tag)
            neighbors = [
                gobgp_neighbor(ADDR[t], ASN, ["l2vpn-evpn", "l3vpn-ipv4-unicast", "rtc"],
                               rr_client=RR)
                for t in ("b1", "b2")
            ]  # fmt: skip
            if with_frr:
                neighbors.append(gobgp_neighbor(ADDR["f"], ASN, ["l2vpn-evpn"], rr_client=RR))
            net.rr = GoBGP(lab, sw, "rr", gobgp_config(ASN, RR, neighbors, [RR]))
            if with_frr:
                net._frr_host()
            return net
        except BaseException:
            lab.close()
            raise

    def _host(self, tag: str) -> str:
        ns = self.lab.ns(tag)
        self.hosts[tag] = ns
        port = f"p-{tag}"
        run(["ip", "link", "add", "eth0", "netns", ns, "type", "veth",
             "peer", "name", port, "netns", self.sw])  # fmt: skip
        run(["ip", "-n", self.sw, "link", "set", port, "master", "sw0", "up"])
        run(["ip", "-n", ns, "addr", "add", f"{ADDR[tag]}/24", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0"):  # fmt: skip
            run(["sysctl", "-qw", key], ns=ns)
        return ns

    def _frr_host(self) -> None:
        f = self.hosts["f"]
        n = ["ip", "-n", f]
        run([*n, "link", "add", "br100", "type", "bridge"])
        run([*n, "link", "set", "br100", "addrgenmode", "none"])
        run([*n, "link", "add", "vxlan100", "type", "vxlan", "id", str(FRR_VNI),
             "local", ADDR["f"], "dstport", "4789", "nolearning"])  # fmt: skip
        run([*n, "link", "set", "vxlan100", "master", "br100"])
        run(["bridge", "-n", f, "link", "set", "dev", "vxlan100", "learning", "off"])
        for dev in ("br100", "vxlan100"):
            run([*n, "link", "set", dev, "up"])
        vm = self.vm("fvm", "f", FRR_VM_MAC, f"{FRR_VM_IP}/25", keep=True)
        run([*n, "link", "set", vm.tap, "master", "br100"])
        # FRR advertises the MACs in the bridge's FDB on its local ports
        run(["bridge", "-n", f, "fdb", "replace", FRR_VM_MAC, "dev", vm.tap, "master",
             "static"])  # fmt: skip
        self.fvm = vm
        self.frr = Frr(self.lab, f)

    # ----------------------------------------------------------------- per test

    def vm(self, name: str, host: str, mac: str, ip: str, gateway: str | None = None,
           keep: bool = False) -> Vm:  # fmt: skip
        """A VM namespace with eth0 (``mac``, ``ip``, default route via ``gateway``) whose
        veth peer ``tap-<name>`` is in ``host``'s namespace (up, not attached)."""
        ns = self.lab.ns(f"vm-{name}")
        tap = f"tap-{name}"[:15]
        hns = self.hosts[host]
        run(["ip", "link", "add", tap, "netns", hns, "type", "veth",
             "peer", "name", "eth0", "netns", ns])  # fmt: skip
        run(["ip", "-n", ns, "link", "set", "eth0", "address", mac])
        run(["ip", "-n", ns, "addr", "add", ip, "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        run(["ip", "-n", hns, "link", "set", tap, "up"])
        if gateway:
            run(["ip", "-n", ns, "route", "add", "default", "via", gateway, "dev", "eth0",
                 "onlink"])  # fmt: skip
        v = Vm(name, ns, host, tap, mac, ip, gateway)
        if not keep:
            self.vms.append(v)
        return v

    def daemon(self, tag: str) -> Daemon:
        """A new daemon (not started) on host ``tag``, with a store file of its own."""
        self._runs += 1
        d = Daemon(self, tag, self.lab.dir(f"run{self._runs}-{tag}"))
        self.daemons.append(d)
        return d

    def reset(self) -> None:
        """End of a test: stop its daemons (SIGTERM, then SIGKILL), delete its VMs (their taps
        go with them) and whatever bgpvpn-tagged link a failed test left on a host."""
        for d in self.daemons:
            if d.alive():
                with contextlib.suppress(Exception):
                    d.terminate(20)
            if d.alive():
                with contextlib.suppress(Exception):
                    d.kill9()
        self.daemons.clear()
        for vm in self.vms:
            subprocess.run(["ip", "netns", "del", vm.ns], capture_output=True, check=False)
            if vm.ns in self.lab.namespaces:
                self.lab.namespaces.remove(vm.ns)
        self.vms.clear()
        for tag, ns in self.hosts.items():
            if tag == "f":
                continue
            with contextlib.suppress(Exception):
                for link in ip_json(ns, "link", "show"):
                    name = link["ifname"]
                    if name.startswith((*OUR_LINKS, "tap-", "userbr", "uservx")):
                        run(["ip", "-n", ns, "link", "del", name], check=False)
                for fam in ("-4", "-6"):
                    run(["ip", "-n", ns, fam, "route", "flush", "table", "all", "proto", "186"],
                        check=False)  # fmt: skip
                    for r in ip_json(ns, fam, "rule", "show"):
                        if r.get("priority") in RULE_PREFS:
                            run(["ip", "-n", ns, fam, "rule", "del", "priority",
                                 str(r["priority"])], check=False)  # fmt: skip

    def close(self) -> None:
        self.reset()
        self.lab.close()


def wait_equal(what: str, fn: Any, want: Any, timeout: float = 30.0) -> None:
    """Poll ``fn()`` until it equals ``want``."""
    last: list[Any] = [None]

    def check() -> bool:
        last[0] = fn()
        return bool(last[0] == want)

    try:
        wait_until(what, check, timeout, 0.3)
    except AssertionError as exc:
        if isinstance(want, dict) and isinstance(last[0], dict):
            raise AssertionError(f"{exc}\n{diff(want, last[0])}") from None
        raise AssertionError(f"{exc}\nwant {want!r}\ngot  {last[0]!r}") from None


def now() -> float:
    return time.monotonic()
