"""The native REST API of VPN instances, port attachments and static routes (``/v1/...``).

Every change answers ``{"request_id", "added", "removed", "updated", "instances_created",
"instances_removed"}`` (the routes this host now advertises, no longer does, or advertises
again with other attributes, as text) plus the
object changed where there is one; a refused request answers 4xx ``{"error": {"field",
"reason"}}`` naming the field as the request wrote it, and changes nothing (400 malformed, 404
unknown instance or port, 409 conflicts with the current state). Bodies are validated by the
pydantic models below (unknown fields are refused: 422 with FastAPI's ``detail`` list).

| method and path | what |
|---|---|
| ``GET /v1/instances`` | the instances with their ports, static routes, routes, data plane |
| ``POST /v1/instances`` | create an instance |
| ``GET /v1/instances/{id}`` | one instance |
| ``PATCH /v1/instances/{id}`` | change its route targets, local preference, description |
| ``DELETE /v1/instances/{id}`` | delete it (and detach its ports) |
| ``POST /v1/instances/{id}/ports`` | attach a port (the instance is created if needed) |
| ``DELETE /v1/instances/{id}/ports/{port}?mac=`` | detach a port |
| ``POST /v1/attach``, ``POST /v1/detach`` | the same with the instance in the body |
| ``POST /v1/attachments/bulk`` | attach a list of ports in one transaction |
| ``POST /v1/instances/{id}/routes`` | add a static route into the instance |
| ``DELETE /v1/instances/{id}/routes/{prefix}`` | remove it (``203.0.113.0/24`` as is) |
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Annotated, Any, Literal, Protocol, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bgpvpn.api.fastpath import FastAnswer, FastHandler, parse_json
from bgpvpn.runtime.speaker import Speaker
from bgpvpn.vpn import validate
from bgpvpn.vpn.manager import VpnManager
from bgpvpn.vpn.model import (
    Encapsulation,
    InstanceSpec,
    InstanceType,
    PortAttachment,
    Readvertise,
    VpnError,
)
from bgpvpn.vpn.view import InstanceView

U32 = Annotated[int, Field(ge=0, le=0xFFFFFFFF)]
Vni = Annotated[int, Field(ge=1, le=0xFFFFFF, description="VXLAN VNI (or MPLS label)")]
RtList = Annotated[
    list[str], Field(description="route targets: 64512:79, 192.0.2.1:5, 4200000000:7")
]
TypeName = Literal["ipvpn", "evpn"]
EncapName = Literal["vxlan", "mpls", "mpls-gre", "mpls-udp"]


class RouterContext(Protocol):
    """What the VPN, BaGPipe and looking-glass routers need of the daemon (the daemon's
    ``ApiContext`` has these fields)."""

    @property
    def speaker(self) -> Speaker: ...

    @property
    def vpn(self) -> VpnManager: ...

    @property
    def boot_id(self) -> str: ...

    @property
    def logs(self) -> Any: ...


class _Strict(BaseModel):
    """Unknown fields refused. List and dict defaults are ``default_factory`` ones: pydantic
    deep-copies a mutable ``default`` on every validation."""

    model_config = ConfigDict(extra="forbid")


_M = TypeVar("_M", bound=BaseModel)


class ReadvertiseModel(_Strict):
    """Routes imported with one of ``from_rts`` are advertised again with ``to_rts``."""

    from_rts: RtList
    to_rts: RtList


class InstanceCreate(_Strict):
    instance_id: Annotated[str, Field(min_length=1, max_length=200)]
    instance_type: TypeName
    route_targets: RtList = Field(default_factory=list, description="import and export")
    import_rts: RtList = Field(default_factory=list)
    export_rts: RtList = Field(default_factory=list)
    rd: str | None = Field(default=None, description="None: router-id:N, allocated")
    vni: Vni | None = None
    encapsulation: EncapName = "vxlan"
    advertise_type5: bool = False
    advertise_learned: bool = False
    local_pref: U32 | None = None
    description: str = ""

    def spec(self) -> InstanceSpec:
        return InstanceSpec(
            instance_id=self.instance_id,
            instance_type=InstanceType(self.instance_type),
            import_rts=_rts(self.route_targets, self.import_rts),
            export_rts=_rts(self.route_targets, self.export_rts),
            rd=self.rd,
            vni=self.vni,
            encapsulation=Encapsulation(self.encapsulation),
            advertise_type5=self.advertise_type5,
            advertise_learned=self.advertise_learned,
            local_pref=self.local_pref,
            description=self.description,
        )


class InstanceUpdate(_Strict):
    """Only the fields given change; route target lists replace the instance's."""

    import_rts: RtList | None = None
    export_rts: RtList | None = None
    local_pref: U32 | None = None
    description: str | None = None
    advertise_learned: bool | None = Field(
        default=None, description="E-VPN: advertise the MACs the data plane learns on its ports"
    )


class PortRequest(_Strict):
    port: str = Field(
        min_length=1,
        description="interface name, or 'netns' for a namespace and veth pair made by bgpvpn",
    )
    mac: str = Field(description="the port's MAC address")
    ips: list[str] = Field(
        default_factory=list, description="addresses with length: 198.51.100.1/24"
    )
    gateway_ip: str | None = None
    route_targets: RtList = Field(default_factory=list, description="import and export")
    import_rts: RtList = Field(default_factory=list)
    export_rts: RtList = Field(default_factory=list)
    local_pref: U32 | None = None
    advertise_subnet: bool = False
    readvertise: ReadvertiseModel | None = None
    description: str = ""
    extra: dict[str, str] = Field(default_factory=dict, description="recorded, not acted on")
    # used when the attach creates the instance
    instance_type: TypeName | None = Field(
        default=None, description="required when the instance does not exist yet"
    )
    rd: str | None = None
    vni: Vni | None = None
    encapsulation: EncapName = "vxlan"
    advertise_type5: bool = False
    advertise_learned: bool = False
    instance_description: str = ""

    def _attachment(
        self, instance_id: str, itype: InstanceType, build: Callable[..., PortAttachment]
    ) -> PortAttachment:
        rv = self.readvertise
        return build(
            instance_id,
            itype,
            self.port,
            self.mac,
            tuple(self.ips),
            gateway_ip=self.gateway_ip,
            import_rts=_rts(self.route_targets, self.import_rts),
            export_rts=_rts(self.route_targets, self.export_rts),
            local_pref=self.local_pref,
            advertise_subnet=self.advertise_subnet,
            readvertise=Readvertise(tuple(rv.from_rts), tuple(rv.to_rts)) if rv else None,
            description=self.description,
            extra=dict(self.extra),
        )

    def attachment(self, instance_id: str, itype: InstanceType) -> PortAttachment:
        """The attachment as given (the manager checks it)."""
        return self._attachment(instance_id, itype, PortAttachment)

    def only_attaches_to(self, spec: InstanceSpec) -> bool:
        """Whether this request gives nothing about ``spec``'s instance beyond what an
        attachment carries (its type, if given, matches; every instance field at its default):
        ``instance()`` would then neither refuse the attach nor change the instance."""
        return (
            (self.instance_type is None or self.instance_type == spec.instance_type.value)
            and self.rd is None
            and self.vni is None
            and self.encapsulation == spec.encapsulation.value
            and not self.advertise_type5
            and not self.advertise_learned
            and self.instance_description == ""
        )

    def checked_attachment(self, instance_id: str, itype: InstanceType) -> PortAttachment:
        """``validate.attachment(self.attachment(instance_id, itype))``, built once."""
        return self._attachment(instance_id, itype, validate.attachment_of)

    def instance(self, instance_id: str, itype: InstanceType) -> InstanceSpec:
        return InstanceSpec(
            instance_id=instance_id,
            instance_type=itype,
            import_rts=_rts(self.route_targets, self.import_rts),
            export_rts=_rts(self.route_targets, self.export_rts),
            rd=self.rd,
            vni=self.vni,
            encapsulation=Encapsulation(self.encapsulation),
            advertise_type5=self.advertise_type5,
            advertise_learned=self.advertise_learned,
            description=self.instance_description,
        )


class AttachRequest(PortRequest):
    instance_id: Annotated[str, Field(min_length=1, max_length=200)]


class DetachRequest(_Strict):
    instance_id: Annotated[str, Field(min_length=1)]
    port: Annotated[str, Field(min_length=1)]
    mac: str | None = Field(default=None, description="needed when the port has several MACs")


class BulkAttachRequest(_Strict):
    attachments: list[AttachRequest]


class StaticRouteRequest(_Strict):
    prefix: str = Field(description="e.g. 203.0.113.0/24")
    next_hop: str = Field(description="where this host sends the traffic")
    local_pref: U32 | None = None
    med: U32 | None = None
    communities: list[str] = Field(default_factory=list)


def _rts(both: list[str], one: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for rt in [*both, *one]:
        if rt not in out:
            out.append(rt)
    return tuple(out)


def view_json(view: InstanceView) -> dict[str, Any]:
    """An instance's JSON, its ports with the fields recorded but not acted on (``extra``)."""
    out = view.to_json()
    for port, att in zip(out["ports"], view.ports, strict=True):
        port["extra"] = dict(att.extra)
    return out


def error_response(e: VpnError, prefix: str = "") -> JSONResponse:
    field = f"{prefix}{e.field}" if prefix else e.field
    return JSONResponse(
        status_code=e.status, content={"error": {"field": field, "reason": e.reason}}
    )


_ids = random.Random()  # seeded from os.urandom; request ids need to be unique, not secret


def request_id() -> str:
    """A random version-4 UUID as 32 hex digits (what ``uuid.uuid4().hex`` gives), without a
    getrandom system call and a ``UUID`` object per request."""
    n = _ids.getrandbits(128)
    n = (n & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    return f"{n:032x}"


def change_json(result: Any, **more: Any) -> dict[str, Any]:
    out = {
        "request_id": request_id(),
        "added": list(result.routes_added),
        "removed": list(result.routes_removed),
        "updated": list(getattr(result, "routes_updated", ())),
        "instances_created": list(result.instances_created),
        "instances_removed": list(result.instances_removed),
    }
    out.update(more)
    return out


class VpnOps:
    """What the endpoints do, shared by the FastAPI routes and the fast path (``fastpath``)."""

    def __init__(self, ctx: RouterContext) -> None:
        self.vpn = ctx.vpn

    def dataplane_states(self) -> dict[str, tuple[str, Any]]:
        """instance id -> (driver name, what the driver says it programmed)."""
        out: dict[str, tuple[str, Any]] = {}
        seen: set[int] = set()
        for driver in self.vpn.drivers.values():
            if id(driver) in seen:
                continue
            seen.add(id(driver))
            state = driver.state()
            instances = state.get("instances") if isinstance(state, dict) else None
            for iid, st in (instances or {}).items():
                out[iid] = (driver.name, st)
        return out

    def instance_json(
        self, view: Any, states: dict[str, tuple[str, Any]] | None = None
    ) -> dict[str, Any]:
        out = view_json(view)
        kind = InstanceType(out["instance_type"])
        if states is None:  # one instance: only its own state
            driver = self.vpn.drivers[kind]
            states = {out["instance_id"]: (driver.name, driver.instance_state(out["instance_id"]))}
        name, programmed = states.get(out["instance_id"], (self.vpn.drivers[kind].name, None))
        out["dataplane"] = {"driver": name, "programmed": programmed}
        return out

    def instance_type_for(self, instance_id: str, given: str | None) -> InstanceType:
        if given is not None:
            return InstanceType(given)
        kind = self.vpn.instance_type(instance_id)
        if kind is None:
            raise VpnError(
                "instance_type",
                f"required: instance {instance_id!r} does not exist and is created by this attach",
            )
        return kind

    def attach(self, instance_id: str, req: PortRequest) -> dict[str, Any]:
        existing = self.vpn.instance_spec(instance_id)
        if existing is not None and req.only_attaches_to(existing):
            # the common case: a port into an existing instance, no instance field given that
            # could conflict or change it; the attachment built and checked once
            result = self.vpn.attach(
                req.checked_attachment(instance_id, existing.instance_type), checked=True
            )
        else:
            itype = self.instance_type_for(instance_id, req.instance_type)
            result = self.vpn.attach(
                req.attachment(instance_id, itype), req.instance(instance_id, itype)
            )
        # the instance without its lists: an answer's size must not grow with the instance
        return change_json(result, instance=self.vpn.instance_summary(instance_id).summary_json())

    def detach(self, req: DetachRequest) -> dict[str, Any]:
        return change_json(self.vpn.detach(req.instance_id, req.port, req.mac))


def answer(fn: Callable[[], Any]) -> FastAnswer:
    """``fn()``'s JSON with 200, or the refusal it raised (``VpnError``) as 4xx."""
    try:
        return FastAnswer(200, fn())
    except VpnError as e:
        return FastAnswer(e.status, {"error": {"field": e.field, "reason": e.reason}})


def _validated(model: type[_M], body: bytes) -> _M | None:
    ok, data = parse_json(body)
    if not ok:
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def vpn_fast_routes(ctx: RouterContext, ops: VpnOps | None = None) -> dict[str, FastHandler]:
    """``POST /v1/attach`` and ``/v1/detach`` for ``FastRoutes``: a body FastAPI would refuse
    (422) is left to FastAPI."""
    ops = ops or VpnOps(ctx)

    def attach(body: bytes) -> FastAnswer | None:
        req = _validated(AttachRequest, body)
        return None if req is None else answer(lambda: ops.attach(req.instance_id, req))

    def detach(body: bytes) -> FastAnswer | None:
        req = _validated(DetachRequest, body)
        return None if req is None else answer(lambda: ops.detach(req))

    return {"/v1/attach": attach, "/v1/detach": detach}


def vpn_router(ctx: RouterContext, ops: VpnOps | None = None) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["VPN instances"])
    vpn = ctx.vpn
    ops = ops or VpnOps(ctx)
    instance_json = ops.instance_json
    instance_type_for = ops.instance_type_for

    def guarded(fn: Callable[[], Any]) -> Any:
        got = answer(fn)
        if got.status == 200:
            return got.content
        return JSONResponse(status_code=got.status, content=got.content)

    @router.get("/instances", summary="VPN instances with their ports, routes and data plane")
    async def list_instances() -> Any:
        states = ops.dataplane_states()
        return [instance_json(v, states) for v in vpn.instances()]

    @router.post("/instances", summary="Create a VPN instance")
    async def create_instance(req: InstanceCreate) -> Any:
        def go() -> Any:
            view = vpn.create_instance(req.spec())
            return {
                "request_id": request_id(),
                "added": [],
                "removed": [],
                "updated": [],
                "instances_created": [req.instance_id],
                "instances_removed": [],
                "instance": instance_json(view),
            }

        return guarded(go)

    @router.get("/instances/{instance_id}", summary="One VPN instance")
    async def get_instance(instance_id: str) -> Any:
        return guarded(lambda: instance_json(vpn.instance(instance_id)))

    @router.patch("/instances/{instance_id}", summary="Change route targets, local pref...")
    async def update_instance(instance_id: str, req: InstanceUpdate) -> Any:
        def go() -> Any:
            result = vpn.update_instance(
                instance_id,
                import_rts=tuple(req.import_rts) if req.import_rts is not None else None,
                export_rts=tuple(req.export_rts) if req.export_rts is not None else None,
                local_pref=req.local_pref,
                description=req.description,
                advertise_learned=req.advertise_learned,
            )
            return change_json(result, instance=instance_json(vpn.instance(instance_id)))

        return guarded(go)

    @router.delete("/instances/{instance_id}", summary="Delete a VPN instance and its ports")
    async def delete_instance(instance_id: str) -> Any:
        return guarded(lambda: change_json(vpn.delete_instance(instance_id)))

    @router.post("/instances/{instance_id}/ports", summary="Attach a port to an instance")
    async def attach_port(instance_id: str, req: PortRequest) -> Any:
        return guarded(lambda: ops.attach(instance_id, req))

    @router.delete("/instances/{instance_id}/ports/{port}", summary="Detach a port")
    async def detach_port(instance_id: str, port: str, mac: str | None = Query(None)) -> Any:
        return guarded(lambda: change_json(vpn.detach(instance_id, port, mac)))

    @router.post("/attach", summary="Attach a port (the instance is created if needed)")
    async def attach(req: AttachRequest) -> Any:
        return guarded(lambda: ops.attach(req.instance_id, req))

    @router.post("/detach", summary="Detach a port (the last port removes the instance)")
    async def detach(req: DetachRequest) -> Any:
        return guarded(lambda: ops.detach(req))

    @router.post(
        "/attachments/bulk",
        summary="Attach a list of ports in one transaction (all or nothing)",
        description='The body is a list of attachments, or {"attachments": [...]}. '
        "Attachments already in place are left as they are; errors name "
        "[i].field (attachments[i].field with the object form).",
    )
    async def attach_bulk(body: list[AttachRequest] | BulkAttachRequest) -> Any:
        wrapped = isinstance(body, BulkAttachRequest)
        reqs = body.attachments if isinstance(body, BulkAttachRequest) else body
        where = "attachments" if wrapped else ""  # errors name [i].field in the body's terms
        atts = []
        known: dict[str, InstanceType] = {}
        for i, req in enumerate(reqs):
            try:
                itype = known.get(req.instance_id) or instance_type_for(
                    req.instance_id, req.instance_type
                )
            except VpnError as e:
                return error_response(e, f"{where}[{i}].")
            known[req.instance_id] = itype
            atts.append(req.attachment(req.instance_id, itype))
        try:
            result = vpn.attach_many(atts)
        except VpnError as e:
            return error_response(e, where if e.field.startswith("[") else "")
        return change_json(result, attached=len(atts))

    @router.post("/instances/{instance_id}/routes", summary="Add a static route into an instance")
    async def add_static_route(instance_id: str, req: StaticRouteRequest) -> Any:
        return guarded(
            lambda: change_json(
                vpn.add_static_route(
                    instance_id,
                    req.prefix,
                    req.next_hop,
                    local_pref=req.local_pref,
                    med=req.med,
                    communities=tuple(req.communities),
                )
            )
        )

    @router.delete("/instances/{instance_id}/routes/{prefix:path}", summary="Remove a static route")
    async def remove_static_route(instance_id: str, prefix: str) -> Any:
        return guarded(lambda: change_json(vpn.remove_static_route(instance_id, prefix)))

    return router
