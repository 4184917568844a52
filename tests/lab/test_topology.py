"""The lab's topology file: parsing, the derived plan (namespaces, interfaces, sessions),
validation errors that name the key, and the configurations rendered for each daemon."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bgpvpn.cli.main import app
from bgpvpn.config import parse_config
from bgpvpn.lab.render import (
    bgpvpn_config_dict,
    frr_bgpd_conf,
    gobgp_config_dict,
    toml_dumps,
)
from bgpvpn.lab.runner import attach_body, bagpipe_attach_body, node_address, vm_mac
from bgpvpn.lab.topology import TopologyError, lab_name_of, load_topology, parse_topology

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

SMALL: dict[str, Any] = {
    "lab": {"name": "t", "dataplane": "dummy"},
    "hosts": [
        {"name": "rr", "kind": "gobgp", "asn": 64512, "loopback": "203.0.113.254/32",
         "route_reflector": True},
        {"name": "h1", "kind": "bgpvpn", "asn": 64512, "loopback": "203.0.113.1/32",
         "route_reflectors": ["rr"]},
        {"name": "h2", "kind": "bgpvpn", "asn": 64512, "loopback": "203.0.113.2/32",
         "route_reflectors": ["rr"]},
    ],
    "links": [
        {"a": "h1:192.0.2.1/30", "b": "rr:192.0.2.2/30"},
        {"ends": ["h2:192.0.2.5/30,2001:db8::5/64", "rr:192.0.2.6/30,2001:db8::6/64"]},
    ],
    "vms": [
        {"name": "vm1", "host": "h1", "vpn": "blue", "type": "evpn", "vni": 100,
         "rt": ["64512:100"], "ip": "198.51.100.11/24"},
    ],
}  # fmt: skip


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(TopologyError) as ei:
        parse_topology(data, "t.toml")
    return dict(ei.value.problems)


def mutate(path: str, value: Any) -> dict[str, Any]:
    """SMALL with one key set (``hosts.1.asn``), or removed when value is ...."""
    data = copy.deepcopy(SMALL)
    parts = path.split(".")
    obj: Any = data
    for p in parts[:-1]:
        obj = obj[int(p)] if p.isdigit() else obj[p]
    last = parts[-1]
    if value is ...:
        del obj[last]
    else:
        obj[int(last) if last.isdigit() else last] = value
    return data


# ----------------------------------------------------------------------- examples


@pytest.mark.parametrize("name", ["two-hosts-rr.toml", "sp-l3vpn.toml"])
def test_examples_are_valid(name: str) -> None:
    topo = load_topology(EXAMPLES / name)
    assert topo.plan().sessions
    for h in topo.hosts:
        if h.kind == "bgpvpn":
            cfg = parse_config(bgpvpn_config_dict(topo, h, Path("/run/bgpvpn-lab/x"), None))
            assert cfg.dataplane.evpn == cfg.dataplane.ipvpn == "linux"


def test_two_hosts_rr_example() -> None:
    topo = load_topology(EXAMPLES / "two-hosts-rr.toml")
    assert topo.lab.name == "demo"
    kinds = {h.name: h.kind for h in topo.hosts}
    assert kinds == {"rr": "gobgp", "host1": "bgpvpn", "host2": "bgpvpn"}
    assert {vm.type for vm in topo.vms} == {"evpn", "ipvpn"}
    assert len({vm.vpn for vm in topo.vms if vm.type == "evpn"}) == 1
    assert len({vm.vpn for vm in topo.vms if vm.type == "ipvpn"}) == 1
    sessions = topo.plan().sessions
    assert {(s.a, s.b) for s in sessions} == {("host1", "rr"), ("host2", "rr")}
    assert all(s.a_is_client and "evpn" in s.families and "vpnv4" in s.families for s in sessions)


def test_sp_l3vpn_example() -> None:
    """HQ and BRANCH behind PEs SP1 and SP3, P router SP2 (FRR, IPv4 unicast only), VRF CUST-A
    with RD 100:1 and RT 1:100; the PEs program BGP-learned IPv4 routes into the kernel."""
    topo = load_topology(EXAMPLES / "sp-l3vpn.toml")
    assert {h.name: h.kind for h in topo.hosts} == {"sp1": "bgpvpn", "sp2": "frr", "sp3": "bgpvpn"}
    for vm, pe in (("hq", "sp1"), ("branch", "sp3")):
        v = topo.vm(vm)
        assert (v.host, v.vpn, v.type, v.rd, v.imports, v.exports) == (
            pe, "CUST-A", "ipvpn", "100:1", ("1:100",), ("1:100",),
        )  # fmt: skip
    plan = topo.plan()
    for s in plan.sessions:
        if "sp2" in (s.a, s.b):
            assert s.families == ("ipv4",)  # the P router carries no VPN state
        else:
            assert {s.a, s.b} == {"sp1", "sp3"}
            assert "vpnv4" in s.families
            assert (s.a_address, s.b_address) == ("203.0.113.1", "203.0.113.3")
            assert s.a_via_loopback and s.b_via_loopback
    sp1 = bgpvpn_config_dict(topo, topo.host("sp1"), Path("/tmp/x"), None)
    assert sp1["kernel"] == {"ipv4": True, "ipv6": True}
    peers = {p["address"]: p for p in sp1["bgp"]["peers"]}
    assert peers["203.0.113.3"]["local_address"] == "203.0.113.1"
    assert peers["192.0.2.2"]["families"] == ["ipv4"]
    conf = frr_bgpd_conf(topo, topo.host("sp2"))
    assert "vpn" not in conf and "evpn" not in conf
    assert " neighbor 192.0.2.1 route-reflector-client" in conf
    assert " neighbor 192.0.2.1 next-hop-self force" in conf
    assert "  network 203.0.113.2/32" in conf


def test_namespaces_and_interfaces() -> None:
    topo = parse_topology(SMALL)
    assert topo.namespace("h1") == "t-h1"
    assert topo.namespace("vm1") == "t-vm1"
    plan = topo.plan()
    assert [(pl.a_host, pl.a_ifname, pl.b_host, pl.b_ifname) for pl in plan.links] == [
        ("h1", "eth0", "rr", "eth0"),
        ("h2", "eth0", "rr", "eth1"),
    ]
    assert plan.links[1].a_addresses == ("192.0.2.5/30", "2001:db8::5/64")
    assert topo.vm("vm1").port_name == "tap-vm1"
    assert node_address(topo, "vm1") == "198.51.100.11"
    assert node_address(topo, "h1") == "203.0.113.1"
    assert node_address(topo, "192.0.2.9") == "192.0.2.9"


def test_session_addresses_default_to_the_shared_link() -> None:
    topo = parse_topology(SMALL)
    s = {(x.a, x.b): x for x in topo.plan().sessions}
    assert (s["h1", "rr"].a_address, s["h1", "rr"].b_address) == ("192.0.2.1", "192.0.2.2")
    assert not s["h1", "rr"].a_via_loopback
    assert s["h1", "rr"].families == ("vpnv4", "vpnv6", "evpn", "rtc")


def test_frr_sessions_leave_out_rtc() -> None:
    data = mutate("hosts.0.kind", "frr")
    topo = parse_topology(data)
    assert all("rtc" not in s.families for s in topo.plan().sessions)


def test_lab_name_of_tolerates_an_invalid_rest(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text('[lab]\nname = "abc"\n[[hosts]]\nbogus = 1\n')
    assert lab_name_of(f) == "abc"


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("path", "value", "key", "reason"),
    [
        ("lab.name", "Bad Name", "lab.name", "lowercase"),
        ("lab.name", "a" * 21, "lab.name", "at most 20"),
        ("lab.dataplane", "ovs", "lab.dataplane", "'dummy' or 'linux'"),
        ("hosts.1.colour", "red", "hosts[1].colour", "unknown key"),
        ("hosts.1.asn", ..., "hosts[1]", "needs 'asn'"),
        ("hosts.1.asn", 0, "hosts[1].asn", "greater than or equal to 1"),
        ("hosts.1.kind", "bird", "hosts[1].kind", "'bgpvpn', 'gobgp', 'frr' or 'plain'"),
        ("hosts.1.loopback", "203.0.113.300/32", "hosts[1].loopback", "not an address"),
        ("hosts.1.route_reflectors", ["nope"], "hosts[1].route_reflectors[0]", "unknown host"),
        ("hosts.1.families", ["vpnv9"], "hosts[1].families", "unknown family"),
        ("hosts.1.config", {"bgp": {"bogus": 1}}, "hosts[1].config.bgp.bogus", "unknown key"),
        (
            "hosts.1.config",
            {"bgp": {"cluster_id": "x"}},
            "hosts[1].config.bgp.cluster_id",
            "not an IPv4 address",
        ),
        ("hosts.0.kernel_routes", True, "hosts[0]", "for bgpvpn hosts"),
        ("hosts.2.name", "h1", "hosts[2].name", "used twice"),
        ("links.0.a", "hx:192.0.2.1/30", "links[0].a", "unknown host 'hx'"),
        ("links.0.a", "h1:192.0.2.1", "links[0].a", "prefix length"),
        ("links.1.ends", ["h2:192.0.2.5/30"], "links[1]", "two"),
        ("vms.0.host", "rr", "vms[0].host", "not a bgpvpn host"),
        ("vms.0.type", "l2", "vms[0].type", "'evpn' or 'ipvpn'"),
        ("vms.0.mac", "52:54:00", "vms[0].mac", ""),
        ("vms.0.rt", ["nonsense"], "vms[0].rt", ""),
        ("vms.0.rt", ..., "vms[0]", "give 'rt'"),
        ("vms.0.vni", 1 << 24, "vms[0].vni", "less than or equal"),
        ("vms.0.name", "h1", "vms[0].name", "already a host"),
    ],
)
def test_errors_name_the_key(path: str, value: Any, key: str, reason: str) -> None:
    found = problems(mutate(path, value))
    assert key in found, found
    assert reason in found[key], found


def test_session_via_loopbacks_and_errors() -> None:
    data = copy.deepcopy(SMALL)
    data["sessions"] = [{"a": "h1", "b": "h2", "families": ["ipv4"]}]
    topo = parse_topology(data)  # no shared link: loopback to loopback
    s = next(x for x in topo.plan().sessions if {x.a, x.b} == {"h1", "h2"})
    assert (s.a_address, s.b_address, s.a_via_loopback) == ("203.0.113.1", "203.0.113.2", True)

    data["sessions"] = [{"a": "h1", "b": "rr", "families": ["ipv4"], "a_address": "192.0.2.99",
                         "b_address": "192.0.2.2"}]  # fmt: skip
    assert "not an address of h1" in problems(data)["sessions[0]"]
    data["sessions"] = [{"a": "h1", "b": "nope"}]
    assert "unknown host" in problems(data)["sessions[0].b"]
    data["hosts"][0]["kind"] = "frr"
    data["sessions"] = [{"a": "h1", "b": "rr", "families": ["vpnv4", "rtc"]}]
    assert "cannot run rtc" in problems(data)["sessions[0].families"]
    del data["hosts"][1]["loopback"]
    data["hosts"][1]["router_id"] = "203.0.113.1"
    data["sessions"] = [{"a": "h1", "b": "h2"}]
    assert "no IPv4 loopback" in problems(data)["sessions[0]"]


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as ei:
        load_topology(tmp_path / "missing.toml")
    assert ei.value.problems[0][0] == "(file)"
    f = tmp_path / "bad.toml"
    f.write_text("[lab\n")
    with pytest.raises(TopologyError) as ei:
        load_topology(f)
    assert ei.value.problems[0][0] == "(syntax)"


# ------------------------------------------------------------------------ rendering


def test_rendered_configs() -> None:
    topo = parse_topology(SMALL)
    h1 = bgpvpn_config_dict(topo, topo.host("h1"), Path("/run/bgpvpn-lab/t"), None)
    cfg = parse_config(tomllib.loads(toml_dumps(h1)))
    assert cfg.api.listen == "127.0.0.1" and cfg.api.port == 8082
    assert cfg.dataplane.evpn == "dummy"
    assert cfg.store.path == "/run/bgpvpn-lab/t/h1/store.db"
    assert [(p.address, p.asn) for p in cfg.bgp.peers] == [("192.0.2.2", 64512)]
    assert not cfg.bgp.peers[0].rr_client
    over = bgpvpn_config_dict(topo, topo.host("h1"), Path("/x"), "linux")
    assert over["dataplane"] == {"evpn": "linux", "ipvpn": "linux"}

    rr = tomllib.loads(toml_dumps(gobgp_config_dict(topo, topo.host("rr"))))
    assert rr["global"]["config"]["as"] == 64512
    ns = {n["config"]["neighbor-address"]: n for n in rr["neighbors"]}
    assert set(ns) == {"192.0.2.1", "192.0.2.5"}
    assert ns["192.0.2.1"]["route-reflector"]["config"]["route-reflector-client"] is True
    fams = [a["config"]["afi-safi-name"] for a in ns["192.0.2.1"]["afi-safis"]]
    assert fams == ["l3vpn-ipv4-unicast", "l3vpn-ipv6-unicast", "l2vpn-evpn", "rtc"]


def test_toml_dumps_round_trip() -> None:
    data = {"a": 1, "b": "x\"y", "c": [1, 2], "t": {"u": True, "v": {"w": 1.5}},
            "arr": [{"k": 1}, {"k": 2, "sub": {"z": "q"}}]}  # fmt: skip
    assert tomllib.loads(toml_dumps(data)) == data


def test_attach_bodies() -> None:
    topo = parse_topology(SMALL)
    vm = topo.vm("vm1")
    native = attach_body(topo, vm)
    assert native["instance_id"] == "blue" and native["instance_type"] == "evpn"
    assert native["port"] == "tap-vm1" and native["ips"] == ["198.51.100.11/24"]
    assert native["vni"] == 100 and native["import_rts"] == native["export_rts"] == ["64512:100"]
    assert native["mac"] == vm_mac(topo, vm) and native["mac"].startswith("52:54:00:")
    bp = bagpipe_attach_body(topo, vm, "198.51.100.11/24")
    assert bp["local_port"] == {"linuxif": "tap-vm1"} and bp["vpn_type"] == "evpn"
    assert bp["ip_address"] == "198.51.100.11/24" and bp["mac_address"] == native["mac"]


# ------------------------------------------------------------------------------ CLI


def test_cli_check(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["lab", "check", str(EXAMPLES / "sp-l3vpn.toml")])
    assert res.exit_code == 0, res.output
    assert "session sp1 203.0.113.1 <-> sp3 203.0.113.3" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[lab]\nname = "x"\n[[hosts]]\nname = "h1"\nkind = "bgpvpn"\n')
    res = runner.invoke(app, ["lab", "check", str(bad)])
    assert res.exit_code == 2
    assert "hosts[0]" in res.output and "asn" in res.output


def test_cli_down_of_a_lab_that_is_not_up(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["lab", "--state-dir", str(tmp_path), "down", "--name", "nope"])
    assert res.exit_code == 0 and "not up" in res.output
    res = CliRunner().invoke(app, ["lab", "--state-dir", str(tmp_path), "status", "--name", "x"])
    assert res.exit_code == 1
