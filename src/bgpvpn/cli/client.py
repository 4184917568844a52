"""CLI commands that talk to a running daemon through its REST API: ``peers``, ``rib``,
``announce``, ``withdraw``. Readable tables by default, ``--json`` for scripts."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any, get_type_hints

import typer
from rich.console import Console
from rich.table import Table

from bgpvpn.cli.http import ApiClientError, api_url, call


def _api(ctx: typer.Context) -> str:
    return api_url((ctx.obj or {}).get("api"))


def _request(ctx: typer.Context, method: str, path: str, body: Any = None) -> Any:
    try:
        return call(_api(ctx), method, path, body)
    except ApiClientError as e:
        typer.echo(f"bgpvpn: {e}", err=True)
        raise typer.Exit(1 if e.status else 3) from None


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return (
        f"{s // 86400}d{s // 3600 % 24:02d}h"
        if s >= 86400
        else f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
    )


def peers_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the peers with their session state and routes received per family."""
    peers = _request(ctx, "GET", "/v1/peers")
    if as_json:
        typer.echo(json.dumps(peers, indent=2))
        return
    t = Table()
    for col in ("peer", "asn", "state", "uptime", "families", "received", "last down"):
        t.add_column(col)
    for p in peers:
        received = ", ".join(f"{k} {v}" for k, v in p["received"].items()) or "-"
        t.add_row(
            p["address"],
            str(p["asn"]),
            p["state"],
            _uptime(p["uptime"]),
            " ".join(p["families"]) or "-",
            received,
            p["last_down_reason"] or "-",
        )
    Console().print(t)


def rib_command(
    ctx: typer.Context,
    family: Annotated[str | None, typer.Option("--family", help="e.g. ipv4, vpnv4, evpn")] = None,
    peer: Annotated[
        str | None, typer.Option("--peer", help="Adj-RIB-In (or Out) of this peer")
    ] = None,
    table: Annotated[str | None, typer.Option("--table", help="loc, in, out or local")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix")] = None,
    rd: Annotated[str | None, typer.Option("--rd")] = None,
    rt: Annotated[
        str | None, typer.Option("--rt", help="routes carrying this route target")
    ] = None,
    community: Annotated[str | None, typer.Option("--community")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show routes: the Loc-RIB by default, a peer's Adj-RIB-In with --peer."""
    params = {
        "family": family,
        "peer": peer,
        "prefix": prefix,
        "rd": rd,
        "route_target": rt,
        "community": community,
        "table": table or ("in" if peer else "loc"),
    }
    query = "&".join(f"{k}={urllib_quote(v)}" for k, v in params.items() if v is not None)
    routes = _request(ctx, "GET", "/v1/rib" + (f"?{query}" if query else ""))
    if as_json:
        typer.echo(json.dumps(routes, indent=2))
        return
    t = Table()
    for col in (
        "family",
        "route",
        "next hop",
        "as path",
        "lp",
        "med",
        "communities",
        "peer",
        "best",
    ):
        t.add_column(col)
    for r in routes:
        a = r["attributes"]
        comms = " ".join(a.get("communities", []) + a.get("extended_communities", []))
        t.add_row(
            r["family"],
            _route_text(r),
            r.get("next_hop") or "-",
            a.get("as_path", "") or "-",
            str(a.get("local_pref", "")),
            str(a.get("med", "")),
            comms,
            r["peer"],
            ("*" if r["best"] else "") + (" stale" if r["stale"] else ""),
        )
    Console().print(t)


def urllib_quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _route_text(r: dict[str, Any]) -> str:
    fam = r["family"]
    if fam in ("vpnv4", "vpnv6"):
        return f"{r['rd']} {r['prefix']} label {','.join(map(str, r['labels']))}"
    if fam == "evpn":
        keys = (
            "rd",
            "esi",
            "ethernet_tag",
            "mac",
            "ip",
            "originator",
            "prefix",
            "gateway",
            "labels",
        )
        return f"type-{r['route_type']} " + " ".join(
            f"{k}={r[k]}"
            for k in keys
            if r.get(k) not in (None, [], "00:00:00:00:00:00:00:00:00:00")
        )
    if fam == "rtc":
        return "default" if r.get("default") else f"{r['origin_as']}:{r['route_target']}"
    return str(r.get("prefix", r))


PrefixArg = Annotated[str | None, typer.Argument(help="the prefix, e.g. 203.0.113.0/24")]
FamilyOpt = Annotated[
    str, typer.Option("--family", help="ipv4, ipv6, vpnv4, vpnv6, evpn, rtc, ipv4-lu, ipv6-lu")
]
RdOpt = Annotated[str | None, typer.Option("--rd", help="route distinguisher, e.g. 64512:1")]
LabelOpt = Annotated[
    list[int] | None, typer.Option("--label", help="MPLS label (repeat for a stack)")
]
VniOpt = Annotated[int | None, typer.Option("--vni", help="E-VPN VNI (24 bits)")]
L3VniOpt = Annotated[int | None, typer.Option("--l3-vni", help="E-VPN type-2 second label")]
TypeOpt = Annotated[
    str | None,
    typer.Option(
        "--route-type",
        help="E-VPN: mac-ip, inclusive-multicast, ip-prefix, ethernet-ad, ethernet-segment or 1-5",
    ),
]
MacOpt = Annotated[str | None, typer.Option("--mac")]
IpOpt = Annotated[str | None, typer.Option("--ip", help="E-VPN type-2 IP address")]
EsiOpt = Annotated[str | None, typer.Option("--esi")]
TagOpt = Annotated[int, typer.Option("--ethernet-tag")]
GwOpt = Annotated[str | None, typer.Option("--gateway")]
OrigOpt = Annotated[str | None, typer.Option("--originator", help="E-VPN type-3/4 originator IP")]
RtMemberOpt = Annotated[
    str | None, typer.Option("--route-target", help="rtc: the membership route target")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


@dataclass(frozen=True, slots=True)
class RouteOptions:
    """The options ``announce`` and ``withdraw`` share: the route's family and NLRI fields. The
    fields' annotations and defaults are the command-line options (``_route_command``)."""

    prefix: PrefixArg = None
    family: FamilyOpt = "ipv4"
    rd: RdOpt = None
    label: LabelOpt = None
    vni: VniOpt = None
    l3_vni: L3VniOpt = None
    route_type: TypeOpt = None
    mac: MacOpt = None
    ip: IpOpt = None
    esi: EsiOpt = None
    ethernet_tag: TagOpt = 0
    gateway: GwOpt = None
    originator: OrigOpt = None
    route_target: RtMemberOpt = None

    def body(self) -> dict[str, Any]:
        """The route's part of the API request body (fields not given are left out)."""
        body: dict[str, Any] = {"family": self.family, "ethernet_tag": self.ethernet_tag}
        for k, v in (
            ("prefix", self.prefix),
            ("rd", self.rd),
            ("vni", self.vni),
            ("l3_vni", self.l3_vni),
            ("route_type", self.route_type),
            ("mac", self.mac),
            ("ip", self.ip),
            ("esi", self.esi),
            ("gateway", self.gateway),
            ("originator", self.originator),
            ("route_target", self.route_target),
        ):
            if v is not None:
                body[k] = v
        if self.label:
            body["labels"] = self.label
        return body


def _cli_param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default
    )


# The command line of RouteOptions, in the order of the help: the prefix and the family before
# the command's own options, the other fields after them, then --json.
_ROUTE_HINTS = get_type_hints(RouteOptions, include_extras=True)
_ROUTE_PARAMS = [_cli_param(f.name, _ROUTE_HINTS[f.name], f.default) for f in fields(RouteOptions)]
_ROUTE_PARAMS_BEFORE, _ROUTE_PARAMS_AFTER = _ROUTE_PARAMS[:2], _ROUTE_PARAMS[2:]
_JSON_PARAM = _cli_param("as_json", JsonOpt, False)


def _route_command(command: Callable[..., None]) -> Callable[..., None]:
    """A typer command from ``command(ctx, route: RouteOptions, as_json: bool, **own)``: its
    command line is the route options (``RouteOptions``) around the command's own options, then
    ``--json``; typer reads it from the signature built here."""
    ctx_param, _route, _as_json, *own_params = inspect.signature(
        command, eval_str=True
    ).parameters.values()

    @functools.wraps(command)
    def run(ctx: typer.Context, **options: Any) -> None:
        route = RouteOptions(**{p.name: options.pop(p.name) for p in _ROUTE_PARAMS})
        as_json = options.pop(_JSON_PARAM.name)
        command(ctx, route, as_json, **options)

    params = [ctx_param, *_ROUTE_PARAMS_BEFORE, *own_params, *_ROUTE_PARAMS_AFTER, _JSON_PARAM]
    run.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    return run


@_route_command
def announce_command(
    ctx: typer.Context,
    route: RouteOptions,
    as_json: bool,
    next_hop: Annotated[str, typer.Option("--next-hop", help="an address, or self")] = "self",
    local_pref: Annotated[int | None, typer.Option("--local-pref")] = None,
    med: Annotated[int | None, typer.Option("--med")] = None,
    community: Annotated[
        list[str] | None, typer.Option("--community", help="e.g. 100:400 or no-export (repeatable)")
    ] = None,
    large_community: Annotated[list[str] | None, typer.Option("--large-community")] = None,
    ext_community: Annotated[
        list[str] | None, typer.Option("--ext-community", help="e.g. encap:vxlan")
    ] = None,
    rt: Annotated[
        list[str] | None, typer.Option("--rt", help="route target, e.g. 64512:77 (repeatable)")
    ] = None,
    as_path_prepend: Annotated[
        int, typer.Option("--as-path-prepend", help="prepend our AS this many times")
    ] = 0,
    as_path: Annotated[str | None, typer.Option("--as-path", help="e.g. '65001 65002'")] = None,
    origin: Annotated[str, typer.Option("--origin", help="igp, egp or incomplete")] = "igp",
    lease: Annotated[
        float | None, typer.Option("--lease", help="seconds; withdrawn unless renewed")
    ] = None,
) -> None:
    """Announce a route with its attributes."""
    body = route.body()
    body.update(
        next_hop=next_hop,
        origin=origin,
        as_path_prepend=as_path_prepend,
        communities=community or [],
        large_communities=large_community or [],
        extended_communities=ext_community or [],
        route_targets=rt or [],
    )
    for k, v in (("local_pref", local_pref), ("med", med), ("lease", lease), ("as_path", as_path)):
        if v is not None:
            body[k] = v
    result = _request(ctx, "POST", "/v1/routes", body)
    _print_change(result, as_json)


@_route_command
def withdraw_command(ctx: typer.Context, route: RouteOptions, as_json: bool) -> None:
    """Withdraw a route announced through the API."""
    body = route.body()
    if route.family in ("vpnv4", "vpnv6", "ipv4-lu", "ipv6-lu") and not route.label:
        body["labels"] = [0]  # the label is not part of the route's identity
    if (
        route.family == "evpn"
        and route.vni is None
        and (route.route_type or "") not in ("3", "4", "inclusive-multicast", "ethernet-segment")
    ):
        body["vni"] = 0
    result = _request(ctx, "POST", "/v1/routes/withdraw", body)
    _print_change(result, as_json)


def _print_change(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for r in result.get("added", []):
        typer.echo(f"announced {r['family']} {_route_text(r)} next-hop {r.get('next_hop')}")
    for r in result.get("removed", []):
        typer.echo(f"withdrawn {r['family']} {_route_text(r)}")
    typer.echo(f"request {result.get('request_id')}")
