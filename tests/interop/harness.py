"""Network namespaces and daemons for the interop tests of the bgpvpn daemon against real BGP
implementations (GoBGP, FRR, BIRD, OpenBGPD, ExaBGP; recipes in /work/shared/PEERS.md).

Everything a test starts is owned by a ``Lab``: namespaces named ``bvi-<pid>-<n>-<tag>`` (only lo
and veths, documentation addresses, no route outside) and processes started with
``ip netns exec`` (which execs, so the PID is the daemon's). ``Lab.close`` stops every process
by PID (SIGTERM, then SIGKILL), then whatever still runs in the lab's own namespaces, and
deletes the namespaces; it runs from the fixtures' finalizers and, as a last resort, at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))  # nsproc, peerd: shared with scripts/capture_golden.py
import nsproc  # noqa: E402
import peerd  # noqa: E402
from nsproc import CommandError  # noqa: E402

BGPVPN = str(Path(sys.executable).parent / "bgpvpn")
API = "http://127.0.0.1:8082"
FRR_BGPD = "/usr/lib/frr/bgpd"
FRR_ZEBRA = "/usr/lib/frr/zebra"
OPENBGPD = peerd.OPENBGPD

_counter = itertools.count(1)
_labs: list[Lab] = []


class LabError(CommandError):
    pass


def require(*binaries: str) -> None:
    """Skip (not fail) when not root or a daemon binary is missing."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    missing = [b for b in ("ip", *binaries) if not (shutil.which(b) or Path(b).exists())]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


def run(
    argv: Sequence[str], ns: str | None = None, check: bool = True, timeout: float = 30.0
) -> str:
    return nsproc.run(argv, ns, check, timeout, error=LabError)


def evpn_vni_setup(ns: str, local_ip: str, mac: str, host_ip: str, bridge_ip: str) -> None:
    """VXLAN VNI 100 + bridge + one MAC/IP so FRR's zebra originates E-VPN type-2/3."""
    nsproc.evpn_vni_setup(ns, local_ip, mac, host_ip, bridge_ip, LabError)


def wait_until(
    what: str,
    fn: Callable[[], Any],
    timeout: float = 30.0,
    interval: float = 0.3,
    detail: Callable[[], Any] | None = None,
) -> Any:
    """Poll ``fn`` until it returns something truthy; fail naming ``what`` (and ``detail()``)."""
    return nsproc.wait_until(what, fn, timeout, interval, detail)


class Proc:
    def __init__(self, name: str, popen: subprocess.Popen[bytes], stop_signal: int) -> None:
        self.name = name
        self.popen = popen
        self.stop_signal = stop_signal

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 8.0) -> None:
        nsproc.stop(self.popen, self.stop_signal, timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(5)


class Lab:
    """Namespaces and processes of one test module."""

    def __init__(self, name: str) -> None:
        self.prefix = f"bvi-{os.getpid()}-{next(_counter)}"
        self.name = name
        # run directories the daemons' own users can reach (FRR drops to user frr); removed
        # at the end unless BVI_KEEP is set
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-{name}-"))
        self.tmp.chmod(0o755)
        self.namespaces: list[str] = []
        self.procs: list[Proc] = []
        _labs.append(self)

    # ------------------------------------------------------------------ topology

    def ns(self, tag: str) -> str:
        name = f"{self.prefix}-{tag}"
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        run(["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"], ns=name, check=False)
        run(["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"], ns=name, check=False)
        return name

    def link(
        self, ns1: str, if1: str, addrs1: Iterable[str], ns2: str, if2: str, addrs2: Iterable[str]
    ) -> None:
        nsproc.veth(ns1, if1, ns2, if2, LabError)
        nsproc.add_addresses(ns1, if1, addrs1, LabError)
        nsproc.add_addresses(ns2, if2, addrs2, LabError)
        for ns in (ns1, ns2):
            wait_until(
                f"IPv6 addresses in {ns}",
                lambda ns=ns: "tentative" not in run(["ip", "-n", ns, "-6", "addr"]),
                10,
                0.1,
            )

    def dir(self, name: str) -> Path:
        d = self.tmp / name
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
        return d

    # ----------------------------------------------------------------- processes

    def start(
        self,
        name: str,
        ns: str,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> Proc:
        proc = Proc(name, nsproc.start(ns, argv, log, env), stop_signal)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            try:
                proc.stop()
            except Exception as exc:  # keep cleaning up
                print(f"warning: stopping {proc.name}: {exc}", file=sys.stderr)
        self.procs.clear()
        for ns in reversed(self.namespaces):
            nsproc.delete_namespace(ns)
        self.namespaces.clear()
        if not os.environ.get("BVI_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self in _labs:
            _labs.remove(self)


@atexit.register
def _close_all() -> None:
    for lab in list(_labs):
        lab.close()


# ------------------------------------------------------------------------------ bgpvpn


def bgpvpn_config(
    asn: int,
    router_id: str,
    peers: Sequence[dict[str, Any]],
    listen: str = "::",
    extra: str = "",
) -> str:
    """The daemon's TOML; each peer a dict of PeerConfig keys."""
    lines = ["[bgp]", f"asn = {asn}", f'router_id = "{router_id}"', f'listen = "{listen}"']
    if extra:
        lines.append(extra.strip())
    for p in peers:
        lines.append("[[bgp.peers]]")
        for k, v in p.items():
            lines.append(f"{k} = {json.dumps(v)}")
    lines += ["[api]", 'listen = "127.0.0.1"', "port = 8082", "[store]", 'path = ""', ""]
    return "\n".join(lines)


def cli_options(options: dict[str, Any]) -> list[str]:
    """``{"route_type": "mac-ip", "vni": 100}`` -> ``["--route-type", "mac-ip", "--vni", "100"]``."""
    out: list[str] = []
    for k, v in options.items():
        out += [f"--{k.replace('_', '-')}", str(v)]
    return out


class Bgpvpn:
    """``bgpvpn daemon`` in a namespace, driven through its CLI in the same namespace."""

    def __init__(self, lab: Lab, ns: str, tag: str, config: str) -> None:
        self.lab, self.ns, self.tag = lab, ns, tag
        self.dir = lab.dir(f"bgpvpn-{tag}")
        self.conf = self.dir / "bgpvpn.toml"
        self.conf.write_text(config)
        self.log = self.dir / "bgpvpn.log"
        self.proc = lab.start(
            f"bgpvpn-{tag}", ns, [BGPVPN, "daemon", "-c", str(self.conf)], self.log
        )
        wait_until(f"bgpvpn {tag} API", lambda: self.cli("peers").returncode == 0, 30, 0.3)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        if not self.proc.alive():
            raise LabError(f"bgpvpn {self.tag} exited: {self.log.read_text()[-3000:]}")
        return subprocess.run(
            ["ip", "netns", "exec", self.ns, BGPVPN, "--api", API, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def json(self, *args: str) -> Any:
        res = self.cli(*args, "--json")
        if res.returncode != 0:
            raise LabError(f"bgpvpn {' '.join(args)}: {res.stderr}")
        return json.loads(res.stdout)

    def peers(self) -> dict[str, dict[str, Any]]:
        return {p["address"]: p for p in self.json("peers")}

    def established(self, *addresses: str) -> bool:
        peers = self.peers()
        return all(peers[a]["state"] == "established" for a in addresses)

    def rib(self, family: str, peer: str | None = None, **filters: str) -> list[dict[str, Any]]:
        args = ["rib", "--family", family]
        if peer:
            args += ["--peer", peer]
        return list(self.json(*args, *cli_options(filters)))

    def announce(self, *args: str, **options: Any) -> Any:
        """``bgpvpn announce ARGS``; each keyword adds ``--key-with-dashes VALUE`` in order."""
        return self.json("announce", *args, *cli_options(options))

    def withdraw(self, *args: str, **options: Any) -> Any:
        """``bgpvpn withdraw ARGS``, keywords as in ``announce``."""
        return self.json("withdraw", *args, *cli_options(options))

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


# ------------------------------------------------------------------ daemons (scripts/peerd.py)


class _LabHost:
    """What peerd's daemons need, from a ``Lab``: run directories, processes it owns (stopped
    at its end), ``LabError`` for failed commands, polls of 0.1 s."""

    error: type[CommandError] = LabError

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def rundir(self, name: str) -> Path:
        return self.lab.dir(name)

    def start(
        self,
        name: str,
        ns: str,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
    ) -> Proc:
        return self.lab.start(name, ns, argv, log, env)

    def wait(self, what: str, fn: Callable[[], Any], timeout: float) -> Any:
        return wait_until(what, fn, timeout, 0.1)

    def check_alive(self, what: str, *procs: Proc) -> None:
        if not all(p.alive() for p in procs):
            raise LabError(f"{what} exited")

    def stop(self, proc: Proc, sig: int) -> None:
        """SIGKILL: at once, as in a crash; another signal: ``Proc.stop`` with it."""
        if sig == signal.SIGKILL:
            proc.kill()
        else:
            proc.stop_signal = sig
            proc.stop()
        _forget(self.lab, proc)


def _forget(lab: Lab, proc: Proc) -> None:
    """A process that a test ended itself is no longer the lab's to stop."""
    if proc in lab.procs:
        lab.procs.remove(proc)


# ------------------------------------------------------------------------------- GoBGP


def gobgp_config(asn: int, router_id: str, neighbors: Sequence[str], listen: Sequence[str]) -> str:
    addrs = ", ".join(f'"{a}"' for a in listen)
    return peerd.gobgp_global(asn, router_id, f"  local-address-list = [{addrs}]\n") + "".join(
        neighbors
    )


def gobgp_neighbor(
    addr: str,
    peer_as: int,
    families: Sequence[str],
    *,
    passive: bool = False,
    rr_client: str | None = None,
    graceful_restart: int = 0,
    local_address: str | None = None,
) -> str:
    """peerd.gobgp_neighbor with the lab's timers (hold time 30 s, keepalive 10 s) and the
    passive mode always written."""
    return peerd.gobgp_neighbor(
        addr,
        peer_as,
        families,
        hold_time=30,
        keepalive=10,
        passive=passive,
        local_address=local_address,
        rr_client=rr_client,
        graceful_restart=graceful_restart,
    )


def gobgp_add_paths(neighbor: str, *, send_max: int = 0, receive: bool = True) -> str:
    """A ``gobgp_neighbor`` section with ADD-PATH for ipv4-unicast: ``send_max`` paths sent per
    prefix (0: none), several received (``receive``)."""
    lines = ["    [neighbors.afi-safis.add-paths.config]"]
    if send_max:
        lines.append(f"      send-max = {send_max}")
    lines.append(f"      receive = {'true' if receive else 'false'}")
    return neighbor.replace(
        '      afi-safi-name = "ipv4-unicast"',
        '      afi-safi-name = "ipv4-unicast"\n' + "\n".join(lines),
    )


class GoBGP(peerd.GoBGPd[Proc]):
    """gobgpd in the foreground in a namespace; its gRPC API on the namespace's loopback."""

    def __init__(self, lab: Lab, ns: str, tag: str, config: str, api_port: int = 50051) -> None:
        self.lab = lab
        super().__init__(_LabHost(lab), ns, tag, config, api_port)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self, *extra: str) -> None:
        self._start(*extra)

    def adj_in(self, addr: str, family: str) -> list[dict[str, Any]]:
        """The paths received from ``addr``, each with a flat ``attrs`` dict by type code."""
        return _gobgp_paths(self.adj_in_table(addr, family))

    def rib(self, family: str) -> list[dict[str, Any]]:
        return _gobgp_paths(self.table("global", "rib", "-a", family))


def _gobgp_paths(table: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    paths = []
    for dest, plist in table.items():
        for p in plist:
            p = dict(p)
            p["dest"] = dest
            p["attr"] = {str(a["type"]): a for a in p.get("attrs", [])}
            paths.append(p)
    return paths


# --------------------------------------------------------------------------------- FRR


class FRR(peerd.FRRd[Proc]):
    """FRR zebra + bgpd (``-n``: no kernel install), vtysh over the run directory's sockets."""

    def __init__(self, lab: Lab, ns: str, tag: str, bgpd_conf: str) -> None:
        self.lab = lab
        super().__init__(_LabHost(lab), ns, tag, bgpd_conf)

    def configure(self, *lines: str) -> None:
        self.vtysh("configure terminal", *lines)

    def kill_bgpd(self, sig: int = signal.SIGKILL) -> None:
        """End bgpd alone (zebra keeps running): SIGKILL closes its sessions without a
        NOTIFICATION, as a crash would; SIGTERM is a clean stop (Cease)."""
        self.stop_bgpd(sig)

    def restart_bgpd(self, bgpd_conf: str | None = None) -> None:
        """Start bgpd again (after ``kill_bgpd``), with a new configuration when given."""
        if self.bgpd.alive():
            raise LabError(f"FRR {self.tag}: bgpd still runs")
        if bgpd_conf is not None:
            (self.dir / "bgpd.conf").write_text(bgpd_conf)
            run(["chown", "frr:frr", str(self.dir / "bgpd.conf")])
        (self.dir / "bgpd.vty").unlink(missing_ok=True)  # left by a killed bgpd
        self._start_bgpd()


def frr_paths(f: FRR, cmd: str, *keys: str) -> list[dict[str, Any]]:
    """The paths FRR shows for one route: ``cmd`` is a ``show bgp ... json`` command and
    ``keys`` lead from its answer to the route's dict (e.g. the RD for ``show bgp ipv4 vpn rd
    RD PREFIX json``). Empty when FRR does not have the route."""
    try:
        data: Any = f.json(cmd)
    except ValueError:
        return []
    for k in keys:
        if not isinstance(data, dict) or k not in data:
            return []
        data = data[k]
    paths = data.get("paths") if isinstance(data, dict) else None
    if not paths:
        return []
    return [p[0] if isinstance(p, list) else p for p in paths]


# -------------------------------------------------------------------------------- BIRD


class Bird(peerd.Birdd[Proc]):
    def __init__(self, lab: Lab, ns: str, tag: str, conf: str) -> None:
        self.lab = lab
        super().__init__(_LabHost(lab), ns, tag, conf)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """SIGKILL: the sessions close without a NOTIFICATION, as in a crash; SIGTERM: a clean
        shutdown (Cease)."""
        self.stop(sig)

    def restart(self, conf: str | None = None, *extra: str) -> None:
        """Start bird again after ``kill``, with a new configuration when given; ``extra``
        options, e.g. ``-R`` (graceful restart recovery: R and F bits in its OPENs)."""
        if self.proc.alive():
            raise LabError(f"bird {self.tag} still runs")
        if conf is not None:
            self._write_conf(conf)
        self.ctl.unlink(missing_ok=True)  # left by a killed bird
        self._start(*extra)

    def reconfigure(self, conf: str) -> None:
        """A new configuration, applied to the running daemon (``birdc configure``)."""
        self._write_conf(conf)
        out = self.birdc("configure")
        if "Reconfigured" not in out and "Reconfiguration in progress" not in out:
            raise LabError(f"bird {self.tag} configure: {out}")

    def route(self, table: str, needle: str) -> str | None:
        """The ``show route table T all`` block of the first route whose first line contains
        ``needle`` (its header line and indented attribute lines), or None."""
        out = self.birdc("show", "route", "table", table, "all")
        lines = out.splitlines()
        for i, line in enumerate(lines):
            if needle in line and line[:1] not in (" ", "\t"):
                block = [line]
                for nxt in lines[i + 1 :]:
                    if nxt[:1] not in (" ", "\t"):
                        break
                    block.append(nxt)
                return "\n".join(block)
        return None


# ---------------------------------------------------------------------------- OpenBGPD


class OpenBGPD(peerd.OpenBGPDd[Proc]):
    def __init__(self, lab: Lab, ns: str, tag: str, conf: str) -> None:
        self.lab = lab
        super().__init__(_LabHost(lab), ns, tag, conf)

    def kill(self) -> None:
        """SIGKILL to the parent and to the session engine, route decision engine (and RTR)
        processes it forked (found by PID under the parent): sessions close without a
        NOTIFICATION, as in a crash."""
        pids = _descendants(self.proc.pid)
        self.proc.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _forget(self.lab, self.proc)
        wait_until(
            f"openbgpd {self.tag} processes gone",
            lambda: not any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in pids),
            10,
            0.1,
        )

    def restart(self) -> None:
        if self.proc.alive():
            raise LabError(f"openbgpd {self.tag} still runs")
        self.sock.unlink(missing_ok=True)
        self._start()


def _descendants(pid: int) -> list[int]:
    """PIDs of the children of ``pid``, their children and so on (from /proc)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                kids = [int(x) for x in (task / "children").read_text().split()]
                out += kids
                todo += kids
    return out


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


# ------------------------------------------------------------------------------ ExaBGP

EXA_RECV = peerd.EXA_RECV


class ExaBGP(peerd.ExaBGPd[Proc]):
    """ExaBGP 4.2 with an API process that writes every JSON message to ``recv.jsonl``."""

    def __init__(self, lab: Lab, ns: str, tag: str, conf: str, bind: str) -> None:
        self.lab = lab
        super().__init__(_LabHost(lab), ns, tag, conf, bind)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """SIGKILL: sessions close without a NOTIFICATION, as in a crash; SIGTERM: a clean
        stop. Its API process then sees its stdin close and ends by itself."""
        self.stop(sig)

    def restart(self, conf: str | None = None) -> None:
        if self.proc.alive():
            raise LabError(f"exabgp {self.tag} still runs")
        if conf is not None:
            self._write_conf(conf)
        self._start()


EXA_CTL = """import sys, threading, time
out = open(sys.argv[1], "a", buffering=1)
cmds = sys.argv[2]


def pump():
    # every line of the file (emptied before ExaBGP starts) goes to ExaBGP as a command
    pos = 0
    while True:
        try:
            with open(cmds, "rb") as f:
                f.seek(pos)
                data = f.read()
        except FileNotFoundError:
            data = b""
        end = data.rfind(b"\\n") + 1
        if end:
            pos += end
            sys.stdout.write(data[:end].decode())
            sys.stdout.flush()
        time.sleep(0.05)


threading.Thread(target=pump, daemon=True).start()
for line in sys.stdin:
    out.write(line)
"""


class ExaBGPCtl(ExaBGP):
    """ExaBGP whose API process also passes on commands (``send``): the configuration's
    process runs ``PYTHON RUNDIR/recv.py RUNDIR/recv.jsonl RUNDIR/commands``."""

    recv_script = EXA_CTL

    def _start(self) -> Proc:
        (self.dir / "commands").unlink(missing_ok=True)  # those of a previous run were sent
        return super()._start()

    def send(self, *commands: str) -> None:
        """ExaBGP API commands, e.g. ``announce eor ipv4 unicast``."""
        with open(self.dir / "commands", "a") as f:
            for c in commands:
                f.write(c + "\n")


# ------------------------------------------------------------------- GoBGP path reading


def gobgp_find(paths: Sequence[dict[str, Any]], dest: str) -> dict[str, Any] | None:
    """The path whose destination (GoBGP's text key) is ``dest``, or contains it."""
    for p in paths:
        if p["dest"] == dest:
            return p
    for p in paths:
        if dest in p["dest"]:
            return p
    return None


def gobgp_attrs(path: dict[str, Any]) -> dict[str, Any]:
    """A GoBGP path's attributes in bgpvpn's words (next_hop, med, local_pref, ...)."""
    a = path["attr"]
    out: dict[str, Any] = {}
    if "3" in a:
        out["next_hop"] = a["3"]["nexthop"]
    elif "14" in a:
        out["next_hop"] = a["14"]["nexthop"]
    out["as_path"] = " ".join(
        str(asn) for seg in a.get("2", {}).get("as_paths", []) for asn in seg["asns"]
    )
    if "4" in a:
        out["med"] = a["4"]["metric"]
    if "5" in a:
        out["local_pref"] = a["5"]["value"]
    if "8" in a:
        out["communities"] = [f"{c >> 16}:{c & 0xFFFF}" for c in a["8"]["communities"]]
    if "32" in a:
        out["large_communities"] = [
            f"{c['ASN']}:{c['LocalData1']}:{c['LocalData2']}" for c in a["32"]["value"]
        ]
    if "16" in a:
        out["route_targets"] = sorted(
            e["value"] for e in a["16"]["value"] if e.get("subtype") == 2 and "value" in e
        )
        out["ext"] = a["16"]["value"]
    if "9" in a:
        out["originator_id"] = a["9"]["value"]
    if "10" in a:
        out["cluster_list"] = a["10"]["value"]
    out["origin"] = a.get("1", {}).get("value")
    return out


# ------------------------------------------------------- bgpvpn VPN hosts (API in a namespace)

_CLONE_NEWNET = 0x40000000


def ns_connect(ns: str, host: str, port: int, timeout: float = 10.0) -> Any:
    """A TCP connection made from inside the lab namespace ``ns``: a short-lived thread enters
    it with setns(2) (which changes only that thread) and connects; the socket stays in the
    namespace it was made in, so any thread can use it afterwards."""
    import ctypes
    import socket
    import threading

    out: list[Any] = []

    def enter_and_connect() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {ns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            out.append(socket.create_connection((host, port), timeout))
        except OSError as exc:
            out.append(exc)

    t = threading.Thread(target=enter_and_connect, name=f"setns-{ns}", daemon=True)
    t.start()
    t.join(timeout + 5)
    if not out:
        raise OSError(f"connecting to {host}:{port} in {ns} timed out")
    if isinstance(out[0], OSError):
        raise out[0]
    return out[0]


class NsHttp:
    """A keep-alive HTTP/1.1 client of an API listening inside a lab namespace."""

    def __init__(self, ns: str, host: str = "127.0.0.1", port: int = 8082) -> None:
        self.ns, self.host, self.port = ns, host, port
        self._conn: Any = None

    def _connection(self) -> Any:
        import http.client

        ns = self.ns

        class Conn(http.client.HTTPConnection):
            def connect(self) -> None:  # never in the test process's own namespace
                self.sock = ns_connect(ns, self.host, self.port, self.timeout or 10.0)

        if self._conn is None:
            self._conn = Conn(self.host, self.port, timeout=10)
            self._conn.connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON body); one retry on a fresh connection when the kept-alive
        one was closed by the server (e.g. after a restart)."""
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, ConnectionError) as exc:
                self.close()
                if attempt:
                    raise LabError(f"{method} {path} in {self.ns}: {exc}") from exc
                continue
            if resp.getheader("connection", "").lower() == "close":
                self.close()
            return resp.status, json.loads(data) if data else None
        raise AssertionError("unreachable")

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded answer of a request that must succeed (2xx), else LabError."""
        status, doc = self.request(method, path, body)
        if not 200 <= status < 300:
            raise LabError(f"{method} {path} in {self.ns} -> {status}: {doc}")
        return doc


def bgpvpn_host_config(
    asn: int,
    router_id: str,
    peers: Sequence[dict[str, Any]],
    *,
    store: str,
    vtep: str | None = None,
    listen: str = "::",
    extra: str = "",
) -> str:
    """``bgpvpn_config`` for a VPN host: dummy E-VPN and IP VPN drivers, ``vtep`` (default:
    the router id) and the intent store at ``store`` ("" = in memory)."""
    conf = bgpvpn_config(asn, router_id, peers, listen=listen, extra=extra)
    conf = conf.replace('[store]\npath = ""', f"[store]\npath = {json.dumps(store)}")
    return conf + "\n".join(
        [
            "[dataplane]",
            'evpn = "dummy"',
            'ipvpn = "dummy"',
            f"vtep = {json.dumps(vtep or router_id)}",
            "",
        ]
    )


class VpnHost(Bgpvpn):
    """A bgpvpn daemon used as a VPN host: its REST API reached from the test process through
    a connection made in its namespace (``api``), ``kill9`` and ``restart`` with the same
    configuration (the store, when a file, survives)."""

    def __init__(self, lab: Lab, ns: str, tag: str, config: str) -> None:
        super().__init__(lab, ns, tag, config)
        self.api = NsHttp(ns)

    def instances(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/v1/instances"))

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        status, doc = self.api.request("GET", f"/v1/instances/{instance_id}")
        if status == 404:
            return None
        if status != 200:
            raise LabError(f"GET /v1/instances/{instance_id} -> {status}: {doc}")
        return dict(doc)

    def rib_in(self, peer: str, family: str) -> list[dict[str, Any]]:
        """The routes received from ``peer`` in ``family`` (its Adj-RIB-In)."""
        return list(self.api("GET", f"/v1/rib?table=in&peer={peer}&family={family}"))

    def kill9(self) -> None:
        """SIGKILL, as in a crash: the sessions close without a NOTIFICATION."""
        self.api.close()
        self.proc.kill()
        if self.proc in self.lab.procs:
            self.lab.procs.remove(self.proc)

    def restart(self) -> None:
        """Start the daemon again with the same configuration; returns when its API answers."""
        if self.proc.alive():
            raise LabError(f"bgpvpn {self.tag} still runs")
        self.proc = self.lab.start(
            f"bgpvpn-{self.tag}", self.ns, [BGPVPN, "daemon", "-c", str(self.conf)], self.log
        )
        wait_until(f"bgpvpn {self.tag} API", lambda: self.api("GET", "/v1/status"), 30, 0.1)
