"""Fixtures for the Linux data-plane tests: two "hosts" as network namespaces joined by a veth
(underlay 203.0.113.0/24, VTEPs .1 and .2), each driven by a driver object whose netlink
sockets live in that namespace (``netns=`` argument: the test process itself never changes
namespace). Every namespace a test creates, or asks a driver to create, is deleted at the end,
also on failure. Names carry the test process id so parallel runs never meet."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

NEEDS_ROOT = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.isdir("/proc/self/ns"), reason="needs root and netns"
)

VTEP_A = "203.0.113.1"
VTEP_B = "203.0.113.2"


def uniq(tag: str) -> str:
    """A namespace or interface name unique to this test process (fits IFNAMSIZ)."""
    return f"{tag}{os.getpid() % 100000}"


@dataclass
class Lab:
    a: str
    b: str
    namespaces: list[str] = field(default_factory=list)

    def ns(self, tag: str) -> str:
        """The name of a namespace the test (or a driver) will create; deleted at teardown."""
        name = f"bvt{tag}-{os.getpid() % 100000}"
        self.namespaces.append(name)
        return name


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def pings(ns: str, ip: str, count: int = 3, deadline: int = 4) -> bool:
    """True when ``ip`` answers at least one ping sent from namespace ``ns``."""
    proc = run(
        "ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", str(count), "-i", "0.2",
        "-w", str(deadline), ip,
    )  # fmt: skip
    return proc.returncode == 0


def no_ping(ns: str, ip: str) -> bool:
    """True when ``ip`` does not answer from ``ns`` (two pings, one second)."""
    proc = run("ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-w", "1", ip)
    return proc.returncode != 0


def _make_underlay(a: str, b: str) -> None:
    from pyroute2 import IPRoute  # type: ignore[import-untyped]

    from bgpvpn.dataplane.linux.netlink import netns_create, netns_path

    for ns in (a, b):
        netns_create(ns)
    with IPRoute(netns=a, flags=0, groups=0) as ipa:
        fd = os.open(netns_path(b), os.O_RDONLY)
        try:
            ipa.link("add", ifname="ul0", kind="veth", peer={"ifname": "ul0", "net_ns_fd": fd})
        finally:
            os.close(fd)
    for ns, vtep in ((a, VTEP_A), (b, VTEP_B)):
        with IPRoute(netns=ns, flags=0, groups=0) as ipr:
            for name in ("lo", "ul0"):
                ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
            idx = ipr.link_lookup(ifname="ul0")[0]
            ipr.addr("add", index=idx, address=vtep, prefixlen=24)


def remove_namespaces(names: list[str]) -> None:
    from bgpvpn.dataplane.linux.netlink import netns_remove

    for ns in names:
        with contextlib.suppress(OSError):
            netns_remove(ns)


@pytest.fixture
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    pid = os.getpid() % 100000
    lab = Lab(a=f"bvt-a-{pid}", b=f"bvt-b-{pid}")
    lab.namespaces += [lab.a, lab.b]
    try:
        _make_underlay(lab.a, lab.b)
        yield lab
    finally:
        remove_namespaces(lab.namespaces)
