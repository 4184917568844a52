"""The native /v1 VPN API over a real VpnManager with the dummy driver: instances, ports, static
routes, bulk attach, errors naming the field and changing nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bagpipe.harness import Client, Ctx, make_app, make_ctx
from bgpvpn.api.vpn import AttachRequest, request_id
from bgpvpn.vpn import validate
from bgpvpn.vpn.model import Encapsulation, InstanceSpec, InstanceType, VpnError


@pytest.fixture
def ctx() -> Ctx:
    return make_ctx()


@pytest.fixture
def client(ctx: Ctx) -> Client:
    return Client(make_app(ctx))


def _port(n: int, instance: str = "blue", **more: Any) -> dict[str, Any]:
    body = {
        "instance_id": instance,
        "instance_type": "ipvpn",
        "port": f"tap{n}",
        "mac": f"52:54:00:00:{n // 256:02x}:{n % 256:02x}",
        "ips": [f"10.{n // 65536}.{n // 256 % 256}.{n % 256}/8"],
        "route_targets": ["64512:79"],
    }
    body.update(more)
    return body


def test_instance_lifecycle(client: Client, ctx: Ctx) -> None:
    r = client.post(
        "/v1/instances",
        {"instance_id": "blue", "instance_type": "ipvpn", "route_targets": ["64512:79"]},
    )
    assert r.status == 200, r.body
    doc = r.json()
    assert doc["request_id"] and doc["instances_created"] == ["blue"]
    assert doc["instance"]["import_rts"] == ["64512:79"] == doc["instance"]["export_rts"]
    assert client.get("/v1/instances/blue").json()["instance_type"] == "ipvpn"
    assert [v["instance_id"] for v in client.get("/v1/instances").json()] == ["blue"]

    r = client.post(
        "/v1/instances/blue/ports",
        {"port": "tap1", "mac": "52:54:00:00:00:01", "ips": ["198.51.100.1/24"]},
    )
    assert r.status == 200, r.body
    assert r.json()["added"] == ["192.0.2.1:1:198.51.100.1/32 label 1000"]
    view = client.get("/v1/instances/blue").json()
    assert view["ports"][0]["port"] == "tap1"
    assert view["advertised_routes"][0]["prefix"] == "198.51.100.1/32"
    assert view["dataplane"]["driver"] == "dummy"
    assert view["dataplane"]["programmed"]["ports"][0]["name"] == "tap1"

    # route targets changed live: the route is re-advertised with the new export RT
    r = client.patch("/v1/instances/blue", {"export_rts": ["64512:80"], "local_pref": 200})
    assert r.status == 200, r.body
    assert r.json()["instance"]["export_rts"] == ["64512:80"]
    assert r.json()["updated"] == ["192.0.2.1:1:198.51.100.1/32 label 1000"]
    assert r.json()["instance"]["local_pref"] == 200

    r = client.delete("/v1/instances/blue")
    assert r.status == 200
    assert r.json()["instances_removed"] == ["blue"]
    assert r.json()["removed"] == ["192.0.2.1:1:198.51.100.1/32 label 1000"]
    assert client.get("/v1/instances").json() == []
    assert ctx.driver.snapshot() == {}


def test_one_instance_reads_only_its_own_dataplane_state(
    client: Client, ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /v1/instances/{id} (and the instance in a create/PATCH answer) shows the same
    data-plane state as the list, without building the driver's whole state: that grew with
    the number of instances and made creating the n-th instance cost O(n)."""
    for n, name in ((1, "blue"), (2, "red")):
        assert client.post("/v1/attach", _port(n, name, route_targets=[f"64512:{n}"])).status == 200
    listed = {v["instance_id"]: v["dataplane"] for v in client.get("/v1/instances").json()}

    def whole_state() -> dict[str, Any]:
        raise AssertionError("the whole driver state was built for one instance")

    monkeypatch.setattr(ctx.driver, "state", whole_state)
    for name in ("blue", "red"):
        assert client.get(f"/v1/instances/{name}").json()["dataplane"] == listed[name]
    r = client.post("/v1/instances", {"instance_id": "green", "instance_type": "evpn"})
    assert r.status == 200, r.body
    assert r.json()["instance"]["dataplane"]["programmed"]["config"]["instance_id"] == "green"
    r = client.patch("/v1/instances/red", {"description": "x"})
    assert r.json()["instance"]["dataplane"] == listed["red"]


def test_errors_name_the_field_and_change_nothing(client: Client, ctx: Ctx) -> None:
    r = client.get("/v1/instances/nope")
    assert r.status == 404 and r.json()["error"]["field"] == "instance_id"
    r = client.post(
        "/v1/instances",
        {"instance_id": "blue", "instance_type": "ipvpn", "import_rts": ["64512:x"]},
    )
    assert r.status == 400 and r.json()["error"]["field"] == "import_rts[0]"
    r = client.post("/v1/instances", {"instance_id": "blue", "instance_type": "l2"})
    assert r.status == 422 and r.json()["detail"][0]["loc"][-1] == "instance_type"
    r = client.post("/v1/instances", {"instance_id": "blue", "instance_type": "ipvpn", "x": 1})
    assert r.status == 422 and r.json()["detail"][0]["loc"][-1] == "x"
    r = client.post("/v1/attach", _port(1, mac="52:54:00:zz:00:01"))
    assert r.status == 400 and r.json()["error"]["field"] == "mac"
    r = client.post("/v1/attach", _port(1, ips=["198.51.100.300/24"]))
    assert r.status == 400 and r.json()["error"]["field"] == "ips[0]"
    r = client.post("/v1/attach", {k: v for k, v in _port(1).items() if k != "instance_type"})
    assert r.status == 400 and r.json()["error"]["field"] == "instance_type"
    assert client.get("/v1/instances").json() == []
    # a type conflict with the existing instance
    assert client.post("/v1/attach", _port(1)).status == 200
    r = client.post("/v1/attach", _port(2, instance_type="evpn"))
    assert r.status == 409 and r.json()["error"]["field"] == "instance_type"
    # the same MAC on another port of the instance
    r = client.post("/v1/attach", _port(2, mac=_port(1)["mac"]))
    assert r.status == 409 and r.json()["error"]["field"] == "mac"
    assert len(client.get("/v1/instances/blue").json()["ports"]) == 1
    r = client.post("/v1/detach", {"instance_id": "blue", "port": "tap9"})
    assert r.status == 404 and r.json()["error"]["field"] == "port"
    r = client.delete("/v1/instances/blue/routes/203.0.113.0/24")
    assert r.status == 404 and r.json()["error"]["field"] == "prefix"


def test_attach_detach_and_last_port_removes_instance(client: Client) -> None:
    assert client.post("/v1/attach", _port(1)).status == 200
    r = client.post("/v1/attach", _port(2, instance_type=None))  # type from the instance
    assert r.status == 200, r.body
    assert r.json()["instances_created"] == []
    r = client.delete("/v1/instances/blue/ports/tap1?mac=52:54:00:00:00:01")
    assert r.status == 200, r.body
    assert r.json()["removed"] == ["192.0.2.1:1:10.0.0.1/32 label 1000"]
    r = client.post("/v1/detach", {"instance_id": "blue", "port": "tap2"})
    assert r.status == 200
    assert r.json()["instances_removed"] == ["blue"]
    assert client.get("/v1/instances").json() == []


def test_static_routes(client: Client) -> None:
    assert client.post("/v1/attach", _port(1)).status == 200
    r = client.post(
        "/v1/instances/blue/routes",
        {
            "prefix": "203.0.113.0/24",
            "next_hop": "10.0.0.1",
            "local_pref": 300,
            "communities": ["64512:7"],
        },
    )
    assert r.status == 200, r.body
    assert r.json()["added"] == ["192.0.2.1:1:203.0.113.0/24 label 1000"]
    view = client.get("/v1/instances/blue").json()
    assert view["static_routes"] == [
        {
            "prefix": "203.0.113.0/24",
            "next_hop": "10.0.0.1",
            "local_pref": 300,
            "med": None,
            "communities": ["64512:7"],
        }
    ]
    r = client.post("/v1/instances/blue/routes", {"prefix": "203.0.113.0/33", "next_hop": "x"})
    assert r.status == 400 and r.json()["error"]["field"] == "prefix"
    r = client.delete("/v1/instances/blue/routes/203.0.113.0/24")
    assert r.status == 200 and r.json()["removed"] == ["192.0.2.1:1:203.0.113.0/24 label 1000"]
    assert client.get("/v1/instances/blue").json()["static_routes"] == []


def test_bulk_attach_1000_ports(client: Client, ctx: Ctx) -> None:
    """1,000 ports in one call (its speed is measured by bench/attach.py, not here)."""
    body: list[dict[str, Any]] = []
    for attempt in ("blue", "green"):
        body = [_port(n, attempt) for n in range(1000)]
        r = client.post("/v1/attachments/bulk", body)
        assert r.status == 200, r.body[:300]
        doc = r.json()
        assert doc["attached"] == 1000 and len(doc["added"]) == 1000
        assert doc["instances_created"] == [attempt]
        assert len(ctx.driver.snapshot()[attempt].ports) == 1000
    # the same list again: nothing to do
    r = client.post("/v1/attachments/bulk", {"attachments": body})
    assert r.status == 200 and r.json()["added"] == []


def test_bulk_attach_is_all_or_nothing(client: Client, ctx: Ctx) -> None:
    body = [_port(n) for n in range(10)]
    body[7]["ips"] = ["not-an-address"]
    r = client.post("/v1/attachments/bulk", body)
    assert r.status == 400
    assert r.json()["error"]["field"] == "[7].ips[0]"
    assert client.get("/v1/instances").json() == []
    assert ctx.driver.snapshot() == {}
    body = [_port(0), {k: v for k, v in _port(1, "red").items() if k != "instance_type"}]
    r = client.post("/v1/attachments/bulk", body)
    assert r.status == 400 and r.json()["error"]["field"] == "[1].instance_type"
    r = client.post("/v1/attachments/bulk", {"attachments": body})
    assert r.status == 400 and r.json()["error"]["field"] == "attachments[1].instance_type"
    body[1]["instance_type"] = "evpn"
    body[1]["mac"] = "nope"
    r = client.post("/v1/attachments/bulk", {"attachments": body})
    assert r.status == 400 and r.json()["error"]["field"] == "attachments[1].mac"
    assert client.get("/v1/instances").json() == []


def test_advertise_learned_field(client: Client, ctx: Ctx) -> None:
    r = client.post(
        "/v1/instances",
        {"instance_id": "red", "instance_type": "ipvpn", "advertise_learned": True},
    )
    assert r.status == 400 and r.json()["error"]["field"] == "advertise_learned"
    r = client.post("/v1/attach", _port(1, advertise_learned=True))
    assert r.status == 400 and r.json()["error"]["field"] == "advertise_learned"
    assert client.get("/v1/instances").json() == []
    r = client.post(
        "/v1/attach",
        _port(2, instance="green", instance_type="evpn", ips=[], advertise_learned=True),
    )
    assert r.status == 200, r.body
    assert client.get("/v1/instances/green").json()["advertise_learned"] is True
    assert ctx.vpn.mac_learned("green", "tap2", "52:54:00:00:00:77", True)
    advertised = client.get("/v1/instances/green").json()["advertised_routes"]
    assert any(a.get("mac") == "52:54:00:00:00:77" for a in advertised), advertised
    # changed live with PATCH: off withdraws the learned MAC's route, on advertises it again
    r = client.patch("/v1/instances/green", {"advertise_learned": False})
    assert r.status == 200 and r.json()["instance"]["advertise_learned"] is False
    assert any("52:54:00:00:00:77" in t for t in r.json()["removed"]), r.json()
    r = client.patch("/v1/instances/green", {"advertise_learned": True})
    assert r.status == 200 and any("52:54:00:00:00:77" in t for t in r.json()["added"])
    client.post("/v1/instances", {"instance_id": "red", "instance_type": "ipvpn"})
    r = client.patch("/v1/instances/red", {"advertise_learned": True})
    assert r.status == 400 and r.json()["error"]["field"] == "advertise_learned"
    assert client.get("/v1/instances/red").json()["advertise_learned"] is False


def test_attach_to_an_existing_instance_still_checks_what_the_request_gives(
    client: Client,
) -> None:
    """An attach whose instance fields only repeat the attachment is not checked against the
    instance (the common case, taken quickly); any other field still is."""
    r = client.post(
        "/v1/instances",
        {
            "instance_id": "blue",
            "instance_type": "ipvpn",
            "encapsulation": "mpls",
            "rd": "64512:7",
            "route_targets": ["64512:79"],
        },
    )
    assert r.status == 200, r.body
    refused = [
        ({}, 409, "encapsulation"),  # the request's default, vxlan, is not the instance's
        ({"encapsulation": "mpls", "rd": "64512:8"}, 409, "rd"),
        ({"encapsulation": "mpls", "vni": 4000}, 409, "vni"),
        ({"encapsulation": "mpls", "advertise_learned": True}, 400, "advertise_learned"),
        ({"encapsulation": "mpls", "instance_type": "evpn"}, 409, "instance_type"),
    ]
    for n, (more, status, field) in enumerate(refused):
        r = client.post("/v1/attach", _port(n, "blue", **more))
        assert (r.status, r.json()["error"]["field"]) == (status, field), more
    r = client.post("/v1/attach", _port(9, "blue", encapsulation="mpls", rd="64512:7"))
    assert r.status == 200, r.body
    r = client.post("/v1/attach", _port(10, "blue", encapsulation="mpls", route_targets=["x"]))
    assert (r.status, r.json()["error"]["field"]) == (400, "import_rts[0]")
    view = client.get("/v1/instances/blue").json()
    assert [p["port"] for p in view["ports"]] == ["tap9"]


def test_request_ids_are_distinct_version_4_uuids() -> None:
    ids = {request_id() for _ in range(5000)}
    assert len(ids) == 5000
    for rid in list(ids)[:200]:
        u = uuid.UUID(hex=rid)
        assert (u.version, u.variant, u.hex) == (4, uuid.RFC_4122, rid)


CHECKED_BODIES: list[dict[str, Any]] = [
    {},
    {"mac": "52:54:00:AB:CD:EF", "ips": ["10.0.0.1/8", "10.0.0.1/8", "2001:DB8::1/64"]},
    {"mac": "zz"},
    {"ips": ["10.0.0.300/8"]},
    {"ips": ["10.0.0.1"]},
    {"route_targets": ["target:64512:1"], "import_rts": ["64512:2", "64512:1"]},
    {"export_rts": ["64512"]},
    {"local_pref": 4294967295, "advertise_subnet": True, "description": "d"},
    {"gateway_ip": "10.255.255.254"},
    {"gateway_ip": "not-an-ip"},
    {"port": "a-name-longer-than-15"},
    {"port": "netns"},
    {"readvertise": {"from_rts": ["64512:5"], "to_rts": ["target:64512:6"]}},
    {"readvertise": {"from_rts": ["bad"], "to_rts": []}},
    {"extra": {"k": "v"}},
]


@pytest.mark.parametrize("more", CHECKED_BODIES)
def test_an_attachment_checked_once_equals_the_general_path(more: dict[str, Any]) -> None:
    """An attach to an existing instance builds its attachment once
    (``PortRequest.checked_attachment``); it equals what the general path gives (the request's
    attachment, then ``validate.attachment``), or the same refusal naming the same field."""
    req = AttachRequest.model_validate(_port(1, **more))

    def outcome(build: Any) -> Any:
        try:
            att = build()
        except VpnError as e:
            return ("refused", e.field, e.reason)
        return (att, att.extra)

    general = outcome(lambda: validate.attachment(req.attachment("blue", InstanceType.IPVPN)))
    once = outcome(lambda: req.checked_attachment("blue", InstanceType.IPVPN))
    assert once == general


def test_only_attaches_to_an_existing_instance_when_no_instance_field_is_given() -> None:
    spec = InstanceSpec("blue", InstanceType.IPVPN, encapsulation=Encapsulation.MPLS)
    quick = AttachRequest.model_validate(_port(1, encapsulation="mpls"))
    assert quick.only_attaches_to(spec)
    assert AttachRequest.model_validate(
        {k: v for k, v in _port(1, encapsulation="mpls").items() if k != "instance_type"}
    ).only_attaches_to(spec)
    for more in (
        {},  # vxlan, the request's default, is not the instance's
        {"instance_type": "evpn"},
        {"rd": "64512:7"},
        {"vni": 4000},
        {"advertise_type5": True},
        {"advertise_learned": True},
        {"instance_description": "x"},
    ):
        body = {**_port(1, encapsulation="mpls"), **more}
        if not more:
            body.pop("encapsulation")
        assert not AttachRequest.model_validate(body).only_attaches_to(spec), more
