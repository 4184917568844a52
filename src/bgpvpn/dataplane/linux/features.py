"""What this kernel can do for the data plane, found by trying: a throwaway network namespace,
one test object of each kind in it, then the namespace is deleted (nothing is left behind and
nothing outside the namespace is touched). Without root, only /sys/module and /proc are read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from bgpvpn.dataplane.linux.netlink import in_netns, netns_create, netns_remove


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    ok: bool
    detail: str


def _try(name: str, fn: Any) -> Feature:
    try:
        detail = fn()
        return Feature(name, True, detail or "works")
    except Exception as exc:
        return Feature(name, False, f"{type(exc).__name__}: {exc}")


def detect() -> dict[str, Feature]:
    """bridge, vxlan, veth, vrf (l3mdev devices), mpls (forwarding), policy_routing, netns."""
    if os.geteuid() != 0:
        return _detect_passive()
    from pyroute2 import IPRoute  # type: ignore[import-untyped]

    ns = f"bvdoctor-{os.getpid()}"
    out: dict[str, Feature] = {}
    try:
        netns_create(ns)
    except Exception as exc:
        out["netns"] = Feature("netns", False, f"cannot create a network namespace: {exc}")
        return {**_detect_passive(), **out}
    out["netns"] = Feature("netns", True, "network namespaces can be created")
    try:
        with IPRoute(netns=ns, flags=0, groups=0) as ipr:

            def link(kind: str, **kw: Any) -> str:
                ipr.link("add", ifname=f"t-{kind}", kind=kind, **kw)
                return f"created a {kind} device"

            out["bridge"] = _try("bridge", lambda: link("bridge"))
            out["vxlan"] = _try(
                "vxlan",
                lambda: link("vxlan", vxlan_id=42, vxlan_local="192.0.2.1", vxlan_port=4789),
            )
            out["veth"] = _try("veth", lambda: link("veth", peer="t-veth1"))
            out["vrf"] = _try("vrf", lambda: link("vrf", vrf_table=4242))

            def rule() -> str:
                ipr.rule("add", table=4242, priority=4242, iifname="t-veth")
                return "policy rules can be added"

            out["policy_routing"] = _try("policy_routing", rule)

        def mpls() -> str:
            path = "/proc/sys/net/mpls/platform_labels"
            if not os.path.exists(path):
                raise OSError("no /proc/sys/net/mpls (module mpls_router not available)")
            with open(path, "w") as f:
                f.write("16")
            return "MPLS forwarding (mpls_router) is available"

        out["mpls"] = _try("mpls", lambda: in_netns(ns, mpls))
    finally:
        netns_remove(ns)
    return out


def _detect_passive() -> dict[str, Feature]:
    def module(name: str, *paths: str) -> Feature:
        for path in paths:
            if os.path.exists(path):
                return Feature(name, True, f"{path} exists (not tried: not root)")
        return Feature(name, False, f"none of {', '.join(paths)} (not tried: not root)")

    return {
        "bridge": module("bridge", "/sys/module/bridge", "/sys/class/net/bonding_masters"),
        "vxlan": module("vxlan", "/sys/module/vxlan"),
        "veth": module("veth", "/sys/module/veth"),
        "vrf": module("vrf", "/sys/module/vrf"),
        "mpls": module("mpls", "/proc/sys/net/mpls", "/sys/module/mpls_router"),
        "policy_routing": Feature("policy_routing", True, "assumed (not tried: not root)"),
        "netns": module("netns", "/proc/self/ns/net"),
    }
