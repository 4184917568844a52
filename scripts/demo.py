"""The demo (``make demo``): two bgpvpn hosts, VMs in an E-VPN and an IP VPN, packets across.

As root it builds ``examples/two-hosts-rr.toml`` with ``bgpvpn lab``: two hosts and a GoBGP route
reflector in network namespaces, the Linux data plane (bridges, VXLAN devices, FDB, policy-routed
VRF tables); it pings across the E-VPN and the IP VPN, shows that a ping between the two VPNs
fails, prints the looking glass summary and the kernel objects bgpvpn programmed, and tears
everything down (also on failure).

Not as root (no namespaces can be made), it says so and runs the same scenario with two daemons
on loopback and the ``dummy`` data plane: the routes cross over BGP and each host's data-plane
state shows where traffic would go.

Every step is a ``bgpvpn`` command, printed before it runs: the demo is also a transcript of how
to use it. Exit status 0 when every check held.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = ROOT / "examples" / "two-hosts-rr.toml"
EXE = shutil.which("bgpvpn", path=str(Path(sys.executable).parent)) or "bgpvpn"
failures: list[str] = []


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def run(*args: str, expect: int | None = 0, show: bool = True) -> subprocess.CompletedProcess[str]:
    print("$ " + " ".join(args), flush=True)
    res = subprocess.run(list(args), capture_output=True, text=True, timeout=300, check=False)
    if show:
        out = (res.stdout + res.stderr).rstrip()
        if out:
            print(out, flush=True)
    if expect is not None and res.returncode != expect:
        failures.append(f"{' '.join(args)}: exit {res.returncode}, expected {expect}")
        print(f"!! exit status {res.returncode}, expected {expect}", flush=True)
    return res


def check(ok: bool, what: str) -> None:
    print(("ok: " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failures.append(what)


# ---------------------------------------------------------------- as root: the namespace lab


def lab_demo() -> None:
    say("bring up two bgpvpn hosts and a GoBGP route reflector in network namespaces")
    try:
        run(EXE, "lab", "up", str(TOPOLOGY))
        run(EXE, "lab", "status", str(TOPOLOGY))
        say("E-VPN 'blue' (VXLAN VNI 100): vm-blue1 on host1 -> vm-blue2 on host2")
        run(EXE, "lab", "ping", "vm-blue1", "vm-blue2")
        say("IP VPN 'red' (a VRF per host, routed over VXLAN): vm-red1 on host1 -> vm-red2")
        run(EXE, "lab", "ping", "vm-red1", "vm-red2")
        say("isolation: vm-blue1 (E-VPN blue) must not reach vm-red2 (IP VPN red)")
        run(EXE, "lab", "ping", "vm-blue1", "vm-red2", expect=1)
        say("the looking glass of host1 (BaGPipe's tree)")
        run(EXE, "lab", "exec", "host1", "--", EXE, "lg", "summary")
        run(EXE, "lab", "exec", "host1", "--", EXE, "vpns")
        say("what bgpvpn programmed in host1's kernel")
        for argv in (
            ["ip", "-d", "-br", "link", "show", "type", "vxlan"],
            ["ip", "-br", "link", "show", "type", "bridge"],
            ["bridge", "fdb", "show"],
            ["ip", "neigh", "show", "nud", "permanent"],
            ["ip", "rule", "show"],
            ["ip", "route", "show", "table", "all", "proto", "186"],
        ):
            run(EXE, "lab", "exec", "host1", "--", *argv, expect=None)
    finally:
        say("tear down")
        run(EXE, "lab", "down", str(TOPOLOGY), expect=None)


# ---------------------------------------------------------------- not root: loopback, dummy


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def loopback_demo() -> None:
    work = Path(tempfile.mkdtemp(prefix="bgpvpn-demo-"))
    hosts = {"host1": "127.0.0.1", "host2": "127.0.0.2"}
    bgp = {h: free_port(a) for h, a in hosts.items()}
    api = {h: f"http://{a}:{free_port(a)}" for h, a in hosts.items()}
    procs: list[subprocess.Popen[bytes]] = []
    say("two bgpvpn daemons on loopback (iBGP, vpnv4 + evpn + rtc), dummy data plane")
    try:
        for i, (h, addr) in enumerate(hosts.items()):
            other = "host2" if h == "host1" else "host1"
            conf = work / f"{h}.toml"
            conf.write_text(
                f'[bgp]\nasn = 64512\nrouter_id = "192.0.2.{i + 1}"\nlisten = "{addr}"\n'
                f"port = {bgp[h]}\n"
                f'[[bgp.peers]]\naddress = "{hosts[other]}"\nasn = 64512\nport = {bgp[other]}\n'
                f'families = ["vpnv4", "evpn", "rtc"]\nhold_time = 9\n'
                f"passive = {str(i == 1).lower()}\n"
                f'[api]\nlisten = "{addr}"\nport = {api[h].rsplit(":", 1)[1]}\n'
                f'[dataplane]\nevpn = "dummy"\nipvpn = "dummy"\nvtep = "192.0.2.{i + 1}"\n'
                f'[store]\npath = "{work / h}.db"\n'
            )
            print(f"$ bgpvpn daemon -c {conf}", flush=True)
            log = open(work / f"{h}.log", "wb")  # noqa: SIM115 (lives as long as the daemon)
            procs.append(subprocess.Popen([EXE, "daemon", "-c", str(conf)], stdout=log, stderr=log))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            res = subprocess.run(
                [EXE, "--api", api["host1"], "peers", "--json"], capture_output=True, text=True
            )
            if res.returncode == 0 and all(
                p["state"] == "established" for p in json.loads(res.stdout)
            ):
                break
            time.sleep(0.3)
        run(EXE, "--api", api["host1"], "peers")
        vms = [
            (
                "host1",
                "blue",
                "evpn",
                "tap-blue1",
                "52:54:00:00:01:01",
                "198.51.100.11/25",
                "64512:100",
            ),
            (
                "host2",
                "blue",
                "evpn",
                "tap-blue2",
                "52:54:00:00:02:01",
                "198.51.100.12/25",
                "64512:100",
            ),
            (
                "host1",
                "red",
                "ipvpn",
                "tap-red1",
                "52:54:00:00:01:02",
                "198.51.100.130/25",
                "64512:200",
            ),
            (
                "host2",
                "red",
                "ipvpn",
                "tap-red2",
                "52:54:00:00:02:02",
                "198.51.100.131/25",
                "64512:200",
            ),
        ]
        say("attach the four VMs (as bagpipe-rest-attach would)")
        for h, vpn, kind, port, mac, ip, rt in vms:
            run(
                EXE, "--api", api[h], "attach", "--vpn-instance-id", vpn, "--network-type", kind,
                "--port", port, "--mac", mac, "--ip", ip, "--rt", rt,
                *(["--vni", "100"] if kind == "evpn" else ["--gateway-ip", "198.51.100.254"]),
            )  # fmt: skip
        time.sleep(1.0)
        say("host2's instances: host1's VMs imported, and its dummy data plane state")
        run(EXE, "--api", api["host2"], "vpns")
        res = run(EXE, "--api", api["host2"], "vpns", "--json", show=False)
        views: dict[str, Any] = {v["instance_id"]: v for v in json.loads(res.stdout or "[]")}
        text = {k: json.dumps(v) for k, v in views.items()}
        check(
            "52:54:00:00:01:01" in text.get("blue", ""), "host1's blue VM MAC is in host2's E-VPN"
        )
        check("198.51.100.130" in text.get("red", ""), "host1's red VM route is in host2's VRF")
        check("198.51.100.130" not in text.get("blue", ""), "isolation: no red route in blue")
        check("52:54:00:00:01:01" not in text.get("red", ""), "isolation: no blue MAC in red")
        say("the looking glass of host2")
        run(EXE, "--api", api["host2"], "lg", "summary")
    finally:
        say("tear down")
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loopback", action="store_true", help="the non-root scenario, even as root")
    args = ap.parse_args()
    if args.loopback:
        loopback_demo()
    elif os.geteuid() != 0:
        print(
            "bgpvpn demo: not running as root, so it cannot create network namespaces, veth\n"
            "pairs, bridges or VXLAN devices (CAP_NET_ADMIN and CAP_SYS_ADMIN are needed).\n"
            "Running the same scenario on loopback with the dummy data plane instead;\n"
            "run `sudo make demo` for packets through the kernel.",
            flush=True,
        )
        loopback_demo()
    else:
        lab_demo()
    say("result")
    if failures:
        print("the demo FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("every check held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
