"""The lab's topology file: hosts (network namespaces), links (veth pairs), BGP sessions and
"VM" namespaces attached to VPNs, validated with pydantic; every error names the key
(``hosts[1].asn``, ``links[0].a``) like ``bgpvpn.config`` does.

Pure: nothing here touches the system. ``Topology.plan()`` derives what ``lab up`` builds
(namespace and interface names, each BGP session with both addresses, generated daemon
configurations are rendered by ``bgpvpn.lab.render``).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bgpvpn.config import FAMILY_NAMES
from bgpvpn.vpn.model import VpnError, parse_mac, parse_rd, parse_route_targets

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_LAB_NAME = 20
MAX_NODE_NAME = 20
IFNAME_MAX = 15
DEFAULT_FAMILIES = ("vpnv4", "vpnv6", "evpn", "rtc")
# families each kind of daemon can run (FRR has no RTC: PEERS.md F7)
KIND_FAMILIES: dict[str, frozenset[str]] = {
    "bgpvpn": frozenset(FAMILY_NAMES),
    "gobgp": frozenset(("ipv4", "ipv6", "vpnv4", "vpnv6", "evpn", "rtc")),
    "frr": frozenset(("ipv4", "ipv6", "vpnv4", "vpnv6", "evpn")),
}

ASN = Annotated[int, Field(ge=1, le=0xFFFFFFFF)]
HostKind = Literal["bgpvpn", "gobgp", "frr", "plain"]
Driver = Literal["dummy", "linux"]


class TopologyError(Exception):
    """An invalid topology; ``problems`` lists (key, reason) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(f"{k}: {r}" for k, r in problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _name(v: str, what: str) -> str:
    if not NAME_RE.match(v):
        raise ValueError(
            f"{v!r}: a {what} name is lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    if len(v) > MAX_NODE_NAME:
        raise ValueError(f"{v!r}: a {what} name has at most {MAX_NODE_NAME} characters")
    return v


def _iface_addr(v: str) -> str:
    try:
        iface = ipaddress.ip_interface(v.strip())
    except ValueError:
        raise ValueError(f"{v!r} is not an address with a prefix length (192.0.2.1/24)") from None
    if "/" not in v:
        raise ValueError(f"{v!r}: give the prefix length (192.0.2.1/24)")
    return str(iface)


def _addr_list(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        v = [x for x in v.replace(",", " ").split() if x]
    return tuple(_iface_addr(str(x)) for x in v)


def _route_targets(v: Any, key: str) -> tuple[str, ...]:
    try:
        return parse_route_targets(v, key)
    except VpnError as e:
        raise ValueError(e.reason) from None


class LabSection(_Model):
    name: str
    description: str = ""
    dataplane: Driver = "linux"  # default driver of the bgpvpn hosts (evpn and ipvpn)

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        _name(v, "lab")
        if len(v) > MAX_LAB_NAME:
            raise ValueError(f"{v!r}: a lab name has at most {MAX_LAB_NAME} characters")
        return v


class HostSpec(_Model):
    name: str
    kind: HostKind = "plain"
    asn: ASN | None = None
    router_id: str | None = None
    loopback: tuple[str, ...] = ()
    route_reflector: bool = False
    route_reflectors: tuple[str, ...] = ()  # derived sessions: this host peers with each of them
    families: tuple[str, ...] | None = None  # of the derived sessions
    announce: tuple[str, ...] = ()  # unicast prefixes this host originates in BGP
    routes: tuple[str, ...] = ()  # static routes: `ip route add <words>` in the namespace
    kernel_routes: bool = False  # bgpvpn: program learned IPv4/IPv6 unicast into the kernel
    fallback_routes: tuple[str, ...] = ()  # floating static routes (metric 4000)
    next_hop_self: bool = False  # on all its sessions (FRR: also for reflected routes)
    dataplane: Driver | None = None  # bgpvpn: overrides [lab] dataplane
    config: dict[str, Any] = Field(default_factory=dict)  # merged into the generated config
    frr_config: str = ""  # FRR: raw lines appended to the generated bgpd.conf
    forwarding: bool = True

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return _name(v, "host")

    @field_validator("loopback", mode="before")
    @classmethod
    def _check_loopback(cls, v: Any) -> tuple[str, ...]:
        return _addr_list(v)

    @field_validator("router_id")
    @classmethod
    def _check_router_id(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return str(ipaddress.IPv4Address(v))
        except ValueError:
            raise ValueError(f"{v!r} is not an IPv4 address (router id)") from None

    @field_validator("families")
    @classmethod
    def _check_families(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if v is None else _families(v)

    @field_validator("announce")
    @classmethod
    def _check_announce(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for p in v:
            try:
                out.append(str(ipaddress.ip_network(p, strict=True)))
            except ValueError:
                raise ValueError(f"{p!r} is not a prefix (203.0.113.1/32)") from None
        return tuple(out)

    @model_validator(mode="after")
    def _check_kind(self) -> HostSpec:
        bgp = self.kind in ("bgpvpn", "gobgp", "frr")
        if bgp and self.asn is None:
            raise ValueError(f"a {self.kind} host needs 'asn'")
        if bgp and self.router_id is None and not any(":" not in a for a in self.loopback):
            raise ValueError(f"a {self.kind} host needs 'router_id' (or an IPv4 'loopback')")
        if not bgp:
            for key in ("asn", "router_id"):
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' is only for bgpvpn, gobgp and frr hosts")
            if self.route_reflector or self.route_reflectors or self.announce:
                raise ValueError("a plain host runs no BGP (route_reflector(s), announce)")
        if self.kind != "bgpvpn" and (self.kernel_routes or self.dataplane is not None):
            raise ValueError("kernel_routes and dataplane are for bgpvpn hosts")
        if self.kind != "frr" and self.frr_config:
            raise ValueError("frr_config is for frr hosts")
        if self.kind in ("plain", "frr") and self.config:
            raise ValueError("'config' is for bgpvpn and gobgp hosts (frr: frr_config)")
        return self

    @property
    def bgp_router_id(self) -> str:
        if self.router_id:
            return self.router_id
        return next(a.split("/")[0] for a in self.loopback if ":" not in a)


def _families(v: Iterable[str]) -> tuple[str, ...]:
    out = []
    for f in v:
        if f not in FAMILY_NAMES:
            raise ValueError(f"unknown family {f!r}; known: {', '.join(FAMILY_NAMES)}")
        if f in out:
            raise ValueError(f"family {f!r} is listed twice")
        out.append(f)
    return tuple(out)


class Endpoint(_Model):
    host: str
    addresses: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """``host`` or ``host:192.0.2.1/30`` or ``host:192.0.2.1/30,2001:db8::1/64``."""
        host, _, rest = text.partition(":")
        return cls(host=_name(host.strip(), "host"), addresses=_addr_list(rest))


class LinkSpec(_Model):
    a: Endpoint
    b: Endpoint
    mtu: Annotated[int, Field(ge=68, le=65535)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _ends(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ends" in data:
            data = dict(data)
            ends = data.pop("ends")
            if not isinstance(ends, list) or len(ends) != 2:
                raise ValueError("'ends' is a list of two 'host:address/len' strings")
            data["a"], data["b"] = ends
        return data

    @field_validator("a", "b", mode="before")
    @classmethod
    def _endpoint(cls, v: Any) -> Any:
        return Endpoint.parse(v) if isinstance(v, str) else v


class SessionSpec(_Model):
    a: str
    b: str
    families: tuple[str, ...] | None = None
    a_address: str | None = None  # an address of a, or "loopback"; default: the shared link
    b_address: str | None = None
    passive: Literal["a", "b"] | None = None

    @field_validator("families")
    @classmethod
    def _check_families(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if v is None else _families(v)

    @field_validator("a_address", "b_address")
    @classmethod
    def _check_addr(cls, v: str | None) -> str | None:
        if v is None or v == "loopback":
            return v
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            raise ValueError(f'{v!r} is not an IP address (or "loopback")') from None


class VmSpec(_Model):
    name: str
    host: str
    vpn: str  # the VPN instance id on the host
    type: Literal["evpn", "ipvpn"]
    mac: str | None = None
    ips: tuple[str, ...] = ()
    gateway: str | None = None
    rt: tuple[str, ...] = ()
    import_rt: tuple[str, ...] = ()
    export_rt: tuple[str, ...] = ()
    rd: str | None = None
    vni: Annotated[int, Field(ge=1, le=0xFFFFFF)] | None = None
    port: str | None = None  # the host-side interface name (default tap-<vm>)
    routes: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _ip_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ip" in data:
            data = dict(data)
            ip = data.pop("ip")
            if "ips" in data:
                raise ValueError("give 'ip' or 'ips', not both")
            data["ips"] = ip
        return data

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return _name(v, "vm")

    @field_validator("ips", mode="before")
    @classmethod
    def _check_ips(cls, v: Any) -> tuple[str, ...]:
        return _addr_list(v)

    @field_validator("mac")
    @classmethod
    def _check_mac(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return parse_mac(v, "mac")
        except VpnError as e:
            raise ValueError(e.reason) from None

    @field_validator("gateway")
    @classmethod
    def _check_gw(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            raise ValueError(f"{v!r} is not an IP address") from None

    @field_validator("rt", "import_rt", "export_rt", mode="before")
    @classmethod
    def _check_rts(cls, v: Any) -> tuple[str, ...]:
        return _route_targets(v, "rt")

    @field_validator("rd")
    @classmethod
    def _check_rd(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return parse_rd(v, "rd")
        except VpnError as e:
            raise ValueError(e.reason) from None

    @field_validator("port")
    @classmethod
    def _check_port(cls, v: str | None) -> str | None:
        if v is not None and not (0 < len(v) <= IFNAME_MAX and re.match(r"^[\w.-]+$", v)):
            raise ValueError(f"{v!r} is not an interface name (1-{IFNAME_MAX} characters)")
        return v

    @model_validator(mode="after")
    def _check_rts_given(self) -> VmSpec:
        if not (self.rt or (self.import_rt and self.export_rt)):
            raise ValueError("give 'rt' (import and export) or both 'import_rt' and 'export_rt'")
        return self

    @property
    def imports(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.rt + self.import_rt))

    @property
    def exports(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.rt + self.export_rt))

    @property
    def port_name(self) -> str:
        return self.port or f"tap-{self.name}"[:IFNAME_MAX]


class Topology(_Model):
    lab: LabSection
    hosts: tuple[HostSpec, ...] = ()
    links: tuple[LinkSpec, ...] = ()
    sessions: tuple[SessionSpec, ...] = ()
    vms: tuple[VmSpec, ...] = ()

    @model_validator(mode="after")
    def _cross_check(self) -> Topology:
        problems: list[tuple[str, str]] = []
        names: dict[str, str] = {}
        for i, h in enumerate(self.hosts):
            if h.name in names:
                problems.append((f"hosts[{i}].name", f"{h.name!r} is used twice"))
            names[h.name] = "host"
        for i, vm in enumerate(self.vms):
            if vm.name in names:
                problems.append((f"vms[{i}].name", f"{vm.name!r} is already a host or vm"))
            names[vm.name] = "vm"
        hosts = {h.name: h for h in self.hosts}
        for i, link in enumerate(self.links):
            for end in ("a", "b"):
                ep = getattr(link, end)
                if ep.host not in hosts:
                    problems.append((f"links[{i}].{end}", f"unknown host {ep.host!r}"))
            if link.a.host == link.b.host:
                problems.append((f"links[{i}]", "a link joins two different hosts"))
        for i, h in enumerate(self.hosts):
            for j, rr in enumerate(h.route_reflectors):
                if rr not in hosts:
                    problems.append((f"hosts[{i}].route_reflectors[{j}]", f"unknown host {rr!r}"))
                elif hosts[rr].kind == "plain":
                    problems.append(
                        (f"hosts[{i}].route_reflectors[{j}]", f"{rr!r} is a plain host (no BGP)")
                    )
                elif rr == h.name:
                    problems.append((f"hosts[{i}].route_reflectors[{j}]", "itself"))
        for i, s in enumerate(self.sessions):
            for end in ("a", "b"):
                name = getattr(s, end)
                if name not in hosts:
                    problems.append((f"sessions[{i}].{end}", f"unknown host {name!r}"))
                elif hosts[name].kind == "plain":
                    problems.append((f"sessions[{i}].{end}", f"{name!r} is a plain host (no BGP)"))
            if s.a == s.b:
                problems.append((f"sessions[{i}]", "a session joins two different hosts"))
        for i, vm in enumerate(self.vms):
            if vm.host not in hosts:
                problems.append((f"vms[{i}].host", f"unknown host {vm.host!r}"))
            elif hosts[vm.host].kind != "bgpvpn":
                problems.append((f"vms[{i}].host", f"{vm.host!r} is not a bgpvpn host"))
        ports: dict[tuple[str, str], int] = {}
        for i, vm in enumerate(self.vms):
            key = (vm.host, vm.port_name)
            if key in ports:
                problems.append(
                    (f"vms[{i}].port", f"{vm.port_name!r} is also vms[{ports[key]}]'s port")
                )
            ports[key] = i
        if problems:
            raise _Problems(problems)
        # sessions need addresses: resolve them now so errors show at validation time
        try:
            self.plan()
        except _Problems:
            raise
        return self

    # ------------------------------------------------------------------ derived plan

    def host(self, name: str) -> HostSpec:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def vm(self, name: str) -> VmSpec:
        for v in self.vms:
            if v.name == name:
                return v
        raise KeyError(name)

    def namespace(self, node: str) -> str:
        """The namespace of a host or vm: ``<lab>-<node>``."""
        return f"{self.lab.name}-{node}"

    def plan(self) -> Plan:
        return _plan(self)


class _Problems(ValueError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{k}: {r}" for k, r in problems))
        self.problems = problems


@dataclass(frozen=True)
class PlannedLink:
    a_host: str
    a_ifname: str
    a_addresses: tuple[str, ...]
    b_host: str
    b_ifname: str
    b_addresses: tuple[str, ...]
    mtu: int | None = None


@dataclass(frozen=True)
class PlannedSession:
    """One BGP session; ``local``/``remote`` are from ``a``'s point of view."""

    a: str
    b: str
    a_address: str
    b_address: str
    families: tuple[str, ...]
    a_via_loopback: bool
    b_via_loopback: bool
    a_is_client: bool  # b reflects a's routes (b is a route reflector, a is not)
    b_is_client: bool
    passive: str | None = None

    def side(self, host: str) -> SessionSide:
        if host == self.a:
            return SessionSide(
                self, host, self.b, self.a_address, self.b_address, self.a_via_loopback,
                peer_is_client=self.b_is_client, passive=self.passive == "a",
            )  # fmt: skip
        return SessionSide(
            self, host, self.a, self.b_address, self.a_address, self.b_via_loopback,
            peer_is_client=self.a_is_client, passive=self.passive == "b",
        )  # fmt: skip


@dataclass(frozen=True)
class SessionSide:
    session: PlannedSession
    host: str
    peer: str
    local_address: str
    peer_address: str
    via_loopback: bool
    peer_is_client: bool
    passive: bool


@dataclass(frozen=True)
class Plan:
    links: tuple[PlannedLink, ...]
    sessions: tuple[PlannedSession, ...]
    interfaces: dict[str, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)

    def sessions_of(self, host: str) -> list[SessionSide]:
        return [s.side(host) for s in self.sessions if host in (s.a, s.b)]


def _plan(topo: Topology) -> Plan:
    problems: list[tuple[str, str]] = []
    hosts = {h.name: h for h in topo.hosts}
    counters: dict[str, int] = {}
    interfaces: dict[str, list[tuple[str, tuple[str, ...]]]] = {h: [] for h in hosts}
    links = []
    for link in topo.links:
        names = []
        for ep in (link.a, link.b):
            n = counters.get(ep.host, 0)
            counters[ep.host] = n + 1
            names.append(f"eth{n}")
            interfaces.setdefault(ep.host, []).append((f"eth{n}", ep.addresses))
        links.append(
            PlannedLink(
                link.a.host, names[0], link.a.addresses, link.b.host, names[1], link.b.addresses,
                link.mtu,
            )
        )  # fmt: skip

    pairs: list[tuple[str, SessionSpec | None, str]] = []
    for i, s in enumerate(topo.sessions):
        pairs.append((f"sessions[{i}]", s, ""))
    explicit = {frozenset((s.a, s.b)) for s in topo.sessions}
    for i, h in enumerate(topo.hosts):
        for j, rr in enumerate(h.route_reflectors):
            if frozenset((h.name, rr)) in explicit:
                continue
            explicit.add(frozenset((h.name, rr)))
            pairs.append((f"hosts[{i}].route_reflectors[{j}]", None, f"{h.name}\0{rr}"))

    sessions = []
    for key, spec, derived in pairs:
        if spec is not None:
            a, b = spec.a, spec.b
            fams = spec.families
            a_req, b_req, passive = spec.a_address, spec.b_address, spec.passive
        else:
            a, b = derived.split("\0")
            fams = hosts[a].families
            a_req = b_req = None
            passive = None
        ha, hb = hosts[a], hosts[b]
        if fams is None:
            fams = tuple(
                f for f in DEFAULT_FAMILIES if f in KIND_FAMILIES[ha.kind] & KIND_FAMILIES[hb.kind]
            )
        else:
            for h in (ha, hb):
                bad = [f for f in fams if f not in KIND_FAMILIES[h.kind]]
                if bad:
                    problems.append(
                        (f"{key}.families", f"{h.name} ({h.kind}) cannot run {', '.join(bad)}")
                    )
        try:
            a_addr, b_addr, a_lo, b_lo = _session_addresses(topo, a, b, a_req, b_req)
        except ValueError as e:
            problems.append((key, str(e)))
            continue
        sessions.append(
            PlannedSession(
                a, b, a_addr, b_addr, tuple(fams), a_lo, b_lo,
                a_is_client=hb.route_reflector and not ha.route_reflector,
                b_is_client=ha.route_reflector and not hb.route_reflector,
                passive=passive,
            )
        )  # fmt: skip
    if problems:
        raise _Problems(problems)
    return Plan(tuple(links), tuple(sessions), interfaces)


def _session_addresses(
    topo: Topology, a: str, b: str, a_req: str | None, b_req: str | None
) -> tuple[str, str, bool, bool]:
    ha, hb = topo.host(a), topo.host(b)

    def loopback(h: HostSpec, version: int) -> str:
        for addr in h.loopback:
            if ipaddress.ip_interface(addr).version == version:
                return addr.split("/")[0]
        raise ValueError(f"{h.name} has no IPv{version} loopback address")

    def owned(h: HostSpec, addr: str) -> bool:
        own = [a.split("/")[0] for a in h.loopback]
        for link in topo.links:
            for ep in (link.a, link.b):
                if ep.host == h.name:
                    own += [x.split("/")[0] for x in ep.addresses]
        return addr in own

    if a_req is None and b_req is None:
        for link in topo.links:
            if {link.a.host, link.b.host} != {a, b}:
                continue
            ea, eb = (link.a, link.b) if link.a.host == a else (link.b, link.a)
            for x in ea.addresses:
                for y in eb.addresses:
                    ix, iy = ipaddress.ip_interface(x), ipaddress.ip_interface(y)
                    if ix.version == iy.version and ix.network == iy.network:
                        return str(ix.ip), str(iy.ip), False, False
        a_req = b_req = "loopback"
    if a_req is None or b_req is None:
        raise ValueError("give both a_address and b_address, or neither")
    version = 4
    for r in (a_req, b_req):
        if r != "loopback":
            version = ipaddress.ip_address(r).version
    a_addr = loopback(ha, version) if a_req == "loopback" else a_req
    b_addr = loopback(hb, version) if b_req == "loopback" else b_req
    for h, addr in ((ha, a_addr), (hb, b_addr)):
        if not owned(h, addr):
            raise ValueError(f"{addr} is not an address of {h.name}")
    return a_addr, b_addr, a_addr in _lo(ha), b_addr in _lo(hb)


def _lo(h: HostSpec) -> set[str]:
    return {a.split("/")[0] for a in h.loopback}


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def parse_topology(data: dict[str, Any], source: str = "topology") -> Topology:
    try:
        topo = Topology.model_validate(data)
    except ValidationError as exc:
        problems: list[tuple[str, str]] = []
        for err in exc.errors():
            ctx = err.get("ctx") or {}
            inner = ctx.get("error")
            if isinstance(inner, _Problems):
                problems += inner.problems
                continue
            reason = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                reason = "unknown key"
            elif err["type"] == "missing":
                reason = "required key is missing"
            problems.append((_key(tuple(err["loc"])), reason))
        raise TopologyError(source, problems) from None
    problems = _check_daemon_configs(topo)
    if problems:
        raise TopologyError(source, problems)
    return topo


def _check_daemon_configs(topo: Topology) -> list[tuple[str, str]]:
    """The generated bgpvpn configuration of each host must pass ``bgpvpn.config``."""
    from bgpvpn.config import ConfigError, parse_config
    from bgpvpn.lab.render import bgpvpn_config_dict

    problems = []
    for i, h in enumerate(topo.hosts):
        if h.kind != "bgpvpn":
            continue
        try:
            parse_config(bgpvpn_config_dict(topo, h, Path("/run/bgpvpn-lab/x"), None))
        except ConfigError as e:
            problems += [(f"hosts[{i}].config.{k}", r) for k, r in e.problems]
    return problems


def load_topology(path: str | Path) -> Topology:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise TopologyError(str(p), [("(file)", e.strerror or str(e))]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TopologyError(str(p), [("(syntax)", str(e))]) from None
    return parse_topology(data, str(p))


def lab_name_of(path: str | Path) -> str:
    """The ``[lab] name`` of a file, even when the rest of it does not validate (so that
    ``lab down FILE`` works after the file was edited)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
        name = data["lab"]["name"]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as e:
        raise TopologyError(str(p), [("lab.name", f"cannot read it: {e}")]) from None
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TopologyError(str(p), [("lab.name", f"{name!r} is not a lab name")])
    return name
