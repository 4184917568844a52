"""Golden vectors from real implementations (tests/fixtures/captures, recorded by
scripts/capture_golden.py): every message decodes without a problem, re-encodes to the same
octets, and the routes we decode are the routes the peers themselves say they sent/received."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bgpvpn.decoding import RecordDecoder
from bgpvpn.sources import MessageRecord, RibEntryRecord, SourceError, read_records
from bgpvpn.wire import UpdateMessage, encode_message
from bgpvpn.wire.jsonform import message_to_json

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CAPTURES = sorted(
    p for p in (FIXTURES / "captures").glob("*/session.pcap*") if not p.parent.name.startswith(".")
)
MRT_FILES = sorted((FIXTURES / "mrt").glob("*.mrt"))


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("capture", CAPTURES, ids=_id)
def test_capture_decodes_and_reencodes_exactly(capture: Path) -> None:
    decoder = RecordDecoder()
    count = 0
    for rec in read_records(capture.read_bytes()):
        assert not isinstance(rec, SourceError), rec
        assert isinstance(rec, MessageRecord)
        ctx = decoder.context_for(rec)
        msg = decoder.decode(rec)
        assert not isinstance(msg, Exception), f"offset {rec.offset}: {msg}"
        if isinstance(msg, UpdateMessage):
            assert msg.problems == (), msg.problems
        assert encode_message(msg, ctx) == rec.data, f"{rec.connection} offset {rec.offset}"
        json.dumps(message_to_json(msg))
        count += 1
    assert count > 0


@pytest.mark.parametrize("mrt", MRT_FILES, ids=lambda p: p.name)
def test_mrt_file_decodes_without_errors(mrt: Path) -> None:
    decoder = RecordDecoder()
    objs = list(decoder.records_json(read_records(mrt.read_bytes())))
    assert objs
    assert decoder.stats.errors == 0, [o for o in objs if o["type"] == "ERROR" or o.get("problems")]
    if any(isinstance(r, RibEntryRecord) for r in read_records(mrt.read_bytes())):
        entries = [o for o in objs if o["type"] == "TABLE_DUMP_V2"]
        assert entries and all(o["paths"] and o["route"].get("prefix") for o in entries)


# ------------------------------------------------ cross-check against GoBGP's own view

_GOBGP_FAMILIES = {
    "ipv4": "ipv4",
    "ipv6": "ipv6",
    "vpnv4": "vpnv4",
    "vpnv6": "vpnv6",
    "evpn": "evpn",
    "ipv4-mpls": "ipv4-lu",
}

_CHECKED = set(_GOBGP_FAMILIES.values())


def _gobgp_rd(rd: dict[str, Any]) -> str:
    return f"{rd['admin']}:{rd['assigned']}"


def _gobgp_identity(family: str, nlri: dict[str, Any]) -> tuple[Any, ...]:
    if family in ("ipv4", "ipv6"):
        return (nlri["prefix"],)
    if family == "ipv4-lu":
        return (nlri["prefix"], tuple(nlri["labels"]))
    if family in ("vpnv4", "vpnv6"):
        return (_gobgp_rd(nlri["rd"]), nlri["prefix"], tuple(nlri["labels"]))
    t, v = nlri["type"], nlri["value"]
    if t == 2:
        ip = None if v["ip"] == "<nil>" else v["ip"]
        return (2, _gobgp_rd(v["rd"]), v["etag"], v["mac"], ip, tuple(v["labels"]))
    if t == 3:
        return (3, _gobgp_rd(v["rd"]), v["etag"], v["ip"])
    if t == 5:
        return (5, _gobgp_rd(v["rd"]), v["etag"], v["prefix"], v["gateway"], v["label"])
    return (t, _gobgp_rd(v["rd"]))


def _our_identity(route: dict[str, Any]) -> tuple[Any, ...]:
    fam = route["family"]
    if fam in ("ipv4", "ipv6"):
        return (route["prefix"],)
    if fam == "ipv4-lu":
        return (route["prefix"], tuple(route["labels"]))
    if fam in ("vpnv4", "vpnv6"):
        return (route["rd"], route["prefix"], tuple(route["labels"]))
    t = route["route_type"]
    if t == 2:
        return (
            2,
            route["rd"],
            route["ethernet_tag"],
            route["mac"],
            route["ip"],
            tuple(route["labels"]),
        )
    if t == 3:
        return (3, route["rd"], route["ethernet_tag"], route["originator"])
    if t == 5:
        return (
            5,
            route["rd"],
            route["ethernet_tag"],
            route["prefix"],
            route["gateway"],
            route["labels"][0],
        )
    return (t, route["rd"])


def _key(route: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies a route for withdrawal (no labels)."""
    ident = _our_identity(route)
    fam = route["family"]
    if fam in ("vpnv4", "vpnv6", "ipv4-lu"):
        return (fam, *ident[:-1])
    if fam == "evpn" and route["route_type"] in (2, 5):
        return (fam, *ident[:-1])
    return (fam, *ident)


def _direction_routes(capture: Path) -> dict[tuple[str, str], tuple[set[Any], dict[Any, Any]]]:
    """Per (sender address, family): every route identity ever announced, and the final state."""
    decoder = RecordDecoder()
    ever: dict[tuple[str, str], set[Any]] = defaultdict(set)
    state: dict[tuple[str, str], dict[Any, Any]] = defaultdict(dict)
    for obj in decoder.records_json(read_records(capture.read_bytes())):
        if obj["type"] != "UPDATE":
            continue
        sender = obj["from"].rsplit(":", 1)[0]
        for r in obj["announced"]:
            if r["family"] not in _CHECKED:
                continue
            ever[(sender, r["family"])].add(_our_identity(r))
            state[(sender, r["family"])][_key(r)] = _our_identity(r)
        for r in obj["withdrawn"]:
            if r["family"] not in _CHECKED:
                continue
            state[(sender, r["family"])].pop(_key(r), None)
    return {k: (ever[k], state[k]) for k in set(ever) | set(state)}


def _gobgp_views() -> list[tuple[Path, Path, str, str, str]]:
    out = []
    for view in sorted(FIXTURES.glob("captures/*/peer-views/gobgp-A-*-adj-*.json")):
        if view.parent.parent.name.startswith("."):
            continue  # a capture being recorded
        name = view.stem  # gobgp-A-<neighbor>-adj-<in|out>-<family>[-after-withdraw]
        head, _, rest = name.partition("-adj-")
        neighbor = head.removeprefix("gobgp-A-").replace("_", ":")
        direction, _, fam = rest.partition("-")
        after = fam.endswith("-after-withdraw")
        fam = fam.removesuffix("-after-withdraw")
        if fam not in _GOBGP_FAMILIES:
            continue
        capture = view.parent.parent / "session.pcap"
        out.append(
            (view, capture, neighbor, direction, _GOBGP_FAMILIES[fam] + ("!" if after else ""))
        )
    return out


@pytest.mark.parametrize(
    ("view", "capture", "neighbor", "direction", "family"),
    _gobgp_views(),
    ids=lambda v: v.parent.parent.name + "/" + v.stem if isinstance(v, Path) else "",
)
def test_routes_match_gobgp_view(
    view: Path, capture: Path, neighbor: str, direction: str, family: str
) -> None:
    after_withdraw = family.endswith("!")
    family = family.rstrip("!")
    gobgp = json.loads(view.read_text())
    theirs = {_gobgp_identity(family, p["nlri"]) for paths in gobgp.values() for p in paths}
    routes = _direction_routes(capture)
    # adj-in: what the neighbor sent to GoBGP; adj-out: what GoBGP sent to the neighbor
    senders = [s for s, f in routes if f == family]
    if direction == "in":
        chosen = [routes[(s, family)] for s in senders if s == neighbor]
    else:
        chosen = [routes[(s, family)] for s in senders if s != neighbor]
    ever = set().union(*(c[0] for c in chosen)) if chosen else set()
    final = set().union(*(set(c[1].values()) for c in chosen)) if chosen else set()
    if after_withdraw:
        assert theirs == final
    else:
        assert theirs <= ever, theirs - ever
    if theirs:
        assert ever, "the capture holds none of the routes GoBGP reports"
