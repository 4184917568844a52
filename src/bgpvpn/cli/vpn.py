"""CLI commands for VPN instances, through the REST API: ``attach``, ``detach``, ``vpns``, ``lg``.

``attach``/``detach`` take the options of BaGPipe's ``bagpipe-rest-attach`` (``--port``,
``--mac``, ``--ip``, ``--gateway-ip``, ``--network-type``, ``--rt``, ``--import-rt``,
``--export-rt``, ``--vpn-instance-id``...) and call ``POST /v1/attach`` / ``POST /v1/detach``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from bgpvpn.cli.client import _request
from bgpvpn.cli.http import ApiClientError, call

SYS_NET = Path("/sys/class/net")


def netns_mac(instance_id: str, ips: list[str]) -> str:
    """A stable, locally administered MAC for ``--port netns`` without ``--mac`` (so that a
    detach with the same options finds the same port)."""
    digest = hashlib.sha1(f"{instance_id}|{','.join(ips)}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def interface_mac(port: str, sys_net: Path = SYS_NET) -> str | None:
    """The MAC of a local interface, or None when there is no such interface here."""
    if "/" in port or port in (".", ".."):
        return None
    try:
        return (sys_net / port / "address").read_text().strip() or None
    except OSError:
        return None


def resolve_mac(port: str, mac: str | None, instance_id: str, ips: list[str]) -> str:
    if mac:
        return mac
    if port == "netns":
        return netns_mac(instance_id, ips)
    found = interface_mac(port)
    if found is None:
        typer.echo(
            f"bgpvpn: --mac: required (no local interface {port!r} to read the MAC from)",
            err=True,
        )
        raise typer.Exit(2)
    return found


JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
InstanceOpt = Annotated[
    str, typer.Option("--vpn-instance-id", "--instance", help="the VPN instance id")
]
PortOpt = Annotated[
    str,
    typer.Option(
        "--port",
        help="the interface to attach, or 'netns' for a namespace and veth pair made by bgpvpn",
    ),
]
MacOpt = Annotated[
    str | None,
    typer.Option("--mac", help="the port's MAC (default: read from the interface)"),
]


def _print_change(result: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for iid in result.get("instances_created", []):
        typer.echo(f"created instance {iid}")
    for r in result.get("added", []):
        typer.echo(f"advertised {r}")
    for r in result.get("removed", []):
        typer.echo(f"withdrawn {r}")
    for iid in result.get("instances_removed", []):
        typer.echo(f"removed instance {iid}")
    typer.echo(f"{verb}; request {result.get('request_id')}")


def attach_command(
    ctx: typer.Context,
    port: PortOpt,
    instance_id: InstanceOpt,
    network_type: Annotated[
        str | None,
        typer.Option(
            "--network-type",
            help="ipvpn or evpn (needed when the instance does not exist yet)",
        ),
    ] = None,
    mac: MacOpt = None,
    ip: Annotated[
        list[str] | None,
        typer.Option("--ip", help="address with prefix length, e.g. 198.51.100.1/24 (repeatable)"),
    ] = None,
    gateway_ip: Annotated[str | None, typer.Option("--gateway-ip")] = None,
    rt: Annotated[
        list[str] | None, typer.Option("--rt", help="import and export route target (repeatable)")
    ] = None,
    import_rt: Annotated[list[str] | None, typer.Option("--import-rt")] = None,
    export_rt: Annotated[list[str] | None, typer.Option("--export-rt")] = None,
    vni: Annotated[int | None, typer.Option("--vni", help="VNI of a new instance")] = None,
    rd: Annotated[str | None, typer.Option("--rd", help="RD of a new instance")] = None,
    advertise_subnet: Annotated[
        bool, typer.Option("--advertise-subnet", help="advertise the subnet, not the /32")
    ] = False,
    local_pref: Annotated[int | None, typer.Option("--local-pref")] = None,
    readv_from_rt: Annotated[list[str] | None, typer.Option("--readv-from-rt")] = None,
    readv_to_rt: Annotated[list[str] | None, typer.Option("--readv-to-rt")] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Attach a port to a VPN instance (created if needed), like bagpipe-rest-attach --attach."""
    ips = ip or []
    body: dict[str, Any] = {
        "instance_id": instance_id,
        "port": port,
        "mac": resolve_mac(port, mac, instance_id, ips),
        "ips": ips,
        "route_targets": rt or [],
        "import_rts": import_rt or [],
        "export_rts": export_rt or [],
        "advertise_subnet": advertise_subnet,
        "description": description,
    }
    if network_type is not None:
        if network_type not in ("ipvpn", "evpn"):
            typer.echo("bgpvpn: --network-type: ipvpn or evpn", err=True)
            raise typer.Exit(2)
        body["instance_type"] = network_type
    for k, v in (("gateway_ip", gateway_ip), ("vni", vni), ("rd", rd), ("local_pref", local_pref)):
        if v is not None:
            body[k] = v
    if readv_from_rt or readv_to_rt:
        body["readvertise"] = {"from_rts": readv_from_rt or [], "to_rts": readv_to_rt or []}
    _print_change(_request(ctx, "POST", "/v1/attach", body), as_json, "attached")


def detach_command(
    ctx: typer.Context,
    port: PortOpt,
    instance_id: InstanceOpt,
    mac: MacOpt = None,
    ip: Annotated[
        list[str] | None,
        typer.Option("--ip", help="with --port netns and no --mac: the attach's addresses"),
    ] = None,
    network_type: Annotated[
        str | None, typer.Option("--network-type", help="accepted for bagpipe-rest-attach habits")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Detach a port from a VPN instance (its last port removes the instance)."""
    body: dict[str, Any] = {"instance_id": instance_id, "port": port}
    if mac is not None:
        body["mac"] = mac
    elif port == "netns":
        body["mac"] = netns_mac(instance_id, ip or [])
    _print_change(_request(ctx, "POST", "/v1/detach", body), as_json, "detached")


def vpns_command(
    ctx: typer.Context,
    instance_id: Annotated[str | None, typer.Argument(help="only this instance")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the VPN instances with their ports and routes."""
    if instance_id:
        views = [_request(ctx, "GET", f"/v1/instances/{_quote(instance_id)}")]
    else:
        views = _request(ctx, "GET", "/v1/instances")
    if as_json:
        typer.echo(json.dumps(views, indent=2))
        return
    console = Console()
    t = Table(title="VPN instances")
    for col in ("instance", "type", "rd", "vni", "import RTs", "export RTs", "ports", "routes"):
        t.add_column(col)
    for v in views:
        t.add_row(
            v["instance_id"],
            v["instance_type"],
            v["rd"],
            str(v["vni"]),
            " ".join(v["import_rts"]) or "-",
            " ".join(v["export_rts"]) or "-",
            str(len(v["ports"])),
            f"{len(v['advertised_routes'])} out, {len(v['imported_routes'])} in",
        )
    console.print(t)
    ports = Table(title="ports")
    for col in ("instance", "port", "mac", "addresses", "gateway", "description"):
        ports.add_column(col)
    for v in views:
        for p in v["ports"]:
            ports.add_row(
                v["instance_id"],
                p["port"],
                p["mac"],
                " ".join(p["ips"]) or "-",
                p.get("gateway_ip") or "-",
                p.get("description") or "",
            )
    if ports.row_count:
        console.print(ports)
    routes = Table(title="routes")
    for col in ("instance", "", "route", "next hop / via"):
        routes.add_column(col)
    for v in views:
        for r in v["advertised_routes"]:
            routes.add_row(v["instance_id"], "out", escape(r["route"]), "self")
        for r in v["static_routes"]:
            routes.add_row(v["instance_id"], "static", r["prefix"], r["next_hop"])
        for d in v["imported_routes"]:
            for p in d["paths"]:
                mark = "*" if p.get("chosen") else ("=" if p.get("ecmp") else " ")
                routes.add_row(
                    v["instance_id"],
                    f"in {mark}",
                    escape(f"{d['kind']} {d['destination']}"),
                    f"{p['next_hop']} vni {p['vni']} ({p['peer']})",
                )
    if routes.row_count:
        console.print(routes)


def _quote(s: str) -> str:
    from urllib.parse import quote

    return quote(s, safe="")


def lg_command(
    ctx: typer.Context,
    path: Annotated[
        list[str] | None, typer.Argument(help="path in the looking glass, e.g. vpns instances")
    ] = None,
    depth: Annotated[int, typer.Option("--depth", help="follow hrefs this many levels down")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Browse the looking glass (BaGPipe's tree): bgpvpn lg [vpns instances ID ...]."""
    parts: list[str] = []
    for p in path or []:
        parts.extend(x for x in p.split("/") if x)
    rel = "/looking-glass" + "".join("/" + _quote(p) for p in parts)
    data = _request(ctx, "GET", rel)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    from bgpvpn.cli.client import _api

    base = _api(ctx)
    tree = Tree(escape("looking-glass" + "".join(f" {p}" for p in parts)))
    _tree(tree, data, base, depth)
    Console().print(tree)


def _fetch(base: str, url: str) -> Any:
    path = url.split("/looking-glass", 1)[1] if "/looking-glass" in url else url
    try:
        return call(base, "GET", "/looking-glass" + path)
    except ApiClientError as e:
        return f"(error: {e})"


def _tree(node: Tree, data: Any, base: str, depth: int) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(v, dict) and set(v) == {"href"}:
                if depth > 0:
                    _tree(
                        node.add(f"[bold]{escape(str(k))}[/bold]"),
                        _fetch(base, v["href"]),
                        base,
                        depth - 1,
                    )
                else:
                    node.add(f"[bold]{escape(str(k))}[/bold] (...)")
            elif isinstance(v, (dict, list)) and v:
                _tree(node.add(f"[bold]{escape(str(k))}[/bold]"), v, base, depth)
            else:
                node.add(f"[bold]{escape(str(k))}[/bold]: {escape(_scalar(v))}")
    elif isinstance(data, list):
        if not data:
            node.add("-")
        for item in data:
            if isinstance(item, dict) and "href" in item and "id" in item:
                label = escape(str(item["id"])) + "".join(
                    f"  {k}={escape(_scalar(v))}"
                    for k, v in item.items()
                    if k not in ("id", "href")
                )
                if depth > 0:
                    _tree(node.add(label), _fetch(base, item["href"]), base, depth - 1)
                else:
                    node.add(label + " (...)")
            elif isinstance(item, (dict, list)):
                _tree(node.add("*"), item, base, depth)
            else:
                node.add(escape(_scalar(item)))
    else:
        node.add(escape(_scalar(data)))


def _scalar(v: Any) -> str:
    if v is None or v == [] or v == {}:
        return "-"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)
