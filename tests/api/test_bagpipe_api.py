"""The BaGPipe-compatible API (attach_localport, detach_localport, ping) and the looking glass,
with the bodies networking-bagpipe's clients send, over a real VpnManager (dummy driver)."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest

from bagpipe.harness import Client, Ctx, make_app, make_ctx
from bgpvpn.api.bagpipe import bagpipe_field, parse_attach, parse_detach
from bgpvpn.vpn.model import InstanceType, VpnError


@pytest.fixture
def ctx() -> Ctx:
    return make_ctx()


@pytest.fixture
def client(ctx: Ctx) -> Client:
    return Client(make_app(ctx))


# what bagpipe-rest-attach --attach --port netns --ip 198.51.100.1/24 --network-type evpn
# --vpn-instance-id test2 --rt 64512:79 sends (MAC read from the namespace's interface)
REST_ATTACH = {
    "import_rt": ["64512:79"],
    "export_rt": ["64512:79"],
    "local_port": {"linuxif": "ns-test2"},
    "vpn_instance_id": "test2",
    "vpn_type": "evpn",
    "gateway_ip": "198.51.100.254",
    "mac_address": "0a:58:c6:33:64:01",
    "ip_address": "198.51.100.1/24",
    "advertise_subnet": False,
    "readvertise": None,
    "attract_traffic": {},
    "lb_consistent_hash_order": 0,
    "vni": 0,
    "direction": "both",
}

# what the OpenStack agent's bgpvpn extension sends for an OVS port (IP VPN)
AGENT_ATTACH = {
    "mac_address": "fa:16:3e:00:00:01",
    "local_port": {
        "linuxif": "patch2tun:12",
        "ovs": {"plugged": True, "port_number": 5, "vlan": 12},
    },
    "gateway_ip": "10.0.0.1",
    "fallback": {"dst_mac": "fa:16:3e:ff:ff:ff", "src_mac": "00:00:5e:00:43:64"},
    "local_pref": 120,
    "description": {"port": "8d4b3c1a-port-uuid"},
    "ip_address": "10.0.0.5",
    "instance_description": "BGPVPN ipvpn associations for net x (10.0.0.1)",
    "import_rt": ["64512:10", "64512:11"],
    "export_rt": "64512:10,64512:12",
    "vpn_instance_id": "ipvpn_net-uuid",
    "vpn_type": "ipvpn",
}


def test_parse_attach_maps_bagpipe_fields() -> None:
    p = parse_attach(copy.deepcopy(AGENT_ATTACH))
    a = p.attachment
    assert a.instance_id == "ipvpn_net-uuid" and a.instance_type == InstanceType.IPVPN
    assert a.port == "patch2tun:12" and a.mac == "fa:16:3e:00:00:01"
    assert a.ips == ("10.0.0.5/32",)  # no length: a host address, as bagpipe-bgp takes it
    assert a.gateway_ip == "10.0.0.1" and a.local_pref == 120
    assert a.import_rts == ("64512:10", "64512:11")
    assert a.export_rts == ("64512:10", "64512:12")  # a comma-separated string
    assert json.loads(a.description) == {"port": "8d4b3c1a-port-uuid"}
    # accepted, recorded, not acted on
    assert json.loads(a.extra["local_port.ovs"]) == {"plugged": True, "port_number": 5, "vlan": 12}
    assert json.loads(a.extra["fallback"])["dst_mac"] == "fa:16:3e:ff:ff:ff"
    assert a.extra["direction"] == "both"
    assert p.instance.description.startswith("BGPVPN ipvpn")
    assert p.instance.vni is None

    p = parse_attach(dict(REST_ATTACH, vni=5000, readvertise={"from_rt": ["1:1"], "to_rt": "2:2"}))
    assert p.instance.vni == 5000
    assert p.attachment.readvertise is not None
    assert p.attachment.readvertise.from_rts == ("1:1",) and p.attachment.readvertise.to_rts == (
        "2:2",
    )
    assert p.attachment.port == "ns-test2" and p.attachment.ips == ("198.51.100.1/24",)
    assert parse_attach(dict(REST_ATTACH, local_port="tap1")).attachment.port == "tap1"
    d = parse_detach(
        {k: REST_ATTACH[k] for k in ("vpn_instance_id", "vpn_type", "local_port", "mac_address")}
    )
    assert d.ip is None and d.port == "ns-test2" and d.instance_type == InstanceType.EVPN


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"vpn_type": None}, "vpn_type", "missing instance_type"),
        ({"vpn_type": "l2vpn"}, "vpn_type", "unknown vpn_type: l2vpn"),
        ({"mac_address": None}, "mac_address", "Missing parameter: 'mac_address'"),
        ({"import_rt": None}, "import_rt", "Missing parameter: 'import_rt'"),
        (
            {"mac_address": "52:54:00:00:00"},
            "mac_address",
            "MAC address 52:54:00:00:00 is not valid",
        ),
        (
            {"ip_address": "198.51.100.300/24"},
            "ip_address",
            "IP address 198.51.100.300/24 is not valid",
        ),
        ({"advertise_subnet": "yes"}, "advertise_subnet", "'advertise_subnet' must be a boolean"),
        ({"direction": "sideways"}, "direction", "direction should be one of"),
        ({"local_port": {"ovs": {}}}, "local_port", "Mandatory key is missing in local_port"),
        ({"local_port": {"evpn": {"id": "x"}}}, "local_port.evpn", "not supported"),
        ({"readvertise": {"from_rt": ["1:1"]}}, "readvertise.to_rt", "Wrong 'readvertise'"),
        ({"import_rt": ["64512:x"]}, "import_rt[0]", ""),
    ],
)
def test_parse_attach_refuses_like_bagpipe(change: dict[str, Any], field: str, reason: str) -> None:
    params = dict(REST_ATTACH)
    for k, v in change.items():
        if v is None:
            params.pop(k)
        else:
            params[k] = v
    with pytest.raises(VpnError) as err:
        parse_attach(params)
    assert err.value.field == field and reason in err.value.reason


def test_bagpipe_field_names() -> None:
    assert bagpipe_field("ips[0]") == "ip_address"
    assert bagpipe_field("mac") == "mac_address"
    assert bagpipe_field("import_rts[1]") == "import_rt[1]"
    assert bagpipe_field("instance_type") == "vpn_type"


def test_attach_detach_localport(client: Client, ctx: Ctx) -> None:
    r = client.post("/attach_localport", REST_ATTACH)
    assert r.status == 200, r.body
    doc = r.json()
    assert doc["instances_created"] == ["test2"]
    assert any("mac=0a:58:c6:33:64:01 ip=198.51.100.1" in x for x in doc["added"])
    view = client.get("/v1/instances/test2").json()
    assert view["instance_type"] == "evpn" and view["import_rts"] == ["64512:79"]
    port = view["ports"][0]
    assert (port["port"], port["mac"], port["ips"]) == (
        "ns-test2",
        "0a:58:c6:33:64:01",
        ["198.51.100.1/24"],
    )
    assert port["gateway_ip"] == "198.51.100.254"
    programmed = ctx.driver.snapshot()["test2"]
    assert [p.name for p in programmed.ports] == ["ns-test2"]

    # the same attach again (the agent re-sends everything after a restart): nothing changes
    r = client.post("/attach_localport", REST_ATTACH)
    assert r.status == 200 and r.json()["added"] == [] and r.json()["instances_created"] == []

    detach = {
        k: REST_ATTACH[k]
        for k in ("vpn_instance_id", "vpn_type", "local_port", "mac_address", "ip_address")
    }
    r = client.post("/detach_localport", detach)
    assert r.status == 200, r.body
    assert r.json()["instances_removed"] == ["test2"]
    assert client.get("/v1/instances").json() == []
    assert ctx.driver.snapshot() == {}


def test_agent_attach_and_errors(client: Client) -> None:
    r = client.post("/attach_localport", AGENT_ATTACH)
    assert r.status == 200, r.body
    view = client.get("/v1/instances/ipvpn_net-uuid").json()
    assert view["description"].startswith("BGPVPN ipvpn")
    assert view["import_rts"] == ["64512:10", "64512:11"]
    assert view["ports"][0]["local_pref"] == 120
    extra = view["ports"][0]["extra"]  # accepted and recorded, not acted on
    assert json.loads(extra["local_port.ovs"])["vlan"] == 12 and extra["direction"] == "both"
    assert json.loads(extra["fallback"])["src_mac"] == "00:00:5e:00:43:64"
    # another type for the same instance: refused with 400 (bagpipe-bgp: an error too)
    r = client.post("/attach_localport", dict(AGENT_ATTACH, vpn_type="evpn"))
    assert r.status == 400
    doc = r.json()
    assert doc["error"]["field"] == "vpn_type"
    assert doc["code"] == "400 Bad Request" and doc["message"].startswith("API error: vpn_type")
    # bad body
    r = client.post("/attach_localport", raw=b"{not json")
    assert r.status == 400 and r.json()["error"]["field"] == "body"
    r = client.post("/attach_localport", {"vpn_type": "ipvpn"})
    assert r.status == 400 and r.json()["error"]["field"] == "vpn_instance_id"
    # detach from an unknown instance: bagpipe-bgp answers 400 (VPNNotFound is an API error)
    r = client.post("/detach_localport", dict(REST_ATTACH, vpn_instance_id="nope"))
    assert r.status == 400 and r.json()["error"]["field"] == "vpn_instance_id"
    r = client.post("/detach_localport", dict(AGENT_ATTACH, mac_address="fa:16:3e:00:00:09"))
    assert r.status == 400 and r.json()["error"]["field"] == "mac_address"
    # GET answers {} like bagpipe-bgp; other methods 405
    assert client.get("/attach_localport").json() == {}
    assert client.request("PUT", "/attach_localport").status == 405


def test_detach_one_address_of_several(client: Client) -> None:
    one = dict(REST_ATTACH, vpn_type="ipvpn", vpn_instance_id="red", ip_address="198.51.100.1/24")
    two = dict(one, ip_address="198.51.100.2/24")
    assert client.post("/attach_localport", one).status == 200
    assert client.post("/attach_localport", two).status == 200
    view = client.get("/v1/instances/red").json()
    assert view["ports"][0]["ips"] == ["198.51.100.1/24", "198.51.100.2/24"]
    rd, vni = view["rd"], view["vni"]
    r = client.post("/detach_localport", one)
    assert r.status == 200, r.body
    doc = r.json()
    assert doc["removed"] == [f"{rd}:198.51.100.1/32 label {vni}"] and doc["added"] == []
    assert doc["instances_removed"] == [] and doc["instances_created"] == []
    view = client.get("/v1/instances/red").json()
    assert view["ports"][0]["ips"] == ["198.51.100.2/24"] and (view["rd"], view["vni"]) == (rd, vni)
    r = client.post("/detach_localport", one)
    assert r.status == 400 and r.json()["error"]["field"] == "ip_address"
    assert client.post("/detach_localport", two).json()["instances_removed"] == ["red"]


def test_ping_answers_the_boot_id(client: Client, ctx: Ctx) -> None:
    r = client.get("/ping")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    # networking-bagpipe's agent does jsonutils.loads(content) and compares it with the last one
    assert json.loads(r.body) == ctx.boot_id
    assert len(r.body) > 1


def _crawl(client: Client, url: str, seen: set[str]) -> None:
    if url in seen:
        return
    seen.add(url)
    r = client.get(url.removeprefix("http://127.0.0.1:8082"))
    assert r.status == 200, (url, r.body)
    stack = [r.json()]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if "href" in v:
                _crawl(client, v["href"], seen)
            stack.extend(x for k, x in v.items() if k != "href")
        elif isinstance(v, list):
            stack.extend(v)


def test_looking_glass_tree(client: Client, ctx: Ctx) -> None:
    assert client.post("/attach_localport", REST_ATTACH).status == 200
    assert client.post("/attach_localport", AGENT_ATTACH).status == 200
    ctx.logs.emit(logging.LogRecord("bgpvpn.x", 20, "", 0, "instance %s up", ("x",), None))
    ctx.logs.emit(logging.LogRecord("bgpvpn.x", 30, "", 0, "peer %s down", ("192.0.2.254",), None))

    root = client.get("/looking-glass").json()
    assert set(root) == {"summary", "config", "bgp", "vpns", "logs"}
    s = root["summary"]
    assert s["vpn_instances_count"] == 2 and s["BGP_established_peers"] == 0
    assert s["route_counts"]["local_routes_count"] > 0 and s["warnings_and_errors"] == 1
    assert s["boot_id"] == ctx.boot_id
    assert root["bgp"] == {"href": "http://127.0.0.1:8082/looking-glass/bgp"}

    seen: set[str] = set()
    _crawl(client, "http://127.0.0.1:8082/looking-glass", seen)
    base = "http://127.0.0.1:8082/looking-glass"
    for path in (
        "/config",
        "/bgp/peers",
        "/bgp/peers/192.0.2.254",
        "/bgp/routes",
        "/bgp/workers",
        "/vpns/instances",
        "/vpns/instances/test2",
        "/vpns/instances/test2/ports",
        "/vpns/instances/test2/dataplane",
        "/vpns/dataplane/drivers/evpn",
        "/logs",
    ):
        assert base + path in seen, path

    insts = client.get("/looking-glass/vpns/instances").json()
    assert {i["id"] for i in insts} == {"test2", "ipvpn_net-uuid"}
    assert all(i["href"].startswith(base + "/vpns/instances/") for i in insts)
    i = client.get("/looking-glass/vpns/instances/test2").json()
    assert i["instance_type"] == "evpn" and i["external_instance_id"] == "test2"
    assert i["route_targets"] == {"import": ["64512:79"], "export": ["64512:79"]}
    assert i["gateway_ip"] == "198.51.100.254" and i["subnet_prefix_length"] == 24
    dp = client.get("/looking-glass/vpns/instances/test2/dataplane").json()
    assert dp["driver"] == "dummy" and dp["desired"]["ports"][0]["mac"] == "0a:58:c6:33:64:01"
    assert client.get("/looking-glass/vpns/instances/nope/dataplane").status == 404
    ports = client.get("/looking-glass/vpns/instances/test2/ports").json()
    ep = ports["ns-test2"]["endpoints"][0]
    assert ep["mac_address"] == "0a:58:c6:33:64:01" and ep["ip_address"] == "198.51.100.1/24"
    # a path may go down into an object's keys, as bagpipe-bgp's does
    assert client.get("/looking-glass/summary/route_counts").json() == s["route_counts"]
    assert client.get("/looking-glass/vpns/instances/test2/route_targets/import").json() == [
        "64512:79"
    ]
    peer = client.get("/looking-glass/bgp/peers/192.0.2.254").json()
    assert peer["protocol"]["state"] == "idle"
    logs = client.get("/looking-glass/logs").json()
    assert logs[0]["message"] == "peer 192.0.2.254 down" and logs[0]["level"] == "WARNING"
    assert logs[0]["name"] == "bgpvpn.x" and logs[1]["level"] == "INFO"
    for bad in (
        "/looking-glass/nope",
        "/looking-glass/vpns/instances/nope",
        "/looking-glass/summary/x",
    ):
        r = client.get(bad)
        assert r.status == 404 and r.json()["error"]["field"] == "path"
