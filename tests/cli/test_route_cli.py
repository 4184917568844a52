"""``bgpvpn announce / withdraw``: the request body each sends for its options and the options
each offers (a public contract), the API call replaced by a recorder."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import bgpvpn.cli.client as client
from bgpvpn.cli.main import app

# in the order of the help: announce has its own options between --family and --rd
ROUTE_OPTIONS = [
    "--family", "--rd", "--label", "--vni", "--l3-vni", "--route-type", "--mac", "--ip", "--esi",
    "--ethernet-tag", "--gateway", "--originator", "--route-target", "--json",
]  # fmt: skip
ANNOUNCE_ONLY = [
    "--next-hop", "--local-pref", "--med", "--community", "--large-community", "--ext-community",
    "--rt", "--as-path-prepend", "--as-path", "--origin", "--lease",
]  # fmt: skip


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    calls: list[tuple[str, str, Any]] = []

    def record(api: str, method: str, path: str, body: Any = None) -> Any:
        calls.append((method, path, body))
        return {"added": [], "removed": [], "request_id": 1}

    monkeypatch.setattr(client, "call", record)
    return calls


def invoke(*argv: str) -> str:
    result = CliRunner().invoke(app, list(argv), terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def options(command: str) -> list[str]:
    """The option names of ``command`` in the order of its help."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    params = group.commands[command].params
    return [opt for p in params if isinstance(p, typer.core.TyperOption) for opt in p.opts]


def test_options_of_each_command() -> None:
    assert options("withdraw") == ROUTE_OPTIONS
    assert options("announce") == ROUTE_OPTIONS[:1] + ANNOUNCE_ONLY + ROUTE_OPTIONS[1:]
    assert "Withdraw a route announced through the API." in invoke("withdraw", "--help")
    assert "Announce a route with its attributes." in invoke("announce", "--help")


def test_announce_body(sent: list[tuple[str, str, Any]]) -> None:
    invoke(
        "announce", "10.0.0.0/8", "--family", "vpnv4", "--rd", "64512:1", "--label", "100",
        "--label", "200", "--next-hop", "192.0.2.1", "--med", "5", "--community", "100:400",
        "--rt", "64512:77", "--lease", "30",
    )  # fmt: skip
    assert sent == [
        (
            "POST",
            "/v1/routes",
            {
                "family": "vpnv4",
                "ethernet_tag": 0,
                "prefix": "10.0.0.0/8",
                "rd": "64512:1",
                "labels": [100, 200],
                "next_hop": "192.0.2.1",
                "origin": "igp",
                "as_path_prepend": 0,
                "communities": ["100:400"],
                "large_communities": [],
                "extended_communities": [],
                "route_targets": ["64512:77"],
                "med": 5,
                "lease": 30.0,
            },
        )
    ]


def test_withdraw_body_fills_label_and_vni(sent: list[tuple[str, str, Any]]) -> None:
    invoke("withdraw", "10.0.0.0/8", "--family", "vpnv4", "--rd", "64512:1")
    invoke("withdraw", "--family", "evpn", "--route-type", "mac-ip", "--mac", "52:54:00:00:01:01")
    invoke("withdraw", "--family", "evpn", "--route-type", "3", "--originator", "192.0.2.1")
    assert [body for _m, _p, body in sent] == [
        {
            "family": "vpnv4",
            "ethernet_tag": 0,
            "prefix": "10.0.0.0/8",
            "rd": "64512:1",
            "labels": [0],
        },
        {
            "family": "evpn",
            "ethernet_tag": 0,
            "route_type": "mac-ip",
            "mac": "52:54:00:00:01:01",
            "vni": 0,
        },
        {"family": "evpn", "ethernet_tag": 0, "route_type": "3", "originator": "192.0.2.1"},
    ]
    assert {path for _m, path, _b in sent} == {"/v1/routes/withdraw"}
