"""The real BGP daemons that scripts/capture_golden.py and the interop tests' harness
(tests/interop/harness.py) both run in network namespaces: GoBGP, FRR, BIRD, OpenBGPD and
ExaBGP, each with its configuration file, command line, readiness wait, control command and
stop written once, and the GoBGP TOML snippets. Standard library only, like nsproc.py.

Each caller keeps its own bookkeeping of processes and its own errors: it hands the daemons a
``Host`` (where run directories go, how a process is started, waited for, checked and
stopped) and subclasses them for what only it does (the harness: crashes and restarts; the
capture: peer views).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import nsproc
from nsproc import CommandError

GOBGPD = "gobgpd"
GOBGP = "gobgp"
OPENBGPD = "/usr/sbin/bgpd"
EXABGP = "/usr/sbin/exabgp"
GOBGP_API_PORT = 50051

P = TypeVar("P")  # the caller's handle of a process it started


class Host(Protocol[P]):
    """What the daemons need from the code that runs them."""

    error: type[CommandError]  # what a failed command raises (nsproc.run's ``error``)

    def rundir(self, name: str) -> Path:
        """A run directory (created, mode 0755) for one daemon's files."""
        ...

    def start(
        self,
        name: str,
        ns: str,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
    ) -> P:
        """``argv`` started in ``ns``, output to ``log``, owned by the caller as ``name``."""
        ...

    def wait(self, what: str, fn: Callable[[], Any], timeout: float) -> Any:
        """Poll ``fn`` until it is truthy (nsproc.wait_until), failing after ``timeout``."""
        ...

    def check_alive(self, what: str, *procs: P) -> None:
        """Raise when one of ``procs`` (of the daemon ``what``) has exited."""
        ...

    def stop(self, proc: P, sig: int) -> None:
        """``sig`` to ``proc`` and wait for it (SIGKILL after a while); no longer the caller's
        to stop afterwards."""
        ...


class Daemon(Generic[P]):
    """One daemon in namespace ``ns``; ``tag`` names it (run directory ``<kind>-<tag>``)."""

    kind: ClassVar[str] = ""

    def __init__(self, host: Host[P], ns: str, tag: str) -> None:
        self.host, self.ns, self.tag = host, ns, tag
        self.dir = host.rundir(f"{self.kind}-{tag}")

    def _run(self, argv: Sequence[str], ns: str | None = None, check: bool = True) -> str:
        return nsproc.run(argv, ns, check, error=self.host.error)


# ------------------------------------------------------------------------------- GoBGP


def gobgp_global(asn: int, router_id: str, extra: str = "") -> str:
    """GoBGP's ``[global.config]``; ``extra``: more lines of that table."""
    return f'[global.config]\n  as = {asn}\n  router-id = "{router_id}"\n{extra}\n'


def gobgp_neighbor(
    addr: str,
    peer_as: int,
    families: Sequence[str],
    *,
    hold_time: int = 90,
    keepalive: int = 30,
    passive: bool | None = None,
    local_address: str | None = None,
    rr_client: str | None = None,
    graceful_restart: int = 0,
    extra: str = "",
    afi_extra: Mapping[str, str] | None = None,
) -> str:
    """One ``[[neighbors]]`` of GoBGP's TOML (connect retry 1 s). A transport table when
    ``passive`` is given or with ``local_address``; ``rr_client``: a route reflector client
    of that cluster id; ``graceful_restart``: the restart time (and the per family flag);
    ``extra``: lines added after those; ``afi_extra``: lines added to a family's table."""
    s = [
        "[[neighbors]]",
        "  [neighbors.config]",
        f'    neighbor-address = "{addr}"',
        f"    peer-as = {peer_as}",
        "  [neighbors.timers.config]",
        "    connect-retry = 1",
        f"    hold-time = {hold_time}",
        f"    keepalive-interval = {keepalive}",
    ]
    if passive is not None or local_address:
        s.append("  [neighbors.transport.config]")
        if passive is not None:
            s.append(f"    passive-mode = {'true' if passive else 'false'}")
        if local_address:
            s.append(f'    local-address = "{local_address}"')
    if rr_client:
        s += [
            "  [neighbors.route-reflector.config]",
            "    route-reflector-client = true",
            f'    route-reflector-cluster-id = "{rr_client}"',
        ]
    if graceful_restart:
        s += [
            "  [neighbors.graceful-restart.config]",
            "    enabled = true",
            f"    restart-time = {graceful_restart}",
        ]
    if extra:
        s.append(extra.rstrip())
    for fam in families:
        s += [
            "  [[neighbors.afi-safis]]",
            "    [neighbors.afi-safis.config]",
            f'      afi-safi-name = "{fam}"',
        ]
        if graceful_restart:
            s += ["    [neighbors.afi-safis.mp-graceful-restart.config]", "      enabled = true"]
        if afi_extra and fam in afi_extra:
            s.append(afi_extra[fam].rstrip())
    return "\n".join(s) + "\n\n"


class GoBGPd(Daemon[P]):
    """gobgpd in the foreground, its gRPC API on the namespace's loopback at ``port``; the
    configuration in ``gobgpd.toml`` (syntax checked first), output in ``gobgpd.log``."""

    kind = "gobgp"

    def __init__(
        self, host: Host[P], ns: str, tag: str, config: str, port: int = GOBGP_API_PORT
    ) -> None:
        super().__init__(host, ns, tag)
        self.port = port
        self.conf = self.dir / "gobgpd.toml"
        self.conf.write_text(config)
        self._run([GOBGPD, "-d", "-f", str(self.conf), "-t", "toml"])  # syntax check
        self.proc = self._start()

    def argv(self, *extra: str) -> list[str]:
        return [
            GOBGPD,
            *("-f", str(self.conf), "-t", "toml"),
            *("--api-hosts", f"127.0.0.1:{self.port}", "--pprof-disable", "-p", "-l", "info"),
            *extra,
        ]

    def _start(self, *extra: str) -> P:
        """gobgpd started (with ``extra`` options); returns when its API answers."""
        self.proc = self.host.start(
            f"gobgpd-{self.tag}", self.ns, self.argv(*extra), self.dir / "gobgpd.log"
        )
        self.host.wait(f"gobgpd {self.tag} API", lambda: bool(self.cli("global")), 20)
        return self.proc

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.host.stop(self.proc, sig)

    def cli(self, *args: str, check: bool = True) -> str:
        """The output of ``gobgp ARGS`` against this gobgpd."""
        self.host.check_alive(f"gobgpd {self.tag}", self.proc)
        return self._run([GOBGP, "-u", "127.0.0.1", "-p", str(self.port), *args], self.ns, check)

    def json(self, *args: str) -> Any:
        return json.loads(self.cli("-j", *args))

    def established(self, addr: str) -> bool:
        return int(self.json("neighbor", addr)["state"].get("session_state", 0)) == 6

    def add(self, family: str, *args: str) -> None:
        self.cli("global", "rib", "-a", family, "add", *args)

    def delete(self, family: str, *args: str) -> None:
        self.cli("global", "rib", "-a", family, "del", *args)

    def table(self, *args: str) -> dict[str, list[dict[str, Any]]]:
        """``gobgp -j ARGS`` for a table (``neighbor N adj-in -a F``, ``global rib -a F``):
        destination -> paths; empty when gobgp answers with no table (nothing there)."""
        out = self.cli("-j", *args, check=False).strip()
        if not out.startswith("{"):
            return {}
        return dict(json.loads(out))

    def adj_in_table(self, addr: str, family: str) -> dict[str, list[dict[str, Any]]]:
        """The paths received from ``addr`` in ``family`` by destination."""
        return self.table("neighbor", addr, "adj-in", "-a", family)


# --------------------------------------------------------------------------------- FRR


class FRRd(Daemon[P]):
    """FRR zebra + bgpd (nsproc.frr_argv: no kernel install), vtysh over the run directory's
    sockets; each started returns when its socket is there."""

    kind = "frr"

    def __init__(self, host: Host[P], ns: str, tag: str, bgpd_conf: str) -> None:
        super().__init__(host, ns, tag)
        nsproc.frr_files(self.dir, tag, bgpd_conf, host.error)
        self.zebra = host.start(
            f"zebra-{tag}", ns, nsproc.frr_argv("zebra", self.dir), self.dir / "zebra.out"
        )
        host.wait("zebra socket", lambda: (self.dir / "zserv.api").exists(), 20)
        self.bgpd = self._start_bgpd()

    def _start_bgpd(self) -> P:
        self.bgpd = self.host.start(
            f"bgpd-{self.tag}", self.ns, nsproc.frr_argv("bgpd", self.dir), self.dir / "bgpd.out"
        )
        self.host.wait("FRR bgpd vty", lambda: (self.dir / "bgpd.vty").exists(), 20)
        return self.bgpd

    def stop_bgpd(self, sig: int = signal.SIGTERM) -> None:
        """bgpd alone (zebra keeps running)."""
        self.host.stop(self.bgpd, sig)

    def vtysh(self, *cmds: str, check: bool = True) -> str:
        self.host.check_alive(f"FRR {self.tag}", self.zebra, self.bgpd)
        argv = ["vtysh", "--vty_socket", str(self.dir)]
        for c in cmds:
            argv += ["-c", c]
        return self._run(argv, check=check)

    def json(self, cmd: str) -> Any:
        return json.loads(self.vtysh(cmd))

    def established(self, addr: str) -> bool:
        data = self.json(f"show bgp neighbors {addr} json")
        return bool(data.get(addr, {}).get("bgpState") == "Established")


# -------------------------------------------------------------------------------- BIRD


class Birdd(Daemon[P]):
    """BIRD 2 in the foreground: ``bird.conf`` (RUNDIR replaced by the run directory, parsed
    first), control socket ``bird.ctl``, output in ``bird.out``."""

    kind = "bird"

    def __init__(self, host: Host[P], ns: str, tag: str, conf: str) -> None:
        super().__init__(host, ns, tag)
        self.ctl = self.dir / "bird.ctl"
        self._write_conf(conf)
        self.proc = self._start()

    def _write_conf(self, conf: str) -> Path:
        cf = self.dir / "bird.conf"
        cf.write_text(conf.replace("RUNDIR", str(self.dir)))
        self._run(["bird", "-p", "-c", str(cf)])  # parse only
        return cf

    def argv(self, *extra: str) -> list[str]:
        cf = self.dir / "bird.conf"
        return ["bird", "-f", "-c", str(cf), "-s", str(self.ctl), "-P", str(self.dir / "bird.pid"),
                *extra]  # fmt: skip

    def _start(self, *extra: str) -> P:
        """bird started (with ``extra`` options); returns when its control socket is there."""
        self.proc = self.host.start(
            f"bird-{self.tag}", self.ns, self.argv(*extra), self.dir / "bird.out"
        )
        self.host.wait("bird control socket", lambda: self.ctl.exists(), 20)
        return self.proc

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.host.stop(self.proc, sig)

    def birdc(self, *args: str) -> str:
        self.host.check_alive(f"bird {self.tag}", self.proc)
        return self._run(["birdc", "-s", str(self.ctl), *args])

    def established(self, proto: str) -> bool:
        return "Established" in self.birdc("show", "protocols", proto)


# ---------------------------------------------------------------------------- OpenBGPD


class OpenBGPDd(Daemon[P]):
    """OpenBGPD's bgpd in the foreground: ``bgpd.conf`` (RUNDIR replaced, mode 0600, checked
    with ``-n`` first), its control socket ``bgpd.sock`` (the configuration names it), output
    in ``bgpd.out``."""

    kind = "openbgpd"

    def __init__(self, host: Host[P], ns: str, tag: str, conf: str) -> None:
        super().__init__(host, ns, tag)
        self.sock = self.dir / "bgpd.sock"
        cf = self.dir / "bgpd.conf"
        cf.write_text(conf.replace("RUNDIR", str(self.dir)))
        cf.chmod(0o600)
        Path("/run/openbgpd").mkdir(parents=True, exist_ok=True)
        self._run([OPENBGPD, "-n", "-f", str(cf)])
        self.proc = self._start()

    def _start(self) -> P:
        """bgpd started; returns when its control socket is there."""
        cf = self.dir / "bgpd.conf"
        self.proc = self.host.start(
            f"openbgpd-{self.tag}", self.ns, [OPENBGPD, "-d", "-f", str(cf)], self.dir / "bgpd.out"
        )
        self.host.wait("openbgpd socket", lambda: self.sock.exists(), 20)
        return self.proc

    def bgpctl(self, *args: str) -> str:
        self.host.check_alive(f"openbgpd {self.tag}", self.proc)
        return self._run(["bgpctl", "-s", str(self.sock), *args])

    def json(self, *args: str) -> Any:
        return json.loads(self.bgpctl("-j", *args))

    def established(self, addr: str) -> bool:
        return "BGP state = Established" in self.bgpctl("show", "neighbor", addr)


# ------------------------------------------------------------------------------ ExaBGP

EXA_RECV = """import sys
out = open(sys.argv[1], "a", buffering=1)
for line in sys.stdin:
    out.write(line)
"""


class ExaBGPd(Daemon[P]):
    """ExaBGP 4.2 with an API process (``recv_script`` as ``recv.py`` in the run directory)
    that writes every JSON message to ``recv.jsonl``: ``exabgp.conf`` (RUNDIR replaced by the
    run directory, PYTHON by /usr/bin/python3), the environment bound to ``bind``, port 179,
    running as root, log in ``exabgp.log``, output in ``exabgp.out``."""

    kind = "exabgp"
    recv_script: ClassVar[str] = EXA_RECV

    def __init__(self, host: Host[P], ns: str, tag: str, conf: str, bind: str) -> None:
        super().__init__(host, ns, tag)
        (self.dir / "recv.py").write_text(self.recv_script)
        self.recv = self.dir / "recv.jsonl"
        self._write_conf(conf)
        self.env = dict(os.environ)
        self.env.update(
            {
                "exabgp.daemon.user": "root",
                "exabgp.daemon.drop": "false",
                "exabgp.api.cli": "false",
                "exabgp.log.destination": str(self.dir / "exabgp.log"),
                "exabgp.tcp.bind": bind,
                "exabgp.tcp.port": "179",
            }
        )
        self.proc = self._start()

    def _write_conf(self, conf: str) -> None:
        cf = self.dir / "exabgp.conf"
        cf.write_text(conf.replace("RUNDIR", str(self.dir)).replace("PYTHON", "/usr/bin/python3"))

    def _start(self) -> P:
        """exabgp started (it has nothing to wait for: the sessions show it is up)."""
        self.proc = self.host.start(
            f"exabgp-{self.tag}",
            self.ns,
            [EXABGP, str(self.dir / "exabgp.conf")],
            self.dir / "exabgp.out",
            self.env,
        )
        return self.proc

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.host.stop(self.proc, sig)

    def messages(self) -> list[dict[str, Any]]:
        """The JSON messages the API process received so far."""
        if not self.recv.exists():
            return []
        out = []
        for line in self.recv.read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out
