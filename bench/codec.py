"""Codec benchmark: decode rate into the RIB form, encode rate back into UPDATEs, memory per held
route, for 1M IPv4 unicast, 1M VPNv4 and 300k E-VPN type-2 routes.

Run from the repository root::

    .venv/bin/python bench/codec.py [--quick] [--json]

``--quick`` uses a tenth of the sizes (a smoke test); ``--json`` prints one JSON document instead
of the table (progress goes to stderr). The exit status is 1 when a correctness check failed.

What is measured, per route set (each built, measured and freed before the next):

- decode: every UPDATE through ``decode_message`` with a fresh ``AttributeCache``, building the
  RIB form (per family, route key -> attributes, or key -> (attributes, data) when the family
  has a data part) inside the timed loop; best of 3 runs with the GC as normal, then best of 3
  after ``gc.freeze()``;
- encode: the RIB form grouped by attribute object (identity) and packed back with
  ``pack_updates``; best of 3 runs;
- memory: traced bytes (``tracemalloc``) of holding the decoded RIB divided by the routes, and
  the VmRSS growth of holding it.

Correctness is checked inside the bench (route counts, sample routes rendered through
``route_from_wire``, attribute interning, NLRI count and bytes of the re-encoded UPDATEs).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import ipaddress
import itertools
import json
import multiprocessing
import os
import platform
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bgpvpn.wire import (
    AsPath,
    AttributeCache,
    PathAttributes,
    UpdateMessage,
    WireContext,
    decode_message,
    pack_updates,
    route_from_wire,
)
from bgpvpn.wire.family import EVPN, IPV4_UNICAST, VPNV4, Family
from bgpvpn.wire.routes import EvpnRoute, IPRoute, VpnRoute
from bgpvpn.wire.text import Prefix, RouteDistinguisher

# The targets (routes/s); encode targets are half of these.
DECODE_TARGETS = {"ipv4": 1_500_000, "vpnv4": 600_000, "evpn-type2": 400_000}
# Measured on this machine kind by others, decoding into per-route objects (routes/s).
REFERENCE = {
    "ExaBGP 5.0": (108_000, 46_000, 33_000),
    "os-ken": (163_000, 64_000, 34_000),
    "yabgp": (320_000, 138_000, 61_000),
    "careful pure-Python decoder": (2_400_000, 900_000, 700_000),
}
FULL_SIZES = {"ipv4": 1_000_000, "vpnv4": 1_000_000, "evpn-type2": 300_000}
ATTRIBUTE_SETS = 1_000
RUNS = 3
L3_VNI = 0xABCDEF  # uses all 24 bits of the label field
SEND_CTX = WireContext(as4=True)


class Rib:
    """The form the RIB holds routes in: two parallel dicts, key -> attribute set (shared,
    interned) and, for families whose NLRI carry more than the key, key -> data (label stack,
    ESI...). No object per route: keys and data are bytes, values are shared."""

    __slots__ = ("attrs", "data")

    def __init__(self) -> None:
        self.attrs: dict[bytes, PathAttributes] = {}
        self.data: dict[bytes, bytes] = {}

    def __len__(self) -> int:
        return len(self.attrs)


Ribs = dict[Family, Rib]


# ------------------------------------------------------------------------ route sets


@dataclass
class Expected:
    """One sample route as a person would write it, and its wire form built independently of
    the bench's generator (through the typed route views)."""

    text: str
    key: bytes
    data: bytes | None
    attrs: PathAttributes


@dataclass
class RouteSet:
    name: str
    family: Family
    routes: int
    messages: list[bytes]
    attribute_sets: int
    samples: list[Expected] = field(default_factory=list)

    @property
    def data_less(self) -> bool:
        """Routes of this family have no data part (the RIB maps key -> attributes)."""
        return self.family == IPV4_UNICAST

    @property
    def wire_bytes(self) -> int:
        return sum(len(m) for m in self.messages)


def _zipf_assignment(n: int, sets: int, seed: int) -> list[int]:
    """The attribute set of each route: a skewed (Zipf, s=1) spread over ``sets`` sets."""
    rng = random.Random(seed)
    cum = list(itertools.accumulate(1.0 / (k + 1) for k in range(sets)))
    return rng.choices(range(sets), cum_weights=cum, k=n)


_ASNS = [*range(64512, 64512 + 40), 3356, 1299, 174, 2914, 6939, 4200000001, 4200000123, 396982]


def _rt(rng: random.Random) -> bytes:
    if rng.random() < 0.6:  # type 0: 2-octet AS : 32-bit
        return (
            b"\x00\x02"
            + rng.randrange(64512, 65535).to_bytes(2, "big")
            + rng.randrange(1, 5000).to_bytes(4, "big")
        )
    # type 1: IPv4 : 16-bit
    return (
        b"\x01\x02"
        + bytes((192, 0, 2, rng.randrange(1, 255)))
        + rng.randrange(1, 5000).to_bytes(2, "big")
    )


def make_attribute_sets(kind: str, count: int, seed: int) -> list[PathAttributes]:
    """``count`` distinct, realistic attribute sets for a family kind."""
    rng = random.Random(seed)
    out: list[PathAttributes] = []
    seen: set[tuple[Any, ...]] = set()
    while len(out) < count:
        as_path = AsPath.sequence(*(rng.choice(_ASNS) for _ in range(rng.randint(1, 6))))
        communities = tuple(
            sorted(
                {
                    (rng.choice((65000, 65001, 3356)) << 16) | rng.randrange(1, 999)
                    for _ in range(rng.randint(0, 4))
                }
            )
        )
        large: tuple[tuple[int, int, int], ...] = ()
        if rng.random() < 0.2:
            large = ((4200000001, rng.randrange(1, 100), rng.randrange(1, 100)),)
        reflected = rng.random() < 0.3
        nh4 = bytes((192, 0, 2, rng.randrange(1, 17)))
        ext: tuple[bytes, ...]
        if kind == "ipv4":
            ext = ()
            nexthop_attr: bytes | None = nh4
            next_hop = nh4
        elif kind == "vpnv4":
            ext = tuple(sorted({_rt(rng) for _ in range(rng.randint(1, 3))}))
            nexthop_attr = None
            next_hop = bytes(8) + nh4  # RD 0 then the IPv4 address (RFC4364 4.3.2)
        else:
            router_mac = bytes((0x02, 0x42, 0xAC, 0x11, rng.randrange(256), rng.randrange(256)))
            ext = (
                *sorted({_rt(rng) for _ in range(rng.randint(1, 2))}),
                b"\x03\x0c\x00\x00\x00\x00\x00\x08",  # encapsulation: VXLAN (RFC9012)
                b"\x06\x03" + router_mac,  # E-VPN router's MAC (RFC9135)
            )
            nexthop_attr = None
            next_hop = nh4
        attrs = PathAttributes(
            origin=rng.choice((0, 0, 0, 1, 2)),
            as_path=as_path,
            nexthop_attr=nexthop_attr,
            next_hop=next_hop,
            med=rng.randrange(0, 500) if rng.random() < 0.5 else None,
            local_pref=rng.choice((100, 100, 100, 200, 90)),
            communities=communities,
            originator_id=nh4 if reflected else None,
            cluster_list=(b"\x0a\x00\x00\x01",) if reflected else (),
            ext_communities=ext,
            large_communities=large,
        )
        signature = (
            attrs.origin,
            attrs.as_path,
            attrs.next_hop,
            attrs.med,
            attrs.local_pref,
            attrs.communities,
            attrs.originator_id,
            attrs.ext_communities,
            attrs.large_communities,
        )
        if signature not in seen:
            seen.add(signature)
            out.append(attrs)
    return out


def _pack_groups(
    family: Family,
    keys: list[bytes],
    data: list[bytes] | None,
    assignment: list[int],
    attr_sets: list[PathAttributes],
) -> list[bytes]:
    """UPDATEs announcing the routes, one ``pack_updates`` call per attribute set."""
    key_groups: list[list[bytes]] = [[] for _ in attr_sets]
    data_groups: list[list[bytes]] = [[] for _ in attr_sets]
    for n, a in enumerate(assignment):
        key_groups[a].append(keys[n])
        if data is not None:
            data_groups[a].append(data[n])
    messages: list[bytes] = []
    for a, attrs in enumerate(attr_sets):
        if key_groups[a]:
            messages.extend(
                pack_updates(
                    family,
                    key_groups[a],
                    data_groups[a] if data is not None else None,
                    None,
                    attrs,
                    SEND_CTX,
                )
            )
    return messages


def _sample_indices(n: int) -> list[int]:
    step = max(1, n // 97)
    return sorted({0, n - 1, *range(step // 2, n, step)})


def _ipv4_prefix(i: int, top_base: int, spread: int) -> tuple[int, int]:
    """(address, length) of the i-th prefix: /24../32, distinct for distinct i < 0xDE0000."""
    top24 = top_base + (i * spread) % 0xDE0000
    plen = 24 + i % 9
    low = ((i * 131) & 0xFF) & ((0xFF << (32 - plen)) & 0xFF) if plen > 24 else 0
    return (top24 << 8) | low, plen


def build_ipv4(n: int, sets: int) -> RouteSet:
    attr_sets = make_attribute_sets("ipv4", sets, seed=4)
    assignment = _zipf_assignment(n, len(attr_sets), seed=40)
    keys: list[bytes] = []
    for i in range(n):
        addr, plen = _ipv4_prefix(i, 0x010000, 7919)
        keys.append(bytes((plen,)) + addr.to_bytes(4, "big")[: (plen + 7) >> 3])
    messages = _pack_groups(IPV4_UNICAST, keys, None, assignment, attr_sets)
    samples = []
    for i in _sample_indices(n):
        addr, plen = _ipv4_prefix(i, 0x010000, 7919)
        text = f"{ipaddress.IPv4Address(addr)}/{plen}"
        key, _ = IPRoute(Prefix.parse(text)).to_wire()
        samples.append(Expected(text, key, None, attr_sets[assignment[i]]))
    return RouteSet("ipv4", IPV4_UNICAST, n, messages, len(attr_sets), samples)


_VPN_RDS = 1_000


def _vpn_route(i: int) -> tuple[str, int, int, int]:
    """(RD text, address, length, label) of the i-th VPNv4 route."""
    r = i % _VPN_RDS
    j = i // _VPN_RDS  # the j-th prefix of this RD: distinct per RD, overlapping across RDs
    rd = f"{65000 + r % 100}:{r}" if r % 2 == 0 else f"192.0.2.{1 + r % 250}:{r}"
    addr, plen = _ipv4_prefix(j, 0x0A0000, 1)
    return rd, addr, plen, 16000 + r


def build_vpnv4(n: int, sets: int) -> RouteSet:
    attr_sets = make_attribute_sets("vpnv4", sets, seed=6)
    assignment = _zipf_assignment(n, len(attr_sets), seed=60)
    rds = [RouteDistinguisher.parse(_vpn_route(r)[0]).raw for r in range(_VPN_RDS)]
    labels = [((16000 + r) << 4 | 1).to_bytes(3, "big") for r in range(_VPN_RDS)]
    keys: list[bytes] = []
    data: list[bytes] = []
    for i in range(n):
        r = i % _VPN_RDS
        addr, plen = _ipv4_prefix(i // _VPN_RDS, 0x0A0000, 1)
        keys.append(bytes((plen,)) + rds[r] + addr.to_bytes(4, "big")[: (plen + 7) >> 3])
        data.append(labels[r])
    messages = _pack_groups(VPNV4, keys, data, assignment, attr_sets)
    samples = []
    for i in _sample_indices(n):
        rd, addr, plen, label = _vpn_route(i)
        text = f"{rd}:{ipaddress.IPv4Address(addr)}/{plen} label {label}"
        route = VpnRoute(
            RouteDistinguisher.parse(rd),
            Prefix.parse(f"{ipaddress.IPv4Address(addr)}/{plen}"),
            (label,),
        )
        key, d = route.to_wire()
        samples.append(Expected(text, key, d, attr_sets[assignment[i]]))
    return RouteSet("vpnv4", VPNV4, n, messages, len(attr_sets), samples)


_EVIS = 500


def _evpn_route(i: int) -> tuple[str, bytes, bytes, int]:
    """(RD text, MAC, IPv4, L2 VNI) of the i-th E-VPN type-2 route."""
    evi = i % _EVIS
    rd = f"192.0.2.{1 + evi % 250}:{evi}"
    mac = b"\x02\x00" + i.to_bytes(4, "big")
    ip = (0x0A000000 + i).to_bytes(4, "big")
    return rd, mac, ip, 10000 + evi


def build_evpn(n: int, sets: int) -> RouteSet:
    attr_sets = make_attribute_sets("evpn", sets, seed=8)
    assignment = _zipf_assignment(n, len(attr_sets), seed=80)
    rds = [RouteDistinguisher.parse(_evpn_route(e)[0]).raw for e in range(_EVIS)]
    esi = bytes(10)
    l3 = L3_VNI.to_bytes(3, "big")
    datas = [esi + (10000 + e).to_bytes(3, "big") + l3 for e in range(_EVIS)]
    tag = bytes(4)
    keys: list[bytes] = []
    data: list[bytes] = []
    for i in range(n):
        e = i % _EVIS
        keys.append(
            b"\x02"
            + rds[e]
            + tag
            + b"\x30\x02\x00"
            + i.to_bytes(4, "big")
            + b"\x20"
            + (0x0A000000 + i).to_bytes(4, "big")
        )
        data.append(datas[e])
    messages = _pack_groups(EVPN, keys, data, assignment, attr_sets)
    samples = []
    for i in _sample_indices(n):
        rd, mac, ip, l2vni = _evpn_route(i)
        route = EvpnRoute(2, RouteDistinguisher.parse(rd), mac=mac, ip=ip, labels=(l2vni, L3_VNI))
        key, d = route.to_wire()
        text = (
            f"[type-2] {rd} ethernet_tag=0 mac={':'.join(f'{b:02x}' for b in mac)} "
            f"ip={ipaddress.IPv4Address(ip)} labels=[{l2vni}, {L3_VNI}]"
        )
        samples.append(Expected(text, key, d, attr_sets[assignment[i]]))
    return RouteSet("evpn-type2", EVPN, n, messages, len(attr_sets), samples)


BUILDERS: dict[str, Callable[[int, int], RouteSet]] = {
    "ipv4": build_ipv4,
    "vpnv4": build_vpnv4,
    "evpn-type2": build_evpn,
}


# ------------------------------------------------------------------------ the measured code


def decode_into_rib(messages: Sequence[bytes], ctx: WireContext) -> Ribs:
    """Decode every UPDATE into the RIB form (see ``Rib``). What the RIB does on receipt."""
    ribs: Ribs = {}
    for msg in messages:
        update = decode_message(msg, ctx)
        if not isinstance(update, UpdateMessage) or update.problems:
            raise AssertionError(f"unexpected decode result {update!r}")
        for block in update.withdrawn:
            rib = ribs.get(block.family)
            if rib is not None:
                for key in block.keys:
                    rib.attrs.pop(key, None)
                    rib.data.pop(key, None)
        for block in update.announced:
            rib = ribs.get(block.family)
            if rib is None:
                rib = ribs[block.family] = Rib()
            rib.attrs.update(dict.fromkeys(block.keys, block.attributes))
            if block.data is not None:
                rib.data.update(zip(block.keys, block.data, strict=True))
    return ribs


def encode_from_rib(family: Family, rib: Rib) -> list[bytes]:
    """Group the RIB's routes by attribute object (identity) and pack them into UPDATEs."""
    out: list[bytes] = []
    groups: dict[int, tuple[PathAttributes, list[bytes]]] = {}
    for key, attrs in rib.attrs.items():
        group = groups.get(id(attrs))
        if group is None:
            group = groups[id(attrs)] = (attrs, [])
        group[1].append(key)
    data = rib.data
    for attrs, keys in groups.values():
        datas = [data[k] for k in keys] if data else None
        out.extend(pack_updates(family, keys, datas, None, attrs, SEND_CTX))
    return out


# ------------------------------------------------------------------------ measuring


def fresh_context() -> WireContext:
    return WireContext(as4=True, cache=AttributeCache())


def vm_rss() -> int:
    """Resident set size in bytes (VmRSS of /proc/self/status)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class Timing:
    wall: list[float]
    cpu: list[float]

    def best_rate(self, n: int) -> float:
        return n / min(self.wall)

    def best_cpu_rate(self, n: int) -> float:
        return n / max(min(self.cpu), 1e-9)


def timed(fn: Callable[[], object], runs: int) -> Timing:
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        w1, c1 = time.perf_counter(), time.process_time()
        del result  # freed outside the timed section
        wall.append(w1 - w0)
        cpu.append(c1 - c0)
    return Timing(wall, cpu)


class Checks:
    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.results.append({"name": name, "ok": bool(ok), "detail": detail})
        if not ok:
            print(f"CHECK FAILED: {name}: {detail}", file=sys.stderr)

    @property
    def passed(self) -> bool:
        return all(r["ok"] for r in self.results)


def _render(family: Family, key: bytes, data: bytes | None) -> str:
    route = route_from_wire(family, key, data)
    if isinstance(route, VpnRoute):
        return f"{route.rd}:{route.prefix} label {','.join(map(str, route.labels))}"
    return str(route)


def check_rib(rs: RouteSet, ribs: Ribs, checks: Checks) -> None:
    rib = ribs.get(rs.family) or Rib()
    checks.check("decode: one family decoded", list(ribs) == [rs.family], f"families {list(ribs)}")
    checks.check("decode: route count", len(rib) == rs.routes, f"{len(rib)} of {rs.routes}")
    bad = []
    for s in rs.samples:
        attrs = rib.attrs.get(s.key)
        if attrs is None:
            bad.append(f"{s.text}: missing")
            continue
        data = rib.data.get(s.key)
        text = _render(rs.family, s.key, data)
        if text != s.text:
            bad.append(f"rendered {text!r}, expected {s.text!r}")
        if data != s.data:
            bad.append(f"{s.text}: data {data!r}, expected {s.data!r}")
        e = s.attrs
        got = (attrs.as_path, attrs.next_hop, attrs.med, attrs.communities, attrs.ext_communities)
        want = (e.as_path, e.next_hop, e.med, e.communities, e.ext_communities)
        if got != want:
            bad.append(f"{s.text}: attributes {got}, expected {want}")
    checks.check(
        f"decode: {len(rs.samples)} sample routes render as expected", not bad, "; ".join(bad[:3])
    )
    if rs.family == EVPN:
        seconds = set()
        for s in rs.samples:
            route = route_from_wire(EVPN, s.key, rib.data[s.key])
            seconds.add(route.labels[1] if isinstance(route, EvpnRoute) else None)
        checks.check("decode: E-VPN second label is 0xABCDEF", seconds == {L3_VNI}, str(seconds))
    distinct = len({id(v) for v in rib.attrs.values()})
    checks.check(
        "decode: attribute sets interned (one object per distinct set)",
        distinct <= rs.attribute_sets,
        f"{distinct} attribute objects for {rs.attribute_sets} sets",
    )


def count_nlri(messages: list[bytes]) -> int:
    ctx = fresh_context()
    total = 0
    for m in messages:
        update = decode_message(m, ctx)
        assert isinstance(update, UpdateMessage)
        total += update.route_count()[0]
    return total


def memory_probe(name: str, n: int, sets: int) -> dict[str, float]:
    """Memory of holding one decoded set: VmRSS growth, then tracemalloc bytes per route.
    Run in a child forked before anything was built, so freed memory of other sets neither
    hides growth nor counts as growth."""
    rs = BUILDERS[name](n, sets)
    msgs = rs.messages
    gc.collect()
    rss0 = vm_rss()
    ribs = decode_into_rib(msgs, fresh_context())
    gc.collect()
    rss_growth = vm_rss() - rss0
    del ribs
    gc.collect()
    tracemalloc.start()
    traced0 = tracemalloc.get_traced_memory()[0]
    ribs = decode_into_rib(msgs, fresh_context())
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - traced0
    tracemalloc.stop()
    del ribs
    return {
        "tracemalloc_bytes_per_route": round(traced / n, 1),
        "rss_growth_mb": round(rss_growth / 2**20, 1),
    }


def _probe_child(name: str, n: int, sets: int, conn: Connection) -> None:
    conn.send(memory_probe(name, n, sets))
    conn.close()


def memory_in_child(name: str, n: int, sets: int) -> dict[str, float]:
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_probe_child, args=(name, n, sets, sender))
    proc.start()
    sender.close()
    try:
        result: dict[str, float] = receiver.recv()
    finally:
        proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"memory probe of {name} exited with {proc.exitcode}")
    return result


def measure_set(rs: RouteSet, runs: int, checks: Checks) -> dict[str, Any]:
    n = rs.routes
    msgs = rs.messages
    ribs = decode_into_rib(msgs, fresh_context())
    check_rib(rs, ribs, checks)
    del ribs
    gc.collect()

    # decode rate: GC as normal, then after gc.freeze()
    decode = timed(lambda: decode_into_rib(msgs, fresh_context()), runs)
    gc.collect()
    gc.freeze()
    try:
        decode_frozen = timed(lambda: decode_into_rib(msgs, fresh_context()), runs)
    finally:
        gc.unfreeze()
    gc.collect()

    # encode rate, from the RIB form
    rib = decode_into_rib(msgs, fresh_context())[rs.family]
    encode = timed(functools.partial(encode_from_rib, rs.family, rib), runs)
    encoded = encode_from_rib(rs.family, rib)
    nlri = count_nlri(encoded)
    checks.check("encode: NLRI count", nlri == n, f"{nlri} NLRI for {n} routes")
    identical = encoded == msgs
    if not identical:
        print(f"note: {rs.name}: re-encoded UPDATEs differ from the input", file=sys.stderr)
    del rib, encoded
    gc.collect()

    target = DECODE_TARGETS[rs.name]
    dec_rate = decode.best_rate(n)
    enc_rate = encode.best_rate(n)
    return {
        "name": rs.name,
        "family": rs.family.name,
        "routes": n,
        "updates": len(msgs),
        "wire_bytes": rs.wire_bytes,
        "attribute_sets": rs.attribute_sets,
        "decode": {
            "routes_per_s": round(dec_rate),
            "cpu_routes_per_s": round(decode.best_cpu_rate(n)),
            "gc_frozen_routes_per_s": round(decode_frozen.best_rate(n)),
            "runs_s": [round(t, 4) for t in decode.wall],
            "gc_frozen_runs_s": [round(t, 4) for t in decode_frozen.wall],
            "target_routes_per_s": target,
            "pass": dec_rate >= target,
        },
        "encode": {
            "routes_per_s": round(enc_rate),
            "cpu_routes_per_s": round(encode.best_cpu_rate(n)),
            "runs_s": [round(t, 4) for t in encode.wall],
            "target_routes_per_s": target // 2,
            "pass": enc_rate >= target // 2,
            "roundtrip_identical": identical,
        },
    }


# ------------------------------------------------------------------------ report


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_1min": os.getloadavg()[0],
    }


def _rate(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    return f"{v / 1e3:.0f}k"


def _verdict(rate: float, target: float) -> str:
    return "PASS " if rate >= target else "BELOW"


def print_table(doc: dict[str, Any]) -> None:
    m = doc["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['implementation']} {m['python']}, "
        f"{m['date']}, load average {m['loadavg_1min']:.2f} at start"
        f"{' (--quick: 1/10 sizes)' if doc['quick'] else ''}"
    )
    print()
    head = (
        f"{'set':<11} {'routes':>9} {'UPDATEs':>7} "
        f"{'decode/s':>9} {'target':>6} {'':5} {'gc.freeze':>9} "
        f"{'encode/s':>9} {'target':>6} {'':5} {'B/route':>7} {'RSS MB':>7}"
    )
    print(head)
    print("-" * len(head))
    for s in doc["sets"]:
        d, e, mem = s["decode"], s["encode"], s["memory"]
        print(
            f"{s['name']:<11} {s['routes']:>9,} {s['updates']:>7,} "
            f"{_rate(d['routes_per_s']):>9} {_rate(d['target_routes_per_s']):>6} "
            f"{'PASS' if d['pass'] else 'BELOW':<5} {_rate(d['gc_frozen_routes_per_s']):>9} "
            f"{_rate(e['routes_per_s']):>9} {_rate(e['target_routes_per_s']):>6} "
            f"{'PASS' if e['pass'] else 'BELOW':<5} "
            f"{mem['tracemalloc_bytes_per_route']:>7.0f} {mem['rss_growth_mb']:>7.1f}"
        )
    print()
    print(
        "decode/s, encode/s: wall-clock routes/s, best of 3 (GC as normal); gc.freeze: decode "
        "after gc.freeze();\nB/route: tracemalloc bytes of the held RIB per route; RSS MB: VmRSS "
        "growth holding it."
    )
    print(
        "per CPU-second (steadier when other jobs share the cores):\n"
        + "\n".join(
            f"  {s['name']:<11} decode {_rate(s['decode']['cpu_routes_per_s']):>6} "
            f"{_verdict(s['decode']['cpu_routes_per_s'], s['decode']['target_routes_per_s'])}"
            f"  encode {_rate(s['encode']['cpu_routes_per_s']):>6} "
            f"{_verdict(s['encode']['cpu_routes_per_s'], s['encode']['target_routes_per_s'])}"
            for s in doc["sets"]
        )
    )
    print()
    print("reference, same machine kind, decoding into per-route objects (IPv4 / VPNv4 / E-VPN):")
    for name, (a, b, c) in doc["reference"].items():
        print(f"  {name:<28} {_rate(a):>6} / {_rate(b):>5} / {_rate(c):>5} routes/s")
    print()
    failed = [c for c in doc["checks"] if not c["ok"]]
    print(
        f"correctness checks: {len(doc['checks']) - len(failed)}/{len(doc['checks'])} passed"
        + "".join(f"\n  FAILED {c['name']}: {c['detail']}" for c in failed)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="1/10 of the sizes and attribute sets (smoke test)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON document")
    parser.add_argument(
        "--set", action="append", choices=list(BUILDERS), help="only these sets (repeatable)"
    )
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    checks = Checks()
    names = args.set or list(BUILDERS)
    # memory first, each set in a child forked from this still-pristine process
    memory = {}
    for name in names:
        memory[name] = memory_in_child(name, FULL_SIZES[name] // scale, ATTRIBUTE_SETS // scale)
        print(f"{name}: memory probed", file=sys.stderr)
    results = []
    for name in names:
        n = FULL_SIZES[name] // scale
        t0 = time.perf_counter()
        rs = BUILDERS[name](n, ATTRIBUTE_SETS // scale)
        print(
            f"{name}: built {n:,} routes in {len(rs.messages):,} UPDATEs "
            f"({rs.wire_bytes / 2**20:.1f} MiB) in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )
        result = measure_set(rs, RUNS, checks)
        result["memory"] = memory[name]
        results.append(result)
        del rs
        gc.collect()
        print(f"{name}: measured", file=sys.stderr)
    doc = {
        "machine": machine(),
        "quick": args.quick,
        "sets": results,
        "reference": {k: list(v) for k, v in REFERENCE.items()},
        "checks": checks.results,
        "checks_passed": checks.passed,
    }
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        print_table(doc)
    return 0 if checks.passed else 1


if __name__ == "__main__":
    sys.exit(main())
