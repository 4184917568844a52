"""What the API shows of an instance: ``InstanceView`` (built on demand, never held)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bgpvpn.vpn.imports import ImportedDestination
from bgpvpn.vpn.model import InstanceSpec, PortAttachment, StaticRoute


@dataclass(frozen=True, slots=True)
class AdvertisedRoute:
    """A route this host advertises for the instance: its text form and JSON (the fields of
    ``wire.routes``' ``to_json``, labels as the VNI/label number)."""

    route: str
    family: str
    json: dict[str, Any] = field(compare=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, **self.json}


def attachment_json(a: PortAttachment) -> dict[str, Any]:
    return {
        "instance_id": a.instance_id,
        "instance_type": a.instance_type.value,
        "port": a.port,
        "mac": a.mac,
        "ips": list(a.ips),
        "gateway_ip": a.gateway_ip,
        "import_rts": list(a.import_rts),
        "export_rts": list(a.export_rts),
        "local_pref": a.local_pref,
        "advertise_subnet": a.advertise_subnet,
        "readvertise": (
            {"from_rts": list(a.readvertise.from_rts), "to_rts": list(a.readvertise.to_rts)}
            if a.readvertise is not None
            else None
        ),
        "description": a.description,
    }


def static_json(s: StaticRoute) -> dict[str, Any]:
    return {
        "prefix": s.prefix,
        "next_hop": s.next_hop,
        "local_pref": s.local_pref,
        "med": s.med,
        "communities": list(s.communities),
    }


@dataclass(frozen=True)
class InstanceView:
    """One instance as the API shows it. ``spec`` carries the effective route targets (those
    given plus those added by attachments); ``spec.rd``/``spec.vni`` stay None when derived or
    allocated, ``rd``/``vni`` are the values in use."""

    spec: InstanceSpec
    rd: str
    vni: int
    index: int
    router_mac: str
    ports: list[PortAttachment]
    advertised: list[AdvertisedRoute]
    imported: list[ImportedDestination]
    static_routes: list[StaticRoute] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = self.summary_json()
        out["ports"] = [attachment_json(p) for p in self.ports]
        out["static_routes"] = [static_json(r) for r in self.static_routes]
        out["advertised_routes"] = [r.to_json() for r in self.advertised]
        out["imported_routes"] = [d.to_json() for d in self.imported]
        return out

    def summary_json(self) -> dict[str, Any]:
        """``to_json`` without the port, static route and route lists."""
        s = self.spec
        return {
            "instance_id": s.instance_id,
            "instance_type": s.instance_type.value,
            "import_rts": list(s.import_rts),
            "export_rts": list(s.export_rts),
            "rd": self.rd,
            "rd_derived": s.rd is None,
            "vni": self.vni,
            "vni_allocated": s.vni is None,
            "encapsulation": s.encapsulation.value,
            "advertise_type5": s.advertise_type5,
            "advertise_learned": s.advertise_learned,
            "local_pref": s.local_pref,
            "description": s.description,
            "index": self.index,
            "router_mac": self.router_mac,
        }
