"""The TOML configuration: the contract keys, defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgpvpn.config import ConfigError, load_config, parse_config
from bgpvpn.wire.family import EVPN, VPNV4

CONTRACT = """
[bgp]
asn = 64512
router_id = "192.0.2.1"
listen = "0.0.0.0"
port = 179
rtc = true
cluster_id = "192.0.2.1"

[[bgp.peers]]
address = "192.0.2.2"
asn = 64512
port = 179
passive = false
families = ["ipv4", "ipv6", "vpnv4", "vpnv6", "evpn", "rtc"]
rr_client = false
hold_time = 90
max_prefix = 0

[[bgp.peers]]
address = "2001:db8::2"
asn = 4200000001
families = ["ipv4-lu", "ipv6-lu"]

[api]
listen = "127.0.0.1"
port = 8082

[dataplane]
evpn = "dummy"
ipvpn = "dummy"
vtep = "192.0.2.1"

[store]
path = "/var/lib/bgpvpn/state.db"

[kernel]
ipv4 = true
table = 100
protocol = 186
"""


def test_contract_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "bgpvpn.toml"
    path.write_text(CONTRACT)
    cfg = load_config(path)
    assert cfg.bgp.asn == 64512 and cfg.bgp.router_id == "192.0.2.1"
    assert cfg.bgp.cluster_id == "192.0.2.1" and cfg.bgp.rtc
    first, second = cfg.bgp.peers
    assert first.families == ("ipv4", "ipv6", "vpnv4", "vpnv6", "evpn", "rtc")
    assert {VPNV4, EVPN} <= first.family_set
    assert second.asn == 4200000001 and second.port == 179 and not second.passive
    assert (cfg.api.listen, cfg.api.port) == ("127.0.0.1", 8082)
    assert (cfg.dataplane.evpn, cfg.dataplane.ipvpn, cfg.vtep) == ("dummy", "dummy", "192.0.2.1")
    assert cfg.store.path == "/var/lib/bgpvpn/state.db"
    assert (cfg.kernel.ipv4, cfg.kernel.ipv6, cfg.kernel.table) == (True, False, 100)


def test_vtep_defaults_to_the_router_id() -> None:
    cfg = parse_config({"bgp": {"asn": 65000, "router_id": "192.0.2.9"}})
    assert cfg.vtep == "192.0.2.9" and cfg.dataplane.evpn == "dummy"


def test_defaults() -> None:
    cfg = parse_config({"bgp": {"asn": 65000, "router_id": "192.0.2.9"}})
    assert (cfg.bgp.listen, cfg.bgp.port, cfg.bgp.rtc, cfg.bgp.peers) == ("0.0.0.0", 179, True, ())
    assert (cfg.api.listen, cfg.api.port) == ("127.0.0.1", 8082)


def test_coalesce_time() -> None:
    base = {"asn": 65000, "router_id": "192.0.2.9"}
    assert parse_config({"bgp": base}).bgp.coalesce_time == 0.002
    assert parse_config({"bgp": {**base, "coalesce_time": 0}}).bgp.coalesce_time == 0
    with pytest.raises(ConfigError) as e:
        parse_config({"bgp": {**base, "coalesce_time": -1}})
    assert e.value.problems[0][0] == "bgp.coalesce_time"


def test_listen_empty_disables_listening() -> None:
    cfg = parse_config({"bgp": {"asn": 65000, "router_id": "192.0.2.9", "listen": ""}})
    assert cfg.bgp.listen == ""


def test_family_aliases_are_normalised() -> None:
    cfg = parse_config(
        {
            "bgp": {
                "asn": 1,
                "router_id": "192.0.2.9",
                "peers": [
                    {"address": "192.0.2.2", "asn": 2, "families": ["l2vpn-evpn", "ipv4-vpn"]}
                ],
            }
        }
    )
    assert cfg.bgp.peers[0].families == ("evpn", "vpnv4")


@pytest.mark.parametrize(
    ("data", "key", "words"),
    [
        ({"bgp": {"router_id": "192.0.2.1"}}, "bgp.asn", "required"),
        ({"bgp": {"asn": 0, "router_id": "192.0.2.1"}}, "bgp.asn", "greater than or equal to 1"),
        ({"bgp": {"asn": 2**32, "router_id": "192.0.2.1"}}, "bgp.asn", "less than or equal"),
        ({"bgp": {"asn": 1, "router_id": "192.0.2"}}, "bgp.router_id", "not an IPv4 address"),
        ({"bgp": {"asn": 1, "router_id": "0.0.0.0"}}, "bgp.router_id", "0.0.0.0"),
        ({"bgp": {"asn": 1, "router_id": "192.0.2.1", "port": 0}}, "bgp.port", "greater than"),
        ({"bgp": {"asn": 1, "router_id": "192.0.2.1", "rtcc": True}}, "bgp.rtcc", "unknown key"),
        (
            {
                "bgp": {
                    "asn": 1,
                    "router_id": "192.0.2.1",
                    "peers": [{"address": "192.0.2.300", "asn": 1}],
                }
            },
            "bgp.peers[0].address",
            "not an IPv4 or IPv6 address",
        ),
        (
            {
                "bgp": {
                    "asn": 1,
                    "router_id": "192.0.2.1",
                    "peers": [{"address": "192.0.2.2", "asn": 1, "families": ["ipv5"]}],
                }
            },
            "bgp.peers[0].families",
            "unknown family 'ipv5'",
        ),
        (
            {
                "bgp": {
                    "asn": 1,
                    "router_id": "192.0.2.1",
                    "peers": [{"address": "192.0.2.2", "asn": 1, "hold_time": 2}],
                }
            },
            "bgp.peers[0].hold_time",
            "at least 3",
        ),
        (
            {"bgp": {"asn": 1, "router_id": "192.0.2.1", "peers": [{"address": "192.0.2.2"}]}},
            "bgp.peers[0].asn",
            "required",
        ),
        (
            {
                "bgp": {
                    "asn": 1,
                    "router_id": "192.0.2.1",
                    "peers": [{"address": "192.0.2.2", "asn": 1, "max_prefix": -1}],
                }
            },
            "bgp.peers[0].max_prefix",
            "greater than or equal to 0",
        ),
        (
            {
                "bgp": {
                    "asn": 1,
                    "router_id": "192.0.2.1",
                    "peers": [
                        {"address": "192.0.2.2", "asn": 1},
                        {"address": "192.0.2.2", "asn": 2},
                    ],
                }
            },
            "bgp",
            "configured twice",
        ),
        (
            {"bgp": {"asn": 1, "router_id": "192.0.2.1"}, "api": {"port": "x"}},
            "api.port",
            "integer",
        ),
        (
            {"bgp": {"asn": 1, "router_id": "192.0.2.1"}, "dataplane": {"evpn": "ovs"}},
            "dataplane.evpn",
            "'dummy' or 'linux'",
        ),
        (
            {"bgp": {"asn": 1, "router_id": "192.0.2.1"}, "dataplane": {"vtep": "x"}},
            "dataplane.vtep",
            "not an IPv4 or IPv6 address",
        ),
        (
            {"bgp": {"asn": 1, "router_id": "192.0.2.1"}, "store": {"paht": "x"}},
            "store.paht",
            "unknown key",
        ),
        (
            {"bgp": {"asn": 1, "router_id": "192.0.2.1"}, "kernel": {"protocol": 2}},
            "kernel.protocol",
            "greater than or equal to 5",
        ),
    ],
)
def test_errors_name_the_key_and_the_reason(data: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    problems = dict(info.value.problems)
    assert key in problems, info.value.problems
    assert words in problems[key]


def test_syntax_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[bgp\nasn = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert info.value.problems[0][0] == "(syntax)"
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.toml")
    assert "missing.toml" in str(info.value)
