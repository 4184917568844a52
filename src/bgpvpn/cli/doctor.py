"""``bgpvpn doctor``: can the Linux data-plane drivers run on this host, and if not, what to
change. Kernel features are tried in a throwaway network namespace (see
``bgpvpn.dataplane.linux.features``); sysctls are read; the VTEP address is looked up on the
host's interfaces; the VXLAN UDP port is bound for a moment. Exit status 0 when every asked
driver can run, 1 otherwise."""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

DRIVERS = ("linux-evpn", "linux-ipvpn")


@dataclass(slots=True)
class Check:
    name: str
    status: str  # "ok", "warn", "fail", "info"
    detail: str
    fix: str = ""


def _sysctl(path: str) -> str | None:
    try:
        with open("/proc/sys/" + path.replace(".", "/")) as f:
            return f.read().strip()
    except OSError:
        return None


def _vtep_from_config(path: Path) -> str | None:
    """``[dataplane] vtep`` (or ``local_address``) of a config file, read leniently: doctor
    must work on a config the daemon would refuse."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    section = data.get("dataplane") or {}
    for key in ("vtep", "local_address", "vtep_address"):
        if isinstance(section.get(key), str):
            return str(section[key])
    return None


def _vtep_check(vtep: str | None) -> Check:
    if vtep is None:
        return Check(
            "vtep",
            "fail",
            "no VTEP address given",
            "pass --vtep ADDRESS or -c CONFIG with [dataplane] vtep = ...",
        )
    try:
        addr = ipaddress.ip_address(vtep)
    except ValueError:
        return Check("vtep", "fail", f"{vtep!r} is not an IP address", "fix the address")
    from pyroute2 import IPRoute  # type: ignore[import-untyped]

    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    with IPRoute(groups=0) as ipr:
        found = ipr.get_addr(family=family, address=str(addr))
        if found:
            link = ipr.get_links(found[0]["index"])
            name = link[0].get("IFLA_IFNAME") if link else "?"
            mtu = int(link[0].get("IFLA_MTU") or 0) if link else 0
            return Check("vtep", "ok", f"{addr} is on {name} (MTU {mtu}: VXLAN devices get "
                         f"{mtu - (70 if addr.version == 6 else 50)})")  # fmt: skip
    return Check(
        "vtep",
        "fail",
        f"{addr} is not an address of this host",
        f"add it to the underlay interface (ip address add {addr}/... dev ...)",
    )


def _port_check(port: int) -> Check:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("0.0.0.0", port))
        return Check("udp_port", "ok", f"UDP {port} is free")
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            return Check("udp_port", "warn", f"UDP {port}: {exc}")
        vxlans = [n for n in os.listdir("/sys/class/net") if _is_vxlan(n)]
        if vxlans:
            return Check(
                "udp_port",
                "ok",
                f"UDP {port} is held by the kernel's VXLAN devices "
                f"({', '.join(sorted(vxlans)[:5])})",
            )
        return Check(
            "udp_port",
            "fail",
            f"UDP {port} is used by a process, VXLAN devices cannot receive",
            f"stop it (ss -ulpn sport = :{port}) or use another dstport",
        )
    finally:
        sock.close()


def _is_vxlan(name: str) -> bool:
    try:
        with open(f"/sys/class/net/{name}/uevent") as f:
            return "DEVTYPE=vxlan" in f.read()
    except OSError:
        return False


def run_checks(vtep: str | None, port: int, drivers: tuple[str, ...]) -> dict[str, Any]:
    from bgpvpn.dataplane.linux.features import detect

    checks: list[Check] = []
    if os.geteuid() != 0:
        checks.append(
            Check("root", "fail", "not root: the drivers need CAP_NET_ADMIN", "run as root")
        )
    features = detect()
    for f in features.values():
        needed = f.name in ("bridge", "vxlan", "policy_routing", "netns", "veth")
        status = "ok" if f.ok else ("fail" if needed else "info")
        fix = "" if f.ok else {
            "bridge": "enable CONFIG_BRIDGE (modprobe bridge)",
            "vxlan": "enable CONFIG_VXLAN (modprobe vxlan)",
            "veth": "enable CONFIG_VETH (modprobe veth) for netns ports",
            "vrf": "optional: modprobe vrf (VRF-device variant; tables+rules run without)",
            "mpls": "optional: modprobe mpls_router mpls_iptunnel (VXLAN runs without)",
            "policy_routing": "enable CONFIG_IP_MULTIPLE_TABLES",
            "netns": "enable CONFIG_NET_NS",
        }.get(f.name, "")  # fmt: skip
        checks.append(Check(f"kernel.{f.name}", status, f.detail, fix))
    rp = _sysctl("net.ipv4.conf.all.rp_filter")
    if rp == "0":
        checks.append(Check("sysctl.rp_filter", "ok", "net.ipv4.conf.all.rp_filter = 0"))
    else:
        checks.append(
            Check(
                "sysctl.rp_filter",
                "fail",
                f"net.ipv4.conf.all.rp_filter = {rp}: the kernel applies max(all, device), and "
                "the reverse-path lookup of VRF traffic ignores the policy rules, so it is dropped",
                "sysctl -w net.ipv4.conf.all.rp_filter=0 (the driver sets it off per device)",
            )
        )
    fwd = _sysctl("net.ipv4.ip_forward")
    checks.append(
        Check(
            "sysctl.ip_forward",
            "info",
            f"net.ipv4.ip_forward = {fwd}; the IP VPN driver turns forwarding on per device "
            "(its ports and VXLAN devices) and needs nothing global",
        )
    )
    if os.path.exists("/proc/sys/net/ipv6/conf/all/force_forwarding"):
        checks.append(
            Check("sysctl.ipv6_forwarding", "ok", "per-device IPv6 force_forwarding exists")
        )
    else:
        v6 = _sysctl("net.ipv6.conf.all.forwarding")
        checks.append(
            Check(
                "sysctl.ipv6_forwarding",
                "ok" if v6 == "1" else "warn",
                "no per-device IPv6 forwarding in this kernel; "
                f"net.ipv6.conf.all.forwarding = {v6}",
                ""
                if v6 == "1"
                else "for IPv6 VPN traffic: sysctl -w net.ipv6.conf.all.forwarding=1",
            )
        )
    checks.append(_vtep_check(vtep))
    checks.append(_port_check(port))

    by = {c.name: c for c in checks}
    common = ["kernel.vxlan", "kernel.netns", "vtep", "udp_port"]
    needs = {
        "linux-evpn": [*common, "kernel.bridge"],
        "linux-ipvpn": [*common, "kernel.policy_routing", "sysctl.rp_filter"],
    }
    verdicts: dict[str, dict[str, Any]] = {}
    for name in DRIVERS:
        blocking = [c for c in needs[name] if by[c].status == "fail"]
        if "root" in by:
            blocking.insert(0, "root")
        verdicts[name] = {"can_run": not blocking, "blocked_by": blocking}
    variant = features.get("vrf")
    mpls = features.get("mpls")
    verdicts["linux-ipvpn"]["variant"] = (
        "vrf-devices" if variant is not None and variant.ok else "tables+rules"
    ) + (" (MPLS available)" if mpls is not None and mpls.ok else " (VXLAN only, no MPLS)")
    ok = all(verdicts[d]["can_run"] for d in drivers)
    return {"ok": ok, "drivers": verdicts, "checks": [asdict(c) for c in checks]}


def doctor_command(
    vtep: Annotated[
        str | None, typer.Option("--vtep", help="the local VTEP address to check")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("-c", "--config", help="configuration file ([dataplane] vtep = ...)"),
    ] = None,
    driver: Annotated[
        list[str] | None,
        typer.Option(
            "--driver", help="driver the exit status is about (repeatable; default: both)"
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="VXLAN UDP port")] = 4789,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Check that this host can run the Linux data-plane drivers, and say what to change."""
    asked = tuple(driver or DRIVERS)
    for name in asked:
        if name not in DRIVERS:
            raise typer.BadParameter(f"{name}: one of {', '.join(DRIVERS)}", param_hint="--driver")
    if vtep is None and config is not None:
        try:
            vtep = _vtep_from_config(config)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            typer.echo(f"{config}: {exc}", err=True)
            raise typer.Exit(2) from None
    result = run_checks(vtep, port, asked)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "info": "info"}
        for c in result["checks"]:
            typer.echo(f"[{marks[c['status']]}] {c['name']}: {c['detail']}")
            if c["fix"] and c["status"] != "ok":
                typer.echo(f"         -> {c['fix']}")
        for name, v in result["drivers"].items():
            if v["can_run"]:
                line = f"{name}: can run"
            else:
                line = f"{name}: cannot run (blocked by {', '.join(v['blocked_by'])})"
            if "variant" in v:
                line += f"; variant: {v['variant']}"
            typer.echo(line)
    raise typer.Exit(0 if result["ok"] else 1)
