"""Two bgpvpn daemons on loopback, driven only through the CLI as a user would: sessions come
up, routes announced on one appear on the other with their attributes, RT constraint holds VPN
routes back until the other side asks for the route target, withdrawals and leases remove them,
bad input is refused naming the field, and a shutdown carries its message."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

EXE = shutil.which("bgpvpn", path=str(Path(sys.executable).parent)) or "bgpvpn"


def _port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def cli(api: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, "--api", api, *args], capture_output=True, text=True, timeout=30, check=False
    )


def cli_json(api: str, *args: str) -> Any:
    res = cli(api, *args, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def wait_until(fn: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[tuple[str, str]]:
    bgp_a, bgp_b = _port("127.0.0.1"), _port("127.0.0.2")
    api_a, api_b = _port("127.0.0.1"), _port("127.0.0.2")
    fams = '["ipv4", "ipv6", "vpnv4", "evpn", "rtc"]'
    (tmp_path / "a.toml").write_text(f"""
[bgp]
asn = 64512
router_id = "192.0.2.1"
listen = "127.0.0.1"
port = {bgp_a}
[[bgp.peers]]
address = "127.0.0.2"
asn = 64513
port = {bgp_b}
families = {fams}
hold_time = 9
[api]
port = {api_a}
[store]
path = ""
""")
    (tmp_path / "b.toml").write_text(f"""
[bgp]
asn = 64513
router_id = "192.0.2.2"
listen = "127.0.0.2"
port = {bgp_b}
[[bgp.peers]]
address = "127.0.0.1"
asn = 64512
port = {bgp_a}
passive = true
families = {fams}
hold_time = 9
[api]
listen = "127.0.0.2"
port = {api_b}
[store]
path = ""
""")
    procs = [
        subprocess.Popen(
            [EXE, "daemon", "-c", str(tmp_path / n)],
            stdout=open(tmp_path / f"{n}.log", "w"),  # noqa: SIM115 (closed with the process)
            stderr=subprocess.STDOUT,
        )
        for n in ("a.toml", "b.toml")
    ]
    a, b = f"http://127.0.0.1:{api_a}", f"http://127.0.0.2:{api_b}"
    try:
        wait_until(lambda: cli(a, "peers").returncode == 0 and cli(b, "peers").returncode == 0)
        yield a, b
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _established(api: str) -> bool:
    return all(p["state"] == "established" for p in cli_json(api, "peers"))


def test_routes_cross_between_two_daemons(daemons: tuple[str, str]) -> None:
    a, b = daemons
    wait_until(lambda: _established(a) and _established(b))
    peer = cli_json(b, "peers")[0]
    assert peer["address"] == "127.0.0.1" and peer["asn"] == 64512
    assert set(peer["families"]) == {"ipv4", "ipv6", "vpnv4", "evpn", "rtc"}
    res = cli_json(
        a,
        "announce",
        "203.0.113.0/24",
        "--next-hop",
        "self",
        "--local-pref",
        "300",
        "--med",
        "200",
        "--community",
        "100:400",
        "--large-community",
        "64512:1:2",
    )
    assert res["request_id"] and res["added"][0]["prefix"] == "203.0.113.0/24"
    routes = wait_until(lambda: cli_json(b, "rib", "--family", "ipv4"))
    (r,) = routes
    assert r["prefix"] == "203.0.113.0/24" and r["next_hop"] == "127.0.0.1"
    attrs = r["attributes"]
    assert attrs["as_path"] == "64512" and attrs["med"] == 200
    assert attrs["communities"] == ["100:400"] and attrs["large_communities"] == ["64512:1:2"]
    assert "local_pref" not in attrs  # eBGP: LOCAL_PREF is not sent
    assert cli_json(b, "peers")[0]["received"]["ipv4"] == 1

    # VPN route: held back by RT constraint until B asks for its route target
    cli_json(
        a,
        "announce",
        "203.0.113.128/25",
        "--family",
        "vpnv4",
        "--rd",
        "64512:1",
        "--label",
        "100",
        "--rt",
        "64512:77",
    )
    time.sleep(1.0)
    assert cli_json(b, "rib", "--family", "vpnv4") == []
    cli_json(b, "announce", "--family", "rtc", "--route-target", "64512:77")
    (vpn,) = wait_until(lambda: cli_json(b, "rib", "--family", "vpnv4"))
    assert (vpn["rd"], vpn["prefix"], vpn["labels"]) == ("64512:1", "203.0.113.128/25", [100])
    assert vpn["attributes"]["extended_communities"] == ["target:64512:77"]

    # E-VPN type 2 with a full 24-bit L3 VNI, RT 64512:77
    cli_json(
        a,
        "announce",
        "--family",
        "evpn",
        "--route-type",
        "mac-ip",
        "--rd",
        "192.0.2.1:1",
        "--mac",
        "52:54:00:00:01:01",
        "--ip",
        "198.51.100.10",
        "--vni",
        "100",
        "--l3-vni",
        str(0xABCDEF),
        "--rt",
        "64512:77",
        "--ext-community",
        "encap:vxlan",
    )
    (ev,) = wait_until(lambda: cli_json(b, "rib", "--family", "evpn"))
    assert ev["labels"] == [100, 0xABCDEF] and ev["mac"] == "52:54:00:00:01:01"

    # withdraw, and a route that is not there
    cli_json(a, "withdraw", "203.0.113.0/24")
    wait_until(lambda: cli_json(b, "rib", "--family", "ipv4") == [])
    res = cli(a, "withdraw", "198.51.100.0/24")
    assert res.returncode == 1 and "prefix" in res.stderr and "198.51.100.0/24" in res.stderr


def test_lease_expires_and_bad_input_is_refused(daemons: tuple[str, str]) -> None:
    a, b = daemons
    wait_until(lambda: _established(a) and _established(b))
    cli_json(a, "announce", "198.51.100.0/24", "--lease", "5")
    wait_until(lambda: cli_json(b, "rib", "--family", "ipv4"))
    wait_until(lambda: cli_json(b, "rib", "--family", "ipv4") == [], timeout=15)
    for args, field in (
        (("203.0.113.0/33",), "prefix"),
        (("203.0.113.0/24", "--community", "100:99999"), "communities"),
        (("203.0.113.0/24", "--family", "ipv5"), "family"),
        (("203.0.113.0/24", "--family", "vpnv4", "--label", "5"), "rd"),
        (("203.0.113.0/24", "--ext-community", "encap:warp"), "extended_communities"),
    ):
        res = cli(a, "announce", *args)
        assert res.returncode == 1, res.stdout
        assert res.stderr.startswith(f"bgpvpn: {field}:"), res.stderr
    assert cli_json(a, "rib", "--table", "local") == []


def test_shutdown_message_reaches_the_peer(daemons: tuple[str, str]) -> None:
    a, b = daemons
    wait_until(lambda: _established(a) and _established(b))
    req = urllib.request.Request(
        f"{a}/v1/peers/127.0.0.2/disable",
        data=b'{"message": "planned maintenance"}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["request_id"]
    peer = wait_until(
        lambda: next((p for p in cli_json(b, "peers") if p["state"] != "established"), None)
    )
    assert "planned maintenance" in peer["last_down_reason"]


def test_invalid_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[bgp]\nasn = 64512\nrouter_id = "192.0.2.1"\n[[bgp.peers]]\naddress = "192.0.2.2"\nasn = 70000000000\n'
    )
    res = subprocess.run(
        [EXE, "daemon", "-c", str(bad)], capture_output=True, text=True, timeout=30, check=False
    )
    assert res.returncode == 2
    assert "bgp.peers[0].asn" in res.stderr


def test_api_unreachable_is_reported(tmp_path: Path) -> None:
    res = cli(f"http://127.0.0.1:{_port('127.0.0.1')}", "peers")
    assert res.returncode == 3 and "cannot reach the bgpvpn API" in res.stderr
    env = dict(os.environ, BGPVPN_API=f"http://127.0.0.1:{_port('127.0.0.1')}")
    res2 = subprocess.run(
        [EXE, "peers"], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert res2.returncode == 3 and env["BGPVPN_API"] in res2.stderr
