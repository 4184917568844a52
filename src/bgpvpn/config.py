"""The daemon's configuration: one TOML file, validated into typed settings.

Every error names the key (``bgp.peers[1].asn``) and the reason; ``load_config`` raises
``ConfigError`` with all of them, and ``bgpvpn daemon`` exits with status 2 on it. Unknown keys
are errors too, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bgpvpn.wire.errors import TextFormError
from bgpvpn.wire.family import Family

ASN = Annotated[int, Field(ge=1, le=0xFFFFFFFF)]
Port = Annotated[int, Field(ge=1, le=65535)]
FAMILY_NAMES = ("ipv4", "ipv6", "vpnv4", "vpnv6", "evpn", "rtc", "ipv4-lu", "ipv6-lu")


class ConfigError(Exception):
    """An invalid configuration; ``problems`` lists (key, reason) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        text = "; ".join(f"{key}: {reason}" for key, reason in problems)
        super().__init__(f"{source}: {text}")


def _ipv4(value: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address ({what})") from None


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class PeerConfig(_Strict):
    address: str
    asn: ASN
    port: Port = 179
    passive: bool = False
    families: tuple[str, ...] = ("ipv4",)
    rr_client: bool = False
    hold_time: Annotated[int, Field(ge=0, le=65535)] = 90
    max_prefix: Annotated[int, Field(ge=0)] = 0
    max_prefix_action: Literal["warn", "teardown", "restart"] = "teardown"
    max_prefix_restart: Annotated[float, Field(gt=0)] = 60.0
    next_hop_self: bool = False
    md5_password_file: str | None = None
    local_address: str | None = None
    ttl_security: Annotated[int, Field(ge=0, le=254)] = 0  # GTSM hops (RFC5082), 0 = off
    add_path_receive: tuple[str, ...] = ()
    # families in which every path of a destination is sent, each with its path identifier
    # (RFC7911; "addpath-tx-all-paths"), when the peer asks to receive several
    add_path_send: tuple[str, ...] = ()
    enabled: bool = True
    description: str = ""

    @field_validator("address", "local_address")
    @classmethod
    def _check_address(cls, v: str | None) -> str | None:
        return None if v is None else _ip(v)

    @field_validator("hold_time")
    @classmethod
    def _check_hold(cls, v: int) -> int:
        if v in (1, 2):
            raise ValueError("hold time must be 0 or at least 3 seconds (RFC4271 4.2)")
        return v

    @field_validator("families", "add_path_receive", "add_path_send")
    @classmethod
    def _check_families(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            try:
                fam = Family.parse(name)
            except TextFormError:
                raise ValueError(
                    f"unknown family {name!r}; known: {', '.join(FAMILY_NAMES)}"
                ) from None
            if fam.name not in FAMILY_NAMES:
                raise ValueError(f"family {name!r} is not supported by sessions yet")
        if len(set(v)) != len(v):
            raise ValueError("a family is listed twice")
        return tuple(Family.parse(n).name for n in v)

    @field_validator("md5_password_file")
    @classmethod
    def _check_md5(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).is_file():
            raise ValueError(f"{v!r} is not a readable file")
        return v

    @property
    def family_set(self) -> frozenset[Family]:
        return frozenset(Family.parse(n) for n in self.families)


class BgpConfig(_Strict):
    asn: ASN
    router_id: str
    listen: str = "0.0.0.0"
    port: Port = 179
    rtc: bool = True
    cluster_id: str | None = None
    graceful_restart: Annotated[int, Field(ge=0, le=4095)] = 120
    multipath: bool = False
    default_local_pref: Annotated[int, Field(ge=0, le=0xFFFFFFFF)] = 100
    # seconds the speaker waits after a change before sending UPDATEs, so that the changes of
    # a burst (API calls, received UPDATEs) go out together (FRR's coalesce-time); 0: at once
    coalesce_time: Annotated[float, Field(ge=0, le=10)] = 0.002
    peers: tuple[PeerConfig, ...] = ()

    @field_validator("router_id")
    @classmethod
    def _check_router_id(cls, v: str) -> str:
        rid = _ipv4(v, "the router id is a 4-octet identifier written as an IPv4 address")
        if rid == "0.0.0.0":
            raise ValueError("the router id must not be 0.0.0.0")
        return rid

    @field_validator("cluster_id")
    @classmethod
    def _check_cluster_id(cls, v: str | None) -> str | None:
        return None if v is None else _ipv4(v, "the cluster id is written as an IPv4 address")

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, v: str) -> str:
        return "" if v == "" else _ip(v)

    @model_validator(mode="after")
    def _unique_peers(self) -> BgpConfig:
        seen: set[str] = set()
        for p in self.peers:
            if p.address in seen:
                raise ValueError(f"peer {p.address} is configured twice")
            seen.add(p.address)
        return self


class ApiConfig(_Strict):
    listen: str = "127.0.0.1"
    port: Port = 8082

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, v: str) -> str:
        return _ip(v)


DriverName = Literal["dummy", "linux"]


class DataplaneConfig(_Strict):
    """Which data-plane driver serves each instance kind, and our tunnel endpoint (the next hop
    of the VPN routes we advertise; the router id when not given)."""

    evpn: DriverName = "dummy"
    ipvpn: DriverName = "dummy"
    vtep: str | None = None

    @field_validator("vtep")
    @classmethod
    def _check_vtep(cls, v: str | None) -> str | None:
        return None if v is None else _ip(v)


class StoreConfig(_Strict):
    """Where intent (instances, attachments, announced routes) is kept; "" keeps it in memory
    only (nothing survives a restart)."""

    path: str = "/var/lib/bgpvpn/state.db"
    synchronous: Literal["normal", "full"] = "normal"


class KernelConfig(_Strict):
    """Installing the routes peers send in IPv4/IPv6 unicast into a kernel routing table (the
    best path, or the ECMP set with ``bgp.multipath``); off by default, per family."""

    ipv4: bool = False
    ipv6: bool = False
    table: Annotated[int, Field(ge=1, le=0xFFFFFFFF)] = 254  # main
    protocol: Annotated[int, Field(ge=5, le=255)] = 186  # tags our routes (RTPROT_*; 186: bgpvpn)
    metric: Annotated[int, Field(ge=0, le=0xFFFFFFFF)] = 20


class Config(_Strict):
    bgp: BgpConfig
    api: ApiConfig = ApiConfig()
    dataplane: DataplaneConfig = DataplaneConfig()
    store: StoreConfig = StoreConfig()
    kernel: KernelConfig = KernelConfig()

    @property
    def vtep(self) -> str:
        return self.dataplane.vtep or self.bgp.router_id


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            reason = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                reason = "unknown key"
            elif err["type"] == "missing":
                reason = "required key is missing"
            problems.append((_key(tuple(err["loc"])), reason))
        raise ConfigError(source, problems) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML configuration file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(str(p), [("(file)", e.strerror or str(e))]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(p), [("(syntax)", str(e))]) from None
    return parse_config(data, str(p))
