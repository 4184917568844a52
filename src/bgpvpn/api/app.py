"""The REST API (``/v1/...``, OpenAPI at ``/openapi.json`` and ``/docs``).

One shape per object, data never in keys: peers are a list of objects, routes are the route
objects of ``bgpvpn decode`` (docs/decode.md) with their attributes and RIB flags. Every change
answers with a request id and the routes added or removed; bad input gets a 4xx naming the field
and the reason, and changes nothing.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bgpvpn import __version__
from bgpvpn.api.bagpipe import BagpipeOps, bagpipe_fast_routes, bagpipe_router
from bgpvpn.api.context import ApiContext
from bgpvpn.api.fastpath import FastRoutes
from bgpvpn.api.lookingglass import looking_glass_router
from bgpvpn.api.routespec import RouteSpec, RouteSpecError, build_route
from bgpvpn.api.vpn import RouterContext, VpnOps, vpn_fast_routes, vpn_router
from bgpvpn.rib import LOCAL_PEER, RouteEntry
from bgpvpn.runtime.speaker import Speaker
from bgpvpn.wire.communities import community_from_text, route_target_from_text
from bgpvpn.wire.errors import TextFormError
from bgpvpn.wire.family import Family
from bgpvpn.wire.jsonform import attributes_to_json, next_hop_to_text
from bgpvpn.wire.routes import route_from_wire


class ApiError(Exception):
    def __init__(self, status: int, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.status = status
        self.field = field
        self.reason = reason


class ShutdownRequest(BaseModel):
    message: str = ""


def route_json(entry: RouteEntry) -> dict[str, Any]:
    out = route_from_wire(entry.family, entry.key, entry.data).to_json()
    out["next_hop"] = (
        next_hop_to_text(entry.attributes.next_hop) if entry.attributes.next_hop else "self"
    )
    out["attributes"] = attributes_to_json(entry.attributes)
    out["peer"] = entry.peer_id
    out["best"] = entry.best
    out["reason"] = entry.reason
    out["stale"] = entry.stale
    out["multipath"] = entry.multipath
    if entry.path_id is not None:
        out["path_id"] = entry.path_id
    return out


def route_id(family: Family, key: bytes) -> str:
    """How the store names an announced route: its family and wire-form key (a label or a
    next hop is not part of it, so announcing the route again replaces it)."""
    return f"{family.name}:{key.hex()}"


class _AfterChange:
    """ASGI wrapper: after every request that may change something (not GET/HEAD), hand the
    data-plane changes to the drivers and wake the speaker so the UPDATEs go out now."""

    def __init__(self, app: Any, ctx: ApiContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope.get("type") == "http" and scope.get("method") not in ("GET", "HEAD"):
                self.ctx.changed()


class BgpvpnApi(FastAPI):
    """FastAPI with a fast path in front (``api.fastpath``) for the hot endpoints."""

    fast: FastRoutes | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.fast is not None:
            await self.fast(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def include_vpn_api(
    app: BgpvpnApi, ctx: RouterContext, changed: Callable[[], None], fast_path: bool = True
) -> None:
    """The VPN instance, BaGPipe and looking-glass routers; with ``fast_path`` the hot
    endpoints are answered before FastAPI's machinery (same handlers, same answers), then
    ``changed()`` is called."""
    vpn_ops, bagpipe_ops = VpnOps(ctx), BagpipeOps(ctx)
    app.include_router(vpn_router(ctx, vpn_ops))
    app.include_router(bagpipe_router(ctx, bagpipe_ops))
    app.include_router(looking_glass_router(ctx))
    if fast_path:
        app.fast = FastRoutes(
            functools.partial(FastAPI.__call__, app),
            {**vpn_fast_routes(ctx, vpn_ops), **bagpipe_fast_routes(ctx, bagpipe_ops)},
            changed,
        )


def create_app(speaker: Speaker, ctx: ApiContext | None = None, fast_path: bool = True) -> FastAPI:
    """The API of ``speaker``; with ``ctx`` (the daemon) also the VPN instances, the
    BaGPipe-compatible surface, the looking glass, and announced routes kept in the store.
    ``fast_path=False`` leaves every request to FastAPI (the fast path's tests compare)."""
    app = BgpvpnApi(
        title="bgpvpn",
        version=__version__,
        description="BGP VPN speaker: peers, RIB, route announcement, VPN instances.",
    )
    store = ctx.store if ctx is not None else None
    if ctx is not None:
        include_vpn_api(app, ctx, ctx.changed, fast_path)
        app.add_middleware(_AfterChange, ctx=ctx)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status, content={"error": {"field": exc.field, "reason": exc.reason}}
        )

    @app.exception_handler(RouteSpecError)
    async def _spec_error(request: Request, exc: RouteSpecError) -> JSONResponse:
        return JSONResponse(
            status_code=400, content={"error": {"field": exc.field, "reason": exc.reason}}
        )

    def peer_json(address: str) -> dict[str, Any]:
        status = speaker.peers[address]
        runner = status.runner
        state = runner.state.name.lower() if runner is not None else "idle"
        up = status.established_at
        received = (
            {f.name: speaker.rib.prefix_count(address, f) for f in sorted(status.families)}
            if address in speaker.rib.peer_ids()
            else {}
        )
        cfg = status.config
        return {
            "address": address,
            "asn": cfg.asn,
            "state": state,
            "uptime": round(time.time() - up, 1)
            if up is not None and state == "established"
            else None,
            "families": [f.name for f in sorted(status.families)] if state == "established" else [],
            "received": received,
            "configured_families": list(cfg.families),
            "port": cfg.port,
            "passive": cfg.passive,
            "rr_client": cfg.rr_client,
            "local_address": status.local_address,
            "description": cfg.description,
            "updates_received": status.updates_received,
            "updates_sent": status.updates_sent,
            "flaps": status.flaps,
            "last_down_reason": status.last_down_reason,
            "last_error": status.last_error,
        }

    def find_peer(address: str) -> str:
        if address not in speaker.peers:
            raise ApiError(404, "address", f"no configured peer {address}")
        return address

    @app.get("/v1/status")
    async def get_status() -> dict[str, Any]:
        bgp = speaker.config.bgp
        return {
            "version": __version__,
            "boot_id": speaker.boot_id,
            "asn": bgp.asn,
            "router_id": bgp.router_id,
            "uptime": round(time.time() - speaker.started_at, 1),
            "peers": len(speaker.peers),
            "established": sum(1 for p in speaker.peers.values() if p.established_at),
        }

    @app.get("/v1/peers")
    async def list_peers() -> list[dict[str, Any]]:
        return [peer_json(a) for a in speaker.peers]

    @app.get("/v1/peers/{address}")
    async def get_peer(address: str) -> dict[str, Any]:
        return peer_json(find_peer(address))

    @app.post("/v1/peers/{address}/disable")
    async def disable_peer(address: str, body: ShutdownRequest | None = None) -> dict[str, Any]:
        speaker.disable_peer(find_peer(address), body.message if body else "")
        return {"request_id": uuid.uuid4().hex, "peer": peer_json(address)}

    @app.post("/v1/peers/{address}/enable")
    async def enable_peer(address: str) -> dict[str, Any]:
        speaker.enable_peer(find_peer(address))
        return {"request_id": uuid.uuid4().hex, "peer": peer_json(address)}

    def families(name: str | None) -> list[Family]:
        if name is None:
            return speaker.rib.families()
        try:
            return [Family.parse(name)]
        except TextFormError as e:
            raise ApiError(400, "family", e.reason) from None

    def entries(table: str, peer: str | None, fams: list[Family]) -> Iterator[RouteEntry]:
        rib = speaker.rib
        for fam in fams:
            if table == "loc":
                yield from rib.loc_rib(fam)
            elif table == "local":
                yield from rib.local_routes(fam)
            else:
                peers = (
                    [find_peer(peer)] if peer else [p for p in rib.peer_ids() if p != LOCAL_PEER]
                )
                for p in peers:
                    if p not in rib.peer_ids():
                        continue
                    yield from (
                        rib.adj_rib_in(p, fam) if table == "in" else rib.adj_rib_out(p, fam)
                    )

    @app.get("/v1/rib")
    async def query_rib(
        table: Literal["loc", "in", "out", "local"] = "loc",
        family: str | None = None,
        peer: str | None = None,
        prefix: str | None = None,
        rd: str | None = None,
        route_target: str | None = None,
        community: str | None = None,
        limit: int = Query(10000, ge=1, le=1000000),
    ) -> list[dict[str, Any]]:
        fams = families(family)
        rt = None
        comm = None
        try:
            if route_target:
                rt = route_target_from_text(route_target, "route_target")
            if community:
                comm = community_from_text(community, "community")
        except TextFormError as e:
            raise ApiError(400, e.field, e.reason) from None
        out = []
        for entry in entries(table, peer, fams):
            a = entry.attributes
            if rt is not None and rt not in a.ext_communities:
                continue
            if comm is not None and comm not in a.communities:
                continue
            j = route_json(entry)
            if prefix is not None and j.get("prefix") != prefix:
                continue
            if rd is not None and j.get("rd") != rd:
                continue
            out.append(j)
            if len(out) >= limit:
                break
        return out

    @app.get("/v1/routes")
    async def announced_routes() -> list[dict[str, Any]]:
        return [
            route_json(e) for fam in speaker.rib.families() for e in speaker.rib.local_routes(fam)
        ]

    @app.post("/v1/routes")
    async def announce(spec: RouteSpec) -> dict[str, Any]:
        built = build_route(spec, speaker.config.bgp.asn)
        previous = speaker.rib.lookup(built.family, built.key)
        if store is not None:
            with store.transaction() as tx:
                tx.put_route(
                    route_id(built.family, built.key),
                    spec.model_dump(mode="json", exclude_none=True),
                    None if spec.lease is None else time.time() + spec.lease,
                )
        speaker.rib.announce(
            built.family, built.key, built.data, built.attributes, speaker.now(), spec.lease
        )
        speaker.wake()
        added = [
            route_json(e) for e in speaker.rib.local_routes(built.family) if e.key == built.key
        ]
        replaced = previous is not None and previous.peer_id == LOCAL_PEER
        return {
            "request_id": uuid.uuid4().hex,
            "added": added,
            "removed": [],
            "replaced": replaced,
            "lease": spec.lease,
        }

    @app.post("/v1/routes/withdraw")
    async def withdraw(spec: RouteSpec) -> dict[str, Any]:
        built = build_route(spec, speaker.config.bgp.asn)
        removed = [
            route_json(e) for e in speaker.rib.local_routes(built.family) if e.key == built.key
        ]
        if not removed:
            field = "prefix" if spec.prefix else "route"
            raise ApiError(404, field, f"no {built.family.name} route {built.route} is announced")
        if store is not None:
            with store.transaction() as tx:
                tx.delete_route(route_id(built.family, built.key))
        speaker.rib.withdraw(built.family, built.key)
        speaker.wake()
        return {"request_id": uuid.uuid4().hex, "added": [], "removed": removed}

    return app
