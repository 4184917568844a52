"""``bgpvpn attach / detach / vpns / lg`` against the VPN, BaGPipe and looking-glass routers
served over HTTP on loopback (uvicorn in a thread, a real VpnManager with the dummy driver)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from bagpipe.harness import Ctx, make_app, make_ctx
from bgpvpn.cli.main import app
from bgpvpn.cli.vpn import interface_mac, netns_mac


@pytest.fixture
def served() -> Iterator[tuple[str, Ctx]]:
    ctx = make_ctx()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(make_app(ctx), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", ctx
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def run(api: str, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["--api", api, *args])
    return res.exit_code, res.output


def test_attach_vpns_detach(served: tuple[str, Ctx]) -> None:
    api, ctx = served
    code, out = run(
        api,
        "attach",
        "--port",
        "tap1",
        "--mac",
        "52:54:00:00:00:01",
        "--ip",
        "198.51.100.1/24",
        "--ip",
        "2001:db8::1/64",
        "--gateway-ip",
        "198.51.100.254",
        "--network-type",
        "ipvpn",
        "--rt",
        "64512:79",
        "--export-rt",
        "64512:80",
        "--vpn-instance-id",
        "blue",
        "--vni",
        "5000",
        "--rd",
        "64512:7",
        "--local-pref",
        "150",
        "--description",
        "web",
    )
    assert code == 0, out
    assert "created instance blue" in out
    assert "advertised 64512:7:198.51.100.1/32 label 5000" in out
    assert "attached; request " in out
    code, out = run(api, "vpns", "--json")
    assert code == 0, out
    (v,) = json.loads(out)
    assert (v["instance_id"], v["rd"], v["vni"]) == ("blue", "64512:7", 5000)
    assert v["import_rts"] == ["64512:79"] and v["export_rts"] == ["64512:79", "64512:80"]
    p = v["ports"][0]
    assert p["ips"] == ["198.51.100.1/24", "2001:db8::1/64"] and p["local_pref"] == 150
    assert p["description"] == "web" and p["gateway_ip"] == "198.51.100.254"
    code, out = run(api, "vpns")
    assert code == 0 and "blue" in out and "tap1" in out and "198.51.100.1/32" in out
    code, out = run(api, "detach", "--port", "tap1", "--vpn-instance-id", "blue", "--json")
    assert code == 0, out
    assert json.loads(out)["instances_removed"] == ["blue"]
    assert ctx.driver.snapshot() == {}


def test_attach_errors(served: tuple[str, Ctx], tmp_path: Path) -> None:
    api, _ = served
    code, out = run(
        api,
        "attach",
        "--port",
        "nosuchif0",
        "--ip",
        "198.51.100.1/24",
        "--network-type",
        "evpn",
        "--vpn-instance-id",
        "x",
        "--rt",
        "64512:79",
    )
    assert code == 2 and "--mac: required" in out
    code, out = run(
        api,
        "attach",
        "--port",
        "tap1",
        "--mac",
        "52:54:00:00:00:01",
        "--ip",
        "198.51.100.1/24",
        "--network-type",
        "evpn",
        "--vpn-instance-id",
        "x",
        "--rt",
        "64512:x",
    )
    assert (code == 1 and "route_targets" in out) or "import_rts" in out
    code, out = run(api, "detach", "--port", "tap1", "--vpn-instance-id", "x")
    assert code == 1 and "instance_id: no instance 'x'" in out
    # --port netns without --mac: the same MAC at attach and detach
    code, out = run(
        api,
        "attach",
        "--port",
        "netns",
        "--ip",
        "198.51.100.1/24",
        "--network-type",
        "evpn",
        "--vpn-instance-id",
        "green",
        "--rt",
        "64512:79",
        "--json",
    )
    assert code == 0, out
    code, out = run(
        api,
        "detach",
        "--port",
        "netns",
        "--ip",
        "198.51.100.1/24",
        "--vpn-instance-id",
        "green",
        "--json",
    )
    assert code == 0, out
    assert json.loads(out)["instances_removed"] == ["green"]


def test_mac_helpers(tmp_path: Path) -> None:
    (tmp_path / "tap9").mkdir()
    (tmp_path / "tap9" / "address").write_text("52:54:00:ab:cd:ef\n")
    assert interface_mac("tap9", tmp_path) == "52:54:00:ab:cd:ef"
    assert interface_mac("nope", tmp_path) is None
    assert interface_mac("../etc", tmp_path) is None
    mac = netns_mac("blue", ["198.51.100.1/24"])
    assert mac == netns_mac("blue", ["198.51.100.1/24"]) != netns_mac("red", ["198.51.100.1/24"])
    assert int(mac.split(":")[0], 16) & 0x02  # locally administered


def test_lg(served: tuple[str, Ctx]) -> None:
    api, _ = served
    code, out = run(
        api,
        "attach",
        "--port",
        "tap1",
        "--mac",
        "52:54:00:00:00:01",
        "--ip",
        "198.51.100.1/24",
        "--network-type",
        "evpn",
        "--vpn-instance-id",
        "test2",
        "--rt",
        "64512:79",
    )
    assert code == 0, out
    code, out = run(api, "lg", "--json")
    assert code == 0, out
    root = json.loads(out)
    assert root["vpns"]["href"].endswith("/looking-glass/vpns")
    code, out = run(api, "lg", "vpns", "instances", "--json")
    assert code == 0 and json.loads(out)[0]["id"] == "test2"
    code, out = run(api, "lg", "vpns/instances/test2/ports", "--json")
    assert code == 0 and "ns-test2" not in out and "tap1" in out
    code, out = run(api, "lg", "--depth", "2")
    assert code == 0, out
    for word in ("summary", "vpn_instances_count", "instances", "test2", "peers", "192.0.2.254"):
        assert word in out, word
    code, out = run(api, "lg", "nope")
    assert code == 1 and "no such looking glass object" in out
