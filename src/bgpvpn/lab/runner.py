"""``lab up``, ``lab down``, ``lab status``, ``lab exec`` and ``lab ping`` without the CLI.

``up`` builds a topology step by step and records each thing it creates in the lab's state
(``bgpvpn.lab.state``) before or right after creating it; ``down`` undoes exactly what the
state lists (processes by PID and start time, then the namespaces, stopping anything still
running inside them), so it also cleans up after ``up`` or a daemon crashed.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from bgpvpn.lab import system
from bgpvpn.lab.render import (
    API_PORT,
    GOBGP_API_PORT,
    bgpvpn_config_dict,
    daemon_supports_kernel,
    frr_bgpd_conf,
    gobgp_config_dict,
    toml_dumps,
)
from bgpvpn.lab.state import STATE_FILE, LabState, ProcRecord, list_labs
from bgpvpn.lab.topology import HostSpec, Topology, VmSpec

FRR_ZEBRA = "/usr/lib/frr/zebra"
FRR_BGPD = "/usr/lib/frr/bgpd"
FALLBACK_METRIC = 4000  # fallback_routes lose against routes the daemon installs
SESSION_STATES = {1: "idle", 2: "connect", 3: "active", 4: "opensent", 5: "openconfirm"}
SESSION_STATES[6] = "established"


class LabError(RuntimeError):
    pass


class Reporter(Protocol):
    def begin(self, total: int) -> None: ...
    def step(self, text: str) -> None: ...
    def done(self, text: str) -> None: ...
    def note(self, text: str) -> None: ...


class NullReporter:
    def begin(self, total: int) -> None:
        pass

    def step(self, text: str) -> None:
        pass

    def done(self, text: str) -> None:
        pass

    def note(self, text: str) -> None:
        pass


def bgpvpn_argv() -> list[str]:
    script = Path(sys.executable).parent / "bgpvpn"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "bgpvpn.cli.main"]


def vm_mac(topo: Topology, vm: VmSpec) -> str:
    """The vm's MAC: as given, else a locally administered one derived from lab and vm names."""
    if vm.mac:
        return vm.mac
    h = hashlib.sha256(f"{topo.lab.name}/{vm.name}".encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in h[:3])


def required_binaries(topo: Topology) -> list[str]:
    need = ["ip"]
    kinds = {h.kind for h in topo.hosts}
    if "gobgp" in kinds:
        need += ["gobgpd", "gobgp"]
    if "frr" in kinds:
        need += [FRR_ZEBRA, FRR_BGPD, "vtysh"]
    return need


# ------------------------------------------------------------------------------- up


def up(
    topo: Topology,
    root: Path,
    *,
    file: str = "",
    driver: str | None = None,
    wait: float = 60.0,
    cleanup_on_error: bool = True,
    report: Reporter | None = None,
) -> LabState:
    """Build the lab. On failure everything built so far is removed (unless
    ``cleanup_on_error`` is false) and ``LabError`` says what failed."""
    rep = report or NullReporter()
    name = topo.lab.name
    d = root / name
    if (d / STATE_FILE).exists():
        old = LabState.load(d)
        if _anything_left(old):
            raise LabError(
                f"lab {name!r} is already up (state in {d}); run 'bgpvpn lab down' first"
            )
        shutil.rmtree(d, ignore_errors=True)
    elif (d / "state.down.json").exists():
        shutil.rmtree(d, ignore_errors=True)  # the logs a failed or --keep-logs run left
    missing = [b for b in required_binaries(topo) if not system.which(b)]
    if missing:
        raise LabError(f"not installed: {', '.join(missing)}")
    nodes = [h.name for h in topo.hosts] + [v.name for v in topo.vms]
    taken = [topo.namespace(n) for n in nodes if system.netns_exists(topo.namespace(n))]
    if taken:
        raise LabError(
            f"namespace(s) {', '.join(taken)} already exist and are not this lab's; "
            "remove them or rename the lab"
        )
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # FRR's daemons (user frr) must reach their run directories
    d.mkdir(mode=0o755)
    st = LabState(name=name, dir=str(d), file=str(Path(file).resolve()) if file else "")
    st.up_pid = os.getpid()
    st.up_start_time = system.proc_start_time(st.up_pid)
    st.topology = topo.model_dump(mode="json")
    st.save()
    try:
        try:
            _build(topo, st, driver, wait, rep)
        except (system.SystemError_, system.HttpError, OSError) as e:
            raise LabError(str(e)) from e
    except BaseException as exc:
        if cleanup_on_error:
            why = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"failed: {exc}"
            rep.note(f"{why}; removing what was built")
            with contextlib.suppress(Exception):
                _logs_hint(st, rep)
            down(root, name, report=rep, keep_logs=True)
            rep.note(f"logs and generated configurations kept in {d}")
        raise
    st.complete = True
    st.save()
    return st


def _logs_hint(st: LabState, rep: Reporter) -> None:
    for p in st.processes:
        if not system.proc_alive(p.pid, p.start_time):
            tail = Path(p.log).read_text(errors="replace")[-1500:] if Path(p.log).exists() else ""
            rep.note(f"{p.role} on {p.node} is not running; end of {p.log}:\n{tail}")


def _build(topo: Topology, st: LabState, driver: str | None, wait: float, rep: Reporter) -> None:
    plan = topo.plan()
    daemons = [h for h in topo.hosts if h.kind != "plain"]
    bgpvpn_hosts = [h for h in topo.hosts if h.kind == "bgpvpn"]
    rep.begin(5 + len(daemons) + (1 if topo.vms else 0) + (1 if wait > 0 else 0))

    rep.step("namespaces")
    for h in topo.hosts:
        _add_ns(st, topo.namespace(h.name), h.forwarding)
    for vm in topo.vms:
        _add_ns(st, topo.namespace(vm.name), False)
    rep.done(f"{len(topo.hosts)} host and {len(topo.vms)} vm namespaces ({topo.lab.name}-*)")

    rep.step("links")
    for link in plan.links:
        na, nb = topo.namespace(link.a_host), topo.namespace(link.b_host)
        system.veth(na, link.a_ifname, nb, link.b_ifname, link.mtu)
        system.add_addresses(na, link.a_ifname, link.a_addresses)
        system.add_addresses(nb, link.b_ifname, link.b_addresses)
    for h in topo.hosts:
        system.add_addresses(topo.namespace(h.name), "lo", h.loopback)
    rep.done(f"{len(plan.links)} links")

    rep.step("vm ports")
    for vm in topo.vms:
        hn, vn = topo.namespace(vm.host), topo.namespace(vm.name)
        system.veth(hn, vm.port_name, vn, "eth0", mac2=vm_mac(topo, vm))
        system.add_addresses(vn, "eth0", vm.ips)
        if vm.gateway:
            system.add_route(vn, f"default via {vm.gateway} dev eth0")
        for r in vm.routes:
            system.add_route(vn, r)
    rep.done(f"{len(topo.vms)} vm ports")

    rep.step("static routes")
    kernel = daemon_supports_kernel()
    for h in topo.hosts:
        ns = topo.namespace(h.name)
        for r in h.routes:
            system.add_route(ns, r)
        for r in h.fallback_routes:
            # floating static: the daemon's kernel routes (metric 20) win when present
            system.add_route(ns, r if " metric " in f" {r} " else f"{r} metric {FALLBACK_METRIC}")
        if h.kernel_routes and not kernel:
            st.notes.append(
                f"{h.name}: this bgpvpn has no [kernel] configuration; only its "
                "fallback_routes reach the other routers' loopbacks"
            )
    st.save()
    rep.done("static routes")

    order = [h for h in daemons if h.kind != "bgpvpn"] + bgpvpn_hosts
    for h in order:
        rep.step(f"{h.kind} on {h.name}")
        if h.kind == "gobgp":
            _start_gobgp(topo, st, h)
        elif h.kind == "frr":
            _start_frr(topo, st, h)
        else:
            _start_bgpvpn(topo, st, h, driver)
        rep.done(f"{h.kind} on {h.name}")

    rep.step("announcements")
    for h in daemons:
        _announce(topo, st, h)
    rep.done("announcements")

    if topo.vms:
        rep.step("attachments")
        for vm in topo.vms:
            attach(topo, st, vm)
            st.attached.append(vm.name)
            st.save()
        rep.done(f"{len(topo.vms)} vms attached")

    if wait > 0:
        rep.step("BGP sessions")
        _wait_sessions(topo, st, wait)
        rep.done("BGP sessions established")


def _add_ns(st: LabState, ns: str, forwarding: bool) -> None:
    st.namespaces.append(ns)
    st.save()  # recorded before it exists: a crash right after creation still finds it
    system.netns_add(ns, forwarding)


def _host_dir(st: LabState, host: str, chown: str | None = None) -> Path:
    p = Path(st.dir) / host
    p.mkdir(mode=0o755, exist_ok=True)
    if chown:
        system.run(["chown", "-R", chown, str(p)])
    return p


def _start(st: LabState, node: str, role: str, ns: str, argv: list[str], log: Path) -> ProcRecord:
    s = system.start_in_netns(ns, argv, log)
    rec = ProcRecord(node, role, s.pid, s.start_time, argv, str(log))
    st.processes.append(rec)
    st.save()
    return rec


def _wait(
    what: str, fn: Callable[[], bool], procs: Sequence[ProcRecord], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for p in procs:
            if not system.proc_alive(p.pid, p.start_time):
                tail = Path(p.log).read_text(errors="replace")[-2000:]
                raise LabError(f"{p.role} on {p.node} exited; end of {p.log}:\n{tail}")
        try:
            if fn():
                return
        except (system.HttpError, system.SystemError_, OSError, ValueError) as e:
            last = str(e)
        time.sleep(0.2)
    raise LabError(
        f"timed out after {timeout:.0f}s waiting for {what}" + (f" ({last})" if last else "")
    )


def _start_bgpvpn(topo: Topology, st: LabState, h: HostSpec, driver: str | None) -> None:
    hd = _host_dir(st, h.name)
    conf = hd / "bgpvpn.toml"
    conf.write_text(toml_dumps(bgpvpn_config_dict(topo, h, Path(st.dir), driver)))
    ns = topo.namespace(h.name)
    rec = _start(st, h.name, "bgpvpn", ns, [*bgpvpn_argv(), "daemon", "-c", str(conf)],
                 hd / "bgpvpn.log")  # fmt: skip
    _wait(
        f"the bgpvpn API of {h.name}",
        lambda: bool(system.http_json(ns, API_PORT, "GET", "/v1/status", timeout=2)),
        [rec],
    )


def _gobgp(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return system.run(
        ["gobgp", "-u", "127.0.0.1", "-p", str(GOBGP_API_PORT), *args], ns=ns, check=check
    )


def _start_gobgp(topo: Topology, st: LabState, h: HostSpec) -> None:
    hd = _host_dir(st, h.name)
    conf = hd / "gobgpd.toml"
    conf.write_text(toml_dumps(gobgp_config_dict(topo, h)))
    system.run(["gobgpd", "-d", "-f", str(conf), "-t", "toml"])  # syntax check
    ns = topo.namespace(h.name)
    argv = ["gobgpd", "-f", str(conf), "-t", "toml", "--api-hosts",
            f"127.0.0.1:{GOBGP_API_PORT}", "--pprof-disable", "-p", "-l", "info"]  # fmt: skip
    rec = _start(st, h.name, "gobgpd", ns, argv, hd / "gobgpd.log")
    _wait(f"the gobgpd API of {h.name}", lambda: _gobgp(ns, "global").returncode == 0, [rec])


def _start_frr(topo: Topology, st: LabState, h: HostSpec) -> None:
    hd = _host_dir(st, h.name)
    (hd / "bgpd.conf").write_text(frr_bgpd_conf(topo, h))
    (hd / "zebra.conf").write_text(f"hostname {topo.namespace(h.name)}\n")
    system.run(["chown", "-R", "frr:frr", str(hd)])  # FRR's daemons drop to user frr
    ns = topo.namespace(h.name)
    common = ["--vty_socket", str(hd), "-z", str(hd / "zserv.api"), "-P", "0"]
    z = _start(st, h.name, "zebra", ns,
               [FRR_ZEBRA, "-f", str(hd / "zebra.conf"), "-i", str(hd / "zebra.pid"), *common,
                "--log", f"file:{hd}/zebra.log"], hd / "zebra.out")  # fmt: skip
    _wait(f"zebra on {h.name}", lambda: (hd / "zserv.api").exists(), [z])
    b = _start(st, h.name, "bgpd", ns,
               [FRR_BGPD, "-f", str(hd / "bgpd.conf"), "-i", str(hd / "bgpd.pid"), *common,
                "--log", f"file:{hd}/bgpd.log"], hd / "bgpd.out")  # fmt: skip
    _wait(f"bgpd on {h.name}", lambda: (hd / "bgpd.vty").exists(), [z, b])


def _announce(topo: Topology, st: LabState, h: HostSpec) -> None:
    ns = topo.namespace(h.name)
    for p in h.announce:
        fam = "ipv6" if ":" in p else "ipv4"
        if h.kind == "bgpvpn":
            system.http_json(ns, API_PORT, "POST", "/v1/routes", {"family": fam, "prefix": p})
        elif h.kind == "gobgp":
            _gobgp(ns, "global", "rib", "-a", fam, "add", p)
        # frr: `network` statements in its configuration


# ----------------------------------------------------------------------- attachments


def attach_body(topo: Topology, vm: VmSpec) -> dict[str, Any]:
    """The native ``POST /v1/attach`` request for a vm (the instance is created if needed)."""
    body: dict[str, Any] = {
        "instance_id": vm.vpn,
        "instance_type": vm.type,
        "port": vm.port_name,
        "mac": vm_mac(topo, vm),
        "ips": list(vm.ips),
        "import_rts": list(vm.imports),
        "export_rts": list(vm.exports),
        "description": f"lab vm {vm.name}",
    }
    if vm.gateway:
        body["gateway_ip"] = vm.gateway
    if vm.vni is not None:
        body["vni"] = vm.vni
    if vm.rd is not None:
        body["rd"] = vm.rd
    return body


def bagpipe_attach_body(topo: Topology, vm: VmSpec, ip: str | None) -> dict[str, Any]:
    """BaGPipe's ``POST /attach_localport`` request for one of the vm's addresses (it has no
    RD: the daemon derives one)."""
    body: dict[str, Any] = {
        "vpn_instance_id": vm.vpn,
        "vpn_type": vm.type,
        "local_port": {"linuxif": vm.port_name},
        "mac_address": vm_mac(topo, vm),
        "import_rt": list(vm.imports),
        "export_rt": list(vm.exports),
    }
    if ip:
        body["ip_address"] = ip
    if vm.gateway:
        body["gateway_ip"] = vm.gateway
    if vm.vni is not None:
        body["vni"] = vm.vni
    return body


def attach(topo: Topology, st: LabState, vm: VmSpec) -> str:
    """Attach the vm's port through its host's API: the native ``/v1/attach``, else BaGPipe's
    ``/attach_localport`` (one request per address). Returns the path used."""
    ns = topo.namespace(vm.host)
    try:
        system.http_json(ns, API_PORT, "POST", "/v1/attach", attach_body(topo, vm))
        return "/v1/attach"
    except system.HttpError as e:
        if e.status not in (404, 405):
            raise LabError(f"vm {vm.name}: attach on {vm.host} failed: {e}") from None
    for ip in vm.ips or (None,):
        body = bagpipe_attach_body(topo, vm, ip)
        try:
            system.http_json(ns, API_PORT, "POST", "/attach_localport", body)
        except system.HttpError as e:
            if e.status in (404, 405):
                raise LabError(
                    f"vm {vm.name}: the bgpvpn daemon on {vm.host} has no attach API "
                    f"(POST /v1/attach and /attach_localport -> HTTP {e.status})"
                ) from None
            raise LabError(f"vm {vm.name}: attach on {vm.host} failed: {e}") from None
    return "/attach_localport"


def _wait_sessions(topo: Topology, st: LabState, timeout: float) -> None:
    hosts = [h for h in topo.hosts if h.kind == "bgpvpn"]
    procs = [p for p in st.processes if p.role == "bgpvpn"]
    pending: list[str] = []

    def all_up() -> bool:
        pending.clear()
        for h in hosts:
            for p in system.http_json(topo.namespace(h.name), API_PORT, "GET", "/v1/peers"):
                if p.get("state") != "established" and p.get("enabled", True):
                    pending.append(f"{h.name} -> {p.get('address')}: {p.get('state')}")
        return not pending

    try:
        _wait("BGP sessions", all_up, procs, timeout)
    except LabError as e:
        raise LabError(f"{e}; not established: {'; '.join(pending)}") from None


# ----------------------------------------------------------------------------- down


def _anything_left(st: LabState) -> bool:
    return any(system.proc_alive(p.pid, p.start_time) for p in st.processes) or any(
        system.netns_exists(ns) for ns in st.namespaces
    )


def down(
    root: Path, name: str, *, keep_logs: bool = False, report: Reporter | None = None
) -> dict[str, Any]:
    """Remove everything the lab's state lists. Idempotent: a lab that is not up is not an
    error (``found`` is false)."""
    rep = report or NullReporter()
    d = root / name
    if not (d / STATE_FILE).exists():
        return {"lab": name, "found": False, "stopped": [], "deleted": []}
    st = LabState.load(d)
    stopped, deleted = [], []
    if st.up_pid and st.up_pid != os.getpid() and not st.complete:
        # an interrupted (or still running) `lab up` of this lab: stop it before it adds more
        cmd = _cmdline(st.up_pid)
        if "lab" in cmd and "up" in cmd and system.proc_alive(st.up_pid, st.up_start_time):
            system.stop_process(st.up_pid, st.up_start_time, timeout=3)
            st = LabState.load(d)  # it may have recorded more
    rep.step("processes")
    for p in reversed(st.processes):
        if system.stop_process(p.pid, p.start_time):
            stopped.append(f"{p.role}@{p.node}:{p.pid}")
    rep.done(f"stopped {len(stopped)} processes")
    rep.step("namespaces")
    for ns in reversed(st.namespaces):
        if system.netns_exists(ns):
            system.netns_delete(ns)
            deleted.append(ns)
    left = [ns for ns in st.namespaces if system.netns_exists(ns)]
    if left:
        raise LabError(f"could not delete namespace(s) {', '.join(left)}")
    rep.done(f"deleted {len(deleted)} namespaces")
    if keep_logs:
        os.replace(d / STATE_FILE, d / "state.down.json")
    else:
        shutil.rmtree(d, ignore_errors=True)
    return {"lab": name, "found": True, "stopped": stopped, "deleted": deleted}


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


# ---------------------------------------------------------------------- finding labs


def load_lab(root: Path, name: str) -> tuple[LabState, Topology]:
    d = root / name
    if not (d / STATE_FILE).exists():
        raise LabError(f"lab {name!r} is not up (no {d / STATE_FILE})")
    st = LabState.load(d)
    return st, Topology.model_validate(st.topology)


def find_lab(root: Path, name: str | None, node: str | None = None) -> str:
    """The lab meant: ``name``, else the only lab up, else the only one with ``node``."""
    if name:
        return name
    labs = list_labs(root)
    if not labs:
        raise LabError(f"no lab is up (state root {root})")
    if len(labs) == 1:
        return labs[0]
    if node:
        having = [n for n in labs if node in _nodes(root, n)]
        if len(having) == 1:
            return having[0]
    raise LabError(f"several labs are up ({', '.join(labs)}): give --name or the file")


def _nodes(root: Path, name: str) -> set[str]:
    with contextlib.suppress(Exception):
        _, topo = load_lab(root, name)
        return {h.name for h in topo.hosts} | {v.name for v in topo.vms}
    return set()


def node_namespace(topo: Topology, node: str) -> str:
    if any(h.name == node for h in topo.hosts) or any(v.name == node for v in topo.vms):
        return topo.namespace(node)
    known = [h.name for h in topo.hosts] + [v.name for v in topo.vms]
    raise LabError(f"no host or vm {node!r} in lab {topo.lab.name} (known: {', '.join(known)})")


def node_address(topo: Topology, node: str) -> str:
    """The address ``lab ping`` aims at: a vm's first address; a host's first loopback
    address, else its first link address. An IP address is taken as it is."""
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(node))
    node_namespace(topo, node)
    for vm in topo.vms:
        if vm.name == node:
            if not vm.ips:
                raise LabError(f"vm {node} has no address")
            return vm.ips[0].split("/")[0]
    h = topo.host(node)
    if h.loopback:
        return h.loopback[0].split("/")[0]
    for _ifname, addrs in topo.plan().interfaces.get(node, []):
        if addrs:
            return addrs[0].split("/")[0]
    raise LabError(f"host {node} has no address")


def exec_in(topo: Topology, node: str, argv: Sequence[str]) -> int:
    ns = node_namespace(topo, node)
    if not argv:
        argv = [os.environ.get("SHELL", "/bin/sh")]
    try:
        return subprocess.call(["ip", "netns", "exec", ns, *argv])
    except FileNotFoundError:
        raise LabError("not installed: ip") from None


def ping_source(topo: Topology, src: str, addr: str) -> str | None:
    """A host pings from its loopback address (of the destination's IP version), so that
    loopback-to-loopback reachability is what is tested; a vm from its own address."""
    version = ipaddress.ip_address(addr).version
    for h in topo.hosts:
        if h.name == src:
            for a in h.loopback:
                if ipaddress.ip_interface(a).version == version:
                    return a.split("/")[0]
    return None


def ping(topo: Topology, src: str, dst: str, count: int = 3, quiet: bool = False) -> int:
    ns = node_namespace(topo, src)
    addr = node_address(topo, dst)
    argv = ["ip", "netns", "exec", ns, "ping", "-c", str(count), "-W", "2", "-i", "0.2"]
    source = ping_source(topo, src, addr)
    if source:
        argv += ["-I", source]
    argv.append(addr)
    if quiet:
        res = subprocess.run(argv, capture_output=True, check=False)
    else:
        res = subprocess.run(argv, check=False)
    return 0 if res.returncode == 0 else 1


# --------------------------------------------------------------------------- status


def status(st: LabState, topo: Topology) -> dict[str, Any]:
    hosts, sessions, attachments = [], [], []
    addr_owner = _address_owners(topo)
    for h in topo.hosts:
        ns = topo.namespace(h.name)
        procs = [
            {"role": p.role, "pid": p.pid, "alive": system.proc_alive(p.pid, p.start_time)}
            for p in st.processes
            if p.node == h.name
        ]
        hosts.append(
            {
                "name": h.name,
                "kind": h.kind,
                "namespace": ns,
                "present": system.netns_exists(ns),
                "processes": procs,
                "running": bool(procs) and all(p["alive"] for p in procs),
            }
        )
        if h.kind == "plain" or not system.netns_exists(ns):
            continue
        for s in _sessions_of(st, h):
            s["host"] = h.name
            s["peer"] = addr_owner.get(s["address"], "?")
            sessions.append(s)
    instances: dict[str, Any] = {}
    for h in topo.hosts:
        if h.kind == "bgpvpn" and system.netns_exists(topo.namespace(h.name)):
            instances[h.name] = _instances(topo.namespace(h.name))
    for vm in topo.vms:
        ns = topo.namespace(vm.name)
        attachments.append(
            {
                "vm": vm.name,
                "host": vm.host,
                "namespace": ns,
                "present": system.netns_exists(ns),
                "vpn": vm.vpn,
                "type": vm.type,
                "port": vm.port_name,
                "mac": vm_mac(topo, vm),
                "ips": list(vm.ips),
                "attached": vm.name in st.attached,
                "seen_by_daemon": _seen(instances.get(vm.host), vm),
            }
        )
    return {
        "lab": st.name,
        "file": st.file,
        "state_dir": st.dir,
        "complete": st.complete,
        "hosts": hosts,
        "sessions": sessions,
        "attachments": attachments,
        "instances": instances,
        "notes": st.notes,
    }


def _address_owners(topo: Topology) -> dict[str, str]:
    out = {}
    for h in topo.hosts:
        for a in h.loopback:
            out[a.split("/")[0]] = h.name
    for link in topo.links:
        for ep in (link.a, link.b):
            for a in ep.addresses:
                out[a.split("/")[0]] = ep.host
    return out


def _alive(st: LabState, node: str, role: str) -> bool:
    return any(
        system.proc_alive(p.pid, p.start_time)
        for p in st.processes
        if p.node == node and p.role == role
    )


def _sessions_of(st: LabState, h: HostSpec) -> list[dict[str, Any]]:
    ns = f"{st.name}-{h.name}"
    try:
        if h.kind == "bgpvpn":
            if not _alive(st, h.name, "bgpvpn"):
                return []
            return [
                {
                    "address": p.get("address"),
                    "asn": p.get("asn"),
                    "state": p.get("state"),
                    "uptime": p.get("uptime"),
                    "families": p.get("families", []),
                }
                for p in system.http_json(ns, API_PORT, "GET", "/v1/peers", timeout=5)
            ]
        if h.kind == "gobgp":
            if not _alive(st, h.name, "gobgpd"):
                return []
            out = _gobgp(ns, "-j", "neighbor").stdout
            return [
                {
                    "address": n.get("conf", {}).get("neighbor_address"),
                    "asn": n.get("conf", {}).get("peer_asn"),
                    "state": SESSION_STATES.get(n.get("state", {}).get("session_state"), "?"),
                    "uptime": None,
                    "families": [],
                }
                for n in json.loads(out or "[]")
            ]
        if h.kind == "frr":
            if not _alive(st, h.name, "bgpd"):
                return []
            out = system.run(
                [
                    "vtysh",
                    "--vty_socket",
                    str(Path(st.dir) / h.name),
                    "-c",
                    "show bgp neighbors json",
                ]
            ).stdout
            return [
                {
                    "address": addr,
                    "asn": n.get("remoteAs"),
                    "state": str(n.get("bgpState", "?")).lower(),
                    "uptime": None,
                    "families": [],
                }
                for addr, n in json.loads(out or "{}").items()
            ]
    except (system.HttpError, system.SystemError_, ValueError) as e:
        return [{"address": None, "asn": None, "state": f"error: {e}", "uptime": None,
                 "families": []}]  # fmt: skip
    return []


def _instances(ns: str) -> Any:
    """The daemon's VPN instances, from the native API when it has one, else BaGPipe's
    looking glass; None when neither answers."""
    for path in ("/v1/instances", "/looking-glass/vpns/instances"):
        try:
            return system.http_json(ns, API_PORT, "GET", path, timeout=5)
        except system.HttpError:
            continue
    return None


def _seen(instances: Any, vm: VmSpec) -> bool | None:
    """Whether the daemon's answer mentions the vm's port in its instance (None: unknown)."""
    if instances is None:
        return None
    text = json.dumps(instances)
    return vm.vpn in text and vm.port_name in text
