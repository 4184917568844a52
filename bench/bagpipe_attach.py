"""BaGPipe-BGP's attach rates, measured in the same run and the same way as ``bench/attach.py``
measures bgpvpn's, for a same-run ratio against the figures quoted in issue 4.

Runs the real ``bagpipe-bgp`` daemon (networking-bagpipe, from its own venv
``.venv/bagpipe``; ``$BAGPIPE_BGP`` names another binary) with a config file in a temporary
directory: BGP ``local_address`` 127.0.0.1, ``my_as`` 64512, RT Constraint on (its default),
the API on 127.0.0.1 and a free port, the ``dummy`` data-plane drivers for IP VPN and E-VPN,
logging as it comes (INFO, to a file). Per run, one fresh daemon, after its ``GET /ping``
answers:

1. 1,000 ports ``tapN`` into one E-VPN instance ``ev`` (route target 64512:1);
2. then, on the same daemon, 1,000 ports ``vtapN`` each creating its own IP VPN ``vrfN``
   (route target 64512:(10000+N)).

Each part is 1,000 sequential ``POST /attach_localport`` calls made by ``bench/attach.py``'s
own client (``Api``: ``bench/httpclient.py``'s connection, ``--client`` as in
``bench/attach.py``, ``json.dumps`` body, answer read and ``json.loads``-ed) and timed by its
``sequential()``; the bodies carry what ``bench/attach.py`` sends bgpvpn (same ports, MACs,
IPs, route targets), in BaGPipe's field names (``vpn_instance_id``, ``vpn_type``,
``local_port.linuxif``, ``mac_address``, ``ip_address``, ``import_rt`` and
``export_rt``); an IP VPN attach also needs ``gateway_ip``, given as 10.2.255.254, inside the
ports' /16. Every answer must be HTTP 200 with BaGPipe's success body (JSON ``null``), else the
run stops with the error. BaGPipe's API server (wsgiref, HTTP/1.0) closes the connection after
each answer, so the client opens one TCP connection per call: the count is printed.

Printed per part and run: total time, calls/s, p50/p99/worst latency per call, the daemon's
CPU time per call, its RSS and thread count after the part; and its idle RSS and threads; then
each part's median run by calls/s (the lower middle of an even count).

``--peer``: a bgpvpn daemon on 127.0.0.2 (``bench/attach.py``'s ``Daemon``, passive, iBGP
64512, vpnv4/evpn/rtc; bagpipe-bgp only connects, to its ``peers`` on ``bgp_port``) whose
instances import both parts' route targets, created before bagpipe-bgp starts; the session
must be established before the parts run, and the time from the end of a part's last call
until the peer holds all of its routes (one per port, and E-VPN's type-3 route) is printed
too. For this, bagpipe-bgp is started through ``EXABGP5_SHIM`` (networking-bagpipe 25.0.0's
peer worker fails with the exabgp 5 it installs; see there), and the peer's hold time is 90 s
(bagpipe-bgp refuses 30 s).

    .venv/bin/python bench/bagpipe_attach.py [--quick] [--json] [--runs N] [--peer]

``--quick``: 100 ports per part. ``measure_bagpipe(n, runs, peer)`` returns the JSON document.
Three runs of 1,000 ports take about 30 s (45 s with ``--peer``), a quick one 3 s (7 s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attach import (
    ASN,
    CLIENT_TEXT,
    RT_EV,
    Api,
    Daemon,
    add_client_option,
    ip,
    mac,
    make_importers,
    peer_toml,
    proc_threads,
    sequential,
    wait_for,
)
from attach import BAGPIPE as ISSUE_FIGURES
from attach import _median_by as median_by
from codec import machine
from ingest import free_port, proc_cpu, proc_rss_mb

ROOT = Path(__file__).resolve().parent.parent
BAGPIPE_BGP = Path(os.environ.get("BAGPIPE_BGP", ROOT / ".venv/bagpipe/bin/bagpipe-bgp"))
HOST, PEER = "127.0.0.1", "127.0.0.2"
GATEWAY_IP = "10.2.255.254"  # bench/attach.py's IP VPN ports are ip(i, 2): 10.2.x.y/16
PARTS = ("evpn", "ipvpn")
# networking-bagpipe 25.0.0's BGP peer worker is written against exabgp 4's API; with the
# exabgp 5.0.x it installs, a session with a peer fails twice: it sets the exabgp Neighbor's
# settings as attributes (``neighbor.peer_address = ...``), which exabgp 5 keeps as dict items
# (``neighbor["peer-address"]``): "'NoneType' object has no attribute 'top'" on each connect;
# and it reads ``exabgp.bgp.message.IN.ANNOUNCED``, gone in exabgp 5 (now ``Action.ANNOUNCE``):
# AttributeError on the first UPDATE received, the session reset. With ``--peer`` bagpipe-bgp
# is started through this launcher, which maps both (each only when missing) and then runs
# bagpipe-bgp's own entry point; nothing else is changed, and nothing on the attach path.
EXABGP5_SHIM = """
import sys, types
from exabgp.bgp import message
from exabgp.bgp.message.action import Action
from exabgp.bgp.neighbor import Neighbor

if issubclass(Neighbor, dict):
    KEYS = {"router_id": "router-id", "local_as": "local-as", "peer_as": "peer-as",
            "local_address": "local-address", "peer_address": "peer-address",
            "md5_ip": "md5-ip", "hold_time": "hold-time", "connect": "connect"}

    def _setattr(self, name, value):
        if name in KEYS:
            self[KEYS[name]] = value
        elif name == "extended_message":
            self["capability"]["extended-message"] = value
        else:
            object.__setattr__(self, name, value)

    Neighbor.__setattr__ = _setattr
if not hasattr(message, "IN"):
    message.IN = types.SimpleNamespace(ANNOUNCED=Action.ANNOUNCE, WITHDRAWN=Action.WITHDRAW)

from networking_bagpipe.bagpipe_bgp.bgp_daemon import daemon_main
sys.argv[0] = "bagpipe-bgp"
sys.exit(daemon_main())
"""
# bagpipe-bgp asserts a negotiated hold time above 30 s (its own offer is 180 s); the peer
# gets bgpvpn's default, 90 s, rather than bench/attach.py's 30 s
PEER_HOLD_TIME = 90
LOG_LEVEL = re.compile(r"\S+ \S+ \d+ (WARNING|ERROR|CRITICAL) ")  # oslo.log's line start
# bench/attach.py's sequential() posts to bgpvpn's path; BaGPipe's is another
PATHS = {"/v1/attach": "/attach_localport"}


class BagpipeApi:
    """``bench/attach.py``'s ``Api``, with bgpvpn's attach path mapped to BaGPipe's and each
    answer checked."""

    def __init__(self, host: str, port: int) -> None:
        self.api = Api(host, port)
        self.conn = self.api.conn

    def call(self, method: str, path: str, body: Any = None) -> Any:
        path = PATHS.get(path, path)
        try:
            out = self.api.call(method, path, body)
        except json.JSONDecodeError as e:
            raise RuntimeError(f"{method} {path}: an answer that is not JSON ({e})") from None
        if self.api.last_status != 200:
            raise RuntimeError(f"{method} {path} -> {self.api.last_status}: {out!r:.500}")
        if path == "/attach_localport" and out is not None:
            # BaGPipe answers a successful attach with JSON null, its errors with 400 or 500
            raise RuntimeError(f"{method} {path} -> {out!r:.500} (not BaGPipe's success answer)")
        return out

    def close(self) -> None:
        self.api.close()


def bagpipe_python() -> str:
    """The interpreter of ``BAGPIPE_BGP`` (its ``#!`` line)."""
    with open(BAGPIPE_BGP, "rb") as f:
        first = f.readline().decode().strip()
    if not first.startswith("#!"):
        raise RuntimeError(f"{BAGPIPE_BGP} is not a script with a #! line")
    return first[2:].split()[0]


class Bagpipe:
    """A ``bagpipe-bgp`` process with its config in ``workdir``; stopped by PID. With a
    ``peer``, started through ``EXABGP5_SHIM``."""

    def __init__(self, workdir: Path, peer: str | None = None, peer_port: int = 179) -> None:
        if not BAGPIPE_BGP.exists():
            raise RuntimeError(f"{BAGPIPE_BGP} not found (set $BAGPIPE_BGP)")
        self.api_port = free_port(HOST)
        self.conf = workdir / "bgp.conf"
        self.conf.write_text(
            "\n".join(
                [
                    "[BGP]",
                    f"local_address = {HOST}",  # also its router ID and its dummy next hop
                    f"my_as = {ASN}",
                    "enable_rtc = True",
                    f"peers = {peer or ''}",
                    f"bgp_port = {peer_port}",
                    "[API]",
                    f"host = {HOST}",
                    f"port = {self.api_port}",
                    "[DATAPLANE_DRIVER_IPVPN]",
                    "dataplane_driver = dummy",
                    "[DATAPLANE_DRIVER_EVPN]",
                    "dataplane_driver = dummy",
                ]
            )
            + "\n"
        )
        self.log_path = workdir / "bagpipe-bgp.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        cmd = [str(BAGPIPE_BGP)]
        if peer is not None:
            cmd = [bagpipe_python(), "-c", EXABGP5_SHIM]
        self.launcher = "bagpipe-bgp" if peer is None else "bagpipe-bgp's daemon_main + shim"
        self.proc = subprocess.Popen(
            [*cmd, "--config-file", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.api = BagpipeApi(HOST, self.api_port)
        t0 = time.perf_counter()
        while True:
            try:
                self.api.call("GET", "/ping")
                break
            except OSError:
                if time.perf_counter() - t0 > 60 or self.proc.poll() is not None:
                    tail = self.log_tail()
                    self.stop()
                    raise RuntimeError(f"bagpipe-bgp did not start\n{tail}") from None
                time.sleep(0.1)
        self.start_s = time.perf_counter() - t0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 15) -> str:
        self.log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(f"  | {line}" for line in text)

    def log_counts(self) -> dict[str, int]:
        self.log.flush()
        counts = {"WARNING": 0, "ERROR": 0, "CRITICAL": 0, "Traceback": 0}
        for line in self.log_path.read_text(errors="replace").splitlines():
            m = LOG_LEVEL.match(line)
            if m:
                counts[m[1]] += 1
            elif line.startswith("Traceback"):
                counts["Traceback"] += 1
        return counts

    def stop(self) -> float:
        """SIGTERM, then SIGKILL after 15 s; the seconds it took to exit."""
        t0 = time.perf_counter()
        self.api.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return time.perf_counter() - t0


def bodies(part: str, n: int) -> list[dict[str, Any]]:
    """``bench/attach.py``'s bodies for ``part``, in BaGPipe's field names."""
    if part == "evpn":
        return [
            {
                "vpn_instance_id": "ev",
                "vpn_type": "evpn",
                "local_port": {"linuxif": f"tap{i}"},
                "mac_address": mac(i, 1),
                "ip_address": ip(i, 1),
                "import_rt": [RT_EV],
                "export_rt": [RT_EV],
            }
            for i in range(n)
        ]
    return [
        {
            "vpn_instance_id": f"vrf{i}",
            "vpn_type": "ipvpn",
            "local_port": {"linuxif": f"vtap{i}"},
            "mac_address": mac(i, 2),
            "ip_address": ip(i, 2),
            "gateway_ip": GATEWAY_IP,
            "import_rt": [f"64512:{10000 + i}"],
            "export_rt": [f"64512:{10000 + i}"],
        }
        for i in range(n)
    ]


def peer_config() -> str:
    """``bench/attach.py``'s peer TOML for bagpipe-bgp, as seen from the bgpvpn peer."""
    toml = peer_toml(HOST, 179, ["vpnv4", "evpn", "rtc"], passive=True)
    if "hold_time = 30\n" not in toml:
        raise RuntimeError(f"unexpected peer_toml() output: {toml!r}")
    return toml.replace("hold_time = 30\n", f"hold_time = {PEER_HOLD_TIME}\n")


def peer_received(peer: Daemon, family: str) -> int:
    doc = peer.api.call("GET", f"/v1/peers/{HOST}")
    return int(doc["received"].get(family, 0))


def wait_import(peer: Daemon, family: str, target: int) -> float | None:
    """Seconds until ``peer`` holds ``target`` routes of ``family`` from us (None after 120 s)."""
    try:
        return wait_for(lambda: peer_received(peer, family) >= target, 120, 0.05)
    except RuntimeError:
        return None


def run_once(workdir: Path, n: int, with_peer: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"ports": n, "peer": with_peer}
    bgpvpn: Daemon | None = None
    bagpipe: Bagpipe | None = None
    try:
        if with_peer:
            bgpvpn = Daemon(
                workdir,
                "peer",
                PEER,
                "192.0.2.2",
                [peer_config()],
            )
            # what it imports is what bagpipe-bgp will advertise (RTC: nothing is sent for a
            # route target no instance of the peer imports)
            make_importers(bgpvpn.api, n, bulk=False)
            bagpipe = Bagpipe(workdir, PEER, bgpvpn.port)
            peer_daemon = bgpvpn
            out["established_s"] = wait_for(lambda: peer_daemon.established(HOST), 60, 0.1)
        else:
            bagpipe = Bagpipe(workdir)
        out["start_s"] = bagpipe.start_s
        time.sleep(1.0)
        out["idle"] = {"rss_mb": proc_rss_mb(bagpipe.pid), "threads": proc_threads(bagpipe.pid)}
        for part, family in zip(PARTS, ("evpn", "vpnv4"), strict=True):
            before = bagpipe.api.conn.connects
            cpu0 = proc_cpu(bagpipe.pid)
            r = sequential(bagpipe.api, bodies(part, n))
            r["cpu_us_per_call"] = (proc_cpu(bagpipe.pid) - cpu0) / n * 1e6
            r["tcp_connections"] = bagpipe.api.conn.connects - before
            if bgpvpn is not None:
                # one route per port (E-VPN: MAC/IP type 2), and E-VPN's type-3 of "ev"
                expected = n + (1 if part == "evpn" else 0)
                r["import_after_last_call_s"] = wait_import(bgpvpn, family, expected)
                r["peer_received"] = peer_received(bgpvpn, family)
            r["rss_mb"], r["threads"] = proc_rss_mb(bagpipe.pid), proc_threads(bagpipe.pid)
            out[part] = r
        summary = bagpipe.api.call("GET", "/looking-glass/summary")
        out["bagpipe"] = {
            "version": summary.get("version"),
            "established_peers": summary.get("BGP_established_peers"),
            "vpn_instances": summary.get("vpn_instances_count"),
            "warnings_and_errors": summary.get("warnings_and_errors"),
            "log_lines": bagpipe.log_counts(),
            "launcher": bagpipe.launcher,
        }
    except RuntimeError as e:
        tail = f"\nbagpipe-bgp's log, last lines:\n{bagpipe.log_tail()}" if bagpipe else ""
        raise RuntimeError(f"{e}{tail}") from None
    finally:
        if bagpipe is not None:
            out["stop_s"] = bagpipe.stop()
        if bgpvpn is not None:
            bgpvpn.stop()
    return out


def measure_bagpipe(n: int, runs: int, peer: bool) -> dict[str, Any]:
    """``runs`` runs of both parts with ``n`` ports each, a fresh bagpipe-bgp per run (and a
    fresh bgpvpn peer with ``peer``); every run, and each part's median run by calls/s."""
    doc: dict[str, Any] = {
        "daemon": str(BAGPIPE_BGP),
        "ports": n,
        "peer": peer,
        "machine": machine(),
        "issue_figures": ISSUE_FIGURES,
        "client": Api.client,
    }
    all_runs: list[dict[str, Any]] = []
    for run in range(max(1, runs)):
        with tempfile.TemporaryDirectory(prefix="bagpipe-attach-") as tmp:
            print(f"run {run + 1}: bagpipe-bgp, {n:,} ports per part ...", file=sys.stderr)
            t0 = time.perf_counter()
            r = run_once(Path(tmp), n, peer)
            r["run_s"] = time.perf_counter() - t0
            all_runs.append(r)
    doc["runs"] = all_runs
    doc["median"] = {
        part: median_by(all_runs, lambda r, part=part: r[part]["calls_per_s"])[part]
        for part in PARTS
    }
    doc["load_end"] = os.getloadavg()[0]
    return doc


def report(doc: dict[str, Any]) -> None:
    n, m, first = doc["ports"], doc["machine"], doc["runs"][0]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['date']}, load average "
        f"{m['loadavg_1min']:.2f} at start, {doc['load_end']:.2f} at end"
    )
    peer = "no BGP peer"
    if doc["peer"]:
        peer = "a bgpvpn peer on 127.0.0.2 (RTC), launched with the exabgp 5 shim"
    print(
        f"BaGPipe-BGP {first['bagpipe']['version']} ({doc['daemon']}), dummy drivers, {peer}; "
        f"{n:,} ports per part, both parts on one fresh daemon per run"
    )
    print(f"client: {CLIENT_TEXT[doc['client']]}")
    print()
    extra = f" {'import s':>9}" if doc["peer"] else ""
    header = (
        f"{'run':6} {'part':28} {'total s':>8} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'CPU us/call':>11} {'RSS MB':>7} {'threads':>7}{extra}"
    )
    print(header)
    labels = {"evpn": f"{n:,} ports -> one E-VPN", "ipvpn": f"{n:,} ports -> {n:,} IP VPNs"}

    def row(name: str, part: str, r: dict[str, Any]) -> None:
        imp = ""
        if doc["peer"]:
            s = r.get("import_after_last_call_s")
            imp = f" {s:>9.3f}" if s is not None else f" {'timeout':>9}"
        print(
            f"{name:6} {labels[part]:28} {r['total_s']:>8.3f} {r['calls_per_s']:>8.0f} "
            f"{r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['max_ms']:>7.2f} "
            f"{r['cpu_us_per_call']:>11.0f} {r['rss_mb']:>7.0f} {r['threads']:>7}{imp}"
        )

    for i, r in enumerate(doc["runs"], 1):
        for part in PARTS:
            row(str(i), part, r[part])
    for part in PARTS:
        row("median", part, doc["median"][part])
    print()
    for i, r in enumerate(doc["runs"], 1):
        b, lines = r["bagpipe"], r["bagpipe"]["log_lines"]
        peer_txt = ""
        if doc["peer"]:
            peer_txt = (
                f"; session up {r['established_s']:.1f} s after start, peer holds "
                f"{r['evpn']['peer_received']:,} E-VPN / {r['ipvpn']['peer_received']:,} VPNv4"
            )
        print(
            f"run {i}: API up {r['start_s']:.1f} s after start, idle {r['idle']['rss_mb']:.0f} MB"
            f" / {r['idle']['threads']} threads; {b['vpn_instances']:,} VPN instances, "
            f"{b['established_peers']} peer(s) up{peer_txt}; log: {lines['WARNING']} warnings, "
            f"{lines['ERROR']} errors, {lines['Traceback']} tracebacks; "
            f"stopped in {r['stop_s']:.1f} s; run {r['run_s']:.1f} s"
        )
    conns = first["evpn"]["tcp_connections"]
    print(
        f"TCP connections for {n:,} calls: {conns:,} (BaGPipe's server answers in HTTP/1.0 "
        "and closes each connection)"
    )
    if doc["peer"]:
        print(
            "import s: from the end of a part's last call until the peer holds all of its "
            "routes (its GET /v1/peers count, polled)"
        )
    print()
    f, scale = doc["issue_figures"], n / 1000
    print(
        f"issue 4's BaGPipe figures, scaled to {n:,} ports: E-VPN {f['evpn_1000_s'] * scale:.2f} s"
        f" (p99 {f['evpn_p99_ms']} ms), IP VPN {f['ipvpn_1000_s'] * scale:.2f} s "
        f"(p99 {f['ipvpn_p99_ms']} ms); this run's medians: "
        f"E-VPN {doc['median']['evpn']['total_s']:.2f} s, "
        f"IP VPN {doc['median']['ipvpn']['total_s']:.2f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="100 ports per part")
    ap.add_argument("--json", action="store_true", help="a JSON document instead")
    ap.add_argument("--runs", type=int, default=3, help="runs (each part's median shown)")
    ap.add_argument("--peer", action="store_true", help="a bgpvpn daemon as bagpipe-bgp's peer")
    add_client_option(ap)
    args = ap.parse_args()
    Api.client = args.client
    n = 100 if args.quick else 1000
    try:
        doc = measure_bagpipe(n, args.runs, args.peer)
    except RuntimeError as e:
        sys.exit(f"bagpipe_attach: {e}")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        report(doc)


if __name__ == "__main__":
    main()
