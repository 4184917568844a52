"""networking-bagpipe's own clients, installed from PyPI, against a real ``bgpvpn daemon`` on
loopback: ``bagpipe-rest-attach`` (attach/detach, ``--port netns`` making the namespace and
veth pair itself), ``bagpipe-looking-glass``, and the OpenStack agent's REST client
(``BaGPipeBGPAgent``: ping/restart detection, attach_localport of its compiled attachments,
detach_localport). Nothing in networking-bagpipe is changed: it is pointed at bgpvpn's API port
the way it is configured on a BaGPipe host (``[API] port`` of /etc/bagpipe-bgp/bgp.conf; the
same value also through oslo.config's ``OS_API__PORT``), and runs its commands without ``sudo``
(``OS_COMMON__ROOT_HELPER=env``: we are root).

networking-bagpipe lives in its own venv (``make bagpipe-client``, or created here on first
use): ``$BGPVPN_BAGPIPE_VENV``, else ``<bgpvpn venv>/bagpipe``.

Needs root and ``ip`` (the namespaces ``test2`` and ``test3`` are made by bagpipe-rest-attach,
as on a BaGPipe host, and deleted at the end, also on failure).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

BAGPIPE_VERSION = "25.0.0"
EXE = shutil.which("bgpvpn", path=str(Path(sys.executable).parent)) or "bgpvpn"
CONF_DIR = Path("/etc/bagpipe-bgp")
NAMESPACES = ("test2", "test3")  # bagpipe-rest-attach names the namespace after the instance

# the commands docs/bagpipe.md and the README quote
EVPN_ATTACH = (
    "bagpipe-rest-attach --attach --port netns --ip 198.51.100.1/24 --network-type evpn "
    "--vpn-instance-id test2 --rt 64512:79"
)
IPVPN_ATTACH = (
    "bagpipe-rest-attach --attach --port netns --ip 203.0.113.1/24 --network-type ipvpn "
    "--vpn-instance-id test3 --rt 64512:78"
)


def bagpipe_venv() -> Path:
    env = os.environ.get("BGPVPN_BAGPIPE_VENV")
    return Path(env) if env else Path(sys.prefix) / "bagpipe"


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Serialize with other test runs on this machine (same venv, namespaces, bgp.conf)."""
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def venv() -> Path:
    path = bagpipe_venv()
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(path.parent / ".bagpipe-venv.lock"):
        if not (path / ".installed").exists():
            # what `make bagpipe-client` does; .installed marks a complete install
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
            subprocess.run(
                [
                    str(path / "bin" / "pip"),
                    "install",
                    "-q",
                    f"networking-bagpipe=={BAGPIPE_VERSION}",
                ],
                check=True,
                timeout=900,
            )
            (path / ".installed").touch()
    return path


def _port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def api_get(api: str, path: str) -> Any:
    with urllib.request.urlopen(api + path, timeout=10) as r:
        return json.loads(r.read())


def _netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def _cleanup_netns() -> None:
    for ns in NAMESPACES:
        subprocess.run(["ip", "link", "del", f"ns-{ns}"], capture_output=True, check=False)
        if _netns_exists(ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, int]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 (bagpipe-rest-attach makes namespaces)")
    with exclusive(Path(tempfile.gettempdir()) / "bgpvpn-bagpipe-test.lock"):
        yield from _daemon(tmp_path)


def _daemon(tmp_path: Path) -> Iterator[tuple[str, int]]:
    taken = [ns for ns in NAMESPACES if _netns_exists(ns)]
    if taken:
        pytest.skip(f"namespaces {taken} exist already; not touching them")
    api_port = _port()
    (tmp_path / "bgpvpn.toml").write_text(
        textwrap.dedent(f"""
        [bgp]
        asn = 64512
        router_id = "192.0.2.1"
        listen = "127.0.0.1"
        port = {_port()}
        [api]
        listen = "127.0.0.1"
        port = {api_port}
        [dataplane]
        evpn = "dummy"
        ipvpn = "dummy"
        vtep = "192.0.2.1"
        [store]
        path = "{tmp_path / "state.db"}"
        """)
    )
    made_dir = not CONF_DIR.exists()
    conf = CONF_DIR / "bgp.conf"
    made_conf = not conf.exists()
    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [EXE, "daemon", "-c", str(tmp_path / "bgpvpn.toml")], stdout=log, stderr=subprocess.STDOUT
    )
    api = f"http://127.0.0.1:{api_port}"
    try:
        if made_conf:  # a BaGPipe host has this file; its [API] port is where clients go
            CONF_DIR.mkdir(exist_ok=True)
            conf.write_text(f"[API]\nport = {api_port}\n")
        deadline = time.monotonic() + 20
        while True:
            try:
                api_get(api, "/v1/status")
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "daemon.log").read_text()
                assert time.monotonic() < deadline, "the daemon did not start"
                time.sleep(0.1)
        yield api, api_port
    finally:
        _cleanup_netns()
        if made_conf:
            conf.unlink(missing_ok=True)
        if made_dir:
            shutil.rmtree(CONF_DIR, ignore_errors=True)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def bagpipe(venv: Path, api_port: int, command: str) -> subprocess.CompletedProcess[str]:
    """Run a networking-bagpipe command line as written (its program from the venv)."""
    argv = command.split()
    env = dict(os.environ, OS_API__PORT=str(api_port), OS_COMMON__ROOT_HELPER="env")
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    return subprocess.run(
        [str(venv / "bin" / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def ns_mac(ns: str, ifname: str = "tovpn") -> str:
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "cat", f"/sys/class/net/{ifname}/address"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_rest_attach_evpn_and_ipvpn(venv: Path, daemon: tuple[str, int]) -> None:
    api, port = daemon
    res = bagpipe(venv, port, EVPN_ATTACH)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "response: 200" in res.stdout, res.stdout
    # bagpipe-rest-attach made the namespace and the veth pair; bgpvpn got the host side
    mac = ns_mac("test2")
    v = api_get(api, "/v1/instances/test2")
    assert v["instance_type"] == "evpn"
    assert v["import_rts"] == ["64512:79"] == v["export_rts"]
    (p,) = v["ports"]
    assert (p["port"], p["mac"], p["ips"]) == ("ns-test2", mac, ["198.51.100.1/24"])
    assert p["gateway_ip"] == "198.51.100.254"  # its default: the last address of the subnet
    assert any(f"mac={mac} ip=198.51.100.1" in r["route"] for r in v["advertised_routes"])
    assert v["dataplane"]["programmed"]["ports"][0]["name"] == "ns-test2"

    res = bagpipe(venv, port, IPVPN_ATTACH)
    assert res.returncode == 0 and "response: 200" in res.stdout, res.stdout + res.stderr
    v = api_get(api, "/v1/instances/test3")
    assert v["instance_type"] == "ipvpn" and v["export_rts"] == ["64512:78"]
    assert v["ports"][0]["port"] == "ns-test3" and v["ports"][0]["mac"] == ns_mac("test3")
    assert [r["route"] for r in v["advertised_routes"]] == [
        f"{v['rd']}:203.0.113.1/32 label {v['vni']}"
    ]

    # the looking glass, browsed with BaGPipe's own tool
    res = bagpipe(venv, port, f"bagpipe-looking-glass --port {port} vpns instances")
    assert res.returncode == 0, res.stderr
    assert "test2" in res.stdout and "test3" in res.stdout, res.stdout
    res = bagpipe(venv, port, f"bagpipe-looking-glass --port {port} -r vpns instances test2")
    assert res.returncode == 0, res.stderr
    assert "ns-test2" in res.stdout and mac in res.stdout and "64512:79" in res.stdout

    # errors: bagpipe-rest-attach exits with BaGPipe's status code
    res = bagpipe(
        venv,
        port,
        "bagpipe-rest-attach --attach --port tap-x --ip 198.51.100.9/24 --network-type ipvpn "
        "--vpn-instance-id test2 --rt 64512:79",
    )
    assert res.returncode != 0 and "error 400" in res.stderr + res.stdout

    for command, instance in ((EVPN_ATTACH, "test2"), (IPVPN_ATTACH, "test3")):
        res = bagpipe(venv, port, command.replace("--attach", "--detach"))
        assert res.returncode == 0 and "response: 200" in res.stdout, res.stdout + res.stderr
        with pytest.raises(urllib.error.HTTPError) as err:
            api_get(api, f"/v1/instances/{instance}")
        assert err.value.code == 404
    assert api_get(api, "/v1/instances") == []


AGENT_SCRIPT = r"""
import json, sys
from oslo_config import cfg
from networking_bagpipe.agent import bagpipe_bgp_agent as agent_mod

cfg.CONF([], project="bgpvpn-test")
cfg.CONF.set_override("bagpipe_bgp_port", int(sys.argv[1]), "BAGPIPE")
out = {}
client = agent_mod.HTTPClientBase(port=int(sys.argv[1]), client_name="bgpvpn-test")
out["ping"] = client.get("ping")

agent = agent_mod.BaGPipeBGPAgent("Open vSwitch agent")

def build(port_id):
    # the shape the bgpvpn agent extension returns; RTs as sets, as the agent keeps them
    return {
        "network_id": "net-1",
        "ipvpn": [{
            "mac_address": "fa:16:3e:00:00:01",
            "local_port": {"linuxif": "patch2tun:12",
                           "ovs": {"plugged": True, "port_number": 5, "vlan": 12}},
            "gateway_ip": "10.0.0.1",
            "ip_address": "10.0.0.5",
            "description": {"port": port_id},
            "import_rt": {"64512:10"},
            "export_rt": {"64512:10"},
            "local_pref": 120,
        }],
    }

agent.register_build_callback("bgpvpn", build)
agent.register_port_list("bgpvpn", {"port-1"})
agent._check_bagpipe_bgp_status()  # first ping: bagpipe-bgp detected, all ports sent
out["status"] = agent.bagpipe_bgp_status
out["seq_num"] = agent.seq_num
agent._check_bagpipe_bgp_status()  # same boot id: nothing re-sent
agent.do_port_plug_refresh("port-1", {
    "network_id": "net-1",
    "ipvpn": {"mac_address": "fa:16:3e:00:00:01",
              "local_port": {"linuxif": "patch2tun:12"}, "ip_address": "10.0.0.5"},
})
try:
    client.post("detach_localport", {"vpn_instance_id": "nope", "vpn_type": "ipvpn",
                                     "mac_address": "fa:16:3e:00:00:01",
                                     "local_port": "tap1"})
    out["error"] = None
except agent_mod.BaGPipeBGPException as e:
    out["error"] = str(e)
print(json.dumps(out))
"""


def test_openstack_agent_client(venv: Path, daemon: tuple[str, int]) -> None:
    api, port = daemon
    boot_id = api_get(api, "/v1/status")["boot_id"]
    res = subprocess.run(
        [str(venv / "bin" / "python"), "-c", AGENT_SCRIPT, str(port)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["ping"] == boot_id
    assert out["status"] == "UP" and out["seq_num"] == boot_id
    assert "HTTP operation has failed" in out["error"]
    # the agent attached its port (ipvpn_<network>) and, on refresh, detached it and attached it
    # again (its compiled attachments are all sent again after a detach)
    v = api_get(api, "/v1/instances/ipvpn_net-1")
    (p,) = v["ports"]
    assert (p["port"], p["mac"], p["ips"]) == ("patch2tun:12", "fa:16:3e:00:00:01", ["10.0.0.5/32"])
    assert p["local_pref"] == 120 and json.loads(p["description"]) == {"port": "port-1"}
    assert v["import_rts"] == ["64512:10"]
