"""Ingest benchmark: one sender pushes 1,000,000 IPv4 unicast, 1,000,000 VPNv4 and 100,000
E-VPN type-2 routes into a receiver over one iBGP session; prints the time from the first
UPDATE until the receiver holds them all, routes/s, the receiver's CPU seconds and RSS. The
receiver is ``bgpvpn daemon`` and, in the same run for reference, GoBGP (``gobgpd``).

The sender is the project's own (``PeerRunner`` + pre-encoded UPDATEs from ``bench/codec.py``'s
generators), so sending is never the bottleneck. During each bgpvpn flood a second, idle
session with a 9 s hold time must stay up (no hold-timer expiry), and the REST API is polled
from another process every ``--poll`` seconds (0.05): the median, 99th percentile and worst
answer time during the flood are printed, with the verdicts (goal: every answer under 100 ms,
no hold timer expired).

Everything runs on loopback addresses (127.0.0.x); processes are started and stopped here.

    .venv/bin/python bench/ingest.py [--quick] [--sets ipv4,vpnv4,evpn] [--no-gobgp] [--json]
                                     [--poll SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))
import codec
from bgpvpn.runtime.peer import PeerRunner, Transport
from bgpvpn.session import Established, SessionConfig, SessionDown, SessionEvent
from bgpvpn.wire.family import EVPN, IPV4_UNICAST, VPNV4, Family

ROOT = Path(__file__).resolve().parent.parent
BGPVPN = shutil.which("bgpvpn", path=str(Path(sys.executable).parent)) or "bgpvpn"
ASN = 64999
RECEIVER_ID = "198.51.100.1"
SIZES = {"ipv4": 1_000_000, "vpnv4": 1_000_000, "evpn": 100_000}
SET_BUILDERS = {"ipv4": "ipv4", "vpnv4": "vpnv4", "evpn": "evpn-type2"}
FAMILIES: dict[str, Family] = {"ipv4": IPV4_UNICAST, "vpnv4": VPNV4, "evpn": EVPN}
GOBGP_FAMILY = {"ipv4": "ipv4-unicast", "vpnv4": "l3vpn-ipv4-unicast", "evpn": "l2vpn-evpn"}
GOBGP_CLI_FAMILY = {"ipv4": "ipv4", "vpnv4": "vpnv4", "evpn": "evpn"}


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Result:
    receiver: str
    set: str
    routes: int
    seconds: float | None = None
    cpu_seconds: float | None = None
    rss_mb: float | None = None
    held: int = 0
    api_max_ms: float | None = None
    api_p99_ms: float | None = None
    api_p50_ms: float | None = None
    api_answers: int = 0
    hold_timer_expired: bool = False
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return self.routes / self.seconds if self.seconds else None

    @property
    def cpu_rate(self) -> float | None:
        """Routes per CPU-second of the receiver (steadier than ``rate`` on a shared machine)."""
        return self.routes / self.cpu_seconds if self.seconds and self.cpu_seconds else None


class Sender:
    """Our own speaker: establishes iBGP and writes pre-encoded UPDATEs as fast as the socket
    takes them."""

    def __init__(self, local: str, peer: str, port: int, family: Family, hold: int = 90) -> None:
        self.established = asyncio.Event()
        self.down: list[SessionDown] = []
        cfg = SessionConfig(
            local_asn=ASN,
            router_id=socket.inet_aton(local.replace("127.0.0.", "192.0.2.")),
            peer_asn=ASN,
            peer_address=peer,
            hold_time=hold,
            connect_retry=0.5,
            families=(family,),
            graceful_restart=0,
        )
        self.runner = PeerRunner(
            cfg, Transport(port=port, local_address=local), self._event, random.Random(7)
        )

    def _event(self, runner: PeerRunner, event: SessionEvent) -> None:
        if isinstance(event, Established):
            self.established.set()
        elif isinstance(event, SessionDown):
            self.down.append(event)

    async def send(self, messages: list[bytes], batch: int = 64) -> float:
        """Send everything; returns the time the first UPDATE was written."""
        first = time.monotonic()
        i = 0
        while i < len(messages):
            if self.runner.can_send:
                self.runner.send_updates(messages[i : i + batch])
                i += batch
            else:
                await asyncio.sleep(0.001)
        return first


POLLER = """
import json, sys, time, urllib.request
url, family, n, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as resp:
        held = json.loads(resp.read())["received"].get(family, 0)
    print(f"{(time.monotonic() - t0) * 1000:.1f} {held}", flush=True)
    if held >= n:
        break
    time.sleep(pause)
"""


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q), at least the first
    return ordered[int(rank) - 1]


def _get_json(url: str) -> tuple[Any, float]:
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as resp:
        doc = json.loads(resp.read())
    return doc, (time.monotonic() - t0) * 1000


async def run_bgpvpn(
    name: str, messages: list[bytes], n: int, workdir: Path, poll: float = 0.05
) -> Result:
    family = FAMILIES[name]
    port, api = free_port("127.0.0.1"), free_port("127.0.0.1")
    conf = workdir / f"bgpvpn-{name}.toml"
    conf.write_text(f"""
[bgp]
asn = {ASN}
router_id = "{RECEIVER_ID}"
listen = "127.0.0.1"
port = {port}
rtc = false
[store]
path = ""
[[bgp.peers]]
address = "127.0.0.2"
asn = {ASN}
passive = true
families = ["{family.name}"]
hold_time = 90
[[bgp.peers]]
address = "127.0.0.3"
asn = {ASN}
passive = true
families = ["ipv4"]
hold_time = 9
[api]
listen = "127.0.0.1"
port = {api}
""")
    log = open(workdir / f"bgpvpn-{name}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [BGPVPN, "daemon", "-c", str(conf), "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    result = Result("bgpvpn", name, n)
    sender = Sender("127.0.0.2", "127.0.0.1", port, family)
    watchdog = Sender("127.0.0.3", "127.0.0.1", port, IPV4_UNICAST, hold=9)
    latencies: list[float] = []
    base = f"http://127.0.0.1:{api}"
    try:
        for _ in range(100):
            try:
                _get_json(base + "/v1/status")
                break
            except OSError:
                await asyncio.sleep(0.1)
        sender.runner.start()
        watchdog.runner.start()
        await asyncio.wait_for(
            asyncio.gather(sender.established.wait(), watchdog.established.wait()), 30
        )
        await asyncio.sleep(0.5)
        cpu0 = proc_cpu(proc.pid)
        # the API is polled from another process, so that this process's sending (and its GIL)
        # does not count in the API's answer times
        poller = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            POLLER,
            base + "/v1/peers/127.0.0.2",
            family.name,
            str(n),
            str(poll),
            stdout=asyncio.subprocess.PIPE,
        )
        send_task = asyncio.create_task(sender.send(messages))
        first = time.monotonic()
        held = 0
        assert poller.stdout is not None
        async for line in poller.stdout:
            ms_text, held_text = line.decode().split()
            latencies.append(float(ms_text))
            held = int(held_text)
        await poller.wait()
        done = time.monotonic()
        await send_task
        result.held = held
        if held >= n:
            result.seconds = done - first
        else:
            result.note = f"only {held} of {n} routes after {done - first:.0f} s"
        result.cpu_seconds = proc_cpu(proc.pid) - cpu0
        result.rss_mb = proc_rss_mb(proc.pid)
        peers, _ = _get_json(base + "/v1/peers")
        result.hold_timer_expired = bool(watchdog.down) or any(p["flaps"] for p in peers)
        result.api_answers = len(latencies)
        result.api_max_ms = round(max(latencies), 1)
        result.api_p99_ms = round(percentile(latencies, 0.99), 1)
        result.api_p50_ms = round(percentile(latencies, 0.50), 1)
    finally:
        sender.runner.close()
        watchdog.runner.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return result


async def run_gobgp(
    name: str, messages: list[bytes], n: int, workdir: Path, limit: float
) -> Result:
    family = FAMILIES[name]
    port, api = free_port("127.0.0.4"), free_port("127.0.0.4")
    conf = workdir / f"gobgp-{name}.toml"
    conf.write_text(f"""
[global.config]
  as = {ASN}
  router-id = "{RECEIVER_ID}"
  port = {port}
  local-address-list = ["127.0.0.4"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.5"
    peer-as = {ASN}
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "{GOBGP_FAMILY[name]}"
""")
    log = open(workdir / f"gobgp-{name}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            "gobgpd",
            "-f",
            str(conf),
            "-t",
            "toml",
            "--api-hosts",
            f"127.0.0.4:{api}",
            "--pprof-disable",
            "-l",
            "warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    result = Result("gobgp", name, n)
    sender = Sender("127.0.0.5", "127.0.0.4", port, family)
    try:
        sender.runner.start()
        await asyncio.wait_for(sender.established.wait(), 60)
        await asyncio.sleep(0.5)
        cpu0 = proc_cpu(proc.pid)
        send_task = asyncio.create_task(sender.send(messages))
        first = time.monotonic()
        held = 0
        while time.monotonic() - first < limit:
            out = await asyncio.to_thread(
                subprocess.run,
                [
                    "gobgp",
                    "-u",
                    "127.0.0.4",
                    "-p",
                    str(api),
                    "global",
                    "rib",
                    "-a",
                    GOBGP_CLI_FAMILY[name],
                    "summary",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            for part in out.stdout.replace(",", " ").split():
                if part.isdigit():
                    held = int(part)
                    break
            if held >= n:
                break
            await asyncio.sleep(1.0)  # GoBGP's counters walk the table (PEERS.md G5)
        done = time.monotonic()
        send_task.cancel()
        result.held = held
        if held >= n:
            result.seconds = done - first
        else:
            result.note = f"only {held} of {n} routes after {done - first:.0f} s"
        result.cpu_seconds = proc_cpu(proc.pid) - cpu0
        result.rss_mb = proc_rss_mb(proc.pid)
    finally:
        sender.runner.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return result


def fmt_rate(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r / 1e6:.2f}M" if r >= 1e6 else f"{r / 1e3:.0f}k"


API_GOAL_MS = 100.0


def _hold(r: Result) -> str:
    if r.receiver != "bgpvpn":
        return ""
    return "EXPIRED" if r.hold_timer_expired else "kept"


def _api(r: Result) -> str:
    if r.api_max_ms is None:
        return ""
    return f"{r.api_p50_ms:.0f} / {r.api_p99_ms:.0f} / {r.api_max_ms:.0f} ({r.api_answers})"


def print_table(results: list[Result], out: TextIO = sys.stdout) -> None:
    print(
        f"{'receiver':9} {'set':6} {'routes':>9} {'seconds':>8} {'routes/s':>9} {'CPU s':>7} "
        f"{'/CPU s':>7} {'RSS MB':>7} {'API ms p50 / p99 / max (answers)':>32} "
        f"{'9 s hold':>8}  note",
        file=out,
    )
    for r in results:
        print(
            f"{r.receiver:9} {r.set:6} {r.routes:>9,} {r.seconds or 0:>8.2f} {fmt_rate(r.rate):>9} "
            f"{r.cpu_seconds or 0:>7.1f} {fmt_rate(r.cpu_rate):>7} {r.rss_mb or 0:>7.0f} "
            f"{_api(r):>32} {_hold(r):>8}  {r.note}",
            file=out,
        )


def print_verdicts(results: list[Result], out: TextIO = sys.stdout) -> bool:
    """The flood goals per bgpvpn set; True when all are met."""
    ok = True
    for r in results:
        if r.receiver != "bgpvpn" or r.api_max_ms is None:
            continue
        api_ok = r.api_max_ms < API_GOAL_MS
        hold = "FAIL: hold timer expired" if r.hold_timer_expired else "PASS: stayed up"
        ok = ok and api_ok and not r.hold_timer_expired and r.held >= r.routes
        print(
            f"{r.set}: API during the flood {'PASS' if api_ok else 'FAIL'} (worst of "
            f"{r.api_answers} answers {r.api_max_ms:.0f} ms, goal < {API_GOAL_MS:.0f} ms); "
            f"idle 9 s-hold session {hold}",
            file=out,
        )
    return ok


async def main_async(args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    scale = 10 if args.quick else 1
    with tempfile.TemporaryDirectory(prefix="bgpvpn-ingest-") as tmp:
        workdir = Path(tmp)
        for name in args.sets:
            n = SIZES[name] // scale
            rs = codec.BUILDERS[SET_BUILDERS[name]](n, max(10, codec.ATTRIBUTE_SETS // scale))
            print(f"{name}: {n:,} routes in {len(rs.messages):,} UPDATEs", file=sys.stderr)
            results.append(await run_bgpvpn(name, rs.messages, n, workdir, args.poll))
            print_table(results[-1:], sys.stderr)
            if args.gobgp and shutil.which("gobgpd"):
                results.append(await run_gobgp(name, rs.messages, n, workdir, args.gobgp_limit))
                print_table(results[-1:], sys.stderr)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="1/10 of the routes")
    ap.add_argument("--sets", type=lambda s: s.split(","), default=list(SIZES))
    ap.add_argument("--no-gobgp", dest="gobgp", action="store_false")
    ap.add_argument(
        "--gobgp-limit", type=float, default=180.0, help="seconds given to GoBGP per set"
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--poll", type=float, default=0.05, help="pause between API requests during a flood (s)"
    )
    args = ap.parse_args()
    results = asyncio.run(main_async(args))
    if args.json:
        print(
            json.dumps(
                [{**r.__dict__, "rate": r.rate, "cpu_rate": r.cpu_rate} for r in results], indent=2
            )
        )
        return
    print()
    m = codec.machine()
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, CPython {m['python']}, {m['date']}, "
        f"load average {m['loadavg_1min']:.2f}"
    )
    print_table(results)
    print(
        "API ms: answer times of GET /v1/peers/<sender> polled from another process during the "
        "flood; 9 s hold: the idle session with a 9 s hold time"
    )
    print_verdicts(results)


if __name__ == "__main__":
    main()
